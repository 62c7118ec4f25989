//! Responses on `<key>-response#<nsp>#[<uid>#]` (reference section 4.2). Most carry no type:
//! Node reads them by the type of the pending request their `requestId` names, and so does
//! [`Response::decode`].

use bytes::Bytes;
use serde_json::{json, Map, Value};

use super::request::RequestType;
use super::wire::{as_count, decode_value, encode_json, encode_msgpack, string_field, WireError};

/// A response read from or written to the response channel.
#[derive(Debug, Clone, PartialEq)]
pub enum Response {
    /// To SOCKETS: `{requestId, sockets: [ids]}`.
    Sockets {
        request_id: String,
        sockets: Vec<String>,
    },
    /// To ALL_ROOMS: `{requestId, rooms}`.
    AllRooms {
        request_id: String,
        rooms: Vec<String>,
    },
    /// To a legacy one-socket join, leave or disconnect: `{requestId}`.
    Done { request_id: String },
    /// To REMOTE_FETCH: `{requestId, sockets: [{id, handshake, rooms, data}]}` (see
    /// `node_socket` for the socket objects).
    Fetch {
        request_id: String,
        sockets: Vec<Value>,
    },
    /// An acknowledgement of a SERVER_SIDE_EMIT: `{type: 6, requestId, data}` (`data` absent
    /// when the argument was `undefined`).
    ServerSideEmit {
        request_id: String,
        data: Option<Value>,
    },
    /// How many clients a broadcast with acknowledgements reached on one server:
    /// `{type: 8, requestId, clientCount}`.
    ClientCount {
        request_id: String,
        client_count: u64,
    },
    /// One client's acknowledgement (its first argument) of a broadcast, msgpack:
    /// `{type: 9, requestId, packet}`, placeholders in `packet` naming `binary`.
    BroadcastAck {
        request_id: String,
        packet: Value,
        binary: Vec<Bytes>,
    },
}

impl Response {
    /// The request this answers.
    pub fn request_id(&self) -> &str {
        match self {
            Response::Sockets { request_id, .. }
            | Response::AllRooms { request_id, .. }
            | Response::Done { request_id }
            | Response::Fetch { request_id, .. }
            | Response::ServerSideEmit { request_id, .. }
            | Response::ClientCount { request_id, .. }
            | Response::BroadcastAck { request_id, .. } => request_id,
        }
    }

    /// The message's bytes, as Node writes them.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Response::BroadcastAck { binary, .. } => encode_msgpack(&self.to_value(), binary),
            _ => encode_json(&self.to_value()),
        }
    }

    /// The message as a value, keys in Node's order.
    pub fn to_value(&self) -> Value {
        match self {
            Response::Sockets {
                request_id,
                sockets,
            } => {
                json!({"requestId": request_id, "sockets": sockets})
            }
            Response::AllRooms { request_id, rooms } => {
                json!({"requestId": request_id, "rooms": rooms})
            }
            Response::Done { request_id } => json!({"requestId": request_id}),
            Response::Fetch {
                request_id,
                sockets,
            } => {
                json!({"requestId": request_id, "sockets": sockets})
            }
            Response::ServerSideEmit {
                request_id,
                data: Some(data),
            } => {
                json!({"type": 6, "requestId": request_id, "data": data})
            }
            Response::ServerSideEmit {
                request_id,
                data: None,
            } => {
                json!({"type": 6, "requestId": request_id})
            }
            Response::ClientCount {
                request_id,
                client_count,
            } => {
                json!({"type": 8, "requestId": request_id, "clientCount": client_count})
            }
            Response::BroadcastAck {
                request_id, packet, ..
            } => {
                json!({"type": 9, "requestId": request_id, "packet": packet})
            }
        }
    }

    /// The response in `input`. A typed one (6, 8, 9) is read as such; an untyped one as the
    /// answer to the request type `pending` gives for its request id. `Ok(None)`: not an answer
    /// to a pending request of this server (unknown id, or a type that answers nothing).
    pub fn decode(
        input: &Bytes,
        pending: impl FnOnce(&str) -> Option<RequestType>,
    ) -> Result<Option<Self>, WireError> {
        let (value, binary) = decode_value(input)?;
        let Value::Object(mut map) = value else {
            return Err(WireError::Shape("response"));
        };
        let request_id = string_field(&map, "requestId")?;
        let kind = match map.get("type") {
            None => match pending(&request_id) {
                Some(kind) => kind,
                None => return Ok(None),
            },
            Some(kind) => match as_count(kind).and_then(RequestType::from_number) {
                Some(
                    kind @ (RequestType::ServerSideEmit
                    | RequestType::BroadcastClientCount
                    | RequestType::BroadcastAck),
                ) => kind,
                _ => return Ok(None),
            },
        };
        let strings =
            |map: &Map<String, Value>, key: &'static str| -> Result<Vec<String>, WireError> {
                match map.get(key) {
                    Some(Value::Array(items)) => items
                        .iter()
                        .map(|i| i.as_str().map(str::to_owned).ok_or(WireError::Shape(key)))
                        .collect(),
                    _ => Err(WireError::Shape(key)),
                }
            };
        Ok(Some(match kind {
            RequestType::Sockets => Response::Sockets {
                sockets: strings(&map, "sockets")?,
                request_id,
            },
            RequestType::AllRooms => Response::AllRooms {
                rooms: strings(&map, "rooms")?,
                request_id,
            },
            RequestType::RemoteJoin | RequestType::RemoteLeave | RequestType::RemoteDisconnect => {
                Response::Done { request_id }
            }
            RequestType::RemoteFetch => match map.shift_remove("sockets") {
                Some(Value::Array(sockets)) => Response::Fetch {
                    request_id,
                    sockets,
                },
                _ => return Err(WireError::Shape("sockets")),
            },
            RequestType::ServerSideEmit => Response::ServerSideEmit {
                data: map.shift_remove("data"),
                request_id,
            },
            RequestType::BroadcastClientCount => Response::ClientCount {
                client_count: map
                    .get("clientCount")
                    .and_then(as_count)
                    .ok_or(WireError::Shape("clientCount"))?,
                request_id,
            },
            RequestType::BroadcastAck => {
                let mut packet = map.shift_remove("packet").unwrap_or(Value::Null);
                let binary = if binary.is_empty() {
                    binary
                } else {
                    crate::protocol::socketio::msgpack::renumber(&mut packet, binary)
                };
                Response::BroadcastAck {
                    request_id,
                    packet,
                    binary,
                }
            }
            RequestType::Broadcast => return Ok(None),
        }))
    }
}
