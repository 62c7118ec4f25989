//! [`Bus`]: the pub/sub a [`super::sharded_peers::Shard`] speaks the `ClusterAdapter` format
//! over. Sharded pub/sub (`SPUBLISH`/`SSUBSCRIBE`, counted with `SHARDNUMSUB`) for the sharded
//! adapter ([`ShardedLink`]); classic pub/sub (`PUBLISH`/`SUBSCRIBE`, counted with `NUMSUB`),
//! every message msgpack, for the Redis Streams adapter's messages that do not go through the
//! stream ([`PlainBus`]).

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::adapter::redis::cluster_wire::ClusterMessage;
use crate::adapter::redis::link::{Handler, RedisLink, Topic};
use crate::adapter::redis::shard_link::ShardedLink;
use crate::adapter::redis::wire::encode_msgpack;
use crate::adapter::BoxFuture;

/// Publishing and listening on channels, and counting a channel's subscribers.
pub trait Bus: Send + Sync + 'static {
    /// Publishes `payload` on `channel` (dropped, counted, while the link is down). Never waits.
    fn publish(&self, channel: String, payload: Vec<u8>);
    /// Hands every message on `channel` to `handler`, from now on and after reconnections.
    fn listen(&self, channel: String, handler: Handler);
    /// Stops handing `channel`'s messages to its handler.
    fn forget(&self, channel: &str);
    /// Whether the link is up.
    fn is_connected(&self) -> bool;
    /// How many connections subscribe `channel`; `None` when Redis cannot tell.
    fn subscribers(self: Arc<Self>, channel: String) -> BoxFuture<Option<usize>>;
    /// `message` as this bus carries it: JSON unless it has binary (the format's rule).
    fn encode(&self, message: &ClusterMessage) -> Vec<u8> {
        message.encode()
    }
}

impl Bus for ShardedLink {
    fn publish(&self, channel: String, payload: Vec<u8>) {
        ShardedLink::publish(self, channel, payload);
    }
    fn listen(&self, channel: String, handler: Handler) {
        ShardedLink::listen(self, channel, handler);
    }
    fn forget(&self, channel: &str) {
        ShardedLink::forget(self, channel);
    }
    fn is_connected(&self) -> bool {
        ShardedLink::is_connected(self)
    }
    fn subscribers(self: Arc<Self>, channel: String) -> BoxFuture<Option<usize>> {
        Box::pin(async move { self.shard_numsub(&channel).await })
    }
}

/// Classic pub/sub with every message msgpack (`@msgpack/msgpack`'s `encode` of the whole
/// message, as the Redis Streams adapter publishes), on a [`RedisLink`].
pub struct PlainBus {
    link: RedisLink,
    handlers: Mutex<HashMap<String, Handler>>,
}

impl PlainBus {
    /// The bus of `link`.
    pub fn new(link: RedisLink) -> Self {
        PlainBus {
            link,
            handlers: Mutex::default(),
        }
    }

    /// Connects now rather than on first use.
    pub fn start(&self) {
        self.link.start();
    }
}

impl Bus for PlainBus {
    fn publish(&self, channel: String, payload: Vec<u8>) {
        self.link.publish(channel, payload);
    }
    fn listen(&self, channel: String, handler: Handler) {
        self.handlers
            .lock()
            .insert(channel.clone(), handler.clone());
        self.link.listen(Topic::Channel(channel), handler);
    }
    fn forget(&self, channel: &str) {
        if let Some(handler) = self.handlers.lock().remove(channel) {
            self.link
                .forget(&Topic::Channel(channel.to_owned()), &handler);
        }
    }
    fn is_connected(&self) -> bool {
        self.link.is_connected()
    }
    fn subscribers(self: Arc<Self>, channel: String) -> BoxFuture<Option<usize>> {
        Box::pin(async move { self.link.numsub(&channel).await })
    }
    fn encode(&self, message: &ClusterMessage) -> Vec<u8> {
        encode_msgpack(&message.to_value(), message_binary(message))
    }
}

/// The binaries a message's placeholders name (a broadcast's are in its packet).
fn message_binary(message: &ClusterMessage) -> &[bytes::Bytes] {
    match &message.body {
        crate::adapter::redis::cluster_wire::ClusterBody::Broadcast { packet, .. } => {
            &packet.binary
        }
        _ => &message.binary,
    }
}
