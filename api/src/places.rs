//! Places counted in total and per key, each given back when its holder drops it: the one
//! form of the bounds on open connections (per client address, [`crate::connection`]) and on
//! writes in progress (per organisation, [`crate::overload`]).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};

struct Taken<K> {
    total: usize,
    by_key: HashMap<K, usize>,
}

/// At most `max_total` places at once, at most `max_per_key` of them for one key.
#[derive(Clone)]
pub(crate) struct Places<K> {
    taken: Arc<Mutex<Taken<K>>>,
    max_total: usize,
    max_per_key: usize,
}

/// A place, given back when dropped.
pub(crate) struct Place<K: Hash + Eq> {
    taken: Arc<Mutex<Taken<K>>>,
    key: K,
}

/// Not the counts: a place is printed with what holds it (a caller, a connection), and the
/// counts are everyone's.
impl<K: Hash + Eq> std::fmt::Debug for Place<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Place")
    }
}

/// Why no place was given, with the number taken at that bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Full {
    /// The key holds its share.
    Key(usize),
    /// Every place is taken.
    Total(usize),
}

impl<K: Hash + Eq> Drop for Place<K> {
    fn drop(&mut self) {
        let mut t = self.taken.lock().unwrap_or_else(PoisonError::into_inner);
        t.total = t.total.saturating_sub(1);
        if let Some(n) = t.by_key.get_mut(&self.key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                t.by_key.remove(&self.key);
            }
        }
    }
}

impl<K> std::fmt::Debug for Places<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Places").field("max_total", &self.max_total).field("max_per_key", &self.max_per_key).finish()
    }
}

impl<K: Hash + Eq + Clone> Places<K> {
    pub(crate) fn new(max_total: usize, max_per_key: usize) -> Self {
        let taken = Arc::new(Mutex::new(Taken { total: 0, by_key: HashMap::new() }));
        Self { taken, max_total: max_total.max(1), max_per_key: max_per_key.max(1) }
    }

    /// A place for `key`. A refusal takes nothing, from the key's share or the total; a key
    /// at its share is told so ([`Full::Key`]) even when the total is reached too.
    pub(crate) fn take(&self, key: K) -> Result<Place<K>, Full> {
        let mut t = self.taken.lock().unwrap_or_else(PoisonError::into_inner);
        let mine = t.by_key.get(&key).copied().unwrap_or(0);
        if mine >= self.max_per_key {
            return Err(Full::Key(mine));
        }
        if t.total >= self.max_total {
            return Err(Full::Total(t.total));
        }
        t.total += 1;
        *t.by_key.entry(key.clone()).or_default() += 1;
        Ok(Place { taken: self.taken.clone(), key })
    }

    /// Places taken now.
    pub(crate) fn taken(&self) -> usize {
        self.taken.lock().unwrap_or_else(PoisonError::into_inner).total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_takes_its_share_the_others_the_rest_and_a_dropped_place_comes_back() {
        let places = Places::new(3, 2);
        let a1 = places.take('a').expect("first");
        let _a2 = places.take('a').expect("second: the share");
        assert_eq!(places.take('a').err(), Some(Full::Key(2)), "a third of one key");
        assert_eq!(places.taken(), 2, "a refusal holds nothing");
        let _b1 = places.take('b').expect("another key");
        assert_eq!(places.take('b').err(), Some(Full::Total(3)), "the total");
        drop(a1);
        let _b2 = places.take('b').expect("a dropped place is taken again");
        assert_eq!(places.taken(), 3);
    }
}
