//! Calendar formatting of Unix times, without a date library: the ISO-8601 text JavaScript's
//! `Date.prototype.toJSON` writes (the Admin UI and msgpack `Date`s) and RFC 3339 seconds (the
//! admin API). One civil-date conversion serves all of them.

use std::time::{SystemTime, UNIX_EPOCH};

/// The Gregorian (year, month, day) of a day count since 1970-01-01 (proleptic calendar, eras of
/// 400 years; Howard Hinnant's `civil_from_days`).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `millis` since the Unix epoch (negative: before it) as `Date.prototype.toJSON` writes it:
/// `2026-12-04T16:50:24.123Z`, with a signed six-digit year outside 0000-9999.
pub fn iso_millis(millis: i64) -> String {
    let (days, ms) = (millis.div_euclid(86_400_000), millis.rem_euclid(86_400_000));
    let (year, month, day) = civil_from_days(days);
    let year = if (0..=9999).contains(&year) {
        format!("{year:04}")
    } else {
        format!("{}{:06}", if year < 0 { '-' } else { '+' }, year.abs())
    };
    let (h, m, s, milli) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
    format!("{year}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{milli:03}Z")
}

/// `t` in RFC 3339, UTC, whole seconds (`2026-12-04T16:50:24Z`); times before the epoch as the
/// epoch.
pub fn rfc3339(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (year, month, day) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Milliseconds since the Unix epoch now.
pub fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn iso_millis_matches_javascript() {
        assert_eq!(iso_millis(0), "1970-01-01T00:00:00.000Z");
        // new Date(951782400123).toJSON(): a leap day
        assert_eq!(iso_millis(951_782_400_123), "2000-02-29T00:00:00.123Z");
        assert_eq!(iso_millis(-1), "1969-12-31T23:59:59.999Z");
        // new Date(8.64e15).toJSON() and new Date(-8.64e15).toJSON()
        assert_eq!(
            iso_millis(8_640_000_000_000_000),
            "+275760-09-13T00:00:00.000Z"
        );
        assert_eq!(
            iso_millis(-8_640_000_000_000_000),
            "-271821-04-20T00:00:00.000Z"
        );
    }

    #[test]
    fn rfc3339_whole_seconds() {
        let t = UNIX_EPOCH + Duration::from_millis(1_796_402_424_999);
        assert_eq!(rfc3339(t), "2026-12-04T16:40:24Z");
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
    }
}
