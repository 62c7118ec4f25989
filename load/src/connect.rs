//! `connect`: C Socket.IO connections as fast as the bounded concurrency allows (each one: TCP,
//! WebSocket upgrade, Engine.IO open, Socket.IO CONNECT), then held idle so the server's memory
//! per connection can be read.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::Semaphore;

use crate::common::{wait_setup, Ctx, SetupCounts};
use crate::stats::{usage, Lat, LatencySummary, Usage};
use crate::ws::Ignore;

#[derive(Debug, Clone, Serialize)]
pub struct ConnectParams {
    pub connections: usize,
    pub concurrency: usize,
    /// How long the connections are held once all are up.
    pub hold_s: f64,
    /// Wait after the last connect before memory is read (within the hold).
    pub settle_s: f64,
    pub read_buffer: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct ConnectResult {
    pub scenario: &'static str,
    pub params: ConnectParams,
    pub connected: usize,
    pub failed: usize,
    pub first_error: Option<String>,
    /// From the first connect to the last one settled.
    pub connect_s: f64,
    pub connects_per_s: f64,
    /// Handshake time of one connection (TCP + upgrade + Engine.IO open + Socket.IO connect).
    pub handshake: LatencySummary,
    /// CPU while connecting.
    pub connect_usage: Usage,
    pub server_cpu_us_per_connect: Option<f64>,
    /// Server RSS before the first connect and while all are held, kB.
    pub server_rss_kb_idle: Option<u64>,
    pub server_rss_kb_held: Option<u64>,
    /// (held − idle) / connections, bytes.
    pub server_rss_bytes_per_connection: Option<f64>,
    pub gen_rss_kb_held: u64,
    /// Connections closed by the server during the hold.
    pub connections_lost: usize,
}

/// The `i`-th connection: connects (its handshake timed into `lat`), then holds, answering pings
/// and ignoring the rest, until aborted or closed by the server.
async fn connection(
    ctx: Rc<Ctx>,
    counts: Rc<SetupCounts>,
    lat: Rc<RefCell<Lat>>,
    sem: Rc<Semaphore>,
    i: usize,
    read_buffer: usize,
) {
    let mut conn = {
        let Ok(_permit) = sem.acquire().await else {
            return;
        };
        let t = Instant::now();
        match ctx.connect(i, read_buffer).await {
            Ok(c) => {
                lat.borrow_mut().record(t.elapsed().as_micros() as u64);
                c
            }
            Err(e) => return counts.fail("connect", e),
        }
    };
    counts.ready.set(counts.ready.get() + 1);
    // Hold: answer pings, ignore the rest.
    let result: std::io::Result<()> = async {
        loop {
            conn.read_some().await?;
            conn.process(&mut Ignore)?;
            if conn.wr.pending() {
                conn.flush().await?;
            }
        }
    }
    .await;
    if let Err(e) = result {
        counts.died(e);
    }
}

pub async fn run_connect(
    ctx: Rc<Ctx>,
    p: ConnectParams,
    deadline: Instant,
) -> Result<ConnectResult, String> {
    let counts = Rc::new(SetupCounts::default());
    let lat = Rc::new(RefCell::new(Lat::default()));
    let sem = Rc::new(Semaphore::new(p.concurrency.max(1)));
    ctx.progress(format_args!(
        "connect: {} connections, {} at a time",
        p.connections, p.concurrency
    ));
    let mark_idle = ctx.probe.mark();
    let t0 = Instant::now();
    let tasks: Vec<_> = (0..p.connections)
        .map(|i| {
            tokio::task::spawn_local(connection(
                ctx.clone(),
                counts.clone(),
                lat.clone(),
                sem.clone(),
                i,
                p.read_buffer,
            ))
        })
        .collect();
    let waited = wait_setup(&ctx, &counts, p.connections, "connect", deadline).await;
    let connect_s = t0.elapsed().as_secs_f64();
    let mark_connected = ctx.probe.mark();
    if let Err(e) = waited {
        for t in &tasks {
            t.abort();
        }
        return Err(e);
    }
    let connected = counts.ready.get();
    ctx.progress(format_args!(
        "connect: {connected} connected, {} failed in {connect_s:.2}s ({:.0}/s)",
        counts.failed.get(),
        connected as f64 / connect_s
    ));
    let hold_end = Instant::now() + Duration::from_secs_f64(p.hold_s);
    tokio::time::sleep(Duration::from_secs_f64(p.settle_s.min(p.hold_s))).await;
    let mark_held = ctx.probe.mark();
    let held = usage(&mark_idle, &mark_held);
    ctx.progress(format_args!(
        "connect: holding; server RSS {} (idle {})",
        crate::report::server_kb(held.server_rss_kb_end),
        crate::report::server_kb(held.server_rss_kb_start)
    ));
    tokio::time::sleep_until(hold_end.into()).await;
    let lost = counts.dead.get();
    for t in &tasks {
        t.abort();
    }
    for t in tasks {
        let _ = t.await;
    }
    let measured = Measured {
        connect_s,
        connect_usage: usage(&mark_idle, &mark_connected),
        held,
        lost,
    };
    let handshake = lat.borrow().summary();
    Ok(result(p, &counts, handshake, measured))
}

/// What a run measured: how long connecting took, the usage while connecting and from idle to
/// all held, and the connections the server closed during the hold.
struct Measured {
    connect_s: f64,
    connect_usage: Usage,
    held: Usage,
    lost: usize,
}

/// The result, from the setup counts, the handshake times and what was measured.
fn result(
    p: ConnectParams,
    counts: &SetupCounts,
    handshake: LatencySummary,
    m: Measured,
) -> ConnectResult {
    let Measured {
        connect_s,
        connect_usage,
        held,
        lost,
    } = m;
    let connected = counts.ready.get();
    let per_conn = match (held.server_rss_kb_start, held.server_rss_kb_end) {
        (Some(a), Some(b)) if connected > 0 => {
            Some((b as f64 - a as f64) * 1024.0 / connected as f64)
        }
        _ => None,
    };
    let first_error = counts.first_error.borrow().clone();
    let failed = counts.failed.get();
    ConnectResult {
        scenario: "connect",
        connected,
        failed,
        first_error,
        connect_s,
        connects_per_s: connected as f64 / connect_s.max(1e-9),
        handshake,
        server_cpu_us_per_connect: connect_usage
            .server_cpu_ms
            .map(|c| c * 1000.0 / connected.max(1) as f64),
        connect_usage,
        server_rss_kb_idle: held.server_rss_kb_start,
        server_rss_kb_held: held.server_rss_kb_end,
        server_rss_bytes_per_connection: per_conn,
        gen_rss_kb_held: held.gen_rss_kb,
        connections_lost: lost,
        params: p,
    }
}
