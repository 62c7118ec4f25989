//! The room supervisor actor. A namespace's sockets are spread over several of these (by socket id),
//! each on its own arbiter, so fan-out uses every core; a broadcast is one message per supervisor,
//! and each supervisor writes the one shared encoding into its members' bounded outbound queues.

use std::sync::Arc;

use actix::{Actor, Context, Handler, Message, MessageResult};

use crate::engine::PushOutcome;
use crate::metrics::Metrics;
use crate::protocol::engineio::Frame;
use crate::protocol::ids::Sid;
use crate::room::{BacklogTicket, Room, RoomIndex, Selector};
use crate::socket::Socket;

/// Registers a connected socket. Sent by the socket actor once its CONNECT succeeded.
#[derive(Message)]
#[rtype(result = "()")]
pub struct AddSocket {
    /// The socket.
    pub socket: Socket,
}

/// Forgets a socket and leaves all its rooms. Sent by the socket actor when it disconnects.
#[derive(Message)]
#[rtype(result = "()")]
pub struct RemoveSocket {
    /// The socket id.
    pub sid: Sid,
}

/// Adds a socket to rooms. Sent by `Socket::join`.
#[derive(Message)]
#[rtype(result = "()")]
pub struct JoinRooms {
    /// The socket id.
    pub sid: Sid,
    /// Rooms to join.
    pub rooms: Vec<Room>,
}

/// Removes a socket from rooms. Sent by `Socket::leave`.
#[derive(Message)]
#[rtype(result = "()")]
pub struct LeaveRooms {
    /// The socket id.
    pub sid: Sid,
    /// Rooms to leave.
    pub rooms: Vec<Room>,
}

/// Delivers one encoded packet to every selected member. Sent by the adapter for each broadcast;
/// answers how many members it was queued to.
#[derive(Message)]
#[rtype(result = "usize")]
pub struct Broadcast {
    /// The encoded packet (text frame, then attachments), shared by every recipient.
    pub frames: Arc<[Frame]>,
    /// Who receives it.
    pub selector: Arc<Selector>,
    /// Drop instead of disconnecting when a recipient's queue is full.
    pub volatile: bool,
    /// Counts the message in the namespace's fan-out backlog until it is handled (or dropped
    /// unhandled).
    pub ticket: BacklogTicket,
}

/// A bulk operation on the selected members. Sent by the adapter (`socketsJoin` and friends);
/// answers how many members it affected.
#[derive(Message)]
#[rtype(result = "usize")]
pub struct Bulk {
    /// Who is affected.
    pub selector: Arc<Selector>,
    /// What to do.
    pub op: BulkOp,
}

/// The bulk operations.
#[derive(Debug, Clone)]
pub enum BulkOp {
    /// Join these rooms.
    Join(Vec<Room>),
    /// Leave these rooms.
    Leave(Vec<Room>),
    /// Disconnect (and close the whole connection when `close`).
    Disconnect {
        /// Close the underlying connection too.
        close: bool,
    },
}

/// Lists the selected members. Sent by the adapter for `fetchSockets`.
#[derive(Message)]
#[rtype(result = "Vec<Socket>")]
pub struct Fetch {
    /// Who to list.
    pub selector: Arc<Selector>,
}

/// Lists named rooms with member counts. Sent by the adapter for admin listings.
#[derive(Message)]
#[rtype(result = "Vec<(Room, usize)>")]
pub struct ListRooms;

/// The actor.
pub struct RoomSupervisor {
    index: RoomIndex<Socket>,
    metrics: Arc<Metrics>,
}

impl RoomSupervisor {
    /// An empty supervisor that counts its deliveries in `metrics`.
    pub fn new(metrics: Arc<Metrics>) -> Self {
        RoomSupervisor {
            index: RoomIndex::default(),
            metrics,
        }
    }
}

impl Actor for RoomSupervisor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(4096);
    }
}

impl Handler<AddSocket> for RoomSupervisor {
    type Result = ();
    fn handle(&mut self, msg: AddSocket, _: &mut Self::Context) {
        let sid = msg.socket.id();
        let rooms = msg.socket.named_rooms();
        self.index.insert(sid, msg.socket);
        self.index.join(&sid, &rooms);
    }
}

impl Handler<RemoveSocket> for RoomSupervisor {
    type Result = ();
    fn handle(&mut self, msg: RemoveSocket, _: &mut Self::Context) {
        self.index.remove(&msg.sid);
    }
}

impl Handler<JoinRooms> for RoomSupervisor {
    type Result = ();
    fn handle(&mut self, msg: JoinRooms, _: &mut Self::Context) {
        self.index.join(&msg.sid, &msg.rooms);
    }
}

impl Handler<LeaveRooms> for RoomSupervisor {
    type Result = ();
    fn handle(&mut self, msg: LeaveRooms, _: &mut Self::Context) {
        self.index.leave(&msg.sid, &msg.rooms);
    }
}

impl Handler<Broadcast> for RoomSupervisor {
    type Result = usize;
    fn handle(&mut self, msg: Broadcast, _: &mut Self::Context) -> usize {
        drop(msg.ticket); // taken: off the backlog
        let mut delivered = 0;
        self.index.for_each_target(&msg.selector, |_, socket| {
            if socket.conn().push(&msg.frames, msg.volatile) == PushOutcome::Queued {
                delivered += 1;
            }
        });
        // Counted before the writers this woke can run (they share this thread), so a scrape
        // made after a client received the packet includes it.
        self.metrics.deliveries.increment(delivered as u64);
        delivered
    }
}

impl Handler<Bulk> for RoomSupervisor {
    type Result = usize;
    fn handle(&mut self, msg: Bulk, _: &mut Self::Context) -> usize {
        let targets = self.index.targets(&msg.selector);
        let mut refused = 0;
        let affected = targets.len();
        for sid in targets {
            match &msg.op {
                BulkOp::Join(rooms) => {
                    // Under the socket's and the server's room limits, like a join of its own.
                    let recorded = self.index.get(&sid).map(|s| s.record_joined(rooms));
                    if recorded == Some(Ok(())) {
                        self.index.join(&sid, rooms);
                    } else {
                        refused += 1;
                    }
                }
                BulkOp::Leave(rooms) => {
                    if let Some(socket) = self.index.get(&sid) {
                        socket.record_left(rooms);
                    }
                    self.index.leave(&sid, rooms);
                }
                BulkOp::Disconnect { close } => {
                    if let Some(socket) = self.index.get(&sid) {
                        socket.disconnect(*close);
                    }
                }
            }
        }
        affected - refused
    }
}

impl Handler<Fetch> for RoomSupervisor {
    type Result = MessageResult<Fetch>;
    fn handle(&mut self, msg: Fetch, _: &mut Self::Context) -> Self::Result {
        let mut out = Vec::new();
        self.index
            .for_each_target(&msg.selector, |_, s| out.push(s.clone()));
        MessageResult(out)
    }
}

impl Handler<ListRooms> for RoomSupervisor {
    type Result = MessageResult<ListRooms>;
    fn handle(&mut self, _: ListRooms, _: &mut Self::Context) -> Self::Result {
        MessageResult(self.index.room_sizes())
    }
}
