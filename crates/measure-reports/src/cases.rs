//! The patients behind a measure's number: those who count against it in a month on a
//! unit (a fall, an infection, a pressure injury, a late set or alert), kept from the last
//! run for case review. They are never written to the record as such: the quality pages
//! read each patient through the store with the caller's access, reaching only these
//! patients.

use std::collections::HashMap;

use measures::{Measure, MeasureRow};

/// One patient's part in one unit's month of a measure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    /// The unit (`Location` id).
    pub unit: String,
    /// The patient (`Patient` id).
    pub patient: String,
    pub numerator: i64,
    pub denominator: i64,
}

/// The cases of every measure, by measure id and month (`YYYY-MM`).
pub(crate) type Cases = HashMap<(String, String), Vec<Case>>;

/// Whether a patient's counts go against the measure: any event where lower is better,
/// anything short of all where higher is better.
pub fn counts_against(m: &Measure, numerator: i64, denominator: i64) -> bool {
    if m.better == "higher" {
        numerator < denominator
    } else {
        numerator > 0
    }
}

/// The cases among a run's rows (rows without a patient name none).
pub(crate) fn of_rows(measures: &[Measure], rows: &[MeasureRow]) -> Cases {
    let mut out: Cases = HashMap::new();
    for r in rows {
        let (Some(patient), Some(m)) = (&r.patient, measures.iter().find(|m| m.id == r.measure))
        else {
            continue;
        };
        if !counts_against(m, r.numerator, r.denominator) {
            continue;
        }
        let list = out.entry((r.measure.clone(), r.month.clone())).or_default();
        match list
            .iter_mut()
            .find(|c| c.unit == r.unit && c.patient == *patient)
        {
            Some(c) => {
                c.numerator += r.numerator;
                c.denominator += r.denominator;
            }
            None => list.push(Case {
                unit: r.unit.clone(),
                patient: patient.clone(),
                numerator: r.numerator,
                denominator: r.denominator,
            }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(measure: &str, unit: &str, patient: &str, n: i64, d: i64) -> MeasureRow {
        MeasureRow {
            measure: measure.into(),
            unit: unit.into(),
            month: "2026-01".into(),
            patient: Some(patient.into()),
            numerator: n,
            denominator: d,
        }
    }

    #[test]
    fn the_patients_who_count_against_each_measure() {
        let suite = measures::Suite::shipped().unwrap();
        let rows = [
            row("ndnqi-falls", "a", "p1", 1, 3),
            row("ndnqi-falls", "a", "p2", 0, 4),
            row("ndnqi-falls", "a", "p1", 1, 0),
            row("observations-on-time", "a", "p3", 4, 4),
            row("observations-on-time", "b", "p3", 2, 5),
        ];
        let cases = of_rows(suite.measures(), &rows);
        let key = |m: &str| (m.to_string(), "2026-01".to_string());
        assert_eq!(
            cases[&key("ndnqi-falls")],
            [Case {
                unit: "a".into(),
                patient: "p1".into(),
                numerator: 2,
                denominator: 3
            }]
        );
        assert_eq!(
            cases[&key("observations-on-time")],
            [Case {
                unit: "b".into(),
                patient: "p3".into(),
                numerator: 2,
                denominator: 5
            }]
        );
    }
}
