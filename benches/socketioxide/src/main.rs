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

use axum::serve::ListenerExt;
use contract::PublishPolicy;
use socketioxide::handler::ConnectHandler;
use socketioxide::SocketIo;

struct Opts {
    port: u16,
    host: String,
    policy: PublishPolicy,
}

const USAGE: &str =
    "roomcast-bench-socketioxide [--port N] [--host ADDR] [--publish-policy joined|any] [--version]";

/// The socketioxide this is built on, for `--version` (which `compare` records with the results);
/// a test keeps it equal to the version in Cargo.lock.
const SOCKETIOXIDE_VERSION: &str = "0.18.9";

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
            "--version" | "-V" => {
                println!("{SOCKETIOXIDE_VERSION}");
                std::process::exit(0);
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
    // TCP_NODELAY on every connection, as Node's HTTP server and roomcast set it: without it a small
    // ack waits for the client's delayed ACK (echo p99 about 20 ms instead of about 1).
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_it_reports_is_the_locked_one() {
        let lock = include_str!("../../../Cargo.lock");
        let entry = lock
            .split("[[package]]")
            .find(|p| p.contains("\nname = \"socketioxide\"\n"))
            .expect("socketioxide in Cargo.lock");
        assert!(entry.contains(&format!("\nversion = \"{SOCKETIOXIDE_VERSION}\"\n")));
    }

    #[test]
    fn flags_parse() {
        let args = |s: &str| {
            parse_args(
                s.split_whitespace()
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
                    .into_iter(),
            )
        };
        let o = args("--port 4100 --host 127.0.0.2 --publish-policy any").unwrap();
        assert_eq!(
            (o.port, o.host.as_str(), o.policy),
            (4100, "127.0.0.2", PublishPolicy::Any)
        );
        let o = args("").unwrap();
        assert_eq!((o.port, o.policy), (3300, PublishPolicy::Joined));
        assert!(args("--port x").is_err());
        assert!(args("--publish-policy some").is_err());
        assert!(args("--bogus").is_err());
        assert!(args("--port").is_err());
    }
}
