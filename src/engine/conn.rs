//! The part of an Engine.IO connection that every thread may touch: its state machine and its
//! bounded outbound queue. Socket actors and room supervisors push encoded frames here (a shared
//! buffer costs a reference count, not a copy); exactly one transport drains it at a time: the
//! parked polling GET, or the WebSocket writer once the upgrade completed.
//!
//! Overflow policy: when a push would take the queue past its capacity (in frames, or in bytes once
//! the queue holds anything), a volatile push is dropped
//! (and counted); any other push marks the connection a slow consumer and asks the session actor to
//! close it. Nothing is dropped silently.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Poll, Waker};
use std::time::Instant;

use actix::Addr;
use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::engine::session::{CloseRequest, EngineSession};
use crate::engine::{CloseReason, EngineState};
use crate::metrics::Metrics;
use crate::protocol::engineio::Frame;
use crate::protocol::ids::Sid;

pub use crate::engine::take::{PollTake, WsTake};

/// What became of a push.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushOutcome {
    /// The frames are queued.
    Queued,
    /// A volatile push met a full queue and was dropped.
    DroppedVolatile,
    /// A non-volatile push met a full queue: the connection is being closed as a slow consumer.
    Overflow,
    /// The connection is closed; nothing was queued.
    Closed,
}

/// What a push touches comes first (with `repr(C)` here and in [`Conn`]), next to the lock and the
/// epoch: a push from another thread then misses on two cache lines rather than on four or five.
#[repr(C)]
pub(super) struct Inner {
    pub(super) state: EngineState,
    pub(super) overflowed: bool,
    pub(super) queue: VecDeque<Frame>,
    /// Bytes of the frames in `queue`.
    pub(super) queued_bytes: usize,
    /// The tasks in [`Conn::wait_for`], woken by the next push into an empty queue or state change.
    pub(super) waiters: Waiters,
    pub(super) poll_active: bool,
    pub(super) post_active: bool,
    /// The WebSocket generation that last carried packets, so that only it flushes on close.
    pub(super) active_ws: Option<u64>,
    /// When the pong to the last ping is due, while one is awaited.
    pub(super) pong_deadline: Option<Instant>,
    /// When a polling GET last began or ended (the session's start before any).
    pub(super) last_poll: Instant,
    /// Where WebSocket writes must end, as counts of frames from the head of the queue, in
    /// increasing order (empty: no boundary). Set by [`Conn::push_alone`].
    pub(super) write_boundaries: VecDeque<usize>,
}

/// The wakers of the tasks waiting for a connection's next change: usually one (its transport),
/// two while an upgrade overlaps a poll. Kept under the connection's lock, so a push that wakes
/// them takes no second lock and allocates nothing (tokio's `Notify` cost a lock and a waiter
/// list walk per push, and two more locks per wait).
#[derive(Default)]
pub(super) struct Waiters {
    first: Option<Waker>,
    more: Vec<Waker>,
}

/// More distinct waiting tasks than this and the oldest are woken early (a spurious wake is
/// harmless: the waiter checks again), so wakers of abandoned waits cannot pile up.
const MORE_WAITERS: usize = 8;

impl Waiters {
    /// Registers `waker` (replacing one of the same task).
    fn register(&mut self, waker: &Waker) {
        match &mut self.first {
            Some(first) if !first.will_wake(waker) => {
                if let Some(same) = self.more.iter_mut().find(|w| w.will_wake(waker)) {
                    same.clone_from(waker);
                    return;
                }
                if self.more.len() >= MORE_WAITERS {
                    self.more.drain(..).for_each(Waker::wake);
                }
                self.more.push(waker.clone());
            }
            slot => *slot = Some(waker.clone()),
        }
    }

    /// Takes the wakers to wake once the lock is released.
    fn take(&mut self) -> Woken {
        let more = if self.more.is_empty() {
            Vec::new()
        } else {
            std::mem::take(&mut self.more)
        };
        Woken(self.first.take(), more)
    }
}

/// Wakers taken from [`Waiters`]; woken by [`Woken::wake`] outside the lock.
struct Woken(Option<Waker>, Vec<Waker>);

impl Woken {
    fn wake(self) {
        if let Some(w) = self.0 {
            w.wake();
        }
        self.1.into_iter().for_each(Waker::wake);
    }
}

/// The shared half of an Engine.IO session.
#[repr(C)]
pub struct Conn {
    /// Counts the wakes of [`Inner::waiters`] (changed under the lock), so a waiter that checked
    /// before a push but registers after it sees the push.
    epoch: AtomicU64,
    pub(super) inner: Mutex<Inner>,
    capacity: usize,
    byte_capacity: usize,
    sid: Sid,
    /// Signalled on state changes only (not on pushes), for tasks that wait for the end.
    state_changed: Notify,
    /// The session actor that owns the connection; `None` for a connection built alone (tests).
    session: Option<Addr<EngineSession>>,
    pub(super) metrics: Arc<Metrics>,
}

