//! `roomcast-load`: a load generator for Socket.IO servers (roomcast's client room API, or any
//! server with a join/publish contract), and the side-by-side comparison of roomcast with the
//! Node.js reference server in `benches/reference`. See `benches/README.md`.
//!
//! One current-thread Tokio runtime (one core) drives every simulated client as a task, each over
//! its own light Engine.IO/Socket.IO-over-WebSocket client (`ws.rs`). Loopback targets only.

mod chart;
mod common;
mod compare;
mod connect;
mod echo;
mod fanout;
mod floor;
mod report;
mod scan;
mod smoke;
mod stats;
mod sys;
mod target;
mod ws;

use std::rc::Rc;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};
use serde::Serialize;

use crate::common::{Ctx, Names};
use crate::connect::ConnectParams;
use crate::echo::EchoParams;
use crate::fanout::{CeilingParams, FanoutParams, PhaseSpec};
use crate::stats::Probe;
use crate::target::Target;
use crate::ws::ConnectOpts;

#[derive(Parser)]
#[command(
    name = "roomcast-load",
    version,
    about = "Load generator for Socket.IO servers (loopback only): fanout, echo, connect, ceiling; \
             smoke test; side-by-side comparison of roomcast with the Node.js reference"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// C subscribers in R rooms, P publishers at a target delivery rate: deliveries/s, loss,
    /// duplicates, publish→receive latency.
    Fanout {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        fleet: FleetArgs,
        /// Target deliveries per second (publishes/s × receivers per publish).
        #[arg(long, default_value_t = 40_000.0)]
        rate: f64,
        /// Measured seconds (after the warmup).
        #[arg(long, default_value_t = 5.0)]
        duration: f64,
        #[arg(long, default_value_t = 1.0)]
        warmup: f64,
        /// Longest wait for in-flight deliveries after the last publish, seconds.
        #[arg(long, default_value_t = 3.0)]
        drain: f64,
    },
    /// C clients emit the echo event with an ack at a total rate: ack round-trip percentiles.
    Echo {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        echo: EchoArgs,
    },
    /// C connections as fast as possible (bounded concurrency), then held: connects/s, failures,
    /// server memory per connection (with --server-pid).
    Connect {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        connect: ConnectArgs,
    },
    /// Steps the fanout rate up until p99 exceeds the budget or anything is lost: the highest
    /// rate that held.
    Ceiling {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        fleet: FleetArgs,
        #[command(flatten)]
        search: CeilingArgs,
    },
    /// A few seconds of fanout, echo and connect at small sizes; exits non-zero if anything is
    /// lost, refused or failed, or nothing is delivered.
    Smoke {
        #[command(flatten)]
        common: Common,
    },
    /// Starts roomcast and the Node reference, runs each scenario against each in alternation,
    /// samples both servers' CPU and RSS, prints ratios, saves JSON and an SVG chart.
    Compare(compare::CompareArgs),
    /// Redraws the SVG chart of a saved comparison.
    Chart {
        /// A JSON file written by `compare`.
        #[arg(long)]
        input: std::path::PathBuf,
        /// Where to write the SVG (default: the input with .svg).
        #[arg(long)]
        output: Option<std::path::PathBuf>,
    },
    /// The least a server can do for the join/publish/echo contract (WebSocket only, one thread,
    /// direct writes): run a scenario against it to see the floor the generator and the machine
    /// set. Not a Socket.IO server. Prints `LISTENING <port>`.
    FloorServer {
        /// Loopback address to listen on.
        #[arg(long, default_value = "127.0.0.1")]
        host: std::net::IpAddr,
        /// Port (0: any free port).
        #[arg(long, default_value_t = 0)]
        port: u16,
    },
}

