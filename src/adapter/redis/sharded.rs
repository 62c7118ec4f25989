//! The sharded Redis adapter (`@socket.io/redis-adapter` 8.x's `createShardedAdapter`, Redis >= 7
//! sharded pub/sub): broadcasts and requests between servers in the `ClusterAdapter` format,
//! published with `SPUBLISH` (reference sections 4.3 and 4.4).
//!
//! A [`ShardedAdapter`] wraps the namespace's [`LocalAdapter`] and `SSUBSCRIBE`s
//! `<key>#<nsp>#` (every server's messages) and `<key>#<nsp>#<uid>#` (the answers to it). A
//! broadcast is delivered locally and published as BROADCAST: on the room's channel
//! `<key>#<nsp>#<room>#` when it targets exactly one room that is not a socket id (in dynamic
//! mode), on the namespace's channel otherwise. In [`SubscriptionMode::Dynamic`] (Node's default)
//! the adapter listens to a room's channel while the room has members on this node, so a server
//! receives a room's broadcasts only when it has someone to deliver them to.
//!
//! `sockets_join`, `sockets_leave` and `disconnect_sockets` apply locally and publish (their
//! count is local); `fetch_sockets` asks the other servers (counted by `PUBSUB SHARDNUMSUB
//! <key>#<nsp>#`) and merges; `broadcast_with_ack` delivers locally, publishes a BROADCAST with a
//! `requestId` and collects every server's client count and acknowledgements;
//! `server_side_emit(_with_ack)` publishes a SERVER_SIDE_EMIT (and collects the replies)
//! ([`super::sharded_peers`]). The other servers' messages are answered in
//! [`super::sharded_answers`].
//!
//! The cluster view: `server_count` (SHARDNUMSUB), `remote_sockets` (FETCH_SOCKETS, each socket
//! with the roomcast node holding it), `remote_summary` and `remote_count` (FETCH_SOCKETS too:
//! the format has no lighter request), failing at once while Redis is unreachable; `node_local`
//! is the wrapped [`LocalAdapter`]. Still local: `rooms` and `broadcast_counted`, as in the
//! classic adapter.

use std::collections::{BTreeSet, HashSet};
use std::sync::{Arc, Weak};
use std::time::Duration;

use serde_json::Value;

use crate::adapter::local::{ArbiterPool, LocalAdapter};
use crate::adapter::redis::channel::{sharded_broadcast_channel, SubscriptionMode};
use crate::adapter::redis::cluster_wire::ClusterBody;
use crate::adapter::redis::link::shed_counter;
use crate::adapter::redis::node_socket::from_stamped;
use crate::adapter::redis::sharded_answers::message_handler;
use crate::adapter::redis::sharded_peers::Shard;
use crate::adapter::redis::wire::{Flags, Targets, WirePacket};
use crate::adapter::{
    AckReplies, Adapter, BoxFuture, BroadcastMessage, ClusterError, NodeSocket, RemoteSummary,
    ServerEventHandler, ServerReplies,
};
use crate::metrics::Metrics;
use crate::protocol::ids::Sid;
use crate::protocol::socketio::Parser;
use crate::room::{Member, Room, RoomWatcher, Selector, SocketDescription};

pub use super::sharded_factory::ShardedAdapterFactory;

/// A broadcast as the sharded format carries it: the packet, its targets and flags (`timeout`
/// set when acknowledgements are asked for within it).
pub(crate) fn wire_parts(
    message: &BroadcastMessage,
    timeout: Option<Duration>,
) -> (WirePacket, Targets, Flags) {
    let packet = WirePacket {
        packet: message.packet.clone(),
        binary: message.binary.clone(),
    };
    let flags = Flags {
        volatile: message.options.volatile,
        timeout: timeout.map(|t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX)),
        ..Flags::default()
    };
    let targets = Targets::from_selector(&message.options.selector);
    (packet, targets, flags)
}

