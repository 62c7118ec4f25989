//! `[recovery]`: connection state recovery, its time window and bounds. Validated into the
//! [`RecoveryOptions`] the server takes.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::error::ConfigError;
use super::typed::ClusterSection;
use super::validate::{size, Ctx};
use crate::options::{RecoveryBounds, RecoveryOptions};

/// `[recovery]`, as in the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawRecovery {
    /// Keep sessions and store packets.
    pub enabled: bool,
    /// How long a session is kept after its socket left, in milliseconds.
    pub max_disconnection_ms: u64,
    /// Recovered sockets skip the connection middlewares.
    pub skip_middlewares: bool,
    /// Most stored packets, all namespaces.
    pub max_packets: u64,
    /// Most bytes of stored packets, all namespaces.
    pub max_packet_bytes: u64,
    /// Most stored packets of one namespace.
    pub max_packets_per_namespace: u64,
    /// Most bytes of stored packets of one namespace.
    pub max_packet_bytes_per_namespace: u64,
    /// Most sessions kept, all namespaces.
    pub max_sessions: u64,
    /// Most sessions kept for one namespace.
    pub max_sessions_per_namespace: u64,
    /// Most bytes of sessions kept, all namespaces.
    pub max_session_bytes: u64,
    /// Where the store is written on a drain and read back at start; "" = nowhere.
    pub state_file: String,
}

impl Default for RawRecovery {
    fn default() -> Self {
        let o = RecoveryOptions::default();
        let b = o.bounds;
        RawRecovery {
            enabled: o.enabled,
            max_disconnection_ms: b.max_disconnection.as_millis() as u64,
            skip_middlewares: o.skip_middlewares,
            max_packets: b.max_packets as u64,
            max_packet_bytes: b.max_packet_bytes as u64,
            max_packets_per_namespace: b.max_packets_per_namespace as u64,
            max_packet_bytes_per_namespace: b.max_packet_bytes_per_namespace as u64,
            max_sessions: b.max_sessions as u64,
            max_sessions_per_namespace: b.max_sessions_per_namespace as u64,
            max_session_bytes: b.max_session_bytes as u64,
            state_file: String::new(),
        }
    }
}

/// Checks `[recovery]`: every bound positive, a namespace's bound within the total, and a
/// cluster adapter that keeps packets if any (`redis-streams`).
pub(crate) fn validate(
    raw: &RawRecovery,
    cluster: &ClusterSection,
    ctx: &Ctx<'_>,
) -> Result<RecoveryOptions, ConfigError> {
    let positive = |key: &str, v: u64| match size(ctx, &format!("recovery.{key}"), v)? {
        0 => Err(ctx.invalid(&format!("recovery.{key}"), "must be greater than 0")),
        n => Ok(n),
    };
    if raw.max_disconnection_ms > 86_400_000 || raw.max_disconnection_ms == 0 {
        return Err(ctx.invalid(
            "recovery.max_disconnection_ms",
            "must be 1 to 86400000 (one day)",
        ));
    }
    let bounds = RecoveryBounds {
        max_disconnection: Duration::from_millis(raw.max_disconnection_ms),
        max_packets: positive("max_packets", raw.max_packets)?,
        max_packet_bytes: positive("max_packet_bytes", raw.max_packet_bytes)?,
        max_packets_per_namespace: positive(
            "max_packets_per_namespace",
            raw.max_packets_per_namespace,
        )?,
        max_packet_bytes_per_namespace: positive(
            "max_packet_bytes_per_namespace",
            raw.max_packet_bytes_per_namespace,
        )?,
        max_sessions: positive("max_sessions", raw.max_sessions)?,
        max_sessions_per_namespace: positive(
            "max_sessions_per_namespace",
            raw.max_sessions_per_namespace,
        )?,
        max_session_bytes: positive("max_session_bytes", raw.max_session_bytes)?,
    };
    for (key, per, total, total_key) in [
        (
            "max_packets_per_namespace",
            bounds.max_packets_per_namespace,
            bounds.max_packets,
            "max_packets",
        ),
        (
            "max_packet_bytes_per_namespace",
            bounds.max_packet_bytes_per_namespace,
            bounds.max_packet_bytes,
            "max_packet_bytes",
        ),
        (
            "max_sessions_per_namespace",
            bounds.max_sessions_per_namespace,
            bounds.max_sessions,
            "max_sessions",
        ),
    ] {
        if per > total {
            return Err(ctx.invalid(
                &format!("recovery.{key}"),
                format!("must not exceed recovery.{total_key} ({total})"),
            ));
        }
    }
    let across = matches!(cluster, ClusterSection::RedisStreams { .. });
    if raw.enabled && *cluster != ClusterSection::Local && !across {
        return Err(ctx.invalid(
            "recovery.enabled",
            "recovery needs [cluster] adapter = \"local\" (one node) or \"redis-streams\" (across \
             the cluster): the pub/sub adapters keep no packets",
        ));
    }
    Ok(RecoveryOptions {
        enabled: raw.enabled,
        skip_middlewares: raw.skip_middlewares,
        bounds,
        state_file: state_file(raw, across, ctx)?,
    })
}

