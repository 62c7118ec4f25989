//! JWT verification for namespaces with `auth = "jwt"`: HS256 only, `sub` and `exp` required, an
//! optional `rooms` claim of room patterns (`*` matches any run of characters) that bounds what the
//! client may join and publish to.

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{decode, Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;

/// The claims roomcast reads.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// The subject (user id).
    pub sub: String,
    /// Expiry, seconds since the Unix epoch.
    pub exp: u64,
    /// Room patterns this client may join and publish to (absent: no restriction).
    #[serde(default)]
    pub rooms: Option<Vec<String>>,
}

impl Claims {
    /// Whether the token allows `room`.
    pub fn allows(&self, room: &str) -> bool {
        self.rooms
            .as_ref()
            .is_none_or(|patterns| patterns.iter().any(|p| glob_match(p, room)))
    }
}

/// Why a token was refused (the `reason` the client sees).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    /// No `token` string in the auth payload.
    #[error("missing token")]
    Missing,
    /// `exp` has passed.
    #[error("token expired")]
    Expired,
    /// The signature does not match the secret.
    #[error("invalid signature")]
    BadSignature,
    /// Another algorithm than HS256.
    #[error("algorithm not allowed (HS256 only)")]
    Algorithm,
    /// A required claim is missing or mistyped.
    #[error("invalid claims: {0}")]
    Claims(String),
    /// Not a JWT at all.
    #[error("malformed token")]
    Malformed,
}

impl JwtError {
    /// Every [`JwtError::kind`], for metrics that list each one from the start.
    pub const KINDS: [&'static str; 6] = [
        "missing",
        "expired",
        "bad_signature",
        "algorithm",
        "claims",
        "malformed",
    ];

    /// A short, fixed name of the refusal (a metric label; the message may carry details).
    pub fn kind(&self) -> &'static str {
        match self {
            JwtError::Missing => "missing",
            JwtError::Expired => "expired",
            JwtError::BadSignature => "bad_signature",
            JwtError::Algorithm => "algorithm",
            JwtError::Claims(_) => "claims",
            JwtError::Malformed => "malformed",
        }
    }
}

/// Verifies tokens against one secret.
#[derive(Clone)]
pub struct Verifier {
    key: DecodingKey,
    validation: Validation,
}

impl Verifier {
    /// A verifier for HS256 tokens signed with `secret` (refused if the key is unusable).
    pub fn new(secret: &[u8]) -> Result<Self, String> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Ok(Verifier {
            key: DecodingKey::from_secret(secret).map_err(|e| format!("jwt secret: {e}"))?,
            validation,
        })
    }

    /// The claims of `token` (the `token` field of a CONNECT auth payload).
    pub fn verify(&self, token: Option<&Value>) -> Result<Claims, JwtError> {
        let token = token.and_then(Value::as_str).ok_or(JwtError::Missing)?;
        check_algorithm(token)?;
        decode::<Claims>(token, &self.key, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => JwtError::Expired,
                ErrorKind::InvalidSignature => JwtError::BadSignature,
                ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
                    JwtError::Algorithm
                }
                ErrorKind::MissingRequiredClaim(c) => JwtError::Claims(format!("{c} is required")),
                ErrorKind::Json(e) => JwtError::Claims(e.to_string()),
                _ => JwtError::Malformed,
            })
    }
}

/// Refuses any header whose `alg` is not HS256 (including `none` and names the JWT library does
/// not know), before the signature is looked at.
fn check_algorithm(token: &str) -> Result<(), JwtError> {
    use base64::Engine as _;
    let header = token.split('.').next().unwrap_or("");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header.trim_end_matches('='))
        .map_err(|_| JwtError::Malformed)?;
    let header: Value = serde_json::from_slice(&bytes).map_err(|_| JwtError::Malformed)?;
    match header.get("alg").and_then(Value::as_str) {
        Some("HS256") => Ok(()),
        Some(_) => Err(JwtError::Algorithm),
        None => Err(JwtError::Malformed),
    }
}

/// `*` matches any run of characters (including none); everything else matches itself.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    // `split` always yields at least one part.
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty(); // no '*' at all: exact match
    };
    for part in middle {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{encode, EncodingKey, Header};
    use serde_json::json;

    fn token(alg: Algorithm, secret: &[u8], claims: Value) -> Value {
        let key = EncodingKey::from_secret(secret).unwrap();
        Value::String(encode(&Header::new(alg), &claims, &key).unwrap())
    }

    fn now() -> u64 {
        crate::handshake::now_millis() / 1000
    }

    #[test]
    fn glob() {
        for (p, t, ok) in [
            ("room", "room", true),
            ("room", "rooms", false),
            ("chat:*", "chat:1", true),
            ("chat:*", "chat:", true),
            ("chat:*", "news:1", false),
            ("*", "anything", true),
            ("a*b*c", "aXXbYYc", true),
            ("a*b*c", "aXXcYYb", false),
            ("*-admin", "x-admin", true),
            ("a*a", "a", false),
        ] {
            assert_eq!(glob_match(p, t), ok, "{p} ~ {t}");
        }
    }

    #[test]
    fn verification_outcomes() {
        let v = Verifier::new(b"s3cret").unwrap();
        let good = token(
            Algorithm::HS256,
            b"s3cret",
            json!({"sub": "u1", "exp": now() + 60, "rooms": ["chat:*"]}),
        );
        let claims = v.verify(Some(&good)).unwrap();
        assert_eq!(claims.sub, "u1");
        assert!(claims.allows("chat:9") && !claims.allows("news"));
        let cases = [
            (None, JwtError::Missing),
            (Some(json!(42)), JwtError::Missing),
            (Some(json!("not.a.jwt")), JwtError::Malformed),
            (
                Some(token(
                    Algorithm::HS256,
                    b"other",
                    json!({"sub": "u", "exp": now() + 60}),
                )),
                JwtError::BadSignature,
            ),
            (
                Some(token(
                    Algorithm::HS256,
                    b"s3cret",
                    json!({"sub": "u", "exp": now() - 10}),
                )),
                JwtError::Expired,
            ),
            (
                Some(token(
                    Algorithm::HS384,
                    b"s3cret",
                    json!({"sub": "u", "exp": now() + 60}),
                )),
                JwtError::Algorithm,
            ),
        ];
        for (input, want) in cases {
            assert_eq!(v.verify(input.as_ref()), Err(want));
        }
        use base64::Engine as _;
        let b64 = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        let unsigned = format!(
            "{}.{}.",
            b64(json!({"alg": "none", "typ": "JWT"})),
            b64(json!({"sub": "u", "exp": now() + 60}))
        );
        assert_eq!(v.verify(Some(&json!(unsigned))), Err(JwtError::Algorithm));
        let no_sub = token(Algorithm::HS256, b"s3cret", json!({"exp": now() + 60}));
        assert!(
            matches!(v.verify(Some(&no_sub)), Err(JwtError::Claims(m)) if m.contains("sub")),
            "a token without sub is refused, naming the claim"
        );
    }
}