/// The bounds of one connection's outbound queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueBounds {
    /// Most frames queued.
    pub frames: usize,
    /// Most bytes queued; a push into an empty queue is always taken, however large.
    pub bytes: usize,
}

impl Conn {
    /// A new connection in `state`, whose queue is bounded by `bounds`, not yet attached to its
    /// session actor ([`Conn::with_session`]).
    pub fn new(sid: Sid, state: EngineState, bounds: QueueBounds, metrics: Arc<Metrics>) -> Self {
        Conn {
            sid,
            inner: Mutex::new(Inner {
                state,
                queue: VecDeque::new(),
                poll_active: false,
                post_active: false,
                overflowed: false,
                pong_deadline: None,
                last_poll: Instant::now(),
                write_boundaries: VecDeque::new(),
                waiters: Waiters::default(),
                queued_bytes: 0,
                active_ws: match state {
                    EngineState::WebSocket { ws } => Some(ws),
                    _ => None,
                },
            }),
            epoch: AtomicU64::new(0),
            state_changed: Notify::new(),
            session: None,
            capacity: bounds.frames.max(1),
            byte_capacity: bounds.bytes.max(1),
            metrics,
        }
    }

    /// The Engine.IO session id.
    pub fn sid(&self) -> Sid {
        self.sid
    }

    /// The connection, attached to the session actor that owns it (which a slow consumer's
    /// overflow asks to close the connection).
    pub fn with_session(mut self, session: Addr<EngineSession>) -> Self {
        self.session = Some(session);
        self
    }

    /// The session actor's address (`None` only for a connection built alone, in tests).
    pub fn session(&self) -> Option<&Addr<EngineSession>> {
        self.session.as_ref()
    }

    /// Sends `msg` to the session actor, if it still runs.
    pub fn tell<M>(&self, msg: M)
    where
        M: actix::Message + Send + 'static,
        M::Result: Send,
        EngineSession: actix::Handler<M>,
    {
        if let Some(session) = &self.session {
            session.do_send(msg);
        }
    }

    /// Asks the session to close with `reason`.
    pub fn request_close(&self, reason: CloseReason) {
        self.tell(CloseRequest { reason });
    }

    /// A copy of the current state.
    pub fn state(&self) -> EngineState {
        self.inner.lock().state
    }

