//! `jitter`: subscribers in rooms, one publisher per room publishing numbered messages for the
//! whole run, and every few seconds a share of the subscribers drop their TCP connection abruptly
//! and reconnect at once (recovering their session, or joining their room again). Each
//! subscriber's delivery ratio is the messages of its room it got at least once over those
//! published into it; with recovery it should be exactly 100%, with no duplicate.

use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;
use tokio::sync::{watch, Semaphore};

use super::board::Board;
use super::sub::{self, Crowd, DropCmd, SubSpec};
use super::{publish, setup_all, RecoveryArgs};
use crate::client::SendWindow;
use crate::common::Ctx;
use crate::compare::scenario::Metrics;
use crate::stats::{usage, Usage};

/// The result of one jitter run.
#[derive(Debug, Serialize)]
pub(super) struct JitterReport {
    pub(super) subscribers: usize,
    pub(super) rooms: usize,
    pub(super) nodes: usize,
    pub(super) recovery: bool,
    pub(super) publishes_per_s: f64,
    pub(super) duration_s: f64,
    pub(super) drop_every_s: f64,
    pub(super) drop_share: f64,
    pub(super) drop_rounds: u32,
    pub(super) setup_s: f64,
    pub(super) drain_s: f64,
    pub(super) totals: Totals,
    pub(super) usage: Usage,
    pub(super) first_error: Option<String>,
}

/// What the subscribers got, over all of them.
#[derive(Debug, Default, Serialize)]
pub(super) struct Totals {
    /// Messages published, all rooms.
    pub(super) published: u64,
    /// Σ over subscribers of the messages published into its room.
    pub(super) expected: u64,
    /// Σ over subscribers of the distinct messages of its room delivered.
    pub(super) delivered_once: u64,
    pub(super) duplicates: u64,
    pub(super) out_of_order: u64,
    /// The lowest and the mean per-subscriber ratio delivered / published to its room, %.
    pub(super) ratio_min_pct: f64,
    pub(super) ratio_mean_pct: f64,
    /// Subscribers that missed at least one message.
    pub(super) subscribers_below_100: usize,
    pub(super) drops: u64,
    pub(super) reconnects: u64,
    pub(super) recovered: u64,
    pub(super) not_recovered: u64,
    pub(super) failed_attempts: u64,
    pub(super) connections_lost: u64,
    pub(super) foreign: u64,
    pub(super) publish_acks_refused: u64,
}

/// The totals of the board over every subscriber (subscriber `i` in room `i % rooms`).
pub(super) fn totals(board: &Board, rooms: usize) -> Totals {
    let published = board.published.borrow();
    let tallies = board.tallies.borrow();
    let mut t = Totals {
        published: published.iter().sum(),
        ratio_min_pct: 100.0,
        foreign: board.foreign.get(),
        publish_acks_refused: board.acks_refused.get(),
        ..Totals::default()
    };
    let mut sum_pct = 0.0;
    for (i, s) in tallies.iter().enumerate() {
        let expected = published[i % rooms.max(1)];
        let pct = 100.0 * s.delivered as f64 / expected.max(1) as f64;
        t.ratio_min_pct = t.ratio_min_pct.min(pct);
        sum_pct += pct;
        t.subscribers_below_100 += usize::from(s.delivered < expected);
        t.expected += expected;
        t.delivered_once += s.delivered;
        t.duplicates += s.duplicates;
        t.out_of_order += s.out_of_order;
        t.drops += u64::from(s.drops);
        t.reconnects += u64::from(s.reconnects);
        t.recovered += u64::from(s.recovered);
        t.not_recovered += u64::from(s.not_recovered);
        t.failed_attempts += u64::from(s.failed_attempts);
        t.connections_lost += u64::from(s.lost);
    }
    t.ratio_mean_pct = sum_pct / tallies.len().max(1) as f64;
    t
}

/// Runs `jitter` against a server of `nodes` nodes (`ctx`'s target and peers).
pub(super) async fn run(
    a: &RecoveryArgs,
    payload_bytes: usize,
    ctx: Rc<Ctx>,
    nodes: usize,
    recovery: bool,
) -> Result<(Value, Metrics), String> {
    let (subs, rooms) = (a.jitter_subscribers.max(1), a.jitter_rooms.max(1));
    let board = Rc::new(Board::new(rooms, subs));
    let crowd = Rc::new(Crowd {
        ctx: ctx.clone(),
        board: board.clone(),
        sem: Rc::new(Semaphore::new(ctx.concurrency.max(1))),
    });
    let specs: Vec<SubSpec> = (0..subs)
        .map(|i| SubSpec {
            index: i,
            room: i % rooms,
            node: i % nodes.max(1),
            nodes,
            recovery,
            undisturbed: false,
        })
        .collect();
    let (drops, _) = watch::channel(DropCmd::none());
    let (window, _) = watch::channel(None);
    let t0 = Instant::now();
    let mut tasks = sub::spawn(&crowd, &specs, &drops);
    tasks.extend(publish::spawn(
        &ctx,
        &board,
        (rooms, nodes, payload_bytes),
        subs,
        &window,
    ));
    let outcome = async {
        setup_all(&ctx, &board, subs, rooms).await?;
        let setup_s = t0.elapsed().as_secs_f64();
        let (drain_s, rounds, usage) = phases(a, &ctx, &board, &drops, &window).await;
        Ok::<_, String>((setup_s, drain_s, rounds, usage))
    }
    .await;
    drops.send_replace(DropCmd {
        stop: true,
        ..DropCmd::none()
    });
    super::end(tasks).await;
    let (setup_s, drain_s, drop_rounds, usage) = outcome?;
    let report = JitterReport {
        subscribers: subs,
        rooms,
        nodes,
        recovery,
        publishes_per_s: a.jitter_rate,
        duration_s: a.jitter_duration,
        drop_every_s: a.jitter_drop_every,
        drop_share: a.jitter_drop_share,
        drop_rounds,
        setup_s,
        drain_s,
        totals: totals(&board, rooms),
        usage,
        first_error: board.first_error.borrow().clone(),
    };
    let metrics = metrics(&report)?;
    let json = serde_json::to_value(&report).map_err(|e| e.to_string())?;
    Ok((json, metrics))
}

