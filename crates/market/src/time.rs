//! Timestamps as UTC milliseconds since the Unix epoch, parsed from the layouts exchanges export
//! (seconds, milliseconds, micro/nanoseconds, ISO 8601 dates and date-times).
//!
//! Calendar conversion is done here by hand (proleptic Gregorian, days since 1970-01-01) so the
//! importer and the plan scheduler need no date-time dependency and agree exactly.

/// Milliseconds in one day.
pub const DAY_MS: i64 = 86_400_000;

/// Days since 1970-01-01 of a proleptic Gregorian date (`month` 1..=12, `day` 1..=31).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    // Shift the year to start in March so the leap day is the last day of the "year".
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The (year, month, day) of a count of days since 1970-01-01; inverse of [`days_from_civil`].
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Number of days in `month` of `year`.
pub fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

/// Parses a timestamp cell into UTC milliseconds.
///
/// Numbers are read by magnitude: below 10^11 seconds, below 10^14 milliseconds, below 10^17
/// microseconds, else nanoseconds (Binance has exported all of these over the years). Text is
/// read as ISO 8601: `YYYY-MM-DD`, optionally followed by `T` or a space, `HH:MM[:SS[.fff]]`
/// and `Z` or `±HH:MM`. Returns `None` for anything else.
pub fn parse_timestamp(s: &str) -> Option<i64> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return parse_epoch(s);
    }
    parse_iso(s)
}

fn parse_epoch(s: &str) -> Option<i64> {
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, f),
        None => (s, ""),
    };
    if int.is_empty() || frac.contains('.') {
        return None;
    }
    let v: i64 = int.parse().ok()?;
    let frac_ms = |scale: f64| -> i64 {
        if frac.is_empty() {
            0
        } else {
            let f: f64 = format!("0.{frac}").parse().unwrap_or(0.0);
            (f * scale).round() as i64
        }
    };
    if v < 100_000_000_000 {
        Some(v.checked_mul(1000)? + frac_ms(1000.0))
    } else if v < 100_000_000_000_000 {
        Some(v)
    } else if v < 100_000_000_000_000_000 {
        Some(v / 1000)
    } else {
        Some(v / 1_000_000)
    }
}

fn digits(s: &[u8]) -> Option<i64> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    s.iter().try_fold(0i64, |acc, &b| {
        acc.checked_mul(10)?.checked_add(i64::from(b - b'0'))
    })
}

fn parse_iso(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let year = digits(&b[0..4])?;
    let month = u32::try_from(digits(&b[5..7])?).ok()?;
    let day = u32::try_from(digits(&b[8..10])?).ok()?;
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    let mut ms = days_from_civil(year, month, day) * DAY_MS;
    let mut rest = &b[10..];
    if rest.is_empty() {
        return Some(ms);
    }
    if rest[0] != b'T' && rest[0] != b' ' {
        return None;
    }
    rest = &rest[1..];
    // Time of day: HH:MM[:SS[.fff]]
    if rest.len() < 5 || rest[2] != b':' {
        return None;
    }
    let hh = digits(&rest[0..2])?;
    let mm = digits(&rest[3..5])?;
    let mut ss = 0;
    let mut frac_ms = 0;
    rest = &rest[5..];
    if rest.first() == Some(&b':') {
        if rest.len() < 3 {
            return None;
        }
        ss = digits(&rest[1..3])?;
        rest = &rest[3..];
        if rest.first() == Some(&b'.') {
            let n = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
            if n == 0 {
                return None;
            }
            let f = &rest[1..1 + n.min(3)];
            frac_ms = digits(f)? * 10i64.pow(3 - f.len() as u32);
            rest = &rest[1 + n..];
        }
    }
    if hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    ms += ((hh * 60 + mm) * 60 + ss) * 1000 + frac_ms;
    match rest {
        [] | [b'Z'] | [b'z'] => Some(ms),
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] | [sign @ (b'+' | b'-'), h1, h2, m1, m2] => {
            let off = (digits(&[*h1, *h2])? * 60 + digits(&[*m1, *m2])?) * 60_000;
            // Local time = UTC + offset, so UTC = local - offset.
            Some(if *sign == b'+' { ms - off } else { ms + off })
        }
        _ => None,
    }
}

/// The exclusive end (UTC ms) of the period a range end names, so that the end is inclusive
/// whatever the bar size: a bare date `YYYY-MM-DD` covers that whole day (the result is the next
/// midnight, so the day's intraday bars are in), a date-time or an epoch number covers that
/// instant (the result is one millisecond after it). `None` when `s` is not a timestamp.
pub fn parse_range_end(s: &str) -> Option<i64> {
    let t = parse_timestamp(s)?;
    let s = s.trim();
    let bare_date = s.len() == 10 && s.as_bytes()[4] == b'-';
    Some(if bare_date { t + DAY_MS } else { t + 1 })
}

/// Formats UTC milliseconds as `YYYY-MM-DD` when at midnight, else `YYYY-MM-DD HH:MM`.
pub fn format_ms(ms: i64) -> String {
    let days = ms.div_euclid(DAY_MS);
    let rem = ms.rem_euclid(DAY_MS) / 1000;
    let (y, m, d) = civil_from_days(days);
    if rem == 0 {
        format!("{y:04}-{m:02}-{d:02}")
    } else {
        format!(
            "{y:04}-{m:02}-{d:02} {:02}:{:02}",
            rem / 3600,
            rem / 60 % 60
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip_and_known_days() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        // 2017-08-17 is 1502928000 s after the epoch (Binance BTCUSDT first daily candle).
        assert_eq!(days_from_civil(2017, 8, 17) * 86_400, 1_502_928_000);
        for d in [-800_000, -1, 0, 59, 11_016, 17_000, 20_000, 2_000_000] {
            let (y, m, dd) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, dd), d);
        }
        assert_eq!(civil_from_days(days_from_civil(2024, 2, 29)), (2024, 2, 29));
    }

    #[test]
    fn parses_every_layout() {
        let want = 1_502_942_400_000; // 2017-08-17 04:00:00 UTC
        for s in [
            "1502942400",
            "1502942400000",
            "1502942400000000",
            "1502942400000000000",
            "1502942400.0",
            "2017-08-17 04:00:00",
            "2017-08-17T04:00:00Z",
            "2017-08-17T04:00",
            "2017-08-17T04:00:00.000Z",
            "2017-08-17T06:00:00+02:00",
            "2017-08-17T00:00:00-0400",
        ] {
            assert_eq!(parse_timestamp(s), Some(want), "{s}");
        }
        assert_eq!(parse_timestamp("2017-08-17"), Some(1_502_928_000_000));
        for bad in [
            "",
            "x",
            "2017-13-01",
            "2017-02-30",
            "2017-08-17X",
            "17/08/2017",
            "1.2.3",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
    }

    #[test]
    fn range_end_covers_the_whole_named_day() {
        let day = days_from_civil(2024, 3, 5) * DAY_MS;
        assert_eq!(parse_range_end("2024-03-05"), Some(day + DAY_MS));
        assert_eq!(
            parse_range_end("2024-03-05 12:00"),
            Some(day + 12 * 3_600_000 + 1)
        );
        assert_eq!(parse_range_end("nope"), None);
    }

    #[test]
    fn formats() {
        assert_eq!(format_ms(1_502_928_000_000), "2017-08-17");
        assert_eq!(format_ms(1_502_942_400_000), "2017-08-17 04:00");
    }
}
