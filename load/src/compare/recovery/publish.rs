//! The publishers of the recovery scenarios: one per room, never dropped, on node `room % nodes`.
//! Each numbers its room's messages 1, 2, 3… (the stamp's `s`; `p` is the room), so that every
//! subscriber can count what it got once against what was published into its room, and notes on
//! the [`Board`] how far it got before the message leaves.

use std::rc::Rc;

use tokio::sync::{watch, Semaphore};
use tokio::task::JoinHandle;

use super::board::Board;
use crate::client::{self, Paced, SendWindow};
use crate::common::Ctx;
use crate::scan::{self, Stamp};
use crate::sys::now_us;
use crate::ws::{Conn, Handler};

/// One room's publisher.
struct Publisher {
    board: Rc<Board>,
    room: usize,
    room_name: String,
    publish: String,
    deliver: String,
    payload_bytes: usize,
    seq: u64,
}

impl Handler for Publisher {
    fn on_ack(&mut self, _id: u64, args: &[u8]) {
        let b = &self.board;
        let n = if scan::ack_ok(args) {
            &b.acks_ok
        } else {
            &b.acks_refused
        };
        n.set(n.get() + 1);
    }
}

impl Paced for Publisher {
    type Cmd = SendWindow;

    fn command(&mut self, cmd: SendWindow) -> SendWindow {
        cmd
    }

    fn send(&mut self, conn: &mut Conn, due: u64) {
        for _ in 0..due {
            self.seq += 1;
            self.board.published.borrow_mut()[self.room] = self.seq;
            let st = Stamp {
                p: self.room as u64,
                k: 0,
                s: self.seq,
                t: now_us(),
            };
            let (room, deliver, size) = (&self.room_name, &self.deliver, self.payload_bytes);
            conn.emit(&self.publish, true, |b| {
                b.push(b'"');
                b.extend_from_slice(room.as_bytes());
                b.extend_from_slice(b"\",\"");
                b.extend_from_slice(deliver.as_bytes());
                b.extend_from_slice(b"\",");
                scan::write_stamp(b, &st, size);
            });
        }
    }

    fn finished(&mut self) {
        let done = &self.board.pubs_done;
        done.set(done.get() + 1);
    }
}

/// Spawns one publisher per room (client indexes from `first_index`), each connecting and
/// joining its room, then publishing in the windows `ctl` opens.
pub(super) fn spawn(
    ctx: &Rc<Ctx>,
    board: &Rc<Board>,
    (rooms, nodes, payload_bytes): (usize, usize, usize),
    first_index: usize,
    ctl: &watch::Sender<Option<SendWindow>>,
) -> Vec<JoinHandle<()>> {
    let sem = Rc::new(Semaphore::new(ctx.concurrency.max(1)));
    (0..rooms)
        .map(|room| {
            let p = Publisher {
                board: board.clone(),
                room,
                room_name: ctx.room(room),
                publish: ctx.names.publish.clone(),
                deliver: ctx.names.deliver.clone(),
                payload_bytes,
                seq: 0,
            };
            let task = run(
                ctx.clone(),
                sem.clone(),
                p,
                room % nodes.max(1),
                first_index,
            );
            let rx = ctl.subscribe();
            tokio::task::spawn_local(async move { task.await.run(rx).await })
        })
        .collect()
}

/// Connects and joins; what is left to run is the publishing loop.
async fn run(
    ctx: Rc<Ctx>,
    sem: Rc<Semaphore>,
    p: Publisher,
    node: usize,
    first_index: usize,
) -> Publishing {
    let index = first_index + p.room;
    let counts = &p.board.pub_setup;
    let conn = {
        let _permit = sem.acquire().await;
        match ctx.connect_to(node, index, 16 * 1024).await {
            Ok(mut conn) => {
                let room = format!("\"{}\"", p.room_name);
                match conn.call(&ctx.names.join, &room, ctx.connect_timeout).await {
                    Ok(ack) if scan::ack_ok(&ack) => Some(conn),
                    Ok(ack) => {
                        counts.fail("join refused", String::from_utf8_lossy(&ack));
                        None
                    }
                    Err(e) => {
                        counts.fail("publisher join", e);
                        None
                    }
                }
            }
            Err(e) => {
                counts.fail("publisher connect", e);
                None
            }
        }
    };
    if conn.is_some() {
        counts.ready.set(counts.ready.get() + 1);
    }
    Publishing { conn, p, index }
}

/// A publisher set up (or not: then it only ends).
struct Publishing {
    conn: Option<Conn>,
    p: Publisher,
    index: usize,
}

impl Publishing {
    async fn run(mut self, rx: watch::Receiver<Option<SendWindow>>) {
        let Some(conn) = self.conn.take() else {
            return;
        };
        let board = self.p.board.clone();
        client::run(conn, &mut self.p, Some(rx), self.index, &board.pub_setup).await;
    }
}
