//! Encoding a Socket.IO packet as text (reference section 2.2), as socket.io-parser's encoder:
//! `<type>[<attachments>-][<nsp>,][<ack id>][<json>]`, the namespace only when it is not `/`,
//! compact JSON with object keys in insertion order (serde_json `preserve_order`).
//!
//! The Engine.IO `4` prefix is not written here: wrap the result with
//! [`crate::protocol::engineio::Frame::message`]. Binary attachments are sent by the caller as
//! separate binary frames after this text.

use std::fmt::{Display, Write as _};

use super::Packet;

/// Append the text encoding of `p` to `out` (no Engine.IO prefix):
/// `<type>[<n>-][<nsp>,][<id>][<json>]`, nsp only when != `/`, compact JSON.
pub fn encode_into(p: &Packet, out: &mut String) {
    out.push(p.kind.as_char());
    if p.kind.is_binary() {
        push_display(out, p.attachments);
        out.push('-');
    }
    if !p.nsp.is_empty() && p.nsp != "/" {
        out.push_str(&p.nsp);
        out.push(',');
    }
    if let Some(id) = p.id {
        push_display(out, id);
    }
    if let Some(data) = &p.data {
        // `Value`'s Display is compact JSON, written straight into `out`.
        push_display(out, data);
    }
}

/// The text encoding of `p` (no Engine.IO prefix); see [`encode_into`].
pub fn encode(p: &Packet) -> String {
    let mut out = String::new();
    encode_into(p, &mut out);
    out
}

