//! A light Engine.IO v4 long-polling client (never upgraded): HTTP/1.1 over one keep-alive TCP
//! connection per client, requests one at a time (the GET that waits for packets, then the POST
//! that answers a ping, if any). The handshake GET gives the sid; `40` is POSTed and the namespace's
//! CONNECT awaited; events and acks are handed to a [`Handler`] as the WebSocket client does. The
//! response body is reused between requests, and packets are parsed in place.

use std::io;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::scan;
use crate::target::Target;
use crate::ws::{dispatch_socketio, other, tcp, Handler, Packet};

/// Engine.IO's record separator between the packets of one polling payload.
const SEP: u8 = 0x1e;
/// The largest response body taken.
const MAX_BODY: usize = 16 << 20;

/// One long-polling Socket.IO client.
pub struct PollConn {
    stream: TcpStream,
    /// The request target with the sid, e.g. `/socket.io/?EIO=4&transport=polling&sid=…`.
    uri: String,
    host: String,
    nsp_prefix: Vec<u8>,
    /// Bytes read and not yet consumed; the last response's body.
    buf: Vec<u8>,
    body: Vec<u8>,
    next_ack: u64,
    /// Pings received and not yet answered.
    pongs_due: usize,
}

/// Collects an ack, remembering everything else for nobody (setup calls only).
struct AckWait {
    id: u64,
    ack: Option<Vec<u8>>,
    connected: bool,
}

impl Handler for AckWait {
    fn on_connect(&mut self, _payload: &[u8]) {
        self.connected = true;
    }
    fn on_ack(&mut self, id: u64, args: &[u8]) {
        if id == self.id {
            self.ack = Some(args.to_vec());
        }
    }
}

impl PollConn {
    /// TCP connect (from `source`), the Engine.IO handshake GET, and Socket.IO's CONNECT.
    pub async fn connect(
        target: &Target,
        source: Option<IpAddr>,
        timeout: Duration,
    ) -> io::Result<PollConn> {
        let stream = tcp(target, source).await?;
        let mut c = PollConn {
            stream,
            uri: format!("{}?EIO=4&transport=polling", target.path),
            host: target.host_header.clone(),
            nsp_prefix: if target.namespace == "/" {
                Vec::new()
            } else {
                format!("{},", target.namespace).into_bytes()
            },
            buf: Vec::with_capacity(4096),
            body: Vec::with_capacity(4096),
            next_ack: 1,
            pongs_due: 0,
        };
        c.request("GET", &[]).await?;
        let open = c.body.strip_prefix(b"0").ok_or_else(|| {
            other(format!(
                "expected an Engine.IO open packet, got {:?}",
                String::from_utf8_lossy(&c.body)
            ))
        })?;
        let at =
            scan::find(open, b"\"sid\":\"").ok_or_else(|| other("no sid in the open packet"))?;
        let rest = &open[at + 7..];
        let end = rest.iter().position(|&b| b == b'"').unwrap_or(0);
        let sid = String::from_utf8_lossy(&rest[..end]).into_owned();
        c.uri = format!("{}&sid={sid}", c.uri);
        let mut connect = b"40".to_vec();
        connect.extend_from_slice(&c.nsp_prefix);
        c.post(&connect).await?;
        let mut w = AckWait {
            id: 0,
            ack: None,
            connected: false,
        };
        let until = Instant::now() + timeout;
        while !w.connected {
            c.poll_until(&mut w, until).await?;
        }
        Ok(c)
    }

    /// Emits `name` with `args` (JSON text) and an ack, then polls until the ack comes.
    pub async fn call(&mut self, name: &str, args: &str, timeout: Duration) -> io::Result<Vec<u8>> {
        let id = self.next_ack;
        self.next_ack += 1;
        let mut p = b"42".to_vec();
        p.extend_from_slice(&self.nsp_prefix);
        scan::push_u64(&mut p, id);
        p.extend_from_slice(format!("[\"{name}\",{args}]").as_bytes());
        self.post(&p).await?;
        let mut w = AckWait {
            id,
            ack: None,
            connected: true,
        };
        let until = Instant::now() + timeout;
        loop {
            self.poll_until(&mut w, until).await?;
            if let Some(ack) = w.ack.take() {
                return Ok(ack);
            }
        }
    }

