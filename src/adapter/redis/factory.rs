//! [`RedisAdapterFactory`]: the classic Redis adapter of each namespace, all sharing one
//! [`RedisLink`] (one publisher and one subscriber connection per node).

use std::sync::Arc;

use crate::adapter::local::{ArbiterPool, LocalAdapter};
use crate::adapter::redis::adapter::RedisAdapter;
use crate::adapter::redis::link::RedisLink;
use crate::adapter::redis::options::RedisAdapterOptions;
use crate::adapter::{Adapter, AdapterFactory, LinkState};
use crate::metrics::Metrics;
use crate::protocol::socketio::Parser;
use crate::room::Member;

/// Makes a [`RedisAdapter`] for each namespace, all sharing one [`RedisLink`].
pub struct RedisAdapterFactory {
    link: Arc<RedisLink>,
    options: RedisAdapterOptions,
    parser: Parser,
    pool: Arc<ArbiterPool>,
    pub(super) metrics: Arc<Metrics>,
}

impl RedisAdapterFactory {
    /// Adapters publishing under `options.key` on the Redis of `client`
    /// (`redis::Client::open(url)`), delivering to sockets encoded with `parser`, their room
    /// supervisors on `pool`.
    pub fn new(
        client: redis::Client,
        options: RedisAdapterOptions,
        parser: Parser,
        pool: Arc<ArbiterPool>,
        metrics: Arc<Metrics>,
    ) -> Self {
        RedisAdapterFactory {
            link: Arc::new(RedisLink::new(client, &metrics)),
            options,
            parser,
            pool,
            metrics,
        }
    }
}

impl RedisAdapterFactory {
    /// Connects to Redis now rather than when the first namespace needs its adapter (a
    /// namespace's adapter, and its subscription, is made on first use).
    pub fn start(&self) {
        self.link.start();
    }
}

impl<M: Member> AdapterFactory<M> for RedisAdapterFactory {
    fn create(&self, nsp: &str) -> Arc<dyn Adapter<M>> {
        let local = Arc::new(LocalAdapter::new(&self.pool.handles(), &self.metrics));
        Arc::new(RedisAdapter::new(
            self.link.clone(),
            &self.options,
            nsp,
            self.parser,
            local,
        ))
    }

    fn link_state(&self) -> LinkState {
        LinkState::linked(self.link.is_connected())
    }

    fn node_id(&self) -> Option<String> {
        Some(self.link.node_id().to_owned())
    }
}
