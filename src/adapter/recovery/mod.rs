//! Connection state recovery on one node: [`SessionAwareAdapter`] wraps a namespace's adapter,
//! stores every broadcast that is neither volatile nor waiting for acknowledgements in a bounded
//! [`store::RecoveryStore`] shared by the server's namespaces (the packet gets its offset as its
//! last argument first), keeps the sessions of sockets that left with a recoverable reason, and
//! gives them back with the packets they missed. Storing a packet and handing it to the inner
//! adapter happen under one lock, as do collecting a recovered socket's missed packets and adding
//! it: so a packet reaches a recovered socket exactly once, either replayed or live.
//!
//! A cluster adapter that stores packets itself (Redis streams, `redis::streams`) implements the
//! same [`Adapter`] methods (`persist_session`, `restore_session`, `add_recovered_socket`)
//! instead, and its factory says so ([`AdapterFactory::keeps_sessions`]): it is not wrapped.
//!
//! Across a restart of the node, the store goes to a file and back ([`state_file`], the value it
//! writes being a [`snapshot::Snapshot`]).

pub mod session;
pub mod state_file;
pub mod store;

pub use store::snapshot;

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde_json::Value;

use crate::adapter::{
    AckReplies, Adapter, AdapterFactory, BoxFuture, BroadcastMessage, ClusterError, LinkState,
    NodeSocket, RemoteSummary, ServerEventHandler, ServerReplies,
};
use crate::metrics::Metrics;
use crate::options::{RecoveryOptions, ServerOptions};
use crate::payload::encode_frames;
use crate::protocol::ids::Sid;
use crate::protocol::socketio::Parser;
use crate::room::{Member, Room, Selector, SocketDescription};
use store::{RecoveryStore, Restored, SessionState};

/// How often, at most, expired packets and sessions are swept (on the next store operation).
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// The store of one server, shared by its namespaces' adapters.
pub struct Recovery {
    store: Mutex<(RecoveryStore, Instant)>,
    metrics: Arc<Metrics>,
    parser: Parser,
    /// Where the store outlives the process (`state_file`), if anywhere.
    state_file: Option<std::path::PathBuf>,
    /// The largest state file read: four times the bytes the store may hold (JSON escapes and
    /// base64 make a file larger than what it holds), and a MiB.
    max_file_bytes: u64,
}

impl Recovery {
    /// A store with the bounds and state file of `options`, encoding packets with `parser`,
    /// counting in `metrics`.
    pub fn new(options: &RecoveryOptions, parser: Parser, metrics: Arc<Metrics>) -> Arc<Self> {
        let instance = Sid::new().as_str()[..8].to_owned();
        let b = options.bounds;
        let held = b.max_packet_bytes.saturating_add(b.max_session_bytes) as u64;
        Arc::new(Recovery {
            store: Mutex::new((RecoveryStore::new(b, instance), Instant::now())),
            metrics,
            parser,
            state_file: options.state_file.clone(),
            max_file_bytes: held.saturating_mul(4).saturating_add(1 << 20),
        })
    }

    /// Runs `f` on the store, sweeping expired entries first when it is time, and counting the
    /// evictions `f` caused.
    fn with<R>(&self, f: impl FnOnce(&mut RecoveryStore, Instant) -> R) -> R {
        let now = Instant::now();
        let mut guard = self.store.lock();
        let (store, swept) = &mut *guard;
        if now.duration_since(*swept) >= SWEEP_EVERY {
            store.expire(now);
            *swept = now;
        }
        let out = f(store, now);
        let (a, b, c, d) = store.sizes();
        for (held, n) in self.metrics.recovery_held.iter().zip([a, b, c, d]) {
            held.store(n, std::sync::atomic::Ordering::Relaxed);
        }
        let evicted = store.take_evicted();
        if evicted.packets > 0 {
            self.count(
                "roomcast_recovery_evicted_total",
                "kind",
                "packet",
                evicted.packets,
            );
        }
        if evicted.sessions > 0 {
            self.count(
                "roomcast_recovery_evicted_total",
                "kind",
                "session",
                evicted.sessions,
            );
        }
        out
    }

    fn count(&self, name: &'static str, label: &'static str, value: &str, n: u64) {
        self.metrics
            .labelled_counter(name, label, value)
            .increment(n);
    }

