//! The Redis connections of the sharded adapter (Redis >= 7 sharded pub/sub): a publisher that
//! sends `SPUBLISH` and a subscriber holding the `SSUBSCRIBE`d channels of every namespace
//! ([`super::shard_subscriber`]), both on an arbiter of their own, to one Redis server or to a
//! Redis Cluster ([`ShardedRedis`]; on a cluster each channel goes to the master owning its hash
//! slot, see [`super::shard_cluster`]).
//!
//! Adapters say which channels they want ([`ShardedLink::listen`], [`ShardedLink::forget`]); the
//! subscriber brings the connection's subscriptions in line with that set, the changed channels
//! only, so a room joined and left many times costs at most one pending change.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, OnceLock};

use actix::Arbiter;
use metrics::Counter;
use parking_lot::Mutex;
use redis::{ConnectionInfo, IntoConnectionInfo, ProtocolVersion, RedisResult};
use tokio::sync::Notify;

use crate::adapter::redis::link::{publish_failures, subscribers, Handler, Health, Publisher};
use crate::adapter::redis::shard_cluster::{self, SharedConnection};
use crate::adapter::redis::shard_subscriber::{self, Target, COMMAND_TIMEOUT};
use crate::metrics::Metrics;

pub use crate::adapter::redis::shard_subscriber::PUSH_QUEUE;

/// The Redis of a sharded cluster of servers.
#[derive(Debug, Clone)]
pub enum ShardedRedis {
    /// One Redis >= 7 server (or a cluster node holding every slot the channels need).
    Server(redis::Client),
    /// A Redis Cluster, known by one or more of its nodes (seeds): the slot map is read from the
    /// first that answers.
    Cluster(Vec<ConnectionInfo>),
}

impl ShardedRedis {
    /// A Redis Cluster reached through the seed `nodes` (`redis://host:port` URLs, database 0).
    pub fn cluster<T: IntoConnectionInfo>(nodes: impl IntoIterator<Item = T>) -> RedisResult<Self> {
        let nodes = nodes
            .into_iter()
            .map(IntoConnectionInfo::into_connection_info)
            .collect::<RedisResult<Vec<_>>>()?;
        // The same checks (at least one node, no database but 0) the connections will make.
        shard_cluster::cluster_client(&nodes, true, COMMAND_TIMEOUT)?;
        Ok(ShardedRedis::Cluster(nodes))
    }
}

impl From<redis::Client> for ShardedRedis {
    fn from(client: redis::Client) -> Self {
        ShardedRedis::Server(client)
    }
}

#[derive(Default)]
struct Wanted {
    /// The channels adapters listen to, with what to do with their messages.
    channels: HashMap<String, Handler>,
    /// Channels added or removed since the subscriber last looked.
    changed: HashSet<String>,
}

/// The channels the adapters want, shared with the subscriber.
#[derive(Default)]
pub(crate) struct Subscriptions {
    wanted: Mutex<Wanted>,
    /// Told when a channel is added or removed.
    pub(crate) changed: Notify,
}

impl Subscriptions {
    /// What handles `channel`'s messages, while some adapter listens to it.
    pub(crate) fn handler(&self, channel: &str) -> Option<Handler> {
        self.wanted.lock().channels.get(channel).cloned()
    }

    /// Whether some adapter listens to `channel`.
    pub(crate) fn wants(&self, channel: &str) -> bool {
        self.wanted.lock().channels.contains_key(channel)
    }

    /// The channels added or removed since last asked.
    pub(crate) fn take_changed(&self) -> Vec<String> {
        std::mem::take(&mut self.wanted.lock().changed)
            .into_iter()
            .collect()
    }

    /// Marks `channels` as still to be brought in line.
    pub(crate) fn mark_changed(&self, channels: Vec<String>) {
        self.wanted.lock().changed.extend(channels);
    }

    /// Marks every wanted channel as changed (a fresh connection subscribes to them all).
    pub(crate) fn mark_all_changed(&self) {
        let mut wanted = self.wanted.lock();
        let all: Vec<String> = wanted.channels.keys().cloned().collect();
        wanted.changed.extend(all);
    }
}

/// One node's sharded pub/sub link to Redis, shared by the adapters of every namespace.
pub struct ShardedLink {
    redis: ShardedRedis,
    /// The cluster publisher's connection (for `PUBSUB SHARDNUMSUB`), once connected.
    cluster_conn: SharedConnection,
    subscriptions: Arc<Subscriptions>,
    failures: Counter,
    dropped: Counter,
    health: Arc<Health>,
    started: OnceLock<Started>,
}

struct Started {
    arbiter: Arbiter,
    publisher: Publisher,
}

