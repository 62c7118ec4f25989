//! The loop of every paced client (`echo`, `fanout`): it reads and handles what the server sends,
//! writes what is queued, sends what its pacer says is due, and takes the commands that open a
//! sending window. What differs between scenarios comes in through [`Paced`].

use std::io;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::time::{Interval, MissedTickBehavior};

use crate::common::SetupCounts;
use crate::ws::{Conn, Handler};

/// Sending from `start` to `end` at `rate` messages per second.
#[derive(Debug, Clone, Copy)]
pub struct SendWindow {
    pub start: Instant,
    pub end: Instant,
    pub rate: f64,
}

/// What a scenario's client does in the shared loop. As a [`Handler`] it takes the packets the
/// server sends.
pub trait Paced: Handler {
    /// A command of the run's controller.
    type Cmd: Copy;
    /// Takes a command; returns the sending window it opens.
    fn command(&mut self, cmd: Self::Cmd) -> SendWindow;
    /// Queues `due` messages (at least one) on `conn`.
    fn send(&mut self, conn: &mut Conn, due: u64);
    /// The current sending window is over (or was empty).
    fn finished(&mut self);
}

/// Runs the `index`-th client on `conn` until the connection ends (counted in `counts.dead` if it
/// ends with an error) or the controller goes away. `ctl` carries the controller's commands; a
/// client without it only receives. The clients' ticks are staggered by their index.
pub async fn run<C: Paced>(
    mut conn: Conn,
    client: &mut C,
    ctl: Option<watch::Receiver<Option<C::Cmd>>>,
    index: usize,
    counts: &SetupCounts,
) {
    let stagger = (index as f64 * 0.618_034).fract();
    if let Err(e) = drive(&mut conn, client, ctl, stagger).await {
        counts.died(e);
    }
}

async fn drive<C: Paced>(
    conn: &mut Conn,
    client: &mut C,
    mut ctl: Option<watch::Receiver<Option<C::Cmd>>>,
    stagger: f64,
) -> io::Result<()> {
    let mut pacer = Pacer::idle();
    // What arrived with the setup's last answer and is still in the buffer.
    conn.process(client)?;
    loop {
        tokio::select! {
            biased;
            r = conn.stream.readable() => {
                r?;
                conn.on_readable(client)?;
            }
            r = conn.stream.writable(), if conn.wr.pending() => {
                r?;
                conn.on_writable()?;
            }
            _ = pacer.ticker.tick(), if pacer.active => {
                let (due, finished) = pacer.due(Instant::now());
                if due > 0 {
                    client.send(conn, due);
                }
                if finished {
                    client.finished();
                }
                conn.on_writable()?;
            }
            r = changed(&mut ctl) => {
                if r.is_err() {
                    return Ok(());
                }
                if let Some(cmd) = ctl.as_mut().and_then(|rx| *rx.borrow_and_update()) {
                    let w = client.command(cmd);
                    pacer.begin(w.start, w.end, w.rate, stagger);
                    if !pacer.active {
                        client.finished();
                    }
                }
            }
        }
    }
}

/// The next change of the controller's command; never, for a client without a controller.
async fn changed<T>(ctl: &mut Option<watch::Receiver<T>>) -> Result<(), watch::error::RecvError> {
    match ctl {
        Some(rx) => rx.changed().await,
        None => std::future::pending().await,
    }
}

/// Sends at `rate` messages per second from `start` to `end`: on every tick, how many are due.
struct Pacer {
    start: Instant,
    end: Instant,
    rate: f64,
    sent: u64,
    ticker: Interval,
    active: bool,
}

/// At most this many messages are sent in one tick by one client, however late the tick is.
pub const MAX_BURST: u64 = 512;

impl Pacer {
    fn idle() -> Self {
        let mut ticker = tokio::time::interval(Duration::from_secs(3600));
        ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
        Pacer {
            start: Instant::now(),
            end: Instant::now(),
            rate: 0.0,
            sent: 0,
            ticker,
            active: false,
        }
    }

    /// Starts a new sending window. `phase` (0..1) staggers the clients' ticks.
    fn begin(&mut self, start: Instant, end: Instant, rate: f64, phase: f64) {
        let period = if rate > 0.0 {
            Duration::from_secs_f64((1.0 / rate).clamp(0.001, 0.1))
        } else {
            Duration::from_millis(100)
        };
        let first = start + period.mul_f64(phase.clamp(0.0, 1.0));
        let mut ticker = tokio::time::interval_at(first.into(), period);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
        self.ticker = ticker;
        self.start = start;
        self.end = end;
        self.rate = rate;
        self.sent = 0;
        self.active = rate > 0.0;
    }

    /// Messages due now; deactivates the pacer once its window is over (returns `(due, finished)`).
    fn due(&mut self, now: Instant) -> (u64, bool) {
        let until = now.min(self.end);
        let elapsed = until.saturating_duration_since(self.start).as_secs_f64();
        let total = (elapsed * self.rate + 1e-6).floor() as u64;
        let due = total.saturating_sub(self.sent).min(MAX_BURST);
        self.sent += due;
        let finished = now >= self.end;
        if finished {
            self.active = false;
        }
        (due, finished)
    }
}
