//! What the cluster scenarios measure, against a running cluster: the fanout at a fixed rate with
//! Redis's CPU and commands beside it, the Redis traffic of idle connections, the Redis commands
//! per broadcast at two room sizes, and the ceiling search.

use std::rc::Rc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{json, Value};

use super::redis;
use crate::common::Ctx;
use crate::compare::scenario::{ceiling_search, Metrics};
use crate::compare::CompareArgs;
use crate::connect::{run_connect, ConnectParams};
use crate::fanout::{run_ceiling, FanoutParams, Fleet, PhaseReport, PhaseSpec};
use crate::stats::Usage;
use crate::sys;

/// The cluster's Redis: its port (for INFO) and its PID (for its CPU time).
#[derive(Clone, Copy)]
pub(super) struct RedisRef {
    pub(super) port: u16,
    pub(super) pid: u32,
}

/// Redis's CPU time and command count at one moment.
struct RedisMark {
    at: Instant,
    cpu_ms: f64,
    commands: u64,
}

impl RedisRef {
    async fn mark(&self) -> Result<RedisMark, String> {
        let commands = redis::commands_processed(self.port).await?;
        let cpu_ms = sys::sample(Some(self.pid))
            .map(|s| s.cpu_ms)
            .ok_or("redis-server is gone")?;
        Ok(RedisMark {
            at: Instant::now(),
            cpu_ms,
            commands,
        })
    }
}

/// What Redis did between two marks: commands (the first mark's INFO excluded), CPU, seconds.
#[derive(Debug, Clone, Copy, Serialize)]
struct RedisUse {
    commands: u64,
    cpu_ms: f64,
    wall_s: f64,
}

fn redis_use(a: &RedisMark, b: &RedisMark) -> RedisUse {
    RedisUse {
        commands: b.commands.saturating_sub(a.commands + 1),
        cpu_ms: b.cpu_ms - a.cpu_ms,
        wall_s: b.at.duration_since(a.at).as_secs_f64().max(1e-9),
    }
}

/// The longest a fleet's or the idle connections' setup may take.
fn setup_deadline() -> Instant {
    Instant::now() + Duration::from_secs(60)
}

/// A fleet of these sizes over the cluster's nodes (the other fanout options as given).
fn params(a: &CompareArgs, subscribers: usize, rooms: usize, publishers: usize) -> FanoutParams {
    FanoutParams {
        subscribers,
        rooms,
        publishers,
        nodes: a.cluster_nodes.max(1),
        ..a.fleet.params(16 * 1024)
    }
}

/// One phase over a fresh fleet, with Redis marked at its edges (the phase's warmup and drain
/// included, so that every publish's commands are counted).
async fn phase_with_redis(
    ctx: &Rc<Ctx>,
    p: FanoutParams,
    spec: PhaseSpec,
    redis: RedisRef,
) -> Result<(PhaseReport, RedisUse), String> {
    let fleet = Fleet::setup(ctx.clone(), p, setup_deadline()).await?;
    // Let the joins' traffic (if any) pass before the window opens.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = redis.mark().await?;
    let report = fleet.phase(spec).await;
    let after = redis.mark().await?;
    fleet.close().await;
    Ok((report, redis_use(&before, &after)))
}

/// The `cluster` scenario: the fanout at `--cluster-rate`, idle connections, two room sizes.
pub(super) async fn cluster(
    a: &CompareArgs,
    ctx: Rc<Ctx>,
    redis: RedisRef,
) -> Result<(Value, Metrics), String> {
    let f = &a.fleet;
    let spec = a.phase.spec(a.cluster_rate);
    let p = params(a, f.subscribers, f.rooms, f.publishers);
    let (fanout, used) = phase_with_redis(&ctx, p, spec, redis).await?;
    let mut m = fanout_metrics(&fanout, &used);
    let (idle, per_connection) = idle(a, &ctx, redis).await?;
    m.insert("idle_commands_per_connection".into(), per_connection);
    let mut sizes = Vec::new();
    for (key, size) in [("small", 10), ("big", a.cluster_big_room)] {
        let (r, used) = room_size(a, &ctx, size, redis).await?;
        let per = used.commands as f64 / r.publishes.max(1) as f64;
        m.insert(format!("commands_per_broadcast_{key}_room"), per);
        let lost = m.get("room_checks_lost").copied().unwrap_or(0.0);
        m.insert("room_checks_lost".into(), lost + r.lost as f64);
        sizes.push(
            json!({"room_size": size, "redis": used, "commands_per_broadcast": per, "phase": r}),
        );
    }
    let result = json!({
        "scenario": "cluster",
        "nodes": a.cluster_nodes,
        "fanout": fanout,
        "fanout_redis": used,
        "idle": idle,
        "room_sizes": sizes,
    });
    Ok((result, m))
}