/// The other servers' sockets and rooms, summed up from their described `sockets` (their own id
/// rooms left out).
pub(crate) fn summary(sockets: &[NodeSocket]) -> RemoteSummary {
    let ids: HashSet<&str> = sockets.iter().map(|s| s.socket.id.as_str()).collect();
    let rooms: BTreeSet<String> = sockets
        .iter()
        .flat_map(|s| s.socket.rooms.iter().map(|r| r.as_str()))
        .filter(|room| !ids.contains(room))
        .map(str::to_owned)
        .collect();
    RemoteSummary {
        sockets: ids.len(),
        rooms,
    }
}

/// The sockets of the servers other than `shard`'s that `selector` selects (FETCH_SOCKETS).
pub(crate) fn remote_of(
    shard: Arc<Shard>,
    selector: &Selector,
) -> BoxFuture<Result<Vec<NodeSocket>, ClusterError>> {
    let targets = Targets::from_selector(selector);
    Box::pin(async move {
        let sockets = shard.try_fetch(targets).await?;
        let nsp = shard.names().1;
        Ok(sockets
            .iter()
            .filter_map(|s| from_stamped(s, nsp))
            .collect())
    })
}

/// One namespace's adapter in a cluster of servers sharing a Redis through sharded pub/sub.
pub struct ShardedAdapter<M: Member> {
    local: Arc<LocalAdapter<M>>,
    shard: Arc<Shard>,
}

impl<M: Member> ShardedAdapter<M> {
    /// The adapter of `shard`'s namespace, its room supervisors on `pool`, delivering what other
    /// servers publish encoded with `parser`.
    pub fn new(shard: Shard, parser: Parser, pool: &ArbiterPool, metrics: &Arc<Metrics>) -> Self {
        let shard = Arc::new(shard);
        let watcher = (shard.mode() != SubscriptionMode::Static).then(|| {
            let weak: Weak<Shard> = Arc::downgrade(&shard);
            let watcher: RoomWatcher = Arc::new(move |room: &Room, present: bool| {
                if let Some(shard) = weak.upgrade() {
                    shard.room_changed(room, present);
                }
            });
            watcher
        });
        let local = Arc::new(LocalAdapter::watched(&pool.handles(), metrics, watcher));
        let shed = shed_counter(metrics);
        let handler = message_handler(Arc::downgrade(&local), Arc::downgrade(&shard), parser, shed);
        shard.listen(handler);
        ShardedAdapter { local, shard }
    }

    /// This adapter's uid (the `uid` of what it publishes).
    pub fn uid(&self) -> &str {
        self.shard.uid()
    }

    fn publish(&self, message: &BroadcastMessage) {
        let (packet, targets, flags) = wire_parts(message, None);
        let (key, nsp) = self.shard.names();
        let channel = sharded_broadcast_channel(key, nsp, &targets.rooms, false, self.shard.mode());
        let body = ClusterBody::Broadcast {
            packet,
            targets,
            flags,
            request_id: None,
        };
        self.shard.publish(body, Some(channel));
    }

    /// The other servers' sockets that `selector` selects.
    fn remote(&self, selector: &Selector) -> BoxFuture<Result<Vec<NodeSocket>, ClusterError>> {
        remote_of(self.shard.clone(), selector)
    }

    fn publish_rooms(&self, selector: &Selector, join: bool, rooms: &[Room]) {
        let body = ClusterBody::Rooms {
            join,
            targets: Targets::from_selector(selector),
            rooms: rooms.to_vec(),
        };
        self.shard.publish(body, None);
    }
}

impl<M: Member> Adapter<M> for ShardedAdapter<M> {
    fn add_socket(&self, socket: M) {
        self.local.add_socket(socket);
    }

    fn remove_socket(&self, sid: Sid) {
        self.local.remove_socket(sid);
    }

    fn join(&self, sid: Sid, rooms: Vec<Room>) {
        self.local.join(sid, rooms);
    }

