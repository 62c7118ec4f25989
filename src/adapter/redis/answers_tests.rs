//! This server's answers to the others' requests: where they go, how long acknowledgements are
//! waited for, and that BROADCAST and SERVER_SIDE_EMIT requests from another server reach this
//! server's sockets and handler (never this server's own requests).

use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde_json::json;

use super::*;
use crate::adapter::local::ArbiterPool;
use crate::metrics::Metrics;
use crate::payload::Payload;
use crate::room::test_member::TestMember;

#[test]
fn answers_go_on_the_common_channel_or_the_requesters_own() {
    let common = Replies::new(&RedisAdapterOptions::default(), "/chat");
    assert_eq!(common.to("abc123"), "socket.io-response#/chat#");
    let specific = RedisAdapterOptions {
        key: "app".to_owned(),
        publish_on_specific_response_channel: true,
        ..RedisAdapterOptions::default()
    };
    let specific = Replies::new(&specific, "/chat");
    assert_eq!(specific.to("abc123"), "app-response#/chat#abc123#");
    assert_eq!(
        specific.common(),
        "app-response#/chat#",
        "server-side event replies"
    );
}

#[test]
fn acks_are_waited_for_as_the_requester_says_within_a_cap() {
    let default = Duration::from_millis(5000);
    let flags = |timeout| Flags {
        timeout,
        ..Flags::default()
    };
    assert_eq!(ack_wait(&flags(None), default), default);
    assert_eq!(
        ack_wait(&flags(Some(2000)), default),
        Duration::from_millis(2000)
    );
    assert_eq!(ack_wait(&flags(Some(u64::MAX)), default), MAX_ACK_WAIT);
}

#[test]
fn event_data_splits_into_name_and_arguments() {
    assert_eq!(
        split_data(json!(["ev", 1, {"a": true}])),
        Some(("ev".to_owned(), vec![json!(1), json!({"a": true})]))
    );
    assert_eq!(split_data(json!([7])), Some(("7".to_owned(), Vec::new())));
    assert_eq!(split_data(json!([])), None);
    assert_eq!(split_data(json!({"0": "ev"})), None);
    assert_eq!(split_data(json!([null])), None);
}

#[test]
fn the_emitter_sends_without_a_uid() {
    let emitter = Request::Rooms {
        uid: None,
        join: true,
        targets: Targets::default(),
        rooms: Vec::new(),
    };
    assert_eq!(sender(&emitter), None);
    let sse = Request::ServerSideEmit {
        uid: "abc123".to_owned(),
        request_id: None,
        data: json!(["e"]),
    };
    assert_eq!(sender(&sse), Some("abc123"));
}

/// The events the handler saw: name, arguments, whether a reply was asked for.
type Seen = Arc<Mutex<Vec<(String, Vec<serde_json::Value>, bool)>>>;

struct Fixture {
    handler: Handler,
    events: Seen,
    member: TestMember,
    _local: Arc<LocalAdapter<TestMember>>,
    _link: Arc<RedisLink>,
    pool: ArbiterPool,
}

/// A request handler of server `me0000` over one member and a link to no Redis (its answers are
/// dropped and counted; what is tested is what reaches the member and the handler).
fn fixture() -> Fixture {
    let pool = ArbiterPool::new(1);
    let metrics = Arc::new(Metrics::new());
    let local = Arc::new(LocalAdapter::new(&pool.handles(), &metrics));
    let member = TestMember::new(4);
    member.answer_with(Payload::new().arg("pong"));
    local.add_socket(member.clone());
    let client = redis::Client::open("redis://127.0.0.1:1/0").expect("a valid URL");
    let link = Arc::new(RedisLink::new(client, &metrics));
    let events: Seen = Arc::default();
    let slot = HandlerSlot::default();
    let seen = events.clone();
    *slot.write() = Some(Arc::new(move |e: ServerEvent| {
        seen.lock().push((e.event, e.args, e.ack.is_some()));
    }));
    let replies = Replies::new(&RedisAdapterOptions::default(), "/");
    let handler = request_handler(
        Arc::downgrade(&local),
        Arc::downgrade(&link),
        (replies, "me0000"),
        slot,
        Duration::from_secs(1),
    );
    Fixture {
        handler,
        events,
        member,
        _local: local,
        _link: link,
        pool,
    }
}

fn broadcast(uid: &str) -> Bytes {
    let mut payload = Payload::new().arg("x");
    let placeholder = payload.attach(vec![1u8, 2]);
    let data = json!(["ping", "x", placeholder]);
    let request = Request::Broadcast {
        uid: uid.to_owned(),
        request_id: "req1".to_owned(),
        packet: WirePacket::event("/", data, payload.binary),
        targets: Targets::default(),
        flags: Flags {
            timeout: Some(500),
            ..Flags::default()
        },
    };
    Bytes::from(request.encode())
}

#[test]
fn another_servers_broadcast_asks_this_servers_sockets_for_acks() {
    actix_rt::System::new().block_on(async {
        let f = fixture();
        (f.handler)("socket.io-request#/#", broadcast("me0000"));
        (f.handler)("socket.io-request#/#", broadcast("other1"));
        let deadline = Instant::now() + Duration::from_secs(5);
        while f.member.asked().is_empty() && Instant::now() < deadline {
            actix_rt::time::sleep(Duration::from_millis(10)).await;
        }
        // Give this server's own request, handled first, every chance to show up too.
        actix_rt::time::sleep(Duration::from_millis(50)).await;
        let asked = f.member.asked();
        assert_eq!(asked.len(), 1, "only the other server's broadcast");
        let (event, payload) = &asked[0];
        assert_eq!(event, "ping");
        assert_eq!(payload.args[0], json!("x"));
        assert_eq!(
            payload.binary_of(&payload.args[1]).map(|b| b.to_vec()),
            Some(vec![1, 2])
        );
        f.pool.stop();
    });
}

#[test]
fn another_servers_event_reaches_the_handler_with_a_reply_when_one_is_asked_for() {
    actix_rt::System::new().block_on(async {
        let f = fixture();
        let sse = |uid: &str, request_id: Option<&str>| {
            let request = Request::ServerSideEmit {
                uid: uid.to_owned(),
                request_id: request_id.map(str::to_owned),
                data: json!(["hello", 1, "two"]),
            };
            Bytes::from(request.encode())
        };
        (f.handler)("socket.io-request#/#", sse("me0000", Some("r0")));
        (f.handler)("socket.io-request#/#", sse("other1", Some("r1")));
        (f.handler)("socket.io-request#/#", sse("emitter", None));
        let events = f.events.lock().clone();
        assert_eq!(
            events,
            vec![
                ("hello".to_owned(), vec![json!(1), json!("two")], true),
                ("hello".to_owned(), vec![json!(1), json!("two")], false),
            ]
        );
        f.pool.stop();
    });
}

#[test]
fn a_reply_is_sent_once() {
    let sent = Arc::new(Mutex::new(Vec::new()));
    let log = sent.clone();
    let ack = ServerAck::new(move |v| log.lock().push(v));
    let copy = ack.clone();
    assert!(!ack.is_sent());
    copy.send(json!(1));
    ack.send(json!(2));
    ack.send_empty();
    assert!(ack.is_sent());
    assert_eq!(*sent.lock(), vec![Some(json!(1))]);
}
