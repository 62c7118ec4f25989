//! Hash slots against what a real `redis-server` (7.0, cluster enabled) answers to
//! `CLUSTER KEYSLOT`, and against the `redis` crate's own cluster routing.

use redis::cluster_routing::{Route, SlotAddr};

use super::{key_slot, SLOTS};

/// `(name, CLUSTER KEYSLOT name)`, asked of redis-server 7.0.
const KEYSLOT: [(&str, u16); 15] = [
    ("", 0),
    ("123456789", 12739),
    ("foo", 12182),
    ("bar", 5061),
    ("socket.io#/#", 13868),
    ("socket.io#/#lobby#", 11869),
    ("socket.io#/chat#", 2409),
    ("socket.io#/#room-1#", 665),
    ("{user1000}.following", 3443),
    // An empty tag hashes the whole name; only the first `{` and the first `}` after it count.
    ("foo{}{bar}", 8363),
    ("foo{{bar}}zap", 4015),
    ("foo{bar}{zap}", 5061),
    ("{}", 15257),
    ("a{b", 13340),
    ("héllo", 11061),
];

#[test]
fn slots_are_what_cluster_keyslot_answers() {
    for (name, slot) in KEYSLOT {
        assert_eq!(key_slot(name.as_bytes()), slot, "CLUSTER KEYSLOT {name:?}");
    }
}

#[test]
fn a_hash_tag_puts_channels_in_one_slot() {
    let tagged = key_slot(b"socket.io#{game}#");
    assert_eq!(key_slot(b"socket.io#{game}#lobby#"), tagged);
    assert_eq!(key_slot(b"game"), tagged);
    assert_ne!(key_slot(b"socket.io#/#"), key_slot(b"socket.io#/#lobby#"));
}

#[test]
fn slots_agree_with_the_crates_routing() {
    // The cluster connection routes SSUBSCRIBE/SPUBLISH by its own slot computation; ours groups
    // publishes and picks the master for SHARDNUMSUB, so both must name the same slot.
    let names = KEYSLOT.iter().map(|(n, _)| n.to_string());
    for name in names.chain((0..500).map(|i| format!("socket.io#/#room-{i}#"))) {
        let slot = key_slot(name.as_bytes());
        assert!(slot < SLOTS);
        assert_eq!(
            Route::new(slot, SlotAddr::Master),
            Route::with_key(name.as_bytes(), SlotAddr::Master),
            "{name:?}"
        );
    }
}
