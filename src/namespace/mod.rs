//! Namespaces: each has its connection middlewares and handlers, its adapter (which owns its room
//! supervisors), and a socket count. Static namespaces are registered by name; a name ending in `*`
//! registers a pattern, and each name matching it becomes a namespace of its own on first CONNECT,
//! sharing the pattern's handlers (removed again when its last socket leaves).

pub mod handlers;
pub mod reference;

pub use handlers::NsHandlers;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, Weak};

use parking_lot::RwLock;
use serde_json::Value;

use crate::adapter::{Adapter, AdapterFactory, BoxFuture};
use crate::metrics::Metrics;
use crate::observer::{Observer, ObserverSlot};
use crate::options::{Parser, ServerOptions};
use crate::socket::Socket;

/// A connection middleware: return an error to refuse the socket (the client gets CONNECT_ERROR).
pub type Middleware = Arc<dyn Fn(&Socket) -> Result<(), ConnectError> + Send + Sync>;
/// A connection middleware that must wait (a password hash check, a lookup): it runs after the
/// synchronous ones, while the socket's other packets wait; an error refuses the socket.
pub type AsyncMiddleware =
    Arc<dyn Fn(&Socket) -> BoxFuture<Result<(), ConnectError>> + Send + Sync>;
/// A connection handler: runs for each socket that connected.
pub type ConnectionHandler = Arc<dyn Fn(&Socket) + Send + Sync>;

/// A refusal from a middleware: becomes CONNECT_ERROR `{"message":..,"data":..}`.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectError {
    /// The message the client sees as `err.message`.
    pub message: String,
    /// Extra details the client sees as `err.data`.
    pub data: Option<Value>,
}

impl ConnectError {
    /// A refusal with a message.
    pub fn new(message: impl Into<String>) -> Self {
        ConnectError {
            message: message.into(),
            data: None,
        }
    }

    /// The same refusal with details.
    pub fn with_data(mut self, data: Value) -> Self {
        self.data = Some(data);
        self
    }
}

/// The limits a namespace applies to its sockets: the part of the server options it uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NamespaceLimits {
    /// The parser its packets are encoded with (the server's).
    pub parser: Parser,
    /// Most rooms a socket may join (its own id room not counted).
    pub max_rooms_per_socket: usize,
    /// Most named-room memberships the server holds at once (shared by every namespace).
    pub max_memberships: usize,
    /// Whether a recovered socket skips the connection middlewares.
    pub recovery_skips_middlewares: bool,
}

impl NamespaceLimits {
    /// The namespace limits of `options`.
    pub fn of(options: &ServerOptions) -> Self {
        NamespaceLimits {
            parser: options.parser,
            max_rooms_per_socket: options.max_rooms_per_socket,
            max_memberships: options.max_memberships,
            recovery_skips_middlewares: options.recovery.skip_middlewares,
        }
    }
}

/// One namespace.
pub struct Namespace {
    name: String,
    handlers: Arc<NsHandlers>,
    adapter: OnceLock<Arc<dyn Adapter<Socket>>>,
    factory: Arc<dyn AdapterFactory<Socket>>,
    limits: NamespaceLimits,
    metrics: Arc<Metrics>,
    observer: Arc<ObserverSlot>,
    sockets: AtomicUsize,
    /// Set for namespaces created from a pattern: removed from here when empty.
    parent: Option<Weak<Namespaces>>,
    /// The pattern (`/tenant-*`) a dynamic namespace was created from.
    pattern: Option<String>,
}

impl Namespace {
    /// Its name (`/`, `/chat`, ...).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The pattern (`/tenant-*`) it was created from; `None` for a static namespace.
    pub fn pattern(&self) -> Option<&str> {
        self.pattern.as_deref()
    }

    /// Its middlewares and connection handlers.
    pub(crate) fn handlers(&self) -> &NsHandlers {
        &self.handlers
    }

    /// The server's metrics.
    pub(crate) fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The server's observer, if one is installed (one atomic load).
    #[inline]
    pub(crate) fn observer(&self) -> Option<&Arc<dyn Observer>> {
        self.observer.get()
    }

