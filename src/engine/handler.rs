//! The seam between the Engine.IO layer and what runs on top of it. A session hands every whole
//! message its client sends to its [`Handler`], and tells it about the upgrade and the close; the
//! handler answers through the connection's outbound queue and asks for what only the session can
//! do ([`SessionIo`]: close, hold further input back, a timer). The engine implements no handler
//! of its own beyond [`FnHandler`]: the Socket.IO layer brings its own (its per-connection client).

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use actix::{AsyncContext, Context, SpawnHandle};
use bytes::Bytes;

use crate::engine::session::EngineSession;
use crate::engine::{CloseReason, Conn};
use crate::handshake::ConnInfo;

/// A whole message from the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message.
    Text(String),
    /// A binary message.
    Binary(Bytes),
}

/// What a session tells the layer above it. One handler per session, run on the session actor.
pub trait Handler: Any {
    /// The session started; nothing has been received yet.
    fn on_open(&mut self, _io: &mut SessionIo<'_>) {}
    /// A message from the client, in order.
    fn on_message(&mut self, message: Message, io: &mut SessionIo<'_>);
    /// The connection moved to the WebSocket transport.
    fn on_upgraded(&mut self) {}
    /// The timer set with [`SessionIo::set_timer`] fired.
    fn on_timer(&mut self, _io: &mut SessionIo<'_>) {}
    /// The session closed (once; nothing more is delivered afterwards).
    fn on_close(&mut self, reason: CloseReason);
}

/// Makes the handler of each new session.
pub trait HandlerFactory: Send + Sync + 'static {
    /// The handler of the session whose connection is `conn`, opened by a client described by
    /// `info`.
    fn open(&self, conn: &Arc<Conn>, info: &Arc<ConnInfo>) -> Box<dyn Handler>;
}

/// A future that holds the session's input back until it resolves.
pub type Hold = Pin<Box<dyn Future<Output = ()>>>;

/// What a handler may ask of its session while it handles something. The requests take effect
/// when the handler returns.
pub struct SessionIo<'a> {
    pub(crate) conn: &'a Arc<Conn>,
    pub(crate) ctx: &'a mut Context<EngineSession>,
    pub(crate) timer: &'a mut Option<SpawnHandle>,
    pub(crate) close: Option<(CloseReason, bool)>,
    pub(crate) hold: Option<Hold>,
}

impl SessionIo<'_> {
    /// The connection (its outbound queue is where answers go).
    pub fn conn(&self) -> &Arc<Conn> {
        self.conn
    }

    /// Closes the session with `reason`.
    pub fn close(&mut self, reason: CloseReason) {
        self.close.get_or_insert((reason, false));
    }

    /// Closes the session because the client broke the protocol above Engine.IO (`parse error`):
    /// a polling client's next GET gets the close packet.
    pub fn close_invalid(&mut self) {
        self.close.get_or_insert((CloseReason::ParseError, true));
    }

    /// Handles nothing more from the client until `until` resolves (backpressure: the transport
    /// waits on the session, and the client on the transport).
    pub fn hold_until(&mut self, until: impl Future<Output = ()> + 'static) {
        self.hold = Some(Box::pin(until));
    }

    /// Calls [`Handler::on_timer`] after `after`, replacing a timer set before.
    pub fn set_timer(&mut self, after: Duration) {
        self.cancel_timer();
        *self.timer = Some(self.ctx.run_later(after, |act, ctx| act.timer_fired(ctx)));
    }

    /// Cancels the timer, if one is set.
    pub fn cancel_timer(&mut self) {
        if let Some(handle) = self.timer.take() {
            self.ctx.cancel_future(handle);
        }
    }
}

/// A handler made of one function, for servers without the Socket.IO layer: it receives every
/// message with the connection to answer on ([`Conn::push_one`]).
pub type MessageFn = Arc<dyn Fn(&Conn, Message) + Send + Sync>;

/// The [`Handler`] of an Engine.IO-only server: every message goes to one function.
pub struct FnHandler(pub MessageFn);

impl Handler for FnHandler {
    fn on_message(&mut self, message: Message, io: &mut SessionIo<'_>) {
        (self.0)(io.conn(), message)
    }

    fn on_close(&mut self, _reason: CloseReason) {}
}

impl HandlerFactory for MessageFn {
    fn open(&self, _conn: &Arc<Conn>, _info: &Arc<ConnInfo>) -> Box<dyn Handler> {
        Box::new(FnHandler(self.clone()))
    }
}
