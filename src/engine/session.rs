//! The engine session actor: one per Engine.IO connection. It receives the client's packets from
//! whichever transport carries them, runs the heartbeat (server ping, pong deadline), the connect
//! and upgrade timeouts, decodes Socket.IO packets (reassembling binary ones) and routes them to the
//! connection's socket actors, and closes the session exactly once.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use actix::prelude::SendError;
use actix::{
    Actor, ActorContext, ActorFutureExt, AsyncContext, Context, Handler, Message, SpawnHandle,
    WrapFuture,
};
use serde_json::Value;

use crate::engine::{CloseReason, Conn};
use crate::handshake::{ConnInfo, Handshake};
use crate::namespace::Unresolved;
use crate::payload::frames_of;
use crate::protocol::engineio::{Frame, Packet as EioPacket};
use crate::protocol::ids::Sid;
use crate::protocol::socketio::{self as sio, Decoder, Packet, PacketType};
use crate::server::{RawMessage, ServerInner};
use crate::socket::actor::{Disconnect, Incoming, SocketActor};
use crate::socket::{DisconnectReason, Socket};

/// Packets of one polling POST. Sent by the polling transport; answered once they are queued in
/// the session's backlog, which holds at most one POST's packets: while a socket's mailbox is
/// full the session handles no further message, so the next POST waits (backpressure).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Inbound {
    /// The decoded Engine.IO packets, in order.
    pub packets: Vec<EioPacket>,
}

/// One packet from the active WebSocket. Sent by the WebSocket reader.
#[derive(Message)]
#[rtype(result = "()")]
pub struct WsInbound {
    /// The decoded Engine.IO packet.
    pub packet: EioPacket,
}

/// Close the session. Sent by transports (errors), by the outbound queue (slow consumer) and by
/// sockets (`disconnect(true)`).
#[derive(Message)]
#[rtype(result = "()")]
pub struct CloseRequest {
    /// Why.
    pub reason: CloseReason,
}

/// Disconnect every socket of the connection (each gets DISCONNECT), then close it. Sent by
/// `Socket::disconnect(true)`.
#[derive(Message)]
#[rtype(result = "()")]
pub struct DisconnectAll;

/// A WebSocket became the upgrade candidate. Sent by the WebSocket transport.
#[derive(Message)]
#[rtype(result = "()")]
pub struct UpgradeStarted {
    /// Its generation.
    pub ws: u64,
}

/// The candidate WebSocket completed the upgrade. Sent by the WebSocket reader.
#[derive(Message)]
#[rtype(result = "()")]
pub struct UpgradeCompleted {
    /// Its generation.
    pub ws: u64,
}

/// A WebSocket ended. Sent by the WebSocket reader when its stream ends or fails.
#[derive(Message)]
#[rtype(result = "()")]
pub struct TransportGone {
    /// Its generation.
    pub ws: u64,
    /// What ended it.
    pub reason: CloseReason,
}

/// A socket completed its CONNECT. Sent by the socket actor.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SocketConnected {
    /// Its namespace.
    pub nsp: String,
}

/// A socket left (refused by a middleware or disconnected by the server). Sent by the socket actor.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SocketClosed {
    /// Its namespace.
    pub nsp: String,
    /// Its id (a newer socket of the same namespace is left alone).
    pub sid: Sid,
}

/// The actor.
pub struct EngineSession {
    server: Arc<ServerInner>,
    created: Instant,
    conn: Option<Arc<Conn>>,
    info: Arc<ConnInfo>,
    decoder: Decoder,
    sockets: HashMap<String, Socket>,
    ping_deadline: Option<SpawnHandle>,
    connect_timer: Option<SpawnHandle>,
    upgrade_timer: Option<SpawnHandle>,
    /// Packets received and not yet handled, in order.
    backlog: VecDeque<EioPacket>,
    /// A socket's mailbox is full: the backlog waits until it takes the packet in hand.
    stalled: bool,
}

