//! What one namespace's sharded adapter shares with the other servers: its channels and uid, the
//! room channels it listens to while their rooms have members here (dynamic subscription mode),
//! and its own requests, all in the `ClusterAdapter` format ([`ClusterMessage`]): FETCH_SOCKETS
//! ([`Shard::try_fetch`]), BROADCAST with a `requestId` ([`Shard::broadcast_with_ack`]) and
//! SERVER_SIDE_EMIT with one ([`Shard::server_side_emit_with_ack`]). Its answers to the other
//! servers' messages are in [`super::sharded_answers`].
//!
//! The pub/sub is a [`Bus`]: sharded for the sharded adapter, classic for the Redis Streams
//! adapter. Servers are counted with `PUBSUB SHARDNUMSUB <key>#<nsp>#` (`NUMSUB` on the classic
//! bus; every server subscribes it, as Node's `serverCount`); a request waits for every other server's answers on this server's
//! response channel `<key>#<nsp>#<uid>#`, or for the request timeout, then ends with what
//! arrived. While the link to Redis is down nothing is asked: the cluster view fails at once
//! with [`ClusterError::Unavailable`], the rest counts no other server.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use parking_lot::Mutex;
use serde_json::Value;
use tokio::sync::mpsc;

use crate::adapter::acks::{AckReplies, ServerReplies};
use crate::adapter::redis::ack_exchange::{gather_acks, RemoteTally};
use crate::adapter::redis::adapter::event_data;
use crate::adapter::redis::answers::HandlerSlot;
use crate::adapter::redis::bus::Bus;
use crate::adapter::redis::channel::{sharded_channel, sharded_sub_channel, SubscriptionMode};
use crate::adapter::redis::cluster_wire::{ClusterBody, ClusterMessage};
use crate::adapter::redis::link::Handler;
use crate::adapter::redis::requests::{unavailable, RESPONSE_QUEUE};
use crate::adapter::redis::sharded::wire_parts;
use crate::adapter::redis::wire::{Flags, Targets, WirePacket};
use crate::adapter::{BoxFuture, BroadcastMessage, ClusterError};
use crate::room::Room;

/// A server uid as socket.io-adapter's `ClusterAdapter` makes them: 8 random bytes as 16 hex
/// characters.
pub fn cluster_uid() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// What the sharded adapters of one node share besides the link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardSettings {
    /// The channel prefix (Node's `channelPrefix`).
    pub key: String,
    /// How rooms get channels of their own.
    pub mode: SubscriptionMode,
    /// How long a request waits for the other servers' answers.
    pub request_timeout: Duration,
    /// This node's id, stamped on the sockets it describes to other servers.
    pub node_id: String,
}

/// One namespace's place in the sharded cluster.
pub struct Shard {
    link: Arc<dyn Bus>,
    settings: ShardSettings,
    nsp: String,
    uid: String,
    /// How many room supervisors of this node hold each named room (dynamic mode).
    rooms: Mutex<HashMap<Room, usize>>,
    /// What the adapter does with a message, set once the adapter exists.
    handler: OnceLock<Handler>,
    /// This server's requests waiting for answers, by request id.
    pending: Mutex<HashMap<String, mpsc::Sender<ClusterMessage>>>,
    /// The namespace's handler of the events other servers send.
    pub(super) events: HandlerSlot,
}

/// A request waiting for its answers; forgotten when dropped.
struct Open<'a> {
    id: String,
    answers: mpsc::Receiver<ClusterMessage>,
    shard: &'a Shard,
}

impl Drop for Open<'_> {
    fn drop(&mut self) {
        self.shard.pending.lock().remove(&self.id);
    }
}

impl Shard {
    /// The shard of namespace `nsp` on `link`, with a fresh uid.
    pub fn new(link: Arc<dyn Bus>, settings: &ShardSettings, nsp: &str) -> Self {
        Shard {
            link,
            settings: settings.clone(),
            nsp: nsp.to_owned(),
            uid: cluster_uid(),
            rooms: Mutex::default(),
            handler: OnceLock::new(),
            pending: Mutex::default(),
            events: HandlerSlot::default(),
        }
    }

    /// This server's uid.
    pub fn uid(&self) -> &str {
        &self.uid
    }

    /// The settings it was made with.
    pub fn settings(&self) -> &ShardSettings {
        &self.settings
    }

    /// The namespace's channel `<key>#<nsp>#`, where every server listens.
    pub fn channel(&self) -> String {
        sharded_channel(&self.settings.key, &self.nsp)
    }

