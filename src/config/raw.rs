//! The raw configuration: a serde mirror of `config.toml`, key for key, before any validation. Every key is
//! optional and defaults to the value documented in the repository's `config.toml` (a unit test keeps the
//! two identical). Values keep their file types here (addresses and enums are strings, durations are
//! milliseconds); [`super::validate`] turns them into the typed [`super::Config`].

use serde::{Deserialize, Serialize};

/// The whole file, one field per section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawConfig {
    /// `[server]`: the Socket.IO listener.
    pub server: RawServer,
    /// `[engine]`: Engine.IO timings, payload bound and transports.
    pub engine: RawEngine,
    /// `[cors]`: which browser origins may connect.
    pub cors: RawCors,
    /// `[limits]`: connection, room and queue bounds.
    pub limits: RawLimits,
    /// `[admin]`: the admin HTTP API listener and its token.
    pub admin: RawAdmin,
    /// `[admin_ui]`: the Socket.IO Admin UI's namespace.
    pub admin_ui: RawAdminUi,
    /// `[log]`: log level and format.
    pub log: RawLog,
    /// `[cluster]`: several brokers as one, over Redis.
    pub cluster: RawCluster,
    /// `[recovery]`: connection state recovery.
    pub recovery: super::recovery::RawRecovery,
    /// `[[namespaces]]`: the namespaces clients may connect to.
    pub namespaces: Vec<RawNamespace>,
}

impl Default for RawConfig {
    fn default() -> Self {
        RawConfig {
            server: RawServer::default(),
            engine: RawEngine::default(),
            cors: RawCors::default(),
            limits: RawLimits::default(),
            admin: RawAdmin::default(),
            admin_ui: RawAdminUi::default(),
            log: RawLog::default(),
            cluster: RawCluster::default(),
            recovery: Default::default(),
            namespaces: vec![RawNamespace::default()],
        }
    }
}

/// `[server]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawServer {
    /// Listener address, `host:port`.
    pub bind: String,
    /// Endpoint path.
    pub path: String,
    /// Worker threads; 0 = one per core.
    pub workers: u64,
    /// Drain bound on shutdown, in milliseconds.
    pub shutdown_timeout_ms: u64,
}

impl Default for RawServer {
    fn default() -> Self {
        RawServer {
            bind: "0.0.0.0:3000".to_owned(),
            path: "/socket.io".to_owned(),
            workers: 0,
            shutdown_timeout_ms: 10_000,
        }
    }
}

/// `[engine]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawEngine {
    /// Ping interval, in milliseconds.
    pub ping_interval_ms: u64,
    /// Pong deadline, in milliseconds.
    pub ping_timeout_ms: u64,
    /// Upgrade deadline, in milliseconds.
    pub upgrade_timeout_ms: u64,
    /// Deadline for joining a first namespace, in milliseconds.
    pub connect_timeout_ms: u64,
    /// Largest accepted body or message, in bytes.
    pub max_payload_bytes: u64,
    /// Enabled transport names.
    pub transports: Vec<String>,
    /// Sticky-session cookie name; empty = none.
    pub sticky_cookie: String,
    /// WebSocket write coalescing delay, in milliseconds; 0 = none.
    pub write_delay_ms: u64,
    /// Socket.IO parser: `default` or `msgpack`.
    pub parser: String,
}

impl Default for RawEngine {
    fn default() -> Self {
        RawEngine {
            ping_interval_ms: 25_000,
            ping_timeout_ms: 20_000,
            upgrade_timeout_ms: 10_000,
            connect_timeout_ms: 45_000,
            max_payload_bytes: 1_000_000,
            transports: vec!["polling".to_owned(), "websocket".to_owned()],
            sticky_cookie: String::new(),
            write_delay_ms: 0,
            parser: "default".to_owned(),
        }
    }
}

/// `[cors]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawCors {
    /// Allowed origins, or `["*"]`.
    pub origins: Vec<String>,
    /// Allow credentials.
    pub credentials: bool,
}

impl Default for RawCors {
    fn default() -> Self {
        RawCors {
            origins: vec!["*".to_owned()],
            credentials: false,
        }
    }
}

/// `[limits]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawLimits {
    /// Most concurrent Engine.IO connections.
    pub max_connections: u64,
    /// Most named rooms per socket.
    pub max_rooms_per_socket: u64,
    /// Outbound queue bound per socket, in packets.
    pub outbound_queue: u64,
    /// Outbound queue bound per connection, in bytes.
    pub outbound_queue_bytes: u64,
    /// Most named-room memberships at once.
    pub max_memberships: u64,
    /// Most namespaces created from patterns at once.
    pub max_dynamic_namespaces: u64,
    /// Most namespaces one connection may join at once.
    pub max_namespaces_per_connection: u64,
}

