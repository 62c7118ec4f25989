//! The server handle: namespaces, the Engine.IO session registry, the room supervisors' arbiter
//! pool, metrics, and the actix-web wiring. Everything is owned by the instance, so two servers in one
//! process never share state.

use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use actix_web::web;

use crate::adapter::local::{ArbiterPool, LocalAdapterFactory};
use crate::adapter::AdapterFactory;
use crate::broadcast::BroadcastOperator;
use crate::engine::session::CloseRequest;
use crate::engine::{CloseReason, Conn, Registry};
use crate::metrics::Metrics;
use crate::namespace::{ConnectError, Namespace, Namespaces, NsHandlers};
use crate::options::ServerOptions;
use crate::payload::Payload;
use crate::room::Room;
use crate::socket::{AckSender, EmitError, Socket};

/// A message at the Engine.IO level, for servers without the Socket.IO layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawMessage {
    /// A text message.
    Text(String),
    /// A binary message.
    Binary(bytes::Bytes),
}

/// Handles every Engine.IO message of a raw (Engine.IO-only) server; reply with `Conn::push_one`.
pub type RawHandler = Arc<dyn Fn(&Conn, RawMessage) + Send + Sync>;

/// State shared by every part of one server.
pub struct ServerInner {
    pub(crate) raw: Option<RawHandler>,
    pub(crate) options: Arc<ServerOptions>,
    pub(crate) registry: Registry,
    pub(crate) namespaces: Arc<Namespaces>,
    pool: Arc<ArbiterPool>,
    ws_generation: AtomicU64,
    pub(crate) metrics: Arc<Metrics>,
    draining: AtomicBool,
    /// Until when a drain may flush what is queued (set with [`Server::drain_until`]).
    drain_deadline: parking_lot::Mutex<Option<Instant>>,
    /// WebSocket connection tasks still running (they flush their queue before they end).
    ws_tasks: AtomicUsize,
    started: Instant,
}

impl ServerInner {
    pub(crate) fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }

    /// How long a closing connection may take to flush what it has: the rest of the drain's time
    /// while draining (at least `usual`), `usual` otherwise.
    pub(crate) fn flush_time(&self, usual: std::time::Duration) -> std::time::Duration {
        match *self.drain_deadline.lock() {
            Some(deadline) if self.is_draining() => {
                usual.max(deadline.saturating_duration_since(Instant::now()))
            }
            _ => usual,
        }
    }

    /// Counts a WebSocket connection task in [`Server::drain_pending`] until the returned guard,
    /// which the task owns, is dropped. (A guard, not a wrapper future: an `async` block awaiting
    /// the task's future would store that large future twice per connection.)
    pub(crate) fn ws_task(self: &Arc<Self>) -> WsTask {
        self.ws_tasks.fetch_add(1, Ordering::AcqRel);
        WsTask(self.clone())
    }

    pub(crate) fn next_ws_generation(&self) -> u64 {
        self.ws_generation.fetch_add(1, Ordering::Relaxed)
    }
}

/// A running WebSocket connection task, counted until dropped (see [`ServerInner::ws_task`]).
pub(crate) struct WsTask(Arc<ServerInner>);

impl WsTask {
    /// The server the task belongs to.
    pub(crate) fn server(&self) -> &Arc<ServerInner> {
        &self.0
    }
}

impl Drop for WsTask {
    fn drop(&mut self) {
        self.0.ws_tasks.fetch_sub(1, Ordering::AcqRel);
    }
}

/// How long a finished connection may linger for its client to close it: a WebSocket whose
/// closing handshake is done is released at once rather than after actix-web's default second.
pub const CLIENT_DISCONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(50);

/// A Socket.IO server. Cheap to clone; every clone is the same server.
#[derive(Clone)]
pub struct Server {
    inner: Arc<ServerInner>,
}

impl Server {
    /// A server with these options and the in-process adapter.
    pub fn new(options: ServerOptions) -> Self {
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        // Half the cores run room supervisors, the HTTP workers the rest: measured on 2 cores,
        // one supervisor beat two (ceiling 1.46M vs 1.30M deliveries/s, fewer context switches).
        let pool = Arc::new(ArbiterPool::new((cores / 2).max(1)));
        let metrics = Arc::new(Metrics::new());
        let factory = Arc::new(LocalAdapterFactory::new(pool.clone(), metrics.clone()));
        Self::build(options, factory, pool, metrics)
    }

