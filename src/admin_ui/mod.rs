//! The server side of the Socket.IO Admin UI (`@socket.io/admin-ui`, the dashboard hosted at
//! <https://admin.socket.io>), as Node's `instrument(io, opts)` provides it: an admin namespace
//! (`/admin` by default) guarded by basic authentication against a bcrypt hash (or explicitly
//! none), that tells each dashboard its `config`, the sockets of every namespace (`all_sockets`),
//! `server_stats` every 2 s with the Engine.IO traffic aggregated per second, and, in development
//! mode, every socket, room and event change as it happens; the dashboard's commands (`emit`,
//! `join`, `leave`, `_disconnect`) act through the ordinary broadcast operators unless
//! `readonly`.
//!
//! The module watches the server through its [`crate::observer::Observer`] hooks; the files:
//! `auth.rs` (sessions and the password check), `serialize.rs` (what a socket looks like to the
//! UI), `stats.rs` (the observer, the per-second buffer and the stats ticker), `commands.rs`.
//!
//! ```no_run
//! use roomcast::admin_ui::{instrument, AdminAuth, AdminUiOptions};
//! use roomcast::{Server, ServerOptions};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let io = Server::new(ServerOptions::default());
//! let hash = bcrypt::hash("changeit", 10)?; // in practice, hashed once and kept in the config
//! instrument(&io, AdminUiOptions::new(AdminAuth::Basic { username: "admin".into(), password_hash: hash }))?;
//! # Ok(())
//! # }
//! ```

mod auth;
mod commands;
mod serialize;
mod stats;

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use crate::server::Server;

pub use auth::SessionStore;
pub use serialize::{iso_time, serialize_socket};
pub use stats::{AggregatedEvent, EventBuffer};

/// How the dashboard logs in.
#[derive(Clone, PartialEq, Eq)]
pub enum AdminAuth {
    /// Anyone who can reach the namespace is an administrator (say so explicitly).
    None,
    /// `auth: {username, password}` checked against a bcrypt hash of the password.
    Basic {
        /// The expected user name.
        username: String,
        /// A bcrypt hash (`$2a$`, `$2b$`, `$2y$`) of the password.
        password_hash: String,
    },
}

impl std::fmt::Debug for AdminAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AdminAuth::None => f.write_str("None"),
            AdminAuth::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .finish_non_exhaustive(),
        }
    }
}

/// Development mode sends every change as it happens; production mode only the periodic stats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Live socket, room and event updates (what the UI's Sockets, Rooms and Events pages need).
    Development,
    /// Only `config` and `server_stats` (the dashboard page).
    Production,
}

/// What [`instrument`] sets up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminUiOptions {
    /// The admin namespace (default `/admin`).
    pub namespace: String,
    /// How the dashboard logs in (no default: choose).
    pub auth: AdminAuth,
    /// Refuse the commands that change anything (emit, join, leave, disconnect).
    pub readonly: bool,
    /// How this server is named in the UI (default: the host name).
    pub server_id: Option<String>,
    /// Development (default) or production.
    pub mode: Mode,
    /// Most login sessions remembered at once (the oldest is forgotten first).
    pub max_sessions: usize,
    /// How long a login session stays valid.
    pub session_ttl: Duration,
}

impl AdminUiOptions {
    /// The defaults with this authentication.
    pub fn new(auth: AdminAuth) -> Self {
        AdminUiOptions {
            namespace: "/admin".to_owned(),
            auth,
            readonly: false,
            server_id: None,
            mode: Mode::Development,
            max_sessions: 1000,
            session_ttl: Duration::from_secs(24 * 3600),
        }
    }
}

/// Why [`instrument`] refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AdminUiError {
    /// The password hash does not parse as bcrypt.
    #[error("the admin UI password hash is not a valid bcrypt hash")]
    BadHash,
    /// The namespace name is not a plain namespace (`/name`, no trailing `*`).
    #[error("the admin UI namespace must start with '/' and not end with '*': {0:?}")]
    BadNamespace(String),
    /// The server already has an observer (instrumented twice).
    #[error("the server is already instrumented")]
    AlreadyInstrumented,
}

