//! The live Engine.IO sessions of one server, by session id. Owned by the server instance (never a
//! global), so two servers in one process do not see each other's sessions.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::engine::Conn;
use crate::protocol::ids::Sid;

/// Session id -> connection.
#[derive(Default)]
pub struct Registry {
    map: Mutex<HashMap<Sid, Arc<Conn>>>,
}

impl Registry {
    /// Adds a session.
    pub fn insert(&self, conn: Arc<Conn>) {
        self.map.lock().insert(conn.sid(), conn);
    }

    /// Looks a session up.
    pub fn get(&self, sid: &Sid) -> Option<Arc<Conn>> {
        self.map.lock().get(sid).cloned()
    }

    /// Removes a session (when it closes).
    pub fn remove(&self, sid: &Sid) {
        self.map.lock().remove(sid);
    }

    /// Number of live sessions.
    pub fn len(&self) -> usize {
        self.map.lock().len()
    }

    /// True when no session is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every live session (for shutdown and metrics).
    pub fn all(&self) -> Vec<Arc<Conn>> {
        self.map.lock().values().cloned().collect()
    }
}
