//! The broadcast operator: an immutable builder of "who" (rooms, except rooms, except the sender,
//! volatile) over one or more namespaces, ending in an emit or a bulk operation through each
//! namespace's adapter. The packet is encoded once; every recipient gets the same bytes.

use std::sync::Arc;

use crate::namespace::Namespace;
use crate::payload::Payload;
use crate::protocol::engineio::Frame;
use crate::protocol::ids::Sid;
use crate::protocol::socketio::is_reserved_event;
use crate::room::{Room, Selector};
use crate::socket::{EmitError, Socket};

/// Targets of a broadcast.
#[derive(Clone)]
pub struct BroadcastOperator {
    namespaces: Vec<Arc<Namespace>>,
    selector: Selector,
    volatile: bool,
}

impl BroadcastOperator {
    pub(crate) fn new(namespaces: Vec<Arc<Namespace>>) -> Self {
        BroadcastOperator {
            namespaces,
            selector: Selector::default(),
            volatile: false,
        }
    }

    /// Adds rooms to the targets (a union; each socket receives once).
    pub fn to<R: Into<Room>>(mut self, rooms: impl IntoIterator<Item = R>) -> Self {
        self.selector
            .rooms
            .extend(rooms.into_iter().map(Into::into));
        self
    }

    /// Same as [`BroadcastOperator::to`].
    pub fn in_<R: Into<Room>>(self, rooms: impl IntoIterator<Item = R>) -> Self {
        self.to(rooms)
    }

    /// Excludes the sockets in these rooms.
    pub fn except<R: Into<Room>>(mut self, rooms: impl IntoIterator<Item = R>) -> Self {
        self.selector
            .except
            .extend(rooms.into_iter().map(Into::into));
        self
    }

    pub(crate) fn except_socket(mut self, sid: Sid) -> Self {
        self.selector.except_sid = Some(sid);
        self
    }

    /// Recipients whose queue is full miss this packet instead of being disconnected.
    pub fn volatile(mut self) -> Self {
        self.volatile = true;
        self
    }

    /// Sends `event` to every target.
    pub fn emit(&self, event: &str, payload: impl Into<Payload>) -> Result<(), EmitError> {
        if is_reserved_event(event) {
            return Err(EmitError::Reserved(event.to_owned()));
        }
        let payload = payload.into();
        let selector = Arc::new(self.selector.clone());
        for ns in &self.namespaces {
            let frames: Arc<[Frame]> = payload.clone().event_frames(ns.name(), event, None).into();
            ns.adapter()
                .broadcast(frames, selector.clone(), self.volatile);
        }
        Ok(())
    }

    /// The targets join `rooms`.
    pub fn sockets_join<R: Into<Room>>(&self, rooms: impl IntoIterator<Item = R>) {
        let rooms: Vec<Room> = rooms.into_iter().map(Into::into).collect();
        let selector = Arc::new(self.selector.clone());
        for ns in &self.namespaces {
            ns.adapter().sockets_join(selector.clone(), rooms.clone());
        }
    }

    /// The targets leave `rooms`.
    pub fn sockets_leave<R: Into<Room>>(&self, rooms: impl IntoIterator<Item = R>) {
        let rooms: Vec<Room> = rooms.into_iter().map(Into::into).collect();
        let selector = Arc::new(self.selector.clone());
        for ns in &self.namespaces {
            ns.adapter().sockets_leave(selector.clone(), rooms.clone());
        }
    }

    /// The targets are disconnected (their connections closed too when `close`).
    pub fn disconnect_sockets(&self, close: bool) {
        let selector = Arc::new(self.selector.clone());
        for ns in &self.namespaces {
            ns.adapter().disconnect_sockets(selector.clone(), close);
        }
    }

    /// The targets.
    pub async fn fetch_sockets(&self) -> Vec<Socket> {
        let selector = Arc::new(self.selector.clone());
        let mut out = Vec::new();
        for ns in &self.namespaces {
            out.extend(ns.adapter().fetch_sockets(selector.clone()).await);
        }
        out
    }
}
