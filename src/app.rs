//! The broker's wiring: the Socket.IO server with the configured namespaces, its HTTP listener,
//! the admin listener, and the graceful drain. The lifecycle is injected (`run(config, listeners,
//! source, shutdown)`), so tests start the real broker on port 0 exactly as `main` does.

use std::future::Future;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::{App, HttpServer};

use crate::adapter::redis::adapter::RedisAdapterFactory;
use crate::adapter::redis::channel::SubscriptionMode;
use crate::adapter::redis::options::RedisAdapterOptions;
use crate::adapter::redis::shard_link::ShardedRedis;
use crate::adapter::redis::sharded::ShardedAdapterFactory;
use crate::adapter::redis::stream_link::StreamSettings;
use crate::adapter::redis::streams::StreamsAdapterFactory;
use crate::admin::{self, AdminState};
use crate::broker::{self, NamespacePolicy, PublishPolicy};
use crate::config::{Auth, ClusterSection, Config, Publish};
use crate::server::Server;

/// The two listeners the broker serves.
pub struct Listeners {
    /// Socket.IO.
    pub socketio: TcpListener,
    /// Admin API.
    pub admin: TcpListener,
}

impl Listeners {
    /// Binds the addresses of the configuration. An error names the listener, its address and the
    /// key that sets it: `cannot listen for Socket.IO on 0.0.0.0:3000 (server.bind): Address
    /// already in use`.
    pub fn bind(config: &Config) -> std::io::Result<Self> {
        let bind = |what: &str, addr: std::net::SocketAddr, key: &str| {
            TcpListener::bind(addr).map_err(|e| {
                std::io::Error::new(
                    e.kind(),
                    format!("cannot listen for {what} on {addr} ({key}): {e}"),
                )
            })
        };
        Ok(Listeners {
            socketio: bind("Socket.IO", config.server.bind, "server.bind")?,
            admin: bind("the admin API", config.admin.bind, "admin.bind")?,
        })
    }
}

fn policy(ns: &crate::config::NamespaceConfig) -> NamespacePolicy {
    NamespacePolicy {
        name: ns.name.clone(),
        jwt_secret: match &ns.auth {
            Auth::None => None,
            Auth::Jwt { secret } => Some(secret.clone()),
        },
        client_join: ns.client_join,
        client_publish: match ns.client_publish {
            Publish::None => PublishPolicy::None,
            Publish::Joined => PublishPolicy::Joined,
            Publish::Any => PublishPolicy::Any,
        },
    }
}

/// Raises the soft limit of open files to the hard one, then lowers `limits.max_connections` to
/// what the remaining file descriptors allow, keeping some in reserve: past it a client gets a
/// clean 503 instead of a listener that cannot accept ("Too many open files") and lets it time
/// out. Each WebSocket holds one descriptor; a polling client up to two while a GET and a POST
/// overlap. The reserve (a quarter of a percent of the limit, 32 to 128: 50 at 20,000) is for
/// what else the broker opens while it runs: its Redis connections, admin API clients, the
/// overlapping requests of polling clients; with the descriptors open at start it leaves about
/// 19,930 connections of a 20,000 limit.
pub fn fit_to_file_limit(config: &mut Config) {
    let Some((limit, open)) = open_file_budget() else {
        return;
    };
    let reserve = (limit / 400).clamp(32, 128);
    let budget = limit.saturating_sub(open + reserve).max(1);
    if budget < config.limits.max_connections {
        tracing::info!(
            open_files_limit = limit,
            max_connections = budget,
            configured = config.limits.max_connections,
            "limits.max_connections lowered to what the open-files limit allows"
        );
        config.limits.max_connections = budget;
    }
}

/// (the soft open-files limit after raising it to the hard one, descriptors open now).
#[cfg(unix)]
fn open_file_budget() -> Option<(usize, usize)> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit read and write the struct passed by pointer, nothing else.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return None;
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                lim = raised;
            }
        }
    }
    let open = std::fs::read_dir("/proc/self/fd").map_or(16, |d| d.count());
    Some((usize::try_from(lim.rlim_cur).unwrap_or(usize::MAX), open))
}

#[cfg(not(unix))]
fn open_file_budget() -> Option<(usize, usize)> {
    None
}

/// Builds the Socket.IO server of `config` with the broker behaviour on every namespace.
pub fn build_server(config: &Config) -> std::io::Result<Server> {
    let server = clustered(config)?;
    for ns in &config.namespaces {
        broker::install(&server, policy(ns)).map_err(std::io::Error::other)?;
    }
    // After the broker's namespaces: the admin namespace is a static one of its own (validation
    // refused a clash with an entry; a matching pattern does not reach a static namespace), so
    // it never gets the client room API.
    if let Some(options) = &config.admin_ui {
        crate::admin_ui::instrument(&server, options.clone()).map_err(std::io::Error::other)?;
    }
    Ok(server)
}

