//! The HTTP listener roomcast serves its clients on.
//!
//! [`HttpFront`] serves one or more [`Server`]s (each on its own Engine.IO path) and any extra
//! routes of yours. Polling and everything else go through actix-web; a WebSocket upgrade is
//! handed over by actix-http with its connection, and roomcast reads and writes that WebSocket
//! itself (see `transport::direct`): no HTTP dispatcher, channel or buffer stays behind for an idle
//! connection.
//!
//! Embedding roomcast in an actix-web app of your own with [`Server::configure`] works too; there
//! the WebSockets run through actix-ws inside actix-web.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_codec::Framed;
use actix_http::h1::Codec;
use actix_http::{HttpService, Request};
use actix_service::{fn_service, map_config, IntoServiceFactory, ServiceFactoryExt};
use actix_web::dev::{AppConfig, Server as RunningServer};
use actix_web::{web, App};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::engine::Engine;
use crate::server::CLIENT_DISCONNECT_TIMEOUT;
use crate::Server;

type Routes = Arc<dyn Fn(&mut web::ServiceConfig) + Send + Sync>;

/// An HTTP listener for roomcast servers and your own routes.
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// let io = roomcast::Server::new(roomcast::ServerOptions::default());
/// let listener = std::net::TcpListener::bind("127.0.0.1:3000")?;
/// roomcast::HttpFront::new(&io)
///     .routes(|cfg| {
///         cfg.route("/health", actix_web::web::get().to(|| async { "ok" }));
///     })
///     .run(listener)?
///     .await
/// # }
/// ```
#[derive(Clone)]
pub struct HttpFront {
    servers: Vec<Server>,
    routes: Vec<Routes>,
    workers: Option<usize>,
    signals: bool,
    shutdown_timeout: u64,
    max_connections: usize,
    backlog: u32,
}

impl HttpFront {
    /// A front for `server`.
    pub fn new(server: &Server) -> Self {
        HttpFront {
            servers: vec![server.clone()],
            routes: Vec::new(),
            workers: None,
            signals: true,
            shutdown_timeout: 30,
            max_connections: 25_000,
            backlog: 2048,
        }
    }

    /// Serves another server too, on its own path (a Socket.IO server beside an Engine.IO one).
    pub fn mount(mut self, server: &Server) -> Self {
        self.servers.push(server.clone());
        self
    }

    /// Adds routes of your own (served by actix-web; WebSockets on them are not: every WebSocket
    /// upgrade goes to the mounted servers' paths).
    pub fn routes(
        mut self,
        routes: impl Fn(&mut web::ServiceConfig) + Send + Sync + 'static,
    ) -> Self {
        self.routes.push(Arc::new(routes));
        self
    }

    /// Number of worker threads (default: one per core).
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = Some(workers);
        self
    }

    /// Leaves SIGINT/SIGTERM to you (by default they stop the server).
    pub fn disable_signals(mut self) -> Self {
        self.signals = false;
        self
    }

    /// How long a graceful stop waits for HTTP requests in flight, in seconds.
    pub fn shutdown_timeout(mut self, seconds: u64) -> Self {
        self.shutdown_timeout = seconds;
        self
    }

    /// Starts serving on `listener`. The returned server runs when awaited or spawned.
    pub fn run(self, listener: TcpListener) -> std::io::Result<RunningServer> {
        let write_timeout = self
            .servers
            .iter()
            .map(Server::write_timeout)
            .max()
            .unwrap_or(Duration::from_secs(45));
        let mut routes = self.routes.clone();
        for server in &self.servers {
            routes.insert(0, Arc::new(server.configure()));
        }
        let targets: Arc<Vec<Target>> = Arc::new(
            self.servers
                .iter()
                .map(|s| Target::new(s.engine().clone()))
                .collect(),
        );
        let mut builder = actix_server::Server::build()
            .backlog(self.backlog)
            .max_concurrent_connections(self.max_connections)
            .shutdown_timeout(self.shutdown_timeout);
        if let Some(workers) = self.workers {
            builder = builder.workers(workers);
        }
        if !self.signals {
            builder = builder.disable_signals();
        }
        let addr = listener.local_addr()?;
        let builder = builder.listen(format!("roomcast-{addr}"), listener, move || {
            let routes = routes.clone();
            let app = App::new().configure(move |cfg| {
                for r in &routes {
                    r(cfg);
                }
            });
            let targets = targets.clone();
            let upgrade = fn_service(move |(req, framed): (Request, Framed<TcpStream, Codec>)| {
                let targets = targets.clone();
                async move {
                    upgrade(&targets, req, framed)
                        .await
                        .map_err(actix_web::Error::from)
                }
            });
            HttpService::build()
                .client_disconnect_timeout(CLIENT_DISCONNECT_TIMEOUT)
                // Small frames must not wait for the peer's delayed ACK (Nagle).
                .tcp_nodelay(true)
                .on_connect_ext(move |io: &TcpStream, _| {
                    crate::transport::tcp::set_user_timeout(io as &dyn std::any::Any, write_timeout)
                })
                .upgrade(upgrade)
                .finish(map_config(
                    app.into_factory()
                        .map_err(|err: actix_web::Error| err.error_response()),
                    |_| AppConfig::default(),
                ))
                .tcp()
        })?;
        Ok(builder.run())
    }
}

/// A mounted server and the request paths it answers.
struct Target {
    path: String,
    bare: String,
    engine: Arc<Engine>,
}

impl Target {
    fn new(engine: Arc<Engine>) -> Self {
        let path = engine.options.path.clone();
        let bare = path.trim_end_matches('/').to_owned();
        Target { path, bare, engine }
    }
}

async fn upgrade(
    targets: &[Target],
    req: Request,
    framed: Framed<TcpStream, Codec>,
) -> std::io::Result<()> {
    let path = req.path();
    match targets.iter().find(|t| path == t.path || path == t.bare) {
        Some(target) => crate::transport::direct::serve(&target.engine, req, framed).await,
        None => {
            let mut io = framed.into_parts().io;
            io.write_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            )
            .await?;
            io.shutdown().await
        }
    }
}
