//! What a room supervisor needs from the members of its rooms. The room and adapter layers work on
//! any [`Member`]; the namespace layer above them picks the concrete one (its sockets), so the rooms
//! never depend on the socket layer.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::engine::PushOutcome;
use crate::handshake::HandshakeDescription;
use crate::payload::Payload;
use crate::protocol::engineio::Frame;
use crate::protocol::ids::Sid;
use crate::room::Room;

/// Called once with a member's acknowledgement, or `None` (timed out, or gone).
pub type AckCallback = Box<dyn FnOnce(Option<Payload>) + Send>;

/// A member of a namespace's rooms, as its room supervisor holds it: cheap to clone (a handle), and
/// sent to the supervisor's thread. One is stored per member and index entry, so a handle of one
/// pointer keeps the index small.
pub trait Member: Clone + Send + Sync + Unpin + 'static {
    /// Why [`Member::record_joined`] refused.
    type JoinError: std::error::Error + Send;

    /// Its id, which is also a room of its own (never stored as one).
    fn id(&self) -> Sid;

    /// Queues one encoded packet (the text frame, then its attachments), shared by every recipient
    /// of a broadcast. When its queue is full a `volatile` packet is dropped; anything else
    /// disconnects it as a slow consumer.
    fn deliver(&self, frames: &Arc<[Frame]>, volatile: bool) -> PushOutcome;

    /// The named rooms it is in (its own id excluded), as the member recorded them: what the
    /// supervisor indexes it under when it is added.
    fn named_rooms(&self) -> Vec<Room>;

    /// Records rooms joined by a bulk operation, under the member's room limits (all or none); the
    /// supervisor indexes it in them only when this succeeds.
    fn record_joined(&self, rooms: &[Room]) -> Result<(), Self::JoinError>;

    /// Records rooms left by a bulk operation.
    fn record_left(&self, rooms: &[Room]);

    /// Emits `event` with `payload` under an acknowledgement id of its own and calls `callback`
    /// once: with the client's reply, or `None` after `timeout` or when it goes away. `false`:
    /// not sent (not connected, or a reserved name); `callback` is dropped uncalled.
    fn deliver_with_ack(
        &self,
        event: &str,
        payload: Payload,
        timeout: Duration,
        callback: AckCallback,
    ) -> bool;

    /// Disconnects it from its namespace (and closes its whole connection when `close`).
    fn disconnect(&self, close: bool);

    /// What it is now, as plain data.
    fn describe(&self) -> SocketDescription;
}

/// A socket as plain data that can be serialised: what `fetchSockets` returns, whether the socket
/// is connected to this node or (through a cluster adapter) to another one. It is a snapshot, not
/// a handle: acting on the socket goes through the broadcast operators.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SocketDescription {
    /// The socket id.
    pub id: Sid,
    /// Its namespace.
    pub nsp: String,
    /// Its handshake.
    pub handshake: HandshakeDescription,
    /// Its named rooms, sorted (its own id room is not listed).
    pub rooms: Vec<String>,
    /// Its data.
    pub data: Value,
    /// The Engine.IO session id of its connection (Socket.IO's client id).
    pub engine_id: Sid,
    /// The transport that carried the connection when it was described: `polling` or `websocket`.
    pub transport: String,
    /// When the socket was created, in milliseconds since the Unix epoch.
    pub connected_at: u64,
}
