//! The adapter seam: every broadcast and room operation of a namespace goes through an [`Adapter`].
//! The in-process [`local::LocalAdapter`] hands them to the namespace's room supervisors; the
//! cluster adapters [`redis::adapter::RedisAdapter`] (classic pub/sub) and
//! [`redis::sharded::ShardedAdapter`] (sharded pub/sub) and [`redis::streams::StreamsAdapter`]
//! (a Redis stream, with connection state recovery across nodes) also reach the other nodes: broadcasts, and
//! what needs their answers: sockets, recipient counts, acknowledgements ([`acks`]) and the events
//! servers send each other. Every cluster operation, and the cluster view (server count, other
//! nodes' sockets, [`LinkState`]), has a one-node default, so a local adapter is a cluster of one
//! and an adapter implements only what it takes to other nodes.

pub mod acks;
pub mod local;
pub mod recovery;
pub mod redis;

pub use acks::{AckReplies, AckReply, ServerAck, ServerEvent, ServerEventHandler, ServerReplies};

pub use crate::room::backlog::{BACKLOG_HIGH, BACKLOG_LOW};

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::Value;

use crate::payload::{encode_frames, Payload};
use crate::protocol::engineio::Frame;
use crate::protocol::ids::Sid;
use crate::protocol::socketio::{Packet, Parser};
use crate::room::{Member, Room, Selector, SocketDescription};

/// A boxed future, as adapters return them.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// One broadcast as an adapter receives it: the packet itself, which a cluster adapter publishes
/// for the other nodes to encode for their own sockets (as msgpack for Redis, say), and its
/// encoding for this node's sockets, made once and shared by every recipient.
#[derive(Debug, Clone)]
pub struct BroadcastMessage {
    /// The Socket.IO packet (EVENT or BINARY_EVENT, with its namespace); binary arguments are
    /// placeholders in its data.
    pub packet: Packet,
    /// The packet's binary attachments.
    pub binary: Vec<Bytes>,
    /// Who receives it, and how.
    pub options: BroadcastOptions,
    /// The packet encoded with this server's parser (the text frame, then the attachments).
    pub frames: Arc<[Frame]>,
}

impl BroadcastMessage {
    /// The broadcast of `event` with `payload` on namespace `nsp`, encoded with `parser`.
    pub fn event(
        parser: Parser,
        nsp: &str,
        event: &str,
        payload: Payload,
        options: BroadcastOptions,
    ) -> Self {
        let (packet, binary) = payload.event_packet(nsp, event, None);
        let frames = encode_frames(parser, &packet, &binary).into();
        BroadcastMessage {
            packet,
            binary,
            options,
            frames,
        }
    }
}

/// Who receives a broadcast, and how.
#[derive(Debug, Clone, Default)]
pub struct BroadcastOptions {
    /// The rooms, the rooms excepted, the sender excepted.
    pub selector: Arc<Selector>,
    /// The one flag so far: a recipient whose queue is full misses the packet instead of being
    /// disconnected.
    pub volatile: bool,
}

