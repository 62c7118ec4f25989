//! The targets issue 11 sets for the recovery scenarios, and their table. Jitter: every message
//! delivered exactly once to every subscriber with recovery on (100.00%, no duplicate), on one
//! node and across a cluster. Avalanche: every dropped client back and receiving within 10 s, and
//! the undisturbed clients' p99 under 100 ms meanwhile, at each size, with recovery off and on.

use serde_json::{json, Value};

use super::super::summary::Summary;
use super::super::CompareArgs;

/// A bound on one variant's value: met when `value >= bound` (`at_least`) or `value < bound`.
struct Bound {
    scenario: &'static str,
    server: &'static str,
    key: &'static str,
    label: &'static str,
    at_least: bool,
    bound: f64,
    text: &'static str,
}

const fn jitter(server: &'static str, key: &'static str, label: &'static str) -> Bound {
    let exact = matches!(key.as_bytes(), b"ratio_min_pct");
    Bound {
        scenario: "jitter",
        server,
        key,
        label,
        at_least: exact,
        bound: if exact { 100.0 } else { 0.5 },
        text: if exact { "100.00%" } else { "0" },
    }
}

const JITTER: [Bound; 4] = [
    jitter(
        "roomcast+csr",
        "ratio_min_pct",
        "jitter: lowest delivery ratio",
    ),
    jitter("roomcast+csr", "duplicates", "jitter: duplicates"),
    jitter(
        "roomcast-cluster+csr",
        "ratio_min_pct",
        "jitter, cluster: lowest delivery ratio",
    ),
    jitter(
        "roomcast-cluster+csr",
        "duplicates",
        "jitter, cluster: duplicates",
    ),
];

/// The avalanche's bounds, for each of roomcast's variants and sizes.
const AVALANCHE: [Bound; 2] = [
    Bound {
        scenario: "avalanche",
        server: "",
        key: "back_in_window_pct",
        label: "avalanche: back and receiving within 10 s",
        at_least: true,
        bound: 100.0,
        text: "100%",
    },
    Bound {
        scenario: "avalanche",
        server: "",
        key: "undisturbed_p99_ms",
        label: "avalanche: undisturbed clients' p99",
        at_least: false,
        bound: 100.0,
        text: "< 100 ms",
    },
];

/// Every target of the recovery scenarios that ran: the variant's value and whether it is met
/// (`null` when the value is missing), in the shape of the other targets.
pub(in crate::compare) fn targets(a: &CompareArgs, summary: &Summary) -> Vec<Value> {
    let ran = |s: &str| a.scenarios.iter().any(|x| x == s);
    let mut out = Vec::new();
    let mut push = |b: &Bound, server: &str, key: String, label: String| {
        let value = summary
            .get(server)
            .and_then(|s| s.get(b.scenario))
            .and_then(|m| m.get(&key))
            .copied();
        let met = value.map(|v| {
            if b.at_least {
                v >= b.bound
            } else {
                v < b.bound
            }
        });
        out.push(json!({
            "scenario": b.scenario,
            "metric": key,
            "label": format!("{label}, {server}"),
            "server": server,
            "against": null,
            "roomcast": value,
            "peer": null,
            "ratio": null,
            "target": b.text,
            "met": met,
        }));
    };
    if ran("jitter") {
        for b in &JITTER {
            push(b, b.server, b.key.to_owned(), b.label.to_owned());
        }
    }
    if ran("avalanche") {
        for &n in &a.recovery.avalanche_sizes {
            for server in ["roomcast", "roomcast+csr"] {
                for b in &AVALANCHE {
                    let label = format!("{} ({n} clients)", b.label);
                    push(b, server, format!("{}@{n}", b.key), label);
                }
            }
        }
    }
    out
}

/// The rows of the recovery table: (scenario, metric key, heading).
const JITTER_COLUMNS: [(&str, &str); 6] = [
    ("ratio_min_pct", "min %"),
    ("ratio_mean_pct", "mean %"),
    ("duplicates", "dups"),
    ("out_of_order", "disorder"),
    ("reconnects", "reconnects"),
    ("recovered", "recovered"),
];

/// The table of the recovery scenarios (one line per variant), when one ran.
pub(in crate::compare) fn print_table(a: &CompareArgs, summary: &Summary) {
    let num = |v: Option<f64>| match v {
        Some(v) if v.fract() == 0.0 && v.abs() < 1e9 => format!("{v:.0}"),
        Some(v) => format!("{v:.2}"),
        None => "-".into(),
    };
    let get =
        |server: &str, scen: &str, key: &str| summary.get(server)?.get(scen)?.get(key).copied();
    let ran = |server: &str, scen: &str| summary.get(server).is_some_and(|s| s.contains_key(scen));
    let names = super::VARIANTS.iter().map(|v| v.name);
    if a.scenarios.iter().any(|s| s == "jitter") {
        println!("  jitter (delivery ratio per subscriber: min and mean over subscribers):");
        let head: Vec<&str> = JITTER_COLUMNS.iter().map(|c| c.1).collect();
        println!("    {:<24}{}", "server", row(&head));
        for name in names.clone().filter(|n| ran(n, "jitter")) {
            let cells: Vec<String> = JITTER_COLUMNS
                .iter()
                .map(|(k, _)| num(get(name, "jitter", k)))
                .collect();
            println!("    {name:<24}{}", row(&cells));
        }
    }
    if a.scenarios.iter().any(|s| s == "avalanche") {
        println!("  avalanche (back = reconnected and receiving; p99 of the undisturbed clients):");
        for &n in &a.recovery.avalanche_sizes {
            let head = [
                "back ≤10s %",
                "back at end %",
                "p99 ms",
                "p99 before",
                "back p99 ms",
            ];
            println!("    {:<24}{}  ({n} dropped)", "server", row(&head));
            for name in names.clone().filter(|n| ran(n, "avalanche")) {
                let keys = [
                    "back_in_window_pct",
                    "back_at_end_pct",
                    "undisturbed_p99_ms",
                    "undisturbed_p99_before_ms",
                    "time_to_back_p99_ms",
                ];
                let cells: Vec<String> = keys
                    .iter()
                    .map(|k| num(get(name, "avalanche", &format!("{k}@{n}"))))
                    .collect();
                println!("    {name:<24}{}", row(&cells));
            }
        }
    }
}

/// Cells right-aligned in columns of 14.
fn row<S: AsRef<str>>(cells: &[S]) -> String {
    cells
        .iter()
        .map(|c| format!("{:>14}", c.as_ref()))
        .collect::<String>()
}