impl EngineSession {
    /// A session for a client described by `info`; its connection is attached with
    /// [`EngineSession::with_conn`] inside `Actor::create`.
    pub(crate) fn new(server: Arc<ServerInner>, info: Arc<ConnInfo>) -> Self {
        EngineSession {
            decoder: Decoder::new(server.options.parser),
            server,
            created: Instant::now(),
            conn: None,
            info,
            sockets: HashMap::new(),
            ping_deadline: None,
            connect_timer: None,
            upgrade_timer: None,
            backlog: VecDeque::new(),
            stalled: false,
        }
    }

    pub(crate) fn with_conn(mut self, conn: Arc<Conn>) -> Self {
        self.conn = Some(conn);
        self
    }

    fn conn(&self) -> &Arc<Conn> {
        // Set by `with_conn` inside `Actor::create`, before the actor runs.
        self.conn.as_ref().expect("conn set at creation")
    }

    /// The next ping goes `ping_interval` after `from` (the handshake or the last pong).
    fn schedule_ping(&mut self, from: Instant, ctx: &mut Context<Self>) {
        let at = from + self.server.options.ping_interval;
        ctx.run_later(
            at.saturating_duration_since(Instant::now()),
            move |act, ctx| {
                act.conn().push_one(Frame::ping());
                let due = at + act.server.options.ping_timeout;
                act.conn().set_pong_deadline(Some(due));
                act.ping_deadline = Some(
                    ctx.run_later(due.saturating_duration_since(Instant::now()), |act, ctx| {
                        act.close(CloseReason::PingTimeout, ctx)
                    }),
                );
            },
        );
    }

    fn on_packet(&mut self, packet: EioPacket, ctx: &mut Context<Self>) {
        self.server.metrics.packets_in.increment(1);
        if let Some(observer) = self.server.metrics.observer() {
            match &packet {
                EioPacket::Message(text) => observer.packets_in(1, text.len()),
                EioPacket::Binary(data) => observer.packets_in(1, data.len()),
                _ => {}
            }
        }
        if let Some(raw) = &self.server.raw {
            match packet {
                EioPacket::Message(text) => return raw(self.conn(), RawMessage::Text(text)),
                EioPacket::Binary(data) => return raw(self.conn(), RawMessage::Binary(data)),
                _ => {}
            }
        }
        match packet {
            EioPacket::Message(text) => match self.decoder.on_text(&text) {
                Ok(Some(inbound)) => self.dispatch(inbound, ctx),
                Ok(None) => {}
                Err(_) => self.close_invalid_packet(ctx),
            },
            EioPacket::Binary(data) => match self.decoder.on_binary(data) {
                Ok(Some(inbound)) => self.dispatch(inbound, ctx),
                Ok(None) => {}
                Err(_) => self.close_invalid_packet(ctx),
            },
            EioPacket::Pong(_) => {
                if let Some(h) = self.ping_deadline.take() {
                    ctx.cancel_future(h);
                    self.conn().set_pong_deadline(None);
                    self.schedule_ping(Instant::now(), ctx);
                }
            }
            EioPacket::Close => self.close(CloseReason::TransportClose, ctx),
            // A v4 client never pings (the probe is handled by the WebSocket transport).
            EioPacket::Ping(_) | EioPacket::Open(_) => self.close(CloseReason::TransportError, ctx),
            EioPacket::Upgrade | EioPacket::Noop => {}
        }
    }

    fn dispatch(&mut self, inbound: sio::Inbound, ctx: &mut Context<Self>) {
        let sio::Inbound { packet, binary } = inbound;
        match packet.kind {
            PacketType::Connect if !self.sockets.contains_key(&packet.nsp) => {
                self.connect(packet, ctx);
            }
            PacketType::Event
            | PacketType::BinaryEvent
            | PacketType::Ack
            | PacketType::BinaryAck => {
                let Some(socket) = self.sockets.get(&packet.nsp) else {
                    return self.close_invalid_packet(ctx);
                };
                match socket.addr().try_send(Incoming { packet, binary }) {
                    Ok(()) => {}
                    // The handlers are behind: stop reading this client until they catch up
                    // (its transport waits on this actor, so the backpressure reaches TCP).
                    // One waiting packet at a time: the rest of the backlog stays as decoded packets.
                    Err(SendError::Full(msg)) => {
                        let addr = socket.addr().clone();
                        self.stalled = true;
                        ctx.wait(
                            async move {
                                let _ = addr.send(msg).await;
                            }
                            .into_actor(self)
                            .map(|(), act, ctx| {
                                act.stalled = false;
                                act.drain_backlog(ctx);
                            }),
                        );
                    }
                    Err(SendError::Closed(_)) => {}
                }
            }
            PacketType::Disconnect => match self.sockets.remove(&packet.nsp) {
                Some(socket) => socket.addr().do_send(Disconnect {
                    reason: DisconnectReason::ClientNamespaceDisconnect,
                }),
                None => self.close_invalid_packet(ctx),
            },
            // A second CONNECT for a joined namespace, or a CONNECT_ERROR from a client.
            _ => self.close_invalid_packet(ctx),
        }
    }

