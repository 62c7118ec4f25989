//! The seed's hello example on roomcast: a Socket.IO server on port 8000 that lets the page at
//! `http://127.0.0.1:5500` connect (CORS) and greets every new socket with
//! `sayHello`: `Hello <socket id> from. Server`. The page is `examples/hello/index.html`.
//!
//! ```sh
//! cargo run --example hello                 # port 8000
//! cargo run --example hello -- --port 8123  # another port
//! ```
//!
//! Serve the page (and the ESM build of socket.io-client from `tests/js/node_modules`) on
//! `http://127.0.0.1:5500` with `node tests/js/browser/static-server.mjs`, then open
//! `http://127.0.0.1:5500/` (or `http://127.0.0.1:5500/?server=http://127.0.0.1:8123` for another port).

use roomcast::{Cors, Server, ServerOptions};

/// The origin the page is served from.
const PAGE_ORIGIN: &str = "http://127.0.0.1:5500";

fn port_from_args() -> Result<u16, String> {
    let mut port = 8000;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => {
                let value = args.next().ok_or("--port needs a value")?;
                port = value
                    .parse()
                    .map_err(|_| format!("--port: {value:?} is not a port number"))?;
            }
            "-h" | "--help" => {
                println!("usage: hello [--port PORT]   (default port 8000)");
                std::process::exit(0);
            }
            other => {
                return Err(format!(
                    "unknown argument {other:?} (usage: hello [--port PORT])"
                ))
            }
        }
    }
    Ok(port)
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let port = match port_from_args() {
        Ok(port) => port,
        Err(e) => {
            eprintln!("hello: {e}");
            std::process::exit(2);
        }
    };
    let io = Server::new(ServerOptions {
        cors: Cors {
            origins: vec![PAGE_ORIGIN.to_owned()],
            credentials: false,
        },
        ..Default::default()
    });

    io.on_connection(|socket| {
        let _ = socket.emit("sayHello", format!("Hello {} from. Server", socket.id()));
    });

    let listener = std::net::TcpListener::bind(("127.0.0.1", port))?;
    println!("Listening on http://127.0.0.1:{port}");
    io.http_server(listener)?.await
}
