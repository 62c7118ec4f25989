//! Sockets as Node's adapter describes them in a REMOTE_FETCH response:
//! `{id, handshake: {headers, time, address, xdomain, secure, issued, url, query, auth}, rooms,
//! data}`, the socket's own id first among its rooms (Socket.IO's `socket.handshake`, without its
//! `sessionStore`), and back into roomcast's [`SocketDescription`].

use std::net::{IpAddr, SocketAddr};

use serde_json::{json, Map, Value};

use crate::adapter::NodeSocket;
use crate::handshake::{query_param, HandshakeDescription};
use crate::protocol::ids::Sid;
use crate::room::SocketDescription;
use crate::time::civil_from_days;

/// `socket` as a Node server would send it.
pub fn to_node(socket: &SocketDescription) -> Value {
    let info = &socket.handshake;
    let mut rooms = Vec::with_capacity(socket.rooms.len() + 1);
    rooms.push(Value::from(socket.id.as_str()));
    rooms.extend(socket.rooms.iter().map(|r| Value::from(r.as_str())));
    json!({
        "id": socket.id.as_str(),
        "handshake": {
            "headers": headers_object(&info.headers),
            "time": date_string(info.issued),
            "address": info.peer.map(|p| p.ip().to_string()).unwrap_or_default(),
            "xdomain": info.xdomain,
            "secure": info.secure,
            "issued": info.issued,
            "url": info.url,
            "query": query_object(&info.url),
            "auth": info.auth,
        },
        "rooms": rooms,
        "data": socket.data,
    })
}

/// Adds `"node": node` to each of `sockets` (described as [`to_node`] does), so a roomcast node
/// asking knows where each socket is (Node.js servers read the fields they know and ignore this
/// one).
pub fn stamp(sockets: &mut [Value], node: &str) {
    for socket in sockets.iter_mut().filter_map(Value::as_object_mut) {
        socket.insert("node".to_owned(), node.into());
    }
}

/// [`from_node`], with the node holding the socket when the answer was [`stamp`]ed.
pub fn from_stamped(value: &Value, nsp: &str) -> Option<NodeSocket> {
    let node = value.get("node").and_then(Value::as_str).map(str::to_owned);
    from_node(value, nsp).map(|socket| NodeSocket { socket, node })
}

/// A socket of another server, described by `value`, in namespace `nsp`; `None` when it is not
/// one (an id that is not a Socket.IO id, a missing handshake). What Node does not send is
/// filled in: the Engine.IO id is the socket id, the transport is empty, the connection time is
/// the handshake's.
pub fn from_node(value: &Value, nsp: &str) -> Option<SocketDescription> {
    let id = Sid::parse(value.get("id")?.as_str()?)?;
    let hs = value.get("handshake")?.as_object()?;
    let flag = |k: &str| hs.get(k).and_then(Value::as_bool).unwrap_or(false);
    let issued = hs
        .get("issued")
        .and_then(super::wire::as_count)
        .unwrap_or(0);
    let handshake = HandshakeDescription {
        headers: headers_list(hs.get("headers")),
        url: hs
            .get("url")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
        peer: hs
            .get("address")
            .and_then(Value::as_str)
            .and_then(parse_address),
        issued,
        secure: flag("secure"),
        xdomain: flag("xdomain"),
        auth: hs.get("auth").cloned().unwrap_or_else(|| json!({})),
    };
    let rooms = value
        .get("rooms")
        .and_then(Value::as_array)
        .map(|rooms| {
            rooms
                .iter()
                .filter_map(Value::as_str)
                .filter(|r| *r != id.as_str())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    Some(SocketDescription {
        id,
        nsp: nsp.to_owned(),
        handshake,
        rooms,
        data: value.get("data").cloned().unwrap_or(Value::Null),
        engine_id: id,
        transport: String::new(),
        connected_at: issued,
    })
}

/// Headers as Node's `IncomingMessage.headers`: repeated ones joined with `, `, `set-cookie` a
/// list.
fn headers_object(headers: &[(String, String)]) -> Value {
    let mut map = Map::new();
    for (name, value) in headers {
        match (map.get_mut(name), name.as_str()) {
            (Some(Value::Array(list)), _) => list.push(Value::from(value.as_str())),
            (Some(Value::String(prev)), _) => {
                prev.push_str(", ");
                prev.push_str(value);
            }
            (_, "set-cookie") => {
                map.insert(name.clone(), json!([value]));
            }
            _ => {
                map.insert(name.clone(), Value::from(value.as_str()));
            }
        }
    }
    Value::Object(map)
}

/// Headers back into (name, value) lines; a list gives one line per value.
fn headers_list(headers: Option<&Value>) -> Vec<(String, String)> {
    let Some(Value::Object(map)) = headers else {
        return Vec::new();
    };
    let mut out = Vec::with_capacity(map.len());
    for (name, value) in map {
        match value {
            Value::String(s) => out.push((name.clone(), s.clone())),
            Value::Array(items) => out.extend(
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(|s| (name.clone(), s.to_owned())),
            ),
            _ => {}
        }
    }
    out
}

/// The query of `url` as an object, as engine.io parses it (a repeated key keeps its last value,
/// *inferred* from `Object.fromEntries(searchParams)`).
fn query_object(url: &str) -> Value {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    let mut out = Map::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let key = pair.split_once('=').map_or(pair, |(k, _)| k);
        let Some(value) = query_param(pair, key) else {
            continue;
        };
        out.insert(key.to_owned(), Value::from(value.into_owned()));
    }
    Value::Object(out)
}

/// Node's address text (`::ffff:127.0.0.1`, no port) as a socket address with port 0.
fn parse_address(text: &str) -> Option<SocketAddr> {
    let ip: IpAddr = text.parse().ok()?;
    Some(SocketAddr::new(ip, 0))
}

/// `millis` as JavaScript's `new Date(millis) + ""` writes it on a UTC server:
/// `Fri Dec 04 2026 20:35:06 GMT+0000 (Coordinated Universal Time)`.
pub fn date_string(millis: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = millis / 1000;
    let days = secs / 86_400;
    let (year, month, day) = civil_from_days(i64::try_from(days).unwrap_or(0));
    let rem = secs % 86_400;
    format!(
        "{} {} {day:02} {year:04} {:02}:{:02}:{:02} GMT+0000 (Coordinated Universal Time)",
        DAYS[(days % 7) as usize],
        MONTHS[(month as usize).saturating_sub(1) % 12],
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
    )
}
