//! Unit tests of the store's snapshot: what an export keeps, what an import gives back (offsets
//! that stay valid, wall-clock expiry, the importing store's bounds) and what it refuses.

use super::super::tests::{bounds, to};
use super::super::{RecoveryBounds, Refusal};
use super::*;
use bytes::Bytes;
use serde_json::json;

const SEC: u64 = 1000;
const WALL: u64 = 1_700_000_000_000;

fn text(t: &str) -> Arc<[Frame]> {
    vec![Frame::Text(t.to_owned().into())].into()
}

fn session(nsp: &str, rooms: &[&str]) -> SessionState {
    SessionState {
        sid: Sid::new(),
        pid: Sid::new(),
        nsp: nsp.to_owned(),
        rooms: rooms.iter().map(|r| Room::from(*r)).collect(),
        data: json!({"sub": "alice", "n": [1, 2]}),
    }
}

/// Through JSON, as the state file carries it.
fn through_json(snap: &Snapshot) -> Snapshot {
    serde_json::from_slice(&serde_json::to_vec(snap).expect("encodes")).expect("decodes")
}

#[test]
fn a_session_exported_and_imported_recovers_with_its_offset_and_missed_packets() {
    let t0 = Instant::now();
    let mut old = RecoveryStore::new(bounds(), "old1".to_owned());
    let kept = session("/", &["r"]);
    let seen = old.push("/", to(&["r"]), text("1"), t0);
    let binary: Arc<[Frame]> = vec![
        Frame::Text("451-[\"b\",{\"_placeholder\":true,\"num\":0}]".into()),
        Frame::Binary(Bytes::from_static(&[0, 1, 255])),
    ]
    .into();
    old.push("/", to(&["r"]), binary.clone(), t0);
    old.push("/", to(&["elsewhere"]), text("2"), t0);
    let except = Selector {
        except_sid: Some(kept.sid),
        ..Selector::default()
    };
    old.push("/", Arc::new(except), text("not to it"), t0);
    old.push("/other", to(&[]), text("x"), t0);
    old.persist(kept.clone(), t0);
    let snap = through_json(&old.export(t0, WALL));
    assert_eq!((snap.format.as_str(), snap.version), (FORMAT, VERSION));

    // The next process: another clock, another random instance, a second later by the wall clock.
    let t1 = Instant::now();
    let mut new = RecoveryStore::new(bounds(), "new2".to_owned());
    let imported = new.import(snap, t1, WALL + SEC).expect("imported");
    assert_eq!(
        imported,
        Imported {
            sessions: 1,
            packets: 5,
            expired: 0
        }
    );
    let offset = old.offset(seen);
    assert_eq!(new.offset(seen), offset, "offsets keep their instance");
    let r = new
        .restore("/", kept.pid.as_str(), &offset, t1)
        .expect("restored");
    assert_eq!(r.session, kept, "id, pid, rooms and data");
    let missed = new
        .missed("/", r.after, &kept.sid, &kept.rooms, t1)
        .expect("all stored");
    assert_eq!(missed, vec![binary], "what it missed, binary frames intact");
    assert_eq!(
        new.next_seq("/"),
        old.next_seq("/"),
        "new packets get new sequence numbers"
    );
    assert!(new.next_seq("/brand-new") >= old.next_seq("/other"));
    assert!(
        new.restore("/", kept.pid.as_str(), &offset, t1).is_err(),
        "once"
    );
}

