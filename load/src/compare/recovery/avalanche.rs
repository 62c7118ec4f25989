//! `avalanche`: N subscribers and a small undisturbed set in rooms, receiving a steady fan-out;
//! then all N lose their connections at once (an abrupt reset) and reconnect, each after a random
//! delay of up to `--avalanche-delay-ms` (socket.io-client's first reconnection delay is 1 s
//! ±50%), at most `--avalanche-concurrency` handshakes in flight, failed attempts retried with
//! socket.io-client's backoff. Reported: the share of the N back and receiving (a delivery on the
//! new connection) within the window after the drop, and the undisturbed subscribers' latency
//! for messages published in that window.

use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;
use tokio::sync::{watch, Semaphore};

use super::board::{Board, LatsReport};
use super::jitter::{totals, Totals};
use super::sub::{self, Crowd, DropCmd, SubSpec};
use super::{publish, setup_all, RecoveryArgs};
use crate::client::SendWindow;
use crate::common::Ctx;
use crate::compare::scenario::Metrics;
use crate::stats::{usage, Lat, LatencySummary, Usage};
use crate::sys::now_us;

/// The result of one avalanche.
#[derive(Debug, Serialize)]
pub(super) struct AvalancheReport {
    pub(super) dropped: usize,
    pub(super) undisturbed: usize,
    pub(super) rooms: usize,
    pub(super) recovery: bool,
    pub(super) deliveries_per_s: f64,
    pub(super) publishes_per_s: f64,
    pub(super) before_s: f64,
    pub(super) window_s: f64,
    pub(super) after_s: f64,
    pub(super) delay_max_ms: u64,
    pub(super) connect_concurrency: usize,
    pub(super) setup_s: f64,
    /// Back and receiving within the window after the drop.
    pub(super) back_in_window: usize,
    pub(super) back_in_window_pct: f64,
    /// Back and receiving by the end of the run.
    pub(super) back_at_end: usize,
    pub(super) back_at_end_pct: f64,
    /// From the drop to the first delivery on the new connection, of those back.
    pub(super) time_to_back: LatencySummary,
    /// The undisturbed subscribers' latency by publish time: before the drop, in the window, after.
    pub(super) undisturbed_latency: LatsReport,
    pub(super) totals: Totals,
    /// From the drop to the end of the run.
    pub(super) usage: Usage,
    pub(super) first_error: Option<String>,
}

/// Runs one avalanche of `n` subscribers against the server of `ctx`.
pub(super) async fn run(
    a: &RecoveryArgs,
    payload_bytes: usize,
    ctx: Rc<Ctx>,
    n: usize,
    recovery: bool,
) -> Result<(Value, Metrics), String> {
    let (u, rooms) = (a.avalanche_undisturbed, a.avalanche_rooms.max(1));
    let board = Rc::new(Board::new(rooms, n + u));
    let crowd = Rc::new(Crowd {
        ctx: ctx.clone(),
        board: board.clone(),
        sem: Rc::new(Semaphore::new(a.avalanche_concurrency.max(1))),
    });
    let specs: Vec<SubSpec> = (0..n + u)
        .map(|i| SubSpec {
            index: i,
            room: i % rooms,
            node: 0,
            nodes: 1,
            recovery,
            undisturbed: i >= n,
        })
        .collect();
    let (drops, _) = watch::channel(DropCmd::none());
    let (window, _) = watch::channel(None);
    let t0 = Instant::now();
    let mut tasks = sub::spawn(&crowd, &specs, &drops);
    tasks.extend(publish::spawn(
        &ctx,
        &board,
        (rooms, 1, payload_bytes),
        n + u,
        &window,
    ));
    let outcome = async {
        setup_all(&ctx, &board, n + u, rooms).await?;
        let setup_s = t0.elapsed().as_secs_f64();
        let publishes_per_s = a.avalanche_rate / ((n + u) as f64 / rooms as f64).max(1.0);
        let usage = phases(a, &ctx, &board, n, publishes_per_s, &drops, &window).await;
        Ok::<_, String>((setup_s, publishes_per_s, usage))
    }
    .await;
    drops.send_replace(DropCmd {
        stop: true,
        ..DropCmd::none()
    });
    super::end(tasks).await;
    let (setup_s, publishes_per_s, usage) = outcome?;
    let report = report(a, &board, n, recovery, (setup_s, publishes_per_s, usage));
    let metrics = metrics(&report, n)?;
    let json = serde_json::to_value(&report).map_err(|e| e.to_string())?;
    Ok((json, metrics))
}

