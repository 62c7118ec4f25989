//! `validate()`: the one step from [`RawConfig`] (file types) to [`Config`] (typed, known good). Every
//! refusal is a [`ConfigError::Invalid`] naming the dotted key and, when the value came from the
//! environment, the variable. Secrets are resolved here: inline, or from the variable a `*_env` key names.

use std::collections::{BTreeMap, HashSet};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use super::error::ConfigError;
use super::raw::{RawAdmin, RawConfig, RawCors, RawEngine, RawLog, RawNamespace, RawServer};
use super::typed::*;

/// Smallest accepted `engine.max_payload_bytes` (1 KiB).
pub const MIN_PAYLOAD: u64 = 1024;
/// Largest accepted `engine.max_payload_bytes` (100 MiB).
pub const MAX_PAYLOAD: u64 = 100 * 1024 * 1024;
/// Accepted `log.level` values.
pub const LOG_LEVELS: [&str; 5] = ["error", "warn", "info", "debug", "trace"];
/// Browsers fire a timer longer than this (2^31 - 1 ms) at once; a client times pings with
/// `ping_interval + ping_timeout`, so their sum must fit.
const MAX_JS_TIMER_MS: u64 = i32::MAX as u64;
/// Longest write coalescing delay accepted (every packet may wait that long).
const MAX_WRITE_DELAY_MS: u64 = 1000;

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
    Ok(Config {
        server,
        engine: engine(&raw.engine, ctx)?,
        cors: cors(&raw.cors, ctx)?,
        limits: LimitsSection {
            max_connections: positive(ctx, "limits.max_connections", raw.limits.max_connections)?,
            max_rooms_per_socket: size(
                ctx,
                "limits.max_rooms_per_socket",
                raw.limits.max_rooms_per_socket,
            )?,
            outbound_queue: positive(ctx, "limits.outbound_queue", raw.limits.outbound_queue)?,
            outbound_queue_bytes: positive(
                ctx,
                "limits.outbound_queue_bytes",
                raw.limits.outbound_queue_bytes,
            )?,
            max_memberships: positive(ctx, "limits.max_memberships", raw.limits.max_memberships)?,
            max_dynamic_namespaces: positive(
                ctx,
                "limits.max_dynamic_namespaces",
                raw.limits.max_dynamic_namespaces,
            )?,
            max_namespaces_per_connection: positive(
                ctx,
                "limits.max_namespaces_per_connection",
                raw.limits.max_namespaces_per_connection,
            )?,
        },
        admin,
        log: log(&raw.log, ctx)?,
        admin_ui: super::admin_ui::validate(&raw.admin_ui, &raw.namespaces, ctx)?,
        namespaces: namespaces(&raw.namespaces, ctx)?,
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

fn engine(raw: &RawEngine, ctx: &Ctx<'_>) -> Result<EngineSection, ConfigError> {
    let ms = |key: &str, v: u64| match v {
        0 => Err(ctx.invalid(&format!("engine.{key}"), "must be greater than 0")),
        v => Ok(Duration::from_millis(v)),
    };
    if raw.ping_interval_ms.saturating_add(raw.ping_timeout_ms) > MAX_JS_TIMER_MS {
        return Err(ctx.invalid(
            "engine.ping_interval_ms",
            format!("plus engine.ping_timeout_ms must be at most {MAX_JS_TIMER_MS} (browser timer limit)"),
        ));
    }
    if !(MIN_PAYLOAD..=MAX_PAYLOAD).contains(&raw.max_payload_bytes) {
        return Err(ctx.invalid(
            "engine.max_payload_bytes",
            format!("must be between {MIN_PAYLOAD} (1 KiB) and {MAX_PAYLOAD} (100 MiB)"),
        ));
    }
    if raw.write_delay_ms > MAX_WRITE_DELAY_MS {
        return Err(ctx.invalid(
            "engine.write_delay_ms",
            format!("must be at most {MAX_WRITE_DELAY_MS} (it delays every packet)"),
        ));
    }
    let (mut polling, mut websocket) = (false, false);
    for name in &raw.transports {
        match name.as_str() {
            "polling" => polling = true,
            "websocket" => websocket = true,
            other => {
                let reason =
                    format!("unknown transport {other:?} (expected \"polling\" or \"websocket\")");
                return Err(ctx.invalid("engine.transports", reason));
            }
        }
    }
    if !polling && !websocket {
        return Err(ctx.invalid(
            "engine.transports",
            "must name at least one of \"polling\", \"websocket\"",
        ));
    }
    let parser = Parser::from_name(&raw.parser).ok_or_else(|| {
        let reason = format!("{:?} is not \"default\" or \"msgpack\"", raw.parser);
        ctx.invalid("engine.parser", reason)
    })?;
    Ok(EngineSection {
        ping_interval: ms("ping_interval_ms", raw.ping_interval_ms)?,
        ping_timeout: ms("ping_timeout_ms", raw.ping_timeout_ms)?,
        upgrade_timeout: ms("upgrade_timeout_ms", raw.upgrade_timeout_ms)?,
        connect_timeout: ms("connect_timeout_ms", raw.connect_timeout_ms)?,
        max_payload_bytes: size(ctx, "engine.max_payload_bytes", raw.max_payload_bytes)?,
        polling,
        websocket,
        sticky_cookie: cookie(ctx, &raw.sticky_cookie)?,
        write_delay: Duration::from_millis(raw.write_delay_ms),
        parser,
    })
}

fn cookie(ctx: &Ctx<'_>, name: &str) -> Result<Option<String>, ConfigError> {
    // RFC 6265 cookie-name: an HTTP token.
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    match name {
        "" => Ok(None),
        n if n.chars().all(token) => Ok(Some(n.to_owned())),
        n => Err(ctx.invalid(
            "engine.sticky_cookie",
            format!("{n:?} is not a valid cookie name"),
        )),
    }
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

fn namespaces(raw: &[RawNamespace], ctx: &Ctx<'_>) -> Result<Vec<NamespaceConfig>, ConfigError> {
    if raw.is_empty() {
        return Err(ctx.invalid("namespaces", "at least one [[namespaces]] entry is needed"));
    }
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(raw.len());
    for (i, ns) in raw.iter().enumerate() {
        let key = |k: &str| format!("namespaces[{i}].{k}");
        check_name(&ns.name)
            .map_err(|why| ctx.invalid(&key("name"), format!("{:?} {why}", ns.name)))?;
        if !seen.insert(ns.name.as_str()) {
            return Err(ctx.invalid(&key("name"), format!("{:?} is listed twice", ns.name)));
        }
        let secret = || {
            ctx.secret(
                (&key("jwt_secret"), &ns.jwt_secret),
                (&key("jwt_secret_env"), &ns.jwt_secret_env),
            )
        };
        let auth = match ns.auth.as_str() {
            "none" if !ns.jwt_secret.is_empty() || !ns.jwt_secret_env.is_empty() => {
                return Err(ctx.invalid(
                    &key("auth"),
                    "is \"none\" but a JWT secret is set: set auth = \"jwt\" or remove the secret",
                ));
            }
            "none" => Auth::None,
            "jwt" => match secret()? {
                Some(secret) => Auth::Jwt { secret },
                None => {
                    return Err(ctx.invalid(
                        &key("auth"),
                        "is \"jwt\" but neither jwt_secret nor jwt_secret_env is set",
                    ))
                }
            },
            other => {
                return Err(ctx.invalid(
                    &key("auth"),
                    format!("{other:?} is not \"none\" or \"jwt\""),
                ))
            }
        };
        let client_publish = match ns.client_publish.as_str() {
            "none" => Publish::None,
            "joined" => Publish::Joined,
            "any" => Publish::Any,
            other => {
                let reason = format!("{other:?} is not \"none\", \"joined\" or \"any\"");
                return Err(ctx.invalid(&key("client_publish"), reason));
            }
        };
        out.push(NamespaceConfig {
            name: ns.name.clone(),
            pattern: ns.name.ends_with('*'),
            auth,
            client_join: ns.client_join,
            client_publish,
        });
    }
    Ok(out)
}

/// A namespace name: `/` then characters a Socket.IO packet can carry (no `,`, whitespace or controls),
/// with `*` allowed only as the last character.
pub(super) fn check_name(name: &str) -> Result<(), &'static str> {
    if !name.starts_with('/') {
        return Err("must start with '/'");
    }
    if name.trim_end_matches('*').contains('*') || name.ends_with("**") {
        return Err("may contain '*' only as its last character");
    }
    if name
        .chars()
        .any(|c| c == ',' || c.is_whitespace() || c.is_control())
    {
        return Err("must not contain ',', whitespace or control characters");
    }
    Ok(())
}

fn size(ctx: &Ctx<'_>, key: &str, v: u64) -> Result<usize, ConfigError> {
    usize::try_from(v).map_err(|_| ctx.invalid(key, "is too large for this platform"))
}

fn positive(ctx: &Ctx<'_>, key: &str, v: u64) -> Result<usize, ConfigError> {
    match size(ctx, key, v)? {
        0 => Err(ctx.invalid(key, "must be greater than 0")),
        n => Ok(n),
    }
}
