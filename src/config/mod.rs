//! Configuration, flowing one way: `config.toml` text -> TOML table, shape-checked against the schema
//! (`schema.rs`: unknown keys, wrong types) -> `ROOMCAST_<SECTION>_<KEY>` environment overrides (`env.rs`) ->
//! [`RawConfig`] (serde mirror, every key defaulted) -> `validate()` -> [`Config`], typed, one section per
//! `config.toml` section; the server then hands each layer only its slice. Every refusal is one [`ConfigError`] line naming the key.
//!
//! With no file the embedded [`DEFAULT_TOML`] (the repository's `config.toml`) is used; a unit test keeps it
//! identical to [`RawConfig::default`]. Nothing here is global: the environment is passed in as a lookup.

mod admin_ui;
mod cli;
mod cluster;
mod engine;
mod env;
mod error;
mod namespaces;
mod raw;
mod recovery;
mod schema;
mod typed;
mod validate;

#[cfg(test)]
mod tests;

use std::path::Path;

use toml::Table;

use crate::options::{Cors, ServerOptions, Transports};

pub use cli::{env_help, Cli};
pub use cluster::seed_urls;
pub use engine::{MAX_PAYLOAD, MIN_PAYLOAD};
pub use env::{var_name, ENV_SECTIONS};
pub use error::ConfigError;
pub use raw::{
    RawAdmin, RawCluster, RawConfig, RawCors, RawEngine, RawLimits, RawLog, RawNamespace, RawServer,
};
pub use typed::{
    AdminSection, Auth, ClusterSection, Config, CorsSection, EngineSection, LimitsSection,
    LogColor, LogFormat, LogSection, NamespaceConfig, Publish, ServerSection,
};
pub use validate::LOG_LEVELS;

/// The repository's `config.toml`, embedded: the configuration used when no file is given.
pub const DEFAULT_TOML: &str = include_str!("../../config.toml");

/// How the embedded defaults are named in error messages.
pub const DEFAULTS_NAME: &str = "built-in defaults";

/// Loads `path` (or, with `None`, the embedded defaults), applies the `ROOMCAST_<SECTION>_<KEY>`
/// overrides `env` returns and resolves `token_env`/`jwt_secret_env` through it, then validates.
/// `env` is a lookup, so stray `ROOMCAST_*` names cannot be detected here: see [`load_with_env`].
pub fn load(
    path: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let (text, file) = read(path)?;
    parse_inner(&text, &file, env, None)
}

/// [`load`] with the environment as a list of variables (e.g. `std::env::vars()`), which also refuses a
/// set `ROOMCAST_<SECTION>_...` variable that names no key.
pub fn load_with_env(
    path: Option<&Path>,
    vars: &[(String, String)],
) -> Result<Config, ConfigError> {
    let lookup = |name: &str| vars.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    let names: Vec<&str> = vars.iter().map(|(n, _)| n.as_str()).collect();
    let (text, file) = read(path)?;
    parse_inner(&text, &file, &lookup, Some(&names))
}

/// Parses and validates configuration `text`; `file` names it in messages.
pub fn parse(
    text: &str,
    file: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    parse_inner(text, file, env, None)
}

fn read(path: Option<&Path>) -> Result<(String, String), ConfigError> {
    match path {
        None => Ok((DEFAULT_TOML.to_owned(), DEFAULTS_NAME.to_owned())),
        Some(p) => {
            let file = p.display().to_string();
            match std::fs::read_to_string(p) {
                Ok(text) => Ok((text, file)),
                Err(error) => Err(ConfigError::Read { file, error }.one_line()),
            }
        }
    }
}

/// Every step from text to [`Config`]; refusals made one line whatever the values they quote hold.
fn parse_inner(
    text: &str,
    file: &str,
    env: &dyn Fn(&str) -> Option<String>,
    env_names: Option<&[&str]>,
) -> Result<Config, ConfigError> {
    parse_steps(text, file, env, env_names).map_err(ConfigError::one_line)
}

fn parse_steps(
    text: &str,
    file: &str,
    env: &dyn Fn(&str) -> Option<String>,
    env_names: Option<&[&str]>,
) -> Result<Config, ConfigError> {
    let mut doc: Table = text.parse().map_err(|e| syntax(&e, text, file))?;
    let schema = schema::schema();
    schema::check(&doc, &schema, file)?;
    let origins = env::apply(&mut doc, &schema, env)?;
    // After the shape check and typed overrides this cannot fail short of a serde bug; report it anyway.
    let raw: RawConfig = doc
        .try_into()
        .map_err(|e: toml::de::Error| ConfigError::Invalid {
            key: file.to_owned(),
            reason: e.message().to_owned(),
            var: None,
        })?;
    if let Some(names) = env_names {
        let mut exempt = vec![
            raw.admin.token_env.as_str(),
            raw.admin_ui.password_hash_env.as_str(),
            raw.cluster.redis_url_env.as_str(),
        ];
        exempt.extend(raw.namespaces.iter().map(|n| n.jwt_secret_env.as_str()));
        env::check_names(names.iter().copied(), &schema, &exempt)?;
    }
    validate::validate(
        &raw,
        &validate::Ctx {
            env,
            origins: &origins,
        },
    )
}

/// A TOML syntax error as one line: `file:line:column: message`.
fn syntax(e: &toml::de::Error, text: &str, file: &str) -> ConfigError {
    let at = e.span().map_or(0, |s| s.start).min(text.len());
    // Spans are char boundaries of `text` in toml's parser; floor to one anyway before slicing.
    let at = (0..=at)
        .rev()
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(0);
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    ConfigError::Syntax {
        file: file.to_owned(),
        line,
        column,
        message: e.message().replace('\n', " "),
    }
}

impl Config {
    /// The options of the Socket.IO/Engine.IO layers ([`ServerOptions`]) this configuration describes.
    pub fn server_options(&self) -> ServerOptions {
        ServerOptions {
            path: self.server.path.clone(),
            ping_interval: self.engine.ping_interval,
            ping_timeout: self.engine.ping_timeout,
            upgrade_timeout: self.engine.upgrade_timeout,
            connect_timeout: self.engine.connect_timeout,
            max_payload: self.engine.max_payload_bytes,
            transports: Transports {
                polling: self.engine.polling,
                websocket: self.engine.websocket,
            },
            cors: Cors {
                origins: self.cors.origins.clone(),
                credentials: self.cors.credentials,
            },
            cookie: self.engine.sticky_cookie.clone(),
            write_delay: self.engine.write_delay,
            parser: self.engine.parser,
            outbound_queue: self.limits.outbound_queue,
            outbound_queue_bytes: self.limits.outbound_queue_bytes,
            max_rooms_per_socket: self.limits.max_rooms_per_socket,
            max_connections: self.limits.max_connections,
            max_memberships: self.limits.max_memberships,
            max_dynamic_namespaces: self.limits.max_dynamic_namespaces,
            max_namespaces_per_connection: self.limits.max_namespaces_per_connection,
            recovery: self.recovery.clone(),
        }
    }
}
