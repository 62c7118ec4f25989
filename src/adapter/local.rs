//! The in-process adapter: a namespace's sockets are spread over room supervisors by socket id, each
//! on its own arbiter (one per two cores); a broadcast or bulk operation is one message to each
//! supervisor, a per-socket operation one message to the supervisor that owns the socket.
//!
//! Supervisors run beside the HTTP workers rather than on them, on purpose: under load they keep
//! filling connection queues while the workers write, so each write carries several packets (a
//! supervisor per worker thread was measured to serialise fan-out and writes, and to top out at a
//! fraction of the throughput).

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Arc;

use actix::{Actor, Addr, Arbiter};
use actix_rt::ArbiterHandle;
use parking_lot::Mutex;

use crate::adapter::{Adapter, AdapterFactory, BoxFuture};
use crate::metrics::Metrics;
use crate::protocol::engineio::Frame;
use crate::room::supervisor::{
    AddSocket, Broadcast, Bulk, BulkOp, Fetch, JoinRooms, LeaveRooms, ListRooms, RemoveSocket,
};
use crate::room::{Backlog, Room, RoomSupervisor, Selector};
use crate::socket::Socket;

/// Arbiters the room supervisors run on, started on first use (inside the actix system).
pub struct ArbiterPool {
    size: usize,
    arbiters: Mutex<Vec<Arbiter>>,
}

impl ArbiterPool {
    /// A pool of `size` arbiters (at least one).
    pub fn new(size: usize) -> Self {
        ArbiterPool {
            size: size.max(1),
            arbiters: Mutex::new(Vec::new()),
        }
    }

    /// Handles to the arbiters, starting them if needed.
    pub fn handles(&self) -> Vec<ArbiterHandle> {
        let mut arbiters = self.arbiters.lock();
        while arbiters.len() < self.size {
            arbiters.push(Arbiter::new());
        }
        arbiters.iter().map(|a| a.handle()).collect()
    }

    /// Stops every arbiter (server shutdown).
    pub fn stop(&self) {
        for a in self.arbiters.lock().drain(..) {
            a.stop();
        }
    }
}

impl Drop for ArbiterPool {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Makes [`LocalAdapter`]s on a shared arbiter pool.
pub struct LocalAdapterFactory {
    pool: Arc<ArbiterPool>,
    metrics: Arc<Metrics>,
}

impl LocalAdapterFactory {
    /// Supervisors of every namespace will run on `pool` and count deliveries in `metrics`.
    pub fn new(pool: Arc<ArbiterPool>, metrics: Arc<Metrics>) -> Self {
        LocalAdapterFactory { pool, metrics }
    }
}

impl AdapterFactory for LocalAdapterFactory {
    fn create(&self, _nsp: &str) -> Arc<dyn Adapter> {
        Arc::new(LocalAdapter::new(&self.pool.handles(), &self.metrics))
    }
}

/// The adapter of one namespace in one process.
pub struct LocalAdapter {
    supervisors: Vec<Addr<RoomSupervisor>>,
    hasher: std::collections::hash_map::RandomState,
    /// Broadcast messages sent to supervisors and not yet handled.
    backlog: Arc<Backlog>,
}

impl LocalAdapter {
    /// One room supervisor on each of `arbiters`.
    pub fn new(arbiters: &[ArbiterHandle], metrics: &Arc<Metrics>) -> Self {
        let supervisors = arbiters
            .iter()
            .map(|a| {
                let metrics = metrics.clone();
                RoomSupervisor::start_in_arbiter(a, move |_| RoomSupervisor::new(metrics))
            })
            .collect();
        LocalAdapter {
            supervisors,
            hasher: Default::default(),
            backlog: Arc::default(),
        }
    }

    /// Runs `f` on the supervisor that owns `socket`.
    fn owner(&self, socket: &Socket, f: impl FnOnce(&Addr<RoomSupervisor>)) {
        if let Some(addr) = self.supervisors.get(socket.adapter_slot()) {
            f(addr);
        }
    }

    fn all(&self) -> &[Addr<RoomSupervisor>] {
        &self.supervisors
    }

    fn bulk(&self, selector: Arc<Selector>, op: BulkOp) -> BoxFuture<usize> {
        let requests: Vec<_> = self
            .all()
            .iter()
            .map(|supervisor| {
                supervisor.send(Bulk {
                    selector: selector.clone(),
                    op: op.clone(),
                })
            })
            .collect();
        sum(requests)
    }
}

impl Adapter for LocalAdapter {
    fn add_socket(&self, socket: Socket) {
        // The modulo keeps the index below `supervisors.len()`, which is at least one.
        let slot = (self.hasher.hash_one(socket.id()) as usize) % self.supervisors.len();
        socket.set_adapter_slot(slot);
        self.supervisors[slot].do_send(AddSocket { socket });
    }

    fn remove_socket(&self, socket: &Socket) {
        let sid = socket.id();
        self.owner(socket, |s| s.do_send(RemoveSocket { sid }));
    }

    fn join(&self, socket: &Socket, rooms: Vec<Room>) {
        let sid = socket.id();
        self.owner(socket, |s| s.do_send(JoinRooms { sid, rooms }));
    }

    fn leave(&self, socket: &Socket, rooms: Vec<Room>) {
        let sid = socket.id();
        self.owner(socket, |s| s.do_send(LeaveRooms { sid, rooms }));
    }

    fn broadcast(&self, frames: Arc<[Frame]>, selector: Arc<Selector>, volatile: bool) {
        for supervisor in &self.supervisors {
            supervisor.do_send(Broadcast {
                frames: frames.clone(),
                selector: selector.clone(),
                volatile,
                ticket: self.backlog.ticket(),
            });
        }
    }

