//! `floor-server`: the least a server can do for the generator's contract, to measure the floor
//! that the generator, the kernel and this machine set under every server's numbers.
//!
//! It is not a Socket.IO server: WebSocket only, no pings, no namespaces, no validation, one thread.
//! It answers the Engine.IO open and the Socket.IO connect, acks `join` and `publish`, acks `echo`
//! with its arguments, and delivers a publish (`42[event, ...args]`, encoded once) to every other
//! member of the room by writing it straight to their sockets from the publisher's task. Whatever
//! a server does beyond this costs more; the generator's own latency and the cost of one write per
//! delivery are in this floor too. `compare` runs it as a third server for `fanout` and `echo`.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;

use base64::Engine as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

const WS_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/// Largest request head or message accepted.
const MAX_BYTES: usize = 1 << 20;

/// One client: its socket, what could not be written yet, and a wake-up for its task.
struct Client {
    stream: TcpStream,
    outbox: RefCell<Vec<u8>>,
    wake: Notify,
}

impl Client {
    /// Writes `bytes` now if nothing is waiting, else queues them (in order) for the client's task.
    fn send(&self, bytes: &[u8]) {
        let mut outbox = self.outbox.borrow_mut();
        let mut rest = bytes;
        if outbox.is_empty() {
            match self.stream.try_write(bytes) {
                Ok(n) => rest = &bytes[n..],
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => return,
            }
        }
        if !rest.is_empty() {
            outbox.extend_from_slice(rest);
            self.wake.notify_one();
        }
    }
}

/// A room's members, by client id.
type Members = Vec<(u64, Rc<Client>)>;

#[derive(Default)]
struct Rooms {
    members: RefCell<HashMap<String, Members>>,
    next_id: Cell<u64>,
}

/// Serves on `addr` until killed; prints `LISTENING <port>`.
pub async fn serve(addr: SocketAddr) -> Result<i32, String> {
    if !addr.ip().is_loopback() {
        return Err(format!(
            "{addr}: the floor server listens on loopback addresses only"
        ));
    }
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| format!("{addr}: {e}"))?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    println!("LISTENING {port}");
    let rooms = Rc::new(Rooms::default());
    loop {
        let (stream, _) = listener.accept().await.map_err(|e| e.to_string())?;
        let rooms = rooms.clone();
        tokio::task::spawn_local(async move {
            let _ = client(stream, rooms).await;
        });
    }
}

fn frame(out: &mut Vec<u8>, text: &[u8]) {
    out.push(0x81);
    match text.len() {
        n if n < 126 => out.push(n as u8),
        n if n <= u16::MAX as usize => {
            out.push(126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(text);
}

/// Reads the upgrade request and answers 101 plus the open packet; returns bytes read beyond it.
async fn handshake(stream: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let end = loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 || buf.len() > MAX_BYTES {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let key = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.trim()
                .eq_ignore_ascii_case("sec-websocket-key")
                .then(|| value.trim().to_owned())
        })
        .ok_or(io::ErrorKind::InvalidData)?;
    let accept = base64::engine::general_purpose::STANDARD
        .encode(crate::ws::sha1_digest(format!("{key}{WS_GUID}").as_bytes()));
    let mut out = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {accept}\r\n\r\n"
    )
    .into_bytes();
    frame(
        &mut out,
        br#"0{"sid":"floorfloorfloorfloor","upgrades":[],"pingInterval":300000,"pingTimeout":300000,"maxPayload":1000000}"#,
    );
    stream.write_all(&out).await?;
    Ok(buf.split_off(end))
}

/// The JSON string at the start of `s` (no escapes expected) and what follows it.
fn string_prefix(s: &[u8]) -> Option<(&[u8], &[u8])> {
    let s = s.strip_prefix(b"\"")?;
    let end = s.iter().position(|&c| c == b'"')?;
    Some((&s[..end], &s[end + 1..]))
}

async fn client(mut stream: TcpStream, rooms: Rc<Rooms>) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut buf = handshake(&mut stream).await?;
    let id = rooms.next_id.get();
    rooms.next_id.set(id + 1);
    let me = Rc::new(Client {
        stream,
        outbox: RefCell::new(Vec::new()),
        wake: Notify::new(),
    });
    let mut joined: Vec<String> = Vec::new();
    let result = async {
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            let mut reply = Vec::new();
            while let Some((text, used)) = next_message(&buf)? {
                handle(&text, id, &me, &rooms, &mut joined, &mut reply);
                buf.drain(..used);
            }
            if !reply.is_empty() {
                me.send(&reply);
            }
            tokio::select! {
                ready = me.stream.readable() => {
                    ready?;
                    match me.stream.try_read(&mut chunk) {
                        Ok(0) => return Ok(()),
                        Ok(n) if buf.len() + n <= MAX_BYTES => buf.extend_from_slice(&chunk[..n]),
                        Ok(_) => return Err(io::ErrorKind::InvalidData.into()),
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                        Err(e) => return Err(e),
                    }
                }
                _ = me.wake.notified(), if !me.outbox.borrow().is_empty() => {}
                ready = me.stream.writable(), if !me.outbox.borrow().is_empty() => {
                    ready?;
                    let mut outbox = me.outbox.borrow_mut();
                    match me.stream.try_write(&outbox) {
                        Ok(n) => drop(outbox.drain(..n)),
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                        Err(e) => return Err(e),
                    }
                }
            }
        }
    }
    .await;
    let mut members = rooms.members.borrow_mut();
    for room in joined {
        if let Some(list) = members.get_mut(&room) {
            list.retain(|(other, _)| *other != id);
        }
    }
    result
}

