//! [`ConfigError`]: everything that can be wrong with a configuration. Each variant displays as exactly one
//! line starting with `config: ` and naming the key (or environment variable) at fault, so the binary can
//! print it to stderr as is and exit non-zero.

use thiserror::Error;

/// Why a configuration was refused.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("config: cannot read {file}: {error}")]
    Read {
        /// The path as given.
        file: String,
        /// The I/O error.
        #[source]
        error: std::io::Error,
    },
    /// The file is not valid TOML.
    #[error("config: {file}:{line}:{column}: {message}")]
    Syntax {
        /// The file (or `built-in defaults`).
        file: String,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// The parser's message.
        message: String,
    },
    /// A key (or a section, when `table` is `the top level`) that the schema does not have.
    #[error("config: unknown key `{key}` in {table}{} ({file})", hint(.suggestion))]
    UnknownKey {
        /// The key as written.
        key: String,
        /// Where it was found: `[engine]`, `namespaces[0]` or `the top level`.
        table: String,
        /// A known key it resembles.
        suggestion: Option<String>,
        /// The file (or `built-in defaults`).
        file: String,
    },
    /// A value of the wrong TOML type.
    #[error("config: {key}: expected {expected}, found {found} ({file})")]
    WrongType {
        /// Dotted key, e.g. `engine.ping_interval_ms`.
        key: String,
        /// The type the schema wants, e.g. `a non-negative integer`.
        expected: String,
        /// The type found, e.g. `a string`.
        found: String,
        /// The file (or `built-in defaults`).
        file: String,
    },
    /// A `ROOMCAST_*` environment variable that names no key, or whose value does not parse.
    #[error("config: environment variable {var}: {reason}")]
    Env {
        /// The variable's name.
        var: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A well-typed value that is not acceptable.
    #[error("config: {key}: {reason}{}", from_env(.var))]
    Invalid {
        /// Dotted key, e.g. `engine.ping_interval_ms` or `namespaces[1].name`.
        key: String,
        /// Why the value is refused.
        reason: String,
        /// The environment variable the value came from, if it was overridden.
        var: Option<String>,
    },
}

impl ConfigError {
    /// The same error with control characters in its text (a newline in a TOML string or key, a
    /// tab in an environment variable) written as escapes, so that it still displays as one line.
    pub(crate) fn one_line(self) -> Self {
        match self {
            ConfigError::Read { file, error } => ConfigError::Read {
                file: escape(file),
                error,
            },
            ConfigError::Syntax {
                file,
                line,
                column,
                message,
            } => ConfigError::Syntax {
                file: escape(file),
                line,
                column,
                message: escape(message),
            },
            ConfigError::UnknownKey {
                key,
                table,
                suggestion,
                file,
            } => ConfigError::UnknownKey {
                key: escape(key),
                table: escape(table),
                suggestion: suggestion.map(escape),
                file: escape(file),
            },
            ConfigError::WrongType {
                key,
                expected,
                found,
                file,
            } => ConfigError::WrongType {
                key: escape(key),
                expected,
                found: escape(found),
                file: escape(file),
            },
            ConfigError::Env { var, reason } => ConfigError::Env {
                var: escape(var),
                reason: escape(reason),
            },
            ConfigError::Invalid { key, reason, var } => ConfigError::Invalid {
                key: escape(key),
                reason: escape(reason),
                var: var.map(escape),
            },
        }
    }
}

/// `text` with every control character as its Rust escape (`\n`, `\t`, `\u{1b}`).
fn escape(text: String) -> String {
    if !text.chars().any(char::is_control) {
        return text;
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

fn hint(suggestion: &Option<String>) -> String {
    match suggestion {
        Some(s) => format!("; did you mean `{s}`?"),
        None => String::new(),
    }
}

fn from_env(var: &Option<String>) -> String {
    match var {
        Some(v) => format!(" (set by {v})"),
        None => String::new(),
    }
}

/// A known key that `unknown` was probably meant to be: the same letters ignoring case and underscores,
/// or one a prefix of the other (`pingInterval` -> `ping_interval_ms`).
pub(crate) fn suggest<'a>(
    unknown: &str,
    known: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    let squash = |s: &str| -> String {
        s.chars()
            .filter(|c| *c != '_' && *c != '-')
            .flat_map(char::to_lowercase)
            .collect()
    };
    let wanted = squash(unknown);
    if wanted.len() < 3 {
        return None;
    }
    known
        .into_iter()
        .find(|k| {
            let k2 = squash(k);
            k2 == wanted || k2.starts_with(&wanted) || wanted.starts_with(&k2)
        })
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        let keys = ["ping_interval_ms", "ping_timeout_ms", "transports"];
        assert_eq!(
            suggest("pingInterval", keys).as_deref(),
            Some("ping_interval_ms")
        );
        assert_eq!(suggest("TRANSPORTS", keys).as_deref(), Some("transports"));
        assert_eq!(suggest("transport", keys).as_deref(), Some("transports"));
        assert_eq!(suggest("colour", keys), None);
        assert_eq!(suggest("pi", keys), None);
    }

    #[test]
    fn every_variant_is_one_line() {
        let errors = [
            ConfigError::Invalid {
                key: "engine.ping_interval_ms".into(),
                reason: "must be greater than 0".into(),
                var: None,
            },
            ConfigError::Invalid {
                key: "server.bind".into(),
                reason: "x".into(),
                var: Some("ROOMCAST_SERVER_BIND".into()),
            },
            ConfigError::Read {
                file: "a.toml".into(),
                error: std::io::Error::new(std::io::ErrorKind::NotFound, "gone"),
            },
        ];
        for e in errors {
            assert!(!e.to_string().contains('\n'), "{e}");
        }
    }
}
