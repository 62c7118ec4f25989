//! socketioxide reference server for `roomcast-load compare`: socketioxide 0.18 on axum and Tokio,
//! with the same room API as the Node.js reference (`benches/reference/server.mjs`; see
//! `contract.rs`), so roomcast can be measured against a Rust Socket.IO server too.
//!
//!   roomcast-bench-socketioxide [--port N] [--host 127.0.0.1] [--publish-policy joined|any]
//!
//! Prints exactly one line `LISTENING <port>` on stdout once it accepts connections, like the Node
//! reference; runs until killed (SIGINT/SIGTERM end it cleanly).

mod contract;

use std::time::Duration;

use contract::PublishPolicy;
use socketioxide::handler::ConnectHandler;
use socketioxide::SocketIo;

struct Opts {
    port: u16,
    host: String,
    policy: PublishPolicy,
}

const USAGE: &str =
    "roomcast-bench-socketioxide [--port N] [--host ADDR] [--publish-policy joined|any]";

fn parse_args(mut argv: impl Iterator<Item = String>) -> Result<Opts, String> {
    let mut opts = Opts {
        port: 3300,
        host: "127.0.0.1".into(),
        policy: PublishPolicy::Joined,
    };
    while let Some(flag) = argv.next() {
        let mut value = || argv.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--port" => {
                opts.port = value()?
                    .parse()
                    .map_err(|_| "--port must be an integer between 0 and 65535")?
            }
            "--host" => opts.host = value()?,
            "--publish-policy" => {
                opts.policy = match value()?.as_str() {
                    "joined" => PublishPolicy::Joined,
                    "any" => PublishPolicy::Any,
                    v => return Err(format!("--publish-policy must be joined or any, got {v}")),
                }
            }
            "--help" | "-h" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            _ => return Err(format!("unknown argument {flag}")),
        }
    }
    Ok(opts)
}

// The default multi-thread runtime: one worker per core (2 on the project machine). roomcast and the
// Node reference (its event loop plus libuv's and V8's threads) are both free to use the whole
// machine in `compare`, and socketioxide is meant to be run this way, so pinning it to fewer cores
// would understate it.
#[tokio::main]
async fn main() {
    let opts = match parse_args(std::env::args().skip(1)) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}\n{USAGE}");
            std::process::exit(2);
        }
    };
    // As the Node reference: path /socket.io/, ping 25 s / 20 s, 1 MB messages. Its outgoing queue is
    // unbounded; socketioxide's per-socket queue (128 packets by default) drops what does not fit,
    // which would show as loss in a fanout burst, so it is made large rather than unbounded.
    let (layer, io) = SocketIo::builder()
        .req_path("/socket.io/")
        .ping_interval(Duration::from_secs(25))
        .ping_timeout(Duration::from_secs(20))
        .max_payload(1_000_000)
        .max_buffer_size(4096)
        .build_layer();
    let policy = opts.policy;
    let register = move |s| contract::register(s, policy);
    io.ns("/", { async || {} }.with(register));

    let app = axum::Router::new().layer(layer);
    let listener = match tokio::net::TcpListener::bind((opts.host.as_str(), opts.port)).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot listen on {}:{}: {e}", opts.host, opts.port);
            std::process::exit(1);
        }
    };
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(opts.port);
    println!("LISTENING {port}");
    let shutdown = async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    };
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
    {
        eprintln!("server error: {e}");
        std::process::exit(1);
    }
}
