//! `cargo bench -p sepsis-watch`: suspected sepsis's first hour over a busy hospital.
//!
//! `SEPSIS_BENCH_PATIENTS` (default 5,000) inpatients, each with two days of NEWS2 scores
//! (one every four hours, 12 each); one in ten has a suspicion of infection with a score of
//! 7 before it, the first dose of antibiotics and blood cultures after it.
//!
//! 1. **Following the record**: the service's consumer reads the whole change log from the
//!    start (every score, suspicion and action) and writes the first-hour Tasks: seconds and
//!    versions per second.
//! 2. **Recorded to the board**: 200 suspicions of patients whose newest score is 7,
//!    recorded one after another as a nurse would (`Sepsis::record` waits until their three
//!    Tasks are written): p50 and p99. The product's
//!    promise for pathways is a milestone on the worklist within a second.
//! 3. **Reading**: the board's and the inbox's read of every first hour of the last day
//!    (`actions`), and one patient's page (`current`): p50 and p99.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use sepsis::{Record, Source};
use serde_json::{json, Value};
use store::{Access, Entry, Mode, Store};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn put_all(store: &dyn Store, resources: Vec<Value>) {
    for chunk in resources.chunks(2000) {
        let entries: Vec<Entry> = chunk.iter().cloned().filter_map(Entry::put).collect();
        for r in store
            .write(&Access::system(), entries, Mode::Independent)
            .unwrap()
        {
            r.unwrap();
        }
    }
}

fn t(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn percentile(mut v: Vec<Duration>, p: f64) -> Duration {
    v.sort();
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

/// One patient's record: the stay, 12 scores, and for one in ten a suspicion with actions.
fn patient(i: usize, now: DateTime<Utc>) -> Vec<Value> {
    let p = format!("p{i}");
    let mut out = vec![
        json!({"resourceType": "Patient", "id": p}),
        json!({"resourceType": "Encounter", "id": format!("e{i}"), "status": "in-progress",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
            "subject": {"reference": format!("Patient/{p}")}}),
    ];
    let septic = i.is_multiple_of(10);
    for k in 0..12 {
        let at = now - TimeDelta::hours(48) + TimeDelta::hours(4 * k);
        // The septic patients scored 7 before their suspicion; the next ones score 7 now, so a
        // suspicion recorded for them starts its clocks.
        let raised = (septic && k == 10) || (i % 10 == 1 && k == 11);
        let score = if raised {
            7
        } else {
            (i + k as usize) as i64 % 4
        };
        out.push(json!({"resourceType": "Observation", "id": format!("news2-{i}-{k}"), "status": "final",
            "code": {"coding": [{"system": "http://snomed.info/sct", "code": "1104051000000101"}]},
            "subject": {"reference": format!("Patient/{p}")}, "encounter": {"reference": format!("Encounter/e{i}")},
            "effectiveDateTime": t(at), "valueInteger": score}));
    }
    if septic {
        let at = now - TimeDelta::hours(8) + TimeDelta::minutes(10);
        out.push(json!({"resourceType": "Condition", "id": format!("inf-{i}"),
            "verificationStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "provisional"}]},
            "code": {"coding": [{"system": "http://snomed.info/sct", "code": "40733004"}]},
            "subject": {"reference": format!("Patient/{p}")}, "encounter": {"reference": format!("Encounter/e{i}")},
            "recordedDate": t(at)}));
        out.push(json!({"resourceType": "MedicationAdministration", "id": format!("abx-{i}"), "status": "completed",
            "medicationCodeableConcept": {"coding": [{"system": "http://www.whocc.no/atc", "code": "J01CR05"}]},
            "subject": {"reference": format!("Patient/{p}")}, "effectiveDateTime": t(at + TimeDelta::minutes(40))}));
        out.push(json!({"resourceType": "Procedure", "id": format!("bc-{i}"), "status": "completed",
            "code": {"coding": [{"system": "https://tend.example.org/fhir/CodeSystem/pathway-event", "code": "blood-culture"}]},
            "subject": {"reference": format!("Patient/{p}")}, "performedDateTime": t(at + TimeDelta::minutes(25))}));
    }
    out
}

fn main() {
    let patients = env("SEPSIS_BENCH_PATIENTS", 5_000);
    let dir = tempfile::tempdir().unwrap();
    let store = store::open(
        &format!("sqlite://{}", dir.path().join("sepsis.db").display()),
        store::Options {
            clock: Arc::new(store::SystemClock),
            indexer: Arc::new(search::Indexer::new(search::Registry::r4()).unwrap()),
            readers: 4,
        },
    )
    .unwrap();
    let now = Utc::now();
    let mut record = Vec::new();
    for i in 0..patients {
        record.extend(patient(i, now));
    }
    let versions = record.len();
    let started = Instant::now();
    put_all(&*store, record);
    println!(
        "{patients} patients, {versions} resources written in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let sepsis =
        sepsis_watch::Sepsis::new(store.clone(), chrono_tz::UTC, Arc::new(store::SystemClock));
    let started = Instant::now();
    sepsis.catch_up().unwrap();
    let took = started.elapsed().as_secs_f64();
    let since = sepsis.now() - TimeDelta::hours(24);
    let tasks = sepsis
        .actions(&Access::system(), None, since)
        .unwrap()
        .len();
    println!(
        "1. following the record: {versions} versions in {took:.2} s ({:.0} /s); {tasks} first-hour Tasks",
        versions as f64 / took
    );

    let mut latencies = Vec::new();
    for i in 0..200 {
        let p = format!("p{}", i * 10 + 1);
        let at = sepsis.now();
        let started = Instant::now();
        sepsis
            .record(
                &Access::system(),
                "Practitioner/n1",
                &p,
                Some(&format!("Encounter/e{}", i * 10 + 1)),
                &Record::Suspected {
                    source: Source::Chest,
                },
                at,
            )
            .unwrap();
        latencies.push(started.elapsed());
    }
    println!(
        "2. recorded to the board (200 suspicions): p50 {:.1} ms, p99 {:.1} ms",
        percentile(latencies.clone(), 0.5).as_secs_f64() * 1000.0,
        percentile(latencies, 0.99).as_secs_f64() * 1000.0
    );

    let mut board = Vec::new();
    let mut found = 0;
    for _ in 0..50 {
        let started = Instant::now();
        found = sepsis
            .actions(&Access::system(), None, since)
            .unwrap()
            .len();
        board.push(started.elapsed());
    }
    let mut page = Vec::new();
    for i in 0..200 {
        let p = format!("p{}", (i * 10) % patients);
        let started = Instant::now();
        let _ = sepsis.current(&Access::system(), &p).unwrap();
        page.push(started.elapsed());
    }
    println!(
        "3. reading: every first hour of the last day ({found} actions) p50 {:.1} ms, p99 {:.1} ms; one patient's page p50 {:.1} ms, p99 {:.1} ms",
        percentile(board.clone(), 0.5).as_secs_f64() * 1000.0,
        percentile(board, 0.99).as_secs_f64() * 1000.0,
        percentile(page.clone(), 0.5).as_secs_f64() * 1000.0,
        percentile(page, 0.99).as_secs_f64() * 1000.0
    );
}