/// The metrics of the fixed-rate fanout.
fn fanout_metrics(r: &PhaseReport, used: &RedisUse) -> Metrics {
    let mut m = Metrics::new();
    m.insert("deliveries_per_s".into(), r.deliveries_per_s);
    m.insert("lost".into(), (r.lost + r.duplicates) as f64);
    if let Some(c) = &r.cross_node {
        m.insert(
            "cross_node_deliveries_per_s".into(),
            c.cross_node_deliveries_per_s,
        );
        m.insert("same_p50_ms".into(), c.same_node_latency.p50_ms);
        m.insert("same_p99_ms".into(), c.same_node_latency.p99_ms);
        m.insert("cross_p50_ms".into(), c.cross_node_latency.p50_ms);
        m.insert("cross_p99_ms".into(), c.cross_node_latency.p99_ms);
    }
    if let Some(c) = r.server_cpu_us_per_delivery {
        m.insert("server_cpu_us_per_delivery".into(), c);
    }
    insert_usage(&mut m, &r.usage);
    if let Some(c) = r.usage.redis_cpu_ms {
        m.insert(
            "redis_cpu_us_per_delivery".into(),
            c * 1000.0 / r.measured_deliveries.max(1) as f64,
        );
    }
    m.insert(
        "redis_commands_per_broadcast".into(),
        used.commands as f64 / r.publishes.max(1) as f64,
    );
    m
}

/// The servers' and the generator's CPU and the rest of the machine's (the noise of a shared box).
fn insert_usage(m: &mut Metrics, u: &Usage) {
    if let Some(c) = u.server_cpu_pct {
        m.insert("server_cpu_pct".into(), c);
    }
    m.insert("gen_cpu_pct".into(), u.gen_cpu_pct);
    m.insert("gen_loop_lag_max_ms".into(), u.gen_loop_lag_max_ms);
    if let Some(c) = u.redis_cpu_pct {
        m.insert("redis_cpu_pct".into(), c);
    }
    if let Some(o) = u.other_cpu_pct {
        m.insert("other_cpu_pct".into(), o);
    }
}

/// `--cluster-idle-connections` connections to node 0, held: the Redis commands in that window
/// less those of an idle window as long (no connection) after it, per connection.
async fn idle(a: &CompareArgs, ctx: &Rc<Ctx>, redis: RedisRef) -> Result<(Value, f64), String> {
    let n = a.cluster_idle_connections.max(1);
    let params = ConnectParams {
        connections: n,
        concurrency: a.connect_concurrency,
        hold_s: a.cluster_idle_hold,
        settle_s: 0.0,
        read_buffer: 1024,
    };
    let m0 = redis.mark().await?;
    let r = run_connect(ctx.clone(), params, setup_deadline()).await?;
    let m1 = redis.mark().await?;
    if r.failed > 0 {
        return Err(format!("idle connections: {} of {n} failed", r.failed));
    }
    let with = redis_use(&m0, &m1);
    tokio::time::sleep(Duration::from_secs_f64(with.wall_s)).await;
    let m2 = redis.mark().await?;
    let without = redis_use(&m1, &m2);
    let per_connection = with.commands.saturating_sub(without.commands) as f64 / n as f64;
    let result = json!({
        "connections": n,
        "hold_s": a.cluster_idle_hold,
        "with_connections": with,
        "without_connections": without,
        "commands_per_connection": per_connection,
    });
    Ok((result, per_connection))
}

/// One room of `size` subscribers (spread over the nodes) and one publisher at 10 publishes/s
/// for 2 s: the Redis commands per broadcast.
async fn room_size(
    a: &CompareArgs,
    ctx: &Rc<Ctx>,
    size: usize,
    redis: RedisRef,
) -> Result<(PhaseReport, RedisUse), String> {
    let spec = PhaseSpec {
        target_deliveries_per_s: 10.0 * size as f64,
        warmup_s: 0.0,
        duration_s: 2.0,
        drain_s: a.phase.drain,
    };
    let p = params(a, size, 1, 1);
    phase_with_redis(ctx, p, spec, redis).await
}

/// The `cluster-ceiling` scenario: the ceiling search over the cluster.
pub(super) async fn ceiling(a: &CompareArgs, ctx: Rc<Ctx>) -> Result<(Value, Metrics), String> {
    let search = ceiling_search(a);
    let f = &a.fleet;
    let p = params(a, f.subscribers, f.rooms, f.publishers);
    let r = run_ceiling(ctx, p, search, setup_deadline()).await?;
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
        if let Some(c) = &b.cross_node {
            m.insert("cross_p99_ms".into(), c.cross_node_latency.p99_ms);
        }
        if let Some(c) = b.server_cpu_us_per_delivery {
            m.insert("server_cpu_us_per_delivery".into(), c);
        }
        insert_usage(&mut m, &b.usage);
    }
    Ok((serde_json::to_value(&r).map_err(|e| e.to_string())?, m))
}