    /// Stored packets and their bytes, kept sessions and their bytes.
    pub fn sizes(&self) -> (usize, usize, usize, usize) {
        self.store.lock().0.sizes()
    }
}

/// Makes [`SessionAwareAdapter`]s around the adapters of another factory.
pub struct SessionAwareFactory<M: Member> {
    inner: Arc<dyn AdapterFactory<M>>,
    recovery: Arc<Recovery>,
}

impl<M: Member> SessionAwareFactory<M> {
    /// Wraps the adapters of `inner`, storing in `recovery`.
    pub fn new(inner: Arc<dyn AdapterFactory<M>>, recovery: Arc<Recovery>) -> Self {
        SessionAwareFactory { inner, recovery }
    }
}

impl<M: Member> SessionAwareFactory<M> {
    /// `inner` wrapped when `options` turn recovery on, with its store; else `inner` itself.
    pub fn wrap(
        inner: Arc<dyn AdapterFactory<M>>,
        options: &ServerOptions,
        metrics: &Arc<Metrics>,
    ) -> (Arc<dyn AdapterFactory<M>>, Option<Arc<Recovery>>) {
        if !options.recovery.enabled {
            return (inner, None);
        }
        if inner.keeps_sessions() {
            if options.recovery.state_file.is_some() {
                tracing::warn!("recovery state_file ignored: the cluster adapter keeps sessions");
            }
            return (inner, None); // a cluster adapter with recovery of its own (Redis streams)
        }
        if inner.link_state() != LinkState::Alone {
            // Offsets would travel to other nodes inside the packets, as extra arguments.
            tracing::warn!("connection state recovery is node-local: off with a cluster adapter");
            return (inner, None);
        }
        let recovery = Recovery::new(&options.recovery, options.parser, metrics.clone());
        let factory = Arc::new(SessionAwareFactory::new(inner, recovery.clone()));
        (factory, Some(recovery))
    }
}

impl<M: Member> AdapterFactory<M> for SessionAwareFactory<M> {
    fn create(&self, nsp: &str) -> Arc<dyn Adapter<M>> {
        Arc::new(SessionAwareAdapter {
            nsp: nsp.to_owned(),
            inner: self.inner.create(nsp),
            recovery: self.recovery.clone(),
        })
    }
    fn link_state(&self) -> LinkState {
        self.inner.link_state()
    }
    fn node_id(&self) -> Option<String> {
        self.inner.node_id()
    }
}

/// A namespace's adapter with connection state recovery.
pub struct SessionAwareAdapter<M: Member> {
    nsp: String,
    inner: Arc<dyn Adapter<M>>,
    recovery: Arc<Recovery>,
}

impl<M: Member> SessionAwareAdapter<M> {
    /// Stores `message` (with its offset appended) and hands it to the inner adapter under the
    /// store's lock; volatile messages only go on.
    fn stored<R>(
        &self,
        mut message: BroadcastMessage,
        on: impl FnOnce(BroadcastMessage) -> R,
    ) -> R {
        if message.options.volatile || message.packet.id.is_some() {
            return on(message);
        }
        let rec = &self.recovery;
        rec.with(|store, now| {
            let seq = store.next_seq(&self.nsp);
            if let Some(Value::Array(args)) = message.packet.data.as_mut() {
                args.push(Value::String(store.offset(seq)));
            }
            message.frames = encode_frames(rec.parser, &message.packet, &message.binary).into();
            store.push(
                &self.nsp,
                message.options.selector.clone(),
                message.frames.clone(),
                now,
            );
            rec.metrics.recovery_packets_stored.increment(1);
            on(message)
        })
    }
}

