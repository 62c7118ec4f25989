//! The room API of `benches/reference/server.mjs`, on socketioxide: the same events, the same acks,
//! the same refusals and the same broadcast semantics (publish reaches every socket in any of the
//! rooms except the sender, once).

use std::collections::HashSet;
use std::convert::Infallible;
use std::fmt;

use serde_json::{json, Value};
use socketioxide::extract::{AckSender, Data, SocketRef};

/// Events a socket may not publish (the Node reference's list).
const RESERVED: [&str; 6] = [
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
];
const MAX_ROOM_BYTES: usize = 256;

/// Which rooms a socket may publish to: only those it is in (`joined`, the default of the Node
/// reference and of roomcast's `client_publish`) or any.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PublishPolicy {
    Joined,
    Any,
}

/// All the arguments of an event, however many (socketioxide hands a plain `Data<Value>` only the
/// first one; a tuple-like type gets them all).
pub struct Args(pub Vec<Arg>);

/// One argument: JSON, or a binary attachment (socketioxide's deserializer hands a placeholder's
/// payload to `visit_byte_buf`, which `serde_json::Value` refuses, so binary arguments need a type
/// of their own). A binary nested inside a JSON argument is not taken apart: the event is refused,
/// as a decoding error, like any argument that does not fit.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Json(Value),
    Binary(Vec<u8>),
}

impl Arg {
    /// The JSON of a JSON argument.
    pub fn json(&self) -> Option<&Value> {
        match self {
            Arg::Json(v) => Some(v),
            Arg::Binary(_) => None,
        }
    }
}

impl<'de> serde::Deserialize<'de> for Arg {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        macro_rules! scalar {
            ($name:ident, $t:ty) => {
                fn $name<E: serde::de::Error>(self, v: $t) -> Result<Arg, E> {
                    Ok(Arg::Json(Value::from(v)))
                }
            };
        }
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Arg;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON value or a binary attachment")
            }
            scalar!(visit_bool, bool);
            scalar!(visit_i64, i64);
            scalar!(visit_u64, u64);
            scalar!(visit_f64, f64);
            scalar!(visit_str, &str);
            scalar!(visit_string, String);
            fn visit_unit<E: serde::de::Error>(self) -> Result<Arg, E> {
                Ok(Arg::Json(Value::Null))
            }
            fn visit_none<E: serde::de::Error>(self) -> Result<Arg, E> {
                Ok(Arg::Json(Value::Null))
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Arg, E> {
                Ok(Arg::Binary(v.to_vec()))
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Arg, E> {
                Ok(Arg::Binary(v))
            }
            fn visit_seq<S: serde::de::SeqAccess<'de>>(self, mut s: S) -> Result<Arg, S::Error> {
                let mut out = Vec::new();
                while let Some(v) = s.next_element::<Value>()? {
                    out.push(v);
                }
                Ok(Arg::Json(Value::Array(out)))
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(self, mut m: M) -> Result<Arg, M::Error> {
                let mut out = serde_json::Map::new();
                while let Some((k, v)) = m.next_entry::<String, Value>()? {
                    out.insert(k, v);
                }
                Ok(Arg::Json(Value::Object(out)))
            }
        }
        d.deserialize_any(Visit)
    }
}

impl serde::Serialize for Arg {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Arg::Json(v) => v.serialize(s),
            // socketioxide's serializer makes `serialize_bytes` a placeholder and an attachment.
            Arg::Binary(b) => s.serialize_bytes(b),
        }
    }
}

impl<'de> serde::Deserialize<'de> for Args {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Args;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("the event's arguments")
            }
            fn visit_seq<S: serde::de::SeqAccess<'de>>(self, mut s: S) -> Result<Args, S::Error> {
                let mut out = Vec::new();
                while let Some(v) = s.next_element()? {
                    out.push(v);
                }
                Ok(Args(out))
            }
        }
        d.deserialize_tuple(usize::MAX, Visit)
    }
}

/// Arguments emitted as separate arguments (a tuple for serde, so socketioxide spreads them).
pub struct Spread<'a>(pub &'a [Arg]);

impl serde::Serialize for Spread<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeTuple;
        let mut t = s.serialize_tuple(self.0.len())?;
        for v in self.0 {
            t.serialize_element(v)?;
        }
        t.end()
    }
}

/// The room names an argument names, or why it is refused.
pub fn room_list(arg: Option<&Value>) -> Result<Vec<String>, &'static str> {
    let rooms: Vec<&Value> = match arg {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(v) => vec![v],
        None => vec![&Value::Null],
    };
    if rooms.is_empty() {
        return Err("no room given");
    }
    let mut out = Vec::with_capacity(rooms.len());
    for room in rooms {
        match room {
            Value::String(s) if !s.is_empty() => {
                if s.len() > MAX_ROOM_BYTES {
                    return Err("room name too long");
                }
                out.push(s.clone());
            }
            _ => return Err("bad room name"),
        }
    }
    Ok(out)
}

