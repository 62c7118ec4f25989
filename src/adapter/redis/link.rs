//! The Redis connections of one node: a publisher (a multiplexed connection fed by a bounded
//! queue) and a subscriber (one pub/sub connection holding every namespace's pattern), both on an
//! arbiter of their own so no actor ever waits for Redis.
//!
//! Redis being down never stops the node serving its own clients: while the publisher is not
//! connected, publishes are dropped at once (not queued) and counted in
//! `roomcast_cluster_publish_failures_total`; a full queue drops too. Both connections reconnect
//! with exponential backoff (100 ms doubling to 5 s), and the subscriber subscribes its patterns
//! again. Broadcasts published while a node was cut off are lost for it, as with Node's adapter.
//!
//! The link is up when both connections are ([`RedisLink::is_connected`]); the gauge
//! `roomcast_cluster_redis_connected` shows it (1 or 0), and requests between servers are not
//! even tried while it is down (they fail fast instead of waiting for a timeout). When the
//! subscriber loses Redis the publisher reconnects too, so the first publishes after an outage do
//! not go to a dead connection.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use actix::Arbiter;
use bytes::Bytes;
use futures_util::StreamExt;
use metrics::Counter;
use parking_lot::Mutex;
use tokio::sync::mpsc;

pub(crate) use crate::adapter::redis::publisher::{
    publish_failures, subscribers, Backoff, Health, PublishQueue, Publisher, PIPELINE,
};
use crate::metrics::Metrics;

/// What a subscription does with a message: `(channel, payload)`.
pub type Handler = Arc<dyn Fn(&str, Bytes) + Send + Sync>;

/// What a subscription listens to: a pattern (`PSUBSCRIBE`) or one channel (`SUBSCRIBE`, which
/// `PUBSUB NUMSUB` counts: Node counts servers by the request channel's subscribers).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Topic {
    /// `PSUBSCRIBE pattern`.
    Pattern(String),
    /// `SUBSCRIBE channel`.
    Channel(String),
}

type Patterns = Arc<Mutex<HashMap<Topic, Handler>>>;

/// One node's link to Redis, shared by the adapters of every namespace.
pub struct RedisLink {
    client: redis::Client,
    patterns: Patterns,
    health: Arc<Health>,
    failures: Counter,
    shed: Counter,
    started: OnceLock<Started>,
    node_id: String,
}

struct Started {
    arbiter: Arbiter,
    publisher: Publisher,
    subscribe: mpsc::UnboundedSender<Topic>,
}

impl RedisLink {
    /// A link to the Redis of `client`, counting failures in `metrics`. Connects on first use,
    /// from inside the actix system.
    pub fn new(client: redis::Client, metrics: &Metrics) -> Self {
        RedisLink {
            client,
            patterns: Arc::default(),
            health: Health::new(metrics),
            node_id: crate::protocol::ids::Sid::new().to_string(),
            failures: publish_failures(metrics),
            shed: shed_counter(metrics),
            started: OnceLock::new(),
        }
    }

    /// Counts a broadcast from another server dropped because this node's fan-out backlog is
    /// full (`roomcast_cluster_receive_dropped_total{reason="backlog"}`).
    pub fn shed(&self) {
        shed(&self.shed);
    }

    /// Starts connecting now (inside the actix system) rather than on first use, so an
    /// unreachable Redis shows in the log at startup.
    pub fn start(&self) {
        self.started();
    }

    fn started(&self) -> &Started {
        self.started.get_or_init(|| {
            let arbiter = Arbiter::new();
            let (client, failures) = (self.client.clone(), self.failures.clone());
            let health = self.health.clone();
            let publisher = Publisher::spawn(&arbiter, client, "PUBLISH", failures, health);
            let (subscribe, subscribe_rx) = mpsc::unbounded_channel();
            let (client, patterns) = (self.client.clone(), self.patterns.clone());
            arbiter.spawn(subscriber(
                client,
                patterns,
                subscribe_rx,
                self.health.clone(),
            ));
            Started {
                arbiter,
                publisher,
                subscribe,
            }
        })
    }

    /// Publishes `payload` on `channel`, or drops it (counted) when Redis is unreachable or the
    /// queue is full. Never waits.
    pub fn publish(&self, channel: String, payload: Vec<u8>) {
        self.started().publisher.publish(channel, payload);
    }

    /// Calls `handler` with every message on a channel matching `pattern` (`PSUBSCRIBE`), from now
    /// on and after every reconnection.
    pub fn psubscribe(&self, pattern: String, handler: Handler) {
        self.listen(Topic::Pattern(pattern), handler);
    }

