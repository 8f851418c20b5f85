//! Equity stratification for Tend's measures, pure: every measure is shown by race,
//! ethnicity, preferred language, interpreter need, sex and age band, and no count of 1 to 10
//! people is ever shown or stored, following the CMS cell-size suppression policy (no cell
//! of 10 or fewer published; `clinical/quality-safety-equity.md`, equity stratification).
//!
//! *Architecture invariant:* no IO, no clock.

use std::collections::BTreeMap;

use serde_json::{json, Value};

/// Marks a count or score left out because it was small.
pub const SUPPRESSED_EXT: &str = "https://tend.example.org/fhir/StructureDefinition/suppressed";
/// The median elapsed time of what a report counted.
pub const MEDIAN_EXT: &str = "https://tend.example.org/fhir/StructureDefinition/median-elapsed";

/// The smallest count shown.
pub const SUPPRESS_BELOW: usize = 11;

/// A count pair, suppressed when small.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Cell {
    pub denominator: usize,
    pub numerator: usize,
}

impl Cell {
    /// Count one case: in the denominator, and in the numerator when `met`.
    pub fn count(&mut self, met: bool) {
        self.denominator += 1;
        if met {
            self.numerator += 1;
        }
    }

    /// Whether the cell must not be shown: 1 to 10 counted.
    pub fn suppressed(&self) -> bool {
        self.denominator > 0 && self.denominator < SUPPRESS_BELOW
    }

    /// The share met, in percent, when shown.
    pub fn percent(&self) -> Option<f64> {
        (!self.suppressed() && self.denominator > 0)
            .then(|| 100.0 * self.numerator as f64 / self.denominator as f64)
    }
}

/// The age band of an age in years (the bands national cancer statistics use).
pub fn age_band(years: i64) -> &'static str {
    match years {
        i64::MIN..=39 => "under 40",
        40..=49 => "40 to 49",
        50..=59 => "50 to 59",
        60..=69 => "60 to 69",
        70..=79 => "70 to 79",
        _ => "80 and over",
    }
}

/// The median of some values (the lower middle's and upper middle's mean, rounded down,
/// for an even count).
pub fn median(mut v: Vec<i64>) -> Option<i64> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2
    })
}

