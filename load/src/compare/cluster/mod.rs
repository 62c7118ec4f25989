//! The cluster scenarios of `compare` (issue 10): N nodes of one server (roomcast with
//! `[cluster] adapter = "redis"`, or the Node.js reference with `@socket.io/redis-adapter`) over a
//! throwaway `redis-server`, subscribers spread over the nodes, publishers on node 0.
//!
//! * `cluster`: a fanout at `--cluster-rate` deliveries/s (cross-node deliveries/s, same-node and
//!   cross-node latency, loss, server CPU summed over the nodes, Redis CPU and commands per
//!   broadcast); idle connections on one node (Redis commands per connection); and one room of 10
//!   then of `--cluster-big-room` members (Redis commands per broadcast at both sizes).
//! * `cluster-ceiling`: the ceiling search of `ceiling` over the cluster.
//!
//! Each run starts its own Redis and nodes and kills them by PID at its end. socketioxide has no
//! Redis adapter in its bench crate and the floor server none at all: they take no part.
//!
//! Its parts: `redis` (the Redis process and the commands asked of it) and `measure` (what is
//! measured).

mod measure;
pub(super) mod redis;
mod specs;

pub(super) use specs::SPECS;

use std::rc::Rc;
use std::time::{Duration, Instant};

use super::rounds::RunRecord;
use super::scenario::Metrics;
use super::servers::{preflight, wait_ready, Env, ServerProc};
use super::CompareArgs;
use crate::common::Ctx;

/// The cluster scenarios.
pub(super) const SCENARIOS: [&str; 2] = ["cluster", "cluster-ceiling"];

/// The servers that have a Redis adapter.
pub(super) const SERVERS: [&str; 2] = ["roomcast", "reference"];

/// Why a server takes no part in the cluster scenarios.
pub(super) const LEFT_OUT: &str =
    "socketioxide has no Redis adapter in its bench crate (and the floor server none at all): \
     neither takes part in the cluster scenarios";

/// What the results say of the cluster scenarios (null when none ran): the Redis used, the
/// sizes, and a note for the table (the servers left out).
pub(super) fn describe(a: &CompareArgs) -> serde_json::Value {
    if !a.scenarios.iter().any(|s| SCENARIOS.contains(&s.as_str())) {
        return serde_json::Value::Null;
    }
    let redis = std::process::Command::new(&a.redis_server)
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    let mut note = format!(
        "{} nodes of each server over one redis-server; {} subscribers in {} rooms spread over \
         the nodes, {} publishers on the first; fanout at {:.0} deliveries/s; {} idle \
         connections for {:.1}s; rooms of 10 and {}",
        a.cluster_nodes,
        a.fleet.subscribers,
        a.fleet.rooms,
        a.fleet.publishers,
        a.cluster_rate,
        a.cluster_idle_connections,
        a.cluster_idle_hold,
        a.cluster_big_room
    );
    note.push_str(". ");
    note.push_str(LEFT_OUT);
    serde_json::json!({ "redis_server": redis, "note": note })
}

/// A running cluster: its Redis and its nodes (node 0 first).
pub(super) struct Cluster {
    pub(super) redis: ServerProc,
    pub(super) nodes: Vec<ServerProc>,
}

impl Cluster {
    /// Starts Redis and `n` nodes of `server`, checks each node with one client (roomcast makes a
    /// namespace's adapter on its first use), and waits until every node is subscribed to the
    /// cluster's channels and connected to publish.
    async fn start(a: &CompareArgs, env: &mut Env, server: &str) -> Result<Cluster, String> {
        let redis = redis::start(env, &a.redis_server).await?;
        let url = format!("redis://127.0.0.1:{}/0", redis.port);
        let mut cluster = Cluster {
            redis,
            nodes: Vec::new(),
        };
        for _ in 0..a.cluster_nodes.max(1) {
            let node = env.start_node(server, None, Some(&url))?;
            cluster.nodes.push(node);
        }
        for node in &mut cluster.nodes {
            wait_ready(node).await?;
            let ctx = env.ctx(node.port, node.pid())?;
            preflight(&ctx)
                .await
                .map_err(|e| format!("node on port {}: {e}", node.port))?;
        }
        cluster.wait_subscribed().await?;
        Ok(cluster)
    }

