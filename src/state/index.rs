//! Where each item's record is in the store, found by the item's key
//! ([`crate::config::Item::key`]: the id, or `environment;id`), without a copy of every key.
//!
//! A `HashMap<String, usize>` held each key twice over (the config has it, the map copied it):
//! about 60 bytes an item with the table, 0.6 MB at 10,000 items (docs/benchmarks.md, "Scale",
//! round 5). This index keeps a 64-bit hash of each key and checks a hit against the record's
//! own key; the rare keys whose hash an earlier key already took are kept whole on the side, so
//! every key is still found and no other key is ever taken for it.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use super::ItemRecord;

#[derive(Clone, Debug, Default)]
pub struct ItemIndex {
    by_hash: HashMap<u64, usize>,
    /// Keys whose hash an earlier key has: almost always empty.
    collided: HashMap<String, usize>,
}

/// The standard SipHash with its fixed zero keys: the same for a key every time in a process,
/// which is all the index needs (it is never written down).
fn hash_of(key: &str) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut hasher);
    hasher.finish()
}

impl ItemIndex {
    pub fn new(items: &[ItemRecord]) -> ItemIndex {
        Self::of_keys(items.iter().map(|record| record.item().key()))
    }

    fn of_keys(keys: impl Iterator<Item = String>) -> ItemIndex {
        let mut index = ItemIndex::default();
        for (position, key) in keys.enumerate() {
            match index.by_hash.entry(hash_of(&key)) {
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert(position);
                }
                std::collections::hash_map::Entry::Occupied(_) => {
                    index.collided.insert(key, position);
                }
            }
        }
        index
    }

    /// The position of the item with `key` in `items` (the records the index was built from).
    pub fn get(&self, items: &[ItemRecord], key: &str) -> Option<usize> {
        self.get_by(key, |position| items[position].item().key())
    }

    fn get_by(&self, key: &str, key_at: impl Fn(usize) -> String) -> Option<usize> {
        if let Some(&position) = self.collided.get(key) {
            return Some(position);
        }
        let &position = self.by_hash.get(&hash_of(key))?;
        (key_at(position) == key).then_some(position)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("production;net.port_{i}")).collect()
    }

    #[test]
    fn every_key_is_found_at_its_position_and_no_other_key_is() {
        let keys = keys(10_000);
        let index = ItemIndex::of_keys(keys.iter().cloned());
        assert!(index.collided.is_empty());
        for (position, key) in keys.iter().enumerate() {
            assert_eq!(index.get_by(key, |at| keys[at].clone()), Some(position), "{key}");
        }
        for missing in ["production;net.port_10000", "staging;net.port_1", "net.port_1", ""] {
            assert_eq!(index.get_by(missing, |at| keys[at].clone()), None, "{missing}");
        }
    }

    #[test]
    fn keys_whose_hash_collides_are_all_found() {
        // Collisions are forced by building the index from keys with one hash: the first takes
        // the hash, the others go on the side, and a key that is absent is still not found.
        let keys = keys(3);
        let mut index = ItemIndex::default();
        index.by_hash.insert(hash_of(&keys[0]), 0);
        index.collided.insert(keys[1].clone(), 1);
        index.collided.insert(keys[2].clone(), 2);
        for (position, key) in keys.iter().enumerate() {
            assert_eq!(index.get_by(key, |at| keys[at].clone()), Some(position), "{key}");
        }
        assert_eq!(index.get_by("production;net.port_3", |at| keys[at].clone()), None);
    }

    #[test]
    fn a_key_that_hashes_like_a_stored_one_but_differs_is_not_taken_for_it() {
        // The hit is checked against the record's own key.
        let stored = "production;a".to_string();
        let mut index = ItemIndex::default();
        index.by_hash.insert(hash_of("production;b"), 0);
        assert_eq!(index.get_by("production;b", |_| stored.clone()), None);
    }
}
