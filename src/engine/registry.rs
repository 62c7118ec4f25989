//! The live Engine.IO sessions of one server, by session id. Owned by the server instance (never a
//! global), so two servers in one process do not see each other's sessions. A closed polling
//! session may stay reachable a little longer for its client's last GET; it no longer counts as
//! open.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::engine::Conn;
use crate::protocol::ids::Sid;

/// Hashes a [`Sid`] cheaply: its characters are already random (server-made, 118 random bits),
/// so mixing their first bytes is enough, and a client's made-up sid can only miss. Every
/// request of a polling client looks its session up, so SipHash over 20 bytes per request shows.
#[derive(Default)]
struct SidHasher(u64);

impl Hasher for SidHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(26) ^ u64::from_le_bytes(word))
                .wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Session id -> connection.
#[derive(Default)]
pub struct Registry {
    map: Mutex<HashMap<Sid, Arc<Conn>, BuildHasherDefault<SidHasher>>>,
    open: AtomicUsize,
}

impl Registry {
    /// Adds a session (open).
    pub fn insert(&self, conn: Arc<Conn>) {
        self.map.lock().insert(conn.sid(), conn);
        self.open.fetch_add(1, Ordering::AcqRel);
    }

    /// A session closed (called exactly once per session, when its state turns closed).
    pub fn closed(&self) {
        self.open.fetch_sub(1, Ordering::AcqRel);
    }

    /// Number of open sessions (closed ones still reachable are not counted).
    pub fn open_count(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }

    /// Looks a session up.
    pub fn get(&self, sid: &Sid) -> Option<Arc<Conn>> {
        self.map.lock().get(sid).cloned()
    }

    /// Removes a session (when it closes).
    pub fn remove(&self, sid: &Sid) {
        self.map.lock().remove(sid);
    }

    /// Every registered session, open or closed-but-reachable (for shutdown and metrics).
    pub fn all(&self) -> Vec<Arc<Conn>> {
        self.map.lock().values().cloned().collect()
    }
}