    /// A server whose namespaces use adapters from `factory`.
    pub fn with_adapter(options: ServerOptions, factory: Arc<dyn AdapterFactory<Socket>>) -> Self {
        let metrics = Arc::new(Metrics::new());
        Self::build(options, factory, Arc::new(ArbiterPool::new(1)), metrics)
    }

    /// An Engine.IO-only server (no Socket.IO layer): `handler` receives every message.
    pub fn engine_only(options: ServerOptions, handler: RawHandler) -> Self {
        let mut server = Self::new(options);
        // Freshly built: this is the only reference.
        Arc::get_mut(&mut server.inner)
            .expect("new server is not shared")
            .raw = Some(handler);
        server
    }

    fn build(
        options: ServerOptions,
        factory: Arc<dyn AdapterFactory<Socket>>,
        pool: Arc<ArbiterPool>,
        metrics: Arc<Metrics>,
    ) -> Self {
        let options = Arc::new(options.normalised());
        Server {
            inner: Arc::new(ServerInner {
                raw: None,
                namespaces: Namespaces::new(factory, options.clone(), metrics.clone()),
                metrics,
                draining: AtomicBool::new(false),
                drain_deadline: parking_lot::Mutex::new(None),
                ws_tasks: AtomicUsize::new(0),
                started: Instant::now(),
                options,
                registry: Registry::default(),
                pool,
                ws_generation: AtomicU64::new(1),
            }),
        }
    }

    pub(crate) fn inner(&self) -> &Arc<ServerInner> {
        &self.inner
    }

    /// The options in force.
    pub fn options(&self) -> &ServerOptions {
        &self.inner.options
    }

    /// The namespace `name`; a name ending in `*` is a pattern (`/tenant-*`), whose matching names
    /// become namespaces on first connection.
    ///
    /// ```
    /// use roomcast::{ConnectError, Server, ServerOptions};
    /// use serde_json::json;
    ///
    /// let io = Server::new(ServerOptions::default());
    /// io.of("/admin")
    ///     .use_middleware(|socket| match socket.handshake().auth["token"].as_str() {
    ///         Some("secret") => Ok(()),
    ///         _ => Err(ConnectError::new("unauthorized").with_data(json!({"reason": "bad token"}))),
    ///     })
    ///     .on_connection(|socket| {
    ///         socket.on("ping", |_, args, ack| {
    ///             if let Some(ack) = ack {
    ///                 ack.send(args); // answer with the same arguments
    ///             }
    ///         });
    ///     });
    /// io.of("/tenant-*").on_connection(|socket| {
    ///     let _ = socket.emit("hello", socket.ns()); // e.g. "/tenant-42"
    /// });
    /// assert_eq!(io.namespaces(), vec![("/admin".to_owned(), 0)]);
    /// ```
    pub fn of(&self, name: &str) -> NamespaceRef {
        match name.strip_suffix('*') {
            Some(prefix) => NamespaceRef::Pattern {
                prefix: prefix.to_owned(),
                handlers: self.inner.namespaces.pattern(prefix),
                server: self.inner.clone(),
            },
            None => NamespaceRef::Static(self.inner.namespaces.static_ns(name)),
        }
    }

    /// The namespace `name` if it exists now (never creates one).
    pub fn existing(&self, name: &str) -> Option<NamespaceRef> {
        self.inner.namespaces.get(name).map(NamespaceRef::Static)
    }

    /// Connection handler of the main namespace `/`.
    pub fn on_connection<F>(&self, handler: F) -> NamespaceRef
    where
        F: Fn(&Socket) + Send + Sync + 'static,
    {
        self.of("/").on_connection(handler)
    }

    /// Broadcast to rooms of the main namespace.
    pub fn to<R: Into<Room>>(&self, rooms: impl IntoIterator<Item = R>) -> BroadcastOperator {
        self.of("/").to(rooms)
    }

    /// Emit to every socket of the main namespace.
    pub fn emit(&self, event: &str, payload: impl Into<Payload>) -> Result<(), EmitError> {
        self.of("/").emit(event, payload)
    }

    /// Number of open Engine.IO connections.
    pub fn connection_count(&self) -> usize {
        self.inner.registry.open_count()
    }

    /// The namespaces that exist now, with their socket counts.
    pub fn namespaces(&self) -> Vec<(String, usize)> {
        self.inner
            .namespaces
            .all()
            .iter()
            .map(|ns| (ns.name().to_owned(), ns.socket_count()))
            .collect()
    }

