//! The light client: raw TCP, the HTTP/1.1 upgrade to WebSocket (RFC 6455, client frames masked),
//! Engine.IO v4 over WebSocket (answers the server's ping `2` with `3`) and Socket.IO v5 packets
//! (`40` connect, `42` events, `43` acks). One `Conn` per simulated client; its buffers are reused,
//! and incoming packets are handed to a [`Handler`] as slices of the read buffer (no allocation on the
//! receive path unless a message is fragmented or larger than the buffer).

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine as _;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpSocket, TcpStream};

use crate::scan;
use crate::target::Target;

/// SHA-1 of `data`: the WebSocket handshake's `Sec-WebSocket-Accept` check (RFC 6455).
pub fn sha1_digest(data: &[u8]) -> [u8; 20] {
    use sha1::Digest;
    sha1::Sha1::digest(data).into()
}

const OP_CONT: u8 = 0x0;
pub const OP_TEXT: u8 = 0x1;
pub const OP_BINARY: u8 = 0x2;
pub const OP_CLOSE: u8 = 0x8;
pub const OP_PING: u8 = 0x9;
pub const OP_PONG: u8 = 0xA;

const WS_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/// Largest message accepted from a server (Engine.IO's default maxHttpBufferSize is 1 MB).
const MAX_MESSAGE: usize = 16 << 20;

/// What a client does with the Socket.IO packets of its namespace. Slices point into the read buffer.
pub trait Handler {
    /// Engine.IO's open packet arrived (the WebSocket session is up).
    fn on_open(&mut self) {}
    /// `40{"sid":...}`: the namespace accepted the client.
    fn on_connect(&mut self, _payload: &[u8]) {}
    /// `44{...}`: the namespace refused the client.
    fn on_connect_error(&mut self, _payload: &[u8]) {}
    /// `42["name",args...]`: `args` is the JSON text after the name's comma, without the closing `]`.
    fn on_event(&mut self, _name: &[u8], _args: &[u8]) {}
    /// `43<id>[args...]`: `args` is the JSON array's inside.
    fn on_ack(&mut self, _id: u64, _args: &[u8]) {}
}

/// A handler that ignores everything (used while holding idle connections).
pub struct Ignore;
impl Handler for Ignore {}

pub fn other(msg: impl Into<String>) -> io::Error {
    io::Error::other(msg.into())
}

/// Incoming bytes: `buf[pos..end]` is unparsed; fragmented messages are assembled in `frag`.
pub struct ReadBuf {
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    frag: Vec<u8>,
    frag_op: u8,
    in_frag: bool,
    frag_done: bool,
}

impl ReadBuf {
    fn new(size: usize) -> Self {
        ReadBuf {
            buf: vec![0; size.max(256)],
            pos: 0,
            end: 0,
            frag: Vec::new(),
            frag_op: 0,
            in_frag: false,
            frag_done: false,
        }
    }

