//! Requests between servers (`<key>-request#<nsp>#`) and their responses
//! (`<key>-response#<nsp>#[<uid>#]`), types 0-9 of the classic adapter (reference section 4.2).
//! Each is encoded as Node sends it: JSON with its keys in Node's order, except the broadcast with
//! acknowledgements and each acknowledgement, which are msgpack (they may carry binary).

use bytes::Bytes;
use serde_json::{json, Map, Value};

use super::wire::{
    as_count, decode_value, encode_json, encode_msgpack, rooms_field, rooms_json, string_field,
    Flags, Targets, WireError, WirePacket,
};
use crate::room::Room;

/// The request types of the classic adapter (its `RequestType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestType {
    /// 0: the ids of the sockets in some rooms.
    Sockets = 0,
    /// 1: every room name.
    AllRooms = 1,
    /// 2: sockets join rooms.
    RemoteJoin = 2,
    /// 3: sockets leave rooms.
    RemoteLeave = 3,
    /// 4: sockets are disconnected.
    RemoteDisconnect = 4,
    /// 5: sockets described (`fetchSockets`).
    RemoteFetch = 5,
    /// 6: an event for the servers themselves (`serverSideEmit`), and its acknowledgement.
    ServerSideEmit = 6,
    /// 7: a broadcast with acknowledgements.
    Broadcast = 7,
    /// 8: how many clients a broadcast with acknowledgements reached on one server.
    BroadcastClientCount = 8,
    /// 9: one client's acknowledgement of a broadcast.
    BroadcastAck = 9,
}

impl RequestType {
    /// The type numbered `n`.
    pub fn from_number(n: u64) -> Option<Self> {
        use RequestType::*;
        [
            Sockets,
            AllRooms,
            RemoteJoin,
            RemoteLeave,
            RemoteDisconnect,
            RemoteFetch,
            ServerSideEmit,
            Broadcast,
            BroadcastClientCount,
            BroadcastAck,
        ]
        .into_iter()
        .find(|t| *t as u64 == n)
    }
}

/// A request read from or written to the request channel.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// 0: `{uid, requestId, type, rooms}`.
    Sockets {
        uid: String,
        request_id: String,
        rooms: Vec<Room>,
    },
    /// 1: `{uid, requestId, type}`.
    AllRooms { uid: String, request_id: String },
    /// 2 and 3: `{uid, type, opts, rooms}`; the emitter sends no uid. Not answered.
    Rooms {
        uid: Option<String>,
        join: bool,
        targets: Targets,
        rooms: Vec<Room>,
    },
    /// 4: `{uid, type, opts, close}`; the emitter sends no uid. Not answered.
    Disconnect {
        uid: Option<String>,
        targets: Targets,
        close: bool,
    },
    /// 2, 3 and 4 as adapters before v4 send them, for one socket:
    /// `{uid, requestId, type, sid, room | close}`; answered by `{requestId}` by its server.
    Legacy {
        uid: String,
        request_id: String,
        op: LegacyOp,
        sid: String,
    },
    /// 5: `{uid, requestId, type, opts}`.
    Fetch {
        uid: String,
        request_id: String,
        targets: Targets,
    },
    /// 6: `{uid, [requestId,] type, data: [event, ...args]}`; a request id asks for
    /// acknowledgements. JSON: binary arguments do not survive it in Node either.
    ServerSideEmit {
        uid: String,
        request_id: Option<String>,
        data: Value,
    },
    /// 7 (msgpack): `{uid, requestId, type, packet, opts: {rooms, except, flags}}`.
    Broadcast {
        uid: String,
        request_id: String,
        packet: WirePacket,
        targets: Targets,
        flags: Flags,
    },
    /// A type this format does not know, or that is no request (8, 9): to ignore, as Node does.
    Ignored { kind: Value },
}

/// What a legacy (pre-v4) one-socket request does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LegacyOp {
    /// 2: the socket joins `room`.
    Join(String),
    /// 3: the socket leaves `room`.
    Leave(String),
    /// 4: the socket is disconnected (its connection closed when `close`).
    Disconnect(bool),
}

