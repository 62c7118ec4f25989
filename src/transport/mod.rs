//! The HTTP face of the Engine.IO endpoint: request verification in the reference server's order
//! (transport, session id, method, protocol version) with its exact error codes and JSON bodies,
//! CORS, the handshake, and dispatch to the polling or WebSocket transport.

pub(crate) mod direct;
pub(crate) mod frames;
pub mod polling;
pub mod tcp;
pub mod websocket;

use std::borrow::Cow;
use std::sync::Arc;

use actix_web::dev::{fn_service, HttpServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use serde_json::json;

use crate::engine::{CloseReason, Conn, Engine, EngineOptions};
use crate::handshake::{query_param, ConnInfo};
use crate::protocol::ids::Sid;

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
    /// A new session refused: `max_connections` sessions are open (503).
    #[error("Server at capacity")]
    AtCapacity,
    /// A new session refused: the server is draining before it stops (503); the client's
    /// reconnection (through the load balancer) will find another node.
    #[error("Server is draining")]
    Draining,
}

impl EngineError {
    /// The numeric code of the JSON body.
    pub fn code(self) -> u16 {
        match self {
            EngineError::UnknownTransport => 0,
            EngineError::UnknownSid => 1,
            EngineError::BadHandshakeMethod => 2,
            EngineError::BadRequest => 3,
            EngineError::UnsupportedProtocolVersion => 5,
            EngineError::AtCapacity | EngineError::Draining => 503,
        }
    }

    /// The HTTP status: 400 for the protocol errors, 503 for refusals of a new session.
    pub fn status(self) -> StatusCode {
        match self {
            EngineError::AtCapacity | EngineError::Draining => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// The JSON body of the answer, e.g. `{"code":1,"message":"Session ID unknown"}`.
    pub(crate) fn body(self) -> String {
        json!({"code": self.code(), "message": self.to_string()}).to_string()
    }

    pub(crate) fn response(self, cors: &CorsHeaders) -> HttpResponse {
        let mut resp = HttpResponse::build(self.status());
        cors.apply(&mut resp);
        resp.content_type("application/json").body(self.body())
    }
}

/// CORS headers computed once per request, as ready header values (the usual `*` is static:
/// no allocation per request).
pub(crate) struct CorsHeaders {
    origin: Option<HeaderValue>,
    credentials: bool,
    vary: bool,
}

impl CorsHeaders {
    pub(crate) fn new(options: &EngineOptions, headers: &HeaderMap) -> Self {
        let cors = &options.cors;
        let request_origin = headers.get(header::ORIGIN).filter(|v| v.to_str().is_ok());
        let any = cors.origins.iter().any(|o| o == "*");
        // As `Cors::allow_origin`: any origin is `*` unless credentials reflect it; a listed one is
        // reflected.
        let origin = match request_origin {
            Some(o) if any && cors.credentials => Some(o.clone()),
            _ if any => Some(HeaderValue::from_static("*")),
            Some(o)
                if cors
                    .origins
                    .iter()
                    .any(|allowed| allowed.as_bytes() == o.as_bytes()) =>
            {
                Some(o.clone())
            }
            _ => None,
        };
        CorsHeaders {
            vary: origin.as_ref().is_some_and(|o| o.as_bytes() != b"*"),
            origin,
            credentials: cors.credentials,
        }
    }

    /// The headers to add to a response, as name and value.
    fn values(&self) -> impl Iterator<Item = (header::HeaderName, HeaderValue)> + '_ {
        let origin = self.origin.as_ref();
        let credentials =
            (origin.is_some() && self.credentials).then(|| HeaderValue::from_static("true"));
        let vary = (origin.is_some() && self.vary).then(|| HeaderValue::from_static("Origin"));
        [
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.cloned()),
            (header::ACCESS_CONTROL_ALLOW_CREDENTIALS, credentials),
            (header::VARY, vary),
        ]
        .into_iter()
        .filter_map(|(name, value)| Some((name, value?)))
    }

