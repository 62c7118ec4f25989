//! `validate()`: the one step from [`RawConfig`] (file types) to [`Config`] (typed, known good). Every
//! refusal is a [`ConfigError::Invalid`] naming the dotted key and, when the value came from the
//! environment, the variable. Secrets are resolved here: inline, or from the variable a `*_env` key names.
//! The larger sections are checked in files of their own: `engine.rs`, `namespaces.rs`, `admin_ui.rs`,
//! `cluster.rs`.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use super::error::ConfigError;
use super::raw::{RawAdmin, RawConfig, RawCors, RawLimits, RawLog, RawServer};
use super::typed::*;

/// Accepted `log.level` values.
pub const LOG_LEVELS: [&str; 5] = ["error", "warn", "info", "debug", "trace"];

/// What validation needs besides the raw values.
pub(crate) struct Ctx<'a> {
    /// Environment lookup, for the variables `token_env` and `jwt_secret_env` name.
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// Dotted key -> the `ROOMCAST_*` variable that set it.
    pub origins: &'a BTreeMap<String, String>,
}

impl Ctx<'_> {
    pub(super) fn invalid(&self, key: &str, reason: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            key: key.to_owned(),
            reason: reason.into(),
            var: self.origins.get(key).cloned(),
        }
    }

    /// An inline secret or the value of the variable `env_name` names; both set is an error, and so is a
    /// named variable that is unset or empty. `Ok(None)`: neither given.
    pub(super) fn secret(
        &self,
        inline: (&str, &str),
        from_env: (&str, &str),
    ) -> Result<Option<String>, ConfigError> {
        let ((inline_key, value), (env_key, var)) = (inline, from_env);
        match (value.is_empty(), var.is_empty()) {
            (false, false) => {
                Err(self.invalid(inline_key, format!("set it or {env_key}, not both")))
            }
            (false, true) => Ok(Some(value.to_owned())),
            (true, false) => match (self.env)(var) {
                Some(v) if !v.is_empty() => Ok(Some(v)),
                _ => Err(self.invalid(
                    env_key,
                    format!("environment variable `{var}` is not set or empty"),
                )),
            },
            (true, true) => Ok(None),
        }
    }
}

/// Checks every value of `raw` and builds the typed configuration.
pub(crate) fn validate(raw: &RawConfig, ctx: &Ctx<'_>) -> Result<Config, ConfigError> {
    let server = server(&raw.server, ctx)?;
    let admin = admin(&raw.admin, ctx)?;
    if ports_clash(server.bind, admin.bind) {
        return Err(ctx.invalid(
            "admin.bind",
            format!("uses the port of server.bind `{}`", server.bind),
        ));
    }
    let cluster = super::cluster::validate(&raw.cluster, ctx)?;
    Ok(Config {
        recovery: super::recovery::validate(&raw.recovery, &cluster, ctx)?,
        cluster,
        server,
        engine: super::engine::validate(&raw.engine, ctx)?,
        cors: cors(&raw.cors, ctx)?,
        limits: limits(&raw.limits, ctx)?,
        admin,
        log: log(&raw.log, ctx)?,
        admin_ui: super::admin_ui::validate(&raw.admin_ui, &raw.namespaces, ctx)?,
        namespaces: super::namespaces::validate(&raw.namespaces, ctx)?,
    })
}

fn server(raw: &RawServer, ctx: &Ctx<'_>) -> Result<ServerSection, ConfigError> {
    let workers = match size(ctx, "server.workers", raw.workers)? {
        // available_parallelism fails only where the core count is unknowable; one worker still serves.
        0 => std::thread::available_parallelism().map_or(1, usize::from),
        n => n,
    };
    Ok(ServerSection {
        bind: bind(ctx, "server.bind", &raw.bind)?,
        path: path(ctx, &raw.path)?,
        workers,
        shutdown_timeout: Duration::from_millis(raw.shutdown_timeout_ms),
    })
}

fn bind(ctx: &Ctx<'_>, key: &str, text: &str) -> Result<SocketAddr, ConfigError> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    if let Some(Ok(port)) = text.strip_prefix("localhost:").map(str::parse::<u16>) {
        return Ok(SocketAddr::from((Ipv4Addr::LOCALHOST, port)));
    }
    Err(ctx.invalid(
        key,
        format!("`{text}` is not an address like 0.0.0.0:3000 or [::1]:3000"),
    ))
}

/// Two listeners that would fight over one port (port 0 asks for any free port, so never clashes).
fn ports_clash(a: SocketAddr, b: SocketAddr) -> bool {
    a.port() == b.port()
        && a.port() != 0
        && (a.ip() == b.ip() || a.ip().is_unspecified() || b.ip().is_unspecified())
}

