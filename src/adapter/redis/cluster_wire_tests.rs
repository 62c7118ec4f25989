//! The ClusterAdapter format against Node: the msgpack hex is notepack.io's, the JSON
//! `JSON.stringify`'s, for the same objects (regenerate with
//! `cd tests/js && node tools/redis-wire-fixtures.mjs`, the `cluster_*` lines).

use bytes::Bytes;
use serde_json::json;

use super::cluster_wire::{ClusterBody, ClusterMessage};
use super::test_hex::{hex, unhex};
use super::wire::{Flags, Targets, WirePacket};
use crate::protocol::socketio::placeholder;
use crate::room::Room;

const CLUSTER_BROADCAST_BINARY: &str = "84a47479706503a46461746182a46f70747383a5726f6f6d7391a172a665786365707490a5666c61677380a67061636b657483a47479706502a46461746192a162c40101a36e7370a12fa3756964b030313233343536373839616263646566a36e7370a12f";
const UID: &str = "0123456789abcdef";

fn message(nsp: &str, body: ClusterBody) -> ClusterMessage {
    ClusterMessage {
        uid: UID.to_owned(),
        nsp: nsp.to_owned(),
        body,
        binary: vec![],
    }
}

fn targets(rooms: &[&str], except: &[&str]) -> Targets {
    let list = |names: &[&str]| names.iter().map(|n| Room::from(*n)).collect();
    Targets {
        rooms: list(rooms),
        except: list(except),
    }
}

#[test]
fn a_broadcast_with_binary_is_msgpack_as_notepack_writes_it() {
    let m = message(
        "/",
        ClusterBody::Broadcast {
            packet: WirePacket::event(
                "/",
                json!(["b", placeholder(0)]),
                vec![Bytes::from_static(&[1])],
            ),
            targets: targets(&["r"], &[]),
            flags: Flags::default(),
            request_id: None,
        },
    );
    assert_eq!(hex(&m.encode()), CLUSTER_BROADCAST_BINARY);
    assert_eq!(
        ClusterMessage::decode(&unhex(CLUSTER_BROADCAST_BINARY)).unwrap(),
        m
    );
}

#[test]
fn other_messages_are_json_as_node_stringifies_them() {
    let timeout = Flags {
        timeout: Some(100),
        ..Flags::default()
    };
    let cases = [
        (
            message("/", ClusterBody::Heartbeat),
            r#"{"type":2,"uid":"0123456789abcdef","nsp":"/"}"#,
        ),
        (
            message(
                "/chat",
                ClusterBody::Rooms {
                    join: true,
                    targets: targets(&["a"], &["b"]),
                    rooms: vec![Room::from("c")],
                },
            ),
            r#"{"type":4,"data":{"opts":{"rooms":["a"],"except":["b"]},"rooms":["c"]},"uid":"0123456789abcdef","nsp":"/chat"}"#,
        ),
        (
            message(
                "/",
                ClusterBody::Broadcast {
                    packet: WirePacket::event("/", json!(["e"]), vec![]),
                    targets: Targets::default(),
                    flags: timeout,
                    request_id: Some("r1".to_owned()),
                },
            ),
            r#"{"type":3,"data":{"opts":{"rooms":[],"except":[],"flags":{"timeout":100}},"packet":{"type":2,"data":["e"],"nsp":"/"},"requestId":"r1"},"uid":"0123456789abcdef","nsp":"/"}"#,
        ),
        (
            message(
                "/",
                ClusterBody::FetchSockets {
                    targets: targets(&["a"], &["b"]),
                    request_id: "r1".to_owned(),
                },
            ),
            r#"{"type":7,"data":{"opts":{"rooms":["a"],"except":["b"]},"requestId":"r1"},"uid":"0123456789abcdef","nsp":"/"}"#,
        ),
        (
            message(
                "/",
                ClusterBody::BroadcastClientCount {
                    request_id: "r1".to_owned(),
                    client_count: 2,
                },
            ),
            r#"{"type":11,"data":{"requestId":"r1","clientCount":2},"uid":"0123456789abcdef","nsp":"/"}"#,
        ),
    ];
    for (m, text) in cases {
        assert_eq!(String::from_utf8(m.encode()).unwrap(), text);
        let decoded = ClusterMessage::decode(&Bytes::copy_from_slice(text.as_bytes())).unwrap();
        assert_eq!(decoded, m);
    }
}

#[test]
fn acks_with_binary_are_msgpack_unknown_types_ignored_and_nonsense_refused() {
    let mut ack = message(
        "/",
        ClusterBody::BroadcastAck {
            request_id: "r1".to_owned(),
            packet: json!({"f": placeholder(0)}),
        },
    );
    ack.binary = vec![Bytes::from_static(&[5, 6])];
    let wire = Bytes::from(ack.encode());
    assert_eq!(wire[0], 0x84);
    assert_eq!(ClusterMessage::decode(&wire).unwrap(), ack);
    // A broadcast's packet takes the message's namespace when it has none.
    let text = r#"{"type":3,"data":{"opts":{"rooms":[],"except":[]},"packet":{"type":2,"data":["e"]}},"uid":"u","nsp":"/x"}"#;
    let m = ClusterMessage::decode(&Bytes::copy_from_slice(text.as_bytes())).unwrap();
    let ClusterBody::Broadcast { packet, .. } = &m.body else {
        panic!("{m:?}")
    };
    assert_eq!(packet.packet.nsp, "/x");
    let unknown = Bytes::from_static(br#"{"type":99,"uid":"emitter","nsp":"/"}"#);
    let m = ClusterMessage::decode(&unknown).unwrap();
    assert_eq!(m.body, ClusterBody::Ignored { kind: json!(99) });
    for bad in [
        &br#"{"type":2,"nsp":"/"}"#[..],
        br#"{"type":7,"data":{"opts":{}},"uid":"u","nsp":"/"}"#,
        br#"{"type":9,"data":{"packet":1},"uid":"u","nsp":"/"}"#,
        br#"{"type":3,"data":{},"uid":"u","nsp":"/"}"#,
        b"\x91\x01",
        b"",
    ] {
        assert!(
            ClusterMessage::decode(&Bytes::from_static(bad)).is_err(),
            "{bad:?}"
        );
    }
}
