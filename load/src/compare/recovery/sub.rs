//! One subscriber of the recovery scenarios. It connects, joins its room and counts what it
//! receives on the [`Board`]. When the scenario's command names it, it drops its TCP connection
//! abruptly (a reset: no WebSocket close frame, no Socket.IO disconnect) and connects again: with
//! recovery as socket.io-client does (CONNECT with `{"pid":…,"offset":…}`, the offset being the
//! last argument of the last stored event it handled; recovered when the server answers with the
//! same sid and a pid), and joins its room again when it was not recovered. A failed attempt is
//! retried after socket.io-client's backoff (1 s doubling to 5 s, ±50%).

use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinHandle;

use super::board::Board;
use crate::common::Ctx;
use crate::scan;
use crate::sys::now_us;
use crate::ws::{Conn, Handler};

/// Who a subscriber is.
#[derive(Debug, Clone, Copy)]
pub(super) struct SubSpec {
    pub(super) index: usize,
    pub(super) room: usize,
    /// The node it connects to first.
    pub(super) node: usize,
    /// Nodes of the cluster; with more than one, a dropped subscriber connects to the next.
    pub(super) nodes: usize,
    /// Reconnects asking for its session back.
    pub(super) recovery: bool,
    /// Never dropped; its deliveries' latency is recorded.
    pub(super) undisturbed: bool,
}

/// The scenario's command to its subscribers.
#[derive(Debug, Clone)]
pub(super) struct DropCmd {
    /// The subscribers to drop now, by index (empty: none).
    pub(super) chosen: Arc<Vec<bool>>,
    /// Each dropped subscriber reconnects after a random delay in this range (ms, inclusive).
    pub(super) delay_ms: (u64, u64),
    /// The run is over: disconnect and end.
    pub(super) stop: bool,
}

impl DropCmd {
    pub(super) fn none() -> DropCmd {
        DropCmd {
            chosen: Arc::new(Vec::new()),
            delay_ms: (0, 0),
            stop: false,
        }
    }
}

/// What the subscribers of a run share.
pub(super) struct Crowd {
    pub(super) ctx: Rc<Ctx>,
    pub(super) board: Rc<Board>,
    /// Bounds the connection handshakes in flight.
    pub(super) sem: Rc<Semaphore>,
}

/// The session a subscriber asks back.
#[derive(Default)]
struct Session {
    sid: String,
    pid: Option<String>,
    /// The offset of the last stored event handled (raw JSON string content).
    offset: Vec<u8>,
}

/// How a connection ended.
enum Outcome {
    Stop,
    Dropped(Duration),
    Lost(String),
}

/// Spawns a subscriber task for each spec; they take `ctl`'s commands.
pub(super) fn spawn(
    crowd: &Rc<Crowd>,
    specs: &[SubSpec],
    ctl: &watch::Sender<DropCmd>,
) -> Vec<JoinHandle<()>> {
    specs
        .iter()
        .map(|&spec| {
            let sub = Sub {
                crowd: crowd.clone(),
                spec,
            };
            tokio::task::spawn_local(sub.run(ctl.subscribe()))
        })
        .collect()
}

struct Sub {
    crowd: Rc<Crowd>,
    spec: SubSpec,
}

