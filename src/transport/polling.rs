//! HTTP long-polling: the handshake response, the parked GET that drains the outbound queue, and the
//! POST that carries the client's packets (byte-limited, one at a time).

use std::sync::Arc;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;

use crate::engine::conn::PollTake;
use crate::engine::session::Received;
use crate::engine::Engine;
use crate::engine::{CloseReason, Conn, EngineState};
use crate::handshake::ConnInfo;
use crate::protocol::engineio::{decode_text, encode_payload, Frame, SEPARATOR};
use crate::transport::{CorsHeaders, EngineError};

fn text_response(cors: &CorsHeaders, body: String) -> HttpResponse {
    let mut resp = HttpResponse::Ok();
    cors.apply(&mut resp);
    resp.content_type("text/plain; charset=UTF-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body)
}

fn bad_request(cors: &CorsHeaders) -> HttpResponse {
    let mut resp = HttpResponse::BadRequest();
    cors.apply(&mut resp);
    resp.finish()
}

/// A polling handshake: the open packet is the response body.
pub(crate) fn handshake(
    engine: &Arc<Engine>,
    info: Arc<ConnInfo>,
    cors: &CorsHeaders,
) -> HttpResponse {
    let (conn, open) = engine.open_session(info, EngineState::Polling);
    let mut resp = HttpResponse::Ok();
    cors.apply(&mut resp);
    if let Some(name) = &engine.options.cookie {
        resp.insert_header((
            header::SET_COOKIE,
            format!("{name}={}; Path=/; HttpOnly; SameSite=Lax", conn.sid()),
        ));
    }
    resp.content_type("text/plain; charset=UTF-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(open)
}

struct PollGuard(Arc<Conn>);

impl Drop for PollGuard {
    fn drop(&mut self) {
        self.0.end_poll();
    }
}

/// A GET: answer at once if something is queued (or a noop while upgrading), else park until
/// something is. A second GET while one is parked is an error that closes the session.
pub(crate) async fn get(engine: &Arc<Engine>, conn: Arc<Conn>, cors: &CorsHeaders) -> HttpResponse {
    if !conn.begin_poll() {
        conn.request_close(CloseReason::TransportError);
        return bad_request(cors);
    }
    let _guard = PollGuard(conn.clone());
    loop {
        let take = conn
            .wait_for(|c| match c.take_poll() {
                PollTake::Wait => None,
                other => Some(other),
            })
            .await;
        match take {
            PollTake::Payload(p) => return text_response(cors, p),
            PollTake::Closed(p) => {
                engine.registry.remove(&conn.sid());
                return text_response(cors, p);
            }
            PollTake::Upgraded => return EngineError::BadRequest.response(cors),
            PollTake::Upgrading => {
                // Like the reference server, which releases polls from a 100 ms timer during an
                // upgrade, give the WebSocket a moment: a client that already sent `5` on it gets
                // the transport mismatch it would get a moment later, others their noop.
                let settled = conn.wait_for(|c| (!c.state().polls_get_noop()).then_some(()));
                if actix_rt::time::timeout(NOOP_DELAY, settled).await.is_err() {
                    return text_response(cors, encode_payload([Frame::noop()].iter()));
                }
            }
            PollTake::Wait => unreachable!("wait_for only returns a decision"),
        }
    }
}

/// How long a poll made during an upgrade may wait for the upgrade to finish before its noop.
const NOOP_DELAY: std::time::Duration = std::time::Duration::from_millis(50);

struct PostGuard(Arc<Conn>);

impl Drop for PostGuard {
    fn drop(&mut self) {
        self.0.end_post();
    }
}

/// Packets of a POST handed to the session at a time.
const POST_BATCH: usize = 64;

/// A POST: read the body within the payload limit (413 past it), decode it (a bad payload closes
/// the session), hand the packets to the session actor and answer `ok` once they are handled.
pub(crate) async fn post(
    req: &HttpRequest,
    mut body: web::Payload,
    engine: &Arc<Engine>,
    conn: Arc<Conn>,
    cors: &CorsHeaders,
) -> HttpResponse {
    let close = |reason| conn.request_close(reason);
    let binary = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/octet-stream"));
    if binary {
        close(CloseReason::TransportError);
        return bad_request(cors);
    }
    if !conn.begin_post() {
        close(CloseReason::TransportError);
        return bad_request(cors);
    }
    let _guard = PostGuard(conn.clone());
    let limit = engine.options.max_payload;
    let mut buf = web::BytesMut::new();
    while let Some(chunk) = body.next().await {
        let Ok(chunk) = chunk else {
            close(CloseReason::TransportError);
            return bad_request(cors);
        };
        if buf.len() + chunk.len() > limit {
            let mut resp = HttpResponse::PayloadTooLarge();
            cors.apply(&mut resp);
            return resp.finish();
        }
        buf.extend_from_slice(&chunk);
    }
    let text = match std::str::from_utf8(&buf) {
        Ok(text) if !text.is_empty() => text,
        _ => {
            close(CloseReason::ParseError);
            return bad_request(cors);
        }
    };
    // Decoded and handed over a few packets at a time: each hand-over waits until the session has
    // taken the previous ones in, so a POST of many packets for a busy socket holds its body and
    // one batch, not every packet decoded. As Node's server, the packets before a bad one count.
    let mut segments = text.split(SEPARATOR).peekable();
    while segments.peek().is_some() {
        let mut packets = Vec::with_capacity(POST_BATCH);
        let mut bad = false;
        for segment in segments.by_ref().take(POST_BATCH) {
            match decode_text(segment) {
                Ok(p) => packets.push(p),
                Err(_) => {
                    bad = true;
                    break;
                }
            }
        }
        if !packets.is_empty() {
            let Some(session) = conn.session() else {
                return bad_request(cors);
            };
            if session.send(Received { packets }).await.is_err() {
                return bad_request(cors);
            }
        }
        if bad {
            close(CloseReason::ParseError);
            return bad_request(cors);
        }
    }
    let mut resp = HttpResponse::Ok();
    cors.apply(&mut resp);
    resp.content_type("text/html").body("ok")
}
