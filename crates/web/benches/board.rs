//! `cargo bench -p web`: how fast the ward board is served. A ward of 40 occupied beds, each
//! patient with 12 scored sets and a quarter with an open alert, on a fresh SQLite store;
//! the board page and its live-update rows are requested 200 times each, in process
//! (no socket), after sign-in. Prints p50/p99; asserts nothing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use store::{Entry, Mode, WriteOp};
use tower::ServiceExt;

const PT: &str = "http://terminology.hl7.org/CodeSystem/location-physical-type";
const BEDS: usize = 40;
const SETS: usize = 12;

fn put(r: Value) -> Entry {
    Entry {
        full_url: None,
        op: WriteOp::Update {
            rtype: r["resourceType"].as_str().unwrap().to_string(),
            id: r["id"].as_str().unwrap().to_string(),
            resource: r,
            if_match: None,
        },
    }
}

fn reading(id: String, p: usize, code: &str, value: Value, unit: &str, at: &str) -> Value {
    let mut o = json!({"resourceType": "Observation", "id": id, "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
        "subject": {"reference": format!("Patient/bp{p}")}, "encounter": {"reference": format!("Encounter/be{p}")},
        "effectiveDateTime": at});
    if unit.is_empty() {
        o["valueCodeableConcept"] =
            json!({"coding": [{"system": "http://snomed.info/sct", "code": value}]});
    } else {
        o["valueQuantity"] =
            json!({"value": value, "system": "http://unitsofmeasure.org", "code": unit});
    }
    o
}

