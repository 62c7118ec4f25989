//! Reassembly of binary Socket.IO packets (reference section 2.2 step 6).
//!
//! A BINARY_EVENT/BINARY_ACK announces `n` attachments; the next `n` Engine.IO binary messages
//! belong to it. [`Decoder`] holds the packet until they have all arrived. "Still waiting" is the
//! value `Ok(None)`; a text message while waiting, or a binary one when nothing waits, is a
//! protocol error that closes the connection.
//!
//! With the msgpack parser every packet is one binary message, complete at once, and a text
//! message is a protocol error.

use bytes::Bytes;

use super::{decode, msgpack, Packet, ParseError, Parser};

/// A complete inbound packet with its binary attachments, in order (empty for text packets).
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// The decoded packet; binary packets keep their placeholders.
    pub packet: Packet,
    /// The attachments, `binary[i]` answering placeholder `num: i`.
    pub binary: Vec<Bytes>,
}

/// Reassembles binary packets: feed every Engine.IO message in order. `Default` speaks the
/// default (text) parser.
#[derive(Debug, Default)]
pub struct Decoder {
    parser: Parser,
    pending: Option<Decoded>,
}

impl Decoder {
    /// A decoder for clients using `parser`.
    pub fn new(parser: Parser) -> Self {
        Decoder {
            parser,
            pending: None,
        }
    }

    /// A text message: `Ok(Some)` when complete (any non-binary packet, or a binary one with 0
    /// attachments), `Ok(None)` when it waits for attachments; `Err` if a binary packet is still
    /// waiting (`UnexpectedText`), or with the msgpack parser (`TextWithMsgpack`).
    pub fn on_text(&mut self, s: &str) -> Result<Option<Decoded>, ParseError> {
        if self.pending.is_some() {
            return Err(ParseError::UnexpectedText);
        }
        if self.parser == Parser::Msgpack {
            return Err(ParseError::TextWithMsgpack);
        }
        let packet = decode(s)?;
        let inbound = Decoded {
            binary: Vec::with_capacity(packet.attachments),
            packet,
        };
        if inbound.packet.attachments == 0 {
            return Ok(Some(inbound));
        }
        self.pending = Some(inbound);
        Ok(None)
    }

    /// A binary message: `Err(UnexpectedBinary)` when nothing waits; `Ok(Some)` when the last
    /// attachment arrived, `Ok(None)` while more are due. With the msgpack parser: the whole
    /// packet, or why it is invalid.
    pub fn on_binary(&mut self, b: Bytes) -> Result<Option<Decoded>, ParseError> {
        if self.parser == Parser::Msgpack {
            return msgpack::decode(&b).map(Some);
        }
        let mut inbound = self.pending.take().ok_or(ParseError::UnexpectedBinary)?;
        inbound.binary.push(b);
        if inbound.binary.len() >= inbound.packet.attachments {
            return Ok(Some(inbound));
        }
        self.pending = Some(inbound);
        Ok(None)
    }

