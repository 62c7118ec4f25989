use super::*;
use crate::adapter::redis::cluster_wire::ClusterMessage;
use crate::adapter::redis::sharded_peers::{cluster_uid, Shard};
use crate::adapter::{AdapterFactory, BroadcastOptions};
use crate::payload::Payload;
use crate::room::test_member::TestMember;
use bytes::Bytes;
use std::time::{Duration, Instant};

/// A factory whose Redis never answers (nothing listens on port 1).
fn unreachable(pool: &Arc<ArbiterPool>, mode: SubscriptionMode) -> ShardedAdapterFactory {
    let client = redis::Client::open("redis://127.0.0.1:1/0").expect("a valid URL");
    let metrics = Arc::new(Metrics::new());
    ShardedAdapterFactory::new(
        client,
        "socket.io",
        mode,
        Parser::Default,
        pool.clone(),
        metrics,
    )
}

fn adapter(factory: &ShardedAdapterFactory, nsp: &str) -> ShardedAdapter<TestMember> {
    let shard = Shard::new(factory.link.clone(), &factory.settings, nsp);
    ShardedAdapter::new(shard, Parser::Default, &factory.pool, &factory.metrics)
}

/// `body` as server `uid` of namespace `nsp` publishes it.
fn from(uid: &str, nsp: &str, body: ClusterBody) -> Bytes {
    let message = ClusterMessage {
        uid: uid.to_owned(),
        nsp: nsp.to_owned(),
        body,
        binary: Vec::new(),
    };
    Bytes::from(message.encode())
}

fn event(nsp: &str, arg: &str) -> ClusterBody {
    let message = BroadcastMessage::event(
        Parser::Default,
        nsp,
        "e",
        Payload::new().arg(arg),
        BroadcastOptions::default(),
    );
    ClusterBody::Broadcast {
        packet: WirePacket {
            packet: message.packet,
            binary: message.binary,
        },
        targets: Targets::default(),
        flags: Flags::default(),
        request_id: None,
    }
}

/// Delivers `payload` as if Redis had, on `channel`, to whoever listens to it.
fn arrive(factory: &ShardedAdapterFactory, channel: &str, payload: Bytes) {
    let handler = factory.link.handler(channel).expect("listened to");
    handler(channel, payload);
}

async fn until(what: &str, check: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        actix_rt::time::sleep(Duration::from_millis(5)).await;
    }
}

#[test]
fn uids_are_sixteen_random_hex_characters() {
    let (a, b) = (cluster_uid(), cluster_uid());
    assert_eq!(a.len(), 16);
    assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
    assert_ne!(a, b);
}

#[test]
fn another_servers_broadcast_is_delivered_its_own_and_other_namespaces_are_not() {
    actix_rt::System::new().block_on(async {
        let pool = Arc::new(ArbiterPool::new(1));
        let factory = unreachable(&pool, SubscriptionMode::Dynamic);
        let adapter = adapter(&factory, "/");
        let member = TestMember::new(4);
        adapter.add_socket(member.clone());
        let uid = adapter.uid().to_owned();
        assert!(factory
            .link
            .handler(&format!("socket.io#/#{uid}#"))
            .is_some());
        arrive(&factory, "socket.io#/#", from(&uid, "/", event("/", "own")));
        arrive(
            &factory,
            "socket.io#/#",
            from("peer", "/chat", event("/chat", "x")),
        );
        arrive(&factory, "socket.io#/#", Bytes::from_static(b"{not json"));
        arrive(
            &factory,
            "socket.io#/#",
            from("peer", "/", event("/", "theirs")),
        );
        // The others are dropped on arrival, before anything reaches a supervisor; the last is
        // the only one delivered.
        until("the peer's broadcast", || member.delivered() == 1).await;
        let count = adapter.local.broadcast_counted(BroadcastMessage::event(
            Parser::Default,
            "/",
            "barrier",
            Payload::new(),
            BroadcastOptions::default(),
        ));
        assert_eq!(count.await, 1);
        assert_eq!(
            member.delivered(),
            2,
            "the peer's broadcast and the barrier only"
        );
        pool.stop();
    });
}

