//! Human-readable tables on stdout.

use crate::connect::ConnectResult;
use crate::echo::EchoResult;
use crate::fanout::{CeilingResult, FanoutResult, PhaseReport};
use crate::stats::{LatencySummary, Usage};

pub struct Table {
    title: String,
    rows: Vec<(String, String)>,
}

impl Table {
    pub fn new(title: impl Into<String>) -> Self {
        Table {
            title: title.into(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, k: impl Into<String>, v: impl Into<String>) -> &mut Self {
        self.rows.push((k.into(), v.into()));
        self
    }

    pub fn print(&self) {
        let w = self.rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
        println!("== {}", self.title);
        for (k, v) in &self.rows {
            println!("  {k:<w$}  {v}");
        }
    }

    fn latency(&mut self, name: &str, l: &LatencySummary) {
        self.row(
            name,
            format!(
                "p50 {:.3}  p90 {:.3}  p99 {:.3}  p99.9 {:.3}  max {:.3} ms  (n={})",
                l.p50_ms, l.p90_ms, l.p99_ms, l.p999_ms, l.max_ms, l.count
            ),
        );
    }

    fn usage(&mut self, u: &Usage) {
        if let Some(c) = u.server_cpu_ms {
            self.row(
                "server CPU",
                format!(
                    "{:.0} ms over {:.2}s ({:.0}% of a core), RSS {} → {}",
                    c,
                    u.wall_s,
                    u.server_cpu_pct.unwrap_or(0.0),
                    server_kb(u.server_rss_kb_start),
                    server_kb(u.server_rss_kb_end)
                ),
            );
        }
        self.row(
            "generator CPU",
            format!(
                "{:.0} ms over {:.2}s ({:.0}% of a core), RSS {} kB, loop lag p99 {:.1} ms, max {:.1} ms",
                u.gen_cpu_ms,
                u.wall_s,
                u.gen_cpu_pct,
                u.gen_rss_kb,
                u.gen_loop_lag_p99_ms,
                u.gen_loop_lag_max_ms
            ),
        );
        if let Some(o) = u.other_cpu_pct {
            self.row("other CPU on the machine", format!("{o:.0}% of a core"));
        }
    }
}

/// A server memory reading in kB, or why there is none (no server PID to read /proc of).
pub fn server_kb(kb: Option<u64>) -> String {
    match kb {
        Some(kb) => format!("{kb} kB"),
        None => "n/a (no --server-pid)".to_owned(),
    }
}

pub fn phase_rows(t: &mut Table, r: &PhaseReport) {
    t.row(
        "target",
        format!(
            "{:.0} deliveries/s ({:.1} publishes/s), {:.1}s + {:.1}s warmup",
            r.target_deliveries_per_s, r.target_publishes_per_s, r.duration_s, r.warmup_s
        ),
    );
    t.row(
        "published",
        format!(
            "{} of {} planned; acks ok {}, refused {}",
            r.publishes, r.planned_publishes, r.publish_acks_ok, r.publish_acks_refused
        ),
    );
    if let Some(e) = &r.publish_ack_error {
        t.row("first refusal", e.clone());
    }
    t.row(
        "delivered",
        format!(
            "{} of {} expected: lost {}, duplicates {}, reordered {}",
            r.delivered, r.expected, r.lost, r.duplicates, r.reordered
        ),
    );
    t.row("deliveries/s", format!("{:.0}", r.deliveries_per_s));
    t.latency("latency", &r.latency);
    t.latency("publish ack", &r.publish_ack_latency);
    t.usage(&r.usage);
    if let Some(c) = r.server_cpu_us_per_delivery {
        t.row("server CPU/delivery", format!("{c:.2} µs"));
    }
    t.row(
        "generator CPU/delivery",
        format!("{:.2} µs", r.gen_cpu_us_per_delivery),
    );
    if r.connections_lost > 0 {
        t.row("connections lost", r.connections_lost.to_string());
    }
}

pub fn fanout(r: &FanoutResult) -> Table {
    let p = &r.params;
    let mut t = Table::new(format!(
        "fanout: {} subscribers, {} rooms, {} publishers, {} B payloads",
        p.subscribers, p.rooms, p.publishers, p.payload_bytes
    ));
    t.row("setup", format!("{:.2}s", r.setup_s));
    phase_rows(&mut t, &r.phase);
    if r.foreign_deliveries > 0 || r.other_events > 0 {
        t.row(
            "unexpected",
            format!(
                "{} foreign deliveries, {} other events",
                r.foreign_deliveries, r.other_events
            ),
        );
    }
    t
}

pub fn ceiling(r: &CeilingResult) -> Table {
    let p = &r.params;
    let mut t = Table::new(format!(
        "ceiling: {} subscribers, {} rooms, {} publishers, {} B payloads, p99 ≤ {} ms, nothing lost",
        p.subscribers, p.rooms, p.publishers, p.payload_bytes, r.search.p99_budget_ms
    ));
    for s in &r.steps {
        t.row(
            format!("step {:.0}/s", s.target_deliveries_per_s),
            format!(
                "{} measured {:.0}/s, p99 {:.2} ms, lost {}, server CPU {}",
                if s.held(r.search.p99_budget_ms) {
                    "held  "
                } else {
                    "FAILED"
                },
                s.deliveries_per_s,
                s.latency.p99_ms,
                s.lost,
                s.usage
                    .server_cpu_pct
                    .map(|c| format!("{c:.0}%"))
                    .unwrap_or_else(|| "-".into())
            ),
        );
    }
    t.row(
        "ceiling",
        format!(
            "{:.0} deliveries/s (measured {:.0}/s)",
            r.ceiling_deliveries_per_s, r.ceiling_measured_deliveries_per_s
        ),
    );
    if let (Some(f), Some(why)) = (r.failed_at_deliveries_per_s, &r.failed_because) {
        t.row("failed at", format!("{f:.0}/s: {why}"));
    }
    t
}

pub fn echo(r: &EchoResult) -> Table {
    let p = &r.params;
    let mut t = Table::new(format!(
        "echo: {} clients, {:.0} acks/s, {} B payloads",
        p.clients, p.rate, p.payload_bytes
    ));
    t.row("setup", format!("{:.2}s", r.setup_s));
    t.row(
        "sent",
        format!(
            "{} of {} planned; acked {}, lost {}, unmatched {}",
            r.sent, r.planned, r.acked, r.lost, r.unmatched
        ),
    );
    t.row("acks/s", format!("{:.0}", r.acks_per_s));
    t.latency("ack round trip", &r.latency);
    t.usage(&r.usage);
    if let Some(c) = r.server_cpu_us_per_ack {
        t.row("server CPU/ack", format!("{c:.2} µs"));
    }
    t.row(
        "generator CPU/ack",
        format!("{:.2} µs", r.gen_cpu_us_per_ack),
    );
    if r.connections_lost > 0 {
        t.row("connections lost", r.connections_lost.to_string());
    }
    t
}

pub fn connect(r: &ConnectResult) -> Table {
    let p = &r.params;
    let mut t = Table::new(format!(
        "connect: {} connections, {} at a time, held {:.1}s",
        p.connections, p.concurrency, p.hold_s
    ));
    t.row(
        "connected",
        format!(
            "{} in {:.2}s ({:.0}/s), failed {}",
            r.connected, r.connect_s, r.connects_per_s, r.failed
        ),
    );
    if let Some(e) = &r.first_error {
        t.row("first error", e.clone());
    }
    t.latency("handshake", &r.handshake);
    t.usage(&r.connect_usage);
    if let Some(c) = r.server_cpu_us_per_connect {
        t.row("server CPU/connect", format!("{c:.1} µs"));
    }
    if let (Some(a), Some(b)) = (r.server_rss_kb_idle, r.server_rss_kb_held) {
        t.row(
            "server RSS",
            format!(
                "{a} kB idle → {b} kB held: {:.0} B per connection",
                r.server_rss_bytes_per_connection.unwrap_or(0.0)
            ),
        );
    }
    t.row("generator RSS held", format!("{} kB", r.gen_rss_kb_held));
    if r.connections_lost > 0 {
        t.row("connections lost", r.connections_lost.to_string());
    }
    t
}

#[cfg(test)]
mod tests {
    use super::server_kb;

    #[test]
    fn a_missing_server_reading_is_not_zero() {
        assert_eq!(server_kb(Some(5600)), "5600 kB");
        assert_eq!(server_kb(None), "n/a (no --server-pid)");
    }
}
