//! What connection state recovery keeps of a socket that left, what a recovery gives back, and
//! why one is refused.

use serde_json::Value;

use crate::protocol::ids::Sid;
use crate::room::Room;

/// What a socket that left keeps for its client to recover.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionState {
    /// Its id (the client gets it back).
    pub sid: Sid,
    /// Its private session id, which the client presents.
    pub pid: Sid,
    /// Its namespace.
    pub nsp: String,
    /// Its named rooms (its own id room is implied).
    pub rooms: Vec<Room>,
    /// Its `data`.
    pub data: Value,
}

/// A session found again, with where its client left the namespace's log.
#[derive(Debug, Clone, PartialEq)]
pub struct Restored {
    /// The session.
    pub session: SessionState,
    /// The sequence number of the last packet the client had; everything after it that selects
    /// the session is what it missed (node-local store).
    pub after: u64,
    /// The packets it missed, encoded, when the store read them with the session (a Redis
    /// stream); empty for the node-local store, which finds them by `after`.
    pub missed: Vec<std::sync::Arc<[crate::protocol::engineio::Frame]>>,
    /// The last stream entry `missed` accounts for (`<ms>`, `<seq>`), when read from a Redis
    /// stream: what this node delivered after it is the rest.
    pub through: Option<(u64, u64)>,
}

/// Why a recovery was refused (counted in metrics by [`Refusal::as_str`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No such session (never was, expired, evicted, or recovered already).
    UnknownSession,
    /// The session belongs to another namespace.
    OtherNamespace,
    /// The offset is not one this store gave.
    BadOffset,
    /// Packets after the offset were evicted or have expired.
    RangeGone,
}

impl Refusal {
    /// A short label.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::UnknownSession => "unknown_session",
            Refusal::OtherNamespace => "other_namespace",
            Refusal::BadOffset => "bad_offset",
            Refusal::RangeGone => "range_gone",
        }
    }
}
