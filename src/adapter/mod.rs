//! The adapter seam: every broadcast and room operation of a namespace goes through an [`Adapter`].
//! The in-process [`local::LocalAdapter`] hands them to the namespace's room supervisors; a cluster
//! adapter (Redis) will also publish them to the other nodes.

pub mod local;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::protocol::engineio::Frame;
use crate::protocol::ids::Sid;
use crate::room::{Member, Room, Selector, SocketDescription};

/// A boxed future, as adapters return them.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// The operations a namespace delegates, on its sockets as members `M` (the namespace layer picks
/// the type: `dyn Adapter<crate::Socket>`).
pub trait Adapter<M: Member>: Send + Sync + 'static {
    /// A socket connected (in the named rooms it recorded already, usually none).
    fn add_socket(&self, socket: M);
    /// The socket `sid` disconnected: forget it and its rooms.
    fn remove_socket(&self, sid: Sid);
    /// The socket `sid` joins rooms.
    fn join(&self, sid: Sid, rooms: Vec<Room>);
    /// The socket `sid` leaves rooms.
    fn leave(&self, sid: Sid, rooms: Vec<Room>);
    /// Deliver one encoded packet to the selected sockets.
    fn broadcast(&self, frames: Arc<[Frame]>, selector: Arc<Selector>, volatile: bool);
    /// [`Adapter::broadcast`], resolving to the number of recipients (the delivery itself starts
    /// at once, whether or not the future is awaited).
    fn broadcast_counted(
        &self,
        frames: Arc<[Frame]>,
        selector: Arc<Selector>,
        volatile: bool,
    ) -> BoxFuture<usize>;
    /// The selected sockets join `rooms`; resolves to how many were selected.
    fn sockets_join(&self, selector: Arc<Selector>, rooms: Vec<Room>) -> BoxFuture<usize>;
    /// The selected sockets leave `rooms`; resolves to how many were selected.
    fn sockets_leave(&self, selector: Arc<Selector>, rooms: Vec<Room>) -> BoxFuture<usize>;
    /// The selected sockets are disconnected (their connections closed too when `close`);
    /// resolves to how many were selected.
    fn disconnect_sockets(&self, selector: Arc<Selector>, close: bool) -> BoxFuture<usize>;
    /// The selected sockets, described as plain data (a cluster adapter gathers them from every
    /// node).
    fn fetch_sockets(&self, selector: Arc<Selector>) -> BoxFuture<Vec<SocketDescription>>;
    /// The selected sockets connected to this node, as live members. Local only: never a socket
    /// of another node, whatever the adapter; for what needs the socket itself (an emit that
    /// waits for acknowledgements).
    fn local_sockets(&self, selector: Arc<Selector>) -> BoxFuture<Vec<M>>;
    /// Named rooms and their sizes.
    fn rooms(&self) -> BoxFuture<Vec<(Room, usize)>>;
    /// Broadcasts handed over but not yet fanned out.
    fn backlog(&self) -> usize {
        0
    }
    /// While the fan-out backlog is past [`BACKLOG_HIGH`]: a future that resolves once it is down
    /// to [`BACKLOG_LOW`] (never later than the supervisors' end), which a socket whose client
    /// publishes waits for, so fan-out backlogs stay bounded. `None` when nobody needs to wait.
    fn backpressure(&self) -> Option<BoxFuture<()>> {
        None
    }
}

pub use crate::room::backlog::{BACKLOG_HIGH, BACKLOG_LOW};

/// Makes the adapter of each namespace.
pub trait AdapterFactory<M: Member>: Send + Sync + 'static {
    /// The adapter for namespace `nsp`.
    fn create(&self, nsp: &str) -> Arc<dyn Adapter<M>>;
}
