//! Connection state recovery over the Redis stream, as `@socket.io/redis-streams-adapter` 0.3 does
//! it, so a session kept by any server of the cluster (Node or roomcast) is recovered by any
//! other: a socket that left with a recoverable reason is kept under `<prefix><pid>`
//! (`SET ... PX <max disconnection>`, the value in [`super::stream_wire::encode_session`]'s
//! format); a client presenting `pid` and `offset` takes it back (`GET` and `DEL` in one
//! `MULTI`, so only one server recovers it) if the offset is still an entry of the stream, and
//! gets every BROADCAST entry of its namespace after the offset that reaches its rooms, each with
//! its entry id appended. The read is paged and bounded: a range longer than
//! [`MAX_PAGES`] pages is refused (the client gets a new session), never replayed in part.

use std::sync::Arc;
use std::time::Duration;

use crate::adapter::recovery::session::{with_late_session_grace, Refusal};
use crate::adapter::recovery::store::{Restored, SessionState};
use crate::adapter::redis::cluster_wire::ClusterBody;
use crate::adapter::redis::stream_link::{parse_entries, StreamLink};
use crate::adapter::redis::stream_wire::{
    decode_entry, decode_session, encode_session, next_offset, parse_offset,
};
use crate::adapter::redis::wire::{Broadcast, Targets};
use crate::adapter::BoxFuture;
use crate::metrics::Metrics;
use crate::protocol::socketio::Parser;
use crate::room::Room;

/// Entries read by one `XRANGE` of a recovery.
pub const PAGE: usize = 1000;
/// Most `XRANGE` pages one recovery reads.
pub const MAX_PAGES: usize = 100;

/// Keeps `session` in Redis for `ttl` (dropped when the link is down).
pub fn persist(link: &StreamLink, session: &SessionState, ttl: Duration) {
    let Some(mut conn) = link.connection() else {
        tracing::debug!("recovery: Redis unreachable; a session was not kept");
        return;
    };
    let key = format!("{}{}", link.settings().session_prefix, session.pid.as_str());
    let value = encode_session(session);
    let px = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
    actix_rt::spawn(async move {
        let mut cmd = redis::cmd("SET");
        cmd.arg(key).arg(value).arg("PX").arg(px);
        if let Err(e) = cmd.query_async::<()>(&mut conn).await {
            tracing::warn!(error = %e, "recovery: keeping a session in Redis failed");
        }
    });
}

/// Node's `shouldIncludePacket`: a broadcast to `targets` reaches a socket in `rooms` (its own id
/// room included).
pub fn reaches(targets: &Targets, rooms: &[Room]) -> bool {
    let included = targets.rooms.is_empty() || rooms.iter().any(|r| targets.rooms.contains(r));
    included && !rooms.iter().any(|r| targets.except.contains(r))
}

/// Takes back the session `pid` of namespace `nsp` whose client had the entry `offset`, with the
/// packets it missed encoded with `parser`; `None` when it cannot be recovered, the reason counted
/// in `metrics`. A session not (yet) in Redis is asked for again for a moment: the server its
/// client left may still be handling the loss of the old connection
/// ([`with_late_session_grace`]).
pub fn restore(
    link: Arc<StreamLink>,
    nsp: &str,
    pid: &str,
    offset: &str,
    parser: Parser,
    metrics: Arc<Metrics>,
) -> BoxFuture<Option<Restored>> {
    let nsp: Arc<str> = nsp.into();
    let key: Arc<str> = format!("{}{pid}", link.settings().session_prefix).into();
    let offset: Arc<str> = offset.into();
    Box::pin(async move {
        let attempt = || {
            take(
                link.clone(),
                nsp.clone(),
                key.clone(),
                offset.clone(),
                parser,
            )
        };
        let restored = with_late_session_grace(attempt).await;
        if let Err(why) = &restored {
            let counter =
                metrics.labelled_counter("roomcast_recovery_refused_total", "reason", why.as_str());
            counter.increment(1);
        }
        restored.ok()
    })
}

