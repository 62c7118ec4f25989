//! WebSocket framing (RFC 6455) for the client: the read buffer that takes frames apart
//! (fragments assembled, masked frames accepted) and the write buffer that frames and masks what a
//! client sends.

use std::io;

use tokio::net::TcpStream;

use super::other;

const OP_CONT: u8 = 0x0;
pub const OP_TEXT: u8 = 0x1;
pub const OP_BINARY: u8 = 0x2;
pub const OP_CLOSE: u8 = 0x8;
pub const OP_PING: u8 = 0x9;
pub const OP_PONG: u8 = 0xA;

/// Largest message accepted from a server (Engine.IO's default maxHttpBufferSize is 1 MB).
const MAX_MESSAGE: usize = 16 << 20;

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
    pub(super) fn new(size: usize) -> Self {
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

    /// What has arrived and is not parsed yet.
    pub(super) fn unread(&self) -> &[u8] {
        &self.buf[self.pos..self.end]
    }

    /// Marks `n` bytes of [`ReadBuf::unread`] as parsed.
    pub(super) fn consume(&mut self, n: usize) {
        self.pos += n;
    }

    /// The next complete WebSocket message (data or control): `(opcode, payload)`.
    pub(super) fn next_message(&mut self) -> io::Result<Option<(u8, &[u8])>> {
        if self.frag_done {
            self.frag.clear();
            self.frag_done = false;
        }
        loop {
            let Some(h) = Header::parse(&self.buf[self.pos..self.end])? else {
                return Ok(None);
            };
            let total = h.hdr + h.len;
            if self.end - self.pos < total {
                return Ok(None);
            }
            let start = self.pos + h.hdr;
            let end = self.pos + total;
            if h.masked {
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
            match h.op {
                OP_CLOSE | OP_PING | OP_PONG => return Ok(Some((h.op, &self.buf[start..end]))),
                OP_CONT => {
                    if !self.in_frag {
                        return Err(other("continuation frame without a first fragment"));
                    }
                    if self.frag.len() + (end - start) > MAX_MESSAGE {
                        return Err(other("fragmented message is too large"));
                    }
                    self.frag.extend_from_slice(&self.buf[start..end]);
                    if h.fin {
                        self.in_frag = false;
                        self.frag_done = true;
                        return Ok(Some((self.frag_op, &self.frag)));
                    }
                }
                OP_TEXT | OP_BINARY => {
                    if self.in_frag {
                        return Err(other("new data frame inside a fragmented message"));
                    }
                    if h.fin {
                        return Ok(Some((h.op, &self.buf[start..end])));
                    }
                    self.in_frag = true;
                    self.frag_op = h.op;
                    self.frag.clear();
                    self.frag.extend_from_slice(&self.buf[start..end]);
                }
                other_op => return Err(other(format!("unknown WebSocket opcode {other_op}"))),
            }
        }
    }
}

/// A frame header: FIN, the opcode, whether the payload is masked, the header's length (the mask
/// key included) and the payload's.
struct Header {
    fin: bool,
    op: u8,
    masked: bool,
    hdr: usize,
    len: usize,
}

impl Header {
    /// The header at the start of `avail`; `None` until it has all arrived.
    fn parse(avail: &[u8]) -> io::Result<Option<Header>> {
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
        Ok(Some(Header {
            fin,
            op,
            masked,
            hdr,
            len: len as usize,
        }))
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
    pub(super) fn new() -> Self {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(bytes: &[u8]) -> ReadBuf {
        let mut rd = ReadBuf::new(256);
        rd.buf[..bytes.len()].copy_from_slice(bytes);
        rd.end = bytes.len();
        rd
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
