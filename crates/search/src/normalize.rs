//! Normalisation shared by indexing and querying, so both sides compare like with like.
//! String matching: <https://hl7.org/fhir/R4/search.html#string> (case- and
//! accent-insensitive); date ranges: <https://hl7.org/fhir/R4/search.html#date>.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime};

/// Lower-case and strip combining accents of Latin letters, for string search.
pub fn normalize_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let folded = match c {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' => {
                'a'
            }
            'ç' | 'Ç' => 'c',
            'è' | 'é' | 'ê' | 'ë' | 'È' | 'É' | 'Ê' | 'Ë' => 'e',
            'ì' | 'í' | 'î' | 'ï' | 'Ì' | 'Í' | 'Î' | 'Ï' => 'i',
            'ñ' | 'Ñ' => 'n',
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' | 'Ø' => {
                'o'
            }
            'ù' | 'ú' | 'û' | 'ü' | 'Ù' | 'Ú' | 'Û' | 'Ü' => 'u',
            'ý' | 'ÿ' | 'Ý' => 'y',
            _ => {
                for l in c.to_lowercase() {
                    out.push(l);
                }
                continue;
            }
        };
        out.push(folded);
    }
    out
}

/// The inclusive range, in ms since the epoch (UTC), that a FHIR date, dateTime or instant
/// covers at its precision: `2020` is the whole year, `2020-03-04T10:00` the whole minute.
/// Values without a time zone are read as UTC. `None` when the text is not a FHIR date.
pub fn date_range(s: &str) -> Option<(i64, i64)> {
    let s = s.trim();
    let ms = |d: NaiveDateTime| d.and_utc().timestamp_millis();
    let (date_part, time_part) = match s.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let parts: Vec<&str> = date_part.split('-').collect();
    let year: i32 = parts
        .first()?
        .parse()
        .ok()
        .filter(|_| parts[0].len() == 4)?;
    let month: Option<u32> = match parts.get(1) {
        Some(m) if m.len() == 2 => Some(m.parse().ok()?),
        Some(_) => return None,
        None => None,
    };
    let day: Option<u32> = match parts.get(2) {
        Some(d) if d.len() == 2 => Some(d.parse().ok()?),
        Some(_) => return None,
        None => None,
    };
    if parts.len() > 3 {
        return None;
    }
    let Some(t) = time_part else {
        let (start, end) = match (month, day) {
            (None, _) => (
                NaiveDate::from_ymd_opt(year, 1, 1)?,
                NaiveDate::from_ymd_opt(year + 1, 1, 1)?,
            ),
            (Some(m), None) => {
                let start = NaiveDate::from_ymd_opt(year, m, 1)?;
                let end = if m == 12 {
                    NaiveDate::from_ymd_opt(year + 1, 1, 1)?
                } else {
                    NaiveDate::from_ymd_opt(year, m + 1, 1)?
                };
                (start, end)
            }
            (Some(m), Some(d)) => {
                let start = NaiveDate::from_ymd_opt(year, m, d)?;
                (start, start.succ_opt()?)
            }
        };
        return Some((
            ms(start.and_time(NaiveTime::MIN)),
            ms(end.and_time(NaiveTime::MIN)) - 1,
        ));
    };
    let date = NaiveDate::from_ymd_opt(year, month?, day?)?;
    // Split off the zone: Z, +hh:mm or -hh:mm.
    let (clock, offset_secs) = if let Some(c) = t.strip_suffix('Z') {
        (c, 0i64)
    } else if let Some(pos) = t.rfind(['+', '-']) {
        let (c, z) = t.split_at(pos);
        let sign = if z.starts_with('-') { -1 } else { 1 };
        let (h, m) = z[1..].split_once(':')?;
        if h.len() != 2 || m.len() != 2 {
            return None;
        }
        let secs = h.parse::<i64>().ok()? * 3600 + m.parse::<i64>().ok()? * 60;
        (c, sign * secs)
    } else {
        (t, 0)
    };
    let pieces: Vec<&str> = clock.split(':').collect();
    let (hh, mm) = (pieces.first()?, pieces.get(1)?);
    if hh.len() != 2 || mm.len() != 2 {
        return None;
    }
    let h: u32 = hh.parse().ok()?;
    let m: u32 = mm.parse().ok()?;
    let (sec, frac_ms, width_ms): (u32, i64, i64) = match pieces.get(2) {
        None => (0, 0, 60_000),
        Some(sv) => {
            let (whole, frac) = match sv.split_once('.') {
                Some((w, f)) => (w, Some(f)),
                None => (*sv, None),
            };
            if whole.len() != 2 {
                return None;
            }
            let secs: u32 = whole.parse().ok()?;
            match frac {
                None => (secs, 0, 1000),
                Some(f) if !f.is_empty() && f.chars().all(|c| c.is_ascii_digit()) => {
                    let digits = f.len().min(3);
                    let val: i64 = f[..digits].parse().ok()?;
                    let scale = 10i64.pow(3 - digits as u32);
                    (secs, val * scale, scale.max(1))
                }
                Some(_) => return None,
            }
        }
    };
    if pieces.len() > 3 {
        return None;
    }
    let naive = date.and_hms_opt(h, m, sec)?;
    let start = ms(naive) + frac_ms - offset_secs * 1000;
    Some((start, start + width_ms - 1))
}

/// Format ms since the epoch as a FHIR instant (UTC, millisecond precision).
pub fn format_instant(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_fold_case_and_accents() {
        assert_eq!(normalize_string("Émile ZOLA"), "emile zola");
    }

    #[test]
    fn date_ranges_follow_precision() {
        let (lo, hi) = date_range("2020").unwrap();
        assert_eq!(format_instant(lo), "2020-01-01T00:00:00.000Z");
        assert_eq!(format_instant(hi), "2020-12-31T23:59:59.999Z");
        let (lo, hi) = date_range("2020-02").unwrap();
        assert_eq!(format_instant(hi), "2020-02-29T23:59:59.999Z");
        assert_eq!(format_instant(lo), "2020-02-01T00:00:00.000Z");
        let (lo, hi) = date_range("2021-03-04T10:15:00+02:00").unwrap();
        assert_eq!(format_instant(lo), "2021-03-04T08:15:00.000Z");
        assert_eq!(format_instant(hi), "2021-03-04T08:15:00.999Z");
        let (lo, hi) = date_range("2021-03-04T10:15:00.5Z").unwrap();
        assert_eq!(
            (format_instant(lo).as_str(), hi - lo),
            ("2021-03-04T10:15:00.500Z", 99)
        );
        assert!(date_range("2021-3-4").is_none());
        assert!(date_range("yesterday").is_none());
        assert!(date_range("2021-02-30").is_none());
    }
}
