//! The msgpack Socket.IO parser (socket.io-msgpack-parser 3): every packet is one msgpack map
//! `{type, data, nsp, id?}` sent as ONE Engine.IO binary message. Binary stays inline as msgpack
//! `bin`, so there are no attachments and no BINARY_EVENT/BINARY_ACK on the wire: the types are
//! 0-4.
//!
//! To keep everything above the codec unchanged, decoding turns `bin` values into placeholders
//! with the binaries beside them (an EVENT/ACK carrying binary becomes a
//! [`PacketType::BinaryEvent`]/[`PacketType::BinaryAck`] with that many attachments), and encoding
//! substitutes the placeholders back. Keys are written in the order Node's server writes them
//! (`{id, type, data, nsp}` for an ACK, `{type, data, id?, nsp}` otherwise).
//!
//! Decoding validates as socket.io-msgpack-parser's `checkPacket` does (type an integer 0-4,
//! `nsp` a string, `data` absent or a map for CONNECT, absent for DISCONNECT, a string or map for
//! CONNECT_ERROR, an array otherwise, `id` absent or an integer) and, deliberately stricter, as the
//! text parser does where the msgpack parser lets nonsense through: an event name must be a string
//! that is not reserved, or a number; an ack id must fit a `u64`; binary only in events and acks.
//! Unknown keys (socket.io-client sends `options`) are ignored.

use bytes::Bytes;
use serde_json::Value;

use super::validate::is_payload_valid;
use super::{Decoded, Packet, PacketType, ParseError};
use crate::protocol::msgpack::{write_value, Reader};

/// The msgpack encoding of `packet`, its placeholders replaced by `binary`.
pub fn encode(packet: &Packet, binary: &[Bytes]) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 + binary.iter().map(Bytes::len).sum::<usize>());
    let fields = 2 + usize::from(packet.data.is_some()) + usize::from(packet.id.is_some());
    // At most four entries: a fixmap header.
    out.push(0x80 | fields as u8);
    // Writing into a Vec<u8> cannot fail: the rmp writes below are infallible here.
    let id = |out: &mut Vec<u8>| {
        if let Some(id) = packet.id {
            write_key(out, "id");
            let _ = rmp::encode::write_uint(out, id);
        }
    };
    if packet.kind.is_ack() {
        id(&mut out);
    }
    write_key(&mut out, "type");
    out.push(wire_type(packet.kind));
    if let Some(data) = &packet.data {
        write_key(&mut out, "data");
        write_value(&mut out, data, binary);
    }
    if !packet.kind.is_ack() {
        id(&mut out);
    }
    write_key(&mut out, "nsp");
    let _ = rmp::encode::write_str(&mut out, &packet.nsp);
    out
}

fn write_key(out: &mut Vec<u8>, key: &str) {
    // The keys are short ASCII: a fixstr.
    out.push(0xa0 | key.len() as u8);
    out.extend_from_slice(key.as_bytes());
}

/// The type number on the wire (a positive fixint): binary types travel as EVENT/ACK.
fn wire_type(kind: PacketType) -> u8 {
    match kind {
        PacketType::Connect => 0,
        PacketType::Disconnect => 1,
        PacketType::Event | PacketType::BinaryEvent => 2,
        PacketType::Ack | PacketType::BinaryAck => 3,
        PacketType::ConnectError => 4,
    }
}

/// The fields of the packet map, as read.
#[derive(Default)]
struct Fields {
    kind: Option<Value>,
    nsp: Option<Value>,
    id: Option<Value>,
    data: Option<Value>,
    binary: Vec<Bytes>,
}

