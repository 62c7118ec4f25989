//! The stateful reassembly of binary Socket.IO packets (`protocol::socketio::Decoder`), fed the
//! way a polling POST feeds it: the input is a v4 payload, each `\x1e`-separated segment one
//! Engine.IO packet (`4...` a text message, `b<base64>` a binary one; segments that do not decode,
//! or carry other packet types, are skipped so one bad segment does not end the sequence).
//!
//! Every answer is checked against a small model of the protocol: a text message while
//! attachments are due is `UnexpectedText`, a binary one while none are due `UnexpectedBinary`;
//! otherwise a text packet completes at once or waits for exactly its announced attachments, which
//! come out in arrival order. `is_waiting` follows the model, and nothing holds more than
//! `MAX_ATTACHMENTS` attachments.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use roomcast::protocol::engineio::{decode_text, Packet as EioPacket, SEPARATOR};
use roomcast::protocol::socketio::{decode, Decoded, Decoder, Packet, ParseError, MAX_ATTACHMENTS};

/// What the model holds: the packet waiting for attachments and those received so far.
type Waiting = Option<(Packet, Vec<Bytes>)>;

fn expect_text(model: &mut Waiting, text: &str) -> Result<Option<Decoded>, ParseError> {
    if model.is_some() {
        return Err(ParseError::UnexpectedText);
    }
    let packet = decode(text)?;
    if packet.attachments == 0 {
        return Ok(Some(Decoded {
            packet,
            binary: Vec::new(),
        }));
    }
    *model = Some((packet, Vec::new()));
    Ok(None)
}

fn expect_binary(model: &mut Waiting, data: Bytes) -> Result<Option<Decoded>, ParseError> {
    let Some((packet, mut binary)) = model.take() else {
        return Err(ParseError::UnexpectedBinary);
    };
    binary.push(data);
    if binary.len() == packet.attachments {
        return Ok(Some(Decoded { packet, binary }));
    }
    *model = Some((packet, binary));
    Ok(None)
}

fuzz_target!(|data: &[u8]| {
    let Ok(body) = std::str::from_utf8(data) else {
        return;
    };
    let mut decoder = Decoder::default();
    let mut model: Waiting = None;
    for segment in body.split(SEPARATOR) {
        let (got, want) = match decode_text(segment) {
            Ok(EioPacket::Message(text)) => {
                (decoder.on_text(&text), expect_text(&mut model, &text))
            }
            Ok(EioPacket::Binary(bytes)) => (
                decoder.on_binary(bytes.clone()),
                expect_binary(&mut model, bytes),
            ),
            _ => continue,
        };
        assert_eq!(got, want, "{segment:?} in {body:?}");
        assert_eq!(decoder.is_waiting(), model.is_some());
        if let Some((packet, binary)) = &model {
            assert!(binary.len() < packet.attachments && packet.attachments <= MAX_ATTACHMENTS);
        }
        if let Ok(Some(done)) = got {
            assert_eq!(done.binary.len(), done.packet.attachments);
        }
    }
});
