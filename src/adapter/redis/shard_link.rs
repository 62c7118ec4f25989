//! The Redis connections of the sharded adapter (Redis >= 7 sharded pub/sub): a publisher that
//! sends `SPUBLISH` (the classic link's publisher), and a subscriber holding the `SSUBSCRIBE`d
//! channels of every namespace, both on an arbiter of their own.
//!
//! The `redis` crate's pub/sub connection knows no `SSUBSCRIBE`, so the subscriber is a RESP3
//! multiplexed connection: `SSUBSCRIBE`/`SUNSUBSCRIBE` are sent as commands, one channel each
//! (`SUNSUBSCRIBE` with a `PING`, see the `unsubscribe` function), and the `smessage` pushes
//! arrive through a bounded queue (past [`PUSH_QUEUE`] waiting messages, more are dropped and
//! counted in `roomcast_cluster_receive_dropped_total`).
//!
//! Adapters say which channels they want ([`ShardedLink::listen`], [`ShardedLink::forget`]); the
//! subscriber brings the connection's subscriptions in line with that set, the changed channels
//! only, so a room joined and left many times costs at most one pending change. When the
//! connection is lost it reconnects with backoff and subscribes to the whole set again.
//!
//! The link talks to one Redis server (a standalone Redis 7, or one node holding every slot it
//! needs); routing channels to the shards of a Redis Cluster is not done here.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use actix::Arbiter;
use bytes::Bytes;
use metrics::Counter;
use parking_lot::Mutex;
use redis::aio::ConnectionLike;
use redis::{AsyncConnectionConfig, Msg, ProtocolVersion, PushInfo, PushKind};
use tokio::sync::{mpsc, Notify};

use crate::adapter::redis::link::{
    publish_failures, subscribers, Backoff, Handler, Health, Publisher,
};
use crate::metrics::Metrics;

/// Messages received and not yet dispatched; past this, messages are dropped and counted.
pub const PUSH_QUEUE: usize = 4096;
/// How long the subscriber waits for Redis to confirm a subscription before reconnecting.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Default)]
struct Wanted {
    /// The channels adapters listen to, with what to do with their messages.
    channels: HashMap<String, Handler>,
    /// Channels added or removed since the subscriber last looked.
    changed: HashSet<String>,
}

#[derive(Default)]
struct Subscriptions {
    wanted: Mutex<Wanted>,
    changed: Notify,
}

impl Subscriptions {
    fn handler(&self, channel: &str) -> Option<Handler> {
        self.wanted.lock().channels.get(channel).cloned()
    }
}