    fn leave(&self, sid: Sid, rooms: Vec<Room>) {
        self.local.leave(sid, rooms);
    }

    fn broadcast(&self, message: BroadcastMessage) {
        self.publish(&message);
        self.local.broadcast(message);
    }

    fn broadcast_counted(&self, message: BroadcastMessage) -> BoxFuture<usize> {
        self.publish(&message);
        self.local.broadcast_counted(message)
    }

    fn sockets_join(&self, selector: Arc<Selector>, rooms: Vec<Room>) -> BoxFuture<usize> {
        self.publish_rooms(&selector, true, &rooms);
        self.local.sockets_join(selector, rooms)
    }

    fn sockets_leave(&self, selector: Arc<Selector>, rooms: Vec<Room>) -> BoxFuture<usize> {
        self.publish_rooms(&selector, false, &rooms);
        self.local.sockets_leave(selector, rooms)
    }

    fn disconnect_sockets(&self, selector: Arc<Selector>, close: bool) -> BoxFuture<usize> {
        let targets = Targets::from_selector(&selector);
        let body = ClusterBody::DisconnectSockets { targets, close };
        self.shard.publish(body, None);
        self.local.disconnect_sockets(selector, close)
    }

    fn fetch_sockets(&self, selector: Arc<Selector>) -> BoxFuture<Vec<SocketDescription>> {
        let remote = self.remote(&selector);
        let local = self.local.fetch_sockets(selector);
        Box::pin(async move {
            let (mut found, remote) = futures_util::join!(local, remote);
            found.extend(remote.unwrap_or_default().into_iter().map(|s| s.socket));
            found
        })
    }

    fn remote_sockets(
        &self,
        selector: Arc<Selector>,
    ) -> BoxFuture<Result<Vec<NodeSocket>, ClusterError>> {
        self.remote(&selector)
    }

    fn remote_summary(&self) -> BoxFuture<Result<RemoteSummary, ClusterError>> {
        let remote = self.remote(&Selector::default());
        Box::pin(async move { Ok(summary(&remote.await?)) })
    }

    fn remote_count(&self, selector: Arc<Selector>) -> BoxFuture<usize> {
        let remote = self.remote(&selector);
        Box::pin(async move { remote.await.map_or(0, |found| found.len()) })
    }

    fn server_count(&self) -> BoxFuture<Result<usize, ClusterError>> {
        let shard = self.shard.clone();
        Box::pin(async move { shard.servers().await })
    }

    fn node_local(&self) -> Option<&dyn Adapter<M>> {
        Some(&*self.local)
    }

    fn broadcast_with_ack(
        &self,
        message: BroadcastMessage,
        timeout: Duration,
    ) -> BoxFuture<AckReplies> {
        let local = |message| self.local.broadcast_with_ack(message, timeout);
        self.shard.acked_broadcast(message, local, timeout)
    }

    fn server_side_emit(&self, event: &str, args: Vec<Value>) {
        self.shard.emit_event(event, args);
    }

    fn server_side_emit_with_ack(
        &self,
        event: &str,
        args: Vec<Value>,
        timeout: Duration,
    ) -> BoxFuture<ServerReplies> {
        self.shard.ask_event(event, args, timeout)
    }

    fn on_server_event(&self, handler: ServerEventHandler) {
        *self.shard.events.write() = Some(handler);
    }

    fn local_sockets(&self, selector: Arc<Selector>) -> BoxFuture<Vec<M>> {
        self.local.local_sockets(selector)
    }

    fn rooms(&self) -> BoxFuture<Vec<(Room, usize)>> {
        self.local.rooms()
    }

    fn backlog(&self) -> usize {
        self.local.backlog()
    }

    fn backpressure(&self) -> Option<BoxFuture<()>> {
        self.local.backpressure()
    }
}

#[cfg(test)]
#[path = "sharded_tests.rs"]
mod tests;