    /// The limits it applies to its sockets.
    pub fn limits(&self) -> &NamespaceLimits {
        &self.limits
    }

    /// Its adapter (created on first use, inside the actix system), which hands the events of
    /// other servers to the namespace's handlers.
    pub fn adapter(&self) -> &Arc<dyn Adapter<Socket>> {
        self.adapter.get_or_init(|| {
            let adapter = self.factory.create(&self.name);
            let handlers = Arc::downgrade(&self.handlers);
            adapter.on_server_event(Arc::new(move |event| {
                if let Some(handlers) = handlers.upgrade() {
                    handlers.server_event(event);
                }
            }));
            adapter
        })
    }

    /// Number of connected sockets.
    pub fn socket_count(&self) -> usize {
        self.sockets.load(Ordering::Relaxed)
    }

    pub(crate) fn socket_added(&self) {
        self.sockets.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn socket_removed(&self) {
        let left = self.sockets.fetch_sub(1, Ordering::Relaxed) - 1;
        if left == 0 {
            if let Some(parent) = self.parent.as_ref().and_then(Weak::upgrade) {
                parent.remove_if_empty(&self.name);
            }
        }
    }

    /// Runs the middlewares in order; the first refusal wins.
    pub(crate) fn run_middlewares(&self, socket: &Socket) -> Result<(), ConnectError> {
        let mws = self.handlers.middlewares.read().clone();
        mws.iter().try_for_each(|m| m(socket))
    }

    /// The asynchronous middlewares' verdict, or `None` when there are none (the common case,
    /// which then connects without waiting).
    pub(crate) fn async_middlewares(
        &self,
        socket: &Socket,
    ) -> Option<BoxFuture<Result<(), ConnectError>>> {
        let mws = self.handlers.async_middlewares.read().clone();
        if mws.is_empty() {
            return None;
        }
        let socket = socket.clone();
        Some(Box::pin(async move {
            for m in mws {
                m(&socket).await?;
            }
            Ok(())
        }))
    }

    /// Runs the connection handlers.
    pub(crate) fn run_connection_handlers(&self, socket: &Socket) {
        let hs = self.handlers.connection.read().clone();
        for h in hs {
            h(socket);
        }
    }
}

/// Why a CONNECT reaches no namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unresolved {
    /// No namespace or pattern has this name (CONNECT_ERROR `Invalid namespace`).
    Unknown,
    /// A pattern matches, but `max_dynamic_namespaces` exist already.
    Limit,
}

/// The namespaces of one server.
pub struct Namespaces {
    by_name: RwLock<HashMap<String, Arc<Namespace>>>,
    /// How many of `by_name` were created from patterns.
    dynamic: AtomicUsize,
    patterns: RwLock<Vec<(String, Arc<NsHandlers>)>>,
    factory: Arc<dyn AdapterFactory<Socket>>,
    limits: NamespaceLimits,
    /// `max_dynamic_namespaces` of the server options.
    max_dynamic: usize,
    metrics: Arc<Metrics>,
    /// The server's Socket.IO observer slot, shared by every namespace.
    observer: Arc<ObserverSlot>,
    this: Weak<Namespaces>,
}

impl Namespaces {
    /// An empty set of namespaces whose adapters come from `factory`.
    pub fn new(
        factory: Arc<dyn AdapterFactory<Socket>>,
        options: Arc<ServerOptions>,
        metrics: Arc<Metrics>,
    ) -> Arc<Self> {
        Arc::new_cyclic(|this| Namespaces {
            by_name: RwLock::new(HashMap::new()),
            dynamic: AtomicUsize::new(0),
            patterns: RwLock::new(Vec::new()),
            factory,
            limits: NamespaceLimits::of(&options),
            max_dynamic: options.max_dynamic_namespaces,
            metrics,
            observer: Arc::default(),
            this: this.clone(),
        })
    }