fn push_display(out: &mut String, value: impl Display) {
    // Writing into a String cannot fail, and the Display impls used here never error.
    let _ = write!(out, "{value}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::socketio::{decode, placeholder, PacketType};
    use serde_json::{json, Value};

    #[test]
    fn encodes_connect_disconnect_and_events() {
        check_encodes(vec![
            (Packet::connect("/", None), "0"),
            (
                Packet::connect("/", Some(json!({"sid": "wZX3oN0bSVIhsaknAAAI"}))),
                r#"0{"sid":"wZX3oN0bSVIhsaknAAAI"}"#,
            ),
            (
                Packet::connect("/admin", Some(json!({"sid": "oSO0OpakMV_3jnilAAAA"}))),
                r#"0/admin,{"sid":"oSO0OpakMV_3jnilAAAA"}"#,
            ),
            (Packet::disconnect("/"), "1"),
            (Packet::disconnect("/admin"), "1/admin,"),
            (Packet::event("/", "foo", vec![], None, 0), r#"2["foo"]"#),
            (
                Packet::event(
                    "/",
                    "message-back",
                    vec![json!(1), json!("2"), json!({"3": [true]})],
                    None,
                    0,
                ),
                r#"2["message-back",1,"2",{"3":[true]}]"#,
            ),
            (
                Packet::event("/admin", "bar", vec![], None, 0),
                r#"2/admin,["bar"]"#,
            ),
            (
                Packet::event("/", "foo", vec![], Some(12), 0),
                r#"212["foo"]"#,
            ),
            (
                Packet::event("/admin", "ev", vec![], Some(13), 0),
                r#"2/admin,13["ev"]"#,
            ),
        ]);
    }

    #[test]
    fn encodes_acks_errors_and_binary_packets() {
        check_encodes(vec![
            (
                Packet::ack(
                    "/",
                    456,
                    vec![json!(1), json!("2"), json!({"3": [false]})],
                    0,
                ),
                r#"3456[1,"2",{"3":[false]}]"#,
            ),
            (
                Packet::ack("/admin", 13, vec![json!("bar")], 0),
                r#"3/admin,13["bar"]"#,
            ),
            (Packet::ack("/", 0, vec![], 0), "30[]"),
            (
                Packet::connect_error("/random", "Invalid namespace", None),
                r#"4/random,{"message":"Invalid namespace"}"#,
            ),
            (
                Packet::connect_error("/", "Not authorized", Some(json!({"code": 7}))),
                r#"4{"message":"Not authorized","data":{"code":7}}"#,
            ),
            (
                Packet::event(
                    "/",
                    "message-back",
                    vec![placeholder(0), placeholder(1)],
                    None,
                    2,
                ),
                r#"52-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#,
            ),
            (
                Packet::event("/admin", "baz", vec![placeholder(0)], None, 1),
                r#"51-/admin,["baz",{"_placeholder":true,"num":0}]"#,
            ),
            (
                Packet::ack("/", 15, vec![json!("bar"), placeholder(0)], 1),
                r#"61-15["bar",{"_placeholder":true,"num":0}]"#,
            ),
            (
                Packet::ack("/admin", 1, vec![placeholder(0)], 1),
                r#"61-/admin,1[{"_placeholder":true,"num":0}]"#,
            ),
        ]);
    }

    fn check_encodes(cases: Vec<(Packet, &str)>) {
        for (packet, wire) in cases {
            assert_eq!(encode(&packet), wire, "{packet:?}");
        }
    }

    #[test]
    fn escapes_json_strings() {
        let cases: Vec<(Packet, &str)> = vec![
            (
                Packet::event("/", "say \"hi\"", vec![json!("back\\slash")], None, 0),
                r#"2["say \"hi\"","back\\slash"]"#,
            ),
            (
                Packet::event("/", "héllo ☃ 😀", vec![], None, 0),
                r#"2["héllo ☃ 😀"]"#,
            ),
            (
                Packet::event("/", "ctl\n\t\u{1e}", vec![], None, 0),
                r#"2["ctl\n\t\u001e"]"#,
            ),
            (
                Packet::connect_error("/", "a \"b\" </c>", None),
                r#"4{"message":"a \"b\" </c>"}"#,
            ),
        ];
        for (packet, wire) in cases {
            assert_eq!(encode(&packet), wire, "{packet:?}");
        }
    }

    #[test]
    fn preserves_key_order() {
        let data: Value = serde_json::from_str(r#"{"z":1,"a":2,"m":{"y":3,"b":4}}"#)
            .expect("literal is valid JSON");
        let p = Packet::ack("/", 1, vec![data], 0);
        assert_eq!(encode(&p), r#"31[{"z":1,"a":2,"m":{"y":3,"b":4}}]"#);
    }

    #[test]
    fn encode_into_appends() {
        let mut out = String::from("4");
        encode_into(&Packet::event("/", "a", vec![], None, 0), &mut out);
        assert_eq!(out, r#"42["a"]"#);
    }

    #[test]
    fn round_trips() {
        let packets = vec![
            Packet::connect("/", None),
            Packet::connect("/ns", Some(json!({"token": "abc"}))),
            Packet::disconnect("/ns"),
            Packet::event("/", "e", vec![json!(null), json!([1, 2])], None, 0),
            Packet::event("/café", "ü\"", vec![json!({"k": "v"})], Some(99), 0),
            Packet::ack("/", u64::MAX, vec![], 0),
            Packet::connect_error("/x", "nope", Some(json!("why"))),
            Packet::event("/", "bin", vec![placeholder(1), placeholder(0)], Some(3), 2),
            Packet::ack("/a", 7, vec![json!({"f": placeholder(0)})], 1),
        ];
        for packet in packets {
            let wire = encode(&packet);
            assert_eq!(decode(&wire).as_ref(), Ok(&packet), "{wire}");
        }
        let decoded = decode("0/custom").expect("valid");
        assert_eq!(decoded.kind, PacketType::Connect);
        assert_eq!(encode(&decoded), "0/custom,");
    }

    /// Found by the `socketio_packet` fuzz target: serde_json's default float parsing may miss the
    /// nearest double by a bit, so a relayed number drifted on every hop (and differed from what
    /// `JSON.parse` reads). With `float_roundtrip` a float survives decode -> encode exactly.
    #[test]
    fn floats_are_relayed_exactly() {
        let long = r#"2["n",1111111111111040000000000000088015215508]"#;
        let p = decode(long).expect("valid event");
        assert_eq!(p.data, Some(json!(["n", 1.11111111111104e39_f64])));
        for wire in [
            r#"2["n",1.11111111111104e+39]"#,
            r#"2["n",1.11111111104e+39]"#,
            r#"2["n",0.1,-2.5e-300,1.7976931348623157e+308]"#,
        ] {
            let once = encode(&decode(wire).expect("valid event"));
            assert_eq!(once, wire);
        }
    }
}
