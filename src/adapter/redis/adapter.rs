//! The classic Redis adapter (`@socket.io/redis-adapter` 8.x's `createAdapter`): broadcasts and
//! the requests between servers cross nodes.
//!
//! A [`RedisAdapter`] wraps the namespace's [`LocalAdapter`]. A broadcast is delivered locally and
//! published as [`Broadcast`] on `<key>#<nsp>#` (or `<key>#<nsp>#<room>#` for exactly one room);
//! every adapter `PSUBSCRIBE`s `<key>#<nsp>#*` and delivers what other servers publish to its own
//! sockets, encoded with this server's parser. Node.js servers with the same key and Redis see
//! roomcast's broadcasts and roomcast sees theirs (and the Redis emitter's).
//!
//! Each adapter also `SUBSCRIBE`s `<key>-request#<nsp>#` and its response channels
//! (`<key>-response#<nsp>#` and `...#<uid>#`) and answers every request of the other servers
//! ([`super::answers`]). `fetch_sockets` asks the cluster and merges; `sockets_join`,
//! `sockets_leave` and `disconnect_sockets` apply locally and publish the request (their count is
//! local); `broadcast_with_ack` delivers locally, publishes a BROADCAST and collects every
//! server's client count and acknowledgements; `server_side_emit(_with_ack)` publishes a
//! SERVER_SIDE_EMIT (and collects the replies) ([`super::requests`]).
//!
//! `server_count`, `remote_sockets` (the other nodes' sockets, each with the node holding it
//! when that node is a roomcast one) and `remote_summary` ([`super::view`]) serve the admin API's
//! cluster view; they fail at once while Redis is unreachable. `node_local` is the wrapped [`LocalAdapter`] (`?local=true`).
//!
//! Still local: `rooms` (its counts per room feed the admin API and metrics; ALL_ROOMS carries
//! names only) and `broadcast_counted` (this node's recipients: a broadcast without
//! acknowledgements gets no answer; `remote_count` counts the other nodes' targets with SOCKETS
//! requests).

use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use rand::distr::{Alphanumeric, SampleString};
use serde_json::Value;

use crate::adapter::local::LocalAdapter;
use crate::adapter::redis::answers::{request_handler, HandlerSlot, Replies};
use crate::adapter::redis::channel::{
    broadcast_pattern, parse_broadcast_channel, publish_channel, request_channel, response_channel,
    specific_response_channel,
};
use crate::adapter::redis::link::{Handler, RedisLink, Topic};
use crate::adapter::redis::options::RedisAdapterOptions;
use crate::adapter::redis::request::{Request, RequestType};
use crate::adapter::redis::requests::Requests;
use crate::adapter::redis::response::Response;
use crate::adapter::redis::view;
use crate::adapter::redis::wire::{Broadcast, Targets};
use crate::adapter::{
    AckReplies, Adapter, BoxFuture, BroadcastMessage, ClusterError, NodeSocket, RemoteSummary,
    ServerEventHandler, ServerReplies, BACKLOG_HIGH,
};
use crate::protocol::ids::Sid;
use crate::protocol::socketio::Parser;
use crate::room::{Member, Room, Selector, SocketDescription};

pub use super::factory::RedisAdapterFactory;

/// A server uid as Node's `uid2(6)` makes them: six random alphanumerics.
pub fn new_uid() -> String {
    Alphanumeric.sample_string(&mut rand::rng(), 6)
}

/// The broadcast a message on `channel` carries for namespace `nsp` of server `uid`, by Node's
/// rules: `None` for another namespace's channel, an undecodable message (logged), this server's
/// own broadcast, or a packet of another namespace.
pub fn accept(
    key: &str,
    nsp: &str,
    uid: &str,
    channel: &str,
    payload: &Bytes,
) -> Option<Broadcast> {
    parse_broadcast_channel(key, nsp, channel)?;
    let broadcast = match Broadcast::decode(payload) {
        Ok(b) => b,
        Err(e) => {
            tracing::debug!(%channel, error = %e, "cluster: ignored an undecodable broadcast");
            return None;
        }
    };
    (broadcast.uid != uid && broadcast.packet.packet.nsp == nsp).then_some(broadcast)
}

/// Past this many broadcasts waiting for this node's room supervisors, broadcasts from other
/// servers are dropped and counted (`roomcast_cluster_receive_dropped_total{reason="backlog"}`):
/// this node's own publishers wait at [`BACKLOG_HIGH`], but Redis cannot be made to wait (its
/// messages would pile up in the subscriber instead), so past four times that mark the node sheds
/// what it cannot fan out rather than growing without bound.
pub const REMOTE_BACKLOG_LIMIT: usize = 4 * BACKLOG_HIGH;

