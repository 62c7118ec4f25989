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
use std::time::Duration;

use common::redis::Redis;
use common::requests::{a_answers, b_asks_a, b_waits_for_the_silent_one, until};
use roomcast::adapter::local::ArbiterPool;
use roomcast::adapter::redis::adapter::RedisAdapterFactory;
use roomcast::adapter::redis::options::RedisAdapterOptions;
use roomcast::{Parser, Server, ServerOptions};

const REQUEST_TIMEOUT: Duration = Duration::from_millis(700);

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

#[test]
fn requests_between_two_servers_are_answered_and_a_silent_one_ends_at_the_timeout() {
    let redis = Redis::start();
    actix_rt::System::new().block_on(async {
        let (a, b) = (server(&redis), server(&redis));
        let got = a_answers(&a, &b).await;
        until("both servers subscribed", || {
            redis.numsub("socket.io-request#/#") == 2
        })
        .await;
        b_asks_a(&got, &b, REQUEST_TIMEOUT).await;

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
        b_waits_for_the_silent_one(&b, REQUEST_TIMEOUT).await;
        drop(silent);
        a.stop_supervisors();
        b.stop_supervisors();
    });
}