    /// One non-blocking read into the free space (compacting or growing first when needed).
    /// `Err(WouldBlock)` when nothing is ready; `Err(UnexpectedEof)` when the peer closed.
    pub fn fill(&mut self, stream: &TcpStream) -> io::Result<usize> {
        if self.pos == self.end {
            self.pos = 0;
            self.end = 0;
        } else if self.end == self.buf.len() || self.pos > self.buf.len() / 2 {
            if self.pos > 0 {
                self.buf.copy_within(self.pos..self.end, 0);
                self.end -= self.pos;
                self.pos = 0;
            }
            if self.end == self.buf.len() {
                let n = self.buf.len() * 2;
                self.buf.resize(n, 0);
            }
        }
        let n = stream.try_read(&mut self.buf[self.end..])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "server closed the connection",
            ));
        }
        self.end += n;
        Ok(n)
    }

    /// The next complete WebSocket message (data or control): `(opcode, payload)`.
    fn next_message(&mut self) -> io::Result<Option<(u8, &[u8])>> {
        if self.frag_done {
            self.frag.clear();
            self.frag_done = false;
        }
        loop {
            let avail = &self.buf[self.pos..self.end];
            if avail.len() < 2 {
                return Ok(None);
            }
            let (b0, b1) = (avail[0], avail[1]);
            let fin = b0 & 0x80 != 0;
            let op = b0 & 0x0F;
            let masked = b1 & 0x80 != 0;
            let mut len = (b1 & 0x7F) as u64;
            let mut hdr = 2usize;
            if len == 126 {
                if avail.len() < 4 {
                    return Ok(None);
                }
                len = u16::from_be_bytes([avail[2], avail[3]]) as u64;
                hdr = 4;
            } else if len == 127 {
                if avail.len() < 10 {
                    return Ok(None);
                }
                let mut b = [0u8; 8];
                b.copy_from_slice(&avail[2..10]);
                len = u64::from_be_bytes(b);
                hdr = 10;
            }
            if masked {
                hdr += 4;
            }
            if len > MAX_MESSAGE as u64 {
                return Err(other(format!("frame of {len} bytes is too large")));
            }
            let total = hdr + len as usize;
            if avail.len() < total {
                return Ok(None);
            }
            let start = self.pos + hdr;
            let end = self.pos + total;
            if masked {
                let key = [
                    self.buf[start - 4],
                    self.buf[start - 3],
                    self.buf[start - 2],
                    self.buf[start - 1],
                ];
                for (i, b) in self.buf[start..end].iter_mut().enumerate() {
                    *b ^= key[i & 3];
                }
            }
            self.pos += total;
            match op {
                OP_CLOSE | OP_PING | OP_PONG => return Ok(Some((op, &self.buf[start..end]))),
                OP_CONT => {
                    if !self.in_frag {
                        return Err(other("continuation frame without a first fragment"));
                    }
                    if self.frag.len() + (end - start) > MAX_MESSAGE {
                        return Err(other("fragmented message is too large"));
                    }
                    self.frag.extend_from_slice(&self.buf[start..end]);
                    if fin {
                        self.in_frag = false;
                        self.frag_done = true;
                        return Ok(Some((self.frag_op, &self.frag)));
                    }
                }
                OP_TEXT | OP_BINARY => {
                    if self.in_frag {
                        return Err(other("new data frame inside a fragmented message"));
                    }
                    if fin {
                        return Ok(Some((op, &self.buf[start..end])));
                    }
                    self.in_frag = true;
                    self.frag_op = op;
                    self.frag.clear();
                    self.frag.extend_from_slice(&self.buf[start..end]);
                }
                other_op => return Err(other(format!("unknown WebSocket opcode {other_op}"))),
            }
        }
    }
}

/// Outgoing frames, masked, waiting to be written: `buf[pos..]`.
pub struct WriteBuf {
    buf: Vec<u8>,
    pos: usize,
    /// Where a packet's payload is built before it is framed and masked.
    scratch: Vec<u8>,
    rng: u32,
}

impl WriteBuf {
    fn new() -> Self {
        WriteBuf {
            buf: Vec::with_capacity(512),
            pos: 0,
            scratch: Vec::with_capacity(256),
            rng: rand::random::<u32>() | 1,
        }
    }

    pub fn pending(&self) -> bool {
        self.pos < self.buf.len()
    }

    fn next_mask(&mut self) -> [u8; 4] {
        // xorshift32: masks need not be cryptographic for a load generator on loopback.
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.rng = x;
        x.to_le_bytes()
    }

    /// Appends one masked frame carrying `payload`.
    pub fn frame(&mut self, op: u8, payload: &[u8]) {
        let len = payload.len();
        self.buf.push(0x80 | op);
        if len < 126 {
            self.buf.push(0x80 | len as u8);
        } else if len < 65536 {
            self.buf.push(0x80 | 126);
            self.buf.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            self.buf.push(0x80 | 127);
            self.buf.extend_from_slice(&(len as u64).to_be_bytes());
        }
        let key = self.next_mask();
        self.buf.extend_from_slice(&key);
        let start = self.buf.len();
        self.buf.extend_from_slice(payload);
        for (i, b) in self.buf[start..].iter_mut().enumerate() {
            *b ^= key[i & 3];
        }
    }

    /// Builds a text frame's payload with `build` (into a reused scratch buffer) and appends it.
    pub fn text_with(&mut self, build: impl FnOnce(&mut Vec<u8>)) {
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        build(&mut scratch);
        self.frame(OP_TEXT, &scratch);
        self.scratch = scratch;
    }

