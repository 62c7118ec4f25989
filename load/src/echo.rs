//! `echo`: C clients emit the echo event with an ack at a total rate; the ack round trip is timed
//! from the send time kept per ack id (so any ack counts, whatever its arguments).

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinHandle;

use crate::client::{self, Paced, SendWindow};
use crate::common::{wait_setup, AckRing, Ctx, SetupCounts};
use crate::scan::{self, Stamp};
use crate::stats::{usage, Lat, LatencySummary, Usage};
use crate::sys::now_us;
use crate::ws::{Conn, Handler};

#[derive(Debug, Clone, Serialize)]
pub struct EchoParams {
    pub clients: usize,
    /// Acks per second, all clients together.
    pub rate: f64,
    pub payload_bytes: usize,
    pub warmup_s: f64,
    pub duration_s: f64,
    pub drain_s: f64,
    pub read_buffer: usize,
}

#[derive(Default)]
struct Shared {
    setup: SetupCounts,
    measure_from_us: Cell<u64>,
    sent: Cell<u64>,
    acked: Cell<u64>,
    measured: Cell<u64>,
    unmatched: Cell<u64>,
    /// Clients whose sending window is over.
    done: Cell<usize>,
    lat: RefCell<Lat>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EchoResult {
    pub scenario: &'static str,
    pub params: EchoParams,
    pub setup_s: f64,
    pub sent: u64,
    pub planned: u64,
    pub acked: u64,
    /// Emits never acked by the end of the drain.
    pub lost: u64,
    /// Acks with an id the client no longer remembered (very late) or never sent.
    pub unmatched: u64,
    /// Acks of emits sent after the warmup, per second of the measured window.
    pub acks_per_s: f64,
    pub latency: LatencySummary,
    pub usage: Usage,
    pub server_cpu_us_per_ack: Option<f64>,
    pub gen_cpu_us_per_ack: f64,
    pub connections_lost: usize,
}

/// One echo client: sends stamped emits with acks and times each ack from its send time.
struct Echoer<'a> {
    shared: &'a Shared,
    ring: AckRing,
    event: &'a str,
    index: u64,
    seq: u64,
    payload_bytes: usize,
}

impl Handler for Echoer<'_> {
    fn on_ack(&mut self, id: u64, _args: &[u8]) {
        let s = self.shared;
        match self.ring.take(id) {
            Some((t, _)) => {
                s.acked.set(s.acked.get() + 1);
                if t >= s.measure_from_us.get() {
                    s.measured.set(s.measured.get() + 1);
                    s.lat.borrow_mut().record(now_us().saturating_sub(t));
                }
            }
            None => s.unmatched.set(s.unmatched.get() + 1),
        }
    }
}

impl Paced for Echoer<'_> {
    type Cmd = SendWindow;

    fn command(&mut self, window: SendWindow) -> SendWindow {
        window
    }

    fn send(&mut self, conn: &mut Conn, due: u64) {
        let payload_bytes = self.payload_bytes;
        for _ in 0..due {
            self.seq += 1;
            let t = now_us();
            let st = Stamp {
                p: self.index,
                k: 0,
                s: self.seq,
                t,
            };
            let id = conn.emit(self.event, true, |b| {
                scan::write_stamp(b, &st, payload_bytes)
            });
            self.ring.put(id, t, 0);
        }
        self.shared.sent.set(self.shared.sent.get() + due);
    }

    fn finished(&mut self) {
        self.shared.done.set(self.shared.done.get() + 1);
    }
}

async fn client(
    ctx: Rc<Ctx>,
    shared: Rc<Shared>,
    p: EchoParams,
    index: usize,
    sem: Rc<Semaphore>,
    ctl: watch::Receiver<Option<SendWindow>>,
) {
    let counts = &shared.setup;
    let conn = {
        let Ok(_permit) = sem.acquire().await else {
            return;
        };
        match ctx.connect(index, p.read_buffer).await {
            Ok(c) => c,
            Err(e) => return counts.fail("connect", e),
        }
    };
    counts.ready.set(counts.ready.get() + 1);
    let per_client = p.rate / p.clients.max(1) as f64;
    let mut echoer = Echoer {
        shared: &shared,
        ring: AckRing::new((per_client * 5.0) as usize),
        event: &ctx.names.echo,
        index: index as u64,
        seq: 0,
        payload_bytes: p.payload_bytes,
    };
    client::run(conn, &mut echoer, Some(ctl), index, counts).await;
}

