//! The recovery store as a value that outlives the process: [`Snapshot`] is what
//! [`RecoveryStore::export`] takes of a store (its offsets' instance, each namespace's log with
//! its first sequence number, every kept session) and [`RecoveryStore::import`] puts back into an
//! empty one, so that a client of the process before a restart recovers on the process after it
//! with the offset it has. Ages become wall-clock deadlines on the way out (an [`Instant`] means
//! nothing to another process) and ages again on the way in; what has expired by the wall clock is
//! dropped, and the importing store's own bounds apply to the rest. Pure: the caller passes both
//! clocks; the file around it is `state_file`'s.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{NsLog, RecoveryStore, SessionState};
use crate::protocol::engineio::Frame;
use crate::protocol::ids::Sid;
use crate::room::{Room, Selector};

/// The `format` of every snapshot: a file without it is not one.
pub const FORMAT: &str = "roomcast-recovery-state";
/// The version this build writes and the newest it reads.
pub const VERSION: u32 = 1;

/// A recovery store as written to its state file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    /// Always [`FORMAT`].
    pub format: String,
    /// [`VERSION`] when written by this build.
    pub version: u32,
    /// The wall-clock time of the export (milliseconds since the Unix epoch).
    pub written_ms: u64,
    /// The prefix of the store's offsets; the importing store gives it again.
    pub instance: String,
    /// Where a namespace's log started when made anew.
    pub floor: u64,
    /// Each namespace's log.
    pub logs: Vec<LogRecord>,
    /// The kept sessions, oldest first.
    pub sessions: Vec<SessionRecord>,
}

/// One namespace's stored packets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogRecord {
    /// The namespace.
    pub nsp: String,
    /// The sequence number of `packets[0]` (of the next packet when empty).
    pub first: u64,
    /// Its packets, oldest first, with contiguous sequence numbers.
    pub packets: Vec<PacketRecord>,
}

/// One stored packet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PacketRecord {
    /// When it expires (wall clock, milliseconds since the Unix epoch).
    pub expires_ms: u64,
    /// The rooms it was sent to (empty: everyone).
    pub rooms: Vec<String>,
    /// The rooms it was not sent to.
    pub except: Vec<String>,
    /// The socket it was not sent to (the sender of a `socket.broadcast`).
    pub except_sid: Option<Sid>,
    /// Its encoded frames.
    pub frames: Vec<FrameRecord>,
}

/// An encoded frame: text as it is, binary as standard base64 (serde_json has no bytes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum FrameRecord {
    /// A text frame.
    #[serde(rename = "t")]
    Text(String),
    /// A binary frame, base64.
    #[serde(rename = "b")]
    Binary(String),
}

/// One kept session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionRecord {
    /// When it expires (wall clock, milliseconds since the Unix epoch).
    pub expires_ms: u64,
    /// Its socket id.
    pub sid: Sid,
    /// Its private session id.
    pub pid: Sid,
    /// Its namespace.
    pub nsp: String,
    /// Its named rooms.
    pub rooms: Vec<String>,
    /// Its `data`.
    pub data: Value,
}

/// What an import kept and dropped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Imported {
    /// Sessions now in the store.
    pub sessions: usize,
    /// Packets now in the store.
    pub packets: usize,
    /// Sessions and packets dropped because they had expired by the wall clock.
    pub expired: usize,
}

impl RecoveryStore {
    /// The store as a [`Snapshot`] at `now` (its clock) and `wall_ms` (the wall clock, milliseconds
    /// since the Unix epoch): each packet and session with the wall-clock time it expires.
    pub fn export(&self, now: Instant, wall_ms: u64) -> Snapshot {
        let max = self.bounds.max_disconnection;
        let expires = |at: Instant| {
            let left = max.saturating_sub(now.saturating_duration_since(at));
            wall_ms.saturating_add(left.as_millis() as u64)
        };
        let mut names: Vec<&String> = self.logs.keys().collect();
        names.sort();
        let logs = names
            .into_iter()
            .map(|nsp| {
                let log = &self.logs[nsp];
                let packets = log.entries.iter().map(|e| PacketRecord {
                    expires_ms: expires(e.at),
                    rooms: e.selector.rooms.iter().map(|r| r.to_string()).collect(),
                    except: e.selector.except.iter().map(|r| r.to_string()).collect(),
                    except_sid: e.selector.except_sid,
                    frames: e.frames.iter().map(frame_record).collect(),
                });
                let (nsp, first) = (nsp.clone(), log.first);
                LogRecord {
                    nsp,
                    first,
                    packets: packets.collect(),
                }
            })
            .collect();
        let sessions = self
            .order
            .values()
            .filter_map(|pid| self.sessions.get(pid))
            .filter(|k| now.saturating_duration_since(k.at) < max)
            .map(|k| SessionRecord {
                expires_ms: expires(k.at),
                sid: k.state.sid,
                pid: k.state.pid,
                nsp: k.state.nsp.clone(),
                rooms: k.state.rooms.iter().map(|r| r.to_string()).collect(),
                data: k.state.data.clone(),
            })
            .collect();
        Snapshot {
            format: FORMAT.to_owned(),
            version: VERSION,
            written_ms: wall_ms,
            instance: self.instance.clone(),
            floor: self.floor,
            logs,
            sessions,
        }
    }

