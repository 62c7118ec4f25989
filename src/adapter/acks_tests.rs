//! A broadcast with acknowledgements on one node: every selected member is asked, and the
//! collection ends when all replied, or at the timeout with the replies that came.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use super::*;
use crate::adapter::local::{ArbiterPool, LocalAdapter};
use crate::adapter::{Adapter, BroadcastMessage, BroadcastOptions};
use crate::metrics::Metrics;
use crate::protocol::socketio::Parser;
use crate::room::test_member::TestMember;

fn message(payload: Payload) -> BroadcastMessage {
    BroadcastMessage::event(
        Parser::Default,
        "/",
        "poll",
        payload,
        BroadcastOptions::default(),
    )
}

#[test]
fn every_local_recipient_is_asked_and_the_collection_ends_with_the_last_reply() {
    actix_rt::System::new().block_on(async {
        let pool = ArbiterPool::new(2);
        let adapter: LocalAdapter<TestMember> =
            LocalAdapter::new(&pool.handles(), &Arc::new(Metrics::new()));
        let members: Vec<TestMember> = (0..3).map(|_| TestMember::new(1)).collect();
        for (i, m) in members.iter().enumerate() {
            m.answer_with(Payload::new().arg(i));
            adapter.add_socket(m.clone());
        }
        let started = Instant::now();
        let payload = Payload::new().arg("q").bin(vec![5u8]);
        let got = adapter
            .broadcast_with_ack(message(payload.clone()), Duration::from_secs(5))
            .await;
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "not at the timeout"
        );
        assert_eq!(
            (got.expected, got.replies.len(), got.timed_out),
            (3, 3, false)
        );
        let mut from: Vec<_> = got.replies.iter().map(|r| r.socket).collect();
        let mut ids: Vec<_> = members.iter().map(|m| Some(m.id())).collect();
        from.sort();
        ids.sort();
        assert_eq!(from, ids, "each reply names its socket");
        assert_eq!(members[0].asked(), vec![("poll".to_owned(), payload)]);
        pool.stop();
    });
}

#[test]
fn a_recipient_that_never_replies_ends_the_collection_at_the_timeout() {
    actix_rt::System::new().block_on(async {
        let pool = ArbiterPool::new(1);
        let adapter: LocalAdapter<TestMember> =
            LocalAdapter::new(&pool.handles(), &Arc::new(Metrics::new()));
        let (quick, silent) = (TestMember::new(1), TestMember::new(1));
        quick.answer_with(Payload::new().arg(json!({"ok": true})));
        adapter.add_socket(quick.clone());
        adapter.add_socket(silent.clone());
        let started = Instant::now();
        let got = adapter
            .broadcast_with_ack(message(Payload::new()), Duration::from_millis(200))
            .await;
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(200), "{took:?}");
        assert!(took < Duration::from_secs(2), "{took:?}");
        assert_eq!(
            (got.expected, got.replies.len(), got.timed_out),
            (2, 1, true)
        );
        assert_eq!(got.replies[0].socket, Some(quick.id()));
        assert_eq!(silent.asked().len(), 1, "it was asked");
        pool.stop();
    });
}

#[test]
fn data_without_an_event_name_is_not_an_event() {
    assert_eq!(split_event(Some(&json!([1, 2])), &[]), None);
    assert_eq!(split_event(None, &[]), None);
    let (event, payload) = split_event(Some(&json!(["e", 1])), &[]).expect("an event");
    assert_eq!((event.as_str(), payload.args), ("e", vec![json!(1)]));
}

#[test]
fn collections_of_several_namespaces_add_up() {
    let a = AckReplies {
        expected: 2,
        replies: vec![AckReply {
            socket: None,
            payload: Payload::new(),
        }],
        timed_out: false,
    };
    let b = AckReplies {
        expected: 1,
        replies: Vec::new(),
        timed_out: true,
    };
    let all = a.merge(b);
    assert_eq!(
        (all.expected, all.replies.len(), all.timed_out),
        (3, 1, true)
    );
    let replies = ServerReplies {
        expected: 2,
        replies: vec![json!(1)],
    };
    assert!(replies.timed_out());
}
