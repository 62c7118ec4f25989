//! The publishing half of a Redis link, shared by the classic and the sharded adapters: a bounded
//! queue feeding one multiplexed connection that sends what it holds as pipelines of
//! `command channel payload` (`PUBLISH`, or `SPUBLISH`), reconnecting with backoff; the same
//! connection answers `PUBSUB` queries. `Health` says which of a link's connections are up.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix::Arbiter;
use metrics::{Counter, Gauge};
use parking_lot::Mutex;
use tokio::sync::mpsc;

use crate::metrics::Metrics;

/// Publishes waiting for the publisher; past this, publishes are dropped and counted.
pub const PUBLISH_QUEUE: usize = 4096;
/// Publishes sent to Redis in one pipeline, at most.
pub(crate) const PIPELINE: usize = 256;

/// The receiving end of a publisher's queue: `(channel, payload)`.
pub(crate) type PublishQueue = mpsc::Receiver<(String, Vec<u8>)>;

/// The publisher's connection while it is up, shared with the queries (`PUBSUB NUMSUB`).
pub(crate) type Shared = Arc<Mutex<Option<redis::aio::MultiplexedConnection>>>;

/// Whether each of a link's two connections is up, mirrored in the gauge
/// `roomcast_cluster_redis_connected` (1 when both are).
pub(crate) struct Health {
    publisher: AtomicBool,
    subscriber: AtomicBool,
    gauge: Gauge,
    /// Told when the subscriber loses Redis: the publisher's connection is most likely gone too,
    /// and it reconnects rather than losing its next publishes on a dead connection.
    lost: tokio::sync::Notify,
}

impl Health {
    /// Both connections down, the gauge at 0.
    pub(crate) fn new(metrics: &Metrics) -> Arc<Self> {
        Self::with_gauge(metrics, "roomcast_cluster_redis_connected")
    }

    /// [`Health::new`], mirrored in the gauge `name` (a second link of one node has its own).
    pub(crate) fn with_gauge(metrics: &Metrics, name: &'static str) -> Arc<Self> {
        let gauge = metrics.gauge(name, &[]);
        gauge.set(0.0);
        Arc::new(Health {
            publisher: AtomicBool::new(false),
            subscriber: AtomicBool::new(false),
            gauge,
            lost: tokio::sync::Notify::new(),
        })
    }

    fn set(&self, which: &AtomicBool, up: bool) {
        which.store(up, Ordering::Release);
        self.gauge.set(f64::from(u8::from(self.up())));
    }

    /// The publisher is connected or not.
    pub(crate) fn publisher(&self, up: bool) {
        self.set(&self.publisher, up);
    }

    /// The subscriber is up (subscribed) or down; when down, the publisher reconnects too.
    pub(crate) fn subscriber(&self, up: bool) {
        self.set(&self.subscriber, up);
        if !up {
            self.lost.notify_waiters();
        }
    }

    /// Resolves the next time the subscriber loses Redis.
    pub(crate) async fn lost(&self) {
        self.lost.notified().await;
    }

    /// Whether both connections are up.
    pub(crate) fn up(&self) -> bool {
        self.publisher.load(Ordering::Acquire) && self.subscriber.load(Ordering::Acquire)
    }
}

/// The publishing half of a link (see the module docs).
pub(crate) struct Publisher {
    queue: mpsc::Sender<(String, Vec<u8>)>,
    health: Arc<Health>,
    shared: Shared,
    failures: Counter,
}

impl Publisher {
    /// Starts the publisher of `client` on `arbiter`, sending `command`, reporting to `health`,
    /// counting what it drops in `failures`.
    pub(crate) fn spawn(
        arbiter: &Arbiter,
        client: redis::Client,
        command: &'static str,
        failures: Counter,
        health: Arc<Health>,
    ) -> Self {
        let shared = Shared::default();
        let up = shared.clone();
        Self::spawn_with(arbiter, failures, health, shared, |rx, health, failures| {
            publisher(client, rx, (health, up), failures, command)
        })
    }

    /// Starts `task` on `arbiter` as the publisher: it takes what the queue holds, tells
    /// `health` whether it is connected, counts what it fails to publish, and puts its
    /// connection in `shared` for `PUBSUB` queries if it has one of that kind.
    pub(crate) fn spawn_with<F>(
        arbiter: &Arbiter,
        failures: Counter,
        health: Arc<Health>,
        shared: Shared,
        task: impl FnOnce(PublishQueue, Arc<Health>, Counter) -> F,
    ) -> Self
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        let (queue, rx) = mpsc::channel(PUBLISH_QUEUE);
        arbiter.spawn(task(rx, health.clone(), failures.clone()));
        Publisher {
            queue,
            health,
            shared,
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
        self.health.publisher.load(Ordering::Acquire)
    }

    /// `PUBSUB <which> channel` (`NUMSUB`, or `SHARDNUMSUB` for sharded channels), asked on the
    /// publisher's connection (one connection for every query, not one per request): how many
    /// connections subscribe `channel`. `None` at once while the publisher is not connected, and
    /// when Redis does not answer within two seconds.
    pub(crate) async fn subscribers(&self, which: &str, channel: &str) -> Option<usize> {
        let mut conn = self.shared.lock().clone()?;
        query_subscribers(&mut conn, which, channel).await
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

/// `PUBSUB <which> channel` on a connection of its own (for a server other than the publisher's):
/// how many connections subscribe `channel`; `None` when Redis does not answer within two seconds.
pub(crate) async fn subscribers(
    client: &redis::Client,
    which: &str,
    channel: &str,
) -> Option<usize> {
    let connect = client.get_multiplexed_async_connection();
    match tokio::time::timeout(Duration::from_secs(2), connect).await {
        Ok(Ok(mut conn)) => query_subscribers(&mut conn, which, channel).await,
        Ok(Err(e)) => {
            tracing::debug!(error = %e, which, "cluster: cannot connect to ask PUBSUB");
            None
        }
        Err(_) => None,
    }
}

/// `PUBSUB <which> channel` on `conn`; `None` when Redis does not answer within two seconds.
async fn query_subscribers(
    conn: &mut redis::aio::MultiplexedConnection,
    which: &str,
    channel: &str,
) -> Option<usize> {
    let mut cmd = redis::cmd("PUBSUB");
    cmd.arg(which).arg(channel);
    let query = cmd.query_async::<(String, usize)>(conn);
    match tokio::time::timeout(Duration::from_secs(2), query).await {
        Ok(Ok((_, n))) => Some(n),
        Ok(Err(e)) => {
            tracing::debug!(error = %e, which, "cluster: PUBSUB failed");
            None
        }
        Err(_) => None,
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
    (health, shared): (Arc<Health>, Shared),
    failures: Counter,
    command: &'static str,
) {
    let mut backoff = Backoff::new();
    let mut batch = Vec::with_capacity(PIPELINE);
    loop {
        match client.get_multiplexed_async_connection().await {
            Ok(mut conn) => {
                tracing::info!("cluster: Redis publisher connected");
                *shared.lock() = Some(conn.clone());
                health.set(&health.publisher, true);
                backoff.reset();
                loop {
                    let received = tokio::select! {
                        n = queue.recv_many(&mut batch, PIPELINE) => n,
                        () = health.lost.notified() => {
                            tracing::info!("cluster: Redis lost; the publisher reconnects too");
                            break;
                        }
                    };
                    if received == 0 {
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
                health.set(&health.publisher, false);
                *shared.lock() = None;
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