    /// Puts `snap` into this store, which must be empty and must not have given an offset yet: its
    /// offsets become the snapshot's, so those its clients hold stay valid, and the next packet
    /// of a namespace gets the sequence number after the last one the snapshot had. What expired
    /// by `wall_ms` is dropped (a packet, and every older one of its namespace); the rest is kept
    /// until its wall-clock deadline, no longer than this store's `max_disconnection`, and within
    /// this store's bounds (the oldest go first, counted as evictions). `Err` says what is wrong
    /// with the snapshot; the store is then unchanged.
    pub fn import(
        &mut self,
        snap: Snapshot,
        now: Instant,
        wall_ms: u64,
    ) -> Result<Imported, String> {
        if !self.logs.is_empty() || !self.sessions.is_empty() {
            return Err("the store is not empty".to_owned());
        }
        let checked = check(snap)?;
        let max = self.bounds.max_disconnection;
        // An age from a deadline: what is left of the window, counted back from now.
        let at = |expires_ms: u64| {
            let left = Duration::from_millis(expires_ms.saturating_sub(wall_ms));
            now.checked_sub(max.saturating_sub(left)).unwrap_or(now)
        };
        let alive = |expires_ms: u64| expires_ms > wall_ms;
        let mut out = Imported::default();
        self.instance = checked.instance;
        self.floor = checked.floor;
        for (nsp, first, packets) in checked.logs {
            // Deadlines follow the log's order; anything before an expired packet goes with it.
            let cut = packets
                .iter()
                .rposition(|p| !alive(p.0))
                .map_or(0, |i| i + 1);
            out.expired += cut;
            let log = NsLog {
                first: first + cut as u64,
                ..NsLog::default()
            };
            self.logs.insert(nsp.clone(), log);
            for (expires_ms, selector, frames) in packets.into_iter().skip(cut) {
                self.push(&nsp, selector, frames, at(expires_ms));
            }
        }
        for (expires_ms, state) in checked.sessions {
            if alive(expires_ms) {
                self.persist(state, at(expires_ms));
            } else {
                out.expired += 1;
            }
        }
        // Logs left with neither packets nor sessions are forgotten (raising the floor).
        self.expire(now);
        (out.packets, out.sessions) = (self.packets, self.sessions.len());
        Ok(out)
    }
}

type Packet = (u64, Arc<Selector>, Arc<[Frame]>);

/// A snapshot's content, decoded and checked.
struct Checked {
    instance: String,
    floor: u64,
    logs: Vec<(String, u64, Vec<Packet>)>,
    sessions: Vec<(u64, SessionState)>,
}

/// Decodes and checks everything of `snap` before the store changes.
fn check(snap: Snapshot) -> Result<Checked, String> {
    if snap.format != FORMAT {
        return Err(format!("format {:?}, not {FORMAT:?}", snap.format));
    }
    if snap.version != VERSION {
        return Err(format!(
            "version {} (this build reads {VERSION})",
            snap.version
        ));
    }
    let instance_ok = (1..=32).contains(&snap.instance.len())
        && snap
            .instance
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !instance_ok {
        return Err(format!("bad instance {:?}", snap.instance));
    }
    let room = |r: String| -> Room { r.into() };
    let mut floor = snap.floor;
    let mut logs = Vec::with_capacity(snap.logs.len());
    for log in snap.logs {
        if !log.nsp.starts_with('/') {
            return Err(format!("bad namespace {:?}", log.nsp));
        }
        let next = log
            .first
            .checked_add(log.packets.len() as u64)
            .filter(|n| *n < u64::MAX / 2)
            .ok_or_else(|| format!("sequence numbers of {:?} out of range", log.nsp))?;
        floor = floor.max(next);
        let mut packets = Vec::with_capacity(log.packets.len());
        for p in log.packets {
            let frames = p
                .frames
                .into_iter()
                .map(frame)
                .collect::<Result<Vec<_>, _>>()?;
            let selector = Selector {
                rooms: p.rooms.into_iter().map(room).collect(),
                except: p.except.into_iter().map(room).collect(),
                except_sid: p.except_sid,
            };
            packets.push((p.expires_ms, Arc::new(selector), frames.into()));
        }
        logs.push((log.nsp, log.first, packets));
    }
    let mut sessions = Vec::with_capacity(snap.sessions.len());
    for s in snap.sessions {
        if !s.nsp.starts_with('/') {
            return Err(format!("bad namespace {:?} of session", s.nsp));
        }
        let state = SessionState {
            sid: s.sid,
            pid: s.pid,
            nsp: s.nsp,
            rooms: s.rooms.into_iter().map(room).collect(),
            data: s.data,
        };
        sessions.push((s.expires_ms, state));
    }
    Ok(Checked {
        instance: snap.instance,
        floor,
        logs,
        sessions,
    })
}

fn frame_record(f: &Frame) -> FrameRecord {
    match f {
        Frame::Text(t) => FrameRecord::Text(t.to_string()),
        Frame::Binary(b) => {
            FrameRecord::Binary(base64::engine::general_purpose::STANDARD.encode(b))
        }
    }
}

fn frame(f: FrameRecord) -> Result<Frame, String> {
    Ok(match f {
        FrameRecord::Text(t) => Frame::Text(t.into()),
        FrameRecord::Binary(b) => Frame::Binary(
            base64::engine::general_purpose::STANDARD
                .decode(b)
                .map_err(|e| format!("bad binary frame: {e}"))?
                .into(),
        ),
    })
}

#[cfg(test)]
#[path = "snapshot_tests.rs"]
mod tests;
