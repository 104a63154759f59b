//! A small shared map whose entries expire: answers of Keystone and Glance
//! reused for a short while. When full it empties rather than grow.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

type Entries<K, V> = HashMap<K, (V, Instant)>;

#[derive(Clone)]
pub struct TtlCache<K, V> {
    ttl: Duration,
    max: usize,
    entries: Arc<Mutex<Entries<K, V>>>,
}

impl<K: Eq + Hash, V: Clone> TtlCache<K, V> {
    pub fn new(ttl: Duration, max: usize) -> Self {
        TtlCache {
            ttl,
            max,
            entries: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    pub fn get(&self, key: &K) -> Option<V> {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .filter(|(_, at)| at.elapsed() < self.ttl)
            .map(|(v, _)| v.clone())
    }

    /// How many entries are held, expired ones included.
    pub fn entries_len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn insert(&self, key: K, value: V) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= self.max {
            entries.clear();
        }
        entries.insert(key, (value, Instant::now()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_a_full_cache_empties() {
        let c = TtlCache::new(Duration::from_millis(50), 2);
        c.insert(1, "a");
        assert_eq!(c.get(&1), Some("a"));
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(c.get(&1), None);
        c.insert(2, "b");
        c.insert(3, "c");
        assert_eq!(c.get(&2), None, "the third entry emptied the cache");
        assert_eq!(c.get(&3), Some("c"));
    }
}
