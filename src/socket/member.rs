//! A socket as a member of its namespace's rooms: what the room supervisors and the adapter may do
//! with it.

use std::sync::Arc;

use crate::engine::PushOutcome;
use crate::protocol::engineio::Frame;
use crate::protocol::ids::Sid;
use crate::room::{Member, Room};
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

    fn disconnect(&self, close: bool) {
        Socket::disconnect(self, close)
    }
}
