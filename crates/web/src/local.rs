//! The hospital's local time: one time-zone setting (an IANA name such as
//! `America/New_York`, by default the machine's zone) in which every page shows times.
//! Storage stays in UTC with offsets; only what people read (and the times they type) is
//! local, with the year shown whenever it is not this year's.

use chrono::{DateTime, Datelike, LocalResult, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

/// The hospital's time zone.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Zone(Tz);

impl Zone {
    /// A zone by IANA name; the error says what was wrong.
    pub fn parse(name: &str) -> Result<Zone, String> {
        name.trim().parse::<Tz>().map(Zone).map_err(|_| {
            format!("'{name}' is not a time zone name (use an IANA name such as America/New_York)")
        })
    }

    /// The machine's zone (UTC when it cannot be told).
    pub fn machine() -> Zone {
        iana_time_zone::get_timezone()
            .ok()
            .and_then(|n| Zone::parse(&n).ok())
            .unwrap_or(Zone(Tz::UTC))
    }

    /// The zone itself (services that count local calendar days take it).
    pub fn tz(&self) -> Tz {
        self.0
    }

    /// The IANA name, e.g. `Europe/London`.
    pub fn name(&self) -> &'static str {
        self.0.name()
    }

    /// The zone's abbreviation at an instant, e.g. `GMT` or `BST`.
    pub fn abbreviation(&self, ms: i64) -> String {
        self.at(ms)
            .map(|t| t.format("%Z").to_string())
            .unwrap_or_default()
    }

    fn at(&self, ms: i64) -> Option<DateTime<Tz>> {
        DateTime::<Utc>::from_timestamp_millis(ms).map(|t| t.with_timezone(&self.0))
    }

    /// An instant as people read it, seen at `now_ms`: `14:05` today, `24 Nov 14:05` this
    /// year, `24 Nov 2025 14:05` before; anything unreadable as given.
    pub fn clock(&self, instant: &str, now_ms: i64) -> String {
        match DateTime::parse_from_rfc3339(instant) {
            Ok(t) => self.clock_ms(t.timestamp_millis(), now_ms),
            Err(_) => instant.to_string(),
        }
    }

    /// [`Zone::clock`] of milliseconds since the epoch.
    pub fn clock_ms(&self, ms: i64, now_ms: i64) -> String {
        let (Some(t), Some(now)) = (self.at(ms), self.at(now_ms)) else {
            return String::new();
        };
        if t.date_naive() == now.date_naive() {
            t.format("%H:%M").to_string()
        } else if t.year() == now.year() {
            t.format("%-d %b %H:%M").to_string()
        } else {
            t.format("%-d %b %Y %H:%M").to_string()
        }
    }

    /// An instant in full, for records where the second matters (the audit trail):
    /// `6 Dec 2026 14:05:32 EST`.
    pub fn full(&self, instant: &str) -> String {
        match DateTime::parse_from_rfc3339(instant) {
            Ok(t) => t
                .with_timezone(&self.0)
                .format("%-d %b %Y %H:%M:%S %Z")
                .to_string(),
            Err(_) => instant.to_string(),
        }
    }

    /// A date (`YYYY-MM-DD` or an instant) as people read it: `24 Nov`, or `24 Nov 2025`
    /// when not this year.
    pub fn date(&self, date: &str, now_ms: i64) -> String {
        let day = match DateTime::parse_from_rfc3339(date) {
            Ok(t) => t.with_timezone(&self.0).date_naive(),
            Err(_) => {
                match chrono::NaiveDate::parse_from_str(date.get(..10).unwrap_or(date), "%Y-%m-%d")
                {
                    Ok(d) => d,
                    Err(_) => return date.to_string(),
                }
            }
        };
        let this_year = self.at(now_ms).map(|n| n.year());
        if Some(day.year()) == this_year {
            day.format("%-d %b").to_string()
        } else {
            day.format("%-d %b %Y").to_string()
        }
    }

    /// The hospital's calendar day of an instant as `YYYYMMDD` (a key for once-a-day records).
    pub fn day_key(&self, ms: i64) -> String {
        self.at(ms)
            .map(|t| t.format("%Y%m%d").to_string())
            .unwrap_or_default()
    }

    /// The value of an `<input type="datetime-local">` for an instant (`2026-12-06T14:05`).
    pub fn input_value(&self, ms: i64) -> String {
        self.at(ms)
            .map(|t| t.format("%Y-%m-%dT%H:%M").to_string())
            .unwrap_or_default()
    }

    /// The instant a local wall-clock time typed into a form means (`2026-12-06T14:05`, or
    /// with seconds). In the hour repeated when clocks go back, the earlier one; a time that
    /// does not exist (clocks went forward) is `None`.
    pub fn from_input(&self, value: &str) -> Option<i64> {
        let naive = NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M")
            .or_else(|_| NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S"))
            .ok()?;
        match self.0.from_local_datetime(&naive) {
            LocalResult::Single(t) => Some(t.timestamp_millis()),
            LocalResult::Ambiguous(a, _) => Some(a.timestamp_millis()),
            LocalResult::None => None,
        }
    }
}

/// Why a time typed on a bedside form was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TypedTime {
    /// Not a time on the hospital's clock (or one skipped when clocks went forward).
    NotATime,
    Future,
    /// More than [`BACKDATE_MS`] ago.
    TooOld,
}

