//! What a comparison hands out: the result document (machine, versions, parameters, runs, summary,
//! comparison) and the table printed on stdout.

use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};

use super::cluster;
use super::rounds::RunRecord;
use super::summary::Summary;
use super::CompareArgs;
use crate::sys::Machine;

/// The result document, as saved and as printed with --json.
pub(super) fn document(
    a: &CompareArgs,
    timestamp: &str,
    machine: &Machine,
    runs: &[RunRecord],
    summary: &Summary,
    comparison: Vec<Value>,
) -> Value {
    json!({
        "schema": "roomcast-load/compare/v1",
        "timestamp": timestamp,
        "machine": machine,
        "generator": {
            "name": "roomcast-load",
            "version": env!("CARGO_PKG_VERSION"),
            "runtime": "tokio current-thread (one core), shares the machine with the server",
        },
        "servers": {
            "roomcast": {
                "binary": a.roomcast_bin,
                "args": a.roomcast_args,
                "config_extra": a.roomcast_config_extra,
            },
            "floor": {
                "what": "roomcast-load floor-server: WebSocket only, one thread, one write per delivery, nothing else",
            },
            "socketioxide": {
                "binary": a.socketioxide_bin,
                "version": program_version(&a.socketioxide_bin.display().to_string()),
            },
            "reference": {
                "script": a.reference,
                "node": node_version(&a.node),
                "socket.io": package_version(&a.reference, "socket.io"),
                "ws": package_version(&a.reference, "ws"),
                "bufferutil": package_version(&a.reference, "bufferutil"),
                "@socket.io/redis-adapter": package_version(&a.reference, "@socket.io/redis-adapter"),
                "redis": package_version(&a.reference, "redis"),
            },
        },
        "cluster": cluster::describe(a),
        "parameters": a,
        "runs": runs,
        "summary": summary,
        "comparison": comparison,
    })
}

