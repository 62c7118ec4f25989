//! The admin routes' emits across the cluster: an emit's recipients counted on every node and its
//! acknowledgements collected from every node, and `POST /api/v1/server-side-emit` (an event to
//! the other servers, Node's `serverSideEmit`, optionally collecting their replies).

use std::time::Duration;

use actix_web::{web, HttpResponse};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::admin::dto::{AckResponse, ApiError, MAX_ACK_TIMEOUT_MS};
use crate::admin::AdminState;
use crate::broadcast::BroadcastOperator;
use crate::protocol::socketio::is_reserved_event;
use crate::Payload;

/// `POST /api/v1/server-side-emit`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSideEmitRequest {
    /// Namespace (default `/`).
    #[serde(default = "root")]
    pub namespace: String,
    /// Event name.
    pub event: String,
    /// Arguments (JSON).
    #[serde(default)]
    pub args: Vec<Value>,
    /// Wait this long for every other server's reply.
    pub ack_timeout_ms: Option<u64>,
}

fn root() -> String {
    "/".to_owned()
}

/// The acknowledgement timeout of a request, validated: 1 ms to [`MAX_ACK_TIMEOUT_MS`].
pub(super) fn ack_timeout(ms: u64) -> Result<Duration, ApiError> {
    if ms == 0 || ms > MAX_ACK_TIMEOUT_MS {
        return Err(ApiError::bad_request(format!(
            "ack_timeout_ms must be between 1 and {MAX_ACK_TIMEOUT_MS}"
        )));
    }
    Ok(Duration::from_millis(ms))
}

/// Emits without acknowledgements; the recipients of this node and of the others, counted.
pub(super) async fn emit_counted(
    op: &BroadcastOperator,
    event: &str,
    args: Vec<Value>,
) -> Result<HttpResponse, ApiError> {
    let local = op
        .emit_counted(event, Payload::from(args))
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let (local, remote) = futures_util::join!(local, op.remote_count());
    Ok(HttpResponse::Ok().json(json!({ "ok": true, "recipients": local + remote })))
}

/// Emits asking every recipient, on every node, for an acknowledgement, and answers with those
/// that arrived within `timeout`.
pub(super) async fn emit_with_acks(
    op: &BroadcastOperator,
    event: &str,
    args: Vec<Value>,
    timeout: Duration,
) -> Result<HttpResponse, ApiError> {
    let collected = op
        .emit_with_ack(event, Payload::from(args), timeout)
        .map_err(|e| ApiError::bad_request(e.to_string()))?
        .await;
    let timed_out = collected.expected.saturating_sub(collected.replies.len());
    let responses: Vec<AckResponse> = collected
        .replies
        .into_iter()
        .map(|r| AckResponse {
            id: r.socket.map(|s| s.to_string()),
            args: plain(r.payload),
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "ok": true,
        "recipients": collected.expected,
        "responses": responses,
        "timed_out": timed_out,
        "complete": !collected.timed_out,
    })))
}

/// The arguments of `payload` as JSON, each binary one as `{"_binary": "<base64>"}`.
pub fn plain(payload: Payload) -> Vec<Value> {
    let Payload { args, binary } = payload;
    args.into_iter()
        .map(|a| unplaceholder(a, &binary))
        .collect()
}

fn unplaceholder(value: Value, binary: &[bytes::Bytes]) -> Value {
    match value {
        Value::Object(map) => {
            let num = map.get("num").and_then(Value::as_u64);
            let is_placeholder = map.get("_placeholder") == Some(&Value::Bool(true));
            if let (true, Some(bytes)) = (is_placeholder, num.and_then(|n| binary.get(n as usize)))
            {
                let text = base64::engine::general_purpose::STANDARD.encode(bytes);
                return json!({ "_binary": text });
            }
            let map: Map<String, Value> = map
                .into_iter()
                .map(|(k, v)| (k, unplaceholder(v, binary)))
                .collect();
            Value::Object(map)
        }
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|v| unplaceholder(v, binary))
                .collect(),
        ),
        other => other,
    }
}

/// `POST /api/v1/server-side-emit`: the event goes to every other server of the namespace; with
/// `ack_timeout_ms`, their replies are collected.
pub(super) async fn server_side_emit(
    state: web::Data<AdminState>,
    body: web::Json<ServerSideEmitRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    if body.event.is_empty() || is_reserved_event(&body.event) {
        return Err(ApiError::bad_request(format!(
            "{:?} is not an event name servers can receive (empty or reserved)",
            body.event
        )));
    }
    let ns = state
        .server
        .existing(&body.namespace)
        .ok_or_else(|| ApiError::not_found(format!("no namespace {:?}", body.namespace)))?;
    let Some(ms) = body.ack_timeout_ms else {
        ns.server_side_emit(&body.event, body.args)
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        return Ok(HttpResponse::Ok().json(json!({ "ok": true })));
    };
    let timeout = ack_timeout(ms)?;
    let replies = ns
        .server_side_emit_with_ack(&body.event, body.args, timeout)
        .map_err(|e| ApiError::bad_request(e.to_string()))?
        .await;
    Ok(HttpResponse::Ok().json(json!({
        "ok": true,
        "servers": replies.expected,
        "responses": replies.replies,
        "timed_out": replies.expected.saturating_sub(replies.replies.len()),
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_arguments_become_base64_objects_wherever_they_are() {
        let mut payload = Payload::new().arg("a").bin(vec![1u8, 2, 3]);
        let nested = payload.attach(vec![255u8]);
        payload = payload.arg(json!({"file": nested, "n": 1}));
        assert_eq!(
            plain(payload),
            vec![
                json!("a"),
                json!({"_binary": "AQID"}),
                json!({"file": {"_binary": "/w=="}, "n": 1}),
            ]
        );
    }

    #[test]
    fn a_placeholder_without_its_bytes_stays_as_it_is() {
        let lone = json!({"_placeholder": true, "num": 3});
        let payload = Payload {
            args: vec![lone.clone()],
            binary: Vec::new(),
        };
        assert_eq!(plain(payload), vec![lone]);
    }

    #[test]
    fn ack_timeouts_are_bounded() {
        assert!(ack_timeout(0).is_err());
        assert!(ack_timeout(MAX_ACK_TIMEOUT_MS + 1).is_err());
        assert_eq!(ack_timeout(250).ok(), Some(Duration::from_millis(250)));
    }
}
