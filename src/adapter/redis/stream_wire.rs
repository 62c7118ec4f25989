//! The formats of the Redis Streams adapter (`@socket.io/redis-streams-adapter` 0.3, reference
//! section 4.5), pure code: a `ClusterAdapter` message as the fields of one stream entry, a kept
//! session as the value of its `sio:session:<pid>` key, and the stream ids that serve as
//! connection state recovery offsets.
//!
//! An entry is `uid <uid> nsp <nsp> type "<n>"` then, when the message has a `data` object,
//! `data <payload>`: `JSON.stringify(data)`, or for the types that may carry binary and do,
//! `base64(msgpack(data))` (a decoder tells them apart by a first `{`). A session is
//! `base64(msgpack({sid, pid, rooms, data}))`, its `rooms` including the socket's own id.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use bytes::Bytes;
use serde_json::{json, Map, Value};

use super::cluster_wire::{ClusterBody, ClusterMessage};
use super::wire::{decode_value, encode_json, encode_msgpack, WireError};
use crate::adapter::recovery::store::SessionState;
use crate::protocol::ids::Sid;
use crate::room::Room;

/// The fields of the stream entry that carries `message`, in the order Node writes them.
pub fn entry_fields(message: &ClusterMessage) -> Vec<(&'static str, String)> {
    let mut fields = vec![
        ("uid", message.uid.clone()),
        ("nsp", message.nsp.clone()),
        ("type", message.body.kind().to_string()),
    ];
    if let Some(data) = message.body.data() {
        let binary = match &message.body {
            ClusterBody::Broadcast { packet, .. } => &packet.binary,
            _ => &message.binary,
        };
        let payload = if binary.is_empty() {
            String::from_utf8(encode_json(&data)).unwrap_or_default()
        } else {
            STANDARD.encode(encode_msgpack(&data, binary))
        };
        fields.push(("data", payload));
    }
    fields
}

/// The message a stream entry's `fields` carry.
pub fn decode_entry(fields: &[(String, String)]) -> Result<ClusterMessage, WireError> {
    let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v);
    let uid = field("uid").ok_or(WireError::Shape("uid"))?.clone();
    let nsp = field("nsp").ok_or(WireError::Shape("nsp"))?.clone();
    let kind = field("type")
        .and_then(|t| t.parse::<u64>().ok())
        .map_or(Value::Null, Value::from);
    let (data, binary) = match field("data") {
        None => (Map::new(), Vec::new()),
        Some(text) if text.starts_with('{') => match serde_json::from_str(text) {
            Ok(Value::Object(map)) => (map, Vec::new()),
            Ok(_) => return Err(WireError::Shape("data")),
            Err(e) => return Err(WireError::Json(e.to_string())),
        },
        Some(text) => {
            let raw = STANDARD
                .decode(text)
                .map_err(|_| WireError::Shape("data"))?;
            match decode_value(&Bytes::from(raw))? {
                (Value::Object(map), binary) => (map, binary),
                _ => return Err(WireError::Shape("data")),
            }
        }
    };
    ClusterMessage::from_parts(uid, nsp, kind, data, binary)
}

/// A session's value under its key: `base64(msgpack({sid, pid, rooms, data}))`, `rooms` with the
/// socket's own id first.
pub fn encode_session(session: &SessionState) -> String {
    let mut rooms = vec![Value::from(session.sid.as_str())];
    rooms.extend(session.rooms.iter().map(|r| Value::from(&**r)));
    let value = json!({
        "sid": session.sid.as_str(),
        "pid": session.pid.as_str(),
        "rooms": rooms,
        "data": session.data,
    });
    STANDARD.encode(encode_msgpack(&value, &[]))
}

/// The session in a key's value, for namespace `nsp` (a session does not say its namespace).
pub fn decode_session(text: &str, nsp: &str) -> Result<SessionState, WireError> {
    let raw = STANDARD
        .decode(text.trim())
        .map_err(|_| WireError::Shape("session"))?;
    let (value, _binary) = decode_value(&Bytes::from(raw))?;
    let id = |key: &'static str| {
        value
            .get(key)
            .and_then(Value::as_str)
            .and_then(Sid::parse)
            .ok_or(WireError::Shape(key))
    };
    let (sid, pid) = (id("sid")?, id("pid")?);
    let rooms = value
        .get("rooms")
        .and_then(Value::as_array)
        .ok_or(WireError::Shape("rooms"))?
        .iter()
        .filter_map(Value::as_str)
        .filter(|r| *r != sid.as_str())
        .map(Room::from)
        .collect();
    Ok(SessionState {
        sid,
        pid,
        nsp: nsp.to_owned(),
        rooms,
        data: value.get("data").cloned().unwrap_or(Value::Null),
    })
}

/// A stream id `<ms>-<seq>` as Node's adapter accepts an offset (`/^[0-9]+-[0-9]+$/`), split.
pub fn parse_offset(offset: &str) -> Option<(u64, u64)> {
    let (ms, seq) = offset.split_once('-')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(ms) || !digits(seq) {
        return None;
    }
    Some((ms.parse().ok()?, seq.parse().ok()?))
}

/// The smallest stream id after `offset` (an exclusive `XRANGE` start older Redis versions take).
pub fn next_offset(offset: &str) -> Option<String> {
    let (ms, seq) = parse_offset(offset)?;
    Some(match seq.checked_add(1) {
        Some(seq) => format!("{ms}-{seq}"),
        None => format!("{}-0", ms.checked_add(1)?),
    })
}

#[cfg(test)]
#[path = "stream_wire_tests.rs"]
mod tests;
