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
//! What must come back (broadcasts with acknowledgements, server-side events, fetching other
//! servers' sockets, and their answers) goes over classic pub/sub as Node's adapter sends it:
//! msgpack messages on `<prefix>#<nsp>#` and the answers on `<prefix>#<nsp>#<requester uid>#`,
//! through a [`Shard`] on a [`super::bus::PlainBus`] (the sharded adapter's requests and
//! answers, [`super::sharded_answers`]); servers are counted with `PUBSUB NUMSUB <prefix>#<nsp>#`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::adapter::local::{ArbiterPool, LocalAdapter};
use crate::adapter::recovery::store::{Restored, SessionState};
use crate::adapter::redis::cluster_wire::{ClusterBody, ClusterMessage};
use crate::adapter::redis::link::shed_counter;
use crate::adapter::redis::sharded::{remote_of, summary};
use crate::adapter::redis::sharded_answers::message_handler;
use crate::adapter::redis::sharded_peers::Shard;
use crate::adapter::redis::stream_entries::{
    deliver_recorded, entry_handler, takes_offset, with_offset, Recents,
};
use crate::adapter::redis::stream_link::StreamLink;
use crate::adapter::redis::stream_sessions;
use crate::adapter::redis::stream_wire::entry_fields;
use crate::adapter::redis::wire::{Flags, Targets, WirePacket};
use crate::adapter::{
    AckReplies, Adapter, BoxFuture, BroadcastMessage, ClusterError, NodeSocket, RemoteSummary,
    ServerEventHandler, ServerReplies,
};
use crate::metrics::Metrics;
use crate::protocol::ids::Sid;
use crate::protocol::socketio::Parser;
use crate::room::{Member, Room, Selector, SocketDescription};

pub use super::streams_factory::StreamsAdapterFactory;

/// One namespace's adapter in a cluster of servers sharing a Redis stream.
pub struct StreamsAdapter<M: Member> {
    local: Arc<LocalAdapter<M>>,
    link: Arc<StreamLink>,
    /// The pub/sub side: requests, answers and broadcasts with acknowledgements.
    shard: Arc<Shard>,
    nsp: String,
    parser: Parser,
    metrics: Arc<Metrics>,
    /// How long a kept session lives, when connection state recovery is on.
    recovery: Option<Duration>,
    /// The recent deliveries of stream broadcasts here (recovery on).
    recent: Recents,
}

impl<M: Member> StreamsAdapter<M> {
    /// The adapter of `shard`'s namespace appending to `link`, its room supervisors on `pool`,
    /// delivering encoded with `parser`; keeping sessions for `recovery` when that is set.
    pub fn new(
        link: Arc<StreamLink>,
        shard: Shard,
        (parser, recovery): (Parser, Option<Duration>),
        pool: &ArbiterPool,
        metrics: &Arc<Metrics>,
    ) -> Self {
        let local = Arc::new(LocalAdapter::new(&pool.handles(), metrics));
        let shard = Arc::new(shard);
        let (nsp, uid) = (shard.names().1.to_owned(), shard.uid().to_owned());
        let weak = Arc::downgrade(&local);
        let recent: Recents = recovery.map(|_| Arc::default());
        let handler = entry_handler(
            weak.clone(),
            uid,
            (parser, recent.clone()),
            shed_counter(metrics),
        );
        link.listen(&nsp, handler);
        let shed = shed_counter(metrics);
        shard.listen(message_handler(weak, Arc::downgrade(&shard), parser, shed));
        StreamsAdapter {
            local,
            link,
            shard,
            nsp,
            parser,
            metrics: metrics.clone(),
            recovery,
            recent,
        }
    }

    /// This adapter's uid (the `uid` of its entries).
    pub fn uid(&self) -> &str {
        self.shard.uid()
    }

    fn message(&self, body: ClusterBody) -> ClusterMessage {
        ClusterMessage {
            uid: self.shard.uid().to_owned(),
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
        let (parser, recent) = (self.parser, self.recent.clone());
        let done = move |id: Option<String>| match id {
            Some(id) => deliver_recorded(&recent, &id, with_offset(message, &id, parser), deliver),
            None => deliver(message),
        };
        self.link.append(fields, Some(Box::new(done)));
    }

    fn append(&self, body: ClusterBody) {
        self.link.append(entry_fields(&self.message(body)), None);
    }
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
        let remote = remote_of(self.shard.clone(), &selector);
        let local = self.local.fetch_sockets(selector);
        Box::pin(async move {
            let (mut found, remote) = futures_util::join!(local, remote);
            found.extend(remote.unwrap_or_default().into_iter().map(|s| s.socket));
            found
        })
    }

    fn remote_sockets(
        &self,
        selector: Arc<Selector>,
    ) -> BoxFuture<Result<Vec<NodeSocket>, ClusterError>> {
        remote_of(self.shard.clone(), &selector)
    }

    fn remote_summary(&self) -> BoxFuture<Result<RemoteSummary, ClusterError>> {
        let remote = remote_of(self.shard.clone(), &Selector::default());
        Box::pin(async move { Ok(summary(&remote.await?)) })
    }

    fn remote_count(&self, selector: Arc<Selector>) -> BoxFuture<usize> {
        let remote = remote_of(self.shard.clone(), &selector);
        Box::pin(async move { remote.await.map_or(0, |found| found.len()) })
    }

    fn server_count(&self) -> BoxFuture<Result<usize, ClusterError>> {
        let shard = self.shard.clone();
        Box::pin(async move { shard.servers().await })
    }

    fn broadcast_with_ack(
        &self,
        message: BroadcastMessage,
        timeout: Duration,
    ) -> BoxFuture<AckReplies> {
        let local = |message| self.local.broadcast_with_ack(message, timeout);
        self.shard.acked_broadcast(message, local, timeout)
    }

    fn server_side_emit(&self, event: &str, args: Vec<Value>) {
        self.shard.emit_event(event, args);
    }

    fn server_side_emit_with_ack(
        &self,
        event: &str,
        args: Vec<Value>,
        timeout: Duration,
    ) -> BoxFuture<ServerReplies> {
        self.shard.ask_event(event, args, timeout)
    }

    fn on_server_event(&self, handler: ServerEventHandler) {
        *self.shard.events.write() = Some(handler);
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
            self.metrics.recovery_sessions_persisted.increment(1);
        }
    }

    fn restore_session(&self, pid: &str, offset: &str) -> BoxFuture<Option<Restored>> {
        let metrics = self.metrics.clone();
        stream_sessions::restore(
            self.link.clone(),
            &self.nsp,
            pid,
            offset,
            self.parser,
            metrics,
        )
    }

    fn add_recovered_socket(&self, socket: M, restored: &Restored) -> bool {
        let mut recent = self.recent.as_ref().map(|r| r.lock());
        let late = match (&mut recent, restored.through) {
            (Some(recent), Some(through)) => {
                let (sid, rooms) = (socket.id(), socket.named_rooms());
                match recent.catch_up(&sid, &rooms, through, Instant::now()) {
                    Some(late) => late,
                    None => return false,
                }
            }
            _ => Vec::new(),
        };
        for frames in restored.missed.iter().chain(&late) {
            socket.deliver(frames, false);
        }
        self.local.add_socket(socket);
        drop(recent);
        self.metrics.recovery_recovered.increment(1);
        let replayed = restored.missed.len() as u64;
        self.metrics.recovery_replayed.increment(replayed);
        true
    }
}
