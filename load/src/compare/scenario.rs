//! One scenario of a comparison against one server: its parameters from the options, its result,
//! and the metrics it contributes to the comparison.

use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;

use super::CompareArgs;
use crate::args::echo_params;
use crate::common::Ctx;
use crate::connect::{run_connect, ConnectParams};
use crate::echo::run_echo;
use crate::fanout::{run_ceiling, run_fanout, CeilingParams, FanoutParams};
use crate::stats::Usage;

/// The metrics of one run, by name.
pub(super) type Metrics = BTreeMap<String, f64>;

/// Runs one scenario; returns its result JSON and the metrics compared.
pub(super) async fn run(
    a: &CompareArgs,
    ctx: Rc<Ctx>,
    name: &str,
) -> Result<(Value, Metrics), String> {
    let deadline = Instant::now() + Duration::from_secs(120);
    match name {
        "fanout" | "fanout-coalesced" => fanout(a, ctx, deadline).await,
        "echo" => echo(a, ctx, deadline).await,
        "connect" => connect(a, ctx, deadline).await,
        "ceiling" => ceiling(a, ctx, deadline).await,
        other if super::envelope::SCENARIOS.contains(&other) => {
            let deadline = Instant::now() + Duration::from_secs(300);
            super::envelope::run(a, ctx, other, deadline).await
        }
        other => Err(format!("unknown scenario {other:?}")),
    }
}

/// The ceiling search the `--ceiling-*` flags describe.
pub(super) fn ceiling_search(a: &CompareArgs) -> CeilingParams {
    CeilingParams {
        start_deliveries_per_s: a.ceiling_start,
        max_deliveries_per_s: a.ceiling_max,
        factor: a.ceiling_factor.max(1.05),
        refine_steps: a.ceiling_refine,
        step_s: a.ceiling_step,
        warmup_s: 0.5,
        drain_s: a.phase.drain,
        p99_budget_ms: a.budget.p99_budget_ms,
        max_total_s: a.ceiling_max_total,
        retries: a.ceiling_retries,
    }
}

fn fanout_params(a: &CompareArgs) -> FanoutParams {
    a.fleet.params(16 * 1024)
}

fn to_json<T: Serialize>(result: &T) -> Result<Value, String> {
    serde_json::to_value(result).map_err(|e| e.to_string())
}

/// The server's and the generator's CPU and the machine's other load.
fn insert_usage(m: &mut Metrics, u: &Usage) {
    if let Some(c) = u.server_cpu_pct {
        m.insert("server_cpu_pct".into(), c);
    }
    m.insert("gen_cpu_pct".into(), u.gen_cpu_pct);
    m.insert("gen_loop_lag_max_ms".into(), u.gen_loop_lag_max_ms);
    if let Some(o) = u.other_cpu_pct {
        m.insert("other_cpu_pct".into(), o);
    }
}

async fn fanout(
    a: &CompareArgs,
    ctx: Rc<Ctx>,
    deadline: Instant,
) -> Result<(Value, Metrics), String> {
    let spec = a.phase.spec(a.fanout_rate);
    let r = run_fanout(ctx, fanout_params(a), spec, deadline).await?;
    let p = &r.phase;
    let mut m = Metrics::new();
    m.insert("deliveries_per_s".into(), p.deliveries_per_s);
    m.insert("lost".into(), p.lost as f64);
    m.insert("duplicates".into(), p.duplicates as f64);
    m.insert("latency_p50_ms".into(), p.latency.p50_ms);
    m.insert("latency_p99_ms".into(), p.latency.p99_ms);
    m.insert("latency_p999_ms".into(), p.latency.p999_ms);
    m.insert("latency_max_ms".into(), p.latency.max_ms);
    if let Some(c) = p.server_cpu_us_per_delivery {
        m.insert("server_cpu_us_per_delivery".into(), c);
    }
    m.insert("gen_cpu_us_per_delivery".into(), p.gen_cpu_us_per_delivery);
    insert_usage(&mut m, &p.usage);
    Ok((to_json(&r)?, m))
}

async fn echo(
    a: &CompareArgs,
    ctx: Rc<Ctx>,
    deadline: Instant,
) -> Result<(Value, Metrics), String> {
    let p = echo_params(
        a.echo_clients,
        a.echo_rate,
        a.fleet.payload_bytes,
        &a.phase,
        16 * 1024,
    );
    let r = run_echo(ctx, p, deadline).await?;
    let mut m = Metrics::new();
    m.insert("acks_per_s".into(), r.acks_per_s);
    m.insert("lost".into(), r.lost as f64);
    m.insert("ack_p50_ms".into(), r.latency.p50_ms);
    m.insert("ack_p99_ms".into(), r.latency.p99_ms);
    m.insert("ack_p999_ms".into(), r.latency.p999_ms);
    m.insert("ack_max_ms".into(), r.latency.max_ms);
    if let Some(c) = r.server_cpu_us_per_ack {
        m.insert("server_cpu_us_per_ack".into(), c);
    }
    m.insert("gen_cpu_pct".into(), r.usage.gen_cpu_pct);
    m.insert("gen_loop_lag_max_ms".into(), r.usage.gen_loop_lag_max_ms);
    if let Some(o) = r.usage.other_cpu_pct {
        m.insert("other_cpu_pct".into(), o);
    }
    Ok((to_json(&r)?, m))
}

async fn connect(
    a: &CompareArgs,
    ctx: Rc<Ctx>,
    deadline: Instant,
) -> Result<(Value, Metrics), String> {
    let p = ConnectParams {
        settle_s: a.connect.settle.min(a.connect.hold),
        ..a.connect.params(a.connect_concurrency)
    };
    let r = run_connect(ctx, p, deadline).await?;
    let mut m = Metrics::new();
    m.insert("connects_per_s".into(), r.connects_per_s);
    m.insert("connected".into(), r.connected as f64);
    m.insert("failed".into(), r.failed as f64);
    m.insert("handshake_p99_ms".into(), r.handshake.p99_ms);
    if let Some(b) = r.server_rss_bytes_per_connection {
        m.insert("rss_bytes_per_connection".into(), b);
    }
    if let Some(c) = r.server_cpu_us_per_connect {
        m.insert("server_cpu_us_per_connect".into(), c);
    }
    Ok((to_json(&r)?, m))
}

async fn ceiling(
    a: &CompareArgs,
    ctx: Rc<Ctx>,
    deadline: Instant,
) -> Result<(Value, Metrics), String> {
    let search = ceiling_search(a);
    let r = run_ceiling(ctx, fanout_params(a), search, deadline).await?;
    let mut m = Metrics::new();
    m.insert(
        "ceiling_deliveries_per_s".into(),
        r.ceiling_deliveries_per_s,
    );
    m.insert(
        "ceiling_measured_deliveries_per_s".into(),
        r.ceiling_measured_deliveries_per_s,
    );
    if let Some(b) = &r.best {
        m.insert("latency_p99_ms".into(), b.latency.p99_ms);
        if let Some(c) = b.server_cpu_us_per_delivery {
            m.insert("server_cpu_us_per_delivery".into(), c);
        }
        insert_usage(&mut m, &b.usage);
    }
    Ok((to_json(&r)?, m))
}
