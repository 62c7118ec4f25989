//! What every scenario shares: the target, event names, connection options, the probe, the
//! setup counts, the ring of ack send times.

use std::cell::{Cell, RefCell};
use std::io;
use std::time::{Duration, Instant};

use crate::stats::Probe;
use crate::target::Target;
use crate::ws::{Conn, ConnectOpts};

/// Event names of the room API (options, so any server with a similar API can be driven).
#[derive(Debug, Clone)]
pub struct Names {
    pub join: String,
    pub publish: String,
    pub deliver: String,
    pub echo: String,
    pub room_prefix: String,
}

pub struct Ctx {
    pub target: Target,
    pub names: Names,
    pub connect: ConnectOpts,
    pub connect_timeout: Duration,
    /// How many connection handshakes may be in flight at once.
    pub concurrency: usize,
    pub probe: Probe,
    /// The other nodes of a cluster (node `k` ≥ 1 is `peers[k - 1]`; node 0 is `target`).
    pub peers: Vec<Target>,
    pub quiet: bool,
}

impl Ctx {
    pub fn room(&self, r: usize) -> String {
        format!("{}{}", self.names.room_prefix, r)
    }

    /// Connects the `i`-th client (source address chosen by `i`), bounded by the connect timeout.
    pub async fn connect(&self, i: usize, read_buffer: usize) -> io::Result<Conn> {
        self.connect_to(0, i, read_buffer).await
    }

    /// Connects the `i`-th client to node `node` of a cluster (0: `target`; past the last node:
    /// the last), bounded by the connect timeout.
    pub async fn connect_to(&self, node: usize, i: usize, read_buffer: usize) -> io::Result<Conn> {
        self.connect_with(node, i, read_buffer, self.connect.auth.clone())
            .await
    }

    /// [`Ctx::connect_to`] with `auth` as the CONNECT payload instead of the configured one (a
    /// client recovering its session sends `{"pid":…,"offset":…}`).
    pub async fn connect_with(
        &self,
        node: usize,
        i: usize,
        read_buffer: usize,
        auth: Option<String>,
    ) -> io::Result<Conn> {
        let mut opts = self.connect.clone();
        opts.read_buffer = read_buffer;
        opts.auth = auth;
        let target = match node.checked_sub(1) {
            None => &self.target,
            Some(k) => self
                .peers
                .get(k)
                .or(self.peers.last())
                .unwrap_or(&self.target),
        };
        let src = target.source_for(i);
        match tokio::time::timeout(self.connect_timeout, Conn::connect(target, src, &opts)).await {
            Ok(r) => r,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("connect timed out after {:?}", self.connect_timeout),
            )),
        }
    }

    pub fn progress(&self, msg: std::fmt::Arguments) {
        if !self.quiet {
            eprintln!(
                "[{:7.1}s] {msg}",
                crate::sys::base().elapsed().as_secs_f64()
            );
        }
    }
}

/// Counts of the setup phase, shared by the client tasks.
#[derive(Default)]
pub struct SetupCounts {
    pub ready: Cell<usize>,
    pub failed: Cell<usize>,
    /// Connections that ended after setup (closed by the server, errors).
    pub dead: Cell<usize>,
    pub first_error: RefCell<Option<String>>,
}

impl SetupCounts {
    pub fn fail(&self, what: &str, e: impl std::fmt::Display) {
        self.failed.set(self.failed.get() + 1);
        let mut fe = self.first_error.borrow_mut();
        if fe.is_none() {
            *fe = Some(format!("{what}: {e}"));
        }
    }

    pub fn died(&self, e: impl std::fmt::Display) {
        self.dead.set(self.dead.get() + 1);
        let mut fe = self.first_error.borrow_mut();
        if fe.is_none() {
            *fe = Some(format!("connection lost: {e}"));
        }
    }

    pub fn settled(&self) -> usize {
        self.ready.get() + self.failed.get()
    }

    /// The error of a setup of `n` clients (`what`) in which some failed, if any did.
    pub fn failure(&self, what: &str, n: usize) -> Option<String> {
        (self.failed.get() > 0).then(|| {
            format!(
                "{what}: {} of {n} clients failed ({})",
                self.failed.get(),
                self.first_error.borrow().clone().unwrap_or_default()
            )
        })
    }
}

/// Waits until `n` clients are set up (or failed), printing progress; errors past `deadline`.
pub async fn wait_setup(
    ctx: &Ctx,
    counts: &SetupCounts,
    n: usize,
    what: &str,
    deadline: Instant,
) -> Result<Duration, String> {
    let t0 = Instant::now();
    let mut last_print = Instant::now();
    while counts.settled() < n {
        if Instant::now() > deadline {
            return Err(format!(
                "{what}: only {} of {n} clients ready before the deadline ({} failed)",
                counts.ready.get(),
                counts.failed.get()
            ));
        }
        if last_print.elapsed() >= Duration::from_secs(1) {
            last_print = Instant::now();
            ctx.progress(format_args!(
                "{what}: {} / {n} ready, {} failed",
                counts.ready.get(),
                counts.failed.get()
            ));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(t0.elapsed())
}

/// A small ring of send times keyed by ack id (ids are sequential per connection).
pub struct AckRing {
    slots: Vec<(u64, u64, u32)>,
    mask: u64,
}

impl AckRing {
    /// Room for about `outstanding` unanswered acks (rounded to a power of two, 16..=4096).
    pub fn new(outstanding: usize) -> Self {
        let n = outstanding.clamp(16, 4096).next_power_of_two();
        AckRing {
            slots: vec![(0, 0, 0); n],
            mask: n as u64 - 1,
        }
    }

    #[inline]
    pub fn put(&mut self, id: u64, t_us: u64, phase: u32) {
        self.slots[(id & self.mask) as usize] = (id, t_us, phase);
    }

    /// `(send time, phase)` of ack `id` if still remembered.
    #[inline]
    pub fn take(&mut self, id: u64) -> Option<(u64, u32)> {
        let slot = &mut self.slots[(id & self.mask) as usize];
        if slot.0 == id && id != 0 {
            slot.0 = 0;
            Some((slot.1, slot.2))
        } else {
            None
        }
    }
}
