//! What the cluster scenarios compare, and the targets of issue 10: cross-node p99 under 10 ms at
//! 10k deliveries/s, a cluster fan-out ceiling at least 10× the Node cluster's, no Redis command
//! per idle connection, and one Redis command per broadcast whatever the room size.

use super::super::summary::Spec;

/// A metric without a target.
const fn plain(key: &'static str, label: &'static str, unit: &'static str) -> Spec {
    Spec {
        scenario: "cluster",
        key,
        label,
        unit,
        higher_is_better: false,
        target: None,
        absolute: None,
    }
}

/// A metric whose roomcast value must stay below `bound`.
const fn below(
    key: &'static str,
    label: &'static str,
    unit: &'static str,
    bound: (f64, &'static str),
) -> Spec {
    Spec {
        absolute: Some(bound),
        ..plain(key, label, unit)
    }
}

/// One Redis PUBLISH per broadcast (with a margin for the odd other command in the window).
const ONE_COMMAND: (f64, &str) = (1.5, "1 (< 1.5)");

pub(in super::super) const SPECS: &[Spec] = &[
    Spec {
        scenario: "cluster",
        higher_is_better: true,
        ..plain(
            "cross_node_deliveries_per_s",
            "cross-node deliveries",
            "deliveries/s",
        )
    },
    plain("same_p50_ms", "same-node latency p50", "ms"),
    plain("same_p99_ms", "same-node latency p99", "ms"),
    plain("cross_p50_ms", "cross-node latency p50", "ms"),
    below(
        "cross_p99_ms",
        "cross-node latency p99",
        "ms",
        (10.0, "< 10 ms"),
    ),
    below("lost", "lost or duplicated", "deliveries", (0.5, "0")),
    plain(
        "server_cpu_us_per_delivery",
        "server CPU per delivery, all nodes",
        "µs",
    ),
    plain("redis_cpu_pct", "Redis CPU", "% of a core"),
    plain("redis_cpu_us_per_delivery", "Redis CPU per delivery", "µs"),
    below(
        "redis_commands_per_broadcast",
        "Redis commands per broadcast",
        "commands",
        ONE_COMMAND,
    ),
    below(
        "idle_commands_per_connection",
        "Redis commands per idle connection",
        "commands",
        (0.001, "0"),
    ),
    below(
        "commands_per_broadcast_small_room",
        "Redis commands per broadcast, room of 10",
        "commands",
        ONE_COMMAND,
    ),
    // Labelled with --cluster-big-room by the summary.
    below(
        "commands_per_broadcast_big_room",
        "Redis commands per broadcast, big room",
        "commands",
        ONE_COMMAND,
    ),
    below(
        "room_checks_lost",
        "lost in those two rooms",
        "deliveries",
        (0.5, "0"),
    ),
    Spec {
        scenario: "cluster-ceiling",
        higher_is_better: true,
        target: Some((10.0, "≥ 10×")),
        ..plain(
            "ceiling_deliveries_per_s",
            "cluster fan-out ceiling",
            "deliveries/s",
        )
    },
    Spec {
        scenario: "cluster-ceiling",
        ..plain(
            "cross_p99_ms",
            "cross-node latency p99 at the ceiling",
            "ms",
        )
    },
    Spec {
        scenario: "cluster-ceiling",
        ..plain("redis_cpu_pct", "Redis CPU at the ceiling", "% of a core")
    },
];
