//! Requests and responses as Node's adapter writes them: the JSON strings are `JSON.stringify`'s
//! output for the same objects (regenerate with `cd tests/js && node tools/redis-wire-fixtures.mjs`),
//! plus channel names and fetched sockets.

use bytes::Bytes;
use serde_json::json;

use super::channel::*;
use super::node_socket::{date_string, from_node, to_node};
use super::request::{LegacyOp, Request, RequestType};
use super::response::Response;
use super::wire::{Targets, WireError};
use crate::handshake::HandshakeDescription;
use crate::protocol::ids::Sid;
use crate::room::{Room, SocketDescription};

fn rooms(names: &[&str]) -> Vec<Room> {
    names.iter().map(|n| Room::from(*n)).collect()
}

fn ab() -> Targets {
    Targets {
        rooms: rooms(&["a"]),
        except: rooms(&["b"]),
    }
}

fn s(v: &str) -> String {
    v.to_owned()
}

/// Encodes to exactly `text`, which decodes back to `request`.
fn pin(request: Request, text: &str) {
    assert_eq!(String::from_utf8(request.encode()).unwrap(), text);
    assert_eq!(
        Request::decode(&Bytes::copy_from_slice(text.as_bytes())).unwrap(),
        request
    );
}

#[test]
fn json_requests_are_what_node_stringifies() {
    let (uid, id) = (s("abc123"), s("req456"));
    pin(
        Request::Sockets {
            uid: uid.clone(),
            request_id: id.clone(),
            rooms: rooms(&["a", "b"]),
        },
        r#"{"uid":"abc123","requestId":"req456","type":0,"rooms":["a","b"]}"#,
    );
    pin(
        Request::AllRooms {
            uid: uid.clone(),
            request_id: id.clone(),
        },
        r#"{"uid":"abc123","requestId":"req456","type":1}"#,
    );
    pin(
        Request::Rooms {
            uid: Some(uid.clone()),
            join: true,
            targets: ab(),
            rooms: rooms(&["c"]),
        },
        r#"{"uid":"abc123","type":2,"opts":{"rooms":["a"],"except":["b"]},"rooms":["c"]}"#,
    );
    pin(
        Request::Rooms {
            uid: None,
            join: false,
            targets: Targets::default(),
            rooms: rooms(&["c"]),
        },
        r#"{"type":3,"opts":{"rooms":[],"except":[]},"rooms":["c"]}"#,
    );
    pin(
        Request::Disconnect {
            uid: Some(uid.clone()),
            targets: ab(),
            close: true,
        },
        r#"{"uid":"abc123","type":4,"opts":{"rooms":["a"],"except":["b"]},"close":true}"#,
    );
}

#[test]
fn legacy_fetch_and_server_side_emit_requests_are_what_node_stringifies() {
    let (uid, id) = (s("abc123"), s("req456"));
    let legacy = |op| Request::Legacy {
        uid: s("abc123"),
        request_id: s("req456"),
        op,
        sid: s("s1"),
    };
    pin(
        legacy(LegacyOp::Join(s("c"))),
        r#"{"uid":"abc123","requestId":"req456","type":2,"sid":"s1","room":"c"}"#,
    );
    pin(
        legacy(LegacyOp::Disconnect(false)),
        r#"{"uid":"abc123","requestId":"req456","type":4,"sid":"s1","close":false}"#,
    );
    pin(
        Request::Fetch {
            uid: uid.clone(),
            request_id: id.clone(),
            targets: ab(),
        },
        r#"{"uid":"abc123","requestId":"req456","type":5,"opts":{"rooms":["a"],"except":["b"]}}"#,
    );
    pin(
        Request::ServerSideEmit {
            uid: uid.clone(),
            request_id: None,
            data: json!(["hi", 1, {"x": null}]),
        },
        r#"{"uid":"abc123","type":6,"data":["hi",1,{"x":null}]}"#,
    );
    pin(
        Request::ServerSideEmit {
            uid,
            request_id: Some(id),
            data: json!(["hi"]),
        },
        r#"{"uid":"abc123","requestId":"req456","type":6,"data":["hi"]}"#,
    );
}

