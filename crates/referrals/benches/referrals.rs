//! `cargo bench -p referrals`: the social-needs targets of the product.
//!
//! 1. **Scoring and writing screenings**: `REFERRALS_BENCH_SCREENINGS` (default 100,000) AHC
//!    HRSN QuestionnaireResponses written through the store (in batches, as a bulk load or
//!    a busy feed would), then the screening service's consumer scoring every one into its
//!    answer Observations and health concerns. Target: 100,000 in ≤ 10 s.
//! 2. **The social worker's worklist** with `REFERRALS_BENCH_OPEN` (default 10,000) open
//!    referrals among 5,000 patients the social worker reaches: the referrals service's
//!    worklist (open referrals, follow-ups due, counts by status) and the needs awaiting a
//!    decision, as the page reads them. Target: p99 < 200 ms.

use std::sync::Arc;
use std::time::{Duration, Instant};

use access::{Principal, Role, Via};
use chrono::{TimeZone, Utc};
use serde_json::{json, Value};
use store::{Access, Entry, Mode, Reach, Store, WriteOp};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn open(dir: &std::path::Path, name: &str) -> Arc<dyn Store> {
    store::open(
        &format!("sqlite://{}", dir.join(name).display()),
        store::Options {
            clock: Arc::new(store::SystemClock),
            indexer: Arc::new(search::Indexer::new(search::Registry::r4()).unwrap()),
            readers: 4,
        },
    )
    .unwrap()
}

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

const LOINC: &str = "http://loinc.org";

/// A screening of patient `p`, answer pattern `k`: a third with a need (food or transport).
fn screening(n: usize, p: usize) -> Value {
    let answer = |link: &str, code: &str| json!({"linkId": link, "answer": [{"valueCoding": {"system": LOINC, "code": code}}]});
    let (food, ride) = match n % 6 {
        0 => ("LA6729-3", "LA32-8"),
        1 => ("LA28398-8", "LA33-6"),
        _ => ("LA28398-8", "LA32-8"),
    };
    json!({"resourceType": "QuestionnaireResponse", "id": format!("qr{n}"), "status": "completed",
        "questionnaire": social_needs::QUESTIONNAIRE_URL, "language": "en",
        "subject": {"reference": format!("Patient/p{p}")}, "authored": "2026-11-20T10:00:00Z",
        "item": [answer("q1", "LA31993-1"), answer("q3", food), answer("q4", "LA28398-8"),
                 answer("q5", ride), answer("q6", "LA32-8")]})
}

fn screenings(dir: &std::path::Path) {
    let n = env("REFERRALS_BENCH_SCREENINGS", 100_000);
    let patients = (n / 5).max(1);
    // The rules alone: read, score and shape every response, in memory.
    let i = social_needs::Instrument::ahc_hrsn();
    let responses: Vec<Value> = (0..n).map(|k| screening(k, k % patients)).collect();
    let t = Instant::now();
    let mut resources = 0;
    for r in &responses {
        let answers = i.answers(r).unwrap();
        let ctx = social_needs::Context {
            patient: "p",
            response: "QuestionnaireResponse/r",
            when: "2026-11-20T10:00:00Z",
            performer: None,
            prefix: "hrsn-r",
        };
        resources += i.observations(&answers, &ctx).len() + i.concerns(&answers, &ctx).len();
    }
    println!(
        "scoring rules: {n} responses into {resources} Observations and concerns in {:.2} s, in memory",
        t.elapsed().as_secs_f64()
    );
    drop(responses);
    let store = open(dir, "screenings.db");
    put_all(
        &*store,
        (0..patients)
            .map(|p| json!({"resourceType": "Patient", "id": format!("p{p}"), "name": [{"family": format!("P{p}")}]}))
            .collect(),
    );
    let s = screening::Screenings::new(store.clone());
    s.catch_up().unwrap();
    let started = Instant::now();
    put_all(
        &*store,
        (0..n).map(|i| screening(i, i % patients)).collect(),
    );
    let written = started.elapsed();
    let scoring = Instant::now();
    s.catch_up().unwrap();
    let scored = scoring.elapsed();
    let total = started.elapsed();
    println!(
        "screenings: {n} written in {:.2} s, scored and their Observations and concerns written in {:.2} s; {:.2} s in all ({:.0}/s)",
        written.as_secs_f64(),
        scored.as_secs_f64(),
        total.as_secs_f64(),
        n as f64 / total.as_secs_f64()
    );
}

