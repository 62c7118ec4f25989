//! The Rust API of the requests that need answers from other servers in sharded mode, between two
//! `Server`s of one process with `ShardedAdapterFactory` on a real `redis-server` (Redis >= 7):
//! an event one server sends with `server_side_emit_with_ack` reaches the other's
//! `on_server_event` handler, whose reply comes back; a broadcast with acknowledgements gets the
//! other server's client count (0) and ends at once; a connection counted by `PUBSUB SHARDNUMSUB`
//! that never answers makes a request end at the timeout given with `with_request_timeout`.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::redis::Redis;
use parking_lot::Mutex;
use roomcast::adapter::local::ArbiterPool;
use roomcast::adapter::redis::channel::SubscriptionMode;
use roomcast::adapter::redis::sharded::ShardedAdapterFactory;
use roomcast::{Parser, Server, ServerOptions};
use serde_json::{json, Value};

const REQUEST_TIMEOUT: Duration = Duration::from_millis(700);
const CHANNEL: &str = "socket.io#/#";

/// The events a handler saw: name and arguments.
type Seen = Arc<Mutex<Vec<(String, Vec<Value>)>>>;

fn server(redis: &Redis) -> Server {
    let client = redis.client();
    Server::with_adapter_from(
        ServerOptions::default(),
        |pool: Arc<ArbiterPool>, metrics| {
            let mode = SubscriptionMode::Dynamic;
            let parser = Parser::Default;
            let factory =
                ShardedAdapterFactory::new(client, "socket.io", mode, parser, pool, metrics)
                    .with_request_timeout(REQUEST_TIMEOUT);
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
fn sharded_requests_between_two_servers_are_answered_and_a_silent_one_ends_at_the_timeout() {
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
            redis.shard_numsub(CHANNEL) == 2
        })
        .await;
        // Until b's link is up, b counts no other server: ask until it does.
        let deadline = Instant::now() + Duration::from_secs(10);
        let replies = loop {
            let args = vec![json!(1), json!("x")];
            let asked = b
                .of("/")
                .server_side_emit_with_ack("hi", args, REQUEST_TIMEOUT);
            let replies = asked.expect("not a reserved name").await;
            if replies.expected == 1 || Instant::now() > deadline {
                break replies;
            }
            actix_rt::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(replies.expected, 1, "one other server");
        assert_eq!(replies.replies, vec![json!({"from": "a", "n": 2})]);
        let first = ("hi".to_owned(), vec![json!(1), json!("x")]);
        assert_eq!(got.lock().last(), Some(&first));
        let plain = b.of("/").server_side_emit("plain", vec![json!(true)]);
        plain.expect("not reserved");
        until("the event without ack", || {
            got.lock().last().map(|(e, _)| e.as_str()) == Some("plain")
        })
        .await;

        // A broadcast with acknowledgements: a says it has 0 clients, so it ends at once.
        let started = Instant::now();
        let acks = b
            .to(["nobody"])
            .emit_with_ack("q", "?", Duration::from_secs(5));
        let acks = acks.expect("not reserved").await;
        let summary = (acks.expected, acks.replies.len(), acks.timed_out);
        assert_eq!(summary, (0, 0, false));
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "not at the timeout"
        );

        // A third connection that never answers: counted, so requests wait for it until the
        // configured request timeout (not the 5 s default) and end with what arrived.
        let mut silent = redis.client().get_connection().expect("connected");
        let subscribed = redis::cmd("SSUBSCRIBE")
            .arg(CHANNEL)
            .query::<redis::Value>(&mut silent);
        subscribed.expect("subscribed");
        until("the silent subscriber counted", || {
            redis.shard_numsub(CHANNEL) == 3
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
        let asked = b
            .of("/")
            .server_side_emit_with_ack("hi", Vec::new(), REQUEST_TIMEOUT);
        let replies = asked.expect("not reserved").await;
        assert_eq!((replies.expected, replies.replies.len()), (2, 1));
        assert!(replies.timed_out());
        let acks = b
            .to(["nobody"])
            .emit_with_ack("q", "?", Duration::from_millis(300));
        let acks = acks.expect("not reserved").await;
        assert!(
            acks.timed_out,
            "the silent connection never said how many clients it has"
        );
        drop(silent);
        a.stop_supervisors();
        b.stop_supervisors();
    });
}
