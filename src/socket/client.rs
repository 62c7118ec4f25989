//! The Socket.IO side of one Engine.IO connection: the engine session's [`Handler`]. It decodes
//! Socket.IO packets (reassembling binary ones), keeps the connection's sockets by namespace,
//! answers CONNECT by resolving the namespace and starting a socket actor, enforces the connect
//! timeout, and dispatches events and acknowledgements to the socket actors.

use std::any::Any;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::SendError;
use actix::{Actor, AsyncContext};
use serde_json::Value;

use crate::engine::session::HandlerCall;
use crate::engine::{CloseReason, Conn, Handler, HandlerFactory, Message, SessionIo};
use crate::handshake::{ConnInfo, Handshake};
use crate::metrics::Metrics;
use crate::namespace::{Namespace, Namespaces, Unresolved};
use crate::payload::frames_of;
use crate::protocol::ids::Sid;
use crate::protocol::socketio::{Decoded, Decoder, Packet, PacketType, Parser};
use crate::socket::actor::{Disconnect, Incoming, SocketActor};
use crate::socket::by_nsp::SocketsByNsp;
use crate::socket::{recovery, DisconnectReason, Socket};

/// What every connection's client shares: the server's namespaces and the Socket.IO settings.
pub struct ClientConfig {
    /// The server's namespaces.
    pub namespaces: Arc<Namespaces>,
    /// The server's metrics.
    pub metrics: Arc<Metrics>,
    /// The parser the clients use.
    pub parser: Parser,
    /// How long a connection may stay without joining any namespace.
    pub connect_timeout: Duration,
    /// Most namespaces one connection may have joined at once.
    pub max_namespaces_per_connection: usize,
}

/// Makes each session's [`Client`].
pub struct ClientFactory(pub Arc<ClientConfig>);

impl HandlerFactory for ClientFactory {
    fn open(&self, _conn: &Arc<Conn>, info: &Arc<ConnInfo>) -> Box<dyn Handler> {
        Box::new(Client {
            decoder: Decoder::new(self.0.parser),
            config: self.0.clone(),
            info: info.clone(),
            sockets: SocketsByNsp::default(),
            pending: HashMap::new(),
        })
    }
}

/// The handler of one connection.
pub struct Client {
    config: Arc<ClientConfig>,
    info: Arc<ConnInfo>,
    decoder: Decoder,
    sockets: SocketsByNsp,
    /// CONNECTs waiting for their adapter to take a session back (from Redis), by namespace.
    pending: HashMap<String, Pending>,
}

/// A CONNECT whose socket's identity is being looked up; its client's later packets are held
/// back until it is known.
struct Pending {
    ns: Arc<Namespace>,
    handshake: Handshake,
    identified: Arc<parking_lot::Mutex<Option<recovery::Identified>>>,
}

