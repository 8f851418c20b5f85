//! `cargo bench -p measures`: the measure suite over `MEASURES_BENCH_PATIENTS` (default
//! 100,000) synthetic inpatients: a Patient each (sex, birth date, race, language, one in
//! ten needing an interpreter), one stay each of 1 to 9 days on one of 20 units over two
//! years, with a move to a second unit for one in five, a fall for one in 100 (a third with
//! injury), filed as Tend files reports, an early-warning alert for one in ten, a
//! prevalence survey for about one stay in six, a central line for one in eight and a
//! urinary catheter for one in five (each with an infection for one in 300), recorded as
//! crate `surveillance` records them, NEWS2 scores of the sets taken every 4 hours over
//! one stay in 20, and a social-needs screening on admission (ten answers) for one stay in
//! 100 (the whole hospital in memory at once: more would not fit this machine's 24 GiB). Prints
//! the rows per second of each view and of the SQL, the equity stratification of every
//! measure over the last four quarters, and the whole run. Target (the quality issue): the
//! whole suite over 1M patients in ≤ 60 s.

use std::time::Instant;

use chrono::{Duration, TimeZone, Utc};
use safety_events::{Details, Fall, Formats, Report, Reporter};
use serde_json::{json, Value};
use surveillance::device::{DeviceKind, DeviceUse};
use surveillance::infection::{Event, Infection};
use surveillance::survey::{Finding, Restraint, Stage, Survey};

const EW: &str = "https://tend.example.org/fhir/CodeSystem/early-warning";
const SDOHCC: &str =
    "http://hl7.org/fhir/us/sdoh-clinicalcare/CodeSystem/SDOHCC-CodeSystemTemporaryCodes";

