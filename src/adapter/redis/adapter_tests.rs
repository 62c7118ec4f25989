use super::*;
use crate::adapter::local::ArbiterPool;
use crate::adapter::redis::factory::RedisAdapterFactory;
use crate::adapter::redis::options::RedisAdapterOptions;
use crate::adapter::redis::wire::{Flags, Targets, WirePacket};
use crate::adapter::BroadcastOptions;
use crate::adapter::{AdapterFactory, LinkState};
use crate::metrics::Metrics;
use crate::payload::Payload;
use crate::room::test_member::TestMember;
use std::time::Duration;

fn wire(uid: &str, nsp: &str) -> Bytes {
    let message = BroadcastMessage::event(
        Parser::Default,
        nsp,
        "e",
        Payload::new().arg("a"),
        BroadcastOptions::default(),
    );
    Bytes::from(Broadcast::from_message(uid, &message).encode())
}

#[test]
fn uids_are_six_random_alphanumerics() {
    let (a, b) = (new_uid(), new_uid());
    assert_eq!(a.len(), 6);
    assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
    assert_ne!(a, b);
}

#[test]
fn another_servers_broadcast_of_this_namespace_is_accepted() {
    let got = accept(
        "socket.io",
        "/",
        "me0000",
        "socket.io#/#",
        &wire("other1", "/"),
    );
    let got = got.expect("accepted");
    assert_eq!(got.uid, "other1");
    assert_eq!(got.targets, Targets::default());
    assert_eq!(got.flags, Flags::default());
    let in_room = accept(
        "socket.io",
        "/",
        "me0000",
        "socket.io#/#r#",
        &wire("x", "/"),
    );
    assert!(in_room.is_some());
}

#[test]
fn own_other_namespace_and_malformed_broadcasts_are_ignored() {
    let own = accept(
        "socket.io",
        "/",
        "me0000",
        "socket.io#/#",
        &wire("me0000", "/"),
    );
    assert!(own.is_none(), "its own broadcast");
    let chan = accept(
        "socket.io",
        "/",
        "me0000",
        "socket.io#/chat#",
        &wire("x", "/"),
    );
    assert!(chan.is_none(), "another namespace's channel");
    let nsp = accept(
        "socket.io",
        "/",
        "me0000",
        "socket.io#/#",
        &wire("x", "/chat"),
    );
    assert!(nsp.is_none(), "a packet of another namespace");
    let key = accept("other", "/", "me0000", "socket.io#/#", &wire("x", "/"));
    assert!(key.is_none(), "another key");
    let junk = accept(
        "socket.io",
        "/",
        "me",
        "socket.io#/#",
        &Bytes::from_static(b"\xc1"),
    );
    assert!(junk.is_none(), "not msgpack");
}

#[test]
fn a_wire_packet_round_trips_with_binary() {
    let message = BroadcastMessage::event(
        Parser::Default,
        "/",
        "e",
        Payload::new().bin(vec![1u8, 2, 3]),
        BroadcastOptions::default(),
    );
    let bytes = Bytes::from(Broadcast::from_message("other1", &message).encode());
    let got = accept("socket.io", "/", "me0000", "socket.io#/#", &bytes).expect("accepted");
    let WirePacket { binary, .. } = got.packet;
    assert_eq!(binary, vec![Bytes::from_static(&[1, 2, 3])]);
}

#[test]
fn without_redis_broadcasts_are_delivered_locally_and_publishes_counted_as_failures() {
    actix_rt::System::new().block_on(async {
        let pool = Arc::new(ArbiterPool::new(1));
        let metrics = Arc::new(Metrics::new());
        // Nothing listens on port 1: the publisher never connects.
        let client = redis::Client::open("redis://127.0.0.1:1/0").expect("a valid URL");
        let factory = RedisAdapterFactory::new(
            client,
            Default::default(),
            Parser::Default,
            pool.clone(),
            metrics,
        );
        let adapter: Arc<dyn Adapter<TestMember>> = factory.create("/");
        let member = TestMember::new(1);
        adapter.add_socket(member.clone());
        let message = BroadcastMessage::event(
            Parser::Default,
            "/",
            "e",
            Payload::new(),
            Default::default(),
        );
        let count =
            tokio::time::timeout(Duration::from_secs(5), adapter.broadcast_counted(message));
        assert_eq!(count.await.expect("not blocked by Redis"), 1);
        assert_eq!(member.delivered(), 1);
        let rendered = factory.metrics.render();
        assert!(
            rendered.contains("roomcast_cluster_publish_failures_total{reason=\"unavailable\"} 1"),
            "{rendered}"
        );
        pool.stop();
    });
}

#[test]
fn without_redis_the_cluster_view_fails_fast_and_the_node_local_part_answers() {
    actix_rt::System::new().block_on(async {
        let pool = Arc::new(ArbiterPool::new(1));
        let metrics = Arc::new(Metrics::new());
        let client = redis::Client::open("redis://127.0.0.1:1/0").expect("a valid URL");
        let options = RedisAdapterOptions::default();
        let concrete =
            RedisAdapterFactory::new(client, options, Parser::Default, pool.clone(), metrics);
        concrete.start();
        let factory: &dyn AdapterFactory<TestMember> = &concrete;
        assert_eq!(factory.link_state(), LinkState::Disconnected);
        assert_eq!(factory.node_id().map(|id| id.len()), Some(20));
        let adapter = factory.create("/");
        adapter.add_socket(TestMember::new(1));
        let quick = Duration::from_millis(500);
        let everyone = Arc::new(Selector::default());
        let remote = tokio::time::timeout(quick, adapter.remote_sockets(everyone.clone())).await;
        assert!(
            matches!(remote, Ok(Err(ClusterError::Unavailable(_)))),
            "{remote:?}"
        );
        let count = tokio::time::timeout(quick, adapter.server_count()).await;
        assert!(
            matches!(count, Ok(Err(ClusterError::Unavailable(_)))),
            "{count:?}"
        );
        let summary = tokio::time::timeout(quick, adapter.remote_summary()).await;
        assert!(
            matches!(summary, Ok(Err(ClusterError::Unavailable(_)))),
            "{summary:?}"
        );
        let local = adapter
            .node_local()
            .expect("a cluster adapter has a node-local part");
        assert_eq!(local.fetch_sockets(everyone).await.len(), 1);
        let rendered = concrete.metrics.render();
        assert!(
            rendered.contains("roomcast_cluster_redis_connected 0"),
            "{rendered}"
        );
        pool.stop();
    });
}

#[test]
fn other_servers_broadcasts_are_shed_only_past_four_times_the_publishers_mark() {
    assert!(admits_remote(0));
    assert!(admits_remote(BACKLOG_HIGH));
    assert!(admits_remote(REMOTE_BACKLOG_LIMIT));
    assert!(!admits_remote(REMOTE_BACKLOG_LIMIT + 1));
    assert_eq!(REMOTE_BACKLOG_LIMIT, 4 * BACKLOG_HIGH);
}