/// Options every scenario takes.
#[derive(Args, Clone, Debug)]
pub struct Common {
    /// The server: http://HOST:PORT[/path] or ws://…; loopback addresses only.
    #[arg(
        long,
        env = "ROOMCAST_LOAD_URL",
        default_value = "http://127.0.0.1:3000"
    )]
    pub url: String,
    /// Engine.IO path (default: the URL's path, else /socket.io/).
    #[arg(long)]
    pub path: Option<String>,
    /// Socket.IO namespace.
    #[arg(long, default_value = "/")]
    pub namespace: String,
    /// JSON sent as the CONNECT auth payload, e.g. '{"token":"…"}'.
    #[arg(long)]
    pub auth: Option<String>,
    /// Local source addresses connections are spread over: a range, a list, or `none`.
    #[arg(long, default_value = "127.0.0.1-127.0.0.8")]
    pub sources: String,
    /// Event a client emits to join rooms (answered with an ack {"ok":true,…}).
    #[arg(long, default_value = "join")]
    pub join_event: String,
    /// Event a client emits to publish: (room, event, ...args).
    #[arg(long, default_value = "publish")]
    pub publish_event: String,
    /// Event name the publishers ask to be delivered.
    #[arg(long, default_value = "msg")]
    pub deliver_event: String,
    /// Event the echo scenario emits with an ack.
    #[arg(long, default_value = "echo")]
    pub echo_event: String,
    /// Rooms are named PREFIX0, PREFIX1, …
    #[arg(long, default_value = "room-")]
    pub room_prefix: String,
    /// Seconds allowed for one connection's handshake (and for a join's ack).
    #[arg(long, default_value_t = 10.0)]
    pub connect_timeout: f64,
    /// Handshakes in flight at once while setting up.
    #[arg(long, default_value_t = 128)]
    pub concurrency: usize,
    /// Read buffer per connection, bytes (grows for larger messages).
    #[arg(long, default_value_t = 16 * 1024)]
    pub read_buffer: usize,
    /// The server's process id: its CPU time and RSS are sampled from /proc during the run.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Hard bound on the whole run, seconds (default: derived from the scenario's durations).
    #[arg(long)]
    pub deadline: Option<f64>,
    /// Skip checking the server's Sec-WebSocket-Accept.
    #[arg(long)]
    pub no_verify_accept: bool,
    /// Print the result as JSON on stdout instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Also write the JSON result to this file.
    #[arg(long)]
    pub output: Option<std::path::PathBuf>,
    /// No progress on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Args, Clone, Debug)]
pub struct FleetArgs {
    #[arg(long, default_value_t = 1000)]
    pub subscribers: usize,
    #[arg(long, default_value_t = 10)]
    pub rooms: usize,
    #[arg(long, default_value_t = 10)]
    pub publishers: usize,
    /// Size of the published argument's JSON text, bytes.
    #[arg(long, default_value_t = 100)]
    pub payload_bytes: usize,
    /// Publish without asking for acks (refusals then go unnoticed).
    #[arg(long)]
    pub no_publish_ack: bool,
}

impl FleetArgs {
    pub fn params(&self, read_buffer: usize) -> FanoutParams {
        FanoutParams {
            subscribers: self.subscribers,
            rooms: self.rooms,
            publishers: self.publishers,
            payload_bytes: self.payload_bytes,
            publish_ack: !self.no_publish_ack,
            read_buffer,
        }
    }
}

#[derive(Args, Clone, Debug)]
pub struct EchoArgs {
    #[arg(long, default_value_t = 100)]
    pub clients: usize,
    /// Acks per second, all clients together.
    #[arg(long, default_value_t = 10_000.0)]
    pub rate: f64,
    #[arg(long, default_value_t = 100)]
    pub payload_bytes: usize,
    #[arg(long, default_value_t = 5.0)]
    pub duration: f64,
    #[arg(long, default_value_t = 1.0)]
    pub warmup: f64,
    #[arg(long, default_value_t = 3.0)]
    pub drain: f64,
}

impl EchoArgs {
    pub fn params(&self, read_buffer: usize) -> EchoParams {
        EchoParams {
            clients: self.clients,
            rate: self.rate,
            payload_bytes: self.payload_bytes,
            warmup_s: self.warmup,
            duration_s: self.duration,
            drain_s: self.drain,
            read_buffer,
        }
    }
}

