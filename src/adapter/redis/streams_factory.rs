//! [`StreamsAdapterFactory`]: the Redis Streams adapter of each namespace, all sharing one
//! [`StreamLink`] (one writer and one reader connection per node).

use std::sync::Arc;
use std::time::Duration;

use crate::adapter::local::ArbiterPool;
use crate::adapter::redis::bus::Bus;
use crate::adapter::redis::bus::PlainBus;
use crate::adapter::redis::channel::SubscriptionMode;
use crate::adapter::redis::link::RedisLink;
use crate::adapter::redis::options::DEFAULT_REQUEST_TIMEOUT;
use crate::adapter::redis::sharded_peers::{Shard, ShardSettings};
use crate::adapter::redis::stream_link::{StreamLink, StreamSettings};
use crate::adapter::redis::streams::StreamsAdapter;
use crate::adapter::{Adapter, AdapterFactory, LinkState};
use crate::metrics::Metrics;
use crate::protocol::ids::Sid;
use crate::protocol::socketio::Parser;
use crate::room::Member;

/// Makes a [`StreamsAdapter`] for each namespace, all sharing one [`StreamLink`].
///
/// A library server in a streams cluster with connection state recovery (what `[cluster]
/// adapter = "redis-streams"` with `[recovery] enabled = true` builds):
///
/// ```no_run
/// use std::sync::Arc;
/// use roomcast::adapter::redis::stream_link::StreamSettings;
/// use roomcast::adapter::redis::streams::StreamsAdapterFactory;
/// use roomcast::{Server, ServerOptions};
///
/// let client = redis::Client::open("redis://127.0.0.1:6379").expect("a Redis URL");
/// let mut options = ServerOptions::default();
/// options.recovery.enabled = true;
/// let (parser, ttl) = (options.parser, options.recovery.bounds.max_disconnection);
/// let server = Server::with_adapter_from(options, |pool, metrics| {
///     let factory = StreamsAdapterFactory::new(client, StreamSettings::default(), parser, pool, metrics)
///         .with_recovery(Some(ttl));
///     factory.start();
///     Arc::new(factory)
/// });
/// ```
pub struct StreamsAdapterFactory {
    link: Arc<StreamLink>,
    bus: Arc<PlainBus>,
    shard: ShardSettings,
    parser: Parser,
    recovery: Option<Duration>,
    pool: Arc<ArbiterPool>,
    metrics: Arc<Metrics>,
}

impl StreamsAdapterFactory {
    /// Adapters appending to and reading the stream `settings` name on the Redis of `client`
    /// (and its pub/sub channels `socket.io#<nsp>#`, Node's default `channelPrefix`),
    /// delivering to sockets encoded with `parser`, their room supervisors on `pool`. Without
    /// [`StreamsAdapterFactory::with_recovery`] no session is kept; requests to the other servers
    /// wait 5 s unless [`StreamsAdapterFactory::with_request_timeout`] says otherwise.
    pub fn new(
        client: redis::Client,
        settings: StreamSettings,
        parser: Parser,
        pool: Arc<ArbiterPool>,
        metrics: Arc<Metrics>,
    ) -> Self {
        let bus = Arc::new(PlainBus::new(RedisLink::new(client.clone(), &metrics)));
        StreamsAdapterFactory {
            link: Arc::new(StreamLink::new(client, settings, &metrics)),
            bus,
            shard: ShardSettings {
                key: "socket.io".to_owned(),
                mode: SubscriptionMode::Static,
                request_timeout: DEFAULT_REQUEST_TIMEOUT,
                node_id: Sid::new().to_string(),
            },
            parser,
            recovery: None,
            pool,
            metrics,
        }
    }

    /// Connection state recovery across the cluster: sessions kept in Redis for `ttl` (the
    /// server's `max_disconnection`), offsets from the stream; `None` turns it off.
    pub fn with_recovery(mut self, ttl: Option<Duration>) -> Self {
        self.recovery = ttl;
        self
    }

    /// How long a request to the other servers (fetching sockets, counting recipients,
    /// server-side events with replies) waits for their answers (`[cluster] request_timeout_ms`).
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.shard.request_timeout = timeout;
        self
    }

    /// Connects to Redis now rather than when the first namespace needs its adapter.
    pub fn start(&self) {
        self.link.start();
        self.bus.start();
    }
}

impl<M: Member> AdapterFactory<M> for StreamsAdapterFactory {
    fn create(&self, nsp: &str) -> Arc<dyn Adapter<M>> {
        let settings = (self.parser, self.recovery);
        let shard = Shard::new(self.bus.clone(), &self.shard, nsp);
        Arc::new(StreamsAdapter::new(
            self.link.clone(),
            shard,
            settings,
            &self.pool,
            &self.metrics,
        ))
    }

    fn link_state(&self) -> LinkState {
        LinkState::linked(self.link.is_connected() && self.bus.is_connected())
    }

    fn node_id(&self) -> Option<String> {
        Some(self.shard.node_id.clone())
    }

    fn keeps_sessions(&self) -> bool {
        self.recovery.is_some()
    }
}
