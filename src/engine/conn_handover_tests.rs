//! Which transport drains a connection's queue, and what it gets: the polling GET's answers
//! ([`Conn::take_poll`]) and the WebSocket writer's ([`Conn::take_ws`], [`Conn::ws_ready`]) through
//! the upgrade and the close, on connections built alone.

use std::collections::VecDeque;

use bytes::Bytes;

use super::tests::{conn_in, counter, msg};
use super::*;

fn conn(state: EngineState) -> Conn {
    conn_in(state, 100, usize::MAX).0
}

/// Moves `conn` from polling to the WebSocket `ws`, as the transport does, checking each step.
fn upgrade(conn: &Conn, ws: u64) {
    assert!(conn.update_state(|s| s.begin_upgrade(ws)));
    assert!(conn.update_state(|s| s.probe(ws)));
    assert!(conn.update_state(|s| s.complete_upgrade(ws)));
}

fn close(conn: &Conn, reason: CloseReason) {
    assert!(conn.update_state(|s| s.close(reason)));
}

/// Pushes one message frame per text, each as its own push.
fn push_all(conn: &Conn, texts: &[&str]) {
    for text in texts {
        assert_eq!(conn.push(&[msg(text)], false), PushOutcome::Queued);
    }
}

fn frames(texts: &[&str]) -> VecDeque<Frame> {
    texts.iter().map(|t| msg(t)).collect()
}

#[test]
fn poll_drains_in_order_as_one_payload() {
    let (conn, metrics) = conn_in(EngineState::Polling, 100, usize::MAX);
    assert_eq!(conn.take_poll(), PollTake::Wait, "nothing queued: park");
    push_all(&conn, &["a", "b"]);
    conn.push_one(Frame::ping());
    let binary = Frame::Binary(Bytes::from_static(&[1, 2, 3]));
    assert_eq!(conn.push(&[binary, msg("c")], false), PushOutcome::Queued);
    assert_eq!(
        conn.take_poll(),
        PollTake::Payload("4a\u{1e}4b\u{1e}2\u{1e}bAQID\u{1e}4c".into())
    );
    assert_eq!(conn.queued(), 0);
    assert_eq!(conn.take_poll(), PollTake::Wait, "drained: park again");
    assert_eq!(counter(&metrics, "roomcast_packets_out_total"), 5);
}

#[test]
fn poll_still_drains_while_the_upgrade_awaits_its_probe() {
    let conn = conn(EngineState::Polling);
    assert!(conn.update_state(|s| s.begin_upgrade(1)));
    assert_eq!(conn.take_poll(), PollTake::Wait);
    push_all(&conn, &["a"]);
    assert_eq!(conn.take_poll(), PollTake::Payload("4a".into()));
}

#[test]
fn poll_during_upgrade_is_released_and_drains_nothing() {
    let conn = conn(EngineState::Polling);
    assert!(conn.update_state(|s| s.begin_upgrade(1)));
    assert!(conn.update_state(|s| s.probe(1)));
    push_all(&conn, &["a"]);
    assert_eq!(conn.take_poll(), PollTake::Upgrading);
    assert_eq!(conn.queued(), 1, "the packet stays for the WebSocket");
    assert!(conn.update_state(|s| s.complete_upgrade(1)));
    assert_eq!(conn.take_poll(), PollTake::Upgraded);
    assert_eq!(conn.queued(), 1, "the packet stays for the WebSocket");
}

#[test]
fn poll_after_aborted_upgrade_drains_again() {
    let conn = conn(EngineState::Polling);
    assert!(conn.update_state(|s| s.begin_upgrade(1)));
    assert!(conn.update_state(|s| s.probe(1)));
    push_all(&conn, &["a"]);
    assert!(conn.update_state(|s| s.abort_upgrade(1)));
    assert_eq!(conn.take_poll(), PollTake::Payload("4a".into()));
}

#[test]
fn flushing_close_hands_the_queue_to_the_poll_before_the_close_packet() {
    let reasons = [
        CloseReason::ForcedClose,
        CloseReason::ForcedServerClose,
        CloseReason::ServerShuttingDown,
    ];
    for reason in reasons {
        let conn = conn(EngineState::Polling);
        push_all(&conn, &["a", "b"]);
        close(&conn, reason);
        assert_eq!(
            conn.take_poll(),
            PollTake::Payload("4a\u{1e}4b".into()),
            "{reason}: the queued packets first"
        );
        assert_eq!(conn.take_poll(), PollTake::Closed("1".into()), "{reason}");
        assert_eq!(conn.take_poll(), PollTake::Closed("1".into()), "{reason}");
    }
}

#[test]
fn flushing_close_with_nothing_queued_answers_the_close_packet() {
    let conn = conn(EngineState::Polling);
    close(&conn, CloseReason::ForcedClose);
    assert_eq!(conn.take_poll(), PollTake::Closed("1".into()));
}