/// How far back a bedside record may be dated: 24 hours.
pub(crate) const BACKDATE_MS: i64 = 24 * 3_600_000;

impl Zone {
    /// When something typed on a bedside form happened: the typed hospital time (empty:
    /// `now_ms`), never in the future (the form's clock shows minutes, so this minute is
    /// not "in the future"), at most [`BACKDATE_MS`] back.
    pub(crate) fn typed_time(&self, raw: &str, now_ms: i64) -> Result<i64, TypedTime> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Ok(now_ms);
        }
        let at = self.from_input(raw).ok_or(TypedTime::NotATime)?;
        if at > now_ms + 60_000 {
            Err(TypedTime::Future)
        } else if at < now_ms - BACKDATE_MS {
            Err(TypedTime::TooOld)
        } else {
            Ok(at.min(now_ms))
        }
    }
}

impl Default for Zone {
    fn default() -> Zone {
        Zone::machine()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> i64 {
        DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis()
    }

    #[test]
    fn times_are_local_with_the_year_when_not_this_year() {
        let ny = Zone::parse("America/New_York").unwrap();
        let now = ms("2026-12-06T15:00:00Z"); // 10:00 in New York
        assert_eq!(ny.clock("2026-12-06T14:05:00Z", now), "09:05");
        assert_eq!(ny.clock("2026-12-06T03:00:00Z", now), "5 Dec 22:00");
        assert_eq!(
            ny.clock("2026-07-01T12:00:00Z", now),
            "1 Jul 08:00",
            "summer time"
        );
        assert_eq!(
            ny.clock("2025-11-30T02:00:00+00:00", now),
            "29 Nov 2025 21:00"
        );
        assert_eq!(ny.date("1965-03-04", now), "4 Mar 1965");
        assert_eq!(ny.date("2026-03-04", now), "4 Mar");
        assert_eq!(ny.abbreviation(now), "EST");
        assert_eq!(ny.full("2026-12-06T14:05:32Z"), "6 Dec 2026 09:05:32 EST");
        assert_eq!(ny.clock("not a time", now), "not a time");
    }

    #[test]
    fn typed_times_mean_the_hospitals_wall_clock() {
        let london = Zone::parse("Europe/London").unwrap();
        assert_eq!(
            london.from_input("2026-07-01T09:30"),
            Some(ms("2026-07-01T08:30:00Z"))
        );
        assert_eq!(
            london.input_value(ms("2026-07-01T08:30:00Z")),
            "2026-07-01T09:30"
        );
        // 01:30 on 29 Mar 2026 does not exist in London; 01:30 on 25 Oct happens twice.
        assert_eq!(london.from_input("2026-03-29T01:30"), None);
        assert_eq!(
            london.from_input("2026-10-25T01:30"),
            Some(ms("2026-10-25T00:30:00Z"))
        );
        assert!(Zone::parse("Mars/Olympus").is_err());
    }
}

/// The moment a page is made, in the hospital's zone: what every time on it is read against.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Now {
    pub(crate) ms: i64,
    pub(crate) zone: Zone,
}

impl Now {
    pub(crate) fn new(ms: i64, zone: Zone) -> Now {
        Now { ms, zone }
    }

    /// See [`Zone::clock`].
    pub(crate) fn clock(&self, instant: &str) -> String {
        self.zone.clock(instant, self.ms)
    }

    /// See [`Zone::date`].
    pub(crate) fn date(&self, date: &str) -> String {
        self.zone.date(date, self.ms)
    }
}
