//! [`ShardedAdapterFactory`]: the sharded Redis adapter of each namespace, all sharing one
//! [`ShardedLink`] (one publisher and one subscriber connection per node) and one node id.

use std::sync::Arc;
use std::time::Duration;

use crate::adapter::local::ArbiterPool;
use crate::adapter::redis::channel::SubscriptionMode;
use crate::adapter::redis::options::DEFAULT_REQUEST_TIMEOUT;
use crate::adapter::redis::shard_link::{ShardedLink, ShardedRedis};
use crate::adapter::redis::sharded::ShardedAdapter;
use crate::adapter::redis::sharded_peers::{Shard, ShardSettings};
use crate::adapter::{Adapter, AdapterFactory, LinkState};
use crate::metrics::Metrics;
use crate::protocol::ids::Sid;
use crate::protocol::socketio::Parser;
use crate::room::Member;

/// Makes a [`ShardedAdapter`] for each namespace, all sharing one [`ShardedLink`].
///
/// A library server in a sharded cluster on a Redis Cluster (what `[cluster] adapter =
/// "redis-sharded"` with `redis_cluster = true` builds; for one Redis server, pass
/// `redis::Client::open(url)` instead):
///
/// ```no_run
/// use std::sync::Arc;
/// use std::time::Duration;
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
///     let factory = ShardedAdapterFactory::new(client, "socket.io", mode, parser, pool, metrics)
///         .with_request_timeout(Duration::from_secs(2));
///     factory.start();
///     Arc::new(factory)
/// });
/// ```
pub struct ShardedAdapterFactory {
    pub(super) link: Arc<ShardedLink>,
    pub(super) settings: ShardSettings,
    pub(super) parser: Parser,
    pub(super) pool: Arc<ArbiterPool>,
    pub(super) metrics: Arc<Metrics>,
}

impl ShardedAdapterFactory {
    /// Adapters publishing under `key` (Node's `channelPrefix`) on `redis`: one server
    /// (`redis::Client::open(url)`, Redis >= 7) or a Redis Cluster
    /// ([`ShardedRedis::cluster`]`(seed urls)`, each channel on the master owning its slot),
    /// subscribing to rooms as `mode` says, delivering to sockets encoded with `parser`, their
    /// room supervisors on `pool`. Requests to the other
    /// servers wait 5 s for their answers unless [`ShardedAdapterFactory::with_request_timeout`]
    /// says otherwise.
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
            settings: ShardSettings {
                key: key.to_owned(),
                mode,
                request_timeout: DEFAULT_REQUEST_TIMEOUT,
                node_id: Sid::new().to_string(),
            },
            parser,
            pool,
            metrics,
        }
    }

    /// How long a request to the other servers (fetching sockets, counting recipients,
    /// server-side events with replies) waits for their answers before it ends with what
    /// arrived (`[cluster] request_timeout_ms`).
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.settings.request_timeout = timeout;
        self
    }

    /// Connects to Redis now rather than when the first namespace needs its adapter.
    pub fn start(&self) {
        self.link.start();
    }
}

impl<M: Member> AdapterFactory<M> for ShardedAdapterFactory {
    fn create(&self, nsp: &str) -> Arc<dyn Adapter<M>> {
        let shard = Shard::new(self.link.clone(), &self.settings, nsp);
        Arc::new(ShardedAdapter::new(
            shard,
            self.parser,
            &self.pool,
            &self.metrics,
        ))
    }

    fn link_state(&self) -> LinkState {
        LinkState::linked(self.link.is_connected())
    }

    fn node_id(&self) -> Option<String> {
        Some(self.settings.node_id.clone())
    }
}
