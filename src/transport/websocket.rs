//! The WebSocket transport's session logic, shared by both ways roomcast runs WebSockets: the
//! upgrade probe, delivery to the session actor, and the outbound batches (everything queued when
//! the writer runs goes out together). Its I/O here is actix-ws, for servers embedded in an
//! actix-web app through the server's `configure`: a reader task and a writer task per WebSocket.
//! [`crate::HttpFront`] runs WebSockets on its own frame I/O instead (`transport::direct`).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use actix_ws::{AggregatedMessage, AggregatedMessageStream, Session};
use bytestring::ByteString;

use crate::engine::conn::WsTake;
use crate::engine::session::{TransportGone, UpgradeCompleted, UpgradeStarted, WsReceived};
use crate::engine::Engine;
use crate::engine::{CloseReason, Conn, EngineState};
use crate::handshake::ConnInfo;
use crate::protocol::engineio::{decode_text, Frame, Packet};
use bytes::Bytes;

/// How long a closing WebSocket may take to flush what was queued before it closes.
const FLUSH_ON_CLOSE: Duration = Duration::from_secs(2);

fn accept(
    req: &HttpRequest,
    body: web::Payload,
    engine: &Engine,
) -> Result<(HttpResponse, Session, AggregatedMessageStream), actix_web::Error> {
    let (resp, session, stream) = actix_ws::handle(req, body)?;
    let limit = engine.options.max_payload;
    let stream = stream
        .max_frame_size(limit)
        .aggregate_continuations()
        .max_continuation_size(limit);
    Ok((resp, session, stream))
}

/// A WebSocket-only handshake: a new session whose first frame is the open packet.
pub(crate) async fn handshake(
    req: &HttpRequest,
    body: web::Payload,
    engine: &Arc<Engine>,
    info: Arc<ConnInfo>,
) -> HttpResponse {
    let (resp, session, stream) = match accept(req, body, engine) {
        Ok(parts) => parts,
        Err(e) => return e.error_response(),
    };
    let ws = engine.next_ws_generation();
    let (conn, open) = engine.open_session(info, EngineState::WebSocket { ws });
    conn.push_one(Frame::Text(ByteString::from(open)));
    spawn_tasks(conn, ws, session, stream, engine.options.write_delay);
    resp
}

/// A WebSocket for an existing polling session: it becomes the upgrade candidate, or is closed at
/// once if the session cannot upgrade (already upgrading or upgraded).
pub(crate) async fn upgrade(
    req: &HttpRequest,
    body: web::Payload,
    engine: &Arc<Engine>,
    conn: Arc<Conn>,
) -> HttpResponse {
    let (resp, session, stream) = match accept(req, body, engine) {
        Ok(parts) => parts,
        Err(e) => return e.error_response(),
    };
    let ws = engine.next_ws_generation();
    if !conn.update_state(|s| s.begin_upgrade(ws)) {
        actix_rt::spawn(async move {
            let _ = session.close(None).await;
            drop(stream);
        });
        return resp;
    }
    conn.tell(UpgradeStarted { ws });
    spawn_tasks(conn, ws, session, stream, engine.options.write_delay);
    resp
}

fn spawn_tasks(
    conn: Arc<Conn>,
    ws: u64,
    session: Session,
    stream: AggregatedMessageStream,
    write_delay: Duration,
) {
    actix_rt::spawn(write_loop(conn.clone(), ws, session.clone(), write_delay));
    actix_rt::spawn(read_loop(conn, ws, session, stream));
}

async fn send_frame(session: &mut Session, frame: Frame) -> Result<(), actix_ws::Closed> {
    match frame {
        Frame::Text(t) => session.text(t).await,
        Frame::Binary(b) => session.binary(b).await,
    }
}

/// When a WebSocket writes (write coalescing, [`crate::ServerOptions::write_delay`]): at once if
/// it has not written for `delay`; otherwise the first packet opens a window of `delay` and what
/// is queued by its end shares the write.
#[derive(Debug, Default)]
pub(crate) struct WritePacing {
    delay: Duration,
    last_write: Option<tokio::time::Instant>,
    due: Option<tokio::time::Instant>,
    /// After a write that ended at a boundary, the next write waits until then.
    hold: Option<tokio::time::Instant>,
}

impl WritePacing {
    pub(crate) fn new(delay: Duration) -> Self {
        WritePacing {
            delay,
            last_write: None,
            due: None,
            hold: None,
        }
    }
}

