//! What the envelope scenarios of issue 12 compare ([`ROWS`], rows of the comparison table) and
//! the targets issue 12 sets ([`TARGETS`]): each a bound on roomcast's value over one peer's (the
//! floor server's, socketioxide's or the Node reference's) or on roomcast's own value.

use serde_json::{json, Value};

use super::summary::{Spec, Summary};
use super::CompareArgs;

/// A metric without a target.
const fn row(
    scenario: &'static str,
    key: &'static str,
    label: &'static str,
    unit: &'static str,
    higher_is_better: bool,
) -> Spec {
    Spec {
        scenario,
        key,
        label,
        unit,
        higher_is_better,
        target: None,
        absolute: None,
    }
}

/// The rows every fan-out phase of `scenario` gives.
macro_rules! phase_rows {
    ($scenario:literal, $what:literal) => {
        [
            row(
                $scenario,
                "deliveries_per_s",
                concat!($what, " deliveries"),
                "deliveries/s",
                true,
            ),
            row(
                $scenario,
                "server_cpu_us_per_delivery",
                concat!($what, " server CPU per delivery"),
                "µs",
                false,
            ),
            row(
                $scenario,
                "latency_p50_ms",
                concat!($what, " latency p50"),
                "ms",
                false,
            ),
            row(
                $scenario,
                "latency_p99_ms",
                concat!($what, " latency p99"),
                "ms",
                false,
            ),
            row(
                $scenario,
                "lost",
                concat!($what, " lost or duplicated"),
                "deliveries",
                false,
            ),
            row(
                $scenario,
                "server_rss_mb",
                concat!($what, " server RSS"),
                "MiB",
                false,
            ),
        ]
    };
}

const POLLING: [Spec; 6] = phase_rows!("polling", "polling");
const BINARY: [Spec; 6] = phase_rows!("binary", "binary (at its ceiling)");
const CHURN: [Spec; 6] = phase_rows!("churn", "churn fan-out");
const MANY: [Spec; 6] = phase_rows!("many-rooms", "many-rooms broadcast");
const FULL: [Spec; 6] = phase_rows!("full-budget", "full-budget");

const OTHER: [Spec; 20] = [
    row(
        "binary",
        "reached_max_rate",
        "binary search stopped at --binary-max-rate (1: ceiling higher)",
        "",
        false,
    ),
    row(
        "polling",
        "polling_clients_lost",
        "polling clients dropped",
        "clients",
        false,
    ),
    row(
        "binary",
        "bytes_per_s",
        "binary bytes/s at the ceiling",
        "bytes/s",
        true,
    ),
    row(
        "churn",
        "churn_ops_per_s",
        "churn joins+leaves",
        "ops/s",
        true,
    ),
    row(
        "churn",
        "churn_ack_p99_ms",
        "churn join/leave ack p99",
        "ms",
        false,
    ),
    row(
        "churn",
        "churn_failed",
        "churn joins/leaves refused or failed",
        "ops",
        false,
    ),
    row(
        "many-rooms",
        "rss_bytes_per_membership",
        "RSS per room membership",
        "bytes",
        false,
    ),
    row(
        "many-rooms",
        "memberships_per_s",
        "memberships joined",
        "memberships/s",
        true,
    ),
    row(
        "full-budget",
        "server_cpu_us_per_delivery_1k",
        "full-budget CPU per delivery at 1k clients",
        "µs",
        false,
    ),
    row(
        "full-budget",
        "cpu_growth_1k_to_full",
        "CPU per delivery, full budget / 1k clients",
        "×",
        false,
    ),
    row(
        "curves",
        "cpu_us_size_1",
        "curves: CPU per delivery, room of 1",
        "µs",
        false,
    ),
    row(
        "curves",
        "cpu_us_size_10",
        "curves: CPU per delivery, room of 10",
        "µs",
        false,
    ),
    row(
        "curves",
        "cpu_us_size_100",
        "curves: CPU per delivery, room of 100",
        "µs",
        false,
    ),
    row(
        "curves",
        "cpu_us_size_1000",
        "curves: CPU per delivery, room of 1000",
        "µs",
        false,
    ),
    row(
        "curves",
        "cpu_us_size_10000",
        "curves: CPU per delivery, room of 10000",
        "µs",
        false,
    ),
    row(
        "curves",
        "p99_ms_size_1",
        "curves: p99, room of 1",
        "ms",
        false,
    ),
    row(
        "curves",
        "p99_ms_size_10",
        "curves: p99, room of 10",
        "ms",
        false,
    ),
    row(
        "curves",
        "p99_ms_size_100",
        "curves: p99, room of 100",
        "ms",
        false,
    ),
    row(
        "curves",
        "p99_ms_size_1000",
        "curves: p99, room of 1000",
        "ms",
        false,
    ),
    row(
        "curves",
        "p99_ms_size_10000",
        "curves: p99, room of 10000",
        "ms",
        false,
    ),
];

