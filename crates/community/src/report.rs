//! Social-needs measures per month, stratified, as FHIR MeasureReports. Pure.
//!
//! Tend counts needs met, not referrals sent (the Accountable Health Communities evaluation
//! found navigation did not improve connection to services or resolution of needs; issue
//! brief in `clinical/quality-safety-equity.md` §9):
//!
//! - **screening rate**: of the patients seen in the month, those screened that month;
//! - **positive rate** per domain (and any domain): of the patients screened in the month,
//!   those positive;
//! - **connection**: of the referrals sent in the month, those the organisation took on
//!   (accepted, started or finished), with the median days from sending to connection;
//! - **loop closure**: of the referrals sent in the month, those whose outcome is known
//!   ("was the need met?" answered by the partner or the hospital's follow-up);
//! - **need resolution**: of those with a known outcome, those where the need was met.
//!
//! Each is counted per calendar month and per calendar year (a year so far while it runs:
//! small services see too few people in a month for any group to be shown), stratified by
//! race, ethnicity, preferred language, sex and age band (and the referral measures by
//! need); counts from 1 to 10 are never shown or stored (`strata`).

use std::collections::BTreeMap;

use serde_json::{json, Value};
use strata::Cell;

/// A patient seen in a month: the screening measures' population.
#[derive(Debug, Clone, PartialEq)]
pub struct Seen {
    /// `YYYY-MM` (local).
    pub month: String,
    /// Screened in that month.
    pub screened: bool,
    /// The domains that screening found (SDOHCC codes).
    pub positive: Vec<String>,
    /// (stratifier, value): `race`, `ethnicity`, `language`, `sex`, `age-band`.
    pub strata: Vec<(String, String)>,
}

/// A referral sent in a month.
#[derive(Debug, Clone, PartialEq)]
pub struct Sent {
    /// `YYYY-MM` (local) of sending.
    pub month: String,
    /// The need (SDOHCC code).
    pub need: String,
    /// Days from sending to the organisation taking it on, if it did.
    pub days_to_connection: Option<i64>,
    /// Whether the need was met, when known.
    pub need_met: Option<bool>,
    /// (stratifier, value), as [`Seen::strata`].
    pub strata: Vec<(String, String)>,
}

/// One measure in one month.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// The measure's code (`screening-rate`, `positive-food-insecurity`, `connection`, ...).
    pub measure: String,
    pub name: String,
    /// The period: a month `YYYY-MM` or a year `YYYY`.
    pub month: String,
    pub all: Cell,
    /// Median days to connection (the connection measure, when shown).
    pub median: Option<i64>,
    /// stratifier → value → cell.
    pub strata: BTreeMap<String, BTreeMap<String, Cell>>,
}

/// The stratifiers, in the order reports show them.
pub const STRATIFIERS: [(&str, &str); 6] = [
    ("need", "Need"),
    ("race", "Race"),
    ("ethnicity", "Ethnicity"),
    ("language", "Preferred language"),
    ("sex", "Sex"),
    ("age-band", "Age band"),
];

/// The measures' code system.
pub const MEASURE_SYSTEM: &str = "https://tend.example.org/fhir/CodeSystem/social-needs-measure";

/// Count a case in its month and in its year.
fn add(
    lines: &mut BTreeMap<(String, String), Line>,
    measure: &str,
    name: &str,
    month: &str,
    met: bool,
    strata: &[(String, String)],
) {
    add_to(lines, measure, name, month, met, strata);
    if let Some(year) = month.get(..4) {
        add_to(lines, measure, name, year, met, strata);
    }
}

fn add_to(
    lines: &mut BTreeMap<(String, String), Line>,
    measure: &str,
    name: &str,
    month: &str,
    met: bool,
    strata: &[(String, String)],
) {
    let line = lines
        .entry((measure.to_string(), month.to_string()))
        .or_insert_with(|| Line {
            measure: measure.to_string(),
            name: name.to_string(),
            month: month.to_string(),
            all: Cell::default(),
            median: None,
            strata: BTreeMap::new(),
        });
    line.all.count(met);
    for (k, v) in strata {
        line.strata
            .entry(k.clone())
            .or_default()
            .entry(v.clone())
            .or_default()
            .count(met);
    }
}

