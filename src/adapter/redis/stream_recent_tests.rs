//! The gap between a replay read from Redis and the live deliveries of one node.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;
use crate::protocol::engineio::Frame;

fn frames(n: u8) -> Arc<[Frame]> {
    vec![Frame::Text(format!("42[\"m\",{n}]").into())].into()
}

fn to(rooms: &[&str]) -> Arc<Selector> {
    Arc::new(Selector {
        rooms: rooms.iter().map(|r| Room::from(*r)).collect(),
        ..Selector::default()
    })
}

#[test]
fn a_socket_gets_what_was_delivered_after_its_replay_and_not_what_its_replay_had() {
    let (mut recent, now) = (Recent::default(), Instant::now());
    let sid = Sid::new();
    let rooms = [Room::from("r")];
    for seq in 1..=4 {
        let rooms: &[&str] = if seq == 3 { &["other"] } else { &["r"] };
        recent.delivered((1, seq), to(rooms), frames(seq as u8), now);
    }
    // its replay read through 1-2: 1-3 is not for it, 1-4 is
    let got = recent.catch_up(&sid, &rooms, (1, 2), now).unwrap();
    assert_eq!(got, vec![frames(4)]);
    // entries up to 1-2 delivered late leave it out; later ones do not
    let late = recent.delivered((1, 2), to(&["r"]), frames(2), now);
    assert!(late.except.contains(&Room::from(sid.as_str())));
    let live = recent.delivered((1, 5), to(&["r"]), frames(5), now);
    assert!(live.except.is_empty());
    // and not for ever
    let much_later = now + HOLD + Duration::from_millis(1);
    let late = recent.delivered((1, 1), to(&["r"]), frames(1), much_later);
    assert!(late.except.is_empty());
}

#[test]
fn a_socket_whose_missed_entries_were_forgotten_is_refused() {
    let (mut recent, now) = (Recent::default(), Instant::now());
    for seq in 0..(KEPT as u64 + 2) {
        recent.delivered((7, seq), to(&[]), frames(0), now);
    }
    let rooms: [Room; 0] = [];
    assert!(recent.catch_up(&Sid::new(), &rooms, (7, 0), now).is_none());
    let got = recent.catch_up(&Sid::new(), &rooms, (7, 1), now).unwrap();
    assert_eq!(got.len(), KEPT);
}
