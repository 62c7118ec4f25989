//! HTTP long-polling: the handshake response, the parked GET that drains the outbound queue, and the
//! POST that carries the client's packets (byte-limited, one at a time).

use std::sync::Arc;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use bytestring::ByteString;
use futures_util::StreamExt;

use crate::engine::conn::PollTake;
use crate::engine::session::Received;
use crate::engine::Engine;
use crate::engine::{CloseReason, Conn, EngineState};
use crate::handshake::ConnInfo;
use crate::protocol::engineio::{decode_text, SEPARATOR};
use crate::transport::{CorsHeaders, EngineError};

/// A payload's answer. Its headers are static values (no parsing, no copy) and its body is the
/// payload's own buffer.
fn text_response(cors: &CorsHeaders, body: ByteString) -> HttpResponse {
    let mut resp = HttpResponse::with_body(StatusCode::OK, body.into_bytes()).map_into_boxed_body();
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=UTF-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    cors.insert_into(headers);
    resp
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
        return PollError::OverlappingGet.respond(&conn, cors);
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
                    return text_response(cors, ByteString::from_static("6"));
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

/// Why a polling request failed after its session was found, and what follows: the session's
/// close reason (if it closes) and the HTTP answer, in one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum PollError {
    /// A GET while another is parked.
    #[error("overlapping poll")]
    OverlappingGet,
    /// A POST while another is being read.
    #[error("overlapping POST")]
    OverlappingPost,
    /// A binary (octet-stream) POST, which Engine.IO v4 clients never send.
    #[error("binary POST body")]
    BinaryBody,
    /// The body could not be read.
    #[error("body read failed")]
    BodyRead,
    /// The body is over `max_payload` (the session stays open, as Node's server leaves it).
    #[error("body over max_payload")]
    TooLarge,
    /// The body is empty, not UTF-8, or holds a packet that does not decode.
    #[error("payload does not decode")]
    BadPayload,
    /// The session actor is gone.
    #[error("session gone")]
    SessionGone,
}

impl PollError {
    /// The close reason the session gets, if the error closes it.
    fn closes(self) -> Option<CloseReason> {
        match self {
            PollError::OverlappingGet
            | PollError::OverlappingPost
            | PollError::BinaryBody
            | PollError::BodyRead => Some(CloseReason::TransportError),
            PollError::BadPayload => Some(CloseReason::ParseError),
            PollError::TooLarge | PollError::SessionGone => None,
        }
    }

    /// Closes the session if the error calls for it, logs it, and answers the request.
    fn respond(self, conn: &Conn, cors: &CorsHeaders) -> HttpResponse {
        tracing::debug!(sid = %conn.sid(), error = %self, "polling request refused");
        if let Some(reason) = self.closes() {
            conn.request_close(reason);
        }
        let mut resp = match self {
            PollError::TooLarge => HttpResponse::PayloadTooLarge(),
            _ => HttpResponse::BadRequest(),
        };
        cors.apply(&mut resp);
        resp.finish()
    }
}

/// A POST: read the body within the payload limit (413 past it), decode it (a bad payload closes
/// the session), hand the packets to the session actor and answer `ok` once they are handled.
pub(crate) async fn post(
    req: &HttpRequest,
    body: web::Payload,
    engine: &Arc<Engine>,
    conn: Arc<Conn>,
    cors: &CorsHeaders,
) -> HttpResponse {
    match receive(req, body, engine, &conn).await {
        Ok(()) => {
            let mut resp = HttpResponse::Ok();
            cors.apply(&mut resp);
            resp.content_type("text/html").body("ok")
        }
        Err(e) => e.respond(&conn, cors),
    }
}

async fn receive(
    req: &HttpRequest,
    mut body: web::Payload,
    engine: &Arc<Engine>,
    conn: &Arc<Conn>,
) -> Result<(), PollError> {
    let binary = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/octet-stream"));
    if binary {
        return Err(PollError::BinaryBody);
    }
    if !conn.begin_post() {
        return Err(PollError::OverlappingPost);
    }
    let _guard = PostGuard(conn.clone());
    let limit = engine.options.max_payload;
    let mut buf = web::BytesMut::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|_| PollError::BodyRead)?;
        if buf.len() + chunk.len() > limit {
            return Err(PollError::TooLarge);
        }
        buf.extend_from_slice(&chunk);
    }
    let text = match std::str::from_utf8(&buf) {
        Ok(text) if !text.is_empty() => text,
        _ => return Err(PollError::BadPayload),
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
            let session = conn.session().ok_or(PollError::SessionGone)?;
            session
                .send(Received { packets })
                .await
                .map_err(|_| PollError::SessionGone)?;
        }
        if bad {
            return Err(PollError::BadPayload);
        }
    }
    Ok(())
}
