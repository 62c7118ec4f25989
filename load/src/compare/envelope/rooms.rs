//! `many-rooms`: --many-rooms rooms of 1 to 10 members (room r has 1 + r mod 10), their
//! memberships spread over --many-rooms-sockets sockets. The server's RSS is read once the sockets
//! are connected and again once every room is joined: the difference over the memberships is the
//! memory per membership. Then, with all those rooms held, a room of 10 outside them gets a
//! fan-out at --many-rooms-rate (the broadcast's cost with a large room index).

use std::rc::Rc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::sync::{watch, Semaphore};

use super::super::scenario::Metrics;
use super::super::CompareArgs;
use super::phase_metrics;
use crate::common::{wait_setup, Ctx, SetupCounts};
use crate::fanout::{FanoutParams, Fleet, PhaseReport};
use crate::scan;
use crate::sys;
use crate::ws::Ignore;

/// Rooms named in one join.
const JOIN_BATCH: usize = 100;

/// The rooms of each socket: room r's members are sockets (r + k·⌊N/10⌋) mod N, k < 1 + r mod 10.
fn assign(rooms: usize, sockets: usize) -> (Vec<Vec<u32>>, usize) {
    let n = sockets.max(1);
    let step = (n / 10).max(1);
    let mut of = vec![Vec::new(); n];
    let mut memberships = 0;
    for r in 0..rooms {
        let size = (1 + r % 10).min(n);
        for k in 0..size {
            of[(r + k * step) % n].push(r as u32);
            memberships += 1;
        }
    }
    (of, memberships)
}

fn rss_kb(ctx: &Ctx) -> Option<u64> {
    sys::sample(Some(ctx.probe.server_pid?)).map(|s| s.rss_kb)
}

pub(super) async fn run(
    a: &CompareArgs,
    ctx: Rc<Ctx>,
    deadline: Instant,
) -> Result<(Value, Metrics), String> {
    let e = &a.envelope;
    let n = e.many_rooms_sockets.max(1);
    let (of, memberships) = assign(e.many_rooms, n);
    let connected = Rc::new(SetupCounts::default());
    let joined = Rc::new(SetupCounts::default());
    let (go, _) = watch::channel(false);
    let sem = Rc::new(Semaphore::new(ctx.concurrency.max(1)));
    let tasks: Vec<_> = of
        .into_iter()
        .enumerate()
        .map(|(i, rooms)| {
            let h = Holder {
                ctx: ctx.clone(),
                connected: connected.clone(),
                joined: joined.clone(),
                go: go.subscribe(),
            };
            tokio::task::spawn_local(h.run(sem.clone(), i, rooms))
        })
        .collect();
    let until = deadline.min(Instant::now() + Duration::from_secs(120));
    let result = async {
        wait_setup(&ctx, &connected, n, "many-rooms connect", until).await?;
        if let Some(err) = connected.failure("many-rooms connect", n) {
            return Err(err);
        }
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let before = rss_kb(&ctx);
        let t = Instant::now();
        go.send_replace(true);
        wait_setup(&ctx, &joined, n, "many-rooms join", until).await?;
        if let Some(err) = joined.failure("many-rooms join", n) {
            return Err(err);
        }
        let join_s = t.elapsed().as_secs_f64();
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let after = rss_kb(&ctx);
        let p = FanoutParams {
            subscribers: 10,
            rooms: 1,
            publishers: 1,
            ..a.fleet.params(16 * 1024)
        };
        let fleet = Fleet::setup(ctx.clone(), p, until).await?;
        let report = fleet.phase(a.phase.spec(e.many_rooms_rate)).await;
        fleet.close().await;
        Ok((before, after, join_s, report))
    }
    .await;
    for t in &tasks {
        t.abort();
    }
    let (before, after, join_s, report) = result?;
    let measured = Measured {
        before,
        after,
        join_s,
        memberships,
    };
    Ok(results(a, n, measured, report))
}

/// What the joins measured: the server's RSS before and after them (kB), and their time.
struct Measured {
    before: Option<u64>,
    after: Option<u64>,
    join_s: f64,
    memberships: usize,
}

fn results(a: &CompareArgs, n: usize, j: Measured, report: PhaseReport) -> (Value, Metrics) {
    let mut m = phase_metrics(&report);
    let per = match (j.before, j.after) {
        (Some(b), Some(a)) => Some((a as f64 - b as f64) * 1024.0 / j.memberships.max(1) as f64),
        _ => None,
    };
    if let Some(p) = per {
        m.insert("rss_bytes_per_membership".into(), p);
    }
    m.insert(
        "memberships_per_s".into(),
        j.memberships as f64 / j.join_s.max(1e-9),
    );
    let json = json!({
        "scenario": "many-rooms",
        "rooms": a.envelope.many_rooms,
        "sockets": n,
        "memberships": j.memberships,
        "server_rss_kb_connected": j.before,
        "server_rss_kb_joined": j.after,
        "rss_bytes_per_membership": per,
        "join_s": j.join_s,
        "broadcast": report,
    });
    (json, m)
}

/// A socket that holds memberships: connects, waits for the go, joins its rooms and holds on.
struct Holder {
    ctx: Rc<Ctx>,
    connected: Rc<SetupCounts>,
    joined: Rc<SetupCounts>,
    go: watch::Receiver<bool>,
}

impl Holder {
    async fn run(mut self, sem: Rc<Semaphore>, i: usize, rooms: Vec<u32>) {
        let conn = {
            let Ok(_permit) = sem.acquire().await else {
                return;
            };
            self.ctx.connect(i, 2048).await
        };
        let mut conn = match conn {
            Ok(c) => c,
            Err(e) => return self.connected.fail("connect", e),
        };
        self.connected.ready.set(self.connected.ready.get() + 1);
        if self.go.wait_for(|go| *go).await.is_err() {
            return;
        }
        let prefix = "mr-";
        for batch in rooms.chunks(JOIN_BATCH) {
            let list: Vec<String> = batch.iter().map(|r| format!("\"{prefix}{r}\"")).collect();
            let args = format!("[{}]", list.join(","));
            let join = &self.ctx.names.join;
            match conn.call(join, &args, self.ctx.connect_timeout).await {
                Ok(ack) if scan::ack_ok(&ack) => {}
                Ok(ack) => {
                    let why = String::from_utf8_lossy(&ack).into_owned();
                    return self.joined.fail("join refused", why);
                }
                Err(e) => return self.joined.fail("join", e),
            }
        }
        self.joined.ready.set(self.joined.ready.get() + 1);
        // Hold on: answer pings until aborted.
        while conn.read_some().await.is_ok() {
            if conn.process(&mut Ignore).is_err() || conn.flush().await.is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::assign;

    #[test]
    fn rooms_of_one_to_ten_members_on_distinct_sockets() {
        let (of, memberships) = assign(100, 50);
        assert_eq!(memberships, (0..100).map(|r| 1 + r % 10).sum::<usize>());
        for rooms in &of {
            let mut r = rooms.clone();
            r.dedup();
            assert_eq!(&r, rooms, "a socket joins a room once");
        }
    }
}
