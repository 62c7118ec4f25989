//! What the adapters of a [`super::adapter::RedisAdapterFactory`] share besides the Redis
//! connection: the options of Node's `createAdapter(pub, sub, opts)` that matter on the wire.

use std::time::Duration;

/// How long a request to the other servers waits for their answers unless configured
/// (`requestsTimeout`'s default in Node's adapters).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_millis(5000);

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
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            publish_on_specific_response_channel: false,
        }
    }
}

/// Why [`client_from_env`] could not make a client. The messages name the variable, never its
/// value (a URL may hold a password).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RedisUrlError {
    /// The variable is not set, or empty.
    #[error("environment variable `{0}` is not set or empty")]
    Unset(String),
    /// Its value is not a Redis URL.
    #[error("the value of `{var}` is not a Redis URL like redis://127.0.0.1:6379/0 ({reason})")]
    Invalid {
        /// The variable.
        var: String,
        /// What the Redis client said.
        reason: String,
    },
}

/// The Redis client of the URL in environment variable `var` (the Rust API's `redis_url_env`,
/// for a URL with a password), for [`super::adapter::RedisAdapterFactory::new`].
pub fn client_from_env(var: &str) -> Result<redis::Client, RedisUrlError> {
    client_from_lookup(var, |name| std::env::var(name).ok())
}

/// [`client_from_env`] reading variables through `lookup`.
pub fn client_from_lookup(
    var: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<redis::Client, RedisUrlError> {
    let url = lookup(var)
        .map(|u| u.trim().to_owned())
        .filter(|u| !u.is_empty())
        .ok_or_else(|| RedisUrlError::Unset(var.to_owned()))?;
    redis::Client::open(url.as_str()).map_err(|e| RedisUrlError::Invalid {
        var: var.to_owned(),
        reason: e.to_string(),
    })
}

/// Longest a node waits for its clients' acknowledgements of another server's broadcast,
/// whatever timeout the requester gives (Node's adapter gives one, or none at all).
pub const MAX_ACK_WAIT: Duration = Duration::from_secs(600);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_from_a_variable_is_checked_and_never_repeated() {
        let env = |name: &str| match name {
            "GOOD" => Some(" redis://:pw@10.0.0.1:6380/2 ".to_owned()),
            "EMPTY" => Some(String::new()),
            "BAD" => Some("http://:secret@x".to_owned()),
            _ => None,
        };
        assert!(client_from_lookup("GOOD", env).is_ok());
        for var in ["EMPTY", "MISSING"] {
            let e = client_from_lookup(var, env).expect_err("refused");
            assert_eq!(e, RedisUrlError::Unset(var.to_owned()));
            assert_eq!(
                e.to_string(),
                format!("environment variable `{var}` is not set or empty")
            );
        }
        let bad = client_from_lookup("BAD", env).expect_err("refused");
        assert!(bad
            .to_string()
            .starts_with("the value of `BAD` is not a Redis URL"));
        assert!(!bad.to_string().contains("secret"), "{bad}");
    }
}
