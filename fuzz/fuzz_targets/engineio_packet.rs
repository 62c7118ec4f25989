//! Engine.IO text packet decoding (`protocol::engineio::decode_text`), as a WebSocket text frame or
//! one polling segment arrives. Beyond "never panics": whatever decodes encodes back to itself
//! (exactly the input for packets that keep their data, the type digit alone for those that ignore
//! it, canonical base64 for binary), and a binary packet never holds more than 3/4 of its text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use roomcast::protocol::engineio::{decode_text, encode_text, DecodeError, Frame, Packet};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let packet = match decode_text(text) {
        Ok(packet) => packet,
        Err(DecodeError::Empty) => return assert!(text.is_empty()),
        Err(DecodeError::UnknownType(c)) => {
            return assert!(text.starts_with(c) && !"0123456b".contains(c))
        }
        Err(DecodeError::InvalidBase64) => return assert!(text.starts_with('b')),
    };
    let encoded = encode_text(&packet);
    assert_eq!(decode_text(&encoded).as_ref(), Ok(&packet), "{text:?}");
    match &packet {
        Packet::Open(_) | Packet::Ping(_) | Packet::Pong(_) | Packet::Message(_) => {
            assert_eq!(encoded, text);
        }
        Packet::Close | Packet::Upgrade | Packet::Noop => {
            assert_eq!(encoded.len(), 1);
            assert!(text.starts_with(&encoded));
        }
        Packet::Binary(bytes) => {
            assert!(bytes.len() <= (text.len() - 1) * 3 / 4, "{text:?}");
            // The canonical form (padded) is what the lenient input decodes to, or the input itself.
            let unpadded = text.trim_end_matches('=');
            assert!(
                encoded.trim_end_matches('=') == unpadded,
                "{text:?} -> {encoded:?}"
            );
        }
    }
    let frame = Frame::from_packet(&packet);
    match (&frame, &packet) {
        (Frame::Binary(b), Packet::Binary(p)) => assert_eq!(b, p),
        (Frame::Text(t), _) => assert_eq!(&**t, encoded),
        _ => panic!("{packet:?} became {frame:?}"),
    }
});