    fn connect(&mut self, packet: Packet, _ctx: &mut Context<Self>) {
        let nsp = packet.nsp;
        let resolved = if self.sockets.len() >= self.server.options.max_namespaces_per_connection {
            Err((Unresolved::Limit, "connection limit"))
        } else {
            self.server
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
                        self.server.metrics.namespace_refused(limit);
                        let data = serde_json::json!({ "reason": limit });
                        Packet::connect_error(&nsp, "Too many namespaces", Some(data))
                    }
                };
                let frames = frames_of(self.server.options.parser, &refusal, Vec::new());
                self.conn().push(&frames, false);
                return;
            }
        };
        let handshake = Handshake {
            conn: self.info.clone(),
            auth: packet
                .data
                .unwrap_or_else(|| Value::Object(Default::default())),
        };
        let conn = self.conn().clone();
        let mut created = None;
        SocketActor::create(|ctx| {
            let socket = Socket::new(ns, conn, ctx.address(), handshake);
            created = Some(socket.clone());
            SocketActor::new().with_socket(socket)
        });
        if let Some(socket) = created {
            self.sockets.insert(nsp, socket);
        }
    }

    /// A Socket.IO packet the parser refuses, or one that breaks the protocol, in a valid
    /// Engine.IO message: closed with `parse error`. Node's server closes the Engine.IO
    /// connection then, so a polling client's next GET gets the close packet (not a 400 for an
    /// unknown session): a client speaking the other parser sees `transport close`.
    fn close_invalid_packet(&mut self, ctx: &mut Context<Self>) {
        self.close_with(CloseReason::ParseError, true, ctx);
    }

    /// Ends the session once: every socket leaves with `reason`, the transports flush and close.
    fn close(&mut self, reason: CloseReason, ctx: &mut Context<Self>) {
        self.close_with(reason, false, ctx);
    }

    fn close_with(&mut self, reason: CloseReason, poll_gets_close: bool, ctx: &mut Context<Self>) {
        // A polling client has yet to fetch what is queued and the close packet, or closed the
        // session with a POST while its GET may still be on the way: keep the session reachable
        // for one more GET (which removes it and answers the rest, `1`, or a noop), within a
        // bounded grace period.
        let polling = self.conn().state().polling_drains();
        let awaits_poll = polling
            && (poll_gets_close || reason.flushes() || reason == CloseReason::TransportClose);
        if !self.conn().update_state(|s| s.close(reason)) {
            return;
        }
        self.server.registry.closed();
        tracing::info!(sid = %self.conn().sid(), %reason, "connection closed");
        if let Some(observer) = self.server.metrics.observer() {
            observer.connection_closed(reason);
        }
        self.server
            .metrics
            .labelled_counter(
                "roomcast_connections_closed_total",
                "reason",
                reason.as_str(),
            )
            .increment(1);
        let sid = self.conn().sid();
        if awaits_poll {
            let server = self.server.clone();
            let grace = server.options.ping_interval + server.options.ping_timeout;
            actix_rt::spawn(async move {
                actix_rt::time::sleep(grace).await;
                server.registry.remove(&sid);
            });
        } else {
            self.server.registry.remove(&sid);
        }
        for (_, socket) in self.sockets.drain() {
            socket.addr().do_send(Disconnect {
                reason: DisconnectReason::Engine(reason),
            });
        }
        ctx.stop();
    }
}

