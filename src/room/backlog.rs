//! The fan-out backlog of a namespace's room supervisors: broadcasts handed to them and not yet
//! handled. A socket whose client publishes while the backlog is past [`BACKLOG_HIGH`] waits until
//! it is down to [`BACKLOG_LOW`] (the gap between the marks keeps publishers from stopping and
//! starting at every packet); the supervisors signal the crossing of the low mark, so nobody polls.
//!
//! Each broadcast message carries a [`BacklogTicket`]: the count goes down when a supervisor takes
//! the message, and also when the message is dropped unhandled (a stopped supervisor drops its
//! mailbox, a send to it fails), so a waiting publisher is never left waiting on a supervisor that
//! is gone.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::Notify;

/// Past this many pending broadcasts a publishing socket waits...
pub const BACKLOG_HIGH: usize = 4096;
/// ...until they are down to this many.
pub const BACKLOG_LOW: usize = 1024;

/// Broadcasts sent to a namespace's room supervisors and not yet handled.
#[derive(Debug, Default)]
pub struct Backlog {
    pending: AtomicUsize,
    /// Notified each time `pending` comes down to [`BACKLOG_LOW`].
    low: Notify,
}

impl Backlog {
    /// Counts one more broadcast until the returned ticket is dropped.
    pub fn ticket(self: &Arc<Self>) -> BacklogTicket {
        self.pending.fetch_add(1, Ordering::AcqRel);
        BacklogTicket(self.clone())
    }

    /// Broadcasts pending now.
    pub fn len(&self) -> usize {
        self.pending.load(Ordering::Acquire)
    }

    /// True with nothing pending.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether publishers should wait (the backlog is past [`BACKLOG_HIGH`]).
    pub fn over_high(&self) -> bool {
        self.len() > BACKLOG_HIGH
    }

    /// Resolves once the backlog is at or below [`BACKLOG_LOW`].
    pub async fn drained(&self) {
        loop {
            let crossed = self.low.notified();
            tokio::pin!(crossed);
            // Registered before the check: a crossing between the check and the wait still wakes.
            crossed.as_mut().enable();
            if self.len() <= BACKLOG_LOW {
                return;
            }
            crossed.await;
        }
    }
}

/// One pending broadcast of a [`Backlog`], counted off when dropped.
#[derive(Debug)]
pub struct BacklogTicket(Arc<Backlog>);

impl Drop for BacklogTicket {
    fn drop(&mut self) {
        // Counts go down one at a time, so every fall to the low mark passes exactly here.
        if self.0.pending.fetch_sub(1, Ordering::AcqRel) == BACKLOG_LOW + 1 {
            self.0.low.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn publishers_wait_from_the_high_mark_down_to_the_low_one() {
        actix_rt::System::new().block_on(async {
            let backlog = Arc::new(Backlog::default());
            let mut tickets: Vec<_> = (0..=BACKLOG_HIGH).map(|_| backlog.ticket()).collect();
            assert!(backlog.over_high());
            let waiter = {
                let backlog = backlog.clone();
                actix_rt::spawn(async move { backlog.drained().await })
            };
            tickets.truncate(BACKLOG_LOW + 1);
            assert!(!backlog.over_high(), "below the high mark...");
            actix_rt::time::sleep(Duration::from_millis(20)).await;
            assert!(!waiter.is_finished(), "...but still above the low one");
            tickets.pop();
            tokio::time::timeout(Duration::from_secs(5), waiter)
                .await
                .expect("woken at the low mark")
                .expect("waiter ran");
            assert_eq!(backlog.len(), BACKLOG_LOW);
            drop(tickets);
            assert!(backlog.is_empty());
            backlog.drained().await; // already low: returns at once
        });
    }
}