/// Whether a broadcast from another server is taken with `backlog` broadcasts pending here.
pub fn admits_remote(backlog: usize) -> bool {
    backlog <= REMOTE_BACKLOG_LIMIT
}

/// `[event, ...args]`, the data of a SERVER_SIDE_EMIT.
pub fn event_data(event: &str, args: Vec<Value>) -> Value {
    let mut data = Vec::with_capacity(args.len() + 1);
    data.push(Value::from(event));
    data.extend(args);
    Value::Array(data)
}

fn weak_local<M: Member>(local: &Arc<LocalAdapter<M>>) -> Weak<LocalAdapter<M>> {
    Arc::downgrade(local)
}

/// One namespace's adapter in a cluster of servers sharing a Redis.
pub struct RedisAdapter<M: Member> {
    local: Arc<LocalAdapter<M>>,
    link: Arc<RedisLink>,
    key: String,
    nsp: String,
    uid: String,
    requests: Arc<Requests>,
    events: HandlerSlot,
    topics: Vec<(Topic, Handler)>,
}

impl<M: Member> RedisAdapter<M> {
    /// The adapter of namespace `nsp`, delivering through `local` and subscribed on `link`.
    pub fn new(
        link: Arc<RedisLink>,
        options: &RedisAdapterOptions,
        nsp: &str,
        parser: Parser,
        local: Arc<LocalAdapter<M>>,
    ) -> Self {
        let (uid, key) = (new_uid(), options.key.as_str());
        let weak: Weak<LocalAdapter<M>> = Arc::downgrade(&local);
        let (k, n, u) = (key.to_owned(), nsp.to_owned(), uid.clone());
        let shedder = Arc::downgrade(&link);
        let handler: Handler = Arc::new(move |channel: &str, payload: Bytes| {
            let Some(local) = weak.upgrade() else { return };
            if !admits_remote(local.backlog()) {
                if let Some(link) = shedder.upgrade() {
                    link.shed();
                }
                return;
            }
            if let Some(broadcast) = accept(&k, &n, &u, channel, &payload) {
                local.broadcast(broadcast.into_message(parser));
            }
        });
        let requests = Arc::new(Requests::new(link.clone(), options, nsp));
        let events = HandlerSlot::default();
        let answers = request_handler(
            weak_local(&local),
            Arc::downgrade(&link),
            (Replies::new(options, nsp), &uid),
            events.clone(),
            options.request_timeout,
        );
        let responses = requests.response_handler();
        let topics = vec![
            (Topic::Pattern(broadcast_pattern(key, nsp)), handler),
            (Topic::Channel(request_channel(key, nsp)), answers),
            (
                Topic::Channel(response_channel(key, nsp)),
                responses.clone(),
            ),
            (
                Topic::Channel(specific_response_channel(key, nsp, &uid)),
                responses,
            ),
        ];
        for (topic, handler) in &topics {
            link.listen(topic.clone(), handler.clone());
        }
        RedisAdapter {
            local,
            link,
            key: key.to_owned(),
            nsp: nsp.to_owned(),
            uid,
            requests,
            events,
            topics,
        }
    }

    /// This adapter's uid (the first element of what it publishes).
    pub fn uid(&self) -> &str {
        &self.uid
    }

    fn publish(&self, message: &BroadcastMessage) {
        let targets = Targets::from_selector(&message.options.selector);
        let channel = publish_channel(&self.key, &self.nsp, &targets.rooms);
        let bytes = Broadcast::encode_message(&self.uid, message, &targets);
        self.link.publish(channel, bytes);
    }
}

impl<M: Member> Drop for RedisAdapter<M> {
    fn drop(&mut self) {
        for (topic, handler) in &self.topics {
            self.link.forget(topic, handler);
        }
    }
}

