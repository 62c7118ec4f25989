//! The HTTP admin API, on its own listener: health and readiness, Prometheus metrics, the OpenAPI
//! document, and under `/api/v1` (bearer token, compared in constant time) stats, listings, emit
//! (optionally collecting acknowledgements) and bulk join / leave / disconnect. It reaches the
//! sockets only through the server's broadcast operators and the namespaces' adapters, i.e. the
//! room supervisors; with a cluster adapter, stats, listings and bulk operations answer for every
//! node unless `?local=true` (`cluster`), and `/health` tells when the cluster link is down.

mod cluster;
pub mod dto;
mod emit;
mod routes;

use std::sync::Arc;

use actix_web::dev::ServiceRequest;
use actix_web::{web, HttpRequest};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::server::Server;
use dto::ApiError;

/// What the admin routes share.
pub struct AdminState {
    /// The Socket.IO server administered.
    pub server: Server,
    /// The bearer token `/api/*` requires; `None`: `/api/*` answers 403.
    pub token: Option<String>,
    /// This node's id, reported by stats.
    pub node_id: String,
}

impl AdminState {
    /// Checks the `Authorization: Bearer <token>` header.
    pub fn authorize(&self, req: &HttpRequest) -> Result<(), ApiError> {
        let Some(token) = &self.token else {
            return Err(ApiError::forbidden(
                "the admin API is disabled: no token is configured",
            ));
        };
        let given = req
            .headers()
            .get(actix_web::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| ApiError::unauthorized("missing bearer token"))?;
        // Digests of equal length, compared in constant time: neither the token's length nor
        // where a guess first differs shows in the time taken.
        let (given, token) = (
            Sha256::digest(given.as_bytes()),
            Sha256::digest(token.as_bytes()),
        );
        if bool::from(given.as_slice().ct_eq(token.as_slice())) {
            Ok(())
        } else {
            Err(ApiError::unauthorized("wrong bearer token"))
        }
    }
}

fn count_request(req: &ServiceRequest, state: &AdminState) {
    let route = req
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    state
        .server
        .metrics()
        .labelled_counter("roomcast_admin_requests_total", "route", &route)
        .increment(1);
}

/// A resource that answers `405 method_not_allowed` (with `Allow`) to any method it does not serve.
fn resource(path: &str, allow: &'static str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(move || async move {
        let mut resp = actix_web::ResponseError::error_response(&ApiError::method_not_allowed(
            format!("this route answers {allow} only"),
        ));
        resp.headers_mut().insert(
            actix_web::http::header::ALLOW,
            actix_web::http::header::HeaderValue::from_static(allow),
        );
        resp
    }))
}

/// The `/api/v1` routes behind the bearer token. The token is checked before anything else of the
/// request (route, method, query, body) is looked at.
fn api_scope(
    state: Arc<AdminState>,
) -> actix_web::Scope<
    impl actix_web::dev::ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    web::scope("/api/v1")
        .wrap_fn(move |req, srv| {
            let allowed = state.authorize(req.request());
            let call = allowed.map(|()| actix_web::dev::Service::call(srv, req));
            async move {
                match call {
                    Ok(call) => call.await,
                    Err(e) => Err(e.into()),
                }
            }
        })
        .service(resource("/stats", "GET").get(routes::stats))
        .service(resource("/rooms", "GET").get(routes::rooms))
        .service(resource("/sockets", "GET").get(routes::sockets))
        .service(resource("/emit", "POST").post(routes::emit))
        .service(resource("/server-side-emit", "POST").post(emit::server_side_emit))
        .service(resource("/sockets/join", "POST").post(routes::sockets_join))
        .service(resource("/sockets/leave", "POST").post(routes::sockets_leave))
        .service(resource("/sockets/disconnect", "POST").post(routes::sockets_disconnect))
        // after the fixed paths, so that `join` is not taken for a socket id
        .service(resource("/sockets/{id}", "GET").get(routes::socket))
        .default_service(web::to(routes::not_found))
}

/// Largest admin request body, in bytes (past it: 413).
pub const MAX_BODY: usize = 1 << 20;

/// Registers the admin routes (usable with `actix_web::test` without a port).
pub fn configure(state: Arc<AdminState>) -> impl Fn(&mut web::ServiceConfig) + Clone {
    move |cfg: &mut web::ServiceConfig| {
        let json_config = web::JsonConfig::default()
            .limit(MAX_BODY)
            .error_handler(|err, _| match err {
                actix_web::error::JsonPayloadError::OverflowKnownLength { .. }
                | actix_web::error::JsonPayloadError::Overflow { .. } => {
                    ApiError::payload_too_large(format!("the body exceeds {MAX_BODY} bytes")).into()
                }
                err => ApiError::bad_request(err.to_string()).into(),
            });
        let query_config = web::QueryConfig::default()
            .error_handler(|err, _| ApiError::bad_request(err.to_string()).into());
        let counted = state.clone();
        cfg.app_data(web::Data::from(state.clone()))
            .app_data(json_config)
            .app_data(query_config)
            .service(
                web::scope("")
                    .wrap_fn(move |req, srv| {
                        count_request(&req, &counted);
                        actix_web::dev::Service::call(srv, req)
                    })
                    .service(resource("/health", "GET").get(routes::health))
                    .service(resource("/ready", "GET").get(routes::ready))
                    .service(resource("/metrics", "GET").get(routes::metrics))
                    // public, and before the authorised scope that would take its path
                    .service(resource("/api/v1/openapi.json", "GET").get(routes::openapi))
                    .service(api_scope(state.clone()))
                    .default_service(web::to(routes::not_found)),
            );
    }
}
