//! Recovery through the real engine session, socket actor and adapter, in process: what the
//! Rust API's connection handler sees of a recovered socket, and what its client is sent.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use serde_json::{json, Value};

use super::*;
use crate::engine::conn::PollTake;
use crate::engine::session::Received;
use crate::engine::{Conn, EngineState};
use crate::handshake::ConnInfo;
use crate::options::{RecoveryOptions, ServerOptions};
use crate::protocol::engineio::Packet;
use crate::server::Server;

type Seen = Arc<Mutex<Vec<(Sid, bool, Vec<String>, Value)>>>;

/// A polling connection that sent `connect` (the Socket.IO CONNECT after the `0`).
async fn open(server: &Server, connect: &str) -> Arc<Conn> {
    let info = Arc::new(ConnInfo::new([], "/socket.io/?EIO=4", None, false));
    let (conn, _open) = server.engine().open_session(info, EngineState::Polling);
    let session = conn.session().expect("a session actor").clone();
    let packets = vec![Packet::Message(connect.into())];
    session
        .send(Received { packets })
        .await
        .expect("session alive");
    conn
}

/// The next polling payload of `conn`, split into its packets.
async fn poll(conn: &Conn) -> Vec<String> {
    let wait = conn.wait_for(|c| match c.take_poll() {
        PollTake::Payload(p) => Some(p),
        _ => None,
    });
    let payload = tokio::time::timeout(Duration::from_secs(5), wait).await;
    let payload = payload.expect("a payload within 5 s");
    payload.split('\u{1e}').map(str::to_owned).collect()
}

/// The JSON after the packet-type prefix `prefix`.
fn json_after(packet: &str, prefix: &str) -> Value {
    let body = packet.strip_prefix(prefix).expect(prefix);
    serde_json::from_str(body).expect("JSON")
}

async fn until_gone(server: &Server) {
    for _ in 0..500 {
        if server.of("/").socket_count() == 0 {
            return;
        }
        actix_rt::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the socket never left");
}

#[test]
fn the_connection_handler_sees_the_recovered_socket_with_its_id_rooms_and_data() {
    actix_rt::System::new().block_on(async {
        let recovery = RecoveryOptions {
            enabled: true,
            ..RecoveryOptions::default()
        };
        let server = Server::new(ServerOptions {
            recovery,
            ..ServerOptions::default()
        });
        let seen: Seen = Arc::default();
        let record = seen.clone();
        server.on_connection(move |socket| {
            let data = socket.data();
            let facts = (socket.id(), socket.recovered(), socket.rooms(), data);
            record.lock().push(facts);
            if !socket.recovered() {
                socket.join(["r"]).expect("under the limits");
                socket.set_data(json!({"n": 1}));
            }
        });
        let conn = open(&server, "0").await;
        let answer = json_after(&poll(&conn).await[0], "40");
        let (sid, pid) = (answer["sid"].clone(), answer["pid"].clone());
        assert!(pid.is_string(), "{answer}");
        server.to(["r"]).emit("m", json!(1)).expect("not reserved");
        let event = json_after(&poll(&conn).await[0], "42");
        let offset = event[2].clone();
        assert_eq!((&event[0], &event[1]), (&json!("m"), &json!(1)));
        conn.request_close(CloseReason::TransportClose);
        until_gone(&server).await;

        server.to(["r"]).emit("m", json!(2)).expect("not reserved");
        server
            .to(["r"])
            .volatile()
            .emit("v", json!(0))
            .expect("not reserved");
        let claim = json!({"pid": pid, "offset": offset});
        let conn = open(&server, &format!("0{claim}")).await;
        let packets = poll(&conn).await;
        assert_eq!(
            packets.len(),
            2,
            "the missed packet, not the volatile one: {packets:?}"
        );
        let missed = json_after(&packets[0], "42");
        assert_eq!((&missed[0], &missed[1]), (&json!("m"), &json!(2)));
        let again = json_after(&packets[1], "40");
        assert_eq!(again, json!({"sid": sid, "pid": pid}));
        let seen = seen.lock().clone();
        assert_eq!(seen.len(), 2);
        let (id, recovered, rooms, data) = &seen[1];
        assert_eq!((id.as_str(), *recovered), (sid.as_str().unwrap(), true));
        assert_eq!(rooms[1..], ["r".to_owned()]);
        assert_eq!(data, &json!({"n": 1}));
    });
}
