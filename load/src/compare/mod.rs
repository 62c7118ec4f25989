//! `compare`: roomcast against the Node.js reference server (and, on request, the socketioxide
//! one), side by side on this machine.
//!
//! For every round and scenario it starts a fresh server process (roomcast, then the reference;
//! the order alternates between rounds), waits for its port, checks the room API with one client,
//! runs the scenario with the server's pid in the probe (CPU time and RSS from /proc), stops the
//! server, and moves on. Then it prints each metric for both servers and their ratio against the
//! targets of issue 4, and saves the JSON and an SVG chart under the results directory.
//!
//! Its parts: `servers` (the server processes), `rounds` (every run in turn), `scenario` (one run
//! and its metrics), `summary` (medians, ratios, targets), `output` (the document and the table)
//! and `save` (where the results go).

mod cluster;
mod envelope;
mod output;
mod recovery;
mod rounds;
mod save;
mod scenario;
mod servers;
mod specs;
mod summary;

use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

use crate::args::{BudgetArgs, ClientArgs, ConnectArgs, FleetArgs, PhaseArgs, ReportArgs};
use crate::sys;

#[derive(Args, Clone, Debug, Serialize)]
pub struct CompareArgs {
    /// The roomcast broker binary (build it first: cargo build --release).
    #[arg(long, default_value = "target/release/roomcast")]
    pub roomcast_bin: PathBuf,
    /// Arguments of roomcast; {config}, {port} and {admin_port} are replaced. The generated
    /// config binds [server] and [admin] to free loopback ports and logs at warn.
    #[arg(long, default_value = "--config {config}")]
    pub roomcast_args: String,
    /// TOML appended to the generated roomcast config (e.g. '[limits]\noutbound_queue = 4096').
    #[arg(long)]
    pub roomcast_config_extra: Option<String>,
    /// The Node.js executable.
    #[arg(long, default_value = "node")]
    pub node: String,
    /// The reference server script (its node_modules: npm ci --prefix benches/reference).
    #[arg(long, default_value = "benches/reference/server.mjs")]
    pub reference: PathBuf,
    /// The socketioxide reference server (build it first: cargo build --release --workspace).
    #[arg(long, default_value = "target/release/roomcast-bench-socketioxide")]
    pub socketioxide_bin: PathBuf,
    /// Scenarios, in order. `fanout-coalesced` is `fanout` against roomcast started with
    /// `write_delay_ms = --coalesce-ms` (opt-in write coalescing; the reference has no such
    /// setting, so its ratio is taken against the reference's plain `fanout`). Opt-in: `cluster`
    /// and `cluster-ceiling`, roomcast and the reference as clusters of --cluster-nodes nodes
    /// over a redis-server of their own (see benches/README.md); and the envelope of issue 12:
    /// `polling`, `binary`, `churn`, `many-rooms`, `full-budget`, `curves`.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "fanout,fanout-coalesced,echo,connect,ceiling"
    )]
    pub scenarios: Vec<String>,
    /// roomcast's `engine.write_delay_ms` in the `fanout-coalesced` scenario.
    #[arg(long, default_value_t = 50)]
    pub coalesce_ms: u64,
    /// Servers to run: roomcast, reference (Node.js), socketioxide (the Rust reference, opt-in:
    /// roomcast,reference,socketioxide,floor), and floor: this binary's `floor-server`, the least
    /// a server can do (fanout and echo only), to show what the generator and the machine cost by
    /// themselves. Ratios are roomcast over each reference that ran.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "roomcast,reference,floor"
    )]
    pub servers: Vec<String>,
    /// Rounds; the server order alternates between rounds, the summary is the median.
    #[arg(long, default_value_t = 1)]
    pub rounds: usize,
    /// Shorter runs and smaller sizes (a quick look, not the benchmark).
    #[arg(long)]
    pub quick: bool,
    /// Where the JSON results and the SVG chart go (default: target/bench-results, or
    /// benches/results with --publish).
    #[arg(long)]
    pub out_dir: Option<PathBuf>,
    /// Save as the published results: into benches/results, also as latest.json and latest.svg
    /// (what the README shows). Refused with --quick.
    #[arg(long)]
    pub publish: bool,
    /// Do not save results.
    #[arg(long)]
    pub no_save: bool,
    #[command(flatten)]
    #[serde(flatten)]
    pub report: ReportArgs,
    #[command(flatten)]
    #[serde(flatten)]
    pub client: ClientArgs,
    #[command(flatten)]
    #[serde(flatten)]
    pub fleet: FleetArgs,
    /// fanout: target deliveries/s.
    #[arg(long, default_value_t = 40_000.0)]
    pub fanout_rate: f64,
    #[command(flatten)]
    #[serde(flatten)]
    pub phase: PhaseArgs,
    /// echo: clients.
    #[arg(long, default_value_t = 100)]
    pub echo_clients: usize,
    /// echo: acks per second, all clients together.
    #[arg(long, default_value_t = 10_000.0)]
    pub echo_rate: f64,
    #[command(flatten)]
    #[serde(flatten)]
    pub connect: ConnectArgs,
    /// connect: handshakes in flight at once.
    #[arg(long, default_value_t = 128)]
    pub connect_concurrency: usize,
    /// ceiling: first target, deliveries/s.
    #[arg(long, default_value_t = 10_000.0)]
    pub ceiling_start: f64,
    /// ceiling: highest target, deliveries/s.
    #[arg(long, default_value_t = 3_000_000.0)]
    pub ceiling_max: f64,
    /// ceiling: each step multiplies the rate by this while steps hold.
    #[arg(long, default_value_t = 1.5)]
    pub ceiling_factor: f64,
    /// ceiling: bisection steps between the last rate that held and the first that failed.
    #[arg(long, default_value_t = 2)]
    pub ceiling_refine: u32,
    /// ceiling: measured seconds per step.
    #[arg(long, default_value_t = 3.0)]
    pub ceiling_step: f64,
    #[command(flatten)]
    #[serde(flatten)]
    pub budget: BudgetArgs,
    /// Bound on one server's ceiling search, seconds.
    #[arg(long, default_value_t = 120.0)]
    pub ceiling_max_total: f64,
    /// ceiling: times a step that failed on latency alone (nothing lost) is measured again
    /// before it counts as failed (one stall of a shared machine can fail a step).
    #[arg(long, default_value_t = 0)]
    pub ceiling_retries: u32,
    /// cluster: nodes of each server (subscribers spread over them, publishers on the first).
    #[arg(long, default_value_t = 2)]
    pub cluster_nodes: usize,
    /// cluster: target deliveries/s of its fanout.
    #[arg(long, default_value_t = 10_000.0)]
    pub cluster_rate: f64,
    /// cluster: idle connections held on one node while Redis's commands are counted.
    #[arg(long, default_value_t = 1000)]
    pub cluster_idle_connections: usize,
    /// cluster: seconds those connections are held.
    #[arg(long, default_value_t = 3.0)]
    pub cluster_idle_hold: f64,
    /// cluster: the larger room whose Redis commands per broadcast are compared with a room of 10.
    #[arg(long, default_value_t = 1000)]
    pub cluster_big_room: usize,
    /// The redis-server program the cluster scenarios start (on a free port, no persistence).
    #[arg(long, default_value = "redis-server")]
    pub redis_server: String,
    #[command(flatten)]
    #[serde(flatten)]
    pub envelope: envelope::EnvelopeArgs,
    #[command(flatten)]
    #[serde(flatten)]
    pub recovery: recovery::RecoveryArgs,
}

