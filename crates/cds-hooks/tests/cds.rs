//! CDS Hooks end to end over HTTP: discovery; patient-view from Tend's store (a clinic patient
//! with care gaps, an inpatient with NEWS2), from prefetch alone, and from another FHIR server
//! (a second Tend on loopback that records the bearer token it was sent); malformed requests;
//! signed-JWT authentication with a trusted issuer's ES384 key.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use care_gaps::CareGaps;
use cds_hooks::{Cds, Config, SERVICE_ID};
use p384::ecdsa::signature::Signer as _;
use prevention::RuleSet;
use search::{Indexer, Registry, SearchQuery};
use serde_json::{json, Value};
use store::{Clock, Entry, Mode, Store, WriteOp};

/// 2026-11-24T08:00:00Z.
const T0: i64 = 1_795_507_200_000;
struct Fixed;
impl Clock for Fixed {
    fn now_ms(&self) -> i64 {
        T0
    }
}

fn put(v: Value) -> Entry {
    Entry {
        full_url: None,
        op: WriteOp::Update {
            rtype: v["resourceType"].as_str().unwrap().into(),
            id: v["id"].as_str().unwrap().into(),
            resource: v,
            if_match: None,
        },
    }
}

fn open(dir: &std::path::Path, name: &str) -> Arc<dyn Store> {
    store::open(
        &format!("sqlite://{}", dir.join(name).display()),
        store::Options {
            clock: Arc::new(store::SystemClock),
            indexer: Arc::new(Indexer::new(Registry::r4()).unwrap()),
            readers: 2,
        },
    )
    .unwrap()
}

fn first(store: &Arc<dyn Store>, rtype: &str, params: &[(&str, &str)]) -> Value {
    let p: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let q = SearchQuery::parse(Registry::r4(), rtype, &p).unwrap();
    serde_json::from_str(&store.search(&store::Access::system(), &q).unwrap().matches[0].body)
        .unwrap()
}

async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

fn hook(patient: &str) -> Value {
    json!({"hook": "patient-view", "hookInstance": uuid::Uuid::new_v4().to_string(), "context": {"userId": "Practitioner/dr-1", "patientId": patient}})
}

