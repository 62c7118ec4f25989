//! What the adapters of a [`super::adapter::RedisAdapterFactory`] share besides the Redis
//! connection: the options of Node's `createAdapter(pub, sub, opts)` that matter on the wire.

use std::time::Duration;

/// Options of the classic Redis adapter, as Node's `@socket.io/redis-adapter` names them.
///
/// ```
/// use roomcast::adapter::redis::options::RedisAdapterOptions;
/// use std::time::Duration;
///
/// let options = RedisAdapterOptions {
///     request_timeout: Duration::from_secs(2),
///     ..RedisAdapterOptions::default()
/// };
/// assert_eq!(options.key, "socket.io");
/// assert!(!options.publish_on_specific_response_channel);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisAdapterOptions {
    /// The channel prefix every server of the cluster shares (`key`, default `socket.io`).
    pub key: String,
    /// How long a request to the other servers waits for their answers before it ends with
    /// what arrived (`requestsTimeout`, default 5 s).
    pub request_timeout: Duration,
    /// Answer other servers' requests on `<key>-response#<nsp>#<requester uid>#` instead of the
    /// channel every server reads (`publishOnSpecificResponseChannel`, default false).
    /// Acknowledgements of server-side events always go on the common channel, as in Node.
    pub publish_on_specific_response_channel: bool,
}

impl Default for RedisAdapterOptions {
    fn default() -> Self {
        RedisAdapterOptions {
            key: "socket.io".to_owned(),
            request_timeout: Duration::from_millis(5000),
            publish_on_specific_response_channel: false,
        }
    }
}

/// Longest a node waits for its clients' acknowledgements of another server's broadcast,
/// whatever timeout the requester gives (Node's adapter gives one, or none at all).
pub const MAX_ACK_WAIT: Duration = Duration::from_secs(600);