fn node_version(node: &str) -> String {
    Command::new(node)
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// What `program --version` prints (the socketioxide server: the socketioxide version it is built
/// on), or null when it does not run.
fn program_version(program: &str) -> Option<String> {
    let out = Command::new(program).arg("--version").output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The version of a package installed next to the reference server script.
pub(super) fn package_version(reference: &Path, package: &str) -> Option<String> {
    let dir = reference.parent()?;
    let text = std::fs::read_to_string(dir.join("node_modules").join(package).join("package.json"))
        .ok()?;
    let v: Value = serde_json::from_str(&text).ok()?;
    v.get("version")?.as_str().map(str::to_owned)
}

fn fmt_value(v: f64) -> String {
    if v.abs() >= 1000.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

/// One table row: metric, roomcast, reference, [socketioxide,] floor, ratio rc/ref,
/// [ratio rc/sioxide,] target, met. The socketioxide columns are there when it ran.
type Row = Vec<String>;

/// The title line, the comparison table, the failed runs and the generator's load of each run.
pub(super) fn print_tables(doc: &Value, runs: &[RunRecord]) {
    let m = &doc["machine"];
    let ran = |name: &str| {
        doc["parameters"]["servers"]
            .as_array()
            .is_some_and(|s| s.iter().any(|v| v == name))
    };
    let sx = ran("socketioxide");
    println!(
        "== {} — {} cores, {}, kernel {}, {}",
        title(doc, ran("reference"), sx),
        m["cores"],
        m["cpu_model"].as_str().unwrap_or("?"),
        m["kernel"].as_str().unwrap_or("?"),
        doc["timestamp"].as_str().unwrap_or("?")
    );
    let rows: Vec<Row> = doc["comparison"]
        .as_array()
        .map(|v| v.iter().map(|c| row(c, sx)).collect())
        .unwrap_or_default();
    print_grid(&header(sx), &rows);
    print_targets(doc);
    if let Some(text) = doc["cluster"]["note"].as_str() {
        println!("  cluster: {text}");
    }
    print_runs(runs);
}

/// "roomcast vs" the references that ran, with their versions.
/// The targets of issue 12 (each against one peer, or a bound on roomcast's own value).
fn print_targets(doc: &Value) {
    let Some(targets) = doc["targets"].as_array().filter(|t| !t.is_empty()) else {
        return;
    };
    println!("  targets (issues 11 and 12):");
    let num = |x: &Value| x.as_f64().map(fmt_value).unwrap_or_else(|| "-".into());
    let header: Row = ["target", "roomcast", "peer", "ratio", "bound", ""]
        .map(str::to_owned)
        .to_vec();
    let rows: Vec<Row> = targets
        .iter()
        .map(|t| {
            vec![
                t["label"].as_str().unwrap_or("").to_owned(),
                num(&t["roomcast"]),
                match t["against"].as_str() {
                    Some(p) => format!("{} {p}", num(&t["peer"])),
                    None => "".into(),
                },
                t["ratio"]
                    .as_f64()
                    .map(|r| format!("{r:.2}×"))
                    .unwrap_or_default(),
                t["target"].as_str().unwrap_or("").to_owned(),
                match t["met"].as_bool() {
                    Some(true) => "met".into(),
                    Some(false) => "NOT MET".into(),
                    None => "no value".into(),
                },
            ]
        })
        .collect();
    print_grid(&header, &rows);
}

fn title(doc: &Value, reference: bool, sx: bool) -> String {
    let servers = &doc["servers"];
    let mut refs = Vec::new();
    if reference {
        refs.push(format!(
            "Node.js reference (socket.io {}, node {})",
            servers["reference"]["socket.io"].as_str().unwrap_or("?"),
            servers["reference"]["node"].as_str().unwrap_or("?")
        ));
    }
    if sx {
        refs.push(format!(
            "socketioxide {}",
            servers["socketioxide"]["version"].as_str().unwrap_or("?")
        ));
    }
    if refs.is_empty() {
        "roomcast".into()
    } else {
        format!("roomcast vs {}", refs.join(" and "))
    }
}

fn header(sx: bool) -> Row {
    let mut h = vec!["metric", "roomcast", "reference"];
    if sx {
        h.push("socketioxide");
    }
    h.extend(["floor", "ratio rc/ref"]);
    if sx {
        h.push("ratio rc/sioxide");
    }
    h.extend(["target", ""]);
    h.into_iter().map(str::to_owned).collect()
}

fn row(c: &Value, sx: bool) -> Row {
    let num = |x: &Value| x.as_f64().map(fmt_value).unwrap_or_else(|| "-".into());
    let ratio = |x: &Value| {
        x.as_f64()
            .map(|r| format!("{r:.2}×"))
            .unwrap_or_else(|| "-".into())
    };
    let mut r = vec![
        format!(
            "{} ({})",
            c["label"].as_str().unwrap_or(""),
            c["unit"].as_str().unwrap_or("")
        ),
        num(&c["roomcast"]),
        num(&c["reference"]),
    ];
    if sx {
        r.push(num(&c["socketioxide"]));
    }
    r.extend([num(&c["floor"]), ratio(&c["ratio"])]);
    if sx {
        r.push(ratio(&c["ratio_socketioxide"]));
    }
    r.push(c["target"].as_str().unwrap_or("").to_owned());
    r.push(match c["met"].as_bool() {
        Some(true) => "met".into(),
        Some(false) => "NOT MET".into(),
        None => "".into(),
    });
    r
}

/// The header and the rows in aligned columns (numbers right-aligned; the metric, the target and
/// whether it is met left-aligned).
fn print_grid(header: &Row, rows: &[Row]) {
    let n = header.len();
    let mut w = vec![0usize; n];
    for r in std::iter::once(header).chain(rows.iter()) {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let line = |r: &Row| {
        let mut s = String::new();
        for (i, c) in r.iter().enumerate() {
            let pad = w[i] - c.chars().count();
            if i == 0 || i + 2 >= n {
                s.push_str(c);
                s.push_str(&" ".repeat(pad));
            } else {
                s.push_str(&" ".repeat(pad));
                s.push_str(c);
            }
            s.push_str("  ");
        }
        println!("  {}", s.trim_end());
    };
    line(header);
    for r in rows {
        line(r);
    }
}

/// The failed runs, then the load of each run, so a reader can tell whether the generator was the
/// bottleneck.
fn print_runs(runs: &[RunRecord]) {
    for r in runs.iter().filter(|r| !r.ok) {
        println!(
            "  ! round {} {} against {}: {}",
            r.round,
            r.scenario,
            r.server,
            r.error.as_deref().unwrap_or("")
        );
    }
    for r in runs.iter().filter(|r| r.ok) {
        if let Some(g) = r.metrics.get("gen_cpu_pct") {
            println!(
                "  · round {} {} against {}: generator CPU {:.0}% of a core{}{}{}",
                r.round,
                r.scenario,
                r.server,
                g,
                r.metrics
                    .get("server_cpu_pct")
                    .map(|s| format!(", server CPU {s:.0}%"))
                    .unwrap_or_default(),
                r.metrics
                    .get("redis_cpu_pct")
                    .map(|s| format!(", Redis CPU {s:.0}%"))
                    .unwrap_or_default(),
                r.metrics
                    .get("other_cpu_pct")
                    .map(|s| format!(", everything else {s:.0}%"))
                    .unwrap_or_default()
            );
        }
    }
}
