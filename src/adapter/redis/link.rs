//! The Redis connections of one node: a publisher (a multiplexed connection fed by a bounded
//! queue) and a subscriber (one pub/sub connection holding every namespace's pattern), both on an
//! arbiter of their own so no actor ever waits for Redis.
//!
//! Redis being down never stops the node serving its own clients: while the publisher is not
//! connected, publishes are dropped at once (not queued) and counted in
//! `roomcast_cluster_publish_failures_total`; a full queue drops too. Both connections reconnect
//! with exponential backoff (100 ms doubling to 5 s), and the subscriber subscribes its patterns
//! again. Broadcasts published while a node was cut off are lost for it, as with Node's adapter.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use actix::Arbiter;
use bytes::Bytes;
use futures_util::StreamExt;
use metrics::Counter;
use parking_lot::Mutex;
use tokio::sync::mpsc;

use crate::metrics::Metrics;

/// The receiving end of a publisher's queue: `(channel, payload)`.
pub(crate) type PublishQueue = mpsc::Receiver<(String, Vec<u8>)>;

/// What a subscription does with a message: `(channel, payload)`.
pub type Handler = Arc<dyn Fn(&str, Bytes) + Send + Sync>;

/// Publishes waiting for the publisher; past this, publishes are dropped and counted.
pub const PUBLISH_QUEUE: usize = 4096;
/// Publishes sent to Redis in one pipeline, at most.
pub(crate) const PIPELINE: usize = 256;

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
    failures: Counter,
    started: OnceLock<Started>,
}

struct Started {
    arbiter: Arbiter,
    publisher: Publisher,
    subscribe: mpsc::UnboundedSender<Topic>,
}

/// The publishing half of a link: a bounded queue feeding one connection that sends what it
/// holds as pipelines of `command channel payload` (`PUBLISH`, or `SPUBLISH` for the sharded
/// adapter), reconnecting with backoff.
pub(crate) struct Publisher {
    queue: mpsc::Sender<(String, Vec<u8>)>,
    connected: Arc<AtomicBool>,
    failures: Counter,
}

impl Publisher {
    /// Starts the publisher of `client` on `arbiter`, counting what it drops in `failures`.
    pub(crate) fn spawn(
        arbiter: &Arbiter,
        client: redis::Client,
        command: &'static str,
        failures: Counter,
    ) -> Self {
        Self::spawn_with(arbiter, failures, |rx, connected, failures| {
            publisher(client, rx, connected, failures, command)
        })
    }

    /// Starts `task` on `arbiter` as the publisher: it takes what the queue holds, says whether
    /// it is connected and counts what it fails to publish.
    pub(crate) fn spawn_with<F>(
        arbiter: &Arbiter,
        failures: Counter,
        task: impl FnOnce(PublishQueue, Arc<AtomicBool>, Counter) -> F,
    ) -> Self
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        let (queue, rx) = mpsc::channel(PUBLISH_QUEUE);
        let connected = Arc::new(AtomicBool::new(false));
        arbiter.spawn(task(rx, connected.clone(), failures.clone()));
        Publisher {
            queue,
            connected,
            failures,
        }
    }

    /// Queues `payload` for `channel`, or drops it (counted) when Redis is unreachable or the
    /// queue is full. Never waits.
    pub(crate) fn publish(&self, channel: String, payload: Vec<u8>) {
        if !self.is_connected() || self.queue.try_send((channel, payload)).is_err() {
            self.failures.increment(1);
        }
    }

    /// Whether the connection is up now.
    pub(crate) fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Acquire)
    }
}

/// The failure counter of the cluster's publishes (`roomcast_cluster_publish_failures_total`).
pub(crate) fn publish_failures(metrics: &Metrics) -> Counter {
    metrics.labelled_counter(
        "roomcast_cluster_publish_failures_total",
        "reason",
        "unavailable",
    )
}

