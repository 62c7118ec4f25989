//! The command line stays compatible: every invocation the repository documents or runs still
//! parses, and every flag keeps its name and default now that the subcommands share flag groups.

use clap::{CommandFactory, Parser};

use crate::{Cli, Cmd};

fn parse(argv: &[&str]) -> Cli {
    let line = argv.join(" ");
    Cli::try_parse_from(std::iter::once("roomcast-load").chain(argv.iter().copied()))
        .unwrap_or_else(|e| panic!("`roomcast-load {line}` does not parse: {e}"))
}

fn words(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

/// The invocations in README.md, benches/README.md and tests/js/broker/load_smoke.test.mjs, and
/// the one `compare` runs itself to start the floor server.
#[test]
fn the_documented_invocations_parse() {
    let lines = [
        "compare",
        "compare --publish",
        "compare --quick",
        "compare --rounds 3",
        "compare --no-save --json",
        "compare --servers roomcast --scenarios fanout,echo,connect --quick --no-save",
        "compare --scenarios fanout,fanout-coalesced --coalesce-ms 100 --servers roomcast,reference --rounds 2",
        "compare --roomcast-bin target/release/roomcast --node node --reference benches/reference/server.mjs",
        "compare --servers roomcast,socketioxide --scenarios fanout,echo,connect --quick --no-save",
        "compare --servers roomcast,reference,socketioxide,floor",
        "compare --scenarios cluster,cluster-ceiling --servers roomcast,reference",
        "compare --scenarios cluster --cluster-nodes 3 --cluster-rate 10000 --quick --no-save",
        "fanout --url http://127.0.0.1:3000",
        "echo --url http://127.0.0.1:3000",
        "connect --url http://127.0.0.1:3000 --connections 10000",
        "ceiling --url http://127.0.0.1:3000",
        "smoke --url http://127.0.0.1:3000",
        "smoke --url http://127.0.0.1:41234 --json",
        "floor-server --port 3950",
        "chart --input benches/results/compare-20261130T065310Z.json",
    ];
    for line in lines {
        parse(&words(line));
    }
    parse(&[
        "compare",
        "--roomcast-config-extra",
        r"[limits]\noutbound_queue = 4096",
    ]);
    parse(&[
        "compare",
        "--out-dir",
        "target/x",
        "--roomcast-args=--config {config}",
    ]);
    let Cmd::Compare(a) = parse(&words(
        "compare --servers roomcast --scenarios fanout,echo,connect --quick --no-save",
    ))
    .cmd
    else {
        panic!("not compare");
    };
    assert_eq!(a.servers, ["roomcast"]);
    assert_eq!(a.scenarios, ["fanout", "echo", "connect"]);
    assert!(a.quick && a.no_save && !a.publish);
    let Cmd::Connect { common, connect } = parse(&words(
        "connect --url http://127.0.0.1:3000 --connections 10000",
    ))
    .cmd
    else {
        panic!("not connect");
    };
    assert_eq!(common.url, "http://127.0.0.1:3000");
    assert_eq!(connect.connections, 10_000);
    let Cmd::Smoke { common } = parse(&words("smoke --url http://127.0.0.1:41234 --json")).cmd
    else {
        panic!("not smoke");
    };
    assert!(common.report.json && !common.report.quiet);
}

/// The socketioxide reference is opt-in: its flags parse, and the default servers stay as they were.
#[test]
fn compare_takes_the_socketioxide_reference() {
    let Cmd::Compare(a) = parse(&["compare"]).cmd else {
        panic!("not compare");
    };
    assert_eq!(a.servers, ["roomcast", "reference", "floor"]);
    assert_eq!(
        a.socketioxide_bin,
        std::path::Path::new("target/release/roomcast-bench-socketioxide")
    );
    let Cmd::Compare(a) = parse(&words(
        "compare --servers roomcast,reference,socketioxide --socketioxide-bin bin/sx",
    ))
    .cmd
    else {
        panic!("not compare");
    };
    assert_eq!(a.servers, ["roomcast", "reference", "socketioxide"]);
    assert_eq!(a.socketioxide_bin, std::path::Path::new("bin/sx"));
    let saved = serde_json::to_value(&a).unwrap();
    assert_eq!(saved["socketioxide_bin"], "bin/sx");
}

/// `compare` takes the shared groups' flags, and its saved parameters stay one flat object.
#[test]
fn compare_takes_the_shared_flags_and_saves_them_flat() {
    let Cmd::Compare(a) = parse(&words(
        "compare -q --json --sources none --echo-event ping --subscribers 20 --payload-bytes 64 \
         --duration 1 --warmup 0.2 --connections 50 --hold 0.5 --p99-budget-ms 50",
    ))
    .cmd
    else {
        panic!("not compare");
    };
    assert!(a.report.quiet && a.report.json);
    assert_eq!(a.client.sources, "none");
    assert_eq!(a.client.echo_event, "ping");
    assert_eq!((a.fleet.subscribers, a.fleet.payload_bytes), (20, 64));
    assert_eq!(
        (a.phase.duration, a.phase.warmup, a.phase.drain),
        (1.0, 0.2, 3.0)
    );
    assert_eq!((a.connect.connections, a.connect.hold), (50, 0.5));
    assert_eq!(a.budget.p99_budget_ms, 50.0);
    let saved = serde_json::to_value(&a).expect("parameters");
    for key in [
        "quick",
        "json",
        "quiet",
        "sources",
        "echo_event",
        "subscribers",
        "payload_bytes",
        "fanout_rate",
        "duration",
        "warmup",
        "echo_clients",
        "connections",
        "hold",
        "connect_concurrency",
        "ceiling_max_total",
        "p99_budget_ms",
    ] {
        assert!(saved.get(key).is_some_and(|v| !v.is_object()), "{key}");
    }
    assert_eq!(saved["subscribers"], 20);
}

/// Flags and their defaults (`None`: no default value, or a switch).
type Flags = &'static [(&'static str, Option<&'static str>)];

/// The flags every scenario against a running server takes (`Common`), with their defaults.
const COMMON: Flags = &[
    ("url", Some("http://127.0.0.1:3000")),
    ("path", None),
    ("namespace", Some("/")),
    ("auth", None),
    ("sources", Some("127.0.0.1-127.0.0.8")),
    ("join-event", Some("join")),
    ("publish-event", Some("publish")),
    ("deliver-event", Some("msg")),
    ("echo-event", Some("echo")),
    ("room-prefix", Some("room-")),
    ("connect-timeout", Some("10")),
    ("concurrency", Some("128")),
    ("read-buffer", Some("16384")),
    ("server-pid", None),
    ("deadline", None),
    ("no-verify-accept", None),
    ("json", None),
    ("output", None),
    ("quiet", None),
];

/// Each subcommand's flags before they were grouped (whether it takes `COMMON`, and its own):
/// each must still exist with the same default.
const FLAGS: &[(&str, bool, Flags)] = &[
    (
        "fanout",
        true,
        &[
            ("subscribers", Some("1000")),
            ("rooms", Some("10")),
            ("publishers", Some("10")),
            ("payload-bytes", Some("100")),
            ("no-publish-ack", None),
            ("rate", Some("40000")),
            ("duration", Some("5")),
            ("warmup", Some("1")),
            ("drain", Some("3")),
        ],
    ),
    (
        "echo",
        true,
        &[
            ("clients", Some("100")),
            ("rate", Some("10000")),
            ("payload-bytes", Some("100")),
            ("duration", Some("5")),
            ("warmup", Some("1")),
            ("drain", Some("3")),
        ],
    ),
    (
        "connect",
        true,
        &[
            ("connections", Some("10000")),
            ("hold", Some("3")),
            ("settle", Some("1")),
        ],
    ),
    (
        "ceiling",
        true,
        &[
            ("subscribers", Some("1000")),
            ("rooms", Some("10")),
            ("publishers", Some("10")),
            ("payload-bytes", Some("100")),
            ("no-publish-ack", None),
            ("start-rate", Some("10000")),
            ("max-rate", Some("3000000")),
            ("factor", Some("1.5")),
            ("refine", Some("2")),
            ("step", Some("3")),
            ("warmup", Some("0.5")),
            ("drain", Some("3")),
            ("p99-budget-ms", Some("100")),
            ("max-total", Some("120")),
        ],
    ),
    ("smoke", true, &[]),
    (
        "compare",
        false,
        &[
            ("roomcast-bin", Some("target/release/roomcast")),
            ("roomcast-args", Some("--config {config}")),
            ("roomcast-config-extra", None),
            ("node", Some("node")),
            ("reference", Some("benches/reference/server.mjs")),
            (
                "scenarios",
                Some("fanout,fanout-coalesced,echo,connect,ceiling"),
            ),
            ("coalesce-ms", Some("50")),
            ("servers", Some("roomcast,reference,floor")),
            ("rounds", Some("1")),
            ("quick", None),
            ("out-dir", None),
            ("publish", None),
            ("no-save", None),
            ("json", None),
            ("quiet", None),
            ("sources", Some("127.0.0.1-127.0.0.8")),
            ("join-event", Some("join")),
            ("publish-event", Some("publish")),
            ("deliver-event", Some("msg")),
            ("echo-event", Some("echo")),
            ("subscribers", Some("1000")),
            ("rooms", Some("10")),
            ("publishers", Some("10")),
            ("payload-bytes", Some("100")),
            ("fanout-rate", Some("40000")),
            ("duration", Some("5")),
            ("warmup", Some("1")),
            ("echo-clients", Some("100")),
            ("echo-rate", Some("10000")),
            ("connections", Some("10000")),
            ("connect-concurrency", Some("128")),
            ("hold", Some("3")),
            ("ceiling-start", Some("10000")),
            ("ceiling-max", Some("3000000")),
            ("ceiling-factor", Some("1.5")),
            ("ceiling-refine", Some("2")),
            ("ceiling-step", Some("3")),
            ("p99-budget-ms", Some("100")),
            ("ceiling-max-total", Some("120")),
            ("ceiling-retries", Some("0")),
            ("cluster-nodes", Some("2")),
            ("cluster-rate", Some("10000")),
            ("cluster-idle-connections", Some("1000")),
            ("cluster-idle-hold", Some("3")),
            ("cluster-big-room", Some("1000")),
            ("redis-server", Some("redis-server")),
        ],
    ),
    ("chart", false, &[("input", None), ("output", None)]),
    (
        "floor-server",
        false,
        &[("host", Some("127.0.0.1")), ("port", Some("0"))],
    ),
];

#[test]
fn every_flag_keeps_its_name_and_default() {
    let cli = Cli::command();
    for (sub, common, own) in FLAGS {
        let cmd = cli
            .find_subcommand(sub)
            .unwrap_or_else(|| panic!("no subcommand {sub}"));
        let common = if *common { COMMON } else { &[] };
        for (flag, default) in common.iter().chain(own.iter()) {
            let arg = cmd
                .get_arguments()
                .find(|a| a.get_long() == Some(flag))
                .unwrap_or_else(|| panic!("{sub} has no --{flag}"));
            let got: Vec<String> = arg
                .get_default_values()
                .iter()
                .map(|v| v.to_string_lossy().into_owned())
                .collect();
            match default {
                Some(d) => assert_eq!(got, [*d], "{sub} --{flag}"),
                // A switch defaults to "false"; an option without a default has none.
                None => assert!(
                    got.is_empty() || got == ["false"],
                    "{sub} --{flag}: {got:?}"
                ),
            }
        }
        if cmd.get_arguments().any(|a| a.get_long() == Some("quiet")) {
            let quiet = cmd.get_arguments().find(|a| a.get_long() == Some("quiet"));
            assert_eq!(quiet.and_then(|a| a.get_short()), Some('q'), "{sub} -q");
        }
    }
}
