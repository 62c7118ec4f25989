//! The room supervisor actor. A namespace's sockets are spread over several of these (by socket id),
//! each on its own arbiter, so fan-out uses every core; a broadcast is one message per supervisor,
//! and each supervisor writes the one shared encoding into its members' bounded outbound queues.

use std::marker::PhantomData;
use std::sync::Arc;

use actix::{Actor, Context, Handler, Message, MessageResult};

use crate::engine::PushOutcome;
use crate::metrics::Metrics;
use crate::protocol::engineio::Frame;
use crate::protocol::ids::Sid;
use crate::room::{BacklogTicket, Member, Room, RoomIndex, Selector};

/// Registers a connected socket (in the named rooms it recorded already). Sent by the adapter when
/// the socket's CONNECT succeeded.
#[derive(Message)]
#[rtype(result = "()")]
pub struct AddMember<M: Member> {
    /// The socket.
    pub member: M,
}

/// Forgets a socket and leaves all its rooms. Sent by the adapter when the socket disconnects.
#[derive(Message)]
#[rtype(result = "()")]
pub struct RemoveMember {
    /// The socket id.
    pub sid: Sid,
}

/// Adds a socket to rooms. Sent by the adapter when the socket joins them.
#[derive(Message)]
#[rtype(result = "()")]
pub struct JoinRooms {
    /// The socket id.
    pub sid: Sid,
    /// Rooms to join.
    pub rooms: Vec<Room>,
}

/// Removes a socket from rooms. Sent by the adapter when the socket leaves them.
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
pub struct Fetch<M> {
    /// Who to list.
    pub selector: Arc<Selector>,
    member: PhantomData<fn() -> M>,
}

impl<M> Fetch<M> {
    /// Lists the members `selector` selects.
    pub fn new(selector: Arc<Selector>) -> Self {
        Fetch {
            selector,
            member: PhantomData,
        }
    }
}

impl<M: Member> Message for Fetch<M> {
    type Result = Vec<M>;
}

/// Lists named rooms with member counts. Sent by the adapter for admin listings.
#[derive(Message)]
#[rtype(result = "Vec<(Room, usize)>")]
pub struct ListRooms;

/// The actor.
pub struct RoomSupervisor<M> {
    index: RoomIndex<M>,
    metrics: Arc<Metrics>,
}

impl<M: Member> RoomSupervisor<M> {
    /// An empty supervisor that counts its deliveries in `metrics`.
    pub fn new(metrics: Arc<Metrics>) -> Self {
        RoomSupervisor {
            index: RoomIndex::default(),
            metrics,
        }
    }
}

impl<M: Member> Actor for RoomSupervisor<M> {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(4096);
    }
}

impl<M: Member> Handler<AddMember<M>> for RoomSupervisor<M> {
    type Result = ();
    fn handle(&mut self, msg: AddMember<M>, _: &mut Self::Context) {
        let sid = msg.member.id();
        let rooms = msg.member.named_rooms();
        self.index.insert(sid, msg.member);
        self.index.join(&sid, &rooms);
    }
}

impl<M: Member> Handler<RemoveMember> for RoomSupervisor<M> {
    type Result = ();
    fn handle(&mut self, msg: RemoveMember, _: &mut Self::Context) {
        self.index.remove(&msg.sid);
    }
}

impl<M: Member> Handler<JoinRooms> for RoomSupervisor<M> {
    type Result = ();
    fn handle(&mut self, msg: JoinRooms, _: &mut Self::Context) {
        self.index.join(&msg.sid, &msg.rooms);
    }
}

impl<M: Member> Handler<LeaveRooms> for RoomSupervisor<M> {
    type Result = ();
    fn handle(&mut self, msg: LeaveRooms, _: &mut Self::Context) {
        self.index.leave(&msg.sid, &msg.rooms);
    }
}

impl<M: Member> Handler<Broadcast> for RoomSupervisor<M> {
    type Result = usize;
    fn handle(&mut self, msg: Broadcast, _: &mut Self::Context) -> usize {
        drop(msg.ticket); // taken: off the backlog
        let mut delivered = 0;
        self.index.for_each_target(&msg.selector, |_, member| {
            if member.deliver(&msg.frames, msg.volatile) == PushOutcome::Queued {
                delivered += 1;
            }
        });
        // Counted before the writers this woke can run (they share this thread), so a scrape
        // made after a client received the packet includes it.
        self.metrics.deliveries.increment(delivered as u64);
        delivered
    }
}

impl<M: Member> Handler<Bulk> for RoomSupervisor<M> {
    type Result = usize;
    fn handle(&mut self, msg: Bulk, _: &mut Self::Context) -> usize {
        let targets = self.index.targets(&msg.selector);
        let mut refused = 0;
        let affected = targets.len();
        for sid in targets {
            match &msg.op {
                BulkOp::Join(rooms) => {
                    // Under the socket's and the server's room limits, like a join of its own.
                    let recorded = self.index.get(&sid).map(|m| m.record_joined(rooms));
                    if matches!(recorded, Some(Ok(()))) {
                        self.index.join(&sid, rooms);
                    } else {
                        refused += 1;
                    }
                }
                BulkOp::Leave(rooms) => {
                    if let Some(member) = self.index.get(&sid) {
                        member.record_left(rooms);
                    }
                    self.index.leave(&sid, rooms);
                }
                BulkOp::Disconnect { close } => {
                    if let Some(member) = self.index.get(&sid) {
                        member.disconnect(*close);
                    }
                }
            }
        }
        affected - refused
    }
}

impl<M: Member> Handler<Fetch<M>> for RoomSupervisor<M> {
    type Result = MessageResult<Fetch<M>>;
    fn handle(&mut self, msg: Fetch<M>, _: &mut Self::Context) -> Self::Result {
        let mut out = Vec::new();
        self.index
            .for_each_target(&msg.selector, |_, s| out.push(s.clone()));
        MessageResult(out)
    }
}

impl<M: Member> Handler<ListRooms> for RoomSupervisor<M> {
    type Result = MessageResult<ListRooms>;
    fn handle(&mut self, _: ListRooms, _: &mut Self::Context) -> Self::Result {
        MessageResult(self.index.room_sizes())
    }
}
