//! Event arguments as they travel: JSON values plus binary attachments. Binary arguments stay
//! beside the JSON and are referenced from it by `{"_placeholder":true,"num":i}` objects, exactly
//! as on the wire, so an echo never re-encodes a buffer. The frames follow the server's
//! [`Parser`]: text plus attachments, or one msgpack binary message with the binary inline.

use bytes::Bytes;
use bytestring::ByteString;
use serde::Serialize;
use serde_json::Value;

use crate::protocol::engineio::Frame;
use crate::protocol::socketio::{self, Packet, Parser};

/// The arguments of an event or an acknowledgement.
///
/// ```
/// use roomcast::{Parser, Payload};
/// use serde_json::json;
///
/// // emit("file", {"name": "a.bin"}, <3 bytes>): the bytes travel as an attachment
/// let p = Payload::new().arg(json!({"name": "a.bin"})).bin(vec![1u8, 2, 3]);
/// assert_eq!(p.args[1], json!({"_placeholder": true, "num": 0}));
/// assert_eq!(p.binary_of(&p.args[1]).map(|b| b.len()), Some(3));
///
/// let frames = p.clone().event_frames(Parser::Default, "/", "file", None);
/// assert_eq!(frames.len(), 2, "the text packet, then the attachment");
/// let frames = p.event_frames(Parser::Msgpack, "/", "file", None);
/// assert_eq!(frames.len(), 1, "one msgpack message, the bytes inline");
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Payload {
    /// JSON arguments, in order; binary ones are placeholders.
    pub args: Vec<Value>,
    /// Binary attachments, indexed by the placeholders' `num`.
    pub binary: Vec<Bytes>,
}

impl Payload {
    /// No arguments.
    pub fn new() -> Self {
        Payload::default()
    }

    /// Appends a JSON argument (anything serialisable; a value that fails to serialise becomes null).
    pub fn arg(mut self, value: impl Serialize) -> Self {
        self.args
            .push(serde_json::to_value(value).unwrap_or(Value::Null));
        self
    }

    /// Appends a binary argument.
    pub fn bin(mut self, data: impl Into<Bytes>) -> Self {
        let placeholder = self.attach(data);
        self.args.push(placeholder);
        self
    }

    /// Registers `data` as an attachment and returns the placeholder to put anywhere in a JSON
    /// argument (for binary nested inside objects).
    pub fn attach(&mut self, data: impl Into<Bytes>) -> Value {
        self.binary.push(data.into());
        socketio::placeholder(self.binary.len() - 1)
    }

    /// The first argument, if any.
    pub fn first(&self) -> Option<&Value> {
        self.args.first()
    }

    /// Number of arguments.
    pub fn len(&self) -> usize {
        self.args.len()
    }

    /// True without arguments.
    pub fn is_empty(&self) -> bool {
        self.args.is_empty()
    }

    /// The attachment a placeholder value refers to, if `value` is one.
    pub fn binary_of(&self, value: &Value) -> Option<&Bytes> {
        let obj = value.as_object()?;
        if obj.get("_placeholder") != Some(&Value::Bool(true)) {
            return None;
        }
        let num = obj.get("num")?.as_u64()?;
        self.binary.get(usize::try_from(num).ok()?)
    }

    /// Encodes an EVENT with this payload for namespace `nsp` into Engine.IO frames (see
    /// [`frames_of`]).
    pub fn event_frames(
        self,
        parser: Parser,
        nsp: &str,
        event: &str,
        id: Option<u64>,
    ) -> Vec<Frame> {
        let (packet, binary) = self.event_packet(nsp, event, id);
        frames_of(parser, &packet, binary)
    }

    /// The EVENT (or BINARY_EVENT) packet of `event` with this payload for namespace `nsp`, and
    /// its attachments.
    pub fn event_packet(self, nsp: &str, event: &str, id: Option<u64>) -> (Packet, Vec<Bytes>) {
        let packet = Packet::event(nsp, event, self.args, id, self.binary.len());
        (packet, self.binary)
    }

    /// Encodes an ACK with this payload for namespace `nsp` and ack id `id`.
    pub fn ack_frames(self, parser: Parser, nsp: &str, id: u64) -> Vec<Frame> {
        let packet = Packet::ack(nsp, id, self.args, self.binary.len());
        frames_of(parser, &packet, self.binary)
    }
}

