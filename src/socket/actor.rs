//! The socket actor: runs the namespace middlewares when it starts, answers CONNECT, dispatches the
//! client's events and acknowledgements to the handlers, owns the acknowledgements it awaits (each
//! with its cancellable timeout), and is the single owner of the socket's cleanup.

use std::time::Duration;

use actix::{
    Actor, ActorContext, ActorFutureExt, AsyncContext, Context, Handler, Message, Running,
    SpawnHandle, WrapFuture,
};
use bytes::Bytes;
use serde_json::{json, Value};

use crate::adapter::recovery::store::Restored;
use crate::engine::CloseReason;
use crate::namespace::ConnectError;
use crate::payload::{frames_of, Payload};
use crate::protocol::socketio::{Packet, PacketType};
use crate::socket::ack::AckTable;
use crate::socket::client::tell_client;
use crate::socket::recovery;
use crate::socket::{AckCallback, AckError, AckSender, DisconnectReason, Socket};

/// A packet from the client for this namespace. Sent by the engine session actor.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Incoming {
    /// The decoded packet (EVENT, ACK or their binary forms).
    pub packet: Packet,
    /// Its attachments.
    pub binary: Vec<Bytes>,
}

/// Emit an event that expects an acknowledgement. Sent by `Socket::emit_with_ack`.
#[derive(Message)]
#[rtype(result = "()")]
pub struct EmitWithAck {
    /// Event name.
    pub event: String,
    /// Arguments.
    pub payload: Payload,
    /// How long to wait for the acknowledgement.
    pub timeout: Duration,
    /// Called once with the result.
    pub callback: AckCallback,
}

/// The socket leaves because of the client or the connection. Sent by the engine session actor.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Disconnect {
    /// Why.
    pub reason: DisconnectReason,
}

/// The server disconnects the socket. Sent by `Socket::disconnect` and bulk disconnects.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ServerDisconnect {
    /// Close the whole connection too.
    pub close: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Connecting,
    Connected,
    Closed,
}

/// The actor of one socket.
pub struct SocketActor {
    socket: Option<Socket>,
    /// The session it recovers, until it is accepted.
    restored: Option<Restored>,
    acks: AckTable<(AckCallback, SpawnHandle)>,
    phase: Phase,
}

impl SocketActor {
    /// The socket actor is created by the engine session with [`Actor::create`], which hands the
    /// socket its address; `socket` is set right after.
    pub(crate) fn new() -> Self {
        SocketActor {
            socket: None,
            restored: None,
            acks: AckTable::default(),
            phase: Phase::Connecting,
        }
    }

    pub(crate) fn with_socket(mut self, socket: Socket) -> Self {
        self.socket = Some(socket);
        self
    }

    pub(crate) fn with_restored(mut self, restored: Option<Restored>) -> Self {
        self.restored = restored;
        self
    }

    fn socket(&self) -> &Socket {
        // `with_socket` is always called inside the `Actor::create` closure, before the actor runs.
        self.socket.as_ref().expect("socket set at creation")
    }

    /// Runs the middlewares; the asynchronous ones hold the actor's other messages back until
    /// they have decided (so no event overtakes the CONNECT).
    fn connect(&mut self, ctx: &mut Context<Self>) {
        let socket = self.socket().clone();
        let ns = socket.namespace().clone();
        if self.restored.is_some() && ns.limits().recovery_skips_middlewares {
            return self.accept(ctx);
        }
        if let Err(e) = ns.run_middlewares(&socket) {
            return self.refuse(e, ctx);
        }
        match ns.async_middlewares(&socket) {
            None => self.accept(ctx),
            Some(verdict) => ctx.wait(verdict.into_actor(self).map(
                |verdict, act, ctx| match verdict {
                    Ok(()) => act.accept(ctx),
                    Err(e) => act.refuse(e, ctx),
                },
            )),
        }
    }

