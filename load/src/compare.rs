//! `compare`: roomcast against the Node.js reference server, side by side on this machine.
//!
//! For every round and scenario it starts a fresh server process (roomcast, then the reference;
//! the order alternates between rounds), waits for its port, checks the room API with one client,
//! runs the scenario with the server's pid in the probe (CPU time and RSS from /proc), stops the
//! server, and moves on. Then it prints each metric for both servers and their ratio against the
//! targets of issue 4, and saves the JSON and an SVG chart under the results directory.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::rc::Rc;
use std::time::{Duration, Instant};

use clap::Args;
use serde::Serialize;
use serde_json::{json, Value};

use crate::args::{
    echo_params, BudgetArgs, ClientArgs, ConnectArgs, FleetArgs, PhaseArgs, ReportArgs,
};
use crate::common::{Ctx, Names};
use crate::connect::{run_connect, ConnectParams};
use crate::echo::run_echo;
use crate::fanout::{run_ceiling, run_fanout, CeilingParams, FanoutParams};
use crate::stats::Probe;
use crate::sys;
use crate::target::Target;
use crate::ws::ConnectOpts;

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
    /// Scenarios, in order. `fanout-coalesced` is `fanout` against roomcast started with
    /// `write_delay_ms = --coalesce-ms` (opt-in write coalescing; the reference has no such
    /// setting, so its ratio is taken against the reference's plain `fanout`).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "fanout,fanout-coalesced,echo,connect,ceiling"
    )]
    pub scenarios: Vec<String>,
    /// roomcast's `engine.write_delay_ms` in the `fanout-coalesced` scenario.
    #[arg(long, default_value_t = 50)]
    pub coalesce_ms: u64,
    /// Servers to run: roomcast, reference (one of them alone: no ratios), and floor: this
    /// binary's `floor-server`, the least a server can do (fanout and echo only), to show what
    /// the generator and the machine cost by themselves.
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
    }
}

const SERVERS: [&str; 3] = ["roomcast", "reference", "floor"];

/// The scenarios the floor server takes part in.
const FLOOR_SCENARIOS: [&str; 2] = ["fanout", "echo"];

/// A server process; killed when dropped.
struct ServerProc {
    child: Child,
    port: u16,
    log: PathBuf,
    command: Vec<String>,
}

impl ServerProc {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(8)..].join("\n")
    }

    fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

struct Env {
    args: CompareArgs,
    names: Names,
    tmp: PathBuf,
    starts: usize,
}

impl Env {
    fn start(&mut self, server: &str, write_delay_ms: Option<u64>) -> Result<ServerProc, String> {
        self.starts += 1;
        let port = free_port()?;
        let log = self.tmp.join(format!("{server}-{}.log", self.starts));
        let logf = std::fs::File::create(&log).map_err(|e| e.to_string())?;
        let logf2 = logf.try_clone().map_err(|e| e.to_string())?;
        let (program, argv): (String, Vec<String>) = if server == "roomcast" {
            let admin = free_port()?;
            let config = self.tmp.join(format!("roomcast-{}.toml", self.starts));
            let mut toml = format!(
                "[server]\nbind = \"127.0.0.1:{port}\"\n\n[admin]\nbind = \"127.0.0.1:{admin}\"\n\n[log]\nlevel = \"warn\"\n"
            );
            if let Some(extra) = &self.args.roomcast_config_extra {
                toml.push('\n');
                toml.push_str(&extra.replace("\\n", "\n"));
                toml.push('\n');
            }
            std::fs::write(&config, toml).map_err(|e| e.to_string())?;
            let argv = self
                .args
                .roomcast_args
                .split_whitespace()
                .map(|a| {
                    a.replace("{config}", &config.display().to_string())
                        .replace("{port}", &port.to_string())
                        .replace("{admin_port}", &admin.to_string())
                })
                .collect();
            (self.args.roomcast_bin.display().to_string(), argv)
        } else if server == "floor" {
            let exe = std::env::current_exe().map_err(|e| format!("own executable: {e}"))?;
            (
                exe.display().to_string(),
                vec!["floor-server".into(), "--port".into(), port.to_string()],
            )
        } else {
            (
                self.args.node.clone(),
                vec![
                    self.args.reference.display().to_string(),
                    "--port".into(),
                    port.to_string(),
                ],
            )
        };
        let mut command = Command::new(&program);
        if let Some(ms) = write_delay_ms {
            command.env("ROOMCAST_ENGINE_WRITE_DELAY_MS", ms.to_string());
        }
        let child = command
            .args(&argv)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::from(logf))
            .stderr(Stdio::from(logf2))
            .spawn()
            .map_err(|e| format!("cannot start {program}: {e}"))?;
        let mut command = vec![program];
        command.extend(argv);
        Ok(ServerProc {
            child,
            port,
            log,
            command,
        })
    }

    fn ctx(&self, port: u16, pid: u32) -> Result<Ctx, String> {
        let a = &self.args;
        Ok(Ctx {
            target: Target::parse(
                &format!("http://127.0.0.1:{port}"),
                None,
                "/",
                &a.client.sources,
            )?,
            names: self.names.clone(),
            connect: ConnectOpts {
                read_buffer: 16 * 1024,
                auth: None,
                verify_accept: true,
            },
            connect_timeout: Duration::from_secs(10),
            concurrency: 128,
            probe: Probe {
                server_pid: Some(pid),
            },
            quiet: a.report.quiet,
        })
    }
}

