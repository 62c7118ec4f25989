//! The server processes of a comparison: roomcast (with a generated config), the Node.js reference,
//! the socketioxide reference and the floor server, each started fresh on a free loopback port, waited for, checked with one
//! client, and killed after its run.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::CompareArgs;
use crate::common::{Ctx, Names};
use crate::stats::Probe;
use crate::target::Target;
use crate::ws::ConnectOpts;

/// A server process; killed when dropped.
pub(super) struct ServerProc {
    pub(super) child: Child,
    pub(super) port: u16,
    log: PathBuf,
    pub(super) command: Vec<String>,
    /// roomcast's admin listener (its `/metrics`).
    pub(super) admin_port: Option<u16>,
}

impl ServerProc {
    pub(super) fn pid(&self) -> u32 {
        self.child.id()
    }

    pub(super) fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(8)..].join("\n")
    }

    pub(super) fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

pub(super) fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

/// What starting servers and connecting to them takes: the options, the checked event names, and
/// the directory of the generated configs and the logs.
pub(super) struct Env {
    pub(super) args: CompareArgs,
    pub(super) names: Names,
    pub(super) tmp: PathBuf,
    pub(super) starts: usize,
}

impl Env {
    pub(super) fn start(
        &mut self,
        server: &str,
        write_delay_ms: Option<u64>,
    ) -> Result<ServerProc, String> {
        self.start_node(server, write_delay_ms, None)
    }

    /// Starts `server`; with `redis_url`, as a node of a cluster over that Redis (roomcast through
    /// its `[cluster]` environment overrides, the reference with `--redis-url`).
    pub(super) fn start_node(
        &mut self,
        server: &str,
        write_delay_ms: Option<u64>,
        redis_url: Option<&str>,
    ) -> Result<ServerProc, String> {
        let mut envs = Vec::new();
        let mut args = Vec::new();
        if let Some(ms) = write_delay_ms {
            envs.push(("ROOMCAST_ENGINE_WRITE_DELAY_MS", ms.to_string()));
        }
        if let Some(url) = redis_url {
            if server == "roomcast" {
                envs.push(("ROOMCAST_CLUSTER_ADAPTER", "redis".to_owned()));
                envs.push(("ROOMCAST_CLUSTER_REDIS_URL", url.to_owned()));
            } else {
                args.extend(["--redis-url".to_owned(), url.to_owned()]);
            }
        }
        self.start_with(server, &envs, args)
    }

    /// Starts `server` with `envs` (roomcast's config overrides) and `extra` arguments after its
    /// own (the reference's options).
    pub(super) fn start_with(
        &mut self,
        server: &str,
        envs: &[(&str, String)],
        extra: Vec<String>,
    ) -> Result<ServerProc, String> {
        self.starts += 1;
        let port = free_port()?;
        let mut admin_port = None;
        let (program, mut argv) = match server {
            "roomcast" => {
                let (program, argv, admin) = self.roomcast_command(port)?;
                admin_port = Some(admin);
                (program, argv)
            }
            "floor" => {
                let exe = std::env::current_exe().map_err(|e| format!("own executable: {e}"))?;
                (
                    exe.display().to_string(),
                    vec!["floor-server".into(), "--port".into(), port.to_string()],
                )
            }
            "socketioxide" => (
                self.args.socketioxide_bin.display().to_string(),
                vec!["--port".into(), port.to_string()],
            ),
            _ => (
                self.args.node.clone(),
                vec![
                    self.args.reference.display().to_string(),
                    "--port".into(),
                    port.to_string(),
                ],
            ),
        };
        argv.extend(extra);
        let mut proc = self.spawn(server, port, program, argv, envs)?;
        proc.admin_port = admin_port;
        Ok(proc)
    }