fn refuse(ack: AckSender, error: &str) {
    let _ = ack.send(&json!({"ok": false, "error": error}));
}

/// The socket's rooms, its own id excluded (socketioxide does not put a socket in a room of its own
/// id, but the filter keeps the ack the same as the Node reference's should it ever).
fn named_rooms(socket: &SocketRef) -> Vec<String> {
    let own = socket.id.to_string();
    socket
        .rooms()
        .into_iter()
        .map(|r| r.into_owned())
        .filter(|r| *r != own)
        .collect()
}

async fn on_join(socket: SocketRef, Data(Args(args)): Data<Args>, ack: AckSender) {
    match room_list(args.first().and_then(Arg::json)) {
        Err(e) => refuse(ack, e),
        Ok(rooms) => {
            socket.join(rooms);
            let _ = ack.send(&json!({"ok": true, "rooms": named_rooms(&socket)}));
        }
    }
}

async fn on_leave(socket: SocketRef, Data(Args(args)): Data<Args>, ack: AckSender) {
    match room_list(args.first().and_then(Arg::json)) {
        Err(e) => refuse(ack, e),
        Ok(rooms) => {
            socket.leave(rooms);
            let _ = ack.send(&json!({"ok": true, "rooms": named_rooms(&socket)}));
        }
    }
}

async fn on_publish(
    socket: SocketRef,
    Data(Args(args)): Data<Args>,
    ack: AckSender,
    policy: PublishPolicy,
) {
    let rooms = match room_list(args.first().and_then(Arg::json)) {
        Err(e) => return refuse(ack, e),
        Ok(rooms) => rooms,
    };
    let event = match args.get(1) {
        Some(Arg::Json(Value::String(e))) if !e.is_empty() => e.clone(),
        _ => return refuse(ack, "bad event name"),
    };
    if RESERVED.contains(&event.as_str()) {
        return refuse(ack, "reserved event name");
    }
    if policy == PublishPolicy::Joined {
        let mine: HashSet<String> = socket.rooms().into_iter().map(|r| r.into_owned()).collect();
        if rooms.iter().any(|r| !mine.contains(r)) {
            return refuse(ack, "not in room");
        }
    }
    // `to` excludes the sender; a socket in several of the rooms receives the event once.
    let _ = socket.to(rooms).emit(&event, &Spread(&args[2..])).await;
    let _ = ack.send(&json!({"ok": true}));
}

async fn on_echo(Data(Args(args)): Data<Args>, ack: AckSender) {
    let _ = ack.send(&Spread(&args));
}

async fn on_unknown(ack: AckSender) {
    refuse(ack, "unknown event");
}

/// Registers the room API's handlers on a socket. Used as a connect *middleware*: it runs before
/// socketioxide sends the CONNECT packet, so the handlers exist before the client can emit anything
/// (the connect handler itself runs after CONNECT is sent, and an event arriving first would find no
/// handler).
pub async fn register(socket: SocketRef, policy: PublishPolicy) -> Result<(), Infallible> {
    socket.on("join", on_join);
    socket.on("leave", on_leave);
    socket.on(
        "publish",
        move |s: SocketRef, d: Data<Args>, ack: AckSender| on_publish(s, d, ack, policy),
    );
    socket.on("echo", on_echo);
    socket.on_fallback(on_unknown);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_lists_follow_the_reference() {
        assert_eq!(room_list(Some(&json!("a"))), Ok(vec!["a".to_string()]));
        assert_eq!(
            room_list(Some(&json!(["a", "b"]))),
            Ok(vec!["a".into(), "b".into()])
        );
        assert_eq!(room_list(Some(&json!([]))), Err("no room given"));
        assert_eq!(room_list(None), Err("bad room name"));
        assert_eq!(room_list(Some(&json!(""))), Err("bad room name"));
        assert_eq!(room_list(Some(&json!([1]))), Err("bad room name"));
        let long = "é".repeat(129); // 258 bytes, 129 characters
        assert_eq!(room_list(Some(&json!(long))), Err("room name too long"));
    }

    #[test]
    fn spread_and_args_round_trip() {
        let v = vec![Arg::Json(json!(1)), Arg::Json(json!({"a": "b"}))];
        let text = serde_json::to_string(&Spread(&v)).unwrap();
        assert_eq!(text, r#"[1,{"a":"b"}]"#);
        let Args(back) = serde_json::from_str(&text).unwrap();
        assert_eq!(back, v);
    }
}
