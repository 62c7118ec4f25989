//! One node's link to the Redis stream of the Redis Streams adapter: a writer (one multiplexed
//! connection fed by a bounded queue, sending `XADD <stream> MAXLEN ~ <max_len> * <fields>` in
//! pipelines and handing each entry's id back, in order) and a reader (its own connection in an
//! `XREAD BLOCK <ms> COUNT <read_count> STREAMS <stream> <last id>` loop, starting at `$`, handing
//! each entry to the adapter of its namespace), both on an arbiter of their own and reconnecting
//! with backoff. After a reconnection the reader goes on from the last id it saw, so a short
//! outage loses nothing that reached the stream. The writer's connection also serves the session
//! keys and `XRANGE` reads of connection state recovery.
//!
//! Its connections' state is the gauge `roomcast_cluster_redis_stream_connected` (1 when both are
//! up; the pub/sub link of the same node keeps `roomcast_cluster_redis_connected`).
//!
//! While the writer is down an append is not queued: its callback gets `None` at once (the
//! adapter then delivers locally without an offset) and it is counted in
//! `roomcast_cluster_publish_failures_total`, as the other adapters' publishes.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use actix::Arbiter;
use metrics::Counter;
use parking_lot::Mutex;
use redis::Value as Reply;
use tokio::sync::mpsc;

use crate::adapter::redis::cluster_wire::ClusterMessage;
use crate::adapter::redis::link::{publish_failures, Backoff, Health, PIPELINE};
use crate::adapter::redis::publisher::PUBLISH_QUEUE;
use crate::adapter::redis::stream_wire::decode_entry;
use crate::metrics::Metrics;

/// How long the reader's `XREAD` blocks for new entries (Node's `blockTimeInMs`).
pub const BLOCK: Duration = Duration::from_millis(5000);

/// What the adapter of a namespace does with another server's entry: `(message, entry id)`.
pub type EntryHandler = Arc<dyn Fn(ClusterMessage, &str) + Send + Sync>;

/// Told the entry id of an append (`None`: not written).
pub type Appended = Box<dyn FnOnce(Option<String>) + Send>;

/// The stream's name and bounds (Node's `streamName`, `maxLen`, `readCount`) and the session
/// key prefix (`sessionKeyPrefix`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSettings {
    /// The stream's key.
    pub stream: String,
    /// Roughly how many entries the stream keeps (`MAXLEN ~`).
    pub max_len: usize,
    /// Most entries one `XREAD` returns.
    pub read_count: usize,
    /// The prefix of a kept session's key (`sio:session:`).
    pub session_prefix: String,
}

impl Default for StreamSettings {
    fn default() -> Self {
        StreamSettings {
            stream: "socket.io".to_owned(),
            max_len: 10_000,
            read_count: 100,
            session_prefix: "sio:session:".to_owned(),
        }
    }
}

type Shared = Arc<Mutex<Option<redis::aio::MultiplexedConnection>>>;
type Handlers = Arc<Mutex<HashMap<String, EntryHandler>>>;

struct Append {
    fields: Vec<(&'static str, String)>,
    done: Option<Appended>,
}

impl Append {
    fn finish(self, id: Option<String>) {
        if let Some(done) = self.done {
            done(id);
        }
    }
}

/// One node's link to the stream, shared by the adapters of every namespace.
pub struct StreamLink {
    client: redis::Client,
    settings: StreamSettings,
    health: Arc<Health>,
    failures: Counter,
    handlers: Handlers,
    shared: Shared,
    started: OnceLock<(Arbiter, mpsc::Sender<Append>)>,
}

impl StreamLink {
    /// A link to the Redis of `client`, counting failures in `metrics`. Connects on first use,
    /// from inside the actix system.
    pub fn new(client: redis::Client, settings: StreamSettings, metrics: &Metrics) -> Self {
        StreamLink {
            client,
            settings,
            health: Health::with_gauge(metrics, "roomcast_cluster_redis_stream_connected"),
            failures: publish_failures(metrics),
            handlers: Handlers::default(),
            shared: Shared::default(),
            started: OnceLock::new(),
        }
    }

