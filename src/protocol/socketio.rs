//! Socket.IO v5 packets (reference section 2.1, 2.2, 2.7): the packet model and its builders.
//!
//! A Socket.IO packet travels inside an Engine.IO message as
//! `<type>[<attachments>-][<nsp>,][<ack id>][<json>]`; binary attachments follow as separate
//! Engine.IO binary messages. Binary data is never substituted into the JSON: a
//! BINARY_EVENT/BINARY_ACK keeps its `{"_placeholder":true,"num":i}` objects and the attachments
//! travel beside it (see [`Decoded`]).
//!
//! This file holds the model; `socketio/decode.rs` the text decoder, `socketio/validate.rs` the
//! payload rules it applies, `socketio/encode.rs` the encoder and `socketio/decoder.rs` the
//! stateful reassembly of binary packets; `socketio/msgpack.rs` is the other parser clients may
//! choose (see [`Parser`]).

mod decode;
mod decoder;
mod encode;
pub mod msgpack;
mod validate;

pub use decode::{decode, ParseError};
pub use decoder::{Decoded, Decoder};
pub use encode::{encode, encode_into};

use serde_json::{Map, Value};

/// Which Socket.IO parser a server speaks; the clients must use the same one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Parser {
    /// socket.io-parser: text packets, binary as attachments in separate binary messages.
    #[default]
    Default,
    /// socket.io-msgpack-parser: every packet one msgpack binary message, binary inline.
    Msgpack,
}

impl Parser {
    /// The parser named `name` (`default` or `msgpack`).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "default" => Some(Parser::Default),
            "msgpack" => Some(Parser::Msgpack),
            _ => None,
        }
    }

    /// Its name in configuration.
    pub fn name(self) -> &'static str {
        match self {
            Parser::Default => "default",
            Parser::Msgpack => "msgpack",
        }
    }
}

/// Most binary attachments one packet may announce (socket.io-parser `maxAttachments` default).
pub const MAX_ATTACHMENTS: usize = 10;

/// Event names that can be neither emitted by the server nor received from a client.
pub const RESERVED_EVENTS: [&str; 6] = [
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
];

/// True when `name` is one of [`RESERVED_EVENTS`].
pub fn is_reserved_event(name: &str) -> bool {
    RESERVED_EVENTS.contains(&name)
}

/// The Socket.IO packet type, written as one ASCII digit `0`..`6`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketType {
    /// `0`: join a namespace (client, optional auth object) or accept the join (server, `{"sid"}`).
    Connect,
    /// `1`: leave a namespace.
    Disconnect,
    /// `2`: an event, `["name", ...args]`.
    Event,
    /// `3`: the answer to an event that carried an ack id.
    Ack,
    /// `4`: the server refuses a namespace join.
    ConnectError,
    /// `5`: an event followed by binary attachments.
    BinaryEvent,
    /// `6`: an ack followed by binary attachments.
    BinaryAck,
}

impl PacketType {
    /// The type for an ASCII digit `b'0'..=b'6'`, `None` for anything else.
    pub fn from_char(c: u8) -> Option<Self> {
        Some(match c {
            b'0' => Self::Connect,
            b'1' => Self::Disconnect,
            b'2' => Self::Event,
            b'3' => Self::Ack,
            b'4' => Self::ConnectError,
            b'5' => Self::BinaryEvent,
            b'6' => Self::BinaryAck,
            _ => return None,
        })
    }

    /// The digit that starts a packet of this type.
    pub fn as_char(self) -> char {
        match self {
            Self::Connect => '0',
            Self::Disconnect => '1',
            Self::Event => '2',
            Self::Ack => '3',
            Self::ConnectError => '4',
            Self::BinaryEvent => '5',
            Self::BinaryAck => '6',
        }
    }

    /// True for BINARY_EVENT and BINARY_ACK, the types that announce an attachment count.
    pub fn is_binary(self) -> bool {
        matches!(self, Self::BinaryEvent | Self::BinaryAck)
    }

    /// True for EVENT and BINARY_EVENT.
    pub fn is_event(self) -> bool {
        matches!(self, Self::Event | Self::BinaryEvent)
    }