    /// The response channel `<key>#<nsp>#<uid>#` of server `uid` (this one's, with its own).
    pub fn response_channel_of(&self, uid: &str) -> String {
        sharded_sub_channel(&self.settings.key, &self.nsp, uid)
    }

    /// Listens to the namespace's and the response channel with `handler`.
    pub fn listen(&self, handler: Handler) {
        let handler = self.handler.get_or_init(|| handler);
        self.link.listen(self.channel(), handler.clone());
        let own = self.response_channel_of(&self.uid);
        self.link.listen(own, handler.clone());
    }

    /// Publishes `body` as this server's message: on `channel` when given, else on the
    /// namespace's channel.
    pub fn publish(&self, body: ClusterBody, channel: Option<String>) {
        self.publish_with(body, Vec::new(), channel);
    }

    /// [`Shard::publish`], with the binaries the placeholders of a value body name.
    pub fn publish_with(&self, body: ClusterBody, binary: Vec<bytes::Bytes>, to: Option<String>) {
        let message = ClusterMessage {
            uid: self.uid.clone(),
            nsp: self.nsp.clone(),
            body,
            binary,
        };
        let channel = to.unwrap_or_else(|| self.channel());
        self.link.publish(channel, self.link.encode(&message));
    }

    /// The subscription mode.
    pub fn mode(&self) -> SubscriptionMode {
        self.settings.mode
    }

    /// The key and namespace the channels are made of.
    pub fn names(&self) -> (&str, &str) {
        (&self.settings.key, &self.nsp)
    }

    /// One room supervisor of this node got (`present`) or lost the room's last member: the
    /// room's channel is listened to while any supervisor holds the room (dynamic mode only).
    pub fn room_changed(&self, room: &Room, present: bool) {
        if self.mode() == SubscriptionMode::Static {
            return;
        }
        let Some(handler) = self.handler.get() else {
            return;
        };
        let mut rooms = self.rooms.lock();
        let holders = rooms.entry(room.clone()).or_default();
        let channel = || sharded_sub_channel(&self.settings.key, &self.nsp, room);
        if present {
            *holders += 1;
            if *holders == 1 {
                self.link.listen(channel(), handler.clone());
            }
        } else {
            *holders = holders.saturating_sub(1);
            if *holders == 0 {
                rooms.remove(room);
                self.link.forget(&channel());
            }
        }
    }

    /// How many servers serve the namespace (`PUBSUB SHARDNUMSUB` of its channel), this one
    /// included; fails at once while the link is down, or when Redis does not answer.
    pub async fn servers(&self) -> Result<usize, ClusterError> {
        if !self.link.is_connected() {
            return Err(unavailable());
        }
        let count = self.link.clone().subscribers(self.channel()).await;
        count.ok_or_else(unavailable)
    }

    /// How many other servers there are; 0 when the cluster cannot be reached.
    pub async fn others(&self) -> usize {
        self.servers().await.map_or(0, |n| n.saturating_sub(1))
    }