impl Sub {
    async fn run(self, mut ctl: watch::Receiver<DropCmd>) {
        let board = &self.crowd.board;
        let mut sess = Session::default();
        let mut node = self.spec.node;
        let mut ready = false;
        let mut attempt = 0;
        loop {
            let (mut conn, asked, recovered) = match self.attach(&mut sess, node).await {
                Ok(c) => c,
                Err(e) if !ready => return board.setup.fail("connect", e),
                Err(e) => {
                    self.count(|t| t.failed_attempts += 1);
                    board.error(format_args!("reconnect: {e}"));
                    attempt += 1;
                    if pause(backoff(attempt), &mut ctl).await {
                        return;
                    }
                    continue;
                }
            };
            attempt = 0;
            if ready {
                self.count(|t| {
                    t.reconnects += 1;
                    t.recovered += u32::from(recovered);
                    t.not_recovered += u32::from(asked && !recovered);
                });
            }
            let join = (!recovered).then(|| {
                let room = self.crowd.ctx.room(self.spec.room);
                let name = &self.crowd.ctx.names.join;
                conn.emit(name, true, |b| {
                    b.push(b'"');
                    b.extend_from_slice(room.as_bytes());
                    b.push(b'"');
                })
            });
            let outcome = self
                .hold(&mut conn, &mut sess, join, &mut ready, &mut ctl)
                .await;
            self.count(|t| t.connected = false);
            match outcome {
                Outcome::Stop => return,
                Outcome::Dropped(delay) => {
                    reset(conn);
                    self.count(|t| t.dropped(now_us()));
                    node = (node + 1) % self.spec.nodes.max(1);
                    if pause(delay, &mut ctl).await {
                        return;
                    }
                }
                Outcome::Lost(e) if !ready => return board.setup.fail("join", e),
                Outcome::Lost(e) => {
                    self.count(|t| t.lost += 1);
                    board.error(format_args!("connection lost: {e}"));
                    if pause(backoff(1), &mut ctl).await {
                        return;
                    }
                }
            }
        }
    }

    fn count(&self, f: impl FnOnce(&mut super::board::Tally)) {
        f(&mut self.crowd.board.tallies.borrow_mut()[self.spec.index]);
    }

    /// Connects to `node`, asking for `sess` back when recovering; the connection, whether
    /// recovery was asked, and whether the server recovered the session.
    async fn attach(&self, sess: &mut Session, node: usize) -> Result<(Conn, bool, bool), String> {
        let crowd = &self.crowd;
        let _permit = crowd.sem.acquire().await.map_err(|e| e.to_string())?;
        let pid = sess.pid.as_deref().filter(|_| self.spec.recovery);
        let auth = pid.map(|pid| match sess.offset.is_empty() {
            true => format!("{{\"pid\":\"{pid}\"}}"),
            false => format!(
                "{{\"pid\":\"{pid}\",\"offset\":\"{}\"}}",
                String::from_utf8_lossy(&sess.offset)
            ),
        });
        let asked = auth.is_some();
        let i = self.spec.index;
        let conn = crowd
            .ctx
            .connect_with(node, i, 16 * 1024, auth)
            .await
            .map_err(|e| e.to_string())?;
        let answer = &conn.connect_answer;
        let sid = scan::json_str(answer, "sid").ok_or("a CONNECT answer without sid")?;
        let new_pid = scan::json_str(answer, "pid");
        if self.spec.recovery && new_pid.is_none() {
            return Err("the server's CONNECT answer has no pid: recovery is off".into());
        }
        let recovered = asked && sid == sess.sid.as_bytes() && new_pid.is_some();
        sess.sid = String::from_utf8_lossy(sid).into_owned();
        sess.pid = new_pid.map(|p| String::from_utf8_lossy(p).into_owned());
        if !recovered {
            sess.offset.clear();
        }
        Ok((conn, asked, recovered))
    }

    /// Receives until the scenario drops or stops this subscriber, or the connection ends.
    /// `join` is the id of the join ack awaited (none: recovered, in its rooms already).
    async fn hold(
        &self,
        conn: &mut Conn,
        sess: &mut Session,
        join: Option<u64>,
        ready: &mut bool,
        ctl: &mut watch::Receiver<DropCmd>,
    ) -> Outcome {
        let ctx = &self.crowd.ctx;
        let mut rx = Rx {
            board: &self.crowd.board,
            spec: self.spec,
            deliver: ctx.names.deliver.as_bytes(),
            offset: &mut sess.offset,
            join,
            join_error: None,
        };
        let join_deadline = tokio::time::Instant::now() + ctx.connect_timeout;
        // Commands given before this connection was up are not for it.
        ctl.borrow_and_update();
        let mut in_room = false;
        // A recovered session's missed packets, sent before the CONNECT answer, come first.
        for (name, args) in std::mem::take(&mut conn.early_events) {
            rx.on_event(&name, &args);
        }
        let mut result = conn.process(&mut rx).and_then(|_| conn.on_writable());
        loop {
            if let Err(e) = result {
                return Outcome::Lost(e.to_string());
            }
            if let Some(e) = rx.join_error.take() {
                return Outcome::Lost(format!("join refused: {e}"));
            }
            if rx.join.is_none() && !in_room {
                in_room = true;
                self.count(|t| t.connected = true);
                if !*ready {
                    *ready = true;
                    let counts = &self.crowd.board.setup;
                    counts.ready.set(counts.ready.get() + 1);
                }
            }
            result = tokio::select! {
                r = conn.stream.readable() => r.and_then(|_| conn.on_readable(&mut rx)),
                r = conn.stream.writable(), if conn.wr.pending() => {
                    r.and_then(|_| conn.on_writable())
                }
                _ = tokio::time::sleep_until(join_deadline), if rx.join.is_some() => {
                    return Outcome::Lost("no join ack in time".into());
                }
                r = ctl.changed() => {
                    if r.is_err() {
                        return Outcome::Stop;
                    }
                    let cmd = ctl.borrow_and_update().clone();
                    if cmd.stop {
                        return Outcome::Stop;
                    }
                    if cmd.chosen.get(self.spec.index).copied().unwrap_or(false) {
                        let (lo, hi) = cmd.delay_ms;
                        let wait = rand::rng().random_range(lo.min(hi)..=hi);
                        return Outcome::Dropped(Duration::from_millis(wait));
                    }
                    Ok(())
                }
            };
        }
    }
}

