//! The Redis cluster adapters, wire-compatible with Node's: `@socket.io/redis-adapter` 8.x
//! (`createAdapter`, the "classic" adapter), its emitter (`@socket.io/redis-emitter` 5.x) and the
//! sharded adapter (`createShardedAdapter`). The wire formats are pure code (channel names and
//! message encodings, reference section 4); the adapters and links speak them over a real Redis.
//!
//! What travels where, for namespace `<nsp>` and the default key `socket.io`:
//!
//! * `socket.io#<nsp>#` and `socket.io#<nsp>#<room>#` (one-room broadcasts), subscribed with the
//!   pattern `socket.io#<nsp>#*`: broadcasts without acknowledgements, msgpack
//!   `[uid, packet, {rooms, except, flags}]` ([`wire::Broadcast`]).
//! * `socket.io-request#<nsp>#`: requests between servers ([`request::Request`]), JSON except the
//!   broadcast with acknowledgements (msgpack). Every subscriber counts as a server
//!   (`PUBSUB NUMSUB`) and must answer.
//! * `socket.io-response#<nsp>#` (or `...#<uid>#` with `publishOnSpecificResponseChannel`): the
//!   answers ([`response::Response`]), JSON except the acknowledgements of a broadcast (msgpack).
//!
//! The msgpack is notepack.io 3's (maps with string keys, smallest integers, float 64 otherwise,
//! binary as `bin`), written by `protocol::msgpack`; decoding accepts any valid msgpack and a
//! first byte `{` means JSON, as in Node. [`channel`] builds and parses the names.
//!
//! The sharded adapter (`SSUBSCRIBE`/`SPUBLISH` on `socket.io#<nsp>#`, one-room channels
//! `socket.io#<nsp>#<room>#` and response channels `socket.io#<nsp>#<uid>#`) speaks the
//! `ClusterAdapter` format instead: [`cluster_wire::ClusterMessage`].
//!
//! [`adapter::RedisAdapter`] speaks the classic format over a real Redis ([`link::RedisLink`]):
//! broadcasts, and the requests between servers: this server's in [`requests`], its answers to
//! the others' in [`answers`] (see [`adapter`]'s docs for what stays local).
//! [`sharded::ShardedAdapter`] speaks the sharded one ([`shard_link::ShardedLink`],
//! [`shard_subscriber`]), to one Redis server or to a Redis Cluster, where each channel lives on
//! the master owning its hash slot ([`slot`], [`shard_cluster`]): its own requests in
//! [`sharded_peers`], its answers to the others' in [`sharded_answers`]. What both adapters share
//! of broadcasts with acknowledgements (collecting and answering them) is [`ack_exchange`].
//!
//! [`streams::StreamsAdapter`] speaks `@socket.io/redis-streams-adapter` 0.3's: the messages that
//! must not be lost go through one Redis stream ([`stream_link`], entries in [`stream_wire`], other
//! servers' entries carried out in [`stream_entries`]), the rest over classic pub/sub through the
//! sharded adapter's request code on a [`bus::PlainBus`]; connection state recovery across the
//! cluster keeps sessions in Redis and replays from the stream ([`stream_sessions`]).

pub mod ack_exchange;
pub mod adapter;
pub mod answers;
pub mod bus;
pub mod channel;
pub mod cluster_wire;
pub mod factory;
pub mod link;
pub mod node_socket;
pub mod options;
pub mod publisher;
pub mod request;
pub mod requests;
pub mod response;
pub mod shard_cluster;
pub mod shard_link;
pub mod shard_subscriber;
pub mod sharded;
pub mod sharded_answers;
pub mod sharded_factory;
pub mod sharded_peers;
pub mod slot;
pub mod stream_entries;
pub mod stream_link;
pub mod stream_recent;
pub mod stream_sessions;
pub mod stream_wire;
pub mod streams;
pub mod streams_factory;
pub mod view;
pub mod wire;

#[cfg(test)]
mod test_hex;

#[cfg(test)]
#[path = "wire_tests.rs"]
mod wire_tests;

#[cfg(test)]
#[path = "request_tests.rs"]
mod request_tests;

#[cfg(test)]
#[path = "cluster_wire_tests.rs"]
mod cluster_wire_tests;
