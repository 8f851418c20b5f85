//! Compliance reports from `test_data/report.json`: counts, percentages, medians, strata and
//! suppression, and the MeasureReport that carries them (valid FHIR, no suppressed count).

use pathways::report::{compliance, measure_report, Stopped};
use pathways::Unit;
use serde_json::Value;

#[test]
fn stopped_clocks_make_the_reports_their_file_says() {
    let file: Value = serde_json::from_str(include_str!("../test_data/report.json")).unwrap();
    let mut stopped = Vec::new();
    for s in file["stopped"].as_array().unwrap() {
        for _ in 0..s["n"].as_u64().unwrap() {
            stopped.push(Stopped {
                pathway: "nhs-suspected-cancer".into(),
                clock: "fds-28".into(),
                name: "28-day Faster Diagnosis Standard".into(),
                month: s["month"].as_str().unwrap().into(),
                met: s["met"].as_bool().unwrap(),
                elapsed: s["elapsed"].as_i64().unwrap(),
                unit: Unit::Days,
                standard_percent: Some(75.0),
                strata: vec![
                    ("tumour-site".into(), s["site"].as_str().unwrap().into()),
                    ("sex".into(), s["sex"].as_str().unwrap().into()),
                ],
            });
        }
    }
    let lines = compliance(&stopped);
    let expected = file["expected"].as_array().unwrap();
    assert_eq!(lines.len(), expected.len());
    for (line, e) in lines.iter().zip(expected) {
        assert_eq!(line.month, e["month"].as_str().unwrap());
        let report = measure_report(line);
        let issues: Vec<_> = fhir::validation::validate(&report)
            .into_iter()
            .filter(|i| i.severity == fhir::validation::Severity::Error)
            .collect();
        assert!(issues.is_empty(), "{issues:?}");
        let text = report.to_string();
        if e["suppressed"] == true {
            assert!(line.all.suppressed() && line.median.is_none());
            assert!(
                !text.contains("\"count\""),
                "no suppressed count is stored: {text}"
            );
            continue;
        }
        assert_eq!(
            line.all.denominator as u64,
            e["denominator"].as_u64().unwrap()
        );
        assert_eq!(line.all.numerator as u64, e["numerator"].as_u64().unwrap());
        let pct = (line.all.percent().unwrap() * 10.0).round() / 10.0;
        assert_eq!(pct, e["percent"].as_f64().unwrap());
        assert_eq!(line.median, e["median"].as_i64());
        for (k, values) in e["strata"].as_object().unwrap() {
            for (v, want) in values.as_object().unwrap() {
                let cell = line.strata[k][v];
                if want == "suppressed" {
                    assert!(cell.suppressed(), "{k} {v}");
                } else {
                    assert_eq!(
                        [cell.denominator as u64, cell.numerator as u64],
                        [want[0].as_u64().unwrap(), want[1].as_u64().unwrap()],
                        "{k} {v}"
                    );
                }
            }
        }
        // The small stratum's counts are nowhere in the stored report.
        assert!(!text.contains("\"count\":4"), "{text}");
        assert_eq!(report["group"][0]["measureScore"]["value"], 0.813);
    }
}
