//! The pure state of connection state recovery on one node: each namespace's log of stored
//! packets (a contiguous run of sequence numbers, oldest first) and the sessions of sockets that
//! left with a recoverable reason. Bounded by age, by count and by bytes, per namespace and in
//! total; past a bound the oldest go first. A lookup whose range has been cut answers "not
//! recoverable", never part of the range. No I/O, no clock: callers pass `now`.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

pub use crate::options::RecoveryBounds;
use crate::protocol::engineio::Frame;
use crate::protocol::ids::Sid;
use crate::room::{Room, Selector};

pub use super::session::{Refusal, Restored, SessionState};

struct Entry {
    at: Instant,
    selector: Arc<Selector>,
    frames: Arc<[Frame]>,
    bytes: usize,
}

#[derive(Default)]
struct NsLog {
    /// Sequence number of `entries[0]` (of the next packet when empty).
    first: u64,
    entries: VecDeque<Entry>,
    bytes: usize,
    /// Session keys (persist order) of this namespace's sessions.
    sessions: BTreeMap<u64, Sid>,
}

impl NsLog {
    fn next(&self) -> u64 {
        self.first + self.entries.len() as u64
    }
}

struct Kept {
    state: SessionState,
    at: Instant,
    key: u64,
    bytes: usize,
}

/// The store of one node (all its namespaces).
pub struct RecoveryStore {
    bounds: RecoveryBounds,
    /// Prefix of every offset this store gives: offsets of another process never match.
    instance: String,
    logs: HashMap<String, NsLog>,
    packets: usize,
    packet_bytes: usize,
    sessions: HashMap<Sid, Kept>,
    /// Every session by persist order.
    order: BTreeMap<u64, Sid>,
    next_key: u64,
    /// Where a namespace's log starts when made anew: past every sequence number a forgotten log
    /// gave, so that an old offset never names a packet of the new log.
    floor: u64,
    session_bytes: usize,
    evicted: Evicted,
}

/// How many packets and sessions left the store before their time, since the last
/// [`RecoveryStore::take_evicted`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Evicted {
    /// Packets evicted by a count or bytes bound.
    pub packets: u64,
    /// Sessions evicted by a count or bytes bound.
    pub sessions: u64,
}

/// What a stored packet costs beyond its frames' bytes and its selector's room names: the log
/// entry, the selector and the frame slice with their reference counts, and the allocator's
/// header of each of its five allocations (measured: 457 bytes of resident memory per stored
/// 127-byte packet to one room, against 435 counted).
pub const ENTRY_OVERHEAD: usize = std::mem::size_of::<Entry>()
    + 2 * 16
    + std::mem::size_of::<Selector>()
    + std::mem::size_of::<Frame>()
    + 5 * 16;

impl RecoveryStore {
    /// An empty store; `instance` prefixes its offsets (random per process).
    pub fn new(bounds: RecoveryBounds, instance: String) -> Self {
        RecoveryStore {
            bounds,
            instance,
            logs: HashMap::new(),
            packets: 0,
            packet_bytes: 0,
            sessions: HashMap::new(),
            order: BTreeMap::new(),
            next_key: 0,
            floor: 0,
            session_bytes: 0,
            evicted: Evicted::default(),
        }
    }

    /// The offset the client sees for packet `seq`.
    pub fn offset(&self, seq: u64) -> String {
        format!("{}-{seq}", self.instance)
    }

    /// The sequence number of an offset this store gave, if it is one.
    fn parse_offset(&self, offset: &str) -> Option<u64> {
        let seq = offset.strip_prefix(&self.instance)?.strip_prefix('-')?;
        if seq.is_empty() || seq.len() > 20 || !seq.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        seq.parse().ok()
    }

    /// The sequence number the next packet of `nsp` will get.
    pub fn next_seq(&self, nsp: &str) -> u64 {
        self.logs.get(nsp).map_or(self.floor, NsLog::next)
    }

    /// Stores the next packet of `nsp` (its frames already carry [`RecoveryStore::offset`] of
    /// [`RecoveryStore::next_seq`]), evicting the oldest past the bounds; returns its sequence.
    pub fn push(
        &mut self,
        nsp: &str,
        selector: Arc<Selector>,
        frames: Arc<[Frame]>,
        now: Instant,
    ) -> u64 {
        let bytes = entry_bytes(&selector, &frames);
        let log = self.log_mut(nsp);
        let seq = log.next();
        log.entries.push_back(Entry {
            at: now,
            selector,
            frames,
            bytes,
        });
        log.bytes += bytes;
        self.packets += 1;
        self.packet_bytes += bytes;
        self.bound_namespace_packets(nsp);
        self.bound_total_packets();
        seq
    }

