//! The envelope scenarios of issue 12 cannot rot: a few seconds of `compare --scenarios polling,
//! binary,churn,many-rooms,full-budget,curves` at small sizes against roomcast (the debug build of
//! this workspace) and the Node.js reference. Needs `node`, the reference's packages
//! (`npm ci --prefix benches/reference`) and `target/debug/roomcast` (`cargo build -p roomcast`;
//! `scripts/test.sh` provides all of them); a missing one fails.

use std::path::{Path, PathBuf};

use clap::Parser;
use serde_json::Value;

use crate::test_paths::{repo_root, roomcast_bin};
use crate::{Cli, Cmd};

/// The files `compare` saved in `dir`: the document and whether the curves chart is there.
fn saved(dir: &Path) -> (Value, bool) {
    let paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("results directory")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    let json = paths
        .iter()
        .find(|p| p.extension().is_some_and(|x| x == "json"))
        .expect("a saved compare-*.json");
    let curves = paths
        .iter()
        .any(|p| p.to_string_lossy().ends_with("-curves.svg"));
    let doc = serde_json::from_str(&std::fs::read_to_string(json).expect("read")).expect("JSON");
    (doc, curves)
}

const SCENARIOS: [&str; 6] = [
    "polling",
    "binary",
    "churn",
    "many-rooms",
    "full-budget",
    "curves",
];

#[test]
fn the_envelope_scenarios_measure_roomcast_and_the_reference() {
    let root = repo_root();
    let roomcast = roomcast_bin(&root);
    assert!(
        roomcast.exists(),
        "{} not found: cargo build -p roomcast",
        roomcast.display()
    );
    let out = std::env::temp_dir().join(format!("roomcast-envelope-smoke-{}", std::process::id()));
    let bin = roomcast.display().to_string();
    let reference = root.join("benches/reference/server.mjs");
    let reference = reference.display().to_string();
    let out_arg = out.display().to_string();
    let scenarios = SCENARIOS.join(",");
    let mut argv = vec![
        "roomcast-load",
        "compare",
        "-q",
        "--quick",
        "--out-dir",
        &out_arg,
        "--scenarios",
        &scenarios,
        "--servers",
        "roomcast,reference",
        "--roomcast-bin",
        &bin,
        "--reference",
        &reference,
    ];
    // Small and slow enough for a debug build on a busy machine: what fails it is a loss or a run
    // that did not measure, not latency.
    argv.extend(
        "--subscribers 20 --rooms 2 --publishers 2 --fanout-rate 1000 --duration 1 --warmup 0.3 \
         --drain 10 --p99-budget-ms 10000 --polling-clients 20 --polling-rooms 2 \
         --polling-rate 400 --binary-subscribers 5 --binary-max-rate 1000 --ceiling-step 0.5 \
         --ceiling-refine 0 --ceiling-max-total 20 --churn-sockets 50 --churn-period 0.5 \
         --churn-rate 500 --many-rooms 500 --many-rooms-sockets 50 --many-rooms-rate 200 \
         --full-budget-clients 60 --curve-sizes 1,2 --curve-rate 400"
            .split_whitespace(),
    );
    let Cmd::Compare(args) = Cli::try_parse_from(argv).expect("parses").cmd else {
        panic!("not compare");
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let code = tokio::task::LocalSet::new().block_on(&rt, crate::compare::run(*args));
    let (doc, curves_chart) = saved(&out);
    let _ = std::fs::remove_dir_all(&out);
    let runs = doc["runs"].as_array().expect("runs");
    assert_eq!(code, Ok(0), "{runs:#?}");
    assert_eq!(runs.len(), 12, "six scenarios against two servers");
    runs.iter().for_each(check);
    assert!(curves_chart, "the curves chart is saved beside the results");
    let targets = doc["targets"].as_array().expect("targets");
    assert!(
        targets
            .iter()
            .any(|t| t["metric"] == "rss_bytes_per_membership"),
        "{targets:#?}"
    );
}

/// One run measured what its scenario reports, and lost nothing.
fn check(run: &Value) {
    let (scen, server, m) = (&run["scenario"], &run["server"], &run["metrics"]);
    assert_eq!(run["ok"], true, "{scen} against {server}: {}", run["error"]);
    let positive = |key: &str| {
        assert!(m[key].as_f64() > Some(0.0), "{scen} {server} {key}: {m}");
    };
    let zero = |key: &str| assert_eq!(m[key], 0.0, "{scen} {server} {key}: {m}");
    match scen.as_str().unwrap_or("") {
        "curves" => {
            for size in [1, 2] {
                positive(&format!("p99_ms_size_{size}"));
                zero(&format!("lost_size_{size}"));
            }
            return;
        }
        "polling" => zero("polling_clients_lost"),
        "binary" => positive("bytes_per_s"),
        "churn" => {
            positive("churn_ops_per_s");
            zero("churn_failed");
        }
        "many-rooms" => positive("memberships_per_s"),
        "full-budget" => assert_eq!(m["clients"], 60.0, "{server}: {m}"),
        _ => {}
    }
    positive("deliveries_per_s");
    positive("latency_p99_ms");
    zero("lost");
}
