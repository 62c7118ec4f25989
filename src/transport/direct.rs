//! WebSockets that roomcast reads and writes itself, on the TCP socket actix-http hands over at the
//! upgrade (see [`crate::HttpFront`]).
//!
//! Why: behind actix-web every WebSocket keeps the HTTP/1 dispatcher alive for its whole life, with
//! an 8 KiB read buffer and an 8 KiB write buffer, and every outbound frame crosses a channel and a
//! second task before it reaches the socket. Here one task owns the socket: it parses frames
//! straight from the kernel's bytes, writes the queued packets of a batch with one vectored write
//! (payloads are not copied), and holds no buffer while the connection is idle.
//!
//! The session logic (probe, upgrade, delivery, close) is the one the actix-ws transport uses, in
//! [`super::websocket`].

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::sync::Arc;
use std::time::Duration;

use actix_codec::Framed;
use actix_http::h1::Codec;
use actix_http::ws::{hash_key, verify_handshake, OpCode, Parser, ProtocolError};
use actix_http::Request;
use bytes::{Buf, BufMut, BytesMut};
use bytestring::ByteString;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::websocket::{deliver, ended, next_batch, Inbound, Next, WritePacing};
use super::{conn_info, open_session, route, CorsHeaders, Route, AT_CAPACITY_BODY};
use crate::engine::conn::WsTake;
use crate::engine::session::UpgradeStarted;
use crate::engine::{CloseReason, Conn, EngineState};
use crate::protocol::engineio::Frame;
use crate::server::ServerInner;

/// How long a closing WebSocket may take to flush what was queued before it closes.
const FLUSH_ON_CLOSE: Duration = Duration::from_secs(2);
/// How long a closed WebSocket waits for the client to close its side.
const LINGER: Duration = Duration::from_secs(1);
/// Frames per vectored write (two slices each).
const FRAMES_PER_WRITE: usize = 32;
/// Bytes read per read call (one scratch buffer per thread).
const READ_CHUNK: usize = 16 * 1024;

/// WebSocket close codes roomcast sends.
const CLOSE_PROTOCOL: u16 = 1002;
const CLOSE_INVALID_DATA: u16 = 1007;
const CLOSE_TOO_BIG: u16 = 1009;

/// Answers an upgrade request that actix-http handed over with its connection: refuses it with the
/// Engine.IO error, or switches protocols and spawns the connection's task. Returns at once, so
/// the HTTP dispatcher (and its buffers) is gone while the WebSocket lives.
pub(crate) async fn serve(
    server: &Arc<ServerInner>,
    req: Request,
    framed: Framed<TcpStream, Codec>,
) -> io::Result<()> {
    let parts = framed.into_parts();
    let mut io = parts.io;
    let head = req.head();
    let cors = CorsHeaders::new(&server.options, &head.headers);
    let query = head.uri.query().unwrap_or("");
    let conn = match route(server, &head.method, &head.headers, query) {
        Route::WsOpen => None,
        Route::WsUpgrade(conn) => Some(conn),
        Route::Refuse(e) => {
            let body = serde_json::json!({"code": e.code(), "message": e.to_string()}).to_string();
            return refuse(&mut io, "400 Bad Request", &cors, &body).await;
        }
        Route::AtCapacity => {
            return refuse(&mut io, "503 Service Unavailable", &cors, AT_CAPACITY_BODY).await;
        }
        // A WebSocket request that is neither a handshake nor an upgrade (a polling transport with
        // upgrade headers): nothing here serves it.
        Route::Preflight | Route::Poll(_) | Route::PollOpen => {
            let body = serde_json::json!({"code": 3, "message": "Bad request"}).to_string();
            return refuse(&mut io, "400 Bad Request", &cors, &body).await;
        }
    };
    if let Err(e) = verify_handshake(head) {
        return refuse(&mut io, "400 Bad Request", &cors, &e.to_string()).await;
    }
    let key = head
        .headers
        .get(actix_web::http::header::SEC_WEBSOCKET_KEY)
        .map(|k| hash_key(k.as_bytes()))
        .unwrap_or_default();
    let mut accept = Vec::with_capacity(160);
    accept.extend_from_slice(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Accept: ",
    );
    accept.extend_from_slice(&key);
    accept.extend_from_slice(b"\r\n\r\n");
    io.write_all(&accept).await?;

    let ws = server.next_ws_generation();
    let socket = DirectWs::new(
        io,
        parts.read_buf,
        server.options.max_payload,
        server.options.write_delay,
    );
    match conn {
        None => {
            let info = conn_info(&head.headers, &head.uri, req.peer_addr(), false);
            let (conn, open) = open_session(server, info, EngineState::WebSocket { ws });
            conn.push_one(Frame::Text(ByteString::from(open)));
            actix_rt::spawn(socket.run(conn, ws));
        }
        Some(conn) => {
            if !conn.update_state(|s| s.begin_upgrade(ws)) {
                // The session cannot upgrade (already upgrading or upgraded): close at once.
                actix_rt::spawn(socket.close(None));
                return Ok(());
            }
            conn.engine().do_send(UpgradeStarted { ws });
            actix_rt::spawn(socket.run(conn, ws));
        }
    }
    Ok(())
}