impl<M: Member> Adapter<M> for RedisAdapter<M> {
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
        self.publish(&message);
        self.local.broadcast(message);
    }

    fn broadcast_counted(&self, message: BroadcastMessage) -> BoxFuture<usize> {
        self.publish(&message);
        self.local.broadcast_counted(message)
    }

    fn sockets_join(&self, selector: Arc<Selector>, rooms: Vec<Room>) -> BoxFuture<usize> {
        self.requests.tell(&Request::Rooms {
            uid: Some(self.uid.clone()),
            join: true,
            targets: Targets::from_selector(&selector),
            rooms: rooms.clone(),
        });
        self.local.sockets_join(selector, rooms)
    }

    fn sockets_leave(&self, selector: Arc<Selector>, rooms: Vec<Room>) -> BoxFuture<usize> {
        self.requests.tell(&Request::Rooms {
            uid: Some(self.uid.clone()),
            join: false,
            targets: Targets::from_selector(&selector),
            rooms: rooms.clone(),
        });
        self.local.sockets_leave(selector, rooms)
    }

    fn disconnect_sockets(&self, selector: Arc<Selector>, close: bool) -> BoxFuture<usize> {
        self.requests.tell(&Request::Disconnect {
            uid: Some(self.uid.clone()),
            targets: Targets::from_selector(&selector),
            close,
        });
        self.local.disconnect_sockets(selector, close)
    }

    fn fetch_sockets(&self, selector: Arc<Selector>) -> BoxFuture<Vec<SocketDescription>> {
        let local = self.local.fetch_sockets(selector.clone());
        let remote = self.remote_sockets(selector);
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
        let (requests, uid, nsp) = (self.requests.clone(), self.uid.clone(), self.nsp.clone());
        Box::pin(view::remote_sockets(requests, uid, nsp, selector))
    }

    fn remote_summary(&self) -> BoxFuture<Result<RemoteSummary, ClusterError>> {
        let (requests, uid) = (self.requests.clone(), self.uid.clone());
        Box::pin(view::remote_summary(requests, uid))
    }

    fn server_count(&self) -> BoxFuture<Result<usize, ClusterError>> {
        let requests = self.requests.clone();
        Box::pin(async move { requests.servers().await })
    }

    fn node_local(&self) -> Option<&dyn Adapter<M>> {
        Some(&*self.local)
    }

    fn local_sockets(&self, selector: Arc<Selector>) -> BoxFuture<Vec<M>> {
        self.local.local_sockets(selector)
    }

    fn rooms(&self) -> BoxFuture<Vec<(Room, usize)>> {
        self.local.rooms()
    }

    fn broadcast_with_ack(
        &self,
        message: BroadcastMessage,
        timeout: Duration,
    ) -> BoxFuture<AckReplies> {
        let broadcast = Broadcast::from_message(&self.uid, &message);
        let local = self.local.broadcast_with_ack(message, timeout);
        let requests = self.requests.clone();
        Box::pin(async move {
            let Broadcast {
                uid,
                packet,
                targets,
                mut flags,
            } = broadcast;
            flags.timeout = Some(u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX));
            let request = |request_id| Request::Broadcast {
                uid,
                request_id,
                packet,
                targets,
                flags,
            };
            requests.broadcast_with_ack(request, local, timeout).await
        })
    }

    fn server_side_emit(&self, event: &str, args: Vec<Value>) {
        self.requests.tell(&Request::ServerSideEmit {
            uid: self.uid.clone(),
            request_id: None,
            data: event_data(event, args),
        });
    }

    fn server_side_emit_with_ack(
        &self,
        event: &str,
        args: Vec<Value>,
        timeout: Duration,
    ) -> BoxFuture<ServerReplies> {
        let (requests, uid) = (self.requests.clone(), self.uid.clone());
        let data = event_data(event, args);
        Box::pin(async move {
            let request = |request_id| Request::ServerSideEmit {
                uid,
                request_id: Some(request_id),
                data,
            };
            let asked = requests.ask_within(RequestType::ServerSideEmit, request, timeout);
            let (expected, responses) = asked.await;
            let replies = responses
                .into_iter()
                .filter_map(|r| match r {
                    Response::ServerSideEmit { data, .. } => Some(data.unwrap_or(Value::Null)),
                    _ => None,
                })
                .collect();
            ServerReplies { expected, replies }
        })
    }

    fn remote_count(&self, selector: Arc<Selector>) -> BoxFuture<usize> {
        let (requests, uid) = (self.requests.clone(), self.uid.clone());
        Box::pin(async move {
            let mut targets = requests.socket_ids(&uid, selector.rooms.clone()).await;
            if !selector.except.is_empty() {
                for id in requests.socket_ids(&uid, selector.except.clone()).await {
                    targets.remove(&id);
                }
            }
            targets.len()
        })
    }

    fn on_server_event(&self, handler: ServerEventHandler) {
        *self.events.write() = Some(handler);
    }

    fn backlog(&self) -> usize {
        self.local.backlog()
    }

    fn backpressure(&self) -> Option<BoxFuture<()>> {
        self.local.backpressure()
    }
}

#[cfg(test)]
#[path = "adapter_tests.rs"]
mod tests;
