//! Socket.IO packet decoding (`protocol::socketio::decode`), on the text of an Engine.IO message.
//! Checks, for every packet that decodes: it encodes to text that decodes to the same packet
//! (numbers included, to the last bit) and encodes the same way again; the attachment count is bounded and only binary types have one; the namespace starts with
//! `/` and holds no `,`; the payload has the shape its type allows. Whatever fails, fails cleanly.
#![no_main]

use libfuzzer_sys::fuzz_target;
use roomcast::protocol::socketio::{decode, encode, PacketType, MAX_ATTACHMENTS};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(packet) = decode(text) else {
        return;
    };
    assert!(packet.attachments <= MAX_ATTACHMENTS, "{text:?}");
    assert!(
        packet.kind.is_binary() || packet.attachments == 0,
        "{text:?}"
    );
    assert!(
        packet.nsp.starts_with('/') && !packet.nsp.contains(','),
        "{text:?}"
    );
    if let Some(value) = &packet.data {
        let shape_ok = match packet.kind {
            PacketType::Connect => value.is_object(),
            PacketType::Disconnect => false,
            PacketType::ConnectError => value.is_object() || value.is_string(),
            _ => value.is_array(),
        };
        assert!(shape_ok, "{text:?} has a payload its type does not allow");
    }
    if packet.kind.is_event() && packet.data.is_some() {
        let name = packet.event_name();
        assert!(name.is_none_or(|n| !roomcast::protocol::socketio::is_reserved_event(n)));
        assert!(packet.clone().into_event_args().is_some(), "{text:?}");
    }
    let wire = encode(&packet);
    assert!(
        wire.len() <= text.len() + 1 || packet.data.is_some(),
        "{text:?} -> {wire:?}"
    );
    let again = decode(&wire).unwrap_or_else(|e| panic!("{text:?} -> {wire:?} fails: {e}"));
    assert_eq!(packet, again, "{text:?} -> {wire:?}");
    assert_eq!(encode(&again), wire, "{text:?} -> {wire:?}");
});
