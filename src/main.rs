//! The `roomcast` broker binary: serves Socket.IO on its embedded defaults
//! (`0.0.0.0:3000`, path `/socket.io/`, any origin). `--bind ADDR` listens elsewhere.

use roomcast::{Cors, Server, ServerOptions};

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let mut bind = "0.0.0.0:3000".to_owned();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--bind" => bind = args.next().unwrap_or(bind),
            "--help" | "-h" => {
                println!("roomcast [--bind ADDR]   Socket.IO broker (default 0.0.0.0:3000)");
                return Ok(());
            }
            other => {
                eprintln!("roomcast: unknown argument {other:?} (try --help)");
                std::process::exit(2);
            }
        }
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    actix_web::rt::System::new().block_on(async move {
        let io = Server::new(ServerOptions {
            cors: Cors::any(),
            ..ServerOptions::default()
        });
        io.on_connection(|socket| {
            tracing::info!(id = %socket.id(), nsp = socket.ns(), "socket connected");
            socket.on_disconnect(|socket, reason| {
                tracing::info!(id = %socket.id(), %reason, "socket disconnected");
            });
        });
        let listener = std::net::TcpListener::bind(&bind)?;
        tracing::info!(addr = %listener.local_addr()?, "roomcast listening");
        io.http_server(listener)?.await
    })
}
