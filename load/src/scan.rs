//! Byte-level helpers for the hot paths: finding things in JSON text without building values, and
//! writing numbers without the formatting machinery.

/// Position of `needle` in `hay`.
pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Leading decimal digits of `b`: `(value, digits consumed)`; `(0, 0)` when `b` starts otherwise.
pub fn parse_u64(b: &[u8]) -> (u64, usize) {
    let mut v: u64 = 0;
    let mut n = 0;
    while n < b.len() && b[n].is_ascii_digit() && n < 20 {
        v = v.wrapping_mul(10).wrapping_add((b[n] - b'0') as u64);
        n += 1;
    }
    (v, n)
}

/// Appends `v` in decimal.
pub fn push_u64(out: &mut Vec<u8>, mut v: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&tmp[i..]);
}

/// Number of decimal digits of `v`.
pub fn digits(mut v: u64) -> usize {
    let mut n = 1;
    while v >= 10 {
        v /= 10;
        n += 1;
    }
    n
}

/// Splits an event's data `["name",a,b]` into (`name`, `a,b`). Names with escapes are returned raw.
pub fn split_event(data: &[u8]) -> Option<(&[u8], &[u8])> {
    if data.len() < 4 || data[0] != b'[' || data[1] != b'"' || data[data.len() - 1] != b']' {
        return None;
    }
    let body = &data[2..data.len() - 1];
    let mut i = 0;
    while i < body.len() {
        match body[i] {
            b'\\' => i += 2,
            b'"' => break,
            _ => i += 1,
        }
    }
    if i >= body.len() {
        return None;
    }
    let name = &body[..i];
    let args = match body.get(i + 1) {
        Some(b',') => &body[i + 2..],
        _ => &[][..],
    };
    Some((name, args))
}

/// The numeric fields of a generator payload object `{"p":..,"k":..,"s":..,"t":..,"d":".."}`,
/// found by walking the object's top-level keys (any order; string values skipped).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// Publisher index (fanout) or client index (echo).
    pub p: u64,
    /// Phase (fanout/ceiling step).
    pub k: u64,
    /// Sequence number, per publisher.
    pub s: u64,
    /// Send time, microseconds since the generator's clock base.
    pub t: u64,
}

/// Reads a [`Stamp`] from the first argument of a delivered event (`args` as given by the handler).
/// Returns `None` unless `p`, `s` and `t` are all present.
pub fn read_stamp(args: &[u8]) -> Option<Stamp> {
    let b = args;
    if b.first() != Some(&b'{') {
        return None;
    }
    let mut st = Stamp::default();
    let mut seen = 0u8;
    let mut i = 1;
    while i < b.len() {
        // key
        if b[i] != b'"' {
            return None;
        }
        let key_start = i + 1;
        let mut j = key_start;
        while j < b.len() && b[j] != b'"' {
            j += 1;
        }
        let key = &b[key_start..j.min(b.len())];
        i = j + 1;
        if b.get(i) != Some(&b':') {
            return None;
        }
        i += 1;
        match b.get(i) {
            Some(c) if c.is_ascii_digit() => {
                let (v, n) = parse_u64(&b[i..]);
                i += n;
                match key {
                    b"p" => {
                        st.p = v;
                        seen |= 1;
                    }
                    b"k" => st.k = v,
                    b"s" => {
                        st.s = v;
                        seen |= 2;
                    }
                    b"t" => {
                        st.t = v;
                        seen |= 4;
                    }
                    _ => {}
                }
            }
            Some(b'"') => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                i += 1;
            }
            _ => return None,
        }
        if seen == 7 {
            return Some(st);
        }
        match b.get(i) {
            Some(b',') => i += 1,
            _ => break,
        }
    }
    (seen == 7).then_some(st)
}

/// Writes a payload object `{"p":P,"k":K,"s":S,"t":T,"d":"xxx…"}` padded with `d` so that its JSON
/// text is `size` bytes long (or as short as possible when `size` is smaller than the fixed part).
pub fn write_stamp(out: &mut Vec<u8>, st: &Stamp, size: usize) {
    let fixed = 28 + digits(st.p) + digits(st.k) + digits(st.s) + digits(st.t);
    out.extend_from_slice(b"{\"p\":");
    push_u64(out, st.p);
    out.extend_from_slice(b",\"k\":");
    push_u64(out, st.k);
    out.extend_from_slice(b",\"s\":");
    push_u64(out, st.s);
    out.extend_from_slice(b",\"t\":");
    push_u64(out, st.t);
    out.extend_from_slice(b",\"d\":\"");
    let pad = size.saturating_sub(fixed);
    out.resize(out.len() + pad, b'x');
    out.extend_from_slice(b"\"}");
}

