//! One client of a fanout run: a subscriber or a publisher in one room. It connects and joins,
//! checks every delivery against a per-publisher sliding window (duplicates, reordering, foreign
//! messages), times it, and a publisher publishes stamped messages when the shared client loop
//! says they are due.

use std::rc::Rc;

use tokio::sync::{watch, Semaphore};
use tokio::task::JoinHandle;

use super::fleet::{PhaseCmd, Shared};
use super::receive::{Seat, Window};
use super::FanoutParams;
use crate::client::{self, Paced, SendWindow};
use crate::common::{AckRing, Ctx};
use crate::scan::{self, Stamp};
use crate::sys::now_us;
use crate::ws::{Conn, Handler};

/// The binary attachment's place in a publish's arguments.
const PLACEHOLDER: &[u8] = b",{\"_placeholder\":true,\"num\":0}";

#[derive(Debug, Clone, Copy)]
enum Role {
    Subscriber {
        room: usize,
        node: usize,
    },
    Publisher {
        id: usize,
        room: usize,
        receivers: u64,
    },
}

struct Client {
    ctx: Rc<Ctx>,
    shared: Rc<Shared>,
    params: FanoutParams,
    index: usize,
    role: Role,
    pubs_per_room: usize,
    /// The binary attachment of every publish (empty: JSON payloads only).
    attachment: Rc<[u8]>,
}

/// A connected client of a fanout run: it checks what it receives against its room's publishers,
/// and a publisher also publishes into its room.
struct Member<'a> {
    shared: &'a Shared,
    publish: &'a str,
    deliver: &'a [u8],
    room_name: String,
    seat: Seat,
    ring: AckRing,
    /// The publisher's id and the receivers of each of its publishes (0 and 0 for a subscriber).
    pub_id: u64,
    receivers: u64,
    phase: u32,
    seq: u64,
    payload_bytes: usize,
    with_ack: bool,
    /// With binary attachments: the attachment each publish carries, and the stamp of the
    /// delivery whose attachment is awaited.
    attachment: Rc<[u8]>,
    awaited: Option<Stamp>,
}

impl Handler for Member<'_> {
    fn on_event(&mut self, name: &[u8], args: &[u8]) {
        if name != self.deliver {
            self.shared
                .other_events
                .set(self.shared.other_events.get() + 1);
            return;
        }
        if self.attachment.is_empty() {
            self.seat.record_args(self.shared, args);
        } else {
            // A binary run delivers `45…`: a text event here is not what was published.
            self.shared.foreign.set(self.shared.foreign.get() + 1);
        }
    }

    fn on_binary_event(&mut self, name: &[u8], args: &[u8], attachments: u64) {
        if name != self.deliver || attachments != 1 {
            let n = &self.shared.other_events;
            n.set(n.get() + 1);
            return;
        }
        self.awaited = scan::read_stamp(args);
        if self.awaited.is_none() {
            self.shared.foreign.set(self.shared.foreign.get() + 1);
        }
    }

    fn on_attachment(&mut self, data: &[u8]) {
        match self.awaited.take() {
            // Counted only once the whole attachment is in, and only if it is the one sent.
            Some(st) if data.len() == self.attachment.len() => self.seat.record(self.shared, st),
            _ => self.shared.foreign.set(self.shared.foreign.get() + 1),
        }
    }

    fn on_ack(&mut self, id: u64, args: &[u8]) {
        let Some((t, k)) = self.ring.take(id) else {
            return;
        };
        let now = now_us();
        let mut phases = self.shared.phases.borrow_mut();
        let Some(ph) = phases.get_mut(k as usize) else {
            return;
        };
        if scan::ack_ok(args) {
            ph.acks_ok += 1;
        } else {
            ph.acks_err += 1;
            if ph.first_ack_error.is_none() {
                ph.first_ack_error = Some(String::from_utf8_lossy(args).into_owned());
            }
        }
        if t >= ph.measure_from_us {
            ph.ack_lat.record(now.saturating_sub(t));
        }
    }
}

