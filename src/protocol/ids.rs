//! Random identifiers shared by both protocol layers.
//!
//! [`Sid`] is the Engine.IO session id and also the Socket.IO socket id: 20 URL-safe base64
//! characters (`[A-Za-z0-9_-]`) encoding 15 random bytes, the same shape as Node's `base64id`.
//! The randomness comes from a UUID v4 (OS randomness), never from a counter a client could guess.
//! The id is stored inline as ASCII bytes, so it is `Copy` and cheap to hash and compare.

use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::str::FromStr;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

/// Number of characters in a [`Sid`].
pub const SID_LEN: usize = 20;

/// Hashes a [`Sid`] by folding its bytes with a multiply, for maps keyed by sids (the room index,
/// the session registry): a fan-out looks each recipient up, and SipHash cost more than the rest
/// of the lookup. Safe from flooding only for maps whose sids were all made by a server from
/// random bytes (a client can then only ask for sids, which costs it one probe each).
#[derive(Default)]
pub struct SidHasher(u64);

impl Hasher for SidHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(23) ^ u64::from_le_bytes(word))
                .wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    /// The length prefix of a sid's bytes, always the same: nothing to mix in.
    fn write_usize(&mut self, _: usize) {}

    fn finish(&self) -> u64 {
        self.0 ^ (self.0 >> 29)
    }
}

/// The [`std::hash::BuildHasher`] of [`SidHasher`].
pub type SidBuildHasher = BuildHasherDefault<SidHasher>;

/// Engine.IO session id / Socket.IO socket id: 20 URL-safe base64 chars from 15 random bytes
/// (uuid v4 randomness).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sid([u8; SID_LEN]);

/// Returned by [`Sid::from_str`] when the text is not 20 characters of `[A-Za-z0-9_-]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid session id")]
pub struct InvalidSid;

impl Sid {
    /// A fresh random id.
    ///
    /// Takes the 16 bytes of a UUID v4 minus byte 6 (whose high nibble is the fixed version), which
    /// leaves 15 bytes holding 118 random bits (more than the 96 of Node's `base64id`).
    pub fn new() -> Sid {
        let uuid = uuid::Uuid::new_v4();
        let src = uuid.as_bytes();
        let mut raw = [0u8; 15];
        raw[..6].copy_from_slice(&src[..6]);
        raw[6..].copy_from_slice(&src[7..]);
        let mut out = [0u8; SID_LEN];
        // 15 bytes encode to exactly 20 unpadded base64 characters, which fit `out`.
        let written = URL_SAFE_NO_PAD
            .encode_slice(raw, &mut out)
            .expect("15 bytes always encode to 20 base64 chars");
        debug_assert_eq!(written, SID_LEN);
        Sid(out)
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        // Both constructors only ever store ASCII from the URL-safe base64 alphabet.
        std::str::from_utf8(&self.0).expect("a Sid only holds ASCII characters")
    }

    /// Parses an id received from a client: exactly 20 characters of `[A-Za-z0-9_-]`.
    pub fn parse(s: &str) -> Option<Sid> {
        let bytes: [u8; SID_LEN] = s.as_bytes().try_into().ok()?;
        // A table lookup per byte: every polling request parses its sid.
        bytes
            .iter()
            .all(|&b| SID_CHARS[usize::from(b)])
            .then_some(Sid(bytes))
    }
}

/// Which bytes a sid may hold: `[A-Za-z0-9_-]`.
static SID_CHARS: [bool; 256] = {
    let mut table = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        table[i] = b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
        i += 1;
    }
    table
};

impl Default for Sid {
    /// Same as [`Sid::new`]: a fresh random id.
    fn default() -> Self {
        Sid::new()
    }
}

impl fmt::Display for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Sid {
    /// Shows the bare id, like [`fmt::Display`], so logs stay readable.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Sid {
    type Err = InvalidSid;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Sid::parse(s).ok_or(InvalidSid)
    }
}

impl AsRef<str> for Sid {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl serde::Serialize for Sid {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Sid {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Sid::parse(&s).ok_or_else(|| serde::de::Error::custom(InvalidSid))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn new_ids_are_well_formed_and_distinct() {
        let ids: HashSet<Sid> = (0..1000).map(|_| Sid::new()).collect();
        assert_eq!(ids.len(), 1000);
        for id in &ids {
            assert_eq!(id.as_str().len(), SID_LEN);
            assert_eq!(Sid::parse(id.as_str()), Some(*id));
        }
    }

    #[test]
    fn parse_table() {
        let cases: &[(&str, bool)] = &[
            ("lv_VI97HAXpY6yYWAAAC", true),
            ("-G5j-67EZFp-q59rADQM", true),
            ("abcdefghijklmnopqrst", true),
            ("", false),
            ("lv_VI97HAXpY6yYWAAA", false),   // 19 chars
            ("lv_VI97HAXpY6yYWAAACx", false), // 21 chars
            ("lv_VI97HAXpY6yYWAA+C", false),  // standard alphabet
            ("lv_VI97HAXpY6yYWAA/C", false),  // standard alphabet
            ("lv_VI97HAXpY6yYWAA=C", false),  // padding
            ("lv_VI97HAXpY6yYWAAé", false),   // 20 bytes, not ASCII
            ("lv_VI97HAXpY6yYWAA C", false),  // space
        ];
        for (input, ok) in cases {
            assert_eq!(Sid::parse(input).is_some(), *ok, "{input:?}");
            assert_eq!(input.parse::<Sid>().is_ok(), *ok, "{input:?}");
        }
    }

    #[test]
    fn display_debug_and_serde() {
        let id = Sid::parse("lv_VI97HAXpY6yYWAAAC").expect("valid literal");
        assert_eq!(id.to_string(), "lv_VI97HAXpY6yYWAAAC");
        assert_eq!(format!("{id:?}"), "lv_VI97HAXpY6yYWAAAC");
        let json = serde_json::to_string(&id).expect("a Sid serialises");
        assert_eq!(json, "\"lv_VI97HAXpY6yYWAAAC\"");
        let back: Sid = serde_json::from_str(&json).expect("and deserialises");
        assert_eq!(back, id);
        assert!(serde_json::from_str::<Sid>("\"short\"").is_err());
    }

    #[test]
    fn default_is_random() {
        assert_ne!(Sid::default(), Sid::default());
    }
}
