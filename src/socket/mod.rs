//! A Socket.IO socket: one client in one namespace. [`Socket`] is the cheap, thread-safe handle user
//! code holds (emit, join, handlers); the [`actor::SocketActor`] owns its lifecycle, its pending
//! acknowledgements and the dispatch of its inbound events.

pub mod ack;
pub mod actor;
mod by_nsp;
pub mod client;
mod emit;
mod errors;
mod member;
pub(crate) mod recovery;
mod rooms;

use std::any::{Any, TypeId};
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use actix::Addr;
use parking_lot::Mutex;
use serde_json::Value;

use crate::engine::Conn;
use crate::handshake::Handshake;
use crate::namespace::Namespace;
use crate::observer::Observer;
use crate::payload::Payload;
use crate::protocol::ids::Sid;
use crate::room::Room;

pub use actor::SocketActor;
pub use emit::AckSender;
pub use errors::{AckError, DisconnectReason, EmitError, JoinError};

/// An event handler: the socket, the arguments, and the acknowledgement to answer if the client
/// asked for one.
pub type EventHandler = Arc<dyn Fn(&Socket, Payload, Option<AckSender>) + Send + Sync>;
/// A `disconnecting` / `disconnect` handler.
pub type DisconnectHandler = Arc<dyn Fn(&Socket, DisconnectReason) + Send + Sync>;
/// Called once with the client's acknowledgement, or the error.
pub type AckCallback = Box<dyn FnOnce(Result<Payload, AckError>) + Send>;

#[derive(Default)]
struct Handlers {
    /// The socket's own event handlers, made by the first (a broker's handlers are its
    /// namespace's, so most sockets never have one: an empty map cost 48 bytes per socket).
    events: Option<Box<EventHandlers>>,
    fallback: Option<EventHandler>,
    disconnecting: Vec<DisconnectHandler>,
    disconnect: Vec<DisconnectHandler>,
}

/// Who a new socket is: a fresh id, or the id and session of a socket recovered.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Identity {
    pub id: Sid,
    /// The private session id, when the namespace does connection state recovery.
    pub pid: Option<Sid>,
    /// Whether it was recovered.
    pub recovered: bool,
}

type Extensions = HashMap<TypeId, Box<dyn Any + Send + Sync>>;
/// A thin pointer where the map would be 48 bytes in every socket.
type EventHandlers = HashMap<String, (EventHandler, bool)>;

pub(crate) struct SocketShared {
    id: Sid,
    pid: Option<Sid>,
    recovered: bool,
    ns: Arc<Namespace>,
    conn: Arc<Conn>,
    addr: Addr<SocketActor>,
    handshake: Handshake,
    connected: AtomicBool,
    connected_at: SystemTime,
    data: Mutex<Value>,
    /// Made by the first extension (most sockets have none).
    extensions: Mutex<Option<Box<Extensions>>>,
    rooms: Mutex<BTreeSet<Room>>,
    handlers: Mutex<Handlers>,
}

/// A handle to a connected socket. Cloning it is cheap; it may be used from any thread.
#[derive(Clone)]
pub struct Socket(Arc<SocketShared>);

impl std::fmt::Debug for Socket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Socket")
            .field("id", &self.0.id)
            .field("nsp", &self.ns())
            .finish()
    }
}

impl Socket {
    pub(crate) fn new(
        ns: Arc<Namespace>,
        conn: Arc<Conn>,
        addr: Addr<SocketActor>,
        handshake: Handshake,
        identity: Identity,
    ) -> Self {
        Socket(Arc::new(SocketShared {
            id: identity.id,
            pid: identity.pid,
            recovered: identity.recovered,
            ns,
            conn,
            addr,
            handshake,
            connected: AtomicBool::new(false),
            connected_at: SystemTime::now(),
            data: Mutex::new(Value::Object(Default::default())),
            extensions: Mutex::new(None),
            rooms: Mutex::new(BTreeSet::new()),
            handlers: Mutex::new(Handlers::default()),
        }))
    }

    /// The socket id (public, different from the Engine.IO session id).
    pub fn id(&self) -> Sid {
        self.0.id
    }

    /// Whether the socket was recovered (connection state recovery): it has the id, rooms and
    /// `data` of the socket whose connection dropped, and was sent the packets it missed.
    pub fn recovered(&self) -> bool {
        self.0.recovered
    }

    /// The private session id its client recovers with (connection state recovery only).
    pub(crate) fn pid(&self) -> Option<Sid> {
        self.0.pid
    }

    /// The namespace name.
    pub fn ns(&self) -> &str {
        self.0.ns.name()
    }

    pub(crate) fn namespace(&self) -> &Arc<Namespace> {
        &self.0.ns
    }

    /// The parser its packets are encoded with (the server's).
    pub(crate) fn parser(&self) -> crate::protocol::socketio::Parser {
        self.0.ns.limits().parser
    }

    pub(crate) fn conn(&self) -> &Arc<Conn> {
        &self.0.conn
    }

    pub(crate) fn addr(&self) -> &Addr<SocketActor> {
        &self.0.addr
    }

    /// The handshake (connection facts and the CONNECT auth payload).
    pub fn handshake(&self) -> &Handshake {
        &self.0.handshake
    }

