//! The live Engine.IO sessions of one server, by session id. Owned by the server instance (never a
//! global), so two servers in one process do not see each other's sessions. A closed polling
//! session may stay reachable a little longer for its client's last GET; it no longer counts as
//! open.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::engine::Conn;
use crate::protocol::ids::{Sid, SidBuildHasher};

/// Session id -> connection.
#[derive(Default)]
pub struct Registry {
    /// Sids made by this server only (a client's sid is only looked up): the cheap hash is safe.
    map: Mutex<HashMap<Sid, Arc<Conn>, SidBuildHasher>>,
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
