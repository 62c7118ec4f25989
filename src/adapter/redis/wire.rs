//! The classic adapter's broadcast message and the value layer every message shares: decoding
//! bytes as JSON or msgpack (Node's rule: a first byte `{` is JSON), Socket.IO packets as Node's
//! adapter publishes them (`{type, data, nsp}`, binary arguments inline as msgpack `bin`), and the
//! `opts` objects (`{rooms, except, flags}`).
//!
//! A broadcast is `PUBLISH <key>#<nsp>#[<room>#] msgpack([uid, packet, opts])`, written as
//! notepack.io 3 writes it (see `protocol::msgpack`). roomcast keeps binary arguments as
//! placeholders with the binaries beside them; they become `bin` on the wire and placeholders
//! again when read, numbered in the order they appear.

use std::sync::Arc;

use bytes::Bytes;
use serde_json::{json, Map, Value};

use crate::adapter::{BroadcastMessage, BroadcastOptions};
use crate::payload::encode_frames;
use crate::protocol::msgpack::{write_value, MsgpackError, Reader};
use crate::protocol::socketio::msgpack::renumber;
use crate::protocol::socketio::{Packet, PacketType, Parser};
use crate::room::{Room, Selector};

/// Why a message read from Redis is not one this format knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Not one msgpack value.
    #[error("invalid msgpack: {0}")]
    Msgpack(#[from] MsgpackError),
    /// Starts with `{` but is not JSON.
    #[error("invalid JSON: {0}")]
    Json(String),
    /// A value of the wrong shape (the field named).
    #[error("unexpected shape: {0}")]
    Shape(&'static str),
}

/// Decodes a message: JSON when its first byte is `{`, msgpack otherwise. Binary values become
/// placeholders, their bytes returned beside the value in reading order; `undefined` is `null`;
/// a `Date` (notepack 3's timestamp) is its ISO 8601 text, as Node's servers send it on.
pub fn decode_value(input: &Bytes) -> Result<(Value, Vec<Bytes>), WireError> {
    if input.first() == Some(&b'{') {
        let value = serde_json::from_slice(input).map_err(|e| WireError::Json(e.to_string()))?;
        return Ok((value, Vec::new()));
    }
    let mut reader = Reader::notepack3(input);
    let value = reader.read()?.unwrap_or(Value::Null);
    reader.finish()?;
    Ok((value, reader.take_binary()))
}

/// `value` as msgpack, its placeholders naming one of `binary` written as `bin`.
pub fn encode_msgpack(value: &Value, binary: &[Bytes]) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + binary.iter().map(Bytes::len).sum::<usize>());
    write_value(&mut out, value, binary);
    out
}

/// `value` as `JSON.stringify` writes it (keys in insertion order).
pub fn encode_json(value: &Value) -> Vec<u8> {
    // Serialising a Value to a Vec cannot fail (its keys are strings).
    serde_json::to_vec(value).unwrap_or_default()
}

/// A non-negative integer, also written as an integral float.
pub(crate) fn as_count(v: &Value) -> Option<u64> {
    v.as_u64().or_else(|| {
        let f = v.as_f64()?;
        (f.fract() == 0.0 && (0.0..9_007_199_254_740_992.0).contains(&f)).then_some(f as u64)
    })
}

/// The string at `key` of `map`.
pub(crate) fn string_field(
    map: &Map<String, Value>,
    key: &'static str,
) -> Result<String, WireError> {
    match map.get(key) {
        Some(Value::String(s)) => Ok(s.clone()),
        _ => Err(WireError::Shape(key)),
    }
}

/// A list of room names (`[...set]` in Node); absent is empty.
pub(crate) fn rooms_field(
    map: &Map<String, Value>,
    key: &'static str,
) -> Result<Vec<Room>, WireError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|r| r.as_str().map(Room::from).ok_or(WireError::Shape(key)))
            .collect(),
        Some(_) => Err(WireError::Shape(key)),
    }
}

pub(crate) fn rooms_json(rooms: &[Room]) -> Value {
    Value::Array(rooms.iter().map(|r| Value::from(&**r)).collect())
}

/// A Socket.IO event as it travels between servers, with its binaries.
#[derive(Debug, Clone, PartialEq)]
pub struct WirePacket {
    /// EVENT or BINARY_EVENT (by whether there are binaries), placeholders in its data.
    pub packet: Packet,
    /// The binary arguments, in placeholder order.
    pub binary: Vec<Bytes>,
}

