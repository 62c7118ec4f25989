//! The HTTP admin API, on its own listener: health and readiness, Prometheus metrics, the OpenAPI
//! document, and under `/api/v1` (bearer token, compared in constant time) stats, listings, emit
//! (optionally collecting acknowledgements) and bulk join / leave / disconnect. It reaches the
//! sockets only through the server's broadcast operators, i.e. the room supervisors.

pub mod dto;
mod routes;

use std::sync::Arc;

use actix_web::dev::ServiceRequest;
use actix_web::{web, HttpRequest};
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
        if bool::from(given.as_bytes().ct_eq(token.as_bytes())) {
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

/// Registers the admin routes (usable with `actix_web::test` without a port).
pub fn configure(state: Arc<AdminState>) -> impl Fn(&mut web::ServiceConfig) + Clone {
    move |cfg: &mut web::ServiceConfig| {
        let json_config = web::JsonConfig::default()
            .limit(1 << 20)
            .error_handler(|err, _| ApiError::bad_request(err.to_string()).into());
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
                    .route("/health", web::get().to(routes::health))
                    .route("/ready", web::get().to(routes::ready))
                    .route("/metrics", web::get().to(routes::metrics))
                    .route("/api/v1/openapi.json", web::get().to(routes::openapi))
                    .route("/api/v1/stats", web::get().to(routes::stats))
                    .route("/api/v1/rooms", web::get().to(routes::rooms))
                    .route("/api/v1/sockets", web::get().to(routes::sockets))
                    .route("/api/v1/sockets/{id}", web::get().to(routes::socket))
                    .route("/api/v1/emit", web::post().to(routes::emit))
                    .route("/api/v1/sockets/join", web::post().to(routes::sockets_join))
                    .route(
                        "/api/v1/sockets/leave",
                        web::post().to(routes::sockets_leave),
                    )
                    .route(
                        "/api/v1/sockets/disconnect",
                        web::post().to(routes::sockets_disconnect),
                    )
                    .default_service(web::to(routes::not_found)),
            );
    }
}
