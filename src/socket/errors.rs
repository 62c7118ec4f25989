//! Why a socket left, and why an emit, an acknowledgement or a join failed.

use crate::engine::CloseReason;

/// Why a socket left its namespace, named as Socket.IO names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisconnectReason {
    /// The client sent DISCONNECT for this namespace.
    ClientNamespaceDisconnect,
    /// The server called `disconnect` on the socket.
    ServerNamespaceDisconnect,
    /// The whole connection ended.
    Engine(CloseReason),
}

impl DisconnectReason {
    /// The reason string (`"transport close"`, `"client namespace disconnect"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            DisconnectReason::ClientNamespaceDisconnect => "client namespace disconnect",
            DisconnectReason::ServerNamespaceDisconnect => "server namespace disconnect",
            DisconnectReason::Engine(r) => r.as_str(),
        }
    }
}

impl std::fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an emit was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmitError {
    /// Socket.IO reserves this event name.
    #[error("\"{0}\" is a reserved event name")]
    Reserved(String),
    /// The socket is not connected.
    #[error("socket is disconnected")]
    Disconnected,
    /// The client's outbound queue is full: it is being disconnected as a slow consumer.
    #[error("client too slow: outbound queue full")]
    SlowConsumer,
}

/// Why an acknowledgement did not arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AckError {
    /// The timeout passed first.
    #[error("operation has timed out")]
    Timeout,
    /// The socket disconnected first.
    #[error("socket disconnected")]
    Disconnected,
}

/// Why a join was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JoinError {
    /// The socket would be in more rooms than allowed.
    #[error("too many rooms (at most {0})")]
    TooManyRooms(usize),
    /// The server holds `max_memberships` room memberships already.
    #[error("server room limit reached (at most {0} memberships)")]
    ServerLimit(usize),
    /// The socket is not connected.
    #[error("socket is disconnected")]
    Disconnected,
}
