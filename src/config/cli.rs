//! The broker's command line, `roomcast [--config PATH]`, and the one place that reads the process
//! environment and the working directory for configuration ([`Cli::load`]). `--help` documents the flag,
//! the default file and every `ROOMCAST_<SECTION>_<KEY>` override (generated from the schema).

use std::fmt::Write as _;
use std::path::PathBuf;

use clap::Parser;

use super::error::ConfigError;
use super::typed::Config;
use super::{env, schema};

/// The file used when `--config` is not given, if it exists (relative to the working directory).
pub const DEFAULT_PATH: &str = "config.toml";

/// `roomcast [--config PATH]`: a Socket.IO broker configured by a TOML file and environment overrides.
#[derive(Debug, Clone, PartialEq, Eq, Parser)]
#[command(
    name = "roomcast",
    version,
    about = "roomcast: a Socket.IO broker (Engine.IO v4 / Socket.IO v5) with an admin HTTP API",
    after_help = env_help()
)]
pub struct Cli {
    /// Configuration file (TOML). Default: ./config.toml when it exists (so `cargo run` in the repository
    /// uses the repository's file), else the built-in defaults, which are that same file embedded.
    #[arg(short, long, value_name = "PATH")]
    pub config: Option<PathBuf>,
}

impl Cli {
    /// The file to read: `--config`, else `./config.toml` if it is a file, else `None` (built-in defaults).
    pub fn config_path(&self) -> Option<PathBuf> {
        self.config.clone().or_else(|| {
            let default = PathBuf::from(DEFAULT_PATH);
            default.is_file().then_some(default)
        })
    }

    /// Where the configuration comes from, for the log: the file's path or "built-in defaults".
    pub fn source(&self) -> String {
        self.config_path().map_or_else(
            || super::DEFAULTS_NAME.to_owned(),
            |p| p.display().to_string(),
        )
    }

    /// Loads and validates the configuration with the process environment: [`Cli::config_path`], the
    /// `ROOMCAST_*` overrides, and the secrets `token_env`/`jwt_secret_env` name.
    pub fn load(&self) -> Result<Config, ConfigError> {
        let vars: Vec<(String, String)> = std::env::vars_os()
            .filter_map(|(name, value)| {
                // A name that is not UTF-8 cannot be one of ours; a value that is not is used lossily.
                let name = name.into_string().ok()?;
                Some((name, value.to_string_lossy().into_owned()))
            })
            .collect();
        super::load_with_env(self.config_path().as_deref(), &vars)
    }
}

/// The `--help` epilogue: how overrides work and every variable with the key it sets.
pub fn env_help() -> String {
    let mut out = String::from(
        "Environment overrides (ROOMCAST_<SECTION>_<KEY> replaces `key` of [section]; numbers, booleans \
         and strings are parsed as the key's type, lists are comma-separated; a ROOMCAST_<SECTION>_ \
         variable naming no key is an error). Secrets may also come from the variables named by \
         [admin] token_env and [[namespaces]] jwt_secret_env.\n",
    );
    let keys = env::overridable(&schema::schema());
    let width = keys.iter().map(|(_, _, v)| v.len()).max().unwrap_or(0);
    for (section, key, var) in keys {
        // Writing to a String cannot fail.
        let _ = writeln!(out, "  {var:<width$}  {section}.{key}");
    }
    out.push_str(
        "\nAn invalid configuration stops the broker with one line on stderr naming the key.",
    );
    out
}
