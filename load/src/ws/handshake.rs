//! Setting a connection up: TCP (from a chosen source address), the HTTP/1.1 upgrade to WebSocket
//! with its Sec-WebSocket-Accept check, Engine.IO's open packet and Socket.IO's CONNECT; and the
//! emit-then-wait-for-the-ack call that setup steps such as joins use.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use base64::Engine as _;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpSocket, TcpStream};

use super::frame::{ReadBuf, WriteBuf};
use super::{other, Conn, ConnectOpts, Handler};
use crate::scan;
use crate::target::Target;

const WS_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// SHA-1 of `data`: the WebSocket handshake's `Sec-WebSocket-Accept` check (RFC 6455).
pub fn sha1_digest(data: &[u8]) -> [u8; 20] {
    use sha1::Digest;
    sha1::Sha1::digest(data).into()
}

/// A TCP connection to the target, from `source` if given, without Nagle's delay.
pub(crate) async fn tcp(target: &Target, source: Option<IpAddr>) -> io::Result<TcpStream> {
    let socket = if target.addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    if let Some(ip) = source {
        socket.bind(SocketAddr::new(ip, 0))?;
    }
    let stream = socket.connect(target.addr).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

impl Conn {
    /// TCP connect (from `source` if given), WebSocket upgrade, Engine.IO open, Socket.IO connect.
    pub async fn connect(
        target: &Target,
        source: Option<IpAddr>,
        opts: &ConnectOpts,
    ) -> io::Result<Conn> {
        let mut stream = tcp(target, source).await?;
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
            connect_answer: Vec::new(),
            early_events: Vec::new(),
        };
        conn.upgrade_response(&key, opts.verify_accept).await?;
        conn.socketio_connect(opts.auth.as_deref()).await?;
        Ok(conn)
    }

    /// Reads the HTTP response head of the upgrade: it must be a 101, with the accept key of `key`
    /// if `verify`.
    async fn upgrade_response(&mut self, key: &str, verify: bool) -> io::Result<()> {
        let head_len = loop {
            let data = self.rd.unread();
            if let Some(i) = scan::find(data, b"\r\n\r\n") {
                break i + 4;
            }
            if data.len() > 16 * 1024 {
                return Err(other("HTTP response head too long"));
            }
            self.read_some().await?;
        };
        let head = String::from_utf8_lossy(&self.rd.unread()[..head_len]);
        let status = head.lines().next().unwrap_or("");
        if !status.starts_with("HTTP/1.1 101") {
            return Err(other(format!(
                "WebSocket upgrade refused: {}",
                status.trim()
            )));
        }
        if verify {
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
        self.rd.consume(head_len);
        Ok(())
    }

    /// Waits for Engine.IO's open packet, then sends Socket.IO's CONNECT (with `auth`) and waits
    /// for the namespace's answer.
    async fn socketio_connect(&mut self, auth: Option<&str>) -> io::Result<()> {
        let mut st = SetupState::default();
        self.pump_until(&mut st, |s| s.open).await?;
        let prefix = self.nsp_prefix.clone();
        self.wr.text_with(|b| {
            b.extend_from_slice(b"40");
            b.extend_from_slice(&prefix);
            if let Some(a) = auth {
                b.extend_from_slice(a.as_bytes());
            }
        });
        self.pump_until(&mut st, |s| s.connected.is_some()).await?;
        match st.connected.take() {
            Some(Ok(answer)) => {
                self.connect_answer = answer;
                self.early_events = std::mem::take(&mut st.early);
                Ok(())
            }
            Some(Err(e)) => Err(other(format!("Socket.IO connect refused: {e}"))),
            None => Err(other("no Socket.IO connect answer")),
        }
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
}

/// What setup steps wait for.
#[derive(Default)]
struct SetupState {
    open: bool,
    /// The namespace's answer: the CONNECT payload (`{"sid":…}`) or the refusal.
    connected: Option<Result<Vec<u8>, String>>,
    want_ack: Option<u64>,
    ack: Option<Vec<u8>>,
    /// Events that came before the CONNECT answer (name, arguments).
    early: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Handler for SetupState {
    fn on_open(&mut self) {
        self.open = true;
    }
    fn on_connect(&mut self, payload: &[u8]) {
        self.connected = Some(Ok(payload.to_vec()));
    }
    fn on_event(&mut self, name: &[u8], args: &[u8]) {
        if self.open && self.connected.is_none() && self.want_ack.is_none() {
            self.early.push((name.to_vec(), args.to_vec()));
        }
    }
    fn on_connect_error(&mut self, payload: &[u8]) {
        self.connected = Some(Err(String::from_utf8_lossy(payload).into_owned()));
    }
    fn on_ack(&mut self, id: u64, args: &[u8]) {
        if self.want_ack == Some(id) {
            self.ack = Some(args.to_vec());
        }
    }
    fn paused(&self) -> bool {
        self.connected.is_some() || self.ack.is_some()
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
}
