//! HL7 v2 DTM/TS (`YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ]`, HL7 v2.5 §2.A.22) to a FHIR
//! dateTime. A time without a zone is read in the zone the feed is configured with.

/// FHIR `dateTime` for an HL7 DTM; `default_offset` (e.g. `+00:00`) applies when the value
/// has a time but no zone. None when the text is not a DTM.
pub fn to_fhir_datetime(dtm: &str, default_offset: &str) -> Option<String> {
    let dtm = dtm.trim();
    let (body, zone) = match dtm.find(['+', '-']) {
        Some(i) if i >= 4 => (&dtm[..i], Some(&dtm[i..])),
        _ => (dtm, None),
    };
    let (digits, frac) = match body.split_once('.') {
        Some((d, f)) => (d, Some(f)),
        None => (body, None),
    };
    if !digits.bytes().all(|b| b.is_ascii_digit())
        || !matches!(digits.len(), 4 | 6 | 8 | 10 | 12 | 14)
        || frac.is_some_and(|f| f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    if zone.is_some_and(|z| z.len() != 5 || !z[1..].bytes().all(|b| b.is_ascii_digit())) {
        return None;
    }
    let part = |a: usize, b: usize| &digits[a..b];
    let num = |a: usize, b: usize| part(a, b).parse::<u32>().ok();
    if let Some(m) = (digits.len() >= 6).then(|| num(4, 6)).flatten() {
        if !(1..=12).contains(&m) {
            return None;
        }
    }
    if let Some(d) = (digits.len() >= 8).then(|| num(6, 8)).flatten() {
        if !(1..=31).contains(&d) {
            return None;
        }
    }
    let mut out = part(0, 4).to_string();
    if digits.len() >= 6 {
        out.push('-');
        out.push_str(part(4, 6));
    }
    if digits.len() >= 8 {
        out.push('-');
        out.push_str(part(6, 8));
    }
    if digits.len() <= 8 {
        return Some(out);
    }
    if num(8, 10)? > 23 {
        return None;
    }
    let minutes = if digits.len() >= 12 {
        part(10, 12)
    } else {
        "00"
    };
    let seconds = if digits.len() >= 14 {
        part(12, 14)
    } else {
        "00"
    };
    if minutes.parse::<u32>().ok()? > 59 || seconds.parse::<u32>().ok()? > 60 {
        return None;
    }
    out.push_str(&format!("T{}:{minutes}:{seconds}", part(8, 10)));
    if let Some(f) = frac {
        out.push('.');
        out.push_str(f);
    }
    match zone {
        Some(z) if z.len() == 5 && z[1..].bytes().all(|b| b.is_ascii_digit()) => {
            out.push_str(&format!("{}:{}", &z[..3], &z[3..]));
        }
        Some(_) => return None,
        None => out.push_str(default_offset),
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precisions_and_zones() {
        let z = "+00:00";
        assert_eq!(to_fhir_datetime("2026", z).as_deref(), Some("2026"));
        assert_eq!(
            to_fhir_datetime("20261124", z).as_deref(),
            Some("2026-11-24")
        );
        assert_eq!(
            to_fhir_datetime("202611240830", z).as_deref(),
            Some("2026-11-24T08:30:00+00:00")
        );
        assert_eq!(
            to_fhir_datetime("20120314125900-0215", z).as_deref(),
            Some("2012-03-14T12:59:00-02:15")
        );
        assert_eq!(
            to_fhir_datetime("20261124083012.25+0100", z).as_deref(),
            Some("2026-11-24T08:30:12.25+01:00")
        );
        for bad in [
            "",
            "2026-11-24",
            "20261324",
            "2026112425",
            "20261124083a",
            "2026112408+01",
        ] {
            assert_eq!(to_fhir_datetime(bad, z), None, "{bad}");
        }
    }
}
