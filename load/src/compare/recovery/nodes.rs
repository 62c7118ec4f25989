//! The servers of one recovery variant: one node (roomcast or the Node.js reference, recovery on
//! or off), or two nodes with recovery on over a Redis stream (roomcast with `[cluster] adapter =
//! "redis-streams"`, the reference with `@socket.io/redis-streams-adapter`) and a throwaway
//! `redis-server`. Each is waited for and checked with a client; a cluster is checked in both
//! directions with a message published on one node and received on the other.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::Variant;
use crate::common::Ctx;
use crate::compare::cluster::redis;
use crate::compare::servers::{preflight, wait_ready, Env, ServerProc};
use crate::compare::CompareArgs;
use crate::ws::{Conn, Handler};

/// The running servers of a variant (node 0 first), and their Redis if they are a cluster.
pub(super) struct Nodes {
    pub(super) procs: Vec<ServerProc>,
    redis: Option<ServerProc>,
}

impl Nodes {
    /// Starts the servers of `v`, waits for them and checks them.
    pub(super) async fn start(
        a: &CompareArgs,
        env: &mut Env,
        v: &Variant,
    ) -> Result<Nodes, String> {
        let mut nodes = Nodes {
            procs: Vec::new(),
            redis: None,
        };
        let url = if v.cluster {
            let r = redis::start(env, &a.redis_server).await?;
            let url = format!("redis://127.0.0.1:{}/0", r.port);
            nodes.redis = Some(r);
            Some(url)
        } else {
            None
        };
        let mut envs = Vec::new();
        let mut args = Vec::new();
        if v.recovery {
            envs.push(("ROOMCAST_RECOVERY_ENABLED", "true".to_owned()));
            args.push("--recovery".to_owned());
        }
        if let Some(url) = &url {
            envs.push(("ROOMCAST_CLUSTER_ADAPTER", "redis-streams".to_owned()));
            envs.push(("ROOMCAST_CLUSTER_REDIS_URL", url.clone()));
            args.extend(["--redis-streams-url".to_owned(), url.clone()]);
        }
        let server_args = if v.server == "roomcast" {
            Vec::new()
        } else {
            args
        };
        for _ in 0..v.nodes() {
            let p = env.start_with(v.server, &envs, server_args.clone())?;
            nodes.procs.push(p);
        }
        for p in &mut nodes.procs {
            wait_ready(p).await?;
            let ctx = env.ctx(p.port, p.pid())?;
            preflight(&ctx)
                .await
                .map_err(|e| format!("{} on port {}: {e}", v.name, p.port))?;
        }
        if v.cluster {
            let ctx = nodes.ctx(env)?;
            crosses(&ctx, 0, 1).await?;
            crosses(&ctx, 1, 0).await?;
        }
        Ok(nodes)
    }

    /// The clients' context: node 0 the target, the other its peer; the CPU of every node summed
    /// as the server's, the Redis's apart.
    pub(super) fn ctx(&self, env: &Env) -> Result<Ctx, String> {
        env.cluster_ctx(&self.procs, self.redis.as_ref())
    }

    /// roomcast's `roomcast_recovery_*` counters and gauges from every node's `/metrics`, summed
    /// by series (`name{labels}`); empty for the reference.
    pub(super) async fn recovery_counters(&self) -> BTreeMap<String, f64> {
        let mut out = BTreeMap::new();
        for port in self.procs.iter().filter_map(|p| p.admin_port) {
            let Ok(text) = http_get(port, "/metrics").await else {
                continue;
            };
            for line in text.lines().filter(|l| l.starts_with("roomcast_recovery_")) {
                let Some((series, value)) = line.rsplit_once(' ') else {
                    continue;
                };
                if let Ok(v) = value.trim().parse::<f64>() {
                    *out.entry(series.to_owned()).or_insert(0.0) += v;
                }
            }
        }
        out
    }

    /// A process that exited, with its log.
    pub(super) fn exited(&mut self) -> Option<String> {
        for p in self.procs.iter_mut().chain(self.redis.as_mut()) {
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
    pub(super) fn stop(self) {
        for p in self.procs {
            p.stop();
        }
        if let Some(r) = self.redis {
            r.stop();
        }
    }
}

/// Whether an event arrived.
#[derive(Default)]
struct Seen(bool);

impl Handler for Seen {
    fn on_event(&mut self, _name: &[u8], _args: &[u8]) {
        self.0 = true;
    }
}

/// A message published on node `from` reaches a member of the room on node `to` (published again
/// every 100 ms until it does, for at most 20 s): the nodes' adapters are up.
async fn crosses(ctx: &Ctx, from: usize, to: usize) -> Result<(), String> {
    let room = "\"recovery-ready\"";
    let timeout = ctx.connect_timeout;
    let join = |c: Conn| async move {
        let mut c = c;
        let ack = c.call(&ctx.names.join, room, timeout).await;
        ack.map(|_| c)
            .map_err(|e| format!("cluster check join: {e}"))
    };
    let connect = |node| async move {
        let c = ctx.connect_to(node, 0, 4096).await;
        c.map_err(|e| format!("cluster check connect to node {node}: {e}"))
    };
    let mut tx = join(connect(from).await?).await?;
    let mut rx = join(connect(to).await?).await?;
    let until = Instant::now() + Duration::from_secs(20);
    let mut seen = Seen::default();
    while !seen.0 {
        if Instant::now() > until {
            return Err(format!(
                "a message published on node {from} did not reach node {to} within 20s"
            ));
        }
        tx.emit(&ctx.names.publish, false, |b| {
            b.extend_from_slice(room.as_bytes());
            b.extend_from_slice(b",\"ready\",{}");
        });
        tx.flush().await.map_err(|e| e.to_string())?;
        let wait = Duration::from_millis(100);
        if let Ok(r) = tokio::time::timeout(wait, rx.read_some()).await {
            r.map_err(|e| format!("cluster check: {e}"))?;
            rx.process(&mut seen).map_err(|e| e.to_string())?;
            rx.flush().await.map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

/// The body of `GET path` on the loopback `port` (HTTP/1.0: the server closes after it), within
/// 3 s and 4 MiB.
async fn http_get(port: u16, path: &str) -> Result<String, String> {
    let get = async {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .map_err(|e| e.to_string())?;
        let req = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n");
        s.write_all(req.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let mut buf = Vec::new();
        s.take(4 << 20)
            .read_to_end(&mut buf)
            .await
            .map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&buf).into_owned();
        let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned());
        body.ok_or_else(|| "no HTTP response".to_owned())
    };
    tokio::time::timeout(Duration::from_secs(3), get)
        .await
        .map_err(|_| "timed out".to_owned())?
}
