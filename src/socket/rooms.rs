//! A socket's rooms: joining and leaving (under the per-socket and server-wide membership limits),
//! and the bookkeeping the room supervisors ask for.

use std::sync::atomic::Ordering;

use super::{JoinError, Socket};
use crate::room::Room;

impl Socket {
    /// The rooms the socket is in, its own id first.
    pub fn rooms(&self) -> Vec<String> {
        let rooms = self.0.rooms.lock();
        let mut out = Vec::with_capacity(rooms.len() + 1);
        out.push(self.0.id.to_string());
        out.extend(rooms.iter().map(|r| r.to_string()));
        out
    }

    /// The named rooms, sorted (own id excluded).
    pub fn named_rooms(&self) -> Vec<Room> {
        self.0.rooms.lock().iter().cloned().collect()
    }

    /// Takes `new` memberships from the server's budget (`max_memberships`), or refuses.
    fn reserve_memberships(&self, new: usize) -> Result<(), JoinError> {
        let limit = self.0.ns.limits().max_memberships;
        let held = &self.0.ns.metrics().memberships;
        if held.fetch_add(new, Ordering::AcqRel) + new > limit {
            held.fetch_sub(new, Ordering::AcqRel);
            return Err(JoinError::ServerLimit(limit));
        }
        Ok(())
    }

    fn release_memberships(&self, n: usize) {
        self.0
            .ns
            .metrics()
            .memberships
            .fetch_sub(n, Ordering::AcqRel);
    }

    /// Records rooms joined by a bulk operation, under the same limits as [`Socket::join`] (all
    /// or none); the room supervisor adds the socket to them only when this succeeds.
    pub(crate) fn record_joined(&self, rooms: &[Room]) -> Result<(), JoinError> {
        let own = self.0.id.as_str();
        let limit = self.0.ns.limits().max_rooms_per_socket;
        let added: Vec<Room> = {
            let mut set = self.0.rooms.lock();
            let mut fresh: Vec<&Room> = rooms
                .iter()
                .filter(|r| ***r != *own && !set.contains(*r))
                .collect();
            fresh.sort_unstable();
            fresh.dedup();
            if set.len() + fresh.len() > limit {
                return Err(JoinError::TooManyRooms(limit));
            }
            self.reserve_memberships(fresh.len())?;
            fresh
                .into_iter()
                .filter(|r| set.insert((*r).clone()))
                .cloned()
                .collect()
        };
        if let (Some(observer), false) = (self.observer(), added.is_empty()) {
            observer.rooms_joined(self, &added);
        }
        Ok(())
    }

    pub(crate) fn record_left(&self, rooms: &[Room]) {
        let removed: Vec<Room> = {
            let mut set = self.0.rooms.lock();
            rooms.iter().filter(|r| set.remove(*r)).cloned().collect()
        };
        self.release_memberships(removed.len());
        if let (Some(observer), false) = (self.observer(), removed.is_empty()) {
            observer.rooms_left(self, &removed);
        }
    }

    pub(crate) fn clear_rooms(&self) {
        let mut set = self.0.rooms.lock();
        self.release_memberships(set.len());
        set.clear();
    }

    /// Joins rooms. Refused past the per-socket room limit (the socket's own id not counted).
    pub fn join<R: Into<Room>>(&self, rooms: impl IntoIterator<Item = R>) -> Result<(), JoinError> {
        if !self.connected() {
            return Err(JoinError::Disconnected);
        }
        let limit = self.0.ns.limits().max_rooms_per_socket;
        let rooms: Vec<Room> = rooms
            .into_iter()
            .map(Into::into)
            .filter(|r: &Room| **r != *self.0.id.as_str())
            .collect();
        let added: Vec<Room> = {
            let mut set = self.0.rooms.lock();
            let mut fresh: Vec<&Room> = rooms.iter().filter(|r| !set.contains(*r)).collect();
            fresh.sort_unstable();
            fresh.dedup();
            if set.len() + fresh.len() > limit {
                return Err(JoinError::TooManyRooms(limit));
            }
            self.reserve_memberships(fresh.len())?;
            match self.observer() {
                Some(_) => fresh
                    .into_iter()
                    .filter(|r| set.insert((*r).clone()))
                    .cloned()
                    .collect(),
                None => {
                    set.extend(fresh.into_iter().cloned());
                    Vec::new()
                }
            }
        };
        self.0.ns.adapter().join(self.0.id, rooms);
        if let (Some(observer), false) = (self.observer(), added.is_empty()) {
            observer.rooms_joined(self, &added);
        }
        Ok(())
    }

    /// Leaves rooms.
    pub fn leave<R: Into<Room>>(&self, rooms: impl IntoIterator<Item = R>) {
        let rooms: Vec<Room> = rooms.into_iter().map(Into::into).collect();
        self.record_left(&rooms);
        self.0.ns.adapter().leave(self.0.id, rooms);
    }
}