/// Waits until the server accepts TCP connections (or exits).
async fn wait_ready(p: &mut ServerProc) -> Result<(), String> {
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(Some(status)) = p.child.try_wait() {
            return Err(format!(
                "{} exited ({status}) before listening:\n{}",
                p.command.join(" "),
                p.log_tail()
            ));
        }
        if tokio::net::TcpStream::connect(("127.0.0.1", p.port))
            .await
            .is_ok()
        {
            return Ok(());
        }
        if Instant::now() > until {
            return Err(format!(
                "{} did not listen on port {} within 20s:\n{}",
                p.command.join(" "),
                p.port,
                p.log_tail()
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One client connects and joins a room: does this server speak the room API at all?
async fn preflight(ctx: &Ctx) -> Result<(), String> {
    let mut c = ctx
        .connect(0, 4096)
        .await
        .map_err(|e| format!("preflight connect: {e}"))?;
    let ack = c
        .call(&ctx.names.join, "\"preflight\"", Duration::from_secs(3))
        .await
        .map_err(|e| format!("preflight {:?}: {e}", ctx.names.join))?;
    if !crate::scan::ack_ok(&ack) {
        return Err(format!(
            "preflight {:?} refused: {}",
            ctx.names.join,
            String::from_utf8_lossy(&ack)
        ));
    }
    Ok(())
}

fn fanout_params(a: &CompareArgs) -> FanoutParams {
    a.fleet.params(16 * 1024)
}

/// Runs one scenario; returns its result JSON and the metrics compared.
async fn scenario(
    a: &CompareArgs,
    ctx: Rc<Ctx>,
    name: &str,
) -> Result<(Value, BTreeMap<String, f64>), String> {
    let deadline = || Instant::now() + Duration::from_secs(120);
    let mut m = BTreeMap::new();
    let value = match name {
        "fanout" | "fanout-coalesced" => {
            let spec = a.phase.spec(a.fanout_rate);
            let r = run_fanout(ctx, fanout_params(a), spec, deadline()).await?;
            let p = &r.phase;
            m.insert("deliveries_per_s".into(), p.deliveries_per_s);
            m.insert("lost".into(), p.lost as f64);
            m.insert("duplicates".into(), p.duplicates as f64);
            m.insert("latency_p50_ms".into(), p.latency.p50_ms);
            m.insert("latency_p99_ms".into(), p.latency.p99_ms);
            m.insert("latency_p999_ms".into(), p.latency.p999_ms);
            m.insert("latency_max_ms".into(), p.latency.max_ms);
            if let Some(c) = p.server_cpu_us_per_delivery {
                m.insert("server_cpu_us_per_delivery".into(), c);
            }
            if let Some(c) = p.usage.server_cpu_pct {
                m.insert("server_cpu_pct".into(), c);
            }
            m.insert("gen_cpu_pct".into(), p.usage.gen_cpu_pct);
            m.insert("gen_cpu_us_per_delivery".into(), p.gen_cpu_us_per_delivery);
            m.insert("gen_loop_lag_max_ms".into(), p.usage.gen_loop_lag_max_ms);
            if let Some(o) = p.usage.other_cpu_pct {
                m.insert("other_cpu_pct".into(), o);
            }
            serde_json::to_value(&r).map_err(|e| e.to_string())?
        }
        "echo" => {
            let p = echo_params(
                a.echo_clients,
                a.echo_rate,
                a.fleet.payload_bytes,
                &a.phase,
                16 * 1024,
            );
            let r = run_echo(ctx, p, deadline()).await?;
            m.insert("acks_per_s".into(), r.acks_per_s);
            m.insert("lost".into(), r.lost as f64);
            m.insert("ack_p50_ms".into(), r.latency.p50_ms);
            m.insert("ack_p99_ms".into(), r.latency.p99_ms);
            m.insert("ack_p999_ms".into(), r.latency.p999_ms);
            m.insert("ack_max_ms".into(), r.latency.max_ms);
            if let Some(c) = r.server_cpu_us_per_ack {
                m.insert("server_cpu_us_per_ack".into(), c);
            }
            m.insert("gen_cpu_pct".into(), r.usage.gen_cpu_pct);
            m.insert("gen_loop_lag_max_ms".into(), r.usage.gen_loop_lag_max_ms);
            if let Some(o) = r.usage.other_cpu_pct {
                m.insert("other_cpu_pct".into(), o);
            }
            serde_json::to_value(&r).map_err(|e| e.to_string())?
        }
        "connect" => {
            let p = ConnectParams {
                settle_s: a.connect.settle.min(a.connect.hold),
                ..a.connect.params(a.connect_concurrency)
            };
            let r = run_connect(ctx, p, deadline()).await?;
            m.insert("connects_per_s".into(), r.connects_per_s);
            m.insert("connected".into(), r.connected as f64);
            m.insert("failed".into(), r.failed as f64);
            m.insert("handshake_p99_ms".into(), r.handshake.p99_ms);
            if let Some(b) = r.server_rss_bytes_per_connection {
                m.insert("rss_bytes_per_connection".into(), b);
            }
            if let Some(c) = r.server_cpu_us_per_connect {
                m.insert("server_cpu_us_per_connect".into(), c);
            }
            serde_json::to_value(&r).map_err(|e| e.to_string())?
        }
        "ceiling" => {
            let search = CeilingParams {
                start_deliveries_per_s: a.ceiling_start,
                max_deliveries_per_s: a.ceiling_max,
                factor: a.ceiling_factor.max(1.05),
                refine_steps: a.ceiling_refine,
                step_s: a.ceiling_step,
                warmup_s: 0.5,
                drain_s: a.phase.drain,
                p99_budget_ms: a.budget.p99_budget_ms,
                max_total_s: a.ceiling_max_total,
            };
            let r = run_ceiling(ctx, fanout_params(a), search, deadline()).await?;
            m.insert(
                "ceiling_deliveries_per_s".into(),
                r.ceiling_deliveries_per_s,
            );
            m.insert(
                "ceiling_measured_deliveries_per_s".into(),
                r.ceiling_measured_deliveries_per_s,
            );
            if let Some(b) = &r.best {
                m.insert("latency_p99_ms".into(), b.latency.p99_ms);
                if let Some(c) = b.server_cpu_us_per_delivery {
                    m.insert("server_cpu_us_per_delivery".into(), c);
                }
                if let Some(c) = b.usage.server_cpu_pct {
                    m.insert("server_cpu_pct".into(), c);
                }
                m.insert("gen_cpu_pct".into(), b.usage.gen_cpu_pct);
                m.insert("gen_loop_lag_max_ms".into(), b.usage.gen_loop_lag_max_ms);
                if let Some(o) = b.usage.other_cpu_pct {
                    m.insert("other_cpu_pct".into(), o);
                }
            }
            serde_json::to_value(&r).map_err(|e| e.to_string())?
        }
        other => return Err(format!("unknown scenario {other:?}")),
    };
    Ok((value, m))
}

#[derive(Serialize)]
struct RunRecord {
    round: usize,
    scenario: String,
    server: String,
    command: Vec<String>,
    ok: bool,
    error: Option<String>,
    metrics: BTreeMap<String, f64>,
    result: Value,
}

/// What is compared, how, and the target the issue sets (ratio = roomcast / reference).
struct Spec {
    scenario: &'static str,
    key: &'static str,
    label: &'static str,
    unit: &'static str,
    higher_is_better: bool,
    /// (ratio bound, text): met when ratio ≥ bound (higher is better) or ≤ bound (lower).
    target: Option<(f64, &'static str)>,
    /// An absolute bound on roomcast's value (≤), with its text.
    absolute: Option<(f64, &'static str)>,
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

fn node_version(node: &str) -> String {
    Command::new(node)
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

fn package_version(reference: &Path, package: &str) -> Option<String> {
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

/// Where a run's results go: a timestamped JSON and SVG pair in `dir`, and for published runs
/// also `latest.json` and `latest.svg`, the files the README shows.
#[derive(Debug, PartialEq, Eq)]
pub struct SavePlan {
    dir: PathBuf,
    latest: bool,
}

impl SavePlan {
    /// Unpublished runs go outside the committed results; a quick run is never published.
    fn of(a: &CompareArgs) -> Result<SavePlan, String> {
        if a.publish && a.quick {
            return Err("--publish with --quick: a quick run is not the benchmark".to_owned());
        }
        let default = if a.publish {
            "benches/results"
        } else {
            "target/bench-results"
        };
        Ok(SavePlan {
            dir: a.out_dir.clone().unwrap_or_else(|| PathBuf::from(default)),
            latest: a.publish,
        })
    }

    /// Writes the files; returns their paths.
    fn save(&self, doc: &Value, stamp: &str) -> Result<Vec<String>, String> {
        let dir = &self.dir;
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let text = serde_json::to_string_pretty(doc).map_err(|e| e.to_string())?;
        let svg = crate::chart::render(doc);
        let mut names = vec![
            format!("compare-{stamp}.json"),
            format!("compare-{stamp}.svg"),
        ];
        if self.latest {
            names.extend(["latest.json".to_owned(), "latest.svg".to_owned()]);
        }
        let mut saved = Vec::new();
        for name in names {
            let path = dir.join(&name);
            let body = if name.ends_with(".json") { &text } else { &svg };
            std::fs::write(&path, body).map_err(|e| format!("{}: {e}", path.display()))?;
            saved.push(path.display().to_string());
        }
        Ok(saved)
    }
}

pub async fn run(mut args: CompareArgs) -> Result<i32, String> {
    args.apply_quick();
    let names = args.client.names()?;
    for s in &args.servers {
        if !SERVERS.contains(&s.as_str()) {
            return Err(format!("unknown server {s:?} (roomcast, reference)"));
        }
    }
    for s in &args.scenarios {
        if !["fanout", "fanout-coalesced", "echo", "connect", "ceiling"].contains(&s.as_str()) {
            return Err(format!("unknown scenario {s:?}"));
        }
    }
    if args.servers.iter().any(|s| s == "roomcast") && !args.roomcast_bin.exists() {
        return Err(format!(
            "{} not found: build it first (cargo build --release), or pass --servers reference",
            args.roomcast_bin.display()
        ));
    }
    if args.servers.iter().any(|s| s == "reference") {
        if !args.reference.exists() {
            return Err(format!("{} not found", args.reference.display()));
        }
        if package_version(&args.reference, "socket.io").is_none() {
            return Err(format!(
                "socket.io is not installed next to {}: run `npm ci --prefix {}`",
                args.reference.display(),
                args.reference
                    .parent()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            ));
        }
    }
    let tmp = std::env::temp_dir().join(format!("roomcast-load-compare-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
    let (iso, stamp) = sys::utc_now();
    let machine = sys::machine();
    let mut env = Env {
        args: args.clone(),
        names,
        tmp: tmp.clone(),
        starts: 0,
    };
    let mut runs: Vec<RunRecord> = Vec::new();
    let mut unusable: BTreeMap<String, String> = BTreeMap::new();
    let say = |msg: String| {
        if !args.report.quiet {
            eprintln!(
                "[{:7.1}s] compare: {msg}",
                sys::base().elapsed().as_secs_f64()
            );
        }
    };

    let work = async {
        for round in 0..args.rounds.max(1) {
            for scen in &args.scenarios {
                let mut order: Vec<&String> = args.servers.iter().collect();
                if round % 2 == 1 {
                    order.reverse();
                }
                for server in order {
                    // Write coalescing is a roomcast setting: that scenario runs against it alone.
                    let coalesced = scen == "fanout-coalesced";
                    if coalesced && server != "roomcast" {
                        continue;
                    }
                    if server == "floor" && !FLOOR_SCENARIOS.contains(&scen.as_str()) {
                        continue;
                    }
                    if let Some(why) = unusable.get(server) {
                        runs.push(RunRecord {
                            round,
                            scenario: scen.clone(),
                            server: server.clone(),
                            command: Vec::new(),
                            ok: false,
                            error: Some(format!("skipped: {why}")),
                            metrics: BTreeMap::new(),
                            result: Value::Null,
                        });
                        continue;
                    }
                    say(format!("round {round}: {scen} against {server}"));
                    let mut proc = match env.start(server, coalesced.then_some(args.coalesce_ms)) {
                        Ok(p) => p,
                        Err(e) => {
                            unusable.insert(server.clone(), e.clone());
                            say(format!("{server}: {e}"));
                            continue;
                        }
                    };
                    let command = proc.command.clone();
                    let outcome = async {
                        wait_ready(&mut proc).await?;
                        tokio::time::sleep(Duration::from_millis(500)).await;
                        let ctx = Rc::new(env.ctx(proc.port, proc.pid())?);
                        if let Err(e) = preflight(&ctx).await {
                            return Err(format!("unusable: {e}"));
                        }
                        scenario(&args, ctx, scen).await
                    }
                    .await;
                    if let Ok(Some(status)) = proc.child.try_wait() {
                        say(format!(
                            "{server} exited during the run ({status}):\n{}",
                            proc.log_tail()
                        ));
                    }
                    proc.stop();
                    match outcome {
                        Ok((result, metrics)) => runs.push(RunRecord {
                            round,
                            scenario: scen.clone(),
                            server: server.clone(),
                            command,
                            ok: true,
                            error: None,
                            metrics,
                            result,
                        }),
                        Err(e) => {
                            say(format!("{scen} against {server} failed: {e}"));
                            if let Some(why) = e.strip_prefix("unusable: ") {
                                unusable.insert(server.clone(), why.to_owned());
                            }
                            runs.push(RunRecord {
                                round,
                                scenario: scen.clone(),
                                server: server.clone(),
                                command,
                                ok: false,
                                error: Some(e),
                                metrics: BTreeMap::new(),
                                result: Value::Null,
                            });
                        }
                    }
                    // Let TIME_WAIT sockets and the other processes settle between runs.
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    };
    tokio::select! {
        _ = work => {}
        _ = tokio::signal::ctrl_c() => {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err("interrupted".into());
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);

    // Summary: the median of each metric over the rounds, per server and scenario.
    let mut summary: BTreeMap<String, BTreeMap<String, BTreeMap<String, f64>>> = BTreeMap::new();
    for server in &args.servers {
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
    let get = |server: &str, scen: &str, key: &str| -> Option<f64> {
        summary.get(server)?.get(scen)?.get(key).copied()
    };
    let mut comparison = Vec::new();
    for s in SPECS {
        if !args.scenarios.iter().any(|x| x == s.scenario) {
            continue;
        }
        let rc = get("roomcast", s.scenario, s.key);
        let reference_scenario = match s.scenario {
            "fanout-coalesced" => "fanout",
            other => other,
        };
        let rf = get("reference", reference_scenario, s.key);
        let floor = get("floor", s.scenario, s.key);
        let label = match s.scenario {
            "fanout-coalesced" => format!("{}, {} ms write delay", s.label, args.coalesce_ms),
            _ => s.label.to_owned(),
        };
        let ratio = match (rc, rf) {
            (Some(a), Some(b)) if b != 0.0 => Some(a / b),
            _ => None,
        };
        let met = match (s.target, ratio) {
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
        };
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
            "target": s.target.map(|t| {
                match s.absolute {
                    Some((_, abs)) => format!("{} and {abs}", t.1),
                    None => t.1.to_owned(),
                }
            }),
            "met": met,
        }));
    }

    let a = &args;
    let doc = json!({
        "schema": "roomcast-load/compare/v1",
        "timestamp": iso,
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
            "reference": {
                "script": a.reference,
                "node": node_version(&a.node),
                "socket.io": package_version(&a.reference, "socket.io"),
                "ws": package_version(&a.reference, "ws"),
                "bufferutil": package_version(&a.reference, "bufferutil"),
            },
        },
        "parameters": a,
        "runs": runs,
        "summary": summary,
        "comparison": comparison,
    });

    if a.report.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())?
        );
    } else {
        print_tables(&doc, &runs);
    }
    if !a.no_save {
        let plan = SavePlan::of(a)?;
        let saved = plan.save(&doc, &stamp)?;
        if !a.report.json {
            println!("saved {}", saved.join(", "));
        }
    }
    let failures = runs.iter().filter(|r| !r.ok).count();
    Ok(if failures > 0 { 1 } else { 0 })
}

fn print_tables(doc: &Value, runs: &[RunRecord]) {
    let m = &doc["machine"];
    println!(
        "== roomcast vs Node.js reference (socket.io {}, node {}) — {} cores, {}, kernel {}, {}",
        doc["servers"]["reference"]["socket.io"]
            .as_str()
            .unwrap_or("?"),
        doc["servers"]["reference"]["node"].as_str().unwrap_or("?"),
        m["cores"],
        m["cpu_model"].as_str().unwrap_or("?"),
        m["kernel"].as_str().unwrap_or("?"),
        doc["timestamp"].as_str().unwrap_or("?")
    );
    let rows: Vec<[String; 7]> = doc["comparison"]
        .as_array()
        .map(|v| {
            v.iter()
                .map(|c| {
                    let num = |x: &Value| x.as_f64().map(fmt_value).unwrap_or_else(|| "-".into());
                    [
                        format!(
                            "{} ({})",
                            c["label"].as_str().unwrap_or(""),
                            c["unit"].as_str().unwrap_or("")
                        ),
                        num(&c["roomcast"]),
                        num(&c["reference"]),
                        num(&c["floor"]),
                        c["ratio"]
                            .as_f64()
                            .map(|r| format!("{r:.2}×"))
                            .unwrap_or_else(|| "-".into()),
                        c["target"].as_str().unwrap_or("").to_owned(),
                        match c["met"].as_bool() {
                            Some(true) => "met".into(),
                            Some(false) => "NOT MET".into(),
                            None => "".into(),
                        },
                    ]
                })
                .collect()
        })
        .unwrap_or_default();
    let header = [
        "metric".to_owned(),
        "roomcast".into(),
        "reference".into(),
        "floor".into(),
        "ratio rc/ref".into(),
        "target".into(),
        "".into(),
    ];
    let mut w = [0usize; 7];
    for r in std::iter::once(&header).chain(rows.iter()) {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let line = |r: &[String; 7]| {
        let mut s = String::new();
        for (i, c) in r.iter().enumerate() {
            let pad = w[i] - c.chars().count();
            if i == 0 || i >= 5 {
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
    line(&header);
    for r in &rows {
        line(r);
    }
    for r in runs.iter().filter(|r| !r.ok) {
        println!(
            "  ! round {} {} against {}: {}",
            r.round,
            r.scenario,
            r.server,
            r.error.as_deref().unwrap_or("")
        );
    }
    // Generator load, so a reader can tell whether the generator was the bottleneck.
    for r in runs.iter().filter(|r| r.ok) {
        if let Some(g) = r.metrics.get("gen_cpu_pct") {
            println!(
                "  · round {} {} against {}: generator CPU {:.0}% of a core{}{}",
                r.round,
                r.scenario,
                r.server,
                g,
                r.metrics
                    .get("server_cpu_pct")
                    .map(|s| format!(", server CPU {s:.0}%"))
                    .unwrap_or_default(),
                r.metrics
                    .get("other_cpu_pct")
                    .map(|s| format!(", everything else {s:.0}%"))
                    .unwrap_or_default()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: CompareArgs,
    }

    fn plan(flags: &[&str]) -> Result<SavePlan, String> {
        let cli = Cli::try_parse_from(std::iter::once("compare").chain(flags.iter().copied()))
            .map_err(|e| e.to_string())?;
        SavePlan::of(&cli.args)
    }

    #[test]
    fn only_published_runs_touch_the_committed_results() {
        let default = plan(&[]).expect("plain run");
        assert_eq!(default.dir, PathBuf::from("target/bench-results"));
        assert!(!default.latest);
        let quick = plan(&["--quick"]).expect("quick run");
        assert_eq!(quick.dir, PathBuf::from("target/bench-results"));
        assert!(!quick.latest);
        let published = plan(&["--publish"]).expect("published run");
        assert_eq!(published.dir, PathBuf::from("benches/results"));
        assert!(published.latest);
        assert!(plan(&["--publish", "--quick"]).is_err());
        let elsewhere = plan(&["--out-dir", "/tmp/x"]).expect("own dir");
        assert_eq!(
            (elsewhere.dir, elsewhere.latest),
            (PathBuf::from("/tmp/x"), false)
        );
    }
}
