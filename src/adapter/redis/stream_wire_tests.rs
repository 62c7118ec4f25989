//! The Redis Streams adapter's entry and session formats against what Node's
//! `@socket.io/redis-streams-adapter` 0.3.1 writes (the base64 strings are `@msgpack/msgpack`
//! 2.8's `encode` of the same objects, made with node in tests/js).

use bytes::Bytes;
use serde_json::json;

use super::*;
use crate::adapter::redis::wire::{Flags, Targets, WirePacket};
use crate::protocol::socketio::placeholder;

/// `encode({sid, pid, rooms: [sid, "r1"], data: {n: 1}})`.
const NODE_SESSION: &str = "hKNzaWS0QUFBQUFBQUFBQUFBQUFBQUFBQUGjcGlktEJCQkJCQkJCQkJCQkJCQkJCQkJCpXJvb21zkrRBQUFBQUFBQUFBQUFBQUFBQUFBQaJyMaRkYXRhgaFuAQ==";
/// `encode({opts: {rooms: ["r"], except: [], flags: {}}, packet: {type: 2, data: ["b", <01>]}})`.
const NODE_BINARY_DATA: &str =
    "gqRvcHRzg6Vyb29tc5GhcqZleGNlcHSQpWZsYWdzgKZwYWNrZXSCpHR5cGUCpGRhdGGSoWLEAQE=";

fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn owned(fields: Vec<(&'static str, String)>) -> Vec<(String, String)> {
    fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

#[test]
fn a_node_session_decodes_without_its_own_id_room_and_encodes_back_the_same() {
    let session = decode_session(NODE_SESSION, "/chat").unwrap();
    assert_eq!(session.sid.as_str(), "AAAAAAAAAAAAAAAAAAAA");
    assert_eq!(session.pid.as_str(), "BBBBBBBBBBBBBBBBBBBB");
    assert_eq!(session.rooms, vec![Room::from("r1")]);
    assert_eq!(
        (session.nsp.as_str(), &session.data),
        ("/chat", &json!({"n": 1}))
    );
    assert_eq!(encode_session(&session), NODE_SESSION);
}

#[test]
fn a_bad_session_value_is_an_error_not_a_panic() {
    for bad in ["", "!!!", "kQ==", "gaNzaWSg"] {
        assert!(decode_session(bad, "/").is_err(), "{bad}");
    }
}

#[test]
fn a_node_entry_with_binary_data_decodes_to_a_broadcast() {
    let entry = fields(&[
        ("uid", "0123456789abcdef"),
        ("nsp", "/"),
        ("type", "3"),
        ("data", NODE_BINARY_DATA),
    ]);
    let m = decode_entry(&entry).unwrap();
    let ClusterBody::Broadcast {
        packet, targets, ..
    } = &m.body
    else {
        panic!("{m:?}");
    };
    assert_eq!(packet.packet.data, Some(json!(["b", placeholder(0)])));
    assert_eq!(packet.binary, vec![Bytes::from_static(&[1])]);
    assert_eq!(targets.rooms, vec![Room::from("r")]);
    // and back: msgpack in base64, decoding to the same message
    let again = decode_entry(&owned(entry_fields(&m))).unwrap();
    assert_eq!(again, m);
    assert!(!entry_fields(&m)[3].1.starts_with('{'));
}

#[test]
fn a_plain_entry_is_json_in_nodes_field_order() {
    let m = ClusterMessage {
        uid: "0123456789abcdef".to_owned(),
        nsp: "/chat".to_owned(),
        body: ClusterBody::Rooms {
            join: true,
            targets: Targets {
                rooms: vec![Room::from("r")],
                except: vec![Room::from("x")],
            },
            rooms: vec![Room::from("j")],
        },
        binary: vec![],
    };
    let got = entry_fields(&m);
    let names: Vec<&str> = got.iter().map(|(k, _)| *k).collect();
    assert_eq!(names, ["uid", "nsp", "type", "data"]);
    assert_eq!(got[2].1, "4");
    assert_eq!(
        got[3].1,
        r#"{"opts":{"rooms":["r"],"except":["x"]},"rooms":["j"]}"#
    );
    assert_eq!(decode_entry(&owned(got)).unwrap(), m);
}

#[test]
fn a_text_broadcast_round_trips_as_json() {
    let m = ClusterMessage {
        uid: "emitter".to_owned(),
        nsp: "/".to_owned(),
        body: ClusterBody::Broadcast {
            packet: WirePacket::event("/", json!(["e", 1, "two"]), vec![]),
            targets: Targets::default(),
            flags: Flags::default(),
            request_id: None,
        },
        binary: vec![],
    };
    let got = owned(entry_fields(&m));
    assert!(got[3].1.starts_with('{'));
    assert_eq!(decode_entry(&got).unwrap(), m);
}

#[test]
fn entries_without_identity_or_with_broken_data_are_errors() {
    assert!(decode_entry(&fields(&[("nsp", "/"), ("type", "3")])).is_err());
    assert!(decode_entry(&fields(&[("uid", "u"), ("type", "3")])).is_err());
    let broken = fields(&[("uid", "u"), ("nsp", "/"), ("type", "4"), ("data", "{nope")]);
    assert!(decode_entry(&broken).is_err());
    let unknown = fields(&[("uid", "u"), ("nsp", "/"), ("type", "99")]);
    assert!(matches!(
        decode_entry(&unknown).unwrap().body,
        ClusterBody::Ignored { .. }
    ));
}

#[test]
fn offsets_are_stream_ids_and_the_next_one_follows() {
    assert_eq!(
        parse_offset("1700000000000-3"),
        Some((1_700_000_000_000, 3))
    );
    for bad in ["", "1", "-1", "1-", "a-1", "1-2-3", "1-+2", " 1-2"] {
        assert_eq!(parse_offset(bad), None, "{bad}");
    }
    assert_eq!(next_offset("5-9").as_deref(), Some("5-10"));
    assert_eq!(
        next_offset(&format!("5-{}", u64::MAX)).as_deref(),
        Some("6-0")
    );
}
