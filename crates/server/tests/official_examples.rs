//! The official R4 examples (`shared/data/fhir-r4/hl7.fhir.r4.examples-4.0.1.tgz`): every
//! one is PUT at its own id through the HTTP API and read back unchanged apart from
//! `meta`. The examples that are themselves invalid are listed, with the reason, in
//! `crates/fhir/test_data/invalid-official-examples.txt`; exactly those must be rejected.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

mod support;

fn examples() -> Vec<(String, Value)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/fhir-r4/hl7.fhir.r4.examples-4.0.1.tgz");
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut out = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().to_string_lossy().to_string();
        let Some(file) = name.strip_prefix("package/") else {
            continue;
        };
        if !file.ends_with(".json")
            || file.contains('/')
            || file == "package.json"
            || file.starts_with('.')
        {
            continue;
        }
        let mut text = String::new();
        if entry.read_to_string(&mut text).is_err() {
            continue;
        }
        let Ok(v) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        if v.get("resourceType").and_then(Value::as_str).is_some() {
            out.push((file.to_string(), v));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn without_meta(mut v: Value) -> Value {
    if let Value::Object(m) = &mut v {
        m.remove("meta");
    }
    v
}

fn listed_invalid() -> BTreeSet<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fhir/test_data/invalid-official-examples.txt");
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| l.split('\t').next().unwrap_or("").to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_examples_round_trip() {
    let dir = std::env::temp_dir().join(format!("tend-examples-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let options = store::Options {
        clock: Arc::new(store::SystemClock),
        indexer: Arc::new(search::Indexer::new(search::Registry::r4()).unwrap()),
        readers: 4,
    };
    let store = store::open(
        &format!("sqlite://{}", dir.join("ex.db").display()),
        options,
    )
    .unwrap();
    // As an integration service (every type, every patient), through the gate and the
    // audit as `tend serve` composes them.
    let (gate, bearer) = support::gate(&store);
    support::account(&gate, "privacy", access::Role::PrivacyOfficer, None);
    let auditor = support::bearer(&gate, "privacy");
    let state = server::AppState::new(store, gate);
    let app = server::compose(server::app(state.clone()), &state, false);
    let all = examples();
    assert!(all.len() > 5000, "{} examples", all.len());

    // PUT them, 32 requests in flight, so commits are grouped.
    let mut results: BTreeMap<String, (u16, String)> = BTreeMap::new();
    for chunk in all.chunks(32) {
        let mut tasks = Vec::new();
        for (file, v) in chunk {
            let app = app.clone();
            let rtype = v["resourceType"].as_str().unwrap().to_string();
            let (method, uri) = match v.get("id").and_then(Value::as_str) {
                Some(id) => ("PUT", format!("/fhir/{rtype}/{id}")),
                None => ("POST", format!("/fhir/{rtype}")),
            };
            let body = v.to_string();
            let file = file.clone();
            let bearer = bearer.clone();
            tasks.push(tokio::spawn(async move {
                let req = Request::builder()
                    .method(method)
                    .uri(uri)
                    .header("content-type", "application/fhir+json")
                    .header("authorization", bearer)
                    .body(Body::from(body))
                    .unwrap();
                let resp = app.oneshot(req).await.unwrap();
                let status = resp.status().as_u16();
                let bytes = resp.into_body().collect().await.unwrap().to_bytes();
                (file, status, String::from_utf8_lossy(&bytes).to_string())
            }));
        }
        for t in tasks {
            let (file, status, body) = t.await.unwrap();
            results.insert(file, (status, body));
        }
    }
    let rejected: BTreeSet<String> = results
        .iter()
        .filter(|(_, (s, _))| *s >= 300)
        .map(|(f, _)| f.clone())
        .collect();
    for f in &rejected {
        let (s, body) = &results[f];
        assert!(*s == 400, "{f}: status {s}: {body}");
        let outcome: Value = serde_json::from_str(body).unwrap();
        assert_eq!(outcome["resourceType"], "OperationOutcome", "{f}");
    }

    // Read each stored one back: unchanged apart from meta. Examples that share an id
    // (the same resource in several files) compare against the last one written.
    let mut last_by_key: BTreeMap<String, (&String, &Value)> = BTreeMap::new();
    for (file, v) in &all {
        if rejected.contains(file) || v.get("id").is_none() {
            continue;
        }
        let key = format!(
            "{}/{}",
            v["resourceType"].as_str().unwrap(),
            v["id"].as_str().unwrap()
        );
        last_by_key.insert(key, (file, v));
    }
    let mut mismatches = Vec::new();
    for (key, (file, original)) in &last_by_key {
        // Audit records are read with the audit permission.
        let who = if key.starts_with("AuditEvent/") {
            &auditor
        } else {
            &bearer
        };
        let req = Request::builder()
            .uri(format!("/fhir/{key}"))
            .header("authorization", who)
            .body(Body::empty())
            .unwrap();
        let resp = app.clone().oneshot(req).await.unwrap();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let back: Value = serde_json::from_slice(&bytes).unwrap();
        if without_meta(back) != without_meta((*original).clone()) {
            mismatches.push(file.to_string());
        }
    }
    let listed = listed_invalid();
    let unexpected: Vec<_> = rejected.difference(&listed).collect();
    let unlisted_accepted: Vec<_> = listed
        .difference(&rejected)
        .filter(|f| results.contains_key(*f))
        .collect();
    println!(
        "official R4 examples: {} loaded, {} stored and read back unchanged, {} rejected as listed invalid, {} read-back mismatches",
        all.len(),
        last_by_key.len() - mismatches.len(),
        rejected.len(),
        mismatches.len()
    );
    let _ = std::fs::remove_dir_all(&dir);
    assert!(mismatches.is_empty(), "read back changed: {mismatches:?}");
    assert!(
        unexpected.is_empty(),
        "rejected but not listed as invalid: {unexpected:?}"
    );
    assert!(
        unlisted_accepted.is_empty(),
        "listed as invalid but accepted: {unlisted_accepted:?}"
    );
}