/// The publishing window with its drop rounds, then the drain; returns the drain's seconds, the
/// rounds and the usage over the whole.
async fn phases(
    a: &RecoveryArgs,
    ctx: &Ctx,
    board: &Board,
    drops: &watch::Sender<DropCmd>,
    window: &watch::Sender<Option<SendWindow>>,
) -> (f64, u32, Usage) {
    let rooms = board.published.borrow().len();
    let subs = board.tallies.borrow().len();
    let start = Instant::now() + Duration::from_millis(50);
    let end = start + Duration::from_secs_f64(a.jitter_duration.max(0.1));
    window.send_replace(Some(SendWindow {
        start,
        end,
        rate: a.jitter_rate / rooms as f64,
    }));
    let mark_a = ctx.probe.mark();
    let every = Duration::from_secs_f64(a.jitter_drop_every.max(0.05));
    let count = ((subs as f64 * a.jitter_drop_share).round() as usize).min(subs);
    let delay = a.jitter_reconnect_delay_ms;
    let mut rounds = 0u32;
    while start + every * (rounds + 1) < end {
        tokio::time::sleep_until((start + every * (rounds + 1)).into()).await;
        let mut chosen = vec![false; subs];
        for i in rand::seq::index::sample(&mut rand::rng(), subs, count) {
            chosen[i] = true;
        }
        drops.send_replace(DropCmd {
            chosen: Arc::new(chosen),
            delay_ms: (delay / 2, delay + delay / 2),
            stop: false,
        });
        rounds += 1;
        let t = totals(board, rooms);
        ctx.progress(format_args!(
            "jitter: round {rounds}: dropping {count} subscribers; {} published, {} / {} \
             delivered, {} reconnects ({} recovered)",
            t.published, t.delivered_once, t.expected, t.reconnects, t.recovered
        ));
    }
    tokio::time::sleep_until(end.into()).await;
    let drain_s = drain(board, end, a.jitter_drain).await;
    let mark_b = ctx.probe.mark();
    (drain_s, rounds, usage(&mark_a, &mark_b))
}

/// Waits after `end` until every subscriber has every message of its room, or (what was lost is
/// lost) every subscriber is connected and nothing new arrived for a second, or `max_s`.
async fn drain(board: &Board, end: Instant, max_s: f64) -> f64 {
    let until = end + Duration::from_secs_f64(max_s.max(0.0));
    let mut last = (0, Instant::now());
    loop {
        let (all_in, all_connected, delivered) = {
            let published = board.published.borrow();
            let tallies = board.tallies.borrow();
            let rooms = published.len().max(1);
            let all_in = tallies
                .iter()
                .enumerate()
                .all(|(i, t)| t.delivered >= published[i % rooms]);
            let connected = tallies.iter().all(|t| t.connected);
            (all_in, connected, tallies.iter().map(|t| t.delivered).sum())
        };
        let pubs_done = board.pubs_done.get() >= board.published.borrow().len();
        if delivered != last.0 {
            last = (delivered, Instant::now());
        }
        let quiet = last.1.elapsed() >= Duration::from_secs(1);
        if pubs_done && (all_in || (all_connected && quiet)) || Instant::now() >= until {
            return Instant::now().saturating_duration_since(end).as_secs_f64();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The metrics compared: the ratios, duplicates, disorder, the totals, the load.
fn metrics(r: &JitterReport) -> Result<Metrics, String> {
    let t = &r.totals;
    if t.published == 0 || t.delivered_once == 0 {
        return Err(format!(
            "jitter: nothing was {} ({})",
            if t.published == 0 {
                "published"
            } else {
                "delivered"
            },
            r.first_error.clone().unwrap_or_default()
        ));
    }
    let mut m = Metrics::new();
    m.insert("ratio_min_pct".into(), t.ratio_min_pct);
    m.insert("ratio_mean_pct".into(), t.ratio_mean_pct);
    for (k, v) in [
        ("duplicates", t.duplicates),
        ("out_of_order", t.out_of_order),
        ("published", t.published),
        ("expected", t.expected),
        ("delivered_once", t.delivered_once),
        ("drops", t.drops),
        ("reconnects", t.reconnects),
        ("recovered", t.recovered),
        ("not_recovered", t.not_recovered),
        ("failed_attempts", t.failed_attempts),
        ("connections_lost", t.connections_lost),
    ] {
        m.insert(k.into(), v as f64);
    }
    m.insert(
        "subscribers_below_100".into(),
        t.subscribers_below_100 as f64,
    );
    super::insert_usage(&mut m, &r.usage);
    Ok(m)
}
