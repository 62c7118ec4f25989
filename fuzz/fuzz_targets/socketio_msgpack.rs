//! The msgpack Socket.IO parser (`protocol::socketio::msgpack::decode`), on one binary Engine.IO
//! message. Checks, for every message that decodes: only the types the text parser knows, the
//! attachment count matches the binaries taken out of it and stays bounded by the input (a namespace is any
//! string, as socket.io-msgpack-parser takes it: an unknown one is refused later); encoding it gives a message that decodes to the same packet and the
//! same binaries, and encodes the same way again. Whatever fails, fails cleanly.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use roomcast::protocol::socketio::msgpack::{decode, encode};
use roomcast::protocol::socketio::Packet;
use serde_json::Value;

/// The same values as JavaScript sees them: a float with an integer value is written as an integer
/// (as notepack does), so numbers compare by value.
fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x == y || x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_value(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((kx, x), (ky, y))| kx == ky && same_value(x, y))
        }
        _ => a == b,
    }
}

fn same_packet(a: &Packet, b: &Packet) -> bool {
    let data = match (&a.data, &b.data) {
        (Some(x), Some(y)) => same_value(x, y),
        (x, y) => x == y,
    };
    data && (a.kind, &a.nsp, a.id, a.attachments) == (b.kind, &b.nsp, b.id, b.attachments)
}

fuzz_target!(|data: &[u8]| {
    let input = Bytes::copy_from_slice(data);
    let Ok(inbound) = decode(&input) else {
        return;
    };
    let (packet, binary) = (&inbound.packet, &inbound.binary);
    assert_eq!(packet.attachments, binary.len(), "{data:?}");
    assert!(packet.kind.is_binary() || binary.is_empty(), "{data:?}");
    assert!(
        binary.iter().map(Bytes::len).sum::<usize>() <= data.len(),
        "{data:?}"
    );
    let wire = Bytes::from(encode(packet, binary));
    let again = decode(&wire).unwrap_or_else(|e| panic!("{data:?} -> {wire:?} fails: {e:?}"));
    assert!(
        same_packet(&again.packet, packet),
        "{data:?} -> {wire:?}: {packet:?} != {:?}",
        again.packet
    );
    assert_eq!(&again.binary, binary, "{data:?} -> {wire:?}");
    assert_eq!(
        encode(&again.packet, &again.binary),
        wire,
        "{data:?} -> {wire:?}"
    );
});
