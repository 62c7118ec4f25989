//! `ceiling`: the highest fanout rate that holds (p99 within the budget, nothing lost) over one
//! fleet. The rate grows geometrically until a step fails, then bisects between the last step that
//! held and the first that failed.

use std::rc::Rc;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::fleet::Fleet;
use super::{FanoutParams, PhaseReport, PhaseSpec};
use crate::common::Ctx;

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
    /// A step that failed on latency alone (nothing lost, duplicated, refused or dropped) is
    /// measured again up to this many times before it counts as failed: on a shared machine one
    /// stall of the whole box can fail a step the servers hold.
    pub retries: u32,
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

/// A search under way: its steps so far, the best that held and the first that failed.
struct Search<'a> {
    fleet: &'a Fleet,
    ctx: &'a Ctx,
    params: &'a CeilingParams,
    t0: Instant,
    steps: Vec<PhaseReport>,
    best: Option<PhaseReport>,
    failed: Option<(f64, String)>,
}

impl Search<'_> {
    fn step(&self, rate: f64) -> PhaseSpec {
        PhaseSpec {
            target_deliveries_per_s: rate,
            warmup_s: self.params.warmup_s,
            duration_s: self.params.step_s,
            drain_s: self.params.drain_s,
        }
    }

    /// Whether one more step fits in the search's time bound.
    fn time_left(&self) -> bool {
        let p = self.params;
        let step_cost = p.warmup_s + p.step_s + p.drain_s + 1.0;
        p.max_total_s - self.t0.elapsed().as_secs_f64() > step_cost
    }

    /// Measures one step at `rate` (again, up to `retries` times, while it fails on latency
    /// alone); every measurement is kept in `steps`. Returns the last one and whether it held.
    async fn measure(&mut self, rate: f64) -> (PhaseReport, bool) {
        let budget = self.params.p99_budget_ms;
        let mut retries = self.params.retries;
        loop {
            let r = self.fleet.phase(self.step(rate)).await;
            let ok = r.held(budget);
            let clean = r.lost == 0
                && r.duplicates == 0
                && r.publish_acks_refused == 0
                && r.connections_lost == 0;
            if ok || !clean || retries == 0 || !self.time_left() {
                return (r, ok);
            }
            retries -= 1;
            self.ctx.progress(format_args!(
                "ceiling: {rate:.0}/s failed on latency alone (p99 {:.2} ms); measuring it again",
                r.latency.p99_ms
            ));
            self.steps.push(r);
            self.fleet
                .settle(Duration::from_millis(500), Duration::from_secs(10))
                .await;
        }
    }

    /// Grows the rate geometrically until a step fails.
    async fn grow(&mut self) {
        let budget = self.params.p99_budget_ms;
        let mut rate = self.params.start_deliveries_per_s;
        while rate <= self.params.max_deliveries_per_s && self.time_left() {
            let (r, ok) = self.measure(rate).await;
            self.ctx.progress(format_args!(
                "ceiling: {:.0}/s {} (p99 {:.2} ms, lost {}, measured {:.0}/s)",
                rate,
                if ok { "held" } else { "FAILED" },
                r.latency.p99_ms,
                r.lost,
                r.deliveries_per_s
            ));
            self.steps.push(r.clone());
            if ok {
                self.best = Some(r);
                rate *= self.params.factor;
            } else {
                self.failed = Some((rate, why_failed(&r, budget)));
                break;
            }
            if self.fleet.connections_lost() > 0 {
                break;
            }
        }
    }

    /// Refines between the last rate that held and the first that failed.
    async fn refine(&mut self) {
        let budget = self.params.p99_budget_ms;
        let mut refine = self.params.refine_steps;
        while refine > 0 && self.fleet.connections_lost() == 0 && self.time_left() {
            let (Some(lo), Some((hi, _))) = (self.best.as_ref(), self.failed.as_ref()) else {
                break;
            };
            let mid = (lo.target_deliveries_per_s + hi) / 2.0;
            if (hi - lo.target_deliveries_per_s) / hi < 0.04 {
                break;
            }
            self.fleet
                .settle(Duration::from_millis(500), Duration::from_secs(10))
                .await;
            let (r, ok) = self.measure(mid).await;
            self.ctx.progress(format_args!(
                "ceiling refine: {:.0}/s {} (p99 {:.2} ms, lost {})",
                mid,
                if ok { "held" } else { "FAILED" },
                r.latency.p99_ms,
                r.lost
            ));
            self.steps.push(r.clone());
            if ok {
                self.best = Some(r);
            } else {
                self.failed = Some((mid, why_failed(&r, budget)));
            }
            refine -= 1;
        }
    }
}

pub async fn run_ceiling(
    ctx: Rc<Ctx>,
    params: FanoutParams,
    search: CeilingParams,
    deadline: Instant,
) -> Result<CeilingResult, String> {
    let fleet = Fleet::setup(ctx.clone(), params.clone(), deadline).await?;
    let mut s = Search {
        fleet: &fleet,
        ctx: &ctx,
        params: &search,
        t0: Instant::now(),
        steps: Vec::new(),
        best: None,
        failed: None,
    };
    s.grow().await;
    s.refine().await;
    let Search {
        steps,
        best,
        failed,
        ..
    } = s;
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
