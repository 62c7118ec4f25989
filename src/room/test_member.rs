//! A [`Member`] for the tests of the room and adapter layers: it records what it is told, under a
//! per-member room limit, with no socket behind it.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use serde_json::json;

use crate::engine::PushOutcome;
use crate::handshake::{ConnInfo, Handshake};
use crate::payload::Payload;
use crate::protocol::engineio::Frame;
use crate::protocol::ids::Sid;
use crate::room::{AckCallback, Member, Room, SocketDescription};

/// The refusal of a join past the limit.
#[derive(Debug, thiserror::Error)]
#[error("too many rooms")]
pub struct TooManyRooms;

#[derive(Default)]
struct State {
    delivered: Vec<Arc<[Frame]>>,
    rooms: BTreeSet<Room>,
    disconnected: Option<bool>,
    /// What it acknowledges with at once; `None`: it holds the acknowledgement (never answers).
    reply: Option<Payload>,
    asked: Vec<(String, Payload)>,
    held: Vec<AckCallback>,
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

    /// Acknowledges every later emit at once with `reply` (by default it never answers).
    pub fn answer_with(&self, reply: Payload) {
        self.state.lock().reply = Some(reply);
    }

    /// The emits that asked it for an acknowledgement.
    pub fn asked(&self) -> Vec<(String, Payload)> {
        self.state.lock().asked.clone()
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

    fn deliver_with_ack(
        &self,
        event: &str,
        payload: Payload,
        _timeout: Duration,
        callback: AckCallback,
    ) -> bool {
        let mut state = self.state.lock();
        state.asked.push((event.to_owned(), payload));
        match state.reply.clone() {
            Some(reply) => {
                drop(state);
                callback(Some(reply));
            }
            None => state.held.push(callback),
        }
        true
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
