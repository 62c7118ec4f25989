//! Unit tests of the recovery store: offsets, lookups, the bounds and their eviction order.

use super::*;
use crate::options::RecoveryBounds;
use bytes::Bytes;
use serde_json::json;
use std::time::Duration;

/// Roomy bounds: 10 s, 100 packets and sessions, 1 MiB (also used by the snapshot tests).
pub(super) fn bounds() -> RecoveryBounds {
    RecoveryBounds {
        max_disconnection: Duration::from_secs(10),
        max_packets: 100,
        max_packet_bytes: 1 << 20,
        max_packets_per_namespace: 100,
        max_packet_bytes_per_namespace: 1 << 20,
        max_sessions: 100,
        max_sessions_per_namespace: 100,
        max_session_bytes: 1 << 20,
    }
}

fn store(b: RecoveryBounds) -> RecoveryStore {
    RecoveryStore::new(b, "abcd".to_owned())
}

/// A selector of `rooms` (also used by the snapshot tests).
pub(super) fn to(rooms: &[&str]) -> Arc<Selector> {
    Arc::new(Selector {
        rooms: rooms.iter().map(|r| Room::from(*r)).collect(),
        ..Selector::default()
    })
}

fn frames(text: &str) -> Arc<[Frame]> {
    vec![Frame::Text(text.to_owned().into())].into()
}

fn text(f: &Arc<[Frame]>) -> String {
    match &f[0] {
        Frame::Text(t) => t.to_string(),
        Frame::Binary(b) => format!("{b:?}"),
    }
}

fn session(nsp: &str, rooms: &[&str]) -> SessionState {
    SessionState {
        sid: Sid::new(),
        pid: Sid::new(),
        nsp: nsp.to_owned(),
        rooms: rooms.iter().map(|r| Room::from(*r)).collect(),
        data: json!({"sub": "alice"}),
    }
}

#[test]
fn a_session_comes_back_once_with_the_packets_after_its_offset_that_reach_it() {
    let now = Instant::now();
    let mut s = store(bounds());
    let first = s.push("/", to(&[]), frames("0"), now);
    assert_eq!((first, s.offset(first)), (0, "abcd-0".to_owned()));
    let kept = session("/", &["r"]);
    s.push("/", to(&["r"]), frames("1"), now);
    s.push("/", to(&["other"]), frames("2"), now);
    let mut except = Selector::default();
    except.except.push(Room::from("r"));
    s.push("/", Arc::new(except), frames("3"), now);
    let not_me = Selector {
        except_sid: Some(kept.sid),
        ..Selector::default()
    };
    s.push("/", Arc::new(not_me), frames("4"), now);
    s.push("/", to(&[kept.sid.as_str()]), frames("5"), now);
    s.push("/other", to(&[]), frames("x"), now);
    s.persist(kept.clone(), now);

    let r = s
        .restore("/", kept.pid.as_str(), "abcd-0", now)
        .expect("restored");
    assert_eq!((r.session.clone(), r.after), (kept.clone(), 0));
    let missed = s
        .missed("/", 0, &kept.sid, &kept.rooms, now)
        .expect("all stored");
    let got: Vec<String> = missed.iter().map(text).collect();
    assert_eq!(got, ["1", "5"]);
    let again = s.restore("/", kept.pid.as_str(), "abcd-0", now);
    assert_eq!(again, Err(Refusal::UnknownSession), "recovered once");
    assert_eq!(s.sizes().2, 0);
}

#[test]
fn forged_or_foreign_offsets_and_pids_are_refused_without_spending_the_session() {
    let now = Instant::now();
    let mut s = store(bounds());
    s.push("/", to(&[]), frames("0"), now);
    let kept = session("/", &[]);
    s.persist(kept.clone(), now);
    let pid = kept.pid.as_str();
    for (nsp, pid, offset, why) in [
        ("/", "nope", "abcd-0", Refusal::UnknownSession),
        ("/", Sid::new().as_str(), "abcd-0", Refusal::UnknownSession),
        ("/x", pid, "abcd-0", Refusal::OtherNamespace),
        ("/", pid, "wxyz-0", Refusal::BadOffset),
        ("/", pid, "abcd-", Refusal::BadOffset),
        ("/", pid, "abcd-+1", Refusal::BadOffset),
        ("/", pid, "abcd-1", Refusal::BadOffset),
        ("/", pid, "abcd-99999999999999999999999", Refusal::BadOffset),
    ] {
        assert_eq!(
            s.restore(nsp, pid, offset, now),
            Err(why),
            "{nsp} {pid} {offset}"
        );
    }
    assert!(s.restore("/", pid, "abcd-0", now).is_ok());
}