/// The next complete client frame's unmasked payload and the bytes it used (control frames come
/// back as empty payloads; a close frame ends the connection).
fn next_message(buf: &[u8]) -> io::Result<Option<(Vec<u8>, usize)>> {
    if buf.len() < 2 {
        return Ok(None);
    }
    let opcode = buf[0] & 0x0f;
    let (len, mut at) = match buf[1] & 0x7f {
        126 if buf.len() >= 4 => (u16::from_be_bytes([buf[2], buf[3]]) as usize, 4),
        127 if buf.len() >= 10 => (
            u64::from_be_bytes(buf[2..10].try_into().expect("8 bytes")) as usize,
            10,
        ),
        126 | 127 => return Ok(None),
        n => (n as usize, 2),
    };
    if len > MAX_BYTES {
        return Err(io::ErrorKind::InvalidData.into());
    }
    if buf.len() < at + 4 + len {
        return Ok(None);
    }
    let mask = [buf[at], buf[at + 1], buf[at + 2], buf[at + 3]];
    at += 4;
    if opcode == 0x8 {
        return Err(io::ErrorKind::ConnectionAborted.into());
    }
    let mut text = buf[at..at + len].to_vec();
    for (i, b) in text.iter_mut().enumerate() {
        *b ^= mask[i % 4];
    }
    if opcode != 0x1 {
        text.clear();
    }
    Ok(Some((text, at + len)))
}

/// Handles one Engine.IO text packet: connect, join, publish, echo (anything else is ignored).
fn handle(
    text: &[u8],
    id: u64,
    me: &Rc<Client>,
    rooms: &Rooms,
    joined: &mut Vec<String>,
    reply: &mut Vec<u8>,
) {
    if text.starts_with(b"40") {
        frame(reply, br#"40{"sid":"floorfloorfloorfloor"}"#);
        return;
    }
    let Some(event) = text.strip_prefix(b"42") else {
        return;
    };
    let digits = event.iter().take_while(|c| c.is_ascii_digit()).count();
    let (ack, body) = event.split_at(digits);
    let Some(body) = body.strip_prefix(b"[") else {
        return;
    };
    let Some((name, rest)) = string_prefix(body) else {
        return;
    };
    let args = rest.strip_prefix(b",").unwrap_or(rest);
    let mut answer = |payload: &[u8]| {
        if !ack.is_empty() {
            let mut packet = b"43".to_vec();
            packet.extend_from_slice(ack);
            packet.push(b'[');
            packet.extend_from_slice(payload);
            frame(reply, &packet);
        }
    };
    match name {
        b"echo" => answer(args),
        b"join" => {
            let Some((room, _)) = string_prefix(args) else {
                return answer(br#"{"ok":false,"error":"bad room"}]"#);
            };
            let room = String::from_utf8_lossy(room).into_owned();
            rooms
                .members
                .borrow_mut()
                .entry(room.clone())
                .or_default()
                .push((id, me.clone()));
            let ok = format!(r#"{{"ok":true,"rooms":["{room}"]}}]"#);
            joined.push(room);
            answer(ok.as_bytes());
        }
        b"publish" => {
            let Some((room, rest)) = string_prefix(args) else {
                return answer(br#"{"ok":false,"error":"bad room"}]"#);
            };
            // `42[event, ...args]`, encoded once for every receiver.
            let mut packet = b"42[".to_vec();
            packet.extend_from_slice(rest.strip_prefix(b",").unwrap_or(rest));
            let mut wire = Vec::with_capacity(packet.len() + 10);
            frame(&mut wire, &packet);
            let room = String::from_utf8_lossy(room);
            let targets: Vec<Rc<Client>> = rooms
                .members
                .borrow()
                .get(room.as_ref())
                .map(|list| {
                    list.iter()
                        .filter(|(other, _)| *other != id)
                        .map(|(_, c)| c.clone())
                        .collect()
                })
                .unwrap_or_default();
            for target in targets {
                target.send(&wire);
            }
            answer(br#"{"ok":true}]"#);
        }
        _ => answer(br#"{"ok":false,"error":"unknown event"}]"#),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masked(text: &[u8]) -> Vec<u8> {
        let mask = [1u8, 2, 3, 4];
        let mut f = vec![0x81, 0x80 | text.len() as u8];
        f.extend_from_slice(&mask);
        f.extend(text.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        f
    }

    #[test]
    fn client_frames_are_unmasked_one_at_a_time() {
        let mut buf = masked(b"42[\"echo\",1]");
        buf.extend_from_slice(&masked(b"40"));
        let (first, used) = next_message(&buf).unwrap().unwrap();
        assert_eq!(first, b"42[\"echo\",1]");
        let (second, rest) = next_message(&buf[used..]).unwrap().unwrap();
        assert_eq!((second.as_slice(), used + rest), (&b"40"[..], buf.len()));
        assert!(
            next_message(&buf[..3]).unwrap().is_none(),
            "a partial frame waits"
        );
    }

    #[test]
    fn strings_are_split_off_the_arguments() {
        assert_eq!(
            string_prefix(br#""room-1","msg",{"a":1}]"#),
            Some((&b"room-1"[..], &br#","msg",{"a":1}]"#[..]))
        );
        assert_eq!(string_prefix(b"[1]"), None);
    }
}
