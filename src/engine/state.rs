//! The pure state machine of one Engine.IO connection: which transport carries outbound packets, and
//! the upgrade and close steps. No I/O, no actix: the session actor and the transports consult it
//! under the connection's lock.

use crate::engine::CloseReason;

/// Which transport is active, and where an upgrade stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineState {
    /// HTTP long-polling carries everything; no upgrade has started.
    Polling,
    /// A WebSocket (`ws` is its generation) has been opened for this session and awaits `2probe`;
    /// polling still carries everything.
    UpgradePending {
        /// Generation of the candidate WebSocket.
        ws: u64,
    },
    /// The candidate WebSocket answered the probe: every poll is answered with a noop until the
    /// client sends `5` on the WebSocket.
    Upgrading {
        /// Generation of the candidate WebSocket.
        ws: u64,
    },
    /// The WebSocket with generation `ws` carries everything.
    WebSocket {
        /// Generation of the active WebSocket.
        ws: u64,
    },
    /// The session is over; queued packets may still be flushed, then the transport closes.
    Closed {
        /// Why the session ended.
        reason: CloseReason,
    },
}

impl EngineState {
    /// True once the session has ended.
    pub fn is_closed(&self) -> bool {
        matches!(self, EngineState::Closed { .. })
    }

    /// True while polling requests are the valid transport (including during an upgrade).
    pub fn accepts_polling(&self) -> bool {
        matches!(
            self,
            EngineState::Polling
                | EngineState::UpgradePending { .. }
                | EngineState::Upgrading { .. }
        )
    }

    /// True when a parked or new poll must be answered with a noop at once (upgrade under way).
    pub fn polls_get_noop(&self) -> bool {
        matches!(self, EngineState::Upgrading { .. })
    }

    /// True when polling, not WebSocket, drains the outbound queue.
    pub fn polling_drains(&self) -> bool {
        matches!(
            self,
            EngineState::Polling | EngineState::UpgradePending { .. }
        )
    }

    /// Whether a session closing now with `reason` stays reachable for one more polling GET (which
    /// fetches what is queued and the close packet, or a noop), within a grace period: a session
    /// that still takes polls (an upgrade under way included: its client may be waiting on a poll
    /// until the upgrade completes) closed on purpose, by a client's POST while its GET may be on
    /// the way, or for a protocol error the client is to be told about (`poll_gets_close`).
    pub fn lingers_for_poll(&self, reason: CloseReason, poll_gets_close: bool) -> bool {
        self.accepts_polling()
            && (poll_gets_close || reason.flushes() || reason == CloseReason::TransportClose)
    }

    /// True if the WebSocket of generation `ws` is the active transport.
    pub fn is_active_ws(&self, ws: u64) -> bool {
        matches!(self, EngineState::WebSocket { ws: w } if *w == ws)
    }

    /// The candidate WebSocket generation while an upgrade is pending or under way.
    pub fn upgrade_candidate(&self) -> Option<u64> {
        match self {
            EngineState::UpgradePending { ws } | EngineState::Upgrading { ws } => Some(*ws),
            _ => None,
        }
    }