    fn log_mut(&mut self, nsp: &str) -> &mut NsLog {
        let first = self.floor;
        self.logs.entry(nsp.to_owned()).or_insert_with(|| NsLog {
            first,
            ..NsLog::default()
        })
    }

    fn pop_front(&mut self, nsp: &str) -> Option<Instant> {
        let log = self.logs.get_mut(nsp)?;
        let e = log.entries.pop_front()?;
        log.first += 1;
        log.bytes -= e.bytes;
        self.packets -= 1;
        self.packet_bytes -= e.bytes;
        Some(e.at)
    }

    fn bound_namespace_packets(&mut self, nsp: &str) {
        let b = self.bounds;
        while let Some(log) = self.logs.get(nsp) {
            let over = log.entries.len() > b.max_packets_per_namespace
                || log.bytes > b.max_packet_bytes_per_namespace;
            if !over || self.pop_front(nsp).is_none() {
                break;
            }
            self.evicted.packets += 1;
        }
    }

    /// Past a total bound, the oldest packet of any namespace goes (one scan of the namespaces'
    /// oldest packets per eviction).
    fn bound_total_packets(&mut self) {
        while self.packets > self.bounds.max_packets
            || self.packet_bytes > self.bounds.max_packet_bytes
        {
            let oldest = self
                .logs
                .iter()
                .filter_map(|(n, l)| l.entries.front().map(|e| (e.at, n)))
                .min()
                .map(|(_, n)| n.clone());
            match oldest {
                Some(nsp) if self.pop_front(&nsp).is_some() => self.evicted.packets += 1,
                _ => break,
            }
        }
    }

    /// Keeps the session of a socket that left with a recoverable reason.
    pub fn persist(&mut self, state: SessionState, now: Instant) {
        self.remove_session(&state.pid);
        let bytes = 128
            + state.nsp.len()
            + state.rooms.iter().map(|r| r.len() + 16).sum::<usize>()
            + serde_json::to_vec(&state.data).map_or(0, |v| v.len());
        let key = self.next_key;
        self.next_key += 1;
        let max_per_ns = self.bounds.max_sessions_per_namespace;
        let log = self.log_mut(&state.nsp);
        log.sessions.insert(key, state.pid);
        let over_ns = log.sessions.len() > max_per_ns;
        let first_of_ns = log.sessions.values().next().copied();
        self.order.insert(key, state.pid);
        self.session_bytes += bytes;
        let pid = state.pid;
        self.sessions.insert(
            pid,
            Kept {
                state,
                at: now,
                key,
                bytes,
            },
        );
        if let (true, Some(oldest)) = (over_ns, first_of_ns) {
            self.remove_session(&oldest);
            self.evicted.sessions += 1;
        }
        while self.sessions.len() > self.bounds.max_sessions
            || self.session_bytes > self.bounds.max_session_bytes
        {
            let Some((_, oldest)) = self.order.iter().next().map(|(k, p)| (*k, *p)) else {
                break;
            };
            self.remove_session(&oldest);
            self.evicted.sessions += 1;
        }
    }

    fn remove_session(&mut self, pid: &Sid) -> Option<Kept> {
        let kept = self.sessions.remove(pid)?;
        self.order.remove(&kept.key);
        self.session_bytes -= kept.bytes;
        if let Some(log) = self.logs.get_mut(&kept.state.nsp) {
            log.sessions.remove(&kept.key);
        }
        Some(kept)
    }

    /// Takes the session `pid` of namespace `nsp` whose client had the packet at `offset`, if
    /// it is young enough and every packet after that offset is still stored. A session taken
    /// is gone: it is recovered once.
    pub fn restore(
        &mut self,
        nsp: &str,
        pid: &str,
        offset: &str,
        now: Instant,
    ) -> Result<Restored, Refusal> {
        let pid = Sid::parse(pid).ok_or(Refusal::UnknownSession)?;
        let kept = self.sessions.get(&pid).ok_or(Refusal::UnknownSession)?;
        if now.saturating_duration_since(kept.at) > self.bounds.max_disconnection {
            self.remove_session(&pid);
            return Err(Refusal::UnknownSession);
        }
        if kept.state.nsp != nsp {
            return Err(Refusal::OtherNamespace);
        }
        let after = self.parse_offset(offset).ok_or(Refusal::BadOffset)?;
        self.covers(nsp, after, now)?;
        let kept = self.remove_session(&pid).ok_or(Refusal::UnknownSession)?;
        Ok(Restored {
            session: kept.state,
            after,
            missed: Vec::new(),
            through: None,
        })
    }