/// Every measure for every month and year the facts cover, ordered by measure then newest
/// period (a year before its months).
pub fn lines(seen: &[Seen], sent: &[Sent]) -> Vec<Line> {
    let mut out: BTreeMap<(String, String), Line> = BTreeMap::new();
    for s in seen {
        add(
            &mut out,
            "screening-rate",
            "Patients seen who were screened for social needs",
            &s.month,
            s.screened,
            &s.strata,
        );
        if !s.screened {
            continue;
        }
        add(
            &mut out,
            "positive-any",
            "Screened patients with at least one need",
            &s.month,
            !s.positive.is_empty(),
            &s.strata,
        );
        for code in crate::need::codes() {
            add(
                &mut out,
                &format!("positive-{code}"),
                &format!("Screened patients with {}", crate::need::words(code)),
                &s.month,
                s.positive.iter().any(|p| p == code),
                &s.strata,
            );
        }
    }
    let mut days: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for r in sent {
        let mut strata = vec![("need".to_string(), crate::need::title(&r.need))];
        strata.extend(r.strata.iter().cloned());
        add(
            &mut out,
            "connection",
            "Referrals the organisation took on",
            &r.month,
            r.days_to_connection.is_some(),
            &strata,
        );
        if let Some(d) = r.days_to_connection {
            days.entry(r.month.clone()).or_default().push(d);
            if let Some(year) = r.month.get(..4) {
                days.entry(year.to_string()).or_default().push(d);
            }
        }
        add(
            &mut out,
            "loop-closure",
            "Referrals whose outcome is known",
            &r.month,
            r.need_met.is_some(),
            &strata,
        );
        if let Some(met) = r.need_met {
            add(
                &mut out,
                "need-resolution",
                "Known outcomes where the need was met",
                &r.month,
                met,
                &strata,
            );
        }
    }
    let mut lines: Vec<Line> = out.into_values().collect();
    for l in &mut lines {
        if l.measure == "connection" && !l.all.suppressed() {
            l.median = days.get(&l.month).cloned().and_then(strata::median);
        }
    }
    lines.sort_by(|a, b| {
        order(&a.measure)
            .cmp(&order(&b.measure))
            .then(b.month.get(..4).cmp(&a.month.get(..4)))
            .then(a.month.len().cmp(&b.month.len()))
            .then(b.month.cmp(&a.month))
    });
    lines
}

/// Measures in the order reports show them.
fn order(measure: &str) -> usize {
    match measure {
        "need-resolution" => 0,
        "loop-closure" => 1,
        "connection" => 2,
        "screening-rate" => 3,
        "positive-any" => 4,
        _ => 5,
    }
}

/// The canonical URL of a measure.
pub fn measure_url(measure: &str) -> String {
    format!("https://tend.example.org/fhir/Measure/social-needs-{measure}")
}

/// The id of a line's MeasureReport.
pub fn report_id(line: &Line) -> String {
    format!("social-{}-{}", line.measure, line.month)
}

/// The first and last day of a period (`YYYY-MM` or `YYYY`).
fn period(p: &str) -> (String, String) {
    if p.len() == 4 {
        (format!("{p}-01-01"), format!("{p}-12-31"))
    } else {
        (format!("{p}-01"), strata::month_end(p))
    }
}

/// A line as a MeasureReport (summary, its month or year as the period, one stratified
/// group); `pending` while the period runs (`current_month`, `YYYY-MM`, is in it).
pub fn measure_report(line: &Line, current_month: &str) -> Value {
    let (start, end) = period(&line.month);
    let running = current_month.starts_with(&line.month);
    json!({
        "resourceType": "MeasureReport",
        "id": report_id(line),
        "meta": {"tag": [{"system": "https://tend.example.org/fhir/CodeSystem/tend-tags", "code": "social-needs"}]},
        "status": if running { "pending" } else { "complete" },
        "type": "summary",
        "measure": measure_url(&line.measure),
        "period": {"start": start, "end": end},
        "improvementNotation": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/measure-improvement-notation",
            "code": if line.measure.starts_with("positive-") { "decrease" } else { "increase" }}]},
        "group": [strata::group(
            json!({"coding": [{"system": MEASURE_SYSTEM, "code": line.measure, "display": line.name}], "text": line.name}),
            &line.all,
            &line.strata,
            &STRATIFIERS,
            line.median.map(|m| (m, "d", "days")),
        )],
    })
}
