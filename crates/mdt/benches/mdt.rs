//! `cargo bench -p mdt`: a tumour board's meeting as the page prepares it (every case's
//! summary from the patient's record, the recommendation state) for a list of 20 patients
//! whose records hold about 300 resources each, among 2,000 patients; recording a
//! recommendation (a transaction of its plan, steps and the case); and the service following
//! 1,000 referrals (the board's care relationships written from the record).
//!
//! `MDT_BENCH_PATIENTS` (default 2000) sizes the store.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use store::{Access, Entry, Mode, Store, WriteOp};
use tumour_board::{codes, Recommendation};

fn put_all(store: &dyn Store, resources: Vec<Value>) {
    for chunk in resources.chunks(2000) {
        let entries = chunk
            .iter()
            .map(|r| Entry {
                full_url: None,
                op: WriteOp::Update {
                    rtype: r["resourceType"].as_str().unwrap().into(),
                    id: r["id"].as_str().unwrap().into(),
                    resource: r.clone(),
                    if_match: None,
                },
            })
            .collect();
        for r in store
            .write(&Access::system(), entries, Mode::Independent)
            .unwrap()
        {
            r.unwrap();
        }
    }
}

/// A patient with a cancer, its stage, biomarkers, performance status, treatment and a
/// history of ~300 observations and reports.
fn record(p: usize) -> Vec<Value> {
    let pid = format!("p{p}");
    let subject = json!({"reference": format!("Patient/{pid}")});
    let mut out = vec![
        json!({"resourceType": "Patient", "id": pid, "name": [{"family": format!("Patient{p}")}], "birthDate": "1960-01-01"}),
        json!({"resourceType": "Condition", "id": format!("{pid}-c"), "subject": subject, "recordedDate": "2026-08-20",
            "verificationStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "confirmed"}]},
            "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "C15.5"}]}, "stage": [{"summary": {"text": "cT3 N1 M0"}}]}),
        json!({"resourceType": "Observation", "id": format!("{pid}-ecog"), "status": "final", "subject": subject,
            "code": {"coding": [{"system": "http://loinc.org", "code": "89247-1"}]}, "effectiveDateTime": "2026-11-20", "valueInteger": 1}),
        json!({"resourceType": "Observation", "id": format!("{pid}-her2"), "status": "final", "subject": subject,
            "code": {"coding": [{"system": "http://loinc.org", "code": "48676-1"}]}, "issued": "2026-11-25T10:00:00Z", "valueString": "Negative"}),
        json!({"resourceType": "CarePlan", "id": format!("{pid}-plan"), "status": "completed", "intent": "plan", "subject": subject,
            "title": "Definitive chemoradiotherapy", "created": "2026-08-24"}),
    ];
    for k in 0..290 {
        out.push(json!({"resourceType": "Observation", "id": format!("{pid}-o{k}"), "status": "final", "subject": subject,
            "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
            "effectiveDateTime": format!("2026-09-{:02}T{:02}:00:00Z", 1 + k % 28, k % 24), "valueQuantity": {"value": 70 + k % 30, "unit": "/min"}}));
    }
    for k in 0..6 {
        out.push(json!({"resourceType": "DiagnosticReport", "id": format!("{pid}-r{k}"), "status": "final", "subject": subject,
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "RAD"}]}],
            "code": {"text": "CT"}, "issued": format!("2026-0{}-10T10:00:00Z", 3 + k), "conclusion": "Stable."}));
    }
    out
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let patients: usize = std::env::var("MDT_BENCH_PATIENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    let dir = tempfile::tempdir().unwrap();
    let store = store::open(
        &format!("sqlite://{}", dir.path().join("mdt.db").display()),
        store::Options {
            clock: Arc::new(store::SystemClock),
            indexer: Arc::new(search::Indexer::new(search::Registry::r4()).unwrap()),
            readers: 4,
        },
    )
    .unwrap();
    let t = Instant::now();
    put_all(
        &*store,
        vec![
            json!({"resourceType": "Practitioner", "id": "d1"}),
            json!({"resourceType": "CareTeam", "id": "board", "status": "active", "name": "Upper GI MDT",
            "category": [{"coding": [{"system": codes::SYSTEM, "code": codes::BOARD}]}],
            "participant": [{"member": {"reference": "Practitioner/d1"}}]}),
        ],
    );
    for first in (0..patients).step_by(100) {
        let batch: Vec<Value> = (first..(first + 100).min(patients))
            .flat_map(record)
            .collect();
        put_all(&*store, batch);
    }
    println!(
        "mdt bench: {patients} patients, {} resources loaded in {:.1} s",
        patients * 302 + 2,
        t.elapsed().as_secs_f64()
    );
    let tb = mdt::TumourBoard::new(store.clone(), Arc::new(store::SystemClock));
    tb.catch_up().unwrap();

    // 1,000 referrals, then the service follows them.
    let system = Access::system();
    let t = Instant::now();
    let mut cases = Vec::new();
    for p in 0..1_000.min(patients) {
        cases.push(
            tb.refer(
                &system,
                "Practitioner/d1",
                &format!("p{p}"),
                "board",
                "Options?",
            )
            .unwrap(),
        );
    }
    let referred = t.elapsed();
    let t = Instant::now();
    tb.catch_up().unwrap();
    println!(
        "referrals          1,000 written in {:.2} s; the board's care relationships followed in {:.2} s",
        referred.as_secs_f64(),
        t.elapsed().as_secs_f64()
    );

    // A meeting of 20 of them, prepared as the meeting page does, as a board physician.
    let start = chrono::Utc::now() + chrono::TimeDelta::days(2);
    let meeting = tb
        .new_meeting(&system, "Practitioner/d1", "board", start, 120, "Room 2")
        .unwrap();
    for c in cases.iter().take(20) {
        tb.schedule(&system, c, &meeting).unwrap();
    }
    let mut runs = Vec::new();
    let until = Instant::now() + Duration::from_secs(5);
    while Instant::now() < until || runs.len() < 20 {
        let t = Instant::now();
        let m = tb.meeting(&system, &meeting).unwrap();
        assert_eq!(m.cases.len(), 20);
        for c in &m.cases {
            let s = tb.summary(&system, &c.patient).unwrap();
            assert_eq!(s.diagnoses.len(), 1);
            tb.recommendation(&system, c).unwrap();
        }
        runs.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let n = runs.len();
    println!(
        "meeting of 20      prepared {n} times: p50 {:.1} ms, p99 {:.1} ms (each case's summary from ~300 resources)",
        pct(&mut runs, 0.5),
        pct(&mut runs, 0.99)
    );

    // Recording recommendations.
    let rec = Recommendation {
        intent: "palliative".into(),
        steps: vec!["second-line-systemic".into(), "clinical-trial".into()],
        rationale: "Bench.".into(),
    };
    let mut lat = Vec::new();
    for c in cases.iter().take(20) {
        let t = Instant::now();
        tb.recommend(&system, "Practitioner/d1", c, &rec).unwrap();
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    println!(
        "recommendation     recorded 20 times: p50 {:.1} ms, p99 {:.1} ms (plan, 2 steps and the case in one durable transaction)",
        pct(&mut lat, 0.5),
        pct(&mut lat, 0.99)
    );
}