/// How long the write after a boundary ([`Conn::push_alone`]) waits, so that a client reading one
/// message per read (the official protocol suite does) sees the CONNECT reply before the connection
/// handlers' first packets instead of both in one read. Paid once per namespace connection, by
/// what the handlers emit at once. Measured here with one read per await, 200 connects a run: 30%
/// complete with the boundary alone, 99.8% with a 1 ms gap (3 misses in 1,400), 100% with 2 ms
/// (1,400 of 1,400); Node's reference engine: 75%.
const BOUNDARY_GAP: Duration = Duration::from_millis(2);

/// Waits for the next batch for WebSocket `ws`: frames to write (moved into `buf`) once it is the
/// active transport, or the end (`Finish`, with what is left to flush in `buf`). Cancel-safe: an
/// interrupted coalescing window resumes with its deadline.
pub(crate) async fn next_batch(
    conn: &Conn,
    ws: u64,
    buf: &mut VecDeque<Frame>,
    pacing: &mut WritePacing,
) -> WsTake {
    loop {
        let ready = conn
            .wait_for(|c| {
                let ready = c.ws_ready(ws);
                (ready != WsTake::Wait).then_some(ready)
            })
            .await;
        // One sleep for both the boundary's gap and the coalescing window (one await point keeps
        // the connection task's future small).
        let mut until = pacing.hold.filter(|_| ready == WsTake::Frames);
        if ready == WsTake::Frames && !pacing.delay.is_zero() {
            let now = tokio::time::Instant::now();
            let busy = pacing
                .last_write
                .is_some_and(|last| now < last + pacing.delay);
            if busy || pacing.due.is_some() {
                let due = *pacing.due.get_or_insert(now + pacing.delay);
                until = Some(until.map_or(due, |hold| hold.max(due)));
            }
        }
        if let Some(until) = until {
            // Boxed: a timer is large and rarely needed (a write after a boundary, or write
            // coalescing), and unboxed it would enlarge every connection's task for good.
            Box::pin(tokio::time::sleep_until(until)).await;
        }
        pacing.hold = None;
        match conn.take_ws(ws, buf) {
            WsTake::Wait => continue,
            WsTake::FramesAlone => {
                pacing.hold = Some(tokio::time::Instant::now() + BOUNDARY_GAP);
                return WsTake::FramesAlone;
            }
            take => {
                if !pacing.delay.is_zero() {
                    pacing.last_write = Some(tokio::time::Instant::now());
                    pacing.due = None;
                }
                return take;
            }
        }
    }
}

/// A complete message a WebSocket received.
pub(crate) enum WsMessage {
    /// A text message (one Engine.IO packet).
    Text(ByteString),
    /// A binary message (a binary Engine.IO message).
    Binary(Bytes),
}

/// What the transport does after handing a message over.
pub(crate) enum Next {
    /// Read on.
    Continue,
    /// Answer the upgrade probe with `3probe`, then read on.
    SendProbe,
    /// Stop reading: the transport ends for this reason.
    Stop(CloseReason),
}

/// Hands a message of WebSocket `ws` to its session, or drives the upgrade while `ws` is the
/// upgrade candidate. Waits while the session's mailbox is full (backpressure to the client).
pub(crate) async fn deliver(conn: &Conn, ws: u64, msg: WsMessage) -> Next {
    let packet = match msg {
        WsMessage::Text(text) => match decode_text(&text) {
            Ok(p) => p,
            Err(e) => {
                tracing::debug!(sid = %conn.sid(), ws, error = %e, "parse error");
                return Next::Stop(CloseReason::ParseError);
            }
        },
        WsMessage::Binary(data) => Packet::Binary(data),
    };
    let state = conn.state();
    if state.is_active_ws(ws) {
        // Hand it over without waiting for the session to take it, unless its mailbox is full:
        // then wait (the client is read no further meanwhile).
        let Some(session) = conn.session() else {
            return Next::Stop(CloseReason::TransportClose);
        };
        let sent = match session.try_send(WsReceived { packet }) {
            Ok(()) => Ok(()),
            Err(actix::prelude::SendError::Full(msg)) => session.send(msg).await.map(drop),
            Err(actix::prelude::SendError::Closed(_)) => Err(actix::MailboxError::Closed),
        };
        if sent.is_err() {
            return Next::Stop(CloseReason::TransportClose);
        }
        Next::Continue
    } else if state.upgrade_candidate() == Some(ws) {
        match packet {
            Packet::Ping(data) if data == "probe" => {
                if !conn.update_state(|s| s.probe(ws)) {
                    return Next::Stop(CloseReason::TransportError);
                }
                Next::SendProbe
            }
            Packet::Upgrade => {
                if !conn.update_state(|s| s.complete_upgrade(ws)) {
                    return Next::Stop(CloseReason::TransportError);
                }
                conn.tell(UpgradeCompleted { ws });
                Next::Continue
            }
            // Anything else before the upgrade completes aborts it.
            _ => Next::Stop(CloseReason::TransportError),
        }
    } else {
        Next::Stop(CloseReason::TransportClose)
    }
}

