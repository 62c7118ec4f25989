//! A handle on a namespace, or on every namespace a pattern makes, as the server API hands it out:
//! middlewares and handlers are configured on it, and broadcasts start from it.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::adapter::{BoxFuture, ServerEvent, ServerReplies};
use crate::broadcast::BroadcastOperator;
use crate::namespace::{ConnectError, Namespace, Namespaces, NsHandlers};
use crate::payload::Payload;
use crate::protocol::socketio::is_reserved_event;
use crate::room::Room;
use crate::socket::{AckSender, EmitError, Socket};

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
        /// The server's namespaces, to find those created so far.
        namespaces: Arc<Namespaces>,
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
        F: Fn(&Socket) -> BoxFuture<Result<(), ConnectError>> + Send + Sync + 'static,
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

    /// Handles the events other servers of the cluster send to this namespace (Node's
    /// `io.serverSideEmit`): `handler` gets each with its name, arguments and, when the sender
    /// waits for replies, the [`ServerAck`](crate::adapter::acks::ServerAck) to answer with. Alone (no cluster adapter) none come.
    pub fn on_server_event<F>(self, handler: F) -> Self
    where
        F: Fn(ServerEvent) + Send + Sync + 'static,
    {
        self.handlers().add_server_event(Arc::new(handler));
        self
    }

    /// Sends `event` to the other servers of the cluster (Node's `serverSideEmit`; JSON
    /// arguments). Alone it goes nowhere.
    pub fn server_side_emit(&self, event: &str, args: Vec<Value>) -> Result<(), EmitError> {
        if is_reserved_event(event) {
            return Err(EmitError::Reserved(event.to_owned()));
        }
        for ns in self.targets() {
            ns.adapter().server_side_emit(event, args.clone());
        }
        Ok(())
    }

    /// Sends `event` to the other servers and resolves to their replies once every server
    /// replied or `timeout` passed (Node's `io.timeout(ms).serverSideEmit(ev, ..., cb)`);
    /// `expected` is how many other servers there are (`PUBSUB NUMSUB` minus this one).
    pub fn server_side_emit_with_ack(
        &self,
        event: &str,
        args: Vec<Value>,
        timeout: Duration,
    ) -> Result<BoxFuture<ServerReplies>, EmitError> {
        if is_reserved_event(event) {
            return Err(EmitError::Reserved(event.to_owned()));
        }
        let asked: Vec<_> = self
            .targets()
            .iter()
            .map(|ns| {
                ns.adapter()
                    .server_side_emit_with_ack(event, args.clone(), timeout)
            })
            .collect();
        Ok(Box::pin(async move {
            let mut all = ServerReplies::default();
            for replies in futures_util::future::join_all(asked).await {
                all.expected += replies.expected;
                all.replies.extend(replies.replies);
            }
            all
        }))
    }

    fn targets(&self) -> Vec<Arc<Namespace>> {
        match self {
            NamespaceRef::Static(ns) => vec![ns.clone()],
            NamespaceRef::Pattern {
                prefix, namespaces, ..
            } => namespaces.matching(prefix),
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
