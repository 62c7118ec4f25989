//! Server options: the typed settings each layer reads (timings, limits, transports, CORS). Built in
//! code with [`ServerOptions::default`] and field updates, or from `config.toml` by the broker.

use std::time::Duration;

pub use crate::protocol::socketio::Parser;

/// Which transports the server accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transports {
    /// HTTP long-polling.
    pub polling: bool,
    /// WebSocket.
    pub websocket: bool,
}

impl Default for Transports {
    fn default() -> Self {
        Transports {
            polling: true,
            websocket: true,
        }
    }
}

impl Transports {
    /// Whether the transport named `name` (`polling` or `websocket`) is enabled.
    pub fn allows(&self, name: &str) -> bool {
        match name {
            "polling" => self.polling,
            "websocket" => self.websocket,
            _ => false,
        }
    }
}

/// Cross-origin settings for browsers, as the `cors` option of the Node server.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cors {
    /// Allowed origins; `["*"]` allows any. Empty: no CORS headers at all.
    pub origins: Vec<String>,
    /// Send `Access-Control-Allow-Credentials: true` (the origin is then reflected, never `*`).
    pub credentials: bool,
}

impl Cors {
    /// Any origin, no credentials.
    pub fn any() -> Self {
        Cors {
            origins: vec!["*".to_owned()],
            credentials: false,
        }
    }

    /// The `Access-Control-Allow-Origin` value for a request from `origin`, if allowed.
    pub fn allow_origin(&self, origin: Option<&str>) -> Option<String> {
        let any = self.origins.iter().any(|o| o == "*");
        match origin {
            Some(o) if any && self.credentials => Some(o.to_owned()),
            _ if any => Some("*".to_owned()),
            Some(o) if self.origins.iter().any(|allowed| allowed == o) => Some(o.to_owned()),
            _ => None,
        }
    }
}

/// Everything the Engine.IO and Socket.IO layers need to know.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Endpoint path, with a trailing slash (`/socket.io/`).
    pub path: String,
    /// Interval between server pings.
    pub ping_interval: Duration,
    /// How long a pong may take.
    pub ping_timeout: Duration,
    /// How long a WebSocket upgrade may take between the new socket and its `5`.
    pub upgrade_timeout: Duration,
    /// How long a connection may stay without joining any namespace.
    pub connect_timeout: Duration,
    /// Largest accepted polling body or WebSocket message, in bytes (also announced as `maxPayload`).
    pub max_payload: usize,
    /// Enabled transports.
    pub transports: Transports,
    /// CORS policy.
    pub cors: Cors,
    /// Name of a sticky-session cookie set on the handshake (`None`: no cookie).
    pub cookie: Option<String>,
    /// Outbound queue bound per connection, in frames.
    pub outbound_queue: usize,
    /// Outbound queue bound per connection, in bytes (a packet into an empty queue is always
    /// taken, however large). Past either bound the slow-consumer policy applies.
    pub outbound_queue_bytes: usize,
    /// Most rooms a socket may join (its own id room not counted).
    pub max_rooms_per_socket: usize,
    /// Most open Engine.IO connections; further handshakes get HTTP 503.
    pub max_connections: usize,
    /// Most named-room memberships (a socket in a room) the server holds at once; a join past it
    /// is refused with [`crate::JoinError::ServerLimit`].
    pub max_memberships: usize,
    /// Most namespaces created from patterns that may exist at once; a CONNECT that would create
    /// one more is refused with CONNECT_ERROR `Too many namespaces`.
    pub max_dynamic_namespaces: usize,
    /// Most namespaces one connection may have joined at once; a CONNECT past it is refused with
    /// CONNECT_ERROR `Too many namespaces`.
    pub max_namespaces_per_connection: usize,
    /// WebSocket write coalescing: a packet for a WebSocket written less than `write_delay` ago
    /// opens a window of `write_delay`, and everything queued by its end shares one write; a packet
    /// for a WebSocket quiet for longer goes out at once. No packet waits longer than this. Zero
    /// (the default) writes every packet at once. A busy connection then makes about one write
    /// system call per interval instead of one per packet.
    pub write_delay: Duration,
    /// The Socket.IO parser the clients use (`socket.io-msgpack-parser` for [`Parser::Msgpack`]);
    /// a client with the other one is disconnected with `parse error` at its first packet.
    pub parser: Parser,
    /// Connection state recovery (Socket.IO's `connectionStateRecovery`), off by default.
    pub recovery: RecoveryOptions,
}

