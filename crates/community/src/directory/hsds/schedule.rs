//! HSDS schedules (RFC 5545 recurrence fields, `opens_at`, `closes_at`) as weekly opening
//! hours and notes in words.

use chrono::{NaiveTime, Weekday};

use super::json::Obj;
use crate::directory::OpenHours;
use crate::Problem;

const DAYS: [(&str, Weekday, &str); 7] = [
    ("MO", Weekday::Mon, "Monday"),
    ("TU", Weekday::Tue, "Tuesday"),
    ("WE", Weekday::Wed, "Wednesday"),
    ("TH", Weekday::Thu, "Thursday"),
    ("FR", Weekday::Fri, "Friday"),
    ("SA", Weekday::Sat, "Saturday"),
    ("SU", Weekday::Sun, "Sunday"),
];

fn day(code: &str) -> Result<(Weekday, &'static str), Problem> {
    let upper = code.trim().to_ascii_uppercase();
    DAYS.iter()
        .find(|(c, _, _)| *c == upper)
        .map(|(_, d, w)| (*d, *w))
        .ok_or_else(|| Problem::Day(code.trim().to_string()))
}

/// An RFC 5545 BYDAY list in words: "2TU,-1FR" → "second Tuesday, last Friday".
fn byday_words(byday: &str) -> Result<String, Problem> {
    let mut out = Vec::new();
    for part in byday.split(',') {
        let part = part.trim();
        let split = part.len().saturating_sub(2);
        let (n, d) = part.split_at(split);
        let (_, words) = day(d)?;
        let nth = match n {
            "" => "",
            "1" | "+1" => "first ",
            "2" | "+2" => "second ",
            "3" | "+3" => "third ",
            "4" | "+4" => "fourth ",
            "5" | "+5" => "fifth ",
            "-1" => "last ",
            _ => return Err(Problem::Day(part.to_string())),
        };
        out.push(format!("{nth}{words}"));
    }
    Ok(out.join(", "))
}

/// A time of day from `HH:MM` (seconds and a time zone suffix allowed, the zone dropped;
/// `24:00` is midnight).
fn time(field: String, value: &str) -> Result<NaiveTime, Problem> {
    let bad = || Problem::Time {
        field: field.clone(),
        value: value.to_string(),
    };
    let v = value.trim();
    let v = v.strip_suffix(['Z', 'z']).unwrap_or(v);
    let v = match v.get(5..).and_then(|rest| rest.find(['+', '-'])) {
        Some(i) => &v[..5 + i],
        None => v,
    };
    if v == "24:00" || v == "24:00:00" {
        return Ok(NaiveTime::MIN);
    }
    NaiveTime::parse_from_str(v, "%H:%M")
        .or_else(|_| NaiveTime::parse_from_str(v, "%H:%M:%S"))
        .map_err(|_| bad())
}

pub(super) fn schedule(
    o: &Obj<'_>,
    open: &mut Vec<OpenHours>,
    notes: &mut Vec<String>,
) -> Result<(), Problem> {
    let opens = match o.str_opt("opens_at")? {
        Some(v) => Some(time(o.field("opens_at"), v)?),
        None => None,
    };
    let closes = match o.str_opt("closes_at")? {
        Some(v) => Some(time(o.field("closes_at"), v)?),
        None => None,
    };
    let freq = o.str_opt("freq")?.map(str::to_ascii_uppercase);
    let byday = o.str_opt("byday")?;
    let every = o.num_opt("interval")?.unwrap_or(1.0);
    let mut said = Vec::new();
    for k in ["description", "notes"] {
        if let Some(t) = o.str_opt(k)? {
            said.push(t.to_string());
        }
    }
    let (opens, closes) = match (opens, closes) {
        (Some(a), Some(b)) => (a, b),
        (Some(_), None) => return Err(Problem::Missing(o.field("closes_at"))),
        (None, Some(_)) => return Err(Problem::Missing(o.field("opens_at"))),
        (None, None) => {
            notes.extend(said);
            return Ok(());
        }
    };
    let weekly = matches!(freq.as_deref(), None | Some("WEEKLY")) && every == 1.0;
    let plain = byday.map(|b| b.split(',').all(|d| d.trim().len() == 2));
    if weekly && plain == Some(true) {
        for d in byday.unwrap_or_default().split(',') {
            open.push(OpenHours {
                day: day(d)?.0,
                opens,
                closes,
            });
        }
    } else if said.is_empty() {
        let mut words = String::new();
        match freq.as_deref() {
            Some("MONTHLY") => words.push_str("Monthly"),
            Some("WEEKLY") if every == 2.0 => words.push_str("Every other week"),
            Some("WEEKLY") => words.push_str(&format!("Every {every} weeks")),
            _ => {}
        }
        if let Some(b) = byday {
            if !words.is_empty() {
                words.push_str(", ");
            }
            words.push_str(&byday_words(b)?);
        }
        if !words.is_empty() {
            words.push_str(", ");
        }
        words.push_str(&format!(
            "{} to {}",
            opens.format("%H:%M"),
            closes.format("%H:%M")
        ));
        let mut c = words.chars();
        let words = match c.next() {
            Some(f) => f.to_uppercase().chain(c).collect(),
            None => words,
        };
        said.push(words);
    }
    notes.extend(said);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_drop_zones_and_seconds() {
        let t = |v: &str| time("opens_at".into(), v);
        assert_eq!(
            t("09:30").unwrap(),
            NaiveTime::from_hms_opt(9, 30, 0).unwrap()
        );
        assert_eq!(
            t("09:30Z").unwrap(),
            NaiveTime::from_hms_opt(9, 30, 0).unwrap()
        );
        assert_eq!(
            t("09:30-05:00").unwrap(),
            NaiveTime::from_hms_opt(9, 30, 0).unwrap()
        );
        assert_eq!(
            t("17:00:00+01:00").unwrap(),
            NaiveTime::from_hms_opt(17, 0, 0).unwrap()
        );
        assert_eq!(t("24:00").unwrap(), NaiveTime::MIN);
        assert!(t("9am").is_err());
        assert!(t("25:00").is_err());
    }

    #[test]
    fn monthly_days_in_words() {
        assert_eq!(
            byday_words("2TU,-1FR").unwrap(),
            "second Tuesday, last Friday"
        );
        assert_eq!(byday_words("mo").unwrap(), "Monday");
        assert_eq!(byday_words("9MO"), Err(Problem::Day("9MO".into())));
        assert_eq!(byday_words("XX"), Err(Problem::Day("XX".into())));
    }
}