    /// Writes what the socket takes now; `Ok(true)` once everything queued is written.
    pub fn try_flush(&mut self, stream: &TcpStream) -> io::Result<bool> {
        while self.pos < self.buf.len() {
            match stream.try_write(&self.buf[self.pos..]) {
                Ok(0) => return Err(other("socket accepted no bytes")),
                Ok(n) => self.pos += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        self.buf.clear();
        self.pos = 0;
        Ok(true)
    }
}

/// One Socket.IO client over one WebSocket connection.
pub struct Conn {
    pub stream: TcpStream,
    pub rd: ReadBuf,
    pub wr: WriteBuf,
    /// Namespace prefix written before packet data (`/nsp,`), empty for `/`.
    nsp_prefix: Vec<u8>,
    next_ack: u64,
    /// Binary frames received (Socket.IO attachments): not parsed, only counted.
    pub binary_frames: u64,
}

/// Options of the connection handshake.
#[derive(Debug, Clone)]
pub struct ConnectOpts {
    pub read_buffer: usize,
    /// JSON sent with the Socket.IO CONNECT packet (e.g. `{"token":"..."}`), if any.
    pub auth: Option<String>,
    pub verify_accept: bool,
}

impl Conn {
    /// TCP connect (from `source` if given), WebSocket upgrade, Engine.IO open, Socket.IO connect.
    pub async fn connect(
        target: &Target,
        source: Option<std::net::IpAddr>,
        opts: &ConnectOpts,
    ) -> io::Result<Conn> {
        let socket = if target.addr.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        if let Some(ip) = source {
            socket.bind(SocketAddr::new(ip, 0))?;
        }
        let mut stream = socket.connect(target.addr).await?;
        stream.set_nodelay(true)?;

        let key_bytes: [u8; 16] = rand::random();
        let key = base64::engine::general_purpose::STANDARD.encode(key_bytes);
        let request = format!(
            "GET {}?EIO=4&transport=websocket HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: {}\r\nSec-WebSocket-Version: 13\r\n\r\n",
            target.path, target.host_header, key
        );
        stream.write_all(request.as_bytes()).await?;

        let nsp_prefix = if target.namespace == "/" {
            Vec::new()
        } else {
            format!("{},", target.namespace).into_bytes()
        };
        let mut conn = Conn {
            stream,
            rd: ReadBuf::new(opts.read_buffer),
            wr: WriteBuf::new(),
            nsp_prefix,
            next_ack: 1,
            binary_frames: 0,
        };

        // The HTTP response head.
        let head_len = loop {
            let data = &conn.rd.buf[conn.rd.pos..conn.rd.end];
            if let Some(i) = scan::find(data, b"\r\n\r\n") {
                break i + 4;
            }
            if data.len() > 16 * 1024 {
                return Err(other("HTTP response head too long"));
            }
            conn.read_some().await?;
        };
        let head = &conn.rd.buf[conn.rd.pos..conn.rd.pos + head_len];
        let head = String::from_utf8_lossy(head);
        let status = head.lines().next().unwrap_or("");
        if !status.starts_with("HTTP/1.1 101") {
            return Err(other(format!(
                "WebSocket upgrade refused: {}",
                status.trim()
            )));
        }
        if opts.verify_accept {
            let expect = base64::engine::general_purpose::STANDARD
                .encode(sha1_digest(format!("{key}{WS_GUID}").as_bytes()));
            let got = head.lines().find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.trim()
                    .eq_ignore_ascii_case("sec-websocket-accept")
                    .then(|| value.trim().to_owned())
            });
            if got.as_deref() != Some(expect.as_str()) {
                return Err(other("bad Sec-WebSocket-Accept in the upgrade response"));
            }
        }
        conn.rd.pos += head_len;

        // Engine.IO open packet, then Socket.IO CONNECT.
        let mut st = SetupState::default();
        conn.pump_until(&mut st, |s| s.open).await?;
        let auth = opts.auth.clone();
        let prefix = conn.nsp_prefix.clone();
        conn.wr.text_with(|b| {
            b.extend_from_slice(b"40");
            b.extend_from_slice(&prefix);
            if let Some(a) = &auth {
                b.extend_from_slice(a.as_bytes());
            }
        });
        conn.pump_until(&mut st, |s| s.connected.is_some()).await?;
        match st.connected.take() {
            Some(Ok(())) => Ok(conn),
            Some(Err(e)) => Err(other(format!("Socket.IO connect refused: {e}"))),
            None => Err(other("no Socket.IO connect answer")),
        }
    }

