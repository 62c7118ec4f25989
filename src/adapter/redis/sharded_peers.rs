//! What one namespace's sharded adapter shares with the other servers: its channels and uid, the
//! room channels it listens to while their rooms have members here (dynamic subscription mode),
//! its answers to the other servers' messages ([`message_handler`]) and its own `fetchSockets`
//! requests ([`Shard::ask_fetch`]), all in the `ClusterAdapter` format ([`ClusterMessage`]).
//!
//! As in socket.io-adapter's `ClusterAdapter`: a server ignores its own messages and other
//! namespaces'; BROADCAST (without acknowledgements), SOCKETS_JOIN, SOCKETS_LEAVE and
//! DISCONNECT_SOCKETS act on this server's sockets; FETCH_SOCKETS is answered on the
//! requester's channel `<key>#<nsp>#<uid>#`, with an empty list too (the requester counts
//! answers). Not handled yet: broadcasts with acknowledgements (BROADCAST with a `requestId`,
//! and so BROADCAST_CLIENT_COUNT/BROADCAST_ACK) and SERVER_SIDE_EMIT: they are ignored, so a
//! Node peer waiting for this server's answer to one times out.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, Weak};

use bytes::Bytes;
use parking_lot::Mutex;
use serde_json::Value;
use tokio::sync::mpsc;

use crate::adapter::local::LocalAdapter;
use crate::adapter::redis::channel::{sharded_channel, sharded_sub_channel, SubscriptionMode};
use crate::adapter::redis::cluster_wire::{ClusterBody, ClusterMessage};
use crate::adapter::redis::link::Handler;
use crate::adapter::redis::node_socket::to_node;
use crate::adapter::redis::options::DEFAULT_REQUEST_TIMEOUT;
use crate::adapter::redis::shard_link::ShardedLink;
use crate::adapter::redis::wire::{Broadcast, Targets};
use crate::adapter::Adapter;
use crate::protocol::socketio::Parser;
use crate::room::{Member, Room};

/// A server uid as socket.io-adapter's `ClusterAdapter` makes them: 8 random bytes as 16 hex
/// characters.
pub fn cluster_uid() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// One namespace's place in the sharded cluster.
pub struct Shard {
    link: Arc<ShardedLink>,
    key: String,
    nsp: String,
    uid: String,
    mode: SubscriptionMode,
    /// How many room supervisors of this node hold each named room (dynamic mode).
    rooms: Mutex<HashMap<Room, usize>>,
    /// What the adapter does with a message, set once the adapter exists.
    handler: OnceLock<Handler>,
    /// This server's `fetchSockets` requests waiting for answers, by request id.
    pending: Mutex<HashMap<String, mpsc::UnboundedSender<Vec<Value>>>>,
}

impl Shard {
    /// The shard of namespace `nsp` under `key` on `link`, with a fresh uid.
    pub fn new(link: Arc<ShardedLink>, key: &str, nsp: &str, mode: SubscriptionMode) -> Self {
        Shard {
            link,
            key: key.to_owned(),
            nsp: nsp.to_owned(),
            uid: cluster_uid(),
            mode,
            rooms: Mutex::default(),
            handler: OnceLock::new(),
            pending: Mutex::default(),
        }
    }

    /// This server's uid.
    pub fn uid(&self) -> &str {
        &self.uid
    }

    /// The namespace's channel `<key>#<nsp>#`, where every server listens.
    pub fn channel(&self) -> String {
        sharded_channel(&self.key, &self.nsp)
    }

    /// This server's response channel `<key>#<nsp>#<uid>#`.
    pub fn response_channel(&self) -> String {
        sharded_sub_channel(&self.key, &self.nsp, &self.uid)
    }

    /// Listens to the namespace's and the response channel with `handler`.
    pub fn listen(&self, handler: Handler) {
        let handler = self.handler.get_or_init(|| handler);
        self.link.listen(self.channel(), handler.clone());
        self.link.listen(self.response_channel(), handler.clone());
    }

    /// Publishes `body` as this server's message: on `channel` when given, else on the
    /// namespace's channel.
    pub fn publish(&self, body: ClusterBody, channel: Option<String>) {
        let message = ClusterMessage {
            uid: self.uid.clone(),
            nsp: self.nsp.clone(),
            body,
            binary: Vec::new(),
        };
        let channel = channel.unwrap_or_else(|| self.channel());
        self.link.publish(channel, message.encode());
    }

    /// The subscription mode.
    pub fn mode(&self) -> SubscriptionMode {
        self.mode
    }

    /// The key and namespace the channels are made of.
    pub fn names(&self) -> (&str, &str) {
        (&self.key, &self.nsp)
    }

