//! The Engine.IO handshake packet (reference section 1.3).
//!
//! The first packet of every session, `0` + a JSON object whose keys are exactly sid, upgrades,
//! pingInterval, pingTimeout and maxPayload, in that order: the protocol test suites reject extra
//! keys.

use super::PacketType;

/// The handshake: serialises exactly
/// `0{"sid":..,"upgrades":[..],"pingInterval":..,"pingTimeout":..,"maxPayload":..}`
/// (keys in that order, nothing else).
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenPacket {
    /// The session id.
    pub sid: String,
    /// Transports the client may upgrade to: `["websocket"]` on polling, `[]` on WebSocket.
    pub upgrades: Vec<&'static str>,
    /// Milliseconds between server pings.
    pub ping_interval: u64,
    /// Milliseconds the client has to answer a ping.
    pub ping_timeout: u64,
    /// Largest body, in bytes, the server accepts in one request.
    pub max_payload: u64,
}

impl OpenPacket {
    /// `0` + the compact JSON object.
    pub fn encode(&self) -> String {
        // One buffer of the packet's usual size, the JSON written after the type.
        let mut out = Vec::with_capacity(128);
        out.push(PacketType::Open.as_char() as u8);
        // Strings, string lists and integers always serialise to JSON, which is UTF-8.
        serde_json::to_writer(&mut out, self).expect("OpenPacket always serialises");
        String::from_utf8(out).expect("JSON is UTF-8")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_exact_handshake() {
        let cases = [
            (
                OpenPacket {
                    sid: "abc".into(),
                    upgrades: vec!["websocket"],
                    ping_interval: 300,
                    ping_timeout: 200,
                    max_payload: 1_000_000,
                },
                r#"0{"sid":"abc","upgrades":["websocket"],"pingInterval":300,"pingTimeout":200,"maxPayload":1000000}"#,
            ),
            (
                OpenPacket {
                    sid: "lv_VI97HAXpY6yYWAAAC".into(),
                    upgrades: vec![],
                    ping_interval: 25_000,
                    ping_timeout: 20_000,
                    max_payload: 1_000_000,
                },
                r#"0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#,
            ),
        ];
        for (open, wire) in cases {
            assert_eq!(open.encode(), wire);
        }
    }

    #[test]
    fn decodes_as_open_packet() {
        let open = OpenPacket {
            sid: "a\"b".into(),
            upgrades: vec!["websocket"],
            ping_interval: 1,
            ping_timeout: 2,
            max_payload: 3,
        };
        let wire = open.encode();
        assert_eq!(
            super::super::decode_text(&wire),
            Ok(super::super::Packet::Open(
                r#"{"sid":"a\"b","upgrades":["websocket"],"pingInterval":1,"pingTimeout":2,"maxPayload":3}"#.into()
            ))
        );
    }
}
