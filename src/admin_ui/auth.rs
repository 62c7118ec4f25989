//! The Admin UI's login: a dashboard connects with `auth: {username, password}` (checked against a
//! bcrypt hash off the actix workers, a few checks at a time) and is given a session id (8 random
//! bytes, hex) it may reconnect with as `auth: {sessionId}` after a page reload. Sessions live in a
//! bounded store and expire, like Node's `InMemoryStore` with the Redis store's 24 h lifetime.
//! Anything else is refused with exactly `invalid credentials`, the message the UI answers with its
//! login form.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde_json::Value;
use tokio::sync::Semaphore;

use super::AdminUiError;
use crate::namespace::ConnectError;
use crate::server::NamespaceRef;

/// The refusal the UI recognises.
pub const INVALID_CREDENTIALS: &str = "invalid credentials";

/// How many password checks may run at once (each costs a bcrypt computation on a blocking
/// thread; more logins wait their turn).
const CONCURRENT_CHECKS: usize = 2;

/// The session id given to a dashboard that logged in with its password; the connection handler
/// emits it as `session`.
#[derive(Debug, Clone)]
pub(super) struct NewSession(pub String);

/// Login sessions: at most `capacity`, each valid for `ttl` after it was created.
pub struct SessionStore {
    sessions: Mutex<HashMap<String, Instant>>,
    capacity: usize,
    ttl: Duration,
}

impl SessionStore {
    /// An empty store.
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        SessionStore {
            sessions: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
            ttl,
        }
    }

    /// Whether `id` is a session that has not expired at `now`.
    pub fn is_valid(&self, id: &str, now: Instant) -> bool {
        let mut sessions = self.sessions.lock();
        match sessions.get(id) {
            Some(created) if now.saturating_duration_since(*created) < self.ttl => true,
            Some(_) => {
                sessions.remove(id);
                false
            }
            None => false,
        }
    }

    /// Remembers session `id` created at `now`; when full, expired sessions go first, then the
    /// oldest.
    pub fn save(&self, id: String, now: Instant) {
        let mut sessions = self.sessions.lock();
        if sessions.len() >= self.capacity {
            let ttl = self.ttl;
            sessions.retain(|_, created| now.saturating_duration_since(*created) < ttl);
        }
        if sessions.len() >= self.capacity {
            let oldest = sessions
                .iter()
                .min_by_key(|(_, created)| **created)
                .map(|(id, _)| id.clone());
            if let Some(oldest) = oldest {
                sessions.remove(&oldest);
            }
        }
        sessions.insert(id, now);
    }

    /// Number of sessions held (expired ones included until they are swept).
    pub fn len(&self) -> usize {
        self.sessions.lock().len()
    }

    /// Whether the store holds no session.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Refuses a hash that bcrypt cannot read.
pub(super) fn check_hash(hash: &str) -> Result<(), AdminUiError> {
    hash.parse::<bcrypt::HashParts>()
        .map(|_| ())
        .map_err(|_| AdminUiError::BadHash)
}

/// A fresh session id: 8 random bytes from the OS-seeded generator, in hex.
fn new_session_id() -> String {
    let bytes: [u8; 8] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Adds the login middleware to the admin namespace.
pub(super) fn install(
    ns: NamespaceRef,
    username: String,
    hash: String,
    store: Arc<SessionStore>,
) -> NamespaceRef {
    let checks = Arc::new(Semaphore::new(CONCURRENT_CHECKS));
    let (username, hash) = (Arc::new(username), Arc::new(hash));
    ns.use_async_middleware(move |socket| {
        let auth = socket.handshake().auth.clone();
        let (username, hash, store, checks) = (
            username.clone(),
            hash.clone(),
            store.clone(),
            checks.clone(),
        );
        let socket = socket.clone();
        Box::pin(async move {
            let address = socket.handshake().conn.address();
            let refused = || {
                tracing::warn!(%address, "Admin UI login refused: invalid credentials");
                ConnectError::new(INVALID_CREDENTIALS)
            };
            if let Some(id) = auth.get("sessionId").and_then(Value::as_str) {
                if store.is_valid(id, Instant::now()) {
                    return Ok(());
                }
            }
            let (Some(user), Some(password)) = (
                auth.get("username").and_then(Value::as_str),
                auth.get("password").and_then(Value::as_str),
            ) else {
                return Err(refused());
            };
            if user != username.as_str() {
                return Err(refused());
            }
            // The permit is held until the check ends; the semaphore is never closed.
            let _permit = checks.acquire().await.map_err(|_| refused())?;
            let password = password.to_owned();
            let verdict =
                actix_rt::task::spawn_blocking(move || bcrypt::verify(password, &hash)).await;
            if !matches!(verdict, Ok(Ok(true))) {
                return Err(refused());
            }
            let id = new_session_id();
            store.save(id.clone(), Instant::now());
            socket.set_extension(NewSession(id));
            Ok(())
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_expire_and_stay_bounded() {
        let t0 = Instant::now();
        let store = SessionStore::new(2, Duration::from_secs(10));
        store.save("a".into(), t0);
        assert!(store.is_valid("a", t0 + Duration::from_secs(9)));
        assert!(
            !store.is_valid("a", t0 + Duration::from_secs(10)),
            "expired"
        );
        assert!(!store.is_valid("a", t0), "an expired session is forgotten");
        assert!(!store.is_valid("nope", t0));
        store.save("b".into(), t0);
        store.save("c".into(), t0 + Duration::from_secs(1));
        store.save("d".into(), t0 + Duration::from_secs(2));
        assert_eq!(store.len(), 2, "bounded");
        assert!(
            !store.is_valid("b", t0 + Duration::from_secs(2)),
            "oldest evicted"
        );
        assert!(store.is_valid("c", t0 + Duration::from_secs(2)));
        assert!(store.is_valid("d", t0 + Duration::from_secs(2)));
    }

    #[test]
    fn full_store_drops_expired_first() {
        let t0 = Instant::now();
        let store = SessionStore::new(2, Duration::from_secs(10));
        store.save("old".into(), t0);
        store.save("new".into(), t0 + Duration::from_secs(8));
        store.save("newer".into(), t0 + Duration::from_secs(12));
        assert!(store.is_valid("new", t0 + Duration::from_secs(12)));
        assert!(store.is_valid("newer", t0 + Duration::from_secs(12)));
    }

    #[test]
    fn session_ids_are_16_hex_digits_and_differ() {
        let (a, b) = (new_session_id(), new_session_id());
        assert_eq!(a.len(), 16);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn hashes_are_checked() {
        assert_eq!(check_hash("plain"), Err(AdminUiError::BadHash));
        // A cost-4 hash of "pw", made with the bcrypt crate.
        let hash = bcrypt::hash("pw", 4).expect("cost 4 is valid");
        assert_eq!(check_hash(&hash), Ok(()));
    }
}