impl ShardedLink {
    /// A link to `redis`, counting failures in `metrics`. Connects on first use, from inside
    /// the actix system.
    pub fn new(redis: impl Into<ShardedRedis>, metrics: &Metrics) -> Self {
        ShardedLink {
            redis: redis.into(),
            cluster_conn: SharedConnection::default(),
            subscriptions: Arc::default(),
            failures: publish_failures(metrics),
            dropped: metrics.labelled_counter(
                "roomcast_cluster_receive_dropped_total",
                "reason",
                "queue_full",
            ),
            health: Health::new(metrics),
            started: OnceLock::new(),
        }
    }

    /// Starts connecting now (inside the actix system) rather than on first use.
    pub fn start(&self) {
        self.started();
    }

    fn started(&self) -> &Started {
        self.started.get_or_init(|| {
            let arbiter = Arbiter::new();
            let (failures, health) = (self.failures.clone(), self.health.clone());
            let (publisher, target) = match &self.redis {
                ShardedRedis::Server(client) => {
                    let publisher =
                        Publisher::spawn(&arbiter, client.clone(), "SPUBLISH", failures, health);
                    (publisher, Target::Server(resp3(client)))
                }
                ShardedRedis::Cluster(nodes) => {
                    let shared = self.cluster_conn.clone();
                    // Checked by `ShardedRedis::cluster`.
                    let client = shard_cluster::cluster_client(nodes, false, COMMAND_TIMEOUT)
                        .expect("checked cluster nodes");
                    let publisher = Publisher::spawn_with(
                        &arbiter,
                        failures,
                        health,
                        Default::default(),
                        |rx, health, failed| {
                            shard_cluster::publisher(client, rx, health, failed, shared)
                        },
                    );
                    let client = shard_cluster::cluster_client(nodes, true, COMMAND_TIMEOUT)
                        .expect("checked cluster nodes");
                    (publisher, Target::Cluster(Box::new(client)))
                }
            };
            let task = shard_subscriber::subscriber(
                target,
                self.subscriptions.clone(),
                self.dropped.clone(),
                self.health.clone(),
            );
            arbiter.spawn(task);
            Started { arbiter, publisher }
        })
    }

    /// `SPUBLISH`es `payload` on `channel`, or drops it (counted) when Redis is unreachable or
    /// the queue is full. Never waits.
    pub fn publish(&self, channel: String, payload: Vec<u8>) {
        self.started().publisher.publish(channel, payload);
    }

    /// Calls `handler` with every message on `channel` (`SSUBSCRIBE`), from as soon as the
    /// subscriber has subscribed and after every reconnection.
    pub fn listen(&self, channel: String, handler: Handler) {
        self.started();
        let mut wanted = self.subscriptions.wanted.lock();
        wanted.changed.insert(channel.clone());
        wanted.channels.insert(channel, handler);
        drop(wanted);
        self.subscriptions.changed.notify_one();
    }

    /// Stops listening to `channel` (`SUNSUBSCRIBE`).
    pub fn forget(&self, channel: &str) {
        let mut wanted = self.subscriptions.wanted.lock();
        if wanted.channels.remove(channel).is_some() {
            wanted.changed.insert(channel.to_owned());
            drop(wanted);
            self.subscriptions.changed.notify_one();
        }
    }

    /// What handles `channel`'s messages, while some adapter listens to it.
    pub fn handler(&self, channel: &str) -> Option<Handler> {
        self.subscriptions.handler(channel)
    }

    /// How many connections `SSUBSCRIBE` `channel` (`PUBSUB SHARDNUMSUB`, how Node's sharded
    /// adapter counts servers; on a cluster, asked of the master owning the channel); `None`
    /// when Redis does not answer.
    pub async fn shard_numsub(&self, channel: &str) -> Option<usize> {
        match &self.redis {
            ShardedRedis::Server(client) => subscribers(client, "SHARDNUMSUB", channel).await,
            ShardedRedis::Cluster(_) => {
                shard_cluster::shard_numsub(&self.cluster_conn, channel).await
            }
        }
    }

    /// Whether the link is up now: the publisher connected and the subscriber subscribed.
    pub fn is_connected(&self) -> bool {
        self.health.up()
    }
}

impl Drop for ShardedLink {
    fn drop(&mut self) {
        if let Some(started) = self.started.take() {
            started.arbiter.stop();
        }
    }
}

/// The same server as `client`, spoken to with RESP3 (pushes on a multiplexed connection).
fn resp3(client: &redis::Client) -> redis::Client {
    let info = client.get_connection_info().clone();
    let settings = info
        .redis_settings()
        .clone()
        .set_protocol(ProtocolVersion::RESP3);
    // Cannot fail: a client made from connection settings only takes them as they are.
    redis::Client::open(info.set_redis_settings(settings))
        .expect("a client from checked connection settings")
}
