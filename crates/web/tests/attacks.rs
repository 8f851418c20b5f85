//! The attacks of a nurse with valid credentials on a patient outside her care, each as a
//! case of `data/attacks.json` (which row of the trust review it reproduces, the request, the
//! answer expected, what the body must and must not hold, and which patient its audit record
//! must name). Every case goes through the whole application as `tend serve` layers it; the
//! store decides. Afterwards, patient X's record is exactly as it was.
//!
//! The world: nurse of Ward T with patient p1 ("Ward-T"); patient X is p2 ("Ward-U"), an
//! inpatient of Ward U whose heart rate reading `o2` is 123/min; p1's is 88/min.
//! The cases look for X's reading as `123.0`, as the JSON answers write it, so that a
//! timestamp's milliseconds (`.123Z`) never pass for it.

use std::sync::Arc;

use access::Role;
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use serde_json::{json, Value};
use store::{Access, Store};

mod support;
use support::send;

fn hospital() -> Vec<Value> {
    let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    // The single readings were taken an hour ago (sets written later are the latest).
    let earlier = (chrono::Utc::now() - chrono::Duration::hours(1))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let obs = |id: &str, patient: &str, value: f64| {
        json!({"resourceType": "Observation", "id": id, "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
            "subject": {"reference": format!("Patient/{patient}")}, "effectiveDateTime": earlier,
            "valueQuantity": {"value": value, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"}})
    };
    let encounter = |id: &str, patient: &str, ward: &str| {
        json!({"resourceType": "Encounter", "id": id, "status": "in-progress",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
            "subject": {"reference": format!("Patient/{patient}")}, "period": {"start": now},
            "location": [{"location": {"reference": format!("Location/{ward}")}, "status": "active"}]})
    };
    vec![
        json!({"resourceType": "Location", "id": "ward-t", "name": "Ward T", "status": "active"}),
        json!({"resourceType": "Location", "id": "ward-u", "name": "Ward U", "status": "active"}),
        json!({"resourceType": "Practitioner", "id": "n1", "name": [{"text": "Nell Nurse"}]}),
        json!({"resourceType": "Patient", "id": "p1", "name": [{"family": "Ward-T"}]}),
        json!({"resourceType": "Patient", "id": "p2", "name": [{"family": "Ward-U"}],
            "identifier": [{"system": "urn:tend:mrn", "value": "X-1"}]}),
        encounter("e1", "p1", "ward-t"),
        encounter("e2", "p2", "ward-u"),
        obs("o1", "p1", 88.0),
        obs("o2", "p2", 123.0),
    ]
}

struct World {
    app: axum::Router,
    store: Arc<dyn Store>,
    gate: Arc<server::Gate>,
    _dir: tempfile::TempDir,
}

fn world() -> World {
    world_with(false)
}

/// A full set of high-scoring vital signs (NEWS2 15) for a patient during an encounter.
fn high_set(patient: &str, encounter: &str) -> Vec<Value> {
    let at = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let reading = |kind: &str, code: &str, value: Value, unit: &str| {
        let mut o = json!({"resourceType": "Observation", "id": format!("{patient}-{kind}"), "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
            "subject": {"reference": format!("Patient/{patient}")},
            "encounter": {"reference": format!("Encounter/{encounter}")}, "effectiveDateTime": at});
        if code == "67775-7" {
            o["valueCodeableConcept"] =
                json!({"coding": [{"system": "http://snomed.info/sct", "code": value}]});
        } else {
            o["valueQuantity"] =
                json!({"value": value, "system": "http://unitsofmeasure.org", "code": unit});
        }
        o
    };
    let mut v = vec![
        reading("rr", "9279-1", json!(30), "/min"),
        reading("spo2", "59408-5", json!(88), "%"),
        reading("o2", "3151-8", json!(2), "L/min"),
        reading("sbp", "8480-6", json!(85), "mm[Hg]"),
        reading("hr", "8867-4", json!(135), "/min"),
        reading("avpu", "67775-7", json!("248234008"), ""),
        reading("temp", "8310-5", json!(39.5), "Cel"),
    ];
    let members: Vec<Value> = v
        .iter()
        .map(|o| json!({"reference": format!("Observation/{}", o["id"].as_str().unwrap())}))
        .collect();
    v.push(
        json!({"resourceType": "Observation", "id": format!("{patient}-panel"), "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "85353-1"}]},
        "subject": {"reference": format!("Patient/{patient}")},
        "encounter": {"reference": format!("Encounter/{encounter}")}, "effectiveDateTime": at,
        "hasMember": members}),
    );
    v
}

fn world_with(early_warning: bool) -> World {
    let dir = tempfile::tempdir().unwrap();
    let store = support::sqlite_store(dir.path());
    support::put_all(&*store, hospital());
    let mut state = server::AppState::new(store.clone(), support::gate(&store));
    if early_warning {
        support::put_all(
            &*store,
            [high_set("p1", "e1"), high_set("p2", "e2")].concat(),
        );
        let ew = early_warning::EarlyWarning::new(
            store.clone(),
            early_warning::Config::default(),
            Arc::new(store::SystemClock),
        );
        ew.catch_up().unwrap();
        let hub = early_warning::Hub::start(ew.clone());
        state = state.with_early_warning(ew, hub);
    }
    let gate = state.gate.clone();
    let ward = ["Location/ward-t"];
    support::account(&gate, "nurse", Role::Nurse, Some("Practitioner/n1"), &ward);
    support::account(&gate, "quality", Role::QualityOfficer, None, &[]);
    support::account(&gate, "privacy", Role::PrivacyOfficer, None, &[]);
    World {
        app: support::app(state),
        store,
        gate,
        _dir: dir,
    }
}

/// The newest AuditEvent.
fn last_audit(store: &dyn Store) -> Value {
    let (hits, _) = store.scan("AuditEvent", 0, 1_000_000).unwrap();
    serde_json::from_str(&hits.last().unwrap().body).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_attack_is_refused_by_the_store_and_audited() {
    let w = world();
    let token = |who: &str| {
        w.gate
            .accounts
            .issue_token(who, "attack", None, "test")
            .unwrap()
    };
    let bearer: std::collections::HashMap<&str, String> = ["nurse", "admin", "quality", "privacy"]
        .into_iter()
        .map(|u| (u, token(u)))
        .collect();
    let session = support::sign_in(&w.app, "nurse").await;
    let before = |id: &str, t: &str| {
        w.store
            .read(&Access::system(), t, id)
            .unwrap()
            .unwrap()
            .body
    };
    let (p2, o2, o1) = (
        before("p2", "Patient"),
        before("o2", "Observation"),
        before("o1", "Observation"),
    );
    let cases: Vec<Value> =
        serde_json::from_str(include_str!("data/attacks.json")).expect("attacks.json");
    assert!(cases.len() >= 20);
    for c in &cases {
        let what = format!("row {}: {}", c["row"], c["what"].as_str().unwrap());
        let who = c["who"].as_str().unwrap();
        let mut r = Request::builder()
            .method(c["method"].as_str().unwrap())
            .uri(c["path"].as_str().unwrap());
        r = match who {
            "nurse-session" => r.header(header::COOKIE, &session),
            _ => r.header(header::AUTHORIZATION, format!("Bearer {}", bearer[who])),
        };
        let req = if let Some(form) = c["form"].as_str() {
            r.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(form.to_string()))
        } else if !c["body"].is_null() {
            r.header(header::CONTENT_TYPE, "application/fhir+json")
                .body(Body::from(c["body"].to_string()))
        } else {
            r.body(Body::empty())
        }
        .unwrap();
        let (status, _, body) = send(&w.app, req).await;
        assert_eq!(
            status.as_u16() as u64,
            c["status"].as_u64().unwrap(),
            "{what}: {body}"
        );
        if let Some(s) = c["entry_status"].as_str() {
            let b: Value = serde_json::from_str(&body).unwrap();
            let got = b["entry"][0]["response"]["status"].as_str().unwrap_or("");
            assert!(got.starts_with(s), "{what}: entry {got}: {body}");
        }
        for x in c["excludes"].as_array().into_iter().flatten() {
            let x = x.as_str().unwrap();
            assert!(!body.contains(x), "{what}: the answer holds {x}: {body}");
        }
        for x in c["includes"].as_array().into_iter().flatten() {
            let x = x.as_str().unwrap();
            assert!(body.contains(x), "{what}: the answer lacks {x}: {body}");
        }
        if let Some(p) = c["audit_names"].as_str() {
            let e = last_audit(&*w.store);
            assert!(
                e["entity"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|x| x["what"]["reference"] == p),
                "{what}: the audit record does not name {p}: {e}"
            );
        }
    }
    // Patient X's record is as it was, and nothing new is about X.
    assert_eq!(before("p2", "Patient"), p2);
    assert_eq!(before("o2", "Observation"), o2);
    assert_eq!(before("o1", "Observation"), o1);
    let about_x: Vec<String> = w
        .store
        .compartment(&Access::system(), "p2")
        .unwrap()
        .into_iter()
        .filter(|h| h.rtype != "AuditEvent" && h.patients.contains(&"p2".to_string()))
        .map(|h| format!("{}/{}", h.rtype, h.id))
        .collect();
    assert_eq!(about_x, ["Encounter/e2", "Observation/o2"]);
    let ward_u = w
        .store
        .read(&Access::system(), "Location", "ward-u")
        .unwrap()
        .unwrap();
    assert_eq!(ward_u.version, 1);
}

/// The store's own answer to a nurse, whatever the path: a direct read of X's record is
/// refused naming X; reads of her own patient succeed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_name_the_patient_aimed_at() {
    let w = world();
    let t = w
        .gate
        .accounts
        .issue_token("nurse", "attack", None, "test")
        .unwrap();
    for (path, status) in [
        ("/fhir/Observation/o2", StatusCode::FORBIDDEN),
        ("/fhir/Observation/o2/_history/1", StatusCode::FORBIDDEN),
        ("/fhir/Observation/o2/_history", StatusCode::FORBIDDEN),
        ("/fhir/Observation/o1", StatusCode::OK),
    ] {
        let (s, _, body) = send(
            &w.app,
            Request::get(path)
                .header(header::AUTHORIZATION, format!("Bearer {t}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(s, status, "{path}: {body}");
        let e = last_audit(&*w.store);
        let named = if status == StatusCode::OK {
            "Patient/p1"
        } else {
            "Patient/p2"
        };
        assert!(
            e["entity"]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x["what"]["reference"] == named),
            "{path}: {e}"
        );
    }
}

/// Every `Patient/ID` a resource names anywhere, and its own id when it is a Patient.
fn named_patients(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if m.get("resourceType").and_then(Value::as_str) == Some("Patient") {
                if let Some(id) = m.get("id").and_then(Value::as_str) {
                    out.push(id.to_string());
                }
            }
            m.values().for_each(|x| named_patients(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| named_patients(x, out)),
        Value::String(s) => {
            if let Some(rest) = s.split("Patient/").nth(1) {
                out.push(rest.split('/').next().unwrap_or_default().to_string());
            }
        }
        _ => {}
    }
}

/// Random searches by random callers over the world: nothing outside the caller's reach
/// (a straightforward model: the types of the role, the patients of the relationship) is
/// ever returned or counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_requests_never_reach_past_the_model() {
    let w = world();
    // More of the record: a problem and a care team for X, a task for p1.
    let more = [
        json!({"resourceType": "Condition", "id": "c2", "subject": {"reference": "Patient/p2"},
            "code": {"text": "Ward-U problem"}}),
        json!({"resourceType": "CareTeam", "id": "ct2", "status": "active",
            "subject": {"reference": "Patient/p2"}, "participant": [{"member": {"reference": "Practitioner/n9"}}]}),
        json!({"resourceType": "Task", "id": "t1", "status": "requested", "intent": "order",
            "for": {"reference": "Patient/p1"}}),
    ];
    support::put_all(&*w.store, more.to_vec());
    // (caller, role, patients it reaches)
    let callers = [
        ("nurse", Role::Nurse, vec!["p1"]),
        ("quality", Role::QualityOfficer, vec![]),
        ("privacy", Role::PrivacyOfficer, vec![]),
    ];
    let tokens: Vec<String> = callers
        .iter()
        .map(|(u, _, _)| {
            w.gate
                .accounts
                .issue_token(u, "random", None, "test")
                .unwrap()
        })
        .collect();
    let types = [
        "Observation",
        "Patient",
        "Encounter",
        "CareTeam",
        "Condition",
        "Task",
        "AuditEvent",
        "Location",
    ];
    let extras = [
        "",
        "subject=Patient/p2",
        "subject=Patient/p1",
        "_revinclude=Observation:subject",
        "_revinclude=AuditEvent:patient",
        "_include=*",
        "_elements=id",
        "_summary=count",
        "_total=accurate",
        "_has:Observation:subject:code=8867-4",
        "patient=p2",
        "_sort=-_lastUpdated",
    ];
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    let mut answered = 0;
    for _ in 0..600 {
        let c = next(callers.len());
        let (who, role, reach) = &callers[c];
        let rtype = types[next(types.len())];
        let q = format!(
            "{}&{}",
            extras[next(extras.len())],
            extras[next(extras.len())]
        );
        let path = format!("/fhir/{rtype}?{q}");
        let (s, _, body) = send(
            &w.app,
            Request::get(path.as_str())
                .header(header::AUTHORIZATION, format!("Bearer {}", tokens[c]))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        if s != StatusCode::OK {
            // Refused or not a valid search: then it says nothing about the record.
            assert!([400, 403].contains(&s.as_u16()), "{who} {path}: {s} {body}");
            assert!(
                !body.contains("123.0") && !body.contains("Ward-U"),
                "{who} {path}: {body}"
            );
            continue;
        }
        answered += 1;
        let b: Value = serde_json::from_str(&body).unwrap();
        let may_read = |t: &str| role.fhir(t, false);
        for e in b["entry"].as_array().into_iter().flatten() {
            let r = &e["resource"];
            let t = r["resourceType"].as_str().unwrap();
            if t == "OperationOutcome" {
                continue;
            }
            assert!(may_read(t), "{who} {path}: {t} returned");
            if t == "AuditEvent" {
                continue; // reached by permission (the privacy officer), not by patient
            }
            let mut named = Vec::new();
            named_patients(r, &mut named);
            for p in named {
                assert!(
                    reach.contains(&p.as_str()),
                    "{who} {path}: Patient/{p} in {r}"
                );
            }
        }
        // Counts: never more than the model lets the caller see of the type.
        if let Some(total) = b["total"].as_u64() {
            let visible: u64 = match (*who, rtype) {
                (_, t) if !may_read(t) => 0,
                ("nurse", "Observation" | "Patient" | "Encounter" | "Task") => 1,
                ("nurse", "Location") => 2,
                ("nurse", _) => 0,
                (_, "Location") => 2,
                ("privacy", "AuditEvent") => u64::MAX,
                _ => 0,
            };
            assert!(total <= visible, "{who} {path}: total {total}");
        }
    }
    assert!(
        answered > 150,
        "{answered} answered: the requests tested too little"
    );
}

/// Alert actions: who acts is the signed-in person (a `by` in the body changes nothing), and
/// acting on (or reading) an alert needs the patient's care relationship, as the chart does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alert_actions_act_as_the_signed_in_person_and_need_the_patient() {
    let w = world_with(true);
    let ew = w.store.clone();
    let t = w
        .gate
        .accounts
        .issue_token("nurse", "alerts", None, "test")
        .unwrap();
    let alert_of = |patient: &str| {
        let q = search::SearchQuery::parse(
            search::Registry::r4(),
            "Task",
            &[("patient".to_string(), format!("Patient/{patient}"))],
        )
        .unwrap();
        let page = ew.search(&Access::system(), &q).unwrap();
        assert_eq!(page.matches.len(), 1, "one alert for {patient}");
        page.matches[0].id.clone()
    };
    let (mine, theirs) = (alert_of("p1"), alert_of("p2"));
    let call = |method: &str, path: String, body: Option<Value>| {
        let r = Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {t}"));
        match body {
            Some(b) => r
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(b.to_string()))
                .unwrap(),
            None => r.body(Body::empty()).unwrap(),
        }
    };
    // Another ward's high alert: not readable, not resolvable, whoever the body names.
    let (s, _, body) = send(&w.app, call("GET", format!("/api/alerts/{theirs}"), None)).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
    let (s, _, body) = send(
        &w.app,
        call(
            "POST",
            format!("/api/alerts/{theirs}/resolve"),
            Some(json!({"by": "Practitioner/r1", "note": "resolved"})),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
    let e = last_audit(&*w.store);
    assert!(e.to_string().contains("Patient/p2"), "{e}");
    let task: Value = serde_json::from_str(
        &w.store
            .read(&Access::system(), "Task", &theirs)
            .unwrap()
            .unwrap()
            .body
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        task["status"], "requested",
        "the alert is still open: {task}"
    );
    // Her own patient's alert: acknowledged in her name, not the one the body gives.
    let (s, _, body) = send(
        &w.app,
        call(
            "POST",
            format!("/api/alerts/{mine}/acknowledge"),
            Some(json!({"by": "Practitioner/r1"})),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let view: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(view["acknowledged_by"], "Practitioner/n1", "{view}");
}

/// The live event stream carries only the patients the caller reaches: its access decides,
/// replayed events and live ones alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_stream_carries_only_patients_the_caller_reaches() {
    let w = world_with(true);
    let t = w
        .gate
        .accounts
        .issue_token("nurse", "events", None, "test")
        .unwrap();
    let resp = tower::ServiceExt::oneshot(
        w.app.clone(),
        Request::get("/api/events")
            .header(header::AUTHORIZATION, format!("Bearer {t}"))
            .header("last-event-id", "0")
            .body(Body::empty())
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let mut body = resp.into_body();
    let mut text = String::new();
    let until = tokio::time::Instant::now() + std::time::Duration::from_secs(3);
    while let Ok(Some(Ok(frame))) =
        tokio::time::timeout_at(until, http_body_util::BodyExt::frame(&mut body)).await
    {
        if let Ok(data) = frame.into_data() {
            text.push_str(&String::from_utf8_lossy(&data));
        }
    }
    assert!(text.contains("Patient/p1"), "her ward's patient: {text}");
    assert!(
        !text.contains("Patient/p2"),
        "another ward's patient: {text}"
    );
}