#[test]
fn sessions_and_packets_expire_after_the_window() {
    let t0 = Instant::now();
    let mut s = store(bounds());
    s.push("/", to(&[]), frames("0"), t0);
    let kept = session("/", &[]);
    s.persist(kept.clone(), t0);
    let late = t0 + Duration::from_secs(11);
    let pid = kept.pid.as_str();
    assert_eq!(
        s.restore("/", pid, "abcd-0", late),
        Err(Refusal::UnknownSession)
    );

    let mut s = store(bounds());
    s.push("/", to(&[]), frames("0"), t0);
    s.push("/", to(&[]), frames("1"), t0);
    let kept = session("/", &[]);
    s.persist(kept.clone(), t0 + Duration::from_secs(5));
    let pid = kept.pid.as_str();
    // the session is young enough, the packet after its offset is not
    let r = s.restore("/", pid, "abcd-0", t0 + Duration::from_secs(12));
    assert_eq!(r, Err(Refusal::RangeGone));
    s.expire(t0 + Duration::from_secs(12));
    assert_eq!(s.sizes().0, 0);
    s.expire(t0 + Duration::from_secs(16));
    assert_eq!(s.sizes().2, 0);
}

#[test]
fn past_the_namespace_bound_the_oldest_packets_go_and_older_offsets_are_gone() {
    let now = Instant::now();
    let mut s = store(RecoveryBounds {
        max_packets_per_namespace: 3,
        ..bounds()
    });
    for i in 0..5 {
        s.push("/", to(&[]), frames(&i.to_string()), now);
    }
    assert_eq!(s.sizes().0, 3);
    assert_eq!(s.take_evicted().packets, 2);
    let sid = Sid::new();
    assert!(
        s.missed("/", 0, &sid, &[], now).is_none(),
        "packet 1 is gone"
    );
    let got: Vec<String> = s
        .missed("/", 1, &sid, &[], now)
        .unwrap()
        .iter()
        .map(text)
        .collect();
    assert_eq!(
        got,
        ["2", "3", "4"],
        "everything after offset 1 is still there"
    );
    let kept = session("/", &[]);
    s.persist(kept.clone(), now);
    assert_eq!(
        s.restore("/", kept.pid.as_str(), "abcd-0", now),
        Err(Refusal::RangeGone)
    );
}

#[test]
fn past_the_total_bounds_the_oldest_packet_of_any_namespace_goes() {
    let t0 = Instant::now();
    let mut s = store(RecoveryBounds {
        max_packets: 3,
        ..bounds()
    });
    s.push("/a", to(&[]), frames("a0"), t0);
    s.push("/b", to(&[]), frames("b0"), t0 + Duration::from_millis(1));
    s.push("/a", to(&[]), frames("a1"), t0 + Duration::from_millis(2));
    s.push("/b", to(&[]), frames("b1"), t0 + Duration::from_millis(3));
    let sid = Sid::new();
    assert!(
        s.missed("/a", 0, &sid, &[], t0).is_some(),
        "a0 went, a1 stays"
    );
    assert_eq!(s.next_seq("/a"), 2);
    let (packets, bytes, _, _) = s.sizes();
    assert_eq!(packets, 3);

    let mut s = store(RecoveryBounds {
        max_packet_bytes: 2 * (ENTRY_OVERHEAD + 4),
        ..bounds()
    });
    for i in 0..4 {
        s.push("/", to(&[]), frames(&format!("{i:04}")), t0);
    }
    assert_eq!(s.sizes().0, 2, "two entries of 4 bytes fit");
    assert!(bytes > 3 * ENTRY_OVERHEAD);
    let mut s = store(RecoveryBounds {
        max_packet_bytes_per_namespace: ENTRY_OVERHEAD + 8,
        ..bounds()
    });
    s.push(
        "/",
        to(&[]),
        vec![Frame::Binary(Bytes::from_static(b"123456"))].into(),
        t0,
    );
    s.push("/", to(&[]), frames("1"), t0);
    assert_eq!(s.sizes().0, 1);
}

