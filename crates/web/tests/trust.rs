//! Trust, end to end over the whole application as `tend serve` layers it (API, pages, gate,
//! audit) on a real SQLite store: the role × endpoint matrix from `data/access-matrix.tsv`
//! (every cell), audit completeness (every request of the matrix left exactly one AuditEvent
//! naming who and, where a patient was shown, which), break-the-glass in the web app and the
//! API and its place on the privacy officer's page, sensitive records, SMART backend-services
//! tokens over HTTP, forged, revoked and wrong-scope tokens, CSRF and session fixation.

use std::collections::HashMap;
use std::sync::Arc;

use access::Role;
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use p384::ecdsa::signature::Signer as _;
use serde_json::{json, Value};
use store::{Entry, Mode, Store, WriteOp};

mod support;
use support::send;

const LOINC: &str = "http://loinc.org";

fn today() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn hospital() -> Vec<Value> {
    let now = today();
    let obs = |id: &str, patient: &str, code: &str, value: f64, unit: &str| {
        json!({"resourceType": "Observation", "id": id, "status": "final",
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}]}],
            "code": {"coding": [{"system": LOINC, "code": code}]}, "subject": {"reference": format!("Patient/{patient}")},
            "effectiveDateTime": now, "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}})
    };
    let ward = |id: &str, name: &str| {
        json!({"resourceType": "Location", "id": id, "name": name, "status": "active",
        "physicalType": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/location-physical-type", "code": "wa"}]}})
    };
    let encounter = |id: &str, patient: &str, ward: &str| {
        json!({"resourceType": "Encounter", "id": id, "status": "in-progress",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
        "subject": {"reference": format!("Patient/{patient}")}, "period": {"start": now},
        "location": [{"location": {"reference": format!("Location/{ward}")}, "status": "active"}]})
    };
    vec![
        ward("ward-t", "Ward T"),
        ward("ward-u", "Ward U"),
        json!({"resourceType": "Practitioner", "id": "nav1", "name": [{"text": "Nadia Navigator"}]}),
        json!({"resourceType": "Patient", "id": "p1", "gender": "male", "birthDate": "1936-02-02", "name": [{"family": "Ward-T", "given": ["Arlo"]}]}),
        json!({"resourceType": "Patient", "id": "p2", "gender": "female", "birthDate": "1940-03-03", "name": [{"family": "Ward-U", "given": ["Bea"]}]}),
        json!({"resourceType": "Patient", "id": "p3", "gender": "female", "birthDate": "1950-04-04", "name": [{"family": "Clinic", "given": ["Cleo"]}]}),
        encounter("e1", "p1", "ward-t"),
        encounter("e2", "p2", "ward-u"),
        // A photograph of p1's wound: as private as p1's record.
        json!({"resourceType": "Binary", "id": "bin-p1", "contentType": "image/png", "data": "iVBORw0KGgo=",
            "securityContext": {"reference": "Patient/p1"}}),
        // p3 is on the suspected-cancer pathway (the navigator's worklist and timeline).
        json!({"resourceType": "ServiceRequest", "id": "sr3", "status": "active", "intent": "order",
            "meta": {"tag": [{"system": "https://tend.example.org/fhir/CodeSystem/pathway-event", "code": "urgent-suspected-cancer-referral"}]},
            "subject": {"reference": "Patient/p3"}, "authoredOn": now}),
        json!({"resourceType": "CareTeam", "id": "ct3", "status": "active", "subject": {"reference": "Patient/p3"},
            "participant": [{"member": {"reference": "Practitioner/nav1"}}]}),
        // A tumour board whose meeting m1 has p3 on its list.
        json!({"resourceType": "CareTeam", "id": "board-1", "status": "active", "name": "Lung MDT",
            "category": [{"coding": [{"system": "https://tend.example.org/fhir/CodeSystem/tumour-board", "code": "board"}]}],
            "participant": [{"member": {"reference": "Practitioner/coord1"}}]}),
        json!({"resourceType": "Appointment", "id": "m1", "status": "booked", "start": now, "end": now,
            "serviceType": [{"coding": [{"system": "https://tend.example.org/fhir/CodeSystem/tumour-board", "code": "meeting"}]}],
            "supportingInformation": [{"reference": "CareTeam/board-1"}],
            "participant": [{"actor": {"reference": "Practitioner/coord1"}, "status": "accepted"}]}),
        json!({"resourceType": "Task", "id": "case-1", "status": "accepted", "intent": "order",
            "code": {"coding": [{"system": "https://tend.example.org/fhir/CodeSystem/tumour-board", "code": "case"}]},
            "for": {"reference": "Patient/p3"}, "owner": {"reference": "CareTeam/board-1"},
            "basedOn": [{"reference": "Appointment/m1"}], "description": "Treatment options?", "authoredOn": now}),
        // A referral of p1 to a community food network (shared with its partner), with
        // the patient's consent.
        json!({"resourceType": "Organization", "id": "cbo-food", "name": "Food network"}),
        json!({"resourceType": "ServiceRequest", "id": "sdoh-sr-1", "status": "active", "intent": "order",
            "category": [{"coding": [{"system": "http://hl7.org/fhir/us/sdoh-clinicalcare/CodeSystem/SDOHCC-CodeSystemTemporaryCodes", "code": "food-insecurity"}]}],
            "code": {"text": "Referral to a food pantry"}, "subject": {"reference": "Patient/p1"},
            "performer": [{"reference": "Organization/cbo-food"}]}),
        body_for("PUT", "/fhir/Task/sdoh-task-1")
            .map(|mut t| {
                t["status"] = json!("requested");
                t
            })
            .unwrap(),
        json!({"resourceType": "Consent", "id": "sdoh-consent-1", "status": "active",
            "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]},
            "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
            "patient": {"reference": "Patient/p1"},
            "provision": {"type": "permit", "actor": [{"role": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "IRCP"}]},
                "reference": {"reference": "Organization/cbo-food"}}]}}),
        // A fall on ward T reported by the ward's nurse (Practitioner/n1): theirs and the
        // safety team's to read, nobody else's.
        json!({"resourceType": "AdverseEvent", "id": "ae-n1", "actuality": "actual",
            "subject": {"reference": "Patient/p1"}, "date": now,
            "recorder": {"reference": "Practitioner/n1", "display": "Test nurse"}}),
        // A cohort for Bulk Data export at Group level.
        json!({"resourceType": "Group", "id": "cohort-1", "type": "person", "actual": true,
            "member": [{"entity": {"reference": "Patient/p1"}}, {"entity": {"reference": "Patient/p3"}}]}),
        obs("o1", "p1", "8867-4", 88.0, "/min"),
        obs("o2", "p2", "8867-4", 90.0, "/min"),
        obs("o3", "p3", "8867-4", 70.0, "/min"),
        obs("bp1", "p1", "8480-6", 128.0, "mm[Hg]"),
        // An interpersonal-safety screening answer: sensitive.
        json!({"resourceType": "Observation", "id": "safety1", "status": "final",
            "code": {"coding": [{"system": LOINC, "code": "95618-5", "display": "Physically hurt you"}]},
            "subject": {"reference": "Patient/p1"}, "effectiveDateTime": now,
            "valueCodeableConcept": {"coding": [{"system": LOINC, "code": "LA10082-8", "display": "Sometimes"}]}}),
    ]
}

fn key() -> (p384::ecdsa::SigningKey, Value) {
    let key = p384::ecdsa::SigningKey::random(&mut rsa::rand_core::OsRng);
    let point = key.verifying_key().to_encoded_point(false);
    let jwk = json!({"kty": "EC", "crv": "P-384", "kid": "k1",
        "x": B64.encode(point.x().unwrap()), "y": B64.encode(point.y().unwrap())});
    (key, jwk)
}

