//! The options of the recovery scenarios (flattened into `compare`'s).

use clap::Args;
use serde::Serialize;

/// The options of `jitter` and `avalanche`.
#[derive(Args, Clone, Debug, Serialize)]
pub struct RecoveryArgs {
    /// jitter, avalanche: the variants of each selected server to run: `plain` (recovery off),
    /// `csr` (connection state recovery on), `cluster+csr` (two nodes over a Redis stream with
    /// recovery on; jitter only).
    #[arg(long, value_delimiter = ',', default_value = "plain,csr,cluster+csr")]
    pub recovery_variants: Vec<String>,
    /// jitter: subscribers (subscriber i in room i mod --jitter-rooms).
    #[arg(long, default_value_t = 1000)]
    pub jitter_subscribers: usize,
    /// jitter: rooms, one publisher each.
    #[arg(long, default_value_t = 10)]
    pub jitter_rooms: usize,
    /// jitter: publishes per second, all rooms together.
    #[arg(long, default_value_t = 1000.0)]
    pub jitter_rate: f64,
    /// jitter: seconds of publishing.
    #[arg(long, default_value_t = 30.0)]
    pub jitter_duration: f64,
    /// jitter: seconds between two rounds of drops (the first one this long after the start).
    #[arg(long, default_value_t = 5.0)]
    pub jitter_drop_every: f64,
    /// jitter: share of the subscribers dropped in each round (chosen at random).
    #[arg(long, default_value_t = 0.1)]
    pub jitter_drop_share: f64,
    /// jitter: a dropped subscriber reconnects after this delay randomized by ±50%, as
    /// socket.io-client's reconnectionDelay (default 1000) and randomizationFactor 0.5 (0: at once).
    #[arg(long, default_value_t = 0)]
    pub jitter_reconnect_delay_ms: u64,
    /// jitter: longest wait after the last publish for what is still in flight, seconds.
    #[arg(long, default_value_t = 10.0)]
    pub jitter_drain: f64,
    /// avalanche: the subscribers dropped at once, one run (fresh server) per size. The server's
    /// open-files limit (about 19,930 connections for roomcast on the project machine) must hold
    /// them with the undisturbed set and one publisher per room: 19,780 + 100 + 20 = 19,900.
    #[arg(long, value_delimiter = ',', default_value = "10000,19780")]
    pub avalanche_sizes: Vec<usize>,
    /// avalanche: subscribers never dropped, whose latency is measured.
    #[arg(long, default_value_t = 100)]
    pub avalanche_undisturbed: usize,
    /// avalanche: rooms (every subscriber in one; one publisher each).
    #[arg(long, default_value_t = 20)]
    pub avalanche_rooms: usize,
    /// avalanche: deliveries per second of the steady fan-out, all subscribers together.
    #[arg(long, default_value_t = 20_000.0)]
    pub avalanche_rate: f64,
    /// avalanche: seconds of the steady fan-out before the drop.
    #[arg(long, default_value_t = 3.0)]
    pub avalanche_before: f64,
    /// avalanche: the window after the drop: who is back and receiving within it, and the
    /// undisturbed subscribers' latency of what is published in it, seconds.
    #[arg(long, default_value_t = 10.0)]
    pub avalanche_window: f64,
    /// avalanche: seconds the run goes on after the window (who is back at all).
    #[arg(long, default_value_t = 5.0)]
    pub avalanche_after: f64,
    /// avalanche: a dropped subscriber's first reconnection waits a random delay of up to this.
    #[arg(long, default_value_t = 1000)]
    pub avalanche_delay_ms: u64,
    /// avalanche: connection handshakes in flight at once, setup and reconnections.
    #[arg(long, default_value_t = 512)]
    pub avalanche_concurrency: usize,
}

impl RecoveryArgs {
    /// Smaller sizes for `--quick`.
    pub(in crate::compare) fn apply_quick(&mut self) {
        self.jitter_subscribers = self.jitter_subscribers.min(200);
        self.jitter_duration = self.jitter_duration.min(6.0);
        self.jitter_drop_every = self.jitter_drop_every.min(2.0);
        self.jitter_drain = self.jitter_drain.min(5.0);
        for n in &mut self.avalanche_sizes {
            *n = (*n).min(2000);
        }
        self.avalanche_sizes.dedup();
        self.avalanche_after = self.avalanche_after.min(2.0);
    }
}
