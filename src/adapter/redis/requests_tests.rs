//! This server's requests: the rule that ends a broadcast with acknowledgements, the routing of
//! responses to the request they answer, and what happens without Redis (no other server is
//! counted, so nothing is waited for).

use std::time::{Duration, Instant};

use serde_json::json;

use super::*;
use crate::adapter::acks::{AckReplies, AckReply};
use crate::metrics::Metrics;
use crate::payload::Payload;
use crate::protocol::ids::Sid;

fn count(n: u64) -> Response {
    Response::ClientCount {
        request_id: "r".to_owned(),
        client_count: n,
    }
}

fn ack(v: serde_json::Value) -> Response {
    Response::BroadcastAck {
        request_id: "r".to_owned(),
        packet: v,
        binary: Vec::new(),
    }
}

/// Requests over a link to a Redis that does not exist (nothing listens on port 1).
fn unreachable() -> Arc<Requests> {
    let client = redis::Client::open("redis://127.0.0.1:1/0").expect("a valid URL");
    let link = Arc::new(RedisLink::new(client, &Metrics::new()));
    let options = RedisAdapterOptions {
        request_timeout: Duration::from_millis(300),
        ..RedisAdapterOptions::default()
    };
    Arc::new(Requests::new(link, &options, "/"))
}

#[test]
fn a_tally_is_complete_once_every_server_counted_and_every_client_replied() {
    let mut tally = RemoteTally::default();
    assert!(!tally.complete(), "the number of servers is not known yet");
    tally.servers = Some(2);
    tally.add(count(1));
    assert!(
        !tally.complete(),
        "one server has not said how many clients it has"
    );
    tally.add(ack(json!("a")));
    assert!(!tally.complete());
    tally.add(count(0));
    assert!(
        tally.complete(),
        "two servers counted, their one client replied"
    );
    tally.add(Response::Done {
        request_id: "r".to_owned(),
    });
    assert_eq!(tally.replies.len(), 1, "other responses are ignored");
    let mut none = RemoteTally {
        servers: Some(0),
        ..RemoteTally::default()
    };
    assert!(none.complete(), "no other server: nothing to wait for");
    none.add(ack(json!(1)));
    assert!(none.complete());
    assert!(
        none.replies.is_empty(),
        "an ack no count announced is dropped"
    );
    tally.add(ack(json!("b")));
    assert_eq!(tally.replies.len(), 1, "one client counted, one reply kept");
}

#[test]
fn finishing_puts_this_servers_replies_first_and_says_what_is_missing() {
    let own = AckReplies {
        expected: 2,
        replies: vec![AckReply {
            socket: Some(Sid::new()),
            payload: Payload::new().arg("mine"),
        }],
        timed_out: true,
    };
    let mut tally = RemoteTally {
        servers: Some(1),
        ..RemoteTally::default()
    };
    tally.add(count(1));
    tally.add(ack(json!({"x": 1})));
    let all = tally.finish(own.clone());
    assert_eq!(all.expected, 3);
    assert_eq!(all.replies.len(), 2);
    assert_eq!(all.replies[0].payload.args, vec![json!("mine")]);
    assert_eq!(
        all.replies[1].socket, None,
        "another node's reply names no socket"
    );
    assert_eq!(all.replies[1].payload.args, vec![json!({"x": 1})]);
    assert!(all.timed_out, "one of this server's sockets did not reply");
    let silent = RemoteTally {
        servers: Some(1),
        ..RemoteTally::default()
    };
    let done = AckReplies {
        timed_out: false,
        ..own
    };
    assert!(
        silent.finish(done).timed_out,
        "a server that never said how many clients it has"
    );
}

#[test]
fn responses_reach_the_request_they_answer_until_it_is_dropped() {
    let requests = unreachable();
    let handler = requests.response_handler();
    let mut open = requests.open(RequestType::Sockets);
    let other = requests.open(RequestType::AllRooms);
    let answer = format!(r#"{{"requestId":"{}","sockets":["s1"]}}"#, open.id);
    handler("socket.io-response#/#", Bytes::from(answer.clone()));
    handler(
        "socket.io-response#/#",
        Bytes::from_static(br#"{"requestId":"unknown","sockets":[]}"#),
    );
    handler("socket.io-response#/#", Bytes::from_static(b"{not json"));
    let got = open.answers.try_recv().expect("the answer arrived");
    assert_eq!(
        got,
        Response::Sockets {
            request_id: open.id.clone(),
            sockets: vec!["s1".to_owned()],
        }
    );
    assert!(open.answers.try_recv().is_err(), "nothing else for it");
    let id = open.id.clone();
    drop(open);
    assert!(!requests.pending.lock().contains_key(&id), "forgotten");
    assert!(requests.pending.lock().contains_key(&other.id));
    handler("socket.io-response#/#", Bytes::from(answer));
}

#[test]
fn without_redis_no_server_is_counted_and_nothing_is_waited_for() {
    actix_rt::System::new().block_on(async {
        let requests = unreachable();
        let started = Instant::now();
        let (servers, responses) = requests
            .ask(RequestType::AllRooms, |request_id| Request::AllRooms {
                uid: "me0000".to_owned(),
                request_id,
            })
            .await;
        assert_eq!((servers, responses.len()), (0, 0));
        assert!(requests.socket_ids("me0000", Vec::new()).await.is_empty());
        assert!(
            started.elapsed() < Duration::from_millis(250),
            "did not wait"
        );
        assert!(requests.pending.lock().is_empty());
    });
}

#[test]
fn a_broadcast_with_acks_without_other_servers_ends_with_this_servers_replies() {
    actix_rt::System::new().block_on(async {
        let requests = unreachable();
        let own = AckReplies {
            expected: 1,
            replies: vec![AckReply {
                socket: Some(Sid::new()),
                payload: Payload::new().arg(1),
            }],
            timed_out: false,
        };
        let local: BoxFuture<AckReplies> = Box::pin(std::future::ready(own.clone()));
        let make = |request_id| Request::AllRooms {
            uid: "me0000".to_owned(),
            request_id,
        };
        let started = Instant::now();
        let got = requests
            .broadcast_with_ack(make, local, Duration::from_secs(5))
            .await;
        assert_eq!(got, own);
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "not at the timeout"
        );
        // This server's sockets that never answer: it ends at the timeout.
        let late: BoxFuture<AckReplies> = Box::pin(async {
            tokio::time::sleep(Duration::from_millis(200)).await;
            AckReplies {
                expected: 1,
                replies: Vec::new(),
                timed_out: true,
            }
        });
        let got = requests
            .broadcast_with_ack(make, late, Duration::from_millis(100))
            .await;
        assert!(got.timed_out);
        assert_eq!(got.expected, 1);
    });
}