    fn open(&self) -> Open<'_> {
        let id = cluster_uid();
        let (tx, answers) = mpsc::channel(RESPONSE_QUEUE);
        self.pending.lock().insert(id.clone(), tx);
        Open {
            id,
            answers,
            shard: self,
        }
    }

    /// Hands a response to the request it answers, if that one still waits.
    pub fn answered(&self, message: ClusterMessage) {
        let id = match &message.body {
            ClusterBody::FetchSocketsResponse { request_id, .. }
            | ClusterBody::ServerSideEmitResponse { request_id, .. }
            | ClusterBody::BroadcastClientCount { request_id, .. }
            | ClusterBody::BroadcastAck { request_id, .. } => request_id,
            _ => return,
        };
        if let Some(tx) = self.pending.lock().get(id) {
            if tx.try_send(message).is_err() {
                tracing::debug!("cluster: dropped a response (queue full)");
            }
        }
    }

    /// Publishes the request `make` builds from a fresh request id and returns the answers of
    /// `expected` servers, or those that arrived within `timeout`; nothing is published when
    /// `expected` is 0.
    async fn ask(
        &self,
        make: impl FnOnce(String) -> ClusterBody,
        expected: usize,
        timeout: Duration,
    ) -> Vec<ClusterMessage> {
        if expected == 0 {
            return Vec::new();
        }
        let mut open = self.open();
        self.publish(make(open.id.clone()), None);
        let mut answers = Vec::with_capacity(expected);
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        while answers.len() < expected {
            tokio::select! {
                answer = open.answers.recv() => match answer {
                    Some(a) => answers.push(a),
                    None => break,
                },
                () = &mut deadline => {
                    tracing::debug!(expected, got = answers.len(), "cluster: request timed out");
                    break;
                }
            }
        }
        answers
    }

    /// The other servers' sockets in `targets` (Node shaped, stamped with their node by
    /// roomcast nodes): all of them, or those whose answers arrived within the request timeout.
    /// Fails at once while the link is down.
    pub async fn try_fetch(&self, targets: Targets) -> Result<Vec<Value>, ClusterError> {
        let expected = self.servers().await?.saturating_sub(1);
        let request = |request_id| ClusterBody::FetchSockets {
            targets,
            request_id,
        };
        let answers = self
            .ask(request, expected, self.settings.request_timeout)
            .await;
        let sockets = answers.into_iter().flat_map(|m| match m.body {
            ClusterBody::FetchSocketsResponse { sockets, .. } => sockets,
            _ => Vec::new(),
        });
        Ok(sockets.collect())
    }

    /// Publishes a BROADCAST of `packet` to `targets` asking for acknowledgements, and collects
    /// `local` (this server's own recipients), every other server's client count and each of
    /// their clients' acknowledgements, until all arrived or `timeout` passed.
    pub async fn broadcast_with_ack(
        &self,
        (packet, targets, flags): (WirePacket, Targets, Flags),
        local: BoxFuture<AckReplies>,
        timeout: Duration,
    ) -> AckReplies {
        let mut open = self.open();
        let request_id = Some(open.id.clone());
        let body = ClusterBody::Broadcast {
            packet,
            targets,
            flags,
            request_id,
        };
        self.publish(body, None);
        let add = |tally: &mut RemoteTally, message: ClusterMessage| match message.body {
            ClusterBody::BroadcastClientCount { client_count, .. } => tally.count(client_count),
            ClusterBody::BroadcastAck { packet, .. } => tally.ack(packet, message.binary),
            _ => {}
        };
        gather_acks(local, self.others(), &mut open.answers, add, timeout).await
    }

    /// Sends the event `data` (`[name, ...args]`) to the other servers and collects their
    /// replies, all of them or those that arrived within `timeout`.
    pub async fn server_side_emit_with_ack(&self, data: Value, timeout: Duration) -> ServerReplies {
        let expected = self.others().await;
        let request = |request_id| ClusterBody::ServerSideEmit {
            packet: data,
            request_id: Some(request_id),
        };
        let answers = self.ask(request, expected, timeout).await;
        let replies = answers.into_iter().filter_map(|m| match m.body {
            ClusterBody::ServerSideEmitResponse { packet, .. } => Some(packet),
            _ => None,
        });
        ServerReplies {
            expected,
            replies: replies.collect(),
        }
    }
}

/// What the adapters that speak the ClusterAdapter format (sharded, streams) do the same way.
impl Shard {
    /// `Adapter::broadcast_with_ack` of `message` over this shard, `local` delivering it to this
    /// server's own recipients and collecting their replies.
    pub fn acked_broadcast(
        self: &Arc<Self>,
        message: BroadcastMessage,
        local: impl FnOnce(BroadcastMessage) -> BoxFuture<AckReplies>,
        timeout: Duration,
    ) -> BoxFuture<AckReplies> {
        let (shard, parts) = (self.clone(), wire_parts(&message, Some(timeout)));
        let local = local(message);
        Box::pin(async move { shard.broadcast_with_ack(parts, local, timeout).await })
    }

    /// `Adapter::server_side_emit`: the event goes to the other servers, no reply asked.
    pub fn emit_event(&self, event: &str, args: Vec<Value>) {
        let packet = event_data(event, args);
        let body = ClusterBody::ServerSideEmit {
            packet,
            request_id: None,
        };
        self.publish(body, None);
    }

    /// `Adapter::server_side_emit_with_ack`: the other servers' replies within `timeout`.
    pub fn ask_event(
        self: &Arc<Self>,
        event: &str,
        args: Vec<Value>,
        timeout: Duration,
    ) -> BoxFuture<ServerReplies> {
        let (shard, data) = (self.clone(), event_data(event, args));
        Box::pin(async move { shard.server_side_emit_with_ack(data, timeout).await })
    }
}

impl Drop for Shard {
    fn drop(&mut self) {
        self.link.forget(&self.channel());
        self.link.forget(&self.response_channel_of(&self.uid));
        for room in self.rooms.lock().keys() {
            let channel = sharded_sub_channel(&self.settings.key, &self.nsp, room);
            self.link.forget(&channel);
        }
    }
}

#[cfg(test)]
#[path = "sharded_peers_tests.rs"]
mod tests;
