//! What every transport and session of one server shares at the Engine.IO level: the engine's
//! options, the session registry, the metrics, the drain state, the WebSocket generations, and the
//! [`HandlerFactory`] that gives each new session the layer above it. The Socket.IO layer keeps its
//! own state elsewhere; nothing here knows it.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::{Actor, AsyncContext};

use crate::engine::conn::QueueBounds;
use crate::engine::handler::HandlerFactory;
use crate::engine::{Conn, EngineSession, EngineState, Registry};
use crate::handshake::ConnInfo;
use crate::metrics::Metrics;
use crate::options::{Cors, Transports};
use crate::protocol::engineio::OpenPacket;
use crate::protocol::ids::Sid;

/// The Engine.IO layer's slice of the server options.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Endpoint path, with a trailing slash (`/socket.io/`).
    pub path: String,
    /// Interval between server pings.
    pub ping_interval: Duration,
    /// How long a pong may take.
    pub ping_timeout: Duration,
    /// How long a WebSocket upgrade may take between the new socket and its `5`.
    pub upgrade_timeout: Duration,
    /// Largest accepted polling body or WebSocket message, in bytes.
    pub max_payload: usize,
    /// Enabled transports.
    pub transports: Transports,
    /// CORS policy.
    pub cors: Cors,
    /// Name of a sticky-session cookie set on the handshake.
    pub cookie: Option<String>,
    /// The bounds of each connection's outbound queue.
    pub queue: QueueBounds,
    /// Most open connections; further handshakes get 503.
    pub max_connections: usize,
    /// WebSocket write coalescing window (zero: none).
    pub write_delay: Duration,
}

/// The engine-level state of one server.
pub struct Engine {
    pub(crate) options: EngineOptions,
    pub(crate) registry: Registry,
    pub(crate) metrics: Arc<Metrics>,
    handlers: Arc<dyn HandlerFactory>,
    draining: AtomicBool,
    /// Until when a drain may flush what is queued.
    drain_deadline: parking_lot::Mutex<Option<Instant>>,
    /// WebSocket connection tasks still running (they flush their queue before they end).
    ws_tasks: AtomicUsize,
    ws_generation: AtomicU64,
}

impl Engine {
    /// An engine whose sessions get their handler from `handlers`.
    pub fn new(
        options: EngineOptions,
        metrics: Arc<Metrics>,
        handlers: Arc<dyn HandlerFactory>,
    ) -> Self {
        Engine {
            options,
            registry: Registry::default(),
            metrics,
            handlers,
            draining: AtomicBool::new(false),
            drain_deadline: parking_lot::Mutex::new(None),
            ws_tasks: AtomicUsize::new(0),
            ws_generation: AtomicU64::new(1),
        }
    }

    /// The options in force.
    pub fn options(&self) -> &EngineOptions {
        &self.options
    }

    /// The live sessions.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The server's metrics.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Whether new sessions are refused because the server is draining.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }

    /// Refuses new sessions from now on; closing connections may flush until `deadline` if given.
    pub fn start_draining(&self, deadline: Option<Instant>) {
        if deadline.is_some() {
            *self.drain_deadline.lock() = deadline;
        }
        self.draining.store(true, Ordering::Release);
    }

    /// How long a closing connection may take to flush what it has: the rest of the drain's time
    /// while draining (at least `usual`), `usual` otherwise.
    pub(crate) fn flush_time(&self, usual: Duration) -> Duration {
        match *self.drain_deadline.lock() {
            Some(deadline) if self.is_draining() => {
                usual.max(deadline.saturating_duration_since(Instant::now()))
            }
            _ => usual,
        }
    }

    /// Counts a WebSocket connection task until the returned guard, which the task owns, is
    /// dropped. (A guard, not a wrapper future: an `async` block awaiting the task's future would
    /// store that large future twice per connection.)
    pub(crate) fn ws_task(self: &Arc<Self>) -> WsTask {
        self.ws_tasks.fetch_add(1, Ordering::AcqRel);
        WsTask(self.clone())
    }

    /// Whether a WebSocket task is still flushing its queue or closing.
    pub fn ws_tasks_running(&self) -> bool {
        self.ws_tasks.load(Ordering::Acquire) > 0
    }

    pub(crate) fn next_ws_generation(&self) -> u64 {
        self.ws_generation.fetch_add(1, Ordering::Relaxed)
    }

    /// Starts a session in `state` (its actor, its connection, its handler) and registers it;
    /// returns the connection and the encoded open packet.
    pub(crate) fn open_session(
        self: &Arc<Self>,
        info: Arc<ConnInfo>,
        state: EngineState,
    ) -> (Arc<Conn>, String) {
        let sid = Sid::new();
        let mut created = None;
        EngineSession::create(|ctx| {
            let conn = Conn::new(sid, state, self.options.queue, self.metrics.clone());
            let conn = Arc::new(conn.with_session(ctx.address()));
            let handler = self.handlers.open(&conn, &info);
            created = Some(conn.clone());
            EngineSession::new(self.clone(), conn, handler)
        });
        // `Actor::create` runs the closure before returning.
        let conn = created.expect("session created");
        self.registry.insert(conn.clone());
        if let Some(observer) = self.metrics.observer() {
            observer.connection_opened(state.transport_name());
        }
        tracing::info!(
            sid = %sid,
            transport = state.transport_name(),
            address = %info.address(),
            "connection opened"
        );
        let upgrades = if state == EngineState::Polling && self.options.transports.websocket {
            vec!["websocket"]
        } else {
            vec![]
        };
        let open = OpenPacket {
            sid: sid.to_string(),
            upgrades,
            ping_interval: self.options.ping_interval.as_millis() as u64,
            ping_timeout: self.options.ping_timeout.as_millis() as u64,
            max_payload: self.options.max_payload as u64,
        };
        (conn, open.encode())
    }
}

/// A running WebSocket connection task, counted until dropped (see [`Engine::ws_task`]).
pub(crate) struct WsTask(Arc<Engine>);

impl WsTask {
    /// The engine the task belongs to.
    pub(crate) fn engine(&self) -> &Arc<Engine> {
        &self.0
    }
}

impl Drop for WsTask {
    fn drop(&mut self) {
        self.0.ws_tasks.fetch_sub(1, Ordering::AcqRel);
    }
}
