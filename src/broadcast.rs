//! The broadcast operator: an immutable builder of "who" (rooms, except rooms, except the sender,
//! volatile) over one or more namespaces, ending in an emit or a bulk operation through each
//! namespace's adapter. The packet is encoded once; every recipient gets the same bytes.

use std::sync::Arc;
use std::time::Duration;

use crate::adapter::{AckReplies, Adapter, BoxFuture, BroadcastMessage, BroadcastOptions};
use crate::namespace::Namespace;
use crate::payload::Payload;
use crate::protocol::ids::Sid;
use crate::protocol::socketio::is_reserved_event;
use crate::room::{Room, Selector, SocketDescription};
use crate::socket::{EmitError, Socket};

/// Targets of a broadcast.
///
/// ```
/// use roomcast::{Server, ServerOptions};
/// use serde_json::json;
///
/// actix_rt::System::new().block_on(async {
///     let io = Server::new(ServerOptions::default());
///     // everyone in "news" or "sports" (once each), except those in "muted"
///     let recipients = io
///         .to(["news", "sports"])
///         .except(["muted"])
///         .emit_counted("headline", json!({"title": "hi"}))
///         .expect("not a reserved event name")
///         .await;
///     assert_eq!(recipients, 0, "nobody is connected yet");
///     assert!(io.to(["news"]).emit("connect", ()).is_err(), "reserved names are refused");
/// });
/// ```
#[derive(Clone)]
pub struct BroadcastOperator {
    namespaces: Vec<Arc<Namespace>>,
    selector: Selector,
    volatile: bool,
    local: bool,
}

impl BroadcastOperator {
    pub(crate) fn new(namespaces: Vec<Arc<Namespace>>) -> Self {
        BroadcastOperator {
            namespaces,
            selector: Selector::default(),
            volatile: false,
            local: false,
        }
    }

    /// Adds rooms to the targets (a union; each socket receives once).
    pub fn to<R: Into<Room>>(mut self, rooms: impl IntoIterator<Item = R>) -> Self {
        self.selector
            .rooms
            .extend(rooms.into_iter().map(Into::into));
        self
    }

    /// Same as [`BroadcastOperator::to`].
    pub fn in_<R: Into<Room>>(self, rooms: impl IntoIterator<Item = R>) -> Self {
        self.to(rooms)
    }

    /// Excludes the sockets in these rooms.
    pub fn except<R: Into<Room>>(mut self, rooms: impl IntoIterator<Item = R>) -> Self {
        self.selector
            .except
            .extend(rooms.into_iter().map(Into::into));
        self
    }

    pub(crate) fn except_socket(mut self, sid: Sid) -> Self {
        self.selector.except_sid = Some(sid);
        self
    }

    /// Recipients whose queue is full miss this packet instead of being disconnected.
    pub fn volatile(mut self) -> Self {
        self.volatile = true;
        self
    }

    /// Only the targets connected to this node (Node's `io.local`): with a cluster adapter,
    /// nothing goes to the other nodes, and counts and listings are this node's.
    pub fn local(mut self) -> Self {
        self.local = true;
        self
    }

