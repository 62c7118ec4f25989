//! The sharded adapter's answers to the other servers' messages, as socket.io-adapter's
//! `ClusterAdapter` gives them: a server ignores its own messages and other namespaces';
//! BROADCAST, SOCKETS_JOIN, SOCKETS_LEAVE and DISCONNECT_SOCKETS act on this server's sockets;
//! the rest is answered on the requester's channel `<key>#<nsp>#<uid>#`: FETCH_SOCKETS with this
//! server's sockets (an empty list too, the requester counts answers; each socket stamped with
//! this node's id), a BROADCAST with a `requestId` with BROADCAST_CLIENT_COUNT (even 0) then one
//! BROADCAST_ACK per client, a SERVER_SIDE_EMIT with a `requestId` with the namespace handler's
//! SERVER_SIDE_EMIT_RESPONSE. Responses to this server's own requests go to
//! [`Shard::answered`].

use std::sync::{Arc, Weak};

use bytes::Bytes;
use metrics::Counter;
use serde_json::Value;

use crate::adapter::acks::ServerAck;
use crate::adapter::local::LocalAdapter;
use crate::adapter::redis::ack_exchange::{answer_broadcast, AckAnswer};
use crate::adapter::redis::adapter::admits_remote;
use crate::adapter::redis::answers::{ack_wait, apply_rooms, hand_event};
use crate::adapter::redis::cluster_wire::{ClusterBody, ClusterMessage};
use crate::adapter::redis::link::{self, Handler};
use crate::adapter::redis::node_socket::{stamp, to_node};
use crate::adapter::redis::sharded_peers::Shard;
use crate::adapter::redis::wire::{Broadcast, Flags, Targets, WirePacket};
use crate::adapter::Adapter;
use crate::protocol::socketio::Parser;
use crate::room::Member;

/// What to do with a message on one of `shard`'s channels: act on `local`'s sockets (encoding
/// broadcasts with `parser`), answer, or hand a response to the request waiting for it.
/// Broadcasts past the fan-out backlog limit ([`admits_remote`]) are dropped and counted on
/// `shed`.
pub fn message_handler<M: Member>(
    local: Weak<LocalAdapter<M>>,
    shard: Weak<Shard>,
    parser: Parser,
    shed: Counter,
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
        if message.uid == shard.uid() || message.nsp != shard.names().1 {
            return;
        }
        if matches!(message.body, ClusterBody::Broadcast { .. }) && !admits_remote(local.backlog())
        {
            link::shed(&shed);
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
    let from = message.uid;
    // The bulk operations start at once; their counts are not needed.
    match message.body {
        ClusterBody::Broadcast {
            packet,
            targets,
            flags,
            request_id: None,
        } => {
            let broadcast = Broadcast {
                uid: from,
                packet,
                targets,
                flags,
            };
            local.broadcast(broadcast.into_message(parser));
        }
        ClusterBody::Broadcast {
            packet,
            targets,
            flags,
            request_id: Some(request_id),
        } => {
            let job = (request_id, packet, targets, flags);
            broadcast_with_ack(local.clone(), shard.clone(), &from, job);
        }
        ClusterBody::Rooms {
            join,
            targets,
            rooms,
        } => {
            let _count = apply_rooms(local, join, &targets, rooms);
        }
        ClusterBody::DisconnectSockets { targets, close } => {
            let _count = local.disconnect_sockets(Arc::new(targets.selector()), close);
        }
        ClusterBody::FetchSockets {
            targets,
            request_id,
        } => fetch_sockets(local, shard.clone(), &from, (request_id, targets)),
        ClusterBody::ServerSideEmit { packet, request_id } => {
            let ack = request_id.map(|id| reply(shard, &from, id));
            hand_event(&shard.events, packet, ack);
        }
        body @ (ClusterBody::FetchSocketsResponse { .. }
        | ClusterBody::ServerSideEmitResponse { .. }
        | ClusterBody::BroadcastClientCount { .. }
        | ClusterBody::BroadcastAck { .. }) => shard.answered(ClusterMessage {
            uid: from,
            nsp: message.nsp,
            body,
            binary: message.binary,
        }),
        other => {
            tracing::debug!(kind = %other.kind(), "cluster: ignored a message type");
        }
    }
}

/// Answers server `from`'s FETCH_SOCKETS with this server's selected sockets, each stamped with
/// this node's id.
fn fetch_sockets<M: Member>(
    local: &LocalAdapter<M>,
    shard: Arc<Shard>,
    from: &str,
    (request_id, targets): (String, Targets),
) {
    let found = local.fetch_sockets(Arc::new(targets.selector()));
    let to = shard.response_channel_of(from);
    actix_rt::spawn(async move {
        let mut sockets: Vec<Value> = found.await.iter().map(to_node).collect();
        stamp(&mut sockets, &shard.settings().node_id);
        let body = ClusterBody::FetchSocketsResponse {
            request_id,
            sockets,
        };
        shard.publish(body, Some(to));
    });
}

/// The reply to server `to`'s event `request_id`: a SERVER_SIDE_EMIT_RESPONSE on its channel
/// (`null` for a reply without a value).
fn reply(shard: &Arc<Shard>, to: &str, request_id: String) -> ServerAck {
    let (shard, channel) = (Arc::downgrade(shard), shard.response_channel_of(to));
    ServerAck::new(move |data| {
        if let Some(shard) = shard.upgrade() {
            let packet = data.unwrap_or(Value::Null);
            let body = ClusterBody::ServerSideEmitResponse { request_id, packet };
            shard.publish(body, Some(channel));
        }
    })
}

/// Answers server `from`'s broadcast with acknowledgements: this server's selected sockets are
/// asked, their count and then each acknowledgement published on `from`'s channel.
fn broadcast_with_ack<M: Member>(
    local: Arc<LocalAdapter<M>>,
    shard: Arc<Shard>,
    from: &str,
    (request_id, packet, targets, flags): (String, WirePacket, Targets, Flags),
) {
    let timeout = ack_wait(&flags, shard.settings().request_timeout);
    let to = shard.response_channel_of(from);
    actix_rt::spawn(async move {
        let send = |answer: AckAnswer| {
            let request_id = request_id.clone();
            let (body, binary) = match answer {
                AckAnswer::Count(client_count) => (
                    ClusterBody::BroadcastClientCount {
                        request_id,
                        client_count,
                    },
                    Vec::new(),
                ),
                AckAnswer::Ack(packet, binary) => {
                    (ClusterBody::BroadcastAck { request_id, packet }, binary)
                }
            };
            shard.publish_with(body, binary, Some(to.clone()));
        };
        answer_broadcast(local, (packet, targets), timeout, send).await;
    });
}