async fn post(
    http: &reqwest::Client,
    url: &str,
    body: &Value,
    token: Option<&str>,
) -> (u16, Value) {
    let mut r = http.post(url).json(body);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    let resp = r.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn summaries(cards: &Value) -> Vec<String> {
    cards["cards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["summary"].as_str().unwrap().to_string())
        .collect()
}

fn check_card(c: &Value) {
    let s = c["summary"].as_str().unwrap();
    assert!(!s.is_empty() && s.chars().count() <= 140, "{s}");
    assert!(
        ["info", "warning", "critical"].contains(&c["indicator"].as_str().unwrap()),
        "{c}"
    );
    assert!(
        c["source"]["label"].as_str().is_some_and(|l| !l.is_empty()),
        "{c}"
    );
    assert!(c["detail"].as_str().is_some(), "{c}");
    uuid::Uuid::parse_str(c["uuid"].as_str().unwrap()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patient_view_cards_from_store_prefetch_and_fhir_server_with_jwt() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), "tend.db");
    let cfg = synth::Config {
        inpatients: 12,
        clinic_patients: 60,
        cancer_referrals: 2,
        vitals_days: 1,
        ..synth::Config::default()
    };
    let resources: Vec<Entry> = synth::generate(&cfg)
        .resources
        .into_iter()
        .map(put)
        .collect();
    for chunk in resources.chunks(2000) {
        for r in store
            .write(&store::Access::system(), chunk.to_vec(), Mode::Independent)
            .unwrap()
        {
            r.unwrap();
        }
    }
    let ew = early_warning::EarlyWarning::new(
        store.clone(),
        early_warning::Config::default(),
        Arc::new(Fixed),
    );
    ew.catch_up().unwrap();
    let gaps = CareGaps::new(store.clone(), Arc::new(RuleSet::builtin()), Arc::new(Fixed));
    gaps.run_population().unwrap();

    // A trusted EHR with an ES384 key.
    let key = p384::ecdsa::SigningKey::random(&mut rand_core());
    let point = key.verifying_key().to_encoded_point(false);
    let jwks = json!({"keys": [{"kty": "EC", "crv": "P-384", "kid": "ehr-1", "x": B64.encode(point.x().unwrap()), "y": B64.encode(point.y().unwrap())}]});
    let trust = trusted_clients::Trust::from_json(
        &json!({"issuers": [{"iss": "https://ehr.example.org", "jwks": jwks}]}).to_string(),
        dir.path(),
    )
    .unwrap();
    let public = "http://tend.test";
    let cds = Cds::new(
        gaps.clone(),
        store.clone(),
        Config {
            trust: Some(Arc::new(trust)),
            public_url: Some(public.into()),
        },
    );
    let base = serve(server::audited(cds_hooks::router(cds), store.clone())).await;
    let http = reqwest::Client::new();
    let url = format!("{base}/cds-services/{SERVICE_ID}");
    let aud = format!("{public}/cds-services/{SERVICE_ID}");
    let sign = |aud: &str, jti: &str| {
        let now = chrono::Utc::now().timestamp();
        let header = B64.encode(json!({"alg": "ES384", "typ": "JWT", "kid": "ehr-1"}).to_string());
        let claims = B64.encode(json!({"iss": "https://ehr.example.org", "sub": "ehr-client", "aud": aud, "iat": now, "exp": now + 120, "jti": jti}).to_string());
        let sig: p384::ecdsa::Signature = key.sign(format!("{header}.{claims}").as_bytes());
        format!("{header}.{claims}.{}", B64.encode(sig.to_bytes()))
    };

    // Discovery: one patient-view service with prefetch templates.
    let d: Value = http
        .get(format!("{base}/cds-services"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let svc = &d["services"][0];
    assert_eq!(svc["hook"], "patient-view");
    assert_eq!(svc["id"], SERVICE_ID);
    assert_eq!(svc["prefetch"]["patient"], "Patient/{{context.patientId}}");
    assert!(svc["prefetch"]["encounters"]
        .as_str()
        .unwrap()
        .contains("status=in-progress"));

    // Authentication: none, wrong audience, replayed, valid.
    let clinic = gaps
        .worklist(&care_gaps::Query {
            rule: Some("colorectal-cancer".into()),
            ..Default::default()
        })
        .rows[0]
        .gap
        .patient
        .clone();
    let (s, e) = post(&http, &url, &hook(&clinic), None).await;
    assert_eq!(s, 401, "{e}");
    let (s, e) = post(
        &http,
        &url,
        &hook(&clinic),
        Some(&sign("http://elsewhere/cds-services/x", "j0")),
    )
    .await;
    assert_eq!(s, 401);
    assert!(e["error"].as_str().unwrap().contains("audience"), "{e}");
    let token = sign(&aud, "j1");
    let (s, cards) = post(&http, &url, &hook(&clinic), Some(&token)).await;
    assert_eq!(s, 200, "{cards}");
    let (s, _) = post(&http, &url, &hook(&clinic), Some(&token)).await;
    assert_eq!(s, 401, "a token is used once");

    // From the store: the clinic patient's open gaps, each a valid card linking into Tend.
    let due: Vec<String> = gaps
        .patient(&clinic)
        .unwrap()
        .due()
        .map(|g| format!("{} due", g.title))
        .collect();
    assert!(due.iter().any(|t| t.starts_with("Colorectal")));
    let gap_cards: Vec<&Value> = cards["cards"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["source"]["topic"].is_object())
        .collect();
    let titles: Vec<&str> = gap_cards
        .iter()
        .map(|c| c["summary"].as_str().unwrap())
        .collect();
    assert_eq!(titles, due);
    for c in cards["cards"].as_array().unwrap() {
        check_card(c);
    }
    for c in gap_cards {
        assert_eq!(
            c["links"][0]["url"],
            format!("{public}/patients/{clinic}#care-gaps")
        );
        assert_eq!(c["source"]["topic"]["system"], care_gaps::GAP_SYSTEM);
    }

    // An inpatient: the latest NEWS2 card first.
    let enc = first(
        &store,
        "Encounter",
        &[("status", "in-progress"), ("class", "IMP")],
    );
    let inpatient = enc["subject"]["reference"]
        .as_str()
        .unwrap()
        .trim_start_matches("Patient/")
        .to_string();
    let (s, cards) = post(&http, &url, &hook(&inpatient), Some(&sign(&aud, "j2"))).await;
    assert_eq!(s, 200, "{cards}");
    let first_card = &cards["cards"][0];
    check_card(first_card);
    assert!(
        first_card["summary"]
            .as_str()
            .unwrap()
            .starts_with("NEWS2 "),
        "{cards}"
    );
    assert!(
        first_card["detail"].as_str().unwrap().contains("band"),
        "{first_card}"
    );

    // Malformed requests: 400 with the reason.
    let mut bad = hook(&clinic);
    bad["context"].as_object_mut().unwrap().remove("patientId");
    let (s, e) = post(&http, &url, &bad, Some(&sign(&aud, "j3"))).await;
    assert_eq!(s, 400);
    assert!(e["error"].as_str().unwrap().contains("patientId"), "{e}");
    let (s, _) = post(
        &http,
        &format!("{base}/cds-services/nope"),
        &hook(&clinic),
        Some(&sign(&aud, "j4")),
    )
    .await;
    assert_eq!(s, 404);

    // Prefetch only: a patient Tend has never seen, all data in the request.
    let mut req = hook("ehr-77");
    req["prefetch"] = json!({
        "patient": {"resourceType": "Patient", "id": "ehr-77", "birthDate": "1970-03-03", "gender": "female"},
        "conditions": {"resourceType": "Bundle", "type": "searchset", "entry": []},
        "observations": {"resourceType": "Bundle", "type": "searchset", "entry": [
            {"resource": {"resourceType": "Observation", "id": "o1", "status": "final", "code": {"coding": [{"system": "http://loinc.org", "code": "29771-3"}]}, "subject": {"reference": "Patient/ehr-77"}, "effectiveDateTime": "2026-06-01"}}]},
        "procedures": {"resourceType": "Bundle", "type": "searchset", "entry": []},
        "reports": {"resourceType": "Bundle", "type": "searchset", "entry": []},
        "encounters": {"resourceType": "Bundle", "type": "searchset", "entry": []},
        "alerts": {"resourceType": "Bundle", "type": "searchset", "entry": []}
    });
    let (s, cards) = post(&http, &url, &req, Some(&sign(&aud, "j5"))).await;
    assert_eq!(s, 200, "{cards}");
    let titles = summaries(&cards);
    assert!(
        titles.contains(&"Breast cancer screening due".to_string()),
        "{titles:?}"
    );
    assert!(
        !titles.iter().any(|t| t.starts_with("Colorectal")),
        "FIT in June satisfies colorectal: {titles:?}"
    );
    assert!(
        cards["cards"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| !c["links"].to_string().contains("/patients/")),
        "no chart link for a patient Tend does not hold"
    );

    // From another FHIR server: a second Tend holding the patient, which records the token.
    let other = open(dir.path(), "other.db");
    for r in other
        .write(&store::Access::system(),
            vec![
                put(json!({"resourceType": "Patient", "id": "x1", "birthDate": "1960-01-01", "gender": "male",
                    "extension": [{"url": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex", "valueCode": "M"}]})),
                put(json!({"resourceType": "Procedure", "id": "c1", "status": "completed", "code": {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "45378"}]}, "subject": {"reference": "Patient/x1"}, "performedDateTime": "2020-02-02"})),
                put(json!({"resourceType": "Condition", "id": "h1", "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "I10"}]}, "subject": {"reference": "Patient/x1"}, "onsetDateTime": "2015-01-01"})),
            ],
            Mode::Atomic,
        )
        .unwrap()
    {
        r.unwrap();
    }
    let seen: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    // The other server knows the EHR's token as the token of one of its own SMART
    // backend-services clients (integration services are such clients): the stand-in
    // records what it was sent and answers as that client.
    let smart = accounts::smart::Smart::from_json(
        &json!({"clients": [{"client_id": "ehr", "name": "EHR", "scopes": "system/*.read",
            "jwks": jwks}]})
        .to_string(),
        dir.path(),
    )
    .unwrap();
    let now = chrono::Utc::now().timestamp();
    let token_url = "http://other.test/auth/token";
    let header = B64.encode(json!({"alg": "ES384", "kid": "ehr-1", "typ": "JWT"}).to_string());
    let claims = json!({"iss": "ehr", "sub": "ehr", "aud": token_url, "exp": now + 240,
        "iat": now, "jti": "other-1"});
    let message = format!("{header}.{}", B64.encode(claims.to_string()));
    let sig: p384::ecdsa::Signature = key.sign(message.as_bytes());
    let own = format!(
        "Bearer {}",
        smart
            .token(
                &accounts::smart::TokenRequest {
                    grant_type: "client_credentials".into(),
                    scope: "system/*.read".into(),
                    client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
                        .into(),
                    client_assertion: format!("{message}.{}", B64.encode(sig.to_vec())),
                },
                token_url,
                now,
            )
            .unwrap()
            .access_token
    );
    let accounts = accounts::Accounts::new(other.clone(), Arc::new(store::SystemClock));
    let gate = Arc::new(server::Gate::new(Arc::new(accounts), Arc::new(smart)));
    let other_state = server::AppState::new(other, gate);
    let fhir = server::compose(server::app(other_state.clone()), &other_state, false).layer(
        axum::middleware::from_fn(
            move |mut req: axum::extract::Request, next: axum::middleware::Next| {
                let (record, own) = (record.clone(), own.clone());
                async move {
                    let auth = req
                        .headers()
                        .get("authorization")
                        .and_then(|h| h.to_str().ok())
                        .unwrap_or("")
                        .to_string();
                    record
                        .lock()
                        .unwrap()
                        .push(format!("{} {}", auth, req.uri().path()));
                    if auth == "Bearer ehr-issued-token" {
                        req.headers_mut()
                            .insert("authorization", own.parse().unwrap());
                    }
                    next.run(req).await
                }
            },
        ),
    );
    let fhir_base = serve(fhir).await;
    let mut req = hook("x1");
    req["fhirServer"] = json!(format!("{fhir_base}/fhir"));
    req["fhirAuthorization"] = json!({"access_token": "ehr-issued-token", "token_type": "Bearer", "expires_in": 300, "scope": "patient/*.read", "subject": "tend-cds"});
    req["prefetch"] = json!({"patient": null});
    let (s, cards) = post(&http, &url, &req, Some(&sign(&aud, "j6"))).await;
    assert_eq!(s, 200, "{cards}");
    let titles = summaries(&cards);
    assert!(
        !titles.iter().any(|t| t.starts_with("Colorectal")),
        "colonoscopy in 2020: {titles:?}"
    );
    assert!(
        !titles.iter().any(|t| t.starts_with("Blood pressure")),
        "known hypertension: {titles:?}"
    );
    assert!(
        titles.iter().any(|t| t.starts_with("Hepatitis C")),
        "{titles:?}"
    );
    let calls = seen.lock().unwrap().clone();
    assert!(calls.len() >= 7, "{calls:?}");
    assert!(
        calls
            .iter()
            .all(|c| c.starts_with("Bearer ehr-issued-token /fhir/")),
        "{calls:?}"
    );

    // A FHIR server that refuses: 502 naming the query.
    let mut req = hook("x1");
    req["fhirServer"] = json!(format!("{fhir_base}/nothing-here"));
    let (s, e) = post(&http, &url, &req, Some(&sign(&aud, "j7"))).await;
    assert_eq!(s, 502, "{e}");
    assert!(
        e["error"]
            .as_str()
            .unwrap()
            .contains("answered 404 Not Found to Condition?patient=x1"),
        "{e}"
    );
    tokio::time::sleep(Duration::from_millis(10)).await;

    // Every call was audited, naming the CDS client that signed it and the patient.
    store.save_checkpoint("cds-test", 1).unwrap();
    let (hits, _) = store.scan("AuditEvent", 0, 10_000).unwrap();
    let signed: Vec<Value> = hits
        .iter()
        .map(|h| serde_json::from_str::<Value>(&h.body).unwrap())
        .filter(|e| e["agent"][0]["altId"] == "https://ehr.example.org")
        .collect();
    assert!(!signed.is_empty(), "calls name their client");
    assert!(signed.iter().all(|e| e["outcome"] == "0"));
    assert!(signed.iter().any(|e| e["entity"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["what"]["reference"] == format!("Patient/{clinic}").as_str())));
    assert!(
        hits.iter()
            .any(|h| h.body.contains("unauthenticated client")
                && h.body.contains("\"outcome\":\"4\"")),
        "refused calls are audited too"
    );
}

fn rand_core() -> rsa::rand_core::OsRng {
    rsa::rand_core::OsRng
}