fn assertion(key: &p384::ecdsa::SigningKey, client: &str, aud: &str, jti: &str) -> String {
    let now = chrono::Utc::now().timestamp();
    let header = B64.encode(json!({"alg": "ES384", "kid": "k1", "typ": "JWT"}).to_string());
    let claims =
        json!({"iss": client, "sub": client, "aud": aud, "exp": now + 240, "iat": now, "jti": jti});
    let message = format!("{header}.{}", B64.encode(claims.to_string()));
    let sig: p384::ecdsa::Signature = key.sign(message.as_bytes());
    format!("{message}.{}", B64.encode(sig.to_vec()))
}

struct World {
    app: axum::Router,
    store: Arc<dyn Store>,
    gate: Arc<server::Gate>,
    key: p384::ecdsa::SigningKey,
}

async fn world() -> (World, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = store::open(
        &format!("sqlite://{}", dir.path().join("trust.db").display()),
        store::Options {
            clock: Arc::new(store::SystemClock),
            indexer: Arc::new(search::Indexer::new(search::Registry::r4()).unwrap()),
            readers: 4,
        },
    )
    .unwrap();
    let entries: Vec<Entry> = hospital()
        .into_iter()
        .map(|v| Entry {
            full_url: None,
            op: WriteOp::Update {
                rtype: v["resourceType"].as_str().unwrap().into(),
                id: v["id"].as_str().unwrap().into(),
                resource: v,
                if_match: None,
            },
        })
        .collect();
    store
        .write(&store::Access::system(), entries, Mode::Atomic)
        .unwrap();
    let ew = early_warning::EarlyWarning::new(
        store.clone(),
        early_warning::Config::default(),
        Arc::new(store::SystemClock),
    );
    ew.catch_up().unwrap();
    let hub = early_warning::Hub::start(ew.clone());
    let gaps = care_gaps::CareGaps::new(
        store.clone(),
        Arc::new(prevention::RuleSet::builtin()),
        Arc::new(store::SystemClock),
    );
    gaps.run_population().unwrap();
    let (key, jwk) = key();
    let smart = accounts::smart::Smart::from_json(
        &json!({"clients": [{"client_id": "lab", "name": "Laboratory system", "scopes": "system/*.* system/Observation.read",
            "jwks": {"keys": [jwk.clone()]}},
            {"client_id": "reader", "name": "Observation reader", "scopes": "system/Observation.read", "jwks": {"keys": [jwk]}}]})
        .to_string(),
        std::path::Path::new("."),
    )
    .unwrap();
    let accounts = accounts::Accounts::new(store.clone(), Arc::new(store::SystemClock));
    let gate = Arc::new(server::Gate::new(Arc::new(accounts), Arc::new(smart)));
    let exports = bulk_export::Exports::open(
        store.clone(),
        &dir.path().join("exports"),
        bulk_export::Config {
            per_owner: 100,
            ..Default::default()
        },
        Arc::new(store::SystemClock),
    )
    .unwrap();
    let state = server::AppState::new(store.clone(), gate.clone())
        .with_early_warning(ew, hub)
        .with_care_gaps(gaps)
        .with_exports(exports);
    let ward = ["Location/ward-t"];
    support::account(&gate, "nurse", Role::Nurse, Some("Practitioner/n1"), &ward);
    support::account(
        &gate,
        "physician",
        Role::Physician,
        Some("Practitioner/d1"),
        &ward,
    );
    support::account(
        &gate,
        "rapid",
        Role::RapidResponse,
        Some("Practitioner/r1"),
        &[],
    );
    support::account(
        &gate,
        "navigator",
        Role::Navigator,
        Some("Practitioner/nav1"),
        &[],
    );
    support::account(
        &gate,
        "coordinator",
        Role::MdtCoordinator,
        Some("Practitioner/coord1"),
        &[],
    );
    support::account(&gate, "social", Role::SocialWorker, None, &[]);
    support::account(&gate, "quality", Role::QualityOfficer, None, &[]);
    support::account(&gate, "safety", Role::SafetyReviewer, None, &[]);
    support::account(&gate, "privacy", Role::PrivacyOfficer, None, &[]);
    support::partner(&gate, "partner", "cbo-food");
    let nav = navigation::Navigation::new(
        store.clone(),
        navigation::Config::default(),
        Arc::new(store::SystemClock),
    );
    nav.catch_up().unwrap();
    let screenings = screening::Screenings::new(store.clone());
    let boards = mdt::TumourBoard::new(store.clone(), Arc::new(store::SystemClock));
    boards.catch_up().unwrap();
    let quality = measure_reports::MeasureReports::new(
        store.clone(),
        Arc::new(store::SystemClock),
        measure_reports::Config::default(),
    )
    .unwrap();
    quality.run_now().unwrap();
    let app = support::app_with(
        state,
        web::WebConfig {
            navigation: Some(nav),
            tumour_board: Some(boards),
            screening: Some(screenings),
            referrals: Some(referrals::Referrals::new(
                store.clone(),
                referrals::Config::default(),
                Arc::new(store::SystemClock),
            )),
            safety: Some(safety::Safety::new(
                store.clone(),
                Arc::new(store::SystemClock),
            )),
            measure_reports: Some(quality),
            sepsis: Some(sepsis_watch::Sepsis::new(
                store.clone(),
                chrono_tz::UTC,
                Arc::new(store::SystemClock),
            )),
            ..Default::default()
        },
    );
    (
        World {
            app,
            store,
            gate,
            key,
        },
        dir,
    )
}

/// A SMART access token for `client` with `scope`, through discovery and the token endpoint.
async fn smart_token(w: &World, client: &str, scope: &str, jti: &str) -> (StatusCode, Value) {
    let (s, _, conf) = send(
        &w.app,
        Request::get("/fhir/.well-known/smart-configuration")
            .header(header::HOST, "tend.test")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let conf: Value = serde_json::from_str(&conf).unwrap();
    let url = conf["token_endpoint"].as_str().unwrap().to_string();
    assert_eq!(url, "http://tend.test/auth/token");
    assert_eq!(
        conf["token_endpoint_auth_signing_alg_values_supported"],
        json!(["RS384", "ES384"])
    );
    let form = format!(
        "grant_type=client_credentials&scope={}&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion={}",
        scope.replace(' ', "+").replace('/', "%2F").replace('*', "%2A"),
        assertion(&w.key, client, &url, jti)
    );
    let (s, _, body) = send(
        &w.app,
        Request::post("/auth/token")
            .header(header::HOST, "tend.test")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form))
            .unwrap(),
    )
    .await;
    (s, serde_json::from_str(&body).unwrap_or(Value::Null))
}

