//! The `ClusterAdapter` message format (socket.io-adapter's `cluster-adapter.ts`, reference section
//! 4.4), which the sharded Redis adapter (`createShardedAdapter`) publishes with `SPUBLISH` on
//! `<prefix>#<nsp>#` (and one-room channels, see `channel::sharded_broadcast_channel`), its
//! responses on `<prefix>#<nsp>#<requester uid>#`.
//!
//! Every message is `{type, data?, uid, nsp}` (`uid` and `nsp` are added last by the publisher).
//! It is JSON unless its type may carry binary (BROADCAST, FETCH_SOCKETS_RESPONSE,
//! SERVER_SIDE_EMIT, SERVER_SIDE_EMIT_RESPONSE, BROADCAST_ACK) and it does: then notepack msgpack.
//! The key order inside `data` follows the reference's field lists (Node's decoders do not care).

use bytes::Bytes;
use serde_json::{json, Map, Value};

use super::wire::{
    as_count, decode_value, encode_json, encode_msgpack, rooms_field, rooms_json, string_field,
    Flags, Targets, WireError, WirePacket,
};
use crate::protocol::socketio::msgpack::renumber;
use crate::room::Room;

/// What a cluster message says.
#[derive(Debug, Clone, PartialEq)]
pub enum ClusterBody {
    /// 1: a server started (heartbeat adapters only); peers answer with a heartbeat.
    InitialHeartbeat,
    /// 2: a server is alive (heartbeat adapters only).
    Heartbeat,
    /// 3: `{opts: {rooms, except, flags}, packet, requestId?}`; a request id asks for acks.
    Broadcast {
        packet: WirePacket,
        targets: Targets,
        flags: Flags,
        request_id: Option<String>,
    },
    /// 4 and 5: `{opts, rooms}`: the targeted sockets join (4) or leave (5) `rooms`.
    Rooms {
        join: bool,
        targets: Targets,
        rooms: Vec<Room>,
    },
    /// 6: `{opts, close?}`.
    DisconnectSockets { targets: Targets, close: bool },
    /// 7: `{opts, requestId}`.
    FetchSockets {
        targets: Targets,
        request_id: String,
    },
    /// 8: `{requestId, sockets}` (sockets shaped as in `node_socket`).
    FetchSocketsResponse {
        request_id: String,
        sockets: Vec<Value>,
    },
    /// 9: `{packet: [event, ...args], requestId?}`.
    ServerSideEmit {
        packet: Value,
        request_id: Option<String>,
    },
    /// 10: `{requestId, packet: arg}`.
    ServerSideEmitResponse { request_id: String, packet: Value },
    /// 11: `{requestId, clientCount}`.
    BroadcastClientCount {
        request_id: String,
        client_count: u64,
    },
    /// 12: `{requestId, packet: arg}`.
    BroadcastAck { request_id: String, packet: Value },
    /// 13: a server is closing (heartbeat adapters only).
    AdapterClose,
    /// An unknown type, to ignore.
    Ignored { kind: Value },
}

/// One message of the cluster format.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterMessage {
    /// The publishing server (16 hex characters; `emitter` for emitters).
    pub uid: String,
    /// The namespace (receivers ignore other namespaces').
    pub nsp: String,
    /// What it says.
    pub body: ClusterBody,
    /// The binaries the placeholders of a value body name (a broadcast's are in its packet).
    pub binary: Vec<Bytes>,
}

impl ClusterBody {
    /// The type number.
    pub fn kind(&self) -> Value {
        Value::from(match self {
            ClusterBody::InitialHeartbeat => 1,
            ClusterBody::Heartbeat => 2,
            ClusterBody::Broadcast { .. } => 3,
            ClusterBody::Rooms { join: true, .. } => 4,
            ClusterBody::Rooms { join: false, .. } => 5,
            ClusterBody::DisconnectSockets { .. } => 6,
            ClusterBody::FetchSockets { .. } => 7,
            ClusterBody::FetchSocketsResponse { .. } => 8,
            ClusterBody::ServerSideEmit { .. } => 9,
            ClusterBody::ServerSideEmitResponse { .. } => 10,
            ClusterBody::BroadcastClientCount { .. } => 11,
            ClusterBody::BroadcastAck { .. } => 12,
            ClusterBody::AdapterClose => 13,
            ClusterBody::Ignored { kind } => return kind.clone(),
        })
    }