    /// Name of the transport carrying packets now (`polling` or `websocket`).
    pub fn transport_name(&self) -> &'static str {
        match self {
            EngineState::WebSocket { .. } => "websocket",
            _ => "polling",
        }
    }

    /// A WebSocket of generation `ws` asks to become the upgrade candidate. Only a polling session
    /// with no upgrade under way accepts.
    pub fn begin_upgrade(&mut self, ws: u64) -> bool {
        if *self == EngineState::Polling {
            *self = EngineState::UpgradePending { ws };
            true
        } else {
            false
        }
    }

    /// The candidate answered `2probe`.
    pub fn probe(&mut self, ws: u64) -> bool {
        if *self == (EngineState::UpgradePending { ws }) {
            *self = EngineState::Upgrading { ws };
            true
        } else {
            false
        }
    }

    /// The candidate sent `5`: it becomes the transport.
    pub fn complete_upgrade(&mut self, ws: u64) -> bool {
        if *self == (EngineState::Upgrading { ws }) {
            *self = EngineState::WebSocket { ws };
            true
        } else {
            false
        }
    }

    /// The candidate failed (closed, sent something else, timed out): back to polling.
    pub fn abort_upgrade(&mut self, ws: u64) -> bool {
        if self.upgrade_candidate() == Some(ws) {
            *self = EngineState::Polling;
            true
        } else {
            false
        }
    }

    /// Ends the session; returns false if it had already ended.
    pub fn close(&mut self, reason: CloseReason) -> bool {
        if self.is_closed() {
            false
        } else {
            *self = EngineState::Closed { reason };
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upgrade_happy_path() {
        let mut s = EngineState::Polling;
        assert!(s.accepts_polling() && s.polling_drains());
        assert!(s.begin_upgrade(7));
        assert!(!s.begin_upgrade(8), "a second candidate is refused");
        assert!(s.polling_drains() && !s.polls_get_noop());
        assert!(!s.probe(8), "a probe on another socket is ignored");
        assert!(s.probe(7));
        assert!(s.polls_get_noop() && !s.polling_drains() && s.accepts_polling());
        assert!(s.complete_upgrade(7));
        assert!(s.is_active_ws(7) && !s.accepts_polling());
        assert_eq!(s.transport_name(), "websocket");
        assert!(!s.begin_upgrade(9), "no upgrade after upgrade");
    }

    #[test]
    fn upgrade_needs_probe_before_upgrade_packet() {
        let mut s = EngineState::Polling;
        assert!(s.begin_upgrade(1));
        assert!(!s.complete_upgrade(1));
        assert!(s.abort_upgrade(1));
        assert_eq!(s, EngineState::Polling);
        assert!(s.begin_upgrade(2), "a later upgrade may start again");
    }

    #[test]
    fn close_is_final_and_once() {
        let mut s = EngineState::WebSocket { ws: 1 };
        assert!(s.close(CloseReason::PingTimeout));
        assert!(!s.close(CloseReason::TransportClose));
        assert_eq!(
            s,
            EngineState::Closed {
                reason: CloseReason::PingTimeout
            }
        );
        assert!(!s.accepts_polling() && !s.is_active_ws(1) && !s.abort_upgrade(1));
    }

    const ALL_REASONS: [CloseReason; 8] = [
        CloseReason::TransportClose,
        CloseReason::TransportError,
        CloseReason::PingTimeout,
        CloseReason::ParseError,
        CloseReason::ForcedClose,
        CloseReason::ForcedServerClose,
        CloseReason::ServerShuttingDown,
        CloseReason::SlowConsumer,
    ];

    /// Whether a polling session closed for `reason` stays for one more GET when nothing asks for
    /// it (`poll_gets_close` false): spelled out, not derived from `flushes()`.
    fn lingers_unasked(reason: CloseReason) -> bool {
        match reason {
            // Closed on purpose: the last GET fetches what is queued and the close packet.
            CloseReason::ForcedClose
            | CloseReason::ForcedServerClose
            | CloseReason::ServerShuttingDown => true,
            // The client's close (a POST): its GET may be on the way, to be released.
            CloseReason::TransportClose => true,
            CloseReason::TransportError
            | CloseReason::PingTimeout
            | CloseReason::ParseError
            | CloseReason::SlowConsumer => false,
        }
    }

    /// The states in which a session still answers polls.
    const POLLED: [EngineState; 3] = [
        EngineState::Polling,
        EngineState::UpgradePending { ws: 1 },
        EngineState::Upgrading { ws: 1 },
    ];

    #[test]
    fn polling_session_lingers_for_deliberate_and_client_closes() {
        for state in POLLED {
            for reason in ALL_REASONS {
                assert_eq!(
                    state.lingers_for_poll(reason, false),
                    lingers_unasked(reason),
                    "{state:?}, {reason}"
                );
            }
        }
    }

    #[test]
    fn polling_session_lingers_when_the_poll_is_to_get_the_close() {
        for state in POLLED {
            for reason in ALL_REASONS {
                assert!(state.lingers_for_poll(reason, true), "{state:?}, {reason}");
            }
        }
    }

    #[test]
    fn session_not_taking_polls_never_lingers() {
        let states = [
            EngineState::WebSocket { ws: 1 },
            EngineState::Closed {
                reason: CloseReason::ForcedClose,
            },
        ];
        for state in states {
            for reason in ALL_REASONS {
                for poll_gets_close in [false, true] {
                    assert!(
                        !state.lingers_for_poll(reason, poll_gets_close),
                        "{state:?}, {reason}, {poll_gets_close}"
                    );
                }
            }
        }
    }
}