    /// The settings it was made with.
    pub fn settings(&self) -> &StreamSettings {
        &self.settings
    }

    /// Starts connecting now rather than on first use.
    pub fn start(&self) {
        self.started();
    }

    fn started(&self) -> &mpsc::Sender<Append> {
        &self
            .started
            .get_or_init(|| {
                let arbiter = Arbiter::new();
                let (queue, rx) = mpsc::channel(PUBLISH_QUEUE);
                let (client, health) = (self.client.clone(), self.health.clone());
                let writer = Writer {
                    settings: self.settings.clone(),
                    shared: self.shared.clone(),
                    failures: self.failures.clone(),
                };
                arbiter.spawn(writer.run(client.clone(), rx, health.clone()));
                let reader = reader(client, self.settings.clone(), self.handlers.clone(), health);
                arbiter.spawn(reader);
                (arbiter, queue)
            })
            .1
    }

    /// Appends an entry of `fields`; `done` (if any) is told its id, or `None` when Redis is
    /// unreachable or the queue is full. Never waits; `done` runs on the link's arbiter, in the
    /// order of the appends.
    pub fn append(&self, fields: Vec<(&'static str, String)>, done: Option<Appended>) {
        let append = Append { fields, done };
        let append = if self.is_connected() {
            match self.started().try_send(append) {
                Ok(()) => return,
                Err(e) => e.into_inner(),
            }
        } else {
            append
        };
        self.failures.increment(1);
        append.finish(None);
    }

    /// Hands the entries of namespace `nsp` to `handler`.
    pub fn listen(&self, nsp: &str, handler: EntryHandler) {
        self.started();
        self.handlers.lock().insert(nsp.to_owned(), handler);
    }

    /// Whether the writer and the reader are connected.
    pub fn is_connected(&self) -> bool {
        self.health.up()
    }

    /// The writer's connection, if it is up.
    pub fn connection(&self) -> Option<redis::aio::MultiplexedConnection> {
        self.started();
        self.shared.lock().clone()
    }
}

impl Drop for StreamLink {
    fn drop(&mut self) {
        if let Some((arbiter, _)) = self.started.take() {
            arbiter.stop();
        }
    }
}

struct Writer {
    settings: StreamSettings,
    shared: Shared,
    failures: Counter,
}

impl Writer {
    async fn run(
        self,
        client: redis::Client,
        mut queue: mpsc::Receiver<Append>,
        health: Arc<Health>,
    ) {
        let mut backoff = Backoff::new();
        let mut batch = Vec::with_capacity(PIPELINE);
        loop {
            match client.get_multiplexed_async_connection().await {
                Ok(mut conn) => {
                    tracing::info!("cluster: Redis stream writer connected");
                    *self.shared.lock() = Some(conn.clone());
                    health.publisher(true);
                    backoff.reset();
                    loop {
                        // The reader losing Redis means this connection is most likely gone too:
                        // reconnect rather than lose the next appends on it.
                        let received = tokio::select! {
                            n = queue.recv_many(&mut batch, PIPELINE) => n,
                            () = health.lost() => {
                                tracing::info!("cluster: Redis lost; the stream writer reconnects too");
                                break;
                            }
                        };
                        if received == 0 || !self.write(&mut conn, &mut batch).await {
                            break;
                        }
                    }
                    if queue.is_closed() && queue.is_empty() {
                        return;
                    }
                    health.publisher(false);
                    *self.shared.lock() = None;
                }
                Err(e) => tracing::warn!(error = %e, "cluster: cannot connect to Redis to append"),
            }
            while let Ok(append) = queue.try_recv() {
                self.failures.increment(1);
                append.finish(None);
            }
            backoff.wait().await;
        }
    }