fn body_for(method: &str, path: &str) -> Option<Value> {
    match (method, path) {
        ("POST", "/fhir/Observation") => {
            Some(json!({"resourceType": "Observation", "status": "final",
            "code": {"coding": [{"system": LOINC, "code": "8867-4"}]}, "subject": {"reference": "Patient/p1"},
            "effectiveDateTime": today(), "valueQuantity": {"value": 91, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"}}))
        }
        // A central line in p1, as the ward records it.
        ("POST", "/fhir/DeviceUseStatement") => Some(
            json!({"resourceType": "DeviceUseStatement", "status": "active",
            "subject": {"reference": "Patient/p1"}, "device": {"reference": "Device/line-1"},
            "timingPeriod": {"start": today()}}),
        ),
        ("POST", "/fhir/Task") => Some(
            json!({"resourceType": "Task", "status": "requested", "intent": "order",
            "for": {"reference": "Patient/p1"}, "description": "Call back"}),
        ),
        // A transaction Bundle writing a reading for p1.
        ("POST", "/fhir") => Some(
            json!({"resourceType": "Bundle", "type": "transaction", "entry": [
            {"resource": body_for("POST", "/fhir/Observation")?, "request": {"method": "POST", "url": "Observation"}}]}),
        ),
        // A conditional update of p1's reading.
        ("PUT", "/fhir/Observation?_id=o1") => {
            let mut o = body_for("POST", "/fhir/Observation")?;
            o["id"] = json!("o1");
            Some(o)
        }
        ("PATCH", "/fhir/Observation/o1") => Some(json!([
            {"op": "replace", "path": "/status", "value": "amended"}
        ])),
        ("PUT", "/fhir/Task/sdoh-task-1") => Some(
            json!({"resourceType": "Task", "id": "sdoh-task-1", "status": "accepted", "intent": "order",
            "code": {"coding": [{"system": "http://hl7.org/fhir/CodeSystem/task-code", "code": "fulfill"}]},
            "focus": {"reference": "ServiceRequest/sdoh-sr-1"}, "for": {"reference": "Patient/p1"},
            "owner": {"reference": "Organization/cbo-food"}}),
        ),
        // A new report about p1, anonymous.
        ("POST", "/fhir/AdverseEvent") => Some(
            json!({"resourceType": "AdverseEvent", "actuality": "potential",
            "subject": {"reference": "Patient/p1"}, "date": today()}),
        ),
        // The nurse's report, changed.
        ("PUT", "/fhir/AdverseEvent/ae-n1") => Some(
            json!({"resourceType": "AdverseEvent", "id": "ae-n1", "actuality": "actual",
            "subject": {"reference": "Patient/p1"}, "date": today(),
            "recorder": {"reference": "Practitioner/n1", "display": "Test nurse"}}),
        ),
        ("PUT", "/fhir/Location/ward-x") => Some(
            json!({"resourceType": "Location", "id": "ward-x", "name": "Ward X", "status": "active"}),
        ),
        _ => None,
    }
}

/// One request as `who` (a bearer token for the API, a session cookie for pages).
fn request(method: &str, path: &str, bearer: Option<&str>, cookie: Option<&str>) -> Request<Body> {
    let mut r = Request::builder().method(method).uri(path);
    if let Some(t) = bearer {
        r = r.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    if let Some(c) = cookie {
        r = r.header(header::COOKIE, c);
    }
    if path.contains("/$export") {
        r = r.header("prefer", "respond-async");
    }
    if path.ends_with("/_search") {
        return r
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from("subject=Patient/p1"))
            .unwrap();
    }
    let content_type = if method == "PATCH" {
        "application/json-patch+json"
    } else {
        "application/fhir+json"
    };
    match body_for(method, path) {
        Some(b) => r
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(b.to_string()))
            .unwrap(),
        None => r.body(Body::empty()).unwrap(),
    }
}

/// What happened, in the matrix's words.
fn verdict(status: StatusCode, location: Option<&str>) -> &'static str {
    match status.as_u16() {
        401 => "login",
        403 => "deny",
        303 | 302 | 307 if location == Some("/sign-in") => "login",
        _ => "allow",
    }
}

async fn events(store: &dyn Store) -> Vec<Value> {
    // Audit records ride the next group commit: make one, after everything queued.
    store.save_checkpoint("trust-test", 1).unwrap();
    let mut out = Vec::new();
    let mut cursor = 0;
    loop {
        let (hits, next) = store.scan("AuditEvent", cursor, 5000).unwrap();
        if hits.is_empty() {
            break;
        }
        out.extend(
            hits.into_iter()
                .map(|h| serde_json::from_str::<Value>(&h.body).unwrap()),
        );
        cursor = next;
    }
    out
}

fn described(e: &Value) -> Option<&str> {
    e["entity"]
        .as_array()?
        .iter()
        .find_map(|x| x["description"].as_str())
}

fn patients_of(e: &Value) -> Vec<String> {
    e["entity"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|x| x["what"]["reference"].as_str())
        .filter(|r| r.starts_with("Patient/"))
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_role_matrix_holds_and_every_request_is_audited() {
    let (w, _dir) = world().await;
    let people = [
        "nurse",
        "physician",
        "rapid",
        "navigator",
        "coordinator",
        "social",
        "quality",
        "safety",
        "privacy",
        "admin",
        "partner",
    ];
    let mut tokens: HashMap<&str, String> = HashMap::new();
    let mut cookies: HashMap<&str, String> = HashMap::new();
    for p in people {
        tokens.insert(
            p,
            w.gate
                .accounts
                .issue_token(p, "matrix", None, "test")
                .unwrap(),
        );
        cookies.insert(p, support::sign_in(&w.app, p).await);
    }
    let (s, t) = smart_token(&w, "lab", "system/*.*", "matrix-1").await;
    assert_eq!(s, StatusCode::OK, "{t}");
    assert_eq!(t["token_type"], "bearer");
    assert_eq!(t["expires_in"], 300);
    tokens.insert("service", t["access_token"].as_str().unwrap().to_string());

    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/access-matrix.tsv"),
    )
    .unwrap();
    let mut lines = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty());
    let columns: Vec<&str> = lines.next().unwrap().split('\t').collect();
    assert_eq!(
        &columns[2..],
        &[
            "none",
            "nurse",
            "physician",
            "rapid",
            "navigator",
            "coordinator",
            "social",
            "quality",
            "safety",
            "privacy",
            "admin",
            "partner",
            "service"
        ]
    );
    let mut wrong = Vec::new();
    let mut made: Vec<(String, String, String)> = Vec::new();
    let mut cells = 0;
    for line in lines {
        let cols: Vec<&str> = line.split('\t').collect();
        assert_eq!(cols.len(), columns.len(), "{line}");
        let (method, path) = (cols[0], cols[1]);
        let page = !(path.starts_with("/fhir") || path.starts_with("/api"));
        for (i, want) in cols.iter().enumerate().skip(2) {
            let who = columns[i];
            let (bearer, cookie) = match who {
                "none" => (None, None),
                "service" => (tokens.get("service").map(String::as_str), None),
                p if page => (None, cookies.get(p).map(String::as_str)),
                p => (tokens.get(p).map(String::as_str), None),
            };
            let resp =
                tower::ServiceExt::oneshot(w.app.clone(), request(method, path, bearer, cookie))
                    .await
                    .unwrap();
            let location = resp
                .headers()
                .get(header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .map(str::to_string);
            let got = verdict(resp.status(), location.as_deref());
            cells += 1;
            if got != *want {
                wrong.push(format!(
                    "{method} {path} as {who}: expected {want}, got {got} ({})",
                    resp.status()
                ));
            }
            let user = match who {
                "none" => String::new(),
                "service" => "lab".to_string(),
                p => p.to_string(),
            };
            made.push((user, method.to_string(), path.to_string()));
        }
    }
    assert!(cells >= 250, "{cells} cells");
    assert!(
        wrong.is_empty(),
        "{} cells wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );

    // Audit completeness: every request made above left exactly one AuditEvent naming who
    // made it (or, without credentials, nobody) and what it was.
    let all = events(&*w.store).await;
    let mut count: HashMap<(String, String), usize> = HashMap::new();
    for e in &all {
        let who = e["agent"][0]["altId"].as_str().unwrap_or("").to_string();
        if let Some(d) = described(e) {
            let query = e["entity"]
                .as_array()
                .into_iter()
                .flatten()
                .find_map(|x| x["query"].as_str())
                .map(|q| {
                    String::from_utf8(base64::engine::general_purpose::STANDARD.decode(q).unwrap())
                        .unwrap()
                });
            let target = match query {
                Some(q) => format!("{d}?{q}"),
                None => d.to_string(),
            };
            *count.entry((who, target)).or_default() += 1;
        }
    }
    for (user, method, path) in &made {
        let key = (user.clone(), format!("{method} {path}"));
        assert_eq!(count.get(&key), Some(&1), "AuditEvents for {key:?}");
    }
    // Who, role, patients and outcome.
    let read = all
        .iter()
        .find(|e| e["agent"][0]["altId"] == "nurse" && described(e) == Some("GET /fhir/Patient/p1"))
        .unwrap();
    assert_eq!(read["agent"][0]["role"][0]["coding"][0]["code"], "nurse");
    assert_eq!(patients_of(read), ["Patient/p1"]);
    assert_eq!(read["outcome"], "0");
    let denied = all
        .iter()
        .find(|e| {
            e["agent"][0]["altId"] == "quality" && described(e) == Some("GET /fhir/Patient/p1")
        })
        .unwrap();
    assert_eq!(denied["outcome"], "4");
    // A refusal by the store names the patient it aimed at.
    let refused = all
        .iter()
        .find(|e| {
            e["agent"][0]["altId"] == "navigator"
                && described(e) == Some("GET /fhir/Patient/p1/$everything")
        })
        .unwrap();
    assert_eq!(refused["outcome"], "4");
    assert_eq!(patients_of(refused), ["Patient/p1"]);
    // Compartment search: the nurse found p1's heart rates; the navigator, who does not
    // reach p1, found nothing (the store filtered, the search itself was allowed).
    let compartment = |who: &str| {
        all.iter()
            .find(|e| {
                e["agent"][0]["altId"] == who
                    && described(e) == Some("GET /fhir/Patient/p1/Observation")
            })
            .unwrap()
    };
    assert_eq!(patients_of(compartment("nurse")), ["Patient/p1"]);
    assert!(patients_of(compartment("navigator")).is_empty());
    // Likewise a search across types, and one of every type the caller reads.
    let across = |who: &str, path: &str| {
        all.iter()
            .find(|e| e["agent"][0]["altId"] == who && described(e) == Some(path))
            .unwrap()
    };
    assert_eq!(patients_of(across("nurse", "GET /fhir")), ["Patient/p1"]);
    assert!(all
        .iter()
        .filter(|e| e["agent"][0]["altId"] == "navigator" && described(e) == Some("GET /fhir"))
        .all(|e| patients_of(e).is_empty()));
    let page = all
        .iter()
        .find(|e| e["agent"][0]["altId"] == "rapid" && described(e) == Some("GET /board"))
        .unwrap();
    assert!(
        patients_of(page).contains(&"Patient/p1".to_string()),
        "the board names its patients"
    );
    let chain = store::audit::verify(
        w.store
            .scan("AuditEvent", 0, 100_000)
            .unwrap()
            .0
            .iter()
            .map(|h| h.body.as_str()),
    );
    assert!(chain.broken.is_none(), "{chain:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn glass_sensitivity_tokens_csrf_and_fixation() {
    let (w, _dir) = world().await;
    let app = &w.app;
    let get = |path: &str, cookie: &str| {
        Request::get(path)
            .header(header::COOKIE, cookie)
            .body(Body::empty())
            .unwrap()
    };
    let api = |method: &str, path: &str, token: &str, glass: Option<&str>| {
        let mut r = Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {token}"));
        if let Some(g) = glass {
            r = r.header("x-break-glass", g);
        }
        match body_for(method, path) {
            Some(b) => r
                .header(header::CONTENT_TYPE, "application/fhir+json")
                .body(Body::from(b.to_string()))
                .unwrap(),
            None => r.body(Body::empty()).unwrap(),
        }
    };

    // Care teams: the navigator reaches p3 through the care team, p2 through the outreach list
    // (osteoporosis screening is due), not p1.
    let nav = w
        .gate
        .accounts
        .issue_token("navigator", "t", None, "test")
        .unwrap();
    assert_eq!(
        send(app, api("GET", "/fhir/Patient/p3", &nav, None))
            .await
            .0,
        StatusCode::OK
    );
    // The answer came only after its audit record was durable: it is there without waiting
    // for any further commit.
    let (hits, _) = w.store.scan("AuditEvent", 0, 100_000).unwrap();
    assert!(
        hits.iter().any(|h| h.body.contains("GET /fhir/Patient/p3")
            && h.body.contains("\"altId\":\"navigator\"")),
        "the read's AuditEvent is committed before the response"
    );
    let (s, _, body) = send(app, api("GET", "/fhir/Patient/p1", &nav, None)).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(body.contains("x-break-glass"), "{body}");
    // A search returns what the navigator may see, and nothing about anything else (not
    // even how much there was).
    let (s, _, body) = send(app, api("GET", "/fhir/Observation?code=8867-4", &nav, None)).await;
    assert_eq!(s, StatusCode::OK);
    let bundle: Value = serde_json::from_str(&body).unwrap();
    let mut subjects: Vec<&str> = bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["resource"]["subject"]["reference"].as_str())
        .collect();
    subjects.sort();
    assert_eq!(subjects, ["Patient/p2", "Patient/p3"]);
    assert!(!body.contains("withheld") && !body.contains("p1"), "{body}");

    // Break the glass through the API: allowed with a reason, and the reason is recorded.
    assert_eq!(
        send(app, api("GET", "/fhir/Patient/p1", &nav, Some("short")))
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        send(
            app,
            api(
                "GET",
                "/fhir/Patient/p1",
                &nav,
                Some("patient collapsed in clinic waiting room")
            )
        )
        .await
        .0,
        StatusCode::OK
    );
    // Roles outside clinical care cannot break the glass.
    let quality = w
        .gate
        .accounts
        .issue_token("quality", "t", None, "test")
        .unwrap();
    assert_eq!(
        send(
            app,
            api(
                "GET",
                "/fhir/Patient/p1",
                &quality,
                Some("I would like to see it please")
            )
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );

    // Break the glass in the web app: the page asks for a reason; a reason in words opens it.
    let social = support::sign_in(app, "social").await;
    let (s, _, page) = send(app, get("/patients/p1", &social)).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(page.contains("Break the glass"), "{page}");
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let post = |path: &str, cookie: &str, form: String| {
        Request::post(path)
            .header(header::COOKIE, cookie)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form))
            .unwrap()
    };
    let (s, _, again) = send(
        app,
        post(
            "/patients/p1/break-glass",
            &social,
            format!("csrf={csrf}&reason=x"),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(again.contains("The reason is not accepted"));
    let (s, _, _) = send(
        app,
        post(
            "/patients/p1/break-glass",
            &social,
            "csrf=forged&reason=family+meeting+about+discharge".to_string(),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "CSRF");
    let (s, _, _) = send(
        app,
        post(
            "/patients/p1/break-glass",
            &social,
            format!("csrf={csrf}&reason=family+meeting+about+discharge"),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert_eq!(
        send(app, get("/patients/p1", &social)).await.0,
        StatusCode::OK
    );

    // The privacy officer sees both break-the-glass accesses with their reasons, and can
    // search by user and patient; also after more than a page of ordinary accesses since.
    for _ in 0..1100 {
        assert_eq!(send(app, get("/account", &social)).await.0, StatusCode::OK);
    }
    w.store.save_checkpoint("trust-test", 1).unwrap();
    let privacy = support::sign_in(app, "privacy").await;
    let (s, _, page) = send(app, get("/privacy", &privacy)).await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("family meeting about discharge"), "{page}");
    assert!(
        page.contains("patient collapsed in clinic waiting room"),
        "{page}"
    );
    // An attempt by a role that may not break the glass is shown too, as refused.
    let row = page
        .split("<tr>")
        .find(|r| r.contains("I would like to see it please"))
        .expect("attempt listed");
    assert!(row.contains("refused (403"), "{row}");
    let (_, _, by_user) = send(
        app,
        get("/privacy?user=social&patient=p1&glass=no", &privacy),
    )
    .await;
    assert!(by_user.contains("GET /patients/p1") && !by_user.contains("GET /fhir/Patient/p1"));
    // Everything the social worker did, a page at a time, newest first.
    let (_, _, newest) = send(app, get("/privacy?user=social&glass=no", &privacy)).await;
    assert!(!newest.contains("GET /patients/p1") && newest.contains("Older events"));
    let (_, _, oldest) = send(app, get("/privacy?user=social&glass=no&page=5", &privacy)).await;
    assert!(
        oldest.contains("GET /patients/p1") && oldest.contains("Newer events"),
        "{oldest}"
    );
    let (_, _, by_patient) = send(app, get("/privacy?patient=p3&glass=no", &privacy)).await;
    assert!(by_patient.contains("/fhir/Patient/p3"));
    assert!(!by_patient.contains("GET /patients/p1"));
    let (s, _, _) = send(app, get("/privacy?from=yesterday", &privacy)).await;
    assert_eq!(s, StatusCode::OK);

    // Sensitive records: the nurse (in the patient's care) does not see the safety answer;
    // the physician does.
    let nurse = w
        .gate
        .accounts
        .issue_token("nurse", "t", None, "test")
        .unwrap();
    let physician = w
        .gate
        .accounts
        .issue_token("physician", "t", None, "test")
        .unwrap();
    assert_eq!(
        send(app, api("GET", "/fhir/Observation/safety1", &nurse, None))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        send(
            app,
            api("GET", "/fhir/Observation/safety1", &physician, None)
        )
        .await
        .0,
        StatusCode::OK
    );
    let (_, _, body) = send(
        app,
        api("GET", "/fhir/Observation?subject=Patient/p1", &nurse, None),
    )
    .await;
    assert!(
        !body.contains("95618-5") && !body.contains("withheld") && body.contains("Patient/p1"),
        "{body}"
    );
    let (_, _, body) = send(
        app,
        api(
            "GET",
            "/fhir/Observation?subject=Patient/p1",
            &physician,
            None,
        ),
    )
    .await;
    assert!(body.contains("95618-5"));
    // Break-the-glass does not open sensitive records to a role without them.
    assert_eq!(
        send(
            app,
            api(
                "GET",
                "/fhir/Observation/safety1",
                &nav,
                Some("patient collapsed in clinic waiting room")
            )
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );

    // Tokens: forged, revoked, narrowed by scope, SMART scopes, refused assertions.
    assert_eq!(
        send(app, api("GET", "/fhir/Location", "tend_forged", None))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        send(app, api("GET", "/fhir/Location", "smart_forged", None))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    let (s, _, _) = send(app, api("GET", "/fhir/Location", "not-a-token", None)).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let narrow = w
        .gate
        .accounts
        .issue_token("nurse", "read only", Some("user/Observation.read"), "test")
        .unwrap();
    assert_eq!(
        send(app, api("GET", "/fhir/Observation/o1", &narrow, None))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        send(app, api("POST", "/fhir/Observation", &narrow, None))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        send(app, api("GET", "/fhir/Patient/p1", &narrow, None))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    let id = w
        .gate
        .accounts
        .tokens(Some("nurse"))
        .unwrap()
        .into_iter()
        .find(|t| t.label == "read only")
        .unwrap()
        .id;
    w.gate.accounts.revoke_token(&id, "test").unwrap();
    assert_eq!(
        send(app, api("GET", "/fhir/Observation/o1", &narrow, None))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    let (s, t) = smart_token(
        &w,
        "reader",
        "system/Observation.read system/Patient.read",
        "tok-1",
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        t["scope"], "system/Observation.read",
        "only what the client may have"
    );
    let reader = t["access_token"].as_str().unwrap();
    assert_eq!(
        send(app, api("GET", "/fhir/Observation/o1", reader, None))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        send(app, api("GET", "/fhir/Patient/p1", reader, None))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        send(app, api("POST", "/fhir/Observation", reader, None))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    let (s, e) = smart_token(&w, "reader", "system/Observation.read", "tok-1").await;
    assert_eq!(
        (s, e["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client")),
        "replayed assertion"
    );
    let (s, e) = smart_token(&w, "reader", "system/Condition.read", "tok-2").await;
    assert_eq!(
        (s, e["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_scope"))
    );
    let (s, e) = smart_token(&w, "stranger", "system/Observation.read", "tok-3").await;
    assert_eq!(
        (s, e["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );

    // CSRF: an /api write from a browser session needs the session's token in a header.
    let nurse_session = support::sign_in(app, "nurse").await;
    let (s, _, _) = send(
        app,
        Request::post("/api/alerts/none/acknowledge")
            .header(header::COOKIE, &nurse_session)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from("{}"))
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // Session fixation: a planted cookie never becomes signed in, and signing in ends the
    // session the browser presented and issues a new token.
    let planted = "tend_session=attacker-chosen";
    let fresh = support::sign_in_with(app, "nurse", support::PASSWORD, Some(planted))
        .await
        .unwrap();
    assert_ne!(fresh, planted);
    assert_eq!(
        send(app, get("/account", planted)).await.0,
        StatusCode::SEE_OTHER
    );
    let old = support::sign_in(app, "physician").await;
    assert_eq!(send(app, get("/account", &old)).await.0, StatusCode::OK);
    let new = support::sign_in_with(app, "nurse", support::PASSWORD, Some(&old))
        .await
        .unwrap();
    assert_ne!(new, old);
    assert_eq!(
        send(app, get("/account", &old)).await.0,
        StatusCode::SEE_OTHER,
        "the presented session ended"
    );
    assert_eq!(send(app, get("/account", &new)).await.0, StatusCode::OK);
    // Sign-in's own CSRF: a form without the matching cookie is refused.
    let (s, _, _) = send(
        app,
        Request::post("/sign-in")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(format!(
                "csrf=x&username=nurse&password={}",
                support::PASSWORD.replace(' ', "+")
            )))
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Wrong passwords are refused and recorded.
    assert!(
        support::sign_in_with(app, "nurse", "wrong password here", None)
            .await
            .is_none()
    );
    let failed = events(&*w.store)
        .await
        .into_iter()
        .filter(|e| e["type"]["code"] == "110114" && e["outcome"] == "4")
        .count();
    assert!(failed >= 1);
    // The page says the same whether or not the user name exists, up to and including
    // "try again later" once this address has failed too often for the name.
    let mut said = Vec::new();
    for _ in 0..accounts::BACKOFF_AFTER {
        let known = support::refusal(app, "physician", "wrong password here").await;
        let unknown = support::refusal(app, "dr.nobody", "wrong password here").await;
        assert_eq!(known, unknown);
        said.push(known);
    }
    assert_eq!(said[0].0, StatusCode::UNAUTHORIZED);
    assert!(said[0].1.contains("not right"), "{}", said[0].1);
    assert!(
        said[accounts::BACKOFF_AFTER as usize - 1]
            .1
            .contains("Try again in 1 minute,"),
        "{said:?}"
    );
    // Other people still sign in from elsewhere; here, the same address tries another name.
    assert!(support::sign_in_with(app, "nurse", support::PASSWORD, None)
        .await
        .is_some());
}

/// A stand-in for the hospital's OpenID Connect provider, on loopback: discovery, keys and
/// a token endpoint that checks the code, the client secret and the PKCE verifier, and signs
/// an RS256 ID token for `user` with the nonce Tend sent.
struct Idp {
    base: String,
    /// The nonce and code challenge of the sign-in Tend started, and who signs in.
    pending: Arc<std::sync::Mutex<(String, String, String)>>,
}

async fn idp() -> Idp {
    use axum::routing::{get, post};
    use rsa::signature::{SignatureEncoding as _, Signer as _};
    use rsa::traits::PublicKeyParts as _;
    let private = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).unwrap();
    let jwk = json!({"kty": "RSA", "kid": "idp1", "alg": "RS256", "use": "sig",
        "n": B64.encode(private.n().to_bytes_be()), "e": B64.encode(private.e().to_bytes_be())});
    let signer = Arc::new(rsa::pkcs1v15::SigningKey::<rsa::sha2::Sha256>::new(private));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let pending = Arc::new(std::sync::Mutex::new((
        String::new(),
        String::new(),
        String::new(),
    )));
    let (b1, b2, p) = (base.clone(), base.clone(), pending.clone());
    let app = axum::Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(move || {
                let b = b1.clone();
                async move {
                    axum::Json(json!({"issuer": b, "authorization_endpoint": format!("{b}/authorize"),
                        "token_endpoint": format!("{b}/token"), "jwks_uri": format!("{b}/jwks")}))
                }
            }),
        )
        .route("/jwks", get(move || { let k = jwk.clone(); async move { axum::Json(json!({"keys": [k]})) } }))
        .route(
            "/token",
            post(move |headers: axum::http::HeaderMap, body: String| {
                let (b, p, signer) = (b2.clone(), p.clone(), signer.clone());
                async move {
                    let form: HashMap<String, String> = form_urlencoded::parse(body.as_bytes()).into_owned().collect();
                    let basic = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("tend:s3cret"));
                    let (nonce, challenge, user) = p.lock().unwrap().clone();
                    let verifier_ok = B64.encode(sha2_digest(form.get("code_verifier").map(String::as_str).unwrap_or(""))) == challenge;
                    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(basic.as_str())
                        || form.get("code").map(String::as_str) != Some("good-code")
                        || !verifier_ok
                    {
                        return (StatusCode::BAD_REQUEST, axum::Json(json!({"error": "invalid_grant"})));
                    }
                    let now = chrono::Utc::now().timestamp();
                    let header = B64.encode(json!({"alg": "RS256", "kid": "idp1", "typ": "JWT"}).to_string());
                    let claims = B64.encode(json!({"iss": b, "aud": "tend", "sub": "u-1", "preferred_username": user,
                        "nonce": nonce, "iat": now, "exp": now + 300}).to_string());
                    let message = format!("{header}.{claims}");
                    let sig = signer.sign(message.as_bytes()).to_vec();
                    (StatusCode::OK, axum::Json(json!({"id_token": format!("{message}.{}", B64.encode(sig)), "token_type": "Bearer"})))
                }
            }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Idp { base, pending }
}

fn sha2_digest(s: &str) -> Vec<u8> {
    use rsa::sha2::Digest as _;
    rsa::sha2::Sha256::digest(s.as_bytes()).to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_sign_on_vouches_for_existing_accounts() {
    let dir = tempfile::tempdir().unwrap();
    let store = store::open(
        &format!("sqlite://{}", dir.path().join("sso.db").display()),
        store::Options {
            clock: Arc::new(store::SystemClock),
            indexer: Arc::new(search::Indexer::new(search::Registry::r4()).unwrap()),
            readers: 2,
        },
    )
    .unwrap();
    let idp = idp().await;
    let provider = accounts::oidc::Provider::discover(accounts::oidc::OidcConfig {
        issuer: idp.base.clone(),
        client_id: "tend".into(),
        client_secret: "s3cret".into(),
        redirect_uri: "http://tend.test/sign-in/sso/callback".into(),
        username_claim: "preferred_username".into(),
        label: "Riverbend SSO".into(),
    })
    .await
    .unwrap();
    let accounts = accounts::Accounts::new(store.clone(), Arc::new(store::SystemClock));
    let gate = Arc::new(
        server::Gate::new(Arc::new(accounts), Arc::new(accounts::smart::Smart::none()))
            .with_oidc(Arc::new(provider)),
    );
    let state = server::AppState::new(store.clone(), gate.clone());
    support::account(&gate, "nurse", Role::Nurse, None, &["Location/ward-t"]);
    let app = support::app(state);

    let (_, _, page) = send(&app, Request::get("/sign-in").body(Body::empty()).unwrap()).await;
    assert!(page.contains("Sign in with Riverbend SSO"));
    // Start: Tend sends the browser to the provider with state, nonce and a PKCE challenge.
    async fn start(app: axum::Router, base: &str) -> HashMap<String, String> {
        let resp = tower::ServiceExt::oneshot(
            app,
            Request::get("/sign-in/sso").body(Body::empty()).unwrap(),
        )
        .await
        .unwrap();
        let to = resp.headers()[header::LOCATION]
            .to_str()
            .unwrap()
            .to_string();
        let q: HashMap<String, String> =
            form_urlencoded::parse(to.split_once('?').unwrap().1.as_bytes())
                .into_owned()
                .collect();
        assert!(to.starts_with(&format!("{base}/authorize?")));
        assert_eq!(
            (q["client_id"].as_str(), q["code_challenge_method"].as_str()),
            ("tend", "S256")
        );
        assert_eq!(q["redirect_uri"], "http://tend.test/sign-in/sso/callback");
        q
    }
    let callback = |state: &str, code: &str| {
        Request::get(format!(
            "/sign-in/sso/callback?code={code}&state={}",
            form_urlencoded::byte_serialize(state.as_bytes()).collect::<String>()
        ))
        .body(Body::empty())
        .unwrap()
    };
    let q = start(app.clone(), &idp.base).await;
    *idp.pending.lock().unwrap() = (
        q["nonce"].clone(),
        q["code_challenge"].clone(),
        "nurse".into(),
    );
    let (s, cookies, _) = send(&app, callback(&q["state"], "good-code")).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let session = cookies
        .into_iter()
        .find(|c| c.starts_with("tend_session="))
        .unwrap();
    let (s, _, account) = send(
        &app,
        Request::get("/account")
            .header(header::COOKIE, &session)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(account.contains("Nurse"));
    // The state is single-use.
    let (s, _, _) = send(&app, callback(&q["state"], "good-code")).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // A wrong code, or an ID token whose nonce is not this sign-in's, signs nobody in.
    let q = start(app.clone(), &idp.base).await;
    *idp.pending.lock().unwrap() = (
        q["nonce"].clone(),
        q["code_challenge"].clone(),
        "nurse".into(),
    );
    assert_eq!(
        send(&app, callback(&q["state"], "bad-code")).await.0,
        StatusCode::UNAUTHORIZED
    );
    let q = start(app.clone(), &idp.base).await;
    *idp.pending.lock().unwrap() = (
        "another-nonce".into(),
        q["code_challenge"].clone(),
        "nurse".into(),
    );
    assert_eq!(
        send(&app, callback(&q["state"], "good-code")).await.0,
        StatusCode::UNAUTHORIZED
    );
    // The provider vouches for someone without a Tend account: no session.
    let q = start(app.clone(), &idp.base).await;
    *idp.pending.lock().unwrap() = (
        q["nonce"].clone(),
        q["code_challenge"].clone(),
        "mallory".into(),
    );
    let (s, cookies, page) = send(&app, callback(&q["state"], "good-code")).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(page.contains("no enabled Tend account"));
    assert!(!cookies.iter().any(|c| c.starts_with("tend_session=")));
    // Both outcomes are on the audit trail.
    let logins: Vec<Value> = events(&*store)
        .await
        .into_iter()
        .filter(|e| e["type"]["code"] == "110114")
        .collect();
    assert!(logins
        .iter()
        .any(|e| e["outcomeDesc"] == "signed in (single sign-on)" && e["outcome"] == "0"));
    assert!(logins
        .iter()
        .any(|e| e["outcomeDesc"] == "single sign-on: no account" && e["outcome"] == "4"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_manages_accounts_in_the_web_app() {
    let (w, _dir) = world().await;
    let app = &w.app;
    let admin = support::sign_in(app, "admin").await;
    let (s, _, page) = send(
        app,
        Request::get("/admin/users")
            .header(header::COOKIE, &admin)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("id=\"user-nurse\"") && page.contains("id=\"user-privacy\""));
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let post = |path: &str, form: String| {
        Request::post(path)
            .header(header::COOKIE, &admin)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form))
            .unwrap()
    };
    // A weak password is refused with the reason; a good one adds the account.
    let (s, _, page) = send(app, post("/admin/users", format!("csrf={csrf}&username=ward.clerk&name=Wanda+Clerk&role=nurse&wards=ward-t&password=short"))).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("at least 12 characters"), "{page}");
    // A ward or practitioner that does not exist is refused before anything is added.
    let (s, _, page) = send(app, post("/admin/users", format!("csrf={csrf}&username=ward.clerk&name=Wanda+Clerk&role=nurse&wards=ward-tt&password=a+long+enough+passphrase"))).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("is not a ward Tend knows"), "{page}");
    let (s, _, page) = send(app, post("/admin/users", format!("csrf={csrf}&username=ward.clerk&name=Wanda+Clerk&role=nurse&wards=ward-t&practitioner=nobody&password=a+long+enough+passphrase"))).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("no practitioner"), "{page}");
    // Post, redirect, get: the outcome is shown once; a reload repeats nothing.
    let (s, page, again) = follow(app, &admin, post("/admin/users", format!("csrf={csrf}&username=ward.clerk&name=Wanda+Clerk&role=nurse&wards=ward-t&password=a+long+enough+passphrase"))).await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert!(page.contains("Added ward.clerk"));
    assert!(!again.contains("Added ward.clerk"), "shown once");
    assert!(
        support::sign_in_with(app, "ward.clerk", "a long enough passphrase", None)
            .await
            .is_some()
    );
    // A forged form changes nothing.
    let (s, _, _) = send(
        app,
        post("/admin/users/nurse/disable", "csrf=forged".into()),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Issue a token (shown once, works), revoke it (stops working), disable an account.
    let (_, page, again) = follow(
        app,
        &admin,
        post(
            "/admin/users/nurse/token",
            format!("csrf={csrf}&label=night+script"),
        ),
    )
    .await;
    assert!(
        !again.contains("id=\"new-token\""),
        "a reload issues nothing and shows nothing"
    );
    assert_eq!(
        w.gate
            .accounts
            .tokens(Some("nurse"))
            .unwrap()
            .iter()
            .filter(|t| t.label == "night script")
            .count(),
        1
    );
    let token = page
        .split("id=\"new-token\" readonly value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let read = |t: &str| {
        Request::get("/fhir/Patient/p1")
            .header(header::AUTHORIZATION, format!("Bearer {t}"))
            .body(Body::empty())
            .unwrap()
    };
    assert_eq!(send(app, read(&token)).await.0, StatusCode::OK);
    let id = w
        .gate
        .accounts
        .tokens(Some("nurse"))
        .unwrap()
        .into_iter()
        .find(|t| t.label == "night script")
        .unwrap()
        .id;
    let (s, _, _) = send(
        app,
        post(
            "/admin/users/nurse/revoke",
            format!("csrf={csrf}&token={id}"),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert_eq!(send(app, read(&token)).await.0, StatusCode::UNAUTHORIZED);
    let nurse = support::sign_in(app, "nurse").await;
    let (_, page, _) = follow(
        app,
        &admin,
        post("/admin/users/nurse/disable", format!("csrf={csrf}")),
    )
    .await;
    assert!(page.contains("Disabled nurse"));
    assert_eq!(
        send(
            app,
            Request::get("/account")
                .header(header::COOKIE, &nurse)
                .body(Body::empty())
                .unwrap()
        )
        .await
        .0,
        StatusCode::SEE_OTHER,
        "the disabled nurse's session ended"
    );
    let (_, _, page) = send(
        app,
        post("/admin/users/admin/disable", format!("csrf={csrf}")),
    )
    .await;
    assert!(page.contains("cannot disable your own account"));
    // Other roles cannot reach the page.
    let privacy = support::sign_in(app, "privacy").await;
    let (s, _, _) = send(
        app,
        Request::post("/admin/users/quality/disable")
            .header(header::COOKIE, &privacy)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from("csrf=x"))
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // The changes are on the audit trail under the administrator's name.
    let changes: Vec<Value> = events(&*w.store)
        .await
        .into_iter()
        .filter(|e| e["type"]["code"] == "110137" && e["agent"][0]["altId"] == "admin")
        .collect();
    for what in [
        "account added",
        "API token issued",
        "API token revoked",
        "account disabled",
    ] {
        assert!(changes.iter().any(|e| e["outcomeDesc"] == what), "{what}");
    }
}

/// Send a form post and follow its redirect as a browser does: the page it lands on, and the
/// same page loaded again.
async fn follow(
    app: &axum::Router,
    cookie: &str,
    req: Request<Body>,
) -> (StatusCode, String, String) {
    let resp = tower::ServiceExt::oneshot(app.clone(), req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER, "a post redirects");
    let to = resp.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_string();
    let get = || {
        Request::get(&to)
            .header(header::COOKIE, cookie)
            .body(Body::empty())
            .unwrap()
    };
    let (s, _, page) = send(app, get()).await;
    let (_, _, again) = send(app, get()).await;
    (s, page, again)
}

/// A request with a bearer token and extra headers; the status, headers and body.
async fn call(
    app: &axum::Router,
    method: &str,
    uri: &str,
    bearer: Option<&str>,
    extra: &[(&str, &str)],
) -> (StatusCode, axum::http::HeaderMap, String) {
    use http_body_util::BodyExt as _;
    let mut r = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::HOST, "tend.test");
    if let Some(t) = bearer {
        r = r.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    for (k, v) in extra {
        r = r.header(*k, *v);
    }
    let resp = tower::ServiceExt::oneshot(app.clone(), r.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let (parts, body) = resp.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    (
        parts.status,
        parts.headers,
        String::from_utf8(bytes.to_vec()).unwrap(),
    )
}

/// Kick off an export as `token` and poll it to its end; the kick-off's status URL path and
/// the final status, headers and body.
async fn export_to_end(
    w: &World,
    token: &str,
    kick_off: &str,
) -> (String, StatusCode, axum::http::HeaderMap, String) {
    let async_ = [
        ("prefer", "respond-async"),
        ("accept", "application/fhir+json"),
    ];
    let (s, h, body) = call(&w.app, "GET", kick_off, Some(token), &async_).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{kick_off}: {body}");
    let location = h[header::CONTENT_LOCATION].to_str().unwrap().to_string();
    assert!(
        location.starts_with("http://tend.test/fhir/$export-status/"),
        "{location}"
    );
    let status_path = location.trim_start_matches("http://tend.test").to_string();
    for _ in 0..500 {
        let (s, h, body) = call(&w.app, "GET", &status_path, Some(token), &[]).await;
        if s == StatusCode::ACCEPTED {
            assert!(h.contains_key("x-progress"), "progress is told");
            assert_eq!(h[header::RETRY_AFTER], "2");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            continue;
        }
        return (status_path, s, h, body);
    }
    panic!("{kick_off}: the export never finished");
}

/// A data warehouse, registered as a SMART backend-services client, exports through the
/// token endpoint, kick-off, status and download: it gets exactly what its scopes and the
/// store let it read, nobody else can poll or download its export, each download is audited
/// with the patients in the file, and deleting the export removes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_service_exports_in_bulk_end_to_end() {
    let (w, _dir) = world().await;
    let (s, t) = smart_token(&w, "reader", "system/Observation.read", "bulk-1").await;
    assert_eq!(s, StatusCode::OK, "{t}");
    let reader = t["access_token"].as_str().unwrap().to_string();
    let (s, t) = smart_token(&w, "lab", "system/*.*", "bulk-2").await;
    assert_eq!(s, StatusCode::OK, "{t}");
    let lab = t["access_token"].as_str().unwrap().to_string();

    // Without `Prefer: respond-async` the kick-off says what is missing.
    let (s, _, body) = call(&w.app, "GET", "/fhir/$export", Some(&reader), &[]).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(body.contains("respond-async"), "{body}");
    // A parameter it does not support is named.
    let (s, _, body) = call(
        &w.app,
        "GET",
        "/fhir/$export?_elements=id",
        Some(&reader),
        &[("prefer", "respond-async")],
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(body.contains("_elements"), "{body}");
    // A person, even an administrator, does not export in bulk.
    let admin = w
        .gate
        .accounts
        .issue_token("admin", "bulk", None, "test")
        .unwrap();
    let (s, _, _) = call(
        &w.app,
        "GET",
        "/fhir/$export",
        Some(&admin),
        &[("prefer", "respond-async")],
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // The reader's whole export: Observations only (its scope), exactly what a search by the
    // same client returns.
    let (status_path, s, h, body) = export_to_end(&w, &reader, "/fhir/$export").await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(h[header::CONTENT_TYPE], "application/json");
    assert!(h.contains_key(header::EXPIRES));
    let manifest: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(manifest["requiresAccessToken"], true);
    assert_eq!(manifest["request"], "http://tend.test/fhir/$export");
    let outputs = manifest["output"].as_array().unwrap();
    assert!(
        outputs.iter().all(|o| o["type"] == "Observation"),
        "{manifest}"
    );
    let (_, _, searched) = call(
        &w.app,
        "GET",
        "/fhir/Observation?_count=1000",
        Some(&reader),
        &[],
    )
    .await;
    let searched: Value = serde_json::from_str(&searched).unwrap();
    let mut want: Vec<String> = searched["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource"]["id"].as_str().unwrap().to_string())
        .collect();
    want.sort();
    let mut got = Vec::new();
    for o in outputs {
        let url = o["url"]
            .as_str()
            .unwrap()
            .trim_start_matches("http://tend.test");
        let (s, h, text) = call(&w.app, "GET", url, Some(&reader), &[]).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(h[header::CONTENT_TYPE], "application/fhir+ndjson");
        assert_eq!(text.lines().count() as u64, o["count"].as_u64().unwrap());
        for line in text.lines() {
            let r: Value = serde_json::from_str(line).unwrap();
            got.push(r["id"].as_str().unwrap().to_string());
        }
        // Someone else's token finds no such file; no token is asked to sign in.
        let (s, _, _) = call(&w.app, "GET", url, Some(&lab), &[]).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, _, _) = call(&w.app, "GET", url, None, &[]).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
    }
    got.sort();
    assert_eq!(got, want);
    assert!(got.contains(&"o1".to_string()) && got.contains(&"o3".to_string()));
    // The download's audit record names the patients in the file.
    let download = events(&*w.store)
        .await
        .into_iter()
        .rev()
        .find(|e| {
            e["entity"].as_array().into_iter().flatten().any(|x| {
                x["description"]
                    .as_str()
                    .is_some_and(|d| d.contains("$export-file"))
            }) && e["agent"][0]["altId"] == "reader"
        })
        .expect("the download is audited");
    let named: Vec<&str> = download["entity"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|x| x["what"]["reference"].as_str())
        .collect();
    for p in ["Patient/p1", "Patient/p2", "Patient/p3"] {
        assert!(named.contains(&p), "{p} in {named:?}");
    }
    // The privacy officer sees it among p2's accesses, in words.
    let privacy = support::sign_in(&w.app, "privacy").await;
    let (s, page) = support::page(&w.app, &privacy, "/privacy?patient=p2").await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        page.contains("Downloaded a bulk export file (Observation-1.ndjson)"),
        "{page}"
    );

    // Only the owner polls; after a DELETE the export is gone.
    let (s, _, _) = call(&w.app, "GET", &status_path, Some(&lab), &[]).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _, _) = call(&w.app, "DELETE", &status_path, Some(&reader), &[]).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let (s, _, _) = call(&w.app, "GET", &status_path, Some(&reader), &[]).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // A group's export holds its members' records; `_since` later than everything, nothing.
    let (group_status, s, _, body) = export_to_end(
        &w,
        &lab,
        "/fhir/Group/cohort-1/$export?_type=Patient,Observation",
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let manifest: Value = serde_json::from_str(&body).unwrap();
    let patients = manifest["output"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["type"] == "Patient")
        .expect("the members");
    let url = patients["url"]
        .as_str()
        .unwrap()
        .trim_start_matches("http://tend.test");
    let (_, _, text) = call(&w.app, "GET", url, Some(&lab), &[]).await;
    let mut ids: Vec<String> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    ids.sort();
    assert_eq!(ids, ["p1", "p3"]);
    let (_, s, _, body) = export_to_end(
        &w,
        &lab,
        "/fhir/Patient/$export?_since=2999-01-01T00:00:00Z",
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let manifest: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(manifest["output"], json!([]));

    // A POST kick-off names its patients in a Parameters body.
    let body = json!({"resourceType": "Parameters", "parameter": [
        {"name": "_type", "valueString": "Patient,Observation"},
        {"name": "patient", "valueReference": {"reference": "Patient/p1"}}]});
    let resp = tower::ServiceExt::oneshot(
        w.app.clone(),
        Request::post("/fhir/Patient/$export")
            .header(header::HOST, "tend.test")
            .header(header::AUTHORIZATION, format!("Bearer {lab}"))
            .header("prefer", "respond-async")
            .header(header::CONTENT_TYPE, "application/fhir+json")
            .body(Body::from(body.to_string()))
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    let status_path = resp.headers()[header::CONTENT_LOCATION]
        .to_str()
        .unwrap()
        .trim_start_matches("http://tend.test")
        .to_string();
    let mut manifest = Value::Null;
    for _ in 0..500 {
        let (s, _, body) = call(&w.app, "GET", &status_path, Some(&lab), &[]).await;
        if s == StatusCode::OK {
            manifest = serde_json::from_str(&body).unwrap();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let outputs = manifest["output"].as_array().expect("complete");
    assert_eq!(outputs.len(), 2, "{manifest}");
    for o in outputs {
        let url = o["url"]
            .as_str()
            .unwrap()
            .trim_start_matches("http://tend.test");
        let (_, _, text) = call(&w.app, "GET", url, Some(&lab), &[]).await;
        for line in text.lines() {
            let r: Value = serde_json::from_str(line).unwrap();
            if o["type"] == "Patient" {
                assert_eq!(r["id"], "p1", "{line}");
            } else {
                assert_eq!(r["subject"]["reference"], "Patient/p1", "{line}");
            }
        }
    }

    // The administrator's integrations page: the registered systems and their exports, by
    // name and in words; removing one ends it for its client too.
    let admin_session = support::sign_in(&w.app, "admin").await;
    let (s, page) = support::page(&w.app, &admin_session, "/admin/integrations").await;
    assert_eq!(s, StatusCode::OK);
    for text in [
        "Laboratory system",
        "Observation reader",
        "read Observation records",
        "Patients of the group cohort-1: Patient, Observation",
        "resources in 2 files",
        "Complete: nothing to export",
        "Records of 1 named patient: Patient, Observation",
    ] {
        assert!(page.contains(text), "{text}: {page}");
    }
    let job = group_status.rsplit('/').next().unwrap();
    assert!(page.contains(&format!("export-{job}")));
    let csrf = support::between(&page, "name=\"csrf\" value=\"", "\"").to_string();
    let (s, page) = support::form(
        &w.app,
        &admin_session,
        &format!("/admin/integrations/exports/{job}/stop"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert!(
        page.contains("Removed the files of Laboratory system&#39;s export."),
        "{page}"
    );
    assert!(!page.contains(&format!("export-{job}")));
    let (s, _, _) = call(&w.app, "GET", &group_status, Some(&lab), &[]).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // A nurse has no such page.
    let nurse = support::sign_in(&w.app, "nurse").await;
    let (s, _) = support::page(&w.app, &nurse, "/admin/integrations").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}
