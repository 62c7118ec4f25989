//! Support for benchmarks: in-process connections that go through the real session, socket and
//! room-supervisor code with no network, so the fan-out path can be measured alone. Not a stable
//! API.

use std::sync::Arc;

use crate::engine::conn::PollTake;
use crate::engine::session::Received;
use crate::engine::{Conn, EngineState};
use crate::handshake::ConnInfo;
use crate::protocol::engineio::Packet;
use crate::server::Server;
use crate::Payload;

/// `n` connections, each with a socket on `/` in room `room`.
pub struct FanoutFixture {
    /// The server.
    pub server: Server,
    conns: Vec<Arc<Conn>>,
}

impl FanoutFixture {
    /// Connects `n` in-process clients to `/` and joins them to `room`. Call inside an actix system.
    pub async fn new(server: Server, n: usize, room: &str) -> Self {
        let info = Arc::new(ConnInfo::new([], "/socket.io/?EIO=4", None, false));
        let _ = server.of("/");
        let mut conns = Vec::with_capacity(n);
        for _ in 0..n {
            let (conn, _open) = server
                .engine()
                .open_session(info.clone(), EngineState::Polling);
            if let Some(session) = conn.session() {
                let packets = vec![Packet::Message("0".into())];
                let _ = session.send(Received { packets }).await;
            }
            conns.push(conn);
        }
        // Every socket answers CONNECT into its queue: wait for it, then empty the queues.
        for conn in &conns {
            Self::drain(conn).await;
        }
        let fixture = FanoutFixture { server, conns };
        let joined = fixture
            .server
            .of("/")
            .broadcast()
            .sockets_join([room])
            .await;
        assert_eq!(joined, n, "every socket joined");
        fixture
    }

    async fn drain(conn: &Conn) -> bytestring::ByteString {
        conn.wait_for(|c| match c.take_poll() {
            PollTake::Payload(p) => Some(p),
            _ => None,
        })
        .await
    }

    /// One broadcast to `room`, awaited until it sits in every connection's queue (then emptied).
    pub async fn broadcast(&self, room: &str, payload: Payload) {
        let _ = self.server.to([room]).emit("tick", payload);
        for conn in &self.conns {
            Self::drain(conn).await;
        }
    }
}
