//! The in-process adapter. Each namespace has one room supervisor per worker thread, started on
//! that worker the first time one of its sockets connects there: a socket belongs to the supervisor
//! of the thread its connection lives on. A broadcast is one message per supervisor; each then
//! writes into the queues of connections on its own thread, so a delivery never crosses threads and
//! the woken writers run right after the supervisor, draining several packets per write under load.

use std::collections::HashMap;
use std::sync::Arc;
use std::thread::ThreadId;

use actix::{Actor, Addr};
use parking_lot::RwLock;

use crate::adapter::{Adapter, AdapterFactory, BoxFuture};
use crate::metrics::Metrics;
use crate::protocol::engineio::Frame;
use crate::room::supervisor::{
    AddSocket, Broadcast, Bulk, BulkOp, Fetch, JoinRooms, LeaveRooms, ListRooms, RemoveSocket,
};
use crate::room::{Room, RoomShard, Selector};
use crate::socket::Socket;

/// Makes [`LocalAdapter`]s.
pub struct LocalAdapterFactory {
    metrics: Arc<Metrics>,
}

impl LocalAdapterFactory {
    /// Supervisors will count their deliveries in `metrics`.
    pub fn new(metrics: Arc<Metrics>) -> Self {
        LocalAdapterFactory { metrics }
    }
}

impl AdapterFactory for LocalAdapterFactory {
    fn create(&self, _nsp: &str) -> Arc<dyn Adapter> {
        Arc::new(LocalAdapter::new(self.metrics.clone()))
    }
}

/// The adapter of one namespace in one process.
pub struct LocalAdapter {
    metrics: Arc<Metrics>,
    /// One supervisor per worker thread, in creation order (a socket keeps its index).
    shards: RwLock<Vec<(ThreadId, Addr<RoomShard>)>>,
}

impl LocalAdapter {
    /// An adapter with no supervisor yet.
    pub fn new(metrics: Arc<Metrics>) -> Self {
        LocalAdapter {
            metrics,
            shards: RwLock::new(Vec::new()),
        }
    }

    /// The supervisor of the calling thread (an actix arbiter), started if needed.
    fn local_shard(&self) -> (usize, Addr<RoomShard>) {
        let me = std::thread::current().id();
        if let Some(found) = self.find(me) {
            return found;
        }
        let mut shards = self.shards.write();
        if let Some(i) = shards.iter().position(|(t, _)| *t == me) {
            return (i, shards[i].1.clone());
        }
        let addr = RoomShard::new(self.metrics.clone()).start();
        shards.push((me, addr.clone()));
        (shards.len() - 1, addr)
    }

    fn find(&self, thread: ThreadId) -> Option<(usize, Addr<RoomShard>)> {
        let shards = self.shards.read();
        let i = shards.iter().position(|(t, _)| *t == thread)?;
        Some((i, shards[i].1.clone()))
    }

    /// Runs `f` on the supervisor that owns `socket`.
    fn owner(&self, socket: &Socket, f: impl FnOnce(&Addr<RoomShard>)) {
        if let Some((_, addr)) = self.shards.read().get(socket.adapter_slot()) {
            f(addr);
        }
    }

    fn all(&self) -> Vec<Addr<RoomShard>> {
        self.shards.read().iter().map(|(_, a)| a.clone()).collect()
    }

    fn bulk(&self, selector: Arc<Selector>, op: BulkOp) -> BoxFuture<usize> {
        let requests: Vec<_> = self
            .all()
            .iter()
            .map(|shard| {
                shard.send(Bulk {
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
        let (slot, shard) = self.local_shard();
        socket.set_adapter_slot(slot);
        shard.do_send(AddSocket { socket });
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
        for (_, shard) in self.shards.read().iter() {
            shard.do_send(Broadcast {
                frames: frames.clone(),
                selector: selector.clone(),
                volatile,
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
            .map(|shard| {
                shard.send(Broadcast {
                    frames: frames.clone(),
                    selector: selector.clone(),
                    volatile,
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
fn sum<M>(requests: Vec<actix::dev::Request<RoomShard, M>>) -> BoxFuture<usize>
where
    M: actix::Message<Result = usize> + Send + 'static,
    RoomShard: actix::Handler<M>,
{
    Box::pin(async move {
        let mut total = 0;
        for r in requests {
            total += r.await.unwrap_or(0);
        }
        total
    })
}