#[test]
fn past_the_session_bounds_the_oldest_sessions_go() {
    let now = Instant::now();
    let mut s = store(RecoveryBounds {
        max_sessions: 3,
        max_sessions_per_namespace: 2,
        ..bounds()
    });
    s.push("/", to(&[]), frames("0"), now);
    s.push("/b", to(&[]), frames("0"), now);
    let a: Vec<SessionState> = (0..3).map(|_| session("/", &[])).collect();
    for k in &a {
        s.persist(k.clone(), now);
    }
    assert_eq!(s.take_evicted().sessions, 1, "per namespace");
    let b: Vec<SessionState> = (0..2).map(|_| session("/b", &[])).collect();
    for k in &b {
        s.persist(k.clone(), now);
    }
    assert_eq!(s.sizes().2, 3);
    let restore = |s: &mut RecoveryStore, k: &SessionState| {
        s.restore(&k.nsp, k.pid.as_str(), "abcd-0", now).is_ok()
    };
    assert!(!restore(&mut s, &a[0]), "evicted by its namespace's bound");
    assert!(!restore(&mut s, &a[1]), "the oldest when the total was hit");
    assert!(restore(&mut s, &a[2]) && restore(&mut s, &b[0]) && restore(&mut s, &b[1]));

    let mut s = store(RecoveryBounds {
        max_session_bytes: 700,
        ..bounds()
    });
    let mut big = session("/", &[]);
    big.data = json!("x".repeat(500));
    s.persist(big, now);
    s.persist(session("/", &[]), now);
    assert_eq!(s.sizes().2, 1, "the big old one went for the bytes bound");
    assert!(s.sizes().3 <= 700);
}

#[test]
fn persisting_a_pid_again_replaces_its_session() {
    let now = Instant::now();
    let mut s = store(bounds());
    s.push("/", to(&[]), frames("0"), now);
    let mut k = session("/", &["a"]);
    s.persist(k.clone(), now);
    k.rooms = vec![Room::from("b")];
    s.persist(k.clone(), now);
    assert_eq!(s.sizes().2, 1);
    let r = s.restore("/", k.pid.as_str(), "abcd-0", now).unwrap();
    assert_eq!(r.session.rooms, vec![Room::from("b")]);
}

#[test]
fn a_forgotten_log_made_anew_never_reuses_its_offsets() {
    let t0 = Instant::now();
    let mut s = store(bounds());
    for i in 0..3 {
        s.push("/dyn", to(&[]), frames(&i.to_string()), t0);
    }
    s.expire(t0 + Duration::from_secs(11));
    assert_eq!(s.next_seq("/dyn"), 3, "forgotten, its numbers not");
    let t1 = t0 + Duration::from_secs(12);
    assert_eq!(s.push("/dyn", to(&[]), frames("3"), t1), 3);
    let kept = session("/dyn", &[]);
    s.persist(kept.clone(), t1);
    assert_eq!(
        s.restore("/dyn", kept.pid.as_str(), "abcd-0", t1),
        Err(Refusal::RangeGone)
    );
}

#[test]
fn a_stored_packet_costs_its_bytes_its_room_names_and_a_fixed_overhead() {
    let now = Instant::now();
    let mut s = store(bounds());
    s.push("/", to(&["room"]), frames("0123456789"), now);
    let room = std::mem::size_of::<Room>() + 16 + 4;
    assert_eq!(s.sizes().1, ENTRY_OVERHEAD + room + 10);
    assert!((200..400).contains(&ENTRY_OVERHEAD), "{ENTRY_OVERHEAD}");
}
