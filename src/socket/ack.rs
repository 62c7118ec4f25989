//! The pure table of acknowledgements a socket awaits: ids handed out in order, each entry taken
//! exactly once (by the client's ACK, a timeout, or the disconnect).

use std::collections::HashMap;

/// Pending acknowledgements by id.
#[derive(Debug)]
pub struct AckTable<T> {
    next: u64,
    pending: HashMap<u64, T>,
}

impl<T> Default for AckTable<T> {
    fn default() -> Self {
        AckTable {
            next: 0,
            pending: HashMap::new(),
        }
    }
}

impl<T> AckTable<T> {
    /// Reserves the next id.
    pub fn next_id(&mut self) -> u64 {
        let id = self.next;
        self.next = self.next.wrapping_add(1);
        id
    }

    /// Stores the entry awaiting `id`.
    pub fn insert(&mut self, id: u64, entry: T) {
        self.pending.insert(id, entry);
    }

    /// Takes the entry for `id` (an ACK or a timeout); `None` if it was already taken or never existed.
    pub fn take(&mut self, id: u64) -> Option<T> {
        self.pending.remove(&id)
    }

    /// Takes every entry (the socket is going away).
    pub fn drain(&mut self) -> Vec<T> {
        self.pending.drain().map(|(_, v)| v).collect()
    }

    /// Number of pending entries.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// True with no pending entry.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_sequential_and_taken_once() {
        let mut t = AckTable::default();
        let a = t.next_id();
        let b = t.next_id();
        assert_eq!((a, b), (0, 1));
        t.insert(a, "a");
        t.insert(b, "b");
        assert_eq!(t.take(a), Some("a"));
        assert_eq!(t.take(a), None, "a second ACK for the same id is ignored");
        assert_eq!(t.take(99), None, "an unknown id is ignored");
        assert_eq!(t.len(), 1);
        assert_eq!(t.drain(), vec!["b"]);
        assert!(t.is_empty());
    }
}
