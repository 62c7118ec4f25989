//! The command-line options, in groups the subcommands share: every flag is declared once, here
//! (or, for what only `compare` takes, in `compare`), and each subcommand flattens the groups it
//! takes. Each group also turns its flags into the parameters of a scenario.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use serde::Serialize;

use crate::common::{Ctx, Names};
use crate::connect::ConnectParams;
use crate::echo::EchoParams;
use crate::fanout::{CeilingParams, FanoutParams, PhaseSpec};
use crate::stats::Probe;
use crate::target::Target;
use crate::ws::ConnectOpts;

/// Options every scenario against a running server takes.
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
    #[command(flatten)]
    pub client: ClientArgs,
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
    #[command(flatten)]
    pub report: ReportArgs,
    /// Also write the JSON result to this file.
    #[arg(long)]
    pub output: Option<PathBuf>,
}

impl Common {
    pub fn ctx(&self) -> Result<Ctx, String> {
        let names = self.client.names()?;
        let target = Target::parse(
            &self.url,
            self.path.as_deref(),
            &self.namespace,
            &self.client.sources,
        )?;
        Ok(Ctx {
            target,
            names,
            connect: ConnectOpts {
                read_buffer: self.read_buffer,
                auth: self.auth.clone(),
                verify_accept: !self.no_verify_accept,
            },
            connect_timeout: Duration::from_secs_f64(self.connect_timeout.max(0.1)),
            concurrency: self.concurrency.max(1),
            probe: Probe {
                server_pid: self.server_pid,
                peer_pids: Vec::new(),
                redis_pid: None,
            },
            peers: Vec::new(),
            quiet: self.report.quiet,
        })
    }

    /// Setup budget for `n` connections (generous: 2 ms each plus the connect timeout).
    pub fn setup_budget(&self, n: usize) -> f64 {
        self.connect_timeout + 5.0 + n as f64 * 0.002
    }
}

/// Where clients connect from and the names of the room API they speak: every command that
/// connects clients takes these (`compare` too).
#[derive(Args, Clone, Debug, Serialize)]
pub struct ClientArgs {
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
}

impl ClientArgs {
    /// The names, checked: they are written into JSON text unescaped.
    pub fn names(&self) -> Result<Names, String> {
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
        Ok(Names {
            join: self.join_event.clone(),
            publish: self.publish_event.clone(),
            deliver: self.deliver_event.clone(),
            echo: self.echo_event.clone(),
            room_prefix: self.room_prefix.clone(),
        })
    }
}

/// How a command reports: tables or JSON on stdout, progress on stderr.
#[derive(Args, Clone, Debug, Serialize)]
pub struct ReportArgs {
    /// Print the result as JSON on stdout instead of the tables.
    #[arg(long)]
    pub json: bool,
    /// No progress on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

/// The clients of a fanout run (`fanout`, `ceiling`, and `compare`'s fanout scenarios).
#[derive(Args, Clone, Debug, Serialize)]
pub struct FleetArgs {
    /// Clients that join a room and only receive.
    #[arg(long, default_value_t = 1000)]
    pub subscribers: usize,
    /// Rooms the subscribers and the publishers are spread over.
    #[arg(long, default_value_t = 10)]
    pub rooms: usize,
    /// Clients that join a room and publish there (and receive the others' publishes).
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
            nodes: 1,
            extra_per_room: 0,
            binary_bytes: 0,
        }
    }
}

/// The timing of one measured run of `fanout` or `echo`: warmup, measured window, drain.
#[derive(Args, Clone, Copy, Debug, Serialize)]
pub struct PhaseArgs {
    /// Measured seconds (after the warmup).
    #[arg(long, default_value_t = 5.0)]
    pub duration: f64,
    /// Seconds of load before the measured window.
    #[arg(long, default_value_t = 1.0)]
    pub warmup: f64,
    /// Longest wait for messages in flight after the last send, seconds.
    #[arg(long, default_value_t = 3.0)]
    pub drain: f64,
}

impl PhaseArgs {
    /// The fanout phase at `rate` deliveries per second.
    pub fn spec(&self, rate: f64) -> PhaseSpec {
        PhaseSpec {
            target_deliveries_per_s: rate,
            warmup_s: self.warmup,
            duration_s: self.duration,
            drain_s: self.drain,
        }
    }

    /// Warmup, measured window and drain, seconds.
    pub fn total(&self) -> f64 {
        self.warmup + self.duration + self.drain
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
    #[command(flatten)]
    pub phase: PhaseArgs,
}

impl EchoArgs {
    pub fn params(&self, read_buffer: usize) -> EchoParams {
        echo_params(
            self.clients,
            self.rate,
            self.payload_bytes,
            &self.phase,
            read_buffer,
        )
    }
}

/// The echo scenario's parameters (`echo` and `compare` name the clients and the rate apart).
pub fn echo_params(
    clients: usize,
    rate: f64,
    payload_bytes: usize,
    phase: &PhaseArgs,
    read_buffer: usize,
) -> EchoParams {
    EchoParams {
        clients,
        rate,
        payload_bytes,
        warmup_s: phase.warmup,
        duration_s: phase.duration,
        drain_s: phase.drain,
        read_buffer,
    }
}

/// The connections of the `connect` scenario (`connect` and `compare`).
#[derive(Args, Clone, Debug, Serialize)]
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
    #[command(flatten)]
    pub budget: BudgetArgs,
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
            p99_budget_ms: self.budget.p99_budget_ms,
            max_total_s: self.max_total,
            retries: 0,
        }
    }
}

/// What a ceiling step must hold to (`ceiling` and `compare`).
#[derive(Args, Clone, Copy, Debug, Serialize)]
pub struct BudgetArgs {
    /// A step holds if its publish→receive p99 is at most this (and nothing is lost).
    #[arg(long, default_value_t = 100.0)]
    pub p99_budget_ms: f64,
}