/// Writes an error response and closes the connection.
async fn refuse(
    io: &mut TcpStream,
    status: &str,
    cors: &CorsHeaders,
    body: &str,
) -> io::Result<()> {
    use std::fmt::Write as _;
    let content_type = if body.starts_with('{') {
        "application/json"
    } else {
        "text/plain; charset=utf-8"
    };
    let mut head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in cors.pairs() {
        let _ = write!(head, "{name}: {value}\r\n");
    }
    head.push_str("\r\n");
    head.push_str(body);
    io.write_all(head.as_bytes()).await?;
    io.shutdown().await
}

/// A WebSocket frame header for a server frame (never masked): returns the bytes used.
fn frame_header(opcode: u8, len: usize, out: &mut [u8; 10]) -> usize {
    out[0] = 0x80 | opcode;
    if len < 126 {
        out[1] = len as u8;
        2
    } else if len <= u16::MAX as usize {
        out[1] = 126;
        out[2..4].copy_from_slice(&(len as u16).to_be_bytes());
        4
    } else {
        out[1] = 127;
        out[2..10].copy_from_slice(&(len as u64).to_be_bytes());
        10
    }
}

fn frame_parts(frame: &Frame) -> (u8, &[u8]) {
    match frame {
        Frame::Text(t) => (0x1, t.as_bytes()),
        Frame::Binary(b) => (0x2, b),
    }
}

/// What the read side found.
enum Event {
    Message(Inbound),
    Ping(BytesMut),
    Close(Option<u16>),
}

/// How the connection's loop ended.
enum End {
    /// The session ended or moved on: flush what is left, then close.
    Finish,
    /// The client's side ended (close frame, EOF, error): close with this code, if any.
    Gone(CloseReason, Option<u16>),
}

/// One WebSocket connection: the socket, the bytes read but not yet parsed, the bytes accepted
/// for writing that the socket has not taken yet, and a message being reassembled.
struct DirectWs {
    io: TcpStream,
    rbuf: BytesMut,
    out: BytesMut,
    fragment: Option<(bool, BytesMut)>,
    max_payload: usize,
    pacing: WritePacing,
}

impl DirectWs {
    fn new(io: TcpStream, rbuf: BytesMut, max_payload: usize, write_delay: Duration) -> Self {
        DirectWs {
            io,
            rbuf,
            out: BytesMut::new(),
            fragment: None,
            max_payload,
            pacing: WritePacing::new(write_delay),
        }
    }

