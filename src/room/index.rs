//! The pure rooms <-> sockets index of one room supervisor. A socket's own id works as a room
//! without being stored as one (it costs nothing per socket); named rooms are created on first join
//! and deleted when their last member leaves.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::protocol::ids::{Sid, SidBuildHasher};

/// A room name.
pub type Room = Arc<str>;

/// Who a broadcast or a bulk operation targets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selector {
    /// Sockets in any of these rooms (a socket id counts as its own room); empty: every socket.
    pub rooms: Vec<Room>,
    /// Minus the sockets in any of these rooms.
    pub except: Vec<Room>,
    /// Minus this socket (the sender of a `socket.broadcast`).
    pub except_sid: Option<Sid>,
}

struct Entry<M> {
    value: M,
    rooms: HashSet<Room>,
}

type SidState = SidBuildHasher;
type SidSet = HashSet<Sid, SidState>;

/// Rooms and members.
pub struct RoomIndex<M> {
    rooms: HashMap<Room, SidSet>,
    members: HashMap<Sid, Entry<M>, SidState>,
}

impl<M> Default for RoomIndex<M> {
    fn default() -> Self {
        RoomIndex {
            rooms: HashMap::new(),
            members: HashMap::default(),
        }
    }
}

impl<M> RoomIndex<M> {
    /// Adds a member (in no named room yet).
    pub fn insert(&mut self, sid: Sid, value: M) {
        self.members.insert(
            sid,
            Entry {
                value,
                rooms: HashSet::new(),
            },
        );
    }

    /// Removes a member from every room; returns its value and the rooms it was in.
    pub fn remove(&mut self, sid: &Sid) -> Option<(M, Vec<Room>)> {
        let member = self.members.remove(sid)?;
        let rooms: Vec<Room> = member.rooms.into_iter().collect();
        for room in &rooms {
            self.unlink(room, sid);
        }
        Some((member.value, rooms))
    }

    /// Adds `sid` to `rooms`; false (and nothing changes) if `sid` is not a member.
    pub fn join(&mut self, sid: &Sid, rooms: &[Room]) -> bool {
        let Some(member) = self.members.get_mut(sid) else {
            return false;
        };
        for room in rooms {
            if member.rooms.insert(room.clone()) {
                self.rooms.entry(room.clone()).or_default().insert(*sid);
            }
        }
        true
    }

    /// Removes `sid` from `rooms`; false if `sid` is not a member.
    pub fn leave(&mut self, sid: &Sid, rooms: &[Room]) -> bool {
        let Some(member) = self.members.get_mut(sid) else {
            return false;
        };
        let left: Vec<&Room> = rooms.iter().filter(|r| member.rooms.remove(*r)).collect();
        for room in left {
            self.unlink(room, sid);
        }
        true
    }

    fn unlink(&mut self, room: &Room, sid: &Sid) {
        if let Some(set) = self.rooms.get_mut(room) {
            set.remove(sid);
            if set.is_empty() {
                self.rooms.remove(room);
            }
        }
    }

    /// Whether `sid` is selected by one of `rooms` (named membership or its own id).
    fn in_any(&self, sid: &Sid, member: &Entry<M>, rooms: &[Room]) -> bool {
        rooms
            .iter()
            .any(|r| member.rooms.contains(r) || **r == *sid.as_str())
    }

    /// Calls `f` once for each member `sel` selects (rooms are a union; each member at most once).
    pub fn for_each_target(&self, sel: &Selector, mut f: impl FnMut(&Sid, &M)) {
        let excluded = |sid: &Sid, member: &Entry<M>| {
            sel.except_sid.as_ref() == Some(sid) || self.in_any(sid, member, &sel.except)
        };
        if sel.rooms.is_empty() {
            for (sid, member) in &self.members {
                if !excluded(sid, member) {
                    f(sid, &member.value);
                }
            }
            return;
        }
        let mut seen = SidSet::default();
        let single = sel.rooms.len() == 1;
        for room in &sel.rooms {
            let mut visit = |sid: &Sid| {
                if let Some(member) = self.members.get(sid) {
                    if (single || seen.insert(*sid)) && !excluded(sid, member) {
                        f(sid, &member.value);
                    }
                }
            };
            if let Some(set) = self.rooms.get(room) {
                set.iter().for_each(&mut visit);
            }
            if let Some(sid) = Sid::parse(room) {
                if !self.rooms.get(room).is_some_and(|s| s.contains(&sid)) {
                    visit(&sid);
                }
            }
        }
    }