/// A cell's populations as MeasureReport `population`s: the counts, or, when suppressed,
/// none and the mark.
pub fn populations(c: &Cell) -> Value {
    let pop = |code: &str, count: usize| {
        if c.suppressed() {
            json!({"code": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/measure-population", "code": code}]},
                "extension": [{"url": SUPPRESSED_EXT, "valueBoolean": true}]})
        } else {
            json!({"code": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/measure-population", "code": code}]}, "count": count})
        }
    };
    json!([
        pop("denominator", c.denominator),
        pop("numerator", c.numerator)
    ])
}

/// A cell's share as a MeasureReport score (a proportion), when shown.
pub fn score(c: &Cell) -> Option<Value> {
    c.percent()
        .map(|p| json!({"value": (p * 10.0).round() / 1000.0}))
}

/// The last day of a `YYYY-MM` month.
pub fn month_end(month: &str) -> String {
    let (y, m) = month.split_once('-').unwrap_or(("1970", "01"));
    let (y, m): (i32, u32) = (y.parse().unwrap_or(1970), m.parse().unwrap_or(1));
    let next = if m == 12 {
        chrono::NaiveDate::from_ymd_opt(y + 1, 1, 1)
    } else {
        chrono::NaiveDate::from_ymd_opt(y, m + 1, 1)
    };
    next.and_then(|d| d.pred_opt())
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| format!("{month}-28"))
}

/// One measure's group of a MeasureReport: its code, the whole population, and one
/// stratifier per entry of `stratifiers` ((code, words), in order) that `strata` holds;
/// suppressed cells carry no counts and are marked; the median (value, UCUM code, words)
/// when the whole is shown.
pub fn group(
    code: Value,
    all: &Cell,
    strata: &BTreeMap<String, BTreeMap<String, Cell>>,
    stratifiers: &[(&str, &str)],
    median: Option<(i64, &str, &str)>,
) -> Value {
    let mut group = json!({
        "code": code,
        "population": populations(all),
        "stratifier": stratifiers.iter().filter_map(|(code, words)| {
            let values = strata.get(*code)?;
            Some(json!({
                "code": [{"coding": [{"system": "https://tend.example.org/fhir/CodeSystem/stratifier", "code": code}], "text": words}],
                "stratum": values.iter().map(|(v, c)| {
                    let mut s = json!({"value": {"text": v}, "population": populations(c)});
                    if let Some(m) = score(c) {
                        s["measureScore"] = m;
                    }
                    if c.suppressed() {
                        s["extension"] = json!([{"url": SUPPRESSED_EXT, "valueBoolean": true}]);
                    }
                    s
                }).collect::<Vec<_>>(),
            }))
        }).collect::<Vec<_>>(),
    });
    if let Some(m) = score(all) {
        group["measureScore"] = m;
    }
    if all.suppressed() {
        group["extension"] = json!([{"url": SUPPRESSED_EXT, "valueBoolean": true}]);
    } else if let Some((m, code, words)) = median {
        group["extension"] = json!([{"url": MEDIAN_EXT, "valueQuantity": {"value": m, "unit": words, "system": "http://unitsofmeasure.org", "code": code}}]);
    }
    group
}

/// The text of a US Core race or ethnicity extension (`us-core-race`, `us-core-ethnicity`).
fn us_core_text(p: &Value, name: &str) -> Option<String> {
    p["extension"]
        .as_array()?
        .iter()
        .find(|e| e["url"].as_str().is_some_and(|u| u.ends_with(name)))?["extension"]
        .as_array()?
        .iter()
        .find(|e| e["url"] == "text")?["valueString"]
        .as_str()
        .map(str::to_string)
}

/// A patient's strata on a day: race, ethnicity (US Core text; "Not recorded"), preferred
/// language (English when none is said), interpreter need, sex and age band.
pub fn of_patient(p: &Value, on: chrono::NaiveDate) -> Vec<(String, String)> {
    let comms = p["communication"].as_array().cloned().unwrap_or_default();
    let c = comms
        .iter()
        .find(|c| c["preferred"] == true)
        .or(comms.first());
    let language = c
        .and_then(|c| {
            c["language"]["text"]
                .as_str()
                .or_else(|| c["language"]["coding"][0]["display"].as_str())
                .or_else(|| c["language"]["coding"][0]["code"].as_str())
        })
        .unwrap_or("English")
        .to_string();
    let interpreter = p["extension"].as_array().into_iter().flatten().any(|e| {
        e["url"] == "http://hl7.org/fhir/StructureDefinition/patient-interpreterRequired"
            && e["valueBoolean"] == true
    });
    let mut out = vec![
        (
            "race".to_string(),
            us_core_text(p, "us-core-race").unwrap_or_else(|| "Not recorded".into()),
        ),
        (
            "ethnicity".into(),
            us_core_text(p, "us-core-ethnicity").unwrap_or_else(|| "Not recorded".into()),
        ),
        ("language".into(), language),
        (
            "interpreter".into(),
            if interpreter { "Yes" } else { "No" }.into(),
        ),
        (
            "sex".into(),
            match p["gender"].as_str() {
                Some("female") => "Female",
                Some("male") => "Male",
                Some(_) => "Other",
                None => "Not recorded",
            }
            .into(),
        ),
    ];
    let birth = p["birthDate"]
        .as_str()
        .and_then(|d| chrono::NaiveDate::parse_from_str(d.get(..10)?, "%Y-%m-%d").ok());
    out.push((
        "age-band".into(),
        match birth.and_then(|b| on.years_since(b)) {
            Some(y) => age_band(i64::from(y)).into(),
            None => "Not recorded".into(),
        },
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_cells_are_suppressed_and_bands_have_edges() {
        let mut c = Cell::default();
        for i in 0..10 {
            c.count(i % 2 == 0);
        }
        assert!(c.suppressed());
        assert_eq!(c.percent(), None);
        c.count(true);
        assert!(!c.suppressed());
        assert_eq!(c.percent().map(|p| p.round()), Some(55.0));
        assert!(!Cell::default().suppressed());
        assert_eq!(age_band(39), "under 40");
        assert_eq!(age_band(40), "40 to 49");
        assert_eq!(age_band(79), "70 to 79");
        assert_eq!(age_band(80), "80 and over");
        assert_eq!(median(vec![]), None);
        assert_eq!(median(vec![5, 1, 3]), Some(3));
        assert_eq!(median(vec![4, 1, 3, 2]), Some(2));
    }

    #[test]
    fn a_patient_s_strata_say_what_is_not_recorded() {
        let p = json!({"resourceType": "Patient", "gender": "female", "birthDate": "1966-12-08",
            "communication": [{"language": {"coding": [{"code": "ht"}], "text": "Haitian Creole"}, "preferred": true}],
            "extension": [
                {"url": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race", "extension": [{"url": "text", "valueString": "Black or African American"}]},
                {"url": "http://hl7.org/fhir/StructureDefinition/patient-interpreterRequired", "valueBoolean": true}]});
        let on = chrono::NaiveDate::from_ymd_opt(2026, 12, 7).unwrap();
        let s: BTreeMap<String, String> = of_patient(&p, on).into_iter().collect();
        assert_eq!(s["race"], "Black or African American");
        assert_eq!(s["ethnicity"], "Not recorded");
        assert_eq!(s["language"], "Haitian Creole");
        assert_eq!(s["interpreter"], "Yes");
        assert_eq!(s["sex"], "Female");
        assert_eq!(
            s["age-band"], "50 to 59",
            "59 the day before the 60th birthday"
        );
        let bare: BTreeMap<String, String> = of_patient(&json!({"resourceType": "Patient"}), on)
            .into_iter()
            .collect();
        assert_eq!(bare["language"], "English");
        assert_eq!(bare["age-band"], "Not recorded");
    }
}
