//! What the Admin UI sees of the server's activity. The [`Watcher`] is the server's observer: it
//! counts Engine.IO traffic in atomics, buffers connections and disconnections per second, and in
//! development mode forwards every socket, room and event change to the admin namespace (only
//! while a dashboard is connected). The [`Ticker`] runs while at least one dashboard is
//! connected: each second it moves the traffic counters into the [`EventBuffer`], and every two
//! seconds it emits `server_stats` with what was buffered since the last one.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::Mutex;
use serde::Serialize;
use serde_json::{json, Value};

use super::serialize::{iso_time, serialize_socket};
use super::Mode;
use crate::broadcast::BroadcastOperator;
use crate::engine::CloseReason;
use crate::handshake::now_millis;
use crate::metrics::EngineObserver;
use crate::namespace::Namespace;
use crate::observer::Observer;
use crate::payload::Payload;
use crate::room::{Member, Room};
use crate::server::Server;
use crate::socket::{DisconnectReason, Socket};

/// Most distinct (second, type, subtype) entries buffered between two stats; past it new kinds
/// are dropped (the ticker empties the buffer every two seconds, so this is never reached in
/// practice).
const MAX_BUFFERED: usize = 1024;

/// One entry of `aggregatedEvents`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AggregatedEvent {
    /// Milliseconds since the epoch, truncated to the second.
    pub timestamp: u64,
    /// `rawConnection`, `rawDisconnection`, `packetsIn`, `packetsOut`, `bytesIn` or `bytesOut`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The disconnection reason, for `rawDisconnection`.
    #[serde(rename = "subType", skip_serializing_if = "Option::is_none")]
    pub sub_type: Option<&'static str>,
    /// How many in that second.
    pub count: u64,
}

/// Counts per (second, type, subtype), emptied by every `server_stats`.
#[derive(Debug, Default)]
pub struct EventBuffer {
    entries: BTreeMap<(u64, &'static str, Option<&'static str>), u64>,
}

impl EventBuffer {
    /// Adds `count` of `kind` at `millis` (since the epoch; truncated to its second).
    pub fn push(&mut self, millis: u64, kind: &'static str, sub: Option<&'static str>, count: u64) {
        let key = (millis - millis % 1000, kind, sub);
        if let Some(n) = self.entries.get_mut(&key) {
            *n += count;
        } else if self.entries.len() < MAX_BUFFERED {
            self.entries.insert(key, count);
        }
    }

    /// Everything buffered, oldest first; the buffer is empty afterwards.
    pub fn take(&mut self) -> Vec<AggregatedEvent> {
        std::mem::take(&mut self.entries)
            .into_iter()
            .map(|((timestamp, kind, sub_type), count)| AggregatedEvent {
                timestamp,
                kind,
                sub_type,
                count,
            })
            .collect()
    }
}

/// The server's observer for the Admin UI.
pub(super) struct Watcher {
    admin: Weak<Namespace>,
    mode: Mode,
    /// Whether a ticker runs (a dashboard is connected): nothing is buffered otherwise.
    active: AtomicBool,
    buffer: Mutex<EventBuffer>,
    packets_in: AtomicU64,
    bytes_in: AtomicU64,
    packets_out: AtomicU64,
    bytes_out: AtomicU64,
}

impl Watcher {
    pub(super) fn new(admin: Weak<Namespace>, mode: Mode) -> Self {
        Watcher {
            admin,
            mode,
            active: AtomicBool::new(false),
            buffer: Mutex::new(EventBuffer::default()),
            packets_in: AtomicU64::new(0),
            bytes_in: AtomicU64::new(0),
            packets_out: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
        }
    }

    /// Moves the traffic counters into the buffer, stamped now.
    fn sample(&self) {
        let now = now_millis();
        let mut buffer = self.buffer.lock();
        for (kind, counter) in [
            ("packetsIn", &self.packets_in),
            ("bytesIn", &self.bytes_in),
            ("packetsOut", &self.packets_out),
            ("bytesOut", &self.bytes_out),
        ] {
            let n = counter.swap(0, Ordering::Relaxed);
            if n > 0 {
                buffer.push(now, kind, None, n);
            }
        }
    }

