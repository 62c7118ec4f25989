//! `fanout` and `ceiling`: C subscribers in R rooms and P publishers. Publisher `j` joins room
//! `j % R` and publishes there; subscriber `i` joins room `i % R`. Every payload carries the
//! publisher, the phase, a per-publisher sequence number and the send time; receivers check each
//! message against a per-publisher sliding window (duplicates, reordering) and record the
//! publish→receive latency. A run is a series of phases (one for `fanout`, a rate search for
//! `ceiling`) over the same connections.
//!
//! Its parts: `fleet` (the connected clients and a phase over them), `member` (one client), and
//! `ceiling` (the rate search).

mod ceiling;
mod fleet;
mod member;
mod receive;

use std::rc::Rc;
use std::time::Instant;

use serde::Serialize;

pub use self::ceiling::{run_ceiling, CeilingParams, CeilingResult};
pub use self::fleet::Fleet;
pub use self::receive::Receiver;
use crate::common::Ctx;
use crate::stats::{LatencySummary, Usage};

#[derive(Debug, Clone, Serialize)]
pub struct FanoutParams {
    pub subscribers: usize,
    pub rooms: usize,
    pub publishers: usize,
    pub payload_bytes: usize,
    /// Publishers ask for an ack of every publish (refusals are then counted).
    pub publish_ack: bool,
    pub read_buffer: usize,
    /// Nodes of a cluster (1: one server). The subscribers of each room are spread over the nodes
    /// (subscriber `i` on node `(i / rooms) % nodes`); every publisher is on node 0.
    pub nodes: usize,
    /// Receivers of every room outside the fleet (see [`Fleet::receiver`]), counted in the
    /// expected deliveries.
    #[serde(default)]
    pub extra_per_room: usize,
    /// Bytes of a binary attachment every publish carries (0: none, the payload is JSON only).
    #[serde(default)]
    pub binary_bytes: usize,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct PhaseSpec {
    /// Target deliveries per second (publishes/s × receivers per publish).
    pub target_deliveries_per_s: f64,
    pub warmup_s: f64,
    pub duration_s: f64,
    /// Longest wait after the last publish for the deliveries still in flight.
    pub drain_s: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct PhaseReport {
    pub phase: u32,
    pub target_deliveries_per_s: f64,
    pub target_publishes_per_s: f64,
    pub warmup_s: f64,
    pub duration_s: f64,
    pub publishes: u64,
    pub planned_publishes: u64,
    pub expected: u64,
    pub delivered: u64,
    pub lost: u64,
    pub duplicates: u64,
    pub reordered: u64,
    /// Deliveries of messages sent after the warmup, per second of the measured window.
    pub deliveries_per_s: f64,
    pub measured_deliveries: u64,
    pub publish_acks_ok: u64,
    pub publish_acks_refused: u64,
    pub publish_ack_error: Option<String>,
    pub latency: LatencySummary,
    pub publish_ack_latency: LatencySummary,
    pub drain_s: f64,
    pub usage: Usage,
    /// Server CPU per measured delivery, µs (when the server's pid is known).
    pub server_cpu_us_per_delivery: Option<f64>,
    pub gen_cpu_us_per_delivery: f64,
    pub connections_lost: usize,
    /// Same-node and cross-node deliveries apart (a cluster run, `nodes` > 1).
    pub cross_node: Option<CrossNode>,
}

/// The deliveries of a cluster phase by where the recipient is: on the publishers' node (0) or on
/// another node (the message went through the cluster's adapter). Measured window only.
#[derive(Debug, Clone, Serialize)]
pub struct CrossNode {
    pub same_node_deliveries: u64,
    pub cross_node_deliveries: u64,
    pub cross_node_deliveries_per_s: f64,
    pub same_node_latency: LatencySummary,
    pub cross_node_latency: LatencySummary,
}

impl PhaseReport {
    pub fn held(&self, p99_budget_ms: f64) -> bool {
        self.lost == 0
            && self.duplicates == 0
            && self.publish_acks_refused == 0
            && self.connections_lost == 0
            && self.delivered > 0
            && self.latency.p99_ms <= p99_budget_ms
            && self.publishes as f64 >= 0.97 * self.planned_publishes as f64
    }
}

/// Result of the `fanout` scenario.
#[derive(Debug, Clone, Serialize)]
pub struct FanoutResult {
    pub scenario: &'static str,
    pub params: FanoutParams,
    pub setup_s: f64,
    pub phase: PhaseReport,
    pub foreign_deliveries: u64,
    pub other_events: u64,
}

pub async fn run_fanout(
    ctx: Rc<Ctx>,
    params: FanoutParams,
    spec: PhaseSpec,
    deadline: Instant,
) -> Result<FanoutResult, String> {
    let fleet = Fleet::setup(ctx, params.clone(), deadline).await?;
    let phase = fleet.phase(spec).await;
    let out = FanoutResult {
        scenario: "fanout",
        params,
        setup_s: fleet.setup_s,
        phase,
        foreign_deliveries: fleet.foreign(),
        other_events: fleet.other_events(),
    };
    fleet.close().await;
    Ok(out)
}
