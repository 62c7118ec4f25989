//! The in-process adapter: a namespace's sockets are spread over room supervisors by socket id, each
//! on its own arbiter (one per two cores); a broadcast or bulk operation is one message to each
//! supervisor, a per-socket operation one message to the supervisor that owns the socket.
//!
//! Supervisors run beside the HTTP workers rather than on them, on purpose: under load they keep
//! filling connection queues while the workers write, so each write carries several packets (a
//! supervisor per worker thread was measured to serialise fan-out and writes, and to top out at a
//! fraction of the throughput).

use std::collections::HashMap;
use std::future::Future;
use std::hash::BuildHasher;
use std::sync::Arc;

use actix::{Actor, Addr, Arbiter};
use actix_rt::ArbiterHandle;
use parking_lot::Mutex;

use crate::adapter::{Adapter, AdapterFactory, BoxFuture, BroadcastMessage};
use crate::metrics::Metrics;
use crate::protocol::ids::Sid;
use crate::room::supervisor::{
    AddMember, Broadcast, Bulk, BulkOp, Fetch, JoinRooms, LeaveRooms, ListRooms, RemoveMember,
};
use crate::room::{
    Backlog, Member, Room, RoomSupervisor, RoomWatcher, Selector, SocketDescription,
};

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

impl<M: Member> AdapterFactory<M> for LocalAdapterFactory {
    fn create(&self, _nsp: &str) -> Arc<dyn Adapter<M>> {
        Arc::new(LocalAdapter::new(&self.pool.handles(), &self.metrics))
    }
}

/// The adapter of one namespace in one process, for members `M`.
pub struct LocalAdapter<M: Member> {
    supervisors: Vec<Addr<RoomSupervisor<M>>>,
    hasher: std::collections::hash_map::RandomState,
    /// Broadcast messages sent to supervisors and not yet handled.
    backlog: Arc<Backlog>,
}

impl<M: Member> LocalAdapter<M> {
    /// One room supervisor on each of `arbiters`.
    pub fn new(arbiters: &[ArbiterHandle], metrics: &Arc<Metrics>) -> Self {
        Self::watched(arbiters, metrics, None)
    }

    /// [`LocalAdapter::new`], each supervisor telling `watcher` (if any) when a named room gets
    /// its first member or loses its last in that supervisor (a room spread over several
    /// supervisors is reported by each).
    pub fn watched(
        arbiters: &[ArbiterHandle],
        metrics: &Arc<Metrics>,
        watcher: Option<RoomWatcher>,
    ) -> Self {
        let supervisors = arbiters
            .iter()
            .map(|a| {
                let (metrics, watcher) = (metrics.clone(), watcher.clone());
                RoomSupervisor::start_in_arbiter(a, move |_| {
                    RoomSupervisor::watched(metrics, watcher)
                })
            })
            .collect();
        LocalAdapter {
            supervisors,
            hasher: Default::default(),
            backlog: Arc::default(),
        }
    }

    /// The supervisor that owns socket `sid`: chosen by a hash of the id, so every operation on
    /// the socket finds the same one without the socket having to remember it.
    fn owner(&self, sid: &Sid) -> Option<&Addr<RoomSupervisor<M>>> {
        let slot = (self.hasher.hash_one(sid) as usize).checked_rem(self.supervisors.len())?;
        self.supervisors.get(slot)
    }