#[test]
fn a_rooms_channel_is_listened_to_while_the_room_has_members_here() {
    actix_rt::System::new().block_on(async {
        let pool = Arc::new(ArbiterPool::new(2));
        let factory = unreachable(&pool, SubscriptionMode::Dynamic);
        let adapter = adapter(&factory, "/");
        let listening = |room: &str| {
            factory
                .link
                .handler(&format!("socket.io#/#{room}#"))
                .is_some()
        };
        let (a, b) = (TestMember::new(4), TestMember::new(4));
        adapter.add_socket(a.clone());
        adapter.add_socket(b.clone());
        adapter.join(a.id(), vec![Room::from("r")]);
        adapter.join(b.id(), vec![Room::from("r")]);
        until("r's channel", || listening("r")).await;
        adapter.leave(a.id(), vec![Room::from("r")]);
        adapter.remove_socket(b.id());
        until("r's channel forgotten", || !listening("r")).await;
        // Another server's SOCKETS_JOIN and SOCKETS_LEAVE move this node's sockets too.
        let rooms = |join| ClusterBody::Rooms {
            join,
            targets: Targets::default(),
            rooms: vec![Room::from("s")],
        };
        arrive(&factory, "socket.io#/#", from("peer", "/", rooms(true)));
        until("s's channel", || listening("s")).await;
        assert_eq!(adapter.local.rooms().await, vec![(Room::from("s"), 1)]);
        arrive(&factory, "socket.io#/#", from("peer", "/", rooms(false)));
        until("s's channel forgotten", || !listening("s")).await;
        pool.stop();
    });
}

#[test]
fn in_static_mode_no_room_channel_is_listened_to() {
    actix_rt::System::new().block_on(async {
        let pool = Arc::new(ArbiterPool::new(1));
        let factory = unreachable(&pool, SubscriptionMode::Static);
        let adapter = adapter(&factory, "/");
        let member = TestMember::new(4);
        adapter.add_socket(member.clone());
        adapter.join(member.id(), vec![Room::from("r")]);
        // Answered after the join, by the same supervisor.
        assert_eq!(adapter.local.rooms().await, vec![(Room::from("r"), 1)]);
        assert!(factory.link.handler("socket.io#/#r#").is_none());
        assert!(factory.link.handler("socket.io#/#").is_some());
        pool.stop();
    });
}

#[test]
fn another_servers_disconnect_reaches_the_selected_sockets() {
    actix_rt::System::new().block_on(async {
        let pool = Arc::new(ArbiterPool::new(1));
        let factory = unreachable(&pool, SubscriptionMode::Dynamic);
        let adapter = adapter(&factory, "/");
        let (a, b) = (TestMember::new(4), TestMember::new(4));
        adapter.add_socket(a.clone());
        adapter.add_socket(b.clone());
        let targets = Targets {
            rooms: vec![Room::from(a.id().as_str())],
            except: Vec::new(),
        };
        let body = ClusterBody::DisconnectSockets {
            targets,
            close: true,
        };
        arrive(&factory, "socket.io#/#", from("peer", "/", body));
        until("the disconnect", || a.disconnected() == Some(true)).await;
        assert_eq!(b.disconnected(), None);
        pool.stop();
    });
}

#[test]
fn without_redis_broadcasts_are_local_and_fetch_sockets_does_not_wait() {
    actix_rt::System::new().block_on(async {
        let pool = Arc::new(ArbiterPool::new(1));
        let factory = unreachable(&pool, SubscriptionMode::Dynamic);
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
        let all = Arc::new(Selector::default());
        let fetched = tokio::time::timeout(Duration::from_secs(4), adapter.fetch_sockets(all));
        let fetched = fetched.await.expect("no request without a server count");
        assert_eq!(fetched.len(), 1);
        let rendered = factory.metrics.render();
        assert!(
            rendered.contains("roomcast_cluster_publish_failures_total{reason=\"unavailable\"} 1"),
            "{rendered}"
        );
        pool.stop();
    });
}