    /// Waits until every node subscribes to the request channel of namespace `/` (as Node's
    /// adapter counts servers; each subscribes its broadcast pattern before that) and Redis has
    /// two connections of each node (its subscriber and its publisher) besides this query's.
    async fn wait_subscribed(&self) -> Result<(), String> {
        let n = self.nodes.len() as u64;
        let until = Instant::now() + Duration::from_secs(15);
        loop {
            let port = self.redis.port;
            let subscribed = redis::numsub(port, "socket.io-request#/#").await?;
            let clients = redis::info_field(port, "clients", "connected_clients").await?;
            if subscribed >= n && clients > 2 * n {
                return Ok(());
            }
            if Instant::now() > until {
                return Err(format!(
                    "{subscribed} of {n} nodes subscribed to Redis and {} node connections \
                     within 15s:\n{}",
                    clients.saturating_sub(1),
                    self.nodes[0].log_tail()
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The clients' context: node 0 the target, the others its peers; the CPU of every node
    /// summed as the server's.
    fn ctx(&self, env: &Env) -> Result<Ctx, String> {
        env.cluster_ctx(&self.nodes, Some(&self.redis))
    }

    /// A node that exited during the run, with its log.
    fn exited(&mut self) -> Option<String> {
        let procs = self
            .nodes
            .iter_mut()
            .chain(std::iter::once(&mut self.redis));
        for p in procs {
            if let Ok(Some(status)) = p.child.try_wait() {
                return Some(format!(
                    "{} exited during the run ({status}):\n{}",
                    p.command.join(" "),
                    p.log_tail()
                ));
            }
        }
        None
    }

    /// Kills every process by its PID.
    fn stop(self) {
        for node in self.nodes {
            node.stop();
        }
        self.redis.stop();
    }
}

/// Starts a cluster of `server`, runs `scen` against it and stops it.
pub(super) async fn one_run(
    a: &CompareArgs,
    env: &mut Env,
    round: usize,
    scen: &str,
    server: &str,
) -> RunRecord {
    let mut record = RunRecord::new(round, scen, server, Vec::new());
    let mut cluster = match Cluster::start(a, env, server).await {
        Ok(c) => c,
        Err(e) => {
            record.ok = false;
            record.error = Some(format!("cluster start: {e}"));
            return record;
        }
    };
    record.command = cluster.nodes[0].command.clone();
    let outcome = measure(a, env, &cluster, scen).await;
    let died = cluster.exited();
    cluster.stop();
    match (outcome, died) {
        (Ok((result, metrics)), None) => {
            record.result = result;
            record.metrics = metrics;
        }
        (Err(e), _) | (Ok(_), Some(e)) => {
            record.ok = false;
            record.error = Some(e);
        }
    }
    record
}

/// Runs the scenario against the cluster, bounded.
async fn measure(
    a: &CompareArgs,
    env: &Env,
    cluster: &Cluster,
    scen: &str,
) -> Result<(serde_json::Value, Metrics), String> {
    let ctx = Rc::new(cluster.ctx(env)?);
    let redis = measure::RedisRef {
        port: cluster.redis.port,
        pid: cluster.redis.pid(),
    };
    // Every part is bounded by its own durations; this bounds the whole, whatever happens.
    let bound = a.phase.total() + 2.0 * a.cluster_idle_hold + a.ceiling_max_total + 240.0;
    let run = async {
        match scen {
            "cluster" => measure::cluster(a, ctx, redis).await,
            _ => measure::ceiling(a, ctx).await,
        }
    };
    tokio::time::timeout(Duration::from_secs_f64(bound), run)
        .await
        .map_err(|_| format!("{scen}: hard bound of {bound:.0}s reached; run aborted"))?
}
