//! Redis channel names (reference sections 4.2 and 4.3). Every name starts with the adapter's `key`
//! (classic adapter, default `socket.io`) or `channelPrefix` (sharded adapter, same default) and
//! embeds the namespace, so one Redis serves every namespace of every application sharing the key.

use crate::room::Room;

/// `<key>#<nsp>#`: the classic adapter's broadcasts to every socket or to several rooms.
pub fn broadcast_channel(key: &str, nsp: &str) -> String {
    format!("{key}#{nsp}#")
}

/// `<key>#<nsp>#<room>#`: the classic adapter's broadcasts to exactly one room.
pub fn room_channel(key: &str, nsp: &str, room: &str) -> String {
    format!("{key}#{nsp}#{room}#")
}

/// The channel a classic broadcast to `rooms` is published on: the room's own channel when there
/// is exactly one room, the namespace's otherwise (Node's `rooms.size === 1` rule).
pub fn publish_channel(key: &str, nsp: &str, rooms: &[Room]) -> String {
    match rooms {
        [room] => room_channel(key, nsp, room),
        _ => broadcast_channel(key, nsp),
    }
}

/// `<key>#<nsp>#*`: the pattern (`PSUBSCRIBE`) covering every broadcast channel of a namespace.
pub fn broadcast_pattern(key: &str, nsp: &str) -> String {
    format!("{key}#{nsp}#*")
}

/// `<key>-request#<nsp>#`: requests between servers (and from emitters).
pub fn request_channel(key: &str, nsp: &str) -> String {
    format!("{key}-request#{nsp}#")
}

/// `<key>-response#<nsp>#`: responses, unless the requester asked for its own channel.
pub fn response_channel(key: &str, nsp: &str) -> String {
    format!("{key}-response#{nsp}#")
}

/// `<key>-response#<nsp>#<uid>#`: the responses to server `uid` when the adapters run with
/// `publishOnSpecificResponseChannel`.
pub fn specific_response_channel(key: &str, nsp: &str, uid: &str) -> String {
    format!("{key}-response#{nsp}#{uid}#")
}

/// Where a broadcast received on `channel` (through the namespace's pattern) is aimed, as Node's
/// adapter reads it: `None` when the channel is not one of namespace `nsp` (it does not start
/// with `<key>#<nsp>#`), `Some(None)` for every socket or several rooms, `Some(Some(room))` for
/// the one room named between the prefix and the last character.
pub fn parse_broadcast_channel<'c>(
    key: &str,
    nsp: &str,
    channel: &'c str,
) -> Option<Option<&'c str>> {
    let rest = channel
        .strip_prefix(key)?
        .strip_prefix('#')?
        .strip_prefix(nsp)?
        .strip_prefix('#')?;
    // Node takes `channel.slice(prefix.length, -1)`: everything but the last character.
    let room = rest
        .char_indices()
        .last()
        .map_or("", |(last, _)| &rest[..last]);
    Some((!room.is_empty()).then_some(room))
}

/// `<prefix>#<nsp>#`: the sharded adapter's channel for every message of a namespace.
pub fn sharded_channel(prefix: &str, nsp: &str) -> String {
    format!("{prefix}#{nsp}#")
}

/// `<prefix>#<nsp>#<name>#`: the sharded adapter's channel of one room (dynamic subscription
/// modes) or, with a server uid as `name`, of the responses to that server.
pub fn sharded_sub_channel(prefix: &str, nsp: &str, name: &str) -> String {
    format!("{prefix}#{nsp}#{name}#")
}

/// How the sharded adapter subscribes to rooms (its `subscriptionMode` option).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SubscriptionMode {
    /// Only the namespace and response channels.
    Static,
    /// Also one channel per public room (not a socket id).
    #[default]
    Dynamic,
    /// Also one channel per room, socket-id rooms included.
    DynamicPrivate,
}

/// The channel the sharded adapter publishes a BROADCAST on: a one-room broadcast without
/// acknowledgements goes to the room's channel (in [`SubscriptionMode::Dynamic`] only when the
/// room does not look like a socket id, a 20-character name), anything else to the namespace's.
pub fn sharded_broadcast_channel(
    prefix: &str,
    nsp: &str,
    rooms: &[Room],
    with_ack: bool,
    mode: SubscriptionMode,
) -> String {
    // Node: `typeof room === "string" && room.length === 20` (UTF-16 units).
    let private = |room: &str| room.encode_utf16().count() == 20;
    match (rooms, with_ack, mode) {
        ([room], false, SubscriptionMode::DynamicPrivate) => sharded_sub_channel(prefix, nsp, room),
        ([room], false, SubscriptionMode::Dynamic) if !private(room) => {
            sharded_sub_channel(prefix, nsp, room)
        }
        _ => sharded_channel(prefix, nsp),
    }
}