    fn refuse(&mut self, e: ConnectError, ctx: &mut Context<Self>) {
        let socket = self.socket().clone();
        let ns = socket.namespace();
        let packet = Packet::connect_error(ns.name(), &e.message, e.data);
        let frames = frames_of(socket.parser(), &packet, Vec::new());
        socket.conn().push(&frames, false);
        let (nsp, sid) = (ns.name().to_owned(), socket.id());
        tell_client(socket.conn(), move |client, _| {
            client.socket_closed(&nsp, sid)
        });
        self.phase = Phase::Closed;
        ctx.stop();
    }

    fn accept(&mut self, ctx: &mut Context<Self>) {
        if self.phase != Phase::Connecting {
            return; // the connection ended while an asynchronous middleware ran
        }
        let socket = self.socket().clone();
        let ns = socket.namespace().clone();
        socket.set_connected(true);
        match self.restored.take() {
            // Its rooms back, then its missed packets and its membership in one step.
            Some(r) => {
                let added = socket.record_joined(&r.session.rooms).is_ok()
                    && ns.adapter().add_recovered_socket(socket.clone(), &r);
                if !added {
                    return self.unrecoverable(ctx);
                }
            }
            None => ns.adapter().add_socket(socket.clone()),
        }
        self.phase = Phase::Connected;
        ns.socket_added();
        let mut answer = json!({ "sid": socket.id().as_str() });
        if let Some(pid) = socket.pid() {
            answer["pid"] = json!(pid.as_str());
        }
        let packet = Packet::connect(ns.name(), Some(answer));
        // in a write of its own, before whatever the connection handlers emit
        let frames = frames_of(socket.parser(), &packet, Vec::new());
        socket.conn().push_alone(&frames);
        tell_client(socket.conn(), |client, io| client.socket_connected(io));
        if let Some(observer) = socket.observer() {
            observer.socket_connected(&socket);
        }
        ns.run_connection_handlers(&socket);
    }

    /// A session given back whose missed packets went meanwhile (evicted while the middlewares
    /// ran): its id is taken, so rather than a new session under it or a gap, the connection is
    /// closed; the client reconnects and, the session being gone, gets a new one.
    fn unrecoverable(&mut self, ctx: &mut Context<Self>) {
        let socket = self.socket().clone();
        socket.set_connected(false);
        socket.clear_rooms();
        let (nsp, sid) = (socket.ns().to_owned(), socket.id());
        tell_client(socket.conn(), move |client, io| {
            client.socket_closed(&nsp, sid);
            io.close(CloseReason::ForcedServerClose);
        });
        self.phase = Phase::Closed;
        ctx.stop();
    }

    fn on_event(&mut self, packet: Packet, binary: Vec<Bytes>) {
        let socket = self.socket().clone();
        let id = packet.id;
        // `42` without payload or with an empty array: ignored, as the reference server does.
        let Some((event, args)) = packet.into_event_args() else {
            return;
        };
        let mut payload = Payload { args, binary };
        if let Some(observer) = socket.observer() {
            observer.event_received(&socket, &event, &payload);
        }
        let Some((handler, wants_name)) = socket.handler_for(&event) else {
            return;
        };
        if wants_name {
            payload.args.insert(0, Value::String(event));
        }
        let ack = id.map(|id| AckSender::new(socket.clone(), id));
        handler(&socket, payload, ack);
    }

    fn on_ack(&mut self, packet: Packet, binary: Vec<Bytes>, ctx: &mut Context<Self>) {
        let Some(id) = packet.id else { return };
        let Some((callback, timer)) = self.acks.take(id) else {
            return;
        };
        ctx.cancel_future(timer);
        let args = packet.into_ack_args().unwrap_or_default();
        callback(Ok(Payload { args, binary }));
    }