    async fn run(mut self, conn: Arc<Conn>, ws: u64) {
        let mut batch: VecDeque<Frame> = VecDeque::new();
        let gone = conn.ws_gone(ws);
        tokio::pin!(gone);
        // Frames that came with the upgrade request. (`process` and `close` are boxed: their
        // futures are large and rarely alive, and this task lives as long as the connection.)
        let mut end = Box::pin(self.process(&conn, ws)).await;
        while end.is_none() {
            tokio::select! {
                biased;
                ready = self.io.readable() => {
                    if ready.is_err() {
                        end = Some(End::Gone(CloseReason::TransportError, None));
                        continue;
                    }
                    match self.read() {
                        Ok(0) => end = Some(End::Gone(CloseReason::TransportClose, None)),
                        Ok(_) => end = Box::pin(self.process(&conn, ws)).await,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                        Err(_) => end = Some(End::Gone(CloseReason::TransportClose, None)),
                    }
                }
                ready = self.io.writable(), if !self.out.is_empty() => {
                    if ready.is_err() || self.flush().is_err() {
                        end = Some(End::Gone(CloseReason::TransportClose, None));
                    }
                }
                take = next_batch(&conn, ws, &mut batch, &mut self.pacing), if self.out.is_empty() => {
                    if take == WsTake::Finish {
                        end = Some(End::Finish);
                    } else if self.write_frames(&mut batch).is_err() {
                        end = Some(End::Gone(CloseReason::TransportClose, None));
                    }
                }
                // The session ended while the client is not taking what was written.
                _ = &mut gone, if !self.out.is_empty() => end = Some(End::Finish),
            }
        }
        match end {
            Some(End::Finish) => {
                // `next_batch` left the final frames in `batch` (none for a slow consumer).
                for frame in batch.drain(..) {
                    let (opcode, payload) = frame_parts(&frame);
                    self.buffer(opcode, payload);
                }
                ended(&conn, ws, CloseReason::TransportClose);
                Box::pin(self.close(None)).await;
            }
            Some(End::Gone(reason, code)) => {
                ended(&conn, ws, reason);
                Box::pin(self.close(code)).await;
            }
            None => unreachable!("the loop ends with an end"),
        }
    }

    /// Reads what the socket has (without waiting). The bytes land in the thread's scratch
    /// buffer and only what was read is kept, so an idle connection holds no read buffer and a
    /// message kept after it was parsed holds on to its own bytes only.
    fn read(&mut self) -> io::Result<usize> {
        thread_local! {
            static SCRATCH: std::cell::RefCell<Box<[u8]>> =
                std::cell::RefCell::new(vec![0u8; READ_CHUNK].into_boxed_slice());
        }
        SCRATCH.with_borrow_mut(|chunk| {
            let n = self.io.try_read(chunk)?;
            self.rbuf.extend_from_slice(&chunk[..n]);
            Ok(n)
        })
    }

    /// Handles every complete frame read so far; `Some` when the connection must end.
    async fn process(&mut self, conn: &Conn, ws: u64) -> Option<End> {
        let end = loop {
            let event = match self.next_event() {
                Ok(Some(event)) => event,
                Ok(None) => break None,
                Err(code) => break Some(End::Gone(CloseReason::TransportError, Some(code))),
            };
            match event {
                Event::Message(msg) => match deliver(conn, ws, msg).await {
                    Next::Continue => {}
                    Next::SendProbe => {
                        self.buffer(0x1, b"3probe");
                        if self.flush().is_err() {
                            break Some(End::Gone(CloseReason::TransportClose, None));
                        }
                    }
                    Next::Stop(reason) => break Some(End::Gone(reason, None)),
                },
                // A pong waits behind nothing: while earlier bytes are still unwritten (a client
                // that pings but does not read), pings go unanswered rather than piling up.
                Event::Ping(_) if !self.out.is_empty() => {}
                Event::Ping(data) => {
                    self.buffer(0xA, &data);
                    if self.flush().is_err() {
                        break Some(End::Gone(CloseReason::TransportClose, None));
                    }
                }
                // Echo the client's close code, as the closing handshake wants.
                Event::Close(code) => break Some(End::Gone(CloseReason::TransportClose, code)),
            }
        };
        // An idle connection holds no read buffer.
        if self.rbuf.is_empty() {
            self.rbuf = BytesMut::new();
        }
        end
    }

