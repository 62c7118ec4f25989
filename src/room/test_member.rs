//! A [`Member`] for the tests of the room and adapter layers: it records what it is told, under a
//! per-member room limit, with no socket behind it.

use std::collections::BTreeSet;
use std::sync::Arc;

use parking_lot::Mutex;
use serde_json::json;

use crate::engine::PushOutcome;
use crate::handshake::{ConnInfo, Handshake};
use crate::protocol::engineio::Frame;
use crate::protocol::ids::Sid;
use crate::room::{Member, Room, SocketDescription};

/// The refusal of a join past the limit.
#[derive(Debug, thiserror::Error)]
#[error("too many rooms")]
pub struct TooManyRooms;

#[derive(Default)]
struct State {
    delivered: Vec<Arc<[Frame]>>,
    rooms: BTreeSet<Room>,
    disconnected: Option<bool>,
}

/// A recording member.
#[derive(Clone)]
pub struct TestMember {
    id: Sid,
    max_rooms: usize,
    state: Arc<Mutex<State>>,
}

impl TestMember {
    /// A member that may be in `max_rooms` named rooms.
    pub fn new(max_rooms: usize) -> Self {
        TestMember {
            id: Sid::new(),
            max_rooms,
            state: Arc::default(),
        }
    }

    /// How many packets it received.
    pub fn delivered(&self) -> usize {
        self.state.lock().delivered.len()
    }

    /// `Some(close)` once it was disconnected.
    pub fn disconnected(&self) -> Option<bool> {
        self.state.lock().disconnected
    }
}

impl Member for TestMember {
    type JoinError = TooManyRooms;

    fn id(&self) -> Sid {
        self.id
    }

    fn deliver(&self, frames: &Arc<[Frame]>, _volatile: bool) -> PushOutcome {
        self.state.lock().delivered.push(frames.clone());
        PushOutcome::Queued
    }

    fn named_rooms(&self) -> Vec<Room> {
        self.state.lock().rooms.iter().cloned().collect()
    }

    fn record_joined(&self, rooms: &[Room]) -> Result<(), TooManyRooms> {
        let mut state = self.state.lock();
        let fresh: BTreeSet<&Room> = rooms.iter().filter(|r| !state.rooms.contains(*r)).collect();
        if state.rooms.len() + fresh.len() > self.max_rooms {
            return Err(TooManyRooms);
        }
        state.rooms.extend(fresh.into_iter().cloned());
        Ok(())
    }

    fn record_left(&self, rooms: &[Room]) {
        let mut state = self.state.lock();
        for room in rooms {
            state.rooms.remove(room);
        }
    }

    fn disconnect(&self, close: bool) {
        self.state.lock().disconnected = Some(close);
    }

    fn describe(&self) -> SocketDescription {
        let conn = ConnInfo::new([("host", "test")], "/socket.io/?EIO=4", None, false);
        SocketDescription {
            id: self.id,
            nsp: "/".to_owned(),
            handshake: Handshake {
                conn: Arc::new(conn),
                auth: json!({}),
            }
            .describe(),
            rooms: self.named_rooms().iter().map(|r| r.to_string()).collect(),
            data: json!({}),
            engine_id: self.id,
            transport: "polling".to_owned(),
            connected_at: 0,
        }
    }
}
