//! Server metrics, kept per server instance (no global recorder): counters the hot paths bump with
//! one atomic add, and gauges computed at scrape time. Rendered in the Prometheus text format by
//! `metrics-exporter-prometheus`.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use metrics::{Counter, Gauge, Key, Label, Metadata, Recorder, SharedString, Unit};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusRecorder};
use parking_lot::Mutex;

use crate::protocol::engineio::CloseReason;

const METADATA: Metadata<'static> =
    Metadata::new("roomcast", metrics::Level::INFO, Some(module_path!()));

/// What a watcher of the whole server (the Admin UI) is told about Engine.IO connections: the
/// hooks the transport and engine layers call. The Socket.IO hooks extend it
/// ([`crate::observer::Observer`]). Every method has an empty default; hooks run on the thread that
/// caused them and must only count (`packets_out` runs under a connection's queue lock).
pub trait EngineObserver: Send + Sync + 'static {
    /// An Engine.IO connection opened over `transport` (`polling` or `websocket`).
    fn connection_opened(&self, _transport: &'static str) {}
    /// An Engine.IO connection closed.
    fn connection_closed(&self, _reason: CloseReason) {}
    /// Engine.IO message packets (not heartbeats) came in: how many and their bytes.
    fn packets_in(&self, _count: usize, _bytes: usize) {}
    /// Engine.IO message packets (not heartbeats) went to a transport: how many and their bytes.
    fn packets_out(&self, _count: usize, _bytes: usize) {}
}

