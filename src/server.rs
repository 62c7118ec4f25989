//! The server handle: namespaces, the Engine.IO session registry, the room supervisors' arbiter
//! pool, metrics, and the actix-web wiring. Everything is owned by the instance, so two servers in one
//! process never share state.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Instant;

use actix_web::web;

use crate::adapter::local::{ArbiterPool, LocalAdapterFactory};
use crate::adapter::recovery::{Recovery, SessionAwareFactory};
use crate::adapter::AdapterFactory;
use crate::broadcast::BroadcastOperator;
use crate::engine::{Engine, EngineOptions, HandlerFactory, QueueBounds};
use crate::metrics::Metrics;
pub use crate::namespace::reference::NamespaceRef;
use crate::namespace::Namespaces;
use crate::options::ServerOptions;
use crate::payload::Payload;
use crate::room::Room;
use crate::socket::client::{ClientConfig, ClientFactory};
use crate::socket::{EmitError, Socket};

/// A message at the Engine.IO level, for servers without the Socket.IO layer.
pub use crate::engine::Message as RawMessage;

/// Handles every Engine.IO message of a raw (Engine.IO-only) server; reply with `Conn::push_one`.
pub use crate::engine::handler::MessageFn as RawHandler;

/// What the Socket.IO layer of one server shares; the Engine.IO layer's part is [`Engine`].
pub struct ServerInner {
    pub(crate) options: Arc<ServerOptions>,
    pub(crate) engine: Arc<Engine>,
    pub(crate) namespaces: Arc<Namespaces>,
    pool: Arc<ArbiterPool>,
    pub(crate) metrics: Arc<Metrics>,
    /// The node-local recovery store, when recovery is on without a cluster adapter.
    recovery: Option<Arc<Recovery>>,
    started: Instant,
}

/// The Engine.IO layer's slice of `options`.
fn engine_options(options: &ServerOptions) -> EngineOptions {
    EngineOptions {
        path: options.path.clone(),
        ping_interval: options.ping_interval,
        ping_timeout: options.ping_timeout,
        upgrade_timeout: options.upgrade_timeout,
        max_payload: options.max_payload,
        transports: options.transports,
        cors: options.cors.clone(),
        cookie: options.cookie.clone(),
        queue: QueueBounds {
            frames: options.outbound_queue,
            bytes: options.outbound_queue_bytes,
        },
        max_connections: options.max_connections,
        write_delay: options.write_delay,
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
        Self::with_adapter_from(options, |pool, metrics| {
            Arc::new(LocalAdapterFactory::new(pool, metrics))
        })
    }

    /// A server whose adapter factory `make` builds from the server's own room-supervisor pool
    /// and metrics (a cluster adapter delivers locally on that pool and counts in those metrics).
    pub fn with_adapter_from(
        options: ServerOptions,
        make: impl FnOnce(Arc<ArbiterPool>, Arc<Metrics>) -> Arc<dyn AdapterFactory<Socket>>,
    ) -> Self {
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        // Half the cores run room supervisors, the HTTP workers the rest: measured on 2 cores,
        // one supervisor beat two (ceiling 1.46M vs 1.30M deliveries/s, fewer context switches).
        let pool = Arc::new(ArbiterPool::new((cores / 2).max(1)));
        let metrics = Arc::new(Metrics::new());
        let factory = make(pool.clone(), metrics.clone());
        Self::build(options, factory, pool, metrics, None)
    }

    /// A server whose namespaces use adapters from `factory`.
    pub fn with_adapter(options: ServerOptions, factory: Arc<dyn AdapterFactory<Socket>>) -> Self {
        let metrics = Arc::new(Metrics::new());
        Self::build(
            options,
            factory,
            Arc::new(ArbiterPool::new(1)),
            metrics,
            None,
        )
    }

    /// An Engine.IO-only server (no Socket.IO layer): `handler` receives every message.
    pub fn engine_only(options: ServerOptions, handler: RawHandler) -> Self {
        let metrics = Arc::new(Metrics::new());
        let pool = Arc::new(ArbiterPool::new(1));
        let factory = Arc::new(LocalAdapterFactory::new(pool.clone(), metrics.clone()));
        Self::build(options, factory, pool, metrics, Some(Arc::new(handler)))
    }

    fn build(
        options: ServerOptions,
        factory: Arc<dyn AdapterFactory<Socket>>,
        pool: Arc<ArbiterPool>,
        metrics: Arc<Metrics>,
        raw: Option<Arc<dyn HandlerFactory>>,
    ) -> Self {
        let options = Arc::new(options.normalised());
        let (factory, recovery) = SessionAwareFactory::wrap(factory, &options, &metrics);
        if let Some(recovery) = &recovery {
            recovery.load_state_file(); // before the first connection can be served
        }
        let namespaces = Namespaces::new(factory, options.clone(), metrics.clone());
        let handlers = raw.unwrap_or_else(|| {
            Arc::new(ClientFactory(Arc::new(ClientConfig {
                namespaces: namespaces.clone(),
                metrics: metrics.clone(),
                parser: options.parser,
                connect_timeout: options.connect_timeout,
                max_namespaces_per_connection: options.max_namespaces_per_connection,
            })))
        });
        let engine = Engine::new(engine_options(&options), metrics.clone(), handlers);
        Server {
            inner: Arc::new(ServerInner {
                namespaces,
                metrics,
                started: Instant::now(),
                recovery,
                options,
                engine: Arc::new(engine),
                pool,
            }),
        }
    }

    /// The server's Engine.IO layer.
    pub fn engine(&self) -> &Arc<Engine> {
        &self.inner.engine
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
                namespaces: self.inner.namespaces.clone(),
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
        self.inner.engine.registry.open_count()
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
        let engine = self.inner.engine.clone();
        move |cfg: &mut web::ServiceConfig| {
            let path = engine.options.path.clone();
            let bare = path.trim_end_matches('/').to_owned();
            let mut paths = vec![path];
            if !bare.is_empty() {
                paths.push(bare);
            }
            // One static service per path: a service with several patterns matches by regex.
            for p in paths {
                cfg.service(crate::transport::service(engine.clone(), p));
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
        self.inner
            .namespaces
            .observer_slot()
            .set(observer.clone())?;
        // The engine half of the same observer; the slot was empty (the Socket.IO one was).
        let _ = self.inner.metrics.set_observer(observer);
        Ok(())
    }

    /// The server's metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// The metrics, shared (for a handler that outlives this borrow).
    pub(crate) fn shared_metrics(&self) -> Arc<Metrics> {
        self.inner.metrics.clone()
    }

    /// The state of this node's link to its cluster (from the adapter factory).
    pub fn link_state(&self) -> crate::adapter::LinkState {
        self.inner.namespaces.factory().link_state()
    }

    /// This node's id in its cluster; `None` with a node-local adapter.
    pub fn cluster_node_id(&self) -> Option<String> {
        self.inner.namespaces.factory().node_id()
    }

    /// How long the server has existed.
    pub fn uptime(&self) -> std::time::Duration {
        self.inner.started.elapsed()
    }

    /// Open connections by transport: (polling, websocket).
    pub fn connections_by_transport(&self) -> (usize, usize) {
        let open: Vec<_> = self
            .inner
            .engine
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
}

#[path = "server_drain.rs"]
mod drain;