fn main() {
    let n: usize = std::env::var("MEASURES_BENCH_PATIENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let start = Utc.with_ymd_and_hms(2024, 10, 1, 0, 0, 0).unwrap();
    let as_of = Utc.with_ymd_and_hms(2026, 10, 1, 0, 0, 0).unwrap();
    let f = Formats::shipped();
    let reporter = Reporter {
        reference: "Practitioner/n1".into(),
        name: "A nurse".into(),
        role: "Nurse".into(),
    };
    let made = Instant::now();
    let mut resources: Vec<Value> = Vec::with_capacity(n + n / 100);
    // A small deterministic generator (xorshift): the same hospital every run.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = |m: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % m
    };
    let mut patients = std::collections::HashMap::with_capacity(n);
    for i in 0..n {
        let race = ["White", "Black or African American", "Asian", "Other Race"][next(4) as usize];
        let mut p = json!({"resourceType": "Patient", "id": format!("p{i}"),
            "gender": if next(2) == 0 { "female" } else { "male" },
            "birthDate": format!("{}-06-15", 1930 + next(70)),
            "extension": [{"url": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race",
                "extension": [{"url": "text", "valueString": race}]}]});
        if next(10) == 0 {
            p["communication"] = json!([{"language": {"text": "Spanish"}, "preferred": true}]);
            p["extension"].as_array_mut().unwrap().push(json!({"url": "http://hl7.org/fhir/StructureDefinition/patient-interpreterRequired", "valueBoolean": true}));
        }
        patients.insert(format!("p{i}"), p);
        let arrived = start + Duration::minutes(next(730 * 24 * 60) as i64);
        let days = 1 + next(9) as i64;
        let left = arrived + Duration::hours(days * 24 - 3);
        let unit = format!("ward-{:02}", next(20));
        let fmt = |t: chrono::DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let mut locations = vec![
            json!({"location": {"reference": format!("Location/{unit}")},
            "period": {"start": fmt(arrived), "end": fmt(left)}}),
        ];
        if next(5) == 0 {
            locations[0]["period"]["end"] = json!(fmt(arrived + Duration::hours(20)));
            locations.push(
                json!({"location": {"reference": format!("Location/ward-{:02}", next(20))},
                "period": {"start": fmt(arrived + Duration::hours(20)), "end": fmt(left)}}),
            );
        }
        resources.push(
            json!({"resourceType": "Encounter", "id": format!("e{i}"), "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
            "subject": {"reference": format!("Patient/p{i}")}, "location": locations}),
        );
        if next(10) == 0 {
            let raised = arrived + Duration::hours(6);
            let mut t = json!({"resourceType": "Task", "id": format!("a{i}"), "status": "completed", "intent": "order",
                "code": {"coding": [{"system": "https://tend.example.org/fhir/CodeSystem/early-warning", "code": "news2-response"}]},
                "businessStatus": {"coding": [{"code": "resolved"}]},
                "for": {"reference": format!("Patient/p{i}")}, "location": {"reference": format!("Location/{unit}")},
                "authoredOn": fmt(raised), "restriction": {"period": {"end": fmt(raised + Duration::minutes(60))}}});
            t["executionPeriod"] =
                json!({"start": fmt(raised + Duration::minutes(next(80) as i64))});
            resources.push(t);
        }
        if next(20) == 0 {
            // Scored sets every 4 hours over the stay, one in ten a quarter of an hour late.
            let mut taken = arrived + Duration::minutes(30);
            let mut k = 0;
            while taken < left {
                let due = taken + Duration::hours(4);
                resources.push(json!({"resourceType": "Observation", "id": format!("n{i}-{k}"),
                    "status": "final", "code": {"coding": [{"system": "http://snomed.info/sct", "code": "1104051000000101"}]},
                    "subject": {"reference": format!("Patient/p{i}")}, "effectiveDateTime": fmt(taken),
                    "component": [
                        {"code": {"coding": [{"system": EW, "code": "monitoring"}]},
                         "valueCodeableConcept": {"coding": [{"system": EW, "code": "every-4h"}]}},
                        {"code": {"coding": [{"system": EW, "code": "next-observations-due"}]},
                         "valueDateTime": fmt(due)}]}));
                taken = due - Duration::minutes(10)
                    + Duration::minutes(if next(10) == 0 { 25 } else { 0 });
                k += 1;
            }
        }
        if next(100) == 0 {
            // A social-needs screening on admission: the ten questions' answers.
            for (k, q) in [
                "71802-3", "96778-6", "88122-7", "88123-5", "93030-5", "96779-4", "95618-5",
                "95617-7", "95616-9", "95615-1",
            ]
            .iter()
            .enumerate()
            {
                resources.push(json!({"resourceType": "Observation", "id": format!("q{i}-{k}"),
                    "status": "final",
                    "category": [
                        {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "survey"}]},
                        {"coding": [{"system": SDOHCC, "code": "food-insecurity"}]}],
                    "code": {"coding": [{"system": "http://loinc.org", "code": q}]},
                    "subject": {"reference": format!("Patient/p{i}")},
                    "effectiveDateTime": fmt(arrived + Duration::hours(3)),
                    "valueCodeableConcept": {"text": "An answer"}}));
            }
        }
        let survey_at = arrived + Duration::hours(12);
        if (next(30) as i64) < days {
            let pick = next(100);
            let s = Survey {
                patient: format!("p{i}"),
                encounter: None,
                surveyed: survey_at,
                surveyor: None,
                pressure_injury: Finding::Found(if pick < 2 { Stage::Stage2 } else { Stage::None }),
                restraint: Finding::Found(if pick == 50 {
                    Restraint::Limb
                } else {
                    Restraint::None
                }),
            };
            resources.push(s.observation(&format!("s{i}"), survey_at));
        }
        for (kind, one_in, event) in [
            (DeviceKind::CentralLine, 8, Event::Clabsi),
            (DeviceKind::UrinaryCatheter, 5, Event::Cauti),
        ] {
            if next(one_in) != 0 {
                continue;
            }
            let u = DeviceUse {
                patient: format!("p{i}"),
                encounter: None,
                kind,
                placed: arrived + Duration::hours(2),
                removed: Some(left - Duration::hours(4)),
                site: None,
            };
            let (device, statement) = u
                .resources(
                    &format!("d{}{i}", kind.code()),
                    &format!("u{}{i}", kind.code()),
                    arrived,
                )
                .unwrap();
            resources.push(device);
            resources.push(statement);
            if days >= 4 && next(300) == 0 {
                let inf = Infection {
                    patient: format!("p{i}"),
                    encounter: None,
                    event,
                    date_of_event: (arrived + Duration::days(3)).date_naive(),
                    recorder: None,
                };
                resources.push(inf.condition(&format!("h{}{i}", kind.code()), left));
            }
        }
        if next(100) == 0 {
            let r = Report {
                kind: "incident".into(),
                category: "fall".into(),
                occurred: arrived + Duration::hours(12),
                discovered: None,
                location: Some(unit),
                description: "Found on the floor.".into(),
                harm: Some("none".into()),
                factors: vec![],
                patient: Some(format!("p{i}")),
                encounter: None,
                details: Details::Fall(Fall {
                    injury: if next(3) == 0 { "minor" } else { "none" }.into(),
                    ..Fall::default()
                }),
                anonymous: false,
            };
            resources.push(
                r.adverse_event(
                    f,
                    &format!("se-{i:08}"),
                    as_of + Duration::days(30),
                    Some(&reporter),
                )
                .unwrap(),
            );
        }
    }
    println!(
        "{n} patients, {} resources generated in {:.1} s",
        resources.len(),
        made.elapsed().as_secs_f64()
    );
    let suite = measures::Suite::shipped().unwrap();
    let run = Instant::now();
    let (rows, timing) = suite
        .run_timed(
            resources.iter().chain(patients.values()),
            "America/New_York",
            as_of,
        )
        .unwrap();
    let settings = measures::Settings::shipped();
    for m in suite.measures() {
        let started = Instant::now();
        let groups =
            measures::equity::stratify(m, &rows, "2025-10", "2026-09", &patients, &settings);
        println!(
            "{:<28} {:>9} groups in {:>6.2} s",
            format!("equity {}", m.id),
            groups.iter().map(|g| g.strata.len()).sum::<usize>(),
            started.elapsed().as_secs_f64()
        );
    }
    let total = run.elapsed().as_secs_f64();
    for t in &timing {
        println!(
            "{:<28} {:>9} rows in {:>6.2} s ({:>9.0} rows/s)",
            t.name,
            t.rows,
            t.seconds,
            t.rows as f64 / t.seconds.max(1e-9)
        );
    }
    println!(
        "measure suite over {n} patients: {total:.1} s, {} rows (target: 1M patients in <= 60 s)",
        rows.len()
    );
}