    /// The `data` object, if the type has one.
    pub fn data(&self) -> Option<Value> {
        Some(match self {
            ClusterBody::InitialHeartbeat
            | ClusterBody::Heartbeat
            | ClusterBody::AdapterClose
            | ClusterBody::Ignored { .. } => return None,
            ClusterBody::Broadcast {
                packet,
                targets,
                flags,
                request_id,
            } => {
                let mut data =
                    json!({"opts": targets.with_flags(flags), "packet": packet.to_value()});
                if let (Some(id), Some(map)) = (request_id, data.as_object_mut()) {
                    map.insert("requestId".to_owned(), Value::from(id.as_str()));
                }
                data
            }
            ClusterBody::Rooms { targets, rooms, .. } => {
                json!({"opts": targets.to_value(), "rooms": rooms_json(rooms)})
            }
            ClusterBody::DisconnectSockets { targets, close } => {
                json!({"opts": targets.to_value(), "close": close})
            }
            ClusterBody::FetchSockets {
                targets,
                request_id,
            } => {
                json!({"opts": targets.to_value(), "requestId": request_id})
            }
            ClusterBody::FetchSocketsResponse {
                request_id,
                sockets,
            } => {
                json!({"requestId": request_id, "sockets": sockets})
            }
            ClusterBody::ServerSideEmit {
                packet,
                request_id: None,
            } => json!({"packet": packet}),
            ClusterBody::ServerSideEmit {
                packet,
                request_id: Some(id),
            } => {
                json!({"packet": packet, "requestId": id})
            }
            ClusterBody::ServerSideEmitResponse { request_id, packet }
            | ClusterBody::BroadcastAck { request_id, packet } => {
                json!({"requestId": request_id, "packet": packet})
            }
            ClusterBody::BroadcastClientCount {
                request_id,
                client_count,
            } => {
                json!({"requestId": request_id, "clientCount": client_count})
            }
        })
    }
}

impl ClusterMessage {
    /// The message as a value: `{type, data?, uid, nsp}`.
    pub fn to_value(&self) -> Value {
        let mut map = Map::new();
        map.insert("type".to_owned(), self.body.kind());
        if let Some(data) = self.body.data() {
            map.insert("data".to_owned(), data);
        }
        map.insert("uid".to_owned(), Value::from(self.uid.as_str()));
        map.insert("nsp".to_owned(), Value::from(self.nsp.as_str()));
        Value::Object(map)
    }

    /// The message's bytes: msgpack when it carries binary (only types that may), JSON otherwise.
    pub fn encode(&self) -> Vec<u8> {
        let binary = match &self.body {
            ClusterBody::Broadcast { packet, .. } => &packet.binary,
            ClusterBody::FetchSocketsResponse { .. }
            | ClusterBody::ServerSideEmit { .. }
            | ClusterBody::ServerSideEmitResponse { .. }
            | ClusterBody::BroadcastAck { .. } => &self.binary,
            _ => return encode_json(&self.to_value()),
        };
        if binary.is_empty() {
            encode_json(&self.to_value())
        } else {
            encode_msgpack(&self.to_value(), binary)
        }
    }

    /// The message in `input` (JSON when it starts with `{`, msgpack otherwise).
    pub fn decode(input: &Bytes) -> Result<Self, WireError> {
        let (value, binary) = decode_value(input)?;
        let Value::Object(mut map) = value else {
            return Err(WireError::Shape("message"));
        };
        let uid = string_field(&map, "uid")?;
        let nsp = string_field(&map, "nsp")?;
        let kind = map.get("type").cloned().unwrap_or(Value::Null);
        let data = match map.shift_remove("data") {
            Some(Value::Object(data)) => data,
            _ => Map::new(),
        };
        Self::from_parts(uid, nsp, kind, data, binary)
    }