#[test]
fn client_close_releases_the_poll_with_a_noop_and_discards_the_queue() {
    let conn = conn(EngineState::Polling);
    push_all(&conn, &["a", "b"]);
    close(&conn, CloseReason::TransportClose);
    assert_eq!(conn.take_poll(), PollTake::Closed("6".into()));
    assert_eq!(conn.queued(), 0);
}

#[test]
fn other_closes_discard_the_queue_and_answer_the_close_packet() {
    let reasons = [
        CloseReason::TransportError,
        CloseReason::PingTimeout,
        CloseReason::ParseError,
        CloseReason::SlowConsumer,
    ];
    for reason in reasons {
        let conn = conn(EngineState::Polling);
        push_all(&conn, &["a"]);
        close(&conn, reason);
        assert_eq!(conn.take_poll(), PollTake::Closed("1".into()), "{reason}");
        assert_eq!(conn.queued(), 0, "{reason}");
    }
}

#[test]
fn packets_queued_during_the_upgrade_reach_the_websocket_in_order() {
    let conn = conn(EngineState::Polling);
    let mut out = VecDeque::new();
    assert!(conn.update_state(|s| s.begin_upgrade(1)));
    push_all(&conn, &["a"]);
    assert_eq!(conn.take_ws(1, &mut out), WsTake::Wait, "pending candidate");
    assert_eq!(conn.ws_ready(1), WsTake::Wait);
    assert!(conn.update_state(|s| s.probe(1)));
    push_all(&conn, &["b"]);
    assert_eq!(conn.take_ws(1, &mut out), WsTake::Wait, "probed candidate");
    assert_eq!(conn.ws_ready(1), WsTake::Wait);
    assert!(out.is_empty() && conn.queued() == 2);
    assert!(conn.update_state(|s| s.complete_upgrade(1)));
    push_all(&conn, &["c"]);
    assert_eq!(conn.ws_ready(1), WsTake::Frames);
    assert_eq!(conn.take_ws(1, &mut out), WsTake::Frames);
    assert_eq!(out, frames(&["a", "b", "c"]));
    assert_eq!(conn.take_ws(1, &mut VecDeque::new()), WsTake::Wait);
    assert_eq!(conn.ws_ready(1), WsTake::Wait);
}

#[test]
fn packets_polled_before_the_probe_are_not_sent_again_on_the_websocket() {
    let conn = conn(EngineState::Polling);
    assert!(conn.update_state(|s| s.begin_upgrade(1)));
    push_all(&conn, &["a"]);
    assert_eq!(conn.take_poll(), PollTake::Payload("4a".into()));
    push_all(&conn, &["b"]);
    assert!(conn.update_state(|s| s.probe(1)));
    assert!(conn.update_state(|s| s.complete_upgrade(1)));
    let mut out = VecDeque::new();
    assert_eq!(conn.take_ws(1, &mut out), WsTake::Frames);
    assert_eq!(out, frames(&["b"]));
}

#[test]
fn only_the_candidate_or_active_generation_may_write() {
    let conn = conn(EngineState::Polling);
    push_all(&conn, &["a"]);
    let mut out = VecDeque::new();
    assert_eq!(
        conn.take_ws(1, &mut out),
        WsTake::Finish,
        "no upgrade under way"
    );
    assert_eq!(conn.ws_ready(1), WsTake::Finish);
    assert!(conn.update_state(|s| s.begin_upgrade(1)));
    assert_eq!(
        conn.take_ws(2, &mut out),
        WsTake::Finish,
        "not the candidate"
    );
    assert_eq!(conn.ws_ready(2), WsTake::Finish);
    assert!(conn.update_state(|s| s.probe(1)));
    assert_eq!(
        conn.take_ws(2, &mut out),
        WsTake::Finish,
        "not the candidate"
    );
    assert!(conn.update_state(|s| s.complete_upgrade(1)));
    assert_eq!(
        conn.take_ws(2, &mut out),
        WsTake::Finish,
        "not the active one"
    );
    assert_eq!(conn.ws_ready(2), WsTake::Finish);
    assert!(out.is_empty() && conn.queued() == 1, "nothing moved");
}

#[test]
fn after_close_only_the_active_websocket_flushes() {
    for reason in [CloseReason::ForcedClose, CloseReason::PingTimeout] {
        let conn = conn(EngineState::Polling);
        upgrade(&conn, 3);
        push_all(&conn, &["a", "b"]);
        close(&conn, reason);
        let mut other = VecDeque::new();
        assert_eq!(conn.ws_ready(2), WsTake::Finish, "{reason}");
        assert_eq!(conn.take_ws(2, &mut other), WsTake::Finish, "{reason}");
        assert!(other.is_empty(), "{reason}: an old socket flushes nothing");
        assert_eq!(conn.ws_ready(3), WsTake::Finish, "{reason}");
        let mut out = VecDeque::new();
        assert_eq!(conn.take_ws(3, &mut out), WsTake::Finish, "{reason}");
        assert_eq!(out, frames(&["a", "b"]), "{reason}");
    }
}

