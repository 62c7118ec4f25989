//! Engine.IO polling payloads and outbound frames (reference section 1.2).
//!
//! A [`Frame`] is an outbound packet already encoded, so one broadcast buffer can be shared by
//! every recipient. A v4 polling payload joins packets with `\x1e`; binary inside a payload is
//! `b` + standard base64 with padding, without the `4` type digit.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use bytes::Bytes;
use bytestring::ByteString;

use super::{decode_text, encode_text, DecodeError, Packet, PacketType};

/// Separator between packets of a v4 polling payload.
pub const SEPARATOR: char = '\x1e';

/// Decode a v4 polling payload: segments split on `'\x1e'`; the first bad segment is an error
/// for the whole payload. An empty body is an error.
pub fn decode_payload(body: &str) -> Result<Vec<Packet>, DecodeError> {
    if body.is_empty() {
        return Err(DecodeError::Empty);
    }
    body.split(SEPARATOR).map(decode_text).collect()
}

/// An outbound frame, already encoded: `Text` includes the type digit (`4...`, `2`, `3probe`,
/// `6`, `1`); `Binary` is a raw binary message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A text packet, type digit included.
    Text(ByteString),
    /// A binary message: a raw WebSocket binary frame, `b` + base64 inside a polling payload.
    Binary(Bytes),
}

impl Frame {
    /// The server heartbeat `2`.
    pub fn ping() -> Frame {
        Frame::Text(ByteString::from_static("2"))
    }

    /// `3` + data: `Frame::pong("probe")` answers an upgrade probe.
    pub fn pong(data: &str) -> Frame {
        Frame::from_packet(&Packet::Pong(data.to_owned()))
    }

    /// `6`, which releases a parked polling GET.
    pub fn noop() -> Frame {
        Frame::Text(ByteString::from_static("6"))
    }

    /// `1`, which ends the session.
    pub fn close() -> Frame {
        Frame::Text(ByteString::from_static("1"))
    }

    /// `4` + text: a message carrying one encoded Socket.IO packet.
    pub fn message(text: &str) -> Frame {
        let mut out = String::with_capacity(1 + text.len());
        out.push(PacketType::Message.as_char());
        out.push_str(text);
        Frame::Text(ByteString::from(out))
    }

    /// The frame for any packet: `Binary` stays binary, everything else is encoded as text.
    pub fn from_packet(p: &Packet) -> Frame {
        match p {
            Packet::Binary(bytes) => Frame::Binary(bytes.clone()),
            other => Frame::Text(ByteString::from(encode_text(other))),
        }
    }

    /// Whether the frame carries a message (text `4...` or binary), not a heartbeat or control packet.
    pub fn is_message(&self) -> bool {
        match self {
            Frame::Text(s) => s.starts_with('4'),
            Frame::Binary(_) => true,
        }
    }

    /// Bytes of the frame as written on a WebSocket (text or raw binary), used for byte budgets.
    /// In a polling payload a binary frame grows to `1 + 4 * ceil(len / 3)` bytes.
    pub fn len(&self) -> usize {
        match self {
            Frame::Text(s) => s.len(),
            Frame::Binary(b) => b.len(),
        }
    }

    /// True for a zero-length frame, which only an empty binary message can be.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Encode frames as one v4 polling payload: texts as is, binaries as `b` + standard base64 with
/// padding, joined with `'\x1e'`.
pub fn encode_payload<'a>(frames: impl IntoIterator<Item = &'a Frame>) -> String {
    let mut out = String::new();
    write_payload(&mut out, frames);
    out
}

/// The payload of `frames` (as [`encode_payload`]) as a shared buffer, built without a copy for
/// the common answer to a poll, one text frame: that frame's own buffer (a broadcast's one
/// encoding) is the payload. Otherwise one buffer of the exact size is written.
pub fn payload_buffer<'a, I>(frames: I) -> ByteString
where
    I: IntoIterator<Item = &'a Frame>,
    I::IntoIter: Clone,
{
    let frames = frames.into_iter();
    let mut probe = frames.clone();
    if let (Some(Frame::Text(only)), None) = (probe.next(), probe.next()) {
        return only.clone();
    }
    let mut out = String::with_capacity(payload_len(frames.clone()));
    write_payload(&mut out, frames);
    ByteString::from(out)
}

/// Bytes of the payload of `frames`.
fn payload_len<'a>(frames: impl Iterator<Item = &'a Frame>) -> usize {
    frames
        .map(|f| match f {
            Frame::Text(s) => s.len() + 1,
            Frame::Binary(b) => 2 + b.len().div_ceil(3) * 4,
        })
        .sum::<usize>()
        .saturating_sub(1)
}

