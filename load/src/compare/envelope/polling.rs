//! `polling`: --polling-clients long-polling subscribers (Engine.IO polling, never upgraded; the
//! generator's `poll` client) spread over --polling-rooms rooms, one WebSocket publisher in each,
//! at --polling-rate deliveries/s. Every delivery is checked and timed as the fanout's are.

use std::rc::Rc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::sync::Semaphore;

use super::super::scenario::Metrics;
use super::super::CompareArgs;
use super::{check_phase, phase_metrics};
use crate::common::{wait_setup, Ctx, SetupCounts};
use crate::fanout::{FanoutParams, Fleet, Receiver};
use crate::poll::PollConn;
use crate::scan;

pub(super) async fn run(
    a: &CompareArgs,
    ctx: Rc<Ctx>,
    deadline: Instant,
) -> Result<(Value, Metrics), String> {
    let e = &a.envelope;
    let rooms = e.polling_rooms.max(1);
    let per_room = (e.polling_clients / rooms).max(1);
    let n = per_room * rooms;
    let p = FanoutParams {
        subscribers: 0,
        rooms,
        publishers: rooms,
        extra_per_room: per_room,
        ..a.fleet.params(16 * 1024)
    };
    let until = deadline.min(Instant::now() + Duration::from_secs(90));
    let fleet = Fleet::setup(ctx.clone(), p.clone(), until).await?;
    let counts = Rc::new(SetupCounts::default());
    let sem = Rc::new(Semaphore::new(ctx.concurrency.max(1)));
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let r = fleet.receiver(i % rooms);
            let (ctx, counts, sem) = (ctx.clone(), counts.clone(), sem.clone());
            tokio::task::spawn_local(poller(ctx, counts, sem, i, r))
        })
        .collect();
    let result = async {
        wait_setup(&ctx, &counts, n, "polling setup", until).await?;
        if let Some(err) = counts.failure("polling setup", n) {
            return Err(err);
        }
        let dead = counts.dead.get();
        let report = fleet.phase(a.phase.spec(e.polling_rate)).await;
        check_phase("polling", &report)?;
        Ok((report, counts.dead.get() - dead))
    }
    .await;
    for t in &tasks {
        t.abort();
    }
    fleet.close().await;
    let (report, dropped) = result?;
    let mut m = phase_metrics(&report);
    m.insert("polling_clients_lost".into(), dropped as f64);
    let json = json!({
        "scenario": "polling",
        "polling_clients": n,
        "rooms": rooms,
        "publishers": rooms,
        "polling_clients_lost": dropped,
        "phase": report,
    });
    Ok((json, m))
}

/// One long-polling subscriber: connects, joins its room, then polls until aborted.
async fn poller(
    ctx: Rc<Ctx>,
    counts: Rc<SetupCounts>,
    sem: Rc<Semaphore>,
    i: usize,
    mut r: Receiver,
) {
    let conn = {
        let Ok(_permit) = sem.acquire().await else {
            return;
        };
        let src = ctx.target.source_for(i);
        match PollConn::connect(&ctx.target, src, ctx.connect_timeout).await {
            Ok(mut c) => {
                let room = format!("\"{}\"", ctx.room(r.room()));
                match c.call(&ctx.names.join, &room, ctx.connect_timeout).await {
                    Ok(ack) if scan::ack_ok(&ack) => Ok(c),
                    Ok(ack) => Err(format!("join refused: {}", String::from_utf8_lossy(&ack))),
                    Err(e) => Err(format!("join: {e}")),
                }
            }
            Err(e) => Err(format!("connect: {e}")),
        }
    };
    let mut conn = match conn {
        Ok(c) => c,
        Err(e) => return counts.fail("polling", e),
    };
    counts.ready.set(counts.ready.get() + 1);
    loop {
        if let Err(e) = conn.poll(&mut r).await {
            return counts.died(e);
        }
    }
}
