//! Redis Cluster hash slots: which of the 16384 slots a key, or a sharded pub/sub channel, belongs
//! to (what `CLUSTER KEYSLOT` answers). The master owning that slot is where a channel's
//! `SPUBLISH`es and `SSUBSCRIBE`s go.
//!
//! The slot is CRC16 (the XMODEM variant: polynomial 0x1021, initial value 0, no reflection) of the
//! name, modulo 16384. When the name holds a `{` followed later by a `}` with at least one byte
//! between them, only the bytes between the first `{` and the first `}` after it are hashed (the
//! hash tag), so `socket.io#{game}#` and `socket.io#{game}#lobby#` share a slot.

/// How many hash slots a Redis Cluster has.
pub const SLOTS: u16 = 16384;

/// The hash slot of `key` (a key or a sharded channel name), as `CLUSTER KEYSLOT` computes it.
pub fn key_slot(key: &[u8]) -> u16 {
    crc16_xmodem(hash_tag(key).unwrap_or(key)) % SLOTS
}

/// The part of `key` that is hashed when it has a non-empty `{...}` tag.
fn hash_tag(key: &[u8]) -> Option<&[u8]> {
    let open = key.iter().position(|&b| b == b'{')?;
    let rest = &key[open + 1..];
    let close = rest.iter().position(|&b| b == b'}')?;
    (close > 0).then(|| &rest[..close])
}

/// CRC16-XMODEM, bit by bit (channel names are short; no table needed).
fn crc16_xmodem(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &byte in data {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

#[cfg(test)]
#[path = "slot_tests.rs"]
mod tests;