#[test]
fn what_expired_by_the_wall_clock_is_dropped_and_the_rest_keeps_its_deadline() {
    let now = Instant::now();
    let early = now - Duration::from_secs(8);
    let mut old = RecoveryStore::new(bounds(), "old1".to_owned());
    let (gone, young) = (session("/", &[]), session("/", &[]));
    let first = old.push("/", to(&[]), text("early"), early);
    old.persist(gone.clone(), early);
    let second = old.push("/", to(&[]), text("late"), now);
    old.persist(young.clone(), now);
    let snap = old.export(now, WALL);
    assert_eq!(snap.sessions[0].expires_ms, WALL + 2 * SEC);
    assert_eq!(snap.sessions[1].expires_ms, WALL + 10 * SEC);

    // Restarted 5 s later by the wall clock: the early ones' 2 s are over, the others have 5 s.
    let t1 = Instant::now();
    let mut new = RecoveryStore::new(bounds(), "new2".to_owned());
    let imported = new.import(snap, t1, WALL + 5 * SEC).expect("imported");
    assert_eq!(
        imported,
        Imported {
            sessions: 1,
            packets: 1,
            expired: 2
        }
    );
    let refused = new.restore("/", gone.pid.as_str(), &old.offset(first), t1);
    assert_eq!(refused.unwrap_err(), Refusal::UnknownSession);
    assert_eq!(
        new.restore("/", young.pid.as_str(), &old.offset(first), t1)
            .expect("restored")
            .after,
        first,
        "its range (the late packet) is whole"
    );
    // The kept packet lives 5 s more, not a whole window.
    new.expire(t1 + Duration::from_secs(6));
    assert_eq!(new.sizes().0, 0, "the late packet expired on time");
    assert_eq!(new.next_seq("/"), second + 1);
}

#[test]
fn the_importing_store_applies_its_own_bounds() {
    let now = Instant::now();
    let mut old = RecoveryStore::new(bounds(), "old1".to_owned());
    for n in 0..5 {
        old.push("/", to(&[]), text(&n.to_string()), now);
    }
    let tight = RecoveryBounds {
        max_packets: 2,
        max_packets_per_namespace: 2,
        ..bounds()
    };
    let mut new = RecoveryStore::new(tight, "new2".to_owned());
    let imported = new
        .import(old.export(now, WALL), now, WALL)
        .expect("imported");
    assert_eq!(imported.packets, 2);
    assert_eq!(new.take_evicted().packets, 3, "the oldest went, counted");
    assert_eq!(new.next_seq("/"), 5);
}

/// A change that makes a snapshot bad.
type Spoil = fn(&mut Snapshot);

#[test]
fn a_bad_snapshot_is_refused_and_the_store_stays_as_it_was() {
    let now = Instant::now();
    let mut old = RecoveryStore::new(bounds(), "old1".to_owned());
    old.push("/", to(&[]), text("0"), now);
    old.persist(session("/", &[]), now);
    let good = old.export(now, WALL);
    let cases: Vec<(Spoil, &str)> = vec![
        (|s| s.format = "other".into(), "format \"other\""),
        (|s| s.version = 2, "version 2"),
        (|s| s.instance = "no spaces".into(), "bad instance"),
        (|s| s.instance = String::new(), "bad instance"),
        (|s| s.logs[0].nsp = "x".into(), "bad namespace"),
        (|s| s.sessions[0].nsp = String::new(), "bad namespace"),
        (|s| s.logs[0].first = u64::MAX, "out of range"),
        (
            |s| s.logs[0].packets[0].frames = vec![FrameRecord::Binary("*".into())],
            "bad binary frame",
        ),
    ];
    for (spoil, want) in cases {
        let mut snap = good.clone();
        spoil(&mut snap);
        let mut new = RecoveryStore::new(bounds(), "new2".to_owned());
        let err = new.import(snap, now, WALL).expect_err(want);
        assert!(err.contains(want), "{err} names {want}");
        assert_eq!(new.sizes(), (0, 0, 0, 0));
        assert_eq!(new.offset(0), "new2-0", "its own offsets still");
    }
    let mut busy = RecoveryStore::new(bounds(), "new2".to_owned());
    busy.push("/", to(&[]), text("0"), now);
    assert!(
        busy.import(good, now, WALL).is_err(),
        "only into an empty store"
    );
}