    async fn poll_until<H: Handler>(&mut self, h: &mut H, until: Instant) -> io::Result<()> {
        match tokio::time::timeout_at(until.into(), self.poll(h)).await {
            Ok(r) => r,
            Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "no answer in time")),
        }
    }

    /// One long-poll: GET, hand every packet of the payload to `h`, answer pings with a POST.
    pub async fn poll<H: Handler>(&mut self, h: &mut H) -> io::Result<()> {
        self.request("GET", &[]).await?;
        for packet in self.body.split(|&b| b == SEP) {
            match packet.first() {
                // The guard hands the packet to `h`; only a DISCONNECT ends the poll.
                Some(b'4')
                    if dispatch_socketio(&packet[1..], &self.nsp_prefix, h)
                        == Some(Packet::Disconnect) =>
                {
                    return Err(other("Socket.IO DISCONNECT from the server"));
                }
                Some(b'2') => self.pongs_due += 1,
                Some(b'1') => return Err(other("Engine.IO close packet from the server")),
                _ => {} // noop, pong
            }
        }
        if self.pongs_due > 0 {
            let pongs = vec![b"3".as_slice(); self.pongs_due].join(&SEP);
            self.pongs_due = 0;
            self.post(&pongs).await?;
        }
        Ok(())
    }

    /// POSTs one payload (its answer, `ok`, is not checked beyond the status).
    pub async fn post(&mut self, payload: &[u8]) -> io::Result<()> {
        self.request("POST", payload).await
    }

    /// Sends one request and reads its response into `self.body`; a status other than 200 is an
    /// error.
    async fn request(&mut self, method: &str, body: &[u8]) -> io::Result<()> {
        let mut req = format!(
            "{method} {} HTTP/1.1\r\nHost: {}\r\nConnection: keep-alive\r\n",
            self.uri, self.host
        )
        .into_bytes();
        if method == "POST" {
            req.extend_from_slice(
                format!(
                    "Content-Type: text/plain;charset=UTF-8\r\nContent-Length: {}\r\n",
                    body.len()
                )
                .as_bytes(),
            );
        }
        req.extend_from_slice(b"\r\n");
        req.extend_from_slice(body);
        self.stream.write_all(&req).await?;
        self.read_response().await
    }

    /// Reads more bytes into `buf`; an error at end of stream.
    async fn fill(&mut self) -> io::Result<()> {
        let len = self.buf.len();
        self.buf.resize(len + 8192, 0);
        let n = self.stream.read(&mut self.buf[len..]).await?;
        self.buf.truncate(len + n);
        if n == 0 {
            return Err(other("the server closed the connection"));
        }
        Ok(())
    }

    async fn read_response(&mut self) -> io::Result<()> {
        let head_end = loop {
            if let Some(at) = scan::find(&self.buf, b"\r\n\r\n") {
                break at + 4;
            }
            if self.buf.len() > 64 * 1024 {
                return Err(other("response head too long"));
            }
            self.fill().await?;
        };
        let head = String::from_utf8_lossy(&self.buf[..head_end]).to_ascii_lowercase();
        let status = head.split(' ').nth(1).unwrap_or("");
        let header = |name: &str| {
            head.lines()
                .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_owned()))
        };
        let chunked = header("transfer-encoding:").is_some_and(|v| v.contains("chunked"));
        let length = header("content-length:").and_then(|v| v.parse::<usize>().ok());
        let ok = status == "200";
        self.buf.drain(..head_end);
        self.body.clear();
        if chunked {
            self.read_chunked().await?;
        } else {
            let n = length.ok_or_else(|| other("response without a length"))?;
            if n > MAX_BODY {
                return Err(other("response body too large"));
            }
            while self.buf.len() < n {
                self.fill().await?;
            }
            self.body.extend_from_slice(&self.buf[..n]);
            self.buf.drain(..n);
        }
        if !ok {
            return Err(other(format!(
                "HTTP {status}: {}",
                String::from_utf8_lossy(&self.body)
            )));
        }
        Ok(())
    }

    async fn read_chunked(&mut self) -> io::Result<()> {
        loop {
            let line_end = loop {
                if let Some(at) = scan::find(&self.buf, b"\r\n") {
                    break at;
                }
                self.fill().await?;
            };
            let size_text = String::from_utf8_lossy(&self.buf[..line_end]).into_owned();
            let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|_| other("bad chunk size"))?;
            if self.body.len() + size > MAX_BODY {
                return Err(other("response body too large"));
            }
            while self.buf.len() < line_end + 2 + size + 2 {
                self.fill().await?;
            }
            let start = line_end + 2;
            self.body.extend_from_slice(&self.buf[start..start + size]);
            self.buf.drain(..start + size + 2);
            if size == 0 {
                return Ok(());
            }
        }
    }
}