/// Tells the session that WebSocket `ws` is gone; a candidate that failed must not keep the
/// upgrade pending until its timeout.
pub(crate) fn ended(conn: &Conn, ws: u64, reason: CloseReason) {
    conn.tell(TransportGone { ws, reason });
    conn.update_state(|s| s.abort_upgrade(ws));
}

async fn write_loop(conn: Arc<Conn>, ws: u64, mut session: Session, delay: Duration) {
    let mut buf: VecDeque<Frame> = VecDeque::new();
    let mut pacing = WritePacing::new(delay);
    loop {
        let take = next_batch(&conn, ws, &mut buf, &mut pacing).await;
        if take == WsTake::Finish {
            let flush = async {
                for frame in buf.drain(..) {
                    send_frame(&mut session, frame).await?;
                }
                Ok::<(), actix_ws::Closed>(())
            };
            let _ = actix_rt::time::timeout(FLUSH_ON_CLOSE, flush).await;
            let _ = session.close(None).await;
            return;
        }
        let write = async {
            for frame in buf.drain(..) {
                send_frame(&mut session, frame).await?;
            }
            Ok::<(), actix_ws::Closed>(())
        };
        tokio::pin!(write);
        let written = tokio::select! {
            biased;
            written = &mut write => written,
            // The session ended while this batch waits on the client: finish it within the flush
            // bound (then the loop's close path runs), or give the socket up if the client has
            // stopped reading. With every sender of the response gone, actix-web ends the
            // response and drops the connection.
            _ = conn.ws_gone(ws) => match actix_rt::time::timeout(FLUSH_ON_CLOSE, write).await {
                Ok(written) => written,
                Err(_) => return,
            },
        };
        if written.is_err() {
            conn.tell(TransportGone {
                ws,
                reason: CloseReason::TransportClose,
            });
            return;
        }
    }
}

async fn read_loop(
    conn: Arc<Conn>,
    ws: u64,
    mut session: Session,
    mut stream: AggregatedMessageStream,
) {
    // Created once, not per message: it registers with the connection only on state changes.
    let gone = conn.ws_gone(ws);
    tokio::pin!(gone);
    let reason = loop {
        let item = tokio::select! {
            item = stream.recv() => item,
            // The session ended or moved on while the client was silent: stop reading, so this
            // task lets go of its half of the socket.
            _ = &mut gone => break CloseReason::TransportClose,
        };
        let Some(item) = item else {
            break CloseReason::TransportClose;
        };
        let msg = match item {
            Ok(AggregatedMessage::Text(text)) => WsMessage::Text(text),
            Ok(AggregatedMessage::Binary(data)) => WsMessage::Binary(data),
            Ok(AggregatedMessage::Ping(data)) => {
                let _ = session.pong(&data).await;
                continue;
            }
            Ok(AggregatedMessage::Pong(_)) => continue,
            Ok(AggregatedMessage::Close(reason)) => {
                // Echo the client's close code, as the closing handshake wants.
                let _ = session.clone().close(reason).await;
                break CloseReason::TransportClose;
            }
            Err(e) => {
                // Refused with the close code `ws` would send: 1009 for an oversized message
                // (frame or assembled), 1007 for text that is not UTF-8, 1002 for a protocol
                // violation; an I/O error just ends the connection.
                use actix_ws::{CloseCode, ProtocolError};
                let code = match &e {
                    ProtocolError::Overflow => Some(CloseCode::Size),
                    ProtocolError::Io(io) if io.kind() == std::io::ErrorKind::InvalidData => {
                        Some(CloseCode::Invalid)
                    }
                    // actix-ws reports an oversized assembled message as an untyped I/O error.
                    ProtocolError::Io(io) if io.to_string().contains("continuation") => {
                        Some(CloseCode::Size)
                    }
                    ProtocolError::Io(_) => None,
                    _ => Some(CloseCode::Protocol),
                };
                if let Some(code) = code {
                    let _ = session.clone().close(Some(code.into())).await;
                }
                break CloseReason::TransportError;
            }
        };
        match deliver(&conn, ws, msg).await {
            Next::Continue => {}
            Next::SendProbe => {
                if session.text("3probe").await.is_err() {
                    break CloseReason::TransportClose;
                }
            }
            Next::Stop(reason) => break reason,
        }
    };
    ended(&conn, ws, reason);
}

#[cfg(test)]
#[path = "websocket_tests.rs"]
mod tests;