/// Connection state recovery: a client that lost its connection and comes back within
/// `bounds.max_disconnection` gets its socket id, rooms and `data` back and every stored packet
/// it missed. Stored: broadcasts and emits to one socket that are neither volatile nor waiting
/// for acknowledgements. Node-local, except with a cluster adapter that keeps sessions itself
/// (the Redis Streams adapter's `StreamsAdapterFactory::with_recovery`); with another cluster
/// adapter it stays off (with a warning).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryOptions {
    /// Whether sessions are kept and packets stored.
    pub enabled: bool,
    /// Whether a recovered socket connects without running the connection middlewares again.
    pub skip_middlewares: bool,
    /// How much is kept, and for how long.
    pub bounds: RecoveryBounds,
    /// Node-local recovery across a restart of the node: where
    /// [`crate::Server::save_recovery_state`] writes the store (the broker calls it when it
    /// drains) and where a new server loads it from, once, at start. `None`: sessions live as
    /// long as the process. Ignored with a cluster adapter that keeps sessions itself.
    pub state_file: Option<std::path::PathBuf>,
}

impl Default for RecoveryOptions {
    /// Off; when turned on, middlewares skipped on recovery (as Socket.IO's default).
    fn default() -> Self {
        RecoveryOptions {
            enabled: false,
            skip_middlewares: true,
            bounds: RecoveryBounds::default(),
            state_file: None,
        }
    }
}

/// How much connection state recovery keeps, and for how long. Past a count or bytes bound the
/// oldest go first; a client whose missed packets are gone is not recovered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecoveryBounds {
    /// How long a session (and the packets it may need) is kept after its socket left.
    pub max_disconnection: Duration,
    /// Most stored packets, all namespaces together.
    pub max_packets: usize,
    /// Most bytes of stored packets (their encoded frames and bookkeeping), all namespaces.
    pub max_packet_bytes: usize,
    /// Most stored packets of one namespace.
    pub max_packets_per_namespace: usize,
    /// Most bytes of stored packets of one namespace.
    pub max_packet_bytes_per_namespace: usize,
    /// Most sessions kept, all namespaces together.
    pub max_sessions: usize,
    /// Most sessions kept for one namespace.
    pub max_sessions_per_namespace: usize,
    /// Most bytes of sessions kept (rooms and `data`, serialised), all namespaces together.
    pub max_session_bytes: usize,
}

impl Default for RecoveryBounds {
    fn default() -> Self {
        RecoveryBounds {
            max_disconnection: Duration::from_millis(120_000),
            max_packets: 100_000,
            max_packet_bytes: 64 << 20,
            max_packets_per_namespace: 50_000,
            max_packet_bytes_per_namespace: 32 << 20,
            max_sessions: 100_000,
            max_sessions_per_namespace: 100_000,
            max_session_bytes: 64 << 20,
        }
    }
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            path: "/socket.io/".to_owned(),
            ping_interval: Duration::from_millis(25_000),
            ping_timeout: Duration::from_millis(20_000),
            upgrade_timeout: Duration::from_millis(10_000),
            connect_timeout: Duration::from_millis(45_000),
            max_payload: 1_000_000,
            transports: Transports::default(),
            cors: Cors::default(),
            cookie: None,
            outbound_queue: 1024,
            outbound_queue_bytes: 16 << 20,
            max_rooms_per_socket: 1000,
            max_connections: 100_000,
            max_memberships: 1_000_000,
            max_dynamic_namespaces: 10_000,
            max_namespaces_per_connection: 100,
            write_delay: Duration::ZERO,
            parser: Parser::Default,
            recovery: RecoveryOptions::default(),
        }
    }
}

impl ServerOptions {
    /// The same options with `path` normalised to start and end with `/`.
    pub fn normalised(mut self) -> Self {
        let trimmed = self.path.trim_matches('/');
        self.path = if trimmed.is_empty() {
            "/".to_owned()
        } else {
            format!("/{trimmed}/")
        };
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cors_origin_rules() {
        let any = Cors::any();
        assert_eq!(any.allow_origin(Some("http://a")), Some("*".into()));
        assert_eq!(any.allow_origin(None), Some("*".into()));
        let creds = Cors {
            credentials: true,
            ..Cors::any()
        };
        assert_eq!(
            creds.allow_origin(Some("http://a")),
            Some("http://a".into())
        );
        let list = Cors {
            origins: vec!["http://ok".into()],
            credentials: false,
        };
        assert_eq!(
            list.allow_origin(Some("http://ok")),
            Some("http://ok".into())
        );
        assert_eq!(list.allow_origin(Some("http://evil")), None);
        assert_eq!(Cors::default().allow_origin(Some("http://a")), None);
    }

    #[test]
    fn path_is_normalised() {
        for (given, want) in [("/socket.io", "/socket.io/"), ("x/y/", "/x/y/"), ("/", "/")] {
            let o = ServerOptions {
                path: given.into(),
                ..Default::default()
            }
            .normalised();
            assert_eq!(o.path, want);
        }
    }
}
