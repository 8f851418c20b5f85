//! The shipped measures over a mini hospital worked by hand (`tests/data/mini_hospital.json`):
//! patient days by the midnight census in hospital time, falls and falls with injury per unit
//! and month, off-unit falls counted against no unit; early-warning alerts acknowledged by
//! their deadline (superseded and not-yet-due alerts left out); pressure-injury and restraint
//! prevalence from the surveys, on the unit the patient was on when surveyed; CLABSI and
//! CAUTI per 1,000 device days by the same census, infections placed by the NHSN transfer
//! rule; vital-sign sets followed by the next complete set by their due time (continuous
//! monitoring, no due time, discharged and not-yet-due left out); adult inpatient stays
//! screened for all five social needs during the stay; the same falls by equity group, with
//! small cells suppressed and ratios to the reference group; the Magnet grid against the
//! shipped benchmark.

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
    for p in data["patients"].as_array().unwrap() {
        let mut r = json!({"resourceType": "Patient", "id": p["id"], "gender": p["gender"]});
        if let Some(b) = p["birthDate"].as_str() {
            r["birthDate"] = json!(b);
        }
        if let Some(l) = p["language"].as_str() {
            r["communication"] = json!([{"language": {"text": l}, "preferred": true}]);
        }
        if p["interpreter"] == true {
            r["extension"] = json!([{"url": "http://hl7.org/fhir/StructureDefinition/patient-interpreterRequired", "valueBoolean": true}]);
        }
        out.push(r);
    }
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
                let mut l2 = json!({"location": {"reference": format!("Location/{}", l[0].as_str().unwrap())}, "period": period});
                if let Some(t) = l.get(3).and_then(Value::as_str) {
                    l2["physicalType"] = json!({"coding": [{"system": "http://terminology.hl7.org/CodeSystem/location-physical-type", "code": t}]});
                }
                l2
            })
            .collect();
        // The stay's period: from the first arrival to the last departure (open if any
        // location still is).
        let spans = s["locations"].as_array().unwrap();
        let start = spans.iter().map(|l| at(&l[1])).min().unwrap();
        let mut period = json!({"start": start.to_rfc3339()});
        if spans.iter().all(|l| !l[2].is_null()) {
            period["end"] = json!(spans.iter().map(|l| at(&l[2])).max().unwrap().to_rfc3339());
        }
        out.push(json!({"resourceType": "Encounter", "id": s["id"],
            "status": if period.get("end").is_some() { "finished" } else { "in-progress" },
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": s["class"]},
            "subject": {"reference": format!("Patient/{}", s["patient"].as_str().unwrap())},
            "period": period, "location": locations}));
    }
    for a in data["alerts"].as_array().unwrap() {
        let mut t = json!({"resourceType": "Task", "id": a["id"], "status": "requested", "intent": "order",
            "businessStatus": {"coding": [{"system": "https://tend.example.org/fhir/CodeSystem/alert-status", "code": a["status"]}]},
            "code": {"coding": [{"system": "https://tend.example.org/fhir/CodeSystem/early-warning", "code": a["code"].as_str().unwrap_or("news2-response")}]},
            "for": {"reference": format!("Patient/{}", a["patient"].as_str().unwrap())},
            "location": {"reference": format!("Location/{}", a["ward"].as_str().unwrap())},
            "authoredOn": a["raised"], "restriction": {"period": {"end": a["deadline"]}}});
        if let Some(ack) = a.get("acknowledged") {
            t["executionPeriod"] = json!({"start": ack});
        }
        out.push(t);
    }
    surveillance_resources(data, &mut out);
    score_resources(data, &mut out);
    sepsis_resources(data, &mut out);
    screening_resources(data, &mut out);
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