impl Actor for EngineSession {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(256);
        self.schedule_ping(self.created, ctx);
        if self.server.raw.is_some() {
            return;
        }
        let timeout = self.server.options.connect_timeout;
        self.connect_timer = Some(ctx.run_later(timeout, |act, ctx| {
            act.close(CloseReason::ForcedServerClose, ctx);
        }));
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        // However the actor ended, the session must not stay registered.
        if let Some(conn) = &self.conn {
            if conn.update_state(|s| s.close(CloseReason::TransportClose)) {
                self.server.registry.closed();
                self.server.registry.remove(&conn.sid());
            }
        }
    }
}

impl EngineSession {
    /// Handles the backlog in order until it is empty, a socket's mailbox is full, or the
    /// session closed (what is left is then dropped with it).
    fn drain_backlog(&mut self, ctx: &mut Context<Self>) {
        while !self.stalled {
            if self.conn().state().is_closed() {
                self.backlog.clear();
                return;
            }
            let Some(packet) = self.backlog.pop_front() else {
                return;
            };
            self.on_packet(packet, ctx);
        }
    }
}

impl Handler<Inbound> for EngineSession {
    type Result = ();
    fn handle(&mut self, msg: Inbound, ctx: &mut Self::Context) {
        self.backlog.extend(msg.packets);
        self.drain_backlog(ctx);
    }
}

impl Handler<WsInbound> for EngineSession {
    type Result = ();
    fn handle(&mut self, msg: WsInbound, ctx: &mut Self::Context) {
        self.backlog.push_back(msg.packet);
        self.drain_backlog(ctx);
    }
}

impl Handler<CloseRequest> for EngineSession {
    type Result = ();
    fn handle(&mut self, msg: CloseRequest, ctx: &mut Self::Context) {
        self.close(msg.reason, ctx);
    }
}

impl Handler<DisconnectAll> for EngineSession {
    type Result = ();
    fn handle(&mut self, _: DisconnectAll, ctx: &mut Self::Context) {
        let parser = self.server.options.parser;
        for (nsp, socket) in self.sockets.drain() {
            let frames = frames_of(parser, &Packet::disconnect(&nsp), Vec::new());
            socket.conn().push(&frames, false);
            socket.addr().do_send(Disconnect {
                reason: DisconnectReason::ServerNamespaceDisconnect,
            });
        }
        self.close(CloseReason::ForcedClose, ctx);
    }
}

impl Handler<UpgradeStarted> for EngineSession {
    type Result = ();
    fn handle(&mut self, msg: UpgradeStarted, ctx: &mut Self::Context) {
        let ws = msg.ws;
        let timeout = self.server.options.upgrade_timeout;
        self.upgrade_timer = Some(ctx.run_later(timeout, move |act, _| {
            act.conn().update_state(|s| s.abort_upgrade(ws));
        }));
    }
}

impl Handler<UpgradeCompleted> for EngineSession {
    type Result = ();
    fn handle(&mut self, _: UpgradeCompleted, ctx: &mut Self::Context) {
        if let Some(h) = self.upgrade_timer.take() {
            ctx.cancel_future(h);
        }
        if let Some(observer) = self.server.metrics.observer() {
            let sockets: Vec<Socket> = self.sockets.values().cloned().collect();
            observer.transport_upgraded(&sockets);
        }
    }
}

impl Handler<TransportGone> for EngineSession {
    type Result = ();
    fn handle(&mut self, msg: TransportGone, ctx: &mut Self::Context) {
        let state = self.conn().state();
        if state.is_active_ws(msg.ws) {
            self.close(msg.reason, ctx);
        } else if state.upgrade_candidate() == Some(msg.ws) {
            self.conn().update_state(|s| s.abort_upgrade(msg.ws));
        }
    }
}

impl Handler<SocketConnected> for EngineSession {
    type Result = ();
    fn handle(&mut self, _: SocketConnected, ctx: &mut Self::Context) {
        if let Some(h) = self.connect_timer.take() {
            ctx.cancel_future(h);
        }
    }
}

impl Handler<SocketClosed> for EngineSession {
    type Result = ();
    fn handle(&mut self, msg: SocketClosed, _: &mut Self::Context) {
        if self
            .sockets
            .get(&msg.nsp)
            .is_some_and(|s| s.id() == msg.sid)
        {
            self.sockets.remove(&msg.nsp);
        }
    }
}
