//! What the server knows of a client from its first HTTP request, shared by every socket of the
//! connection, plus the per-namespace `auth` payload.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde_json::Value;

/// Facts about the connection, fixed at the Engine.IO handshake.
#[derive(Debug, Clone, Serialize)]
pub struct ConnInfo {
    /// Request headers (names lower-case).
    pub headers: Vec<(String, String)>,
    /// Query parameters of the first request.
    pub query: Vec<(String, String)>,
    /// Remote address (`ip:port`).
    pub address: String,
    /// Milliseconds since the Unix epoch when the connection was opened.
    pub issued: u64,
    /// Request URL of the first request (path and query).
    pub url: String,
    /// Whether the request came over TLS.
    pub secure: bool,
    /// Whether the request was cross-origin (it had an `Origin` header).
    pub xdomain: bool,
}

impl ConnInfo {
    /// The value of header `name` (lower-case), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of query parameter `name`, if present.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Milliseconds since the Unix epoch, now.
pub fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// A socket's handshake: the connection facts and the auth payload of its CONNECT packet.
#[derive(Debug, Clone)]
pub struct Handshake {
    /// Connection facts.
    pub conn: Arc<ConnInfo>,
    /// The CONNECT payload (`{}` when the client sent none).
    pub auth: Value,
}