/// The mini hospital's scored sets of vital signs, in the shape early warning stores them
/// (NEWS2 or PEWS Observations with `monitoring` and `next-observations-due` components).
fn score_resources(data: &Value, out: &mut Vec<Value>) {
    const EW: &str = "https://tend.example.org/fhir/CodeSystem/early-warning";
    for s in data["sets"].as_array().unwrap() {
        let code = match s["code"].as_str() {
            Some("pews") => json!({"coding": [{"system": EW, "code": "pews"}], "text": "PEWS"}),
            _ => {
                json!({"coding": [{"system": "http://snomed.info/sct", "code": "1104051000000101"}], "text": "NEWS2"})
            }
        };
        let mut components = vec![
            json!({"code": {"coding": [{"system": EW, "code": "partial-total"}]}, "valueInteger": 2}),
        ];
        if let Some(m) = s["monitoring"].as_str() {
            components.push(
                json!({"code": {"coding": [{"system": EW, "code": "monitoring"}]},
                "valueCodeableConcept": {"coding": [{"system": EW, "code": m}]}}),
            );
        }
        if let Some(due) = s["due"].as_str() {
            components.push(
                json!({"code": {"coding": [{"system": EW, "code": "next-observations-due"}]},
                "valueDateTime": due}),
            );
        }
        out.push(json!({"resourceType": "Observation", "id": s["id"], "status": s["status"],
            "code": code, "subject": {"reference": format!("Patient/{}", s["patient"].as_str().unwrap())},
            "effectiveDateTime": s["taken"], "component": components}));
    }
}

/// The mini hospital's suspected-sepsis first hours, as the sepsis service keeps them (one
/// Task per clock, `sepsis::shape`).
fn sepsis_resources(data: &Value, out: &mut Vec<Value>) {
    for a in data["sepsis_actions"].as_array().unwrap() {
        let mut t = json!({"resourceType": "Task", "id": a["id"], "status": a["status"], "intent": "order",
            "meta": {"tag": [{"system": sepsis::shape::TAG_SYSTEM, "code": sepsis::shape::TAG}]},
            "code": {"coding": [{"system": sepsis::shape::ACTION, "code": a["clock"]}]},
            "for": {"reference": format!("Patient/{}", a["patient"].as_str().unwrap())},
            "authoredOn": a["started"],
            "restriction": {"period": {"start": a["started"], "end": a["deadline"]}}});
        if let Some(done) = a.get("done") {
            t["executionPeriod"] = json!({"start": a["started"], "end": done});
        }
        out.push(t);
    }
}

/// The mini hospital's social-needs screening answers, as Tend's screening service derives
/// them (SDOHCC screening-response Observations, one per question).
fn screening_resources(data: &Value, out: &mut Vec<Value>) {
    const SDOHCC: &str =
        "http://hl7.org/fhir/us/sdoh-clinicalcare/CodeSystem/SDOHCC-CodeSystemTemporaryCodes";
    for (i, a) in data["screening_answers"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        for q in a["questions"].as_array().unwrap() {
            out.push(json!({"resourceType": "Observation", "id": format!("hrsn-{i}-{}", q.as_str().unwrap()),
                "status": a.get("status").cloned().unwrap_or(json!("final")),
                "category": [
                    {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "social-history"}]},
                    {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "survey"}]},
                    {"coding": [{"system": SDOHCC, "code": "food-insecurity"}]}],
                "code": {"coding": [{"system": "http://loinc.org", "code": q}]},
                "subject": {"reference": format!("Patient/{}", a["patient"].as_str().unwrap())},
                "effectiveDateTime": a["at"],
                "valueCodeableConcept": {"text": "An answer"}}));
        }
    }
}

