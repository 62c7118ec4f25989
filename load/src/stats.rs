//! Latency histograms and the CPU/RSS accounting of a measured window (the server's, when its pid
//! is known, and the generator's own).

use std::cell::RefCell;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::sys::{self, ProcSample};

/// A latency histogram in microseconds (1 µs .. 100 s, 3 significant digits).
pub struct Lat(Histogram<u64>);

impl Default for Lat {
    fn default() -> Self {
        Lat(Histogram::new_with_bounds(1, 100_000_000, 3).expect("histogram bounds"))
    }
}

impl Lat {
    #[inline]
    pub fn record(&mut self, us: u64) {
        self.0.saturating_record(us.max(1));
    }

    pub fn summary(&self) -> LatencySummary {
        let h = &self.0;
        let ms = |v: u64| v as f64 / 1000.0;
        if h.is_empty() {
            return LatencySummary::default();
        }
        LatencySummary {
            count: h.len(),
            mean_ms: h.mean() / 1000.0,
            p50_ms: ms(h.value_at_quantile(0.50)),
            p90_ms: ms(h.value_at_quantile(0.90)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Default)]
pub struct LatencySummary {
    pub count: u64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

/// Samples the server process (if its pid is known) and the generator at the edges of a window.
#[derive(Debug, Clone, Default)]
pub struct Probe {
    pub server_pid: Option<u32>,
    /// The other nodes of a cluster: their CPU time and memory are added to the server's.
    pub peer_pids: Vec<u32>,
    /// A cluster's Redis: its CPU time is sampled apart.
    pub redis_pid: Option<u32>,
}

#[derive(Debug, Clone, Copy)]
pub struct Mark {
    at: Instant,
    server: Option<ProcSample>,
    me: Option<ProcSample>,
    redis: Option<ProcSample>,
    /// Busy and total CPU time of the whole machine, ms.
    machine: Option<(f64, f64)>,
    /// The generator's event-loop lag since the previous mark.
    lag: LatencySummary,
}

impl Probe {
    /// Samples now; also restarts the generator's event-loop lag histogram.
    pub fn mark(&self) -> Mark {
        let lag = LAG.with(|l| {
            let mut l = l.borrow_mut();
            let s = l.summary();
            *l = Lat::default();
            s
        });
        Mark {
            at: Instant::now(),
            server: self.server_pid.and_then(|p| sample_all(p, &self.peer_pids)),
            me: sys::sample(None),
            redis: self.redis_pid.and_then(|p| sys::sample(Some(p))),
            machine: sys::machine_cpu(),
            lag,
        }
    }
}

/// The sum of the samples of `first` and `more` (CPU time and memory); none if one is gone.
fn sample_all(first: u32, more: &[u32]) -> Option<ProcSample> {
    let mut sum = sys::sample(Some(first))?;
    for &pid in more {
        let s = sys::sample(Some(pid))?;
        sum.cpu_ms += s.cpu_ms;
        sum.rss_kb += s.rss_kb;
        sum.hwm_kb += s.hwm_kb;
    }
    Some(sum)
}

thread_local! {
    static LAG: RefCell<Lat> = RefCell::new(Lat::default());
}

/// Measures how late the generator's event loop wakes a 5 ms timer (Tokio's timer resolution is
/// 1 ms, so about 1 ms is the floor): a busy or starved generator shows here.
pub async fn lag_monitor() {
    let period = Duration::from_millis(5);
    let mut next = Instant::now() + period;
    loop {
        tokio::time::sleep_until(next.into()).await;
        let now = Instant::now();
        let late = now.saturating_duration_since(next).as_micros() as u64;
        LAG.with(|l| l.borrow_mut().record(late));
        next += period;
        if next < now {
            next = now + period;
        }
    }
}

/// CPU and memory over a window.
#[derive(Debug, Clone, Copy, Serialize, Default)]
pub struct Usage {
    pub wall_s: f64,
    /// Server CPU time (user + system) in the window, ms; null when the server's pid is unknown.
    pub server_cpu_ms: Option<f64>,
    /// Server CPU as a percentage of one core.
    pub server_cpu_pct: Option<f64>,
    pub server_rss_kb_start: Option<u64>,
    pub server_rss_kb_end: Option<u64>,
    pub server_hwm_kb: Option<u64>,
    /// The generator's own CPU time in the window, ms.
    pub gen_cpu_ms: f64,
    pub gen_cpu_pct: f64,
    pub gen_rss_kb: u64,
    /// How late the generator's event loop woke its timers in the window (p99 and max, ms).
    pub gen_loop_lag_p99_ms: f64,
    pub gen_loop_lag_max_ms: f64,
    /// CPU used by everything but the server and the generator (other processes, kernel work not
    /// charged to either), as a percentage of one core: noise on a shared machine.
    pub other_cpu_pct: Option<f64>,
    /// A cluster's Redis: its CPU time in the window, ms, and as a percentage of one core.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis_cpu_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis_cpu_pct: Option<f64>,
}

pub fn usage(a: &Mark, b: &Mark) -> Usage {
    let wall_s = b.at.duration_since(a.at).as_secs_f64().max(1e-9);
    let server_cpu_ms = match (a.server, b.server) {
        (Some(x), Some(y)) => Some(y.cpu_ms - x.cpu_ms),
        _ => None,
    };
    let redis_cpu_ms = match (a.redis, b.redis) {
        (Some(x), Some(y)) => Some(y.cpu_ms - x.cpu_ms),
        _ => None,
    };
    let gen_cpu_ms = match (a.me, b.me) {
        (Some(x), Some(y)) => y.cpu_ms - x.cpu_ms,
        _ => 0.0,
    };
    Usage {
        wall_s,
        server_cpu_ms,
        server_cpu_pct: server_cpu_ms.map(|c| c / 10.0 / wall_s),
        server_rss_kb_start: a.server.map(|s| s.rss_kb),
        server_rss_kb_end: b.server.map(|s| s.rss_kb),
        server_hwm_kb: b.server.map(|s| s.hwm_kb),
        gen_cpu_ms,
        gen_cpu_pct: gen_cpu_ms / 10.0 / wall_s,
        gen_rss_kb: b.me.map(|s| s.rss_kb).unwrap_or(0),
        gen_loop_lag_p99_ms: b.lag.p99_ms,
        gen_loop_lag_max_ms: b.lag.max_ms,
        other_cpu_pct: match (a.machine, b.machine) {
            (Some(x), Some(y)) => {
                let busy = y.0 - x.0;
                let ours = server_cpu_ms.unwrap_or(0.0) + redis_cpu_ms.unwrap_or(0.0) + gen_cpu_ms;
                Some(((busy - ours) / 10.0 / wall_s).max(0.0))
            }
            _ => None,
        },
        redis_cpu_ms,
        redis_cpu_pct: redis_cpu_ms.map(|c| c / 10.0 / wall_s),
    }
}