    /// Every namespace that exists now as (name, its pattern for a dynamic one, socket count).
    pub fn namespace_patterns(&self) -> Vec<(String, Option<String>, usize)> {
        self.inner
            .namespaces
            .all()
            .iter()
            .map(|ns| {
                let pattern = ns.pattern().map(str::to_owned);
                (ns.name().to_owned(), pattern, ns.socket_count())
            })
            .collect()
    }

    /// How many namespaces created from patterns exist now (bounded by `max_dynamic_namespaces`).
    pub fn dynamic_namespace_count(&self) -> usize {
        self.inner.namespaces.dynamic_count()
    }

    /// Registers the Engine.IO endpoint on an actix-web app.
    pub fn configure(&self) -> impl Fn(&mut web::ServiceConfig) + Clone + 'static {
        let inner = self.inner.clone();
        move |cfg: &mut web::ServiceConfig| {
            let path = inner.options.path.clone();
            let bare = path.trim_end_matches('/').to_owned();
            let mut paths = vec![path];
            if !bare.is_empty() {
                paths.push(bare);
            }
            // One static resource per path: a resource with several patterns matches by regex.
            for p in paths {
                cfg.service(
                    web::resource(p)
                        .app_data(web::Data::new(inner.clone()))
                        .route(web::route().to(crate::transport::endpoint)),
                );
            }
        }
    }

    /// How long data sent to a client may stay unacknowledged before the kernel drops the
    /// connection (the heartbeat's bound for a dead peer).
    pub fn write_timeout(&self) -> std::time::Duration {
        self.inner.options.ping_interval + self.inner.options.ping_timeout
    }

    /// Hook for `HttpServer::on_connect`: applies roomcast's TCP settings to a new connection.
    pub fn on_connect(
        &self,
    ) -> impl Fn(&dyn std::any::Any, &mut actix_web::dev::Extensions) + Send + Sync + 'static {
        let timeout = self.write_timeout();
        move |conn, _| crate::transport::tcp::set_user_timeout(conn, timeout)
    }

    /// An HTTP server for this Socket.IO server alone on `listener` (an [`crate::HttpFront`]
    /// with its defaults).
    pub fn http_server(&self, listener: TcpListener) -> std::io::Result<actix_web::dev::Server> {
        crate::HttpFront::new(self).run(listener)
    }

    /// Installs the server's [`crate::observer::Observer`] (one per server); refused when one is
    /// installed already.
    pub fn set_observer(
        &self,
        observer: Arc<dyn crate::observer::Observer>,
    ) -> Result<(), Arc<dyn crate::observer::Observer>> {
        self.inner.metrics.set_observer(observer)
    }

    /// The server's metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// How long the server has existed.
    pub fn uptime(&self) -> std::time::Duration {
        self.inner.started.elapsed()
    }

    /// Open connections by transport: (polling, websocket).
    pub fn connections_by_transport(&self) -> (usize, usize) {
        let open: Vec<_> = self
            .inner
            .registry
            .all()
            .into_iter()
            .filter(|c| !c.state().is_closed())
            .collect();
        let ws = open
            .iter()
            .filter(|c| c.transport_name() == "websocket")
            .count();
        (open.len() - ws, ws)
    }

    /// Whether a drain still has work: an open connection, or a closed polling session whose client
    /// has yet to fetch its last packets.
    pub fn drain_pending(&self) -> bool {
        if self.inner.ws_tasks.load(Ordering::Acquire) > 0 {
            return true; // a WebSocket is still flushing its queue or closing
        }
        self.inner.registry.all().iter().any(|c| match c.state() {
            crate::engine::EngineState::Closed { reason } => reason.flushes(),
            _ => true,
        })
    }

    /// Stops accepting new connections (handshakes get 503); existing ones continue.
    pub fn start_draining(&self) {
        self.inner.draining.store(true, Ordering::Release);
    }

    /// [`Server::start_draining`], and lets closing connections take until `deadline` to flush
    /// what is queued for their clients.
    pub fn drain_until(&self, deadline: Instant) {
        *self.inner.drain_deadline.lock() = Some(deadline);
        self.start_draining();
    }

    /// Whether [`Server::start_draining`] was called.
    pub fn is_draining(&self) -> bool {
        self.inner.is_draining()
    }

    /// Stops the room supervisors' arbiters (after [`Server::close`], when shutting down).
    pub fn stop_supervisors(&self) {
        self.inner.pool.stop();
    }

    /// Closes every connection at the transport level after flushing what is queued (no
    /// DISCONNECT packet: clients see "transport close" and reconnect elsewhere); their sockets
    /// leave with "server shutting down".
    pub fn close(&self) {
        for conn in self.inner.registry.all() {
            conn.engine().do_send(CloseRequest {
                reason: CloseReason::ServerShuttingDown,
            });
        }
    }
}

