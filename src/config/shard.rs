//! Replicas: `--shard.index`/`--shard.count` split the items of one config between daemons,
//! each evaluating and exporting only its own.
//!
//! An item's shard is Prometheus's `hashmod` of its placement value (the last 8 bytes of the
//! MD5 of the value, big-endian, modulo the shard count), so a relabelling rule with
//! `action: hashmod` over the same value predicts the split. The value is the item's id; when
//! the config declares environments it is `environment;id`, the text `hashmod` hashes for
//! `source_labels: [environment, id]` with the default separator ([`placement_value`]), so the
//! instances of one item in different environments are spread over the shards too.
//!
//! Groups: a group's verdict is derived from its members, and the store can only derive it from
//! members it holds. So an item that belongs to a group goes where its group goes: every item
//! joined by group membership (a group, its members, their members, a member shared by two
//! groups) forms one cluster placed by the id of its outermost group. A group is thus exported
//! by the shard that owns its own id, with all its members; an item in no group is placed by
//! its own id. A check runs on every shard that owns one of its items and each exports only
//! its own items, so two replicas never export the same series.
//!
//! `hashmod` is not a consistent hash: going from n to n+1 shards moves about n/(n+1) of the
//! items, not 1/(n+1). We keep it because Prometheus can reproduce it and a reshard of a
//! checklist exporter costs one evaluation round, not a re-replication of data.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use md5::{Digest, Md5};

use super::{Config, Decider};

/// Which part of the items this daemon evaluates: shard `index` of `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    index: u64,
    count: u64,
}

/// Why a `--shard.*` pair was refused.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum ShardError {
    #[error("--shard.count 0: must be at least 1 (1 means no sharding)")]
    NoShards,
    #[error("--shard.index {index} is not below --shard.count {count}: the shards of {count} are numbered 0 to {last}", last = count - 1)]
    IndexOutOfRange { index: u64, count: u64 },
}

impl Shard {
    /// The whole config: the default, one daemon evaluating everything.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    pub fn new(index: u64, count: u64) -> Result<Shard, ShardError> {
        if count == 0 {
            return Err(ShardError::NoShards);
        }
        if index >= count {
            return Err(ShardError::IndexOutOfRange { index, count });
        }
        Ok(Shard { index, count })
    }

    pub fn index(self) -> u64 {
        self.index
    }

    pub fn count(self) -> u64 {
        self.count
    }

    /// Whether the item placed by `value` (see [`placement_value`]) is on this shard.
    pub fn owns(self, value: &str) -> bool {
        self.count == 1 || hashmod(value, self.count) == self.index
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "shard {} of {}", self.index, self.count)
    }
}

/// Prometheus's relabel `hashmod`: `BigEndian.Uint64(md5(value)[8:]) % modulus`.
pub fn hashmod(value: &str, modulus: u64) -> u64 {
    let digest = Md5::digest(value.as_bytes());
    let mut low = [0u8; 8];
    low.copy_from_slice(&digest[8..]);
    u64::from_be_bytes(low) % modulus
}

/// The text an item is placed by: its id, or `environment;id` once items have an environment
/// (`;` is the default separator of a relabelling's `source_labels`).
pub fn placement_value(environment: Option<&str>, id: &str) -> String {
    match environment {
        Some(environment) => format!("{environment};{id}"),
        None => id.to_string(),
    }
}

/// Union-find over item indexes: the clusters that group membership joins.
struct Clusters {
    parent: Vec<usize>,
}

impl Clusters {
    fn root(&mut self, mut at: usize) -> usize {
        while self.parent[at] != at {
            self.parent[at] = self.parent[self.parent[at]];
            at = self.parent[at];
        }
        at
    }

    fn join(&mut self, a: usize, b: usize) {
        let (a, b) = (self.root(a), self.root(b));
        self.parent[a] = b;
    }
}

/// For every item key ([`super::Item::key`]), the value it is placed by: its own key, or the
/// key of the outermost group of the cluster that group membership joins it to. With
/// environments a key is `environment;id`, and groups only hold members of their environment.
fn placements(config: &Config) -> HashMap<String, String> {
    let index: HashMap<String, usize> = config.items().enumerate().map(|(at, (_, item))| (item.key(), at)).collect();
    let mut clusters = Clusters { parent: (0..index.len()).collect() };
    for group in &config.groups {
        let Some(&at) = index.get(&group.item.key()) else { continue };
        for member in &group.members {
            if let Some(&member_at) = index.get(&group.item.key_of(member)) {
                clusters.join(at, member_at);
            }
        }
    }
    // Groups come members first, so the last group of a cluster contains, directly or not,
    // every other group of it: the outermost one.
    let mut cluster_key: HashMap<usize, String> = HashMap::new();
    for group in &config.groups {
        let key = group.item.key();
        if let Some(&at) = index.get(&key) {
            cluster_key.insert(clusters.root(at), key);
        }
    }
    let mut placed = HashMap::with_capacity(index.len());
    for (key, &at) in &index {
        let value = cluster_key.get(&clusters.root(at)).cloned().unwrap_or_else(|| key.clone());
        placed.insert(key.clone(), value);
    }
    placed
}

