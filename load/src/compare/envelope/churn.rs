//! `churn`: --churn-sockets sockets, each joining a room and leaving it again every
//! --churn-period seconds (the leave half a period after the join, both acked), while the fanout's
//! fleet runs a phase at --churn-rate. The churn rooms have no publisher: what is measured is how
//! the membership changes slow the fan-out down (its CPU per delivery and latency) and how fast
//! the joins and leaves are answered.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::sync::Semaphore;

use super::super::scenario::Metrics;
use super::super::CompareArgs;
use super::phase_metrics;
use crate::common::{wait_setup, Ctx, SetupCounts};
use crate::fanout::Fleet;
use crate::scan;
use crate::stats::Lat;

/// Rooms the churning sockets are spread over.
const CHURN_ROOMS: usize = 1000;

/// The churners' shared counts.
#[derive(Default)]
struct Churn {
    setup: SetupCounts,
    /// While set, the churners churn; cleared, they stop at their next step.
    on: Cell<bool>,
    ops: Cell<u64>,
    refused: Cell<u64>,
    failed: Cell<u64>,
    lat: RefCell<Lat>,
}

pub(super) async fn run(
    a: &CompareArgs,
    ctx: Rc<Ctx>,
    deadline: Instant,
) -> Result<(Value, Metrics), String> {
    let e = &a.envelope;
    let n = e.churn_sockets;
    let period = Duration::from_secs_f64(e.churn_period.max(0.01));
    let churn = Rc::new(Churn::default());
    churn.on.set(true);
    let sem = Rc::new(Semaphore::new(ctx.concurrency.max(1)));
    let setup_until = deadline.min(Instant::now() + Duration::from_secs(90));
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let (ctx, churn, sem) = (ctx.clone(), churn.clone(), sem.clone());
            tokio::task::spawn_local(churner(ctx, churn, sem, i, n, period))
        })
        .collect();
    let result = async {
        wait_setup(&ctx, &churn.setup, n, "churn setup", setup_until).await?;
        if let Some(err) = churn.setup.failure("churn setup", n) {
            return Err(err);
        }
        let fleet = Fleet::setup(ctx.clone(), a.fleet.params(16 * 1024), setup_until).await?;
        let (ops0, t0) = (churn.ops.get(), Instant::now());
        let report = fleet.phase(a.phase.spec(e.churn_rate)).await;
        let ops_per_s = (churn.ops.get() - ops0) as f64 / t0.elapsed().as_secs_f64().max(1e-9);
        fleet.close().await;
        Ok((report, ops_per_s))
    }
    .await;
    churn.on.set(false);
    for t in &tasks {
        t.abort();
    }
    let (report, ops_per_s) = result?;
    let mut m = phase_metrics(&report);
    let lat = churn.lat.borrow().summary();
    m.insert("churn_ops_per_s".into(), ops_per_s);
    m.insert("churn_ack_p99_ms".into(), lat.p99_ms);
    m.insert(
        "churn_failed".into(),
        (churn.refused.get() + churn.failed.get()) as f64,
    );
    let json = json!({
        "scenario": "churn",
        "churn_sockets": n,
        "churn_period_s": period.as_secs_f64(),
        "churn_rooms": CHURN_ROOMS,
        "churn_ops": churn.ops.get(),
        "churn_ops_per_s": ops_per_s,
        "churn_refused": churn.refused.get(),
        "churn_failed": churn.failed.get(),
        "churn_ack_latency": lat,
        "fanout": report,
    });
    Ok((json, m))
}

/// One churning socket: connects, then joins and leaves its room every period (staggered by its
/// index over the period) while `churn.on` holds.
async fn churner(
    ctx: Rc<Ctx>,
    churn: Rc<Churn>,
    sem: Rc<Semaphore>,
    i: usize,
    n: usize,
    period: Duration,
) {
    let conn = {
        let Ok(_permit) = sem.acquire().await else {
            return;
        };
        ctx.connect(i, 2048).await
    };
    let mut conn = match conn {
        Ok(c) => c,
        Err(e) => return churn.setup.fail("connect", e),
    };
    churn.setup.ready.set(churn.setup.ready.get() + 1);
    let room = format!("\"churn-{}\"", i % CHURN_ROOMS);
    let offset = period.mul_f64(i as f64 / n.max(1) as f64);
    let mut next = Instant::now() + offset;
    let timeout = ctx.connect_timeout;
    while churn.on.get() {
        tokio::time::sleep_until(next.into()).await;
        for (event, at) in [
            (ctx.names.join.as_str(), next),
            ("leave", next + period / 2),
        ] {
            tokio::time::sleep_until(at.into()).await;
            if !churn.on.get() {
                return;
            }
            let t = Instant::now();
            match conn.call(event, &room, timeout).await {
                Ok(ack) if scan::ack_ok(&ack) => {
                    churn.ops.set(churn.ops.get() + 1);
                    churn
                        .lat
                        .borrow_mut()
                        .record(t.elapsed().as_micros() as u64);
                }
                Ok(_) => churn.refused.set(churn.refused.get() + 1),
                Err(_) => {
                    churn.failed.set(churn.failed.get() + 1);
                    return;
                }
            }
        }
        next += period;
    }
}
