//! What the server knows of a client from its first HTTP request, shared by every socket of the
//! connection, plus the per-namespace `auth` payload. Kept compact (a few allocations per
//! connection): the headers are one block of text, the query is read from the URL on demand.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Facts about the connection, fixed at the Engine.IO handshake.
#[derive(Debug, Clone, Default)]
pub struct ConnInfo {
    /// Request headers, one `name: value` line each (names lower-case).
    headers: Box<str>,
    /// Request URL of the first request (path and query).
    pub url: Box<str>,
    /// Remote address.
    pub peer: Option<SocketAddr>,
    /// Milliseconds since the Unix epoch when the connection was opened.
    pub issued: u64,
    /// Whether the request came over TLS.
    pub secure: bool,
    /// Whether the request was cross-origin (it had an `Origin` header).
    pub xdomain: bool,
}

impl ConnInfo {
    /// Connection facts from header pairs and the request URL.
    pub fn new<'a>(
        headers: impl IntoIterator<Item = (&'a str, &'a str)>,
        url: &str,
        peer: Option<SocketAddr>,
        secure: bool,
    ) -> Self {
        // One buffer of a typical request's size, names lower-cased in place: a header cost an
        // allocation for its lower-case name and the text grew by copying.
        let mut text = String::with_capacity(512);
        let mut xdomain = false;
        for (name, value) in headers {
            xdomain |= name.eq_ignore_ascii_case("origin");
            if name.bytes().any(|b| b.is_ascii_uppercase()) {
                text.extend(name.chars().map(|c| c.to_ascii_lowercase()));
            } else {
                text.push_str(name);
            }
            text.push_str(": ");
            text.push_str(value);
            text.push('\n');
        }
        ConnInfo {
            headers: text.into_boxed_str(),
            url: url.into(),
            peer,
            issued: now_millis(),
            secure,
            xdomain,
        }
    }

    /// Every header as (lower-case name, value).
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.headers.lines().filter_map(|l| l.split_once(": "))
    }

    /// The value of header `name` (lower-case), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers().find(|(k, _)| *k == name).map(|(_, v)| v)
    }

    /// The value of query parameter `name` in the first request, if present.
    pub fn query_param(&self, name: &str) -> Option<Cow<'_, str>> {
        let query = self.url.split_once('?').map(|(_, q)| q).unwrap_or("");
        query_param(query, name)
    }

    /// The remote address as text (`ip:port`, empty if unknown).
    pub fn address(&self) -> String {
        self.peer.map(|a| a.to_string()).unwrap_or_default()
    }
}

/// The value of `name` in a URL query string, percent-decoded (borrowed when nothing is encoded).
pub fn query_param<'a>(query: &'a str, name: &str) -> Option<Cow<'a, str>> {
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (key == name).then(|| percent_decode(value))
    })
}

fn percent_decode(s: &str) -> Cow<'_, str> {
    if !s.contains(['%', '+']) {
        return Cow::Borrowed(s);
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

/// Milliseconds since the Unix epoch, now.
pub fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// A socket's handshake: the connection facts and the auth payload of its CONNECT packet.
#[derive(Debug, Clone)]
pub struct Handshake {
    /// Connection facts.
    pub conn: Arc<ConnInfo>,
    /// The CONNECT payload (`{}` when the client sent none).
    pub auth: Value,
}

impl Handshake {
    /// The handshake as plain, serialisable data.
    pub fn describe(&self) -> HandshakeDescription {
        let info = &self.conn;
        HandshakeDescription {
            headers: info
                .headers()
                .map(|(name, value)| (name.to_owned(), value.to_owned()))
                .collect(),
            url: info.url.to_string(),
            peer: info.peer,
            issued: info.issued,
            secure: info.secure,
            xdomain: info.xdomain,
            auth: self.auth.clone(),
        }
    }
}

/// A [`Handshake`] as plain data that can be serialised (to describe a socket to another node).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HandshakeDescription {
    /// Request headers as (lower-case name, value), in the order they came (a repeated header
    /// appears once per line).
    pub headers: Vec<(String, String)>,
    /// Request URL of the first request (path and query).
    pub url: String,
    /// Remote address.
    pub peer: Option<SocketAddr>,
    /// Milliseconds since the Unix epoch when the connection was opened.
    pub issued: u64,
    /// Whether the request came over TLS.
    pub secure: bool,
    /// Whether the request was cross-origin (it had an `Origin` header).
    pub xdomain: bool,
    /// The CONNECT payload (`{}` when the client sent none).
    pub auth: Value,
}

impl HandshakeDescription {
    /// The value of header `name` (lower-case), if present (the first, when repeated).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The remote address as text (`ip:port`, empty if unknown).
    pub fn address(&self) -> String {
        self.peer.map(|a| a.to_string()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_and_query() {
        let info = ConnInfo::new(
            [("Origin", "http://a"), ("Cookie", "io=x; k=v")],
            "/socket.io/?EIO=4&transport=polling&t=abc&name=a%20b+c&x=%zz",
            None,
            false,
        );
        assert!(info.xdomain);
        assert_eq!(info.header("cookie"), Some("io=x; k=v"));
        assert_eq!(info.header("nope"), None);
        assert_eq!(info.headers().count(), 2);
        assert_eq!(info.query_param("EIO").as_deref(), Some("4"));
        assert_eq!(info.query_param("name").as_deref(), Some("a b c"));
        assert_eq!(
            info.query_param("x").as_deref(),
            Some("%zz"),
            "bad escapes stay"
        );
        assert_eq!(info.query_param("missing"), None);
        assert_eq!(query_param("a&b=1", "a").as_deref(), Some(""));
        assert_eq!(query_param("v=%", "v").as_deref(), Some("%"));
        assert_eq!(query_param("v=%4", "v").as_deref(), Some("%4"));
        assert_eq!(query_param("v=%41", "v").as_deref(), Some("A"));
    }

    #[test]
    fn a_described_handshake_keeps_every_fact_and_round_trips() {
        let info = ConnInfo::new(
            [
                ("Accept", "a"),
                ("X-Forwarded-For", "10.0.0.1"),
                ("Accept", "b"),
            ],
            "/socket.io/?EIO=4",
            Some("127.0.0.1:4000".parse().expect("an address")),
            true,
        );
        let handshake = Handshake {
            conn: Arc::new(info),
            auth: serde_json::json!({"token": "t"}),
        };
        let d = handshake.describe();
        assert_eq!(d.headers.len(), 3);
        assert_eq!(d.header("accept"), Some("a"));
        assert_eq!(d.header("x-forwarded-for"), Some("10.0.0.1"));
        assert_eq!(d.address(), "127.0.0.1:4000");
        assert_eq!(
            (d.url.as_str(), d.secure, d.xdomain),
            ("/socket.io/?EIO=4", true, false)
        );
        assert_eq!(d.issued, handshake.conn.issued);
        let json = serde_json::to_string(&d).expect("plain data");
        let back: HandshakeDescription = serde_json::from_str(&json).expect("and back");
        assert_eq!(back, d);
    }
}
