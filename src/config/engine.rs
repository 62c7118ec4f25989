//! `[engine]` validation: timers, payload limit, transports, sticky cookie, write delay and parser.

use std::time::Duration;

use super::error::ConfigError;
use super::raw::RawEngine;
use super::typed::{EngineSection, Parser};
use super::validate::{size, Ctx};

/// Smallest accepted `engine.max_payload_bytes` (1 KiB).
pub const MIN_PAYLOAD: u64 = 1024;
/// Largest accepted `engine.max_payload_bytes` (100 MiB).
pub const MAX_PAYLOAD: u64 = 100 * 1024 * 1024;
/// Browsers fire a timer longer than this (2^31 - 1 ms) at once; a client times pings with
/// `ping_interval + ping_timeout`, so their sum must fit.
const MAX_JS_TIMER_MS: u64 = i32::MAX as u64;
/// Longest write coalescing delay accepted (every packet may wait that long).
const MAX_WRITE_DELAY_MS: u64 = 1000;

/// Checks `[engine]` and builds its typed section.
pub(super) fn validate(raw: &RawEngine, ctx: &Ctx<'_>) -> Result<EngineSection, ConfigError> {
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
