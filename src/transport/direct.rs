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
use std::future::poll_fn;
use std::io::{self, IoSlice};
use std::sync::Arc;
use std::time::Duration;

use actix_codec::Framed;
use actix_http::h1::Codec;
use actix_http::ws::{hash_key, verify_handshake};
use actix_http::{Request, StatusCode};
use bytes::{Buf, BufMut, BytesMut};
use bytestring::ByteString;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::frames::{frame_header, frame_parts, keep_unwritten, Event, FrameReader};
use super::websocket::{deliver, ended, next_batch, Next, WritePacing};
use super::{conn_info, route, CorsHeaders, EngineError, Route};
use crate::engine::conn::WsTake;
use crate::engine::session::UpgradeStarted;
use crate::engine::shared::{Engine, WsTask};
use crate::engine::{CloseReason, Conn, EngineState};
use crate::protocol::engineio::Frame;

/// How long a closing WebSocket may take to flush what was queued before it closes.
const FLUSH_ON_CLOSE: Duration = Duration::from_secs(2);
/// How long a closed WebSocket waits for the client to close its side.
const LINGER: Duration = Duration::from_secs(1);
/// Frames per vectored write (two slices each).
const FRAMES_PER_WRITE: usize = 32;
/// Bytes read per read call (one scratch buffer per thread).
const READ_CHUNK: usize = 16 * 1024;

