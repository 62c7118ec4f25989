//! A Socket.IO socket: one client in one namespace. [`Socket`] is the cheap, thread-safe handle user
//! code holds (emit, join, handlers); the [`actor::SocketActor`] owns its lifecycle, its pending
//! acknowledgements and the dispatch of its inbound events.

pub mod ack;
pub mod actor;
pub mod client;
mod member;

use std::any::{Any, TypeId};
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use actix::Addr;
use parking_lot::Mutex;
use serde_json::Value;

use crate::broadcast::BroadcastOperator;
use crate::engine::{CloseReason, Conn, PushOutcome};
use crate::handshake::Handshake;
use crate::namespace::Namespace;
use crate::observer::Observer;
use crate::payload::Payload;
use crate::protocol::ids::Sid;
use crate::protocol::socketio::is_reserved_event;
use crate::room::Room;

pub use actor::SocketActor;

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

/// An event handler: the socket, the arguments, and the acknowledgement to answer if the client
/// asked for one.
pub type EventHandler = Arc<dyn Fn(&Socket, Payload, Option<AckSender>) + Send + Sync>;
/// A `disconnecting` / `disconnect` handler.
pub type DisconnectHandler = Arc<dyn Fn(&Socket, DisconnectReason) + Send + Sync>;
/// Called once with the client's acknowledgement, or the error.
pub type AckCallback = Box<dyn FnOnce(Result<Payload, AckError>) + Send>;

#[derive(Default)]
struct Handlers {
    events: HashMap<String, (EventHandler, bool)>,
    fallback: Option<EventHandler>,
    disconnecting: Vec<DisconnectHandler>,
    disconnect: Vec<DisconnectHandler>,
}

