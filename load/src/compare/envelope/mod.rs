//! The scenarios of issue 12 that measure the rest of the envelope, each against every server of
//! the comparison: `polling` (long-polling subscribers), `binary` (large binary attachments),
//! `churn` (rooms joined and left every second under a fan-out), `many-rooms` (memory per room
//! membership), `full-budget` (a fan-out to as many WebSockets as the fd limit allows) and `curves`
//! (CPU per delivery and p99 by room size, also drawn as a chart of its own).
//!
//! Its parts: `fleets` (the scenarios that are a fanout fleet of another shape: binary,
//! full-budget, curves), `churn`, `rooms` (many-rooms), `polling`, and `curves_chart`.

mod churn;
pub(super) mod curves_chart;
mod fleets;
mod polling;
mod rooms;

use std::rc::Rc;
use std::time::Instant;

use clap::Args;
use serde::Serialize;
use serde_json::Value;

use super::scenario::Metrics;
use super::CompareArgs;
use crate::common::Ctx;
use crate::fanout::PhaseReport;

/// The scenarios of this module.
pub(super) const SCENARIOS: [&str; 6] = [
    "polling",
    "binary",
    "churn",
    "many-rooms",
    "full-budget",
    "curves",
];

/// Those the floor server takes part in (it speaks WebSocket, join and publish, nothing more).
pub(super) const FLOOR_SCENARIOS: [&str; 2] = ["full-budget", "curves"];

/// The options of these scenarios (flattened into `compare`'s).
#[derive(Args, Clone, Debug, Serialize)]
pub struct EnvelopeArgs {
    /// polling: long-polling subscribers (Engine.IO polling, never upgraded).
    #[arg(long, default_value_t = 1000)]
    pub polling_clients: usize,
    /// polling: rooms they are spread over (one WebSocket publisher in each).
    #[arg(long, default_value_t = 10)]
    pub polling_rooms: usize,
    /// polling: target deliveries/s.
    #[arg(long, default_value_t = 10_000.0)]
    pub polling_rate: f64,
    /// binary: bytes of the binary attachment of every publish.
    #[arg(long, default_value_t = 65_536)]
    pub binary_bytes: usize,
    /// binary: subscribers of the one room.
    #[arg(long, default_value_t = 100)]
    pub binary_subscribers: usize,
    /// binary: the ceiling search's highest target, deliveries/s (reaching it ends the search:
    /// the result is then a floor of the server's ceiling, not the ceiling).
    #[arg(long, default_value_t = 200_000.0)]
    pub binary_max_rate: f64,
    /// churn: sockets that each join a room and leave it again every --churn-period seconds.
    #[arg(long, default_value_t = 10_000)]
    pub churn_sockets: usize,
    /// churn: seconds between a socket's joins.
    #[arg(long, default_value_t = 1.0)]
    pub churn_period: f64,
    /// churn: target deliveries/s of the fan-out that runs meanwhile (the fanout's fleet).
    #[arg(long, default_value_t = 10_000.0)]
    pub churn_rate: f64,
    /// many-rooms: rooms, of 1 to 10 members each (room r has 1 + r mod 10).
    #[arg(long, default_value_t = 100_000)]
    pub many_rooms: usize,
    /// many-rooms: the sockets those memberships are spread over.
    #[arg(long, default_value_t = 10_000)]
    pub many_rooms_sockets: usize,
    /// many-rooms: deliveries/s of the broadcast to one room of 10 while the rooms exist.
    #[arg(long, default_value_t = 1_000.0)]
    pub many_rooms_rate: f64,
    /// full-budget: WebSocket clients in all (subscribers plus the fleet's publishers). The
    /// open-files limit is 20,000 per process on the project machine; roomcast keeps 50 of them
    /// (and those open at start) in reserve and answers 503 past about 19,930 connections.
    #[arg(long, default_value_t = 19_900)]
    pub full_budget_clients: usize,
    /// curves: room sizes (receivers of each publish).
    #[arg(long, value_delimiter = ',', default_value = "1,10,100,1000,10000")]
    pub curve_sizes: Vec<usize>,
    /// curves: target deliveries/s at every size.
    #[arg(long, default_value_t = 10_000.0)]
    pub curve_rate: f64,
}

impl EnvelopeArgs {
    /// Smaller sizes for `--quick`.
    pub(super) fn apply_quick(&mut self) {
        self.polling_clients = self.polling_clients.min(200);
        self.polling_rate = self.polling_rate.min(2_000.0);
        self.churn_sockets = self.churn_sockets.min(2_000);
        self.many_rooms = self.many_rooms.min(10_000);
        self.many_rooms_sockets = self.many_rooms_sockets.min(2_000);
        self.full_budget_clients = self.full_budget_clients.min(3_000);
        self.curve_sizes.retain(|&s| s <= 1000);
        self.binary_max_rate = self.binary_max_rate.min(5_000.0);
    }
}

/// Runs one of these scenarios.
pub(super) async fn run(
    a: &CompareArgs,
    ctx: Rc<Ctx>,
    name: &str,
    deadline: Instant,
) -> Result<(Value, Metrics), String> {
    match name {
        "polling" => polling::run(a, ctx, deadline).await,
        "binary" => fleets::binary(a, ctx, deadline).await,
        "churn" => churn::run(a, ctx, deadline).await,
        "many-rooms" => rooms::run(a, ctx, deadline).await,
        "full-budget" => fleets::full_budget(a, ctx, deadline).await,
        "curves" => fleets::curves(a, ctx, deadline).await,
        other => Err(format!("unknown scenario {other:?}")),
    }
}

/// The metrics every fan-out phase gives: deliveries/s, loss, latency, CPU per delivery, RSS.
pub(super) fn phase_metrics(p: &PhaseReport) -> Metrics {
    let mut m = Metrics::new();
    m.insert("deliveries_per_s".into(), p.deliveries_per_s);
    m.insert("lost".into(), (p.lost + p.duplicates) as f64);
    m.insert("latency_p50_ms".into(), p.latency.p50_ms);
    m.insert("latency_p99_ms".into(), p.latency.p99_ms);
    m.insert("latency_p999_ms".into(), p.latency.p999_ms);
    if let Some(c) = p.server_cpu_us_per_delivery {
        m.insert("server_cpu_us_per_delivery".into(), c);
    }
    if let Some(kb) = p.usage.server_rss_kb_end {
        m.insert("server_rss_mb".into(), kb as f64 / 1024.0);
    }
    m.insert("gen_cpu_pct".into(), p.usage.gen_cpu_pct);
    m.insert("gen_loop_lag_max_ms".into(), p.usage.gen_loop_lag_max_ms);
    if let Some(o) = p.usage.other_cpu_pct {
        m.insert("other_cpu_pct".into(), o);
    }
    m
}

/// An error unless the phase delivered something and lost nothing.
pub(super) fn check_phase(what: &str, p: &PhaseReport) -> Result<(), String> {
    if p.delivered == 0 {
        return Err(format!("{what}: nothing was delivered"));
    }
    Ok(())
}

fn to_json<T: Serialize>(v: &T) -> Result<Value, String> {
    serde_json::to_value(v).map_err(|e| e.to_string())
}
