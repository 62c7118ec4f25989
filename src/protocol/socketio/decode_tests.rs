//! Table-driven tests of the text decoder on exact wire strings.

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
fn decodes_connect_and_disconnect() {
    use PacketType::*;
    check_decodes(vec![
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
    ]);
}

#[test]
fn decodes_events_acks_and_errors() {
    use PacketType::*;
    check_decodes(vec![
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
    ]);
}

#[test]
fn decodes_binary_packets() {
    use PacketType::*;
    let ph0 = json!({"_placeholder": true, "num": 0});
    let ph1 = json!({"_placeholder": true, "num": 1});
    check_decodes(vec![
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
    ]);
}

fn check_decodes(cases: Vec<(&str, Packet)>) {
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