/// Every row of the envelope scenarios, in table order.
pub(super) fn rows() -> impl Iterator<Item = &'static Spec> {
    POLLING
        .iter()
        .chain(&BINARY)
        .chain(&CHURN)
        .chain(&MANY)
        .chain(&FULL)
        .chain(&OTHER)
}

/// A target of issue 12.
pub(super) struct Target {
    pub(super) scenario: &'static str,
    pub(super) key: &'static str,
    pub(super) label: &'static str,
    /// The peer whose value roomcast's is divided by (`None`: roomcast's own value is bounded).
    pub(super) against: Option<&'static str>,
    pub(super) higher_is_better: bool,
    pub(super) bound: f64,
    pub(super) text: &'static str,
}

const fn target(
    scenario: &'static str,
    key: &'static str,
    label: &'static str,
    against: Option<&'static str>,
    higher_is_better: bool,
    (bound, text): (f64, &'static str),
) -> Target {
    Target {
        scenario,
        key,
        label,
        against,
        higher_is_better,
        bound,
        text,
    }
}

pub(super) const TARGETS: [Target; 11] = [
    target(
        "fanout",
        "server_cpu_us_per_delivery",
        "CPU per delivery at 40k/s",
        Some("floor"),
        false,
        (1.15, "≤ 1.15× floor"),
    ),
    target(
        "fanout",
        "server_cpu_us_per_delivery",
        "CPU per delivery at 40k/s",
        Some("socketioxide"),
        false,
        (0.6, "≤ 0.6× socketioxide"),
    ),
    target(
        "polling",
        "server_cpu_us_per_delivery",
        "polling CPU per delivery",
        Some("reference"),
        false,
        (1.0 / 3.0, "≤ 1/3 Node"),
    ),
    target(
        "polling",
        "server_cpu_us_per_delivery",
        "polling CPU per delivery",
        Some("socketioxide"),
        false,
        (0.6, "≤ 0.6× socketioxide"),
    ),
    target(
        "ceiling",
        "ceiling_deliveries_per_s",
        "fan-out ceiling",
        Some("socketioxide"),
        true,
        (4.0, "≥ 4× socketioxide"),
    ),
    target(
        "ceiling",
        "ceiling_deliveries_per_s",
        "fan-out ceiling",
        Some("reference"),
        true,
        (20.0, "≥ 20× Node"),
    ),
    target(
        "connect",
        "connects_per_s",
        "connects/s",
        Some("socketioxide"),
        true,
        (1.5, "≥ 1.5× socketioxide"),
    ),
    target(
        "connect",
        "rss_bytes_per_connection",
        "RSS per idle WebSocket connection",
        None,
        false,
        (6000.0, "≤ 6 KB"),
    ),
    target(
        "many-rooms",
        "rss_bytes_per_membership",
        "RSS per room membership",
        None,
        false,
        (200.0, "≤ 200 B"),
    ),
    target(
        "full-budget",
        "cpu_growth_1k_to_full",
        "CPU per delivery, full budget / 1k clients",
        None,
        false,
        (1.2, "flat: ≤ 1.2×"),
    ),
    target(
        "binary",
        "bytes_per_s",
        "64 KiB binary bytes/s",
        Some("socketioxide"),
        true,
        (2.0, "≥ 2× socketioxide"),
    ),
];

/// Every target of issue 12 whose scenario ran: roomcast's value, the peer's, the ratio, and
/// whether it is met (`null` when a value is missing).
pub(super) fn targets(args: &CompareArgs, summary: &Summary) -> Vec<Value> {
    let get = |server: &str, scen: &str, key: &str| -> Option<f64> {
        summary.get(server)?.get(scen)?.get(key).copied()
    };
    let mut out = Vec::new();
    for t in &TARGETS {
        if !args.scenarios.iter().any(|s| s == t.scenario) {
            continue;
        }
        let rc = get("roomcast", t.scenario, t.key);
        let peer = t.against.map(|p| get(p, t.scenario, t.key));
        let value = match peer {
            None => rc,
            Some(Some(p)) if p != 0.0 => rc.map(|r| r / p),
            Some(_) => None,
        };
        let met = value.map(|v| {
            if t.higher_is_better {
                v >= t.bound
            } else {
                v <= t.bound
            }
        });
        out.push(json!({
            "scenario": t.scenario,
            "metric": t.key,
            "label": t.label,
            "against": t.against,
            "roomcast": rc,
            "peer": peer.flatten(),
            "ratio": if t.against.is_some() { value } else { None },
            "target": t.text,
            "met": met,
        }));
    }
    out
}
