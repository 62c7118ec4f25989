//! `[admin_ui]` validation: from the raw section to the [`AdminUiOptions`] that
//! [`crate::admin_ui::instrument`] takes, or `None` when the Admin UI is disabled.

use super::error::ConfigError;
use super::namespaces::check_name;
use super::raw::{RawAdminUi, RawNamespace};
use super::validate::Ctx;
use crate::admin_ui::{AdminAuth, AdminUiOptions, Mode};

/// `[admin_ui]`, checked only when enabled: the namespace must be a plain name of its own (no
/// pattern, not a `[[namespaces]]` entry, which would give it the client room API), `basic` needs
/// a user name and a bcrypt hash, and `none` must be chosen explicitly with no hash set.
pub(super) fn validate(
    raw: &RawAdminUi,
    namespaces: &[RawNamespace],
    ctx: &Ctx<'_>,
) -> Result<Option<AdminUiOptions>, ConfigError> {
    if !raw.enabled {
        return Ok(None);
    }
    let name = &raw.namespace;
    check_name(name).map_err(|why| ctx.invalid("admin_ui.namespace", format!("{name:?} {why}")))?;
    if name.ends_with('*') {
        return Err(ctx.invalid("admin_ui.namespace", "must not be a pattern"));
    }
    if namespaces.iter().any(|n| &n.name == name) {
        return Err(ctx.invalid(
            "admin_ui.namespace",
            format!(
                "{name:?} is also a [[namespaces]] entry; give the Admin UI a namespace of its own"
            ),
        ));
    }
    let auth = auth(raw, ctx)?;
    let mode = match raw.mode.as_str() {
        "development" => Mode::Development,
        "production" => Mode::Production,
        other => {
            return Err(ctx.invalid(
                "admin_ui.mode",
                format!("{other:?} is not \"development\" or \"production\""),
            ))
        }
    };
    let mut options = AdminUiOptions::new(auth);
    options.namespace = name.clone();
    options.readonly = raw.readonly;
    options.mode = mode;
    options.server_id = Some(raw.server_id.clone()).filter(|s| !s.is_empty());
    Ok(Some(options))
}

