//! What the transports take from a connection's outbound queue: the payload a polling GET answers,
//! or the batch the WebSocket writer of one generation writes, decided under the queue's lock from
//! the session state (who owns the queue now, and what a close leaves to flush).

use std::collections::VecDeque;

use crate::engine::conn::Conn;
use crate::engine::{CloseReason, EngineState};
use bytestring::ByteString;

use crate::protocol::engineio::{payload_buffer, Frame};

/// What a polling GET should answer now.
#[derive(Debug, PartialEq, Eq)]
pub enum PollTake {
    /// Send this payload (a single text frame's own shared buffer, no copy).
    Payload(ByteString),
    /// Nothing to send yet: park.
    Wait,
    /// The session is gone: answer with this payload (queued packets plus `1`, or a noop).
    Closed(ByteString),
    /// An upgrade is under way: the poll is to be released with a noop.
    Upgrading,
    /// The WebSocket took over: this poll is a transport mismatch.
    Upgraded,
}

/// What the WebSocket writer should do now.
#[derive(Debug, PartialEq, Eq)]
pub enum WsTake {
    /// Frames were moved into the writer's buffer: write them.
    Frames,
    /// Frames that end at a write boundary ([`Conn::push_alone`]) were moved into the writer's
    /// buffer: write them, and give the client a moment to read them before the next write.
    FramesAlone,
    /// Nothing to write (or this socket is not active yet): wait for a notification.
    Wait,
    /// This WebSocket is done: the buffer holds the last frames to flush, then close it.
    Finish,
}

impl Conn {
    /// Decides what a polling GET answers now; drains the queue into the payload when polling owns it.
    pub fn take_poll(&self) -> PollTake {
        let mut inner = self.inner.lock();
        match inner.state {
            EngineState::Closed { reason } => {
                // A deliberate close first hands over what is queued; the close packet goes in a
                // response of its own, since clients act on it before on packets that precede it.
                inner.write_boundaries.clear();
                if reason.flushes() && !inner.queue.is_empty() {
                    let payload = payload_buffer(&inner.queue);
                    inner.queue.clear();
                    inner.queued_bytes = 0;
                    return PollTake::Payload(payload);
                }
                inner.queue.clear();
                inner.queued_bytes = 0;
                let last = if reason.server_initiated() {
                    Frame::close()
                } else {
                    Frame::noop()
                };
                PollTake::Closed(payload_buffer([&last]))
            }
            EngineState::Upgrading { .. } => PollTake::Upgrading,
            EngineState::WebSocket { .. } => PollTake::Upgraded,
            EngineState::Polling | EngineState::UpgradePending { .. } => {
                if inner.queue.is_empty() {
                    PollTake::Wait
                } else {
                    self.metrics.packets_out.increment(inner.queue.len() as u64);
                    self.observe_out(inner.queue.iter());
                    let payload = payload_buffer(&inner.queue);
                    inner.queue.clear();
                    inner.queued_bytes = 0;
                    inner.write_boundaries.clear();
                    PollTake::Payload(payload)
                }
            }
        }
    }

    /// What [`Conn::take_ws`] would do now, without taking anything.
    pub fn ws_ready(&self, ws: u64) -> WsTake {
        let inner = self.inner.lock();
        match inner.state {
            EngineState::WebSocket { ws: active } if active == ws => {
                if inner.queue.is_empty() {
                    WsTake::Wait
                } else {
                    WsTake::Frames
                }
            }
            EngineState::Closed { .. } => WsTake::Finish,
            state if state.upgrade_candidate() == Some(ws) => WsTake::Wait,
            _ => WsTake::Finish,
        }
    }

    /// Moves everything queued into `out` if the WebSocket of generation `ws` is the active transport.
    pub fn take_ws(&self, ws: u64, out: &mut VecDeque<Frame>) -> WsTake {
        let mut inner = self.inner.lock();
        match inner.state {
            EngineState::WebSocket { ws: active } if active == ws => {
                if inner.queue.is_empty() {
                    WsTake::Wait
                } else {
                    let boundary = inner.write_boundaries.pop_front().unwrap_or(0);
                    if boundary > 0 && boundary < inner.queue.len() {
                        for later in inner.write_boundaries.iter_mut() {
                            *later -= boundary;
                        }
                        self.metrics.packets_out.increment(boundary as u64);
                        self.observe_out(inner.queue.iter().take(boundary));
                        let taken: usize = inner.queue.iter().take(boundary).map(Frame::len).sum();
                        inner.queued_bytes -= taken;
                        out.extend(inner.queue.drain(..boundary));
                        WsTake::FramesAlone
                    } else {
                        self.metrics.packets_out.increment(inner.queue.len() as u64);
                        self.observe_out(inner.queue.iter());
                        std::mem::swap(&mut inner.queue, out);
                        inner.queued_bytes = 0;
                        inner.write_boundaries.clear();
                        WsTake::Frames
                    }
                }
            }
            EngineState::Closed { reason } => {
                // Only the socket that carried the session flushes what is left, and not to a
                // consumer that is too slow to take it.
                if inner.active_ws == Some(ws) && reason != CloseReason::SlowConsumer {
                    std::mem::swap(&mut inner.queue, out);
                    inner.queued_bytes = 0;
                }
                WsTake::Finish
            }
            state if state.upgrade_candidate() == Some(ws) => WsTake::Wait,
            _ => WsTake::Finish,
        }
    }

    /// Tells the observer, if any, about the message frames (not heartbeats) leaving in `frames`.
    fn observe_out<'a>(&self, frames: impl Iterator<Item = &'a Frame>) {
        if let Some(observer) = self.metrics.observer() {
            let (count, bytes) = frames
                .filter(|f| f.is_message())
                .fold((0, 0), |(n, b), f| (n + 1, b + f.len()));
            if count > 0 {
                observer.packets_out(count, bytes);
            }
        }
    }
}
