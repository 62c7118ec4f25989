//! This server's answers to the other servers' requests of the classic adapter (reference
//! section 4.2): SOCKETS, ALL_ROOMS and REMOTE_FETCH from its sockets; REMOTE_JOIN, _LEAVE and
//! _DISCONNECT applied to them; BROADCAST (with acknowledgements) delivered to them, then their
//! count and each acknowledgement; SERVER_SIDE_EMIT handed to the namespace's handler, its reply
//! sent back when one is asked for.
//!
//! Answers go on `<key>-response#<nsp>#`, or on the requester's own
//! `<key>-response#<nsp>#<uid>#` with `publish_on_specific_response_channel`; the reply to a
//! SERVER_SIDE_EMIT always on the former, as Node does.

use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use parking_lot::RwLock;
use serde_json::Value;

use crate::adapter::acks::{ServerAck, ServerEvent, ServerEventHandler};
use crate::adapter::local::LocalAdapter;
use crate::adapter::redis::ack_exchange::{answer_broadcast, AckAnswer};
use crate::adapter::redis::channel::{response_channel, specific_response_channel};
use crate::adapter::redis::link::{Handler, RedisLink};
use crate::adapter::redis::node_socket::{stamp, to_node};
use crate::adapter::redis::options::RedisAdapterOptions;
use crate::adapter::redis::options::MAX_ACK_WAIT;
use crate::adapter::redis::request::{LegacyOp, Request};
use crate::adapter::redis::response::Response;
use crate::adapter::redis::wire::{Flags, Targets, WirePacket};
use crate::adapter::{Adapter, BoxFuture};
use crate::room::{Member, Room, Selector};

/// Where a namespace's handler of the other servers' events is kept (set when the namespace
/// makes its adapter).
pub type HandlerSlot = Arc<RwLock<Option<ServerEventHandler>>>;

/// Where this server answers: the channels of namespace `nsp`, by the options.
#[derive(Debug, Clone)]
pub struct Replies {
    common: String,
    key: String,
    nsp: String,
    specific: bool,
}

impl Replies {
    /// The response channels of namespace `nsp` under `options`.
    pub fn new(options: &RedisAdapterOptions, nsp: &str) -> Self {
        Replies {
            common: response_channel(&options.key, nsp),
            key: options.key.clone(),
            nsp: nsp.to_owned(),
            specific: options.publish_on_specific_response_channel,
        }
    }

    /// The channel of the answer to a request from server `uid`.
    pub fn to(&self, uid: &str) -> String {
        if self.specific {
            specific_response_channel(&self.key, &self.nsp, uid)
        } else {
            self.common.clone()
        }
    }

    /// The channel every server reads (SERVER_SIDE_EMIT replies).
    pub fn common(&self) -> &str {
        &self.common
    }
}

/// What to do with a message on the request channel of namespace `nsp`: answer another
/// server's request (never this server's own, `uid`) from `local`.
pub fn request_handler<M: Member>(
    local: Weak<LocalAdapter<M>>,
    link: Weak<RedisLink>,
    (replies, uid): (Replies, &str),
    events: HandlerSlot,
    default_timeout: Duration,
) -> Handler {
    let uid = uid.to_owned();
    Arc::new(move |channel: &str, payload: Bytes| {
        let request = match Request::decode(&payload) {
            Ok(request) => request,
            Err(e) => {
                tracing::debug!(%channel, error = %e, "cluster: ignored a request");
                return;
            }
        };
        if sender(&request) == Some(uid.as_str()) {
            return;
        }
        let Some(link) = link.upgrade() else { return };
        if let Request::ServerSideEmit {
            request_id, data, ..
        } = request
        {
            return server_event(&events, &link, replies.common(), request_id, data);
        }
        let Some(local) = local.upgrade() else { return };
        let to = sender(&request).map(|u| replies.to(u));
        if let Request::Broadcast {
            request_id,
            packet,
            targets,
            flags,
            ..
        } = request
        {
            let to = to.unwrap_or_else(|| replies.common().to_owned());
            let timeout = ack_wait(&flags, default_timeout);
            let job = broadcast(local, link, to, (request_id, packet, targets), timeout);
            actix_rt::spawn(job);
            return;
        }
        actix_rt::spawn(async move {
            if let (Some(mut response), Some(to)) = (answer(&*local, request).await, to) {
                stamp_node(&mut response, link.node_id());
                link.publish(to, response.encode());
            }
        });
    })
}

/// Adds the node id to each socket of a REMOTE_FETCH response ([`stamp`]).
fn stamp_node(response: &mut Response, node: &str) {
    if let Response::Fetch { sockets, .. } = response {
        stamp(sockets, node);
    }
}

/// Another server's socketsJoin (`join`) or socketsLeave of `rooms`, applied to `local`'s sockets
/// that `targets` selects; resolves to how many were selected (the operation starts at once).
pub fn apply_rooms<M: Member>(
    local: &LocalAdapter<M>,
    join: bool,
    targets: &Targets,
    rooms: Vec<Room>,
) -> BoxFuture<usize> {
    let selector = Arc::new(targets.selector());
    if join {
        local.sockets_join(selector, rooms)
    } else {
        local.sockets_leave(selector, rooms)
    }
}

/// How long this server waits for its clients' acknowledgements of a broadcast: the requester's
/// `flags.timeout` when it gives one, else `default`; never longer than [`MAX_ACK_WAIT`].
pub fn ack_wait(flags: &Flags, default: Duration) -> Duration {
    flags
        .timeout
        .map_or(default, Duration::from_millis)
        .min(MAX_ACK_WAIT)
}

