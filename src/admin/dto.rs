//! The admin API's request and response bodies, and the error body every failure uses.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An API error: `{"error":{"code":..,"message":..}}` with its HTTP status.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    /// 400 `bad_request`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }
    /// 401 `unauthorized`.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }
    /// 403 `forbidden`.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }
    /// 404 `not_found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }
    /// 413 `payload_too_large`: the request body exceeds [`super::MAX_BODY`].
    pub fn payload_too_large(message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", message)
    }
    /// 503 `cluster_unavailable`: a cluster call while this node's link to the cluster is down.
    pub fn cluster_unavailable(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "cluster_unavailable",
            message,
        )
    }
    /// 405 `method_not_allowed`: a known route asked with a method it does not serve.
    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            message,
        )
    }

    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status).json(serde_json::json!({
            "error": { "code": self.code, "message": self.message }
        }))
    }
}

/// Most entries one listing returns.
pub const MAX_LIMIT: usize = 1000;
/// Entries a listing returns without `limit`.
pub const DEFAULT_LIMIT: usize = 100;
/// Longest wait for acknowledgements an emit may ask for.
pub const MAX_ACK_TIMEOUT_MS: u64 = 60_000;

fn root() -> String {
    "/".to_owned()
}

/// Query of the listings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Namespace (default `/`).
    #[serde(default = "root")]
    pub namespace: String,
    /// Only sockets in this room (sockets listing).
    pub room: Option<String>,
    /// Page size.
    pub limit: Option<usize>,
    /// Entries to skip.
    #[serde(default)]
    pub offset: usize,
    /// This node only (default: the whole cluster).
    #[serde(default)]
    pub local: bool,
}

impl ListQuery {
    /// The page bounds, validated.
    pub fn page(&self) -> Result<(usize, usize), ApiError> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if limit == 0 || limit > MAX_LIMIT {
            return Err(ApiError::bad_request(format!(
                "limit must be between 1 and {MAX_LIMIT}"
            )));
        }
        Ok((self.offset, limit))
    }
}

/// Query naming a namespace only.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamespaceQuery {
    /// Namespace (default `/`).
    #[serde(default = "root")]
    pub namespace: String,
    /// This node only (default: the whole cluster).
    #[serde(default)]
    pub local: bool,
}

/// Query of the routes that take no other: `?local=true` restricts them to this node.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalQuery {
    /// This node only (default: the whole cluster).
    #[serde(default)]
    pub local: bool,
}

/// `POST /api/v1/emit`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmitRequest {
    /// Namespace (default `/`).
    #[serde(default = "root")]
    pub namespace: String,
    /// Event name.
    pub event: String,
    /// Arguments.
    #[serde(default)]
    pub args: Vec<Value>,
    /// Target rooms (empty: everyone).
    #[serde(default)]
    pub rooms: Vec<String>,
    /// Rooms excluded.
    #[serde(default)]
    pub except: Vec<String>,
    /// Drop for clients whose queue is full.
    #[serde(default)]
    pub volatile: bool,
    /// Wait this long for every recipient's acknowledgement.
    pub ack_timeout_ms: Option<u64>,
}

/// One acknowledgement collected by an emit.
#[derive(Debug, Serialize)]
pub struct AckResponse {
    /// Socket id: known for this node's sockets, absent for another node's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Its acknowledgement arguments (another node's: the first only); binary ones as
    /// `{"_binary": "<base64>"}`.
    pub args: Vec<Value>,
}

/// `POST /api/v1/sockets/{join,leave,disconnect}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SocketsRequest {
    /// Namespace (default `/`).
    #[serde(default = "root")]
    pub namespace: String,
    /// Sockets in any of these rooms...
    #[serde(default)]
    pub rooms: Vec<String>,
    /// ...plus these sockets (both empty: every socket).
    #[serde(default)]
    pub sockets: Vec<String>,
    /// Rooms to join (join).
    #[serde(default)]
    pub add: Vec<String>,
    /// Rooms to leave (leave).
    #[serde(default)]
    pub remove: Vec<String>,
    /// Also close the connections (disconnect).
    #[serde(default)]
    pub close: bool,
}

/// A socket as the API shows it.
#[derive(Debug, Serialize)]
pub struct SocketDto {
    /// Socket id.
    pub id: String,
    /// Namespace.
    pub namespace: String,
    /// Named rooms.
    pub rooms: Vec<String>,
    /// `polling` or `websocket`.
    pub transport: String,
    /// Remote address.
    pub address: String,
    /// When it connected (RFC 3339, UTC).
    pub connected_at: String,
    /// Its data.
    pub data: Value,
    /// The id of the node holding it (`/stats`' `node_id` there); `null` when not known (a
    /// socket of a Node.js server).
    pub node: Option<String>,
}

pub use crate::time::rfc3339;

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn rfc3339_dates() {
        for (secs, want) in [
            (0, "1970-01-01T00:00:00Z"),
            (951_782_400, "2000-02-29T00:00:00Z"),
            (1_796_000_000, "2026-11-30T00:53:20Z"),
            (4_107_542_399, "2100-02-28T23:59:59Z"),
        ] {
            assert_eq!(rfc3339(UNIX_EPOCH + Duration::from_secs(secs)), want);
        }
    }
}
