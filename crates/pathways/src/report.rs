//! Compliance with each pathway standard per month, stratified, as FHIR MeasureReports.
//! Pure.
//!
//! A clock counts in the month its stop falls in (local calendar month), as national
//! waiting-times returns count a pathway in the period it ends: the denominator is the
//! clocks that stopped (met or breached), the numerator those within target. Clocks that
//! ended without measurement (cancer ruled out closing the 62-day clock) and clocks still
//! running are not counted. Each month's report is stratified by tumour site, race,
//! ethnicity, preferred language, interpreter need, sex and age band. Small numbers are
//! suppressed: a count from 1 to 10 (any denominator under 11, and the numerator with it) is
//! never shown or stored, following the CMS cell-size suppression policy (no cell of 10 or
//! fewer people published); a whole month under 11 is suppressed too. The median elapsed time
//! of the counted clocks is kept beside the score.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::definition::Unit;

/// The smallest count shown.
pub const SUPPRESS_BELOW: usize = 11;

/// One stopped clock, as a report counts it.
#[derive(Debug, Clone, PartialEq)]
pub struct Stopped {
    pub pathway: String,
    pub clock: String,
    /// The standard's name, e.g. "28-day Faster Diagnosis Standard".
    pub name: String,
    /// `YYYY-MM`, the local month of the stop.
    pub month: String,
    pub met: bool,
    pub elapsed: i64,
    pub unit: Unit,
    /// The share the standard expects (e.g. 75 for the 28-day standard), when it says.
    pub standard_percent: Option<f64>,
    /// (stratifier, value): `tumour-site`, `race`, `ethnicity`, `language`, `interpreter`,
    /// `sex`, `age-band`.
    pub strata: Vec<(String, String)>,
}

/// A count pair, suppressed when small.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Cell {
    pub denominator: usize,
    pub numerator: usize,
}

impl Cell {
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

/// One standard in one month.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub pathway: String,
    pub clock: String,
    pub name: String,
    pub month: String,
    pub unit: Unit,
    pub standard_percent: Option<f64>,
    pub all: Cell,
    /// Median elapsed time of the counted clocks (when the month is shown).
    pub median: Option<i64>,
    /// stratifier → value → cell.
    pub strata: BTreeMap<String, BTreeMap<String, Cell>>,
}

/// The stratifiers, in the order reports show them.
pub const STRATIFIERS: [(&str, &str); 7] = [
    ("tumour-site", "Tumour site"),
    ("race", "Race"),
    ("ethnicity", "Ethnicity"),
    ("language", "Preferred language"),
    ("interpreter", "Interpreter needed"),
    ("sex", "Sex"),
    ("age-band", "Age band"),
];

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

fn median(mut v: Vec<i64>) -> Option<i64> {
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

/// Compliance per standard and month, newest month first within each standard.
pub fn compliance(stopped: &[Stopped]) -> Vec<Line> {
    let mut groups: BTreeMap<(String, String, String), Vec<&Stopped>> = BTreeMap::new();
    for s in stopped {
        groups
            .entry((s.pathway.clone(), s.clock.clone(), s.month.clone()))
            .or_default()
            .push(s);
    }
    let mut out: Vec<Line> = groups
        .into_iter()
        .map(|((pathway, clock, month), list)| {
            let first = list[0];
            let mut all = Cell::default();
            let mut strata: BTreeMap<String, BTreeMap<String, Cell>> = BTreeMap::new();
            for s in &list {
                all.denominator += 1;
                all.numerator += usize::from(s.met);
                for (k, v) in &s.strata {
                    let c = strata
                        .entry(k.clone())
                        .or_default()
                        .entry(v.clone())
                        .or_default();
                    c.denominator += 1;
                    c.numerator += usize::from(s.met);
                }
            }
            Line {
                median: (!all.suppressed())
                    .then(|| median(list.iter().map(|s| s.elapsed).collect()))
                    .flatten(),
                pathway,
                clock,
                name: first.name.clone(),
                month,
                unit: first.unit,
                standard_percent: first.standard_percent,
                all,
                strata,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        (a.pathway.as_str(), a.clock.as_str())
            .cmp(&(b.pathway.as_str(), b.clock.as_str()))
            .then(b.month.cmp(&a.month))
    });
    out
}

/// Tend's extension marking a suppressed count.
pub const SUPPRESSED_EXT: &str = "https://tend.example.org/fhir/StructureDefinition/suppressed";
/// Tend's extension holding the median elapsed time (valueQuantity, days or minutes).
pub const MEDIAN_EXT: &str = "https://tend.example.org/fhir/StructureDefinition/median-elapsed";
/// The canonical URL of a standard's measure.
pub fn measure_url(pathway: &str, clock: &str) -> String {
    format!("https://tend.example.org/fhir/Measure/pathway-{pathway}-{clock}")
}

/// The id of a line's MeasureReport.
pub fn report_id(line: &Line) -> String {
    format!("pathway-{}-{}-{}", line.pathway, line.clock, line.month)
}

fn populations(c: &Cell) -> Value {
    if c.suppressed() {
        return json!([
            {"code": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/measure-population", "code": "denominator"}]},
             "extension": [{"url": SUPPRESSED_EXT, "valueBoolean": true}]},
            {"code": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/measure-population", "code": "numerator"}]},
             "extension": [{"url": SUPPRESSED_EXT, "valueBoolean": true}]},
        ]);
    }
    json!([
        {"code": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/measure-population", "code": "denominator"}]}, "count": c.denominator},
        {"code": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/measure-population", "code": "numerator"}]}, "count": c.numerator},
    ])
}

fn score(c: &Cell) -> Option<Value> {
    c.percent()
        .map(|p| json!({"value": (p * 10.0).round() / 1000.0}))
}

/// The last day of a `YYYY-MM` month.
fn month_end(month: &str) -> String {
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

/// A line as a MeasureReport (summary, the month as its period, one group for the standard
/// with its stratifiers; suppressed counts are absent and marked).
pub fn measure_report(line: &Line) -> Value {
    let mut group = json!({
        "code": {"coding": [{"system": "https://tend.example.org/fhir/CodeSystem/pathway-clock", "code": line.clock, "display": line.name}], "text": line.name},
        "population": populations(&line.all),
        "stratifier": STRATIFIERS.iter().filter_map(|(code, words)| {
            let values = line.strata.get(*code)?;
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
    if let Some(m) = score(&line.all) {
        group["measureScore"] = m;
    }
    if line.all.suppressed() {
        group["extension"] = json!([{"url": SUPPRESSED_EXT, "valueBoolean": true}]);
    } else if let Some(m) = line.median {
        let unit = match line.unit {
            Unit::Days => ("d", "days"),
            Unit::Minutes => ("min", "minutes"),
        };
        group["extension"] = json!([{"url": MEDIAN_EXT, "valueQuantity": {"value": m, "unit": unit.1, "system": "http://unitsofmeasure.org", "code": unit.0}}]);
    }
    json!({
        "resourceType": "MeasureReport",
        "id": report_id(line),
        "meta": {"tag": [{"system": "https://tend.example.org/fhir/CodeSystem/tend-tags", "code": "navigation"}]},
        "status": "complete",
        "type": "summary",
        "measure": measure_url(&line.pathway, &line.clock),
        "period": {"start": format!("{}-01", line.month), "end": month_end(&line.month)},
        "improvementNotation": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/measure-improvement-notation", "code": "increase"}]},
        "group": [group],
    })
}
