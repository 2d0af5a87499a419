//! Timestamp parsing for every form the exports use, always to UTC.
//!
//! Forms (see docs/formats.md, "Text"): ISO 8601 with 0-9 fractional digits and `Z`, an offset or
//! no zone (AuditData `CreationTime` has none and is UTC); PowerShell 5.1 JSON `\/Date(ms)\/`;
//! Log Analytics `M/d/yyyy, h:mm:ss.fff AM`; .NET culture formats such as `9/26/2023 1:56:15 AM`,
//! `20/09/2023 04:05:03` and `20.09.2023 04:05:03`, where day/month order is decided per file.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};

/// How to read `a/b/yyyy` dates: month first (US), day first, or decide from the file's values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DateOrder {
    /// Decide per file: a first number above 12 means day first, a second above 12 means month
    /// first; when every value is ambiguous, month first (the en-US export default) with a note.
    #[default]
    Auto,
    /// Month/day/year (en-US).
    Mdy,
    /// Day/month/year (en-GB, fr-FR, de-DE, en-AU...).
    Dmy,
}

impl DateOrder {
    pub const ALL: [DateOrder; 3] = [DateOrder::Auto, DateOrder::Mdy, DateOrder::Dmy];

    pub fn as_str(self) -> &'static str {
        match self {
            DateOrder::Auto => "auto",
            DateOrder::Mdy => "mdy",
            DateOrder::Dmy => "dmy",
        }
    }
}

impl std::fmt::Display for DateOrder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for DateOrder {
    type Err = String;

    /// A date order by its [`DateOrder::as_str`] name, in any case.
    fn from_str(s: &str) -> Result<DateOrder, String> {
        DateOrder::ALL
            .into_iter()
            .find(|x| x.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| format!("unknown date order `{s}` (expected auto, mdy or dmy)"))
    }
}

/// A parsed timestamp. A culture-formatted date whose day/month order the value alone cannot
/// settle is `Ambiguous`: both readings are kept until the file's other values decide.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parsed {
    Exact(DateTime<Utc>),
    /// Read as month-first in `mdy` and day-first in `dmy`.
    Ambiguous {
        mdy: DateTime<Utc>,
        dmy: DateTime<Utc>,
    },
}

/// Which order a culture-formatted value proved, if any.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderEvidence {
    None,
    MonthFirst,
    DayFirst,
}

/// Parses any supported timestamp form. Returns `None` when the text is not a timestamp.
pub fn parse(text: &str, order: DateOrder) -> Option<(Parsed, OrderEvidence)> {
    let s = text.trim().trim_start_matches('\u{feff}');
    if s.is_empty() {
        return None;
    }
    if let Some(t) = parse_ms_json_date(s) {
        return Some((Parsed::Exact(t), OrderEvidence::None));
    }
    let b = s.as_bytes();
    if b.len() >= 10 && b[4] == b'-' && b[7] == b'-' {
        return parse_iso(s).map(|t| (Parsed::Exact(t), OrderEvidence::None));
    }
    parse_culture(s, order)
}

/// ISO 8601: `yyyy-mm-dd[T ]hh:mm[:ss[.f{1,9}]][Z|±hh:mm|±hhmm]`. No zone means UTC.
pub fn parse_iso(s: &str) -> Option<DateTime<Utc>> {
    let b = s.as_bytes();
    let year = digits(b, 0, 4)? as i32;
    let month = digits(b, 5, 2)?;
    let day = digits(b, 8, 2)?;
    let date = NaiveDate::from_ymd_opt(year, month, day)?;
    if b.len() == 10 {
        return Some(Utc.from_utc_datetime(&date.and_hms_opt(0, 0, 0)?));
    }
    if b[10] != b'T' && b[10] != b' ' && b[10] != b't' {
        return None;
    }
    let hour = digits(b, 11, 2)?;
    if b.get(13) != Some(&b':') {
        return None;
    }
    let minute = digits(b, 14, 2)?;
    let mut i = 16;
    let mut second = 0;
    if b.get(i) == Some(&b':') {
        second = digits(b, i + 1, 2)?;
        i += 3;
    }
    let mut nanos = 0u32;
    if b.get(i) == Some(&b'.') || b.get(i) == Some(&b',') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 9 {
                nanos = nanos * 10 + u32::from(b[i] - b'0');
            }
            i += 1;
        }
        let n = i - start;
        if n == 0 {
            return None;
        }
        for _ in n..9 {
            nanos *= 10;
        }
    }
    let offset_secs = parse_zone(&s[i..])?;
    let naive = date.and_hms_nano_opt(hour, minute, second, nanos)?;
    let t = Utc.from_utc_datetime(&naive);
    Some(t - chrono::Duration::seconds(i64::from(offset_secs)))
}