/// Adds the Admin UI's namespace to `server` and starts watching it, like Node's
/// `instrument(io, opts)`.
pub fn instrument(server: &Server, options: AdminUiOptions) -> Result<(), AdminUiError> {
    let name = options.namespace.clone();
    if !name.starts_with('/') || name.ends_with('*') {
        return Err(AdminUiError::BadNamespace(name));
    }
    // Checked before the namespace exists, so a refused call leaves no namespace behind.
    if server.metrics().observer().is_some() {
        return Err(AdminUiError::AlreadyInstrumented);
    }
    let store = match &options.auth {
        AdminAuth::None => None,
        AdminAuth::Basic { password_hash, .. } => {
            auth::check_hash(password_hash)?;
            Some(Arc::new(SessionStore::new(
                options.max_sessions,
                options.session_ttl,
            )))
        }
    };
    let ns = server.of(&name);
    let admin = match &ns {
        crate::server::NamespaceRef::Static(ns) => Arc::downgrade(ns),
        crate::server::NamespaceRef::Pattern { .. } => unreachable!("name has no trailing '*'"),
    };
    let watcher = Arc::new(stats::Watcher::new(admin, options.mode));
    server
        .set_observer(watcher.clone())
        .map_err(|_| AdminUiError::AlreadyInstrumented)?;
    let ns = match (&options.auth, store) {
        (
            AdminAuth::Basic {
                username,
                password_hash,
            },
            Some(store),
        ) => auth::install(ns, username.clone(), password_hash.clone(), store),
        _ => ns,
    };
    let features = Arc::new(features(&options));
    let server_id = options.server_id.clone().unwrap_or_else(stats::hostname);
    let ticker = Arc::new(stats::Ticker::new(server.clone(), watcher, server_id));
    let (srv, mode, readonly) = (server.clone(), options.mode, options.readonly);
    ns.on_connection(move |socket| {
        if let Some(session) = socket.extension::<auth::NewSession>() {
            let _ = socket.emit("session", session.0);
        }
        let _ = socket.emit("config", json!({ "supportedFeatures": *features }));
        commands::register(socket, &srv, readonly);
        ticker.admin_connected(socket);
        if mode == Mode::Development {
            let (srv, socket) = (srv.clone(), socket.clone());
            actix_rt::spawn(async move {
                let all = serialize::all_sockets(&srv).await;
                let _ = socket.emit("all_sockets", vec![serde_json::Value::Array(all)]);
            });
        }
    });
    Ok(())
}

/// The `supportedFeatures` of the `config` event.
fn features(options: &AdminUiOptions) -> Vec<&'static str> {
    let mut out = Vec::new();
    if !options.readonly {
        out.extend([
            "EMIT",
            "JOIN",
            "LEAVE",
            "DISCONNECT",
            "MJOIN",
            "MLEAVE",
            "MDISCONNECT",
        ]);
    }
    out.push("AGGREGATED_EVENTS");
    if options.mode == Mode::Development {
        out.push("ALL_EVENTS");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_follow_readonly_and_mode() {
        let mut o = AdminUiOptions::new(AdminAuth::None);
        assert_eq!(
            features(&o),
            [
                "EMIT",
                "JOIN",
                "LEAVE",
                "DISCONNECT",
                "MJOIN",
                "MLEAVE",
                "MDISCONNECT",
                "AGGREGATED_EVENTS",
                "ALL_EVENTS"
            ]
        );
        o.readonly = true;
        o.mode = Mode::Production;
        assert_eq!(features(&o), ["AGGREGATED_EVENTS"]);
    }

    #[test]
    fn bad_options_are_refused() {
        actix_rt::System::new().block_on(async {
            let io = Server::new(crate::ServerOptions::default());
            let bad = AdminUiOptions::new(AdminAuth::Basic {
                username: "admin".into(),
                password_hash: "not-a-hash".into(),
            });
            assert_eq!(instrument(&io, bad), Err(AdminUiError::BadHash));
            let mut pattern = AdminUiOptions::new(AdminAuth::None);
            pattern.namespace = "/admin-*".into();
            assert!(matches!(
                instrument(&io, pattern),
                Err(AdminUiError::BadNamespace(_))
            ));
            assert_eq!(
                instrument(&io, AdminUiOptions::new(AdminAuth::None)),
                Ok(())
            );
            let mut again = AdminUiOptions::new(AdminAuth::None);
            again.namespace = "/other".into();
            assert_eq!(
                instrument(&io, again),
                Err(AdminUiError::AlreadyInstrumented)
            );
            assert!(
                io.existing("/other").is_none(),
                "a refused call creates nothing"
            );
        });
    }
}
