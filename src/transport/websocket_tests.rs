//! The WebSocket writer's batches ([`next_batch`]) on tokio's paused clock: write coalescing
//! (`write_delay`), the gap after a [`Conn::push_alone`] boundary, and the close, on a connection
//! built alone. A batch that never comes fails its test at the 1 s timeout instead of hanging it.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::{sleep, timeout, Instant};

use super::*;
use crate::engine::{PushOutcome, QueueBounds};
use crate::metrics::Metrics;
use crate::protocol::ids::Sid;

const NEVER: Duration = Duration::from_secs(1);
const WINDOW: Duration = Duration::from_millis(50);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn conn(state: EngineState) -> Arc<Conn> {
    let bounds = QueueBounds {
        frames: 100,
        bytes: usize::MAX,
    };
    Arc::new(Conn::new(
        Sid::new(),
        state,
        bounds,
        Arc::new(Metrics::new()),
    ))
}

fn push(conn: &Conn, text: &str) {
    assert_eq!(
        conn.push(&[Frame::message(text)], false),
        PushOutcome::Queued
    );
}

/// Pushes `text` from another task, `after` from now.
fn push_later(conn: &Arc<Conn>, after: Duration, text: &'static str) {
    let conn = conn.clone();
    tokio::spawn(async move {
        sleep(after).await;
        push(&conn, text);
    });
}

/// The writer of WebSocket 1: its pacing, and the clock its batches are timed from.
struct Writer {
    pacing: WritePacing,
    start: Instant,
}

impl Writer {
    fn new(delay: Duration) -> Self {
        Writer {
            pacing: WritePacing::new(delay),
            start: Instant::now(),
        }
    }

    /// The next batch: what `next_batch` said, the texts it moved, and when (since `start`).
    async fn next(&mut self, conn: &Conn) -> (WsTake, Vec<String>, Duration) {
        let mut buf = VecDeque::new();
        let take = timeout(NEVER, next_batch(conn, 1, &mut buf, &mut self.pacing))
            .await
            .expect("no batch came");
        let texts = buf
            .iter()
            .map(|f| match f {
                Frame::Text(t) => t.to_string(),
                Frame::Binary(_) => "binary".to_owned(),
            })
            .collect();
        (take, texts, self.start.elapsed())
    }
}

fn sent(texts: &[&str]) -> Vec<String> {
    texts.iter().map(|t| format!("4{t}")).collect()
}

#[tokio::test(start_paused = true)]
async fn first_packet_after_a_quiet_period_goes_at_once() {
    let conn = conn(EngineState::WebSocket { ws: 1 });
    let mut writer = Writer::new(WINDOW);
    push(&conn, "a");
    assert_eq!(
        writer.next(&conn).await,
        (WsTake::Frames, sent(&["a"]), ms(0))
    );
    sleep(ms(60)).await;
    push(&conn, "b");
    assert_eq!(
        writer.next(&conn).await,
        (WsTake::Frames, sent(&["b"]), ms(60)),
        "quiet for longer than the window"
    );
}

#[tokio::test(start_paused = true)]
async fn idle_writer_writes_a_packet_the_moment_it_arrives() {
    let conn = conn(EngineState::WebSocket { ws: 1 });
    let mut writer = Writer::new(WINDOW);
    push_later(&conn, ms(30), "a");
    assert_eq!(
        writer.next(&conn).await,
        (WsTake::Frames, sent(&["a"]), ms(30))
    );
}

#[tokio::test(start_paused = true)]
async fn burst_right_after_a_write_waits_for_the_window_as_one_batch() {
    let conn = conn(EngineState::WebSocket { ws: 1 });
    let mut writer = Writer::new(WINDOW);
    push(&conn, "a");
    assert_eq!(writer.next(&conn).await.2, ms(0));
    push(&conn, "b");
    push_later(&conn, ms(20), "c");
    push_later(&conn, ms(49), "d");
    assert_eq!(
        writer.next(&conn).await,
        (WsTake::Frames, sent(&["b", "c", "d"]), ms(50))
    );
    // A packet 10 ms after that write opens a window of its own.
    push_later(&conn, ms(10), "e");
    assert_eq!(
        writer.next(&conn).await,
        (WsTake::Frames, sent(&["e"]), ms(110))
    );
}