/// The handler of a subscriber's connection.
struct Rx<'a> {
    board: &'a Board,
    spec: SubSpec,
    deliver: &'a [u8],
    offset: &'a mut Vec<u8>,
    /// The join ack awaited.
    join: Option<u64>,
    join_error: Option<String>,
}

impl Handler for Rx<'_> {
    fn on_event(&mut self, name: &[u8], args: &[u8]) {
        let board = self.board;
        if name != self.deliver {
            board.other_events.set(board.other_events.get() + 1);
            return;
        }
        let st = match scan::read_stamp(args) {
            Some(st) if st.p as usize == self.spec.room => st,
            _ => return board.foreign.set(board.foreign.get() + 1),
        };
        let (i, room, calm) = (self.spec.index, self.spec.room, self.spec.undisturbed);
        board.deliver(i, room, st.s, st.t, calm);
        if let Some(off) = scan::last_string_arg(args) {
            self.offset.clear();
            self.offset.extend_from_slice(off);
        }
    }

    fn on_ack(&mut self, id: u64, args: &[u8]) {
        if self.join == Some(id) {
            self.join = None;
            if !scan::ack_ok(args) {
                self.join_error = Some(String::from_utf8_lossy(args).into_owned());
            }
        }
    }
}

/// Waits `delay`; true if the scenario stopped meanwhile.
async fn pause(delay: Duration, ctl: &mut watch::Receiver<DropCmd>) -> bool {
    let until = tokio::time::Instant::now() + delay;
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(until) => return false,
            r = ctl.changed() => {
                if r.is_err() || ctl.borrow_and_update().stop {
                    return true;
                }
            }
        }
    }
}

/// socket.io-client's reconnection delay before attempt `n` (1-based) after a failure: 1 s
/// doubling up to 5 s, randomized by ±50%.
fn backoff(n: u32) -> Duration {
    let base = (1000u64 << n.saturating_sub(1).min(3)).min(5000) as f64;
    let factor = rand::rng().random_range(0.5..1.5);
    Duration::from_millis((base * factor) as u64)
}

/// Drops the connection abruptly: the kernel answers with a reset, as when a network path dies
/// and the peer notices (no close frame, no Socket.IO disconnect, no lingering state).
fn reset(conn: Conn) {
    // A zero linger makes close() send RST at once; it never blocks (the deprecation is about
    // non-zero lingers).
    #[allow(deprecated)]
    let _ = conn.stream.set_linger(Some(Duration::ZERO));
    drop(conn);
}

#[cfg(test)]
mod tests {
    use super::backoff;

    #[test]
    fn the_backoff_doubles_to_five_seconds_with_jitter() {
        for (n, lo, hi) in [(1, 500, 1500), (2, 1000, 3000), (5, 2500, 7500)] {
            let ms = backoff(n).as_millis() as u64;
            assert!((lo..=hi).contains(&ms), "attempt {n}: {ms} ms");
        }
    }
}