impl Default for RawLimits {
    fn default() -> Self {
        RawLimits {
            max_connections: 100_000,
            max_rooms_per_socket: 1000,
            outbound_queue: 1024,
            outbound_queue_bytes: 16 << 20,
            max_memberships: 1_000_000,
            max_dynamic_namespaces: 10_000,
            max_namespaces_per_connection: 100,
        }
    }
}

/// `[admin]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawAdmin {
    /// Listener address, `host:port`.
    pub bind: String,
    /// Inline bearer token; empty = none.
    pub token: String,
    /// Name of the environment variable holding the token; empty = none.
    pub token_env: String,
}

impl Default for RawAdmin {
    fn default() -> Self {
        RawAdmin {
            bind: "127.0.0.1:3001".to_owned(),
            token: String::new(),
            token_env: String::new(),
        }
    }
}

/// `[admin_ui]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawAdminUi {
    /// Serve the Admin UI's namespace.
    pub enabled: bool,
    /// Its name.
    pub namespace: String,
    /// `basic` or `none`.
    pub auth: String,
    /// User name for `basic`.
    pub username: String,
    /// Inline bcrypt hash of the password; empty = none.
    pub password_hash: String,
    /// Name of the environment variable holding the hash; empty = none.
    pub password_hash_env: String,
    /// Refuse the commands that change anything.
    pub readonly: bool,
    /// `development` or `production`.
    pub mode: String,
    /// Server name shown in the UI; empty = the host name.
    pub server_id: String,
}

impl Default for RawAdminUi {
    fn default() -> Self {
        RawAdminUi {
            enabled: false,
            namespace: "/admin".to_owned(),
            auth: "basic".to_owned(),
            username: "admin".to_owned(),
            password_hash: String::new(),
            password_hash_env: String::new(),
            readonly: false,
            mode: "development".to_owned(),
            server_id: String::new(),
        }
    }
}

/// `[log]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawLog {
    /// Level name.
    pub level: String,
    /// `text` or `json`.
    pub format: String,
    /// `auto`, `always` or `never`.
    pub color: String,
}

impl Default for RawLog {
    fn default() -> Self {
        RawLog {
            level: "info".to_owned(),
            format: "text".to_owned(),
            color: "auto".to_owned(),
        }
    }
}

/// `[cluster]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawCluster {
    /// `local`, `redis`, `redis-sharded` or `redis-streams`.
    pub adapter: String,
    /// The Redis URL for `redis`; for `redis-sharded` on a Redis Cluster, one or more
    /// comma-separated seed node URLs.
    pub redis_url: String,
    /// The name of an environment variable holding the Redis URL instead; empty = none.
    pub redis_url_env: String,
    /// Whether `redis_url` names a Redis Cluster (`redis-sharded` only).
    pub redis_cluster: bool,
    /// The channel prefix shared by the cluster's servers.
    pub key: String,
    /// `dynamic` or `static`: whether `redis-sharded` subscribes to a channel per room.
    pub sharded_subscription_mode: String,
    /// How long a request to the other servers waits for their answers, in milliseconds.
    pub request_timeout_ms: u64,
    /// Answer other servers' requests on their own response channel (`...#<uid>#`).
    pub publish_on_specific_response_channel: bool,
    /// The Redis stream of `redis-streams` (Node's `streamName`).
    pub stream_name: String,
    /// Roughly how many entries that stream keeps (`XADD ... MAXLEN ~`; Node's `maxLen`).
    pub stream_max_len: u64,
}

impl Default for RawCluster {
    fn default() -> Self {
        RawCluster {
            adapter: "local".to_owned(),
            redis_url: "redis://127.0.0.1:6379/0".to_owned(),
            redis_url_env: String::new(),
            redis_cluster: false,
            key: "socket.io".to_owned(),
            sharded_subscription_mode: "dynamic".to_owned(),
            request_timeout_ms: 5000,
            publish_on_specific_response_channel: false,
            stream_name: "socket.io".to_owned(),
            stream_max_len: 10_000,
        }
    }
}

/// One `[[namespaces]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawNamespace {
    /// Name or prefix pattern (trailing `*`).
    pub name: String,
    /// `none` or `jwt`.
    pub auth: String,
    /// Inline HS256 secret; empty = none.
    pub jwt_secret: String,
    /// Name of the environment variable holding the secret; empty = none.
    pub jwt_secret_env: String,
    /// Whether clients may join and leave rooms.
    pub client_join: bool,
    /// `none`, `joined` or `any`.
    pub client_publish: String,
}

impl Default for RawNamespace {
    fn default() -> Self {
        RawNamespace {
            name: "/".to_owned(),
            auth: "none".to_owned(),
            jwt_secret: String::new(),
            jwt_secret_env: String::new(),
            client_join: true,
            client_publish: "joined".to_owned(),
        }
    }
}
