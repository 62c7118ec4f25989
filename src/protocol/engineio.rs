//! Engine.IO v4 packet codec (reference section 1.2 and 1.3): pure functions, no I/O.
//!
//! A text packet is one type digit followed by its data (`4hello`, `2probe`, `6`). Binary data
//! travels as a raw WebSocket binary frame, or inside a polling payload as `b` + standard base64
//! (no type digit). A v4 polling payload joins packets with the record separator `\x1e`.
//!
//! Inbound text is decoded into [`Packet`]s; outbound traffic is built as already-encoded
//! [`Frame`]s so a broadcast is encoded once and its buffer shared by every recipient. The
//! handshake body is [`OpenPacket`].
//!
//! This file holds the packet itself; `engineio/payload.rs` the outbound [`Frame`] and polling
//! payloads, `engineio/handshake.rs` the [`OpenPacket`].

mod close;
mod handshake;
mod payload;

pub use close::CloseReason;
pub use handshake::OpenPacket;
pub use payload::{decode_payload, encode_payload, payload_buffer, Frame, SEPARATOR};

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use bytes::Bytes;

/// Decodes standard-alphabet base64 with or without padding (Node's decoder accepts both).
const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The Engine.IO packet type, written as one ASCII digit `0`..`6`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketType {
    /// `0`: handshake, server to client.
    Open,
    /// `1`: ends the session, either direction.
    Close,
    /// `2`: heartbeat from the server, or `2probe` from the client during an upgrade.
    Ping,
    /// `3`: heartbeat answer from the client, or `3probe` from the server during an upgrade.
    Pong,
    /// `4`: application data (a Socket.IO packet).
    Message,
    /// `5`: the client completes an upgrade on the new transport.
    Upgrade,
    /// `6`: releases a parked polling GET.
    Noop,
}

impl PacketType {
    /// The type for an ASCII digit `b'0'..=b'6'`, `None` for anything else.
    pub fn from_char(c: u8) -> Option<Self> {
        Some(match c {
            b'0' => Self::Open,
            b'1' => Self::Close,
            b'2' => Self::Ping,
            b'3' => Self::Pong,
            b'4' => Self::Message,
            b'5' => Self::Upgrade,
            b'6' => Self::Noop,
            _ => return None,
        })
    }

    /// The digit that starts a packet of this type.
    pub fn as_char(self) -> char {
        match self {
            Self::Open => '0',
            Self::Close => '1',
            Self::Ping => '2',
            Self::Pong => '3',
            Self::Message => '4',
            Self::Upgrade => '5',
            Self::Noop => '6',
        }
    }
}

/// One decoded Engine.IO packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    /// `0<json>`: the handshake body.
    Open(String),
    /// `1`.
    Close,
    /// `2[data]`, e.g. `2probe`.
    Ping(String),
    /// `3[data]`, e.g. `3probe`.
    Pong(String),
    /// `4<text>`: a text message.
    Message(String),
    /// A binary message (`b<base64>` in a payload, or a raw WebSocket binary frame).
    Binary(Bytes),
    /// `5`.
    Upgrade,
    /// `6`.
    Noop,
}

/// Why inbound Engine.IO text could not be decoded; the session is then closed ("parse error").
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    /// An empty packet or an empty polling body.
    #[error("empty packet")]
    Empty,
    /// The first character is neither a type digit `0`..`6` nor `b`.
    #[error("unknown packet type {0:?}")]
    UnknownType(char),
    /// A `b` packet whose data is not valid base64.
    #[error("invalid base64 in binary packet")]
    InvalidBase64,
}

/// Decode one text packet (a WebSocket text frame or one polling segment).
///
/// `b<base64>` gives [`Packet::Binary`]; `2probe` gives `Ping("probe")`, `4hello` gives
/// `Message("hello")`. Open, Close, Upgrade and Noop accept and ignore trailing data.
pub fn decode_text(s: &str) -> Result<Packet, DecodeError> {
    let mut chars = s.chars();
    let first = chars.next().ok_or(DecodeError::Empty)?;
    let rest = chars.as_str();
    if first == 'b' {
        let data = LENIENT_BASE64
            .decode(rest)
            .map_err(|_| DecodeError::InvalidBase64)?;
        return Ok(Packet::Binary(Bytes::from(data)));
    }
    let kind = u8::try_from(first)
        .ok()
        .and_then(PacketType::from_char)
        .ok_or(DecodeError::UnknownType(first))?;
    Ok(match kind {
        PacketType::Open => Packet::Open(rest.to_owned()),
        PacketType::Close => Packet::Close,
        PacketType::Ping => Packet::Ping(rest.to_owned()),
        PacketType::Pong => Packet::Pong(rest.to_owned()),
        PacketType::Message => Packet::Message(rest.to_owned()),
        PacketType::Upgrade => Packet::Upgrade,
        PacketType::Noop => Packet::Noop,
    })
}

