//! The Redis adapter's wire format (`adapter::redis`), on one message read from Redis: decoded as a
//! classic broadcast, as a request, as a response to each request type and as a ClusterAdapter
//! (sharded) message. Checks: whatever
//! decodes encodes to bytes that (for a broadcast, always msgpack, necessarily) decode again and
//! encode to the same bytes; whatever fails, fails cleanly.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use roomcast::adapter::redis::cluster_wire::ClusterMessage;
use roomcast::adapter::redis::request::{Request, RequestType};
use roomcast::adapter::redis::response::Response;
use roomcast::adapter::redis::wire::Broadcast;

const TYPES: [RequestType; 10] = [
    RequestType::Sockets,
    RequestType::AllRooms,
    RequestType::RemoteJoin,
    RequestType::RemoteLeave,
    RequestType::RemoteDisconnect,
    RequestType::RemoteFetch,
    RequestType::ServerSideEmit,
    RequestType::Broadcast,
    RequestType::BroadcastClientCount,
    RequestType::BroadcastAck,
];

fuzz_target!(|data: &[u8]| {
    let input = Bytes::copy_from_slice(data);
    if let Ok(broadcast) = Broadcast::decode(&input) {
        let wire = Bytes::from(broadcast.encode());
        let again = Broadcast::decode(&wire)
            .unwrap_or_else(|e| panic!("{data:?} -> {wire:?} fails: {e:?}"));
        assert_eq!(again.encode(), wire, "{data:?}");
    }
    if let Ok(request) = Request::decode(&input) {
        // A JSON re-encoding may nest deeper than serde_json reads: only a success is checked.
        let wire = Bytes::from(request.encode());
        if let Ok(again) = Request::decode(&wire) {
            assert_eq!(again.encode(), wire, "{data:?}");
        }
    }
    if let Ok(message) = ClusterMessage::decode(&input) {
        let wire = Bytes::from(message.encode());
        if let Ok(again) = ClusterMessage::decode(&wire) {
            assert_eq!(again.encode(), wire, "{data:?}");
        }
    }
    for kind in TYPES {
        if let Ok(Some(response)) = Response::decode(&input, |_| Some(kind)) {
            let wire = Bytes::from(response.encode());
            if let Ok(Some(again)) = Response::decode(&wire, |_| Some(kind)) {
                assert_eq!(again.encode(), wire, "{data:?}");
            }
        }
    }
});
