//! What an operator sees of the broker binary before any client connects: `--version`, a bind failure
//! that names the listener and its address, logs on stderr without ANSI colours when redirected (or
//! with them when `log.color = "always"`), and a ready line that gives the version, both addresses,
//! the Socket.IO path and the configuration file that was loaded.

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The binary, with every inherited `ROOMCAST_*` variable and `NO_COLOR` removed.
fn roomcast() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_roomcast"));
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy().into_owned();
        if name.starts_with("ROOMCAST_") || name == "NO_COLOR" || name == "RUST_LOG" {
            cmd.env_remove(name);
        }
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

fn temp_config(name: &str, text: &str) -> PathBuf {
    let path =
        std::env::temp_dir().join(format!("roomcast-cli-{}-{name}.toml", std::process::id()));
    std::fs::write(&path, text).expect("temp dir is writable");
    path
}

/// Two ports free a moment ago on loopback.
fn free_ports() -> (u16, u16) {
    let a = TcpListener::bind("127.0.0.1:0").expect("bind");
    let b = TcpListener::bind("127.0.0.1:0").expect("bind");
    let ports = (
        a.local_addr().expect("addr").port(),
        b.local_addr().expect("addr").port(),
    );
    (ports.0, ports.1)
}

/// Waits (at most 20 s) for `child` to exit -> (code, stdout, stderr).
fn finish(mut child: Child) -> (Option<i32>, String, String) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().expect("wait works").is_none() {
        if Instant::now() > deadline {
            child.kill().ok();
            panic!("roomcast kept running");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("output is readable");
    let text = |b: Vec<u8>| String::from_utf8_lossy(&b).into_owned();
    (out.status.code(), text(out.stdout), text(out.stderr))
}

/// A broker started with `config`, its stderr read until the ready line (at most 20 s).
struct Running {
    child: Child,
    ready_line: String,
    stderr_before_ready: String,
}

fn start(config: &str, name: &str) -> Running {
    let path = temp_config(name, config);
    let mut child = roomcast()
        .arg("--config")
        .arg(&path)
        .spawn()
        .expect("roomcast runs");
    let stderr = child.stderr.take().expect("stderr is piped");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            // keep reading after the test stopped listening: a closed pipe would fail the broker's
            // next log write
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = String::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line.contains("roomcast ready") => {
                std::fs::remove_file(&path).ok();
                return Running {
                    child,
                    ready_line: line,
                    stderr_before_ready: seen,
                };
            }
            Ok(line) => {
                seen.push_str(&line);
                seen.push('\n');
            }
            Err(_) => {
                child.kill().ok();
                panic!("no ready line within 20 s; stderr so far:\n{seen}");
            }
        }
    }
}

impl Running {
    /// SIGTERM, then the exit status and what the broker wrote to stdout.
    fn stop(mut self) -> (Option<i32>, String) {
        let pid = self.child.id().to_string();
        let status = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill runs");
        assert!(status.success());
        let mut stdout = String::new();
        if let Some(mut out) = self.child.stdout.take() {
            out.read_to_string(&mut stdout).ok();
        }
        let (code, _, _) = finish(self.child);
        (code, stdout)
    }
}

#[test]
fn version_flag_prints_the_crate_version() {
    let mut cmd = roomcast();
    cmd.arg("--version");
    let (code, stdout, stderr) = finish(cmd.spawn().expect("roomcast runs"));
    assert_eq!(code, Some(0), "stderr: {stderr}");
    assert_eq!(
        stdout.trim(),
        format!("roomcast {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn a_bind_failure_names_the_listener_its_address_and_key() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let busy = taken.local_addr().expect("addr");
    let (free, _) = free_ports();
    let cases = [
        (
            format!("[server]\nbind = \"{busy}\"\n[admin]\nbind = \"127.0.0.1:{free}\"\n"),
            ["Socket.IO", "server.bind"],
        ),
        (
            format!("[server]\nbind = \"127.0.0.1:{free}\"\n[admin]\nbind = \"{busy}\"\n"),
            ["admin API", "admin.bind"],
        ),
    ];
    for (i, (text, needles)) in cases.iter().enumerate() {
        let path = temp_config(&format!("bind-{i}"), text);
        let child = roomcast()
            .arg("--config")
            .arg(&path)
            .spawn()
            .expect("roomcast runs");
        let (code, _, stderr) = finish(child);
        std::fs::remove_file(&path).ok();
        assert_eq!(code, Some(1), "stderr: {stderr}");
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "one line: {stderr:?}");
        for needle in needles.iter().copied().chain([busy.to_string().as_str()]) {
            assert!(lines[0].contains(needle), "{:?} lacks {needle:?}", lines[0]);
        }
        assert!(lines[0].contains("in use"), "{:?}", lines[0]);
    }
}

#[test]
fn redirected_logs_go_to_stderr_without_colour_and_the_ready_line_says_what_runs() {
    let (sio, admin) = free_ports();
    let config = format!(
        "[server]\nbind = \"127.0.0.1:{sio}\"\npath = \"/rt\"\n[admin]\nbind = \"127.0.0.1:{admin}\"\n"
    );
    let running = start(&config, "plain");
    let ready = running.ready_line.clone();
    let before = running.stderr_before_ready.clone();
    let (code, stdout) = running.stop();
    assert_eq!(code, Some(0));
    assert_eq!(stdout, "", "nothing on stdout");
    assert!(
        !ready.contains('\u{1b}') && !before.contains('\u{1b}'),
        "no ANSI escapes when stderr is not a terminal: {ready:?}"
    );
    for needle in [
        format!("version={}", env!("CARGO_PKG_VERSION")),
        format!("socketio=127.0.0.1:{sio}"),
        "path=/rt/".to_owned(),
        format!("admin=127.0.0.1:{admin}"),
        "config=".to_owned(),
        format!("roomcast-cli-{}-plain.toml", std::process::id()),
    ] {
        assert!(ready.contains(&needle), "{ready:?} lacks {needle:?}");
    }
}

#[test]
fn log_color_always_colours_even_when_redirected() {
    let (sio, admin) = free_ports();
    let config = format!(
        "[server]\nbind = \"127.0.0.1:{sio}\"\n[admin]\nbind = \"127.0.0.1:{admin}\"\n[log]\ncolor = \"always\"\n"
    );
    let running = start(&config, "colour");
    let ready = running.ready_line.clone();
    let (code, _) = running.stop();
    assert_eq!(code, Some(0));
    assert!(
        ready.contains("\u{1b}["),
        "ANSI escapes expected: {ready:?}"
    );
}
