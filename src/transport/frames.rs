//! WebSocket frames without I/O, for the connections roomcast reads and writes itself
//! (`transport::direct`): server frame headers, and a reader that turns the bytes a client sent into
//! whole messages and control frames (masking, fragments, size and UTF-8 checks, each refusal with
//! its close code). actix-http's frame parser does the parsing.

use actix_http::ws::{OpCode, Parser, ProtocolError};
use bytes::BytesMut;
use bytestring::ByteString;

use super::websocket::WsMessage;
use crate::protocol::engineio::Frame;

/// WebSocket close codes roomcast sends.
pub(crate) const CLOSE_PROTOCOL: u16 = 1002;
pub(crate) const CLOSE_INVALID_DATA: u16 = 1007;
pub(crate) const CLOSE_TOO_BIG: u16 = 1009;

/// A WebSocket frame header for a server frame (never masked): returns the bytes used.
pub(crate) fn frame_header(opcode: u8, len: usize, out: &mut [u8; 10]) -> usize {
    out[0] = 0x80 | opcode;
    if len < 126 {
        out[1] = len as u8;
        2
    } else if len <= u16::MAX as usize {
        out[1] = 126;
        out[2..4].copy_from_slice(&(len as u16).to_be_bytes());
        4
    } else {
        out[1] = 127;
        out[2..10].copy_from_slice(&(len as u64).to_be_bytes());
        10
    }
}

