//! Lists of paths that many checks name alike, kept once.
//!
//! Ten thousand `tls` checks of one service name the same CA file; decoded one by one, each kept
//! its own vector and path, 80 bytes of heap a check (docs/benchmarks.md, "Scale", round 7).
//! A [`SharedPaths`] decoded while an equal list is alive shares that list.

use std::collections::HashMap;
use std::fmt;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::ops::Deref;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, Weak};

use serde::{Deserialize, Deserializer};

/// A list of paths, shared with every equal list decoded while it lives.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SharedPaths(Arc<[PathBuf]>);

/// The lists alive, by a hash of their content: a list is not kept a second time as a key. Dead
/// entries (every holder dropped, as after a reload) are swept out whenever the table has
/// doubled since the last sweep, so it never holds more than twice the lists alive.
static LISTS: Mutex<Lists> = Mutex::new(Lists { by_hash: None, swept_at: 0 });

struct Lists {
    by_hash: Option<HashMap<u64, Weak<[PathBuf]>>>,
    swept_at: usize,
}

impl SharedPaths {
    /// `paths`, shared with an equal list when one is alive. An empty list allocates nothing.
    pub fn new(paths: Vec<PathBuf>) -> SharedPaths {
        if paths.is_empty() {
            return SharedPaths::default();
        }
        let hash = {
            let mut hasher = DefaultHasher::new();
            paths.hash(&mut hasher);
            hasher.finish()
        };
        let mut lists = LISTS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let Lists { by_hash, swept_at } = &mut *lists;
        let by_hash = by_hash.get_or_insert_with(HashMap::new);
        match by_hash.get(&hash).and_then(Weak::upgrade) {
            Some(alive) if *alive == *paths => return SharedPaths(alive),
            // Another list alive under the same hash: this one goes unshared.
            Some(_) => return SharedPaths(paths.into()),
            None => {}
        }
        if by_hash.len() >= 2 * (*swept_at).max(8) {
            by_hash.retain(|_, list| list.strong_count() > 0);
            *swept_at = by_hash.len();
        }
        let shared: Arc<[PathBuf]> = paths.into();
        by_hash.insert(hash, Arc::downgrade(&shared));
        SharedPaths(shared)
    }
}

impl Deref for SharedPaths {
    type Target = [PathBuf];

    fn deref(&self) -> &[PathBuf] {
        &self.0
    }
}

impl fmt::Debug for SharedPaths {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<'de> Deserialize<'de> for SharedPaths {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Vec::<PathBuf>::deserialize(deserializer).map(SharedPaths::new)
    }
}

impl From<Vec<PathBuf>> for SharedPaths {
    fn from(paths: Vec<PathBuf>) -> Self {
        SharedPaths::new(paths)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_lists_alive_at_once_are_one_list_and_read_like_a_vector() {
        let ca = || vec![PathBuf::from("/etc/checklist/shared-test-ca.pem")];
        let first = SharedPaths::new(ca());
        let second = SharedPaths::new(ca());
        assert!(Arc::ptr_eq(&first.0, &second.0), "two equal lists alive at once are one");
        assert_eq!(&*second, ca().as_slice());
        assert_eq!(format!("{second:?}"), format!("{:?}", ca()));
        let other = SharedPaths::new(vec![PathBuf::from("/etc/checklist/shared-test-other.pem")]);
        assert!(!Arc::ptr_eq(&first.0, &other.0));
        assert_ne!(first, other);
    }

    #[test]
    fn a_list_no_longer_held_is_not_kept_alive_and_comes_back_as_new() {
        let paths = || vec![PathBuf::from("/etc/checklist/shared-test-dropped.pem")];
        let weak = Arc::downgrade(&SharedPaths::new(paths()).0);
        assert_eq!(weak.strong_count(), 0, "the table holds no strong reference");
        assert_eq!(&*SharedPaths::new(paths()), paths().as_slice());
    }

    #[test]
    fn decoding_shares_too_and_an_empty_list_is_empty() {
        let decoded: SharedPaths = serde_json::from_str(r#"["/etc/checklist/shared-test-decoded.pem"]"#).unwrap();
        let made = SharedPaths::new(vec![PathBuf::from("/etc/checklist/shared-test-decoded.pem")]);
        assert!(Arc::ptr_eq(&decoded.0, &made.0));
        assert!(SharedPaths::new(Vec::new()).is_empty());
    }
}
