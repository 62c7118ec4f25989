//! The validated configuration: typed values (socket addresses, [`Duration`]s, enums), one section per
//! `config.toml` section. The broker turns them into [`crate::ServerOptions`], and the server hands each
//! layer its slice of those: the Engine.IO layer gets only `EngineOptions` (timings, transports, CORS,
//! queue bounds), the Socket.IO client only its parser, connect timeout and namespace limit. Values here
//! are known good; building one is the job of [`super::validate`]. Secrets are resolved (file or
//! environment) and redacted from `Debug`.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

pub use crate::protocol::socketio::Parser;

/// The whole validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The Socket.IO listener.
    pub server: ServerSection,
    /// Engine.IO timings, payload bound and transports.
    pub engine: EngineSection,
    /// Browser origins.
    pub cors: CorsSection,
    /// Connection, room and queue bounds.
    pub limits: LimitsSection,
    /// The admin HTTP API.
    pub admin: AdminSection,
    /// The Socket.IO Admin UI (`None`: disabled).
    pub admin_ui: Option<crate::admin_ui::AdminUiOptions>,
    /// Logging.
    pub log: LogSection,
    /// How this broker shares broadcasts with others.
    pub cluster: ClusterSection,
    /// Connection state recovery.
    pub recovery: crate::options::RecoveryOptions,
    /// The namespaces clients may connect to, in file order (at least one).
    pub namespaces: Vec<NamespaceConfig>,
}

/// `[server]`: where and how the Socket.IO listener runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSection {
    /// Listener address.
    pub bind: SocketAddr,
    /// Endpoint path, starting and ending with `/` (`/socket.io/`).
    pub path: String,
    /// HTTP worker threads (the file's 0 already replaced by the number of cores).
    pub workers: usize,
    /// How long a graceful shutdown may drain.
    pub shutdown_timeout: Duration,
}

/// `[engine]`: the Engine.IO session settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineSection {
    /// Interval between server pings.
    pub ping_interval: Duration,
    /// How long a pong may take.
    pub ping_timeout: Duration,
    /// How long a WebSocket upgrade may take.
    pub upgrade_timeout: Duration,
    /// How long a connection may stay without joining a namespace.
    pub connect_timeout: Duration,
    /// Largest accepted polling body or WebSocket message, in bytes.
    pub max_payload_bytes: usize,
    /// HTTP long-polling enabled.
    pub polling: bool,
    /// WebSocket enabled.
    pub websocket: bool,
    /// Sticky-session cookie set on the handshake.
    pub sticky_cookie: Option<String>,
    /// WebSocket write coalescing delay (zero: none).
    pub write_delay: Duration,
    /// The Socket.IO parser every client must use.
    pub parser: Parser,
}

/// `[cors]`: which browser origins may connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorsSection {
    /// `"*"` or exact `http(s)://host[:port]` origins.
    pub origins: Vec<String>,
    /// Allow credentials (with `"*"`, the request's origin is reflected).
    pub credentials: bool,
}

/// `[limits]`: bounds that protect the broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitsSection {
    /// Most concurrent Engine.IO connections (at least 1).
    pub max_connections: usize,
    /// Most named rooms per socket (its own id room not counted).
    pub max_rooms_per_socket: usize,
    /// Outbound queue bound per socket, in packets (at least 1).
    pub outbound_queue: usize,
    /// Outbound queue bound per connection, in bytes (at least 1).
    pub outbound_queue_bytes: usize,
    /// Most named-room memberships at once (at least 1).
    pub max_memberships: usize,
    /// Most namespaces created from patterns at once (at least 1).
    pub max_dynamic_namespaces: usize,
    /// Most namespaces one connection may join at once (at least 1).
    pub max_namespaces_per_connection: usize,
}

/// `[admin]`: the admin HTTP API listener.
#[derive(Clone, PartialEq, Eq)]
pub struct AdminSection {
    /// Listener address.
    pub bind: SocketAddr,
    /// Bearer token for `/api/*` (from `token`, or the variable `token_env` names); `None`: `/api/*` answers 403.
    pub token: Option<String>,
}

impl fmt::Debug for AdminSection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminSection")
            .field("bind", &self.bind)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// `[log]`: logging settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSection {
    /// One of `error`, `warn`, `info`, `debug`, `trace` (lower case).
    pub level: String,
    /// Line format.
    pub format: LogFormat,
    /// Whether text lines carry ANSI colours.
    pub color: LogColor,
}

/// When text log lines are coloured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogColor {
    /// When stderr is a terminal and `NO_COLOR` is unset or empty.
    Auto,
    /// Always (e.g. for a log viewer that renders ANSI).
    Always,
    /// Never.
    Never,
}

