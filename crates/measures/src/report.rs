//! A measure's monthly rows summed by quarter, the Magnet rule over the unit-by-quarter
//! grid (crate `quality`), and the results as FHIR MeasureReports.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::{Measure, MeasureRow};

/// A unit's count over a period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Count {
    pub numerator: i64,
    pub denominator: i64,
}

impl Count {
    /// The rate in the measure's unit, when there is a denominator.
    pub fn rate(&self, m: &Measure) -> Option<f64> {
        (self.denominator > 0).then(|| self.numerator as f64 / self.denominator as f64 * m.scale())
    }
}

/// `2026-05` → `2026-Q2`.
pub fn quarter_of(month: &str) -> Option<String> {
    let (y, m) = month.split_once('-')?;
    let m: u32 = m.parse().ok()?;
    (1..=12)
        .contains(&m)
        .then(|| format!("{y}-Q{}", (m - 1) / 3 + 1))
}

/// `rows` of measure `id` summed per (unit, period), the period being the month or its
/// quarter.
pub fn by_period(
    rows: &[MeasureRow],
    id: &str,
    quarters: bool,
) -> BTreeMap<(String, String), Count> {
    let mut out: BTreeMap<(String, String), Count> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.measure == id) {
        let period = if quarters {
            match quarter_of(&r.month) {
                Some(q) => q,
                None => continue,
            }
        } else {
            r.month.clone()
        };
        let c = out.entry((r.unit.clone(), period)).or_default();
        c.numerator += r.numerator;
        c.denominator += r.denominator;
    }
    out
}

/// The Magnet grid of a measure over the eight quarters ending with `last`, against a
/// benchmark rate per unit (`benchmark(unit)`, in the measure's unit; `None`: no benchmark).
pub fn magnet(
    m: &Measure,
    rows: &[MeasureRow],
    last: &str,
    benchmark: impl Fn(&str) -> Option<f64>,
) -> Option<quality::Grid> {
    let better = if m.better == "higher" {
        quality::Better::Higher
    } else {
        quality::Better::Lower
    };
    let values: Vec<quality::UnitQuarter> = by_period(rows, &m.id, true)
        .into_iter()
        .map(|((unit, quarter), c)| quality::UnitQuarter {
            benchmark: benchmark(&unit),
            value: c.rate(m),
            unit,
            quarter,
        })
        .collect();
    quality::evaluate(&values, better, last)
}

/// The MeasureReport of measure `m` for one period (`YYYY-MM` or `YYYY-Qn`) over every
/// unit: the hospital's numerator, denominator and rate, and one stratum per unit.
/// `start`/`end` are the period's bounds as FHIR dates.
pub fn measure_report(
    m: &Measure,
    counts: &BTreeMap<(String, String), Count>,
    period: &str,
    start: &str,
    end: &str,
    generated: &str,
) -> Value {
    let units: Vec<(&String, &Count)> = counts
        .iter()
        .filter(|((_, p), _)| p == period)
        .map(|((u, _), c)| (u, c))
        .collect();
    let total = units.iter().fold(Count::default(), |a, (_, c)| Count {
        numerator: a.numerator + c.numerator,
        denominator: a.denominator + c.denominator,
    });
    let populations = |c: &Count| {
        json!([
            {"code": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/measure-population", "code": "numerator"}]}, "count": c.numerator},
            {"code": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/measure-population", "code": "denominator"}]}, "count": c.denominator}
        ])
    };
    let score = |c: &Count| {
        c.rate(m)
            .map(|r| json!({"value": (r * 100.0).round() / 100.0, "unit": m.unit}))
    };
    let strata: Vec<Value> = units
        .iter()
        .map(|(u, c)| {
            let mut s = json!({"value": {"text": u}, "population": populations(c)});
            if let Some(sc) = score(c) {
                s["measureScore"] = sc;
            }
            s
        })
        .collect();
    let mut group = json!({
        "population": populations(&total),
        "stratifier": [{"code": [{"text": "unit"}], "stratum": strata}]
    });
    if let Some(sc) = score(&total) {
        group["measureScore"] = sc;
    }
    json!({
        "resourceType": "MeasureReport",
        "id": format!("{}-{}", m.id, period.to_lowercase()),
        "status": "complete",
        "type": "summary",
        "measure": format!("https://tend.example.org/fhir/Measure/{}", m.id),
        "date": generated,
        "period": {"start": start, "end": end},
        "group": [group]
    })
}
