//! The waits on a connection ([`Conn::wait_for`], [`Conn::ws_gone`]) on tokio's paused clock: a
//! wait that is never woken fails its test at the 1 s timeout instead of hanging it.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::{sleep, timeout, Instant};

use super::tests::{conn_in, msg};
use super::*;

const NEVER: Duration = Duration::from_secs(1);

fn shared(state: EngineState) -> Arc<Conn> {
    Arc::new(conn_in(state, 100, usize::MAX).0)
}

/// What a polling GET waits for.
fn poll_answer(conn: &Conn) -> Option<PollTake> {
    match conn.take_poll() {
        PollTake::Wait => None,
        other => Some(other),
    }
}

/// Runs `f` on `conn` from another task, `after` from now.
fn later(conn: &Arc<Conn>, after: Duration, f: impl FnOnce(&Conn) + Send + 'static) {
    let conn = conn.clone();
    tokio::spawn(async move {
        sleep(after).await;
        f(&conn);
    });
}

#[tokio::test(start_paused = true)]
async fn wait_for_answers_at_once_when_ready() {
    let conn = shared(EngineState::Polling);
    conn.push(&[msg("a")], false);
    let start = Instant::now();
    let answer = timeout(NEVER, conn.wait_for(poll_answer)).await;
    assert_eq!(answer.expect("not woken"), PollTake::Payload("4a".into()));
    assert_eq!(start.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn wait_for_wakes_on_a_push_from_another_task() {
    let conn = shared(EngineState::Polling);
    let start = Instant::now();
    later(&conn, Duration::from_millis(10), |c| {
        c.push(&[msg("a")], false);
    });
    let answer = timeout(NEVER, conn.wait_for(poll_answer)).await;
    assert_eq!(answer.expect("not woken"), PollTake::Payload("4a".into()));
    assert_eq!(start.elapsed(), Duration::from_millis(10));
}

#[tokio::test(start_paused = true)]
async fn wait_for_wakes_on_a_state_change() {
    let conn = shared(EngineState::Polling);
    let start = Instant::now();
    later(&conn, Duration::from_millis(10), |c| {
        c.update_state(|s| s.close(CloseReason::TransportClose));
    });
    let answer = timeout(NEVER, conn.wait_for(poll_answer)).await;
    assert_eq!(answer.expect("not woken"), PollTake::Closed("6".into()));
    assert_eq!(start.elapsed(), Duration::from_millis(10));
}

#[tokio::test(start_paused = true)]
async fn candidate_writer_waits_until_the_upgrade_completes() {
    let conn = shared(EngineState::Polling);
    assert!(conn.update_state(|s| s.begin_upgrade(1)));
    conn.push(&[msg("a")], false);
    let start = Instant::now();
    later(&conn, Duration::from_millis(10), |c| {
        assert!(c.update_state(|s| s.probe(1)));
    });
    later(&conn, Duration::from_millis(30), |c| {
        assert!(c.update_state(|s| s.complete_upgrade(1)));
    });
    let ready = conn.wait_for(|c| {
        let ready = c.ws_ready(1);
        (ready != WsTake::Wait).then_some(ready)
    });
    assert_eq!(timeout(NEVER, ready).await, Ok(WsTake::Frames));
    assert_eq!(start.elapsed(), Duration::from_millis(30));
}

/// `ws_gone(ws)` on another task.
fn watch_gone(conn: &Arc<Conn>, ws: u64) -> JoinHandle<()> {
    let conn = conn.clone();
    tokio::spawn(async move { conn.ws_gone(ws).await })
}

/// Gives the watcher time to run, and tells whether it is still waiting.
async fn still_waiting(watch: &JoinHandle<()>) -> bool {
    sleep(Duration::from_millis(10)).await;
    !watch.is_finished()
}

#[tokio::test(start_paused = true)]
async fn ws_gone_resolves_when_the_upgrade_is_aborted() {
    let conn = shared(EngineState::Polling);
    assert!(conn.update_state(|s| s.begin_upgrade(1)));
    let watch = watch_gone(&conn, 1);
    assert!(still_waiting(&watch).await, "pending candidate");
    assert!(conn.update_state(|s| s.probe(1)));
    assert!(still_waiting(&watch).await, "probed candidate");
    conn.push(&[msg("a")], false);
    assert!(still_waiting(&watch).await, "a push is no reason to go");
    assert!(conn.update_state(|s| s.abort_upgrade(1)));
    timeout(NEVER, watch).await.expect("not woken").unwrap();
}

#[tokio::test(start_paused = true)]
async fn ws_gone_follows_the_socket_through_the_upgrade_until_the_close() {
    let conn = shared(EngineState::Polling);
    assert!(conn.update_state(|s| s.begin_upgrade(1)));
    let watch = watch_gone(&conn, 1);
    assert!(conn.update_state(|s| s.probe(1)));
    assert!(conn.update_state(|s| s.complete_upgrade(1)));
    assert!(still_waiting(&watch).await, "the active socket");
    assert!(conn.update_state(|s| s.close(CloseReason::PingTimeout)));
    timeout(NEVER, watch).await.expect("not woken").unwrap();
}

#[tokio::test(start_paused = true)]
async fn ws_gone_resolves_at_once_for_a_socket_that_carries_nothing() {
    let conn = shared(EngineState::WebSocket { ws: 2 });
    let start = Instant::now();
    timeout(NEVER, conn.ws_gone(1)).await.expect("not resolved");
    let polling = shared(EngineState::Polling);
    timeout(NEVER, polling.ws_gone(2))
        .await
        .expect("not resolved");
    assert_eq!(start.elapsed(), Duration::ZERO);
}
