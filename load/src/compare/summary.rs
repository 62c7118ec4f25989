//! What a comparison compares: the metrics and the targets of issue 4 ([`SPECS`]), the median of
//! each metric over the rounds, and each metric's ratio roomcast / reference against its target
//! (and roomcast / socketioxide, shown beside it; the targets are the Node reference's).

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::cluster;
use super::rounds::RunRecord;
use super::CompareArgs;

/// The medians of the metrics, by server, then scenario, then metric.
pub(super) type Summary = BTreeMap<String, BTreeMap<String, BTreeMap<String, f64>>>;

/// What is compared, how, and the target the issue sets (ratio = roomcast / reference).
pub(super) struct Spec {
    pub(super) scenario: &'static str,
    pub(super) key: &'static str,
    pub(super) label: &'static str,
    pub(super) unit: &'static str,
    pub(super) higher_is_better: bool,
    /// (ratio bound, text): met when ratio ≥ bound (higher is better) or ≤ bound (lower).
    pub(super) target: Option<(f64, &'static str)>,
    /// An absolute bound on roomcast's value (<), with its text; alone, it is the target.
    pub(super) absolute: Option<(f64, &'static str)>,
}

const SPECS: &[Spec] = &[
    Spec {
        scenario: "ceiling",
        key: "ceiling_deliveries_per_s",
        label: "fanout ceiling",
        unit: "deliveries/s",
        higher_is_better: true,
        target: Some((15.0, "≥ 15×")),
        absolute: None,
    },
    Spec {
        scenario: "fanout",
        key: "deliveries_per_s",
        label: "fanout deliveries",
        unit: "deliveries/s",
        higher_is_better: true,
        target: None,
        absolute: None,
    },
    Spec {
        scenario: "fanout",
        key: "server_cpu_us_per_delivery",
        label: "server CPU per delivery",
        unit: "µs",
        higher_is_better: false,
        target: Some((1.0 / 3.0, "≤ 1/3")),
        absolute: None,
    },
    Spec {
        scenario: "fanout",
        key: "latency_p50_ms",
        label: "fanout latency p50",
        unit: "ms",
        higher_is_better: false,
        target: None,
        absolute: None,
    },
    Spec {
        scenario: "fanout",
        key: "latency_p99_ms",
        label: "fanout latency p99",
        unit: "ms",
        higher_is_better: false,
        target: None,
        absolute: None,
    },
    Spec {
        scenario: "fanout-coalesced",
        key: "server_cpu_us_per_delivery",
        label: "server CPU per delivery",
        unit: "µs",
        higher_is_better: false,
        target: Some((1.0 / 3.0, "≤ 1/3")),
        absolute: None,
    },
    Spec {
        scenario: "fanout-coalesced",
        key: "latency_p99_ms",
        label: "fanout latency p99",
        unit: "ms",
        higher_is_better: false,
        target: None,
        absolute: None,
    },
    Spec {
        scenario: "connect",
        key: "connects_per_s",
        label: "connects",
        unit: "connects/s",
        higher_is_better: true,
        target: Some((4.0, "≥ 4×")),
        absolute: None,
    },
    Spec {
        scenario: "connect",
        key: "rss_bytes_per_connection",
        label: "RSS per idle connection",
        unit: "bytes",
        higher_is_better: false,
        target: Some((0.5, "≤ 1/2")),
        absolute: Some((10_240.0, "< 10 KB")),
    },
    Spec {
        scenario: "echo",
        key: "ack_p50_ms",
        label: "echo ack p50",
        unit: "ms",
        higher_is_better: false,
        target: None,
        absolute: None,
    },
    Spec {
        scenario: "echo",
        key: "ack_p99_ms",
        label: "echo ack p99",
        unit: "ms",
        higher_is_better: false,
        target: Some((0.2, "≤ 1/5")),
        absolute: None,
    },
    Spec {
        scenario: "echo",
        key: "server_cpu_us_per_ack",
        label: "server CPU per ack",
        unit: "µs",
        higher_is_better: false,
        target: None,
        absolute: None,
    },
];

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// The median of each metric over the rounds, per server and scenario.
pub(super) fn medians(args: &CompareArgs, runs: &[RunRecord]) -> Summary {
    let mut summary = Summary::new();
    // The servers asked for, and the variants of them that ran (`roomcast+csr`, …).
    let mut servers = args.servers.clone();
    for r in runs {
        if !servers.contains(&r.server) {
            servers.push(r.server.clone());
        }
    }
    for server in &servers {
        for scen in &args.scenarios {
            let mut keys: BTreeMap<String, Vec<f64>> = BTreeMap::new();
            for r in runs
                .iter()
                .filter(|r| r.ok && &r.server == server && &r.scenario == scen)
            {
                for (k, v) in &r.metrics {
                    keys.entry(k.clone()).or_default().push(*v);
                }
            }
            let med: BTreeMap<String, f64> = keys
                .into_iter()
                .filter_map(|(k, v)| median(v).map(|m| (k, m)))
                .collect();
            if !med.is_empty() {
                summary
                    .entry(server.clone())
                    .or_default()
                    .insert(scen.clone(), med);
            }
        }
    }
    summary
}

/// One entry per compared metric of the scenarios that ran: every server's median, the ratios
/// roomcast / reference and roomcast / socketioxide, the target and whether it is met (against the
/// Node reference, as issue 4 sets it).
pub(super) fn comparison(args: &CompareArgs, summary: &Summary) -> Vec<Value> {
    let get = |server: &str, scen: &str, key: &str| -> Option<f64> {
        summary.get(server)?.get(scen)?.get(key).copied()
    };
    let mut comparison = Vec::new();
    for s in SPECS
        .iter()
        .chain(cluster::SPECS)
        .chain(super::specs::rows())
    {
        if !args.scenarios.iter().any(|x| x == s.scenario) {
            continue;
        }
        let rc = get("roomcast", s.scenario, s.key);
        let reference_scenario = match s.scenario {
            "fanout-coalesced" => "fanout",
            other => other,
        };
        let rf = get("reference", reference_scenario, s.key);
        let sx = get("socketioxide", reference_scenario, s.key);
        let floor = get("floor", s.scenario, s.key);
        let label = match (s.scenario, s.key) {
            ("fanout-coalesced", _) => {
                format!("{}, {} ms write delay", s.label, args.coalesce_ms)
            }
            ("cluster", "commands_per_broadcast_big_room") => format!(
                "Redis commands per broadcast, room of {}",
                args.cluster_big_room
            ),
            _ => s.label.to_owned(),
        };
        let ratio = ratio_of(rc, rf);
        comparison.push(json!({
            "scenario": s.scenario,
            "metric": s.key,
            "label": label,
            "unit": s.unit,
            "higher_is_better": s.higher_is_better,
            "roomcast": rc,
            "reference": rf,
            "floor": floor,
            "ratio": ratio,
            // Added with the socketioxide reference; results saved before have neither key.
            "socketioxide": sx,
            "ratio_socketioxide": ratio_of(rc, sx),
            "target": match (s.target, s.absolute) {
                (Some(t), Some((_, abs))) => Some(format!("{} and {abs}", t.1)),
                (Some(t), None) => Some(t.1.to_owned()),
                (None, abs) => abs.map(|(_, text)| text.to_owned()),
            },
            "met": met(s, ratio, rc),
        }));
    }
    comparison
}

/// roomcast's value over a reference's, when both exist and the reference's is not zero.
fn ratio_of(rc: Option<f64>, reference: Option<f64>) -> Option<f64> {
    match (rc, reference) {
        (Some(a), Some(b)) if b != 0.0 => Some(a / b),
        _ => None,
    }
}

/// Whether roomcast meets the target of `s` (`None`: no target, or no ratio).
fn met(s: &Spec, ratio: Option<f64>, rc: Option<f64>) -> Option<bool> {
    if let (None, Some((lim, _))) = (s.target, s.absolute) {
        return rc.map(|v| v < lim);
    }
    match (s.target, ratio) {
        (Some((bound, _)), Some(r)) => {
            let by_ratio = if s.higher_is_better {
                r >= bound
            } else {
                r <= bound
            };
            let by_abs = match (s.absolute, rc) {
                (Some((lim, _)), Some(v)) => v < lim,
                _ => true,
            };
            Some(by_ratio && by_abs)
        }
        _ => None,
    }
}
