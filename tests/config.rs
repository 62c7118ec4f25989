//! The broker binary's configuration contract, end to end: `roomcast --config FILE` with a broken file (or
//! a broken `ROOMCAST_*` override) exits non-zero with exactly one line on stderr naming the key, and
//! `roomcast --help` exits 0 documenting `--config` and the environment overrides.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The binary, with every inherited `ROOMCAST_*` variable removed so the host cannot change the outcome.
fn roomcast() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_roomcast"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("ROOMCAST_") {
            cmd.env_remove(name);
        }
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Runs `cmd` to completion (at most 20 s: a broken config must never start a server) -> (status, stderr).
fn run(mut cmd: Command) -> (Option<i32>, String, String) {
    let mut child = cmd.spawn().expect("the roomcast binary runs");
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().expect("wait works").is_none() {
        if Instant::now() > deadline {
            child.kill().ok();
            panic!("roomcast kept running: the configuration was accepted");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("output is readable");
    let text = |b: Vec<u8>| String::from_utf8_lossy(&b).into_owned();
    (out.status.code(), text(out.stdout), text(out.stderr))
}

fn temp_config(name: &str, text: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("roomcast-it-{}-{name}.toml", std::process::id()));
    std::fs::write(&path, text).expect("temp dir is writable");
    path
}

/// Asserts a failed start: non-zero exit, one stderr line, containing every `needles` entry.
fn assert_refused(cmd: Command, needles: &[&str]) {
    let (code, _, stderr) = run(cmd);
    assert!(
        matches!(code, Some(c) if c != 0),
        "exit {code:?}, stderr {stderr:?}"
    );
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(
        lines.len(),
        1,
        "want exactly one stderr line, got {stderr:?}"
    );
    for needle in needles {
        assert!(
            lines[0].contains(needle),
            "{:?} does not name {needle:?}",
            lines[0]
        );
    }
}

#[test]
fn broken_files_are_refused_naming_the_key() {
    let cases: [(&str, &str, &[&str]); 5] = [
        (
            "unknown",
            "[engine]\npingInterval = 5\n",
            &["`pingInterval`", "[engine]"],
        ),
        (
            "type",
            "[engine]\nping_interval_ms = \"25s\"\n",
            &["engine.ping_interval_ms", "integer"],
        ),
        (
            "value",
            "[limits]\noutbound_queue = 0\n",
            &["limits.outbound_queue"],
        ),
        ("bind", "[server]\nbind = \"nowhere\"\n", &["server.bind"]),
        (
            "jwt",
            "[[namespaces]]\nname = \"/\"\nauth = \"jwt\"\n",
            &["namespaces[0].auth"],
        ),
    ];
    for (name, text, needles) in cases {
        let path = temp_config(name, text);
        let mut cmd = roomcast();
        cmd.arg("--config").arg(&path);
        let file = path.display().to_string();
        let mut with_file = needles.to_vec();
        if name == "unknown" || name == "type" {
            with_file.push(&file);
        }
        assert_refused(cmd, &with_file);
        std::fs::remove_file(path).ok();
    }
}

#[test]
fn broken_environment_overrides_are_refused_naming_the_variable() {
    let path = temp_config("env", "");
    let mut cmd = roomcast();
    cmd.arg("--config").arg(&path);
    cmd.env("ROOMCAST_ENGINE_PING_INTERVAL_MS", "0");
    assert_refused(
        cmd,
        &[
            "engine.ping_interval_ms",
            "ROOMCAST_ENGINE_PING_INTERVAL_MS",
        ],
    );

    let mut cmd = roomcast();
    cmd.arg("--config").arg(&path);
    cmd.env("ROOMCAST_SERVER_BINDADDR", "0.0.0.0:1");
    assert_refused(cmd, &["ROOMCAST_SERVER_BINDADDR"]);
    std::fs::remove_file(path).ok();
}

#[test]
fn a_missing_file_is_refused() {
    let mut cmd = roomcast();
    cmd.arg("--config").arg("/nonexistent/roomcast.toml");
    assert_refused(cmd, &["/nonexistent/roomcast.toml"]);
}

#[test]
fn help_documents_the_flag_and_the_overrides() {
    let mut cmd = roomcast();
    cmd.arg("--help");
    let (code, stdout, stderr) = run(cmd);
    assert_eq!(code, Some(0), "stderr: {stderr}");
    for needle in [
        "--config",
        "config.toml",
        "ROOMCAST_SERVER_BIND",
        "ROOMCAST_ADMIN_TOKEN",
    ] {
        assert!(
            stdout.contains(needle),
            "--help lacks {needle:?}:\n{stdout}"
        );
    }
}