    /// The next complete message or control frame; `Err` carries the close code to send.
    fn next_event(&mut self) -> Result<Option<Event>, u16> {
        loop {
            // Refuse an oversized frame from its header: the parser would buffer all of it first.
            if declared_len(&self.rbuf).is_some_and(|len| len > self.max_payload as u64) {
                return Err(CLOSE_TOO_BIG);
            }
            let parsed = Parser::parse(&mut self.rbuf, true, self.max_payload).map_err(|e| {
                if matches!(e, ProtocolError::Overflow) {
                    CLOSE_TOO_BIG
                } else {
                    CLOSE_PROTOCOL
                }
            })?;
            let Some((fin, opcode, data)) = parsed else {
                return Ok(None);
            };
            let data = data.unwrap_or_default();
            match opcode {
                OpCode::Ping => return Ok(Some(Event::Ping(data))),
                OpCode::Pong => continue,
                OpCode::Close => {
                    let code = (data.len() >= 2).then(|| u16::from_be_bytes([data[0], data[1]]));
                    return Ok(Some(Event::Close(code)));
                }
                OpCode::Text | OpCode::Binary => {
                    if self.fragment.is_some() {
                        return Err(CLOSE_PROTOCOL);
                    }
                    let text = opcode == OpCode::Text;
                    if fin {
                        return message(text, data).map(Some);
                    }
                    self.fragment = Some((text, data));
                }
                OpCode::Continue => {
                    let Some((text, mut whole)) = self.fragment.take() else {
                        return Err(CLOSE_PROTOCOL);
                    };
                    if whole.len() + data.len() > self.max_payload {
                        return Err(CLOSE_TOO_BIG);
                    }
                    whole.extend_from_slice(&data);
                    if fin {
                        return message(text, whole).map(Some);
                    }
                    self.fragment = Some((text, whole));
                }
                OpCode::Bad => return Err(CLOSE_PROTOCOL),
            }
        }
    }

