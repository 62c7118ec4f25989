//! The connection-state-recovery scenarios of `compare` (issue 11): what users judge a broker by
//! when connections drop.
//!
//! * `jitter`: subscribers in rooms under a steady stream of numbered messages; every few seconds a
//!   share of them drop their TCP connection abruptly and reconnect at once. Each subscriber's
//!   delivery ratio (distinct messages of its room received / published into it), duplicates and
//!   disorder.
//! * `avalanche`: N subscribers lose their connections at once and reconnect (jittered, bounded
//!   concurrency) while a small set never drops: the share back and receiving within 10 s, and
//!   the undisturbed set's p99 meanwhile; at each of `--avalanche-sizes`.
//!
//! Each runs against every variant of the selected servers: `roomcast` and `reference` with
//! recovery off, `roomcast+csr` and `reference+csr` with it on (roomcast's `[recovery] enabled`,
//! the reference's `connectionStateRecovery` with a 2 minute window and skipped middlewares), and
//! for `jitter` the clusters `roomcast-cluster+csr` and `reference-cluster+csr` (two nodes over a
//! Redis stream; a dropped subscriber reconnects to the other node). The floor server (no
//! recovery, no cluster) runs the plain variant as the generator's and the machine's own share of
//! the numbers (its latency is what the generator and the machine add at that size).
//! socketioxide takes no part.
//!
//! Its parts: `nodes` (the servers of a variant), `board` (what the clients count), `sub` (a
//! subscriber that drops and reconnects), `publish` (the numbered messages), `jitter`,
//! `avalanche`, and `specs` (the targets and the table).

mod args;
mod avalanche;
mod board;
mod jitter;
mod nodes;
mod publish;
pub(super) mod specs;
mod sub;

pub use args::RecoveryArgs;

use std::rc::Rc;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use super::rounds::RunRecord;
use super::scenario::Metrics;
use super::servers::Env;
use super::CompareArgs;
use crate::common::{wait_setup, Ctx};
use crate::stats::Usage;
use board::Board;
use nodes::Nodes;

/// The scenarios of this module.
pub(super) const SCENARIOS: [&str; 2] = ["jitter", "avalanche"];

/// One server setup a scenario runs against.
#[derive(Debug, Clone, Copy)]
pub(super) struct Variant {
    /// As the results name it.
    pub(super) name: &'static str,
    /// `roomcast` or `reference`.
    pub(super) server: &'static str,
    /// The `--recovery-variants` kind: `plain`, `csr` or `cluster+csr`.
    kind: &'static str,
    pub(super) recovery: bool,
    pub(super) cluster: bool,
}

impl Variant {
    const fn new(name: &'static str, server: &'static str, kind: &'static str) -> Variant {
        let csr = !matches!(kind.as_bytes(), b"plain");
        let cluster = matches!(kind.as_bytes(), b"cluster+csr");
        Variant {
            name,
            server,
            kind,
            recovery: csr,
            cluster,
        }
    }

    /// Its nodes: two for a cluster.
    pub(super) fn nodes(&self) -> usize {
        if self.cluster {
            2
        } else {
            1
        }
    }
}

/// Every variant, in the order they run.
pub(super) const VARIANTS: [Variant; 7] = [
    Variant::new("roomcast", "roomcast", "plain"),
    Variant::new("roomcast+csr", "roomcast", "csr"),
    Variant::new("roomcast-cluster+csr", "roomcast", "cluster+csr"),
    Variant::new("reference", "reference", "plain"),
    Variant::new("reference+csr", "reference", "csr"),
    Variant::new("reference-cluster+csr", "reference", "cluster+csr"),
    Variant::new("floor", "floor", "plain"),
];

/// The variants of `server` that run `scen` (none for a server without recovery).
pub(super) fn variants(a: &CompareArgs, scen: &str, server: &str) -> Vec<Variant> {
    VARIANTS
        .iter()
        .filter(|v| v.server == server && (scen == "jitter" || !v.cluster))
        .filter(|v| a.recovery.recovery_variants.iter().any(|k| k == v.kind))
        .copied()
        .collect()
}