impl CompareArgs {
    fn apply_quick(&mut self) {
        if !self.quick {
            return;
        }
        self.phase.duration = self.phase.duration.min(2.0);
        self.phase.warmup = self.phase.warmup.min(0.5);
        self.connect.connections = self.connect.connections.min(2000);
        self.connect.hold = self.connect.hold.min(1.5);
        self.ceiling_step = self.ceiling_step.min(1.5);
        self.ceiling_refine = self.ceiling_refine.min(1);
        self.ceiling_factor = self.ceiling_factor.max(2.0);
        self.ceiling_max_total = self.ceiling_max_total.min(40.0);
        self.cluster_idle_hold = self.cluster_idle_hold.min(1.5);
        self.envelope.apply_quick();
        self.recovery.apply_quick();
    }
}

const SERVERS: [&str; 4] = ["roomcast", "reference", "socketioxide", "floor"];

/// The scenarios the floor server takes part in.
const FLOOR_SCENARIOS: [&str; 2] = ["fanout", "echo"];

/// Refuses unknown servers and scenarios, and servers whose program or packages are missing.
fn check(a: &CompareArgs) -> Result<(), String> {
    for s in &a.servers {
        if !SERVERS.contains(&s.as_str()) {
            return Err(format!(
                "unknown server {s:?} (roomcast, reference, socketioxide, floor)"
            ));
        }
    }
    for s in &a.scenarios {
        let known = ["fanout", "fanout-coalesced", "echo", "connect", "ceiling"];
        if !known.contains(&s.as_str())
            && !cluster::SCENARIOS.contains(&s.as_str())
            && !envelope::SCENARIOS.contains(&s.as_str())
            && !recovery::SCENARIOS.contains(&s.as_str())
        {
            return Err(format!("unknown scenario {s:?}"));
        }
    }
    recovery::check(a)?;
    let clustered = a
        .scenarios
        .iter()
        .any(|s| cluster::SCENARIOS.contains(&s.as_str()));
    if clustered {
        let found = std::process::Command::new(&a.redis_server)
            .arg("--version")
            .output();
        if !found.is_ok_and(|o| o.status.success()) {
            return Err(format!(
                "{} not found: the cluster scenarios need it (apt-get install redis-server)",
                a.redis_server
            ));
        }
    }
    if clustered && a.servers.iter().any(|s| s == "reference") {
        for package in ["@socket.io/redis-adapter", "redis"] {
            if output::package_version(&a.reference, package).is_none() {
                return Err(format!(
                    "{package} is not installed next to {} (the cluster scenarios' Node \
                     cluster): run `npm ci --prefix {}`",
                    a.reference.display(),
                    a.reference
                        .parent()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default()
                ));
            }
        }
    }
    if a.servers.iter().any(|s| s == "roomcast") && !a.roomcast_bin.exists() {
        return Err(format!(
            "{} not found: build it first (cargo build --release), or pass --servers reference",
            a.roomcast_bin.display()
        ));
    }
    if a.servers.iter().any(|s| s == "socketioxide") && !a.socketioxide_bin.exists() {
        return Err(format!(
            "{} not found: build it first (cargo build --release --workspace)",
            a.socketioxide_bin.display()
        ));
    }
    if a.servers.iter().any(|s| s == "reference") {
        if !a.reference.exists() {
            return Err(format!("{} not found", a.reference.display()));
        }
        if output::package_version(&a.reference, "socket.io").is_none() {
            return Err(format!(
                "socket.io is not installed next to {}: run `npm ci --prefix {}`",
                a.reference.display(),
                a.reference
                    .parent()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            ));
        }
    }
    Ok(())
}

