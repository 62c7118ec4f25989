//! The scenario both cluster adapters' request tests run between two `Server`s `a` and `b` on one
//! Redis: `a` answers server-side events; `b` asks, then a silent subscriber (counted, never
//! answering) makes `b`'s requests end at the request timeout.

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use roomcast::Server;
use serde_json::{json, Value};

/// The events a handler saw: name and arguments.
pub type Seen = Arc<Mutex<Vec<(String, Vec<Value>)>>>;

/// Polls `check` every 20 ms until it holds, for at most 10 s.
pub async fn until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `a`'s "/" records the events other servers send and answers those that wait for a reply with
/// `{"from": "a", "n": <argument count>}`; then both servers' "/" subscribe (on first use).
pub async fn a_answers(a: &Server, b: &Server) -> Seen {
    let got: Seen = Arc::default();
    let seen = got.clone();
    a.of("/").on_server_event(move |event| {
        seen.lock().push((event.event.clone(), event.args.clone()));
        if let Some(ack) = event.ack {
            ack.send(json!({"from": "a", "n": event.args.len()}));
        }
    });
    let _ = a.of("/").fetch_sockets().await;
    let _ = b.of("/").fetch_sockets().await;
    got
}

/// With both subscribed: `b`'s events reach `a`'s handler (with and without a reply), a reserved
/// name is refused, and a broadcast with acknowledgements to nobody ends at once (`a` says 0).
pub async fn b_asks_a(a_got: &Seen, b: &Server, timeout: Duration) {
    // Until b's link is up, b counts no other server: ask until it does.
    let deadline = Instant::now() + Duration::from_secs(10);
    let replies = loop {
        let asked = b
            .of("/")
            .server_side_emit_with_ack("hi", vec![json!(1), json!("x")], timeout);
        let replies = asked.expect("not a reserved name").await;
        if replies.expected == 1 || Instant::now() > deadline {
            break replies;
        }
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(replies.expected, 1, "one other server");
    assert_eq!(replies.replies, vec![json!({"from": "a", "n": 2})]);
    let first = ("hi".to_owned(), vec![json!(1), json!("x")]);
    assert_eq!(a_got.lock().last(), Some(&first));
    let plain = b.of("/").server_side_emit("plain", vec![json!(true)]);
    plain.expect("not reserved");
    until("the event without ack", || {
        a_got.lock().last().map(|(e, _)| e.as_str()) == Some("plain")
    })
    .await;
    let reserved = b.of("/").server_side_emit("connect", Vec::new());
    assert!(reserved.is_err(), "reserved");

    let started = Instant::now();
    let acks = b
        .to(["nobody"])
        .emit_with_ack("q", "?", Duration::from_secs(5));
    let acks = acks.expect("not reserved").await;
    let summary = (acks.expected, acks.replies.len(), acks.timed_out);
    assert_eq!(summary, (0, 0, false));
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(2),
        "not at the timeout: {took:?}"
    );
}

/// With a third, silent subscriber counted: `b`'s requests wait for it until the configured
/// `timeout` (not the 5 s default) and end with what arrived.
pub async fn b_waits_for_the_silent_one(b: &Server, timeout: Duration) {
    let started = Instant::now();
    let found = b.of("/").fetch_sockets().await;
    let took = started.elapsed();
    assert!(found.is_empty());
    assert!(took >= timeout - Duration::from_millis(50), "{took:?}");
    assert!(took < timeout + Duration::from_secs(2), "{took:?}");
    let asked = b
        .of("/")
        .server_side_emit_with_ack("hi", Vec::new(), timeout);
    let replies = asked.expect("not reserved").await;
    assert_eq!((replies.expected, replies.replies.len()), (2, 1));
    assert!(replies.timed_out());
    let acks = b
        .to(["nobody"])
        .emit_with_ack("q", "?", Duration::from_millis(300));
    let acks = acks.expect("not reserved").await;
    assert!(
        acks.timed_out,
        "the silent subscriber never said how many clients it has"
    );
}
