//! `fanout` and `ceiling`: C subscribers in R rooms and P publishers. Publisher `j` joins room
//! `j % R` and publishes there; subscriber `i` joins room `i % R`. Every payload carries the
//! publisher, the phase, a per-publisher sequence number and the send time; receivers check each
//! message against a per-publisher sliding window (duplicates, reordering) and record the
//! publish→receive latency. A run is a series of phases (one for `fanout`, a rate search for
//! `ceiling`) over the same connections.

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
pub struct FanoutParams {
    pub subscribers: usize,
    pub rooms: usize,
    pub publishers: usize,
    pub payload_bytes: usize,
    /// Publishers ask for an ack of every publish (refusals are then counted).
    pub publish_ack: bool,
    pub read_buffer: usize,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct PhaseSpec {
    /// Target deliveries per second (publishes/s × receivers per publish).
    pub target_deliveries_per_s: f64,
    pub warmup_s: f64,
    pub duration_s: f64,
    /// Longest wait after the last publish for the deliveries still in flight.
    pub drain_s: f64,
}

/// Counters of one phase, shared by every client task.
#[derive(Default)]
struct PhaseStats {
    measure_from_us: u64,
    publishes: u64,
    expected: u64,
    /// Unique deliveries (duplicates excluded).
    delivered: u64,
    /// Unique deliveries of messages sent in the measured window (after warmup).
    measured: u64,
    duplicates: u64,
    reordered: u64,
    acks_ok: u64,
    acks_err: u64,
    first_ack_error: Option<String>,
    lat: Lat,
    ack_lat: Lat,
}

/// Counters not tied to a phase.
#[derive(Default)]
struct Shared {
    setup: SetupCounts,
    phases: RefCell<Vec<PhaseStats>>,
    /// Deliveries whose payload did not parse, or named an unknown phase/publisher, or came from a
    /// publisher of another room.
    foreign: Cell<u64>,
    /// Deliveries of other events than the deliver event.
    other_events: Cell<u64>,
    /// Publishers that finished sending in the current phase.
    pubs_done: Cell<usize>,
}

/// What the publishers do next: send in `phase` during `window` (at the rate per publisher).
#[derive(Debug, Clone, Copy)]
struct PhaseCmd {
    phase: u32,
    window: SendWindow,
}

#[derive(Debug, Clone, Serialize)]
pub struct PhaseReport {
    pub phase: u32,
    pub target_deliveries_per_s: f64,
    pub target_publishes_per_s: f64,
    pub warmup_s: f64,
    pub duration_s: f64,
    pub publishes: u64,
    pub planned_publishes: u64,
    pub expected: u64,
    pub delivered: u64,
    pub lost: u64,
    pub duplicates: u64,
    pub reordered: u64,
    /// Deliveries of messages sent after the warmup, per second of the measured window.
    pub deliveries_per_s: f64,
    pub measured_deliveries: u64,
    pub publish_acks_ok: u64,
    pub publish_acks_refused: u64,
    pub publish_ack_error: Option<String>,
    pub latency: LatencySummary,
    pub publish_ack_latency: LatencySummary,
    pub drain_s: f64,
    pub usage: Usage,
    /// Server CPU per measured delivery, µs (when the server's pid is known).
    pub server_cpu_us_per_delivery: Option<f64>,
    pub gen_cpu_us_per_delivery: f64,
    pub connections_lost: usize,
}

impl PhaseReport {
    pub fn held(&self, p99_budget_ms: f64) -> bool {
        self.lost == 0
            && self.duplicates == 0
            && self.publish_acks_refused == 0
            && self.connections_lost == 0
            && self.delivered > 0
            && self.latency.p99_ms <= p99_budget_ms
            && self.publishes as f64 >= 0.97 * self.planned_publishes as f64
    }
}

/// Connected clients of a fanout run.
pub struct Fleet {
    ctx: Rc<Ctx>,
    params: FanoutParams,
    shared: Rc<Shared>,
    ctl: watch::Sender<Option<PhaseCmd>>,
    tasks: Vec<JoinHandle<()>>,
    /// Receivers per publish, by publisher (members of its room minus itself).
    receivers_per_publish: Vec<u64>,
    pub setup_s: f64,
}

impl Fleet {
    /// Connects subscribers then publishers; every client joins its room.
    pub async fn setup(
        ctx: Rc<Ctx>,
        params: FanoutParams,
        deadline: Instant,
    ) -> Result<Fleet, String> {
        let p = params.clone();
        if p.rooms == 0 || p.publishers == 0 {
            return Err("fanout needs at least one room and one publisher".into());
        }
        let shared = Rc::new(Shared::default());
        let (ctl, _) = watch::channel(None);
        let sem = Rc::new(Semaphore::new(ctx.concurrency.max(1)));
        let mut members = vec![0u64; p.rooms];
        for i in 0..p.subscribers {
            members[i % p.rooms] += 1;
        }
        for j in 0..p.publishers {
            members[j % p.rooms] += 1;
        }
        let receivers_per_publish: Vec<u64> = (0..p.publishers)
            .map(|j| members[j % p.rooms] - 1)
            .collect();
        let pubs_per_room = p.publishers.div_ceil(p.rooms);
        let mut tasks = Vec::with_capacity(p.subscribers + p.publishers);
        let t0 = Instant::now();
        ctx.progress(format_args!(
            "fanout setup: {} subscribers + {} publishers in {} rooms",
            p.subscribers, p.publishers, p.rooms
        ));
        for i in 0..p.subscribers + p.publishers {
            let role = if i < p.subscribers {
                Role::Subscriber { room: i % p.rooms }
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
            };
            let sem = sem.clone();
            // Only publishers take commands; subscribers just receive.
            let rx = matches!(role, Role::Publisher { .. }).then(|| ctl.subscribe());
            tasks.push(tokio::task::spawn_local(client.run(sem, rx)));
        }
        let mut fleet = Fleet {
            ctx: ctx.clone(),
            params: p.clone(),
            shared: shared.clone(),
            ctl,
            tasks,
            receivers_per_publish,
            setup_s: 0.0,
        };
        wait_setup(
            &ctx,
            &shared.setup,
            p.subscribers + p.publishers,
            "fanout setup",
            deadline,
        )
        .await?;
        if shared.setup.failed.get() > 0 {
            return Err(format!(
                "fanout setup: {} of {} clients failed ({})",
                shared.setup.failed.get(),
                p.subscribers + p.publishers,
                shared
                    .setup
                    .first_error
                    .borrow()
                    .clone()
                    .unwrap_or_default()
            ));
        }
        fleet.setup_s = t0.elapsed().as_secs_f64();
        ctx.progress(format_args!(
            "fanout setup: {} clients connected and joined in {:.2}s",
            p.subscribers + p.publishers,
            fleet.setup_s
        ));
        Ok(fleet)
    }