    fn broadcast_counted(
        &self,
        frames: Arc<[Frame]>,
        selector: Arc<Selector>,
        volatile: bool,
    ) -> BoxFuture<usize> {
        let requests: Vec<_> = self
            .all()
            .iter()
            .map(|supervisor| {
                supervisor.send(Broadcast {
                    frames: frames.clone(),
                    selector: selector.clone(),
                    volatile,
                    ticket: self.backlog.ticket(),
                })
            })
            .collect();
        sum(requests)
    }

    fn sockets_join(&self, selector: Arc<Selector>, rooms: Vec<Room>) -> BoxFuture<usize> {
        self.bulk(selector, BulkOp::Join(rooms))
    }

    fn sockets_leave(&self, selector: Arc<Selector>, rooms: Vec<Room>) -> BoxFuture<usize> {
        self.bulk(selector, BulkOp::Leave(rooms))
    }

    fn disconnect_sockets(&self, selector: Arc<Selector>, close: bool) -> BoxFuture<usize> {
        self.bulk(selector, BulkOp::Disconnect { close })
    }

    fn fetch_sockets(&self, selector: Arc<Selector>) -> BoxFuture<Vec<Socket>> {
        let requests: Vec<_> = self
            .all()
            .iter()
            .map(|s| {
                s.send(Fetch {
                    selector: selector.clone(),
                })
            })
            .collect();
        Box::pin(async move {
            let mut out = Vec::new();
            for r in requests {
                out.extend(r.await.unwrap_or_default());
            }
            out
        })
    }

    fn backlog(&self) -> usize {
        self.backlog.len()
    }

    fn backpressure(&self) -> Option<BoxFuture<()>> {
        if !self.backlog.over_high() {
            return None;
        }
        let backlog = self.backlog.clone();
        Some(Box::pin(async move { backlog.drained().await }))
    }

    fn rooms(&self) -> BoxFuture<Vec<(Room, usize)>> {
        let requests: Vec<_> = self.all().iter().map(|s| s.send(ListRooms)).collect();
        Box::pin(async move {
            let mut merged: HashMap<Room, usize> = HashMap::new();
            for r in requests {
                for (room, n) in r.await.unwrap_or_default() {
                    *merged.entry(room).or_default() += n;
                }
            }
            merged.into_iter().collect()
        })
    }
}

/// Adds up the supervisors' answers (a supervisor that is gone counts nothing).
fn sum<M>(requests: Vec<actix::dev::Request<RoomSupervisor, M>>) -> BoxFuture<usize>
where
    M: actix::Message<Result = usize> + Send + 'static,
    RoomSupervisor: actix::Handler<M>,
{
    // Awaited by a task of its own: a supervisor skips a request whose caller has gone, so a
    // caller that drops the future (it need not await the count) must not cancel the operation.
    let task = actix_rt::spawn(async move {
        let mut total = 0;
        for r in requests {
            total += r.await.unwrap_or(0);
        }
        total
    });
    Box::pin(async move { task.await.unwrap_or(0) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapter::BACKLOG_HIGH;
    use std::time::Duration;

    #[test]
    fn backlog_counts_broadcasts_until_handled() {
        actix_rt::System::new().block_on(async {
            let pool = ArbiterPool::new(2);
            let adapter = LocalAdapter::new(&pool.handles(), &Arc::new(Metrics::new()));
            let frames: Arc<[Frame]> = vec![Frame::message("2[\"x\"]")].into();
            let selector = Arc::new(Selector::default());
            for _ in 0..10 {
                adapter.broadcast(frames.clone(), selector.clone(), false);
            }
            assert!(
                adapter.backlog() <= 20,
                "two supervisors, ten broadcasts each"
            );
            // A counted broadcast queues behind the others on each supervisor: once it is
            // answered, everything before it was handled.
            let recipients = adapter.broadcast_counted(frames, selector, false).await;
            assert_eq!(recipients, 0);
            assert_eq!(
                adapter.backlog(),
                0,
                "every broadcast was handled and counted off"
            );
            pool.stop();
        });
    }

    #[test]
    fn a_stopped_supervisor_does_not_hold_publishers_back() {
        actix_rt::System::new().block_on(async {
            let pool = ArbiterPool::new(1);
            // The supervisor's thread is busy until its arbiter is told to stop, so the
            // broadcasts queued meanwhile are never handled, only dropped with its mailbox.
            pool.handles()[0].spawn(async { std::thread::sleep(Duration::from_millis(100)) });
            let adapter = LocalAdapter::new(&pool.handles(), &Arc::new(Metrics::new()));
            let frames: Arc<[Frame]> = vec![Frame::message("2[\"x\"]")].into();
            let selector = Arc::new(Selector::default());
            for _ in 0..=BACKLOG_HIGH {
                adapter.broadcast(frames.clone(), selector.clone(), false);
            }
            let drained = adapter.backpressure().expect("past the high mark");
            pool.stop();
            tokio::time::timeout(Duration::from_secs(5), drained)
                .await
                .expect("the unhandled broadcasts were counted off");
            // Refused by the stopped supervisor: counted off at once.
            adapter.broadcast(frames, selector, false);
            let deadline = std::time::Instant::now() + Duration::from_secs(5);
            while adapter.backlog() > 0 && std::time::Instant::now() < deadline {
                actix_rt::time::sleep(Duration::from_millis(5)).await;
            }
            assert_eq!(adapter.backlog(), 0);
        });
    }
}