    /// The sids `sel` selects.
    pub fn targets(&self, sel: &Selector) -> Vec<Sid> {
        let mut out = Vec::new();
        self.for_each_target(sel, |sid, _| out.push(*sid));
        out
    }

    /// Named rooms with their member counts.
    pub fn room_sizes(&self) -> Vec<(Room, usize)> {
        self.rooms
            .iter()
            .map(|(r, s)| (r.clone(), s.len()))
            .collect()
    }

    /// The named rooms of `sid`.
    pub fn rooms_of(&self, sid: &Sid) -> Option<Vec<Room>> {
        self.members
            .get(sid)
            .map(|m| m.rooms.iter().cloned().collect())
    }

    /// The value stored for `sid`.
    pub fn get(&self, sid: &Sid) -> Option<&M> {
        self.members.get(sid).map(|m| &m.value)
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// True with no members.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Whether named room `room` has a member.
    pub fn has_room(&self, room: &str) -> bool {
        self.rooms.contains_key(room)
    }

    /// Number of named rooms.
    pub fn room_count(&self) -> usize {
        self.rooms.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(s: &str) -> Room {
        Arc::from(s)
    }

    fn sel(rooms: &[&str], except: &[&str], except_sid: Option<Sid>) -> Selector {
        Selector {
            rooms: rooms.iter().map(|r| room(r)).collect(),
            except: except.iter().map(|r| room(r)).collect(),
            except_sid,
        }
    }

    fn sorted(mut v: Vec<Sid>) -> Vec<Sid> {
        v.sort();
        v
    }

    #[test]
    fn union_each_socket_once_and_except() {
        let (a, b, c) = (Sid::new(), Sid::new(), Sid::new());
        let mut idx = RoomIndex::default();
        for s in [a, b, c] {
            idx.insert(s, ());
        }
        assert!(idx.join(&a, &[room("r1"), room("r2")]));
        assert!(idx.join(&b, &[room("r2")]));
        assert_eq!(
            sorted(idx.targets(&sel(&["r1", "r2"], &[], None))),
            sorted(vec![a, b])
        );
        assert_eq!(idx.targets(&sel(&["r2"], &["r1"], None)), vec![b]);
        assert_eq!(idx.targets(&sel(&["r2"], &[], Some(b))), vec![a]);
        assert_eq!(
            sorted(idx.targets(&sel(&[], &["r2"], None))),
            vec![c],
            "everyone except r2"
        );
        assert_eq!(idx.targets(&sel(&[], &[], None)).len(), 3);
        assert_eq!(idx.targets(&sel(&["nope"], &[], None)), vec![]);
    }

    #[test]
    fn own_id_is_a_room() {
        let (a, b) = (Sid::new(), Sid::new());
        let mut idx = RoomIndex::default();
        idx.insert(a, ());
        idx.insert(b, ());
        assert_eq!(idx.targets(&sel(&[a.as_str()], &[], None)), vec![a]);
        assert_eq!(idx.targets(&sel(&[], &[b.as_str()], None)), vec![a]);
        assert_eq!(idx.room_count(), 0, "own ids are not stored as rooms");
    }

    #[test]
    fn empty_rooms_are_deleted_and_unknown_sockets_refused() {
        let a = Sid::new();
        let mut idx = RoomIndex::default();
        assert!(
            !idx.join(&a, &[room("r")]),
            "join for a socket that is gone"
        );
        idx.insert(a, 1);
        idx.join(&a, &[room("r"), room("s")]);
        assert_eq!(idx.room_count(), 2);
        assert!(idx.has_room("r") && !idx.has_room("t"));
        idx.leave(&a, &[room("r")]);
        assert!(!idx.has_room("r"));
        assert_eq!(idx.room_count(), 1);
        let (v, rooms) = idx.remove(&a).expect("member");
        assert_eq!((v, rooms), (1, vec![room("s")]));
        assert_eq!((idx.room_count(), idx.len()), (0, 0));
    }

    #[test]
    fn sid_hashes_spread_over_buckets() {
        use std::hash::BuildHasher;
        let hashes: HashSet<u64> = (0..10_000)
            .map(|_| SidState::default().hash_one(Sid::new()) & 0xfff)
            .collect();
        assert!(
            hashes.len() > 3_500,
            "{} of 4096 low-bit buckets",
            hashes.len()
        );
    }
}
