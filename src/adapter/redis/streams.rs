//! The Redis Streams adapter (`@socket.io/redis-streams-adapter` 0.3's `createAdapter`, reference
//! section 4.5): the `ClusterAdapter` messages that must not be lost (BROADCAST without
//! acknowledgements, SOCKETS_JOIN, SOCKETS_LEAVE, DISCONNECT_SOCKETS) are appended to one Redis
//! stream ([`StreamLink`]) that every server reads, and with connection state recovery on, a
//! broadcast's entry id is its offset: the packet is delivered here once Redis gave it its id
//! (appended as the last argument), and other servers append the same id when they deliver it.
//!
//! A [`StreamsAdapter`] wraps the namespace's [`LocalAdapter`]: it applies everything locally and
//! appends for the others, and carries out the other servers' entries (its own are ignored by
//! uid). Kept sessions live in Redis under `<session prefix><pid>` ([`super::stream_sessions`]),
//! so a client recovers on any server of the cluster, Node or roomcast.
//!
//! Not carried yet: what Node sends over pub/sub (`socket.io#<nsp>#`, msgpack): broadcasts with
//! acknowledgements, server-side events and fetching other servers' sockets stay local here.

use std::sync::{Arc, Weak};
use std::time::Duration;

use metrics::Counter;
use serde_json::Value;

use crate::adapter::local::{ArbiterPool, LocalAdapter};
use crate::adapter::recovery::store::{Restored, SessionState};
use crate::adapter::redis::adapter::admits_remote;
use crate::adapter::redis::cluster_wire::{ClusterBody, ClusterMessage};
use crate::adapter::redis::link::{self, shed_counter};
use crate::adapter::redis::sharded_peers::cluster_uid;
use crate::adapter::redis::stream_link::{EntryHandler, StreamLink};
use crate::adapter::redis::stream_sessions;
use crate::adapter::redis::stream_wire::entry_fields;
use crate::adapter::redis::wire::{Broadcast, Flags, Targets, WirePacket};
use crate::adapter::{Adapter, BoxFuture, BroadcastMessage};
use crate::metrics::Metrics;
use crate::payload::encode_frames;
use crate::protocol::ids::Sid;
use crate::protocol::socketio::Parser;
use crate::room::{Member, Room, Selector, SocketDescription};

pub use super::streams_factory::StreamsAdapterFactory;

/// Whether `message` gets an offset under connection state recovery: an event that is neither
/// volatile nor waiting for acknowledgements.
fn takes_offset(message: &BroadcastMessage) -> bool {
    !message.options.volatile && message.packet.id.is_none()
}

/// `message` with `offset` appended to its arguments, encoded again with `parser`.
fn with_offset(mut message: BroadcastMessage, offset: &str, parser: Parser) -> BroadcastMessage {
    if let Some(Value::Array(args)) = message.packet.data.as_mut() {
        args.push(Value::from(offset));
        message.frames = encode_frames(parser, &message.packet, &message.binary).into();
    }
    message
}

/// One namespace's adapter in a cluster of servers sharing a Redis stream.
pub struct StreamsAdapter<M: Member> {
    local: Arc<LocalAdapter<M>>,
    link: Arc<StreamLink>,
    nsp: String,
    uid: String,
    parser: Parser,
    /// How long a kept session lives, when connection state recovery is on.
    recovery: Option<Duration>,
}

impl<M: Member> StreamsAdapter<M> {
    /// The adapter of namespace `nsp` on `link`, its room supervisors on `pool`, delivering
    /// encoded with `parser`; keeping sessions for `recovery` when that is set.
    pub fn new(
        link: Arc<StreamLink>,
        nsp: &str,
        (parser, recovery): (Parser, Option<Duration>),
        pool: &ArbiterPool,
        metrics: &Arc<Metrics>,
    ) -> Self {
        let local = Arc::new(LocalAdapter::new(&pool.handles(), metrics));
        let uid = cluster_uid();
        let shed = shed_counter(metrics);
        let handler = entry_handler(
            Arc::downgrade(&local),
            uid.clone(),
            (parser, recovery),
            shed,
        );
        link.listen(nsp, handler);
        StreamsAdapter {
            local,
            link,
            nsp: nsp.to_owned(),
            uid,
            parser,
            recovery,
        }
    }

    /// This adapter's uid (the `uid` of its entries).
    pub fn uid(&self) -> &str {
        &self.uid
    }

    fn message(&self, body: ClusterBody) -> ClusterMessage {
        ClusterMessage {
            uid: self.uid.clone(),
            nsp: self.nsp.clone(),
            body,
            binary: Vec::new(),
        }
    }

    fn broadcast_entry(&self, message: &BroadcastMessage) -> Vec<(&'static str, String)> {
        let body = ClusterBody::Broadcast {
            packet: WirePacket {
                packet: message.packet.clone(),
                binary: message.binary.clone(),
            },
            targets: Targets::from_selector(&message.options.selector),
            flags: Flags {
                volatile: message.options.volatile,
                ..Flags::default()
            },
            request_id: None,
        };
        entry_fields(&self.message(body))
    }

    /// Appends `message` and hands it to `deliver`: at once, or with recovery on (and an event
    /// that takes an offset) once the stream gave it its id, with that id appended.
    fn appended(
        &self,
        message: BroadcastMessage,
        deliver: impl FnOnce(BroadcastMessage) + Send + 'static,
    ) {
        let fields = self.broadcast_entry(&message);
        if self.recovery.is_none() || !takes_offset(&message) {
            self.link.append(fields, None);
            return deliver(message);
        }
        let parser = self.parser;
        let done = move |id: Option<String>| match id {
            Some(id) => deliver(with_offset(message, &id, parser)),
            None => deliver(message),
        };
        self.link.append(fields, Some(Box::new(done)));
    }

