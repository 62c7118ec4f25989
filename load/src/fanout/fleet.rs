//! The connected clients of a fanout run and its phases: the fleet is set up once, then each phase
//! tells the publishers a rate and a window, follows the deliveries, drains, and reports.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::member;
use super::{CrossNode, FanoutParams, PhaseReport, PhaseSpec};
use crate::client::SendWindow;
use crate::common::{wait_setup, Ctx, SetupCounts};
use crate::stats::{usage, Lat, Usage};
use crate::sys::now_us;

/// Counters of one phase, shared by every client task.
#[derive(Default)]
pub(super) struct PhaseStats {
    pub(super) measure_from_us: u64,
    pub(super) publishes: u64,
    pub(super) expected: u64,
    /// Unique deliveries (duplicates excluded).
    pub(super) delivered: u64,
    /// Unique deliveries of messages sent in the measured window (after warmup).
    pub(super) measured: u64,
    pub(super) duplicates: u64,
    pub(super) reordered: u64,
    pub(super) acks_ok: u64,
    pub(super) acks_err: u64,
    pub(super) first_ack_error: Option<String>,
    pub(super) lat: Lat,
    pub(super) ack_lat: Lat,
    /// A cluster run's measured deliveries to recipients on another node than the publishers',
    /// and the latencies of the same-node and cross-node ones.
    pub(super) measured_cross: u64,
    pub(super) lat_same: Lat,
    pub(super) lat_cross: Lat,
}

/// Counters not tied to a phase.
#[derive(Default)]
pub(super) struct Shared {
    pub(super) setup: SetupCounts,
    pub(super) phases: RefCell<Vec<PhaseStats>>,
    /// Deliveries whose payload did not parse, or named an unknown phase/publisher, or came from a
    /// publisher of another room.
    pub(super) foreign: Cell<u64>,
    /// Deliveries of other events than the deliver event.
    pub(super) other_events: Cell<u64>,
    /// Publishers that finished sending in the current phase.
    pub(super) pubs_done: Cell<usize>,
}

/// What the publishers do next: send in `phase` during `window` (at the rate per publisher).
#[derive(Debug, Clone, Copy)]
pub(super) struct PhaseCmd {
    pub(super) phase: u32,
    pub(super) window: SendWindow,
}

/// A phase under way: what it was asked and the rates derived from it.
struct Running {
    phase: u32,
    spec: PhaseSpec,
    publishes_per_s: f64,
    rate_per_publisher: f64,
    /// Connections lost before the phase began.
    dead_before: usize,
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

/// Receivers of each publisher's publishes: the members of its room but itself.
fn receivers_per_publish(p: &FanoutParams) -> Vec<u64> {
    let mut members = vec![0u64; p.rooms];
    for i in 0..p.subscribers {
        members[i % p.rooms] += 1;
    }
    for j in 0..p.publishers {
        members[j % p.rooms] += 1;
    }
    for m in &mut members {
        *m += p.extra_per_room as u64;
    }
    (0..p.publishers)
        .map(|j| members[j % p.rooms] - 1)
        .collect()
}

impl Fleet {
    /// Connects subscribers then publishers; every client joins its room.
    pub async fn setup(
        ctx: Rc<Ctx>,
        params: FanoutParams,
        deadline: Instant,
    ) -> Result<Fleet, String> {
        let p = params;
        if p.rooms == 0 || p.publishers == 0 {
            return Err("fanout needs at least one room and one publisher".into());
        }
        let shared = Rc::new(Shared::default());
        let (ctl, _) = watch::channel(None);
        let receivers_per_publish = receivers_per_publish(&p);
        let t0 = Instant::now();
        ctx.progress(format_args!(
            "fanout setup: {} subscribers + {} publishers in {} rooms",
            p.subscribers, p.publishers, p.rooms
        ));
        let tasks = member::spawn(&ctx, &p, &shared, &ctl, &receivers_per_publish);
        let n = p.subscribers + p.publishers;
        let mut fleet = Fleet {
            ctx: ctx.clone(),
            params: p,
            shared: shared.clone(),
            ctl,
            tasks,
            receivers_per_publish,
            setup_s: 0.0,
        };
        wait_setup(&ctx, &shared.setup, n, "fanout setup", deadline).await?;
        if let Some(e) = shared.setup.failure("fanout setup", n) {
            return Err(e);
        }
        fleet.setup_s = t0.elapsed().as_secs_f64();
        ctx.progress(format_args!(
            "fanout setup: {n} clients connected and joined in {:.2}s",
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
        let run = Running {
            phase,
            spec,
            publishes_per_s,
            rate_per_publisher,
            dead_before: self.shared.setup.dead.get(),
        };
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
        self.follow(phase, end).await;
        self.drain(phase, end + Duration::from_secs_f64(spec.drain_s))
            .await;
        let drain_s = Instant::now().saturating_duration_since(end).as_secs_f64();
        let mark_b = self.ctx.probe.mark();
        self.report(&run, drain_s, usage(&mark_a, &mark_b))
    }

    /// Prints the delivery rate every second until `end`.
    async fn follow(&self, phase: u32, end: Instant) {
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
    }

    /// Drain: every publisher done, every expected delivery in (and acks back), or the bound.
    async fn drain(&self, phase: u32, until: Instant) {
        loop {
            let complete = {
                let ph = &self.shared.phases.borrow()[phase as usize];
                self.shared.pubs_done.get() >= self.params.publishers
                    && ph.delivered + ph.duplicates >= ph.expected
                    && (!self.params.publish_ack || ph.acks_ok + ph.acks_err >= ph.publishes)
            };
            if complete || Instant::now() >= until {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// The report of a finished phase.
    fn report(&self, run: &Running, drain_s: f64, usage: Usage) -> PhaseReport {
        let (phase, spec) = (run.phase, &run.spec);
        let ph = &self.shared.phases.borrow()[phase as usize];
        let planned = (run.rate_per_publisher * (spec.warmup_s + spec.duration_s) + 1e-6).floor()
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
            target_publishes_per_s: run.publishes_per_s,
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
            connections_lost: self.shared.setup.dead.get() - run.dead_before,
            cross_node: (self.params.nodes > 1).then(|| CrossNode {
                same_node_deliveries: measured - ph.measured_cross,
                cross_node_deliveries: ph.measured_cross,
                cross_node_deliveries_per_s: ph.measured_cross as f64 / spec.duration_s.max(1e-9),
                same_node_latency: ph.lat_same.summary(),
                cross_node_latency: ph.lat_cross.summary(),
            }),
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

    /// A receiver of room `room` outside the fleet; `FanoutParams::extra_per_room` of them per
    /// room are expected.
    pub fn receiver(&self, room: usize) -> super::Receiver {
        super::Receiver {
            shared: self.shared.clone(),
            deliver: self.ctx.names.deliver.as_bytes().to_vec(),
            seat: super::receive::Seat {
                room: room % self.params.rooms.max(1),
                rooms: self.params.rooms,
                windows: vec![
                    Default::default();
                    self.params.publishers.div_ceil(self.params.rooms.max(1))
                ],
                cross: None,
            },
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