    /// The headers to add to a response, as name and value.
    pub(crate) fn pairs(&self) -> impl Iterator<Item = (&'static str, &str)> {
        let origin = self.origin.as_ref().and_then(|o| o.to_str().ok());
        let credentials = (origin.is_some() && self.credentials).then_some("true");
        let vary = (origin.is_some() && self.vary).then_some("Origin");
        [
            ("Access-Control-Allow-Origin", origin),
            ("Access-Control-Allow-Credentials", credentials),
            ("Vary", vary),
        ]
        .into_iter()
        .filter_map(|(name, value)| Some((name, value?)))
    }

    pub(crate) fn apply(&self, resp: &mut actix_web::HttpResponseBuilder) {
        for pair in self.values() {
            resp.insert_header(pair);
        }
    }

    /// Adds the headers to a response's header map.
    pub(crate) fn insert_into(&self, headers: &mut HeaderMap) {
        for (name, value) in self.values() {
            headers.insert(name, value);
        }
    }
}

fn is_websocket_upgrade(headers: &HeaderMap) -> bool {
    headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// What a request to the Engine.IO endpoint asks for, once verified in the reference server's
/// order. Both HTTP faces (actix-web routes and the WebSocket upgrade handoff) act on it.
pub(crate) enum Route {
    /// A CORS preflight.
    Preflight,
    /// Refused with one of the Engine.IO errors (400 and its JSON body).
    Refuse(EngineError),
    /// A polling request (GET or POST) of a known session.
    Poll(Arc<Conn>),
    /// A WebSocket for an existing polling session (the upgrade).
    WsUpgrade(Arc<Conn>),
    /// A WebSocket-only handshake.
    WsOpen,
    /// A polling handshake.
    PollOpen,
}

/// The query parameters the endpoint reads (the first of each name, percent-decoded, as
/// [`query_param`] gives them), found in one pass over the query.
#[derive(Default)]
struct EngineQuery<'a> {
    transport: Option<Cow<'a, str>>,
    sid: Option<Cow<'a, str>>,
    eio: Option<Cow<'a, str>>,
}

impl<'a> EngineQuery<'a> {
    fn parse(query: &'a str) -> Self {
        let mut q = EngineQuery::default();
        // Cut with memchr: `&` and `=` are ASCII, so every cut falls on a character boundary.
        let bytes = query.as_bytes();
        let mut start = 0;
        while start <= bytes.len() {
            let end = memchr::memchr(b'&', &bytes[start..]).map_or(bytes.len(), |i| start + i);
            let pair = &query[start..end];
            start = end + 1;
            let (key, value) = match memchr::memchr(b'=', pair.as_bytes()) {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, ""),
            };
            q.take(query, key, value);
        }
        q
    }

    /// Keeps `value` if `key` is one of ours and not seen yet.
    fn take(&mut self, query: &'a str, key: &'a str, value: &'a str) {
        let slot = match key {
            "transport" => &mut self.transport,
            "sid" => &mut self.sid,
            "EIO" => &mut self.eio,
            _ => return,
        };
        if slot.is_none() {
            *slot = Some(if memchr::memchr2(b'%', b'+', value.as_bytes()).is_some() {
                // Rare: let the one decoder do it (it finds this same first pair).
                query_param(query, key).unwrap_or_default()
            } else {
                Cow::Borrowed(value)
            });
        }
    }
}

