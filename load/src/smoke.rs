//! `smoke`: a few seconds of each scenario at small sizes against one server, for the test suite.
//! Exit code 0 only if everything published was delivered exactly once, no publish was refused,
//! every echo was acked and every connection succeeded.

use std::rc::Rc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{json, Value};

use crate::args::Common;
use crate::common::Ctx;
use crate::connect::{run_connect, ConnectParams, ConnectResult};
use crate::echo::{run_echo, EchoParams, EchoResult};
use crate::fanout::{run_fanout, FanoutParams, FanoutResult, PhaseSpec};
use crate::report;

/// 2 s of fanout: 20 subscribers, 2 rooms, 2 publishers, 2000 deliveries/s (the read buffer is
/// the option's).
const FANOUT: FanoutParams = FanoutParams {
    subscribers: 20,
    rooms: 2,
    publishers: 2,
    payload_bytes: 100,
    publish_ack: true,
    read_buffer: 0,
    nodes: 1,
    extra_per_room: 0,
    binary_bytes: 0,
};

const FANOUT_PHASE: PhaseSpec = PhaseSpec {
    target_deliveries_per_s: 2000.0,
    warmup_s: 0.2,
    duration_s: 2.0,
    drain_s: 3.0,
};

/// 1 s of echo: 4 clients, 200 acks/s (the read buffer is the option's).
const ECHO: EchoParams = EchoParams {
    clients: 4,
    rate: 200.0,
    payload_bytes: 100,
    warmup_s: 0.2,
    duration_s: 1.0,
    drain_s: 3.0,
    read_buffer: 0,
};

/// 50 connects, 16 at a time.
const CONNECT: ConnectParams = ConnectParams {
    connections: 50,
    concurrency: 16,
    hold_s: 0.3,
    settle_s: 0.1,
    read_buffer: 1024,
};

pub async fn run(ctx: Rc<Ctx>, common: &Common) -> Result<i32, String> {
    let mut problems: Vec<String> = Vec::new();
    let setup = || Instant::now() + Duration::from_secs_f64(common.setup_budget(100));

    let fanout = run_fanout(
        ctx.clone(),
        FanoutParams {
            read_buffer: common.read_buffer,
            ..FANOUT
        },
        FANOUT_PHASE,
        setup(),
    )
    .await;
    let fanout_json = judge("fanout", &fanout, &mut problems, fanout_problems);

    let echo = run_echo(
        ctx.clone(),
        EchoParams {
            read_buffer: common.read_buffer,
            ..ECHO
        },
        setup(),
    )
    .await;
    let echo_json = judge("echo", &echo, &mut problems, echo_problems);

    let connect = run_connect(ctx.clone(), CONNECT, setup()).await;
    let connect_json = judge("connect", &connect, &mut problems, connect_problems);

    let ok = problems.is_empty();
    if common.report.json {
        let all = json!({
            "scenario": "smoke",
            "ok": ok,
            "problems": problems,
            "fanout": fanout_json,
            "echo": echo_json,
            "connect": connect_json,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&all).map_err(|e| e.to_string())?
        );
    } else {
        if let Ok(r) = &fanout {
            report::fanout(r).print();
        }
        if let Ok(r) = &echo {
            report::echo(r).print();
        }
        if let Ok(r) = &connect {
            report::connect(r).print();
        }
        print_verdict(&problems);
    }
    Ok(if ok { 0 } else { 1 })
}

/// The JSON of a scenario's result, or of its error; what went wrong goes to `problems`.
fn judge<T: Serialize>(
    name: &str,
    result: &Result<T, String>,
    problems: &mut Vec<String>,
    check: fn(&T, &mut Vec<String>),
) -> Value {
    match result {
        Ok(r) => {
            check(r, problems);
            serde_json::to_value(r).unwrap_or_default()
        }
        Err(e) => {
            problems.push(format!("{name}: {e}"));
            json!({ "error": e })
        }
    }
}

fn fanout_problems(r: &FanoutResult, problems: &mut Vec<String>) {
    let p = &r.phase;
    if p.delivered == 0 {
        problems.push("fanout: nothing delivered".into());
    }
    if p.lost > 0 {
        problems.push(format!(
            "fanout: {} of {} deliveries lost",
            p.lost, p.expected
        ));
    }
    if p.duplicates > 0 {
        problems.push(format!("fanout: {} duplicate deliveries", p.duplicates));
    }
    if p.publish_acks_refused > 0 || p.publish_acks_ok < p.publishes {
        problems.push(format!(
            "fanout: {} of {} publishes acked ok, {} refused ({})",
            p.publish_acks_ok,
            p.publishes,
            p.publish_acks_refused,
            p.publish_ack_error.clone().unwrap_or_default()
        ));
    }
    if r.foreign_deliveries > 0 {
        problems.push(format!(
            "fanout: {} deliveries to the wrong room or unparsable",
            r.foreign_deliveries
        ));
    }
    if p.connections_lost > 0 {
        problems.push(format!("fanout: {} connections lost", p.connections_lost));
    }
}

fn echo_problems(r: &EchoResult, problems: &mut Vec<String>) {
    if r.acked == 0 {
        problems.push("echo: no ack received".into());
    }
    if r.lost > 0 {
        problems.push(format!("echo: {} of {} emits never acked", r.lost, r.sent));
    }
}

fn connect_problems(r: &ConnectResult, problems: &mut Vec<String>) {
    if r.failed > 0 || r.connected != r.params.connections {
        problems.push(format!(
            "connect: {} of {} connected ({})",
            r.connected,
            r.params.connections,
            r.first_error.clone().unwrap_or_default()
        ));
    }
}

fn print_verdict(problems: &[String]) {
    if problems.is_empty() {
        println!("smoke: OK");
    } else {
        println!("smoke: FAILED");
        for p in problems {
            println!("  - {p}");
        }
    }
}
