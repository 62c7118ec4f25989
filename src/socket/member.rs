//! A socket as a member of its namespace's rooms: what the room supervisors and the adapter may do
//! with it.

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use crate::engine::PushOutcome;
use crate::payload::Payload;
use crate::protocol::engineio::Frame;
use crate::protocol::ids::Sid;
use crate::room::{AckCallback, Member, Room, SocketDescription};
use crate::socket::{JoinError, Socket};

impl Member for Socket {
    type JoinError = JoinError;

    fn id(&self) -> Sid {
        Socket::id(self)
    }

    fn deliver(&self, frames: &Arc<[Frame]>, volatile: bool) -> PushOutcome {
        self.conn().push(frames, volatile)
    }

    fn named_rooms(&self) -> Vec<Room> {
        Socket::named_rooms(self)
    }

    fn record_joined(&self, rooms: &[Room]) -> Result<(), JoinError> {
        Socket::record_joined(self, rooms)
    }

    fn record_left(&self, rooms: &[Room]) {
        Socket::record_left(self, rooms)
    }

    fn deliver_with_ack(
        &self,
        event: &str,
        payload: Payload,
        timeout: Duration,
        callback: AckCallback,
    ) -> bool {
        Socket::emit_with_ack(self, event, payload, timeout, move |reply| {
            callback(reply.ok());
        })
        .is_ok()
    }

    fn disconnect(&self, close: bool) {
        Socket::disconnect(self, close)
    }

    fn describe(&self) -> SocketDescription {
        let connected_at = self.connected_at().duration_since(UNIX_EPOCH);
        SocketDescription {
            id: Socket::id(self),
            nsp: self.ns().to_owned(),
            handshake: self.handshake().describe(),
            rooms: Socket::named_rooms(self)
                .iter()
                .map(|r| r.to_string())
                .collect(),
            data: self.data(),
            engine_id: self.engine_id(),
            transport: self.transport().to_owned(),
            connected_at: connected_at.map_or(0, |d| d.as_millis() as u64),
        }
    }
}