    /// Mean receivers per publish.
    fn fanout_factor(&self) -> f64 {
        let n = self.receivers_per_publish.len().max(1) as f64;
        self.receivers_per_publish.iter().sum::<u64>() as f64 / n
    }

    fn delivered_total(&self) -> u64 {
        self.shared
            .phases
            .borrow()
            .iter()
            .map(|p| p.delivered)
            .sum()
    }

    /// Runs one phase at a target delivery rate and reports it.
    pub async fn phase(&self, spec: PhaseSpec) -> PhaseReport {
        let factor = self.fanout_factor().max(1.0);
        let publishes_per_s = spec.target_deliveries_per_s / factor;
        let rate_per_publisher = publishes_per_s / self.params.publishers as f64;
        let start = Instant::now() + Duration::from_millis(20);
        let measure_from = start + Duration::from_secs_f64(spec.warmup_s);
        let end = measure_from + Duration::from_secs_f64(spec.duration_s);
        let phase = {
            let mut phases = self.shared.phases.borrow_mut();
            phases.push(PhaseStats {
                measure_from_us: now_us()
                    + measure_from.duration_since(Instant::now()).as_micros() as u64,
                ..PhaseStats::default()
            });
            (phases.len() - 1) as u32
        };
        self.shared.pubs_done.set(0);
        let dead_before = self.shared.setup.dead.get();
        self.ctl.send_replace(Some(PhaseCmd {
            phase,
            window: SendWindow {
                start,
                end,
                rate: rate_per_publisher,
            },
        }));
        self.ctx.progress(format_args!(
            "phase {phase}: {:.0} deliveries/s target ({:.1} publishes/s, {:.1} per publisher), {:.1}s + {:.1}s warmup",
            spec.target_deliveries_per_s, publishes_per_s, rate_per_publisher, spec.duration_s, spec.warmup_s
        ));
        tokio::time::sleep_until(measure_from.into()).await;
        let mark_a = self.ctx.probe.mark();
        let mut last_delivered = self.delivered_total();
        let mut last_t = Instant::now();
        while Instant::now() < end {
            let next = (Instant::now() + Duration::from_secs(1)).min(end);
            tokio::time::sleep_until(next.into()).await;
            let d = self.delivered_total();
            let dt = last_t.elapsed().as_secs_f64().max(1e-6);
            {
                let ph = &self.shared.phases.borrow()[phase as usize];
                self.ctx.progress(format_args!(
                    "phase {phase}: {:.0} deliveries/s, {} published, {} / {} delivered",
                    (d - last_delivered) as f64 / dt,
                    ph.publishes,
                    ph.delivered,
                    ph.expected
                ));
            }
            last_delivered = d;
            last_t = Instant::now();
        }
        // Drain: every publisher done, every expected delivery in (and acks back), or the bound.
        let drain_until = end + Duration::from_secs_f64(spec.drain_s);
        loop {
            let complete = {
                let ph = &self.shared.phases.borrow()[phase as usize];
                self.shared.pubs_done.get() >= self.params.publishers
                    && ph.delivered + ph.duplicates >= ph.expected
                    && (!self.params.publish_ack || ph.acks_ok + ph.acks_err >= ph.publishes)
            };
            if complete || Instant::now() >= drain_until {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let drain_s = Instant::now().saturating_duration_since(end).as_secs_f64();
        let mark_b = self.ctx.probe.mark();
        let usage = usage(&mark_a, &mark_b);
        let ph = &self.shared.phases.borrow()[phase as usize];
        let planned = (rate_per_publisher * (spec.warmup_s + spec.duration_s) + 1e-6).floor()
            as u64
            * self.params.publishers as u64;
        let measured = ph.measured;
        let per = |cpu_ms: f64| {
            if measured > 0 {
                cpu_ms * 1000.0 / measured as f64
            } else {
                0.0
            }
        };
        PhaseReport {
            phase,
            target_deliveries_per_s: spec.target_deliveries_per_s,
            target_publishes_per_s: publishes_per_s,
            warmup_s: spec.warmup_s,
            duration_s: spec.duration_s,
            publishes: ph.publishes,
            planned_publishes: planned,
            expected: ph.expected,
            delivered: ph.delivered,
            lost: ph.expected.saturating_sub(ph.delivered),
            duplicates: ph.duplicates,
            reordered: ph.reordered,
            deliveries_per_s: measured as f64 / spec.duration_s.max(1e-9),
            measured_deliveries: measured,
            publish_acks_ok: ph.acks_ok,
            publish_acks_refused: ph.acks_err,
            publish_ack_error: ph.first_ack_error.clone(),
            latency: ph.lat.summary(),
            publish_ack_latency: ph.ack_lat.summary(),
            drain_s,
            usage,
            server_cpu_us_per_delivery: usage.server_cpu_ms.map(per),
            gen_cpu_us_per_delivery: per(usage.gen_cpu_ms),
            connections_lost: self.shared.setup.dead.get() - dead_before,
        }
    }

    /// Waits until deliveries stop arriving (quiet for `quiet`), at most `max`.
    pub async fn settle(&self, quiet: Duration, max: Duration) {
        let until = Instant::now() + max;
        let mut last = self.delivered_total();
        let mut last_change = Instant::now();
        while Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let d = self.delivered_total();
            if d != last {
                last = d;
                last_change = Instant::now();
            } else if last_change.elapsed() >= quiet {
                return;
            }
        }
    }

    pub fn foreign(&self) -> u64 {
        self.shared.foreign.get()
    }

    pub fn other_events(&self) -> u64 {
        self.shared.other_events.get()
    }

    pub fn connections_lost(&self) -> usize {
        self.shared.setup.dead.get()
    }

    /// Closes every connection.
    pub async fn close(mut self) {
        let tasks = std::mem::take(&mut self.tasks);
        for t in &tasks {
            t.abort();
        }
        for t in tasks {
            let _ = t.await;
        }
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Role {
    Subscriber {
        room: usize,
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
}

/// Sliding window over one publisher's sequence numbers as seen by one receiver.
#[derive(Default, Clone, Copy)]
struct Window {
    max: u64,
    bits: u64,
}

enum Seen {
    New,
    Reordered,
    Duplicate,
}

impl Window {
    #[inline]
    fn see(&mut self, s: u64) -> Seen {
        if s > self.max {
            let shift = s - self.max;
            self.bits = if shift >= 64 { 0 } else { self.bits << shift };
            self.bits |= 1;
            self.max = s;
            Seen::New
        } else {
            let d = self.max - s;
            if d >= 64 {
                // Too old to tell: counted as a (late) new delivery.
                Seen::Reordered
            } else if self.bits & (1 << d) != 0 {
                Seen::Duplicate
            } else {
                self.bits |= 1 << d;
                Seen::Reordered
            }
        }
    }
}

/// A connected client of a fanout run: it checks what it receives against its room's publishers,
/// and a publisher also publishes into its room.
struct Member<'a> {
    shared: &'a Shared,
    publish: &'a str,
    deliver: &'a [u8],
    room: usize,
    room_name: String,
    rooms: usize,
    windows: Vec<Window>,
    ring: AckRing,
    /// The publisher's id and the receivers of each of its publishes (0 and 0 for a subscriber).
    pub_id: u64,
    receivers: u64,
    phase: u32,
    seq: u64,
    payload_bytes: usize,
    with_ack: bool,
}

impl Handler for Member<'_> {
    fn on_event(&mut self, name: &[u8], args: &[u8]) {
        if name != self.deliver {
            self.shared
                .other_events
                .set(self.shared.other_events.get() + 1);
            return;
        }
        let now = now_us();
        let st = match scan::read_stamp(args) {
            Some(st) => st,
            None => {
                self.shared.foreign.set(self.shared.foreign.get() + 1);
                return;
            }
        };
        let local = (st.p as usize) / self.rooms;
        if (st.p as usize) % self.rooms != self.room || local >= self.windows.len() {
            self.shared.foreign.set(self.shared.foreign.get() + 1);
            return;
        }
        let mut phases = self.shared.phases.borrow_mut();
        let Some(ph) = phases.get_mut(st.k as usize) else {
            self.shared.foreign.set(self.shared.foreign.get() + 1);
            return;
        };
        match self.windows[local].see(st.s) {
            Seen::Duplicate => {
                ph.duplicates += 1;
                return;
            }
            Seen::Reordered => ph.reordered += 1,
            Seen::New => {}
        }
        ph.delivered += 1;
        if st.t >= ph.measure_from_us {
            ph.measured += 1;
            ph.lat.record(now.saturating_sub(st.t));
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
            let id = conn.emit(self.publish, self.with_ack, |b| {
                b.push(b'"');
                b.extend_from_slice(room_name.as_bytes());
                b.extend_from_slice(b"\",\"");
                b.extend_from_slice(deliver);
                b.extend_from_slice(b"\",");
                scan::write_stamp(b, &st, payload);
            });
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

impl Client {
    async fn run(self, sem: Rc<Semaphore>, ctl: Option<watch::Receiver<Option<PhaseCmd>>>) {
        let ctx = &self.ctx;
        let counts = &self.shared.setup;
        let room = match self.role {
            Role::Subscriber { room } | Role::Publisher { room, .. } => room,
        };
        // Setup: connect and join, with bounded concurrency.
        let conn = {
            let Ok(_permit) = sem.acquire().await else {
                return;
            };
            let mut conn = match ctx.connect(self.index, self.params.read_buffer).await {
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
            room,
            room_name: ctx.room(room),
            rooms: self.params.rooms,
            windows: vec![Window::default(); self.pubs_per_room],
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
        };
        client::run(conn, &mut member, ctl, self.index, counts).await;
    }
}

/// Result of the `fanout` scenario.
#[derive(Debug, Clone, Serialize)]
pub struct FanoutResult {
    pub scenario: &'static str,
    pub params: FanoutParams,
    pub setup_s: f64,
    pub phase: PhaseReport,
    pub foreign_deliveries: u64,
    pub other_events: u64,
}

pub async fn run_fanout(
    ctx: Rc<Ctx>,
    params: FanoutParams,
    spec: PhaseSpec,
    deadline: Instant,
) -> Result<FanoutResult, String> {
    let fleet = Fleet::setup(ctx, params.clone(), deadline).await?;
    let phase = fleet.phase(spec).await;
    let out = FanoutResult {
        scenario: "fanout",
        params,
        setup_s: fleet.setup_s,
        phase,
        foreign_deliveries: fleet.foreign(),
        other_events: fleet.other_events(),
    };
    fleet.close().await;
    Ok(out)
}

#[derive(Debug, Clone, Serialize)]
pub struct CeilingParams {
    pub start_deliveries_per_s: f64,
    pub max_deliveries_per_s: f64,
    pub factor: f64,
    pub refine_steps: u32,
    pub step_s: f64,
    pub warmup_s: f64,
    pub drain_s: f64,
    pub p99_budget_ms: f64,
    /// Stop searching once this much time has passed (the run's hard bound).
    pub max_total_s: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct CeilingResult {
    pub scenario: &'static str,
    pub params: FanoutParams,
    pub search: CeilingParams,
    pub setup_s: f64,
    /// The highest target rate that held (p99 within budget, nothing lost); 0 if none did.
    pub ceiling_deliveries_per_s: f64,
    /// The measured delivery rate of that step.
    pub ceiling_measured_deliveries_per_s: f64,
    /// The lowest target rate that failed, if any.
    pub failed_at_deliveries_per_s: Option<f64>,
    pub failed_because: Option<String>,
    pub best: Option<PhaseReport>,
    pub steps: Vec<PhaseReport>,
}

fn why_failed(r: &PhaseReport, budget: f64) -> String {
    let mut why = Vec::new();
    if r.lost > 0 {
        why.push(format!("{} lost", r.lost));
    }
    if r.duplicates > 0 {
        why.push(format!("{} duplicates", r.duplicates));
    }
    if r.publish_acks_refused > 0 {
        why.push(format!("{} publishes refused", r.publish_acks_refused));
    }
    if r.connections_lost > 0 {
        why.push(format!("{} connections lost", r.connections_lost));
    }
    if r.latency.p99_ms > budget {
        why.push(format!("p99 {:.1} ms > {budget} ms", r.latency.p99_ms));
    }
    if (r.publishes as f64) < 0.97 * r.planned_publishes as f64 {
        why.push(format!(
            "only {} of {} planned publishes sent (generator-bound)",
            r.publishes, r.planned_publishes
        ));
    }
    if r.delivered == 0 {
        why.push("nothing delivered".into());
    }
    why.join(", ")
}

pub async fn run_ceiling(
    ctx: Rc<Ctx>,
    params: FanoutParams,
    search: CeilingParams,
    deadline: Instant,
) -> Result<CeilingResult, String> {
    let fleet = Fleet::setup(ctx.clone(), params.clone(), deadline).await?;
    let t0 = Instant::now();
    let budget = search.p99_budget_ms;
    let step = |rate: f64| PhaseSpec {
        target_deliveries_per_s: rate,
        warmup_s: search.warmup_s,
        duration_s: search.step_s,
        drain_s: search.drain_s,
    };
    let step_cost = search.warmup_s + search.step_s + search.drain_s + 1.0;
    let time_left = |t0: Instant| search.max_total_s - t0.elapsed().as_secs_f64() > step_cost;
    let mut steps = Vec::new();
    let mut best: Option<PhaseReport> = None;
    let mut failed: Option<(f64, String)> = None;
    let mut rate = search.start_deliveries_per_s;
    // Grow geometrically until a step fails.
    while rate <= search.max_deliveries_per_s && time_left(t0) {
        let r = fleet.phase(step(rate)).await;
        let ok = r.held(budget);
        ctx.progress(format_args!(
            "ceiling: {:.0}/s {} (p99 {:.2} ms, lost {}, measured {:.0}/s)",
            rate,
            if ok { "held" } else { "FAILED" },
            r.latency.p99_ms,
            r.lost,
            r.deliveries_per_s
        ));
        steps.push(r.clone());
        if ok {
            best = Some(r);
            rate *= search.factor;
        } else {
            failed = Some((rate, why_failed(&r, budget)));
            break;
        }
        if fleet.connections_lost() > 0 {
            break;
        }
    }
    // Refine between the last rate that held and the first that failed.
    let mut refine = search.refine_steps;
    while refine > 0 && fleet.connections_lost() == 0 && time_left(t0) {
        let (Some(lo), Some((hi, _))) = (best.as_ref(), failed.as_ref()) else {
            break;
        };
        let mid = (lo.target_deliveries_per_s + hi) / 2.0;
        if (hi - lo.target_deliveries_per_s) / hi < 0.04 {
            break;
        }
        fleet
            .settle(Duration::from_millis(500), Duration::from_secs(10))
            .await;
        let r = fleet.phase(step(mid)).await;
        let ok = r.held(budget);
        ctx.progress(format_args!(
            "ceiling refine: {:.0}/s {} (p99 {:.2} ms, lost {})",
            mid,
            if ok { "held" } else { "FAILED" },
            r.latency.p99_ms,
            r.lost
        ));
        steps.push(r.clone());
        if ok {
            best = Some(r);
        } else {
            failed = Some((mid, why_failed(&r, budget)));
        }
        refine -= 1;
    }
    let out = CeilingResult {
        scenario: "ceiling",
        params,
        setup_s: fleet.setup_s,
        ceiling_deliveries_per_s: best.as_ref().map_or(0.0, |b| b.target_deliveries_per_s),
        ceiling_measured_deliveries_per_s: best.as_ref().map_or(0.0, |b| b.deliveries_per_s),
        failed_at_deliveries_per_s: failed.as_ref().map(|f| f.0),
        failed_because: failed.map(|f| f.1),
        best,
        steps,
        search,
    };
    fleet.close().await;
    Ok(out)
}