/// Answers an upgrade request that actix-http handed over with its connection: refuses it with the
/// Engine.IO error, or switches protocols and spawns the connection's task. Returns at once, so
/// the HTTP dispatcher (and its buffers) is gone while the WebSocket lives.
pub(crate) async fn serve(
    engine: &Arc<Engine>,
    req: Request,
    framed: Framed<TcpStream, Codec>,
) -> io::Result<()> {
    let parts = framed.into_parts();
    let mut io = parts.io;
    let head = req.head();
    let cors = CorsHeaders::new(&engine.options, &head.headers);
    let query = head.uri.query().unwrap_or("");
    let conn = match route(engine, &head.method, &head.headers, query) {
        Route::WsOpen => None,
        Route::WsUpgrade(conn) => Some(conn),
        Route::Refuse(e) => return refuse(&mut io, e.status(), &cors, &e.body()).await,
        // A WebSocket request that is neither a handshake nor an upgrade (a polling transport with
        // upgrade headers): nothing here serves it.
        Route::Preflight | Route::Poll(_) | Route::PollOpen => {
            let body = EngineError::BadRequest.body();
            return refuse(&mut io, StatusCode::BAD_REQUEST, &cors, &body).await;
        }
    };
    if let Err(e) = verify_handshake(head) {
        return refuse(&mut io, StatusCode::BAD_REQUEST, &cors, &e.to_string()).await;
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

    let ws = engine.next_ws_generation();
    let socket = DirectWs::new(
        io,
        parts.read_buf,
        engine.options.max_payload,
        engine.options.write_delay,
    );
    match conn {
        None => {
            let info = conn_info(&head.headers, &head.uri, req.peer_addr(), false);
            let (conn, open) = engine.open_session(info, EngineState::WebSocket { ws });
            conn.push_one(Frame::Text(ByteString::from(open)));
            actix_rt::spawn(socket.run(engine.ws_task(), conn, ws));
        }
        Some(conn) => {
            if !conn.update_state(|s| s.begin_upgrade(ws)) {
                // The session cannot upgrade (already upgrading or upgraded): close at once.
                let task = engine.ws_task();
                actix_rt::spawn(async move {
                    socket.close(None, FLUSH_ON_CLOSE).await;
                    drop(task);
                });
                return Ok(());
            }
            conn.tell(UpgradeStarted { ws });
            actix_rt::spawn(socket.run(engine.ws_task(), conn, ws));
        }
    }
    Ok(())
}

/// Writes an error response and closes the connection.
async fn refuse(
    io: &mut TcpStream,
    status: StatusCode,
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
        "HTTP/1.1 {} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
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

/// How the connection's loop ended.
enum End {
    /// The session ended or moved on: flush what is left, then close.
    Finish,
    /// The client's side ended (close frame, EOF, error): close with this code, if any.
    Gone(CloseReason, Option<u16>),
}

/// One WebSocket connection: the socket, what was read but not parsed yet, the bytes accepted
/// for writing that the socket has not taken yet, and when to write.
struct DirectWs {
    io: TcpStream,
    reader: FrameReader,
    out: BytesMut,
    pacing: WritePacing,
}

impl DirectWs {
    fn new(io: TcpStream, rbuf: BytesMut, max_payload: usize, write_delay: Duration) -> Self {
        DirectWs {
            io,
            reader: FrameReader::new(rbuf, max_payload),
            out: BytesMut::new(),
            pacing: WritePacing::new(write_delay),
        }
    }

    /// Runs the connection until it ends; `task` counts it as running until then.
    async fn run(mut self, task: WsTask, conn: Arc<Conn>, ws: u64) {
        let mut batch: VecDeque<Frame> = VecDeque::new();
        // Made (boxed) only while written bytes wait: an idle task does not carry its state.
        let mut gone = None;
        // Frames that came with the upgrade request. (`process` and `close` are boxed: their
        // futures are large and rarely alive, and this task lives as long as the connection.)
        let mut end = Box::pin(self.process(&conn, ws)).await;
        while end.is_none() {
            tokio::select! {
                biased;
                // (One waker slot; `readable()` linked and unlinked a waiter every pass.)
                ready = poll_fn(|cx| self.io.poll_read_ready(cx)) => {
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
                ready = poll_fn(|cx| self.io.poll_write_ready(cx)), if !self.out.is_empty() => {
                    if ready.is_err() || self.flush().is_err() {
                        end = Some(End::Gone(CloseReason::TransportClose, None));
                    } else if self.out.is_empty() {
                        gone = None;
                    }
                }
                take = next_batch(&conn, ws, &mut batch, &mut self.pacing), if self.out.is_empty() => {
                    if take == WsTake::Finish {
                        end = Some(End::Finish);
                    } else if self.write_frames(&mut batch).is_err() {
                        end = Some(End::Gone(CloseReason::TransportClose, None));
                    }
                }
                // The session ended while the client is not taking what was written. (`select!`
                // builds every branch's future each pass, so the box is made inside.)
                _ = async { gone.get_or_insert_with(|| Box::pin(conn.ws_gone(ws))).await },
                    if !self.out.is_empty() => end = Some(End::Finish),
            }
        }
        match end {
            Some(End::Finish) => {
                // `next_batch` left the final frames in `batch` (none for a slow consumer); when
                // the session ended while earlier bytes were still unwritten, the queue is taken
                // here, so a drain flushes everything queued before the close frame.
                if batch.is_empty() {
                    let _ = conn.take_ws(ws, &mut batch);
                }
                for frame in batch.drain(..) {
                    let (opcode, payload) = frame_parts(&frame);
                    self.buffer(opcode, payload);
                }
                ended(&conn, ws, CloseReason::TransportClose);
                let flush_for = task.engine().flush_time(FLUSH_ON_CLOSE);
                Box::pin(self.close(None, flush_for)).await;
            }
            Some(End::Gone(reason, code)) => {
                ended(&conn, ws, reason);
                Box::pin(self.close(code, FLUSH_ON_CLOSE)).await;
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
            self.reader.push(&chunk[..n]);
            Ok(n)
        })
    }

    /// Handles every complete frame read so far; `Some` when the connection must end.
    async fn process(&mut self, conn: &Conn, ws: u64) -> Option<End> {
        let end = loop {
            let event = match self.reader.next_event() {
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
        self.reader.release_if_empty();
        end
    }

    /// Writes a batch: up to [`FRAMES_PER_WRITE`] frames per vectored write, straight from the
    /// payloads. What the socket does not take is copied to `out` and written when it is
    /// writable again.
    fn write_frames(&mut self, frames: &mut VecDeque<Frame>) -> io::Result<()> {
        if let [frame] = frames.make_contiguous() {
            // The usual batch: one packet, two slices, no arrays to fill.
            let (opcode, payload) = frame_parts(frame);
            let mut head = [0u8; 10];
            let n = frame_header(opcode, payload.len(), &mut head);
            if self.out.is_empty() {
                self.write_slices(&[IoSlice::new(&head[..n]), IoSlice::new(payload)])?;
                frames.clear();
                return Ok(());
            }
        }
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
            for (i, frame) in frames.iter().take(count).enumerate() {
                slices[2 * i] = IoSlice::new(&heads[i][..head_lens[i]]);
                slices[2 * i + 1] = IoSlice::new(frame_parts(frame).1);
            }
            self.write_slices(&slices[..count * 2])?;
            frames.drain(..count);
        }
        Ok(())
    }

    /// Writes `slices` with one vectored write; what the socket does not take waits in `out`.
    fn write_slices(&mut self, slices: &[IoSlice<'_>]) -> io::Result<()> {
        let written = match self.io.try_write_vectored(slices) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
            Err(e) => return Err(e),
        };
        keep_unwritten(slices, written, &mut self.out);
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

    /// Writes the close frame after what is buffered, within `flush_for`, closes our side and
    /// lingers a little for the client to close its side (an orderly close, not a reset).
    async fn close(mut self, code: Option<u16>, flush_for: Duration) {
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
        if !matches!(tokio::time::timeout(flush_for, flushed).await, Ok(Ok(()))) {
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