fn abort_all(tasks: &[JoinHandle<()>]) {
    for t in tasks {
        t.abort();
    }
}

/// Waits until every client is connected; the setup's duration, seconds.
async fn setup(
    ctx: &Ctx,
    shared: &Shared,
    clients: usize,
    deadline: Instant,
) -> Result<f64, String> {
    let setup_s = wait_setup(ctx, &shared.setup, clients, "echo setup", deadline)
        .await?
        .as_secs_f64();
    match shared.setup.failure("echo setup", clients) {
        Some(e) => Err(e),
        None => Ok(setup_s),
    }
}

/// Prints the ack rate every second until `end`.
async fn follow(ctx: &Ctx, shared: &Shared, end: Instant) {
    let mut last = shared.acked.get();
    while Instant::now() < end {
        let next = (Instant::now() + Duration::from_secs(1)).min(end);
        let t = Instant::now();
        tokio::time::sleep_until(next.into()).await;
        let a = shared.acked.get();
        ctx.progress(format_args!(
            "echo: {:.0} acks/s, {} sent, {} acked",
            (a - last) as f64 / t.elapsed().as_secs_f64().max(1e-6),
            shared.sent.get(),
            a
        ));
        last = a;
    }
}

pub async fn run_echo(
    ctx: Rc<Ctx>,
    p: EchoParams,
    deadline: Instant,
) -> Result<EchoResult, String> {
    let shared = Rc::new(Shared::default());
    let (ctl, _) = watch::channel(None);
    let sem = Rc::new(Semaphore::new(ctx.concurrency.max(1)));
    ctx.progress(format_args!(
        "echo setup: {} clients, {:.0} acks/s",
        p.clients, p.rate
    ));
    let tasks: Vec<_> = (0..p.clients)
        .map(|i| {
            tokio::task::spawn_local(client(
                ctx.clone(),
                shared.clone(),
                p.clone(),
                i,
                sem.clone(),
                ctl.subscribe(),
            ))
        })
        .collect();
    let setup_s = match setup(&ctx, &shared, p.clients, deadline).await {
        Ok(s) => s,
        Err(e) => {
            abort_all(&tasks);
            return Err(e);
        }
    };
    let start = Instant::now() + Duration::from_millis(20);
    let measure_from = start + Duration::from_secs_f64(p.warmup_s);
    let end = measure_from + Duration::from_secs_f64(p.duration_s);
    shared
        .measure_from_us
        .set(now_us() + measure_from.duration_since(Instant::now()).as_micros() as u64);
    let per_client = p.rate / p.clients.max(1) as f64;
    ctl.send_replace(Some(SendWindow {
        start,
        end,
        rate: per_client,
    }));
    tokio::time::sleep_until(measure_from.into()).await;
    let mark_a = ctx.probe.mark();
    follow(&ctx, &shared, end).await;
    let drain_until = end + Duration::from_secs_f64(p.drain_s);
    while (shared.done.get() < p.clients || shared.acked.get() < shared.sent.get())
        && Instant::now() < drain_until
    {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mark_b = ctx.probe.mark();
    let usage = usage(&mark_a, &mark_b);
    abort_all(&tasks);
    for t in tasks {
        let _ = t.await;
    }
    Ok(result(&shared, p, setup_s, usage))
}

/// The result, from the counters of a finished run.
fn result(shared: &Shared, p: EchoParams, setup_s: f64, usage: Usage) -> EchoResult {
    let measured = shared.measured.get();
    let per = |cpu_ms: f64| {
        if measured > 0 {
            cpu_ms * 1000.0 / measured as f64
        } else {
            0.0
        }
    };
    let per_client = p.rate / p.clients.max(1) as f64;
    let planned =
        (per_client * (p.warmup_s + p.duration_s) + 1e-6).floor() as u64 * p.clients as u64;
    let latency = shared.lat.borrow().summary();
    EchoResult {
        scenario: "echo",
        setup_s,
        sent: shared.sent.get(),
        planned,
        acked: shared.acked.get(),
        lost: shared.sent.get().saturating_sub(shared.acked.get()),
        unmatched: shared.unmatched.get(),
        acks_per_s: measured as f64 / p.duration_s.max(1e-9),
        latency,
        usage,
        server_cpu_us_per_ack: usage.server_cpu_ms.map(per),
        gen_cpu_us_per_ack: per(usage.gen_cpu_ms),
        connections_lost: shared.setup.dead.get(),
        params: p,
    }
}
