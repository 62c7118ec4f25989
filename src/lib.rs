//! # roomcast
//!
//! A Socket.IO v5 / Engine.IO v4 server on actix actors. A packet travels:
//!
//! ```text
//! HTTP (actix-web; HttpFront takes WebSockets over at the upgrade)
//!   -> transport   polling GET/POST handlers, the WebSocket frame I/O
//!   -> engine      one session actor per connection: heartbeat, upgrade, the bounded outbound
//!                  queue (Conn); hands whole messages to a Handler it does not implement
//!   -> socket      socket::client is that Handler for Socket.IO (decoder, namespaces of the
//!                  connection, CONNECT, dispatch); one actor per (connection, namespace):
//!                  handlers, acks, rooms, data
//!   -> namespace   middlewares, connection handlers, adapter
//!   -> adapter     the seam to other nodes (in-process now)
//!   -> room        supervisor actors, one per two cores on their own arbiters, that fan a
//!                  broadcast's one encoding out to room members (a trait, not the socket type)
//!   protocol       pure codecs, no I/O
//!   observer       hooks every stage reports to when something watches the server
//!   admin_ui       the Socket.IO Admin UI's namespace, fed by those hooks
//! ```
//!
//! Imports only go down this list of layers (`scripts/check-layers.sh` checks the lower ones):
//!
//! ```text
//! protocol, time, handshake           protocol imports only time
//! options, metrics, payload           protocol
//! engine                              protocol, options, metrics, handshake
//! transport                           engine (+ the above)
//! room                                engine (a member's outbound queue), handshake, protocol, metrics
//! adapter                             room, payload (+ the above)
//! socket, namespace, broadcast,       adapter, room, engine (the Socket.IO layer: they name
//!   observer                            each other)
//! server                              the Socket.IO layer, engine, transport
//! front, admin, admin_ui, broker      server (+ below)
//! config, app                         wiring (config reads admin_ui's option types)
//! ```
//!
//! ```no_run
//! use roomcast::{Payload, Server, ServerOptions};
//!
//! #[actix_web::main]
//! async fn main() -> std::io::Result<()> {
//!     let io = Server::new(ServerOptions::default());
//!     io.on_connection(|socket| {
//!         let _ = socket.emit("sayHello", format!("Hello {} from. Server", socket.id()));
//!         socket.on("message", |socket, args, _ack| {
//!             let _ = socket.broadcast().emit("message", args);
//!         });
//!     });
//!     let listener = std::net::TcpListener::bind("127.0.0.1:8000")?;
//!     io.http_server(listener)?.await
//! }
//! ```

pub mod adapter;
pub mod admin;
pub mod admin_ui;
pub mod app;
pub mod broadcast;
pub mod broker;
pub mod config;
pub mod engine;
pub mod front;
/// Thin entry points for the fuzz targets in `fuzz/` (crate-private decoders); not a stable API.
#[doc(hidden)]
pub mod fuzzing;
pub mod handshake;
pub mod metrics;
pub mod namespace;
pub mod observer;
pub mod options;
pub mod payload;
pub mod protocol;
pub mod room;
pub mod server;
pub mod socket;
#[doc(hidden)]
pub mod testing;
pub mod time;
pub mod transport;

pub use adapter::{AckReplies, AckReply, ServerAck, ServerEvent, ServerReplies};
pub use broadcast::BroadcastOperator;
pub use front::HttpFront;
pub use handshake::{Handshake, HandshakeDescription};
pub use namespace::ConnectError;
pub use options::{Cors, Parser, RecoveryBounds, RecoveryOptions, ServerOptions, Transports};
pub use payload::Payload;
pub use protocol::ids::Sid;
pub use room::SocketDescription;
pub use server::{NamespaceRef, Server};
pub use socket::{AckError, AckSender, DisconnectReason, EmitError, JoinError, Socket};

/// The README's Rust example, compiled by `cargo test --doc` so that it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeExamples;
