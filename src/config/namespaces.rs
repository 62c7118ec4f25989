//! `[[namespaces]]` validation: names (also checked for `admin_ui.namespace`), JWT auth and the client
//! room API of each entry.

use std::collections::HashSet;

use super::error::ConfigError;
use super::raw::RawNamespace;
use super::typed::{Auth, NamespaceConfig, Publish};
use super::validate::Ctx;

/// Checks the `[[namespaces]]` entries (at least one, each name once) and builds their typed form.
pub(super) fn validate(
    raw: &[RawNamespace],
    ctx: &Ctx<'_>,
) -> Result<Vec<NamespaceConfig>, ConfigError> {
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