#[derive(Args, Clone, Debug)]
pub struct ConnectArgs {
    #[arg(long, default_value_t = 10_000)]
    pub connections: usize,
    /// Seconds the connections are held once all are up.
    #[arg(long, default_value_t = 3.0)]
    pub hold: f64,
    /// Seconds after the last connect before the server's memory is read.
    #[arg(long, default_value_t = 1.0)]
    pub settle: f64,
}

impl ConnectArgs {
    pub fn params(&self, concurrency: usize) -> ConnectParams {
        ConnectParams {
            connections: self.connections,
            concurrency,
            hold_s: self.hold,
            settle_s: self.settle,
            read_buffer: 1024,
        }
    }
}

#[derive(Args, Clone, Debug)]
pub struct CeilingArgs {
    /// First target, deliveries/s.
    #[arg(long, default_value_t = 10_000.0)]
    pub start_rate: f64,
    #[arg(long, default_value_t = 3_000_000.0)]
    pub max_rate: f64,
    /// Each step multiplies the rate by this while steps hold.
    #[arg(long, default_value_t = 1.5)]
    pub factor: f64,
    /// Bisection steps between the last rate that held and the first that failed.
    #[arg(long, default_value_t = 2)]
    pub refine: u32,
    /// Measured seconds per step.
    #[arg(long, default_value_t = 3.0)]
    pub step: f64,
    #[arg(long, default_value_t = 0.5)]
    pub warmup: f64,
    #[arg(long, default_value_t = 3.0)]
    pub drain: f64,
    /// A step holds if its publish→receive p99 is at most this (and nothing is lost).
    #[arg(long, default_value_t = 100.0)]
    pub p99_budget_ms: f64,
    /// Bound on the whole search, seconds.
    #[arg(long, default_value_t = 120.0)]
    pub max_total: f64,
}

impl CeilingArgs {
    pub fn params(&self) -> CeilingParams {
        CeilingParams {
            start_deliveries_per_s: self.start_rate,
            max_deliveries_per_s: self.max_rate,
            factor: self.factor.max(1.05),
            refine_steps: self.refine,
            step_s: self.step,
            warmup_s: self.warmup,
            drain_s: self.drain,
            p99_budget_ms: self.p99_budget_ms,
            max_total_s: self.max_total,
        }
    }
}

impl Common {
    pub fn ctx(&self) -> Result<Ctx, String> {
        if self.room_prefix.contains(['"', '\\']) || self.room_prefix.chars().any(char::is_control)
        {
            return Err(
                "--room-prefix must not contain quotes, backslashes or control characters".into(),
            );
        }
        for name in [
            &self.join_event,
            &self.publish_event,
            &self.deliver_event,
            &self.echo_event,
        ] {
            if name.is_empty() || name.contains(['"', '\\']) {
                return Err(format!("bad event name {name:?}"));
            }
        }
        let target = Target::parse(
            &self.url,
            self.path.as_deref(),
            &self.namespace,
            &self.sources,
        )?;
        Ok(Ctx {
            target,
            names: Names {
                join: self.join_event.clone(),
                publish: self.publish_event.clone(),
                deliver: self.deliver_event.clone(),
                echo: self.echo_event.clone(),
                room_prefix: self.room_prefix.clone(),
            },
            connect: ConnectOpts {
                read_buffer: self.read_buffer,
                auth: self.auth.clone(),
                verify_accept: !self.no_verify_accept,
            },
            connect_timeout: Duration::from_secs_f64(self.connect_timeout.max(0.1)),
            concurrency: self.concurrency.max(1),
            probe: Probe {
                server_pid: self.server_pid,
            },
            quiet: self.quiet,
        })
    }

    /// Setup budget for `n` connections (generous: 2 ms each plus the connect timeout).
    pub fn setup_budget(&self, n: usize) -> f64 {
        self.connect_timeout + 5.0 + n as f64 * 0.002
    }
}

