//! What a socket looks like to the Admin UI (its `SerializedSocket`): id, the first 12 characters of
//! the Engine.IO id as `clientId`, transport, namespace, `data`, the handshake (address as a proxy
//! reported it, headers, query, times, URL) and rooms, own id first; and the ISO-8601 timestamps
//! the live events carry (what a JavaScript `Date` becomes in JSON).

use serde_json::{json, Map, Value};

use crate::handshake::query_param;
use crate::room::SocketDescription;
use crate::server::Server;

/// `socket` as the UI expects it.
pub fn serialize_socket(socket: &SocketDescription) -> Value {
    let info = &socket.handshake;
    let mut headers = Map::new();
    for (name, value) in &info.headers {
        match headers.get_mut(name) {
            Some(Value::String(prev)) => {
                prev.push_str(", ");
                prev.push_str(value);
            }
            _ => {
                headers.insert(name.clone(), Value::String(value.clone()));
            }
        }
    }
    let address = info
        .header("cf-connecting-ip")
        .or_else(|| info.header("x-forwarded-for"))
        .map(str::to_owned)
        .unwrap_or_else(|| info.peer.map(|p| p.ip().to_string()).unwrap_or_default());
    let engine_id = socket.engine_id.as_str();
    let mut rooms = Vec::with_capacity(socket.rooms.len() + 1);
    rooms.push(socket.id.as_str());
    rooms.extend(socket.rooms.iter().map(String::as_str));
    json!({
        "id": socket.id.as_str(),
        "clientId": engine_id.get(..12).unwrap_or(engine_id),
        "transport": socket.transport,
        "nsp": socket.nsp,
        "data": socket.data,
        "handshake": {
            "address": address,
            "headers": headers,
            "query": query_object(&info.url),
            "issued": info.issued,
            "secure": info.secure,
            "time": iso_time_millis(info.issued),
            "url": &*info.url,
            "xdomain": info.xdomain,
        },
        "rooms": rooms,
    })
}

/// The query string of `url` as an object (a repeated key keeps its first value).
fn query_object(url: &str) -> Value {
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or("");
    let mut out = Map::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let key = pair.split_once('=').map(|(k, _)| k).unwrap_or(pair);
        if !out.contains_key(key) {
            let value = query_param(query, key).unwrap_or_default().into_owned();
            out.insert(key.to_owned(), Value::String(value));
        }
    }
    Value::Object(out)
}

/// Every socket of every namespace, serialised (the `all_sockets` event).
pub(super) async fn all_sockets(server: &Server) -> Vec<Value> {
    let mut out = Vec::new();
    for (name, _) in server.namespaces() {
        if let Some(ns) = server.existing(&name) {
            out.extend(ns.fetch_sockets().await.iter().map(serialize_socket));
        }
    }
    out
}

/// Now, as JavaScript's `Date.prototype.toJSON` writes it (`2026-12-04T16:50:24.123Z`).
pub fn iso_time() -> String {
    crate::time::iso_millis(crate::time::now_millis())
}

/// `millis` since the Unix epoch in ISO-8601 UTC with milliseconds.
pub(super) fn iso_time_millis(millis: u64) -> String {
    crate::time::iso_millis(i64::try_from(millis).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_times_match_javascript() {
        assert_eq!(iso_time_millis(0), "1970-01-01T00:00:00.000Z");
        // new Date(951782400123).toJSON(): a leap day
        assert_eq!(iso_time_millis(951_782_400_123), "2000-02-29T00:00:00.123Z");
        // new Date(1796402424999).toJSON()
        assert_eq!(
            iso_time_millis(1_796_402_424_999),
            "2026-12-04T16:40:24.999Z"
        );
        assert_eq!(
            iso_time_millis(4_102_444_799_000),
            "2099-12-31T23:59:59.000Z"
        );
        assert_eq!(iso_time().len(), 24);
    }

    #[test]
    fn query_strings_become_objects() {
        assert_eq!(
            query_object("/socket.io/?EIO=4&transport=polling&name=a%20b&EIO=3&flag"),
            json!({"EIO": "4", "transport": "polling", "name": "a b", "flag": ""})
        );
        assert_eq!(query_object("/socket.io/"), json!({}));
    }
}
