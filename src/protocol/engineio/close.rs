//! Why an Engine.IO session ends, as the protocol names the reasons (Socket.IO hands them to
//! `disconnect` handlers), with what each implies for what was queued.

/// Why an Engine.IO session ended, named as Socket.IO names disconnect reasons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CloseReason {
    /// The client closed the transport (or sent a close packet).
    TransportClose,
    /// The transport failed (I/O error, protocol violation at the transport level, oversized frame).
    TransportError,
    /// No pong arrived within the ping timeout.
    PingTimeout,
    /// The client sent something that does not parse.
    ParseError,
    /// The server closed the session on purpose (`socket.disconnect(true)`, connect timeout).
    ForcedClose,
    /// The Socket.IO layer closed the connection (no namespace joined in time).
    ForcedServerClose,
    /// The server is shutting down.
    ServerShuttingDown,
    /// The connection's bounded outbound queue overflowed with non-volatile packets.
    SlowConsumer,
}

impl CloseReason {
    /// The reason string given to `disconnect` handlers and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::TransportClose => "transport close",
            CloseReason::TransportError => "transport error",
            CloseReason::PingTimeout => "ping timeout",
            CloseReason::ParseError => "parse error",
            CloseReason::ForcedClose => "forced close",
            CloseReason::ForcedServerClose => "forced server close",
            CloseReason::ServerShuttingDown => "server shutting down",
            CloseReason::SlowConsumer => "slow consumer",
        }
    }

    /// Whether packets queued before the close are still delivered (a deliberate server-side close)
    /// rather than discarded with the broken or abandoned transport.
    pub fn flushes(self) -> bool {
        matches!(
            self,
            CloseReason::ForcedClose
                | CloseReason::ForcedServerClose
                | CloseReason::ServerShuttingDown
        )
    }

    /// Whether a parked poll should be told `1` (server-side close) rather than `6` (the client
    /// asked to close, so it only needs its poll released).
    pub fn server_initiated(self) -> bool {
        !matches!(self, CloseReason::TransportClose)
    }
}

impl std::fmt::Display for CloseReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
