//! The shipped measures over a mini hospital worked by hand (`tests/data/mini_hospital.json`):
//! patient days by the midnight census in hospital time, falls and falls with injury per unit
//! and month, off-unit falls counted against no unit.

use chrono::{DateTime, Utc};
use safety_events::{Details, Fall, Formats, Medication, Report, Reporter};
use serde_json::{json, Value};

fn load() -> Value {
    let path = format!(
        "{}/tests/data/mini_hospital.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn at(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

/// The mini hospital's resources: Encounters with their location history, and its safety
/// reports filed as Tend files them.
pub fn resources(data: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    for s in data["stays"].as_array().unwrap() {
        let locations: Vec<Value> = s["locations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                let mut period = json!({"start": l[1]});
                if !l[2].is_null() {
                    period["end"] = l[2].clone();
                }
                json!({"location": {"reference": format!("Location/{}", l[0].as_str().unwrap())}, "period": period})
            })
            .collect();
        out.push(json!({"resourceType": "Encounter", "id": s["id"], "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": s["class"]},
            "subject": {"reference": format!("Patient/{}", s["patient"].as_str().unwrap())},
            "location": locations}));
    }
    let f = Formats::shipped();
    let reporter = Reporter {
        reference: "Practitioner/n1".into(),
        name: "A nurse".into(),
        role: "Nurse".into(),
    };
    let now = at(&json!("2026-03-02T12:00:00Z"));
    for (i, e) in data["falls"]
        .as_array()
        .unwrap()
        .iter()
        .chain(data["other_events"].as_array().unwrap())
        .enumerate()
    {
        let fall = e.get("category").is_none();
        let r = Report {
            kind: "incident".into(),
            category: if fall {
                "fall".into()
            } else {
                e["category"].as_str().unwrap().into()
            },
            occurred: at(&e["at"]),
            discovered: None,
            location: Some(e["ward"].as_str().unwrap().into()),
            description: "Test event.".into(),
            harm: Some("none".into()),
            factors: vec![],
            patient: Some(e["patient"].as_str().unwrap_or("p1").into()),
            encounter: None,
            details: if fall {
                Details::Fall(Fall {
                    injury: e["injury"].as_str().unwrap().into(),
                    off_unit: e["off_unit"].as_bool().unwrap_or(false),
                    ..Fall::default()
                })
            } else {
                Details::Medication(Medication {
                    stage: "administering".into(),
                    ..Medication::default()
                })
            },
            anonymous: false,
        };
        out.push(
            r.adverse_event(f, &format!("se-{i:08}"), now, Some(&reporter))
                .unwrap(),
        );
    }
    out
}

#[test]
fn falls_per_patient_days_match_the_hand_count() {
    let data = load();
    let suite = measures::Suite::shipped().unwrap();
    let rows = suite
        .run(
            &resources(&data),
            data["zone"].as_str().unwrap(),
            at(&data["as_of"]),
        )
        .unwrap();
    for (measure, want) in data["expect"].as_object().unwrap() {
        let mut got: Vec<(String, String, i64, i64)> = rows
            .iter()
            .filter(|r| &r.measure == measure)
            .map(|r| (r.unit.clone(), r.month.clone(), r.numerator, r.denominator))
            .collect();
        got.sort();
        let want: Vec<(String, String, i64, i64)> = want
            .as_array()
            .unwrap()
            .iter()
            .map(|w| {
                (
                    w[0].as_str().unwrap().into(),
                    w[1].as_str().unwrap().into(),
                    w[2].as_i64().unwrap(),
                    w[3].as_i64().unwrap(),
                )
            })
            .collect();
        assert_eq!(got, want, "{measure}");
    }
}

#[test]
fn a_zone_that_is_not_one_is_refused() {
    let suite = measures::Suite::shipped().unwrap();
    let e = suite
        .run(&[], "Mars/Olympus\"); DROP", Utc::now())
        .unwrap_err();
    assert!(e.to_string().contains("not a time zone"), "{e}");
}

#[test]
fn quarters_sum_the_months_and_report_as_fhir() {
    let data = load();
    let suite = measures::Suite::shipped().unwrap();
    let rows = suite
        .run(
            &resources(&data),
            data["zone"].as_str().unwrap(),
            at(&data["as_of"]),
        )
        .unwrap();
    let m = suite.measure("ndnqi-falls").unwrap();
    let q = measures::report::by_period(&rows, &m.id, true);
    let a = q[&("ward-a".to_string(), "2026-Q1".to_string())];
    assert_eq!((a.numerator, a.denominator), (3, 9));
    assert!((a.rate(m).unwrap() - 333.333).abs() < 0.001);
    let report = measures::report::measure_report(
        m,
        &q,
        "2026-Q1",
        "2026-01-01",
        "2026-03-31",
        "2026-04-01T06:00:00Z",
    );
    assert!(fhir::validation::validate(&report).is_empty(), "{report:#}");
    let g = &report["group"][0];
    assert_eq!(
        g["population"][0]["count"], 4,
        "falls in the quarter: 3 on A, 1 on B"
    );
    assert_eq!(
        g["population"][1]["count"], 15,
        "patient days: 9 on A, 6 on B"
    );
    assert_eq!(g["measureScore"]["value"], 266.67);
    assert_eq!(g["stratifier"][0]["stratum"].as_array().unwrap().len(), 2);
}