/// The server of `config` with the adapter its `[cluster]` section names.
fn clustered(config: &Config) -> std::io::Result<Server> {
    let options = config.server_options();
    Ok(match &config.cluster {
        ClusterSection::Local => Server::new(options),
        ClusterSection::Redis {
            url,
            key,
            request_timeout,
            specific_response_channel,
        } => {
            let client = redis::Client::open(url.as_str()).map_err(std::io::Error::other)?;
            let parser = options.parser;
            let redis = RedisAdapterOptions {
                key: key.clone(),
                request_timeout: *request_timeout,
                publish_on_specific_response_channel: *specific_response_channel,
            };
            Server::with_adapter_from(options, |pool, metrics| {
                let factory = RedisAdapterFactory::new(client, redis, parser, pool, metrics);
                factory.start();
                Arc::new(factory)
            })
        }
        ClusterSection::RedisSharded {
            url,
            cluster,
            key,
            request_timeout,
            dynamic,
        } => {
            let redis = if *cluster {
                ShardedRedis::cluster(crate::config::seed_urls(url))
            } else {
                redis::Client::open(url.as_str()).map(ShardedRedis::from)
            };
            let client = redis.map_err(std::io::Error::other)?;
            let parser = options.parser;
            let mode = if *dynamic {
                SubscriptionMode::Dynamic
            } else {
                SubscriptionMode::Static
            };
            Server::with_adapter_from(options, |pool, metrics| {
                let factory = ShardedAdapterFactory::new(client, key, mode, parser, pool, metrics)
                    .with_request_timeout(*request_timeout);
                factory.start();
                Arc::new(factory)
            })
        }
        ClusterSection::RedisStreams {
            url,
            stream,
            max_len,
            request_timeout,
        } => {
            let client = redis::Client::open(url.as_str()).map_err(std::io::Error::other)?;
            let parser = options.parser;
            let recovery = options
                .recovery
                .enabled
                .then_some(options.recovery.bounds.max_disconnection);
            let settings = StreamSettings {
                stream: stream.clone(),
                max_len: *max_len,
                ..StreamSettings::default()
            };
            Server::with_adapter_from(options, |pool, metrics| {
                let factory = StreamsAdapterFactory::new(client, settings, parser, pool, metrics)
                    .with_recovery(recovery)
                    .with_request_timeout(*request_timeout);
                factory.start();
                Arc::new(factory)
            })
        }
    })
}

/// Runs the broker until `shutdown` resolves, then drains: `/ready` turns 503, new clients are
/// refused (503 on the handshake), queued packets are flushed, every connection is closed at the
/// transport level (clients see "transport close" and reconnect elsewhere), all within
/// `shutdown_timeout`.
///
/// `source` names where the configuration came from (a file or the built-in defaults) in the
/// ready line.
pub async fn run(
    config: Config,
    listeners: Listeners,
    source: &str,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let server = build_server(&config)?;
    let socketio = crate::HttpFront::new(&server)
        .workers(config.server.workers)
        .disable_signals()
        .shutdown_timeout(config.server.shutdown_timeout.as_secs().max(1))
        .run(listeners.socketio)?;
    let state = Arc::new(AdminState {
        server: server.clone(),
        token: config.admin.token.clone(),
        // In a cluster, the id the adapters give other nodes, so listings name nodes alike.
        node_id: server
            .cluster_node_id()
            .unwrap_or_else(|| crate::Sid::new().to_string()),
    });
    let admin_routes = admin::configure(state);
    let admin_srv = HttpServer::new(move || App::new().configure(admin_routes.clone()))
        .workers(1)
        .disable_signals()
        .listen(listeners.admin)?
        .run();
    let (sio_handle, admin_handle) = (socketio.handle(), admin_srv.handle());
    let sio_task = actix_rt::spawn(socketio);
    let admin_task = actix_rt::spawn(admin_srv);
    tracing::info!(
        version = %env!("CARGO_PKG_VERSION"),
        socketio = %config.server.bind,
        path = %config.server.path,
        admin = %config.admin.bind,
        config = %source,
        admin_ui = config.admin_ui.as_ref().map_or("disabled", |o| o.namespace.as_str()),
        "roomcast ready"
    );

    shutdown.await;
    let deadline = Instant::now() + config.server.shutdown_timeout;
    tracing::info!("shutting down: draining connections");
    // New clients are refused from here on (handshakes get 503, /ready 503), but the listener
    // keeps accepting TCP connections: a polling client's next request may need a fresh one to
    // fetch its last packets and the close packet.
    server.drain_until(deadline);
    server.close();
    while server.drain_pending() && Instant::now() < deadline {
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }
    let left = server.connection_count();
    if left > 0 {
        tracing::warn!(left, "shutdown timeout: closing the remaining connections");
    }
    sio_handle.stop(false).await;
    admin_handle.stop(true).await;
    let _ = sio_task.await;
    let _ = admin_task.await;
    save_recovery_state(&server).await;
    server.stop_supervisors();
    tracing::info!("roomcast stopped");
    Ok(())
}

/// With `[recovery] state_file`: once the sockets have left (each keeping its session, bounded by
/// a second after the drain), writes the recovery store for the next start. A failure is logged;
/// the broker still exits.
async fn save_recovery_state(server: &Server) {
    if server.options().recovery.state_file.is_none() {
        return;
    }
    let deadline = Instant::now() + Duration::from_secs(1);
    while server.socket_count() > 0 && Instant::now() < deadline {
        actix_rt::time::sleep(Duration::from_millis(10)).await;
    }
    if let Err(error) = server.save_recovery_state() {
        tracing::error!(%error, "cannot write the recovery state file: sessions are lost");
    }
}