impl WirePacket {
    /// `{type: 2, data, nsp}`, as Node's adapter sets it before publishing (no ack id: each
    /// receiving server assigns its own). Its placeholders name [`WirePacket::binary`].
    pub fn to_value(&self) -> Value {
        packet_value(&self.packet)
    }

    /// The event in `value` (`{type: 2, data: [name, ...args], nsp?}`), whose placeholders name
    /// `binary`; the namespace defaults to `/` as in Node.
    pub fn from_value(value: Value, binary: &[Bytes]) -> Result<Self, WireError> {
        let Value::Object(mut map) = value else {
            return Err(WireError::Shape("packet"));
        };
        // Node's socket.io-parser types: EVENT, or BINARY_EVENT from a server that pre-split it.
        if !matches!(map.get("type").and_then(as_count), Some(2 | 5)) {
            return Err(WireError::Shape("packet.type"));
        }
        let nsp = match map.get("nsp") {
            None | Some(Value::Null) => "/".to_owned(),
            Some(Value::String(s)) => s.clone(),
            Some(_) => return Err(WireError::Shape("packet.nsp")),
        };
        let mut data = map
            .shift_remove("data")
            .ok_or(WireError::Shape("packet.data"))?;
        match data.as_array().and_then(|d| d.first()) {
            Some(Value::String(_) | Value::Number(_)) => {}
            _ => return Err(WireError::Shape("packet.data")),
        }
        let binary = if binary.is_empty() {
            Vec::new()
        } else {
            renumber(&mut data, binary.to_vec())
        };
        Ok(WirePacket::event(nsp, data, binary))
    }

    /// An EVENT (BINARY_EVENT when there are attachments) of namespace `nsp` whose data array
    /// (name first) holds a placeholder for each of `binary`.
    pub fn event(nsp: impl Into<String>, data: Value, binary: Vec<Bytes>) -> Self {
        let kind = if binary.is_empty() {
            PacketType::Event
        } else {
            PacketType::BinaryEvent
        };
        let packet = Packet {
            kind,
            nsp: nsp.into(),
            id: None,
            data: Some(data),
            attachments: binary.len(),
        };
        WirePacket { packet, binary }
    }
}

/// `{type: 2, data, nsp}` of `packet` (see [`WirePacket::to_value`]): the one copy of its data.
fn packet_value(packet: &Packet) -> Value {
    json!({"type": 2, "data": packet.data.clone().unwrap_or_else(|| json!([])), "nsp": packet.nsp})
}

/// A broadcast's flags as Node writes them (`BroadcastFlags`); only those set are on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flags {
    /// `volatile`: may be dropped for a recipient that cannot take it now.
    pub volatile: bool,
    /// `compress`, when given.
    pub compress: Option<bool>,
    /// `local`: this server only (never published; kept for completeness).
    pub local: bool,
    /// `timeout` in milliseconds, for broadcasts with acknowledgements.
    pub timeout: Option<u64>,
}

impl Flags {
    /// The flags object (`{}` when none is set).
    pub fn to_value(&self) -> Value {
        let mut map = Map::new();
        if self.volatile {
            map.insert("volatile".to_owned(), Value::Bool(true));
        }
        if let Some(compress) = self.compress {
            map.insert("compress".to_owned(), Value::Bool(compress));
        }
        if self.local {
            map.insert("local".to_owned(), Value::Bool(true));
        }
        if let Some(timeout) = self.timeout {
            map.insert("timeout".to_owned(), Value::from(timeout));
        }
        Value::Object(map)
    }

    /// The flags in `value` (anything but an object: none; unknown flags ignored).
    pub fn from_value(value: Option<&Value>) -> Self {
        let Some(Value::Object(map)) = value else {
            return Flags::default();
        };
        let truthy = |k: &str| matches!(map.get(k), Some(Value::Bool(true)));
        Flags {
            volatile: truthy("volatile"),
            compress: map.get("compress").and_then(Value::as_bool),
            local: truthy("local"),
            timeout: map.get("timeout").and_then(as_count),
        }
    }
}

/// Which sockets an operation targets, as requests carry it (`opts: {rooms, except}`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Targets {
    /// Sockets in any of these rooms; empty: every socket.
    pub rooms: Vec<Room>,
    /// Minus the sockets in any of these.
    pub except: Vec<Room>,
}