/// `recovery.state_file`: `None` when empty; else a file (not a directory) in a directory that
/// exists, with node-local recovery on.
fn state_file(
    raw: &RawRecovery,
    across: bool,
    ctx: &Ctx<'_>,
) -> Result<Option<std::path::PathBuf>, ConfigError> {
    const KEY: &str = "recovery.state_file";
    if raw.state_file.is_empty() {
        return Ok(None);
    }
    if !raw.enabled {
        return Err(ctx.invalid(KEY, "needs recovery.enabled = true"));
    }
    if across {
        return Err(ctx.invalid(
            KEY,
            "only with [cluster] adapter = \"local\": with \"redis-streams\" the sessions are \
             kept in Redis",
        ));
    }
    let path = std::path::PathBuf::from(&raw.state_file);
    if path.is_dir() || raw.state_file.ends_with('/') {
        return Err(ctx.invalid(KEY, "names a directory; give a file in it"));
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => std::path::Path::new("."),
    };
    if !dir.is_dir() {
        return Err(ctx.invalid(
            KEY,
            format!("its directory {} does not exist", dir.display()),
        ));
    }
    Ok(Some(path))
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use crate::options::RecoveryOptions;
    use std::time::Duration;

    use super::super::tests::{err_with as err, no_env};

    #[test]
    fn recovery_is_off_by_default_and_typed_when_on() {
        let c = parse("", "t.toml", &no_env).expect("valid");
        assert_eq!(c.recovery, RecoveryOptions::default());
        assert!(!c.server_options().recovery.enabled);
        let text = "[recovery]\nenabled = true\nmax_disconnection_ms = 5000\nmax_packets = 10\n\
                    max_packets_per_namespace = 10\nskip_middlewares = false";
        let c = parse(text, "t.toml", &no_env).expect("valid");
        let r = c.server_options().recovery;
        assert!(r.enabled && !r.skip_middlewares);
        assert_eq!(r.bounds.max_disconnection, Duration::from_secs(5));
        assert_eq!(
            (r.bounds.max_packets, r.bounds.max_packets_per_namespace),
            (10, 10)
        );
        let env = |k: &str| (k == "ROOMCAST_RECOVERY_ENABLED").then(|| "true".to_owned());
        assert!(parse("", "t.toml", &env).expect("valid").recovery.enabled);
    }

    #[test]
    fn bad_recovery_values_name_their_key() {
        for (text, want) in [
            ("max_disconnection_ms = 0", "config: recovery.max_disconnection_ms: must be 1 to 86400000 (one day)"),
            ("max_packets = 0", "config: recovery.max_packets: must be greater than 0"),
            ("max_session_bytes = 0", "config: recovery.max_session_bytes: must be greater than 0"),
            ("max_packets = 10", "config: recovery.max_packets_per_namespace: must not exceed recovery.max_packets (10)"),
            ("max_sessions = 5", "config: recovery.max_sessions_per_namespace: must not exceed recovery.max_sessions (5)"),
        ] {
            assert_eq!(err(&format!("[recovery]\n{text}"), &no_env), want, "{text}");
        }
        let text = "[recovery]\nenabled = true\n[cluster]\nadapter = \"redis\"";
        let want = "config: recovery.enabled: recovery needs [cluster] adapter = \"local\" (one node) or \"redis-streams\" (across the cluster): the pub/sub adapters keep no packets";
        assert_eq!(err(text, &no_env), want);
        let env = |k: &str| (k == "ROOMCAST_RECOVERY_MAX_PACKETS").then(|| "0".to_owned());
        assert!(err("", &env).ends_with("(set by ROOMCAST_RECOVERY_MAX_PACKETS)"));
    }

    #[test]
    fn state_file_is_off_when_empty_and_checked_when_set() {
        assert_eq!(
            parse("", "t.toml", &no_env)
                .expect("valid")
                .recovery
                .state_file,
            None
        );
        let dir = std::env::temp_dir();
        let file = dir.join("roomcast-state.json");
        let on = |f: &str| format!("[recovery]\nenabled = true\nstate_file = {f:?}");
        let c = parse(&on(&file.display().to_string()), "t.toml", &no_env).expect("valid");
        assert_eq!(c.server_options().recovery.state_file, Some(file.clone()));
        let var = file.display().to_string();
        let env = |k: &str| match k {
            "ROOMCAST_RECOVERY_ENABLED" => Some("true".to_owned()),
            "ROOMCAST_RECOVERY_STATE_FILE" => Some(var.clone()),
            _ => None,
        };
        assert_eq!(
            parse("", "t.toml", &env)
                .expect("valid")
                .recovery
                .state_file,
            Some(file)
        );
        let key = "config: recovery.state_file:";
        let missing = dir.join("roomcast-no-such-dir").join("s.json");
        for (text, want) in [
            ("[recovery]\nstate_file = \"s.json\"".to_owned(), "needs recovery.enabled = true".to_owned()),
            (on(&dir.display().to_string()), "names a directory; give a file in it".to_owned()),
            (on(&missing.display().to_string()), format!("its directory {} does not exist", missing.parent().expect("has one").display())),
            (format!("{}\n[cluster]\nadapter = \"redis-streams\"", on("s.json")), "only with [cluster] adapter = \"local\": with \"redis-streams\" the sessions are kept in Redis".to_owned()),
        ] {
            assert_eq!(err(&text, &no_env), format!("{key} {want}"), "{text}");
        }
    }
}
