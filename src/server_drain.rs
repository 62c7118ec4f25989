//! The server's part in a graceful drain: refusing new clients, closing every connection so that
//! its sockets leave with "server shutting down", telling when the drain has nothing left to wait
//! for, and writing the recovery store for the next start.

use std::time::Instant;

use super::Server;
use crate::engine::CloseReason;

impl Server {
    /// Whether a drain still has work: an open connection, or a closed polling session whose client
    /// has yet to fetch its last packets. A client that has not polled for `ping_timeout` (the
    /// time the heartbeat gives a client to answer what it was sent) is gone: its session does
    /// not hold the drain.
    pub fn drain_pending(&self) -> bool {
        if self.inner.engine.ws_tasks_running() {
            return true; // a WebSocket is still flushing its queue or closing
        }
        let (quiet, now) = (self.inner.options.ping_timeout, Instant::now());
        self.inner
            .engine
            .registry
            .all()
            .iter()
            .any(|c| match c.state() {
                crate::engine::EngineState::Closed { reason } => {
                    reason.flushes() && !c.poll_abandoned(quiet, now)
                }
                _ => true,
            })
    }

    /// Stops accepting new connections (handshakes get 503); existing ones continue.
    pub fn start_draining(&self) {
        self.inner.engine.start_draining(None);
    }

    /// [`Server::start_draining`], and lets closing connections take until `deadline` to flush
    /// what is queued for their clients.
    pub fn drain_until(&self, deadline: Instant) {
        self.inner.engine.start_draining(Some(deadline));
    }

    /// Whether [`Server::start_draining`] was called.
    pub fn is_draining(&self) -> bool {
        self.inner.engine.is_draining()
    }

    /// Writes the node-local recovery store to `recovery.state_file`, if one is configured, for
    /// the next server started with it: (sessions, packets) written. Call it when draining, once
    /// the sockets have left with "server shutting down" (their sessions kept, see
    /// [`Server::socket_count`]) and nothing more is broadcast.
    pub fn save_recovery_state(&self) -> std::io::Result<Option<(usize, usize)>> {
        match &self.inner.recovery {
            Some(recovery) => recovery.save_state_file(),
            None => Ok(None),
        }
    }

    /// Sockets connected now, all namespaces together.
    pub fn socket_count(&self) -> usize {
        self.inner
            .namespaces
            .all()
            .iter()
            .map(|ns| ns.socket_count())
            .sum()
    }

    /// Stops the room supervisors' arbiters (after [`Server::close`], when shutting down).
    pub fn stop_supervisors(&self) {
        self.inner.pool.stop();
    }

    /// Closes every connection at the transport level after flushing what is queued (no
    /// DISCONNECT packet: clients see "transport close" and reconnect elsewhere); their sockets
    /// leave with "server shutting down".
    pub fn close(&self) {
        for conn in self.inner.engine.registry.all() {
            conn.request_close(CloseReason::ServerShuttingDown);
        }
    }
}
