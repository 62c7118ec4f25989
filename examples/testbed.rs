//! The test server every black-box test drives (socket.io-client, python-socketio, raw wire).
//! Its behaviour is the contract in `tests/TESTBED.md`; `tests/js/reference/testbed.mjs` is the
//! same server on Node's socket.io, so the tests can be checked against the reference.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use roomcast::admin_ui::{instrument, AdminAuth, AdminUiOptions};
use roomcast::{ConnectError, Cors, Parser, Payload, Server, ServerOptions, Socket, Transports};
use serde_json::{json, Value};

/// Remembered disconnects: (namespace, socket id, reason, rooms seen while disconnecting).
type Departures = Arc<Mutex<VecDeque<(String, String, String, Vec<String>)>>>;
const REMEMBERED: usize = 1000;

/// bcrypt of "changeit" (cost 4): the Admin UI password of `--admin-ui`.
const ADMIN_UI_HASH: &str = "$2a$04$JiFCNFAZPmesR8K67hDSqepUrPDerR6YzeDh.RIiMMAH7M4ZzGJgK";

fn parse_args() -> (u16, ServerOptions, Option<String>) {
    let mut options = ServerOptions {
        cors: Cors::any(),
        ..ServerOptions::default()
    };
    let mut port = 0u16;
    let mut admin_ui = None;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let ms = |v: &str| Duration::from_millis(v.parse().expect("milliseconds"));
    for pair in args.chunks(2) {
        let (flag, value) = (
            pair[0].as_str(),
            pair.get(1).map(String::as_str).unwrap_or(""),
        );
        match flag {
            "--port" => port = value.parse().expect("port"),
            "--ping-interval" => options.ping_interval = ms(value),
            "--ping-timeout" => options.ping_timeout = ms(value),
            "--connect-timeout" => options.connect_timeout = ms(value),
            "--max-payload" => options.max_payload = value.parse().expect("bytes"),
            "--outbound-queue" => options.outbound_queue = value.parse().expect("count"),
            "--outbound-queue-bytes" => {
                options.outbound_queue_bytes = value.parse().expect("bytes")
            }
            "--cookie" => options.cookie = Some(value.to_owned()),
            "--parser" => options.parser = Parser::from_name(value).expect("default or msgpack"),
            "--admin-ui" => admin_ui = Some(value.to_owned()),
            "--transports" => {
                options.transports = Transports {
                    polling: value.contains("polling"),
                    websocket: value.contains("websocket"),
                }
            }
            other => panic!("unknown flag {other}"),
        }
    }
    (port, options, admin_ui)
}

fn sorted_rooms(socket: &Socket) -> Value {
    let mut rooms = socket.rooms();
    rooms.sort();
    json!(rooms)
}