impl Targets {
    /// The targets of `selector`: its excepted socket becomes an excepted room, as in Node
    /// (`socket.broadcast` excepts the sender's own room); duplicates dropped from `except`.
    pub fn from_selector(selector: &Selector) -> Self {
        let mut except: Vec<Room> = Vec::with_capacity(selector.except.len() + 1);
        let sid = selector.except_sid.map(|s| Room::from(s.as_str()));
        for room in selector.except.iter().chain(sid.as_ref()) {
            if !except.contains(room) {
                except.push(room.clone());
            }
        }
        Targets {
            rooms: selector.rooms.clone(),
            except,
        }
    }

    /// The selector of these targets.
    pub fn selector(&self) -> Selector {
        Selector {
            rooms: self.rooms.clone(),
            except: self.except.clone(),
            except_sid: None,
        }
    }

    /// `{rooms, except}`.
    pub fn to_value(&self) -> Value {
        json!({"rooms": rooms_json(&self.rooms), "except": rooms_json(&self.except)})
    }

    /// The targets in `value` (a missing list is empty).
    pub fn from_value(value: Option<&Value>) -> Result<Self, WireError> {
        let Some(Value::Object(map)) = value else {
            return Err(WireError::Shape("opts"));
        };
        Ok(Targets {
            rooms: rooms_field(map, "rooms")?,
            except: rooms_field(map, "except")?,
        })
    }

    /// `{rooms, except, flags}`, the options of a broadcast.
    pub fn with_flags(&self, flags: &Flags) -> Value {
        json!({"rooms": rooms_json(&self.rooms), "except": rooms_json(&self.except), "flags": flags.to_value()})
    }
}

/// The classic adapter's broadcast (without acknowledgements): `[uid, packet, opts]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Broadcast {
    /// The publishing server's uid (`emitter` for the Redis emitter).
    pub uid: String,
    /// The event.
    pub packet: WirePacket,
    /// Its recipients.
    pub targets: Targets,
    /// Its flags.
    pub flags: Flags,
}

impl Broadcast {
    /// The broadcast of `message` by server `uid`.
    pub fn from_message(uid: &str, message: &BroadcastMessage) -> Self {
        Broadcast {
            uid: uid.to_owned(),
            packet: WirePacket {
                packet: message.packet.clone(),
                binary: message.binary.clone(),
            },
            targets: Targets::from_selector(&message.options.selector),
            flags: Flags {
                volatile: message.options.volatile,
                ..Flags::default()
            },
        }
    }

    /// The broadcast to deliver to this server's sockets, encoded with `parser`.
    pub fn into_message(self, parser: Parser) -> BroadcastMessage {
        let WirePacket { packet, binary } = self.packet;
        let frames = encode_frames(parser, &packet, &binary).into();
        let options = BroadcastOptions {
            selector: Arc::new(self.targets.selector()),
            volatile: self.flags.volatile,
        };
        BroadcastMessage {
            packet,
            binary,
            options,
            frames,
        }
    }

    /// The bytes of `message`'s broadcast by server `uid` to `targets` (its selector's), as
    /// `Broadcast::from_message(uid, message).encode()` writes them, built from the message
    /// itself: the event's data is copied once, into the encoded value, not also into a
    /// `Broadcast` first (a deep copy of the JSON per publish).
    pub fn encode_message(uid: &str, message: &BroadcastMessage, targets: &Targets) -> Vec<u8> {
        let flags = Flags {
            volatile: message.options.volatile,
            ..Flags::default()
        };
        let value = json!([
            uid,
            packet_value(&message.packet),
            targets.with_flags(&flags)
        ]);
        encode_msgpack(&value, &message.binary)
    }

    /// The message's bytes, as notepack writes them.
    pub fn encode(&self) -> Vec<u8> {
        let value = json!([
            self.uid,
            self.packet.to_value(),
            self.targets.with_flags(&self.flags)
        ]);
        encode_msgpack(&value, &self.packet.binary)
    }

    /// The broadcast in `input` (any valid msgpack, or JSON).
    pub fn decode(input: &Bytes) -> Result<Self, WireError> {
        let (value, binary) = decode_value(input)?;
        let Value::Array(items) = value else {
            return Err(WireError::Shape("broadcast"));
        };
        let mut items = items.into_iter();
        let (Some(uid), Some(packet), opts) = (items.next(), items.next(), items.next()) else {
            return Err(WireError::Shape("broadcast"));
        };
        let Value::String(uid) = uid else {
            return Err(WireError::Shape("uid"));
        };
        let opts = opts.unwrap_or_else(|| json!({}));
        Ok(Broadcast {
            uid,
            packet: WirePacket::from_value(packet, &binary)?,
            targets: Targets::from_value(Some(&opts))?,
            flags: Flags::from_value(opts.get("flags")),
        })
    }
}