/// The steady fan-out, the drop of the first `n` subscribers, the window and the time after it;
/// the usage from the drop to the end.
async fn phases(
    a: &RecoveryArgs,
    ctx: &Ctx,
    board: &Board,
    n: usize,
    publishes_per_s: f64,
    drops: &watch::Sender<DropCmd>,
    window: &watch::Sender<Option<SendWindow>>,
) -> Usage {
    let rooms = board.published.borrow().len();
    let start = Instant::now() + Duration::from_millis(50);
    let drop_at = start + Duration::from_secs_f64(a.avalanche_before.max(0.5));
    let window_end = drop_at + Duration::from_secs_f64(a.avalanche_window);
    let end = window_end + Duration::from_secs_f64(a.avalanche_after.max(0.0));
    window.send_replace(Some(SendWindow {
        start,
        end,
        rate: publishes_per_s / rooms as f64,
    }));
    tokio::time::sleep_until(drop_at.into()).await;
    let from = now_us();
    board.lats.borrow_mut().window = Some((from, from + (a.avalanche_window * 1e6) as u64));
    let mark_a = ctx.probe.mark();
    let total = board.tallies.borrow().len();
    let chosen: Vec<bool> = (0..total).map(|i| i < n).collect();
    drops.send_replace(DropCmd {
        chosen: Arc::new(chosen),
        delay_ms: (0, a.avalanche_delay_ms),
        stop: false,
    });
    ctx.progress(format_args!("avalanche: {n} subscribers dropped"));
    while Instant::now() < end {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let back = board
            .tallies
            .borrow()
            .iter()
            .take(n)
            .filter(|t| t.back_at_us.is_some())
            .count();
        ctx.progress(format_args!(
            "avalanche: {:.1}s after the drop, {back} / {n} back and receiving",
            drop_at.elapsed().as_secs_f64()
        ));
    }
    // Let the last publishes arrive.
    tokio::time::sleep(Duration::from_millis(300)).await;
    usage(&mark_a, &ctx.probe.mark())
}

/// The report of a finished avalanche.
fn report(
    a: &RecoveryArgs,
    board: &Board,
    n: usize,
    recovery: bool,
    (setup_s, publishes_per_s, usage): (f64, f64, Usage),
) -> AvalancheReport {
    let window_us = (a.avalanche_window * 1e6) as u64;
    let mut lat = Lat::default();
    let (mut back_in_window, mut back_at_end) = (0, 0);
    for t in board.tallies.borrow().iter().take(n) {
        if let Some(back) = t.back_at_us {
            let took = back.saturating_sub(t.dropped_at_us);
            lat.record(took);
            back_at_end += 1;
            back_in_window += usize::from(t.drops > 0 && took <= window_us);
        }
    }
    let pct = |k: usize| 100.0 * k as f64 / n.max(1) as f64;
    AvalancheReport {
        dropped: n,
        undisturbed: a.avalanche_undisturbed,
        rooms: a.avalanche_rooms,
        recovery,
        deliveries_per_s: a.avalanche_rate,
        publishes_per_s,
        before_s: a.avalanche_before,
        window_s: a.avalanche_window,
        after_s: a.avalanche_after,
        delay_max_ms: a.avalanche_delay_ms,
        connect_concurrency: a.avalanche_concurrency,
        setup_s,
        back_in_window,
        back_in_window_pct: pct(back_in_window),
        back_at_end,
        back_at_end_pct: pct(back_at_end),
        time_to_back: lat.summary(),
        undisturbed_latency: board.lats(),
        totals: totals(board, a.avalanche_rooms.max(1)),
        usage,
        first_error: board.first_error.borrow().clone(),
    }
}

/// The metrics of an avalanche of `n`, each key ending in `@n`.
fn metrics(r: &AvalancheReport, n: usize) -> Result<Metrics, String> {
    let l = &r.undisturbed_latency;
    if l.during.count == 0 {
        return Err(format!(
            "avalanche of {n}: the undisturbed subscribers got nothing in the window ({})",
            r.first_error.clone().unwrap_or_default()
        ));
    }
    let mut m = Metrics::new();
    let t = &r.totals;
    for (k, v) in [
        ("back_in_window_pct", r.back_in_window_pct),
        ("back_at_end_pct", r.back_at_end_pct),
        ("undisturbed_p99_ms", l.during.p99_ms),
        ("undisturbed_p99_before_ms", l.before.p99_ms),
        ("time_to_back_p50_ms", r.time_to_back.p50_ms),
        ("time_to_back_p99_ms", r.time_to_back.p99_ms),
        ("recovered", t.recovered as f64),
        ("not_recovered", t.not_recovered as f64),
        ("failed_attempts", t.failed_attempts as f64),
        ("clients", (n + r.undisturbed + r.rooms) as f64),
    ] {
        m.insert(format!("{k}@{n}"), v);
    }
    if let Some(c) = r.usage.server_cpu_pct {
        m.insert(format!("server_cpu_pct@{n}"), c);
    }
    m.insert(format!("gen_cpu_pct@{n}"), r.usage.gen_cpu_pct);
    Ok(m)
}
