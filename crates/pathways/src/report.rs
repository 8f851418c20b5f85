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

pub use strata::{age_band, Cell, SUPPRESS_BELOW};

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

use strata::median;

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

pub use strata::{MEDIAN_EXT, SUPPRESSED_EXT};

/// The canonical URL of a standard's measure.
pub fn measure_url(pathway: &str, clock: &str) -> String {
    format!("https://tend.example.org/fhir/Measure/pathway-{pathway}-{clock}")
}

/// The id of a line's MeasureReport.
pub fn report_id(line: &Line) -> String {
    format!("pathway-{}-{}-{}", line.pathway, line.clock, line.month)
}

/// A line as a MeasureReport (summary, the month as its period, one group for the standard
/// with its stratifiers; suppressed counts are absent and marked).
pub fn measure_report(line: &Line) -> Value {
    let unit = match line.unit {
        Unit::Days => ("d", "days"),
        Unit::Minutes => ("min", "minutes"),
    };
    let group = strata::group(
        json!({"coding": [{"system": "https://tend.example.org/fhir/CodeSystem/pathway-clock", "code": line.clock, "display": line.name}], "text": line.name}),
        &line.all,
        &line.strata,
        &STRATIFIERS,
        line.median.map(|m| (m, unit.0, unit.1)),
    );
    json!({
        "resourceType": "MeasureReport",
        "id": report_id(line),
        "meta": {"tag": [{"system": "https://tend.example.org/fhir/CodeSystem/tend-tags", "code": "navigation"}]},
        "status": "complete",
        "type": "summary",
        "measure": measure_url(&line.pathway, &line.clock),
        "period": {"start": format!("{}-01", line.month), "end": strata::month_end(&line.month)},
        "improvementNotation": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/measure-improvement-notation", "code": "increase"}]},
        "group": [group],
    })
}
