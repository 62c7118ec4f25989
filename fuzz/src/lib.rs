//! Helpers shared by the fuzz targets in `fuzz_targets/`: reference models the targets check the
//! library against.

/// Reference model of `broker::jwt::glob_match`: `*` matches any run of characters, anything else
/// itself; written as the textbook dynamic programme over bytes, independent of the library's
/// greedy scan.
pub fn glob_reference(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    // row[j]: does the pattern so far match t[..j]?
    let mut row = vec![false; t.len() + 1];
    row[0] = true;
    for &c in p {
        let mut next = vec![false; t.len() + 1];
        if c == b'*' {
            let mut any = false;
            for j in 0..=t.len() {
                any |= row[j];
                next[j] = any;
            }
        } else {
            for j in 1..=t.len() {
                next[j] = row[j - 1] && t[j - 1] == c;
            }
        }
        row = next;
    }
    row[t.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_reference_agrees_with_the_documented_cases() {
        for (p, t, ok) in [
            ("room", "room", true),
            ("room", "rooms", false),
            ("chat:*", "chat:", true),
            ("a*b*c", "aXXbYYc", true),
            ("a*b*c", "aXXcYYb", false),
            ("a*a", "a", false),
            ("", "", true),
            ("*", "", true),
        ] {
            assert_eq!(glob_reference(p, t), ok, "{p} ~ {t}");
        }
    }
}