    /// The admin namespace, when live events are wanted and someone is there to see them.
    fn live(&self) -> Option<Arc<Namespace>> {
        if self.mode != Mode::Development {
            return None;
        }
        self.admin.upgrade().filter(|ns| ns.socket_count() > 0)
    }

    fn emit(ns: Arc<Namespace>, event: &str, payload: impl Into<Payload>) {
        let _ = BroadcastOperator::new(vec![ns]).emit(event, payload);
    }

    fn forward_event(&self, kind: &str, socket: &Socket, event: &str, payload: &Payload) {
        let Some(ns) = self.live() else { return };
        if socket.ns() == ns.name() {
            return; // the dashboards' own traffic is not shown to them
        }
        let mut args = Vec::with_capacity(payload.args.len() + 1);
        args.push(Value::String(event.to_owned()));
        args.extend(payload.args.iter().cloned());
        let out = Payload {
            args: vec![
                json!(socket.ns()),
                json!(socket.id().as_str()),
                Value::Array(args),
                json!(iso_time()),
            ],
            binary: payload.binary.clone(),
        };
        Self::emit(ns, kind, out);
    }

    fn rooms_event(&self, kind: &str, socket: &Socket, rooms: &[Room]) {
        let Some(ns) = self.live() else { return };
        let time = iso_time();
        for room in rooms {
            let args = vec![
                json!(socket.ns()),
                json!(&**room),
                json!(socket.id().as_str()),
                json!(time),
            ];
            Self::emit(ns.clone(), kind, args);
        }
    }
}

impl EngineObserver for Watcher {
    fn connection_opened(&self, _transport: &'static str) {
        if self.active.load(Ordering::Relaxed) {
            self.buffer
                .lock()
                .push(now_millis(), "rawConnection", None, 1);
        }
    }

    fn connection_closed(&self, reason: CloseReason) {
        if self.active.load(Ordering::Relaxed) {
            self.buffer
                .lock()
                .push(now_millis(), "rawDisconnection", Some(reason.as_str()), 1);
        }
    }

    fn packets_in(&self, count: usize, bytes: usize) {
        self.packets_in.fetch_add(count as u64, Ordering::Relaxed);
        self.bytes_in.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    fn packets_out(&self, count: usize, bytes: usize) {
        self.packets_out.fetch_add(count as u64, Ordering::Relaxed);
        self.bytes_out.fetch_add(bytes as u64, Ordering::Relaxed);
    }
}

impl Observer for Watcher {
    fn socket_connected(&self, socket: &Socket) {
        if let Some(ns) = self.live() {
            Self::emit(
                ns,
                "socket_connected",
                vec![serialize_socket(&socket.describe()), json!(iso_time())],
            );
        }
    }

    fn socket_disconnected(&self, socket: &Socket, reason: DisconnectReason) {
        if let Some(ns) = self.live() {
            let args = vec![
                json!(socket.ns()),
                json!(socket.id().as_str()),
                json!(reason.as_str()),
                json!(iso_time()),
            ];
            Self::emit(ns, "socket_disconnected", args);
        }
    }

    fn transport_upgraded(&self, sockets: &[Socket]) {
        let Some(ns) = self.live() else { return };
        for socket in sockets {
            let update = json!({
                "id": socket.id().as_str(),
                "nsp": socket.ns(),
                "transport": socket.transport(),
            });
            Self::emit(ns.clone(), "socket_updated", update);
        }
    }

    fn rooms_joined(&self, socket: &Socket, rooms: &[Room]) {
        self.rooms_event("room_joined", socket, rooms);
    }

    fn rooms_left(&self, socket: &Socket, rooms: &[Room]) {
        self.rooms_event("room_left", socket, rooms);
    }

    fn event_received(&self, socket: &Socket, event: &str, payload: &Payload) {
        self.forward_event("event_received", socket, event, payload);
    }