/// A namespace, or a pattern of namespaces, to configure or broadcast to.
pub enum NamespaceRef {
    /// One namespace.
    Static(Arc<Namespace>),
    /// Every namespace whose name starts with `prefix`.
    Pattern {
        /// The common prefix.
        prefix: String,
        /// Their shared handlers.
        handlers: Arc<NsHandlers>,
        /// The server, to find the namespaces created so far.
        server: Arc<ServerInner>,
    },
}

impl NamespaceRef {
    fn handlers(&self) -> &NsHandlers {
        match self {
            NamespaceRef::Static(ns) => ns.handlers(),
            NamespaceRef::Pattern { handlers, .. } => handlers,
        }
    }

    /// Adds a connection middleware; returning an error refuses the socket with CONNECT_ERROR.
    pub fn use_middleware<F>(self, middleware: F) -> Self
    where
        F: Fn(&Socket) -> Result<(), ConnectError> + Send + Sync + 'static,
    {
        self.handlers().add_middleware(Arc::new(middleware));
        self
    }

    /// Adds a connection middleware that may wait (it returns a future); it runs after the
    /// synchronous ones, and an error refuses the socket with CONNECT_ERROR.
    pub fn use_async_middleware<F>(self, middleware: F) -> Self
    where
        F: Fn(&Socket) -> crate::adapter::BoxFuture<Result<(), ConnectError>>
            + Send
            + Sync
            + 'static,
    {
        self.handlers().add_async_middleware(Arc::new(middleware));
        self
    }

    /// Adds a connection handler.
    pub fn on_connection<F>(self, handler: F) -> Self
    where
        F: Fn(&Socket) + Send + Sync + 'static,
    {
        self.handlers().add_connection(Arc::new(handler));
        self
    }

    /// Handles `event` for every socket of the namespace (one handler shared by all; a socket's own
    /// handler for the same event wins).
    pub fn on<F>(self, event: impl Into<String>, handler: F) -> Self
    where
        F: Fn(&Socket, Payload, Option<AckSender>) + Send + Sync + 'static,
    {
        self.handlers().add_event(event.into(), Arc::new(handler));
        self
    }

    /// Handles, for every socket, the events no other handler takes (the name comes first).
    pub fn on_fallback<F>(self, handler: F) -> Self
    where
        F: Fn(&Socket, Payload, Option<AckSender>) + Send + Sync + 'static,
    {
        self.handlers().set_fallback(Arc::new(handler));
        self
    }

    fn targets(&self) -> Vec<Arc<Namespace>> {
        match self {
            NamespaceRef::Static(ns) => vec![ns.clone()],
            NamespaceRef::Pattern { prefix, server, .. } => server.namespaces.matching(prefix),
        }
    }

    /// A broadcast to every socket.
    pub fn broadcast(&self) -> BroadcastOperator {
        BroadcastOperator::new(self.targets())
    }

    /// A broadcast to rooms.
    pub fn to<R: Into<Room>>(&self, rooms: impl IntoIterator<Item = R>) -> BroadcastOperator {
        self.broadcast().to(rooms)
    }

    /// A broadcast to everyone but the sockets in these rooms.
    pub fn except<R: Into<Room>>(&self, rooms: impl IntoIterator<Item = R>) -> BroadcastOperator {
        self.broadcast().except(rooms)
    }

    /// Emits to every socket.
    pub fn emit(&self, event: &str, payload: impl Into<Payload>) -> Result<(), EmitError> {
        self.broadcast().emit(event, payload)
    }

    /// Every socket, described (see [`BroadcastOperator::fetch_sockets`]).
    pub async fn fetch_sockets(&self) -> Vec<crate::room::SocketDescription> {
        self.broadcast().fetch_sockets().await
    }

    /// Number of connected sockets.
    pub fn socket_count(&self) -> usize {
        self.targets().iter().map(|ns| ns.socket_count()).sum()
    }

    /// Named rooms with their sizes (sockets' own id rooms excluded).
    pub async fn rooms(&self) -> Vec<(String, usize)> {
        let mut out = Vec::new();
        for ns in self.targets() {
            out.extend(
                ns.adapter()
                    .rooms()
                    .await
                    .into_iter()
                    .map(|(r, n)| (r.to_string(), n)),
            );
        }
        out
    }
}
