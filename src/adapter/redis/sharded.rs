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
//! <key>#<nsp>#`) and merges. Still local: `rooms`, and what [`super::sharded_peers`] lists as
//! not handled yet (broadcasts with acknowledgements, server-side emits).

use std::sync::{Arc, Weak};

use crate::adapter::local::{ArbiterPool, LocalAdapter};
use crate::adapter::redis::channel::{sharded_broadcast_channel, SubscriptionMode};
use crate::adapter::redis::cluster_wire::ClusterBody;
use crate::adapter::redis::node_socket::from_node;
use crate::adapter::redis::shard_link::{ShardedLink, ShardedRedis};
use crate::adapter::redis::sharded_peers::{message_handler, Shard};
use crate::adapter::redis::wire::{Flags, Targets, WirePacket};
use crate::adapter::{Adapter, AdapterFactory, BoxFuture, BroadcastMessage};
use crate::metrics::Metrics;
use crate::protocol::ids::Sid;
use crate::protocol::socketio::Parser;
use crate::room::{Member, Room, RoomWatcher, Selector, SocketDescription};

/// Makes a [`ShardedAdapter`] for each namespace, all sharing one [`ShardedLink`].
///
/// A library server in a sharded cluster (what `[cluster] adapter = "redis-sharded"` builds), on
/// a Redis Cluster known by two of its nodes (for one Redis server, pass
/// `redis::Client::open("redis://127.0.0.1:6379/0")?` instead):
///
/// ```no_run
/// use std::sync::Arc;
/// use roomcast::adapter::redis::channel::SubscriptionMode;
/// use roomcast::adapter::redis::shard_link::ShardedRedis;
/// use roomcast::adapter::redis::sharded::ShardedAdapterFactory;
/// use roomcast::{Server, ServerOptions};
///
/// let nodes = ["redis://10.0.0.1:7000", "redis://10.0.0.2:7000"];
/// let client = ShardedRedis::cluster(nodes).expect("Redis URLs");
/// let options = ServerOptions::default();
/// let parser = options.parser;
/// let server = Server::with_adapter_from(options, |pool, metrics| {
///     let mode = SubscriptionMode::Dynamic;
///     let factory = ShardedAdapterFactory::new(client, "socket.io", mode, parser, pool, metrics);
///     factory.start();
///     Arc::new(factory)
/// });
/// ```
pub struct ShardedAdapterFactory {
    link: Arc<ShardedLink>,
    key: String,
    mode: SubscriptionMode,
    parser: Parser,
    pool: Arc<ArbiterPool>,
    metrics: Arc<Metrics>,
}

impl ShardedAdapterFactory {
    /// Adapters publishing under `key` (Node's `channelPrefix`) on `redis`: one server
    /// (`redis::Client::open(url)`, Redis >= 7) or a Redis Cluster
    /// ([`ShardedRedis::cluster`]`(seed urls)`, each channel on the master owning its slot),
    /// subscribing to rooms as `mode` says, delivering
    /// to sockets encoded with `parser`, their room supervisors on `pool`.
    pub fn new(
        redis: impl Into<ShardedRedis>,
        key: &str,
        mode: SubscriptionMode,
        parser: Parser,
        pool: Arc<ArbiterPool>,
        metrics: Arc<Metrics>,
    ) -> Self {
        ShardedAdapterFactory {
            link: Arc::new(ShardedLink::new(redis, &metrics)),
            key: key.to_owned(),
            mode,
            parser,
            pool,
            metrics,
        }
    }

    /// Connects to Redis now rather than when the first namespace needs its adapter.
    pub fn start(&self) {
        self.link.start();
    }
}

impl<M: Member> AdapterFactory<M> for ShardedAdapterFactory {
    fn create(&self, nsp: &str) -> Arc<dyn Adapter<M>> {
        let shard = Shard::new(self.link.clone(), &self.key, nsp, self.mode);
        Arc::new(ShardedAdapter::new(
            shard,
            self.parser,
            &self.pool,
            &self.metrics,
        ))
    }
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
        let handler = message_handler(Arc::downgrade(&local), Arc::downgrade(&shard), parser);
        shard.listen(handler);
        ShardedAdapter { local, shard }
    }

    /// This adapter's uid (the `uid` of what it publishes).
    pub fn uid(&self) -> &str {
        self.shard.uid()
    }

    fn publish(&self, message: &BroadcastMessage) {
        let targets = Targets::from_selector(&message.options.selector);
        let (key, nsp) = self.shard.names();
        let channel = sharded_broadcast_channel(key, nsp, &targets.rooms, false, self.shard.mode());
        let body = ClusterBody::Broadcast {
            packet: WirePacket {
                packet: message.packet.clone(),
                binary: message.binary.clone(),
            },
            targets,
            flags: Flags {
                volatile: message.options.volatile,
                ..Flags::default()
            },
            request_id: None,
        };
        self.shard.publish(body, Some(channel));
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
        let shard = self.shard.clone();
        let targets = Targets::from_selector(&selector);
        let local = self.local.fetch_sockets(selector);
        Box::pin(async move {
            let (mut found, remote) = futures_util::join!(local, shard.ask_fetch(targets));
            let nsp = shard.names().1;
            found.extend(remote.iter().filter_map(|s| from_node(s, nsp)));
            found
        })
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
