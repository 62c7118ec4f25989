//! The scenarios that are a fanout fleet of another shape: `binary` (one room, every publish with
//! a large binary attachment, searched for its ceiling), `full-budget` (the fanout at 1k clients,
//! then with as many WebSockets as the fd limit allows) and `curves` (one room per size).

use std::rc::Rc;
use std::time::{Duration, Instant};

use serde_json::json;
use serde_json::Value;

use super::super::scenario::Metrics;
use super::super::CompareArgs;
use super::{check_phase, phase_metrics, to_json};
use crate::common::Ctx;
use crate::fanout::{run_ceiling, CeilingParams, FanoutParams, Fleet, PhaseReport};

/// The longest one fleet's setup may take.
fn setup_deadline(deadline: Instant) -> Instant {
    deadline.min(Instant::now() + Duration::from_secs(90))
}

/// One fleet of `p`, one phase at `rate`, closed.
async fn one_phase(
    a: &CompareArgs,
    ctx: &Rc<Ctx>,
    p: FanoutParams,
    rate: f64,
    deadline: Instant,
) -> Result<PhaseReport, String> {
    let fleet = Fleet::setup(ctx.clone(), p, setup_deadline(deadline)).await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let report = fleet.phase(a.phase.spec(rate)).await;
    fleet.close().await;
    Ok(report)
}

/// `binary`: one room of --binary-subscribers, one publisher, every publish a --binary-bytes
/// attachment; the ceiling search gives the most bytes/s delivered with p99 in budget and nothing
/// lost.
pub(super) async fn binary(
    a: &CompareArgs,
    ctx: Rc<Ctx>,
    deadline: Instant,
) -> Result<(Value, Metrics), String> {
    let e = &a.envelope;
    let p = FanoutParams {
        subscribers: e.binary_subscribers,
        rooms: 1,
        publishers: 1,
        binary_bytes: e.binary_bytes,
        read_buffer: e.binary_bytes + 16 * 1024,
        ..a.fleet.params(0)
    };
    let search = CeilingParams {
        start_deliveries_per_s: 2000.0_f64.min(e.binary_max_rate),
        max_deliveries_per_s: e.binary_max_rate,
        factor: a.ceiling_factor.max(1.05),
        refine_steps: a.ceiling_refine,
        step_s: a.ceiling_step,
        warmup_s: 0.5,
        drain_s: a.phase.drain,
        p99_budget_ms: a.budget.p99_budget_ms,
        max_total_s: a.ceiling_max_total.min(90.0),
        retries: a.ceiling_retries,
    };
    let r = run_ceiling(ctx, p, search, deadline).await?;
    let mut m = match &r.best {
        Some(b) => phase_metrics(b),
        None => Metrics::new(),
    };
    let bytes = e.binary_bytes as f64;
    m.insert(
        "ceiling_deliveries_per_s".into(),
        r.ceiling_measured_deliveries_per_s,
    );
    m.insert(
        "bytes_per_s".into(),
        r.ceiling_measured_deliveries_per_s * bytes,
    );
    // 1 when the search stopped at --binary-max-rate: the server's ceiling lies higher.
    let capped = r.failed_at_deliveries_per_s.is_none() && r.ceiling_deliveries_per_s > 0.0;
    m.insert("reached_max_rate".into(), f64::from(u8::from(capped)));
    Ok((to_json(&r)?, m))
}

/// `full-budget`: the fanout (rooms, publishers, rate as given) with the fanout's 1000
/// subscribers, then with --full-budget-clients in all; CPU per delivery at both sizes, and their
/// ratio (flat is 1).
pub(super) async fn full_budget(
    a: &CompareArgs,
    ctx: Rc<Ctx>,
    deadline: Instant,
) -> Result<(Value, Metrics), String> {
    let e = &a.envelope;
    let small = a.fleet.params(4 * 1024);
    let big = FanoutParams {
        subscribers: e
            .full_budget_clients
            .saturating_sub(small.publishers)
            .max(1),
        ..small.clone()
    };
    let first = one_phase(a, &ctx, small.clone(), a.fanout_rate, deadline).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let full = one_phase(a, &ctx, big.clone(), a.fanout_rate, deadline).await?;
    check_phase("full-budget", &full)?;
    let mut m = phase_metrics(&full);
    m.insert("clients".into(), (big.subscribers + big.publishers) as f64);
    if let (Some(c1), Some(c2)) = (
        first.server_cpu_us_per_delivery,
        full.server_cpu_us_per_delivery,
    ) {
        m.insert("server_cpu_us_per_delivery_1k".into(), c1);
        if c1 > 0.0 {
            m.insert("cpu_growth_1k_to_full".into(), c2 / c1);
        }
    }
    let json = json!({
        "scenario": "full-budget",
        "small": {"params": small, "phase": first},
        "full": {"params": big, "phase": full},
    });
    Ok((json, m))
}

/// Rooms of `size` receivers in the curves' fleet: enough that no publisher sends more than
/// 100 publishes/s at 10k deliveries/s (one client publishing 10k/s measures the client), and
/// at most about 1000 subscribers in all (the one room, past that).
fn curve_rooms(size: usize) -> usize {
    (1000 / size.max(1)).clamp(1, 100)
}

/// `curves`: for every size in --curve-sizes, rooms of that many subscribers and one publisher
/// each (see `curve_rooms`), at --curve-rate deliveries/s in all; CPU per delivery and p99 by
/// size.
pub(super) async fn curves(
    a: &CompareArgs,
    ctx: Rc<Ctx>,
    deadline: Instant,
) -> Result<(Value, Metrics), String> {
    let e = &a.envelope;
    let mut m = Metrics::new();
    let mut points = Vec::new();
    for &size in &e.curve_sizes {
        let rooms = curve_rooms(size);
        let p = FanoutParams {
            subscribers: size.max(1) * rooms,
            rooms,
            publishers: rooms,
            ..a.fleet.params(4 * 1024)
        };
        ctx.progress(format_args!("curves: room of {size}"));
        let r = one_phase(a, &ctx, p, e.curve_rate, deadline).await?;
        if let Some(c) = r.server_cpu_us_per_delivery {
            m.insert(format!("cpu_us_size_{size}"), c);
        }
        m.insert(format!("p99_ms_size_{size}"), r.latency.p99_ms);
        m.insert(format!("lost_size_{size}"), (r.lost + r.duplicates) as f64);
        points.push(json!({"size": size, "rooms": rooms, "phase": r}));
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    Ok((json!({"scenario": "curves", "points": points}), m))
}

#[cfg(test)]
mod tests {
    #[test]
    fn curve_rooms_keep_publishers_and_fleets_small() {
        let rooms: Vec<usize> = [1, 10, 100, 1000, 10_000].map(super::curve_rooms).to_vec();
        assert_eq!(rooms, vec![100, 100, 10, 1, 1]);
    }
}