    /// Whether every packet of `nsp` after `after` is still stored (and unexpired).
    fn covers(&self, nsp: &str, after: u64, now: Instant) -> Result<(), Refusal> {
        let log = self.logs.get(nsp).ok_or(Refusal::BadOffset)?;
        if after >= log.next() {
            return Err(Refusal::BadOffset); // an offset not given yet: forged
        }
        if after + 1 < log.first {
            return Err(Refusal::RangeGone);
        }
        let max_age = self.bounds.max_disconnection;
        let first_needed = (after + 1 - log.first) as usize;
        match log.entries.get(first_needed) {
            Some(e) if now.saturating_duration_since(e.at) > max_age => Err(Refusal::RangeGone),
            _ => Ok(()),
        }
    }

    /// The frames of the packets of `nsp` after `after` that reach a socket `sid` in `rooms`,
    /// in order; `None` when some are no longer stored.
    pub fn missed(
        &self,
        nsp: &str,
        after: u64,
        sid: &Sid,
        rooms: &[Room],
        now: Instant,
    ) -> Option<Vec<Arc<[Frame]>>> {
        self.covers(nsp, after, now).ok()?;
        let log = self.logs.get(nsp)?;
        let start = (after + 1 - log.first) as usize;
        let out = log
            .entries
            .iter()
            .skip(start)
            .filter(|e| reaches(&e.selector, sid, rooms))
            .map(|e| e.frames.clone())
            .collect();
        Some(out)
    }

    /// Drops the packets and sessions older than `max_disconnection`.
    pub fn expire(&mut self, now: Instant) {
        let max_age = self.bounds.max_disconnection;
        let old = |at: Instant| now.saturating_duration_since(at) > max_age;
        let names: Vec<String> = self.logs.keys().cloned().collect();
        for nsp in names {
            while self.logs[&nsp].entries.front().is_some_and(|e| old(e.at)) {
                self.pop_front(&nsp);
            }
        }
        let expired: Vec<Sid> = self
            .sessions
            .iter()
            .filter(|(_, k)| old(k.at))
            .map(|(pid, _)| *pid)
            .collect();
        for pid in expired {
            self.remove_session(&pid);
        }
        // Empty logs nobody can recover from are forgotten (dynamic namespaces come and go).
        let floor = &mut self.floor;
        self.logs.retain(|_, log| {
            let keep = !log.entries.is_empty() || !log.sessions.is_empty();
            if !keep {
                *floor = (*floor).max(log.next());
            }
            keep
        });
    }

    /// Stored packets and their bytes; kept sessions and their bytes.
    pub fn sizes(&self) -> (usize, usize, usize, usize) {
        let s = self;
        (s.packets, s.packet_bytes, s.sessions.len(), s.session_bytes)
    }

    /// The evictions since the last call.
    pub fn take_evicted(&mut self) -> Evicted {
        std::mem::take(&mut self.evicted)
    }
}

/// Whether a packet sent to `selector` reached (or would have reached) socket `sid` in `rooms`.
pub(crate) fn reaches(selector: &Selector, sid: &Sid, rooms: &[Room]) -> bool {
    let is_in = |r: &Room| **r == *sid.as_str() || rooms.contains(r);
    let included = selector.rooms.is_empty() || selector.rooms.iter().any(is_in);
    let excluded = selector.except_sid.as_ref() == Some(sid) || selector.except.iter().any(is_in);
    included && !excluded
}

/// The bytes a stored packet holds (the frames' text or binary data counted whole; a frame
/// shared with a connection's queue is counted here as well).
fn entry_bytes(selector: &Selector, frames: &[Frame]) -> usize {
    let room = |r: &Room| std::mem::size_of::<Room>() + 16 + r.len();
    let rooms: usize = selector
        .rooms
        .iter()
        .chain(&selector.except)
        .map(room)
        .sum();
    let extra_frames = frames.len().saturating_sub(1) * std::mem::size_of::<Frame>();
    ENTRY_OVERHEAD + rooms + extra_frames + frames.iter().map(frame_len).sum::<usize>()
}

fn frame_len(f: &Frame) -> usize {
    match f {
        Frame::Text(t) => t.len(),
        Frame::Binary(b) => b.len(),
    }
}

#[path = "snapshot.rs"]
pub mod snapshot;

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
