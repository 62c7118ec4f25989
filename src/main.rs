//! The `roomcast` broker: loads `config.toml` (or `--config PATH`, or the built-in defaults) with
//! its `ROOMCAST_*` environment overrides, then serves Socket.IO and the admin API until SIGTERM or
//! SIGINT, and drains. An invalid configuration exits with status 2 and one line on stderr.

use clap::Parser;
use roomcast::app::{self, Listeners};
use roomcast::config::{Cli, LogFormat, LogSection};
use tracing_subscriber::EnvFilter;

fn init_logging(log: &LogSection) {
    // RUST_LOG, when set, wins over the configured level.
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&log.level));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match log.format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => tracing::info!("SIGTERM received"),
                _ = int.recv() => tracing::info!("SIGINT received"),
            }
        }
        _ => {
            tracing::error!("cannot listen for signals; stop with SIGKILL");
            std::future::pending::<()>().await;
        }
    }
}

/// Lets glibc's malloc grow its heaps 64 MiB at a time instead of a little at a time: a burst of
/// thousands of connections otherwise spends a tenth of its CPU in `mprotect` growing thread heaps.
/// Only address space is reserved; memory is used when touched.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn tune_malloc() {
    const M_TOP_PAD: i32 = -2;
    extern "C" {
        fn mallopt(param: i32, value: i32) -> i32;
    }
    // SAFETY: mallopt only sets a tuning parameter of the allocator; it is called before any
    // other thread exists.
    unsafe {
        mallopt(M_TOP_PAD, 64 << 20);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_malloc() {}

fn main() {
    tune_malloc();
    let cli = Cli::parse();
    let config = match cli.load() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    init_logging(&config.log);
    let listeners = match Listeners::bind(&config) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("roomcast: cannot listen: {e}");
            std::process::exit(1);
        }
    };
    let result =
        actix_web::rt::System::new().block_on(app::run(config, listeners, shutdown_signal()));
    if let Err(e) = result {
        eprintln!("roomcast: {e}");
        std::process::exit(1);
    }
}