#[tokio::test(start_paused = true)]
async fn interrupted_window_resumes_with_its_deadline() {
    let conn = conn(EngineState::WebSocket { ws: 1 });
    let mut writer = Writer::new(WINDOW);
    push(&conn, "a");
    writer.next(&conn).await;
    push(&conn, "b");
    let mut buf = VecDeque::new();
    let cut = timeout(ms(20), next_batch(&conn, 1, &mut buf, &mut writer.pacing)).await;
    assert!(
        cut.is_err() && buf.is_empty(),
        "still in the window at 20 ms"
    );
    assert_eq!(
        writer.next(&conn).await,
        (WsTake::Frames, sent(&["b"]), ms(50)),
        "the window that opened at 0 ms, not a new one"
    );
}

#[tokio::test(start_paused = true)]
async fn write_after_a_boundary_waits_the_gap() {
    let conn = conn(EngineState::WebSocket { ws: 1 });
    let mut writer = Writer::new(Duration::ZERO);
    assert_eq!(conn.push_alone(&[Frame::message("a")]), PushOutcome::Queued);
    push(&conn, "b");
    assert_eq!(
        writer.next(&conn).await,
        (WsTake::FramesAlone, sent(&["a"]), ms(0))
    );
    assert_eq!(
        writer.next(&conn).await,
        (WsTake::Frames, sent(&["b"]), BOUNDARY_GAP)
    );
    push(&conn, "c");
    assert_eq!(
        writer.next(&conn).await,
        (WsTake::Frames, sent(&["c"]), BOUNDARY_GAP),
        "the gap is paid once"
    );
}

#[tokio::test(start_paused = true)]
async fn boundary_gap_applies_with_write_coalescing_too() {
    let conn = conn(EngineState::WebSocket { ws: 1 });
    let mut writer = Writer::new(WINDOW);
    assert_eq!(conn.push_alone(&[Frame::message("a")]), PushOutcome::Queued);
    push(&conn, "b");
    assert_eq!(
        writer.next(&conn).await,
        (WsTake::FramesAlone, sent(&["a"]), ms(0))
    );
    assert_eq!(
        writer.next(&conn).await,
        (WsTake::Frames, sent(&["b"]), BOUNDARY_GAP)
    );
}

#[tokio::test(start_paused = true)]
async fn close_is_not_held_by_the_window() {
    let conn = conn(EngineState::WebSocket { ws: 1 });
    let mut writer = Writer::new(WINDOW);
    push(&conn, "a");
    writer.next(&conn).await;
    push(&conn, "b");
    assert!(conn.update_state(|s| s.close(CloseReason::ForcedClose)));
    assert_eq!(
        writer.next(&conn).await,
        (WsTake::Finish, sent(&["b"]), ms(0)),
        "what is left is flushed at once"
    );
}

#[tokio::test(start_paused = true)]
async fn candidate_writes_what_was_queued_once_the_upgrade_completes() {
    let conn = conn(EngineState::Polling);
    let mut writer = Writer::new(WINDOW);
    assert!(conn.update_state(|s| s.begin_upgrade(1)));
    push(&conn, "a");
    let upgrade = conn.clone();
    tokio::spawn(async move {
        sleep(ms(10)).await;
        assert!(upgrade.update_state(|s| s.probe(1)));
        push(&upgrade, "b");
        sleep(ms(10)).await;
        assert!(upgrade.update_state(|s| s.complete_upgrade(1)));
    });
    assert_eq!(
        writer.next(&conn).await,
        (WsTake::Frames, sent(&["a", "b"]), ms(20))
    );
}