pub(crate) struct SocketShared {
    id: Sid,
    ns: Arc<Namespace>,
    conn: Arc<Conn>,
    addr: Addr<SocketActor>,
    handshake: Handshake,
    connected: AtomicBool,
    connected_at: SystemTime,
    data: Mutex<Value>,
    extensions: Mutex<HashMap<TypeId, Box<dyn Any + Send + Sync>>>,
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
    ) -> Self {
        Socket(Arc::new(SocketShared {
            id: Sid::new(),
            ns,
            conn,
            addr,
            handshake,
            connected: AtomicBool::new(false),
            connected_at: SystemTime::now(),
            data: Mutex::new(Value::Object(Default::default())),
            extensions: Mutex::new(HashMap::new()),
            rooms: Mutex::new(BTreeSet::new()),
            handlers: Mutex::new(Handlers::default()),
        }))
    }

    /// The socket id (public, different from the Engine.IO session id).
    pub fn id(&self) -> Sid {
        self.0.id
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
            .insert(TypeId::of::<T>(), Box::new(value));
    }

    /// A copy of the value of type `T` stored with [`Socket::set_extension`].
    pub fn extension<T: Any + Send + Sync + Clone>(&self) -> Option<T> {
        self.0
            .extensions
            .lock()
            .get(&TypeId::of::<T>())
            .and_then(|b| b.downcast_ref::<T>())
            .cloned()
    }

    /// The rooms the socket is in, its own id first.
    pub fn rooms(&self) -> Vec<String> {
        let rooms = self.0.rooms.lock();
        let mut out = Vec::with_capacity(rooms.len() + 1);
        out.push(self.0.id.to_string());
        out.extend(rooms.iter().map(|r| r.to_string()));
        out
    }

    /// The named rooms, sorted (own id excluded).
    pub fn named_rooms(&self) -> Vec<Room> {
        self.0.rooms.lock().iter().cloned().collect()
    }

    /// The server's observer, if one is installed.
    pub(crate) fn observer(&self) -> Option<&Arc<dyn Observer>> {
        self.0.ns.observer()
    }

    /// Takes `new` memberships from the server's budget (`max_memberships`), or refuses.
    fn reserve_memberships(&self, new: usize) -> Result<(), JoinError> {
        let limit = self.0.ns.limits().max_memberships;
        let held = &self.0.ns.metrics().memberships;
        if held.fetch_add(new, Ordering::AcqRel) + new > limit {
            held.fetch_sub(new, Ordering::AcqRel);
            return Err(JoinError::ServerLimit(limit));
        }
        Ok(())
    }

    fn release_memberships(&self, n: usize) {
        self.0
            .ns
            .metrics()
            .memberships
            .fetch_sub(n, Ordering::AcqRel);
    }

    /// Records rooms joined by a bulk operation, under the same limits as [`Socket::join`] (all
    /// or none); the room supervisor adds the socket to them only when this succeeds.
    pub(crate) fn record_joined(&self, rooms: &[Room]) -> Result<(), JoinError> {
        let own = self.0.id.as_str();
        let limit = self.0.ns.limits().max_rooms_per_socket;
        let added: Vec<Room> = {
            let mut set = self.0.rooms.lock();
            let mut fresh: Vec<&Room> = rooms
                .iter()
                .filter(|r| ***r != *own && !set.contains(*r))
                .collect();
            fresh.sort_unstable();
            fresh.dedup();
            if set.len() + fresh.len() > limit {
                return Err(JoinError::TooManyRooms(limit));
            }
            self.reserve_memberships(fresh.len())?;
            fresh
                .into_iter()
                .filter(|r| set.insert((*r).clone()))
                .cloned()
                .collect()
        };
        if let (Some(observer), false) = (self.observer(), added.is_empty()) {
            observer.rooms_joined(self, &added);
        }
        Ok(())
    }

    pub(crate) fn record_left(&self, rooms: &[Room]) {
        let removed: Vec<Room> = {
            let mut set = self.0.rooms.lock();
            rooms.iter().filter(|r| set.remove(*r)).cloned().collect()
        };
        self.release_memberships(removed.len());
        if let (Some(observer), false) = (self.observer(), removed.is_empty()) {
            observer.rooms_left(self, &removed);
        }
    }

    pub(crate) fn clear_rooms(&self) {
        let mut set = self.0.rooms.lock();
        self.release_memberships(set.len());
        set.clear();
    }

    /// Joins rooms. Refused past the per-socket room limit (the socket's own id not counted).
    pub fn join<R: Into<Room>>(&self, rooms: impl IntoIterator<Item = R>) -> Result<(), JoinError> {
        if !self.connected() {
            return Err(JoinError::Disconnected);
        }
        let limit = self.0.ns.limits().max_rooms_per_socket;
        let rooms: Vec<Room> = rooms
            .into_iter()
            .map(Into::into)
            .filter(|r: &Room| **r != *self.0.id.as_str())
            .collect();
        let added: Vec<Room> = {
            let mut set = self.0.rooms.lock();
            let mut fresh: Vec<&Room> = rooms.iter().filter(|r| !set.contains(*r)).collect();
            fresh.sort_unstable();
            fresh.dedup();
            if set.len() + fresh.len() > limit {
                return Err(JoinError::TooManyRooms(limit));
            }
            self.reserve_memberships(fresh.len())?;
            match self.observer() {
                Some(_) => fresh
                    .into_iter()
                    .filter(|r| set.insert((*r).clone()))
                    .cloned()
                    .collect(),
                None => {
                    set.extend(fresh.into_iter().cloned());
                    Vec::new()
                }
            }
        };
        self.0.ns.adapter().join(self.0.id, rooms);
        if let (Some(observer), false) = (self.observer(), added.is_empty()) {
            observer.rooms_joined(self, &added);
        }
        Ok(())
    }

    /// Leaves rooms.
    pub fn leave<R: Into<Room>>(&self, rooms: impl IntoIterator<Item = R>) {
        let rooms: Vec<Room> = rooms.into_iter().map(Into::into).collect();
        self.record_left(&rooms);
        self.0.ns.adapter().leave(self.0.id, rooms);
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
            .insert(event.into(), (Arc::new(handler), true));
    }

    /// Removes the handler of `event`.
    pub fn off(&self, event: &str) {
        self.0.handlers.lock().events.remove(event);
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
        if let Some((f, once)) = h.events.get(event) {
            let f = f.clone();
            if *once {
                h.events.remove(event);
            }
            return Some((f, false));
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
        h.events.clear();
        h.fallback = None;
        h.disconnecting.clear();
        std::mem::take(&mut h.disconnect)
    }

    /// Emits `event` to this client.
    pub fn emit(&self, event: &str, payload: impl Into<Payload>) -> Result<(), EmitError> {
        self.emit_inner(event, payload.into(), false)
    }

    /// Emits `event` to this client unless its queue is full (then it is dropped and counted).
    pub fn emit_volatile(&self, event: &str, payload: impl Into<Payload>) -> Result<(), EmitError> {
        self.emit_inner(event, payload.into(), true)
    }

    fn emit_inner(&self, event: &str, payload: Payload, volatile: bool) -> Result<(), EmitError> {
        if is_reserved_event(event) {
            return Err(EmitError::Reserved(event.to_owned()));
        }
        if !self.connected() {
            return Err(EmitError::Disconnected);
        }
        if let Some(observer) = self.observer() {
            observer.event_sent(self, event, &payload);
        }
        let frames = payload.event_frames(self.parser(), self.ns(), event, None);
        match self.0.conn.push(&frames, volatile) {
            PushOutcome::Queued | PushOutcome::DroppedVolatile => Ok(()),
            PushOutcome::Overflow => Err(EmitError::SlowConsumer),
            PushOutcome::Closed => Err(EmitError::Disconnected),
        }
    }

    /// Emits `event` and calls `callback` with the client's acknowledgement, or with
    /// [`AckError::Timeout`] after `timeout`, or [`AckError::Disconnected`].
    pub fn emit_with_ack<F>(
        &self,
        event: &str,
        payload: impl Into<Payload>,
        timeout: Duration,
        callback: F,
    ) -> Result<(), EmitError>
    where
        F: FnOnce(Result<Payload, AckError>) + Send + 'static,
    {
        if is_reserved_event(event) {
            return Err(EmitError::Reserved(event.to_owned()));
        }
        if !self.connected() {
            return Err(EmitError::Disconnected);
        }
        let payload = payload.into();
        if let Some(observer) = self.observer() {
            observer.event_sent(self, event, &payload);
        }
        self.0.addr.do_send(actor::EmitWithAck {
            event: event.to_owned(),
            payload,
            timeout,
            callback: Box::new(callback),
        });
        Ok(())
    }

    /// [`Socket::emit_with_ack`] as a future.
    pub async fn emit_with_ack_async(
        &self,
        event: &str,
        payload: impl Into<Payload>,
        timeout: Duration,
    ) -> Result<Payload, AckError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.emit_with_ack(event, payload, timeout, move |r| {
            let _ = tx.send(r);
        })
        .map_err(|_| AckError::Disconnected)?;
        rx.await.unwrap_or(Err(AckError::Disconnected))
    }

    /// A broadcast to `rooms` from this socket (the socket itself excluded).
    pub fn to<R: Into<Room>>(&self, rooms: impl IntoIterator<Item = R>) -> BroadcastOperator {
        self.broadcast().to(rooms)
    }

    /// A broadcast to everyone in the namespace but this socket.
    pub fn broadcast(&self) -> BroadcastOperator {
        BroadcastOperator::new(vec![self.0.ns.clone()]).except_socket(self.0.id)
    }

    /// Disconnects the socket from its namespace (the client gets DISCONNECT); with `close`, the
    /// whole connection is closed too.
    pub fn disconnect(&self, close: bool) {
        self.0.addr.do_send(actor::ServerDisconnect { close });
    }
}

/// Answers a client's acknowledgement request, once.
pub struct AckSender {
    socket: Socket,
    id: u64,
}

impl AckSender {
    pub(crate) fn new(socket: Socket, id: u64) -> Self {
        AckSender { socket, id }
    }

    /// Sends the acknowledgement with these arguments.
    pub fn send(self, payload: impl Into<Payload>) {
        let socket = &self.socket;
        let frames = payload
            .into()
            .ack_frames(socket.parser(), socket.ns(), self.id);
        self.socket.0.conn.push(&frames, false);
    }
}
