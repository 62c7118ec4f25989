//! Exact bytes against Node. The hex strings are what notepack.io 3.0.1 (the codec of
//! `@socket.io/redis-adapter` 8.x) writes for the same messages; regenerate them with
//! `cd tests/js && node tools/redis-wire-fixtures.mjs` (one `name hex` line per fixture).

use std::sync::Arc;

use bytes::Bytes;
use serde_json::json;

use super::request::{Request, RequestType};
use super::response::Response;
use super::test_hex::{hex, unhex};
use super::wire::{Broadcast, Flags, Targets, WirePacket};
use crate::adapter::{BroadcastMessage, BroadcastOptions};
use crate::protocol::ids::Sid;
use crate::protocol::socketio::{placeholder, Parser};
use crate::room::{Room, Selector};

const PLAIN_BROADCAST: &str = "93a661626331323383a47479706502a46461746192a568656c6c6fa5776f726c64a36e7370a12f83a5726f6f6d7390a665786365707490a5666c61677380";
const ROOM_BROADCAST: &str = "93a661626331323383a47479706502a46461746192a46e6577732aa36e7370a52f6368617483a5726f6f6d7391a5726f6f6d31a665786365707492a5726f6f6d32a27331a5666c61677381a8766f6c6174696c65c3";
const BINARY_BROADCAST: &str = "93a661626331323383a47479706502a46461746193a466696c65c403010203a46e616d65a36e7370a12f83a5726f6f6d7392a161a162a665786365707490a5666c61677381a8636f6d7072657373c3";
const NESTED_BROADCAST: &str = "93a661626331323383a47479706502a46461746192a36f626a87a36f6e6501a56d696e7573ffa3626967cd012ca468616c66cb3ff8000000000000a474657874a668c3a96c6c6fa46e6f6e65c0a46c69737492c3c2a36e7370a12f83a5726f6f6d7390a665786365707490a5666c61677381a774696d656f7574cd1388";
const BROADCAST_WITH_ACK: &str = "85a3756964a6616263313233a9726571756573744964a6726571343536a47479706507a67061636b657483a47479706502a46461746192a361736bc401ffa36e7370a12fa46f70747383a5726f6f6d7391a172a665786365707490a5666c61677381a774696d656f7574cd03e8";
const BROADCAST_ACK: &str =
    "83a47479706509a9726571756573744964a6726571343536a67061636b657482a26f6bc3a16e07";
const BROADCAST_ACK_BINARY: &str =
    "83a47479706509a9726571756573744964a6726571343536a67061636b6574c4020908";

fn rooms(names: &[&str]) -> Vec<Room> {
    names.iter().map(|n| Room::from(*n)).collect()
}

fn broadcast(packet: WirePacket, targets: Targets, flags: Flags) -> Broadcast {
    Broadcast {
        uid: "abc123".to_owned(),
        packet,
        targets,
        flags,
    }
}

/// Encodes to exactly `hex_bytes`, and those bytes decode to `b`.
fn pin(b: &Broadcast, hex_bytes: &str) {
    assert_eq!(hex(&b.encode()), hex_bytes);
    assert_eq!(&Broadcast::decode(&unhex(hex_bytes)).unwrap(), b);
}

#[test]
fn broadcasts_are_the_bytes_notepack_writes() {
    let plain = WirePacket::event("/", json!(["hello", "world"]), vec![]);
    pin(
        &broadcast(plain, Targets::default(), Flags::default()),
        PLAIN_BROADCAST,
    );
    let targets = Targets {
        rooms: rooms(&["room1"]),
        except: rooms(&["room2", "s1"]),
    };
    let volatile = Flags {
        volatile: true,
        ..Flags::default()
    };
    let news = WirePacket::event("/chat", json!(["news", 42]), vec![]);
    pin(&broadcast(news, targets, volatile), ROOM_BROADCAST);
    let file = WirePacket::event(
        "/",
        json!(["file", placeholder(0), "name"]),
        vec![Bytes::from_static(&[1, 2, 3])],
    );
    let two_rooms = Targets {
        rooms: rooms(&["a", "b"]),
        except: vec![],
    };
    let compress = Flags {
        compress: Some(true),
        ..Flags::default()
    };
    pin(&broadcast(file, two_rooms, compress), BINARY_BROADCAST);
    let object = json!({"one": 1, "minus": -1, "big": 300, "half": 1.5, "text": "héllo",
        "none": null, "list": [true, false]});
    let nested = WirePacket::event("/", json!(["obj", object]), vec![]);
    let timeout = Flags {
        timeout: Some(5000),
        ..Flags::default()
    };
    pin(
        &broadcast(nested, Targets::default(), timeout),
        NESTED_BROADCAST,
    );
}

