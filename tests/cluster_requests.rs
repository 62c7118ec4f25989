//! The Rust API of the requests that need answers from other servers, between two `Server`s of one
//! process on a real `redis-server` (started on a free port in a temporary directory, killed when
//! the test ends): an event one server sends with `server_side_emit_with_ack` reaches the other's
//! `on_server_event` handler, whose reply comes back; a broadcast with acknowledgements gets the
//! other server's client count (0) and ends at once; a subscriber counted by `PUBSUB NUMSUB` that
//! never answers makes a request end at the configured `request_timeout`.
//!
//! A missing `redis-server` fails the test (scripts/test.sh installs it).

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::redis::Redis;
use parking_lot::Mutex;
use roomcast::adapter::local::ArbiterPool;
use roomcast::adapter::redis::adapter::RedisAdapterFactory;
use roomcast::adapter::redis::options::RedisAdapterOptions;
use roomcast::{Parser, Server, ServerOptions};
use serde_json::{json, Value};

const REQUEST_TIMEOUT: Duration = Duration::from_millis(700);

/// The events a handler saw: name and arguments.
type Seen = Arc<Mutex<Vec<(String, Vec<Value>)>>>;

fn server(redis: &Redis) -> Server {
    let client = redis.client();
    let options = RedisAdapterOptions {
        request_timeout: REQUEST_TIMEOUT,
        ..RedisAdapterOptions::default()
    };
    Server::with_adapter_from(
        ServerOptions::default(),
        |pool: Arc<ArbiterPool>, metrics| {
            let factory = RedisAdapterFactory::new(client, options, Parser::Default, pool, metrics);
            factory.start();
            Arc::new(factory)
        },
    )
}

/// Polls `check` every 20 ms until it holds, for at most 10 s.
async fn until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }
}

#[test]
fn requests_between_two_servers_are_answered_and_a_silent_one_ends_at_the_timeout() {
    let redis = Redis::start();
    actix_rt::System::new().block_on(async {
        let (a, b) = (server(&redis), server(&redis));
        let got: Seen = Arc::default();
        let seen = got.clone();
        a.of("/").on_server_event(move |event| {
            seen.lock().push((event.event.clone(), event.args.clone()));
            if let Some(ack) = event.ack {
                ack.send(json!({"from": "a", "n": event.args.len()}));
            }
        });
        // Each namespace subscribes when its adapter is made (on first use).
        let _ = a.of("/").fetch_sockets().await;
        let _ = b.of("/").fetch_sockets().await;
        until("both servers subscribed", || {
            redis.numsub("socket.io-request#/#") == 2
        })
        .await;
        // Until b's publisher is connected, b counts no other server: ask until it does.
        let deadline = Instant::now() + Duration::from_secs(10);
        let replies = loop {
            let asked = b.of("/").server_side_emit_with_ack(
                "hi",
                vec![json!(1), json!("x")],
                REQUEST_TIMEOUT,
            );
            let replies = asked.expect("not a reserved name").await;
            if replies.expected == 1 || Instant::now() > deadline {
                break replies;
            }
            actix_rt::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(replies.expected, 1, "one other server");
        assert_eq!(replies.replies, vec![json!({"from": "a", "n": 2})]);
        assert_eq!(
            got.lock().last(),
            Some(&("hi".to_owned(), vec![json!(1), json!("x")]))
        );
        b.of("/")
            .server_side_emit("plain", vec![json!(true)])
            .expect("not reserved");
        until("the event without ack", || {
            got.lock().last().map(|(e, _)| e.as_str()) == Some("plain")
        })
        .await;
        assert!(
            b.of("/").server_side_emit("connect", Vec::new()).is_err(),
            "reserved"
        );

        // A broadcast with acknowledgements: a says it has 0 clients, so it ends at once.
        let started = Instant::now();
        let acks = b
            .to(["nobody"])
            .emit_with_ack("q", "?", Duration::from_secs(5))
            .expect("not reserved")
            .await;
        assert_eq!(
            (acks.expected, acks.replies.len(), acks.timed_out),
            (0, 0, false)
        );
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "not at the timeout"
        );

        // A third subscriber that never answers: counted, so the requests wait for it until
        // the request timeout and end with what arrived.
        let mut silent = redis.client().get_async_pubsub().await.expect("connected");
        silent
            .subscribe("socket.io-request#/#")
            .await
            .expect("subscribed");
        until("the silent subscriber counted", || {
            redis.numsub("socket.io-request#/#") == 3
        })
        .await;
        let started = Instant::now();
        let found = b.of("/").fetch_sockets().await;
        let took = started.elapsed();
        assert!(found.is_empty());
        assert!(
            took >= REQUEST_TIMEOUT - Duration::from_millis(50),
            "{took:?}"
        );
        assert!(took < REQUEST_TIMEOUT + Duration::from_secs(2), "{took:?}");
        let replies = b
            .of("/")
            .server_side_emit_with_ack("hi", Vec::new(), REQUEST_TIMEOUT)
            .expect("not reserved")
            .await;
        assert_eq!((replies.expected, replies.replies.len()), (2, 1));
        assert!(replies.timed_out());
        let acks = b
            .to(["nobody"])
            .emit_with_ack("q", "?", Duration::from_millis(300))
            .expect("not reserved")
            .await;
        assert!(
            acks.timed_out,
            "the silent subscriber never said how many clients it has"
        );
        drop(silent);
        a.stop_supervisors();
        b.stop_supervisors();
    });
}