impl Request {
    /// The message's bytes, as Node writes them.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Request::Broadcast { packet, .. } => encode_msgpack(&self.to_value(), &packet.binary),
            _ => encode_json(&self.to_value()),
        }
    }

    /// The message as a value, keys in Node's order.
    pub fn to_value(&self) -> Value {
        match self {
            Request::Sockets {
                uid,
                request_id,
                rooms,
            } => {
                json!({"uid": uid, "requestId": request_id, "type": 0, "rooms": rooms_json(rooms)})
            }
            Request::AllRooms { uid, request_id } => {
                json!({"uid": uid, "requestId": request_id, "type": 1})
            }
            Request::Rooms {
                uid,
                join,
                targets,
                rooms,
            } => {
                let kind = if *join { 2 } else { 3 };
                with_uid(
                    uid,
                    json!({"type": kind, "opts": targets.to_value(), "rooms": rooms_json(rooms)}),
                )
            }
            Request::Disconnect {
                uid,
                targets,
                close,
            } => with_uid(
                uid,
                json!({"type": 4, "opts": targets.to_value(), "close": close}),
            ),
            Request::Legacy {
                uid,
                request_id,
                op,
                sid,
            } => legacy_value(uid, request_id, op, sid),
            Request::Fetch {
                uid,
                request_id,
                targets,
            } => {
                json!({"uid": uid, "requestId": request_id, "type": 5, "opts": targets.to_value()})
            }
            Request::ServerSideEmit {
                uid,
                request_id: Some(id),
                data,
            } => {
                json!({"uid": uid, "requestId": id, "type": 6, "data": data})
            }
            Request::ServerSideEmit {
                uid,
                request_id: None,
                data,
            } => {
                json!({"uid": uid, "type": 6, "data": data})
            }
            Request::Broadcast {
                uid,
                request_id,
                packet,
                targets,
                flags,
            } => json!({
                "uid": uid,
                "requestId": request_id,
                "type": 7,
                "packet": packet.to_value(),
                "opts": targets.with_flags(flags),
            }),
            Request::Ignored { kind } => json!({"type": kind}),
        }
    }

    /// The request in `input` (JSON when it starts with `{`, msgpack otherwise). An unknown type
    /// is [`Request::Ignored`]; a known type of the wrong shape is an error.
    pub fn decode(input: &Bytes) -> Result<Self, WireError> {
        let (value, binary) = decode_value(input)?;
        let Value::Object(map) = value else {
            return Err(WireError::Shape("request"));
        };
        let kind = map.get("type").cloned().unwrap_or(Value::Null);
        let Some(kind_n) = as_count(&kind).and_then(RequestType::from_number) else {
            return Ok(Request::Ignored { kind });
        };
        let uid = || string_field(&map, "uid");
        let request_id = || string_field(&map, "requestId");
        let optional_uid = map.get("uid").and_then(Value::as_str).map(str::to_owned);
        Ok(match kind_n {
            RequestType::Sockets => Request::Sockets {
                uid: uid()?,
                request_id: request_id()?,
                rooms: rooms_field(&map, "rooms")?,
            },
            RequestType::AllRooms => Request::AllRooms {
                uid: uid()?,
                request_id: request_id()?,
            },
            RequestType::RemoteJoin | RequestType::RemoteLeave | RequestType::RemoteDisconnect
                if !map.contains_key("opts") =>
            {
                decode_legacy(&map, kind_n)?
            }
            RequestType::RemoteJoin | RequestType::RemoteLeave => Request::Rooms {
                uid: optional_uid,
                join: kind_n == RequestType::RemoteJoin,
                targets: Targets::from_value(map.get("opts"))?,
                rooms: rooms_field(&map, "rooms")?,
            },
            RequestType::RemoteDisconnect => Request::Disconnect {
                uid: optional_uid,
                targets: Targets::from_value(map.get("opts"))?,
                close: matches!(map.get("close"), Some(Value::Bool(true))),
            },
            RequestType::RemoteFetch => Request::Fetch {
                uid: uid()?,
                request_id: request_id()?,
                targets: Targets::from_value(map.get("opts"))?,
            },
            RequestType::ServerSideEmit => Request::ServerSideEmit {
                uid: uid()?,
                request_id: map
                    .get("requestId")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                data: match map.get("data") {
                    Some(data @ Value::Array(_)) => data.clone(),
                    _ => return Err(WireError::Shape("data")),
                },
            },
            RequestType::Broadcast => decode_broadcast(map, &binary)?,
            RequestType::BroadcastClientCount | RequestType::BroadcastAck => {
                Request::Ignored { kind }
            }
        })
    }
}

/// `{uid, requestId, type, sid, room | close}`.
fn legacy_value(uid: &str, request_id: &str, op: &LegacyOp, sid: &str) -> Value {
    let mut map = json_map(json!({"uid": uid, "requestId": request_id}));
    let (kind, key, value) = match op {
        LegacyOp::Join(room) => (2, "room", Value::from(room.as_str())),
        LegacyOp::Leave(room) => (3, "room", Value::from(room.as_str())),
        LegacyOp::Disconnect(close) => (4, "close", Value::Bool(*close)),
    };
    map.insert("type".to_owned(), Value::from(kind));
    map.insert("sid".to_owned(), Value::from(sid));
    map.insert(key.to_owned(), value);
    Value::Object(map)
}

fn decode_legacy(map: &Map<String, Value>, kind: RequestType) -> Result<Request, WireError> {
    let op = match kind {
        RequestType::RemoteJoin => LegacyOp::Join(string_field(map, "room")?),
        RequestType::RemoteLeave => LegacyOp::Leave(string_field(map, "room")?),
        _ => LegacyOp::Disconnect(matches!(map.get("close"), Some(Value::Bool(true)))),
    };
    Ok(Request::Legacy {
        uid: string_field(map, "uid")?,
        request_id: string_field(map, "requestId")?,
        op,
        sid: string_field(map, "sid")?,
    })
}

fn decode_broadcast(mut map: Map<String, Value>, binary: &[Bytes]) -> Result<Request, WireError> {
    let packet = map
        .shift_remove("packet")
        .ok_or(WireError::Shape("packet"))?;
    Ok(Request::Broadcast {
        uid: string_field(&map, "uid")?,
        request_id: string_field(&map, "requestId")?,
        packet: WirePacket::from_value(packet, binary)?,
        targets: Targets::from_value(map.get("opts"))?,
        flags: Flags::from_value(map.get("opts").and_then(|o| o.get("flags"))),
    })
}

/// `body` with `uid` first when there is one (the emitter sends none).
fn with_uid(uid: &Option<String>, body: Value) -> Value {
    let mut map = Map::new();
    if let Some(uid) = uid {
        map.insert("uid".to_owned(), Value::from(uid.as_str()));
    }
    map.extend(json_map(body));
    Value::Object(map)
}

fn json_map(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}
