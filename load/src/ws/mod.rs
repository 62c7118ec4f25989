//! The light client: raw TCP, the HTTP/1.1 upgrade to WebSocket (RFC 6455, client frames masked),
//! Engine.IO v4 over WebSocket (answers the server's ping `2` with `3`) and Socket.IO v5 packets
//! (`40` connect, `42` events, `43` acks). One `Conn` per simulated client; its buffers are reused,
//! and incoming packets are handed to a [`Handler`] as slices of the read buffer (no allocation on the
//! receive path unless a message is fragmented or larger than the buffer).
//!
//! Its parts: `frame` (WebSocket framing), `handshake` (setting a connection up, and the setup
//! call); here, the connection and what it does with the packets that arrive.

mod frame;
mod handshake;
pub(crate) use self::handshake::tcp;

use std::io;

use tokio::net::TcpStream;

use self::frame::{ReadBuf, WriteBuf, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG, OP_TEXT};
pub use self::handshake::sha1_digest;
use crate::scan;

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
    /// `45<n>-["name",args...]`: an event with `n` binary attachments, which follow as binary
    /// frames (each handed to [`Handler::on_attachment`]); `args` as for `on_event`.
    fn on_binary_event(&mut self, _name: &[u8], _args: &[u8], _attachments: u64) {}
    /// A binary WebSocket frame: an attachment of the last binary event.
    fn on_attachment(&mut self, _data: &[u8]) {}
    /// Whether the handler takes no more packets for now: [`Conn::process`] then stops and leaves
    /// the rest in the read buffer for the next handler (a setup step stops at the answer it
    /// waits for, so that the packets right behind it, such as a recovered session's missed
    /// ones, are not lost).
    fn paused(&self) -> bool {
        false
    }
}

/// A handler that ignores everything (used while holding idle connections).
pub struct Ignore;
impl Handler for Ignore {}

pub fn other(msg: impl Into<String>) -> io::Error {
    io::Error::other(msg.into())
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
    /// The payload of the namespace's CONNECT answer (`{"sid":"…"}`, with `"pid"` when the server
    /// keeps sessions for connection state recovery).
    pub connect_answer: Vec<u8>,
    /// Events the server sent before its CONNECT answer (name, arguments), in order: Socket.IO
    /// servers send a recovered session's missed packets first, and socket.io-client buffers
    /// them until it is connected.
    pub early_events: Vec<(Vec<u8>, Vec<u8>)>,
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

    /// Queues `42[<ack id>]["name",<args>]`; returns the ack id (0 when no ack is asked).
    /// `args` writes the JSON of the arguments (comma-separated) after the name.
    pub fn emit(&mut self, name: &str, with_ack: bool, args: impl FnOnce(&mut Vec<u8>)) -> u64 {
        self.emit_as(b"42", name, with_ack, args)
    }

    /// Queues `451-[<ack id>]["name",<args>]` and then `attachment` as one binary frame: `args`
    /// must hold the placeholder `{"_placeholder":true,"num":0}` where the attachment goes.
    pub fn emit_binary(
        &mut self,
        name: &str,
        with_ack: bool,
        args: impl FnOnce(&mut Vec<u8>),
        attachment: &[u8],
    ) -> u64 {
        let id = self.emit_as(b"451-", name, with_ack, args);
        self.wr.frame(OP_BINARY, attachment);
        id
    }

    fn emit_as(
        &mut self,
        kind: &[u8],
        name: &str,
        with_ack: bool,
        args: impl FnOnce(&mut Vec<u8>),
    ) -> u64 {
        let id = if with_ack {
            let id = self.next_ack;
            self.next_ack += 1;
            id
        } else {
            0
        };
        let prefix = &self.nsp_prefix;
        self.wr.text_with(|b| {
            b.extend_from_slice(kind);
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
    /// pings, hands Socket.IO packets of our namespace to `h` (until it is [`Handler::paused`]).
    /// An error means the connection is over.
    pub fn process<H: Handler>(&mut self, h: &mut H) -> io::Result<()> {
        loop {
            if h.paused() {
                return Ok(());
            }
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
                OP_BINARY => {
                    self.binary_frames += 1;
                    h.on_attachment(data);
                }
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
pub(crate) fn dispatch_socketio<H: Handler>(
    p: &[u8],
    nsp_prefix: &[u8],
    h: &mut H,
) -> Option<Packet> {
    let (&ty, mut rest) = p.split_first()?;
    // Binary packets start with `<attachments>-`; binary acks (`6`) are not parsed.
    let mut attachments = 0;
    if ty == b'5' {
        let (n, len) = scan::parse_u64(rest);
        if len == 0 || rest.get(len) != Some(&b'-') {
            return None;
        }
        attachments = n;
        rest = &rest[len + 1..];
    } else if ty == b'6' {
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
        b'5' => {
            let (_, n) = scan::parse_u64(rest);
            let (name, args) = scan::split_event(&rest[n..])?;
            h.on_binary_event(name, args, attachments);
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
pub(crate) enum Packet {
    Disconnect,
    Other,
}

#[cfg(test)]
mod tests {
    use super::*;

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
        fn on_binary_event(&mut self, name: &[u8], args: &[u8], n: u64) {
            self.events.push((name.to_vec(), args.to_vec()));
            self.acks.push((n, b"binary".to_vec()));
        }
    }

    #[test]
    fn binary_events() {
        let mut h = Rec::default();
        dispatch_socketio(
            br#"51-["msg",{"p":1},{"_placeholder":true,"num":0}]"#,
            b"",
            &mut h,
        );
        dispatch_socketio(br#"5x-["msg",1]"#, b"", &mut h);
        assert_eq!(h.events.len(), 1);
        assert_eq!(h.events[0].1, br#"{"p":1},{"_placeholder":true,"num":0}"#);
        assert_eq!(h.acks, vec![(1, b"binary".to_vec())]);
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
}