/// Refuses what these scenarios cannot run with: unknown variant kinds, a missing redis-server
/// or streams adapter for the clusters.
pub(super) fn check(a: &CompareArgs) -> Result<(), String> {
    for k in &a.recovery.recovery_variants {
        if !["plain", "csr", "cluster+csr"].contains(&k.as_str()) {
            return Err(format!(
                "unknown recovery variant {k:?} (plain, csr, cluster+csr)"
            ));
        }
    }
    let clusters = a.scenarios.iter().any(|s| s == "jitter")
        && a.recovery
            .recovery_variants
            .iter()
            .any(|k| k == "cluster+csr");
    if !clusters {
        return Ok(());
    }
    let found = std::process::Command::new(&a.redis_server)
        .arg("--version")
        .output();
    if !found.is_ok_and(|o| o.status.success()) {
        return Err(format!(
            "{} not found: the jitter clusters need it (apt-get install redis-server)",
            a.redis_server
        ));
    }
    let package = "@socket.io/redis-streams-adapter";
    if a.servers.iter().any(|s| s == "reference")
        && super::output::package_version(&a.reference, package).is_none()
    {
        return Err(format!(
            "{package} is not installed next to {}: run `npm ci` in its directory",
            a.reference.display()
        ));
    }
    Ok(())
}

/// Runs `scen` against variant `v`: its servers started fresh (for each avalanche size), the
/// scenario run, the servers stopped.
pub(super) async fn one_run(
    a: &CompareArgs,
    env: &mut Env,
    round: usize,
    scen: &str,
    v: &Variant,
) -> RunRecord {
    let mut record = RunRecord::new(round, scen, v.name, Vec::new());
    let sizes = match scen {
        "avalanche" => a.recovery.avalanche_sizes.clone(),
        _ => vec![0],
    };
    let mut results = Vec::new();
    for n in sizes {
        match size_run(a, env, scen, v, n, &mut record.command).await {
            Ok((result, metrics)) => {
                results.push(result);
                record.metrics.extend(metrics);
            }
            Err(e) => {
                record.ok = false;
                record.error = Some(e);
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    record.result = match scen {
        "avalanche" => serde_json::Value::Array(results),
        _ => results.pop().unwrap_or_default(),
    };
    record
}

/// One run of `scen` (an avalanche of `n`) against fresh servers of `v`.
async fn size_run(
    a: &CompareArgs,
    env: &mut Env,
    scen: &str,
    v: &Variant,
    n: usize,
    command: &mut Vec<String>,
) -> Result<(serde_json::Value, Metrics), String> {
    let mut nodes = Nodes::start(a, env, v).await?;
    *command = nodes.procs[0].command.clone();
    let ctx = Rc::new(nodes.ctx(env)?);
    let r = &a.recovery;
    let bytes = a.fleet.payload_bytes;
    let bound = match scen {
        "avalanche" => r.avalanche_before + r.avalanche_window + r.avalanche_after + 240.0,
        _ => r.jitter_duration + r.jitter_drain + 180.0,
    };
    let run = async {
        match scen {
            "avalanche" => avalanche::run(r, bytes, ctx, n, v.recovery).await,
            _ => jitter::run(r, bytes, ctx, v.nodes(), v.recovery).await,
        }
    };
    let mut outcome = tokio::time::timeout(Duration::from_secs_f64(bound), run)
        .await
        .unwrap_or_else(|_| Err(format!("{scen}: hard bound of {bound:.0}s reached")));
    if let Ok((result, metrics)) = &mut outcome {
        // Why sessions were not recovered, as roomcast counts it.
        let counters = nodes.recovery_counters().await;
        for (series, v) in &counters {
            if let Some(reason) = series.strip_prefix("roomcast_recovery_refused_total{reason=\"") {
                let reason = reason.trim_end_matches("\"}");
                let key = format!("refused_{reason}");
                metrics.insert(if n > 0 { format!("{key}@{n}") } else { key }, *v);
            }
        }
        if !counters.is_empty() {
            result["server_recovery_metrics"] = serde_json::json!(counters);
        }
    }
    let died = nodes.exited();
    nodes.stop();
    match died {
        Some(e) => Err(e),
        None => outcome,
    }
}

/// Waits until `subs` subscribers and `rooms` publishers are connected and joined (60 s plus
/// 3 ms per client at most); an error if one failed.
async fn setup_all(ctx: &Ctx, board: &Board, subs: usize, rooms: usize) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs_f64(60.0 + 0.003 * subs as f64);
    wait_setup(ctx, &board.setup, subs, "subscribers", deadline).await?;
    if let Some(e) = board.setup.failure("subscribers", subs) {
        return Err(e);
    }
    wait_setup(ctx, &board.pub_setup, rooms, "publishers", deadline).await?;
    if let Some(e) = board.pub_setup.failure("publishers", rooms) {
        return Err(e);
    }
    Ok(())
}

/// Ends every client task (their connections close).
async fn end(tasks: Vec<JoinHandle<()>>) {
    for t in &tasks {
        t.abort();
    }
    for t in tasks {
        let _ = t.await;
    }
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
