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
mod tests {
    use super::*;
    use serde_json::json;

    fn pkt(kind: PacketType, nsp: &str, id: Option<u64>, data: Option<Value>, n: usize) -> Packet {
        Packet {
            kind,
            nsp: nsp.to_owned(),
            id,
            data,
            attachments: n,
        }
    }

    #[test]
    fn decodes_valid_packets() {
        use PacketType::*;
        let ph0 = json!({"_placeholder": true, "num": 0});
        let ph1 = json!({"_placeholder": true, "num": 1});
        let cases: Vec<(&str, Packet)> = vec![
            ("0", pkt(Connect, "/", None, None, 0)),
            (
                r#"0{"token":"123"}"#,
                pkt(Connect, "/", None, Some(json!({"token": "123"})), 0),
            ),
            ("0/custom,", pkt(Connect, "/custom", None, None, 0)),
            ("0/custom", pkt(Connect, "/custom", None, None, 0)),
            (
                r#"0/custom,{"token":"abc"}"#,
                pkt(Connect, "/custom", None, Some(json!({"token": "abc"})), 0),
            ),
            (
                r#"0/admin,{"sid":"oSO0OpakMV_3jnilAAAA"}"#,
                pkt(
                    Connect,
                    "/admin",
                    None,
                    Some(json!({"sid": "oSO0OpakMV_3jnilAAAA"})),
                    0,
                ),
            ),
            ("0/café,", pkt(Connect, "/café", None, None, 0)),
            ("0/日本", pkt(Connect, "/日本", None, None, 0)),
            ("1", pkt(Disconnect, "/", None, None, 0)),
            ("1/admin,", pkt(Disconnect, "/admin", None, None, 0)),
            ("2", pkt(Event, "/", None, None, 0)),
            (
                r#"2["foo"]"#,
                pkt(Event, "/", None, Some(json!(["foo"])), 0),
            ),
            (
                r#"2["message",1,"2",{"3":[true]}]"#,
                pkt(
                    Event,
                    "/",
                    None,
                    Some(json!(["message", 1, "2", {"3": [true]}])),
                    0,
                ),
            ),
            (
                r#"2456["message-with-ack",1,"2",{"3":[false]}]"#,
                pkt(
                    Event,
                    "/",
                    Some(456),
                    Some(json!(["message-with-ack", 1, "2", {"3": [false]}])),
                    0,
                ),
            ),
            (
                r#"2/admin,["bar"]"#,
                pkt(Event, "/admin", None, Some(json!(["bar"])), 0),
            ),
            (
                r#"2/admin,13["ev"]"#,
                pkt(Event, "/admin", Some(13), Some(json!(["ev"])), 0),
            ),
            (
                r#"212["foo"]"#,
                pkt(Event, "/", Some(12), Some(json!(["foo"])), 0),
            ),
            (
                r#"2[7,"x"]"#,
                pkt(Event, "/", None, Some(json!([7, "x"])), 0),
            ),
            (r#"2 ["x"] "#, pkt(Event, "/", None, Some(json!(["x"])), 0)),
            (
                r#"3/admin,13["bar"]"#,
                pkt(Ack, "/admin", Some(13), Some(json!(["bar"])), 0),
            ),
            ("3456[]", pkt(Ack, "/", Some(456), Some(json!([])), 0)),
            (
                r#"4{"message":"Not authorized"}"#,
                pkt(
                    ConnectError,
                    "/",
                    None,
                    Some(json!({"message": "Not authorized"})),
                    0,
                ),
            ),
            (
                r#"4/random,"oops""#,
                pkt(ConnectError, "/random", None, Some(json!("oops")), 0),
            ),
            (
                r#"52-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#,
                pkt(
                    BinaryEvent,
                    "/",
                    None,
                    Some(json!(["message", ph0, ph1])),
                    2,
                ),
            ),
            (
                r#"52-789["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#,
                pkt(
                    BinaryEvent,
                    "/",
                    Some(789),
                    Some(json!(["message", ph0, ph1])),
                    2,
                ),
            ),
            (
                r#"51-["baz",{"nested":[{"_placeholder":true,"num":0.0}]}]"#,
                pkt(
                    BinaryEvent,
                    "/",
                    None,
                    Some(json!(["baz", {"nested": [{"_placeholder": true, "num": 0.0}]}])),
                    1,
                ),
            ),
            (
                r#"52-/admin,["baz",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#,
                pkt(
                    BinaryEvent,
                    "/admin",
                    None,
                    Some(json!(["baz", ph0, ph1])),
                    2,
                ),
            ),
            (
                r#"50-["none"]"#,
                pkt(BinaryEvent, "/", None, Some(json!(["none"])), 0),
            ),
            (
                r#"510-["ten"]"#,
                pkt(BinaryEvent, "/", None, Some(json!(["ten"])), 10),
            ),
            (
                r#"61-15["bar",{"_placeholder":true,"num":0}]"#,
                pkt(BinaryAck, "/", Some(15), Some(json!(["bar", ph0])), 1),
            ),
            (
                r#"61-/admin,1[{"_placeholder":true,"num":0}]"#,
                pkt(BinaryAck, "/admin", Some(1), Some(json!([ph0])), 1),
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(decode(input), Ok(expected), "{input:?}");
        }
    }

    #[test]
    fn rejects_invalid_packets() {
        use ParseError::*;
        let cases: &[(&str, ParseError)] = &[
            ("", UnknownType),
            ("abc", UnknownType),
            ("7", UnknownType),
            (r#"9["x"]"#, UnknownType),
            ("é", UnknownType),
            ("2{}", InvalidPayload),
            (r#"2abc["x"]"#, InvalidPayload),
            ("2[]", InvalidPayload),
            (r#"2["connect"]"#, InvalidPayload),
            (r#"2["removeListener",1]"#, InvalidPayload),
            ("2[{}]", InvalidPayload),
            ("2[null]", InvalidPayload),
            (r#"2["x""#, InvalidPayload),
            (r#"2"x""#, InvalidPayload),
            (r#"0"x""#, InvalidPayload),
            ("0[]", InvalidPayload),
            ("0null", InvalidPayload),
            ("1{}", InvalidPayload),
            ("1/admin,{}", InvalidPayload),
            ("3{}", InvalidPayload),
            (r#"3/admin,1"x""#, InvalidPayload),
            ("4[]", InvalidPayload),
            ("4true", InvalidPayload),
            (r#"2/admin["a","b"]"#, InvalidPayload),
            (r#"299999999999999999999["x"]"#, InvalidAckId),
            (r#"5x-["x"]"#, IllegalAttachments),
            (r#"5-["x"]"#, IllegalAttachments),
            (r#"52["x"]"#, IllegalAttachments),
            ("5", IllegalAttachments),
            ("6 1-[]", IllegalAttachments),
            (r#"511-["x"]"#, TooManyAttachments),
            (r#"599999999999999999999999-["x"]"#, TooManyAttachments),
            (r#"51-["x",{"_placeholder":true,"num":1}]"#, BadPlaceholder),
            (r#"51-["x",{"_placeholder":true,"num":-1}]"#, BadPlaceholder),
            (
                r#"51-["x",{"_placeholder":true,"num":0.5}]"#,
                BadPlaceholder,
            ),
            (
                r#"51-["x",{"_placeholder":true,"num":"0"}]"#,
                BadPlaceholder,
            ),
            (r#"51-["x",{"_placeholder":true}]"#, BadPlaceholder),
            (r#"50-["x",{"_placeholder":true,"num":0}]"#, BadPlaceholder),
            (
                r#"61-1[{"a":[{"_placeholder":true,"num":3}]}]"#,
                BadPlaceholder,
            ),
            (
                r#"51-["connect",{"_placeholder":true,"num":0}]"#,
                InvalidPayload,
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(decode(input), Err(*expected), "{input:?}");
        }
    }

    #[test]
    fn placeholders_only_checked_in_binary_packets() {
        let p = decode(r#"2["x",{"_placeholder":true,"num":9}]"#).expect("plain event");
        assert_eq!(p.kind, PacketType::Event);
        let p = decode(r#"51-["x",{"_placeholder":false,"num":9}]"#).expect("not a placeholder");
        assert_eq!(p.attachments, 1);
    }

    #[test]
    fn never_panics_on_prefixes_of_tricky_input() {
        let inputs = [
            r#"52-/adé,789["é",{"_placeholder":true,"num":1}]"#,
            r#"0/日本語,{"k":"ü"}"#,
            r#"61-15["bar",{"_placeholder":true,"num":0}]"#,
        ];
        for input in inputs {
            for end in (0..=input.len()).filter(|&i| input.is_char_boundary(i)) {
                let _ = decode(&input[..end]);
            }
        }
    }
}
