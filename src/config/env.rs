//! Environment overrides: `ROOMCAST_<SECTION>_<KEY>` (upper case) replaces `key` of the single-valued
//! sections `[server]`, `[engine]`, `[cors]`, `[limits]`, `[admin]`, `[admin_ui]`, `[log]`,
//! `[cluster]`, `[recovery]`. The value is parsed as the
//! key's type in the schema (integers, booleans `true`/`false`/`1`/`0`, strings, comma-separated lists).
//! A variable `ROOMCAST_<SECTION>_...` that names no key, or any `ROOMCAST_NAMESPACES_...`, is an error;
//! other `ROOMCAST_*` names (test tooling such as `ROOMCAST_URL`) are not ours and are left alone.

use std::collections::BTreeMap;

use toml::{Table, Value};

use super::error::{suggest, ConfigError};
use super::schema::describe;

/// The sections environment variables may override, in file order.
pub const ENV_SECTIONS: [&str; 9] = [
    "server", "engine", "cors", "limits", "admin", "admin_ui", "log", "cluster", "recovery",
];

const PREFIX: &str = "ROOMCAST_";

/// The variable that overrides `section.key`, e.g. `ROOMCAST_ENGINE_PING_INTERVAL_MS`.
pub fn var_name(section: &str, key: &str) -> String {
    format!(
        "{PREFIX}{}_{}",
        section.to_ascii_uppercase(),
        key.to_ascii_uppercase()
    )
}

/// Every overridable key of `schema` as `(section, key, variable)`, in file order of sections.
pub(crate) fn overridable(schema: &Table) -> Vec<(&'static str, String, String)> {
    let mut out = Vec::new();
    for section in ENV_SECTIONS {
        if let Some(Value::Table(keys)) = schema.get(section) {
            for key in keys.keys() {
                out.push((section, key.clone(), var_name(section, key)));
            }
        }
    }
    out
}

/// Applies every override `env` knows to `doc` (creating sections as needed) and returns, for each
/// overridden dotted key, the variable it came from.
pub(crate) fn apply(
    doc: &mut Table,
    schema: &Table,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<BTreeMap<String, String>, ConfigError> {
    let mut origins = BTreeMap::new();
    for (section, key, var) in overridable(schema) {
        let Some(text) = env(&var) else { continue };
        // Cannot fail: `overridable` lists only keys present in the schema's tables.
        let expected = &schema[section][key.as_str()];
        let value = parse(expected, &text).map_err(|expected| ConfigError::Env {
            var: var.clone(),
            reason: format!("{section}.{key} expects {expected}, got {text:?}"),
        })?;
        let table = doc
            .entry(section)
            .or_insert_with(|| Value::Table(Table::new()));
        // The shape check ran first, so an existing section is a table; a fresh one was just inserted.
        if let Value::Table(table) = table {
            table.insert(key.clone(), value);
        }
        origins.insert(format!("{section}.{key}"), var);
    }
    Ok(origins)
}

/// Parses `text` as the type of `expected`, or says what was expected.
fn parse(expected: &Value, text: &str) -> Result<Value, String> {
    let t = text.trim();
    match expected {
        Value::Integer(_) => match t.replace('_', "").parse::<i64>() {
            Ok(n) if n >= 0 => Ok(Value::Integer(n)),
            _ => Err(describe("", expected)),
        },
        Value::Boolean(_) => match t.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(Value::Boolean(true)),
            "false" | "0" | "no" | "off" => Ok(Value::Boolean(false)),
            _ => Err("a boolean (true or false)".to_owned()),
        },
        Value::Array(_) => Ok(Value::Array(
            t.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| Value::String(s.to_owned()))
                .collect(),
        )),
        _ => Ok(Value::String(text.to_owned())),
    }
}

/// Refuses a set variable that looks like an override (`ROOMCAST_<SECTION>_...` of a known section, or
/// `ROOMCAST_NAMESPACES...`) but names no key. Variables in `exempt` (those a `token_env` or
/// `jwt_secret_env` names) are allowed.
pub(crate) fn check_names<'a>(
    names: impl IntoIterator<Item = &'a str>,
    schema: &Table,
    exempt: &[&str],
) -> Result<(), ConfigError> {
    let known = overridable(schema);
    for name in names {
        let Some(rest) = name.strip_prefix(PREFIX) else {
            continue;
        };
        if exempt.contains(&name) || known.iter().any(|(_, _, var)| var == name) {
            continue;
        }
        if rest == "NAMESPACES" || rest.starts_with("NAMESPACES_") {
            return Err(ConfigError::Env {
                var: name.to_owned(),
                reason: "[[namespaces]] cannot be overridden from the environment \
                         (edit the file; use jwt_secret_env for secrets)"
                    .to_owned(),
            });
        }
        // Longest names first: ROOMCAST_ADMIN_UI_... belongs to [admin_ui], not [admin].
        let mut sections = ENV_SECTIONS;
        sections.sort_by_key(|s| std::cmp::Reverse(s.len()));
        for section in sections {
            let upper = section.to_ascii_uppercase();
            let Some(key) = rest
                .strip_prefix(upper.as_str())
                .and_then(|r| r.strip_prefix('_'))
            else {
                continue;
            };
            let keys = known.iter().filter(|(s, _, _)| *s == section);
            let hint = match suggest(key, keys.clone().map(|(_, k, _)| k.as_str())) {
                Some(k) => format!("; did you mean {}?", var_name(section, &k)),
                None => {
                    let all: Vec<&str> = keys.map(|(_, k, _)| k.as_str()).collect();
                    format!(" (its keys: {})", all.join(", "))
                }
            };
            return Err(ConfigError::Env {
                var: name.to_owned(),
                reason: format!("names no key of [{section}]{hint}"),
            });
        }
    }
    Ok(())
}