fn path(ctx: &Ctx<'_>, text: &str) -> Result<String, ConfigError> {
    let trimmed = text.trim_matches('/');
    if text.is_empty() {
        return Err(ctx.invalid(
            "server.path",
            "must not be empty (the clients' default is \"/socket.io\")",
        ));
    }
    if let Some(c) = trimmed
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || "?#%".contains(*c))
    {
        return Err(ctx.invalid("server.path", format!("must not contain {c:?}")));
    }
    Ok(if trimmed.is_empty() {
        "/".to_owned()
    } else {
        format!("/{trimmed}/")
    })
}

fn limits(raw: &RawLimits, ctx: &Ctx<'_>) -> Result<LimitsSection, ConfigError> {
    Ok(LimitsSection {
        max_connections: positive(ctx, "limits.max_connections", raw.max_connections)?,
        max_rooms_per_socket: size(ctx, "limits.max_rooms_per_socket", raw.max_rooms_per_socket)?,
        outbound_queue: positive(ctx, "limits.outbound_queue", raw.outbound_queue)?,
        outbound_queue_bytes: positive(
            ctx,
            "limits.outbound_queue_bytes",
            raw.outbound_queue_bytes,
        )?,
        max_memberships: positive(ctx, "limits.max_memberships", raw.max_memberships)?,
        max_dynamic_namespaces: positive(
            ctx,
            "limits.max_dynamic_namespaces",
            raw.max_dynamic_namespaces,
        )?,
        max_namespaces_per_connection: positive(
            ctx,
            "limits.max_namespaces_per_connection",
            raw.max_namespaces_per_connection,
        )?,
    })
}

fn cors(raw: &RawCors, ctx: &Ctx<'_>) -> Result<CorsSection, ConfigError> {
    for origin in &raw.origins {
        if let Err(why) = check_origin(origin) {
            return Err(ctx.invalid("cors.origins", format!("{origin:?}: {why}")));
        }
    }
    Ok(CorsSection {
        origins: raw.origins.clone(),
        credentials: raw.credentials,
    })
}

/// `"*"`, or `http(s)://host[:port]` exactly as a browser sends it in `Origin`.
fn check_origin(origin: &str) -> Result<(), String> {
    if origin == "*" {
        return Ok(());
    }
    let scheme = ["https://", "http://"]
        .into_iter()
        .find(|s| origin.starts_with(s));
    let Some(scheme) = scheme else {
        return Err("must be \"*\" or start with http:// or https://".to_owned());
    };
    let rest = &origin[scheme.len()..];
    if let Some((authority, _path)) = rest.split_once('/') {
        return Err(format!(
            "an origin has no path or trailing slash (write \"{scheme}{authority}\")"
        ));
    }
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) if !p.contains(']') => (h, Some(p)),
        _ => (rest, None),
    };
    let plain = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.';
    let bracketed = host.len() > 2 && host.starts_with('[') && host.ends_with(']');
    if host.is_empty() || !(bracketed || host.chars().all(plain)) {
        return Err("must be scheme://host[:port] with a lower-case host".to_owned());
    }
    match port.map(str::parse::<u16>) {
        Some(Ok(0)) | Some(Err(_)) => Err("has an invalid port".to_owned()),
        _ => Ok(()),
    }
}

fn admin(raw: &RawAdmin, ctx: &Ctx<'_>) -> Result<AdminSection, ConfigError> {
    Ok(AdminSection {
        bind: bind(ctx, "admin.bind", &raw.bind)?,
        token: ctx.secret(
            ("admin.token", &raw.token),
            ("admin.token_env", &raw.token_env),
        )?,
    })
}

fn log(raw: &RawLog, ctx: &Ctx<'_>) -> Result<LogSection, ConfigError> {
    let level = raw.level.to_ascii_lowercase();
    if !LOG_LEVELS.contains(&level.as_str()) {
        let reason = format!("{:?} is not one of {}", raw.level, LOG_LEVELS.join(", "));
        return Err(ctx.invalid("log.level", reason));
    }
    let format = match raw.format.as_str() {
        "text" => LogFormat::Text,
        "json" => LogFormat::Json,
        other => {
            return Err(ctx.invalid(
                "log.format",
                format!("{other:?} is not \"text\" or \"json\""),
            ))
        }
    };
    let color = match raw.color.as_str() {
        "auto" => LogColor::Auto,
        "always" => LogColor::Always,
        "never" => LogColor::Never,
        other => {
            return Err(ctx.invalid(
                "log.color",
                format!("{other:?} is not \"auto\", \"always\" or \"never\""),
            ))
        }
    };
    Ok(LogSection {
        level,
        format,
        color,
    })
}

pub(super) fn size(ctx: &Ctx<'_>, key: &str, v: u64) -> Result<usize, ConfigError> {
    usize::try_from(v).map_err(|_| ctx.invalid(key, "is too large for this platform"))
}

fn positive(ctx: &Ctx<'_>, key: &str, v: u64) -> Result<usize, ConfigError> {
    match size(ctx, key, v)? {
        0 => Err(ctx.invalid(key, "must be greater than 0")),
        n => Ok(n),
    }
}
