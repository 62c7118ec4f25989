//! The HTTP face of the Engine.IO endpoint: request verification in the reference server's order
//! (transport, session id, method, protocol version) with its exact error codes and JSON bodies,
//! CORS, the handshake, and dispatch to the polling or WebSocket transport.

pub mod polling;
pub mod tcp;
pub mod websocket;

use std::sync::Arc;

use actix::{Actor, AsyncContext};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use crate::engine::session::CloseRequest;
use crate::engine::{CloseReason, Conn, EngineSession, EngineState};
use crate::handshake::{query_param, ConnInfo};
use crate::options::ServerOptions;
use crate::protocol::engineio::OpenPacket;
use crate::protocol::ids::Sid;
use crate::server::ServerInner;

/// The Engine.IO request errors, with the reference server's codes and messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// `transport` missing, unknown or disabled.
    #[error("Transport unknown")]
    UnknownTransport,
    /// `sid` not found.
    #[error("Session ID unknown")]
    UnknownSid,
    /// A handshake that is not a GET.
    #[error("Bad handshake method")]
    BadHandshakeMethod,
    /// Transport mismatch, a WebSocket handshake without upgrade, a bad Origin header.
    #[error("Bad request")]
    BadRequest,
    /// `EIO` is not 4.
    #[error("Unsupported protocol version")]
    UnsupportedProtocolVersion,
}

impl EngineError {
    /// The numeric code of the JSON body.
    pub fn code(self) -> u8 {
        match self {
            EngineError::UnknownTransport => 0,
            EngineError::UnknownSid => 1,
            EngineError::BadHandshakeMethod => 2,
            EngineError::BadRequest => 3,
            EngineError::UnsupportedProtocolVersion => 5,
        }
    }

    pub(crate) fn response(self, cors: &CorsHeaders) -> HttpResponse {
        let mut resp = HttpResponse::BadRequest();
        cors.apply(&mut resp);
        resp.content_type("application/json")
            .body(json!({"code": self.code(), "message": self.to_string()}).to_string())
    }
}

/// CORS headers computed once per request.
pub(crate) struct CorsHeaders {
    origin: Option<String>,
    credentials: bool,
    vary: bool,
}

impl CorsHeaders {
    fn new(options: &ServerOptions, req: &HttpRequest) -> Self {
        let request_origin = req
            .headers()
            .get(header::ORIGIN)
            .and_then(|v| v.to_str().ok());
        let origin = options.cors.allow_origin(request_origin);
        CorsHeaders {
            vary: origin.as_deref().is_some_and(|o| o != "*"),
            origin,
            credentials: options.cors.credentials,
        }
    }

    pub(crate) fn apply(&self, resp: &mut actix_web::HttpResponseBuilder) {
        if let Some(origin) = &self.origin {
            resp.insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.as_str()));
            if self.credentials {
                resp.insert_header((header::ACCESS_CONTROL_ALLOW_CREDENTIALS, "true"));
            }
            if self.vary {
                resp.insert_header((header::VARY, "Origin"));
            }
        }
    }
}