#[test]
fn another_servers_broadcast_with_a_request_id_asks_this_servers_sockets_for_acks() {
    actix_rt::System::new().block_on(async {
        let pool = Arc::new(ArbiterPool::new(1));
        let factory = unreachable(&pool, SubscriptionMode::Dynamic);
        let adapter = adapter(&factory, "/");
        let member = TestMember::new(4);
        member.answer_with(Payload::new().arg("pong"));
        adapter.add_socket(member.clone());
        let asked = |uid: &str| {
            let ClusterBody::Broadcast {
                packet, targets, ..
            } = event("/", "q")
            else {
                unreachable!("event() makes a broadcast")
            };
            let flags = Flags {
                timeout: Some(500),
                ..Flags::default()
            };
            let request_id = Some("r1".to_owned());
            let body = ClusterBody::Broadcast {
                packet,
                targets,
                flags,
                request_id,
            };
            from(uid, "/", body)
        };
        let own = adapter.uid().to_owned();
        arrive(&factory, "socket.io#/#", asked(&own));
        arrive(&factory, "socket.io#/#", asked("peer"));
        until("the peer's question", || !member.asked().is_empty()).await;
        // Give this server's own request, handled first, every chance to show up too.
        actix_rt::time::sleep(Duration::from_millis(50)).await;
        let asked = member.asked();
        assert_eq!(asked.len(), 1, "only the other server's broadcast");
        assert_eq!(asked[0].0, "e");
        assert_eq!(
            member.delivered(),
            0,
            "asked with an ack id, not delivered plainly"
        );
        pool.stop();
    });
}

#[test]
fn another_servers_event_reaches_the_handler_with_a_reply_when_one_is_asked_for() {
    actix_rt::System::new().block_on(async {
        let pool = Arc::new(ArbiterPool::new(1));
        let factory = unreachable(&pool, SubscriptionMode::Dynamic);
        let adapter = adapter(&factory, "/");
        let seen = Arc::new(parking_lot::Mutex::new(Vec::new()));
        let log = seen.clone();
        adapter.on_server_event(Arc::new(move |e: crate::adapter::ServerEvent| {
            log.lock().push((e.event, e.args, e.ack.is_some()));
        }));
        let sse = |uid: &str, request_id: Option<&str>| {
            let body = ClusterBody::ServerSideEmit {
                packet: serde_json::json!(["hello", 1]),
                request_id: request_id.map(str::to_owned),
            };
            from(uid, "/", body)
        };
        let own = adapter.uid().to_owned();
        arrive(&factory, "socket.io#/#", sse(&own, Some("r0")));
        arrive(&factory, "socket.io#/#", sse("peer", Some("r1")));
        arrive(&factory, "socket.io#/#", sse("emitter", None));
        let one = vec![serde_json::json!(1)];
        let expected = vec![
            ("hello".to_owned(), one.clone(), true),
            ("hello".to_owned(), one, false),
        ];
        assert_eq!(*seen.lock(), expected);
        pool.stop();
    });
}

#[test]
fn without_redis_the_cluster_view_fails_fast_and_the_factory_says_so() {
    actix_rt::System::new().block_on(async {
        let pool = Arc::new(ArbiterPool::new(1));
        let concrete = unreachable(&pool, SubscriptionMode::Dynamic)
            .with_request_timeout(Duration::from_millis(1234));
        assert_eq!(
            concrete.settings.request_timeout,
            Duration::from_millis(1234)
        );
        concrete.start();
        let factory: &dyn AdapterFactory<TestMember> = &concrete;
        assert_eq!(
            factory.link_state(),
            crate::adapter::LinkState::Disconnected
        );
        assert_eq!(factory.node_id().map(|id| id.len()), Some(20));
        let adapter = factory.create("/");
        adapter.add_socket(TestMember::new(1));
        let quick = Duration::from_millis(500);
        let everyone = Arc::new(Selector::default());
        let remote = tokio::time::timeout(quick, adapter.remote_sockets(everyone.clone())).await;
        assert!(matches!(remote, Ok(Err(_))), "{remote:?}");
        let count = tokio::time::timeout(quick, adapter.server_count()).await;
        assert!(matches!(count, Ok(Err(_))), "{count:?}");
        let summary = tokio::time::timeout(quick, adapter.remote_summary()).await;
        assert!(matches!(summary, Ok(Err(_))), "{summary:?}");
        let others = tokio::time::timeout(quick, adapter.remote_count(everyone.clone())).await;
        assert_eq!(others.expect("no wait"), 0);
        let local = adapter.node_local().expect("a node-local part");
        assert_eq!(local.fetch_sockets(everyone).await.len(), 1);
        pool.stop();
    });
}
