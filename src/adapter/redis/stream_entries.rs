//! What the Redis Streams adapter does with the stream's entries of other servers: BROADCAST
//! (delivered here, with its entry id appended as the offset under connection state recovery),
//! SOCKETS_JOIN, SOCKETS_LEAVE and DISCONNECT_SOCKETS, carried out on this node's sockets; its own
//! entries (by uid) and other types are ignored.

use std::sync::{Arc, Weak};
use std::time::Instant;

use metrics::Counter;
use parking_lot::Mutex;
use serde_json::Value;

use crate::adapter::local::LocalAdapter;
use crate::adapter::redis::adapter::admits_remote;
use crate::adapter::redis::answers::apply_rooms;
use crate::adapter::redis::cluster_wire::{ClusterBody, ClusterMessage};
use crate::adapter::redis::link;
use crate::adapter::redis::stream_link::EntryHandler;
use crate::adapter::redis::stream_recent::Recent;
use crate::adapter::redis::stream_wire::parse_offset;
use crate::adapter::redis::wire::Broadcast;
use crate::adapter::{Adapter, BroadcastMessage};
use crate::payload::encode_frames;
use crate::protocol::socketio::Parser;
use crate::room::Member;

/// Whether `message` gets an offset under connection state recovery: an event that is neither
/// volatile nor waiting for acknowledgements.
pub fn takes_offset(message: &BroadcastMessage) -> bool {
    !message.options.volatile && message.packet.id.is_none()
}

/// `message` with `offset` appended to its arguments, encoded again with `parser`.
pub fn with_offset(
    mut message: BroadcastMessage,
    offset: &str,
    parser: Parser,
) -> BroadcastMessage {
    if let Some(Value::Array(args)) = message.packet.data.as_mut() {
        args.push(Value::from(offset));
        message.frames = encode_frames(parser, &message.packet, &message.binary).into();
    }
    message
}

/// The recent deliveries of a namespace's stream broadcasts, when connection state recovery is
/// on.
pub type Recents = Option<Arc<Mutex<Recent>>>;

/// Hands `message`, stream entry `id`, to `deliver`; with recovery on, remembered in `recent`
/// and delivered under its lock (so a recovered socket is added between two deliveries, never
/// during one), left out of what recovered sockets had replayed.
pub fn deliver_recorded(
    recent: &Recents,
    id: &str,
    mut message: BroadcastMessage,
    deliver: impl FnOnce(BroadcastMessage),
) {
    let (Some(recent), Some(id)) = (recent, parse_offset(id)) else {
        return deliver(message);
    };
    let mut recent = recent.lock();
    let selector = message.options.selector.clone();
    let frames = message.frames.clone();
    message.options.selector = recent.delivered(id, selector, frames, Instant::now());
    deliver(message);
}

/// What to do with an entry of namespace `nsp`: another server's, carried out on `local`.
pub fn entry_handler<M: Member>(
    local: Weak<LocalAdapter<M>>,
    uid: String,
    (parser, recent): (Parser, Recents),
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
                if recent.is_some() && takes_offset(&delivered) {
                    delivered = with_offset(delivered, id, parser);
                }
                deliver_recorded(&recent, id, delivered, |m| local.broadcast(m));
            }
            ClusterBody::Rooms {
                join,
                targets,
                rooms,
            } => {
                let _count = apply_rooms(&local, join, &targets, rooms);
            }
            ClusterBody::DisconnectSockets { targets, close } => {
                let _count = local.disconnect_sockets(Arc::new(targets.selector()), close);
            }
            other => tracing::debug!(kind = %other.kind(), "cluster: ignored a stream entry"),
        }
    })
}
