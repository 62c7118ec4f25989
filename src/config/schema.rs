//! The shape check of a parsed `config.toml`, before serde sees it. The schema is the default
//! [`RawConfig`] itself, serialised to a TOML table: a key exists when the defaults have it, and its type is
//! the type of its default value. This gives errors that name the section, key and file (`unknown key
//! `pingInterval` in [engine]`), which serde's `deny_unknown_fields` message alone does not, and the same
//! schema drives the environment overrides in [`super::env`].

use toml::{Table, Value};

use super::error::{suggest, ConfigError};
use super::raw::RawConfig;

/// The schema: every section and key with its default value.
pub(crate) fn schema() -> Table {
    // Cannot fail: RawConfig holds only strings, integers, booleans, string arrays and tables of those.
    Table::try_from(RawConfig::default()).expect("the default configuration serialises to TOML")
}

/// Checks that `doc` has only keys of `schema`, each of the schema's type (integers non-negative, arrays
/// of strings), and `[[namespaces]]` entries that are tables of known keys. `file` names the source.
pub(crate) fn check(doc: &Table, schema: &Table, file: &str) -> Result<(), ConfigError> {
    for (name, value) in doc {
        let Some(expected) = schema.get(name) else {
            return Err(unknown(name, "the top level", schema, file));
        };
        match (expected, value) {
            (Value::Table(section), Value::Table(table)) => {
                check_table(table, section, name, &format!("[{name}]"), file)?
            }
            (Value::Array(entries_schema), Value::Array(entries)) => {
                // Cannot fail: the default RawConfig has one namespace entry, a table.
                let entry = entries_schema
                    .first()
                    .and_then(Value::as_table)
                    .expect("the default configuration has one [[namespaces]] table");
                for (i, item) in entries.iter().enumerate() {
                    let key = format!("{name}[{i}]");
                    match item {
                        Value::Table(t) => check_table(t, entry, &key, &key, file)?,
                        other => return Err(wrong_type(&key, "a table", other, file)),
                    }
                }
            }
            (expected, found) => {
                return Err(wrong_type(name, &describe(name, expected), found, file))
            }
        }
    }
    Ok(())
}

fn check_table(
    table: &Table,
    schema: &Table,
    prefix: &str,
    label: &str,
    file: &str,
) -> Result<(), ConfigError> {
    for (key, value) in table {
        let Some(expected) = schema.get(key) else {
            return Err(unknown(key, label, schema, file));
        };
        if !same_type(expected, value) {
            let dotted = format!("{prefix}.{key}");
            return Err(wrong_type(&dotted, &describe(key, expected), value, file));
        }
    }
    Ok(())
}

/// Whether `value` has the schema type of `expected`.
pub(crate) fn same_type(expected: &Value, value: &Value) -> bool {
    match (expected, value) {
        (Value::String(_), Value::String(_)) | (Value::Boolean(_), Value::Boolean(_)) => true,
        (Value::Integer(_), Value::Integer(n)) => *n >= 0,
        (Value::Array(_), Value::Array(items)) => items.iter().all(Value::is_str),
        _ => false,
    }
}

/// The schema type of `expected`, in words.
pub(crate) fn describe(name: &str, expected: &Value) -> String {
    match expected {
        Value::String(_) => "a string".to_owned(),
        Value::Integer(_) => "a non-negative integer".to_owned(),
        Value::Boolean(_) => "a boolean (true or false)".to_owned(),
        Value::Array(items) if items.first().is_some_and(Value::is_table) => {
            format!("an array of tables ([[{name}]])")
        }
        Value::Array(_) => "an array of strings".to_owned(),
        Value::Table(_) => format!("a table ([{name}])"),
        other => other.type_str().to_owned(),
    }
}

/// The type of a found value, in words.
fn found(value: &Value) -> String {
    match value {
        Value::String(_) => "a string".to_owned(),
        Value::Integer(n) if *n < 0 => format!("the negative integer {n}"),
        Value::Integer(_) => "an integer".to_owned(),
        Value::Float(_) => "a float".to_owned(),
        Value::Boolean(_) => "a boolean".to_owned(),
        Value::Datetime(_) => "a datetime".to_owned(),
        Value::Array(items) => match items.iter().find(|v| !v.is_str()) {
            Some(item) => format!("an array containing {}", found(item)),
            None => "an array".to_owned(),
        },
        Value::Table(_) => "a table".to_owned(),
    }
}

fn unknown(key: &str, table: &str, schema: &Table, file: &str) -> ConfigError {
    ConfigError::UnknownKey {
        key: key.to_owned(),
        table: table.to_owned(),
        suggestion: suggest(key, schema.keys().map(String::as_str)),
        file: file.to_owned(),
    }
}

fn wrong_type(key: &str, expected: &str, value: &Value, file: &str) -> ConfigError {
    ConfigError::WrongType {
        key: key.to_owned(),
        expected: expected.to_owned(),
        found: found(value),
        file: file.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str) -> String {
        let doc: Table = text.parse().expect("test input is TOML");
        match check(&doc, &schema(), "t.toml") {
            Ok(()) => "ok".to_owned(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn shape_errors_name_key_and_file() {
        let cases = [
            ("", "ok"),
            ("[engine]\nping_interval_ms = 5", "ok"),
            (
                "[engine]\npingInterval = 5",
                "config: unknown key `pingInterval` in [engine]; did you mean `ping_interval_ms`? (t.toml)",
            ),
            ("[colour]\n", "config: unknown key `colour` in the top level (t.toml)"),
            (
                "bind = \"x\"",
                "config: unknown key `bind` in the top level (t.toml)",
            ),
            (
                "[engine]\nping_interval_ms = \"5s\"",
                "config: engine.ping_interval_ms: expected a non-negative integer, found a string (t.toml)",
            ),
            (
                "[server]\nworkers = -1",
                "config: server.workers: expected a non-negative integer, found the negative integer -1 (t.toml)",
            ),
            (
                "[engine]\ntransports = \"websocket\"",
                "config: engine.transports: expected an array of strings, found a string (t.toml)",
            ),
            (
                "[cors]\norigins = [1]",
                "config: cors.origins: expected an array of strings, found an array containing an integer (t.toml)",
            ),
            (
                "[cors]\ncredentials = \"yes\"",
                "config: cors.credentials: expected a boolean (true or false), found a string (t.toml)",
            ),
            ("server = 1", "config: server: expected a table ([server]), found an integer (t.toml)"),
            (
                "[namespaces]\nname = \"/\"",
                "config: namespaces: expected an array of tables ([[namespaces]]), found a table (t.toml)",
            ),
            (
                "[[namespaces]]\nname = \"/\"\n[[namespaces]]\nsecret = \"x\"",
                "config: unknown key `secret` in namespaces[1] (t.toml)",
            ),
            (
                "[[namespaces]]\nclient_join = 1",
                "config: namespaces[0].client_join: expected a boolean (true or false), found an integer (t.toml)",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(run(input), want, "input: {input:?}");
        }
    }
}