    /// True for ACK and BINARY_ACK.
    pub fn is_ack(self) -> bool {
        matches!(self, Self::Ack | Self::BinaryAck)
    }
}

/// A Socket.IO packet. For BinaryEvent/BinaryAck `attachments` is the announced count and `data`
/// still contains the `{"_placeholder":true,"num":i}` objects (we never substitute them: binary
/// travels beside the JSON).
#[derive(Debug, Clone, PartialEq)]
pub struct Packet {
    /// The packet type.
    pub kind: PacketType,
    /// The namespace, `/` for the main one.
    pub nsp: String,
    /// The ack id of an event that wants an answer, or of the ack answering it.
    pub id: Option<u64>,
    /// The JSON payload, `None` when the packet has none.
    pub data: Option<Value>,
    /// Announced binary attachments; 0 for non-binary types.
    pub attachments: usize,
}

impl Packet {
    fn new(kind: PacketType, nsp: &str, data: Option<Value>) -> Self {
        Packet {
            kind,
            nsp: nsp.to_owned(),
            id: None,
            data,
            attachments: 0,
        }
    }

    /// CONNECT on `nsp`; the server sends `{"sid":..}` as `data`, a client its auth object.
    pub fn connect(nsp: &str, data: Option<Value>) -> Self {
        Packet::new(PacketType::Connect, nsp, data)
    }

    /// DISCONNECT from `nsp`.
    pub fn disconnect(nsp: &str) -> Self {
        Packet::new(PacketType::Disconnect, nsp, None)
    }

    /// CONNECT_ERROR on `nsp` with `{"message":message,"data":data}`, `"data"` omitted when
    /// `None`.
    pub fn connect_error(nsp: &str, message: &str, data: Option<Value>) -> Self {
        let mut body = Map::new();
        body.insert("message".to_owned(), Value::String(message.to_owned()));
        if let Some(data) = data {
            body.insert("data".to_owned(), data);
        }
        Packet::new(PacketType::ConnectError, nsp, Some(Value::Object(body)))
    }

    /// EVENT `[event, ...args]` (BINARY_EVENT when `attachments > 0`; `args` then hold the
    /// placeholders, see [`placeholder`]).
    pub fn event(
        nsp: &str,
        event: &str,
        args: Vec<Value>,
        id: Option<u64>,
        attachments: usize,
    ) -> Self {
        let mut array = Vec::with_capacity(args.len() + 1);
        array.push(Value::String(event.to_owned()));
        array.extend(args);
        let kind = if attachments > 0 {
            PacketType::BinaryEvent
        } else {
            PacketType::Event
        };
        Packet {
            id,
            attachments,
            ..Packet::new(kind, nsp, Some(Value::Array(array)))
        }
    }

    /// ACK `args` answering ack `id` (BINARY_ACK when `attachments > 0`).
    pub fn ack(nsp: &str, id: u64, args: Vec<Value>, attachments: usize) -> Self {
        let kind = if attachments > 0 {
            PacketType::BinaryAck
        } else {
            PacketType::Ack
        };
        Packet {
            id: Some(id),
            attachments,
            ..Packet::new(kind, nsp, Some(Value::Array(args)))
        }
    }

    /// The event name: the first element of an event's array when it is a string.
    /// (Numeric names, legal on the wire, give `None` here; see [`Packet::into_event_args`].)
    pub fn event_name(&self) -> Option<&str> {
        if !self.kind.is_event() {
            return None;
        }
        self.data.as_ref()?.as_array()?.first()?.as_str()
    }

    /// Splits an EVENT/BINARY_EVENT into its name and arguments. A numeric name becomes its
    /// decimal text, as JavaScript listeners see it. `None` for other types or a malformed array.
    pub fn into_event_args(self) -> Option<(String, Vec<Value>)> {
        if !self.kind.is_event() {
            return None;
        }
        let Value::Array(mut array) = self.data? else {
            return None;
        };
        if array.is_empty() {
            return None;
        }
        let name = match array.remove(0) {
            Value::String(name) => name,
            Value::Number(n) => n.to_string(),
            _ => return None,
        };
        Some((name, array))
    }