/// `auth` with its user name and hash.
fn auth(raw: &RawAdminUi, ctx: &Ctx<'_>) -> Result<AdminAuth, ConfigError> {
    let hash = ctx.secret(
        ("admin_ui.password_hash", &raw.password_hash),
        ("admin_ui.password_hash_env", &raw.password_hash_env),
    )?;
    match (raw.auth.as_str(), hash) {
        ("none", None) => Ok(AdminAuth::None),
        ("none", Some(_)) => Err(ctx.invalid(
            "admin_ui.auth",
            "is \"none\" but a password hash is set: set auth = \"basic\" or remove the hash",
        )),
        ("basic", None) => Err(ctx.invalid(
            "admin_ui.auth",
            "is \"basic\" but neither password_hash nor password_hash_env is set \
             (or set auth = \"none\" to let anyone in)",
        )),
        ("basic", Some(hash)) => {
            let key = if raw.password_hash.is_empty() {
                "admin_ui.password_hash_env"
            } else {
                "admin_ui.password_hash"
            };
            if hash.parse::<bcrypt::HashParts>().is_err() {
                return Err(ctx.invalid(key, "is not a bcrypt hash (like $2b$10$...)"));
            }
            if raw.username.is_empty() {
                return Err(ctx.invalid("admin_ui.username", "must not be empty"));
            }
            Ok(AdminAuth::Basic {
                username: raw.username.clone(),
                password_hash: hash,
            })
        }
        (other, _) => Err(ctx.invalid(
            "admin_ui.auth",
            format!("{other:?} is not \"basic\" or \"none\""),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use super::*;

    /// bcrypt of "changeit", cost 4 (made with bcryptjs, the hash library of Node's admin-ui).
    const HASH: &str = "$2a$04$JiFCNFAZPmesR8K67hDSqepUrPDerR6YzeDh.RIiMMAH7M4ZzGJgK";

    fn env(k: &str) -> Option<String> {
        (k == "ADMIN_HASH").then(|| HASH.to_owned())
    }

    fn load(text: &str) -> Result<Option<AdminUiOptions>, String> {
        parse(text, "t.toml", &env)
            .map(|c| c.admin_ui)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn disabled_by_default_and_unchecked_when_disabled() {
        assert_eq!(load(""), Ok(None));
        assert_eq!(load("[admin_ui]\nmode = \"nonsense\""), Ok(None));
    }

    #[test]
    fn enabled_sections_become_options() {
        let text = format!(
            "[admin_ui]\nenabled = true\nusername = \"ops\"\npassword_hash = \"{HASH}\"\n\
             readonly = true\nmode = \"production\"\nserver_id = \"node-a\"\nnamespace = \"/dash\""
        );
        let o = load(&text).expect("valid").expect("enabled");
        assert_eq!(o.namespace, "/dash");
        assert_eq!(
            o.auth,
            AdminAuth::Basic {
                username: "ops".into(),
                password_hash: HASH.into()
            }
        );
        assert!(o.readonly);
        assert_eq!(o.mode, Mode::Production);
        assert_eq!(o.server_id.as_deref(), Some("node-a"));
        assert!(!format!("{o:?}").contains(HASH), "the hash is not logged");

        let from_env = "[admin_ui]\nenabled = true\npassword_hash_env = \"ADMIN_HASH\"";
        let o = load(from_env).expect("valid").expect("enabled");
        assert_eq!(
            (o.namespace.as_str(), o.mode, o.server_id),
            ("/admin", Mode::Development, None)
        );
        let none = load("[admin_ui]\nenabled = true\nauth = \"none\"").expect("valid");
        assert_eq!(none.map(|o| o.auth), Some(AdminAuth::None));
    }

    #[test]
    fn bad_sections_name_their_key() {
        let on = "[admin_ui]\nenabled = true\n";
        let cases = [
            ("", "config: admin_ui.auth: is \"basic\" but neither password_hash nor password_hash_env is set (or set auth = \"none\" to let anyone in)".to_owned()),
            ("password_hash = \"secret\"", "config: admin_ui.password_hash: is not a bcrypt hash (like $2b$10$...)".to_owned()),
            ("password_hash_env = \"UNSET\"", "config: admin_ui.password_hash_env: environment variable `UNSET` is not set or empty".to_owned()),
            (&format!("auth = \"none\"\npassword_hash = \"{HASH}\""), "config: admin_ui.auth: is \"none\" but a password hash is set: set auth = \"basic\" or remove the hash".to_owned()),
            (&format!("username = \"\"\npassword_hash = \"{HASH}\""), "config: admin_ui.username: must not be empty".to_owned()),
            ("auth = \"jwt\"", "config: admin_ui.auth: \"jwt\" is not \"basic\" or \"none\"".to_owned()),
            ("auth = \"none\"\nmode = \"dev\"", "config: admin_ui.mode: \"dev\" is not \"development\" or \"production\"".to_owned()),
            ("auth = \"none\"\nnamespace = \"admin\"", "config: admin_ui.namespace: \"admin\" must start with '/'".to_owned()),
            ("auth = \"none\"\nnamespace = \"/admin*\"", "config: admin_ui.namespace: must not be a pattern".to_owned()),
            ("auth = \"none\"\nnamespace = \"/\"", "config: admin_ui.namespace: \"/\" is also a [[namespaces]] entry; give the Admin UI a namespace of its own".to_owned()),
        ];
        for (body, want) in cases {
            let text = format!("{on}{body}");
            assert_eq!(load(&text).map(|_| ()), Err(want), "input: {text:?}");
        }
    }

    #[test]
    fn environment_overrides_the_section() {
        let vars: Vec<(String, String)> = [
            ("ROOMCAST_ADMIN_UI_ENABLED", "true"),
            ("ROOMCAST_ADMIN_UI_AUTH", "none"),
            ("ROOMCAST_ADMIN_UI_READONLY", "1"),
        ]
        .iter()
        .map(|(k, v)| ((*k).into(), (*v).into()))
        .collect();
        let c = super::super::load_with_env(None, &vars).expect("valid");
        let o = c.admin_ui.expect("enabled from the environment");
        assert!(o.readonly);
        assert_eq!(o.auth, AdminAuth::None);
        let typo = vec![("ROOMCAST_ADMIN_UI_ENABLE".to_owned(), "1".to_owned())];
        let err = super::super::load_with_env(None, &typo)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "config: environment variable ROOMCAST_ADMIN_UI_ENABLE: names no key of [admin_ui]; did you mean ROOMCAST_ADMIN_UI_ENABLED?"
        );
    }
}
