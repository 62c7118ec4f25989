//! `roomcast-load`: a load generator for Socket.IO servers (roomcast's client room API, or any
//! server with a join/publish contract), and the side-by-side comparison of roomcast with the
//! Node.js reference server in `benches/reference`. See `benches/README.md`.
//!
//! One current-thread Tokio runtime (one core) drives every simulated client as a task, each over
//! its own light Engine.IO/Socket.IO-over-WebSocket client (`ws`). Loopback targets only.

mod args;
mod chart;
#[cfg(test)]
mod cli_tests;
mod client;
#[cfg(test)]
mod cluster_tests;
mod common;
mod compare;
mod connect;
mod echo;
#[cfg(test)]
mod envelope_tests;
mod fanout;
mod floor;
mod poll;
#[cfg(test)]
mod recovery_tests;
mod report;
mod scan;
mod smoke;
mod stats;
mod sys;
mod target;
#[cfg(test)]
mod test_paths;
mod ws;

use std::rc::Rc;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use serde::Serialize;

use crate::args::{CeilingArgs, Common, ConnectArgs, EchoArgs, FleetArgs, PhaseArgs};

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
        #[command(flatten)]
        phase: PhaseArgs,
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
    Compare(Box<compare::CompareArgs>),
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

/// Prints (table or JSON) and optionally saves a result.
fn emit<T: Serialize>(common: &Common, result: &T, table: report::Table) -> Result<(), String> {
    let json = serde_json::to_string_pretty(result).map_err(|e| e.to_string())?;
    if let Some(path) = &common.output {
        std::fs::write(path, &json).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    if common.report.json {
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

/// The instant `secs` from now.
fn after(secs: f64) -> Instant {
    Instant::now() + Duration::from_secs_f64(secs)
}

async fn fanout(
    common: Common,
    fleet: FleetArgs,
    rate: f64,
    phase: PhaseArgs,
) -> Result<i32, String> {
    let ctx = Rc::new(common.ctx()?);
    let setup = common.setup_budget(fleet.subscribers + fleet.publishers);
    let hard = common.deadline.unwrap_or(setup + phase.total() + 10.0);
    let params = fleet.params(common.read_buffer);
    let run = fanout::run_fanout(ctx, params, phase.spec(rate), after(setup));
    let r = bounded(hard, run).await?;
    emit(&common, &r, report::fanout(&r))?;
    Ok(0)
}

async fn ceiling(common: Common, fleet: FleetArgs, search: CeilingArgs) -> Result<i32, String> {
    let ctx = Rc::new(common.ctx()?);
    let setup = common.setup_budget(fleet.subscribers + fleet.publishers);
    let params = search.params();
    let hard = common
        .deadline
        .unwrap_or(setup + params.max_total_s + params.step_s + params.drain_s + 30.0);
    let run = fanout::run_ceiling(ctx, fleet.params(common.read_buffer), params, after(setup));
    let r = bounded(hard, run).await?;
    emit(&common, &r, report::ceiling(&r))?;
    Ok(0)
}

async fn echo(common: Common, echo: EchoArgs) -> Result<i32, String> {
    let ctx = Rc::new(common.ctx()?);
    let setup = common.setup_budget(echo.clients);
    let hard = common.deadline.unwrap_or(setup + echo.phase.total() + 10.0);
    let run = echo::run_echo(ctx, echo.params(common.read_buffer), after(setup));
    let r = bounded(hard, run).await?;
    emit(&common, &r, report::echo(&r))?;
    Ok(0)
}

async fn connect(common: Common, connect: ConnectArgs) -> Result<i32, String> {
    let ctx = Rc::new(common.ctx()?);
    let setup = common.setup_budget(connect.connections) + 20.0;
    let hard = common.deadline.unwrap_or(setup + connect.hold + 10.0);
    let run = connect::run_connect(ctx, connect.params(common.concurrency), after(setup));
    let r = bounded(hard, run).await?;
    emit(&common, &r, report::connect(&r))?;
    Ok(0)
}

async fn run(cmd: Cmd) -> Result<i32, String> {
    match cmd {
        Cmd::Fanout {
            common,
            fleet,
            rate,
            phase,
        } => fanout(common, fleet, rate, phase).await,
        Cmd::Ceiling {
            common,
            fleet,
            search,
        } => ceiling(common, fleet, search).await,
        Cmd::Echo { common, echo: args } => echo(common, args).await,
        Cmd::Connect {
            common,
            connect: args,
        } => connect(common, args).await,
        Cmd::Smoke { common } => {
            let ctx = Rc::new(common.ctx()?);
            let hard = common.deadline.unwrap_or(60.0);
            bounded(hard, smoke::run(ctx, &common)).await
        }
        Cmd::Compare(args) => compare::run(*args).await,
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