/// The mini hospital's prevalence surveys, lines and catheters, and infections, as Tend
/// records them; `status` and `verification` override what was recorded (entered in error,
/// refuted).
fn surveillance_resources(data: &Value, out: &mut Vec<Value>) {
    use surveillance::device::{DeviceKind, DeviceUse};
    use surveillance::infection::{Event, Infection};
    use surveillance::survey::{Finding, NotAssessed, Restraint, Stage, Survey};
    let now = at(&json!("2026-03-02T12:00:00Z"));
    for s in data["surveys"].as_array().unwrap() {
        let survey = Survey {
            patient: s["patient"].as_str().unwrap().into(),
            encounter: None,
            surveyed: at(&s["at"]),
            surveyor: None,
            pressure_injury: match s["hapi"].as_str() {
                Some(c) => Finding::Found(Stage::parse(c).unwrap()),
                None => Finding::NotAssessed(NotAssessed::Refused),
            },
            restraint: match s["restraint"].as_str() {
                Some(c) => Finding::Found(Restraint::parse(c).unwrap()),
                None => Finding::NotAssessed(NotAssessed::Unavailable),
            },
        };
        let mut o = survey.observation(s["id"].as_str().unwrap(), now);
        if let Some(st) = s.get("status") {
            o["status"] = st.clone();
        }
        out.push(o);
    }
    for d in data["devices"].as_array().unwrap() {
        let id = d["id"].as_str().unwrap();
        let u = DeviceUse {
            patient: d["patient"].as_str().unwrap().into(),
            encounter: None,
            kind: DeviceKind::parse(d["kind"].as_str().unwrap()).unwrap(),
            placed: at(&d["placed"]),
            removed: (!d["removed"].is_null()).then(|| at(&d["removed"])),
            site: None,
        };
        let (device, mut statement) = u.resources(&format!("dev-{id}"), id, now).unwrap();
        if let Some(st) = d.get("status") {
            statement["status"] = st.clone();
        }
        out.push(device);
        out.push(statement);
    }
    for i in data["infections"].as_array().unwrap() {
        let date = i["date"].as_str().unwrap();
        let inf = Infection {
            patient: i["patient"].as_str().unwrap().into(),
            encounter: None,
            event: Event::parse(i["event"].as_str().unwrap()).unwrap(),
            date_of_event: chrono::NaiveDate::parse_from_str(&date[..10], "%Y-%m-%d").unwrap(),
            recorder: None,
        };
        let mut c = inf.condition(i["id"].as_str().unwrap(), now);
        // An instant as recorded by another system, not a date.
        c["onsetDateTime"] = json!(date);
        if let Some(v) = i.get("verification") {
            c["verificationStatus"]["coding"][0]["code"] = v.clone();
        }
        out.push(c);
    }
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
        let got: Vec<(String, String, i64, i64)> =
            measures::report::by_period(&rows, measure, false)
                .into_iter()
                .map(|((unit, month), c)| (unit, month, c.numerator, c.denominator))
                .collect();
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

fn run_mini() -> (
    Value,
    measures::Suite,
    Vec<measures::MeasureRow>,
    Vec<Value>,
) {
    let data = load();
    let suite = measures::Suite::shipped().unwrap();
    let resources = resources(&data);
    let rows = suite
        .run(
            &resources,
            data["zone"].as_str().unwrap(),
            at(&data["as_of"]),
        )
        .unwrap();
    (data, suite, rows, resources)
}

fn equity(
    suppress_below: usize,
) -> (
    Value,
    std::collections::BTreeMap<String, measures::equity::Stratifier>,
) {
    let (data, suite, rows, resources) = run_mini();
    let patients: std::collections::HashMap<String, Value> = resources
        .iter()
        .filter(|r| r["resourceType"] == "Patient")
        .map(|p| (p["id"].as_str().unwrap().to_string(), p.clone()))
        .collect();
    let e = &data["equity"];
    let m = suite.measure(e["measure"].as_str().unwrap()).unwrap();
    let mut settings = measures::Settings::shipped();
    settings.suppress_below = suppress_below;
    let by = measures::equity::stratify(
        m,
        &rows,
        e["from"].as_str().unwrap(),
        e["to"].as_str().unwrap(),
        &patients,
        &settings,
    )
    .into_iter()
    .map(|s| (s.code.to_string(), s))
    .collect();
    (data, by)
}

#[test]
fn falls_by_equity_group_with_ratios_to_the_reference() {
    let (data, by) = equity(1);
    let want = &data["equity"]["no_suppression"];
    for code in ["interpreter", "sex", "age-band", "race"] {
        let got: Vec<(String, i64, i64, usize)> = by[code]
            .strata
            .iter()
            .map(|s| {
                (
                    s.value.clone(),
                    s.count.numerator,
                    s.count.denominator,
                    s.patients,
                )
            })
            .collect();
        let mut want: Vec<(String, i64, i64, usize)> = want[code]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    v[0].as_i64().unwrap(),
                    v[1].as_i64().unwrap(),
                    v[2].as_u64().unwrap() as usize,
                )
            })
            .collect();
        // Largest first, "Not recorded" last, as shown.
        want.sort_by(|a, b| {
            (a.0 == "Not recorded")
                .cmp(&(b.0 == "Not recorded"))
                .then(b.2.cmp(&a.2))
        });
        assert_eq!(got, want, "{code}");
        assert!(
            by[code].strata.iter().any(|s| s.value == "Not recorded"),
            "{code}: the not-recorded group is always listed"
        );
    }
    let close = |a: f64, b: &Value| (a - b.as_f64().unwrap()).abs() < 1e-9;
    for (code, value, reference) in [
        ("interpreter", "Yes", "interpreter_reference"),
        ("sex", "Male", "sex_reference"),
    ] {
        let s = &by[code].strata;
        let r = s.iter().find(|g| g.reference).unwrap();
        assert_eq!(r.value, want[reference].as_str().unwrap(), "{code}");
        let g = s.iter().find(|g| g.value == value).unwrap();
        let ratio = g.ratio.unwrap();
        let key = format!("{code}_{}_ratio", value.to_lowercase());
        let w = &want[key.as_str()];
        assert!(
            close(ratio.ratio, &w[0]) && close(ratio.low, &w[1]) && close(ratio.high, &w[2]),
            "{code}: {ratio:?}"
        );
    }
}

