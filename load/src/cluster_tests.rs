//! The cluster scenarios cannot rot: a few seconds of `compare --scenarios cluster,cluster-ceiling`
//! at small sizes against two-node clusters of roomcast (the debug build of this workspace) and of
//! the Node.js reference, each over a redis-server of its own. Needs `redis-server`, `node`, the
//! reference's packages (`npm ci --prefix benches/reference`) and `target/debug/roomcast`
//! (`cargo build -p roomcast`; `scripts/test.sh` provides all of them); a missing one fails.

use std::path::Path;

use clap::Parser;
use serde_json::Value;

use crate::test_paths::{repo_root, roomcast_bin, saved};
use crate::{Cli, Cmd};

#[test]
fn the_cluster_scenarios_measure_both_clusters() {
    let root = repo_root();
    let roomcast = roomcast_bin(&root);
    assert!(
        roomcast.exists(),
        "{} not found: cargo build -p roomcast",
        roomcast.display()
    );
    let out = std::env::temp_dir().join(format!("roomcast-cluster-smoke-{}", std::process::id()));
    let (bin, reference) = (
        roomcast.display().to_string(),
        root.join("benches/reference/server.mjs"),
    );
    let reference = reference.display().to_string();
    let out_arg = out.display().to_string();
    // Small and slow enough for a debug build on a busy machine: what fails it is a loss or a run
    // that did not measure, not latency (the drain ends as soon as everything has arrived).
    let mut argv = vec![
        "roomcast-load",
        "compare",
        "-q",
        "--quick",
        "--out-dir",
        &out_arg,
        "--scenarios",
        "cluster,cluster-ceiling",
        "--servers",
        "roomcast,reference",
        "--roomcast-bin",
        &bin,
        "--reference",
        &reference,
    ];
    argv.extend(
        "--subscribers 40 --rooms 2 --publishers 2 --cluster-rate 1000 --duration 1 \
         --warmup 0.3 --drain 10 --cluster-idle-connections 50 --cluster-idle-hold 0.5 \
         --cluster-big-room 100 --ceiling-start 1000 --ceiling-max 2000 --ceiling-step 0.5 \
         --ceiling-refine 0 --ceiling-max-total 30 --p99-budget-ms 10000"
            .split_whitespace(),
    );
    let (code, doc) = compare(argv, &out);
    let runs = doc["runs"].as_array().expect("runs");
    assert_eq!(code, Ok(0), "{runs:#?}");
    assert_eq!(runs.len(), 4, "two scenarios against two clusters");
    runs.iter().for_each(check);
}

/// Runs `compare` with `argv`; its exit code and the document it saved in `out` (then removed).
fn compare(argv: Vec<&str>, out: &Path) -> (Result<i32, String>, Value) {
    let Cmd::Compare(args) = Cli::try_parse_from(argv).expect("parses").cmd else {
        panic!("not compare");
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let code = tokio::task::LocalSet::new().block_on(&rt, crate::compare::run(*args));
    let doc = saved(out);
    let _ = std::fs::remove_dir_all(out);
    (code, doc)
}

/// One run measured what its scenario reports.
fn check(run: &Value) {
    let (scen, server, m) = (&run["scenario"], &run["server"], &run["metrics"]);
    assert_eq!(run["ok"], true, "{scen} against {server}: {}", run["error"]);
    if scen == "cluster" {
        assert!(
            m["cross_node_deliveries_per_s"].as_f64() > Some(0.0),
            "{server}: {m}"
        );
        assert!(m["cross_p99_ms"].as_f64() > Some(0.0), "{server}: {m}");
        assert_eq!(m["lost"], 0.0, "{server}: {m}");
        assert_eq!(m["room_checks_lost"], 0.0, "{server}: {m}");
        // Every broadcast crossed Redis as (at least) one PUBLISH.
        for key in [
            "commands_per_broadcast_small_room",
            "commands_per_broadcast_big_room",
        ] {
            assert!(m[key].as_f64() >= Some(1.0), "{server} {key}: {m}");
        }
        assert!(
            m["idle_commands_per_connection"].is_number(),
            "{server}: {m}"
        );
        assert!(m["redis_cpu_pct"].is_number(), "{server}: {m}");
    } else {
        assert!(
            m["ceiling_deliveries_per_s"].as_f64() >= Some(1000.0),
            "{server}: {m}"
        );
    }
}
