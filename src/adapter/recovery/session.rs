//! What connection state recovery keeps of a socket that left, what a recovery gives back, and
//! why one is refused.

use serde_json::Value;

use crate::protocol::ids::Sid;
use crate::room::Room;

/// What a socket that left keeps for its client to recover.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionState {
    /// Its id (the client gets it back).
    pub sid: Sid,
    /// Its private session id, which the client presents.
    pub pid: Sid,
    /// Its namespace.
    pub nsp: String,
    /// Its named rooms (its own id room is implied).
    pub rooms: Vec<Room>,
    /// Its `data`.
    pub data: Value,
}

/// A session found again, with where its client left the namespace's log.
#[derive(Debug, Clone, PartialEq)]
pub struct Restored {
    /// The session.
    pub session: SessionState,
    /// The sequence number of the last packet the client had; everything after it that selects
    /// the session is what it missed (node-local store).
    pub after: u64,
    /// The packets it missed, encoded, when the store read them with the session (a Redis
    /// stream); empty for the node-local store, which finds them by `after`.
    pub missed: Vec<std::sync::Arc<[crate::protocol::engineio::Frame]>>,
    /// The last stream entry `missed` accounts for (`<ms>`, `<seq>`), when read from a Redis
    /// stream: what this node delivered after it is the rest.
    pub through: Option<(u64, u64)>,
}

/// Why a recovery was refused (counted in metrics by [`Refusal::as_str`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No such session (never was, expired, evicted, or recovered already).
    UnknownSession,
    /// The session belongs to another namespace.
    OtherNamespace,
    /// The offset is not one this store gave.
    BadOffset,
    /// Packets after the offset were evicted or have expired.
    RangeGone,
    /// The store could not be asked (Redis unreachable).
    Unavailable,
    /// The kept session could not be read (another server wrote something else).
    Damaged,
}

impl Refusal {
    /// A short label.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::UnknownSession => "unknown_session",
            Refusal::OtherNamespace => "other_namespace",
            Refusal::BadOffset => "bad_offset",
            Refusal::RangeGone => "range_gone",
            Refusal::Unavailable => "unavailable",
            Refusal::Damaged => "damaged_session",
        }
    }
}

/// How long a CONNECT naming a session that is not kept (yet) asks again, step by step, before it is
/// refused: its client may have seen the loss of its old connection (a reset) before this server
/// did, and reconnected while its old socket is still leaving, so the session is kept a moment
/// later (on this node, or in Redis by another). 635 ms in all; a client whose session really is
/// gone (expired, evicted, forged) gets its new session that much later.
pub const LATE_SESSION_STEPS_MS: [u64; 7] = [5, 10, 20, 40, 80, 160, 320];

/// Runs `attempt` and, while it answers [`Refusal::UnknownSession`], again after each of
/// [`LATE_SESSION_STEPS_MS`]; the last answer stands.
pub async fn with_late_session_grace<T, F, Fut>(mut attempt: F) -> Result<T, Refusal>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, Refusal>>,
{
    let mut answer = attempt().await;
    for step in LATE_SESSION_STEPS_MS {
        if !matches!(answer, Err(Refusal::UnknownSession)) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(step)).await;
        answer = attempt().await;
    }
    answer
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    async fn attempts(answers: &[Result<u8, Refusal>]) -> (Result<u8, Refusal>, usize) {
        let n = Cell::new(0);
        let answer = with_late_session_grace(|| {
            let i = n.get();
            n.set(i + 1);
            std::future::ready(answers[i.min(answers.len() - 1)])
        })
        .await;
        (answer, n.get())
    }

    #[tokio::test(start_paused = true)]
    async fn an_unknown_session_is_asked_for_again_until_it_is_kept_or_the_grace_ends() {
        use Refusal::*;
        let late = [Err(UnknownSession), Err(UnknownSession), Ok(7)];
        assert_eq!(attempts(&late).await, (Ok(7), 3));
        let started = tokio::time::Instant::now();
        let never = [Err(UnknownSession)];
        assert_eq!(attempts(&never).await, (Err(UnknownSession), 8));
        let grace: u64 = LATE_SESSION_STEPS_MS.iter().sum();
        assert_eq!(started.elapsed().as_millis() as u64, grace);
        for other in [BadOffset, RangeGone, OtherNamespace, Unavailable] {
            assert_eq!(attempts(&[Err(other)]).await, (Err(other), 1), "{other:?}");
        }
    }
}
