//! The engine session actor: one per Engine.IO connection. It receives the client's packets from
//! whichever transport carries them, runs the heartbeat (server ping, pong deadline) and the upgrade
//! timeout, hands every message to its [`Handler`] (the layer above), and closes the session exactly
//! once.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use actix::{Actor, ActorContext, ActorFutureExt, AsyncContext, Context, SpawnHandle, WrapFuture};

use crate::engine::handler::{Handler, Message, SessionIo};
use crate::engine::{CloseReason, Conn, Engine};
use crate::protocol::engineio::{Frame, Packet as EioPacket};

/// Packets of one polling POST. Sent by the polling transport; answered once they are queued in
/// the session's backlog, which holds at most one POST's packets: while the handler holds input
/// back the session handles no further message, so the next POST waits (backpressure).
#[derive(actix::Message)]
#[rtype(result = "()")]
pub struct Received {
    /// The decoded Engine.IO packets, in order.
    pub packets: Vec<EioPacket>,
}

/// One packet from the active WebSocket. Sent by the WebSocket reader.
#[derive(actix::Message)]
#[rtype(result = "()")]
pub struct WsReceived {
    /// The decoded Engine.IO packet.
    pub packet: EioPacket,
}

/// Close the session. Sent by transports (errors), by the outbound queue (slow consumer), by the
/// server (shutdown) and by the layer above.
#[derive(actix::Message)]
#[rtype(result = "()")]
pub struct CloseRequest {
    /// Why.
    pub reason: CloseReason,
}

/// A WebSocket became the upgrade candidate. Sent by the WebSocket transport.
#[derive(actix::Message)]
#[rtype(result = "()")]
pub struct UpgradeStarted {
    /// Its generation.
    pub ws: u64,
}

/// The candidate WebSocket completed the upgrade. Sent by the WebSocket reader.
#[derive(actix::Message)]
#[rtype(result = "()")]
pub struct UpgradeCompleted {
    /// Its generation.
    pub ws: u64,
}

/// A WebSocket ended. Sent by the WebSocket reader when its stream ends or fails.
#[derive(actix::Message)]
#[rtype(result = "()")]
pub struct TransportGone {
    /// Its generation.
    pub ws: u64,
    /// What ended it.
    pub reason: CloseReason,
}

/// A call on the session's handler. Sent by the layer above for its own per-connection messages
/// (the handler downcasts itself to its own type); ignored once the session is closed.
#[derive(actix::Message)]
#[rtype(result = "()")]
pub struct HandlerCall {
    /// What to run.
    pub call: HandlerFn,
}