fn write_payload<'a>(out: &mut String, frames: impl IntoIterator<Item = &'a Frame>) {
    for (i, frame) in frames.into_iter().enumerate() {
        if i > 0 {
            out.push(SEPARATOR);
        }
        match frame {
            Frame::Text(s) => out.push_str(s),
            Frame::Binary(b) => {
                out.push('b');
                STANDARD.encode_string(b, out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &'static str) -> Frame {
        Frame::Text(ByteString::from_static(s))
    }

    #[test]
    fn decodes_payloads() {
        let cases: Vec<(&str, Vec<Packet>)> = vec![
            ("4hello", vec![Packet::Message("hello".into())]),
            (
                "4test1\x1e4test2\x1e4test3",
                vec![
                    Packet::Message("test1".into()),
                    Packet::Message("test2".into()),
                    Packet::Message("test3".into()),
                ],
            ),
            (
                "4hello\x1ebAQIDBA==",
                vec![
                    Packet::Message("hello".into()),
                    Packet::Binary(Bytes::from_static(&[1, 2, 3, 4])),
                ],
            ),
            (
                "b4AAA\x1e3\x1e1",
                vec![
                    Packet::Binary(Bytes::from_static(&[0xe0, 0, 0])),
                    Packet::Pong(String::new()),
                    Packet::Close,
                ],
            ),
            (
                "40\x1e42[\"a\"]",
                vec![
                    Packet::Message("0".into()),
                    Packet::Message("2[\"a\"]".into()),
                ],
            ),
        ];
        for (body, expected) in cases {
            assert_eq!(decode_payload(body), Ok(expected), "{body:?}");
        }
    }

    #[test]
    fn rejects_bad_payloads() {
        let cases: &[(&str, DecodeError)] = &[
            ("", DecodeError::Empty),
            ("\x1e", DecodeError::Empty),
            ("4a\x1e\x1e4b", DecodeError::Empty),
            ("4a\x1e", DecodeError::Empty),
            ("abc", DecodeError::UnknownType('a')),
            ("4ok\x1e9x\x1e4ok", DecodeError::UnknownType('9')),
            ("4ok\x1eb!!", DecodeError::InvalidBase64),
        ];
        for (body, expected) in cases {
            assert_eq!(decode_payload(body).as_ref(), Err(expected), "{body:?}");
        }
    }

    #[test]
    fn frame_constructors() {
        let cases = [
            (Frame::ping(), "2"),
            (Frame::pong("probe"), "3probe"),
            (Frame::pong(""), "3"),
            (Frame::noop(), "6"),
            (Frame::close(), "1"),
            (Frame::message("2[\"a\"]"), "42[\"a\"]"),
            (Frame::message("héllo"), "4héllo"),
            (Frame::from_packet(&Packet::Upgrade), "5"),
        ];
        for (frame, wire) in cases {
            assert_eq!(frame, text(wire));
            assert_eq!(frame.len(), wire.len());
            assert!(!frame.is_empty());
        }
        let bin = Frame::from_packet(&Packet::Binary(Bytes::from_static(b"abc")));
        assert_eq!(bin, Frame::Binary(Bytes::from_static(b"abc")));
        assert_eq!(bin.len(), 3);
        assert!(Frame::Binary(Bytes::new()).is_empty());
    }

    #[test]
    fn encodes_payloads() {
        let bin = Frame::Binary(Bytes::from_static(&[1, 2, 3, 4]));
        let cases: Vec<(Vec<Frame>, &str)> = vec![
            (vec![], ""),
            (vec![Frame::ping()], "2"),
            (
                vec![Frame::message("hello"), bin.clone()],
                "4hello\x1ebAQIDBA==",
            ),
            (
                vec![
                    Frame::message("test1"),
                    Frame::message("test2"),
                    Frame::close(),
                ],
                "4test1\x1e4test2\x1e1",
            ),
            (
                vec![Frame::Binary(Bytes::from_static(&[0xe0, 0, 0])), bin],
                "b4AAA\x1ebAQIDBA==",
            ),
        ];
        for (frames, wire) in cases {
            assert_eq!(encode_payload(&frames), wire);
            assert_eq!(&*payload_buffer(&frames), wire);
            assert_eq!(payload_len(frames.iter()), wire.len(), "{wire:?}");
        }
    }

    #[test]
    fn one_text_frame_is_its_own_payload() {
        let frame = Frame::message("2[\"tick\",1]");
        let Frame::Text(text) = &frame else {
            unreachable!("a message is text")
        };
        let payload = payload_buffer([&frame]);
        assert_eq!(payload.as_ptr(), text.as_ptr(), "shared, not copied");
    }

    #[test]
    fn payload_round_trip() {
        let frames = vec![
            Frame::message("0{\"token\":\"x\"}"),
            Frame::Binary(Bytes::from_static(b"\x00\x1e\xff")),
            Frame::pong("probe"),
            Frame::noop(),
        ];
        let decoded = decode_payload(&encode_payload(&frames)).expect("own payload decodes");
        let reencoded: Vec<Frame> = decoded.iter().map(Frame::from_packet).collect();
        assert_eq!(reencoded, frames);
    }
}