/// Hands another server's event to the namespace's handler, with a reply that publishes
/// `{type: 6, requestId, data}` on `channel` when the sender asked for one.
fn server_event(
    events: &HandlerSlot,
    link: &Arc<RedisLink>,
    channel: &str,
    request_id: Option<String>,
    data: Value,
) {
    let ack = request_id.map(|request_id| {
        let (link, channel) = (Arc::downgrade(link), channel.to_owned());
        ServerAck::new(move |data| {
            if let Some(link) = link.upgrade() {
                let response = Response::ServerSideEmit { request_id, data };
                link.publish(channel, response.encode());
            }
        })
    });
    hand_event(events, data, ack);
}

/// Hands another server's event (`data`: `[name, ...args]`) to the namespace's handler in
/// `events`, with `ack` when the sender waits for a reply. Without a handler (or a name) nothing
/// answers: the sender's request ends at its timeout, as with a Node server without a listener.
pub fn hand_event(events: &HandlerSlot, data: Value, ack: Option<ServerAck>) {
    let Some(handler) = events.read().clone() else {
        return;
    };
    let Some((event, args)) = split_data(data) else {
        return;
    };
    handler(ServerEvent { event, args, ack });
}

/// `[name, ...args]` as the name and the arguments.
pub fn split_data(data: Value) -> Option<(String, Vec<Value>)> {
    let Value::Array(mut items) = data else {
        return None;
    };
    if items.is_empty() {
        return None;
    }
    let event = match items.remove(0) {
        Value::String(s) => s,
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    Some((event, items))
}

/// Delivers another server's broadcast to the selected sockets here, each asked for an
/// acknowledgement; publishes their count at once (even 0), then one acknowledgement (its first
/// argument) per reply as it comes.
async fn broadcast<M: Member>(
    local: Arc<LocalAdapter<M>>,
    link: Arc<RedisLink>,
    to: String,
    (request_id, packet, targets): (String, WirePacket, Targets),
    timeout: Duration,
) {
    let send = |answer: AckAnswer| {
        let request_id = request_id.clone();
        let response = match answer {
            AckAnswer::Count(client_count) => Response::ClientCount {
                request_id,
                client_count,
            },
            AckAnswer::Ack(packet, binary) => Response::BroadcastAck {
                request_id,
                packet,
                binary,
            },
        };
        link.publish(to.clone(), response.encode());
    };
    answer_broadcast(local, (packet, targets), timeout, send).await;
}

/// The uid of the server that sent `request`, if it says.
pub fn sender(request: &Request) -> Option<&str> {
    match request {
        Request::Sockets { uid, .. }
        | Request::AllRooms { uid, .. }
        | Request::Legacy { uid, .. }
        | Request::Fetch { uid, .. }
        | Request::ServerSideEmit { uid, .. }
        | Request::Broadcast { uid, .. } => Some(uid),
        Request::Rooms { uid, .. } | Request::Disconnect { uid, .. } => uid.as_deref(),
        Request::Ignored { .. } => None,
    }
}

/// Carries out `request` on this server's sockets and returns the response it calls for
/// (server-side events and broadcasts with acknowledgements are answered by
/// [`request_handler`] itself).
pub async fn answer<M: Member>(local: &LocalAdapter<M>, request: Request) -> Option<Response> {
    match request {
        Request::Sockets {
            request_id, rooms, ..
        } => {
            let selector = Selector {
                rooms,
                except: Vec::new(),
                except_sid: None,
            };
            let found = local.fetch_sockets(Arc::new(selector)).await;
            let sockets = found.iter().map(|s| s.id.to_string()).collect();
            Some(Response::Sockets {
                request_id,
                sockets,
            })
        }
        Request::AllRooms { request_id, .. } => {
            let rooms = local.rooms().await;
            let rooms = rooms.into_iter().map(|(r, _)| r.to_string()).collect();
            Some(Response::AllRooms { request_id, rooms })
        }
        Request::Rooms {
            join,
            targets,
            rooms,
            ..
        } => {
            apply_rooms(local, join, &targets, rooms).await;
            None
        }
        Request::Disconnect { targets, close, .. } => {
            local
                .disconnect_sockets(Arc::new(targets.selector()), close)
                .await;
            None
        }
        Request::Legacy {
            request_id,
            op,
            sid,
            ..
        } => legacy(local, request_id, op, sid).await,
        Request::Fetch {
            request_id,
            targets,
            ..
        } => {
            let found = local.fetch_sockets(Arc::new(targets.selector())).await;
            let sockets = found.iter().map(to_node).collect();
            Some(Response::Fetch {
                request_id,
                sockets,
            })
        }
        Request::ServerSideEmit { .. } | Request::Broadcast { .. } | Request::Ignored { .. } => {
            None
        }
    }
}

/// A pre-v4 one-socket request: only the server holding socket `sid` acts and answers.
async fn legacy<M: Member>(
    local: &LocalAdapter<M>,
    request_id: String,
    op: LegacyOp,
    sid: String,
) -> Option<Response> {
    let selector = Arc::new(Selector {
        rooms: vec![Room::from(sid.as_str())],
        except: Vec::new(),
        except_sid: None,
    });
    let done = match op {
        LegacyOp::Join(room) => local.sockets_join(selector, vec![Room::from(room)]).await,
        LegacyOp::Leave(room) => local.sockets_leave(selector, vec![Room::from(room)]).await,
        LegacyOp::Disconnect(close) => local.disconnect_sockets(selector, close).await,
    };
    (done > 0).then_some(Response::Done { request_id })
}

#[cfg(test)]
#[path = "answers_tests.rs"]
mod tests;
