//! What closes the gap between a recovery's replay and the live stream on one node, pure: the
//! replay of a recovered socket is read from Redis (`XRANGE`) up to some entry, while this node
//! goes on delivering entries to its sockets. [`Recent`] remembers the last [`KEPT`] stream
//! broadcasts delivered here, so a socket added after its replay also gets those it missed that
//! were delivered between the read and its addition ([`Recent::catch_up`]), and is left out of
//! the deliveries, for a while, of the entries its replay already had ([`Recent::delivered`]):
//! every entry once, in order. When the entries it would need have left the memory, the recovery
//! is refused rather than replayed in part.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::adapter::recovery::store::reaches;
use crate::protocol::engineio::Frame;
use crate::protocol::ids::Sid;
use crate::room::{Room, Selector};

/// A stream entry id `<ms>-<seq>`, comparable.
pub type StreamId = (u64, u64);

/// Delivered entries remembered.
pub const KEPT: usize = 4096;
/// How long a recovered socket is left out of the entries its replay had (the node's reading of
/// the stream is never that far behind a read of Redis).
pub const HOLD: Duration = Duration::from_secs(10);

struct Delivered {
    id: StreamId,
    selector: Arc<Selector>,
    frames: Arc<[Frame]>,
}

struct Held {
    room: Room,
    through: StreamId,
    since: Instant,
}

/// The recent deliveries of one namespace's stream broadcasts on this node.
#[derive(Default)]
pub struct Recent {
    entries: VecDeque<Delivered>,
    /// The newest id that left `entries`.
    dropped: Option<StreamId>,
    held: Vec<Held>,
}

impl Recent {
    /// Records entry `id` (to `selector`, encoded as `frames`) as delivered now, and answers
    /// the selector to deliver it with: `selector`, minus the recovered sockets whose replay had
    /// it already.
    pub fn delivered(
        &mut self,
        id: StreamId,
        selector: Arc<Selector>,
        frames: Arc<[Frame]>,
        now: Instant,
    ) -> Arc<Selector> {
        self.held
            .retain(|h| now.saturating_duration_since(h.since) < HOLD);
        if self.entries.len() >= KEPT {
            if let Some(old) = self.entries.pop_front() {
                self.dropped = self.dropped.max(Some(old.id));
            }
        }
        let skip: Vec<Room> = self
            .held
            .iter()
            .filter(|h| id <= h.through)
            .map(|h| h.room.clone())
            .collect();
        self.entries.push_back(Delivered {
            id,
            selector: selector.clone(),
            frames,
        });
        if skip.is_empty() {
            return selector;
        }
        let mut narrowed = (*selector).clone();
        narrowed.except.extend(skip);
        Arc::new(narrowed)
    }

    /// The packets socket `sid` in `rooms`, whose replay went through entry `through`, still
    /// needs from what was delivered here (in delivery order), and from now on it is left out of
    /// deliveries of entries up to `through`. `None`: some it may need were forgotten.
    pub fn catch_up(
        &mut self,
        sid: &Sid,
        rooms: &[Room],
        through: StreamId,
        now: Instant,
    ) -> Option<Vec<Arc<[Frame]>>> {
        if self.dropped.is_some_and(|d| d > through) {
            return None;
        }
        let out = self
            .entries
            .iter()
            .filter(|e| e.id > through && reaches(&e.selector, sid, rooms))
            .map(|e| e.frames.clone())
            .collect();
        self.held.push(Held {
            room: Room::from(sid.as_str()),
            through,
            since: now,
        });
        Some(out)
    }
}

#[cfg(test)]
#[path = "stream_recent_tests.rs"]
mod tests;