/// The operations a namespace delegates, on its sockets as members `M` (the namespace layer, above
/// this one, picks the type).
pub trait Adapter<M: Member>: Send + Sync + 'static {
    /// A socket connected (in the named rooms it recorded already, usually none).
    fn add_socket(&self, socket: M);
    /// The socket `sid` disconnected: forget it and its rooms.
    fn remove_socket(&self, sid: Sid);
    /// The socket `sid` joins rooms.
    fn join(&self, sid: Sid, rooms: Vec<Room>);
    /// The socket `sid` leaves rooms.
    fn leave(&self, sid: Sid, rooms: Vec<Room>);
    /// Deliver one packet to the selected sockets.
    fn broadcast(&self, message: BroadcastMessage);
    /// [`Adapter::broadcast`], resolving to the number of recipients (the delivery itself starts
    /// at once, whether or not the future is awaited).
    fn broadcast_counted(&self, message: BroadcastMessage) -> BoxFuture<usize>;
    /// The selected sockets join `rooms`; resolves to how many were selected.
    fn sockets_join(&self, selector: Arc<Selector>, rooms: Vec<Room>) -> BoxFuture<usize>;
    /// The selected sockets leave `rooms`; resolves to how many were selected.
    fn sockets_leave(&self, selector: Arc<Selector>, rooms: Vec<Room>) -> BoxFuture<usize>;
    /// The selected sockets are disconnected (their connections closed too when `close`);
    /// resolves to how many were selected.
    fn disconnect_sockets(&self, selector: Arc<Selector>, close: bool) -> BoxFuture<usize>;
    /// The selected sockets, described as plain data (a cluster adapter gathers them from every
    /// node).
    fn fetch_sockets(&self, selector: Arc<Selector>) -> BoxFuture<Vec<SocketDescription>>;
    /// The selected sockets connected to this node, as live members. Local only: never a socket
    /// of another node, whatever the adapter; for what needs the socket itself (an emit that
    /// waits for acknowledgements).
    fn local_sockets(&self, selector: Arc<Selector>) -> BoxFuture<Vec<M>>;
    /// Named rooms and their sizes.
    fn rooms(&self) -> BoxFuture<Vec<(Room, usize)>>;
    /// Delivers `message` to the selected sockets, each under an acknowledgement id of its own,
    /// and resolves to their acknowledgements once all arrived or `timeout` passed (a cluster
    /// adapter asks every node). By default: this node's sockets.
    fn broadcast_with_ack(
        &self,
        message: BroadcastMessage,
        timeout: Duration,
    ) -> BoxFuture<AckReplies> {
        let members = self.local_sockets(message.options.selector.clone());
        Box::pin(async move {
            let Some((event, payload)) =
                acks::split_event(message.packet.data.as_ref(), &message.binary)
            else {
                return AckReplies::default();
            };
            acks::collect_members(members.await, event, payload, timeout).await
        })
    }
    /// How many of the selected sockets are connected to other nodes (asked of each; the
    /// sockets' own rooms and the sender exception are not considered). By default (one node)
    /// none.
    fn remote_count(&self, _selector: Arc<Selector>) -> BoxFuture<usize> {
        Box::pin(async { 0 })
    }
    /// Sends `event` to the other servers of the cluster (`serverSideEmit`). By default (one
    /// node) there are none.
    fn server_side_emit(&self, _event: &str, _args: Vec<Value>) {}
    /// [`Adapter::server_side_emit`], resolving to the other servers' replies once all arrived or
    /// `timeout` passed. By default (one node) there are none.
    fn server_side_emit_with_ack(
        &self,
        _event: &str,
        _args: Vec<Value>,
        _timeout: Duration,
    ) -> BoxFuture<ServerReplies> {
        Box::pin(async { ServerReplies::default() })
    }
    /// Hands every event other servers send to this namespace to `handler` (set once, when the
    /// namespace makes its adapter). By default (one node) none come.
    fn on_server_event(&self, _handler: ServerEventHandler) {}
    /// Broadcasts handed over but not yet fanned out.
    fn backlog(&self) -> usize {
        0
    }
    /// While the fan-out backlog is past [`BACKLOG_HIGH`]: a future that resolves once it is down
    /// to [`BACKLOG_LOW`] (never later than the supervisors' end), which a socket whose client
    /// publishes waits for, so fan-out backlogs stay bounded. `None` when nobody needs to wait.
    fn backpressure(&self) -> Option<BoxFuture<()>> {
        None
    }
    /// The adapter that acts on this node's sockets only, when this one is a cluster adapter
    /// (`None`: this adapter is node-local already). What the admin API's `?local=true` uses.
    fn node_local(&self) -> Option<&dyn Adapter<M>> {
        None
    }
    /// How many servers serve the namespace across the cluster, this one included (1 alone).
    /// Fails fast when the cluster cannot be reached.
    fn server_count(&self) -> BoxFuture<Result<usize, ClusterError>> {
        Box::pin(async { Ok(1) })
    }
    /// The selected sockets of the other nodes (none alone), each with the node holding it where
    /// that node says. Fails fast when the cluster cannot be reached; peers that do not answer
    /// within the request timeout are left out.
    fn remote_sockets(
        &self,
        selector: Arc<Selector>,
    ) -> BoxFuture<Result<Vec<NodeSocket>, ClusterError>> {
        let _ = selector;
        Box::pin(async { Ok(Vec::new()) })
    }
    /// How many sockets the other nodes hold and the names of their rooms (none alone): cheaper
    /// than [`Adapter::remote_sockets`] of everyone. Fails fast as it does.
    fn remote_summary(&self) -> BoxFuture<Result<RemoteSummary, ClusterError>> {
        Box::pin(async { Ok(RemoteSummary::default()) })
    }
    /// Whether this adapter does connection state recovery (keeps sessions, stores packets and
    /// gives them offsets). By default not.
    fn keeps_sessions(&self) -> bool {
        false
    }
    /// Keeps the session of a socket that left with a recoverable reason. By default dropped.
    fn persist_session(&self, _session: recovery::store::SessionState) {}
    /// Takes the session `pid` back if its client, whose last packet was at `offset`, can be
    /// given everything it missed. By default never. A node-local store answers at once (the
    /// future is ready); a cluster store asks its Redis.
    fn restore_session(
        &self,
        _pid: &str,
        _offset: &str,
    ) -> BoxFuture<Option<recovery::store::Restored>> {
        Box::pin(async { None })
    }
    /// Delivers to a recovered `socket` (its rooms recorded) the packets it missed since
    /// `restored` was taken back, then adds it. `false`: some of those packets are gone now; the
    /// socket was not added.
    fn add_recovered_socket(&self, socket: M, restored: &recovery::store::Restored) -> bool {
        let _ = (socket, restored);
        false
    }
}