impl Paced for Member<'_> {
    type Cmd = PhaseCmd;

    fn command(&mut self, cmd: PhaseCmd) -> SendWindow {
        self.phase = cmd.phase;
        cmd.window
    }

    fn send(&mut self, conn: &mut Conn, due: u64) {
        let shared = self.shared;
        let mut ph_stats = shared.phases.borrow_mut();
        let ph = &mut ph_stats[self.phase as usize];
        let (room_name, deliver, payload) = (&self.room_name, self.deliver, self.payload_bytes);
        for _ in 0..due {
            self.seq += 1;
            let t = now_us();
            let st = Stamp {
                p: self.pub_id,
                k: self.phase as u64,
                s: self.seq,
                t,
            };
            let args = |b: &mut Vec<u8>| {
                b.push(b'"');
                b.extend_from_slice(room_name.as_bytes());
                b.extend_from_slice(b"\",\"");
                b.extend_from_slice(deliver);
                b.extend_from_slice(b"\",");
                scan::write_stamp(b, &st, payload);
            };
            let id = if self.attachment.is_empty() {
                conn.emit(self.publish, self.with_ack, args)
            } else {
                let att = &self.attachment;
                conn.emit_binary(
                    self.publish,
                    self.with_ack,
                    |b| {
                        args(b);
                        b.extend_from_slice(PLACEHOLDER);
                    },
                    att,
                )
            };
            if self.with_ack {
                self.ring.put(id, t, self.phase);
            }
        }
        ph.publishes += due;
        ph.expected += due * self.receivers;
    }

    fn finished(&mut self) {
        self.shared.pubs_done.set(self.shared.pubs_done.get() + 1);
    }
}

/// Spawns the fleet's clients, subscribers then publishers (client `i` of either), each
/// connecting and joining with bounded concurrency.
pub(super) fn spawn(
    ctx: &Rc<Ctx>,
    p: &FanoutParams,
    shared: &Rc<Shared>,
    ctl: &watch::Sender<Option<PhaseCmd>>,
    receivers_per_publish: &[u64],
) -> Vec<JoinHandle<()>> {
    let sem = Rc::new(Semaphore::new(ctx.concurrency.max(1)));
    let pubs_per_room = p.publishers.div_ceil(p.rooms);
    let attachment: Rc<[u8]> = (0..p.binary_bytes).map(|i| (i % 251) as u8).collect();
    let mut tasks = Vec::with_capacity(p.subscribers + p.publishers);
    for i in 0..p.subscribers + p.publishers {
        let role = if i < p.subscribers {
            Role::Subscriber {
                room: i % p.rooms,
                node: (i / p.rooms.max(1)) % p.nodes.max(1),
            }
        } else {
            let j = i - p.subscribers;
            Role::Publisher {
                id: j,
                room: j % p.rooms,
                receivers: receivers_per_publish[j],
            }
        };
        let client = Client {
            ctx: ctx.clone(),
            shared: shared.clone(),
            params: p.clone(),
            index: i,
            role,
            pubs_per_room,
            attachment: attachment.clone(),
        };
        let sem = sem.clone();
        // Only publishers take commands; subscribers just receive.
        let rx = matches!(role, Role::Publisher { .. }).then(|| ctl.subscribe());
        tasks.push(tokio::task::spawn_local(client.run(sem, rx)));
    }
    tasks
}

impl Client {
    async fn run(self, sem: Rc<Semaphore>, ctl: Option<watch::Receiver<Option<PhaseCmd>>>) {
        let ctx = &self.ctx;
        let counts = &self.shared.setup;
        let (room, node) = match self.role {
            Role::Subscriber { room, node } => (room, node),
            Role::Publisher { room, .. } => (room, 0),
        };
        // Setup: connect and join, with bounded concurrency.
        let conn = {
            let Ok(_permit) = sem.acquire().await else {
                return;
            };
            let mut conn = match ctx
                .connect_to(node, self.index, self.params.read_buffer)
                .await
            {
                Ok(c) => c,
                Err(e) => return counts.fail("connect", e),
            };
            let room_json = format!("\"{}\"", ctx.room(room));
            match conn
                .call(&ctx.names.join, &room_json, ctx.connect_timeout)
                .await
            {
                Ok(ack) if scan::ack_ok(&ack) => {}
                Ok(ack) => {
                    return counts.fail("join refused", String::from_utf8_lossy(&ack).into_owned())
                }
                Err(e) => return counts.fail("join", e),
            }
            conn
        };
        counts.ready.set(counts.ready.get() + 1);

        let (pub_id, receivers) = match self.role {
            Role::Publisher { id, receivers, .. } => (id as u64, receivers),
            Role::Subscriber { .. } => (0, 0),
        };
        let mut member = Member {
            shared: &self.shared,
            publish: &ctx.names.publish,
            deliver: ctx.names.deliver.as_bytes(),
            room_name: ctx.room(room),
            seat: Seat {
                room,
                rooms: self.params.rooms,
                windows: vec![Window::default(); self.pubs_per_room],
                cross: (self.params.nodes > 1).then_some(node != 0),
            },
            ring: AckRing::new(match self.role {
                Role::Publisher { .. } => 1024,
                Role::Subscriber { .. } => 16,
            }),
            pub_id,
            receivers,
            phase: 0,
            seq: 0,
            payload_bytes: self.params.payload_bytes,
            with_ack: self.params.publish_ack,
            attachment: self.attachment.clone(),
            awaited: None,
        };
        client::run(conn, &mut member, ctl, self.index, counts).await;
    }
}
