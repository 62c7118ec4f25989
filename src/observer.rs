//! Hooks for something that watches a whole server (the Admin UI): connections opening and closing,
//! sockets of every namespace (static, pattern-made and dynamic alike) connecting and leaving,
//! room joins and leaves, transport upgrades, events in and out, and Engine.IO traffic. A server
//! has at most one observer, installed once with [`crate::Server::set_observer`]; until then every
//! hook site costs one atomic load and a branch, and nothing else.
//!
//! Hooks run on the thread of whatever caused them (a socket actor, a room supervisor, a
//! transport): they must be quick and must not block. They are called outside the core's locks,
//! except `packets_out`, which runs under the connection's queue lock and should only count.

use std::sync::{Arc, OnceLock};

use crate::metrics::EngineObserver;
use crate::payload::Payload;
use crate::room::Room;
use crate::socket::{DisconnectReason, Socket};

/// What an observer is told: the Engine.IO hooks of [`EngineObserver`] and the Socket.IO ones
/// here. Every method has an empty default.
pub trait Observer: EngineObserver {
    /// A socket completed its CONNECT (it is in its namespace and its own-id room).
    fn socket_connected(&self, _socket: &Socket) {}
    /// A socket left its namespace.
    fn socket_disconnected(&self, _socket: &Socket, _reason: DisconnectReason) {}
    /// A connection moved to the WebSocket transport; `sockets` are its sockets.
    fn transport_upgraded(&self, _sockets: &[Socket]) {}
    /// A socket joined rooms it was not in.
    fn rooms_joined(&self, _socket: &Socket, _rooms: &[Room]) {}
    /// A socket left rooms it was in.
    fn rooms_left(&self, _socket: &Socket, _rooms: &[Room]) {}
    /// A socket received `event` with these arguments (an acknowledgement id is not part of them).
    fn event_received(&self, _socket: &Socket, _event: &str, _payload: &Payload) {}
    /// A socket's own emit (not a broadcast) queued `event` with these arguments.
    fn event_sent(&self, _socket: &Socket, _event: &str, _payload: &Payload) {}
}

/// The server's observer slot: empty, or set once.
#[derive(Default)]
pub struct ObserverSlot(OnceLock<Arc<dyn Observer>>);

impl ObserverSlot {
    /// The observer, if one is installed.
    #[inline]
    pub fn get(&self) -> Option<&Arc<dyn Observer>> {
        self.0.get()
    }

    /// Installs `observer`; refused (and handed back) when one is installed already.
    pub fn set(&self, observer: Arc<dyn Observer>) -> Result<(), Arc<dyn Observer>> {
        self.0.set(observer)
    }
}
