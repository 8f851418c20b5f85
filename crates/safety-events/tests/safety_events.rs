//! Reports and reviews from `tests/data/`: each report's problems or its AdverseEvent (valid
//! R4, shared with its reporter unless anonymous), and review steps in sequence.

use chrono::{DateTime, NaiveDate, Utc};
use safety_events::{
    read, review, Details, Fall, Formats, Medication, PressureInjury, Report, Reporter, Step,
};
use serde_json::Value;

fn load(name: &str) -> Value {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn time(v: &Value) -> Option<DateTime<Utc>> {
    v.as_str().map(|s| s.parse().unwrap())
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

fn report(r: &Value) -> Report {
    let details = if let Some(f) = r.get("fall") {
        Details::Fall(Fall {
            injury: s(&f["injury"]),
            assisted: f["assisted"].as_bool(),
            risk_assessed: f["risk_assessed"].as_bool(),
            off_unit: f["off_unit"].as_bool().unwrap_or(false),
        })
    } else if let Some(p) = r.get("pressure") {
        Details::PressureInjury(PressureInjury {
            stage: s(&p["stage"]),
            present_on_admission: p["present_on_admission"].as_bool(),
            device_related: p["device_related"].as_bool().unwrap_or(false),
            site: s(&p["site"]),
        })
    } else if let Some(m) = r.get("medication") {
        Details::Medication(Medication {
            stage: s(&m["stage"]),
            error: s(&m["error"]),
            medicine: s(&m["medicine"]),
            high_alert: m["high_alert"].as_bool().unwrap_or(false),
        })
    } else {
        Details::None
    };
    Report {
        kind: s(&r["kind"]),
        category: s(&r["category"]),
        occurred: time(&r["occurred"]).unwrap(),
        discovered: time(&r["discovered"]),
        location: r["location"].as_str().map(str::to_string),
        description: s(&r["description"]),
        harm: r["harm"].as_str().map(str::to_string),
        factors: r["factors"]
            .as_array()
            .into_iter()
            .flatten()
            .map(s)
            .collect(),
        patient: r["patient"].as_str().map(str::to_string),
        encounter: None,
        details,
        anonymous: r["anonymous"].as_bool().unwrap_or(false),
    }
}

fn reporter() -> Reporter {
    Reporter {
        reference: "Practitioner/n1".into(),
        name: "A Nurse".into(),
        role: "Nurse".into(),
    }
}

#[test]
fn reports_are_checked_and_written_as_adverse_events() {
    let data = load("reports.json");
    let now = time(&data["now"]).unwrap();
    let f = Formats::shipped();
    for case in data["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let r = report(&case["report"]);
        if let Some(problems) = case.get("problems") {
            let want: Vec<String> = problems.as_array().unwrap().iter().map(s).collect();
            assert_eq!(r.problems(f, now), want, "{name}");
            assert!(r.adverse_event(f, "se-1", now, Some(&reporter())).is_err());
            continue;
        }
        assert_eq!(r.problems(f, now), Vec::<String>::new(), "{name}");
        let ae = r
            .adverse_event(f, "se-0a1b2c3d4e", now, Some(&reporter()))
            .unwrap();
        let issues = fhir::validation::validate(&ae);
        assert!(issues.is_empty(), "{name}: {issues:?}\n{ae:#}");
        let e = &case["expect"];
        assert_eq!(ae["actuality"], e["actuality"], "{name}");
        let code = |k: &str| ae[k]["coding"][0]["code"].clone();
        for k in ["severity", "seriousness", "outcome"] {
            if let Some(want) = e.get(k) {
                assert_eq!(code(k), *want, "{name}: {k}");
            }
        }
        if let Some(want) = e.get("subject") {
            assert_eq!(ae["subject"]["reference"], *want, "{name}");
        }
        // Read back: what was reported.
        let back = read(&ae).unwrap();
        assert_eq!(back.reference, "SE-0A1B2C3D", "{name}");
        assert_eq!(back.kind, r.kind, "{name}");
        assert_eq!(back.category, r.category, "{name}");
        assert_eq!(back.description, r.description.trim(), "{name}");
        assert_eq!(back.occurred, Some(r.occurred), "{name}");
        assert_eq!(back.patient, r.patient, "{name}");
        assert_eq!(back.factors, r.factors, "{name}");
        if let Some(want) = e.get("harm") {
            assert_eq!(back.harm.as_deref(), want.as_str(), "{name}");
        } else {
            assert_eq!(back.harm, r.harm, "{name}");
        }
        assert_eq!(back.details, r.details, "{name}");
        if let Some(want) = e.get("fall_with_injury") {
            assert_eq!(back.fall_with_injury(), want.as_bool().unwrap(), "{name}");
        }
        // The reporter sees their own report; an anonymous one is shared with no one.
        let shared = access::shared_with(&ae);
        if r.anonymous {
            assert_eq!(ae.get("recorder"), None, "{name}");
            assert_eq!(back.reporter, None, "{name}");
            assert_eq!(shared, None, "{name}");
        } else {
            assert_eq!(back.reporter.as_deref(), Some("Practitioner/n1"), "{name}");
            assert_eq!(back.reporter_role.as_deref(), Some("Nurse"), "{name}");
            assert_eq!(shared.as_deref(), Some("Practitioner/n1"), "{name}");
        }
        assert_eq!(back.review.status, review::Status::New, "{name}");
    }
}

fn step(v: &Value) -> Step {
    match v["step"].as_str().unwrap() {
        "triage" => Step::Triage {
            priority: s(&v["priority"]),
            reviewer: (s(&v["reviewer"]), s(&v["reviewer_name"])),
            harm: v["harm"].as_str().map(str::to_string),
        },
        "investigate" => Step::Investigate {
            note: v["note"].as_str().map(str::to_string),
        },
        "note" => Step::Note {
            text: s(&v["text"]),
        },
        "action" => Step::Action {
            text: s(&v["text"]),
            owner: s(&v["owner"]),
            due: v["due"]
                .as_str()
                .map(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap()),
        },
        "action-done" => Step::ActionDone {
            index: v["index"].as_u64().unwrap() as usize,
        },
        "close" => Step::Close {
            learning: s(&v["learning"]),
            share: v["share"].as_bool().unwrap(),
        },
        "reopen" => Step::Reopen { why: s(&v["why"]) },
        other => panic!("unknown step {other}"),
    }
}

#[test]
fn reviews_move_by_the_step_table() {
    let data = load("review.json");
    let now = time(&data["now"]).unwrap();
    let f = Formats::shipped();
    let base = report(&serde_json::json!({
        "kind": "incident", "category": "fall", "occurred": "2026-03-10T03:20:00Z",
        "description": "Found on the floor.", "harm": "mild", "patient": "p1",
        "fall": {"injury": "minor"}
    }))
    .adverse_event(f, "se-77", now, Some(&reporter()))
    .unwrap();
    for case in data["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let mut ae = base.clone();
        let mut failed = None;
        for st in case["steps"].as_array().unwrap() {
            match review::apply(f, &ae, &step(st), "Rae Reviewer", now) {
                Ok(next) => ae = next,
                Err(e) => {
                    failed = Some(e.to_string());
                    break;
                }
            }
        }
        if let Some(want) = case.get("error") {
            assert_eq!(failed.as_deref(), want.as_str(), "{name}");
            continue;
        }
        assert_eq!(failed, None, "{name}");
        assert!(fhir::validation::validate(&ae).is_empty(), "{name}: {ae:#}");
        let e = &case["expect"];
        let back = read(&ae).unwrap();
        let r = &back.review;
        assert_eq!(r.status.code(), e["status"], "{name}");
        if let Some(p) = e.get("priority") {
            assert_eq!(r.priority.as_deref(), p.as_str(), "{name}");
        }
        if let Some(p) = e.get("reviewer") {
            assert_eq!(
                r.reviewer.as_ref().map(|x| x.0.as_str()),
                p.as_str(),
                "{name}"
            );
        }
        if let Some(h) = e.get("harm") {
            assert_eq!(back.harm.as_deref(), h.as_str(), "{name}");
            assert_eq!(ae["severity"]["coding"][0]["code"], *h, "{name}");
        }
        for (k, got) in [
            ("notes", r.notes.len()),
            ("actions", r.actions.len()),
            ("open_actions", r.open_actions()),
        ] {
            if let Some(n) = e.get(k) {
                assert_eq!(got as u64, n.as_u64().unwrap(), "{name}: {k}");
            }
        }
        if let Some(sh) = e.get("share") {
            assert_eq!(r.share, sh.as_bool().unwrap(), "{name}");
        }
        if let Some(c) = e.get("contributors") {
            let got: Vec<&str> = ae["contributor"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x["reference"].as_str().unwrap())
                .collect();
            let want: Vec<&str> = c
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_str().unwrap())
                .collect();
            assert_eq!(got, want, "{name}");
        }
        // The reporter is never changed by a review.
        assert_eq!(back.reporter.as_deref(), Some("Practitioner/n1"), "{name}");
    }
}