/// Runs `f` on the client of the connection `conn`, on its session actor (fire and forget; nothing
/// runs once the session is closed).
pub(crate) fn tell_client(
    conn: &Conn,
    f: impl FnOnce(&mut Client, &mut SessionIo<'_>) + Send + 'static,
) {
    conn.tell(HandlerCall {
        call: Box::new(move |handler, io| {
            let handler: &mut dyn Any = handler;
            if let Some(client) = handler.downcast_mut::<Client>() {
                f(client, io);
            }
        }),
    });
}

impl Handler for Client {
    fn on_open(&mut self, io: &mut SessionIo<'_>) {
        io.set_timer(self.config.connect_timeout);
    }

    fn on_message(&mut self, message: Message, io: &mut SessionIo<'_>) {
        let decoded = match message {
            Message::Text(text) => self.decoder.on_text(&text),
            Message::Binary(data) => self.decoder.on_binary(data),
        };
        match decoded {
            Ok(Some(decoded)) => self.dispatch(decoded, io),
            Ok(None) => {}
            Err(e) => {
                tracing::debug!(sid = %io.conn().sid(), error = %e, "parse error");
                io.close_invalid();
            }
        }
    }

    fn on_upgraded(&mut self) {
        let Some(socket) = self.sockets.values().next() else {
            return;
        };
        if let Some(observer) = socket.observer() {
            let sockets: Vec<Socket> = self.sockets.values().cloned().collect();
            observer.transport_upgraded(&sockets);
        }
    }

    /// The connect timeout: no namespace joined in time.
    fn on_timer(&mut self, io: &mut SessionIo<'_>) {
        io.close(CloseReason::ForcedServerClose);
    }

    fn on_close(&mut self, reason: CloseReason) {
        for (_, socket) in self.sockets.drain() {
            socket.addr().do_send(Disconnect {
                reason: DisconnectReason::Engine(reason),
            });
        }
    }
}

impl Client {
    fn dispatch(&mut self, decoded: Decoded, io: &mut SessionIo<'_>) {
        self.finish_pending(io);
        let Decoded { packet, binary } = decoded;
        match packet.kind {
            PacketType::Connect
                if !self.sockets.contains_key(&packet.nsp)
                    && !self.pending.contains_key(&packet.nsp) =>
            {
                self.connect(packet, io);
            }
            PacketType::Event
            | PacketType::BinaryEvent
            | PacketType::Ack
            | PacketType::BinaryAck => {
                let Some(socket) = self.sockets.get(&packet.nsp) else {
                    return self.protocol_error(io, "packet for a namespace not joined");
                };
                match socket.addr().try_send(Incoming { packet, binary }) {
                    Ok(()) => {}
                    // The handlers are behind: read this client no further until they catch up
                    // (its transport waits on the session, so the backpressure reaches TCP). One
                    // waiting packet at a time: the rest of the backlog stays as decoded packets.
                    Err(SendError::Full(msg)) => {
                        let addr = socket.addr().clone();
                        io.hold_until(async move {
                            let _ = addr.send(msg).await;
                        });
                    }
                    Err(SendError::Closed(_)) => {}
                }
            }
            PacketType::Disconnect => match self.sockets.remove(&packet.nsp) {
                Some(socket) => socket.addr().do_send(Disconnect {
                    reason: DisconnectReason::ClientNamespaceDisconnect,
                }),
                None => self.protocol_error(io, "DISCONNECT for a namespace not joined"),
            },
            PacketType::Connect => self.protocol_error(io, "second CONNECT for a namespace"),
            _ => self.protocol_error(io, "CONNECT_ERROR from a client"),
        }
    }

    /// A valid packet that breaks the protocol: closed with `parse error`, as Node's server does.
    fn protocol_error(&self, io: &mut SessionIo<'_>, what: &str) {
        tracing::debug!(sid = %io.conn().sid(), what, "protocol error");
        io.close_invalid();
    }

    fn connect(&mut self, packet: Packet, io: &mut SessionIo<'_>) {
        let nsp = packet.nsp;
        let config = &self.config;
        let resolved = if self.sockets.len() >= config.max_namespaces_per_connection {
            Err((Unresolved::Limit, "connection limit"))
        } else {
            config
                .namespaces
                .resolve(&nsp)
                .map_err(|e| (e, "server limit"))
        };
        let ns = match resolved {
            Ok(ns) => ns,
            Err((why, limit)) => {
                let refusal = match why {
                    Unresolved::Unknown => Packet::connect_error(&nsp, "Invalid namespace", None),
                    Unresolved::Limit => {
                        config.metrics.namespace_refused(limit);
                        let data = serde_json::json!({ "reason": limit });
                        Packet::connect_error(&nsp, "Too many namespaces", Some(data))
                    }
                };
                let frames = frames_of(config.parser, &refusal, Vec::new());
                io.conn().push(&frames, false);
                return;
            }
        };
        let handshake = Handshake {
            conn: self.info.clone(),
            auth: packet
                .data
                .unwrap_or_else(|| Value::Object(Default::default())),
        };
        match recovery::identity(&ns, &handshake.auth) {
            Ok((identity, restored)) => {
                self.start_socket(nsp, ns, handshake, identity, restored, io)
            }
            Err(restoring) => {
                let identified = Arc::new(parking_lot::Mutex::new(None));
                let (filled, conn) = (identified.clone(), io.conn().clone());
                let pending = Pending {
                    ns,
                    handshake,
                    identified,
                };
                self.pending.insert(nsp, pending);
                io.hold_until(async move {
                    *filled.lock() = Some(restoring.await);
                    tell_client(&conn, |client, io| client.finish_pending(io));
                });
            }
        }
    }

    /// Starts the socket of every pending CONNECT whose identity is known.
    fn finish_pending(&mut self, io: &mut SessionIo<'_>) {
        let known: Vec<String> = self
            .pending
            .iter()
            .filter(|(_, p)| p.identified.lock().is_some())
            .map(|(nsp, _)| nsp.clone())
            .collect();
        for nsp in known {
            let Some(p) = self.pending.remove(&nsp) else {
                continue;
            };
            let Some((identity, restored)) = p.identified.lock().take() else {
                continue;
            };
            self.start_socket(nsp, p.ns, p.handshake, identity, restored, io);
        }
    }

    fn start_socket(
        &mut self,
        nsp: String,
        ns: Arc<Namespace>,
        handshake: Handshake,
        identity: crate::socket::Identity,
        restored: Option<crate::adapter::recovery::store::Restored>,
        io: &mut SessionIo<'_>,
    ) {
        let conn = io.conn().clone();
        let mut created = None;
        SocketActor::create(|ctx| {
            let socket = Socket::new(ns, conn, ctx.address(), handshake, identity);
            if let Some(r) = &restored {
                socket.set_data(r.session.data.clone());
            }
            created = Some(socket.clone());
            SocketActor::new()
                .with_socket(socket)
                .with_restored(restored)
        });
        if let Some(socket) = created {
            self.sockets.insert(nsp, socket);
        }
    }

    /// A socket completed its CONNECT: the connect timeout is over.
    pub(crate) fn socket_connected(&mut self, io: &mut SessionIo<'_>) {
        io.cancel_timer();
    }

    /// A socket left (refused by a middleware, or disconnected by the server); a newer socket of
    /// the same namespace is left alone.
    pub(crate) fn socket_closed(&mut self, nsp: &str, sid: Sid) {
        if self.sockets.get(nsp).is_some_and(|s| s.id() == sid) {
            self.sockets.remove(nsp);
        }
    }

    /// Disconnects every socket of the connection (each gets DISCONNECT), then closes it.
    pub(crate) fn disconnect_all(&mut self, io: &mut SessionIo<'_>) {
        for (nsp, socket) in self.sockets.drain() {
            let frames = frames_of(self.config.parser, &Packet::disconnect(&nsp), Vec::new());
            socket.conn().push(&frames, false);
            socket.addr().do_send(Disconnect {
                reason: DisconnectReason::ServerNamespaceDisconnect,
            });
        }
        io.close(CloseReason::ForcedClose);
    }
}
