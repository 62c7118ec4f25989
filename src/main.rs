//! The `roomcast` broker: loads `config.toml` (or `--config PATH`, or the built-in defaults) with
//! its `ROOMCAST_*` environment overrides, then serves Socket.IO and the admin API until SIGTERM or
//! SIGINT, and drains. An invalid configuration exits with status 2 and one line on stderr.

use clap::Parser;
use roomcast::app::{self, Listeners};
use roomcast::config::{Cli, LogFormat, LogSection};
use tracing_subscriber::EnvFilter;

/// Logs go to stderr (stdout stays free), coloured only as `log.color` says.
fn init_logging(log: &LogSection) {
    use std::io::IsTerminal;
    // RUST_LOG, when set, wins over the configured level.
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&log.level));
    let no_color = std::env::var("NO_COLOR").ok();
    let ansi = log
        .color
        .enabled(std::io::stderr().is_terminal(), no_color.as_deref());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    match log.format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

/// Resolves on SIGTERM or SIGINT. The handlers are installed when this is called (inside the
/// runtime), not when the future is first polled, so a signal sent right after the ready line
/// drains the broker instead of killing it.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{signal, SignalKind};
    let handlers = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    );
    async move {
        match handlers {
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
}

/// Lets glibc's malloc grow its heaps 64 MiB at a time instead of a little at a time: a burst of
/// thousands of connections otherwise spends a tenth of its CPU in `mprotect` growing thread heaps.
/// Only address space is reserved; memory is used when touched.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn tune_malloc() {
    // SAFETY: mallopt only sets a tuning parameter of the allocator; it is called before any
    // other thread exists.
    unsafe {
        libc::mallopt(libc::M_TOP_PAD, 64 << 20);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_malloc() {}

fn main() {
    tune_malloc();
    let cli = Cli::parse();
    let mut config = match cli.load() {
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
            eprintln!("roomcast: {e}");
            std::process::exit(1);
        }
    };
    app::fit_to_file_limit(&mut config);
    let source = cli.source();
    let result = actix_web::rt::System::new().block_on(async move {
        let shutdown = shutdown_signal();
        app::run(config, listeners, &source, shutdown).await
    });
    if let Err(e) = result {
        eprintln!("roomcast: {e}");
        std::process::exit(1);
    }
}
