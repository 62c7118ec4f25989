//! The overflow policy of a connection's outbound queue, and the small bookkeeping rules of
//! [`Conn`] (overlapping polls, pong deadlines), on connections built alone: no session actor, no
//! runtime.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::*;
use crate::protocol::ids::Sid;

/// A connection alone in `state`, its queue bounded by `frames` and `bytes`, and its metrics.
pub(super) fn conn_in(state: EngineState, frames: usize, bytes: usize) -> (Conn, Arc<Metrics>) {
    let metrics = Arc::new(Metrics::new());
    let bounds = QueueBounds { frames, bytes };
    (
        Conn::new(Sid::new(), state, bounds, metrics.clone()),
        metrics,
    )
}

/// A polling connection whose queue is bounded by `frames` and `bytes`.
fn polling(frames: usize, bytes: usize) -> Conn {
    conn_in(EngineState::Polling, frames, bytes).0
}

/// The message frame `4` + `text` (`text.len() + 1` bytes).
pub(super) fn msg(text: &str) -> Frame {
    Frame::message(text)
}

/// The value of the unlabelled counter `name` in the Prometheus text of `metrics`.
pub(super) fn counter(metrics: &Metrics, name: &str) -> u64 {
    let text = metrics.render();
    let prefix = format!("{name} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {name} in:\n{text}"))
        .trim()
        .parse()
        .expect("a counter value")
}

const DROPPED: &str = "roomcast_dropped_volatile_total";

#[test]
fn frames_bound_takes_up_to_capacity_then_overflows() {
    let conn = polling(2, usize::MAX);
    assert_eq!(conn.push(&[msg("a")], false), PushOutcome::Queued);
    assert_eq!(conn.push(&[msg("b")], false), PushOutcome::Queued);
    assert_eq!(conn.push(&[msg("c")], false), PushOutcome::Overflow);
    assert_eq!(conn.queued(), 2, "the overflowing push queued nothing");
}

#[test]
fn zero_bounds_still_take_one_frame() {
    let conn = polling(0, 0);
    assert_eq!(conn.push(&[msg("a")], false), PushOutcome::Queued);
    assert_eq!(conn.push(&[msg("b")], true), PushOutcome::DroppedVolatile);
}

#[test]
fn bytes_bound_counts_queued_bytes() {
    // Frames of 5 bytes ("4" + 4 characters) against a 10-byte bound.
    let conn = polling(100, 10);
    assert_eq!(conn.push(&[msg("aaaa")], true), PushOutcome::Queued);
    assert_eq!(
        conn.push(&[msg("bbbb")], true),
        PushOutcome::Queued,
        "exactly at the bound is within it"
    );
    assert_eq!(conn.push(&[msg("")], true), PushOutcome::DroppedVolatile);
    assert_eq!(conn.push(&[msg("")], false), PushOutcome::Overflow);
    assert_eq!(conn.queued(), 2);
}

#[test]
fn empty_queue_takes_a_push_of_any_size() {
    let conn = polling(100, 10);
    let big = Frame::Binary(Bytes::from(vec![7u8; 1000]));
    assert_eq!(conn.push(&[big.clone(), big], false), PushOutcome::Queued);
    assert_eq!(conn.queued(), 2);
    // Once the queue holds anything, the byte bound applies again.
    assert_eq!(conn.push(&[msg("")], true), PushOutcome::DroppedVolatile);
}

#[test]
fn empty_queue_exemption_does_not_lift_the_frames_bound() {
    let conn = polling(2, 10);
    let frames = [msg("a"), msg("b"), msg("c")];
    assert_eq!(conn.push(&frames, true), PushOutcome::DroppedVolatile);
    assert_eq!(conn.queued(), 0);
}

#[test]
fn multi_frame_push_is_all_or_none_on_frames() {
    let conn = polling(3, usize::MAX);
    assert_eq!(conn.push(&[msg("a")], false), PushOutcome::Queued);
    let three = [msg("b"), msg("c"), msg("d")];
    assert_eq!(conn.push(&three, true), PushOutcome::DroppedVolatile);
    assert_eq!(conn.queued(), 1, "no part of the dropped push is queued");
    assert_eq!(conn.push(&three[..2], true), PushOutcome::Queued);
    assert_eq!(conn.queued(), 3);
}

#[test]
fn multi_frame_push_is_all_or_none_on_bytes() {
    let conn = polling(100, 12);
    assert_eq!(conn.push(&[msg("aaaa")], false), PushOutcome::Queued);
    // 5 + 5 + 5 bytes would pass 12 even though the first of the two fits.
    let two = [msg("bbbb"), msg("cccc")];
    assert_eq!(conn.push(&two, false), PushOutcome::Overflow);
    assert_eq!(
        conn.queued(),
        1,
        "no part of the overflowing push is queued"
    );
}

#[test]
fn volatile_drop_is_counted_and_the_connection_stays_open() {
    let (conn, metrics) = conn_in(EngineState::Polling, 1, usize::MAX);
    assert_eq!(counter(&metrics, DROPPED), 0);
    assert_eq!(conn.push(&[msg("a")], false), PushOutcome::Queued);
    assert_eq!(conn.push(&[msg("b")], true), PushOutcome::DroppedVolatile);
    assert_eq!(counter(&metrics, DROPPED), 1);
    assert_eq!(conn.push(&[msg("c")], true), PushOutcome::DroppedVolatile);
    assert_eq!(counter(&metrics, DROPPED), 2);
    assert_eq!(conn.state(), EngineState::Polling);
    // Once the queue drains, pushes are taken again: nothing marked the connection.
    assert_eq!(conn.take_poll(), PollTake::Payload("4a".into()));
    assert_eq!(conn.push(&[msg("d")], false), PushOutcome::Queued);
}