/// The other nodes of a namespace, summed up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RemoteSummary {
    /// How many sockets they hold.
    pub sockets: usize,
    /// The names of their rooms (sockets' own id rooms left out).
    pub rooms: std::collections::BTreeSet<String>,
}

/// A socket of another node, described, with the id of that node where it says (roomcast nodes
/// do; Node.js servers do not).
#[derive(Debug, Clone, PartialEq)]
pub struct NodeSocket {
    /// The socket.
    pub socket: SocketDescription,
    /// The node holding it, if known.
    pub node: Option<String>,
}

/// Why a request to the other nodes of a cluster was not made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClusterError {
    /// This node has no working link to the cluster (its Redis is unreachable).
    #[error("the cluster cannot be reached: {0}")]
    Unavailable(String),
}

/// The state of this node's link to the other nodes of its cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// No cluster: a node-local adapter.
    Alone,
    /// Linked: broadcasts and requests cross nodes.
    Connected,
    /// A cluster adapter whose link is down (retrying): local delivery goes on, nothing crosses.
    Disconnected,
}

impl LinkState {
    /// The state of a cluster adapter's link: connected or not.
    pub fn linked(connected: bool) -> Self {
        if connected {
            LinkState::Connected
        } else {
            LinkState::Disconnected
        }
    }
}

/// Makes the adapter of each namespace.
pub trait AdapterFactory<M: Member>: Send + Sync + 'static {
    /// The adapter for namespace `nsp`.
    fn create(&self, nsp: &str) -> Arc<dyn Adapter<M>>;
    /// The state of the link its adapters share ([`LinkState::Alone`] for a local factory).
    fn link_state(&self) -> LinkState {
        LinkState::Alone
    }
    /// This node's id in the cluster, as its adapters tell other nodes (`None` alone).
    fn node_id(&self) -> Option<String> {
        None
    }
    /// Whether its adapters do connection state recovery themselves (across the cluster), so
    /// the server does not wrap them in the node-local store. By default not.
    fn keeps_sessions(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::socketio::PacketType;
    use serde_json::json;

    #[test]
    fn a_broadcast_carries_its_packet_and_the_encoding_of_an_emit() {
        let payload = Payload::new().arg("a").bin(vec![1u8, 2]);
        for parser in [Parser::Default, Parser::Msgpack] {
            let options = BroadcastOptions::default();
            let m = BroadcastMessage::event(parser, "/chat", "e", payload.clone(), options);
            assert_eq!(m.packet.kind, PacketType::BinaryEvent);
            assert_eq!((m.packet.nsp.as_str(), m.packet.id), ("/chat", None));
            let placeholder = json!({"_placeholder": true, "num": 0});
            assert_eq!(m.packet.data, Some(json!(["e", "a", placeholder])));
            assert_eq!((m.packet.attachments, &m.binary), (1, &payload.binary));
            let emitted = payload.clone().event_frames(parser, "/chat", "e", None);
            assert_eq!(&*m.frames, emitted.as_slice());
        }
    }
}
