//! The runs of a comparison: every round, scenario and server in turn (the server order alternates
//! between rounds), each against a fresh server process. A server that does not start or fails
//! the preflight is skipped for the rest of the comparison.

use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use super::cluster;
use super::envelope;
use super::recovery;
use super::scenario::{self, Metrics};
use super::servers::{preflight, wait_ready, Env, ServerProc};
use super::{CompareArgs, FLOOR_SCENARIOS};
use crate::sys;

/// One scenario against one server in one round, as saved.
#[derive(Serialize)]
pub(super) struct RunRecord {
    pub(super) round: usize,
    pub(super) scenario: String,
    pub(super) server: String,
    pub(super) command: Vec<String>,
    pub(super) ok: bool,
    pub(super) error: Option<String>,
    pub(super) metrics: Metrics,
    pub(super) result: Value,
}

/// Progress on stderr (unless --quiet).
fn say(args: &CompareArgs, msg: String) {
    if !args.report.quiet {
        eprintln!(
            "[{:7.1}s] compare: {msg}",
            sys::base().elapsed().as_secs_f64()
        );
    }
}

/// Every run of the comparison, in order.
pub(super) async fn run_all(args: &CompareArgs, env: &mut Env) -> Vec<RunRecord> {
    let mut runs = Vec::new();
    // Servers that failed to start or the preflight, and why.
    let mut unusable: BTreeMap<String, String> = BTreeMap::new();
    for round in 0..args.rounds.max(1) {
        for scen in &args.scenarios {
            let mut order: Vec<&String> = args.servers.iter().collect();
            if round % 2 == 1 {
                order.reverse();
            }
            for server in order {
                // Write coalescing is a roomcast setting: that scenario runs against it alone.
                if scen == "fanout-coalesced" && server != "roomcast" {
                    continue;
                }
                if server == "floor"
                    && !FLOOR_SCENARIOS.contains(&scen.as_str())
                    && !envelope::FLOOR_SCENARIOS.contains(&scen.as_str())
                    && !recovery::SCENARIOS.contains(&scen.as_str())
                {
                    continue;
                }
                if cluster::SCENARIOS.contains(&scen.as_str()) {
                    // Only servers with a Redis adapter form a cluster (see cluster::LEFT_OUT).
                    if cluster::SERVERS.contains(&server.as_str()) {
                        say(args, format!("round {round}: {scen} against {server}"));
                        let run = cluster::one_run(args, env, round, scen, server).await;
                        if let Some(e) = &run.error {
                            say(args, format!("{scen} against {server} failed: {e}"));
                        }
                        runs.push(run);
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                    continue;
                }
                if recovery::SCENARIOS.contains(&scen.as_str()) {
                    // Each variant of the server (recovery off, on, clustered) in turn.
                    for v in recovery::variants(args, scen, server) {
                        say(args, format!("round {round}: {scen} against {}", v.name));
                        let run = recovery::one_run(args, env, round, scen, &v).await;
                        if let Some(e) = &run.error {
                            say(args, format!("{scen} against {} failed: {e}", v.name));
                        }
                        runs.push(run);
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                    continue;
                }
                if let Some(why) = unusable.get(server) {
                    let error = format!("skipped: {why}");
                    runs.push(RunRecord {
                        ok: false,
                        error: Some(error),
                        ..RunRecord::new(round, scen, server, Vec::new())
                    });
                    continue;
                }
                if let Some(run) = one_run(args, env, round, scen, server, &mut unusable).await {
                    runs.push(run);
                    // Let TIME_WAIT sockets and the other processes settle between runs.
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    }
    runs
}

impl RunRecord {
    /// A run without metrics or result yet.
    pub(super) fn new(
        round: usize,
        scenario: &str,
        server: &str,
        command: Vec<String>,
    ) -> RunRecord {
        RunRecord {
            round,
            scenario: scenario.to_owned(),
            server: server.to_owned(),
            command,
            ok: true,
            error: None,
            metrics: BTreeMap::new(),
            result: Value::Null,
        }
    }
}

/// Starts `server`, runs `scen` against it and stops it. `None` if the server did not start (it is
/// then unusable); a failed preflight makes it unusable too.
async fn one_run(
    args: &CompareArgs,
    env: &mut Env,
    round: usize,
    scen: &str,
    server: &str,
    unusable: &mut BTreeMap<String, String>,
) -> Option<RunRecord> {
    say(args, format!("round {round}: {scen} against {server}"));
    let coalesced = scen == "fanout-coalesced";
    let mut proc = match env.start(server, coalesced.then_some(args.coalesce_ms)) {
        Ok(p) => p,
        Err(e) => {
            unusable.insert(server.to_owned(), e.clone());
            say(args, format!("{server}: {e}"));
            return None;
        }
    };
    let record = RunRecord::new(round, scen, server, proc.command.clone());
    let outcome = measure(args, env, &mut proc, scen).await;
    if let Ok(Some(status)) = proc.child.try_wait() {
        say(
            args,
            format!(
                "{server} exited during the run ({status}):\n{}",
                proc.log_tail()
            ),
        );
    }
    proc.stop();
    Some(match outcome {
        Ok((result, metrics)) => RunRecord {
            metrics,
            result,
            ..record
        },
        Err(e) => {
            say(args, format!("{scen} against {server} failed: {e}"));
            if let Some(why) = e.strip_prefix("unusable: ") {
                unusable.insert(server.to_owned(), why.to_owned());
            }
            RunRecord {
                ok: false,
                error: Some(e),
                ..record
            }
        }
    })
}

/// Waits for the server, checks it with one client, and runs the scenario against it. A failed
/// check is an error starting with `unusable: `.
async fn measure(
    args: &CompareArgs,
    env: &Env,
    proc: &mut ServerProc,
    scen: &str,
) -> Result<(Value, Metrics), String> {
    wait_ready(proc).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let ctx = Rc::new(env.ctx(proc.port, proc.pid())?);
    if let Err(e) = preflight(&ctx).await {
        return Err(format!("unusable: {e}"));
    }
    scenario::run(args, ctx, scen).await
}