    /// Calls `handler` with every message on `topic`, from now on and after every reconnection.
    pub fn listen(&self, topic: Topic, handler: Handler) {
        self.patterns.lock().insert(topic.clone(), handler);
        let _ = self.started().subscribe.send(topic);
    }

    /// Forgets the handler of `topic` if it is still `handler` (the Redis subscription stays;
    /// its messages are ignored).
    pub fn forget(&self, topic: &Topic, handler: &Handler) {
        let mut patterns = self.patterns.lock();
        if patterns.get(topic).is_some_and(|h| Arc::ptr_eq(h, handler)) {
            patterns.remove(topic);
        }
    }

    /// How many connections `SUBSCRIBE` `channel` (`PUBSUB NUMSUB`), asked on the publisher's
    /// connection; `None` at once while the publisher is not connected, and when Redis does not
    /// answer within two seconds.
    pub async fn numsub(&self, channel: &str) -> Option<usize> {
        self.started()
            .publisher
            .subscribers("NUMSUB", channel)
            .await
    }

    /// Whether the link is up now: the publisher connected and the subscriber subscribed.
    pub fn is_connected(&self) -> bool {
        self.health.up()
    }

    /// This node's id, the same for every namespace (a random Socket.IO-style id).
    pub fn node_id(&self) -> &str {
        &self.node_id
    }
}

/// The counter of other servers' broadcasts dropped on a full fan-out backlog
/// (`roomcast_cluster_receive_dropped_total{reason="backlog"}`).
pub(crate) fn shed_counter(metrics: &Metrics) -> Counter {
    metrics.labelled_counter(
        "roomcast_cluster_receive_dropped_total",
        "reason",
        "backlog",
    )
}

/// Counts one broadcast shed on `counter`.
pub(crate) fn shed(counter: &Counter) {
    counter.increment(1);
    tracing::debug!("cluster: dropped another server's broadcast (fan-out backlog full)");
}

impl Drop for RedisLink {
    fn drop(&mut self) {
        if let Some(started) = self.started.take() {
            started.arbiter.stop();
        }
    }
}

async fn subscriber(
    client: redis::Client,
    patterns: Patterns,
    mut added: mpsc::UnboundedReceiver<Topic>,
    health: Arc<Health>,
) {
    let mut backoff = Backoff::new();
    loop {
        let result = subscription(&client, &patterns, &mut added, &mut backoff, &health).await;
        health.subscriber(false);
        match result {
            Ok(()) => return,
            Err(e) => tracing::warn!(error = %e, "cluster: Redis subscription lost; reconnecting"),
        }
        backoff.wait().await;
    }
}

/// Subscribes every pattern, then dispatches messages until the connection fails (`Err`) or the
/// link is gone (`Ok`).
async fn subscription(
    client: &redis::Client,
    patterns: &Patterns,
    added: &mut mpsc::UnboundedReceiver<Topic>,
    backoff: &mut Backoff,
    health: &Health,
) -> redis::RedisResult<()> {
    let (mut sink, mut stream) = client.get_async_pubsub().await?.split();
    // Patterns added from here on arrive on `added`; those before are in the map.
    while added.try_recv().is_ok() {}
    let current: Vec<Topic> = patterns.lock().keys().cloned().collect();
    for topic in current {
        subscribe(&mut sink, topic).await?;
    }
    tracing::info!("cluster: Redis subscriber connected");
    health.subscriber(true);
    backoff.reset();
    loop {
        tokio::select! {
            msg = stream.next() => {
                let Some(msg) = msg else {
                    return Err(redis::RedisError::from((
                        redis::ErrorKind::Io,
                        "pub/sub connection closed",
                    )));
                };
                let topic = match msg.get_pattern::<Option<String>>().ok().flatten() {
                    Some(pattern) => Topic::Pattern(pattern),
                    None => Topic::Channel(msg.get_channel_name().to_owned()),
                };
                let handler = patterns.lock().get(&topic).cloned();
                if let Some(handler) = handler {
                    handler(msg.get_channel_name(), Bytes::copy_from_slice(msg.get_payload_bytes()));
                }
            }
            topic = added.recv() => match topic {
                Some(topic) => subscribe(&mut sink, topic).await?,
                None => return Ok(()),
            },
        }
    }
}

async fn subscribe(sink: &mut redis::aio::PubSubSink, topic: Topic) -> redis::RedisResult<()> {
    match topic {
        Topic::Pattern(pattern) => sink.psubscribe(pattern).await,
        Topic::Channel(channel) => sink.subscribe(channel).await,
    }
}
