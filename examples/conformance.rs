//! The server the official Socket.IO and Engine.IO protocol test suites expect, on port 3000:
//! Socket.IO at `/socket.io/` (ping interval 300 ms, ping timeout 200 ms, max payload 1000000,
//! connect timeout 1000 ms, CORS any origin) and an Engine.IO echo server at `/engine.io/`.
//! Prints `LISTENING <port>` when ready. `--port N` listens elsewhere. `--embedded` serves both
//! from a plain actix-web app (`Server::configure`, WebSockets through actix-ws) instead of an
//! `HttpFront`.

use std::sync::Arc;
use std::time::Duration;

use actix_web::{App, HttpServer};
use roomcast::protocol::engineio::Frame;
use roomcast::server::RawMessage;
use roomcast::{Cors, HttpFront, Server, ServerOptions, Socket};

fn options(path: &str) -> ServerOptions {
    ServerOptions {
        path: path.to_owned(),
        ping_interval: Duration::from_millis(300),
        ping_timeout: Duration::from_millis(200),
        max_payload: 1_000_000,
        connect_timeout: Duration::from_millis(1000),
        cors: Cors::any(),
        ..ServerOptions::default()
    }
}

fn send_auth(socket: &Socket) {
    let _ = socket.emit("auth", socket.handshake().auth.clone());
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let port = std::env::args()
        .skip_while(|a| a != "--port")
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000u16);

    let io = Server::new(options("/socket.io/"));
    io.on_connection(|socket| {
        send_auth(socket);
        socket.on("message", |s, args, _| {
            let _ = s.emit("message-back", args);
        });
        socket.on("message-with-ack", |_, args, ack| {
            if let Some(ack) = ack {
                ack.send(args);
            }
        });
    });
    io.of("/custom").on_connection(send_auth);

    let eio = Server::engine_only(
        options("/engine.io/"),
        Arc::new(|conn, msg| {
            let frame = match msg {
                RawMessage::Text(t) => Frame::message(&t),
                RawMessage::Binary(b) => Frame::Binary(b),
            };
            conn.push_one(frame);
        }),
    );

    let listener = std::net::TcpListener::bind(("127.0.0.1", port))?;
    let port = listener.local_addr()?.port();
    let server = if std::env::args().any(|a| a == "--embedded") {
        // Both servers inside a plain actix-web app: WebSockets run through actix-ws.
        let (sio_routes, eio_routes) = (io.configure(), eio.configure());
        HttpServer::new(move || {
            App::new()
                .configure(sio_routes.clone())
                .configure(eio_routes.clone())
        })
        .listen(listener)?
        .run()
    } else {
        HttpFront::new(&io).mount(&eio).run(listener)?
    };
    println!("LISTENING {port}");
    server.await
}