    /// The one cleanup path: `disconnecting` handlers (rooms still visible), leave every room,
    /// fail pending acknowledgements, `disconnect` handlers, stop.
    fn close(&mut self, reason: DisconnectReason, ctx: &mut Context<Self>) {
        if self.phase != Phase::Connected {
            self.phase = Phase::Closed;
            ctx.stop();
            return;
        }
        self.phase = Phase::Closed;
        let socket = self.socket().clone();
        for h in socket.disconnecting_handlers() {
            h(&socket, reason);
        }
        socket.set_connected(false);
        let ns = socket.namespace().clone();
        // Removed before its session can be found: a recovery of it (on another thread) then
        // adds the socket after this removal, never before it.
        let session = recovery::session_of(&socket, reason);
        ns.adapter().remove_socket(socket.id());
        if let Some(session) = session {
            ns.adapter().persist_session(session);
        }
        socket.clear_rooms();
        ns.socket_removed();
        for (callback, timer) in self.acks.drain() {
            ctx.cancel_future(timer);
            callback(Err(AckError::Disconnected));
        }
        for h in socket.take_disconnect_handlers() {
            h(&socket, reason);
        }
        ns.metrics().disconnect(reason.as_str());
        if let Some(observer) = socket.observer() {
            observer.socket_disconnected(&socket, reason);
        }
        ctx.stop();
    }
}

impl Actor for SocketActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(crate::socket::actor::INBOUND_MAILBOX);
        self.connect(ctx);
    }

    fn stopping(&mut self, ctx: &mut Self::Context) -> Running {
        if self.phase == Phase::Connected {
            self.close(DisconnectReason::Engine(CloseReason::ForcedClose), ctx);
        }
        Running::Stop
    }
}

/// How many inbound packets may wait for one socket actor before the client counts as flooding.
pub const INBOUND_MAILBOX: usize = 1024;

impl Handler<Incoming> for SocketActor {
    type Result = ();
    fn handle(&mut self, msg: Incoming, ctx: &mut Self::Context) {
        if self.phase != Phase::Connected {
            return;
        }
        match msg.packet.kind {
            PacketType::Event | PacketType::BinaryEvent => self.on_event(msg.packet, msg.binary),
            PacketType::Ack | PacketType::BinaryAck => self.on_ack(msg.packet, msg.binary, ctx),
            _ => {}
        }
        // A client publishing faster than the room supervisors fan out waits here (and, through
        // this actor's mailbox and its transport, at TCP), so their backlog stays bounded.
        if let Some(drained) = self.socket().namespace().adapter().backpressure() {
            ctx.wait(drained.into_actor(self));
        }
    }
}

impl Handler<EmitWithAck> for SocketActor {
    type Result = ();
    fn handle(&mut self, msg: EmitWithAck, ctx: &mut Self::Context) {
        if self.phase != Phase::Connected {
            (msg.callback)(Err(AckError::Disconnected));
            return;
        }
        let id = self.acks.next_id();
        let socket = self.socket();
        let frames = msg
            .payload
            .event_frames(socket.parser(), socket.ns(), &msg.event, Some(id));
        if self.socket().conn().push(&frames, false) != crate::engine::PushOutcome::Queued {
            (msg.callback)(Err(AckError::Disconnected));
            return;
        }
        let timer = ctx.run_later(msg.timeout, move |act, _| {
            if let Some((callback, _)) = act.acks.take(id) {
                act.socket().namespace().metrics().ack_timeouts.increment(1);
                callback(Err(AckError::Timeout));
            }
        });
        self.acks.insert(id, (msg.callback, timer));
    }
}

impl Handler<Disconnect> for SocketActor {
    type Result = ();
    fn handle(&mut self, msg: Disconnect, ctx: &mut Self::Context) {
        self.close(msg.reason, ctx);
    }
}

impl Handler<ServerDisconnect> for SocketActor {
    type Result = ();
    fn handle(&mut self, msg: ServerDisconnect, ctx: &mut Self::Context) {
        if self.phase != Phase::Connected {
            return;
        }
        let socket = self.socket().clone();
        if msg.close {
            tell_client(socket.conn(), |client, io| client.disconnect_all(io));
            return;
        }
        let packet = Packet::disconnect(socket.ns());
        let frames = frames_of(socket.parser(), &packet, Vec::new());
        socket.conn().push(&frames, false);
        let (nsp, sid) = (socket.ns().to_owned(), socket.id());
        tell_client(socket.conn(), move |client, _| {
            client.socket_closed(&nsp, sid)
        });
        self.close(DisconnectReason::ServerNamespaceDisconnect, ctx);
    }
}
