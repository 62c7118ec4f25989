//! The WebSocket frame reader roomcast runs on the connections it reads itself (`transport::frames`,
//! reached through `roomcast::fuzzing::WsReader`). The first input byte picks the mode:
//!
//! - even: the rest is arbitrary client bytes, fed once whole and once in pseudo-random chunks
//!   (1..=17 bytes, from the second byte). Both feeds must give the same events and the same close
//!   code, since TCP may split a stream anywhere; messages stay within the size bound, text is UTF-8,
//!   and every refusal is 1002, 1007 or 1009.
//! - odd: the rest describes a valid client conversation (text and binary messages, some
//!   fragmented, pings between fragments, a final close), encoded as masked frames; the reader
//!   must return exactly those messages, or refuse with 1009 exactly when one is over the bound.
#![no_main]

use libfuzzer_sys::fuzz_target;
use roomcast::fuzzing::{WsEvent, WsReader};

const LIMITS: [usize; 4] = [16, 125, 300, 1024];

/// Bytes of frames one valid conversation may hold, so each run stays fast.
const STREAM_BUDGET: usize = 1 << 11;

/// Every event until the reader wants more bytes, then the refusal if there was one.
fn drain(reader: &mut WsReader, max: usize, out: &mut Vec<WsEvent>) -> Result<(), u16> {
    for _ in 0..=1 << 16 {
        match reader.next_event()? {
            None => return Ok(()),
            Some(event) => {
                match &event {
                    WsEvent::Text(t) => assert!(t.len() <= max),
                    WsEvent::Binary(b) => assert!(b.len() <= max),
                    WsEvent::Ping(p) => assert!(p.len() <= 125.min(max)),
                    WsEvent::Close(_) => {}
                }
                out.push(event);
            }
        }
    }
    panic!("the reader never ran out of events");
}

fn feed(chunks: &[&[u8]], max: usize) -> (Vec<WsEvent>, Result<(), u16>) {
    let mut reader = WsReader::new(max);
    let mut events = Vec::new();
    for chunk in chunks {
        reader.push(chunk);
        if let Err(code) = drain(&mut reader, max, &mut events) {
            assert!([1002, 1007, 1009].contains(&code), "close code {code}");
            return (events, Err(code));
        }
    }
    (events, Ok(()))
}

fn arbitrary_bytes(data: &[u8]) {
    let [seed, limit, stream @ ..] = data else {
        return;
    };
    let max = LIMITS[usize::from(*limit) % LIMITS.len()];
    let whole = feed(&[stream], max);
    let mut chunks = Vec::new();
    let (mut rest, mut state) = (stream, u32::from(*seed) | 1 << 8);
    while !rest.is_empty() {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let (chunk, after) = rest.split_at(((state >> 16) as usize % 17 + 1).min(rest.len()));
        chunks.push(chunk);
        rest = after;
    }
    assert_eq!(whole, feed(&chunks, max), "seed {seed}, max {max}");
}

/// A client frame: FIN, opcode, masked payload with the shortest length form.
fn client_frame(out: &mut Vec<u8>, fin: bool, opcode: u8, payload: &[u8], mask: [u8; 4]) {
    out.push(u8::from(fin) << 7 | opcode);
    match payload.len() {
        n @ 0..=125 => out.push(0x80 | n as u8),
        n @ 126..=0xffff => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&mask);
    out.extend(payload.iter().zip(mask.iter().cycle()).map(|(b, m)| b ^ m));
}

/// Encodes the conversation the input describes; returns the stream and the events due (with the
/// refusal due, if a frame or message is over `max`).
fn conversation(data: &[u8], max: usize) -> (Vec<u8>, Vec<WsEvent>, Result<(), u16>) {
    let (mut stream, mut due) = (Vec::new(), Vec::new());
    let mut rest = data;
    while let [head, len_byte, after @ ..] = rest {
        rest = after;
        if stream.len() > STREAM_BUDGET {
            break;
        }
        // Two bytes per message: kind, pieces and a length scale in `head`, the length in the other.
        let len = usize::from(*len_byte) * [1, 2, 3, 5][usize::from(*head >> 6)];
        let mask = [head ^ 0x5a, *len_byte, len_byte ^ 0xa5, 0x3c];
        let body = payload_bytes(mask, len);
        let kind = head & 3;
        let pieces = usize::from(head >> 2 & 3) + 1;
        if kind == 2 {
            let ping = &body[..body.len().min(125)];
            client_frame(&mut stream, true, 0x9, ping, mask);
            if ping.len() > max {
                return (stream, due, Err(1009));
            }
            due.push(WsEvent::Ping(ping.to_vec().into()));
            continue;
        }
        let text = kind != 1;
        let payload = if text {
            String::from_utf8_lossy(&body).into_owned().into_bytes()
        } else {
            body
        };
        // Split into `pieces` frames (cut anywhere, also inside a UTF-8 sequence), a ping between.
        let step = payload.len().div_ceil(pieces).max(1);
        let parts: Vec<&[u8]> = if payload.is_empty() {
            vec![&[]]
        } else {
            payload.chunks(step).collect()
        };
        let mut sent = 0;
        for (i, part) in parts.iter().enumerate() {
            let opcode = if i > 0 {
                0
            } else if text {
                1
            } else {
                2
            };
            client_frame(&mut stream, i + 1 == parts.len(), opcode, part, mask);
            sent += part.len();
            if part.len() > max || sent > max {
                return (stream, due, Err(1009));
            }
            if i + 1 < parts.len() && kind == 3 {
                client_frame(&mut stream, true, 0x9, b"p", mask);
                due.push(WsEvent::Ping(b"p".to_vec().into()));
            }
        }
        due.push(if text {
            WsEvent::Text(String::from_utf8(payload).expect("lossy conversion gives UTF-8"))
        } else {
            WsEvent::Binary(payload.into())
        });
    }
    let code = rest.first().map_or(1000, |b| 1000 + u16::from(*b));
    client_frame(&mut stream, true, 0x8, &code.to_be_bytes(), [1, 2, 3, 4]);
    due.push(WsEvent::Close(Some(code)));
    (stream, due, Ok(()))
}

/// Deterministic payload bytes (any value, so text exercises the lossy UTF-8 repair too).
fn payload_bytes(seed: [u8; 4], len: usize) -> Vec<u8> {
    let mut state = u32::from_le_bytes(seed) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state >> 8) as u8
        })
        .collect()
}

fn valid_conversation(data: &[u8]) {
    let [limit, seed, spec @ ..] = data else {
        return;
    };
    let max = LIMITS[usize::from(*limit) % LIMITS.len()];
    let (stream, due, end) = conversation(spec, max);
    // Small reads for short conversations, else reads of 256 bytes and more (so large ones stay fast).
    let chunk = match usize::from(*seed) {
        s if s < 128 && stream.len() <= 1024 => s % 23 + 1,
        s => (s % 8 + 1) << 8,
    };
    let chunks: Vec<&[u8]> = stream.chunks(chunk).collect();
    let (events, got_end) = feed(&chunks, max);
    assert_eq!(got_end, end, "max {max}");
    assert_eq!(events, due, "max {max}");
}

fuzz_target!(|data: &[u8]| {
    match data.split_first() {
        Some((mode, rest)) if mode & 1 == 0 => arbitrary_bytes(rest),
        Some((_, rest)) => valid_conversation(rest),
        None => {}
    }
});