#[test]
fn a_broadcast_with_acks_and_its_acks_are_the_bytes_notepack_writes() {
    let request = Request::Broadcast {
        uid: "abc123".to_owned(),
        request_id: "req456".to_owned(),
        packet: WirePacket::event(
            "/",
            json!(["ask", placeholder(0)]),
            vec![Bytes::from_static(&[255])],
        ),
        targets: Targets {
            rooms: rooms(&["r"]),
            except: vec![],
        },
        flags: Flags {
            timeout: Some(1000),
            ..Flags::default()
        },
    };
    assert_eq!(hex(&request.encode()), BROADCAST_WITH_ACK);
    assert_eq!(
        Request::decode(&unhex(BROADCAST_WITH_ACK)).unwrap(),
        request
    );
    let never = |_: &str| -> Option<RequestType> { panic!("a typed response needs no lookup") };
    let ack = Response::BroadcastAck {
        request_id: "req456".to_owned(),
        packet: json!({"ok": true, "n": 7}),
        binary: vec![],
    };
    assert_eq!(hex(&ack.encode()), BROADCAST_ACK);
    assert_eq!(
        Response::decode(&unhex(BROADCAST_ACK), never).unwrap(),
        Some(ack)
    );
    let ack = Response::BroadcastAck {
        request_id: "req456".to_owned(),
        packet: placeholder(0),
        binary: vec![Bytes::from_static(&[9, 8])],
    };
    assert_eq!(hex(&ack.encode()), BROADCAST_ACK_BINARY);
    assert_eq!(
        Response::decode(&unhex(BROADCAST_ACK_BINARY), never).unwrap(),
        Some(ack)
    );
}

#[test]
fn broadcasts_convert_from_and_to_roomcast_messages() {
    let sender = Sid::new();
    let selector = Selector {
        rooms: rooms(&["a"]),
        except: rooms(&["b", "b"]),
        except_sid: Some(sender),
    };
    let options = BroadcastOptions {
        selector: Arc::new(selector),
        volatile: true,
    };
    let payload = crate::payload::Payload::new().arg("x").bin(vec![7u8]);
    let message = BroadcastMessage::event(Parser::Default, "/n", "ev", payload, options);
    let wire = Broadcast::from_message("me", &message);
    assert_eq!(wire.targets.except, rooms(&["b", sender.as_str()]));
    assert!(wire.flags.volatile);
    let targets = Targets::from_selector(&message.options.selector);
    let direct = Broadcast::encode_message("me", &message, &targets);
    assert_eq!(direct, wire.encode(), "the same bytes without the copy");
    let back = Broadcast::decode(&Bytes::from(wire.encode())).unwrap();
    assert_eq!(back, wire);
    let delivered = back.into_message(Parser::Default);
    assert_eq!(delivered.packet, message.packet);
    assert_eq!(delivered.binary, message.binary);
    assert_eq!(&*delivered.frames, &*message.frames);
    assert_eq!(
        delivered.options.selector.except,
        rooms(&["b", sender.as_str()])
    );
    assert!(delivered.options.volatile);
}

#[test]
fn decoding_accepts_other_msgpack_and_refuses_nonsense() {
    // notepack 2's undefined (fixext 1 type 0) for flags, a float 32 type, no nsp: defaults.
    let input = unhex("93a17582a474797065ca40000000a46461746191a16581a5666c616773d40000");
    let b = Broadcast::decode(&input).unwrap();
    assert_eq!((b.uid.as_str(), b.packet.packet.nsp.as_str()), ("u", "/"));
    assert_eq!(b.packet.packet.data, Some(json!(["e"])));
    assert_eq!(b.flags, Flags::default());
    // nil namespace, and notepack 2's undefined inside the data: null, as JavaScript reads it.
    let input = unhex("93a17583a474797065cb4000000000000000a46461746192a165d40000a36e7370c080");
    let b = Broadcast::decode(&input).unwrap();
    assert_eq!(b.packet.packet.nsp, "/");
    assert_eq!(b.packet.packet.data, Some(json!(["e", null])));
    assert_eq!(b.targets, Targets::default());
    for bad in [
        "",
        "c1",
        "93a175",
        "92a17580",
        "93c0c0c0",
        "93a17581a474797065037b",
    ] {
        assert!(Broadcast::decode(&unhex(bad)).is_err(), "{bad}");
    }
}
