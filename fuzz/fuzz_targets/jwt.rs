//! The JWT check of `auth = "jwt"` namespaces (`broker::jwt`). The first input byte picks the mode:
//!
//! - 0: the rest is a token as a client would send it; verification never panics, and whatever it
//!   accepts is unexpired.
//! - 1: the rest gives claims (`sub`, optional `rooms`, expired or not), which are signed with the
//!   verifier's secret: the token verifies to exactly those claims, or is refused as expired; the
//!   same token with one character changed is never accepted; and the claims allow a room exactly
//!   when a reference glob matcher says one of their patterns matches it.
//! - 2: `glob_match(pattern, text)` against that reference matcher.
#![no_main]

use jsonwebtoken::{encode, EncodingKey, Header};
use libfuzzer_sys::fuzz_target;
use roomcast::broker::jwt::{glob_match, Claims, JwtError, Verifier};
use roomcast_fuzz::glob_reference;
use serde_json::{json, Value};

const SECRET: &[u8] = b"fuzz-secret";

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn verifier() -> Verifier {
    Verifier::new(SECRET).expect("a fixed secret is usable")
}

fn raw_token(rest: &[u8]) {
    let token = Value::String(String::from_utf8_lossy(rest).into_owned());
    if let Ok(claims) = verifier().verify(Some(&token)) {
        assert!(claims.exp > now(), "{token} accepted though expired");
    }
}

fn signed_claims(rest: &[u8]) {
    let Some((&flags, rest)) = rest.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let mut fields = text
        .split('\0')
        .map(|s| s.chars().take(64).collect::<String>());
    let sub = fields.next().unwrap_or_default();
    let room = fields.next().unwrap_or_default();
    let rooms: Option<Vec<String>> = (flags & 1 != 0).then(|| fields.take(8).collect());
    let expired = flags & 2 != 0;
    let exp = if expired { now() - 3600 } else { now() + 3600 };
    let mut body = json!({"sub": sub, "exp": exp});
    if let Some(rooms) = &rooms {
        body["rooms"] = json!(rooms);
    }
    let key = EncodingKey::from_secret(SECRET).expect("a fixed secret is usable");
    let token = encode(&Header::default(), &body, &key).expect("HS256 signing works");
    let verifier = verifier();
    let got = verifier.verify(Some(&Value::String(token.clone())));
    if expired {
        assert_eq!(got, Err(JwtError::Expired));
    } else {
        let want = Claims {
            sub,
            exp,
            rooms: rooms.clone(),
        };
        assert_eq!(got.as_ref(), Ok(&want));
        let allowed = rooms
            .as_ref()
            .is_none_or(|patterns| patterns.iter().any(|p| glob_reference(p, &room)));
        assert_eq!(want.allows(&room), allowed, "{rooms:?} ~ {room:?}");
    }
    // One character changed anywhere (to another base64url character or a dot).
    let at = usize::from(flags >> 2) * token.len() / 64;
    let mut tampered: Vec<u8> = token.into_bytes();
    let old = tampered[at];
    tampered[at] = if old == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).expect("still ASCII");
    let got = verifier.verify(Some(&Value::String(tampered.clone())));
    assert!(got.is_err(), "{tampered} accepted after a change at {at}");
}

fn glob(rest: &[u8]) {
    let text = String::from_utf8_lossy(rest);
    let (pattern, subject) = text.split_once('\0').unwrap_or((&text, ""));
    let (pattern, subject): (String, String) = (
        pattern.chars().take(200).collect(),
        subject.chars().take(200).collect(),
    );
    assert_eq!(
        glob_match(&pattern, &subject),
        glob_reference(&pattern, &subject),
        "{pattern:?} ~ {subject:?}"
    );
}

fuzz_target!(|data: &[u8]| {
    match data.split_first() {
        Some((0, rest)) => raw_token(rest),
        Some((1, rest)) => signed_claims(rest),
        Some((2, rest)) => glob(rest),
        _ => {}
    }
});
