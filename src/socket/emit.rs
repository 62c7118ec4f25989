//! What a socket sends its client: events (volatile or not, with or without an acknowledgement
//! awaited), broadcasts that start from it, and the answers to the client's acknowledgement requests.

use std::time::Duration;

use super::{actor, AckError, EmitError, Socket};
use crate::broadcast::BroadcastOperator;
use crate::engine::PushOutcome;
use crate::payload::Payload;
use crate::protocol::socketio::is_reserved_event;
use crate::room::Room;

impl Socket {
    /// Emits `event` to this client.
    pub fn emit(&self, event: &str, payload: impl Into<Payload>) -> Result<(), EmitError> {
        self.emit_inner(event, payload.into(), false)
    }

    /// Emits `event` to this client unless its queue is full (then it is dropped and counted).
    pub fn emit_volatile(&self, event: &str, payload: impl Into<Payload>) -> Result<(), EmitError> {
        self.emit_inner(event, payload.into(), true)
    }

    fn emit_inner(&self, event: &str, payload: Payload, volatile: bool) -> Result<(), EmitError> {
        if is_reserved_event(event) {
            return Err(EmitError::Reserved(event.to_owned()));
        }
        if !self.connected() {
            return Err(EmitError::Disconnected);
        }
        if let Some(observer) = self.observer() {
            observer.event_sent(self, event, &payload);
        }
        if !volatile && self.pid().is_some() {
            // Stored with an offset, as a broadcast to its own room (Socket.IO does the same),
            // so that it is replayed if the connection drops before it arrives.
            return BroadcastOperator::new(vec![self.0.ns.clone()])
                .to([self.0.id.as_str()])
                .emit(event, payload);
        }
        let frames = payload.event_frames(self.parser(), self.ns(), event, None);
        match self.0.conn.push(&frames, volatile) {
            PushOutcome::Queued | PushOutcome::DroppedVolatile => Ok(()),
            PushOutcome::Overflow => Err(EmitError::SlowConsumer),
            PushOutcome::Closed => Err(EmitError::Disconnected),
        }
    }

    /// Emits `event` and calls `callback` with the client's acknowledgement, or with
    /// [`AckError::Timeout`] after `timeout`, or [`AckError::Disconnected`].
    pub fn emit_with_ack<F>(
        &self,
        event: &str,
        payload: impl Into<Payload>,
        timeout: Duration,
        callback: F,
    ) -> Result<(), EmitError>
    where
        F: FnOnce(Result<Payload, AckError>) + Send + 'static,
    {
        if is_reserved_event(event) {
            return Err(EmitError::Reserved(event.to_owned()));
        }
        if !self.connected() {
            return Err(EmitError::Disconnected);
        }
        let payload = payload.into();
        if let Some(observer) = self.observer() {
            observer.event_sent(self, event, &payload);
        }
        self.0.addr.do_send(actor::EmitWithAck {
            event: event.to_owned(),
            payload,
            timeout,
            callback: Box::new(callback),
        });
        Ok(())
    }

    /// [`Socket::emit_with_ack`] as a future.
    pub async fn emit_with_ack_async(
        &self,
        event: &str,
        payload: impl Into<Payload>,
        timeout: Duration,
    ) -> Result<Payload, AckError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.emit_with_ack(event, payload, timeout, move |r| {
            let _ = tx.send(r);
        })
        .map_err(|_| AckError::Disconnected)?;
        rx.await.unwrap_or(Err(AckError::Disconnected))
    }

    /// A broadcast to `rooms` from this socket (the socket itself excluded).
    pub fn to<R: Into<Room>>(&self, rooms: impl IntoIterator<Item = R>) -> BroadcastOperator {
        self.broadcast().to(rooms)
    }

    /// A broadcast to everyone in the namespace but this socket.
    pub fn broadcast(&self) -> BroadcastOperator {
        BroadcastOperator::new(vec![self.0.ns.clone()]).except_socket(self.0.id)
    }
}

/// Answers a client's acknowledgement request, once.
pub struct AckSender {
    socket: Socket,
    id: u64,
}

impl AckSender {
    pub(crate) fn new(socket: Socket, id: u64) -> Self {
        AckSender { socket, id }
    }

    /// Sends the acknowledgement with these arguments.
    pub fn send(self, payload: impl Into<Payload>) {
        let socket = &self.socket;
        let frames = payload
            .into()
            .ack_frames(socket.parser(), socket.ns(), self.id);
        self.socket.0.conn.push(&frames, false);
    }
}
