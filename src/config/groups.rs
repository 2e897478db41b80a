//! Group items: a bold parent line of the checklist ("Server Resources Verified") decided by the
//! items under it. A group is written as a `[[checks]]` table of `kind = "group"`, but it is not
//! a check: nothing runs it. The config resolves its members here (they exist, no group
//! contains itself, members come first); the results store derives its verdict whenever a
//! member's verdict changes (`state::groups`), so the parent line is exactly as fresh as its
//! children and needs no interval of its own.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use super::{Decider, Item};
use crate::checks::KeyError;

/// The `kind` a group's table names.
pub const GROUP_KIND: &str = "group";

/// The one aspect a group decides.
pub const ASPECTS: &[&str] = &["all_pass"];

/// One group item with its members.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupSpec {
    pub item: Item,
    /// The ids of the items it is decided by (which may be groups), as written.
    pub members: Vec<String>,
    /// The longest interval among its members: it is as fresh as they are.
    pub interval: Duration,
    pub timeout: Duration,
    /// Why it does not apply: switched off itself, or none of its members applies.
    pub not_applicable: Option<String>,
}

impl GroupSpec {
    /// `group of 3 items`, for logs and messages.
    pub fn describe(&self) -> String {
        describe(self.members.len())
    }
}

/// `group of 1 item`, `group of 3 items`.
pub fn describe(members: usize) -> String {
    match members {
        1 => format!("{GROUP_KIND} of 1 item"),
        n => format!("{GROUP_KIND} of {n} items"),
    }
}

/// The keys of a group's table besides the common ones.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupParams {
    pub members: Vec<String>,
}

impl GroupParams {
    pub fn validate(&self) -> Result<(), KeyError> {
        if self.members.is_empty() {
            return Err(KeyError::new("members", "must name at least one item"));
        }
        let mut seen = HashSet::new();
        if let Some(twice) = self.members.iter().find(|id| !seen.insert(id.as_str())) {
            return Err(KeyError::new("members", format!("`{twice}` is named twice")));
        }
        Ok(())
    }
}

/// Checks that every group names existing items and no group contains itself, gives each group
/// the longest interval among its members, and marks a group not applicable when all its members
/// are. Returns the groups, members before the groups that contain them.
pub(super) fn resolve(deciders: &mut [Decider]) -> Result<Vec<Arc<GroupSpec>>, (String, String)> {
    let owner: HashMap<&str, usize> = deciders
        .iter()
        .enumerate()
        .flat_map(|(index, decider)| decider.items().iter().map(move |item| (item.id.as_str(), index)))
        .collect();
    let group_of = |index: usize| match &deciders[index] {
        Decider::Group(group) => Some(group),
        Decider::Check(_) => None,
    };
    let groups: Vec<usize> = (0..deciders.len()).filter(|&index| group_of(index).is_some()).collect();
    let location = |index: usize| {
        let decider = &deciders[index];
        super::location_of(index, &decider.describe(), decider.items())
    };
    let mut member_tables: HashMap<usize, Vec<usize>> = HashMap::new();
    for &index in &groups {
        let mut resolved = Vec::new();
        for member in group_of(index).map(|g| g.members.as_slice()).unwrap_or_default() {
            match owner.get(member.as_str()) {
                None => {
                    return Err((
                        location(index),
                        format!("members: `{member}` is not the id of an item in this config"),
                    ))
                }
                Some(&owner_index) if owner_index == index => {
                    return Err((location(index), "members: a group cannot contain itself".to_string()))
                }
                Some(&owner_index) => resolved.push(owner_index),
            }
        }
        member_tables.insert(index, resolved);
    }

    // Depth-first, members before their groups; a group met again while still open is a cycle.
    let mut order = Vec::with_capacity(groups.len());
    let mut state: HashMap<usize, bool> = HashMap::new(); // false: open, true: done
    fn visit(
        index: usize,
        member_tables: &HashMap<usize, Vec<usize>>,
        state: &mut HashMap<usize, bool>,
        order: &mut Vec<usize>,
        path: &mut Vec<usize>,
    ) -> Result<(), Vec<usize>> {
        match state.get(&index) {
            Some(true) => return Ok(()),
            Some(false) => {
                let start = path.iter().position(|&p| p == index).unwrap_or(0);
                let mut cycle = path[start..].to_vec();
                cycle.push(index);
                return Err(cycle);
            }
            None => {}
        }
        state.insert(index, false);
        path.push(index);
        for member in member_tables.get(&index).into_iter().flatten() {
            if member_tables.contains_key(member) {
                visit(*member, member_tables, state, order, path)?;
            }
        }
        path.pop();
        state.insert(index, true);
        order.push(index);
        Ok(())
    }
    for &index in &groups {
        visit(index, &member_tables, &mut state, &mut order, &mut Vec::new()).map_err(|cycle| {
            let ids: Vec<&str> = cycle.iter().map(|&i| deciders[i].items()[0].id.as_str()).collect();
            (location(cycle[0]), format!("members: groups contain each other in a cycle: {}", ids.join(" -> ")))
        })?;
    }

    let mut resolved = Vec::with_capacity(order.len());
    for &index in &order {
        let members = &member_tables[&index];
        let interval = members.iter().map(|&m| deciders[m].interval()).max();
        let all_not_applicable = members.iter().all(|&m| deciders[m].not_applicable().is_some());
        let Decider::Group(group) = &mut deciders[index] else { continue };
        let spec = Arc::make_mut(group);
        spec.interval = interval.unwrap_or(spec.interval);
        spec.timeout = spec.timeout.min(spec.interval);
        if all_not_applicable && spec.not_applicable.is_none() {
            spec.not_applicable = Some("not applicable: none of its members applies to this site".to_string());
        }
        resolved.push(Arc::clone(group));
    }
    Ok(resolved)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_must_be_named_once() {
        let group = GroupParams { members: vec!["a".into(), "a".into()] };
        assert_eq!(group.validate().unwrap_err().message, "`a` is named twice");
        assert_eq!(GroupParams { members: vec![] }.validate().unwrap_err().key, "members");
    }

    #[test]
    fn a_group_is_described_by_its_member_count() {
        assert_eq!(describe(1), "group of 1 item");
        assert_eq!(describe(3), "group of 3 items");
    }
}