impl Config {
    /// The part of this config `shard` evaluates: the items it owns, the checks that decide one
    /// of them (each keeping only those items) and the groups it owns. The whole config for
    /// [`Shard::WHOLE`].
    pub fn restricted_to(self, shard: Shard) -> Config {
        if shard.count == 1 {
            return self;
        }
        let placements = placements(&self);
        let owned = |item: &super::Item| placements.get(&item.key()).is_some_and(|value| shard.owns(value));
        let deciders: Vec<Decider> = self
            .deciders
            .iter()
            .filter_map(|decider| match decider {
                Decider::Check(check) => {
                    let mine: Vec<_> = check.items.iter().filter(|item| owned(item)).cloned().collect();
                    if mine.is_empty() {
                        None
                    } else if mine.len() == check.items.len() {
                        Some(Decider::Check(check.clone()))
                    } else {
                        let mut part = (**check).clone();
                        part.items = mine;
                        Some(Decider::Check(Arc::new(part)))
                    }
                }
                Decider::Group(group) => owned(&group.item).then(|| Decider::Group(group.clone())),
            })
            .collect();
        let checks = super::checks_of(&deciders);
        let groups = self.groups.iter().filter(|group| owned(&group.item)).cloned().collect();
        Config { deciders, checks, groups, ..self }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashmod_gives_what_prometheus_relabelling_gives() {
        // The example in Prometheus's model/relabel/relabel_test.go: `baz` modulo 1000 is 976.
        assert_eq!(hashmod("baz", 1000), 976);
        assert_eq!(placement_value(Some("staging"), "infra.disk"), "staging;infra.disk");
        assert_eq!(placement_value(None, "infra.disk"), "infra.disk");
    }

    #[test]
    fn an_index_at_or_above_the_count_is_refused_naming_both_flags() {
        assert_eq!(Shard::new(1, 2).map(Shard::index), Ok(1));
        assert_eq!(
            Shard::new(2, 2).unwrap_err().to_string(),
            "--shard.index 2 is not below --shard.count 2: the shards of 2 are numbered 0 to 1"
        );
        assert_eq!(
            Shard::new(0, 0).unwrap_err().to_string(),
            "--shard.count 0: must be at least 1 (1 means no sharding)"
        );
    }

    /// Items per shard of 100,000 ids over `count` shards.
    fn split(ids: &[String], count: u64) -> Vec<usize> {
        let mut per_shard = vec![0usize; count as usize];
        for id in ids {
            per_shard[hashmod(id, count) as usize] += 1;
        }
        per_shard
    }

    fn ids() -> Vec<String> {
        (0..100_000).map(|n| format!("section{}.item_{n}", n % 37)).collect()
    }

    #[test]
    fn a_hundred_thousand_ids_split_within_five_percent_of_even_over_2_to_16_shards() {
        let ids = ids();
        for count in 2..=16u64 {
            let even = ids.len() as f64 / count as f64;
            for (index, &items) in split(&ids, count).iter().enumerate() {
                let off = (items as f64 - even).abs() / even;
                assert!(
                    off < 0.05,
                    "shard {index} of {count} holds {items} items, {:.2}% off the even {even:.0}",
                    off * 100.0
                );
            }
        }
    }

    #[test]
    fn adding_a_shard_moves_the_items_hashmod_moves() {
        // hashmod keeps an item only when its hash gives the same remainder modulo n and n+1:
        // about 1/(n+1) stay. Measured here so that docs/kubernetes.md states what a reshard costs.
        let ids = ids();
        for count in 2..=16u64 {
            let moved = ids.iter().filter(|id| hashmod(id, count) != hashmod(id, count + 1)).count();
            let moved_share = moved as f64 / ids.len() as f64;
            let expected = count as f64 / (count + 1) as f64;
            assert!(
                (moved_share - expected).abs() < 0.01,
                "{count} to {} shards moved {:.3} of the items; hashmod moves {expected:.3}",
                count + 1,
                moved_share
            );
        }
    }

    fn config(text: &str) -> Config {
        crate::config::parse("test.toml", text, Vec::new()).unwrap()
    }

    fn item_table(id: &str) -> String {
        let decides = if id.starts_with("group.") { "" } else { "decides = \"minimum\"\n" };
        format!("[[checks.items]]\nid = \"{id}\"\nsection = \"S\"\ntitle = \"Item {id}\"\nseverity = \"critical\"\n{decides}")
    }

    fn ids_of(config: &Config) -> Vec<String> {
        config.items().map(|(_, item)| item.id.clone()).collect()
    }

    #[test]
    fn shards_split_the_items_disjointly_and_keep_each_group_with_its_members() {
        // Many ungrouped items so that both shards own some, one check with items on both sides,
        // and two groups sharing a member so that they form one cluster.
        let mut text = String::from("[[checks]]\nkind = \"cpu\"\nmin_cores = 1\n");
        for n in 0..40 {
            text.push_str(&item_table(&format!("cpu.{n}")));
        }
        text.push_str("[[checks]]\nkind = \"memory\"\nmin_total_bytes = \"1KiB\"\n");
        text.push_str(&item_table("mem.a"));
        text.push_str(&item_table("mem.b"));
        text.push_str("[[checks]]\nkind = \"group\"\nmembers = [\"mem.a\"]\n");
        text.push_str(&item_table("group.inner"));
        text.push_str("[[checks]]\nkind = \"group\"\nmembers = [\"group.inner\", \"mem.b\"]\n");
        text.push_str(&item_table("group.outer"));
        text.push_str("[[checks]]\nkind = \"group\"\nmembers = [\"mem.b\"]\n");
        text.push_str(&item_table("group.other"));
        let whole = config(&text);
        let all = ids_of(&whole);

        let parts: Vec<Config> =
            (0..2).map(|index| whole.clone().restricted_to(Shard::new(index, 2).unwrap())).collect();
        let mut union: Vec<String> = parts.iter().flat_map(ids_of).collect();
        let total = union.len();
        union.sort();
        union.dedup();
        assert_eq!(total, union.len(), "an item is on both shards");
        let mut expected = all.clone();
        expected.sort();
        assert_eq!(union, expected, "the shards together hold every item");

        // The cluster goes by the outermost group, `group.other` (last in member-first order).
        let cluster_shard = hashmod("group.other", 2) as usize;
        let cluster = ["mem.a", "mem.b", "group.inner", "group.outer", "group.other"];
        for id in cluster {
            assert!(ids_of(&parts[cluster_shard]).iter().any(|i| i == id), "{id} left its group's shard");
        }
        // Ungrouped items go by their own id, as Prometheus's hashmod would place them.
        for n in 0..40 {
            let id = format!("cpu.{n}");
            let shard = hashmod(&id, 2) as usize;
            assert!(ids_of(&parts[shard]).contains(&id), "{id} is not on shard {shard}");
        }
        // The cpu check runs on both shards, each with its own items only.
        for part in &parts {
            let cpu = part.checks.iter().find(|c| c.kind.name() == "cpu").expect("the cpu check runs on both shards");
            assert!(cpu.items.len() < 40 && !cpu.items.is_empty(), "{} cpu items", cpu.items.len());
            assert_eq!(part.groups.len() + part.checks.len(), part.deciders.len());
        }
        assert_eq!(whole.clone().restricted_to(Shard::WHOLE).item_count(), whole.item_count());
    }

    #[test]
    fn with_environments_items_are_placed_by_environment_and_id_and_groups_keep_their_members() {
        let mut text = String::from("[vars]\ncores = 1\n");
        for environment in ["production", "staging", "qa"] {
            text.push_str(&format!("[environments.{environment}.vars]\n"));
        }
        text.push_str("[[checks]]\nkind = \"cpu\"\nmin_cores = \"${cores}\"\n");
        for n in 0..30 {
            text.push_str(&item_table(&format!("cpu.{n}")));
        }
        text.push_str("[[checks]]\nkind = \"group\"\nmembers = [\"cpu.0\", \"cpu.1\"]\n");
        text.push_str(&item_table("group.cpu"));
        let whole = config(&text);
        let keys = |config: &Config| -> Vec<String> { config.items().map(|(_, item)| item.key()).collect() };
        let parts: Vec<Config> =
            (0..3).map(|index| whole.clone().restricted_to(Shard::new(index, 3).unwrap())).collect();
        let mut union: Vec<String> = parts.iter().flat_map(keys).collect();
        let total = union.len();
        union.sort();
        union.dedup();
        assert_eq!((total, union.len()), (whole.item_count(), whole.item_count()), "disjoint and complete");
        for (index, part) in parts.iter().enumerate() {
            for (_, item) in part.items() {
                let placed_by = match item.id.as_str() {
                    "cpu.0" | "cpu.1" => item.key_of("group.cpu"),
                    _ => item.key(),
                };
                assert_eq!(hashmod(&placed_by, 3), index as u64, "{} is placed by {placed_by}", item.key());
            }
        }
        // The same id lands on different shards in different environments: the environment counts
        // (values as Python's hashlib gives them: md5 of `production;cpu.5` ... modulo 3).
        let shard_of = |environment: &str| hashmod(&placement_value(Some(environment), "cpu.5"), 3);
        assert_eq!((shard_of("production"), shard_of("staging")), (0, 1));
    }
}