impl<M: Member> Adapter<M> for SessionAwareAdapter<M> {
    fn add_socket(&self, socket: M) {
        self.inner.add_socket(socket)
    }
    fn remove_socket(&self, sid: Sid) {
        self.inner.remove_socket(sid)
    }
    fn join(&self, sid: Sid, rooms: Vec<Room>) {
        self.inner.join(sid, rooms)
    }
    fn leave(&self, sid: Sid, rooms: Vec<Room>) {
        self.inner.leave(sid, rooms)
    }
    fn broadcast(&self, message: BroadcastMessage) {
        self.stored(message, |m| self.inner.broadcast(m))
    }
    fn broadcast_counted(&self, message: BroadcastMessage) -> BoxFuture<usize> {
        self.stored(message, |m| self.inner.broadcast_counted(m))
    }
    fn sockets_join(&self, selector: Arc<Selector>, rooms: Vec<Room>) -> BoxFuture<usize> {
        self.inner.sockets_join(selector, rooms)
    }
    fn sockets_leave(&self, selector: Arc<Selector>, rooms: Vec<Room>) -> BoxFuture<usize> {
        self.inner.sockets_leave(selector, rooms)
    }
    fn disconnect_sockets(&self, selector: Arc<Selector>, close: bool) -> BoxFuture<usize> {
        self.inner.disconnect_sockets(selector, close)
    }
    fn fetch_sockets(&self, selector: Arc<Selector>) -> BoxFuture<Vec<SocketDescription>> {
        self.inner.fetch_sockets(selector)
    }
    fn local_sockets(&self, selector: Arc<Selector>) -> BoxFuture<Vec<M>> {
        self.inner.local_sockets(selector)
    }
    fn rooms(&self) -> BoxFuture<Vec<(Room, usize)>> {
        self.inner.rooms()
    }
    fn broadcast_with_ack(
        &self,
        message: BroadcastMessage,
        timeout: Duration,
    ) -> BoxFuture<AckReplies> {
        self.inner.broadcast_with_ack(message, timeout)
    }
    fn remote_count(&self, selector: Arc<Selector>) -> BoxFuture<usize> {
        self.inner.remote_count(selector)
    }
    fn server_side_emit(&self, event: &str, args: Vec<Value>) {
        self.inner.server_side_emit(event, args)
    }
    fn server_side_emit_with_ack(
        &self,
        event: &str,
        args: Vec<Value>,
        timeout: Duration,
    ) -> BoxFuture<ServerReplies> {
        self.inner.server_side_emit_with_ack(event, args, timeout)
    }
    fn on_server_event(&self, handler: ServerEventHandler) {
        self.inner.on_server_event(handler)
    }
    fn backlog(&self) -> usize {
        self.inner.backlog()
    }
    fn backpressure(&self) -> Option<BoxFuture<()>> {
        self.inner.backpressure()
    }
    fn node_local(&self) -> Option<&dyn Adapter<M>> {
        self.inner.node_local()
    }
    fn server_count(&self) -> BoxFuture<Result<usize, ClusterError>> {
        self.inner.server_count()
    }
    fn remote_sockets(
        &self,
        selector: Arc<Selector>,
    ) -> BoxFuture<Result<Vec<NodeSocket>, ClusterError>> {
        self.inner.remote_sockets(selector)
    }
    fn remote_summary(&self) -> BoxFuture<Result<RemoteSummary, ClusterError>> {
        self.inner.remote_summary()
    }

    fn keeps_sessions(&self) -> bool {
        true
    }

    fn persist_session(&self, session: SessionState) {
        self.recovery.with(|store, now| store.persist(session, now));
        self.recovery
            .metrics
            .recovery_sessions_persisted
            .increment(1);
    }

    fn restore_session(&self, pid: &str, offset: &str) -> BoxFuture<Option<Restored>> {
        let (rec, nsp) = (self.recovery.clone(), self.nsp.clone());
        let (pid, offset) = (pid.to_owned(), offset.to_owned());
        let attempt = move || {
            let restored = rec.with(|store, now| store.restore(&nsp, &pid, &offset, now));
            std::future::ready(restored)
        };
        let rec = self.recovery.clone();
        Box::pin(async move {
            let restored = session::with_late_session_grace(attempt).await;
            if let Err(why) = &restored {
                rec.count("roomcast_recovery_refused_total", "reason", why.as_str(), 1);
            }
            restored.ok()
        })
    }

    fn add_recovered_socket(&self, socket: M, restored: &Restored) -> bool {
        let after = restored.after;
        let rec = &self.recovery;
        let added = rec.with(|store, now| {
            let sid = socket.id();
            let missed = store.missed(&self.nsp, after, &sid, &socket.named_rooms(), now)?;
            for frames in &missed {
                socket.deliver(frames, false);
            }
            self.inner.add_socket(socket);
            Some(missed.len())
        });
        match added {
            Some(replayed) => {
                rec.metrics.recovery_recovered.increment(1);
                rec.metrics.recovery_replayed.increment(replayed as u64);
                true
            }
            None => {
                rec.count("roomcast_recovery_refused_total", "reason", "range_gone", 1);
                false
            }
        }
    }
}