fn is_websocket_upgrade(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// The Engine.IO endpoint: every request under the configured path comes here.
pub async fn endpoint(
    req: HttpRequest,
    body: web::Payload,
    server: web::Data<Arc<ServerInner>>,
) -> HttpResponse {
    let server = server.get_ref();
    let cors = CorsHeaders::new(&server.options, &req);
    if req.method() == Method::OPTIONS {
        return preflight(&req, &cors);
    }
    let q = req.query_string();
    let transport = query_param(q, "transport").unwrap_or_default();
    let transport = transport.as_ref();
    if !server.options.transports.allows(transport) {
        return EngineError::UnknownTransport.response(&cors);
    }
    let upgrade = is_websocket_upgrade(&req);
    if let Some(sid) = query_param(q, "sid") {
        let Some(conn) = Sid::parse(&sid).and_then(|sid| server.registry.get(&sid)) else {
            return EngineError::UnknownSid.response(&cors);
        };
        if conn.is_expired(std::time::Instant::now()) {
            // Its pong is overdue: it is as good as closed, whether or not the timer has fired.
            conn.engine().do_send(CloseRequest {
                reason: CloseReason::PingTimeout,
            });
            return EngineError::UnknownSid.response(&cors);
        }
        if transport == "websocket" && upgrade {
            return websocket::upgrade(&req, body, server, conn).await;
        }
        // A closed session still registered is a polling one waiting to hand over its last packets.
        let state = conn.state();
        if transport != "polling" || !(state.accepts_polling() || state.is_closed()) {
            return EngineError::BadRequest.response(&cors);
        }
        return match *req.method() {
            Method::GET => polling::get(server, conn, &cors).await,
            Method::POST => polling::post(&req, body, server, conn, &cors).await,
            _ => {
                let mut resp = HttpResponse::InternalServerError();
                cors.apply(&mut resp);
                resp.finish()
            }
        };
    }
    if req.method() != Method::GET {
        return EngineError::BadHandshakeMethod.response(&cors);
    }
    if transport == "websocket" && !upgrade {
        return EngineError::BadRequest.response(&cors);
    }
    if query_param(q, "EIO").as_deref() != Some("4") {
        return EngineError::UnsupportedProtocolVersion.response(&cors);
    }
    if server.registry.open_count() >= server.options.max_connections || server.is_draining() {
        server.metrics.refused_connections.increment(1);
        let mut resp = HttpResponse::ServiceUnavailable();
        cors.apply(&mut resp);
        return resp
            .content_type("application/json")
            .body(json!({"code": 503, "message": "Server at capacity"}).to_string());
    }
    let info = conn_info(&req);
    if transport == "websocket" {
        websocket::handshake(&req, body, server, info).await
    } else {
        polling::handshake(server, info, &cors)
    }
}

fn preflight(req: &HttpRequest, cors: &CorsHeaders) -> HttpResponse {
    let mut resp = HttpResponse::build(StatusCode::NO_CONTENT);
    cors.apply(&mut resp);
    resp.insert_header((
        header::ACCESS_CONTROL_ALLOW_METHODS,
        "GET,HEAD,PUT,PATCH,POST,DELETE",
    ));
    if let Some(h) = req.headers().get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
        resp.insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, h.clone()));
        resp.insert_header((header::VARY, "Access-Control-Request-Headers"));
    }
    resp.insert_header((header::CONTENT_LENGTH, HeaderValue::from_static("0")));
    resp.finish()
}

fn conn_info(req: &HttpRequest) -> Arc<ConnInfo> {
    let headers = req
        .headers()
        .iter()
        .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)));
    let url = req
        .uri()
        .path_and_query()
        .map(|pq| pq.as_str())
        .unwrap_or("/");
    Arc::new(ConnInfo::new(
        headers,
        url,
        req.peer_addr(),
        req.app_config().secure(),
    ))
}

/// Starts a session (its actor and shared connection) in `state` and registers it.
pub(crate) fn open_session(
    server: &Arc<ServerInner>,
    info: Arc<ConnInfo>,
    state: EngineState,
) -> (Arc<Conn>, String) {
    let sid = Sid::new();
    let mut created = None;
    let options = &server.options;
    EngineSession::create(|ctx| {
        let conn = Arc::new(Conn::new(
            sid,
            ctx.address(),
            state,
            options.outbound_queue,
            server.metrics.clone(),
        ));
        created = Some(conn.clone());
        EngineSession::new(server.clone(), info.clone()).with_conn(conn)
    });
    // `Actor::create` runs the closure before returning.
    let conn = created.expect("session created");
    server.registry.insert(conn.clone());
    tracing::info!(
        sid = %sid,
        transport = state.transport_name(),
        address = %info.address(),
        "connection opened"
    );
    let upgrades = if state == EngineState::Polling && options.transports.websocket {
        vec!["websocket"]
    } else {
        vec![]
    };
    let open = OpenPacket {
        sid: sid.to_string(),
        upgrades,
        ping_interval: options.ping_interval.as_millis() as u64,
        ping_timeout: options.ping_timeout.as_millis() as u64,
        max_payload: options.max_payload as u64,
    };
    (conn, open.encode())
}