#[test]
fn websocket_opened_directly_flushes_on_close() {
    let conn = conn(EngineState::WebSocket { ws: 5 });
    push_all(&conn, &["a"]);
    close(&conn, CloseReason::ServerShuttingDown);
    let mut out = VecDeque::new();
    assert_eq!(conn.take_ws(5, &mut out), WsTake::Finish);
    assert_eq!(out, frames(&["a"]));
}

#[test]
fn slow_consumer_websocket_flushes_nothing() {
    let conn = conn(EngineState::WebSocket { ws: 1 });
    push_all(&conn, &["a"]);
    close(&conn, CloseReason::SlowConsumer);
    let mut out = VecDeque::new();
    assert_eq!(conn.take_ws(1, &mut out), WsTake::Finish);
    assert!(out.is_empty());
}

#[test]
fn candidate_that_never_took_over_flushes_nothing_on_close() {
    let conn = conn(EngineState::Polling);
    assert!(conn.update_state(|s| s.begin_upgrade(1)));
    assert!(conn.update_state(|s| s.probe(1)));
    push_all(&conn, &["a"]);
    close(&conn, CloseReason::ForcedClose);
    let mut out = VecDeque::new();
    assert_eq!(conn.take_ws(1, &mut out), WsTake::Finish);
    assert!(out.is_empty());
    assert_eq!(
        conn.take_poll(),
        PollTake::Payload("4a".into()),
        "polling has it"
    );
}

#[test]
fn push_alone_ends_a_write_at_its_boundary() {
    let conn = conn(EngineState::WebSocket { ws: 1 });
    push_all(&conn, &["a"]);
    assert_eq!(conn.push_alone(&[msg("b")]), PushOutcome::Queued);
    push_all(&conn, &["c", "d"]);
    let mut out = VecDeque::new();
    assert_eq!(conn.take_ws(1, &mut out), WsTake::FramesAlone);
    assert_eq!(
        out,
        frames(&["a", "b"]),
        "up to the boundary, with what came before"
    );
    let mut rest = VecDeque::new();
    assert_eq!(conn.take_ws(1, &mut rest), WsTake::Frames);
    assert_eq!(rest, frames(&["c", "d"]));
}

#[test]
fn push_alone_with_nothing_after_it_is_an_ordinary_write() {
    let conn = conn(EngineState::WebSocket { ws: 1 });
    assert_eq!(conn.push_alone(&[msg("a")]), PushOutcome::Queued);
    let mut out = VecDeque::new();
    assert_eq!(conn.take_ws(1, &mut out), WsTake::Frames);
    assert_eq!(out, frames(&["a"]));
    // The boundary is spent: the next writes are ordinary.
    push_all(&conn, &["b", "c"]);
    let mut next = VecDeque::new();
    assert_eq!(conn.take_ws(1, &mut next), WsTake::Frames);
    assert_eq!(next, frames(&["b", "c"]));
}

#[test]
fn poll_drain_clears_the_write_boundary() {
    let conn = conn(EngineState::Polling);
    assert_eq!(conn.push_alone(&[msg("a")]), PushOutcome::Queued);
    push_all(&conn, &["b"]);
    assert_eq!(conn.take_poll(), PollTake::Payload("4a\u{1e}4b".into()));
    upgrade(&conn, 1);
    push_all(&conn, &["c", "d"]);
    let mut out = VecDeque::new();
    assert_eq!(conn.take_ws(1, &mut out), WsTake::Frames);
    assert_eq!(
        out,
        frames(&["c", "d"]),
        "no boundary left from the polled frames"
    );
}

/// The rule `push_alone` documents ("what is pushed afterwards waits for the next write") for two
/// boundaries queued before the writer runs (two namespace CONNECT replies, say). It does not hold:
/// `Conn` keeps one boundary, which the second `push_alone` moves, so `a` leaves with `b` and `c`.
#[test]
fn second_push_alone_keeps_the_first_boundary() {
    let conn = conn(EngineState::WebSocket { ws: 1 });
    assert_eq!(conn.push_alone(&[msg("a")]), PushOutcome::Queued);
    push_all(&conn, &["b"]);
    assert_eq!(conn.push_alone(&[msg("c")]), PushOutcome::Queued);
    push_all(&conn, &["d"]);
    let mut out = VecDeque::new();
    assert_eq!(conn.take_ws(1, &mut out), WsTake::FramesAlone);
    assert_eq!(out, frames(&["a"]), "b was pushed after a's boundary");
    out.clear();
    assert_eq!(conn.take_ws(1, &mut out), WsTake::FramesAlone);
    assert_eq!(
        out,
        frames(&["b", "c"]),
        "c's write holds what came before it"
    );
    out.clear();
    assert_eq!(conn.take_ws(1, &mut out), WsTake::Frames);
    assert_eq!(out, frames(&["d"]));
}
