//! The Rust API of the requests that need answers from other servers in sharded mode, between two
//! `Server`s of one process with `ShardedAdapterFactory` on a real `redis-server` (Redis >= 7):
//! an event one server sends with `server_side_emit_with_ack` reaches the other's
//! `on_server_event` handler, whose reply comes back; a broadcast with acknowledgements gets the
//! other server's client count (0) and ends at once; a connection counted by `PUBSUB SHARDNUMSUB`
//! that never answers makes a request end at the timeout given with `with_request_timeout`.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::redis::Redis;
use common::requests::{a_answers, b_asks_a, b_waits_for_the_silent_one, until};
use roomcast::adapter::local::ArbiterPool;
use roomcast::adapter::redis::channel::SubscriptionMode;
use roomcast::adapter::redis::sharded::ShardedAdapterFactory;
use roomcast::{Parser, Server, ServerOptions};

const REQUEST_TIMEOUT: Duration = Duration::from_millis(700);
const CHANNEL: &str = "socket.io#/#";

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

#[test]
fn sharded_requests_between_two_servers_are_answered_and_a_silent_one_ends_at_the_timeout() {
    let redis = Redis::start();
    actix_rt::System::new().block_on(async {
        let (a, b) = (server(&redis), server(&redis));
        let got = a_answers(&a, &b).await;
        until("both servers subscribed", || {
            redis.shard_numsub(CHANNEL) == 2
        })
        .await;
        b_asks_a(&got, &b, REQUEST_TIMEOUT).await;

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
        b_waits_for_the_silent_one(&b, REQUEST_TIMEOUT).await;
        drop(silent);
        a.stop_supervisors();
        b.stop_supervisors();
    });
}
