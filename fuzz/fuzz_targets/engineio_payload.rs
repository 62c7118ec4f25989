//! Engine.IO v4 polling payload decoding (`protocol::engineio::decode_payload`): packets joined by
//! `\x1e`, binary as `b` + base64. Checks that a payload decodes to one packet per segment or fails
//! with its first bad segment's error, and that what decodes survives encode -> decode unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use roomcast::protocol::engineio::{
    decode_payload, decode_text, encode_payload, Frame, Packet, SEPARATOR,
};

fuzz_target!(|data: &[u8]| {
    let Ok(body) = std::str::from_utf8(data) else {
        return;
    };
    let decoded = decode_payload(body);
    let by_segment: Result<Vec<Packet>, _> = body.split(SEPARATOR).map(decode_text).collect();
    match (&decoded, &by_segment) {
        (Ok(packets), Ok(expected)) => assert_eq!(packets, expected),
        (Err(e), Err(first)) => assert_eq!(e, first),
        (Err(e), Ok(_)) => panic!("{body:?}: payload refused ({e}) though every segment decodes"),
        (Ok(_), Err(e)) => panic!("{body:?}: payload accepted though a segment fails ({e})"),
    }
    let Ok(packets) = decoded else {
        return;
    };
    assert_eq!(packets.len(), body.split(SEPARATOR).count());
    let frames: Vec<Frame> = packets.iter().map(Frame::from_packet).collect();
    let again = encode_payload(&frames);
    // A text segment may itself hold no separator, so the split is the same after re-encoding.
    assert_eq!(
        decode_payload(&again).as_ref(),
        Ok(&packets),
        "{body:?} -> {again:?}"
    );
    assert!(
        again.len() <= body.len() + 2 * packets.len(),
        "{body:?} grew to {again:?}"
    );
});