/// True when an ack's arguments start with an object whose `ok` is `true` (`{"ok":true…`), the
/// room API's success answer. Whitespace-free JSON as both servers write it.
pub fn ack_ok(args: &[u8]) -> bool {
    find(args, b"\"ok\":true").is_some()
}

/// The raw content of string field `key` of a flat JSON object (`{"sid":"…","pid":"…"}`).
pub fn json_str<'a>(obj: &'a [u8], key: &str) -> Option<&'a [u8]> {
    let pat = format!("\"{key}\":\"");
    let start = find(obj, pat.as_bytes())? + pat.len();
    let rest = &obj[start..];
    let end = rest.iter().position(|&c| c == b'"')?;
    Some(&rest[..end])
}

/// The raw content of the last argument of an event when it is a string without escapes (the
/// offset a server that keeps sessions appends), as in `{…},"offset"`.
pub fn last_string_arg(args: &[u8]) -> Option<&[u8]> {
    let inner = args.strip_suffix(b"\"")?;
    let open = inner.iter().rposition(|&c| c == b'"')?;
    if open == 0 || inner[open - 1] != b',' || inner[open + 1..].contains(&b'\\') {
        return None;
    }
    Some(&inner[open + 1..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamp_round_trip_and_size() {
        let st = Stamp {
            p: 7,
            k: 2,
            s: 123456,
            t: 98765432,
        };
        let mut b = Vec::new();
        write_stamp(&mut b, &st, 100);
        assert_eq!(b.len(), 100);
        assert_eq!(read_stamp(&b), Some(st));
        let mut small = Vec::new();
        write_stamp(&mut small, &st, 1);
        assert_eq!(read_stamp(&small), Some(st));
        // keys in another order, a string first
        let other = br#"{"d":"a\"b","t":5,"s":4,"p":3}"#;
        assert_eq!(
            read_stamp(other),
            Some(Stamp {
                p: 3,
                k: 0,
                s: 4,
                t: 5
            })
        );
        assert_eq!(read_stamp(b"{\"ok\":true}"), None);
    }

    #[test]
    fn events() {
        let (name, args) = split_event(br#"["msg",{"p":1},2]"#).unwrap();
        assert_eq!(name, b"msg");
        assert_eq!(args, br#"{"p":1},2"#);
        let (name, args) = split_event(br#"["ping"]"#).unwrap();
        assert_eq!(name, b"ping");
        assert!(args.is_empty());
        assert!(split_event(b"[1,2]").is_none());
    }

    #[test]
    fn numbers() {
        let mut b = Vec::new();
        push_u64(&mut b, 0);
        push_u64(&mut b, 1234567890);
        assert_eq!(b, b"01234567890");
        assert_eq!(parse_u64(b"42[x"), (42, 2));
        assert_eq!(parse_u64(b"[x"), (0, 0));
        assert_eq!(digits(9), 1);
        assert_eq!(digits(10), 2);
        assert!(ack_ok(br#"{"ok":true,"rooms":["a"]}"#));
        assert!(!ack_ok(br#"{"ok":false,"error":"x"}"#));
    }

    #[test]
    fn the_offset_is_the_last_string_argument() {
        let args = br#"{"p":1,"s":2,"t":3,"d":"xx"},"1700000000000-0""#;
        assert_eq!(last_string_arg(args), Some(&b"1700000000000-0"[..]));
        assert_eq!(last_string_arg(br#"{"p":1,"d":"xx"}"#), None);
        assert_eq!(last_string_arg(br#""only""#), None);
    }

    #[test]
    fn the_connect_answer_gives_sid_and_pid() {
        let answer = br#"{"sid":"abc","pid":"xyz"}"#;
        assert_eq!(json_str(answer, "sid"), Some(&b"abc"[..]));
        assert_eq!(json_str(answer, "pid"), Some(&b"xyz"[..]));
        assert_eq!(json_str(br#"{"sid":"abc"}"#, "pid"), None);
    }
}