fn rooms_arg(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|r| r.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

fn handlers(io: &Server, departures: &Departures, socket: &Socket) {
    socket.on("echo", |s, args, _| {
        let _ = s.emit("echo", args);
    });
    socket.on("echo-ack", |_, args, ack| {
        if let Some(ack) = ack {
            ack.send(args);
        }
    });
    socket.on("whoami", |s, _, ack| {
        if let Some(ack) = ack {
            ack.send(json!({
                "id": s.id().as_str(),
                "nsp": s.ns(),
                "transport": s.transport(),
                "auth": s.handshake().auth,
                "rooms": sorted_rooms(s),
            }));
        }
    });
    socket.on("join", |s, args, ack| {
        let _ = s.join(rooms_arg(args.first()));
        if let Some(ack) = ack {
            ack.send(sorted_rooms(s));
        }
    });
    socket.on("leave", |s, args, ack| {
        s.leave(rooms_arg(args.first()));
        if let Some(ack) = ack {
            ack.send(sorted_rooms(s));
        }
    });
    let server = io.clone();
    socket.on("emit-to", move |s, args, ack| {
        let spec = args.first().cloned().unwrap_or(Value::Null);
        let mut op = if spec["exclude_self"] == json!(true) {
            s.broadcast()
        } else {
            server.of(s.ns()).broadcast()
        };
        op = op
            .to(rooms_arg(spec.get("rooms")))
            .except(rooms_arg(spec.get("except")));
        if spec["volatile"] == json!(true) {
            op = op.volatile();
        }
        let event = spec["event"].as_str().unwrap_or("message");
        let payload = Payload {
            args: spec["args"].as_array().cloned().unwrap_or_default(),
            binary: args.binary,
        };
        let _ = op.emit(event, payload);
        if let Some(ack) = ack {
            ack.send(json!(true));
        }
    });
    socket.on("server-ack", |s, args, ack| {
        let spec = args.first().cloned().unwrap_or(Value::Null);
        let payload = Payload {
            args: spec["args"].as_array().cloned().unwrap_or_default(),
            binary: args.binary,
        };
        let timeout = Duration::from_millis(spec["timeout_ms"].as_u64().unwrap_or(1000));
        let event = spec["event"].as_str().unwrap_or("ask").to_owned();
        let _ = s.emit_with_ack(&event, payload, timeout, move |result| {
            if let Some(ack) = ack {
                match result {
                    Ok(reply) => ack.send(Payload {
                        args: vec![json!({ "args": reply.args })],
                        binary: reply.binary,
                    }),
                    Err(_) => ack.send(json!({ "error": "timeout" })),
                }
            }
        });
    });
    socket.on("disconnect-me", |s, args, _| {
        s.disconnect(args.first() == Some(&json!(true)));
    });
    let seen = departures.clone();
    socket.on("last-disconnect", move |s, args, ack| {
        let Some(ack) = ack else { return };
        let id = args.first().and_then(Value::as_str).unwrap_or("");
        let found = seen
            .lock()
            .iter()
            .rev()
            .find(|(nsp, sid, _, _)| nsp == s.ns() && sid == id)
            .map(|(_, _, reason, rooms)| json!({ "reason": reason, "rooms": rooms }));
        ack.send(found.unwrap_or(Value::Null));
    });
    let server = io.clone();
    socket.on("count", move |s, _, ack| {
        let Some(ack) = ack else { return };
        let ns = server.of(s.ns());
        actix_rt::spawn(async move {
            let rooms = ns.rooms().await.len();
            ack.send(json!({ "sockets": ns.socket_count(), "rooms": rooms }));
        });
    });
    let seen = departures.clone();
    socket.on_disconnecting(move |s, reason| {
        let own = s.id().to_string();
        let mut rooms: Vec<String> = s.rooms().into_iter().filter(|r| *r != own).collect();
        rooms.sort();
        let mut seen = seen.lock();
        if seen.len() == REMEMBERED {
            seen.pop_front();
        }
        seen.push_back((s.ns().to_owned(), own, reason.to_string(), rooms));
    });
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let (port, options, admin_ui) = parse_args();
    let io = Server::new(options);
    let departures: Departures = Arc::default();

    for name in ["/", "/custom"] {
        let (server, seen) = (io.clone(), departures.clone());
        io.of(name)
            .on_connection(move |socket| handlers(&server, &seen, socket));
    }
    let (server, seen) = (io.clone(), departures.clone());
    io.of("/admin")
        .use_middleware(|socket| {
            if socket.handshake().auth["token"] == json!("secret") {
                Ok(())
            } else {
                Err(ConnectError::new("unauthorized").with_data(json!({ "reason": "bad token" })))
            }
        })
        .on_connection(move |socket| handlers(&server, &seen, socket));
    let (server, seen) = (io.clone(), departures.clone());
    io.of("/dyn-*").on_connection(move |socket| {
        let _ = socket.emit("hello", socket.ns());
        handlers(&server, &seen, socket);
    });

    if let Some(namespace) = admin_ui {
        let mut ui = AdminUiOptions::new(AdminAuth::Basic {
            username: "admin".to_owned(),
            password_hash: ADMIN_UI_HASH.to_owned(),
        });
        ui.namespace = namespace;
        ui.server_id = Some("testbed".to_owned());
        instrument(&io, ui).map_err(std::io::Error::other)?;
    }

    let listener = std::net::TcpListener::bind(("127.0.0.1", port))?;
    let port = listener.local_addr()?.port();
    let server = io.http_server(listener)?;
    println!("LISTENING {port}");
    server.await
}