    /// The adapter of `ns` that operations go through: its node-local part when
    /// [`BroadcastOperator::local`] says so.
    fn adapter<'a>(&self, ns: &'a Namespace) -> &'a dyn Adapter<Socket> {
        let adapter = ns.adapter();
        match self.local.then(|| adapter.node_local()).flatten() {
            Some(local) => local,
            None => &**adapter,
        }
    }

    /// Sends `event` to every target.
    pub fn emit(&self, event: &str, payload: impl Into<Payload>) -> Result<(), EmitError> {
        if is_reserved_event(event) {
            return Err(EmitError::Reserved(event.to_owned()));
        }
        let payload = payload.into();
        let options = self.options();
        for ns in &self.namespaces {
            ns.metrics().broadcasts.increment(1);
            self.adapter(ns)
                .broadcast(self.message(ns, event, payload.clone(), &options));
        }
        Ok(())
    }

    /// Sends `event` to every target and resolves to the number of recipients. The delivery
    /// starts at once; awaiting only collects the count.
    pub fn emit_counted(
        &self,
        event: &str,
        payload: impl Into<Payload>,
    ) -> Result<BoxFuture<usize>, EmitError> {
        if is_reserved_event(event) {
            return Err(EmitError::Reserved(event.to_owned()));
        }
        let payload = payload.into();
        let options = self.options();
        let counts: Vec<_> = self
            .namespaces
            .iter()
            .map(|ns| {
                ns.metrics().broadcasts.increment(1);
                self.adapter(ns).broadcast_counted(self.message(
                    ns,
                    event,
                    payload.clone(),
                    &options,
                ))
            })
            .collect();
        Ok(Box::pin(total(counts)))
    }

    /// Sends `event` to every target, each asked for an acknowledgement, and resolves to the
    /// replies once all arrived or `timeout` passed (Node's `io.timeout(ms).emit(ev, ..., cb)`):
    /// with a cluster adapter, the targets of every node, and `expected` counts them all. The
    /// delivery starts at once. A reply from another node carries the first argument only.
    ///
    /// ```
    /// use roomcast::{Server, ServerOptions};
    /// use std::time::Duration;
    ///
    /// actix_rt::System::new().block_on(async {
    ///     let io = Server::new(ServerOptions::default());
    ///     let replies = io
    ///         .to(["news"])
    ///         .emit_with_ack("poll", "ready?", Duration::from_millis(100))
    ///         .expect("not a reserved event name")
    ///         .await;
    ///     assert_eq!((replies.expected, replies.replies.len()), (0, 0));
    ///     assert!(!replies.timed_out, "nobody to wait for");
    /// });
    /// ```
    pub fn emit_with_ack(
        &self,
        event: &str,
        payload: impl Into<Payload>,
        timeout: Duration,
    ) -> Result<BoxFuture<AckReplies>, EmitError> {
        if is_reserved_event(event) {
            return Err(EmitError::Reserved(event.to_owned()));
        }
        let payload = payload.into();
        let options = self.options();
        let asked: Vec<_> = self
            .namespaces
            .iter()
            .map(|ns| {
                ns.metrics().broadcasts.increment(1);
                let message = self.message(ns, event, payload.clone(), &options);
                self.adapter(ns).broadcast_with_ack(message, timeout)
            })
            .collect();
        Ok(Box::pin(async move {
            futures_util::future::join_all(asked)
                .await
                .into_iter()
                .fold(AckReplies::default(), AckReplies::merge)
        }))
    }

    /// The targets and flags, shared by the messages to every namespace.
    fn options(&self) -> BroadcastOptions {
        BroadcastOptions {
            selector: Arc::new(self.selector.clone()),
            volatile: self.volatile,
        }
    }

    /// The broadcast of `event` on namespace `ns`, encoded with its parser.
    fn message(
        &self,
        ns: &Namespace,
        event: &str,
        payload: Payload,
        options: &BroadcastOptions,
    ) -> BroadcastMessage {
        let parser = ns.limits().parser;
        BroadcastMessage::event(parser, ns.name(), event, payload, options.clone())
    }

    fn each(&self, f: impl Fn(&Namespace, Arc<Selector>) -> BoxFuture<usize>) -> BoxFuture<usize> {
        let selector = Arc::new(self.selector.clone());
        let counts: Vec<_> = self
            .namespaces
            .iter()
            .map(|ns| f(ns, selector.clone()))
            .collect();
        Box::pin(total(counts))
    }

    /// The targets join `rooms`; resolves to how many sockets were targeted (the operation starts
    /// at once, whether or not the future is awaited).
    pub fn sockets_join<R: Into<Room>>(
        &self,
        rooms: impl IntoIterator<Item = R>,
    ) -> BoxFuture<usize> {
        let rooms: Vec<Room> = rooms.into_iter().map(Into::into).collect();
        self.each(|ns, sel| self.adapter(ns).sockets_join(sel, rooms.clone()))
    }

    /// The targets leave `rooms`; resolves to how many sockets were targeted.
    pub fn sockets_leave<R: Into<Room>>(
        &self,
        rooms: impl IntoIterator<Item = R>,
    ) -> BoxFuture<usize> {
        let rooms: Vec<Room> = rooms.into_iter().map(Into::into).collect();
        self.each(|ns, sel| self.adapter(ns).sockets_leave(sel, rooms.clone()))
    }

    /// The targets are disconnected (their connections closed too when `close`); resolves to how
    /// many sockets were targeted.
    pub fn disconnect_sockets(&self, close: bool) -> BoxFuture<usize> {
        self.each(|ns, sel| self.adapter(ns).disconnect_sockets(sel, close))
    }

    /// The targets, described as plain data (with a cluster adapter, those of every node).
    pub async fn fetch_sockets(&self) -> Vec<SocketDescription> {
        let selector = Arc::new(self.selector.clone());
        let mut out = Vec::new();
        for ns in &self.namespaces {
            out.extend(self.adapter(ns).fetch_sockets(selector.clone()).await);
        }
        out
    }

    /// How many targets are connected to other nodes of the cluster (0 alone): with the count of
    /// [`BroadcastOperator::emit_counted`], the recipients of the whole cluster. Each node is
    /// asked, up to the cluster's request timeout.
    pub fn remote_count(&self) -> BoxFuture<usize> {
        self.each(|ns, sel| self.adapter(ns).remote_count(sel))
    }

    /// The targets connected to this node, as live sockets. Local only: with a cluster adapter,
    /// the targets on other nodes are not among them ([`BroadcastOperator::fetch_sockets`]
    /// describes them all).
    pub async fn local_sockets(&self) -> Vec<Socket> {
        let selector = Arc::new(self.selector.clone());
        let mut out = Vec::new();
        for ns in &self.namespaces {
            out.extend(self.adapter(ns).local_sockets(selector.clone()).await);
        }
        out
    }
}

impl BroadcastOperator {
    /// Its namespaces and targets, for queries that go to the adapters themselves (the admin
    /// API's cluster view).
    pub(crate) fn parts(&self) -> (&[Arc<Namespace>], Arc<Selector>) {
        (&self.namespaces, Arc::new(self.selector.clone()))
    }
}

async fn total(counts: Vec<BoxFuture<usize>>) -> usize {
    let mut sum = 0;
    for c in counts {
        sum += c.await;
    }
    sum
}