    /// One room supervisor of this node got (`present`) or lost the room's last member: the
    /// room's channel is listened to while any supervisor holds the room (dynamic mode only).
    pub fn room_changed(&self, room: &Room, present: bool) {
        if self.mode == SubscriptionMode::Static {
            return;
        }
        let Some(handler) = self.handler.get() else {
            return;
        };
        let mut rooms = self.rooms.lock();
        let holders = rooms.entry(room.clone()).or_default();
        let channel = || sharded_sub_channel(&self.key, &self.nsp, room);
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

    /// Asks every other server for its sockets in `targets` and returns their answers (Node
    /// shaped): all of them, or those that arrived within the timeout. The servers are counted
    /// with `PUBSUB SHARDNUMSUB` on the namespace's channel; alone (or no answer from Redis), no
    /// request is published.
    pub async fn ask_fetch(&self, targets: Targets) -> Vec<Value> {
        let servers = self.link.shard_numsub(&self.channel()).await.unwrap_or(0);
        let expected = servers.saturating_sub(1);
        if expected == 0 {
            return Vec::new();
        }
        let request_id = cluster_uid();
        let (tx, mut rx) = mpsc::unbounded_channel();
        self.pending.lock().insert(request_id.clone(), tx);
        let id = request_id.clone();
        self.publish(
            ClusterBody::FetchSockets {
                targets,
                request_id,
            },
            None,
        );
        let (mut found, mut answers) = (Vec::new(), 0);
        let deadline = tokio::time::sleep(DEFAULT_REQUEST_TIMEOUT);
        tokio::pin!(deadline);
        while answers < expected {
            tokio::select! {
                sockets = rx.recv() => match sockets {
                    Some(sockets) => {
                        answers += 1;
                        found.extend(sockets);
                    }
                    None => break,
                },
                () = &mut deadline => {
                    tracing::debug!(expected, answers, "cluster: fetchSockets timed out");
                    break;
                }
            }
        }
        self.pending.lock().remove(&id);
        found
    }

    fn answered(&self, request_id: &str, sockets: Vec<Value>) {
        if let Some(tx) = self.pending.lock().get(request_id) {
            let _ = tx.send(sockets);
        }
    }
}

impl Drop for Shard {
    fn drop(&mut self) {
        self.link.forget(&self.channel());
        self.link.forget(&self.response_channel());
        for room in self.rooms.lock().keys() {
            self.link
                .forget(&sharded_sub_channel(&self.key, &self.nsp, room));
        }
    }
}

/// What to do with a message on one of `shard`'s channels: act on `local`'s sockets (encoding
/// broadcasts with `parser`), answer, or hand a response to the request waiting for it.
pub fn message_handler<M: Member>(
    local: Weak<LocalAdapter<M>>,
    shard: Weak<Shard>,
    parser: Parser,
) -> Handler {
    Arc::new(move |channel: &str, payload: Bytes| {
        let message = match ClusterMessage::decode(&payload) {
            Ok(message) => message,
            Err(e) => {
                tracing::debug!(%channel, error = %e, "cluster: ignored an undecodable message");
                return;
            }
        };
        let (Some(local), Some(shard)) = (local.upgrade(), shard.upgrade()) else {
            return;
        };
        if message.uid == shard.uid || message.nsp != shard.nsp {
            return;
        }
        handle(&local, &shard, message, parser);
    })
}

/// Carries out another server's `message`.
fn handle<M: Member>(
    local: &Arc<LocalAdapter<M>>,
    shard: &Arc<Shard>,
    message: ClusterMessage,
    parser: Parser,
) {
    // The bulk operations start at once; their counts are not needed.
    match message.body {
        ClusterBody::Broadcast {
            packet,
            targets,
            flags,
            request_id: None,
        } => {
            let uid = message.uid;
            let broadcast = Broadcast {
                uid,
                packet,
                targets,
                flags,
            };
            local.broadcast(broadcast.into_message(parser));
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
        ClusterBody::FetchSockets {
            targets,
            request_id,
        } => {
            let found = local.fetch_sockets(Arc::new(targets.selector()));
            let (shard, to) = (shard.clone(), message.uid);
            actix_rt::spawn(async move {
                let sockets = found.await.iter().map(to_node).collect();
                let body = ClusterBody::FetchSocketsResponse {
                    request_id,
                    sockets,
                };
                let channel = sharded_sub_channel(&shard.key, &shard.nsp, &to);
                shard.publish(body, Some(channel));
            });
        }
        ClusterBody::FetchSocketsResponse {
            request_id,
            sockets,
        } => shard.answered(&request_id, sockets),
        other => {
            tracing::debug!(kind = %other.kind(), "cluster: ignored a message type not handled yet");
        }
    }
}