    /// True while a binary packet waits for attachments.
    pub fn is_waiting(&self) -> bool {
        self.pending.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::socketio::PacketType;
    use serde_json::json;

    /// One message fed to the decoder, and what it must answer.
    enum Step {
        Text(&'static str, Result<bool, ParseError>),
        Binary(&'static [u8], Result<bool, ParseError>),
    }

    fn run(steps: &[Step]) -> Vec<Decoded> {
        let mut decoder = Decoder::default();
        let mut done = Vec::new();
        for (i, step) in steps.iter().enumerate() {
            let (got, want) = match step {
                Step::Text(s, want) => (decoder.on_text(s), want),
                Step::Binary(b, want) => (decoder.on_binary(Bytes::from_static(b)), want),
            };
            let got_complete = got.map(|o| {
                let complete = o.is_some();
                done.extend(o);
                complete
            });
            assert_eq!(&got_complete, want, "step {i}");
        }
        done
    }

    #[test]
    fn text_packets_complete_at_once() {
        use Step::*;
        let done = run(&[
            Text("0", Ok(true)),
            Text(r#"2["a"]"#, Ok(true)),
            Text("2", Ok(true)),
        ]);
        assert_eq!(done.len(), 3);
        assert!(done.iter().all(|d| d.binary.is_empty()));
    }

    #[test]
    fn binary_event_waits_for_its_attachments() {
        use Step::*;
        let done = run(&[
            Text(
                r#"52-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#,
                Ok(false),
            ),
            Binary(b"\x01\x02", Ok(false)),
            Binary(b"\x03", Ok(true)),
            Text(r#"2["after"]"#, Ok(true)),
        ]);
        assert_eq!(done.len(), 2);
        assert_eq!(done[0].packet.kind, PacketType::BinaryEvent);
        assert_eq!(done[0].packet.attachments, 2);
        assert_eq!(
            done[0].binary,
            vec![Bytes::from_static(b"\x01\x02"), Bytes::from_static(b"\x03")]
        );
        assert_eq!(done[1].packet.data, Some(json!(["after"])));
    }

    #[test]
    fn binary_ack_and_zero_attachments() {
        use Step::*;
        let done = run(&[
            Text(r#"61-15["bar",{"_placeholder":true,"num":0}]"#, Ok(false)),
            Binary(b"x", Ok(true)),
            Text(r#"50-["none"]"#, Ok(true)),
            Text(r#"2["next"]"#, Ok(true)),
        ]);
        assert_eq!(done[0].packet.id, Some(15));
        assert_eq!(done[0].packet.kind, PacketType::BinaryAck);
        assert!(done[1].binary.is_empty());
    }

    #[test]
    fn protocol_violations() {
        use Step::*;
        run(&[Binary(b"x", Err(ParseError::UnexpectedBinary))]);
        run(&[
            Text(r#"2["a"]"#, Ok(true)),
            Binary(b"x", Err(ParseError::UnexpectedBinary)),
        ]);
        run(&[
            Text(r#"51-["a",{"_placeholder":true,"num":0}]"#, Ok(false)),
            Text(r#"2["b"]"#, Err(ParseError::UnexpectedText)),
        ]);
        run(&[Text("2{}", Err(ParseError::InvalidPayload))]);
    }

    #[test]
    fn msgpack_packets_are_single_binary_messages() {
        let mut decoder = Decoder::new(Parser::Msgpack);
        // socket.io-client's CONNECT to `/`: {type: 0, data: undefined, nsp: "/"}
        let connect = Bytes::from_static(b"\x83\xa4type\x00\xa4data\xd4\x00\x00\xa3nsp\xa1/");
        let done = decoder
            .on_binary(connect)
            .expect("valid")
            .expect("complete");
        assert_eq!(done.packet, Packet::connect("/", None));
        assert!(!decoder.is_waiting());
        assert_eq!(decoder.on_text("0"), Err(ParseError::TextWithMsgpack));
        assert!(matches!(
            decoder.on_binary(Bytes::from_static(b"\xc1")),
            Err(ParseError::Msgpack(_))
        ));
        // and the default parser refuses msgpack
        let mut text = Decoder::default();
        let connect = Bytes::from_static(b"\x82\xa4type\x00\xa3nsp\xa1/");
        assert_eq!(text.on_binary(connect), Err(ParseError::UnexpectedBinary));
    }

    #[test]
    fn is_waiting_tracks_pending_packet() {
        let mut decoder = Decoder::default();
        assert!(!decoder.is_waiting());
        let first = decoder.on_text(r#"51-["a",{"_placeholder":true,"num":0}]"#);
        assert_eq!(first, Ok(None));
        assert!(decoder.is_waiting());
        let done = decoder.on_binary(Bytes::from_static(b"z"));
        assert!(matches!(done, Ok(Some(_))));
        assert!(!decoder.is_waiting());
    }
}