/// One attempt of [`restore`]: `GET` and `DEL` the session in one `MULTI`, check the offset is
/// still an entry of the stream, read what the session missed.
async fn take(
    link: Arc<StreamLink>,
    nsp: Arc<str>,
    key: Arc<str>,
    offset: Arc<str>,
    parser: Parser,
) -> Result<Restored, Refusal> {
    parse_offset(&offset).ok_or(Refusal::BadOffset)?;
    let mut conn = link.connection().ok_or(Refusal::Unavailable)?;
    let stream = link.settings().stream.clone();
    let mut take = redis::pipe();
    take.atomic()
        .cmd("GET")
        .arg(&*key)
        .cmd("DEL")
        .arg(&*key)
        .ignore();
    let (value,) = take
        .query_async::<(Option<String>,)>(&mut conn)
        .await
        .map_err(|_| Refusal::Unavailable)?;
    let value = value.ok_or(Refusal::UnknownSession)?;
    let mut here = redis::cmd("XRANGE");
    here.arg(&stream).arg(&*offset).arg(&*offset);
    let here = here.query_async::<redis::Value>(&mut conn).await;
    let here = here.map_err(|_| Refusal::Unavailable)?;
    if parse_entries(here).is_empty() {
        return Err(Refusal::RangeGone);
    }
    let session = decode_session(&value, &nsp).map_err(|_| Refusal::Damaged)?;
    let (missed, through) = missed(&mut conn, &stream, &session, offset.to_string(), parser)
        .await
        .ok_or(Refusal::RangeGone)?;
    Ok(Restored {
        session,
        after: 0,
        missed,
        through: parse_offset(&through),
    })
}

/// The frames of the broadcasts after `offset` that reach `session`, each with its entry id
/// appended, and the last entry read; `None` when Redis fails or the range is longer than
/// [`MAX_PAGES`] pages.
async fn missed(
    conn: &mut redis::aio::MultiplexedConnection,
    stream: &str,
    session: &SessionState,
    mut offset: String,
    parser: Parser,
) -> Option<(Vec<Arc<[crate::protocol::engineio::Frame]>>, String)> {
    let mut rooms = vec![Room::from(session.sid.as_str())];
    rooms.extend(session.rooms.iter().cloned());
    let mut out = Vec::new();
    for _ in 0..MAX_PAGES {
        let start = next_offset(&offset)?;
        let mut cmd = redis::cmd("XRANGE");
        cmd.arg(stream).arg(start).arg("+").arg("COUNT").arg(PAGE);
        let entries = parse_entries(cmd.query_async::<redis::Value>(conn).await.ok()?);
        let complete = entries.len() < PAGE;
        for (id, fields) in entries {
            offset.clone_from(&id);
            let Ok(message) = decode_entry(&fields) else {
                continue;
            };
            if message.nsp != session.nsp {
                continue;
            }
            let ClusterBody::Broadcast {
                packet,
                targets,
                flags,
                request_id: None,
            } = message.body
            else {
                continue;
            };
            if !reaches(&targets, &rooms) {
                continue;
            }
            let mut packet = packet;
            if let Some(serde_json::Value::Array(args)) = packet.packet.data.as_mut() {
                args.push(serde_json::Value::from(id.as_str()));
            }
            let broadcast = Broadcast {
                uid: message.uid,
                packet,
                targets,
                flags,
            };
            out.push(broadcast.into_message(parser).frames);
        }
        if complete {
            return Some((out, offset));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapter::redis::stream_link::parse_entries;
    use redis::Value as Reply;

    fn targets(rooms: &[&str], except: &[&str]) -> Targets {
        let list = |names: &[&str]| names.iter().map(|n| Room::from(*n)).collect();
        Targets {
            rooms: list(rooms),
            except: list(except),
        }
    }

    #[test]
    fn a_broadcast_reaches_a_session_as_nodes_should_include_packet_says() {
        let rooms = [Room::from("sid"), Room::from("r")];
        assert!(reaches(&targets(&[], &[]), &rooms), "to everyone");
        assert!(
            reaches(&targets(&["x", "r"], &[]), &rooms),
            "to one of its rooms"
        );
        assert!(
            reaches(&targets(&["sid"], &[]), &rooms),
            "to the socket itself"
        );
        assert!(!reaches(&targets(&["x"], &[]), &rooms), "to other rooms");
        assert!(!reaches(&targets(&[], &["r"]), &rooms), "its room excepted");
        assert!(
            !reaches(&targets(&["r"], &["sid"]), &rooms),
            "itself excepted"
        );
    }

    #[test]
    fn range_replies_parse_to_ids_and_fields_and_odd_shapes_are_skipped() {
        let bulk = |s: &str| Reply::BulkString(s.as_bytes().to_vec());
        let entry = |id: &str, kv: &[&str]| {
            Reply::Array(vec![
                bulk(id),
                Reply::Array(kv.iter().map(|s| bulk(s)).collect()),
            ])
        };
        let reply = Reply::Array(vec![
            entry("1-0", &["uid", "u", "nsp", "/"]),
            Reply::Int(3),
            entry("1-1", &["type", "3"]),
        ]);
        let got = parse_entries(reply);
        let ids: Vec<&str> = got.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids, ["1-0", "1-1"]);
        assert_eq!(
            got[0].1,
            [("uid".into(), "u".into()), ("nsp".into(), "/".into())]
        );
        assert!(parse_entries(Reply::Nil).is_empty());
    }
}