    fn all(&self) -> &[Addr<RoomSupervisor<M>>] {
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

impl<M: Member> Adapter<M> for LocalAdapter<M> {
    fn add_socket(&self, socket: M) {
        if let Some(owner) = self.owner(&socket.id()) {
            owner.do_send(AddMember { member: socket });
        }
    }

    fn remove_socket(&self, sid: Sid) {
        if let Some(owner) = self.owner(&sid) {
            owner.do_send(RemoveMember { sid });
        }
    }

    fn join(&self, sid: Sid, rooms: Vec<Room>) {
        if let Some(owner) = self.owner(&sid) {
            owner.do_send(JoinRooms { sid, rooms });
        }
    }

    fn leave(&self, sid: Sid, rooms: Vec<Room>) {
        if let Some(owner) = self.owner(&sid) {
            owner.do_send(LeaveRooms { sid, rooms });
        }
    }

    fn broadcast(&self, message: BroadcastMessage) {
        // The packet itself is for other nodes: here only its encoding travels on.
        let BroadcastMessage {
            frames, options, ..
        } = message;
        for supervisor in &self.supervisors {
            supervisor.do_send(Broadcast {
                frames: frames.clone(),
                selector: options.selector.clone(),
                volatile: options.volatile,
                ticket: self.backlog.ticket(),
            });
        }
    }

    fn broadcast_counted(&self, message: BroadcastMessage) -> BoxFuture<usize> {
        let BroadcastMessage {
            frames, options, ..
        } = message;
        let requests: Vec<_> = self
            .all()
            .iter()
            .map(|supervisor| {
                supervisor.send(Broadcast {
                    frames: frames.clone(),
                    selector: options.selector.clone(),
                    volatile: options.volatile,
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

    fn fetch_sockets(&self, selector: Arc<Selector>) -> BoxFuture<Vec<SocketDescription>> {
        // Described by the caller's task, not on the supervisors' threads.
        let members = self.local_sockets(selector);
        Box::pin(async move { members.await.iter().map(M::describe).collect() })
    }

    fn local_sockets(&self, selector: Arc<Selector>) -> BoxFuture<Vec<M>> {
        let requests: Vec<_> = self
            .all()
            .iter()
            .map(|s| s.send(Fetch::new(selector.clone())))
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
fn sum<R>(requests: Vec<R>) -> BoxFuture<usize>
where
    R: Future<Output = Result<usize, actix::MailboxError>> + 'static,
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
    use crate::adapter::{BroadcastOptions, BACKLOG_HIGH};
    use crate::payload::Payload;
    use crate::protocol::socketio::Parser;
    use crate::room::test_member::TestMember;
    use std::time::Duration;

    fn select(rooms: &[&str]) -> Arc<Selector> {
        Arc::new(Selector {
            rooms: rooms.iter().map(|r| Room::from(*r)).collect(),
            ..Selector::default()
        })
    }

    fn message(rooms: &[&str]) -> BroadcastMessage {
        let options = BroadcastOptions {
            selector: select(rooms),
            volatile: false,
        };
        BroadcastMessage::event(Parser::Default, "/", "x", Payload::new(), options)
    }

    #[test]
    fn each_member_is_found_by_its_id_on_the_supervisor_that_owns_it() {
        actix_rt::System::new().block_on(async {
            let pool = ArbiterPool::new(2);
            let adapter: LocalAdapter<TestMember> =
                LocalAdapter::new(&pool.handles(), &Arc::new(Metrics::new()));
            let members: Vec<TestMember> = (0..8).map(|_| TestMember::new(1)).collect();
            for m in &members {
                adapter.add_socket(m.clone());
            }
            let a = [Room::from("a")];
            for m in &members[..4] {
                m.record_joined(&a).expect("under the limit");
                adapter.join(m.id(), a.to_vec());
            }
            let count = adapter.broadcast_counted(message(&["a"]));
            assert_eq!(count.await, 4);
            assert_eq!(members[0].delivered(), 1);
            assert_eq!(members[7].delivered(), 0);
            let joined = adapter.sockets_join(select(&[]), vec![Room::from("b")]);
            assert_eq!(joined.await, 4, "the members in \"a\" are at their limit");
            assert_eq!(adapter.fetch_sockets(select(&["b"])).await.len(), 4);
            adapter.leave(members[0].id(), a.to_vec());
            adapter.remove_socket(members[1].id());
            let count = adapter.broadcast_counted(message(&["a"]));
            assert_eq!(count.await, 2);
            let own_room = members[2].id();
            let closed = adapter.disconnect_sockets(select(&[own_room.as_str()]), true);
            assert_eq!(closed.await, 1);
            assert_eq!(members[2].disconnected(), Some(true));
            assert_eq!(members[3].disconnected(), None);
            pool.stop();
        });
    }

    #[test]
    fn backlog_counts_broadcasts_until_handled() {
        actix_rt::System::new().block_on(async {
            let pool = ArbiterPool::new(2);
            let adapter: LocalAdapter<TestMember> =
                LocalAdapter::new(&pool.handles(), &Arc::new(Metrics::new()));
            for _ in 0..10 {
                adapter.broadcast(message(&[]));
            }
            assert!(
                adapter.backlog() <= 20,
                "two supervisors, ten broadcasts each"
            );
            // A counted broadcast queues behind the others on each supervisor: once it is
            // answered, everything before it was handled.
            let recipients = adapter.broadcast_counted(message(&[])).await;
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
            let adapter: LocalAdapter<TestMember> =
                LocalAdapter::new(&pool.handles(), &Arc::new(Metrics::new()));
            for _ in 0..=BACKLOG_HIGH {
                adapter.broadcast(message(&[]));
            }
            let drained = adapter.backpressure().expect("past the high mark");
            pool.stop();
            tokio::time::timeout(Duration::from_secs(5), drained)
                .await
                .expect("the unhandled broadcasts were counted off");
            // Refused by the stopped supervisor: counted off at once.
            adapter.broadcast(message(&[]));
            let deadline = std::time::Instant::now() + Duration::from_secs(5);
            while adapter.backlog() > 0 && std::time::Instant::now() < deadline {
                actix_rt::time::sleep(Duration::from_millis(5)).await;
            }
            assert_eq!(adapter.backlog(), 0);
        });
    }
}