    /// A namespace; `pattern` is the prefix of the pattern a dynamic one comes from.
    fn make(&self, name: &str, handlers: Arc<NsHandlers>, pattern: Option<&str>) -> Arc<Namespace> {
        Arc::new(Namespace {
            name: name.to_owned(),
            handlers,
            adapter: OnceLock::new(),
            factory: self.factory.clone(),
            limits: self.limits,
            metrics: self.metrics.clone(),
            observer: self.observer.clone(),
            sockets: AtomicUsize::new(0),
            parent: pattern.map(|_| self.this.clone()),
            pattern: pattern.map(|prefix| format!("{prefix}*")),
        })
    }

    /// The static namespace `name`, created if needed.
    pub fn static_ns(&self, name: &str) -> Arc<Namespace> {
        if let Some(ns) = self.by_name.read().get(name) {
            return ns.clone();
        }
        self.by_name
            .write()
            .entry(name.to_owned())
            .or_insert_with(|| self.make(name, Arc::default(), None))
            .clone()
    }

    /// The handlers of pattern `prefix*`, registered if needed.
    pub fn pattern(&self, prefix: &str) -> Arc<NsHandlers> {
        let mut patterns = self.patterns.write();
        if let Some((_, h)) = patterns.iter().find(|(p, _)| p == prefix) {
            return h.clone();
        }
        let h: Arc<NsHandlers> = Arc::default();
        patterns.push((prefix.to_owned(), h.clone()));
        h
    }

    /// The namespace a CONNECT for `name` reaches: a static one, an existing one, or a new one
    /// from the longest matching pattern while fewer than `max_dynamic_namespaces` exist.
    pub fn resolve(&self, name: &str) -> Result<Arc<Namespace>, Unresolved> {
        if let Some(ns) = self.by_name.read().get(name) {
            return Ok(ns.clone());
        }
        // The longest pattern whose prefix is followed by at least one more character.
        let handlers = self
            .patterns
            .read()
            .iter()
            .filter(|(prefix, _)| name.len() > prefix.len() && name.starts_with(prefix.as_str()))
            .max_by_key(|(prefix, _)| prefix.len())
            .map(|(prefix, h)| (prefix.clone(), h.clone()))
            .ok_or(Unresolved::Unknown)?;
        let (prefix, handlers) = handlers;
        // Refused without the write lock, so a flood of names past the bound does not hold up
        // the resolution of every other CONNECT.
        if self.dynamic.load(Ordering::Relaxed) >= self.max_dynamic {
            return Err(Unresolved::Limit);
        }
        let mut by_name = self.by_name.write();
        if let Some(ns) = by_name.get(name) {
            return Ok(ns.clone());
        }
        if self.dynamic.load(Ordering::Relaxed) >= self.max_dynamic {
            return Err(Unresolved::Limit);
        }
        self.dynamic.fetch_add(1, Ordering::Relaxed);
        let ns = self.make(name, handlers, Some(&prefix));
        by_name.insert(name.to_owned(), ns.clone());
        Ok(ns)
    }

    /// The server's Socket.IO observer slot.
    pub(crate) fn observer_slot(&self) -> &ObserverSlot {
        &self.observer
    }

    /// How many namespaces created from patterns exist now.
    pub fn dynamic_count(&self) -> usize {
        self.dynamic.load(Ordering::Relaxed)
    }

    /// The namespace `name` if it exists.
    pub fn get(&self, name: &str) -> Option<Arc<Namespace>> {
        self.by_name.read().get(name).cloned()
    }

    /// Existing namespaces whose name starts with `prefix`.
    pub fn matching(&self, prefix: &str) -> Vec<Arc<Namespace>> {
        self.by_name
            .read()
            .values()
            .filter(|ns| ns.name.starts_with(prefix))
            .cloned()
            .collect()
    }

    /// The factory of their adapters.
    pub fn factory(&self) -> &Arc<dyn AdapterFactory<Socket>> {
        &self.factory
    }

    /// Every existing namespace.
    pub fn all(&self) -> Vec<Arc<Namespace>> {
        self.by_name.read().values().cloned().collect()
    }

    fn remove_if_empty(&self, name: &str) {
        let mut by_name = self.by_name.write();
        if by_name
            .get(name)
            .is_some_and(|ns| ns.parent.is_some() && ns.socket_count() == 0)
        {
            by_name.remove(name);
            self.dynamic.fetch_sub(1, Ordering::Relaxed);
        }
    }
}