/// Encode one packet as text (`Binary` => `b` + base64, `Message(s)` => `4` + s, ...).
pub fn encode_text(p: &Packet) -> String {
    let (kind, data) = match p {
        Packet::Binary(bytes) => {
            let mut out = String::with_capacity(1 + bytes.len().div_ceil(3) * 4);
            out.push('b');
            STANDARD.encode_string(bytes, &mut out);
            return out;
        }
        Packet::Open(s) => (PacketType::Open, s.as_str()),
        Packet::Close => (PacketType::Close, ""),
        Packet::Ping(s) => (PacketType::Ping, s.as_str()),
        Packet::Pong(s) => (PacketType::Pong, s.as_str()),
        Packet::Message(s) => (PacketType::Message, s.as_str()),
        Packet::Upgrade => (PacketType::Upgrade, ""),
        Packet::Noop => (PacketType::Noop, ""),
    };
    let mut out = String::with_capacity(1 + data.len());
    out.push(kind.as_char());
    out.push_str(data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packet_type_digits_round_trip() {
        for c in b'0'..=b'6' {
            let kind = PacketType::from_char(c).expect("digits 0..6 are types");
            assert_eq!(kind.as_char(), char::from(c));
        }
        for c in [b'7', b'9', b'b', b'a', b' ', 0, 0xff] {
            assert_eq!(PacketType::from_char(c), None);
        }
    }

    #[test]
    fn decodes_text_packets() {
        let cases: Vec<(&str, Packet)> = vec![
            ("0{\"sid\":\"x\"}", Packet::Open("{\"sid\":\"x\"}".into())),
            ("1", Packet::Close),
            ("1ignored", Packet::Close),
            ("2", Packet::Ping(String::new())),
            ("2probe", Packet::Ping("probe".into())),
            ("3", Packet::Pong(String::new())),
            ("3probe", Packet::Pong("probe".into())),
            ("4", Packet::Message(String::new())),
            ("4hello", Packet::Message("hello".into())),
            ("4héllo ☃", Packet::Message("héllo ☃".into())),
            ("42[\"a\"]", Packet::Message("2[\"a\"]".into())),
            ("5", Packet::Upgrade),
            ("5x", Packet::Upgrade),
            ("6", Packet::Noop),
            ("6junk", Packet::Noop),
            ("b", Packet::Binary(Bytes::new())),
            (
                "bAQIDBA==",
                Packet::Binary(Bytes::from_static(&[1, 2, 3, 4])),
            ),
            ("bAQIDBA", Packet::Binary(Bytes::from_static(&[1, 2, 3, 4]))),
            (
                "bAQIDBA=",
                Packet::Binary(Bytes::from_static(&[1, 2, 3, 4])),
            ),
            ("b4AAA", Packet::Binary(Bytes::from_static(&[0xe0, 0, 0]))),
            ("b4A==", Packet::Binary(Bytes::from_static(&[0xe0]))),
            ("b/+8=", Packet::Binary(Bytes::from_static(&[0xff, 0xef]))),
        ];
        for (input, expected) in cases {
            assert_eq!(decode_text(input), Ok(expected), "{input:?}");
        }
    }

    #[test]
    fn rejects_bad_text_packets() {
        let cases: &[(&str, DecodeError)] = &[
            ("", DecodeError::Empty),
            ("9x", DecodeError::UnknownType('9')),
            ("7", DecodeError::UnknownType('7')),
            ("abc", DecodeError::UnknownType('a')),
            ("é4", DecodeError::UnknownType('é')),
            (" 4hello", DecodeError::UnknownType(' ')),
            ("b!!!!", DecodeError::InvalidBase64),
            ("bA", DecodeError::InvalidBase64),
            ("b_-8=", DecodeError::InvalidBase64),
            ("bAQID BA==", DecodeError::InvalidBase64),
        ];
        for (input, expected) in cases {
            assert_eq!(decode_text(input).as_ref(), Err(expected), "{input:?}");
        }
    }

    #[test]
    fn encodes_text_packets() {
        let cases: Vec<(Packet, &str)> = vec![
            (Packet::Open("{}".into()), "0{}"),
            (Packet::Close, "1"),
            (Packet::Ping(String::new()), "2"),
            (Packet::Ping("probe".into()), "2probe"),
            (Packet::Pong("probe".into()), "3probe"),
            (Packet::Message("hello".into()), "4hello"),
            (Packet::Message("2[\"a\"]".into()), "42[\"a\"]"),
            (Packet::Upgrade, "5"),
            (Packet::Noop, "6"),
            (
                Packet::Binary(Bytes::from_static(&[1, 2, 3, 4])),
                "bAQIDBA==",
            ),
            (Packet::Binary(Bytes::from_static(&[0xe0, 0, 0])), "b4AAA"),
            (Packet::Binary(Bytes::new()), "b"),
        ];
        for (packet, wire) in cases {
            assert_eq!(encode_text(&packet), wire, "{packet:?}");
            assert_eq!(decode_text(wire), Ok(packet), "{wire:?}");
        }
    }

    #[test]
    fn binary_round_trips_every_byte_and_length() {
        let all: Vec<u8> = (0..=255).collect();
        for len in 0..all.len() {
            let packet = Packet::Binary(Bytes::copy_from_slice(&all[..len]));
            assert_eq!(decode_text(&encode_text(&packet)), Ok(packet));
        }
    }
}