    /// Writes a batch: up to [`FRAMES_PER_WRITE`] frames per vectored write, straight from the
    /// payloads. What the socket does not take is copied to `out` and written when it is
    /// writable again.
    fn write_frames(&mut self, frames: &mut VecDeque<Frame>) -> io::Result<()> {
        while !frames.is_empty() {
            if !self.out.is_empty() {
                for frame in frames.drain(..) {
                    let (opcode, payload) = frame_parts(&frame);
                    self.buffer(opcode, payload);
                }
                return self.flush();
            }
            let count = frames.len().min(FRAMES_PER_WRITE);
            let mut heads = [[0u8; 10]; FRAMES_PER_WRITE];
            let mut head_lens = [0usize; FRAMES_PER_WRITE];
            for (i, frame) in frames.iter().take(count).enumerate() {
                let (opcode, payload) = frame_parts(frame);
                head_lens[i] = frame_header(opcode, payload.len(), &mut heads[i]);
            }
            let mut slices = [IoSlice::new(&[]); FRAMES_PER_WRITE * 2];
            let mut total = 0;
            for (i, frame) in frames.iter().take(count).enumerate() {
                let payload = frame_parts(frame).1;
                slices[2 * i] = IoSlice::new(&heads[i][..head_lens[i]]);
                slices[2 * i + 1] = IoSlice::new(payload);
                total += head_lens[i] + payload.len();
            }
            let written = match self.io.try_write_vectored(&slices[..count * 2]) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
                Err(e) => return Err(e),
            };
            if written < total {
                // Keep the rest, in order, for when the socket is writable.
                let mut skip = written;
                for slice in &slices[..count * 2] {
                    if skip >= slice.len() {
                        skip -= slice.len();
                        continue;
                    }
                    self.out.extend_from_slice(&slice[skip..]);
                    skip = 0;
                }
            }
            frames.drain(..count);
        }
        Ok(())
    }

    /// Appends a frame to the bytes waiting to be written.
    fn buffer(&mut self, opcode: u8, payload: &[u8]) {
        let mut head = [0u8; 10];
        let n = frame_header(opcode, payload.len(), &mut head);
        self.out.reserve(n + payload.len());
        self.out.put_slice(&head[..n]);
        self.out.put_slice(payload);
    }

    /// Writes what `out` holds until the socket would block.
    fn flush(&mut self) -> io::Result<()> {
        while !self.out.is_empty() {
            match self.io.try_write(&self.out) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.out.advance(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        self.out = BytesMut::new();
        Ok(())
    }

    /// Flushes what is left (bounded), sends a close frame, closes our side and waits a little
    /// for the client to close its side, so the close is orderly rather than a reset.
    async fn close(mut self, code: Option<u16>) {
        match code {
            Some(code) => self.buffer(0x8, &code.to_be_bytes()),
            None => self.buffer(0x8, &[]),
        }
        let out = std::mem::take(&mut self.out);
        let mut io = self.io;
        let flushed = async {
            io.write_all(&out).await?;
            io.shutdown().await
        };
        if !matches!(
            tokio::time::timeout(FLUSH_ON_CLOSE, flushed).await,
            Ok(Ok(()))
        ) {
            return;
        }
        let linger = async {
            let mut sink = [0u8; 512];
            loop {
                if io.readable().await.is_err() {
                    return;
                }
                match io.try_read(&mut sink) {
                    Ok(0) => return,
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(_) => return,
                }
            }
        };
        let _ = tokio::time::timeout(LINGER, linger).await;
    }
}

/// The payload length a client frame's header declares, once its header is complete.
fn declared_len(buf: &[u8]) -> Option<u64> {
    match *buf.get(1)? & 0x7f {
        126 => Some(u16::from_be_bytes([*buf.get(2)?, *buf.get(3)?]) as u64),
        127 => Some(u64::from_be_bytes(buf.get(2..10)?.try_into().ok()?)),
        n => Some(n as u64),
    }
}

/// A complete message: text must be UTF-8 (else close code 1007).
fn message(text: bool, data: BytesMut) -> Result<Event, u16> {
    if text {
        ByteString::try_from(data)
            .map(|t| Event::Message(Inbound::Text(t)))
            .map_err(|_| CLOSE_INVALID_DATA)
    } else {
        Ok(Event::Message(Inbound::Binary(data.freeze())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_use_the_shortest_length_form() {
        let mut h = [0u8; 10];
        assert_eq!(frame_header(0x1, 5, &mut h), 2);
        assert_eq!(&h[..2], &[0x81, 5]);
        assert_eq!(frame_header(0x2, 126, &mut h), 4);
        assert_eq!(&h[..4], &[0x82, 126, 0, 126]);
        assert_eq!(frame_header(0x2, 70_000, &mut h), 10);
        assert_eq!(h[1], 127);
        assert_eq!(u64::from_be_bytes(h[2..10].try_into().unwrap()), 70_000);
    }

    #[test]
    fn declared_lengths_are_read_from_incomplete_headers() {
        assert_eq!(declared_len(&[0x81]), None);
        assert_eq!(declared_len(&[0x81, 0x85]), Some(5));
        assert_eq!(declared_len(&[0x82, 0xfe, 0x01]), None);
        assert_eq!(declared_len(&[0x82, 0xfe, 0x01, 0x00]), Some(256));
        let mut huge = vec![0x82, 0xff];
        huge.extend_from_slice(&(1u64 << 40).to_be_bytes());
        assert_eq!(declared_len(&huge), Some(1 << 40));
    }

    #[test]
    fn invalid_utf8_text_is_refused_with_1007() {
        let bad = BytesMut::from(&[0xff, 0xfe][..]);
        assert!(matches!(message(true, bad), Err(CLOSE_INVALID_DATA)));
        let good = BytesMut::from("4hi");
        assert!(matches!(
            message(true, good),
            Ok(Event::Message(Inbound::Text(_)))
        ));
    }
}
