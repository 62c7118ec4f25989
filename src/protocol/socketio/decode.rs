//! Decoding the text of one Socket.IO packet (reference section 2.2), following socket.io-parser
//! 4.2.6 `decodeString` and `isPayloadValid` step by step:
//!
//! 1. the type digit;
//! 2. for binary types the attachment count: digits up to `-`, at most [`MAX_ATTACHMENTS`];
//! 3. a namespace when the next char is `/`, read up to `,` or the end (so `0/custom` and
//!    `0/custom,` agree), else `/`;
//! 4. an ack id from consecutive digits;
//! 5. the rest, if any, as JSON, checked by the rules of `validate.rs` (payload shape per type,
//!    reserved event names, placeholders of binary packets naming an announced attachment).
//!
//! Every delimiter is ASCII, so each split falls on a char boundary even when the namespace holds
//! multi-byte UTF-8.
//!
//! Deliberate differences from JavaScript's coercions: an empty string is an unknown type (Node
//! reads it as CONNECT), the attachment count needs at least one digit, and an ack id that does
//! not fit a `u64` is an error instead of a rounded float.

use serde_json::Value;

use crate::protocol::msgpack::MsgpackError;

use super::validate::{check_placeholders, is_payload_valid};
use super::{Packet, PacketType, MAX_ATTACHMENTS};

/// Why a Socket.IO packet was rejected; the whole Engine.IO connection is then closed.
#[derive(Debug, Clone, Copy, thiserror::Error, PartialEq, Eq)]
pub enum ParseError {
    /// Empty text, or a first character that is not a type digit `0`..`6`.
    #[error("unknown packet type")]
    UnknownType,
    /// A binary packet whose attachment count is not digits followed by `-`.
    #[error("illegal attachments")]
    IllegalAttachments,
    /// More than [`MAX_ATTACHMENTS`] attachments announced.
    #[error("too many attachments")]
    TooManyAttachments,
    /// An ack id too large for a `u64`.
    #[error("invalid ack id")]
    InvalidAckId,
    /// The rest is not JSON, or not the JSON this packet type allows.
    #[error("invalid payload")]
    InvalidPayload,
    /// A binary message arrived while no binary packet waits for attachments.
    #[error("got binary data when not reconstructing a packet")]
    UnexpectedBinary,
    /// A text message arrived while a binary packet still waits for attachments.
    #[error("got plaintext data when reconstructing a packet")]
    UnexpectedText,
    /// A placeholder whose `num` is not a number naming one of the announced attachments.
    #[error("illegal attachments: bad placeholder")]
    BadPlaceholder,
    /// A binary message that is not one msgpack value (msgpack parser).
    #[error("invalid msgpack: {0}")]
    Msgpack(MsgpackError),
    /// A namespace that is not a string (msgpack parser).
    #[error("invalid namespace")]
    InvalidNamespace,
    /// A text message while the server uses the msgpack parser, which sends every packet as one
    /// binary message.
    #[error("text message with the msgpack parser")]
    TextWithMsgpack,
}

/// Decode the text of one Socket.IO packet (the Engine.IO message payload without the `4`),
/// exactly as socket.io-parser 4.2.6 `decodeString` + `isPayloadValid`.
///
/// `42` without payload is accepted with `data: None` (as Node does); the caller ignores it.
pub fn decode(s: &str) -> Result<Packet, ParseError> {
    let kind = s
        .as_bytes()
        .first()
        .copied()
        .and_then(PacketType::from_char)
        .ok_or(ParseError::UnknownType)?;
    // The first byte is an ASCII digit, so index 1 is a char boundary.
    let rest = s.get(1..).unwrap_or_default();
    let (attachments, rest) = if kind.is_binary() {
        read_attachments(rest)?
    } else {
        (0, rest)
    };
    let (nsp, rest) = read_namespace(rest);
    let (id, rest) = read_ack_id(rest)?;
    let data = if rest.is_empty() {
        None
    } else {
        let value: Value = serde_json::from_str(rest).map_err(|_| ParseError::InvalidPayload)?;
        if !is_payload_valid(kind, &value) {
            return Err(ParseError::InvalidPayload);
        }
        if kind.is_binary() {
            check_placeholders(&value, attachments)?;
        }
        Some(value)
    };
    Ok(Packet {
        kind,
        nsp: nsp.to_owned(),
        id,
        data,
        attachments,
    })
}

/// `<digits>-` at the start of `rest`: the attachment count and what follows the `-`.
fn read_attachments(rest: &str) -> Result<(usize, &str), ParseError> {
    let (count, after) = rest.split_once('-').ok_or(ParseError::IllegalAttachments)?;
    if count.is_empty() || !count.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParseError::IllegalAttachments);
    }
    // Only digits remain, so the sole parse failure is overflow: certainly too many.
    let n: usize = count.parse().map_err(|_| ParseError::TooManyAttachments)?;
    if n > MAX_ATTACHMENTS {
        return Err(ParseError::TooManyAttachments);
    }
    Ok((n, after))
}

/// A namespace starts with `/` and runs to the first `,` (consumed) or the end of the text.
fn read_namespace(rest: &str) -> (&str, &str) {
    if !rest.starts_with('/') {
        return ("/", rest);
    }
    rest.split_once(',').unwrap_or((rest, ""))
}

/// Consecutive ASCII digits at the start of `rest` form the ack id.
fn read_ack_id(rest: &str) -> Result<(Option<u64>, &str), ParseError> {
    let len = rest.bytes().take_while(u8::is_ascii_digit).count();
    if len == 0 {
        return Ok((None, rest));
    }
    // `len` counts ASCII bytes from the start, so it is a char boundary and in range.
    let (digits, after) = rest.split_at_checked(len).unwrap_or((rest, ""));
    let id = digits.parse().map_err(|_| ParseError::InvalidAckId)?;
    Ok((Some(id), after))
}

#[cfg(test)]
#[path = "decode_tests.rs"]
mod tests;