fn hospital(now_ms: i64) -> Vec<Value> {
    let mut v = vec![
        json!({"resourceType": "Location", "id": "bward", "name": "Bench ward", "status": "active",
            "physicalType": {"coding": [{"system": PT, "code": "wa"}]}}),
        json!({"resourceType": "Practitioner", "id": "bn", "name": [{"text": "Bench Nurse"}]}),
        json!({"resourceType": "PractitionerRole", "id": "role-bn", "active": true,
            "practitioner": {"reference": "Practitioner/bn"}, "code": [{"text": "Staff nurse"}],
            "location": [{"reference": "Location/bward"}]}),
    ];
    for p in 0..BEDS {
        v.push(json!({"resourceType": "Location", "id": format!("bbed{p}"), "name": format!("B-{p:02}"),
            "status": "active", "physicalType": {"coding": [{"system": PT, "code": "bd"}]}, "partOf": {"reference": "Location/bward"}}));
        v.push(json!({"resourceType": "Patient", "id": format!("bp{p}"), "name": [{"given": ["Bench"], "family": format!("Patient{p}")}],
            "birthDate": "1950-01-01", "gender": "female",
            "communication": [{"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": "en", "display": "English"}]}, "preferred": true}]}));
        v.push(json!({"resourceType": "Encounter", "id": format!("be{p}"), "status": "in-progress",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
            "subject": {"reference": format!("Patient/bp{p}")},
            "location": [
                {"location": {"reference": "Location/bward"}, "status": "active", "physicalType": {"coding": [{"system": PT, "code": "wa"}]}},
                {"location": {"reference": format!("Location/bbed{p}"), "display": format!("B-{p:02}")}, "status": "active", "physicalType": {"coding": [{"system": PT, "code": "bd"}]}}]}));
        for s in 0..SETS {
            let at = search::format_instant(now_ms - ((SETS - s) as i64) * 3_600_000);
            // The last set of every fourth patient alerts (medium).
            let sick = p % 4 == 0 && s == SETS - 1;
            let id = format!("b{p}-{s}");
            let members = vec![
                reading(
                    format!("{id}-rr"),
                    p,
                    "9279-1",
                    json!(if sick { 23 } else { 16 }),
                    "/min",
                    &at,
                ),
                reading(format!("{id}-spo2"), p, "59408-5", json!(96), "%", &at),
                reading(format!("{id}-o2"), p, "3151-8", json!(0), "L/min", &at),
                reading(
                    format!("{id}-sbp"),
                    p,
                    "8480-6",
                    json!(if sick { 99 } else { 124 }),
                    "mm[Hg]",
                    &at,
                ),
                reading(
                    format!("{id}-hr"),
                    p,
                    "8867-4",
                    json!(if sick { 112 } else { 72 }),
                    "/min",
                    &at,
                ),
                reading(
                    format!("{id}-avpu"),
                    p,
                    "67775-7",
                    json!("248234008"),
                    "",
                    &at,
                ),
                reading(format!("{id}-temp"), p, "8310-5", json!(37.0), "Cel", &at),
            ];
            let mut panel = reading(id.clone(), p, "85353-1", json!(0), "/min", &at);
            panel.as_object_mut().unwrap().remove("valueQuantity");
            panel["hasMember"] = json!(members
                .iter()
                .map(|m| json!({"reference": format!("Observation/{}", m["id"].as_str().unwrap())}))
                .collect::<Vec<_>>());
            v.extend(members);
            v.push(panel);
        }
    }
    v
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let options = store::Options {
            clock: Arc::new(store::SystemClock),
            indexer: Arc::new(search::Indexer::new(search::Registry::r4()).unwrap()),
            readers: 4,
        };
        let store = store::open(
            &format!("sqlite://{}", dir.path().join("board.db").display()),
            options,
        )
        .unwrap();
        let now = chrono::Utc::now().timestamp_millis();
        let resources = hospital(now);
        for chunk in resources.chunks(1000) {
            store
                .write(
                    &store::Access::system(),
                    chunk.iter().cloned().map(put).collect(),
                    Mode::Independent,
                )
                .unwrap();
        }
        let ew = early_warning::EarlyWarning::new(
            store.clone(),
            early_warning::Config::default(),
            Arc::new(store::SystemClock),
        );
        ew.start();
        assert!(ew.wait_processed(store.commits().latest(), Duration::from_secs(120)));
        let hub = early_warning::Hub::start(ew.clone());
        // A nurse of the ward, signed in with a password, through the gate as `tend serve` runs.
        let accounts = Arc::new(accounts::Accounts::new(
            store.clone(),
            Arc::new(store::SystemClock),
        ));
        let password = "a long bench passphrase for ward duty";
        for (username, role, wards) in [
            ("admin", access::Role::Administrator, vec![]),
            (
                "nurse",
                access::Role::Nurse,
                vec!["Location/bward".to_string()],
            ),
        ] {
            accounts
                .add(
                    accounts::NewAccount {
                        username: username.into(),
                        name: format!("Bench {username}"),
                        role,
                        practitioner: Some("Practitioner/bn".into()),
                        wards,
                        organization: None,
                        password: password.into(),
                    },
                    "bench",
                )
                .unwrap();
        }
        let (token, _) = accounts
            .sign_in("nurse", password, "127.0.0.1")
            .unwrap()
            .unwrap();
        let cookie = format!("{}={token}", server::gate::SESSION_COOKIE);
        let gate = Arc::new(server::Gate::new(
            accounts,
            Arc::new(accounts::smart::Smart::none()),
        ));
        let state = server::AppState::new(store.clone(), gate).with_early_warning(ew.clone(), hub);
        let app = server::guarded(web::router(state.clone(), web::WebConfig::default()), state);
        for (name, url) in [
            ("board page", "/board?ward=bward&view=standard"),
            (
                "board rows (live update)",
                "/board/rows?ward=bward&view=standard",
            ),
            ("compact board page", "/board?ward=bward&view=compact"),
        ] {
            let mut times = Vec::new();
            let mut bytes = 0;
            for i in 0..220 {
                let started = Instant::now();
                let resp = app
                    .clone()
                    .oneshot(
                        Request::get(url)
                            .header("cookie", &cookie)
                            .body(Body::empty())
                            .unwrap(),
                    )
                    .await
                    .unwrap();
                assert_eq!(resp.status(), 200);
                let body = resp.into_body().collect().await.unwrap().to_bytes();
                if i >= 20 {
                    times.push(started.elapsed().as_secs_f64() * 1000.0);
                }
                bytes = body.len();
            }
            times.sort_by(|a, b| a.total_cmp(b));
            println!(
                "web {name}: {BEDS} beds, {} KB, p50 {:.1} ms, p99 {:.1} ms",
                bytes / 1024,
                percentile(&times, 0.5),
                percentile(&times, 0.99)
            );
        }
        ew.stop();
    });
}