/// The metrics of one server.
pub struct Metrics {
    recorder: PrometheusRecorder,
    /// Engine.IO packets received.
    pub packets_in: Counter,
    /// Engine.IO frames handed to a transport for clients.
    pub packets_out: Counter,
    /// Broadcasts started.
    pub broadcasts: Counter,
    /// Packets queued to a recipient by broadcasts.
    pub deliveries: Counter,
    /// Volatile packets dropped on full queues.
    pub dropped_volatile: Counter,
    /// Emits with acknowledgement that timed out.
    pub ack_timeouts: Counter,
    /// Engine.IO handshakes refused because of `max_connections`.
    pub refused_connections: Counter,
    /// Packets stored for connection state recovery.
    pub recovery_packets_stored: Counter,
    /// Sessions kept for connection state recovery.
    pub recovery_sessions_persisted: Counter,
    /// Sockets recovered.
    pub recovery_recovered: Counter,
    /// Missed packets replayed to recovered sockets.
    pub recovery_replayed: Counter,
    /// What the recovery store holds now: packets, their bytes, sessions, their bytes.
    pub recovery_held: [std::sync::atomic::AtomicUsize; 4],
    labelled: Mutex<HashMap<(&'static str, String), Counter>>,
    /// Named-room memberships held now, server-wide (bounded by `max_memberships`).
    pub memberships: std::sync::atomic::AtomicUsize,
    /// The Engine.IO half of the server's observer (the Admin UI), reached from every layer that
    /// holds the metrics.
    observer: OnceLock<Arc<dyn EngineObserver>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Fresh metrics with their descriptions.
    pub fn new() -> Self {
        let recorder = PrometheusBuilder::new().build_recorder();
        let counter = |name: &'static str, help: &'static str| {
            recorder.describe_counter(name.into(), Some(Unit::Count), SharedString::from(help));
            recorder.register_counter(&Key::from_static_name(name), &METADATA)
        };
        Metrics {
            packets_in: counter("roomcast_packets_in_total", "Engine.IO packets received"),
            packets_out: counter(
                "roomcast_packets_out_total",
                "Engine.IO frames queued for clients",
            ),
            broadcasts: counter("roomcast_broadcasts_total", "Broadcasts started"),
            deliveries: counter(
                "roomcast_deliveries_total",
                "Packets queued to recipients by broadcasts",
            ),
            dropped_volatile: counter(
                "roomcast_dropped_volatile_total",
                "Volatile packets dropped because the recipient's queue was full",
            ),
            ack_timeouts: counter(
                "roomcast_ack_timeouts_total",
                "Emits whose acknowledgement timed out",
            ),
            refused_connections: counter(
                "roomcast_refused_connections_total",
                "Handshakes refused at max_connections",
            ),
            recovery_packets_stored: counter(
                "roomcast_recovery_packets_stored_total",
                "Packets stored for connection state recovery",
            ),
            recovery_sessions_persisted: counter(
                "roomcast_recovery_sessions_persisted_total",
                "Sessions kept for connection state recovery",
            ),
            recovery_recovered: counter(
                "roomcast_recovery_recovered_total",
                "Sockets recovered with their id, rooms, data and missed packets",
            ),
            recovery_replayed: counter(
                "roomcast_recovery_replayed_total",
                "Missed packets replayed to recovered sockets",
            ),
            recovery_held: Default::default(),
            labelled: Mutex::new(HashMap::new()),
            memberships: std::sync::atomic::AtomicUsize::new(0),
            observer: OnceLock::new(),
            recorder,
        }
        .described()
    }

    /// Adds the `# HELP` text of the families registered later, with labels.
    fn described(self) -> Self {
        let r = &self.recorder;
        let counters = [
            (
                "roomcast_disconnects_total",
                "Sockets and connections that ended, by reason",
            ),
            (
                "roomcast_connections_closed_total",
                "Engine.IO connections closed, by reason",
            ),
            (
                "roomcast_admin_requests_total",
                "Admin HTTP requests, by route pattern",
            ),
            (
                "roomcast_auth_failures_total",
                "Namespace logins refused by the JWT check, by reason",
            ),
            (
                "roomcast_cluster_publish_failures_total",
                "Broadcasts not published to the cluster (Redis unreachable or queue full)",
            ),
            (
                "roomcast_cluster_receive_dropped_total",
                "Cluster messages received from Redis and dropped, by reason: queue_full (the sharded \
                 subscriber's dispatch queue), backlog (this node's fan-out backlog was full)",
            ),
            (
                "roomcast_recovery_refused_total",
                "Recoveries refused (a new session instead), by reason",
            ),
            (
                "roomcast_recovery_evicted_total",
                "Stored packets and sessions evicted by a count or bytes bound, by kind",
            ),
            (
                "roomcast_namespace_refusals_total",
                "Namespace CONNECTs refused by a namespace limit, by limit",
            ),
            (
                "roomcast_cluster_server_side_events_total",
                "Events other servers sent with serverSideEmit, by configured namespace",
            ),
        ];
        for (name, help) in counters {
            r.describe_counter(name.into(), Some(Unit::Count), SharedString::from(help));
        }
        let gauges = [
            (
                "roomcast_connections",
                "Open Engine.IO connections, by transport",
            ),
            (
                "roomcast_memberships",
                "Named-room memberships held now (bounded by max_memberships)",
            ),
            (
                "roomcast_recovery_held",
                "What connection state recovery holds now, by kind (packets, packet_bytes, sessions, session_bytes)",
            ),
            (
                "roomcast_dynamic_namespaces",
                "Namespaces created from patterns that exist now",
            ),
            (
                "roomcast_cluster_redis_connected",
                "1 while this node's link to the cluster's Redis is up (publisher and subscriber), 0 while it reconnects (Redis adapter only)",
            ),
            (
                "roomcast_cluster_redis_stream_connected",
                "1 while this node's link to the Redis stream is up (writer and reader), 0 while it reconnects (redis-streams adapter only)",
            ),
        ];
        for (name, help) in gauges {
            r.describe_gauge(name.into(), None, SharedString::from(help));
        }
        self
    }

    /// The counter `name` with one label, registered on first use.
    pub fn labelled_counter(
        &self,
        name: &'static str,
        label: &'static str,
        value: &str,
    ) -> Counter {
        let mut map = self.labelled.lock();
        map.entry((name, format!("{label}={value}")))
            .or_insert_with(|| {
                let key = Key::from_parts(name, vec![Label::new(label, value.to_owned())]);
                self.recorder.register_counter(&key, &METADATA)
            })
            .clone()
    }

    /// Counts a socket or connection leaving, by reason.
    pub fn disconnect(&self, reason: &str) {
        self.labelled_counter("roomcast_disconnects_total", "reason", reason)
            .increment(1);
    }

    /// Counts a namespace CONNECT refused by `max_dynamic_namespaces` ("server limit") or
    /// `max_namespaces_per_connection` ("connection limit").
    pub fn namespace_refused(&self, limit: &str) {
        self.labelled_counter("roomcast_namespace_refusals_total", "limit", limit)
            .increment(1);
    }

    /// A gauge with labels, set at scrape time.
    pub fn gauge(&self, name: &'static str, labels: &[(&'static str, String)]) -> Gauge {
        let labels = labels
            .iter()
            .map(|(k, v)| Label::new(*k, v.clone()))
            .collect::<Vec<_>>();
        self.recorder
            .register_gauge(&Key::from_parts(name, labels), &METADATA)
    }

    /// The Engine.IO observer installed on the server, if any (one atomic load).
    #[inline]
    pub fn observer(&self) -> Option<&Arc<dyn EngineObserver>> {
        self.observer.get()
    }

    /// Installs the server's Engine.IO observer; refused when one is installed already.
    pub(crate) fn set_observer(
        &self,
        observer: Arc<dyn EngineObserver>,
    ) -> Result<(), Arc<dyn EngineObserver>> {
        self.observer.set(observer)
    }

    /// The Prometheus text exposition of everything recorded.
    pub fn render(&self) -> String {
        self.recorder.handle().render()
    }
}

/// Appends a gauge family with one label to a Prometheus text exposition. For series whose label
/// values come and go (namespaces): rendered from the current values at each scrape, so nothing is
/// left registered once a value is gone.
pub fn render_gauge(
    out: &mut String,
    name: &str,
    help: &str,
    label: &str,
    values: &std::collections::BTreeMap<String, f64>,
) {
    use std::fmt::Write as _;
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} gauge");
    for (value, n) in values {
        let escaped = value
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n");
        let _ = writeln!(out, "{name}{{{label}=\"{escaped}\"}} {n}");
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    #[test]
    fn rendered_gauges_escape_label_values() {
        let mut out = String::new();
        let values = BTreeMap::from([("/".to_owned(), 2.0), ("/a\"b\\c\nd".to_owned(), 0.0)]);
        super::render_gauge(&mut out, "x", "X things", "namespace", &values);
        assert_eq!(
            out,
            "# HELP x X things\n# TYPE x gauge\nx{namespace=\"/\"} 2\nx{namespace=\"/a\\\"b\\\\c\\nd\"} 0\n"
        );
    }
}
