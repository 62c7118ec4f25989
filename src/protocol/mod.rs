//! Pure protocol codecs: no I/O, no actix.
//!
//! - [`engineio`]: Engine.IO v4 packets, polling payloads, outbound frames and the handshake.
//! - [`socketio`]: Socket.IO v5 packets, their text encoding and binary-attachment reassembly.
//! - [`msgpack`]: msgpack values as JSON values with binary beside them (the msgpack parser's
//!   value layer, notepack's encoding choices).
//! - [`ids`]: the random [`ids::Sid`] used as session id and socket id.
//!
//! Everything here works on `&str`/`Bytes` and returns values; waiting for binary attachments is
//! a value (`Ok(None)`), not an error. Errors mean the peer broke the protocol.

pub mod engineio;
pub mod ids;
pub mod msgpack;
pub mod socketio;

/// Both layers together, on the exact strings a client puts on the wire.
#[cfg(test)]
mod tests {
    use super::engineio::{self, Frame};
    use super::socketio::{self, Decoder, Packet, PacketType, ParseError};
    use bytes::Bytes;
    use serde_json::json;

    /// Engine.IO text frame -> Socket.IO packet, as the transport and socket layers will do it.
    fn inbound(wire: &str) -> Result<Packet, String> {
        match engineio::decode_text(wire) {
            Ok(engineio::Packet::Message(text)) => {
                socketio::decode(&text).map_err(|e| e.to_string())
            }
            Ok(other) => Err(format!("not a message: {other:?}")),
            Err(e) => Err(e.to_string()),
        }
    }

    #[test]
    fn client_frames() {
        let cases: Vec<(&str, PacketType, &str, Option<u64>)> = vec![
            ("40", PacketType::Connect, "/", None),
            (r#"40{"token":"123"}"#, PacketType::Connect, "/", None),
            ("40/custom,", PacketType::Connect, "/custom", None),
            ("40/custom", PacketType::Connect, "/custom", None),
            (
                r#"40/custom,{"token":"abc"}"#,
                PacketType::Connect,
                "/custom",
                None,
            ),
            ("41", PacketType::Disconnect, "/", None),
            ("41/admin,", PacketType::Disconnect, "/admin", None),
            (
                r#"42["message",1,"2",{"3":[true]}]"#,
                PacketType::Event,
                "/",
                None,
            ),
            (
                r#"42456["message-with-ack",1,"2",{"3":[false]}]"#,
                PacketType::Event,
                "/",
                Some(456),
            ),
            (
                r#"42/admin,13["ev"]"#,
                PacketType::Event,
                "/admin",
                Some(13),
            ),
            (r#"43/admin,13["bar"]"#, PacketType::Ack, "/admin", Some(13)),
            (
                r#"452-["m",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#,
                PacketType::BinaryEvent,
                "/",
                None,
            ),
            (
                r#"452-789["m",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#,
                PacketType::BinaryEvent,
                "/",
                Some(789),
            ),
            (
                r#"461-15["bar",{"_placeholder":true,"num":0}]"#,
                PacketType::BinaryAck,
                "/",
                Some(15),
            ),
        ];
        for (wire, kind, nsp, id) in cases {
            let p = inbound(wire).unwrap_or_else(|e| panic!("{wire:?}: {e}"));
            assert_eq!((p.kind, p.nsp.as_str(), p.id), (kind, nsp, id), "{wire:?}");
        }
    }

    #[test]
    fn bad_client_frames() {
        let cases = [
            ("4abc", "unknown packet type"),
            ("abc", "unknown packet type 'a'"),
            ("42{}", "invalid payload"),
            (r#"42abc["x"]"#, "invalid payload"),
            (r#"42["connect"]"#, "invalid payload"),
            ("40\"x\"", "invalid payload"),
            ("2probe", "not a message: Ping(\"probe\")"),
        ];
        for (wire, error) in cases {
            assert_eq!(inbound(wire), Err(error.to_owned()), "{wire:?}");
        }
    }

    #[test]
    fn server_frames() {
        let placeholders = vec![socketio::placeholder(0), socketio::placeholder(1)];
        let args = vec![json!(1), json!("2"), json!({"3": [false]})];
        let cases = [
            (
                Packet::event("/", "message-back", placeholders, None, 2),
                r#"452-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#,
            ),
            (
                Packet::ack("/", 456, args, 0),
                r#"43456[1,"2",{"3":[false]}]"#,
            ),
            (
                Packet::connect_error("/random", "Invalid namespace", None),
                r#"44/random,{"message":"Invalid namespace"}"#,
            ),
            (
                Packet::connect("/", Some(json!({"sid": "abc"}))),
                r#"40{"sid":"abc"}"#,
            ),
        ];
        for (packet, wire) in cases {
            assert_eq!(
                Frame::message(&socketio::encode(&packet)),
                Frame::Text(wire.into())
            );
        }
    }

    #[test]
    fn polling_post_with_binary_attachment() {
        let body = "40\x1e451-[\"up\",{\"_placeholder\":true,\"num\":0}]\x1ebAQID\x1e42[\"after\"]";
        let mut decoder = Decoder::default();
        let mut done = Vec::new();
        for packet in engineio::decode_payload(body).expect("valid payload") {
            let step = match packet {
                engineio::Packet::Message(text) => decoder.on_text(&text),
                engineio::Packet::Binary(bytes) => decoder.on_binary(bytes),
                other => panic!("unexpected {other:?}"),
            };
            done.extend(step.expect("valid packets"));
        }
        let kinds: Vec<PacketType> = done.iter().map(|d| d.packet.kind).collect();
        assert_eq!(
            kinds,
            [
                PacketType::Connect,
                PacketType::BinaryEvent,
                PacketType::Event
            ]
        );
        assert_eq!(done[1].binary, vec![Bytes::from_static(&[1, 2, 3])]);
    }

    #[test]
    fn arbitrary_input_never_panics() {
        const PIECES: [&str; 24] = [
            "4",
            "2",
            "5",
            "6",
            "0",
            "1-",
            "-",
            "/",
            "é",
            "日",
            ",",
            "[",
            "]",
            "{",
            "}",
            "\"",
            "\"_placeholder\":true",
            "\"num\":",
            "99999999999999999999",
            "b",
            "\x1e",
            "AQ==",
            "x",
            " ",
        ];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut decoder = Decoder::default();
        for _ in 0..5000 {
            let mut s = String::new();
            for _ in 0..next() % 12 {
                let piece = PIECES.get((next() % PIECES.len() as u64) as usize);
                s.push_str(piece.copied().unwrap_or_default());
            }
            let _ = engineio::decode_payload(&s);
            let _ = socketio::decode(&s);
            if decoder.on_text(&s) == Err(ParseError::UnexpectedText) {
                let _ = decoder.on_binary(Bytes::new());
            }
        }
    }
}