/// Verifies a request: transport, session id, method, protocol version, capacity.
pub(crate) fn route(engine: &Engine, method: &Method, headers: &HeaderMap, query: &str) -> Route {
    if method == Method::OPTIONS {
        return Route::Preflight;
    }
    let query = EngineQuery::parse(query);
    let transport = query.transport.as_deref().unwrap_or_default();
    if !engine.options.transports.allows(transport) {
        return Route::Refuse(EngineError::UnknownTransport);
    }
    let upgrade = is_websocket_upgrade(headers);
    if let Some(sid) = &query.sid {
        let Some(conn) = Sid::parse(sid).and_then(|sid| engine.registry.get(&sid)) else {
            return Route::Refuse(EngineError::UnknownSid);
        };
        if conn.is_expired(std::time::Instant::now()) {
            // Its pong is overdue: it is as good as closed, whether or not the timer has fired.
            conn.request_close(CloseReason::PingTimeout);
            return Route::Refuse(EngineError::UnknownSid);
        }
        if transport == "websocket" && upgrade {
            return Route::WsUpgrade(conn);
        }
        // A closed session still registered is a polling one waiting to hand over its last packets.
        let state = conn.state();
        if transport != "polling" || !(state.accepts_polling() || state.is_closed()) {
            return Route::Refuse(EngineError::BadRequest);
        }
        return Route::Poll(conn);
    }
    if method != Method::GET {
        return Route::Refuse(EngineError::BadHandshakeMethod);
    }
    if transport == "websocket" && !upgrade {
        return Route::Refuse(EngineError::BadRequest);
    }
    if query.eio.as_deref() != Some("4") {
        return Route::Refuse(EngineError::UnsupportedProtocolVersion);
    }
    if engine.is_draining() {
        engine.metrics.refused_connections.increment(1);
        return Route::Refuse(EngineError::Draining);
    }
    if engine.registry.open_count() >= engine.options.max_connections {
        engine.metrics.refused_connections.increment(1);
        return Route::Refuse(EngineError::AtCapacity);
    }
    if transport == "websocket" {
        Route::WsOpen
    } else {
        Route::PollOpen
    }
}

/// The Engine.IO endpoint as an actix-web handler (for apps that route to it themselves).
pub async fn endpoint(
    req: HttpRequest,
    body: web::Payload,
    engine: web::Data<Arc<Engine>>,
) -> HttpResponse {
    serve(engine.get_ref(), &req, body).await
}

/// The Engine.IO endpoint mounted at `path` as a bare service: every request matching the path
/// comes straight here, without the route, extractor and handler layers of a resource (per
/// request, a polling client pays for those on every poll).
pub(crate) fn service(engine: Arc<Engine>, path: String) -> impl HttpServiceFactory {
    web::service(path).finish(fn_service(move |req: ServiceRequest| {
        let engine = engine.clone();
        async move {
            let (req, mut payload) = req.into_parts();
            let body = web::Payload::from_request(&req, &mut payload).await?;
            let resp = serve(&engine, &req, body).await;
            Ok::<_, actix_web::Error>(ServiceResponse::new(req, resp))
        }
    }))
}

/// Every request under the configured path comes here.
async fn serve(engine: &Arc<Engine>, req: &HttpRequest, body: web::Payload) -> HttpResponse {
    let cors = CorsHeaders::new(&engine.options, req.headers());
    match route(engine, req.method(), req.headers(), req.query_string()) {
        Route::Preflight => preflight(req, &cors),
        Route::Refuse(e) => e.response(&cors),
        Route::Poll(conn) => match *req.method() {
            Method::GET => polling::get(engine, conn, &cors).await,
            Method::POST => polling::post(req, body, engine, conn, &cors).await,
            _ => {
                let mut resp = HttpResponse::InternalServerError();
                cors.apply(&mut resp);
                resp.finish()
            }
        },
        Route::WsUpgrade(conn) => websocket::upgrade(req, body, engine, conn).await,
        Route::WsOpen => websocket::handshake(req, body, engine, request_info(req)).await,
        Route::PollOpen => polling::handshake(engine, request_info(req), &cors),
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

fn request_info(req: &HttpRequest) -> Arc<ConnInfo> {
    conn_info(
        req.headers(),
        req.uri(),
        req.peer_addr(),
        req.app_config().secure(),
    )
}

/// The handshake facts the session keeps (headers, URL, address).
pub(crate) fn conn_info(
    headers: &HeaderMap,
    uri: &actix_web::http::Uri,
    peer: Option<std::net::SocketAddr>,
    secure: bool,
) -> Arc<ConnInfo> {
    let headers = headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)));
    let url = uri.path_and_query().map(|pq| pq.as_str()).unwrap_or("/");
    Arc::new(ConnInfo::new(headers, url, peer, secure))
}

#[cfg(test)]
#[path = "query_tests.rs"]
mod query_tests;