/// Appends to `out`, in order, what a vectored write of `slices` left unwritten after `written`
/// bytes.
pub(crate) fn keep_unwritten(slices: &[std::io::IoSlice<'_>], written: usize, out: &mut BytesMut) {
    let mut skip = written;
    for slice in slices {
        if skip < slice.len() {
            out.extend_from_slice(&slice[skip..]);
        }
        skip = skip.saturating_sub(slice.len());
    }
}

/// A queued frame's opcode and payload.
pub(crate) fn frame_parts(frame: &Frame) -> (u8, &[u8]) {
    match frame {
        Frame::Text(t) => (0x1, t.as_bytes()),
        Frame::Binary(b) => (0x2, b),
    }
}

/// What the read side found.
pub(crate) enum Event {
    Message(WsMessage),
    Ping(BytesMut),
    Close(Option<u16>),
}

/// The bytes a client sent that are not parsed yet, and the message being reassembled.
#[derive(Default)]
pub(crate) struct FrameReader {
    buf: BytesMut,
    fragment: Option<(bool, BytesMut)>,
    max_payload: usize,
}

impl FrameReader {
    /// A reader that starts with `buf` (bytes that came with the upgrade request).
    pub(crate) fn new(buf: BytesMut, max_payload: usize) -> Self {
        FrameReader {
            buf,
            fragment: None,
            max_payload,
        }
    }

    /// Appends bytes read from the socket.
    pub(crate) fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Lets go of the buffer once everything in it was parsed: an idle connection holds none.
    pub(crate) fn release_if_empty(&mut self) {
        if self.buf.is_empty() {
            self.buf = BytesMut::new();
        }
    }

    /// The next complete message or control frame; `Err` carries the close code to send.
    pub(crate) fn next_event(&mut self) -> Result<Option<Event>, u16> {
        loop {
            // Refuse an oversized frame from its header: the parser would buffer all of it first.
            if declared_len(&self.buf).is_some_and(|len| len > self.max_payload as u64) {
                return Err(CLOSE_TOO_BIG);
            }
            let parsed = Parser::parse(&mut self.buf, true, self.max_payload).map_err(|e| {
                if matches!(e, ProtocolError::Overflow) {
                    CLOSE_TOO_BIG
                } else {
                    CLOSE_PROTOCOL
                }
            })?;
            let Some((fin, opcode, data)) = parsed else {
                return Ok(None);
            };
            let data = data.unwrap_or_default();
            match opcode {
                OpCode::Ping => return Ok(Some(Event::Ping(data))),
                OpCode::Pong => continue,
                OpCode::Close => {
                    let code = (data.len() >= 2).then(|| u16::from_be_bytes([data[0], data[1]]));
                    return Ok(Some(Event::Close(code)));
                }
                OpCode::Text | OpCode::Binary => {
                    if self.fragment.is_some() {
                        return Err(CLOSE_PROTOCOL);
                    }
                    let text = opcode == OpCode::Text;
                    if fin {
                        return message(text, data).map(Some);
                    }
                    self.fragment = Some((text, data));
                }
                OpCode::Continue => {
                    let Some((text, mut whole)) = self.fragment.take() else {
                        return Err(CLOSE_PROTOCOL);
                    };
                    if whole.len() + data.len() > self.max_payload {
                        return Err(CLOSE_TOO_BIG);
                    }
                    whole.extend_from_slice(&data);
                    if fin {
                        return message(text, whole).map(Some);
                    }
                    self.fragment = Some((text, whole));
                }
                OpCode::Bad => return Err(CLOSE_PROTOCOL),
            }
        }
    }
}

/// The payload length a client frame's header declares, once its header is complete.
///
/// `None` as well for a header the parser refuses (reserved bits, no mask, an unknown opcode):
/// its refusal (1002) must not depend on whether the length bytes arrived in the same read.
fn declared_len(buf: &[u8]) -> Option<u64> {
    let (first, second) = (*buf.first()?, *buf.get(1)?);
    let known_opcode = matches!(first & 0x0f, 0x0..=0x2 | 0x8..=0xa);
    if first & 0x70 != 0 || second & 0x80 == 0 || !known_opcode {
        return None;
    }
    match second & 0x7f {
        126 => Some(u16::from_be_bytes([*buf.get(2)?, *buf.get(3)?]) as u64),
        127 => Some(u64::from_be_bytes(buf.get(2..10)?.try_into().ok()?)),
        n => Some(n as u64),
    }
}

/// A complete message: text must be UTF-8 (else close code 1007).
fn message(text: bool, data: BytesMut) -> Result<Event, u16> {
    if text {
        ByteString::try_from(data)
            .map(|t| Event::Message(WsMessage::Text(t)))
            .map_err(|_| CLOSE_INVALID_DATA)
    } else {
        Ok(Event::Message(WsMessage::Binary(data.freeze())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_use_the_shortest_length_form() {
        let mut h = [0u8; 10];
        assert_eq!(frame_header(0x1, 5, &mut h), 2);
        assert_eq!(&h[..2], &[0x81, 5]);
        assert_eq!(frame_header(0x2, 126, &mut h), 4);
        assert_eq!(&h[..4], &[0x82, 126, 0, 126]);
        assert_eq!(frame_header(0x2, 70_000, &mut h), 10);
        assert_eq!(h[1], 127);
        assert_eq!(u64::from_be_bytes(h[2..10].try_into().unwrap()), 70_000);
    }

    #[test]
    fn what_a_write_left_is_kept_in_order() {
        use std::io::IoSlice;
        let slices = [IoSlice::new(b"ab"), IoSlice::new(b""), IoSlice::new(b"cde")];
        for (written, rest) in [(0, "abcde"), (1, "bcde"), (2, "cde"), (4, "e"), (5, "")] {
            let mut out = BytesMut::from("x");
            keep_unwritten(&slices, written, &mut out);
            assert_eq!(&out[..], format!("x{rest}").as_bytes(), "{written} written");
        }
    }

    #[test]
    fn declared_lengths_are_read_from_incomplete_headers() {
        assert_eq!(declared_len(&[0x81]), None);
        assert_eq!(declared_len(&[0x81, 0x85]), Some(5));
        assert_eq!(declared_len(&[0x82, 0xfe, 0x01]), None);
        assert_eq!(declared_len(&[0x82, 0xfe, 0x01, 0x00]), Some(256));
        assert_eq!(declared_len(&[0x82, 0x7e, 0x01, 0x00]), None, "unmasked");
        assert_eq!(
            declared_len(&[0xc2, 0xfe, 0x01, 0x00]),
            None,
            "reserved bit"
        );
        assert_eq!(
            declared_len(&[0x83, 0xfe, 0x01, 0x00]),
            None,
            "unknown opcode"
        );
        let mut huge = vec![0x82, 0xff];
        huge.extend_from_slice(&(1u64 << 40).to_be_bytes());
        assert_eq!(declared_len(&huge), Some(1 << 40));
    }

    /// Found by the `ws_frames` fuzz target: a header with reserved bits and a huge 64-bit length
    /// got 1009 when it arrived in one read but 1002 when split after its second byte.
    #[test]
    fn refusal_does_not_depend_on_how_the_bytes_are_split() {
        let mut bad = vec![0xf7, 0xff];
        bad.extend_from_slice(&(1u64 << 40).to_be_bytes());
        let mut unmasked = vec![0x82, 0x7f];
        unmasked.extend_from_slice(&(1u64 << 40).to_be_bytes());
        for frame in [bad, unmasked] {
            let mut whole = FrameReader::new(BytesMut::new(), 1024);
            whole.push(&frame);
            let mut split = FrameReader::new(BytesMut::new(), 1024);
            split.push(&frame[..2]);
            let early = split.next_event().map(|e| e.is_some());
            split.push(&frame[2..]);
            let late = split.next_event().map(|e| e.is_some());
            assert_eq!(whole.next_event().map(|e| e.is_some()), Err(CLOSE_PROTOCOL));
            assert_eq!(early.and(late), Err(CLOSE_PROTOCOL));
        }
        let mut masked = vec![0x82, 0xff];
        masked.extend_from_slice(&(1u64 << 40).to_be_bytes());
        let mut reader = FrameReader::new(BytesMut::new(), 1024);
        reader.push(&masked);
        assert_eq!(reader.next_event().map(|e| e.is_some()), Err(CLOSE_TOO_BIG));
    }

    #[test]
    fn invalid_utf8_text_is_refused_with_1007() {
        let bad = BytesMut::from(&[0xff, 0xfe][..]);
        assert!(matches!(message(true, bad), Err(CLOSE_INVALID_DATA)));
        let good = BytesMut::from("4hi");
        assert!(matches!(
            message(true, good),
            Ok(Event::Message(WsMessage::Text(_)))
        ));
    }
}