    /// The arguments of an ACK/BINARY_ACK; `None` for other types or a non-array payload.
    pub fn into_ack_args(self) -> Option<Vec<Value>> {
        if !self.kind.is_ack() {
            return None;
        }
        match self.data? {
            Value::Array(args) => Some(args),
            _ => None,
        }
    }
}

/// Helper for building binary payloads on the emit side: replaces nothing, just creates the
/// placeholder value `{"_placeholder":true,"num":num}` (keys in that order).
pub fn placeholder(num: usize) -> Value {
    let mut map = Map::new();
    map.insert("_placeholder".to_owned(), Value::Bool(true));
    map.insert("num".to_owned(), Value::from(num));
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn packet_type_digits_round_trip() {
        for c in b'0'..=b'6' {
            let kind = PacketType::from_char(c).expect("digits 0..6 are types");
            assert_eq!(kind.as_char(), char::from(c));
        }
        for c in [b'7', b'9', b'a', b'/', b' ', 0] {
            assert_eq!(PacketType::from_char(c), None);
        }
    }

    #[test]
    fn reserved_events() {
        for name in RESERVED_EVENTS {
            assert!(is_reserved_event(name));
        }
        for name in ["message", "Connect", "connection", "error", ""] {
            assert!(!is_reserved_event(name), "{name}");
        }
    }

    #[test]
    fn placeholder_shape() {
        assert_eq!(
            placeholder(3).to_string(),
            r#"{"_placeholder":true,"num":3}"#
        );
    }

    #[test]
    fn builders_pick_types() {
        let cases = [
            (Packet::event("/", "a", vec![], None, 0), PacketType::Event),
            (
                Packet::event("/", "a", vec![placeholder(0)], None, 1),
                PacketType::BinaryEvent,
            ),
            (Packet::ack("/", 1, vec![], 0), PacketType::Ack),
            (
                Packet::ack("/", 1, vec![placeholder(0)], 1),
                PacketType::BinaryAck,
            ),
            (Packet::connect("/", None), PacketType::Connect),
            (Packet::disconnect("/x"), PacketType::Disconnect),
            (
                Packet::connect_error("/", "no", None),
                PacketType::ConnectError,
            ),
        ];
        for (packet, kind) in cases {
            assert_eq!(packet.kind, kind, "{packet:?}");
        }
    }

    #[test]
    fn connect_error_body() {
        let p = Packet::connect_error("/", "Not authorized", None);
        assert_eq!(p.data, Some(json!({"message": "Not authorized"})));
        let p = Packet::connect_error("/", "Not authorized", Some(json!({"retry": false})));
        assert_eq!(
            p.data.map(|d| d.to_string()),
            Some(r#"{"message":"Not authorized","data":{"retry":false}}"#.to_owned())
        );
    }

    #[test]
    fn event_accessors() {
        let p = Packet::event("/", "chat", vec![json!(1), json!("x")], Some(4), 0);
        assert_eq!(p.event_name(), Some("chat"));
        assert_eq!(
            p.into_event_args(),
            Some(("chat".to_owned(), vec![json!(1), json!("x")]))
        );
        let numeric = Packet {
            data: Some(json!([42, true])),
            ..Packet::event("/", "", vec![], None, 0)
        };
        assert_eq!(numeric.event_name(), None);
        assert_eq!(
            numeric.into_event_args(),
            Some(("42".to_owned(), vec![json!(true)]))
        );
        let empty = Packet {
            data: None,
            ..Packet::event("/", "", vec![], None, 0)
        };
        assert_eq!(empty.event_name(), None);
        assert_eq!(empty.into_event_args(), None);
        let ack = Packet::ack("/", 1, vec![json!("ok")], 0);
        assert_eq!(ack.event_name(), None);
        assert_eq!(ack.clone().into_event_args(), None);
        assert_eq!(ack.into_ack_args(), Some(vec![json!("ok")]));
        assert_eq!(Packet::disconnect("/").into_ack_args(), None);
    }
}