/// A call on a session's handler (see [`HandlerCall`]).
pub type HandlerFn = Box<dyn FnOnce(&mut dyn Handler, &mut SessionIo<'_>) + Send>;

/// The actor.
pub struct EngineSession {
    engine: Arc<Engine>,
    created: Instant,
    conn: Arc<Conn>,
    handler: Box<dyn Handler>,
    ping_deadline: Option<SpawnHandle>,
    upgrade_timer: Option<SpawnHandle>,
    /// The handler's timer.
    handler_timer: Option<SpawnHandle>,
    /// Packets received and not yet handled, in order.
    backlog: VecDeque<EioPacket>,
    /// The handler holds input back: the backlog waits until it lets go.
    stalled: bool,
}

impl EngineSession {
    /// A session for `conn`, whose messages go to `handler`.
    pub(crate) fn new(engine: Arc<Engine>, conn: Arc<Conn>, handler: Box<dyn Handler>) -> Self {
        EngineSession {
            engine,
            created: Instant::now(),
            conn,
            handler,
            ping_deadline: None,
            upgrade_timer: None,
            handler_timer: None,
            backlog: VecDeque::new(),
            stalled: false,
        }
    }

    /// Runs `f` on the handler, then does what it asked for (hold input back, close).
    fn call(
        &mut self,
        ctx: &mut Context<Self>,
        f: impl FnOnce(&mut dyn Handler, &mut SessionIo<'_>),
    ) {
        let mut io = SessionIo {
            conn: &self.conn,
            ctx,
            timer: &mut self.handler_timer,
            close: None,
            hold: None,
        };
        f(&mut *self.handler, &mut io);
        let SessionIo { close, hold, .. } = io;
        if let Some(hold) = hold {
            self.stalled = true;
            ctx.wait(hold.into_actor(self).map(|(), act, ctx| {
                act.stalled = false;
                act.drain_backlog(ctx);
            }));
        }
        if let Some((reason, poll_gets_close)) = close {
            self.close_with(reason, poll_gets_close, ctx);
        }
    }

    pub(crate) fn timer_fired(&mut self, ctx: &mut Context<Self>) {
        self.handler_timer = None;
        if !self.conn.state().is_closed() {
            self.call(ctx, |h, io| h.on_timer(io));
        }
    }

    /// The next ping goes `ping_interval` after `from` (the handshake or the last pong).
    fn schedule_ping(&mut self, from: Instant, ctx: &mut Context<Self>) {
        let at = from + self.engine.options.ping_interval;
        ctx.run_later(
            at.saturating_duration_since(Instant::now()),
            move |act, ctx| {
                act.conn.push_one(Frame::ping());
                let due = at + act.engine.options.ping_timeout;
                act.conn.set_pong_deadline(Some(due));
                act.ping_deadline = Some(
                    ctx.run_later(due.saturating_duration_since(Instant::now()), |act, ctx| {
                        act.close(CloseReason::PingTimeout, ctx)
                    }),
                );
            },
        );
    }

    fn on_packet(&mut self, packet: EioPacket, ctx: &mut Context<Self>) {
        self.engine.metrics.packets_in.increment(1);
        if let Some(observer) = self.engine.metrics.observer() {
            match &packet {
                EioPacket::Message(text) => observer.packets_in(1, text.len()),
                EioPacket::Binary(data) => observer.packets_in(1, data.len()),
                _ => {}
            }
        }
        match packet {
            EioPacket::Message(text) => {
                self.call(ctx, |h, io| h.on_message(Message::Text(text), io))
            }
            EioPacket::Binary(data) => {
                self.call(ctx, |h, io| h.on_message(Message::Binary(data), io))
            }
            EioPacket::Pong(_) => {
                if let Some(h) = self.ping_deadline.take() {
                    ctx.cancel_future(h);
                    self.conn.set_pong_deadline(None);
                    self.schedule_ping(Instant::now(), ctx);
                }
            }
            EioPacket::Close => self.close(CloseReason::TransportClose, ctx),
            // A v4 client never pings (the probe is handled by the WebSocket transport).
            EioPacket::Ping(_) | EioPacket::Open(_) => self.close(CloseReason::TransportError, ctx),
            EioPacket::Upgrade | EioPacket::Noop => {}
        }
    }

    /// Ends the session once: the handler is told, the transports flush and close.
    fn close(&mut self, reason: CloseReason, ctx: &mut Context<Self>) {
        self.close_with(reason, false, ctx);
    }

    fn close_with(&mut self, reason: CloseReason, poll_gets_close: bool, ctx: &mut Context<Self>) {
        let lingers = self.conn.state().lingers_for_poll(reason, poll_gets_close);
        if !self.conn.update_state(|s| s.close(reason)) {
            return;
        }
        self.engine.registry.closed();
        let sid = self.conn.sid();
        tracing::info!(sid = %sid, %reason, "connection closed");
        if let Some(observer) = self.engine.metrics.observer() {
            observer.connection_closed(reason);
        }
        self.engine
            .metrics
            .labelled_counter(
                "roomcast_connections_closed_total",
                "reason",
                reason.as_str(),
            )
            .increment(1);
        if lingers {
            // Reachable for the client's last GET, within a bounded grace period.
            let engine = self.engine.clone();
            let grace = engine.options.ping_interval + engine.options.ping_timeout;
            actix_rt::spawn(async move {
                actix_rt::time::sleep(grace).await;
                engine.registry.remove(&sid);
            });
        } else {
            self.engine.registry.remove(&sid);
        }
        self.handler.on_close(reason);
        ctx.stop();
    }

    /// Handles the backlog in order until it is empty, the handler holds input back, or the
    /// session closed (what is left is then dropped with it).
    fn drain_backlog(&mut self, ctx: &mut Context<Self>) {
        while !self.stalled {
            if self.conn.state().is_closed() {
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

impl Actor for EngineSession {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(256);
        self.schedule_ping(self.created, ctx);
        self.call(ctx, |h, io| h.on_open(io));
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        // However the actor ended, the session must not stay registered.
        if self
            .conn
            .update_state(|s| s.close(CloseReason::TransportClose))
        {
            self.engine.registry.closed();
            self.engine.registry.remove(&self.conn.sid());
            self.handler.on_close(CloseReason::TransportClose);
        }
    }
}

impl actix::Handler<Received> for EngineSession {
    type Result = ();
    fn handle(&mut self, msg: Received, ctx: &mut Self::Context) {
        self.backlog.extend(msg.packets);
        self.drain_backlog(ctx);
    }
}

impl actix::Handler<WsReceived> for EngineSession {
    type Result = ();
    fn handle(&mut self, msg: WsReceived, ctx: &mut Self::Context) {
        self.backlog.push_back(msg.packet);
        self.drain_backlog(ctx);
    }
}

impl actix::Handler<CloseRequest> for EngineSession {
    type Result = ();
    fn handle(&mut self, msg: CloseRequest, ctx: &mut Self::Context) {
        self.close(msg.reason, ctx);
    }
}

impl actix::Handler<HandlerCall> for EngineSession {
    type Result = ();
    fn handle(&mut self, msg: HandlerCall, ctx: &mut Self::Context) {
        if !self.conn.state().is_closed() {
            self.call(ctx, msg.call);
        }
    }
}

impl actix::Handler<UpgradeStarted> for EngineSession {
    type Result = ();
    fn handle(&mut self, msg: UpgradeStarted, ctx: &mut Self::Context) {
        let ws = msg.ws;
        let timeout = self.engine.options.upgrade_timeout;
        self.upgrade_timer = Some(ctx.run_later(timeout, move |act, _| {
            act.conn.update_state(|s| s.abort_upgrade(ws));
        }));
    }
}

impl actix::Handler<UpgradeCompleted> for EngineSession {
    type Result = ();
    fn handle(&mut self, _: UpgradeCompleted, ctx: &mut Self::Context) {
        if let Some(h) = self.upgrade_timer.take() {
            ctx.cancel_future(h);
        }
        self.handler.on_upgraded();
    }
}

impl actix::Handler<TransportGone> for EngineSession {
    type Result = ();
    fn handle(&mut self, msg: TransportGone, ctx: &mut Self::Context) {
        let state = self.conn.state();
        if state.is_active_ws(msg.ws) {
            self.close(msg.reason, ctx);
        } else if state.upgrade_candidate() == Some(msg.ws) {
            self.conn.update_state(|s| s.abort_upgrade(msg.ws));
        }
    }
}