impl RedisLink {
    /// A link to the Redis of `client`, counting failures in `metrics`. Connects on first use,
    /// from inside the actix system.
    pub fn new(client: redis::Client, metrics: &Metrics) -> Self {
        RedisLink {
            client,
            patterns: Arc::default(),
            failures: publish_failures(metrics),
            started: OnceLock::new(),
        }
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
            let publisher = Publisher::spawn(&arbiter, client, "PUBLISH", failures);
            let (subscribe, subscribe_rx) = mpsc::unbounded_channel();
            let (client, patterns) = (self.client.clone(), self.patterns.clone());
            arbiter.spawn(subscriber(client, patterns, subscribe_rx));
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

    /// How many connections `SUBSCRIBE` `channel` (`PUBSUB NUMSUB`), on a connection of its own;
    /// `None` when Redis does not answer within two seconds.
    pub async fn numsub(&self, channel: &str) -> Option<usize> {
        subscribers(&self.client, "NUMSUB", channel).await
    }

    /// Whether the publisher is connected now.
    pub fn is_connected(&self) -> bool {
        self.started
            .get()
            .is_some_and(|s| s.publisher.is_connected())
    }
}

/// `PUBSUB <which> channel` (`NUMSUB`, or `SHARDNUMSUB` for sharded channels) on a connection of
/// its own: how many connections subscribe `channel`; `None` when Redis does not answer within
/// two seconds.
pub(crate) async fn subscribers(
    client: &redis::Client,
    which: &str,
    channel: &str,
) -> Option<usize> {
    let query = async {
        let mut conn = client.get_multiplexed_async_connection().await?;
        redis::cmd("PUBSUB")
            .arg(which)
            .arg(channel)
            .query_async::<(String, usize)>(&mut conn)
            .await
    };
    match tokio::time::timeout(Duration::from_secs(2), query).await {
        Ok(Ok((_, n))) => Some(n),
        Ok(Err(e)) => {
            tracing::debug!(error = %e, which, "cluster: PUBSUB failed");
            None
        }
        Err(_) => None,
    }
}

impl Drop for RedisLink {
    fn drop(&mut self) {
        if let Some(started) = self.started.take() {
            started.arbiter.stop();
        }
    }
}

/// Exponential backoff between reconnection attempts.
pub(crate) struct Backoff(Duration);

impl Backoff {
    const FIRST: Duration = Duration::from_millis(100);
    const MAX: Duration = Duration::from_secs(5);

    /// The first wait.
    pub(crate) fn new() -> Self {
        Backoff(Self::FIRST)
    }

    /// Back to the first wait (after a successful connection).
    pub(crate) fn reset(&mut self) {
        self.0 = Self::FIRST;
    }

    /// Waits, and doubles the next wait (up to 5 s).
    pub(crate) async fn wait(&mut self) {
        actix_rt::time::sleep(self.0).await;
        self.0 = (self.0 * 2).min(Self::MAX);
    }
}

async fn publisher(
    client: redis::Client,
    mut queue: PublishQueue,
    connected: Arc<AtomicBool>,
    failures: Counter,
    command: &'static str,
) {
    let mut backoff = Backoff::new();
    let mut batch = Vec::with_capacity(PIPELINE);
    loop {
        match client.get_multiplexed_async_connection().await {
            Ok(mut conn) => {
                tracing::info!("cluster: Redis publisher connected");
                connected.store(true, Ordering::Release);
                backoff.reset();
                loop {
                    if queue.recv_many(&mut batch, PIPELINE).await == 0 {
                        return;
                    }
                    let (mut pipe, sent) = (redis::pipe(), batch.len() as u64);
                    for (channel, payload) in batch.drain(..) {
                        pipe.cmd(command).arg(channel).arg(payload).ignore();
                    }
                    if let Err(e) = pipe.query_async::<()>(&mut conn).await {
                        failures.increment(sent);
                        tracing::warn!(error = %e, "cluster: Redis publish failed; reconnecting");
                        break;
                    }
                }
                connected.store(false, Ordering::Release);
            }
            Err(e) => tracing::warn!(error = %e, "cluster: cannot connect to Redis to publish"),
        }
        // Whatever was queued before the adapters saw the disconnection is dropped too.
        while let Ok(_dropped) = queue.try_recv() {
            failures.increment(1);
        }
        backoff.wait().await;
    }
}

async fn subscriber(
    client: redis::Client,
    patterns: Patterns,
    mut added: mpsc::UnboundedReceiver<Topic>,
) {
    let mut backoff = Backoff::new();
    loop {
        match subscription(&client, &patterns, &mut added, &mut backoff).await {
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
) -> redis::RedisResult<()> {
    let (mut sink, mut stream) = client.get_async_pubsub().await?.split();
    // Patterns added from here on arrive on `added`; those before are in the map.
    while added.try_recv().is_ok() {}
    let current: Vec<Topic> = patterns.lock().keys().cloned().collect();
    for topic in current {
        subscribe(&mut sink, topic).await?;
    }
    tracing::info!("cluster: Redis subscriber connected");
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