/// Zone suffix: empty or `Z` is UTC; `+hh:mm`, `+hhmm`, `+hh`. Returns seconds east of UTC.
fn parse_zone(z: &str) -> Option<i32> {
    let z = z.trim();
    if z.is_empty() || z == "Z" || z == "z" || z.eq_ignore_ascii_case("UTC") {
        return Some(0);
    }
    let b = z.as_bytes();
    let sign = match b[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let rest: Vec<u8> = b[1..].iter().copied().filter(|c| *c != b':').collect();
    let (h, m) = match rest.len() {
        2 => (digits(&rest, 0, 2)?, 0),
        4 => (digits(&rest, 0, 2)?, digits(&rest, 2, 2)?),
        _ => return None,
    };
    if h > 23 || m > 59 {
        return None;
    }
    Some(sign * (h as i32 * 3600 + m as i32 * 60))
}

/// PowerShell 5.1 `ConvertTo-Json` date: `/Date(1720919582928)/`, optionally with an offset
/// such as `/Date(1720919582928+0200)/`; the number is milliseconds since the epoch, UTC.
fn parse_ms_json_date(s: &str) -> Option<DateTime<Utc>> {
    let inner = s
        .strip_prefix("\\/Date(")
        .or_else(|| s.strip_prefix("/Date("))?;
    let inner = inner
        .strip_suffix(")\\/")
        .or_else(|| inner.strip_suffix(")/"))?;
    let end = inner
        .char_indices()
        .skip(1)
        .find(|(_, c)| *c == '+' || *c == '-')
        .map_or(inner.len(), |(i, _)| i);
    let ms: i64 = inner[..end].parse().ok()?;
    DateTime::from_timestamp_millis(ms)
}

/// Culture formats: `a/b/yyyy[,] h:mm[:ss[.fff]] [AM|PM]`, `a.b.yyyy HH:mm:ss`, `a-b-yyyy ...`.
fn parse_culture(s: &str, order: DateOrder) -> Option<(Parsed, OrderEvidence)> {
    let (date_part, time_part) = match s.find([' ', ',', 'T']) {
        Some(i) => (&s[..i], s[i..].trim_start_matches([',', ' ', 'T'])),
        None => (s, ""),
    };
    let sep = date_part.chars().find(|c| matches!(c, '/' | '.' | '-'))?;
    let mut parts = date_part.split(sep);
    let a: u32 = parts.next()?.parse().ok()?;
    let b: u32 = parts.next()?.parse().ok()?;
    let y: i32 = parts.next()?.parse().ok()?;
    if parts.next().is_some() || !(1000..=9999).contains(&y) {
        return None;
    }
    let (h, mi, sec, nanos) = parse_clock(time_part)?;
    let build = |month: u32, day: u32| -> Option<DateTime<Utc>> {
        let d = NaiveDate::from_ymd_opt(y, month, day)?;
        Some(Utc.from_utc_datetime(&d.and_hms_nano_opt(h, mi, sec, nanos)?))
    };
    // Dotted dates are day-first in every culture that writes them (de-DE, ru-RU, ...); a comma
    // after the year is the Log Analytics export form `M/d/yyyy, h:mm:ss.fff tt`, always month-first.
    let log_analytics = s[date_part.len()..].starts_with(',');
    let forced = match (sep, order) {
        ('.', _) => Some(false),
        (_, _) if log_analytics => Some(true),
        (_, DateOrder::Mdy) => Some(true),
        (_, DateOrder::Dmy) => Some(false),
        _ => None,
    };
    if let Some(month_first) = forced {
        let t = if month_first {
            build(a, b)?
        } else {
            build(b, a)?
        };
        return Some((Parsed::Exact(t), OrderEvidence::None));
    }
    match (a > 12, b > 12) {
        (true, true) => None,
        (true, false) => Some((Parsed::Exact(build(b, a)?), OrderEvidence::DayFirst)),
        (false, true) => Some((Parsed::Exact(build(a, b)?), OrderEvidence::MonthFirst)),
        (false, false) if a == b => Some((Parsed::Exact(build(a, b)?), OrderEvidence::None)),
        (false, false) => Some((
            Parsed::Ambiguous {
                mdy: build(a, b)?,
                dmy: build(b, a)?,
            },
            OrderEvidence::None,
        )),
    }
}

/// `h:mm[:ss[.fff]] [AM|PM]` (also `a.m.`), 12- or 24-hour. Empty means midnight.
fn parse_clock(t: &str) -> Option<(u32, u32, u32, u32)> {
    let t = t.trim();
    if t.is_empty() {
        return Some((0, 0, 0, 0));
    }
    let (clock, meridiem) = match t.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => (t[..i].trim(), Some(t[i..].trim().to_ascii_lowercase())),
        None => (t, None),
    };
    let mut it = clock.split(':');
    let mut h: u32 = it.next()?.trim().parse().ok()?;
    let mi: u32 = it.next()?.trim().parse().ok()?;
    let (sec, nanos) = match it.next() {
        Some(sf) => {
            let (s, f) = sf.split_once(['.', ',']).unwrap_or((sf, ""));
            let mut n = 0u32;
            for (i, c) in f.bytes().enumerate() {
                if !c.is_ascii_digit() {
                    return None;
                }
                if i < 9 {
                    n = n * 10 + u32::from(c - b'0');
                }
            }
            for _ in f.len().min(9)..9 {
                n *= 10;
            }
            (s.trim().parse().ok()?, n)
        }
        None => (0, 0),
    };
    if it.next().is_some() {
        return None;
    }
    if let Some(m) = meridiem {
        let m = m.replace('.', "");
        if h == 0 || h > 12 {
            return None;
        }
        match m.as_str() {
            "am" => h %= 12,
            "pm" => h = h % 12 + 12,
            _ => return None,
        }
    }
    if h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    Some((h, mi, sec.min(59), nanos))
}

