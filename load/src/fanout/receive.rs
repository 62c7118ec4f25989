//! What every receiver of a fanout run does with a delivery, whatever carries it (the fleet's own
//! WebSocket clients, or receivers outside the fleet such as long-polling clients): check it
//! against a per-publisher sliding window (duplicates, reordering, foreign messages) and time it.

use std::rc::Rc;

use super::fleet::Shared;
use crate::scan::{self, Stamp};
use crate::sys::now_us;
use crate::ws::Handler;

/// Sliding window over one publisher's sequence numbers as seen by one receiver.
#[derive(Default, Clone, Copy)]
pub(super) struct Window {
    max: u64,
    bits: u64,
}

enum Seen {
    New,
    Reordered,
    Duplicate,
}

impl Window {
    #[inline]
    fn see(&mut self, s: u64) -> Seen {
        if s > self.max {
            let shift = s - self.max;
            self.bits = if shift >= 64 { 0 } else { self.bits << shift };
            self.bits |= 1;
            self.max = s;
            Seen::New
        } else {
            let d = self.max - s;
            if d >= 64 {
                // Too old to tell: counted as a (late) new delivery.
                Seen::Reordered
            } else if self.bits & (1 << d) != 0 {
                Seen::Duplicate
            } else {
                self.bits |= 1 << d;
                Seen::Reordered
            }
        }
    }
}

/// Where a receiver is and what it has seen.
pub(super) struct Seat {
    pub(super) room: usize,
    pub(super) rooms: usize,
    pub(super) windows: Vec<Window>,
    /// In a cluster run: whether this client is on another node than the publishers.
    pub(super) cross: Option<bool>,
}

impl Seat {
    /// Counts one delivery stamped `st`, received now.
    pub(super) fn record(&mut self, shared: &Shared, st: Stamp) {
        let now = now_us();
        let local = (st.p as usize) / self.rooms;
        if (st.p as usize) % self.rooms != self.room || local >= self.windows.len() {
            shared.foreign.set(shared.foreign.get() + 1);
            return;
        }
        let mut phases = shared.phases.borrow_mut();
        let Some(ph) = phases.get_mut(st.k as usize) else {
            shared.foreign.set(shared.foreign.get() + 1);
            return;
        };
        match self.windows[local].see(st.s) {
            Seen::Duplicate => {
                ph.duplicates += 1;
                return;
            }
            Seen::Reordered => ph.reordered += 1,
            Seen::New => {}
        }
        ph.delivered += 1;
        if st.t >= ph.measure_from_us {
            ph.measured += 1;
            let us = now.saturating_sub(st.t);
            ph.lat.record(us);
            match self.cross {
                Some(true) => {
                    ph.measured_cross += 1;
                    ph.lat_cross.record(us);
                }
                Some(false) => ph.lat_same.record(us),
                None => {}
            }
        }
    }

    /// Counts a delivery whose arguments are `args` (the stamp first).
    pub(super) fn record_args(&mut self, shared: &Shared, args: &[u8]) {
        match scan::read_stamp(args) {
            Some(st) => self.record(shared, st),
            None => shared.foreign.set(shared.foreign.get() + 1),
        }
    }
}

/// A receiver of one room outside the fleet (a long-polling client, say), counted in the fleet's
/// phases as `FanoutParams::extra_per_room` says. It takes the Socket.IO packets as a [`Handler`].
pub struct Receiver {
    pub(super) shared: Rc<Shared>,
    pub(super) deliver: Vec<u8>,
    pub(super) seat: Seat,
}

impl Receiver {
    /// The room this receiver is counted in.
    pub fn room(&self) -> usize {
        self.seat.room
    }
}

impl Handler for Receiver {
    fn on_event(&mut self, name: &[u8], args: &[u8]) {
        if name != self.deliver.as_slice() {
            let n = &self.shared.other_events;
            n.set(n.get() + 1);
            return;
        }
        self.seat.record_args(&self.shared, args);
    }
}
