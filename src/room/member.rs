//! What a room supervisor needs from the members of its rooms. The room and adapter layers work on
//! any [`Member`]; the namespace layer picks the concrete one (`crate::Socket`), so the rooms never
//! depend on the sockets above them.

use std::sync::Arc;

use crate::engine::PushOutcome;
use crate::protocol::engineio::Frame;
use crate::protocol::ids::Sid;
use crate::room::Room;

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

    /// Disconnects it from its namespace (and closes its whole connection when `close`).
    fn disconnect(&self, close: bool);
}
