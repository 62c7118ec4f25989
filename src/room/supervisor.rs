//! The room supervisor actor. A namespace's sockets are spread over several of these (by socket id),
//! each on its own arbiter, so fan-out uses every core; a broadcast is one message per supervisor,
//! and each supervisor writes the one shared encoding into its members' bounded outbound queues.
//!
//! A supervisor may have a [`RoomWatcher`]: told, on the supervisor's thread, each time one of its
//! named rooms gets its first member or loses its last (a sharded cluster adapter subscribes to a
//! room's channel only while the room has members here).

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

/// Called with a named room and `true` when the room gets its first member in one supervisor's
/// index, `false` when it loses its last there. Runs on the supervisor's thread: it must not block.
pub type RoomWatcher = Arc<dyn Fn(&Room, bool) + Send + Sync>;

/// The actor.
pub struct RoomSupervisor<M> {
    index: RoomIndex<M>,
    metrics: Arc<Metrics>,
    watcher: Option<RoomWatcher>,
}

impl<M: Member> RoomSupervisor<M> {
    /// An empty supervisor that counts its deliveries in `metrics`.
    pub fn new(metrics: Arc<Metrics>) -> Self {
        Self::watched(metrics, None)
    }

    /// [`RoomSupervisor::new`], telling `watcher` (if any) when its rooms appear and disappear.
    pub fn watched(metrics: Arc<Metrics>, watcher: Option<RoomWatcher>) -> Self {
        RoomSupervisor {
            index: RoomIndex::default(),
            metrics,
            watcher,
        }
    }

    /// Applies `change` to the index and tells the watcher which of `rooms` appeared or
    /// disappeared through it.
    fn watch<R>(&mut self, rooms: &[Room], change: impl FnOnce(&mut RoomIndex<M>) -> R) -> R {
        let Some(watcher) = &self.watcher else {
            return change(&mut self.index);
        };
        let before: Vec<bool> = rooms.iter().map(|r| self.index.has_room(r)).collect();
        let out = change(&mut self.index);
        for (room, was) in rooms.iter().zip(before) {
            let is = self.index.has_room(room);
            if is != was {
                watcher(room, is);
            }
        }
        out
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
        self.watch(&rooms, |index| index.join(&sid, &rooms));
    }
}

impl<M: Member> Handler<RemoveMember> for RoomSupervisor<M> {
    type Result = ();
    fn handle(&mut self, msg: RemoveMember, _: &mut Self::Context) {
        let rooms = self.index.rooms_of(&msg.sid).unwrap_or_default();
        self.watch(&rooms, |index| index.remove(&msg.sid));
    }
}

impl<M: Member> Handler<JoinRooms> for RoomSupervisor<M> {
    type Result = ();
    fn handle(&mut self, msg: JoinRooms, _: &mut Self::Context) {
        self.watch(&msg.rooms, |index| index.join(&msg.sid, &msg.rooms));
    }
}

impl<M: Member> Handler<LeaveRooms> for RoomSupervisor<M> {
    type Result = ();
    fn handle(&mut self, msg: LeaveRooms, _: &mut Self::Context) {
        self.watch(&msg.rooms, |index| index.leave(&msg.sid, &msg.rooms));
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
                        self.watch(rooms, |index| index.join(&sid, rooms));
                    } else {
                        refused += 1;
                    }
                }
                BulkOp::Leave(rooms) => {
                    if let Some(member) = self.index.get(&sid) {
                        member.record_left(rooms);
                    }
                    self.watch(rooms, |index| index.leave(&sid, rooms));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::room::test_member::TestMember;
    use parking_lot::Mutex;

    #[test]
    fn the_watcher_hears_of_each_room_appearing_and_disappearing_once() {
        actix_rt::System::new().block_on(async {
            let heard: Arc<Mutex<Vec<(String, bool)>>> = Arc::default();
            let log = heard.clone();
            let watcher: RoomWatcher = Arc::new(move |room, present| {
                log.lock().push((room.to_string(), present));
            });
            let metrics = Arc::new(Metrics::new());
            let sup = RoomSupervisor::watched(metrics, Some(watcher)).start();
            let (a, b) = (TestMember::new(4), TestMember::new(4));
            let room = |r: &str| Room::from(r);
            for m in [&a, &b] {
                sup.send(AddMember { member: m.clone() })
                    .await
                    .expect("alive");
            }
            let join = |m: &TestMember, rooms: &[&str]| JoinRooms {
                sid: m.id(),
                rooms: rooms.iter().map(|r| room(r)).collect(),
            };
            sup.send(join(&a, &["r", "s"])).await.expect("alive");
            sup.send(join(&b, &["r"])).await.expect("alive");
            let leave = LeaveRooms {
                sid: a.id(),
                rooms: vec![room("r"), room("s")],
            };
            sup.send(leave).await.expect("alive");
            let everyone = Arc::new(Selector::default());
            let bulk = |op| Bulk {
                selector: everyone.clone(),
                op,
            };
            sup.send(bulk(BulkOp::Join(vec![room("t")])))
                .await
                .expect("alive");
            sup.send(bulk(BulkOp::Leave(vec![room("t")])))
                .await
                .expect("alive");
            sup.send(RemoveMember { sid: b.id() }).await.expect("alive");
            let expected = [("r", true), ("s", true), ("s", false), ("t", true)];
            let expected = expected.iter().chain(&[("t", false), ("r", false)]);
            let expected: Vec<(String, bool)> =
                expected.map(|(r, p)| (r.to_string(), *p)).collect();
            assert_eq!(*heard.lock(), expected);
        });
    }
}
