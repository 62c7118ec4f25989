//! The client room API: events a client emits on a broker namespace. `join` / `leave` answer the
//! socket's rooms; `publish` delivers an event to rooms (sender excluded, each socket once). Every
//! refusal is an acknowledgement `{"ok":false,"error":...}` and changes nothing.

use std::sync::Arc;

use serde_json::{json, Value};

use crate::broker::jwt::Claims;
use crate::broker::{NamespacePolicy, PublishPolicy};
use crate::payload::Payload;
use crate::protocol::socketio::is_reserved_event;
use crate::room::Room;
use crate::server::NamespaceRef;
use crate::socket::{AckSender, JoinError, Socket};

/// Longest room name, in bytes.
pub const MAX_ROOM_BYTES: usize = 256;
/// Most rooms one `join`, `leave` or `publish` may name.
pub const MAX_ROOMS_PER_CALL: usize = 100;

type Outcome = Result<Value, String>;

fn answer(ack: Option<AckSender>, outcome: Outcome) {
    if let Some(ack) = ack {
        ack.send(match outcome {
            Ok(v) => v,
            Err(e) => json!({ "ok": false, "error": e }),
        });
    }
}

/// Room names from a `join`/`leave`/`publish` argument: one name or an array of names.
pub fn parse_rooms(arg: Option<&Value>) -> Result<Vec<Room>, String> {
    let names: Vec<&Value> = match arg {
        Some(Value::Array(items)) if !items.is_empty() => items.iter().collect(),
        Some(v @ Value::String(_)) => vec![v],
        _ => return Err("rooms must be a room name or a non-empty array of names".into()),
    };
    if names.len() > MAX_ROOMS_PER_CALL {
        return Err(format!("at most {MAX_ROOMS_PER_CALL} rooms per call"));
    }
    names
        .into_iter()
        .map(|v| match v.as_str() {
            Some(s) if !s.is_empty() && s.len() <= MAX_ROOM_BYTES => Ok(Room::from(s)),
            _ => Err(format!(
                "invalid room name (a non-empty string of at most {MAX_ROOM_BYTES} bytes)"
            )),
        })
        .collect()
}

fn token_allows(socket: &Socket, rooms: &[Room]) -> Result<(), String> {
    match socket.extension::<Arc<Claims>>() {
        Some(claims) => match rooms.iter().find(|r| !claims.allows(r)) {
            Some(r) => Err(format!("room {r:?} not allowed by token")),
            None => Ok(()),
        },
        None => Ok(()),
    }
}

fn rooms_reply(socket: &Socket) -> Value {
    let rooms: Vec<Value> = socket
        .named_rooms()
        .iter()
        .map(|r| Value::String(r.to_string()))
        .collect();
    json!({ "ok": true, "rooms": rooms })
}

fn join(policy: &NamespacePolicy, socket: &Socket, args: &Payload) -> Outcome {
    if !policy.client_join {
        return Err("join not allowed".into());
    }
    let rooms = parse_rooms(args.first())?;
    token_allows(socket, &rooms)?;
    socket.join(rooms).map_err(|e| match e {
        JoinError::TooManyRooms(n) => format!("too many rooms (at most {n})"),
        JoinError::ServerLimit(n) => format!("server room limit reached (at most {n} memberships)"),
        JoinError::Disconnected => "disconnected".into(),
    })?;
    Ok(rooms_reply(socket))
}

fn leave(policy: &NamespacePolicy, socket: &Socket, args: &Payload) -> Outcome {
    if !policy.client_join {
        return Err("leave not allowed".into());
    }
    let rooms = parse_rooms(args.first())?;
    socket.leave(rooms);
    Ok(rooms_reply(socket))
}

fn publish(policy: &NamespacePolicy, socket: &Socket, args: Payload) -> Outcome {
    let rooms = parse_rooms(args.first())?;
    let event = match args.args.get(1) {
        Some(Value::String(e)) if !e.is_empty() => e.clone(),
        _ => return Err("event name must be a non-empty string".into()),
    };
    if is_reserved_event(&event) {
        return Err(format!("{event:?} is a reserved event name"));
    }
    match policy.client_publish {
        PublishPolicy::None => return Err("publish not allowed".into()),
        PublishPolicy::Joined => {
            let mine = socket.named_rooms();
            if let Some(r) = rooms.iter().find(|r| !mine.contains(r)) {
                return Err(format!("not in room {r:?}"));
            }
        }
        PublishPolicy::Any => {}
    }
    token_allows(socket, &rooms)?;
    let Payload { mut args, binary } = args;
    args.drain(..2);
    socket
        .to(rooms)
        .emit(&event, Payload { args, binary })
        .map_err(|e| e.to_string())?;
    Ok(json!({ "ok": true }))
}

/// Registers the room API on a broker namespace (once, shared by every socket).
pub fn attach(ns: NamespaceRef, policy: Arc<NamespacePolicy>) -> NamespaceRef {
    let p = policy.clone();
    let ns = ns.on("join", move |s, args, ack| answer(ack, join(&p, s, &args)));
    let p = policy.clone();
    let ns = ns.on("leave", move |s, args, ack| {
        answer(ack, leave(&p, s, &args))
    });
    ns.on("publish", move |s, args, ack| {
        answer(ack, publish(&policy, s, args))
    })
    .on_fallback(|_, _, ack| answer(ack, Err("unknown event".into())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_arguments() {
        assert_eq!(
            parse_rooms(Some(&json!("a"))).unwrap(),
            vec![Room::from("a")]
        );
        assert_eq!(parse_rooms(Some(&json!(["a", "b"]))).unwrap().len(), 2);
        for bad in [
            json!(""),
            json!([]),
            json!(1),
            json!(["a", 2]),
            json!("x".repeat(257)),
        ] {
            assert!(parse_rooms(Some(&bad)).is_err(), "{bad}");
        }
        assert!(parse_rooms(None).is_err());
        assert!(
            parse_rooms(Some(&json!("é".repeat(128)))).is_ok(),
            "256 bytes is fine"
        );
        let many: Vec<String> = (0..=MAX_ROOMS_PER_CALL).map(|i| i.to_string()).collect();
        assert!(parse_rooms(Some(&json!(many))).is_err());
    }
}