    fn append(&self, body: ClusterBody) {
        self.link.append(entry_fields(&self.message(body)), None);
    }
}

/// What to do with an entry of namespace `nsp`: another server's, carried out on `local`.
fn entry_handler<M: Member>(
    local: Weak<LocalAdapter<M>>,
    uid: String,
    (parser, recovery): (Parser, Option<Duration>),
    shed: Counter,
) -> EntryHandler {
    Arc::new(move |message: ClusterMessage, id: &str| {
        let Some(local) = local.upgrade() else { return };
        if message.uid == uid {
            return;
        }
        match message.body {
            ClusterBody::Broadcast {
                packet,
                targets,
                flags,
                request_id: None,
            } => {
                if !admits_remote(local.backlog()) {
                    return link::shed(&shed);
                }
                let broadcast = Broadcast {
                    uid: message.uid,
                    packet,
                    targets,
                    flags,
                };
                let mut delivered = broadcast.into_message(parser);
                if recovery.is_some() && takes_offset(&delivered) {
                    delivered = with_offset(delivered, id, parser);
                }
                local.broadcast(delivered);
            }
            ClusterBody::Rooms {
                join,
                targets,
                rooms,
            } => {
                let selector = Arc::new(targets.selector());
                let _count = if join {
                    local.sockets_join(selector, rooms)
                } else {
                    local.sockets_leave(selector, rooms)
                };
            }
            ClusterBody::DisconnectSockets { targets, close } => {
                let _count = local.disconnect_sockets(Arc::new(targets.selector()), close);
            }
            other => tracing::debug!(kind = %other.kind(), "cluster: ignored a stream entry"),
        }
    })
}

impl<M: Member> Adapter<M> for StreamsAdapter<M> {
    fn add_socket(&self, socket: M) {
        self.local.add_socket(socket);
    }

    fn remove_socket(&self, sid: Sid) {
        self.local.remove_socket(sid);
    }

    fn join(&self, sid: Sid, rooms: Vec<Room>) {
        self.local.join(sid, rooms);
    }

    fn leave(&self, sid: Sid, rooms: Vec<Room>) {
        self.local.leave(sid, rooms);
    }

    fn broadcast(&self, message: BroadcastMessage) {
        let local = self.local.clone();
        self.appended(message, move |m| local.broadcast(m));
    }

    fn broadcast_counted(&self, message: BroadcastMessage) -> BoxFuture<usize> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let local = self.local.clone();
        self.appended(message, move |m| {
            let _ = tx.send(local.broadcast_counted(m));
        });
        Box::pin(async move {
            match rx.await {
                Ok(counted) => counted.await,
                Err(_) => 0,
            }
        })
    }

    fn sockets_join(&self, selector: Arc<Selector>, rooms: Vec<Room>) -> BoxFuture<usize> {
        let targets = Targets::from_selector(&selector);
        let (join, rooms_sent) = (true, rooms.clone());
        self.append(ClusterBody::Rooms {
            join,
            targets,
            rooms: rooms_sent,
        });
        self.local.sockets_join(selector, rooms)
    }

    fn sockets_leave(&self, selector: Arc<Selector>, rooms: Vec<Room>) -> BoxFuture<usize> {
        let targets = Targets::from_selector(&selector);
        let rooms_sent = rooms.clone();
        self.append(ClusterBody::Rooms {
            join: false,
            targets,
            rooms: rooms_sent,
        });
        self.local.sockets_leave(selector, rooms)
    }

    fn disconnect_sockets(&self, selector: Arc<Selector>, close: bool) -> BoxFuture<usize> {
        let targets = Targets::from_selector(&selector);
        self.append(ClusterBody::DisconnectSockets { targets, close });
        self.local.disconnect_sockets(selector, close)
    }

    fn fetch_sockets(&self, selector: Arc<Selector>) -> BoxFuture<Vec<SocketDescription>> {
        self.local.fetch_sockets(selector)
    }

    fn local_sockets(&self, selector: Arc<Selector>) -> BoxFuture<Vec<M>> {
        self.local.local_sockets(selector)
    }

    fn rooms(&self) -> BoxFuture<Vec<(Room, usize)>> {
        self.local.rooms()
    }

    fn node_local(&self) -> Option<&dyn Adapter<M>> {
        Some(&*self.local)
    }

    fn backlog(&self) -> usize {
        self.local.backlog()
    }

    fn backpressure(&self) -> Option<BoxFuture<()>> {
        self.local.backpressure()
    }

    fn keeps_sessions(&self) -> bool {
        self.recovery.is_some()
    }

    fn persist_session(&self, session: SessionState) {
        if let Some(ttl) = self.recovery {
            stream_sessions::persist(&self.link, &session, ttl);
        }
    }

    fn restore_session(&self, pid: &str, offset: &str) -> BoxFuture<Option<Restored>> {
        stream_sessions::restore(self.link.clone(), &self.nsp, pid, offset, self.parser)
    }

    fn add_recovered_socket(&self, socket: M, restored: &Restored) -> bool {
        for frames in &restored.missed {
            socket.deliver(frames, false);
        }
        self.local.add_socket(socket);
        true
    }
}