#[test]
fn unknown_requests_are_ignored_and_malformed_ones_are_errors() {
    let decode = |t: &str| Request::decode(&Bytes::copy_from_slice(t.as_bytes()));
    for (text, kind) in [
        (r#"{"uid":"u","type":42}"#, json!(42)),
        (
            r#"{"uid":"u","type":8,"requestId":"r","clientCount":1}"#,
            json!(8),
        ),
        (r#"{"uid":"u"}"#, json!(null)),
        (r#"{"type":"0"}"#, json!("0")),
    ] {
        assert_eq!(decode(text).unwrap(), Request::Ignored { kind }, "{text}");
    }
    for text in [
        "{",
        r#"{"type":0,"requestId":"r"}"#,
        r#"{"uid":"u","requestId":"r","type":0,"rooms":[1]}"#,
        r#"{"uid":"u","type":2,"opts":5,"rooms":[]}"#,
        r#"{"uid":"u","type":6,"data":"x"}"#,
        r#"{"uid":"u","requestId":"r","type":2,"sid":"s"}"#,
        "",
        "\u{90}",
    ] {
        assert!(decode(text).is_err(), "{text}");
    }
    assert!(matches!(decode("{]"), Err(WireError::Json(_))));
    assert!(matches!(decode("\u{1}\u{2}"), Err(WireError::Msgpack(_))));
}

#[test]
fn json_responses_are_what_node_stringifies() {
    let id = || s("req456");
    let cases = [
        (
            Response::Sockets {
                request_id: id(),
                sockets: vec![s("s1"), s("s2")],
            },
            RequestType::Sockets,
            r#"{"requestId":"req456","sockets":["s1","s2"]}"#,
        ),
        (
            Response::AllRooms {
                request_id: id(),
                rooms: vec![s("a")],
            },
            RequestType::AllRooms,
            r#"{"requestId":"req456","rooms":["a"]}"#,
        ),
        (
            Response::Done { request_id: id() },
            RequestType::RemoteJoin,
            r#"{"requestId":"req456"}"#,
        ),
        (
            Response::ServerSideEmit {
                request_id: id(),
                data: Some(json!({"ok": 1})),
            },
            RequestType::Sockets,
            r#"{"type":6,"requestId":"req456","data":{"ok":1}}"#,
        ),
        (
            Response::ClientCount {
                request_id: id(),
                client_count: 3,
            },
            RequestType::Sockets,
            r#"{"type":8,"requestId":"req456","clientCount":3}"#,
        ),
    ];
    for (response, pending, text) in cases {
        assert_eq!(String::from_utf8(response.encode()).unwrap(), text);
        let input = Bytes::copy_from_slice(text.as_bytes());
        let decoded = Response::decode(&input, |rid| (rid == "req456").then_some(pending));
        assert_eq!(decoded.unwrap(), Some(response));
    }
    // Not ours: an unknown request id, or a type that answers nothing.
    let input = Bytes::from_static(br#"{"requestId":"other","sockets":[]}"#);
    assert_eq!(Response::decode(&input, |_| None).unwrap(), None);
    let input = Bytes::from_static(br#"{"type":7,"requestId":"r"}"#);
    assert_eq!(Response::decode(&input, |_| None).unwrap(), None);
    let input = Bytes::from_static(br#"{"sockets":[]}"#);
    assert!(Response::decode(&input, |_| Some(RequestType::Sockets)).is_err());
}

#[test]
fn channel_names() {
    assert_eq!(broadcast_channel("socket.io", "/"), "socket.io#/#");
    assert_eq!(
        publish_channel("socket.io", "/", &rooms(&["r1"])),
        "socket.io#/#r1#"
    );
    assert_eq!(
        publish_channel("socket.io", "/", &rooms(&["r1", "r2"])),
        "socket.io#/#"
    );
    assert_eq!(broadcast_pattern("k", "/chat"), "k#/chat#*");
    assert_eq!(request_channel("socket.io", "/"), "socket.io-request#/#");
    assert_eq!(response_channel("socket.io", "/"), "socket.io-response#/#");
    assert_eq!(
        specific_response_channel("k", "/", "u1"),
        "k-response#/#u1#"
    );
    assert_eq!(parse_broadcast_channel("k", "/", "k#/#"), Some(None));
    assert_eq!(
        parse_broadcast_channel("k", "/", "k#/#room1#"),
        Some(Some("room1"))
    );
    assert_eq!(parse_broadcast_channel("k", "/", "k#/#é#"), Some(Some("é")));
    assert_eq!(parse_broadcast_channel("k", "/", "k#/chat#"), None);
    assert_eq!(parse_broadcast_channel("k", "/", "other#/#"), None);
    assert_eq!(sharded_channel("socket.io", "/"), "socket.io#/#");
    assert_eq!(sharded_sub_channel("p", "/", "0123abcd"), "p#/#0123abcd#");
    let sid = Sid::new();
    let one = |r: &str, ack, mode| sharded_broadcast_channel("p", "/", &rooms(&[r]), ack, mode);
    assert_eq!(one("r", false, SubscriptionMode::Dynamic), "p#/#r#");
    assert_eq!(one(sid.as_str(), false, SubscriptionMode::Dynamic), "p#/#");
    assert_eq!(
        one(sid.as_str(), false, SubscriptionMode::DynamicPrivate),
        format!("p#/#{sid}#")
    );
    assert_eq!(one("r", true, SubscriptionMode::Dynamic), "p#/#");
    assert_eq!(one("r", false, SubscriptionMode::Static), "p#/#");
}

#[test]
fn fetched_sockets_are_shaped_like_nodes() {
    let id = Sid::new();
    let socket = SocketDescription {
        id,
        nsp: s("/"),
        handshake: HandshakeDescription {
            headers: vec![(s("host"), s("h")), (s("x-a"), s("1")), (s("x-a"), s("2"))],
            url: s("/socket.io/?EIO=4&a=1&a=2&n=x%20y+z"),
            peer: Some("127.0.0.1:4000".parse().unwrap()),
            issued: 1_796_402_424_999,
            secure: false,
            xdomain: true,
            auth: json!({"token": "t"}),
        },
        rooms: vec![s("r1")],
        data: json!({"user": 1}),
        engine_id: id,
        transport: s("websocket"),
        connected_at: 1_796_402_424_999,
    };
    let node = to_node(&socket);
    let expected = json!({
        "id": id.as_str(),
        "handshake": {
            "headers": {"host": "h", "x-a": "1, 2"},
            "time": "Fri Dec 04 2026 16:40:24 GMT+0000 (Coordinated Universal Time)",
            "address": "127.0.0.1",
            "xdomain": true,
            "secure": false,
            "issued": 1_796_402_424_999u64,
            "url": "/socket.io/?EIO=4&a=1&a=2&n=x%20y+z",
            "query": {"EIO": "4", "a": "2", "n": "x y z"},
            "auth": {"token": "t"},
        },
        "rooms": [id.as_str(), "r1"],
        "data": {"user": 1},
    });
    assert_eq!(node.to_string(), expected.to_string());
    let back = from_node(&node, "/").unwrap();
    assert_eq!(
        (back.id, &back.rooms, &back.data),
        (id, &socket.rooms, &socket.data)
    );
    assert_eq!(back.handshake.url, socket.handshake.url);
    assert_eq!(back.handshake.peer, Some("127.0.0.1:0".parse().unwrap()));
    assert_eq!(back.handshake.header("x-a"), Some("1, 2"));
    assert_eq!(
        (back.handshake.issued, back.handshake.xdomain),
        (1_796_402_424_999, true)
    );
    assert_eq!(
        from_node(&json!({"id": "short", "handshake": {}}), "/"),
        None
    );
    // new Date(t) + "" in Node with TZ=UTC.
    assert_eq!(
        date_string(0),
        "Thu Jan 01 1970 00:00:00 GMT+0000 (Coordinated Universal Time)"
    );
    assert_eq!(
        date_string(951_782_400_123),
        "Tue Feb 29 2000 00:00:00 GMT+0000 (Coordinated Universal Time)"
    );
}