    /// Sends `batch` as one pipeline and tells each append its id; `false` when the connection
    /// failed (each append told `None`).
    async fn write(
        &self,
        conn: &mut redis::aio::MultiplexedConnection,
        batch: &mut Vec<Append>,
    ) -> bool {
        let mut pipe = redis::pipe();
        for append in batch.iter() {
            let cmd = pipe.cmd("XADD").arg(&self.settings.stream);
            cmd.arg("MAXLEN")
                .arg("~")
                .arg(self.settings.max_len)
                .arg("*");
            for (name, value) in &append.fields {
                cmd.arg(*name).arg(value);
            }
        }
        match pipe.query_async::<Vec<String>>(conn).await {
            Ok(ids) => {
                let mut ids = ids.into_iter();
                for append in batch.drain(..) {
                    append.finish(ids.next());
                }
                true
            }
            Err(e) => {
                self.failures.increment(batch.len() as u64);
                tracing::warn!(error = %e, "cluster: Redis XADD failed; reconnecting");
                batch.drain(..).for_each(|a| a.finish(None));
                false
            }
        }
    }
}

async fn reader(
    client: redis::Client,
    settings: StreamSettings,
    handlers: Handlers,
    health: Arc<Health>,
) {
    let mut backoff = Backoff::new();
    let mut last = "$".to_owned();
    let config = redis::AsyncConnectionConfig::new().set_response_timeout(Some(BLOCK * 2));
    loop {
        match client
            .get_multiplexed_async_connection_with_config(&config)
            .await
        {
            Ok(mut conn) => {
                tracing::info!("cluster: Redis stream reader connected");
                health.subscriber(true);
                backoff.reset();
                let e = read(&mut conn, &settings, &handlers, &mut last).await;
                tracing::warn!(error = %e, "cluster: Redis stream read failed; reconnecting");
                health.subscriber(false);
            }
            Err(e) => tracing::warn!(error = %e, "cluster: cannot connect to Redis to read"),
        }
        backoff.wait().await;
    }
}

/// Reads and dispatches entries after `last` until a read fails.
async fn read(
    conn: &mut redis::aio::MultiplexedConnection,
    settings: &StreamSettings,
    handlers: &Handlers,
    last: &mut String,
) -> redis::RedisError {
    loop {
        let mut cmd = redis::cmd("XREAD");
        cmd.arg("BLOCK").arg(BLOCK.as_millis() as u64);
        cmd.arg("COUNT").arg(settings.read_count);
        cmd.arg("STREAMS").arg(&settings.stream).arg(&*last);
        let reply = match cmd.query_async::<Reply>(conn).await {
            Ok(reply) => reply,
            Err(e) => return e,
        };
        let entries = match reply {
            Reply::Array(streams) => streams.into_iter().next().and_then(|s| match s {
                Reply::Array(mut pair) if pair.len() == 2 => Some(pair.remove(1)),
                _ => None,
            }),
            _ => None,
        };
        for (id, fields) in entries.map(parse_entries).unwrap_or_default() {
            *last = id.clone();
            let message = match decode_entry(&fields) {
                Ok(message) => message,
                Err(e) => {
                    tracing::debug!(%id, error = %e, "cluster: ignored an undecodable entry");
                    continue;
                }
            };
            let handler = handlers.lock().get(&message.nsp).cloned();
            if let Some(handler) = handler {
                handler(message, &id);
            }
        }
    }
}

/// The entries of an `XRANGE` (or one stream of an `XREAD`) reply: `[[id, [field, value, ...]], ...]`.
pub fn parse_entries(reply: Reply) -> Vec<(String, Vec<(String, String)>)> {
    let text = |v: Reply| match v {
        Reply::BulkString(b) => String::from_utf8(b).ok(),
        Reply::SimpleString(s) => Some(s),
        _ => None,
    };
    let Reply::Array(items) = reply else {
        return Vec::new();
    };
    items
        .into_iter()
        .filter_map(|item| {
            let Reply::Array(mut pair) = item else {
                return None;
            };
            if pair.len() != 2 {
                return None;
            }
            let Reply::Array(flat) = pair.pop()? else {
                return None;
            };
            let id = text(pair.pop()?)?;
            let mut fields = Vec::with_capacity(flat.len() / 2);
            let mut flat = flat.into_iter();
            while let (Some(k), Some(v)) = (flat.next(), flat.next()) {
                fields.push((text(k)?, text(v)?));
            }
            Some((id, fields))
        })
        .collect()
}