#[test]
fn small_groups_are_suppressed_in_the_figures_and_the_report() {
    let (data, by) = equity(3);
    let want = &data["equity"]["suppress_below_3"];
    for (field, suppressed) in [("suppressed", true), ("shown", false)] {
        for (code, values) in want[field].as_object().unwrap() {
            for v in values.as_array().unwrap() {
                let g = by[code.as_str()]
                    .strata
                    .iter()
                    .find(|g| g.value == v.as_str().unwrap())
                    .unwrap();
                assert_eq!(g.suppressed, suppressed, "{code} {v}");
                assert_eq!(g.rate.is_none(), suppressed, "{code} {v}");
                if suppressed {
                    assert!(g.ratio.is_none() && !g.reference, "{code} {v}");
                }
            }
        }
    }
    let suite = measures::Suite::shipped().unwrap();
    let m = suite.measure("ndnqi-falls").unwrap();
    let strata: Vec<measures::equity::Stratifier> = by.into_values().collect();
    let report = measures::equity::equity_report(
        m,
        &strata,
        measures::report::Count {
            numerator: 4,
            denominator: 15,
        },
        "ndnqi-falls-equity-2026-q1",
        "2026-01-01",
        "2026-03-31",
        "2026-04-01T06:00:00Z",
    );
    assert!(fhir::validation::validate(&report).is_empty(), "{report:#}");
    let text = report.to_string();
    let interp = report["group"][0]["stratifier"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["code"][0]["coding"][0]["code"] == "interpreter")
        .unwrap();
    let yes = interp["stratum"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["value"]["text"] == "Yes")
        .unwrap();
    assert!(yes["population"][0].get("count").is_none(), "{yes}");
    assert!(yes.get("measureScore").is_none(), "{yes}");
    assert!(text.contains(strata::SUPPRESSED_EXT));
}

#[test]
fn the_magnet_grid_uses_the_benchmark_of_the_unit_s_type() {
    let (_, suite, rows, _) = run_mini();
    let m = suite.measure("ndnqi-falls").unwrap();
    let settings = measures::Settings::shipped();
    let bench = settings.benchmark(&m.id, Some("medical")).unwrap().value;
    assert_eq!(
        bench, 2.75,
        "the shipped comparison-group rate applies to every unit type"
    );
    let grid = measures::report::magnet(m, &rows, "2026-Q1", |_| Some(bench)).unwrap();
    assert_eq!(grid.quarters.last().unwrap(), "2026-Q1");
    let a = grid.units.iter().find(|u| u.unit == "ward-a").unwrap();
    // 3 falls in 9 patient days is far above 2.75 per 1,000: not outperformed; none in 4
    // days in the quarter before is; the six quarters before that have no data and count
    // against the unit.
    assert_eq!(a.outperformed, 1);
    assert_eq!(*a.cells.last().unwrap(), quality::Cell::NotOutperformed);
    assert_eq!(a.cells[6], quality::Cell::Outperformed);
    assert_eq!(a.cells[0], quality::Cell::NoData);
    assert!(!grid.met);
}

#[test]
fn every_shipped_view_runs_directly_and_agrees_with_the_engine() {
    let data = load();
    let resources = resources(&data);
    let dir = format!("{}/data/views", env!("CARGO_MANIFEST_DIR"));
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let definition: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let view = views::View::parse(&definition).unwrap();
        assert!(view.is_direct(), "{} is left to the engine", path.display());
        let direct: Vec<Vec<Value>> = resources
            .iter()
            .flat_map(|r| view.resource_rows(r).unwrap())
            .collect();
        let engine = view.engine_only();
        let slow: Vec<Vec<Value>> = resources
            .iter()
            .flat_map(|r| engine.resource_rows(r).unwrap())
            .collect();
        assert!(!direct.is_empty(), "{}", path.display());
        assert_eq!(direct, slow, "{}", path.display());
    }
}
