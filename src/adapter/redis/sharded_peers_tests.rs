//! A shard's own requests: answers reach the request they answer (by request id) until it is
//! dropped, and without Redis no other server is counted, so nothing is waited for.

use std::time::Instant;

use serde_json::json;

use super::*;
use crate::adapter::acks::AckReply;
use crate::adapter::redis::shard_link::ShardedLink;
use crate::metrics::Metrics;
use crate::payload::Payload;
use crate::protocol::ids::Sid;

/// A shard of "/" over a link to a Redis that does not exist (nothing listens on port 1).
fn unreachable() -> Shard {
    let client = redis::Client::open("redis://127.0.0.1:1/0").expect("a valid URL");
    let link = Arc::new(ShardedLink::new(client, &Metrics::new()));
    let settings = ShardSettings {
        key: "socket.io".to_owned(),
        mode: SubscriptionMode::Dynamic,
        request_timeout: Duration::from_millis(300),
        node_id: "node-1".to_owned(),
    };
    Shard::new(link, &settings, "/")
}

fn response(body: ClusterBody) -> ClusterMessage {
    ClusterMessage {
        uid: "peer".to_owned(),
        nsp: "/".to_owned(),
        body,
        binary: Vec::new(),
    }
}

#[test]
fn answers_reach_the_request_they_answer_until_it_is_dropped() {
    let shard = unreachable();
    let mut open = shard.open();
    let count = |request_id: &str| ClusterBody::BroadcastClientCount {
        request_id: request_id.to_owned(),
        client_count: 2,
    };
    shard.answered(response(count("someone-else")));
    shard.answered(response(ClusterBody::Heartbeat));
    shard.answered(response(count(&open.id)));
    let ack = ClusterBody::BroadcastAck {
        request_id: open.id.clone(),
        packet: json!("a"),
    };
    shard.answered(response(ack.clone()));
    assert_eq!(open.answers.try_recv().map(|m| m.body), Ok(count(&open.id)));
    assert_eq!(open.answers.try_recv().map(|m| m.body), Ok(ack));
    assert!(open.answers.try_recv().is_err(), "nothing else reached it");
    let id = open.id.clone();
    drop(open);
    assert!(shard.pending.lock().is_empty(), "forgotten once dropped");
    shard.answered(response(count(&id)));
}

#[test]
fn without_redis_no_server_is_counted_and_nothing_is_waited_for() {
    actix_rt::System::new().block_on(async {
        let shard = unreachable();
        assert!(matches!(
            shard.servers().await,
            Err(ClusterError::Unavailable(_))
        ));
        assert_eq!(shard.others().await, 0);
        let fetched = shard.try_fetch(Targets::default()).await;
        assert!(matches!(fetched, Err(ClusterError::Unavailable(_))));
        let started = Instant::now();
        let replies = shard
            .server_side_emit_with_ack(json!(["e"]), Duration::from_secs(5))
            .await;
        assert_eq!(replies, ServerReplies::default());
        let own = AckReplies {
            expected: 1,
            replies: vec![AckReply {
                socket: Some(Sid::new()),
                payload: Payload::new().arg(1),
            }],
            timed_out: false,
        };
        let local: BoxFuture<AckReplies> = Box::pin(std::future::ready(own.clone()));
        let packet = WirePacket::event("/", json!(["e"]), Vec::new());
        let parts = (packet, Targets::default(), Flags::default());
        let got = shard
            .broadcast_with_ack(parts, local, Duration::from_secs(5))
            .await;
        assert_eq!(got, own, "this server's replies, complete");
        assert!(started.elapsed() < Duration::from_secs(1), "no timeout");
        assert!(shard.pending.lock().is_empty());
    });
}