/// Prints (table or JSON) and optionally saves a result.
fn emit<T: Serialize>(common: &Common, result: &T, table: report::Table) -> Result<(), String> {
    let json = serde_json::to_string_pretty(result).map_err(|e| e.to_string())?;
    if let Some(path) = &common.output {
        std::fs::write(path, &json).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    if common.json {
        println!("{json}");
    } else {
        table.print();
    }
    Ok(())
}

async fn bounded<T>(
    secs: f64,
    fut: impl std::future::Future<Output = Result<T, String>>,
) -> Result<T, String> {
    match tokio::time::timeout(Duration::from_secs_f64(secs), fut).await {
        Ok(r) => r,
        Err(_) => Err(format!("hard deadline of {secs:.0}s reached; run aborted")),
    }
}

async fn run(cmd: Cmd) -> Result<i32, String> {
    match cmd {
        Cmd::Fanout {
            common,
            fleet,
            rate,
            duration,
            warmup,
            drain,
        } => {
            let ctx = Rc::new(common.ctx()?);
            let n = fleet.subscribers + fleet.publishers;
            let setup = common.setup_budget(n);
            let hard = common
                .deadline
                .unwrap_or(setup + warmup + duration + drain + 10.0);
            let spec = PhaseSpec {
                target_deliveries_per_s: rate,
                warmup_s: warmup,
                duration_s: duration,
                drain_s: drain,
            };
            let deadline = Instant::now() + Duration::from_secs_f64(setup);
            let r = bounded(
                hard,
                fanout::run_fanout(ctx, fleet.params(common.read_buffer), spec, deadline),
            )
            .await?;
            emit(&common, &r, report::fanout(&r))?;
            Ok(0)
        }
        Cmd::Ceiling {
            common,
            fleet,
            search,
        } => {
            let ctx = Rc::new(common.ctx()?);
            let setup = common.setup_budget(fleet.subscribers + fleet.publishers);
            let params = search.params();
            let hard = common
                .deadline
                .unwrap_or(setup + params.max_total_s + params.step_s + params.drain_s + 30.0);
            let deadline = Instant::now() + Duration::from_secs_f64(setup);
            let r = bounded(
                hard,
                fanout::run_ceiling(ctx, fleet.params(common.read_buffer), params, deadline),
            )
            .await?;
            emit(&common, &r, report::ceiling(&r))?;
            Ok(0)
        }
        Cmd::Echo { common, echo } => {
            let ctx = Rc::new(common.ctx()?);
            let setup = common.setup_budget(echo.clients);
            let hard = common
                .deadline
                .unwrap_or(setup + echo.warmup + echo.duration + echo.drain + 10.0);
            let deadline = Instant::now() + Duration::from_secs_f64(setup);
            let r = bounded(
                hard,
                echo::run_echo(ctx, echo.params(common.read_buffer), deadline),
            )
            .await?;
            emit(&common, &r, report::echo(&r))?;
            Ok(0)
        }
        Cmd::Connect { common, connect } => {
            let ctx = Rc::new(common.ctx()?);
            let setup = common.setup_budget(connect.connections) + 20.0;
            let hard = common.deadline.unwrap_or(setup + connect.hold + 10.0);
            let deadline = Instant::now() + Duration::from_secs_f64(setup);
            let r = bounded(
                hard,
                connect::run_connect(ctx, connect.params(common.concurrency), deadline),
            )
            .await?;
            emit(&common, &r, report::connect(&r))?;
            Ok(0)
        }
        Cmd::Smoke { common } => {
            let ctx = Rc::new(common.ctx()?);
            let hard = common.deadline.unwrap_or(60.0);
            bounded(hard, smoke::run(ctx, &common)).await
        }
        Cmd::Compare(args) => compare::run(args).await,
        Cmd::FloorServer { host, port } => floor::serve((host, port).into()).await,
        Cmd::Chart { input, output } => {
            let out = output.unwrap_or_else(|| input.with_extension("svg"));
            chart::redraw(&input, &out)?;
            println!("wrote {}", out.display());
            Ok(0)
        }
    }
}

fn main() {
    let cli = Cli::parse();
    sys::base();
    sys::raise_nofile();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let local = tokio::task::LocalSet::new();
    let code = match local.block_on(&rt, async {
        tokio::task::spawn_local(stats::lag_monitor());
        run(cli.cmd).await
    }) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("roomcast-load: {e}");
            1
        }
    };
    drop(local);
    drop(rt);
    std::process::exit(code);
}