    fn event_sent(&self, socket: &Socket, event: &str, payload: &Payload) {
        self.forward_event("event_sent", socket, event, payload);
    }
}

/// The host name, the default server id.
pub(super) fn hostname() -> String {
    gethostname::gethostname().to_string_lossy().into_owned()
}

/// Emits `server_stats` every two seconds while a dashboard is connected.
pub(super) struct Ticker {
    server: Server,
    watcher: Arc<Watcher>,
    server_id: String,
    hostname: String,
}

impl Ticker {
    pub(super) fn new(server: Server, watcher: Arc<Watcher>, server_id: String) -> Self {
        Ticker {
            server,
            watcher,
            server_id,
            hostname: hostname(),
        }
    }

    fn stats(&self, aggregated: Vec<AggregatedEvent>) -> Value {
        let (polling, _) = self.server.connections_by_transport();
        let namespaces: Vec<Value> = self
            .server
            .namespaces()
            .into_iter()
            .map(|(name, count)| json!({ "name": name, "socketsCount": count }))
            .collect();
        json!({
            "serverId": self.server_id,
            "hostname": self.hostname,
            "pid": std::process::id(),
            "uptime": self.server.uptime().as_secs_f64(),
            "clientsCount": self.server.connection_count(),
            "pollingClientsCount": polling,
            "aggregatedEvents": aggregated,
            "namespaces": namespaces,
        })
    }

    /// A dashboard connected: it gets the stats at once, and the ticker starts if it was idle.
    pub(super) fn admin_connected(self: &Arc<Self>, socket: &Socket) {
        let _ = socket.emit("server_stats", self.stats(Vec::new()));
        if self.watcher.active.swap(true, Ordering::AcqRel) {
            return;
        }
        let this = self.clone();
        actix_rt::spawn(async move { this.run().await });
    }

    async fn run(self: Arc<Self>) {
        let mut interval = actix_rt::time::interval(Duration::from_secs(1));
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        interval.tick().await; // the first tick is immediate
        for tick in 1u64.. {
            interval.tick().await;
            self.watcher.sample();
            if tick % 2 != 0 {
                continue;
            }
            let Some(admin) = self.watcher.admin.upgrade() else {
                return;
            };
            let aggregated = self.watcher.buffer.lock().take();
            let stats = self.stats(aggregated);
            Watcher::emit(admin.clone(), "server_stats", stats);
            if admin.socket_count() == 0 {
                self.watcher.active.store(false, Ordering::Release);
                // A dashboard that arrived just now found the ticker still running: keep it.
                if admin.socket_count() == 0 || self.watcher.active.swap(true, Ordering::AcqRel) {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffer_aggregates_per_second_and_empties() {
        let mut b = EventBuffer::default();
        b.push(5_001, "rawConnection", None, 1);
        b.push(5_999, "rawConnection", None, 1);
        b.push(6_000, "rawConnection", None, 1);
        b.push(5_500, "rawDisconnection", Some("transport close"), 1);
        b.push(5_500, "bytesIn", None, 120);
        let out = b.take();
        assert_eq!(
            serde_json::to_value(&out).expect("plain data"),
            json!([
                {"timestamp": 5000, "type": "bytesIn", "count": 120},
                {"timestamp": 5000, "type": "rawConnection", "count": 2},
                {"timestamp": 5000, "type": "rawDisconnection", "subType": "transport close", "count": 1},
                {"timestamp": 6000, "type": "rawConnection", "count": 1},
            ])
        );
        assert!(b.take().is_empty());
    }

    #[test]
    fn buffer_is_bounded() {
        let mut b = EventBuffer::default();
        for s in 0..(MAX_BUFFERED as u64 + 10) {
            b.push(s * 1000, "packetsIn", None, 1);
        }
        b.push(0, "packetsIn", None, 1);
        let out = b.take();
        assert_eq!(out.len(), MAX_BUFFERED);
        assert_eq!(out[0].count, 2, "existing entries still count");
    }
}