/// One node's sharded pub/sub link to Redis, shared by the adapters of every namespace.
pub struct ShardedLink {
    client: redis::Client,
    resp3: redis::Client,
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
    /// A link to the Redis of `client`, counting failures in `metrics`. Connects on first use,
    /// from inside the actix system.
    pub fn new(client: redis::Client, metrics: &Metrics) -> Self {
        let info = client.get_connection_info().clone();
        let settings = info
            .redis_settings()
            .clone()
            .set_protocol(ProtocolVersion::RESP3);
        // Cannot fail: a client made from connection settings only takes them as they are.
        let resp3 = redis::Client::open(info.set_redis_settings(settings))
            .expect("a client from checked connection settings");
        ShardedLink {
            client,
            resp3,
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
            let (client, failures) = (self.client.clone(), self.failures.clone());
            let health = self.health.clone();
            let publisher = Publisher::spawn(&arbiter, client, "SPUBLISH", failures, health);
            let task = subscriber(
                self.resp3.clone(),
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
    /// adapter counts servers); `None` when Redis does not answer.
    pub async fn shard_numsub(&self, channel: &str) -> Option<usize> {
        subscribers(&self.client, "SHARDNUMSUB", channel).await
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

async fn subscriber(
    client: redis::Client,
    subscriptions: Arc<Subscriptions>,
    dropped: Counter,
    health: Arc<Health>,
) {
    let mut backoff = Backoff::new();
    loop {
        let e = subscription(&client, &subscriptions, &dropped, &mut backoff, &health).await;
        health.subscriber(false);
        tracing::warn!(error = %e, "cluster: Redis sharded subscription lost; reconnecting");
        backoff.wait().await;
    }
}

fn lost(what: &'static str) -> redis::RedisError {
    redis::RedisError::from((redis::ErrorKind::Io, what))
}

/// Connects, subscribes to every wanted channel, then dispatches messages and follows changes
/// until the connection fails.
async fn subscription(
    client: &redis::Client,
    subscriptions: &Subscriptions,
    dropped: &Counter,
    backoff: &mut Backoff,
    health: &Health,
) -> redis::RedisError {
    let (tx, mut rx) = mpsc::channel::<PushInfo>(PUSH_QUEUE);
    let closed = Arc::new(Notify::new());
    let (on_close, dropped) = (closed.clone(), dropped.clone());
    let push = move |info: PushInfo| -> Result<(), ()> {
        if info.kind == PushKind::Disconnection {
            on_close.notify_one();
            return Ok(());
        }
        match tx.try_send(info) {
            Err(mpsc::error::TrySendError::Full(_)) => dropped.increment(1),
            Err(mpsc::error::TrySendError::Closed(_)) => return Err(()),
            Ok(()) => {}
        }
        Ok(())
    };
    // A (un)subscription may wait behind a busy Redis longer than the client's 500 ms default;
    // giving up on it costs a reconnection and a full resubscription.
    let config = AsyncConnectionConfig::new()
        .set_push_sender(push)
        .set_response_timeout(Some(COMMAND_TIMEOUT));
    let mut conn = match client
        .get_multiplexed_async_connection_with_config(&config)
        .await
    {
        Ok(conn) => conn,
        Err(e) => return e,
    };
    let mut subscribed = HashSet::new();
    if let Err(e) = align(&mut conn, subscriptions, &mut subscribed, true).await {
        return e;
    }
    tracing::info!("cluster: Redis sharded subscriber connected");
    health.subscriber(true);
    backoff.reset();
    loop {
        tokio::select! {
            info = rx.recv() => match info {
                Some(info) => dispatch(subscriptions, info),
                None => return lost("sharded pub/sub connection closed"),
            },
            () = subscriptions.changed.notified() => {
                if let Err(e) = align(&mut conn, subscriptions, &mut subscribed, false).await {
                    return e;
                }
            }
            () = closed.notified() => return lost("sharded pub/sub connection closed"),
        }
    }
}

/// Hands a received message to the handler of its channel, if one still listens.
fn dispatch(subscriptions: &Subscriptions, info: PushInfo) {
    let Some(msg) = Msg::from_push_info(info) else {
        return; // a confirmation, already seen as a command's reply
    };
    let channel = msg.get_channel_name();
    if let Some(handler) = subscriptions.handler(channel) {
        handler(channel, Bytes::copy_from_slice(msg.get_payload_bytes()));
    }
}

/// Subscribes to the wanted channels not subscribed yet and unsubscribes from those no longer
/// wanted: the changed ones, or every one (`all`, on a fresh connection).
async fn align(
    conn: &mut redis::aio::MultiplexedConnection,
    subscriptions: &Subscriptions,
    subscribed: &mut HashSet<String>,
    all: bool,
) -> redis::RedisResult<()> {
    let changed: Vec<String> = {
        let mut wanted = subscriptions.wanted.lock();
        let changed = std::mem::take(&mut wanted.changed);
        if all {
            wanted.channels.keys().cloned().collect()
        } else {
            changed.into_iter().collect()
        }
    };
    for channel in changed {
        let want = subscriptions.wanted.lock().channels.contains_key(&channel);
        match (want, subscribed.contains(&channel)) {
            (true, false) => {
                let mut command = redis::cmd("SSUBSCRIBE");
                command.arg(&channel);
                command.query_async::<redis::Value>(conn).await?;
            }
            (false, true) => unsubscribe(conn, &channel).await?,
            _ => continue,
        }
        if want {
            subscribed.insert(channel);
        } else {
            subscribed.remove(&channel);
        }
    }
    Ok(())
}

/// `SUNSUBSCRIBE channel`. The `redis` crate (1.8) does not take a raw `SUNSUBSCRIBE`'s
/// confirmation for its reply (a cluster node also sends one unasked when a slot moves; see
/// redis-rs issue 2533), so the command would wait forever: it goes in a pipeline with a `PING`,
/// whose `PONG` is the one reply waited for, the confirmation passing by as a push.
async fn unsubscribe(
    conn: &mut redis::aio::MultiplexedConnection,
    channel: &str,
) -> redis::RedisResult<()> {
    let mut pipe = redis::pipe();
    pipe.cmd("SUNSUBSCRIBE").arg(channel).cmd("PING");
    let replies = conn.req_packed_commands(&pipe, 0, 1).await?;
    match replies.as_slice() {
        [redis::Value::SimpleString(pong)] if pong == "PONG" => Ok(()),
        // An error in place of the confirmation: the replies are out of step; start afresh.
        _ => Err(lost("unexpected reply to SUNSUBSCRIBE")),
    }
}