    /// Waits until the socket is readable and reads once into the buffer.
    pub async fn read_some(&mut self) -> io::Result<()> {
        loop {
            self.stream.readable().await?;
            match self.rd.fill(&self.stream) {
                Ok(_) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Writes everything queued, waiting for the socket as needed.
    pub async fn flush(&mut self) -> io::Result<()> {
        while !self.wr.try_flush(&self.stream)? {
            self.stream.writable().await?;
        }
        Ok(())
    }

    /// Reads and handles packets until `done(state)` holds (used during setup: connect, join).
    async fn pump_until(
        &mut self,
        st: &mut SetupState,
        done: impl Fn(&SetupState) -> bool,
    ) -> io::Result<()> {
        loop {
            self.process(st)?;
            if self.wr.pending() {
                self.flush().await?;
            }
            if done(st) {
                return Ok(());
            }
            self.read_some().await?;
        }
    }

    /// Emits `name` with an ack and JSON `args` (the text inside the array after the name) and
    /// waits for the ack, returning its arguments (setup only: allocates).
    pub async fn call(&mut self, name: &str, args: &str, timeout: Duration) -> io::Result<Vec<u8>> {
        let id = self.emit(name, true, |b| b.extend_from_slice(args.as_bytes()));
        let mut st = SetupState {
            open: true,
            want_ack: Some(id),
            ..SetupState::default()
        };
        self.flush().await?;
        match tokio::time::timeout(timeout, self.pump_until(&mut st, |s| s.ack.is_some())).await {
            Ok(r) => r?,
            Err(_) => return Err(other(format!("no ack for {name:?} within {timeout:?}"))),
        }
        Ok(st.ack.take().unwrap_or_default())
    }

    /// Queues `42[<ack id>]["name",<args>]`; returns the ack id (0 when no ack is asked).
    /// `args` writes the JSON of the arguments (comma-separated) after the name.
    pub fn emit(&mut self, name: &str, with_ack: bool, args: impl FnOnce(&mut Vec<u8>)) -> u64 {
        let id = if with_ack {
            let id = self.next_ack;
            self.next_ack += 1;
            id
        } else {
            0
        };
        let prefix = &self.nsp_prefix;
        self.wr.text_with(|b| {
            b.extend_from_slice(b"42");
            b.extend_from_slice(prefix);
            if with_ack {
                scan::push_u64(b, id);
            }
            b.extend_from_slice(b"[\"");
            b.extend_from_slice(name.as_bytes());
            b.push(b'"');
            let before = b.len();
            b.push(b',');
            args(b);
            if b.len() == before + 1 {
                b.pop();
            }
            b.push(b']');
        });
        id
    }

    /// The socket became readable: read what is there, handle it, and flush any answers.
    pub fn on_readable<H: Handler>(&mut self, h: &mut H) -> io::Result<()> {
        match self.rd.fill(&self.stream) {
            Ok(_) => self.process(h)?,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
        self.on_writable()
    }

    /// The socket became writable (or may be): write what is pending.
    pub fn on_writable(&mut self) -> io::Result<()> {
        if self.wr.pending() {
            self.wr.try_flush(&self.stream)?;
        }
        Ok(())
    }

    /// Handles every complete message in the read buffer: answers WebSocket pings and Engine.IO
    /// pings, hands Socket.IO packets of our namespace to `h`. An error means the connection is over.
    pub fn process<H: Handler>(&mut self, h: &mut H) -> io::Result<()> {
        loop {
            let (op, data) = match self.rd.next_message()? {
                Some(m) => m,
                None => return Ok(()),
            };
            match op {
                OP_TEXT => {
                    if data.is_empty() {
                        continue;
                    }
                    match data[0] {
                        b'2' => {
                            // Engine.IO ping (also `2probe`): answer pong with the same suffix.
                            let suffix = &data[1..];
                            self.wr.text_with(|b| {
                                b.push(b'3');
                                b.extend_from_slice(suffix);
                            });
                        }
                        b'4' => {
                            let packet = dispatch_socketio(&data[1..], &self.nsp_prefix, h);
                            if packet == Some(Packet::Disconnect) {
                                return Err(io::Error::new(
                                    io::ErrorKind::ConnectionAborted,
                                    "Socket.IO DISCONNECT from the server",
                                ));
                            }
                        }
                        b'1' => return Err(other("Engine.IO close packet from the server")),
                        b'0' => h.on_open(),
                        _ => {} // pong, noop, upgrade
                    }
                }
                OP_BINARY => self.binary_frames += 1,
                OP_PING => {
                    let payload = data.to_vec();
                    self.wr.frame(OP_PONG, &payload);
                }
                OP_PONG => {}
                OP_CLOSE => {
                    let code = data.get(..2).map(|c| c.to_vec()).unwrap_or_default();
                    self.wr.frame(OP_CLOSE, &code);
                    let _ = self.wr.try_flush(&self.stream);
                    return Err(io::Error::new(
                        io::ErrorKind::ConnectionAborted,
                        "WebSocket close frame from the server",
                    ));
                }
                _ => {}
            }
        }
    }
}

/// Parses a Socket.IO packet (the part after Engine.IO's `4`) and calls the handler.
/// Returns `None` for packets it ignores (other namespaces, binary packets, malformed ones).
fn dispatch_socketio<H: Handler>(p: &[u8], nsp_prefix: &[u8], h: &mut H) -> Option<Packet> {
    let (&ty, mut rest) = p.split_first()?;
    // Binary packets `5`/`6` start with `<attachments>-`: not parsed, their frames are counted.
    if ty == b'5' || ty == b'6' {
        return None;
    }
    if rest.first() == Some(&b'/') {
        let comma = rest.iter().position(|&c| c == b',').unwrap_or(rest.len());
        let nsp = &rest[..comma];
        if nsp_prefix.is_empty() || &nsp_prefix[..nsp_prefix.len() - 1] != nsp {
            return None;
        }
        rest = rest.get(comma + 1..).unwrap_or(&[]);
    } else if !nsp_prefix.is_empty() {
        return None;
    }
    match ty {
        b'0' => h.on_connect(rest),
        b'4' => h.on_connect_error(rest),
        b'1' => {
            h.on_connect_error(b"{\"message\":\"disconnected by the server\"}");
            return Some(Packet::Disconnect);
        }
        b'2' => {
            let (_, n) = scan::parse_u64(rest);
            let data = &rest[n..];
            let (name, args) = scan::split_event(data)?;
            h.on_event(name, args);
        }
        b'3' => {
            let (id, n) = scan::parse_u64(rest);
            if n == 0 {
                return None;
            }
            let data = &rest[n..];
            if data.len() < 2 || data[0] != b'[' || data[data.len() - 1] != b']' {
                return None;
            }
            h.on_ack(id, &data[1..data.len() - 1]);
        }
        _ => {}
    }
    Some(Packet::Other)
}

#[derive(Debug, PartialEq, Eq)]
enum Packet {
    Disconnect,
    Other,
}

/// What setup steps wait for.
#[derive(Default)]
struct SetupState {
    open: bool,
    connected: Option<Result<(), String>>,
    want_ack: Option<u64>,
    ack: Option<Vec<u8>>,
}

impl Handler for SetupState {
    fn on_open(&mut self) {
        self.open = true;
    }
    fn on_connect(&mut self, _payload: &[u8]) {
        self.connected = Some(Ok(()));
    }
    fn on_connect_error(&mut self, payload: &[u8]) {
        self.connected = Some(Err(String::from_utf8_lossy(payload).into_owned()));
    }
    fn on_ack(&mut self, id: u64, args: &[u8]) {
        if self.want_ack == Some(id) {
            self.ack = Some(args.to_vec());
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sha1_digest_gives_the_rfc_6455_accept_key() {
        use base64::Engine as _;
        let digest =
            super::sha1_digest(b"dGhlIHNhbXBsZSBub25jZQ==258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
        assert_eq!(
            base64::engine::general_purpose::STANDARD.encode(digest),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    use super::*;

    fn reader(bytes: &[u8]) -> ReadBuf {
        let mut rd = ReadBuf::new(256);
        rd.buf[..bytes.len()].copy_from_slice(bytes);
        rd.end = bytes.len();
        rd
    }

    #[derive(Default)]
    struct Rec {
        events: Vec<(Vec<u8>, Vec<u8>)>,
        acks: Vec<(u64, Vec<u8>)>,
        connected: bool,
    }

    impl Handler for Rec {
        fn on_connect(&mut self, _payload: &[u8]) {
            self.connected = true;
        }
        fn on_event(&mut self, name: &[u8], args: &[u8]) {
            self.events.push((name.to_vec(), args.to_vec()));
        }
        fn on_ack(&mut self, id: u64, args: &[u8]) {
            self.acks.push((id, args.to_vec()));
        }
    }

    #[test]
    fn frames_fragments_and_masks() {
        let mut bytes = vec![0x01, 3, b'4', b'2', b'['];
        bytes.extend_from_slice(&[0x89, 1, b'p']); // ping between fragments
        bytes.extend_from_slice(&[0x80, 2, b'1', b']']);
        // a masked text frame "abc" with key 1,2,3,4
        bytes.extend_from_slice(&[0x81, 0x83, 1, 2, 3, 4, b'a' ^ 1, b'b' ^ 2, b'c' ^ 3]);
        bytes.extend_from_slice(&[0x81, 5]); // incomplete
        let mut rd = reader(&bytes);
        let (op, data) = rd.next_message().unwrap().unwrap();
        assert_eq!((op, data), (OP_PING, &b"p"[..]));
        let (op, data) = rd.next_message().unwrap().unwrap();
        assert_eq!((op, data), (OP_TEXT, &b"42[1]"[..]));
        let (op, data) = rd.next_message().unwrap().unwrap();
        assert_eq!((op, data), (OP_TEXT, &b"abc"[..]));
        assert!(rd.next_message().unwrap().is_none());
    }

    #[test]
    fn extended_lengths() {
        let payload = vec![b'x'; 300];
        let mut bytes = vec![0x82, 126, 1, 44];
        bytes.extend_from_slice(&payload);
        let mut rd = ReadBuf::new(512);
        rd.buf[..bytes.len()].copy_from_slice(&bytes);
        rd.end = bytes.len();
        let (op, data) = rd.next_message().unwrap().unwrap();
        assert_eq!(op, OP_BINARY);
        assert_eq!(data.len(), 300);
    }

    #[test]
    fn socketio_packets() {
        let mut h = Rec::default();
        dispatch_socketio(br#"0{"sid":"abc"}"#, b"", &mut h);
        dispatch_socketio(br#"2["msg",{"p":1}]"#, b"", &mut h);
        dispatch_socketio(br#"27["msg",1,2]"#, b"", &mut h);
        dispatch_socketio(br#"312[{"ok":true}]"#, b"", &mut h);
        dispatch_socketio(br#"2/other,["msg",1]"#, b"", &mut h);
        assert!(h.connected);
        assert_eq!(h.events.len(), 2);
        assert_eq!(h.events[0].1, br#"{"p":1}"#);
        assert_eq!(h.events[1].1, b"1,2");
        assert_eq!(h.acks, vec![(12, br#"{"ok":true}"#.to_vec())]);
        let mut h = Rec::default();
        dispatch_socketio(br#"2/chat,["msg",1]"#, b"/chat,", &mut h);
        dispatch_socketio(br#"2["msg",2]"#, b"/chat,", &mut h);
        assert_eq!(h.events.len(), 1);
        assert_eq!(
            dispatch_socketio(b"1", b"", &mut h),
            Some(Packet::Disconnect)
        );
    }

    #[test]
    fn client_frames_are_masked() {
        let mut wr = WriteBuf::new();
        wr.text_with(|b| b.extend_from_slice(b"40"));
        let f = &wr.buf;
        assert_eq!(f[0], 0x81);
        assert_eq!(f[1], 0x80 | 2);
        let key = &f[2..6];
        assert_eq!([f[6] ^ key[0], f[7] ^ key[1]], *b"40");
    }
}