const SDOHCC: &str =
    "http://hl7.org/fhir/us/sdoh-clinicalcare/CodeSystem/SDOHCC-CodeSystemTemporaryCodes";

fn worklist(dir: &std::path::Path) {
    let open_referrals = env("REFERRALS_BENCH_OPEN", 10_000);
    let patients = 5_000;
    let store = open(dir, "worklist.db");
    let hsds = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../community/test_data/hsds/services.json"),
    )
    .unwrap();
    let r = referrals::Referrals::new(
        store.clone(),
        referrals::Config::default(),
        Arc::new(store::SystemClock),
    );
    r.import(&Access::system(), &hsds).unwrap();
    let mut records: Vec<Value> = (0..patients)
        .map(|p| json!({"resourceType": "Patient", "id": format!("p{p}"), "name": [{"family": format!("P{p}")}],
            "telecom": [{"system": "phone", "value": "617-555-0100"}]}))
        .collect();
    let statuses = [
        "requested",
        "received",
        "accepted",
        "in-progress",
        "on-hold",
    ];
    let start = Utc.with_ymd_and_hms(2026, 9, 1, 9, 0, 0).unwrap();
    for i in 0..open_referrals {
        let p = i % patients;
        let sent = start + chrono::Duration::minutes(i as i64 * 11);
        let at = sent.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        records.push(json!({"resourceType": "ServiceRequest", "id": format!("sr{i}"), "status": "active", "intent": "order",
            "category": [{"coding": [{"system": SDOHCC, "code": "food-insecurity"}]}], "code": {"text": "Referral"},
            "subject": {"reference": format!("Patient/p{p}")}, "performer": [{"reference": "Organization/cbo-o1"}], "authoredOn": at}));
        records.push(json!({"resourceType": "Task", "id": format!("t{i}"), "status": statuses[i % statuses.len()], "intent": "order",
            "code": {"coding": [{"system": "http://hl7.org/fhir/CodeSystem/task-code", "code": "fulfill"}]},
            "focus": {"reference": format!("ServiceRequest/sr{i}")}, "for": {"reference": format!("Patient/p{p}")},
            "owner": {"reference": "Organization/cbo-o1"}, "authoredOn": at, "lastModified": at,
            "input": [{"type": {"text": "Service"}, "valueReference": {"reference": "HealthcareService/cbo-s1"}}]}));
    }
    // A few hundred needs awaiting a decision.
    for p in 0..300 {
        records.push(json!({"resourceType": "Condition", "id": format!("c{p}"),
            "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]},
            "verificationStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "unconfirmed"}]},
            "category": [{"coding": [{"system": "http://hl7.org/fhir/us/core/CodeSystem/condition-category", "code": "health-concern"}]},
                         {"coding": [{"system": SDOHCC, "code": "food-insecurity"}]}],
            "code": {"text": "Food insecurity"}, "subject": {"reference": format!("Patient/p{p}")}, "recordedDate": "2026-11-20T10:00:00Z"}));
    }
    put_all(&*store, records);
    let social = Access::caller(
        Principal {
            id: "social".into(),
            name: "Social worker".into(),
            role: Role::SocialWorker,
            practitioner: Some("Practitioner/sw".into()),
            wards: vec![],
            organization: None,
            scopes: None,
            via: Via::Session,
        },
        Reach::Patients((0..patients).map(|p| format!("p{p}")).collect()),
        None,
    );
    let s = screening::Screenings::new(store.clone());
    let now = Utc.with_ymd_and_hms(2026, 12, 7, 9, 0, 0).unwrap();
    let mut times: Vec<Duration> = Vec::new();
    let mut shown = (0, 0, 0);
    for round in 0..60 {
        let t = Instant::now();
        let w = r.worklist(&social, now).unwrap();
        let waiting = s.awaiting(&social, 200).unwrap();
        let took = t.elapsed();
        if round >= 10 {
            times.push(took);
        }
        shown = (w.open.len(), w.due.len(), waiting.len());
    }
    times.sort();
    let at = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
    let total: usize = r
        .worklist(&social, now)
        .unwrap()
        .by_status
        .iter()
        .map(|(_, n)| n)
        .sum();
    println!(
        "worklist: {total} open referrals, {patients} patients reached; showing {} open, {} follow-ups due, {} needs awaiting; p50 {:.1} ms, p99 {:.1} ms",
        shown.0,
        shown.1,
        shown.2,
        at(0.5).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3
    );
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    worklist(dir.path());
    screenings(dir.path());
}
