//! A minimal UTC timestamp (whole seconds) with ISO-8601 parsing and
//! formatting, so the emulator needs no date-time crate.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch, UTC.
///
/// Formats like DRF's `DateTimeField` / `JSONEncoder` render an aware UTC
/// `datetime` without microseconds: `2024-01-31T09:00:00Z`
/// (`rest_framework/fields.py` `DateTimeField.to_representation`,
/// `rest_framework/utils/encoders.py`: `isoformat()` with `+00:00` → `Z`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UtcTime(pub i64);

impl UtcTime {
    /// The current time.
    pub fn now() -> UtcTime {
        let secs = match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => d.as_secs() as i64,
            Err(e) => -(e.duration().as_secs() as i64),
        };
        UtcTime(secs)
    }

    /// `now + days` (negative for the past).
    pub fn days_from_now(days: i64) -> UtcTime {
        UtcTime(UtcTime::now().0 + days * 86_400)
    }

    /// Parse `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM[:SS[.frac]]` with an optional
    /// `Z` or `±HH:MM` offset (no offset = UTC). Returns `None` when malformed.
    pub fn parse(s: &str) -> Option<UtcTime> {
        let s = s.trim();
        let (date, rest) = match s.find(['T', ' ']) {
            Some(i) => (&s[..i], &s[i + 1..]),
            None => (s, ""),
        };
        let mut dp = date.split('-');
        let year: i64 = dp.next()?.parse().ok()?;
        let month: u32 = dp.next()?.parse().ok()?;
        let day: u32 = dp.next()?.parse().ok()?;
        if dp.next().is_some()
            || !(1..=12).contains(&month)
            || day == 0
            || day > days_in_month(year, month)
        {
            return None;
        }
        let mut secs = days_from_civil(year, month, day) * 86_400;
        if !rest.is_empty() {
            let (time, offset) = split_offset(rest)?;
            let mut tp = time.split(':');
            let h: i64 = tp.next()?.parse().ok()?;
            let m: i64 = tp.next()?.parse().ok()?;
            let sec: i64 = match tp.next() {
                Some(x) => x.split('.').next()?.parse().ok()?,
                None => 0,
            };
            if tp.next().is_some() || h > 23 || m > 59 || sec > 60 {
                return None;
            }
            secs += h * 3600 + m * 60 + sec - offset;
        }
        Some(UtcTime(secs))
    }

    /// Like [`UtcTime::parse`] but panics on a malformed literal; for
    /// building test data in code.
    pub fn at(s: &str) -> UtcTime {
        UtcTime::parse(s).unwrap_or_else(|| panic!("bad timestamp literal {s:?}"))
    }

    /// ISO 8601 as DRF renders it: `YYYY-MM-DDTHH:MM:SSZ`.
    pub fn iso(&self) -> String {
        let days = self.0.div_euclid(86_400);
        let rem = self.0.rem_euclid(86_400);
        let (y, mo, d) = civil_from_days(days);
        format!(
            "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}Z",
            rem / 3600,
            (rem % 3600) / 60,
            rem % 60
        )
    }

    /// `(year, month, day)`.
    pub fn ymd(&self) -> (i64, u32, u32) {
        civil_from_days(self.0.div_euclid(86_400))
    }
}

impl fmt::Display for UtcTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.iso())
    }
}

fn split_offset(rest: &str) -> Option<(&str, i64)> {
    if let Some(t) = rest.strip_suffix('Z').or_else(|| rest.strip_suffix('z')) {
        return Some((t, 0));
    }
    if let Some(i) = rest.rfind(['+', '-']) {
        let (t, off) = rest.split_at(i);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let mut op = off[1..].split(':');
        let oh: i64 = op.next()?.parse().ok()?;
        let om: i64 = op.next().unwrap_or("0").parse().ok()?;
        return Some((t, sign * (oh * 3600 + om * 60)));
    }
    Some((rest, 0))
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

// Howard Hinnant's `days_from_civil` / `civil_from_days`.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// The month as Django's `N` date format renders it (`django/utils/dates.py`
/// `MONTHS_AP`, Associated Press style: "Jan.", "March", "Sept.", …): the
/// English `DATE_FORMAT` is `"N j, Y"`, which `CourseOverview.start_display`
/// uses (`defaultfilters.date(self.start, "DATE_FORMAT")`; verified: "Nov. 23,
/// 2026").
pub(crate) fn month_ap(m: u32) -> &'static str {
    const NAMES: [&str; 12] = [
        "Jan.", "Feb.", "March", "April", "May", "June", "July", "Aug.", "Sept.", "Oct.", "Nov.",
        "Dec.",
    ];
    NAMES[(m.clamp(1, 12) - 1) as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip() {
        for s in [
            "1970-01-01T00:00:00Z",
            "2024-02-29T23:59:59Z",
            "2013-02-05T05:00:00Z",
            "1969-12-31T23:59:59Z",
        ] {
            assert_eq!(UtcTime::at(s).iso(), s);
        }
        assert_eq!(UtcTime::at("2024-01-01").iso(), "2024-01-01T00:00:00Z");
        assert_eq!(
            UtcTime::at("2024-01-01T02:00:00+02:00").iso(),
            "2024-01-01T00:00:00Z"
        );
        assert_eq!(
            UtcTime::at("2024-01-01T00:00:00.123456Z").iso(),
            "2024-01-01T00:00:00Z"
        );
        assert!(UtcTime::parse("2024-02-30").is_none());
        assert!(UtcTime::parse("nope").is_none());
    }
}