/// Decodes one binary message into a packet and its binaries (placeholders in `data`).
pub fn decode(input: &Bytes) -> Result<Decoded, ParseError> {
    let mut fields = read_fields(input).map_err(ParseError::Msgpack)?;
    if let (false, Some(data)) = (fields.binary.is_empty(), fields.data.as_mut()) {
        fields.binary = renumber(data, std::mem::take(&mut fields.binary));
    }
    let kind = fields
        .kind
        .as_ref()
        .and_then(integer)
        .and_then(|t| match t {
            0 => Some(PacketType::Connect),
            1 => Some(PacketType::Disconnect),
            2 => Some(PacketType::Event),
            3 => Some(PacketType::Ack),
            4 => Some(PacketType::ConnectError),
            _ => None,
        })
        .ok_or(ParseError::UnknownType)?;
    let Some(Value::String(nsp)) = fields.nsp else {
        return Err(ParseError::InvalidNamespace);
    };
    let data_ok = match (&fields.data, kind) {
        (None, PacketType::Connect | PacketType::Disconnect) => true,
        (None, _) => false,
        (Some(data), _) => is_payload_valid(kind, data),
    };
    let events_or_acks = matches!(kind, PacketType::Event | PacketType::Ack);
    if !data_ok || (!fields.binary.is_empty() && !events_or_acks) {
        return Err(ParseError::InvalidPayload);
    }
    let id = match &fields.id {
        None => None,
        Some(id) => Some(integer(id).ok_or(ParseError::InvalidAckId)?),
    };
    let attachments = fields.binary.len();
    let kind = match kind {
        PacketType::Event if attachments > 0 => PacketType::BinaryEvent,
        PacketType::Ack if attachments > 0 => PacketType::BinaryAck,
        other => other,
    };
    Ok(Decoded {
        packet: Packet {
            kind,
            nsp,
            id,
            data: fields.data,
            attachments,
        },
        binary: fields.binary,
    })
}

/// The binaries `data`'s placeholders name, in the order they appear, with the placeholders
/// numbered so: a binary whose value a later duplicate key replaced (JavaScript keeps the last)
/// is not carried as an attachment nobody refers to.
pub(crate) fn renumber(data: &mut Value, binary: Vec<Bytes>) -> Vec<Bytes> {
    fn walk(v: &mut Value, binary: &[Bytes], out: &mut Vec<Bytes>) {
        match v {
            Value::Array(items) => items.iter_mut().for_each(|i| walk(i, binary, out)),
            Value::Object(map) => {
                let target = (map.get("_placeholder") == Some(&Value::Bool(true)))
                    .then(|| map.get("num").and_then(Value::as_u64))
                    .flatten()
                    .and_then(|n| binary.get(usize::try_from(n).ok()?));
                match target {
                    Some(bytes) => {
                        out.push(bytes.clone());
                        map.insert("num".to_owned(), Value::from(out.len() - 1));
                    }
                    None => map.values_mut().for_each(|i| walk(i, binary, out)),
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::with_capacity(binary.len());
    walk(data, &binary, &mut out);
    out
}

/// Reads the top-level map, keeping the last value of each known key (as JavaScript objects do)
/// and only the binaries of `data`.
fn read_fields(input: &Bytes) -> Result<Fields, crate::protocol::msgpack::MsgpackError> {
    let mut reader = Reader::new(input);
    let mut fields = Fields::default();
    let Some(len) = reader.map_len()? else {
        // Not a map: no type. Still the whole input must be one valid value.
        reader.read()?;
        reader.finish()?;
        return Ok(fields);
    };
    for _ in 0..len {
        let key = reader.read()?;
        let value = reader.read()?;
        let binary = reader.take_binary();
        match key.as_ref().and_then(Value::as_str) {
            Some("type") => fields.kind = value,
            Some("nsp") => fields.nsp = value,
            Some("id") => fields.id = value,
            Some("data") => {
                fields.data = value;
                fields.binary = binary;
            }
            _ => {}
        }
    }
    reader.finish()?;
    Ok(fields)
}

/// A non-negative integer that fits a `u64`, also when written as an integral float.
fn integer(v: &Value) -> Option<u64> {
    if let Some(n) = v.as_u64() {
        return Some(n);
    }
    let f = v.as_f64()?;
    // The range check keeps the cast exact.
    (f >= 0.0 && f.fract() == 0.0 && f < 18_446_744_073_709_551_616.0).then_some(f as u64)
}

#[cfg(test)]
#[path = "msgpack_tests.rs"]
mod tests;
