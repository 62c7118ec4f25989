//! Unit tests of the msgpack Socket.IO parser. The vectors are the bytes socket.io-msgpack-parser
//! 3.0.2 put on the wire between socket.io 4.8 and socket.io-client 4.8 (captured by wrapping the
//! parser's Encoder in a session against the Node reference testbed).

use super::*;
use crate::protocol::socketio::placeholder;
use serde_json::json;

fn hex(s: &str) -> Bytes {
    let bytes: Vec<u8> = (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("test vectors are hex"))
        .collect();
    Bytes::from(bytes)
}

fn bins(list: &[&'static [u8]]) -> Vec<Bytes> {
    list.iter().map(|b| Bytes::from_static(b)).collect()
}

/// Packets as Node's server sends them, and their bytes.
fn server_vectors() -> Vec<(Packet, Vec<Bytes>, &'static str)> {
    let mixed = vec![
        json!(1),
        json!("two"),
        json!({"three": [true, null, 1.5, -7, 300, -200, 70000]}),
    ];
    vec![
        (
            Packet::event("/", "echo", mixed, None, 0),
            vec![],
            "83a47479706502a46461746194a46563686f01a374776f81a5746872656597c3c0cb3ff8000000000000f9cd012cd1ff38ce00011170a36e7370a12f",
        ),
        (
            Packet::event("/", "echo", vec![placeholder(0), json!({"nested": [placeholder(1)]})], None, 2),
            bins(&[&[1, 2, 3], &[4]]),
            "83a47479706502a46461746193a46563686fc40301020381a66e657374656491c40104a36e7370a12f",
        ),
        (
            Packet::event("/", "q", vec![json!(42)], Some(0), 0),
            vec![],
            "84a47479706502a46461746192a1712aa2696400a36e7370a12f",
        ),
        (
            Packet::ack("/", 0, vec![json!("x"), placeholder(0)], 1),
            bins(&[&[9, 8]]),
            "84a2696400a47479706503a46461746192a178c4020908a36e7370a12f",
        ),
        (
            Packet::ack("/", 1, vec![json!({"args": ["answer", placeholder(0)]})], 1),
            bins(&[&[7]]),
            "84a2696401a47479706503a4646174619181a46172677392a6616e73776572c40107a36e7370a12f",
        ),
        (
            Packet::ack("/custom", 0, vec![json!("hi")], 0),
            vec![],
            "84a2696400a47479706503a46461746191a26869a36e7370a72f637573746f6d",
        ),
        (
            Packet::connect_error("/admin", "unauthorized", Some(json!({"reason": "bad token"}))),
            vec![],
            "83a47479706504a46461746182a76d657373616765ac756e617574686f72697a6564a46461746181a6726561736f6ea962616420746f6b656ea36e7370a62f61646d696e",
        ),
        (Packet::disconnect("/"), vec![], "82a47479706501a36e7370a12f"),
        // Node adds `pid: undefined` (no connection state recovery); without it the bytes are
        // notepack's for {type: 0, data: {sid}, nsp}.
        (
            Packet::connect("/", Some(json!({"sid": "pKegxAhiuu9m6n8NAAAB"}))),
            vec![],
            "83a47479706500a46461746181a3736964b4704b6567784168697575396d366e384e41414142a36e7370a12f",
        ),
    ]
}

#[test]
fn encodes_as_the_node_server() {
    for (packet, binary, wire) in server_vectors() {
        assert_eq!(
            Bytes::from(encode(&packet, &binary)),
            hex(wire),
            "{packet:?}"
        );
    }
}

#[test]
fn server_packets_round_trip() {
    for (packet, binary, wire) in server_vectors() {
        let inbound = decode(&hex(wire)).unwrap_or_else(|e| panic!("{wire}: {e}"));
        assert_eq!((inbound.packet, inbound.binary), (packet, binary), "{wire}");
    }
}

#[test]
fn decodes_what_socket_io_client_sends() {
    let ph0 = placeholder(0);
    let cases: Vec<(&str, Packet, Vec<Bytes>)> = vec![
        // data: undefined
        ("83a47479706500a464617461d40000a36e7370a12f", Packet::connect("/", None), vec![]),
        (
            "83a47479706500a46461746181a5746f6b656ea46e6f7065a36e7370a62f61646d696e",
            Packet::connect("/admin", Some(json!({"token": "nope"}))),
            vec![],
        ),
        // with `options: {compress: true}`, ignored
        (
            "84a47479706502a46461746194a46563686f01a374776f81a5746872656597c3c0cb3ff8000000000000f9cd012cd1ff38ce00011170a76f7074696f6e7381a8636f6d7072657373c3a36e7370a12f",
            Packet::event("/", "echo", vec![json!(1), json!("two"), json!({"three": [true, null, 1.5, -7, 300, -200, 70000]})], None, 0),
            vec![],
        ),
        (
            "84a47479706502a46461746193a46563686fc40301020381a66e657374656491c40104a76f7074696f6e7381a8636f6d7072657373c3a36e7370a12f",
            Packet::event("/", "echo", vec![ph0.clone(), json!({"nested": [placeholder(1)]})], None, 2),
            bins(&[&[1, 2, 3], &[4]]),
        ),
        (
            "85a47479706502a46461746193a86563686f2d61636ba178c4020908a76f7074696f6e7381a8636f6d7072657373c3a2696400a36e7370a12f",
            Packet::event("/", "echo-ack", vec![json!("x"), ph0.clone()], Some(0), 1),
            bins(&[&[9, 8]]),
        ),
        (
            "84a47479706503a2696400a46461746192a6616e73776572c40107a36e7370a12f",
            Packet::ack("/", 0, vec![json!("answer"), ph0.clone()], 1),
            bins(&[&[7]]),
        ),
        ("82a47479706501a36e7370a72f637573746f6d", Packet::disconnect("/custom"), vec![]),
        // type and id as integral floats, as JavaScript numbers may be written
        (
            "84a474797065cb4000000000000000a46461746191a161a2696dcb4008000000000000a36e7370a12f",
            Packet::event("/", "a", vec![], None, 0),
            vec![],
        ),
        (
            "84a474797065cb4000000000000000a46461746191a161a26964cb4008000000000000a36e7370a12f",
            Packet::event("/", "a", vec![], Some(3), 0),
            vec![],
        ),
        // a numeric event name, a string CONNECT_ERROR, the last duplicate `data` wins
        ("83a47479706502a46461746191cd0400a36e7370a12f", Packet { data: Some(json!([1024])), ..Packet::event("/", "", vec![], None, 0) }, vec![]),
        ("83a47479706504a464617461a16ea36e7370a12f", Packet { data: Some(json!("n")), ..Packet::connect_error("/", "", None) }, vec![]),
        (
            "84a47479706502a46461746192a161c40101a46461746191a162a36e7370a12f",
            Packet::event("/", "b", vec![], None, 0),
            vec![],
        ),
    ];
    for (wire, packet, binary) in cases {
        let inbound = decode(&hex(wire)).unwrap_or_else(|e| panic!("{wire}: {e}"));
        assert_eq!((inbound.packet, inbound.binary), (packet, binary), "{wire}");
    }
}

#[test]
fn bad_types_and_namespaces_are_parse_errors() {
    check_parse_errors(&[
        ("82a47479706505a36e7370a12f", ParseError::UnknownType),
        ("82a474797065a132a36e7370a12f", ParseError::UnknownType),
        ("82a474797065ffa36e7370a12f", ParseError::UnknownType),
        (
            "82a474797065cb4004000000000000a36e7370a12f",
            ParseError::UnknownType,
        ),
        ("81a36e7370a12f", ParseError::UnknownType),
        ("9200a12f", ParseError::UnknownType),
        ("c0", ParseError::UnknownType),
        (
            "82a47479706502a46461746191a161",
            ParseError::InvalidNamespace,
        ),
        (
            "83a47479706502a46461746191a161a36e737001",
            ParseError::InvalidNamespace,
        ),
        (
            "83a47479706502a46461746191a161a36e7370c0",
            ParseError::InvalidNamespace,
        ),
    ]);
}

#[test]
fn bad_payloads_are_parse_errors() {
    check_parse_errors(&[
        (
            "83a47479706502a46461746180a36e7370a12f",
            ParseError::InvalidPayload,
        ),
        ("82a47479706502a36e7370a12f", ParseError::InvalidPayload),
        (
            "83a47479706502a46461746190a36e7370a12f",
            ParseError::InvalidPayload,
        ),
        (
            "83a47479706502a46461746191c0a36e7370a12f",
            ParseError::InvalidPayload,
        ),
        (
            "83a47479706502a46461746191c400a36e7370a12f",
            ParseError::InvalidPayload,
        ),
        (
            "83a47479706502a46461746191aa646973636f6e6e656374a36e7370a12f",
            ParseError::InvalidPayload,
        ),
        (
            "83a47479706503a46461746180a36e7370a12f",
            ParseError::InvalidPayload,
        ),
        (
            "83a47479706500a464617461c0a36e7370a12f",
            ParseError::InvalidPayload,
        ),
        (
            "83a47479706500a464617461c400a36e7370a12f",
            ParseError::InvalidPayload,
        ),
        (
            "83a47479706500a46461746181a162c400a36e7370a12f",
            ParseError::InvalidPayload,
        ),
        (
            "83a47479706501a46461746180a36e7370a12f",
            ParseError::InvalidPayload,
        ),
        ("82a47479706504a36e7370a12f", ParseError::InvalidPayload),
        (
            "83a47479706504a46461746101a36e7370a12f",
            ParseError::InvalidPayload,
        ),
    ]);
}

#[test]
fn bad_ack_ids_and_msgpack_are_parse_errors() {
    use crate::protocol::msgpack::MsgpackError::*;
    check_parse_errors(&[
        (
            "84a47479706502a46461746191a161a26964a131a36e7370a12f",
            ParseError::InvalidAckId,
        ),
        (
            "84a47479706502a46461746191a161a26964ffa36e7370a12f",
            ParseError::InvalidAckId,
        ),
        (
            "84a47479706502a46461746191a161a26964c0a36e7370a12f",
            ParseError::InvalidAckId,
        ),
        (
            "84a47479706502a46461746191a161a26964cb3ff8000000000000a36e7370a12f",
            ParseError::InvalidAckId,
        ),
        (
            "83a47479706502a46461746191a161a36e7370a1",
            ParseError::Msgpack(Truncated),
        ),
        (
            "82a47479706501a36e7370a12fc0",
            ParseError::Msgpack(TrailingBytes),
        ),
        ("dfffffffff", ParseError::Msgpack(Truncated)),
        (
            "83a47479706502a464617461ddffffffffa36e7370a12f",
            ParseError::Msgpack(Truncated),
        ),
        ("", ParseError::Msgpack(Truncated)),
    ]);
}

fn check_parse_errors(cases: &[(&str, ParseError)]) {
    for (wire, error) in cases {
        assert_eq!(decode(&hex(wire)).map(|i| i.packet), Err(*error), "{wire}");
    }
}

#[test]
fn text_packets_are_not_msgpack() {
    // What a default-parser client sends first, as a binary message: not a packet map.
    for text in ["0", "40", r#"2["a"]"#] {
        let err = decode(&Bytes::from(text.as_bytes().to_vec())).map(|i| i.packet);
        assert!(err.is_err(), "{text}: {err:?}");
    }
}

#[test]
fn mutated_packets_never_panic() {
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let vectors: Vec<Bytes> = server_vectors().iter().map(|v| hex(v.2)).collect();
    for _ in 0..20_000 {
        let base = &vectors[(next() % vectors.len() as u64) as usize];
        let mut bytes = base.to_vec();
        for _ in 0..1 + next() % 3 {
            let i = (next() % bytes.len() as u64) as usize;
            match next() % 3 {
                0 => bytes[i] = next() as u8,
                1 => bytes.truncate(i),
                _ => bytes.insert(i, next() as u8),
            }
            if bytes.is_empty() {
                break;
            }
        }
        if let Ok(inbound) = decode(&Bytes::from(bytes)) {
            // whatever is accepted encodes to bytes that decode to the same packet
            let again = Bytes::from(encode(&inbound.packet, &inbound.binary));
            let back = decode(&again).expect("our own encoding decodes");
            assert_eq!((back.packet, back.binary), (inbound.packet, inbound.binary));
        }
    }
}

/// Found by the `socketio_msgpack` fuzz target: a binary replaced by a later duplicate key (the
/// last one wins, as in JavaScript) was still carried as an attachment that no placeholder named,
/// so the packet changed type when encoded again.
#[test]
fn a_binary_replaced_by_a_duplicate_key_is_not_an_attachment() {
    // {type: 2, nsp: "/", data: ["e", {a: <bin ff>, a: 1, b: <bin 01 02>}]}
    let mut wire = vec![0x83, 0xa4];
    wire.extend_from_slice(b"type");
    wire.extend_from_slice(&[0x02, 0xa3]);
    wire.extend_from_slice(b"nsp");
    wire.extend_from_slice(&[0xa1, b'/', 0xa4]);
    wire.extend_from_slice(b"data");
    wire.extend_from_slice(&[
        0x92, 0xa1, b'e', 0x83, 0xa1, b'a', 0xc4, 0x01, 0xff, 0xa1, b'a', 0x01,
    ]);
    wire.extend_from_slice(&[0xa1, b'b', 0xc4, 0x02, 0x01, 0x02]);
    let inbound = decode(&Bytes::from(wire)).expect("valid msgpack");
    assert_eq!(inbound.packet.kind, PacketType::BinaryEvent);
    assert_eq!(inbound.packet.attachments, 1);
    assert_eq!(inbound.binary, vec![Bytes::from_static(&[1, 2])]);
    assert_eq!(
        inbound.packet.data,
        Some(json!(["e", {"a": 1, "b": placeholder(0)}]))
    );
}