fn digits(b: &[u8], at: usize, n: usize) -> Option<u32> {
    let s = b.get(at..at + n)?;
    let mut v = 0u32;
    for c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(c - b'0');
    }
    Some(v)
}

/// RFC 3339 / ISO 8601 UTC with `Z`, whole seconds when there is no fraction, else milliseconds
/// or more as needed: the one form breachline writes.
pub fn format(t: &DateTime<Utc>) -> String {
    use chrono::{Datelike, Timelike};
    let nanos = t.timestamp_subsec_nanos();
    // Whole seconds and milliseconds (nearly every exported time) without chrono's format
    // parser: this runs once per event for timeline.csv and timeline.parquet.
    if (0..=9999).contains(&t.year())
        && (nanos == 0 || (nanos % 1_000_000 == 0 && nanos < 1_000_000_000))
    {
        use std::fmt::Write;
        let mut s = String::with_capacity(24);
        let _ = write!(
            s,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        );
        if nanos != 0 {
            let _ = write!(s, ".{:03}", nanos / 1_000_000);
        }
        s.push('Z');
        return s;
    }
    if nanos == 0 {
        t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    } else if nanos % 1_000_000 == 0 {
        t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
    } else {
        t.format("%Y-%m-%dT%H:%M:%S%.fZ").to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact(s: &str) -> String {
        match parse(s, DateOrder::Auto) {
            Some((Parsed::Exact(t), _)) => format(&t),
            other => panic!("{s:?} gave {other:?}"),
        }
    }

    #[test]
    fn the_quick_format_writes_what_chrono_writes() {
        use chrono::TimeZone;
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for k in 0..20_000u64 {
            // A spread of seconds from 1970 to 2100, and whole, millisecond and finer fractions.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let secs = (x % 4_102_444_800) as i64;
            let nanos = match k % 3 {
                0 => 0,
                1 => ((x >> 40) % 1000) as u32 * 1_000_000,
                _ => ((x >> 20) % 1_000_000_000) as u32,
            };
            let t = Utc
                .timestamp_opt(secs, nanos)
                .single()
                .expect("a valid time");
            let chrono = if nanos == 0 {
                t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
            } else if nanos % 1_000_000 == 0 {
                t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
            } else {
                t.format("%Y-%m-%dT%H:%M:%S%.fZ").to_string()
            };
            assert_eq!(format(&t), chrono);
        }
    }

    #[test]
    fn iso_with_zero_to_seven_fraction_digits_and_offsets() {
        assert_eq!(exact("2024-03-04T08:15:22Z"), "2024-03-04T08:15:22Z");
        assert_eq!(exact("2024-03-04T08:15:22"), "2024-03-04T08:15:22Z");
        assert_eq!(exact("2024-03-04T08:15:22.1Z"), "2024-03-04T08:15:22.100Z");
        assert_eq!(
            exact("2022-01-24T05:10:14.1875602+00:00"),
            "2022-01-24T05:10:14.187560200Z"
        );
        assert_eq!(
            exact("2022-01-24T05:10:11.429773+00:00"),
            "2022-01-24T05:10:11.429773Z"
        );
        assert_eq!(exact("2024-03-04T10:15:22+02:00"), "2024-03-04T08:15:22Z");
        assert_eq!(exact("2024-03-04T03:15:22-0500"), "2024-03-04T08:15:22Z");
        assert_eq!(exact("2024-03-04 08:15:22"), "2024-03-04T08:15:22Z");
    }

    #[test]
    fn us_locale_and_log_analytics_forms() {
        assert_eq!(exact("9/26/2023 1:56:15 AM"), "2023-09-26T01:56:15Z");
        assert_eq!(exact("9/26/2023 12:56:15 AM"), "2023-09-26T00:56:15Z");
        assert_eq!(exact("9/26/2023 12:56:15 PM"), "2023-09-26T12:56:15Z");
        assert_eq!(
            exact("4/28/2021, 2:08:45.221 PM"),
            "2021-04-28T14:08:45.221Z"
        );
        assert_eq!(exact("20.09.2023 04:05:03"), "2023-09-20T04:05:03Z");
        assert_eq!(exact("20/09/2023 04:05:03"), "2023-09-20T04:05:03Z");
    }

    #[test]
    fn powershell_json_dates() {
        assert_eq!(exact("/Date(1709543433000)/"), "2024-03-04T09:10:33Z");
        assert_eq!(exact("\\/Date(1709543433000)\\/"), "2024-03-04T09:10:33Z");
        assert_eq!(exact("/Date(1709543433000+0200)/"), "2024-03-04T09:10:33Z");
    }

    #[test]
    fn ambiguous_culture_dates_keep_both_readings() {
        let (p, ev) = parse("04/03/2024 09:10:33", DateOrder::Auto).unwrap();
        assert_eq!(ev, OrderEvidence::None);
        match p {
            Parsed::Ambiguous { mdy, dmy } => {
                assert_eq!(format(&mdy), "2024-04-03T09:10:33Z");
                assert_eq!(format(&dmy), "2024-03-04T09:10:33Z");
            }
            other => panic!("expected ambiguous, got {other:?}"),
        }
        let (p, _) = parse("04/03/2024 09:10:33", DateOrder::Dmy).unwrap();
        assert_eq!(p, Parsed::Exact(parse_iso("2024-03-04T09:10:33").unwrap()));
        assert_eq!(
            parse("13/03/2024 09:10:33", DateOrder::Auto).unwrap().1,
            OrderEvidence::DayFirst
        );
        assert_eq!(
            parse("3/13/2024 9:10:33 AM", DateOrder::Auto).unwrap().1,
            OrderEvidence::MonthFirst
        );
    }

    #[test]
    fn rejects_non_dates() {
        for s in [
            "",
            "not a date",
            "2024-13-01T00:00:00Z",
            "13/13/2024 1:00:00",
            "1/2/3",
            "2024-03-04T25:00:00Z",
            "9/26/2023 13:56:15 PM",
        ] {
            assert!(
                parse(s, DateOrder::Auto).is_none(),
                "{s:?} should not parse"
            );
        }
    }
}