    /// Name of the transport carrying packets now.
    pub fn transport_name(&self) -> &'static str {
        self.inner.lock().state.transport_name()
    }

    /// Runs `f` on the state under the lock and wakes every waiting transport afterwards.
    pub fn update_state<R>(&self, f: impl FnOnce(&mut EngineState) -> R) -> R {
        let (r, woken) = {
            let mut inner = self.inner.lock();
            let r = f(&mut inner.state);
            if let EngineState::WebSocket { ws } = inner.state {
                inner.active_ws = Some(ws);
            }
            (r, self.wake_waiters(&mut inner))
        };
        woken.wake();
        self.state_changed.notify_waiters();
        r
    }

    /// Marks a change for [`Conn::wait_for`] (under the lock) and takes the wakers to wake.
    fn wake_waiters(&self, inner: &mut Inner) -> Woken {
        // Only ever changed under the lock: a plain store, not a locked read-modify-write.
        let epoch = self.epoch.load(Ordering::Relaxed);
        self.epoch.store(epoch.wrapping_add(1), Ordering::Release);
        inner.waiters.take()
    }

    /// Queues `frames` as one unit (all or none), under the overflow policy described above.
    pub fn push(&self, frames: &[Frame], volatile: bool) -> PushOutcome {
        let (outcome, woken) = {
            let mut inner = self.inner.lock();
            if inner.state.is_closed() || inner.overflowed {
                return PushOutcome::Closed;
            }
            let was_empty = inner.queue.is_empty();
            let bytes: usize = frames.iter().map(Frame::len).sum();
            let over_bytes = !was_empty && inner.queued_bytes + bytes > self.byte_capacity;
            if inner.queue.len() + frames.len() > self.capacity || over_bytes {
                if volatile {
                    (PushOutcome::DroppedVolatile, None)
                } else {
                    inner.overflowed = true;
                    (PushOutcome::Overflow, None)
                }
            } else {
                let wanted = inner.queue.len() + frames.len();
                if wanted <= 2 && wanted > inner.queue.capacity() {
                    // A queue grows to 4 frames (160 bytes) at least; one or two is what most
                    // pushes need, and every idle connection keeps what its queue once held.
                    inner.queue.reserve_exact(frames.len());
                }
                inner.queue.extend(frames.iter().cloned());
                inner.queued_bytes += bytes;
                // Consumers only wait on an empty queue (they check under the lock before
                // registering), so only the push that makes it non-empty needs to wake them.
                let woken = was_empty.then(|| self.wake_waiters(&mut inner));
                (PushOutcome::Queued, woken)
            }
        };
        match outcome {
            PushOutcome::Queued => {
                if let Some(woken) = woken {
                    woken.wake();
                }
            }
            PushOutcome::DroppedVolatile => self.metrics.dropped_volatile.increment(1),
            PushOutcome::Overflow => self.request_close(CloseReason::SlowConsumer),
            PushOutcome::Closed => {}
        }
        outcome
    }

    /// Queues `frames` (not volatile) so that a WebSocket writes them, and whatever was queued
    /// before them, in a write of their own: what is pushed afterwards waits for the next write.
    /// A namespace CONNECT reply goes out this way, before anything the connection handlers emit,
    /// for clients that read one message per read (one extra write per namespace connection).
    pub fn push_alone(&self, frames: &[Frame]) -> PushOutcome {
        let outcome = self.push(frames, false);
        if outcome == PushOutcome::Queued {
            let mut inner = self.inner.lock();
            let end = inner.queue.len();
            inner.write_boundaries.push_back(end);
        }
        outcome
    }

    /// Queues one frame that is not subject to the volatile policy (heartbeat, protocol replies).
    pub fn push_one(&self, frame: Frame) -> PushOutcome {
        self.push(std::slice::from_ref(&frame), false)
    }

    /// Records when the pong to the ping just sent is due (`None`: the pong arrived).
    pub fn set_pong_deadline(&self, deadline: Option<Instant>) {
        self.inner.lock().pong_deadline = deadline;
    }

    /// True if a pong is overdue: the session is dead even if its timer has not fired yet.
    pub fn is_expired(&self, now: Instant) -> bool {
        self.inner.lock().pong_deadline.is_some_and(|d| now >= d)
    }

    /// Marks a polling GET as in flight. Returns false if one already is (an overlapping poll).
    pub fn begin_poll(&self) -> bool {
        let mut inner = self.inner.lock();
        inner.last_poll = Instant::now();
        !std::mem::replace(&mut inner.poll_active, true)
    }

    /// The polling GET finished.
    pub fn end_poll(&self) {
        let mut inner = self.inner.lock();
        inner.poll_active = false;
        inner.last_poll = Instant::now();
    }

    /// Whether a polling client has left its session: no GET in flight, and none began or ended
    /// within `quiet` before `now` (a live client polls again as soon as a GET is answered).
    pub fn poll_abandoned(&self, quiet: std::time::Duration, now: Instant) -> bool {
        let inner = self.inner.lock();
        !inner.poll_active && now.saturating_duration_since(inner.last_poll) >= quiet
    }

    /// Marks a polling POST as in flight. Returns false if one already is.
    pub fn begin_post(&self) -> bool {
        let mut inner = self.inner.lock();
        !std::mem::replace(&mut inner.post_active, true)
    }

    /// The polling POST finished.
    pub fn end_post(&self) {
        self.inner.lock().post_active = false;
    }

    /// Waits until something changes (a push or a state change). Call it through [`Conn::wait_for`].
    pub async fn wait_for<T>(&self, mut check: impl FnMut(&Conn) -> Option<T>) -> T {
        std::future::poll_fn(|cx| loop {
            let epoch = self.epoch.load(Ordering::Acquire);
            if let Some(v) = check(self) {
                return Poll::Ready(v);
            }
            let mut inner = self.inner.lock();
            // A change between the check and this lock: check again rather than miss it.
            if self.epoch.load(Ordering::Acquire) == epoch {
                inner.waiters.register(cx.waker());
                return Poll::Pending;
            }
        })
        .await
    }

    /// Resolves once the WebSocket of generation `ws` no longer carries or is about to carry this
    /// session (closed, replaced, or its upgrade aborted). Woken by state changes only.
    pub async fn ws_gone(&self, ws: u64) {
        loop {
            let notified = self.state_changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let state = self.state();
            if !(state.is_active_ws(ws) || state.upgrade_candidate() == Some(ws)) {
                return;
            }
            notified.await;
        }
    }

    /// Number of queued frames (for tests and metrics).
    pub fn queued(&self) -> usize {
        self.inner.lock().queue.len()
    }
}

#[cfg(test)]
#[path = "conn_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "conn_handover_tests.rs"]
mod handover_tests;

#[cfg(test)]
#[path = "conn_wait_tests.rs"]
mod wait_tests;