impl LogColor {
    /// Whether to colour, given whether stderr is a terminal and the value of `NO_COLOR`.
    pub fn enabled(self, stderr_is_terminal: bool, no_color: Option<&str>) -> bool {
        match self {
            LogColor::Always => true,
            LogColor::Never => false,
            LogColor::Auto => stderr_is_terminal && no_color.is_none_or(str::is_empty),
        }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable text.
    Text,
    /// One JSON object per line.
    Json,
}

/// One `[[namespaces]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceConfig {
    /// The name as written, e.g. `/chat` or the pattern `/tenant-*`.
    pub name: String,
    /// The name ends with `*`: a prefix pattern, each matching name becoming its own namespace.
    pub pattern: bool,
    /// How sockets authenticate on CONNECT.
    pub auth: Auth,
    /// Whether clients may join and leave rooms themselves.
    pub client_join: bool,
    /// Where clients may publish.
    pub client_publish: Publish,
}

impl NamespaceConfig {
    /// Whether the namespace `nsp` (e.g. `/tenant-42`) is this entry: equal to its name, or for a pattern,
    /// the pattern's prefix followed by at least one character.
    pub fn matches(&self, nsp: &str) -> bool {
        match self.name.strip_suffix('*') {
            Some(prefix) if self.pattern => nsp.len() > prefix.len() && nsp.starts_with(prefix),
            _ => nsp == self.name,
        }
    }
}

/// Connection authentication of a namespace.
#[derive(Clone, PartialEq, Eq)]
pub enum Auth {
    /// Anyone may connect.
    None,
    /// The CONNECT auth payload must carry an HS256 JWT signed with `secret`.
    Jwt {
        /// The HS256 secret (non-empty).
        secret: String,
    },
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::None => f.write_str("None"),
            Auth::Jwt { .. } => f.write_str("Jwt { secret: <redacted> }"),
        }
    }
}

/// Which rooms a client may publish to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Publish {
    /// None: client `publish` is refused.
    None,
    /// Only rooms the socket is in.
    Joined,
    /// Any room.
    Any,
}

impl Config {
    /// The entry for the namespace `nsp`: an exact name first, else the pattern with the longest prefix
    /// that matches; `None` means the namespace is refused ("Invalid namespace").
    pub fn namespace(&self, nsp: &str) -> Option<&NamespaceConfig> {
        self.namespaces
            .iter()
            .find(|n| !n.pattern && n.name == nsp)
            .or_else(|| {
                self.namespaces
                    .iter()
                    .filter(|n| n.pattern && n.matches(nsp))
                    .max_by_key(|n| n.name.len())
            })
    }
}

/// `[cluster]`: how this broker shares broadcasts with other brokers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterSection {
    /// Alone: broadcasts reach this broker's clients only.
    Local,
    /// Through Redis, in the format of Node's `@socket.io/redis-adapter` (classic pub/sub).
    Redis {
        /// `redis://host:port/db`.
        url: String,
        /// The channel prefix every server of the cluster shares.
        key: String,
        /// How long a request to the other servers waits for their answers.
        request_timeout: Duration,
        /// Answer other servers' requests on their own response channel (Node's
        /// `publishOnSpecificResponseChannel`).
        specific_response_channel: bool,
    },
    /// Through Redis >= 7 sharded pub/sub, in the format of Node's `createShardedAdapter`.
    RedisSharded {
        /// `redis://host:port/db`, or for a Redis Cluster its seed nodes'
        /// `redis://host:port` URLs, comma-separated.
        url: String,
        /// Whether `url` names a Redis Cluster, whose masters each hold the channels of their
        /// hash slots.
        cluster: bool,
        /// The channel prefix every server of the cluster shares (Node's `channelPrefix`).
        key: String,
        /// How long a request to the other servers waits for their answers.
        request_timeout: Duration,
        /// Whether each room with members here has a channel of its own (Node's
        /// `subscriptionMode: "dynamic"`) or every message travels on the namespace's channel
        /// (`"static"`).
        dynamic: bool,
    },
    /// Through a Redis stream, in the format of Node's `@socket.io/redis-streams-adapter` 0.3
    /// (which also carries connection state recovery across the cluster).
    RedisStreams {
        /// `redis://host:port/db`.
        url: String,
        /// The stream's key (Node's `streamName`).
        stream: String,
        /// Roughly how many entries the stream keeps (Node's `maxLen`).
        max_len: usize,
        /// How long a request to the other servers waits for their answers.
        request_timeout: Duration,
    },
}