/// One Socket.IO packet as Engine.IO frames. Default parser: `4<packet>` and its attachments;
/// msgpack: one binary message with the attachments inline.
pub fn frames_of(parser: Parser, packet: &Packet, binary: Vec<Bytes>) -> Vec<Frame> {
    encode_frames(parser, packet, &binary)
}

/// [`frames_of`] for a packet whose attachments stay with the caller (the frames share their
/// bytes).
pub fn encode_frames(parser: Parser, packet: &Packet, binary: &[Bytes]) -> Vec<Frame> {
    if parser == Parser::Msgpack {
        let bytes = socketio::msgpack::encode(packet, binary);
        return vec![Frame::Binary(Bytes::from(bytes))];
    }
    let mut text = String::with_capacity(64);
    text.push('4');
    socketio::encode_into(packet, &mut text);
    let mut frames = Vec::with_capacity(1 + binary.len());
    frames.push(Frame::Text(ByteString::from(text)));
    frames.extend(binary.iter().cloned().map(Frame::Binary));
    frames
}

impl From<Value> for Payload {
    /// One JSON argument.
    fn from(v: Value) -> Self {
        Payload {
            args: vec![v],
            binary: Vec::new(),
        }
    }
}

impl From<Vec<Value>> for Payload {
    /// These JSON arguments.
    fn from(args: Vec<Value>) -> Self {
        Payload {
            args,
            binary: Vec::new(),
        }
    }
}

impl From<&str> for Payload {
    /// One string argument.
    fn from(s: &str) -> Self {
        Payload::from(Value::String(s.to_owned()))
    }
}

impl From<String> for Payload {
    /// One string argument.
    fn from(s: String) -> Self {
        Payload::from(Value::String(s))
    }
}

impl From<()> for Payload {
    /// No arguments.
    fn from(_: ()) -> Self {
        Payload::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn texts(frames: &[Frame]) -> Vec<String> {
        frames
            .iter()
            .map(|f| match f {
                Frame::Text(t) => t.to_string(),
                Frame::Binary(b) => format!("<{} bytes>", b.len()),
            })
            .collect()
    }

    #[test]
    fn event_frames_plain_and_binary() {
        let p = Payload::new().arg(1).arg("2").arg(json!({"3": [true]}));
        assert_eq!(
            texts(&p.event_frames(Parser::Default, "/", "message-back", None)),
            [r#"42["message-back",1,"2",{"3":[true]}]"#]
        );
        let p = Payload::new().bin(vec![1u8, 2, 3]).arg(json!({"a": 1}));
        assert_eq!(
            texts(&p.event_frames(Parser::Default, "/admin", "x", Some(7))),
            [
                r#"451-/admin,7["x",{"_placeholder":true,"num":0},{"a":1}]"#,
                "<3 bytes>"
            ]
        );
    }

    #[test]
    fn ack_frames_and_placeholder_lookup() {
        let mut p = Payload::new();
        let ph = p.attach(vec![9u8]);
        p.args.push(json!({ "nested": ph }));
        assert_eq!(p.binary_of(&p.args[0]["nested"]).map(|b| b.len()), Some(1));
        assert_eq!(p.binary_of(&json!({"_placeholder": true, "num": 5})), None);
        assert_eq!(
            texts(&p.clone().ack_frames(Parser::Default, "/", 12)),
            [
                r#"461-12[{"nested":{"_placeholder":true,"num":0}}]"#,
                "<1 bytes>"
            ]
        );
    }

    #[test]
    fn msgpack_frames_are_one_binary_message() {
        let p = Payload::new().arg("x").bin(vec![9u8, 8]);
        let frames = p.clone().ack_frames(Parser::Msgpack, "/", 0);
        let [Frame::Binary(bytes)] = frames.as_slice() else {
            panic!("{frames:?}");
        };
        // the bytes Node's server sends for the same ack (see socketio/msgpack_tests.rs)
        assert_eq!(
            bytes.as_ref(),
            b"\x84\xa2id\x00\xa4type\x03\xa4data\x92\xa1x\xc4\x02\x09\x08\xa3nsp\xa1/"
        );
        let frames = p.event_frames(Parser::Msgpack, "/", "e", Some(1));
        assert!(matches!(frames.as_slice(), [Frame::Binary(_)]));
    }
}