pub async fn run(mut args: CompareArgs) -> Result<i32, String> {
    args.apply_quick();
    let names = args.client.names()?;
    check(&args)?;
    // One directory per run, also when one process runs several (the tests do, concurrently).
    static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp =
        std::env::temp_dir().join(format!("roomcast-load-compare-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
    let (iso, stamp) = sys::utc_now();
    let machine = sys::machine();
    let mut env = servers::Env {
        args: args.clone(),
        names,
        tmp: tmp.clone(),
        starts: 0,
    };
    let runs = tokio::select! {
        runs = rounds::run_all(&args, &mut env) => runs,
        _ = tokio::signal::ctrl_c() => {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err("interrupted".into());
        }
    };
    let _ = std::fs::remove_dir_all(&tmp);

    let summary = summary::medians(&args, &runs);
    let comparison = summary::comparison(&args, &summary);
    let a = &args;
    let mut doc = output::document(a, &iso, &machine, &runs, &summary, comparison);
    let mut targets = specs::targets(a, &summary);
    targets.extend(recovery::specs::targets(a, &summary));
    doc["targets"] = serde_json::Value::Array(targets);
    if a.report.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())?
        );
    } else {
        output::print_tables(&doc, &runs);
        recovery::specs::print_table(a, &summary);
    }
    if !a.no_save {
        let plan = save::SavePlan::of(a)?;
        let saved = plan.save(&doc, &stamp)?;
        if !a.report.json {
            println!("saved {}", saved.join(", "));
        }
    }
    let failures = runs.iter().filter(|r| !r.ok).count();
    Ok(if failures > 0 { 1 } else { 0 })
}