    /// The message of server `uid` on namespace `nsp` whose type is `kind` and whose `data`
    /// object (empty when it has none) names `binary` in its placeholders: what a decoder of
    /// another framing (a stream entry's fields, say) found.
    pub fn from_parts(
        uid: String,
        nsp: String,
        kind: Value,
        data: Map<String, Value>,
        binary: Vec<Bytes>,
    ) -> Result<Self, WireError> {
        let (mut body, binary) = decode_body(kind, data, binary)?;
        if let ClusterBody::Broadcast { packet, .. } = &mut body {
            // The packet goes out without its namespace: it is the message's.
            packet.packet.nsp.clone_from(&nsp);
        }
        Ok(ClusterMessage {
            uid,
            nsp,
            body,
            binary,
        })
    }
}

fn decode_body(
    kind: Value,
    mut data: Map<String, Value>,
    binary: Vec<Bytes>,
) -> Result<(ClusterBody, Vec<Bytes>), WireError> {
    let request_id = |data: &Map<String, Value>| string_field(data, "requestId");
    let targets = Targets::from_value(data.get("opts"));
    let body = match as_count(&kind) {
        Some(1) => ClusterBody::InitialHeartbeat,
        Some(2) => ClusterBody::Heartbeat,
        Some(3) => {
            let packet = data
                .shift_remove("packet")
                .ok_or(WireError::Shape("packet"))?;
            ClusterBody::Broadcast {
                packet: WirePacket::from_value(packet, &binary)?,
                targets: targets?,
                flags: Flags::from_value(data.get("opts").and_then(|o| o.get("flags"))),
                request_id: data
                    .get("requestId")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            }
        }
        Some(n @ (4 | 5)) => ClusterBody::Rooms {
            join: n == 4,
            targets: targets?,
            rooms: rooms_field(&data, "rooms")?,
        },
        Some(6) => ClusterBody::DisconnectSockets {
            targets: targets?,
            close: matches!(data.get("close"), Some(Value::Bool(true))),
        },
        Some(7) => ClusterBody::FetchSockets {
            targets: targets?,
            request_id: request_id(&data)?,
        },
        Some(n @ (8 | 9 | 10 | 12)) => return decode_valued(n, data, binary),
        Some(11) => ClusterBody::BroadcastClientCount {
            request_id: request_id(&data)?,
            client_count: data
                .get("clientCount")
                .and_then(as_count)
                .ok_or(WireError::Shape("clientCount"))?,
        },
        Some(13) => ClusterBody::AdapterClose,
        _ => ClusterBody::Ignored { kind },
    };
    Ok((body, Vec::new()))
}

/// The bodies that carry a value (8, 9, 10, 12), with the binaries its placeholders name.
fn decode_valued(
    kind: u64,
    mut data: Map<String, Value>,
    binary: Vec<Bytes>,
) -> Result<(ClusterBody, Vec<Bytes>), WireError> {
    let optional_id = data
        .get("requestId")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let request_id = optional_id.clone().ok_or(WireError::Shape("requestId"));
    let key = if kind == 8 { "sockets" } else { "packet" };
    let mut value = data.shift_remove(key).unwrap_or(Value::Null);
    let binary = if binary.is_empty() {
        binary
    } else {
        renumber(&mut value, binary)
    };
    let body = match (kind, value) {
        (8, Value::Array(sockets)) => ClusterBody::FetchSocketsResponse {
            request_id: request_id?,
            sockets,
        },
        (9, packet @ Value::Array(_)) => ClusterBody::ServerSideEmit {
            packet,
            request_id: optional_id,
        },
        (10, packet) => ClusterBody::ServerSideEmitResponse {
            request_id: request_id?,
            packet,
        },
        (12, packet) => ClusterBody::BroadcastAck {
            request_id: request_id?,
            packet,
        },
        _ => return Err(WireError::Shape(key)),
    };
    Ok((body, binary))
}