#[test]
fn non_volatile_overflow_closes_every_later_push() {
    let (conn, metrics) = conn_in(EngineState::Polling, 1, usize::MAX);
    assert_eq!(conn.push(&[msg("a")], false), PushOutcome::Queued);
    assert_eq!(conn.push(&[msg("b")], false), PushOutcome::Overflow);
    assert_eq!(
        counter(&metrics, DROPPED),
        0,
        "an overflow is not a volatile drop"
    );
    // The queue still holds what it took; draining it does not reopen the connection.
    assert_eq!(conn.take_poll(), PollTake::Payload("4a".into()));
    assert_eq!(conn.push(&[msg("c")], false), PushOutcome::Closed);
    assert_eq!(conn.push(&[msg("d")], true), PushOutcome::Closed);
    assert_eq!(conn.push_one(Frame::ping()), PushOutcome::Closed);
    assert_eq!(conn.push_alone(&[msg("e")]), PushOutcome::Closed);
    assert_eq!(conn.queued(), 0);
    assert_eq!(counter(&metrics, DROPPED), 0);
}

#[test]
fn closed_connection_takes_no_push() {
    let conn = polling(10, usize::MAX);
    conn.update_state(|s| s.close(CloseReason::TransportClose));
    assert_eq!(conn.push(&[msg("a")], false), PushOutcome::Closed);
    assert_eq!(conn.push(&[msg("b")], true), PushOutcome::Closed);
    assert_eq!(conn.push_one(Frame::ping()), PushOutcome::Closed);
    assert_eq!(conn.push_alone(&[msg("c")]), PushOutcome::Closed);
    assert_eq!(conn.queued(), 0);
}

#[test]
fn poll_drain_frees_the_byte_budget() {
    let conn = polling(100, 10);
    assert_eq!(conn.push(&[msg("aaaaaaa")], false), PushOutcome::Queued);
    assert!(matches!(conn.take_poll(), PollTake::Payload(_)));
    assert_eq!(conn.push(&[msg("")], false), PushOutcome::Queued);
    // 1 + 8 bytes: within the bound only if the drained 8 bytes were let go.
    assert_eq!(conn.push(&[msg("bbbbbbb")], false), PushOutcome::Queued);
}

#[test]
fn partial_ws_take_frees_the_bytes_it_took() {
    let (conn, _) = conn_in(EngineState::WebSocket { ws: 1 }, 100, 10);
    assert_eq!(conn.push_alone(&[msg("aaaa")]), PushOutcome::Queued);
    assert_eq!(conn.push(&[msg("bbbb")], false), PushOutcome::Queued);
    let mut out = std::collections::VecDeque::new();
    assert_eq!(conn.take_ws(1, &mut out), WsTake::FramesAlone);
    assert_eq!(out, [msg("aaaa")]);
    // 5 left + 5 = 10: within the bound only if the 5 bytes taken were let go.
    assert_eq!(conn.push(&[msg("cccc")], false), PushOutcome::Queued);
    assert_eq!(conn.push(&[msg("")], true), PushOutcome::DroppedVolatile);
}

#[test]
fn overlapping_polls_and_posts_are_detected() {
    let conn = polling(10, usize::MAX);
    assert!(conn.begin_poll());
    assert!(!conn.begin_poll(), "a second GET while one is in flight");
    assert!(conn.begin_post(), "a POST is independent of the GET");
    assert!(!conn.begin_post(), "a second POST while one is in flight");
    conn.end_poll();
    conn.end_post();
    assert!(conn.begin_poll());
    assert!(conn.begin_post());
}

#[test]
fn pong_deadline_expires_at_and_after_it() {
    let conn = polling(10, usize::MAX);
    let now = Instant::now();
    assert!(
        !conn.is_expired(now + Duration::from_secs(3600)),
        "no ping out"
    );
    let due = now + Duration::from_secs(20);
    conn.set_pong_deadline(Some(due));
    assert!(!conn.is_expired(now));
    assert!(!conn.is_expired(due - Duration::from_millis(1)));
    assert!(conn.is_expired(due));
    assert!(conn.is_expired(due + Duration::from_secs(1)));
    conn.set_pong_deadline(None);
    assert!(
        !conn.is_expired(due + Duration::from_secs(1)),
        "the pong came"
    );
}

#[test]
fn a_polling_client_is_gone_once_no_get_began_or_ended_within_the_quiet_time() {
    let c = polling(8, 1 << 20);
    let quiet = Duration::from_secs(5);
    let now = Instant::now();
    assert!(
        !c.poll_abandoned(quiet, now),
        "a new session is not abandoned"
    );
    assert!(
        c.poll_abandoned(quiet, now + quiet),
        "no GET for the quiet time"
    );
    assert!(c.begin_poll());
    assert!(
        !c.poll_abandoned(quiet, now + quiet * 10),
        "a GET in flight"
    );
    c.end_poll();
    let ended = Instant::now();
    assert!(!c.poll_abandoned(quiet, ended + quiet / 2));
    assert!(c.poll_abandoned(quiet, ended + quiet));
}
