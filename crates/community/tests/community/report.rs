//! Social-needs measures from the facts in `test_data/report.json`: counts, shares, the
//! median, suppression of small cells, and the MeasureReports they become.

use community::report::{lines, measure_report, Seen, Sent};
use serde_json::Value;

use crate::expect;

fn strata(v: &Value) -> Vec<(String, String)> {
    v.as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect()
}

#[test]
fn measures_count_as_their_file_says() {
    let file = expect::json("report.json");
    let mut seen = Vec::new();
    for s in file["seen"].as_array().unwrap() {
        for _ in 0..s["times"].as_u64().unwrap() {
            seen.push(Seen {
                month: s["month"].as_str().unwrap().into(),
                screened: s["screened"].as_bool().unwrap(),
                positive: s["positive"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| p.as_str().unwrap().to_string())
                    .collect(),
                strata: strata(&s["strata"]),
            });
        }
    }
    let mut sent = Vec::new();
    for s in file["sent"].as_array().unwrap() {
        for _ in 0..s["times"].as_u64().unwrap() {
            sent.push(Sent {
                month: s["month"].as_str().unwrap().into(),
                need: s["need"].as_str().unwrap().into(),
                days_to_connection: s["days_to_connection"].as_i64(),
                need_met: s["need_met"].as_bool(),
                strata: strata(&s["strata"]),
            });
        }
    }
    let got = lines(&seen, &sent);
    assert_eq!(got[0].measure, "need-resolution", "outcomes first");
    assert_eq!(got[0].month, "2026", "the year before its months");
    let year = got
        .iter()
        .find(|l| l.measure == "screening-rate" && l.month == "2026")
        .unwrap();
    assert_eq!(
        (year.all.denominator, year.all.numerator),
        (23, 17),
        "both months"
    );
    let running = measure_report(year, "2026-11");
    assert_eq!(running["status"], "pending");
    assert_eq!(running["period"]["start"], "2026-01-01");
    assert_eq!(running["period"]["end"], "2026-12-31");
    for e in file["expect"].as_array().unwrap() {
        let (m, month) = (e["measure"].as_str().unwrap(), e["month"].as_str().unwrap());
        let line = got
            .iter()
            .find(|l| l.measure == m && l.month == month)
            .unwrap_or_else(|| panic!("{m} {month}"));
        let report = measure_report(line, "2026-12");
        assert_eq!(report["status"], "complete");
        let group = &report["group"][0];
        if e["suppressed"] == true {
            assert!(line.all.suppressed(), "{m} {month}");
            assert!(group.get("measureScore").is_none());
            assert!(group["population"][0].get("count").is_none());
            continue;
        }
        assert_eq!(
            line.all.denominator as u64,
            e["denominator"].as_u64().unwrap(),
            "{m} {month}"
        );
        assert_eq!(
            line.all.numerator as u64,
            e["numerator"].as_u64().unwrap(),
            "{m} {month}"
        );
        assert_eq!(group["population"][0]["count"], e["denominator"]);
        if let Some(median) = e["median"].as_i64() {
            assert_eq!(line.median, Some(median));
            assert_eq!(group["extension"][0]["valueQuantity"]["value"], median);
        }
        for (k, values) in e["strata"].as_object().into_iter().flatten() {
            for (v, want) in values.as_object().unwrap() {
                let cell = line.strata[k][v];
                match want.as_array() {
                    None => assert!(cell.suppressed(), "{m} {month} {k}={v} is small"),
                    Some(pair) => {
                        assert_eq!(
                            cell.denominator as u64,
                            pair[0].as_u64().unwrap(),
                            "{m} {k}={v}"
                        );
                        assert_eq!(
                            cell.numerator as u64,
                            pair[1].as_u64().unwrap(),
                            "{m} {k}={v}"
                        );
                    }
                }
            }
        }
        let errors: Vec<_> = fhir::validation::validate(&report)
            .into_iter()
            .filter(|i| i.severity == fhir::validation::Severity::Error)
            .collect();
        assert!(errors.is_empty(), "{errors:?}");
    }
}