    /// The transport carrying the connection now: `polling` or `websocket`.
    pub fn transport(&self) -> &'static str {
        self.0.conn.transport_name()
    }

    /// The Engine.IO session id of the underlying connection.
    pub fn engine_id(&self) -> Sid {
        self.0.conn.sid()
    }

    /// When the socket was created.
    pub fn connected_at(&self) -> SystemTime {
        self.0.connected_at
    }

    /// Whether the socket is connected.
    pub fn connected(&self) -> bool {
        self.0.connected.load(Ordering::Acquire)
    }

    pub(crate) fn set_connected(&self, v: bool) {
        self.0.connected.store(v, Ordering::Release);
    }

    /// Arbitrary data attached to the socket (`{}` at first).
    pub fn data(&self) -> Value {
        self.0.data.lock().clone()
    }

    /// Replaces the socket's data.
    pub fn set_data(&self, value: Value) {
        *self.0.data.lock() = value;
    }

    /// Stores a typed value on the socket (one per type), for middlewares to hand facts to
    /// handlers without exposing them as `data`.
    pub fn set_extension<T: Any + Send + Sync>(&self, value: T) {
        self.0
            .extensions
            .lock()
            .get_or_insert_with(Box::default)
            .insert(TypeId::of::<T>(), Box::new(value));
    }

    /// A copy of the value of type `T` stored with [`Socket::set_extension`].
    pub fn extension<T: Any + Send + Sync + Clone>(&self) -> Option<T> {
        self.0
            .extensions
            .lock()
            .as_ref()?
            .get(&TypeId::of::<T>())
            .and_then(|b| b.downcast_ref::<T>())
            .cloned()
    }

    /// The server's observer, if one is installed.
    pub(crate) fn observer(&self) -> Option<&Arc<dyn Observer>> {
        self.0.ns.observer()
    }

    /// Registers the handler of `event` (replacing an earlier one).
    pub fn on<F>(&self, event: impl Into<String>, handler: F)
    where
        F: Fn(&Socket, Payload, Option<AckSender>) + Send + Sync + 'static,
    {
        self.0
            .handlers
            .lock()
            .events
            .get_or_insert_with(Box::default)
            .insert(event.into(), (Arc::new(handler), false));
    }

    /// Registers a handler of `event` that runs once.
    pub fn once<F>(&self, event: impl Into<String>, handler: F)
    where
        F: Fn(&Socket, Payload, Option<AckSender>) + Send + Sync + 'static,
    {
        self.0
            .handlers
            .lock()
            .events
            .get_or_insert_with(Box::default)
            .insert(event.into(), (Arc::new(handler), true));
    }

    /// Removes the handler of `event`.
    pub fn off(&self, event: &str) {
        if let Some(events) = self.0.handlers.lock().events.as_mut() {
            events.remove(event);
        }
    }

    /// Registers the handler of every event that has no handler of its own; it receives the event
    /// name as the first argument.
    pub fn on_fallback<F>(&self, handler: F)
    where
        F: Fn(&Socket, Payload, Option<AckSender>) + Send + Sync + 'static,
    {
        self.0.handlers.lock().fallback = Some(Arc::new(handler));
    }

    /// Runs when the socket is about to leave (its rooms are still visible).
    pub fn on_disconnecting<F>(&self, handler: F)
    where
        F: Fn(&Socket, DisconnectReason) + Send + Sync + 'static,
    {
        self.0.handlers.lock().disconnecting.push(Arc::new(handler));
    }

    /// Runs after the socket left.
    pub fn on_disconnect<F>(&self, handler: F)
    where
        F: Fn(&Socket, DisconnectReason) + Send + Sync + 'static,
    {
        self.0.handlers.lock().disconnect.push(Arc::new(handler));
    }

    /// The handler for `event`: the socket's own, else the namespace's, else the socket's
    /// fallback, else the namespace's (a fallback is flagged `true`: it wants the name).
    pub(crate) fn handler_for(&self, event: &str) -> Option<(EventHandler, bool)> {
        let mut h = self.0.handlers.lock();
        if let Some(events) = h.events.as_mut() {
            if let Some((f, once)) = events.get(event) {
                let f = f.clone();
                if *once {
                    events.remove(event);
                }
                return Some((f, false));
            }
        }
        let own_fallback = h.fallback.clone();
        drop(h);
        match self.0.ns.handlers().event(event) {
            Some((f, false)) => Some((f, false)),
            namespace_fallback => own_fallback.map(|f| (f, true)).or(namespace_fallback),
        }
    }

    pub(crate) fn disconnecting_handlers(&self) -> Vec<DisconnectHandler> {
        self.0.handlers.lock().disconnecting.clone()
    }

    pub(crate) fn take_disconnect_handlers(&self) -> Vec<DisconnectHandler> {
        let mut h = self.0.handlers.lock();
        h.events = None;
        h.fallback = None;
        h.disconnecting.clear();
        std::mem::take(&mut h.disconnect)
    }

    /// Disconnects the socket from its namespace (the client gets DISCONNECT); with `close`, the
    /// whole connection is closed too.
    pub fn disconnect(&self, close: bool) {
        self.0.addr.do_send(actor::ServerDisconnect { close });
    }
}