    /// Starts `program` with `argv` and `envs`, its output into a log file; `port` is where it
    /// will listen.
    pub(super) fn spawn(
        &mut self,
        name: &str,
        port: u16,
        program: String,
        argv: Vec<String>,
        envs: &[(&str, String)],
    ) -> Result<ServerProc, String> {
        let log = self.tmp.join(format!("{name}-{}.log", self.starts));
        let logf = std::fs::File::create(&log).map_err(|e| e.to_string())?;
        let logf2 = logf.try_clone().map_err(|e| e.to_string())?;
        let mut command = Command::new(&program);
        for (k, v) in envs {
            command.env(k, v);
        }
        let child = command
            .args(&argv)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::from(logf))
            .stderr(Stdio::from(logf2))
            .spawn()
            .map_err(|e| format!("cannot start {program}: {e}"))?;
        let command = std::iter::once(program)
            .chain(argv)
            .map(|a| portable(&a))
            .collect();
        Ok(ServerProc {
            child,
            port,
            log,
            command,
            admin_port: None,
        })
    }

    /// roomcast's program, arguments and admin port, after writing its config (server on
    /// `port`, admin on another free port, logs at warn, plus --roomcast-config-extra).
    fn roomcast_command(&self, port: u16) -> Result<(String, Vec<String>, u16), String> {
        let admin = free_port()?;
        let config = self.tmp.join(format!("roomcast-{}.toml", self.starts));
        let mut toml = format!(
            "[server]\nbind = \"127.0.0.1:{port}\"\n\n[admin]\nbind = \"127.0.0.1:{admin}\"\n\n[log]\nlevel = \"warn\"\n"
        );
        if let Some(extra) = &self.args.roomcast_config_extra {
            toml.push('\n');
            toml.push_str(&extra.replace("\\n", "\n"));
            toml.push('\n');
        }
        std::fs::write(&config, toml).map_err(|e| e.to_string())?;
        let argv = self
            .args
            .roomcast_args
            .split_whitespace()
            .map(|a| {
                a.replace("{config}", &config.display().to_string())
                    .replace("{port}", &port.to_string())
                    .replace("{admin_port}", &admin.to_string())
            })
            .collect();
        Ok((self.args.roomcast_bin.display().to_string(), argv, admin))
    }

    pub(super) fn ctx(&self, port: u16, pid: u32) -> Result<Ctx, String> {
        let a = &self.args;
        Ok(Ctx {
            target: Target::parse(
                &format!("http://127.0.0.1:{port}"),
                None,
                "/",
                &a.client.sources,
            )?,
            names: self.names.clone(),
            connect: ConnectOpts {
                read_buffer: 16 * 1024,
                auth: None,
                verify_accept: true,
            },
            connect_timeout: Duration::from_secs(10),
            concurrency: 128,
            probe: Probe {
                server_pid: Some(pid),
                peer_pids: Vec::new(),
                redis_pid: None,
            },
            peers: Vec::new(),
            quiet: a.report.quiet,
        })
    }

    /// The clients' context for a cluster of `nodes`: the first the target, the others its
    /// peers; the CPU of every node summed as the server's, `redis`'s apart.
    pub(super) fn cluster_ctx(
        &self,
        nodes: &[ServerProc],
        redis: Option<&ServerProc>,
    ) -> Result<Ctx, String> {
        let first = nodes.first().ok_or("a cluster of no node")?;
        let mut ctx = self.ctx(first.port, first.pid())?;
        for node in &nodes[1..] {
            ctx.peers.push(Target {
                addr: ([127, 0, 0, 1], node.port).into(),
                host_header: format!("127.0.0.1:{}", node.port),
                ..ctx.target.clone()
            });
            ctx.probe.peer_pids.push(node.pid());
        }
        ctx.probe.redis_pid = redis.map(ServerProc::pid);
        Ok(ctx)
    }
}

/// Waits until the server accepts TCP connections (or exits).
pub(super) async fn wait_ready(p: &mut ServerProc) -> Result<(), String> {
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(Some(status)) = p.child.try_wait() {
            return Err(format!(
                "{} exited ({status}) before listening:\n{}",
                p.command.join(" "),
                p.log_tail()
            ));
        }
        if tokio::net::TcpStream::connect(("127.0.0.1", p.port))
            .await
            .is_ok()
        {
            return Ok(());
        }
        if Instant::now() > until {
            return Err(format!(
                "{} did not listen on port {} within 20s:\n{}",
                p.command.join(" "),
                p.port,
                p.log_tail()
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One client connects and joins a room: does this server speak the room API at all?
pub(super) async fn preflight(ctx: &Ctx) -> Result<(), String> {
    let mut c = ctx
        .connect(0, 4096)
        .await
        .map_err(|e| format!("preflight connect: {e}"))?;
    let ack = c
        .call(&ctx.names.join, "\"preflight\"", Duration::from_secs(3))
        .await
        .map_err(|e| format!("preflight {:?}: {e}", ctx.names.join))?;
    if !crate::scan::ack_ok(&ack) {
        return Err(format!(
            "preflight {:?} refused: {}",
            ctx.names.join,
            String::from_utf8_lossy(&ack)
        ));
    }
    Ok(())
}

/// `arg` as the results record it, naming nothing of the machine: a path under the working
/// directory relative to it, one under the temporary directory as `<tmp>/...`.
pub(super) fn portable(arg: &str) -> String {
    let under = |dir: std::path::PathBuf| {
        let dir = dir.display().to_string();
        let prefix = format!("{}/", dir.trim_end_matches('/'));
        arg.strip_prefix(&prefix).map(str::to_owned)
    };
    if let Some(rest) = std::env::current_dir().ok().and_then(under) {
        return rest;
    }
    if let Some(rest) = under(std::env::temp_dir()) {
        return format!("<tmp>/{rest}");
    }
    arg.to_owned()
}

#[cfg(test)]
mod tests {
    use super::portable;

    #[test]
    fn recorded_commands_name_no_path_of_the_machine() {
        let cwd = std::env::current_dir().expect("a working directory");
        let binary = format!("{}/target/release/roomcast", cwd.display());
        assert_eq!(portable(&binary), "target/release/roomcast");
        let tmp = std::env::temp_dir();
        let config = format!("{}/roomcast-load-compare-1/roomcast-1.toml", tmp.display());
        if !config.starts_with(&format!("{}/", cwd.display())) {
            let shown = portable(&config);
            assert_eq!(shown, "<tmp>/roomcast-load-compare-1/roomcast-1.toml");
        }
        assert_eq!(portable("--port"), "--port");
        assert_eq!(portable("node"), "node");
    }
}
