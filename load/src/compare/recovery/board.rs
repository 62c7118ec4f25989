//! What the clients of a recovery scenario count, shared by every client task: how far each room's
//! publisher got, and for each subscriber which of its room's sequence numbers it received (once,
//! twice, out of order), how often it was dropped, came back and was recovered; and the latency
//! of the subscribers that are never dropped.

use std::cell::{Cell, RefCell};

use serde::Serialize;

use crate::common::SetupCounts;
use crate::stats::{Lat, LatencySummary};

/// What one subscriber saw.
#[derive(Default)]
pub(super) struct Tally {
    /// Bit `s` set: sequence number `s` of the room was delivered.
    seen: Vec<u64>,
    max_seq: u64,
    /// Distinct sequence numbers delivered.
    pub(super) delivered: u64,
    pub(super) duplicates: u64,
    /// Deliveries of a sequence number lower than one delivered before.
    pub(super) out_of_order: u64,
    /// Connections dropped on the scenario's command.
    pub(super) drops: u32,
    /// Connections made again after a drop or a loss (joined, or recovered).
    pub(super) reconnects: u32,
    /// Reconnections the server recovered (same sid, a pid).
    pub(super) recovered: u32,
    /// Reconnections that asked for recovery (pid and offset) and got a new session.
    pub(super) not_recovered: u32,
    /// Connection attempts that failed after setup (retried with a backoff).
    pub(super) failed_attempts: u32,
    /// Connections the server ended (or that failed) without being dropped.
    pub(super) lost: u32,
    /// Connected and in its room (joined, or recovered) now.
    pub(super) connected: bool,
    /// When the last drop happened (µs of the generator's clock).
    pub(super) dropped_at_us: u64,
    /// The first delivery after the last drop (µs), if any yet.
    pub(super) back_at_us: Option<u64>,
}

impl Tally {
    /// Counts a delivery of sequence number `seq` (≥ 1, not past what was published) at `now_us`.
    pub(super) fn see(&mut self, seq: u64, now_us: u64) {
        if self.drops > 0 && self.back_at_us.is_none() {
            self.back_at_us = Some(now_us);
        }
        let (word, bit) = ((seq / 64) as usize, seq % 64);
        if self.seen.len() <= word {
            self.seen.resize(word + 1, 0);
        }
        if self.seen[word] & (1 << bit) != 0 {
            self.duplicates += 1;
            return;
        }
        self.seen[word] |= 1 << bit;
        self.delivered += 1;
        if seq < self.max_seq {
            self.out_of_order += 1;
        } else {
            self.max_seq = seq;
        }
    }

    /// A drop at `now_us`.
    pub(super) fn dropped(&mut self, now_us: u64) {
        self.drops += 1;
        self.dropped_at_us = now_us;
        self.back_at_us = None;
    }
}

/// The latency of the undisturbed subscribers, by when the message was published: before the
/// measured window, in it, after it.
#[derive(Default)]
pub(super) struct Lats {
    /// The window `[from, to)` (µs); none yet: everything counts as before.
    pub(super) window: Option<(u64, u64)>,
    pub(super) before: Lat,
    pub(super) during: Lat,
    pub(super) after: Lat,
}

impl Lats {
    fn record(&mut self, sent_us: u64, now_us: u64) {
        let us = now_us.saturating_sub(sent_us);
        match self.window {
            Some((from, to)) if sent_us >= from && sent_us < to => self.during.record(us),
            Some((_, to)) if sent_us >= to => self.after.record(us),
            _ => self.before.record(us),
        }
    }
}

/// The undisturbed subscribers' latency, as reported.
#[derive(Debug, Clone, Copy, Serialize)]
pub(super) struct LatsReport {
    pub(super) before: LatencySummary,
    pub(super) during: LatencySummary,
    pub(super) after: LatencySummary,
}

/// Everything the clients of one run count.
#[derive(Default)]
pub(super) struct Board {
    /// The last sequence number published into each room (the count of its publishes).
    pub(super) published: RefCell<Vec<u64>>,
    /// By subscriber index.
    pub(super) tallies: RefCell<Vec<Tally>>,
    pub(super) lats: RefCell<Lats>,
    /// The subscribers' setup (connected and joined).
    pub(super) setup: SetupCounts,
    /// The publishers' setup, and their connections lost.
    pub(super) pub_setup: SetupCounts,
    /// Publishers done with the current window.
    pub(super) pubs_done: Cell<usize>,
    pub(super) acks_ok: Cell<u64>,
    pub(super) acks_refused: Cell<u64>,
    /// Deliveries that were not a message of the subscriber's room (or not parsed).
    pub(super) foreign: Cell<u64>,
    /// Events other than the delivered one.
    pub(super) other_events: Cell<u64>,
    /// The first error after setup (a failed reconnection, a lost connection).
    pub(super) first_error: RefCell<Option<String>>,
}

impl Board {
    /// A board for `rooms` rooms and `subscribers` subscribers.
    pub(super) fn new(rooms: usize, subscribers: usize) -> Board {
        let board = Board::default();
        *board.published.borrow_mut() = vec![0; rooms];
        board
            .tallies
            .borrow_mut()
            .resize_with(subscribers, Tally::default);
        board
    }

    /// Counts a delivery to subscriber `index` of room `room` (sequence `seq`, sent at `sent_us`);
    /// false when it is no message of that room.
    pub(super) fn deliver(
        &self,
        index: usize,
        room: usize,
        seq: u64,
        sent_us: u64,
        undisturbed: bool,
    ) -> bool {
        let published = self.published.borrow().get(room).copied().unwrap_or(0);
        if seq == 0 || seq > published {
            self.foreign.set(self.foreign.get() + 1);
            return false;
        }
        let now = crate::sys::now_us();
        self.tallies.borrow_mut()[index].see(seq, now);
        if undisturbed {
            self.lats.borrow_mut().record(sent_us, now);
        }
        true
    }

    /// Keeps `e` if it is the first error after setup.
    pub(super) fn error(&self, e: impl std::fmt::Display) {
        let mut first = self.first_error.borrow_mut();
        if first.is_none() {
            *first = Some(e.to_string());
        }
    }

    /// The undisturbed subscribers' latency.
    pub(super) fn lats(&self) -> LatsReport {
        let l = self.lats.borrow();
        LatsReport {
            before: l.before.summary(),
            during: l.during.summary(),
            after: l.after.summary(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Tally;

    #[test]
    fn a_tally_counts_each_sequence_number_once_and_notes_disorder() {
        let mut t = Tally::default();
        for s in [1, 2, 3, 5, 4, 4, 200, 3] {
            t.see(s, 10);
        }
        assert_eq!(t.delivered, 6);
        assert_eq!(t.duplicates, 2);
        assert_eq!(t.out_of_order, 1);
        assert_eq!(t.back_at_us, None, "no drop yet");
        t.dropped(20);
        t.see(201, 30);
        t.see(202, 40);
        assert_eq!(t.back_at_us, Some(30));
    }
}
