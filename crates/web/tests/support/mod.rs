//! Shared by the web tests: accounts behind the gate, and signing in through the real form.
#![allow(dead_code)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

pub(crate) mod browser;

pub(crate) const PASSWORD: &str = "correct horse battery staple";

/// A SQLite store in `dir`.
pub(crate) fn sqlite_store(dir: &std::path::Path) -> Arc<dyn store::Store> {
    store::open(
        &format!("sqlite://{}", dir.join("tend.db").display()),
        store::Options {
            clock: Arc::new(store::SystemClock),
            indexer: Arc::new(search::Indexer::new(search::Registry::r4()).unwrap()),
            readers: 2,
        },
    )
    .unwrap()
}

/// Store resources as they are (each at its id), in one transaction, as Tend itself.
pub(crate) fn put_all(store: &dyn store::Store, resources: Vec<serde_json::Value>) {
    let entries = resources
        .into_iter()
        .map(|v| store::Entry {
            full_url: None,
            op: store::WriteOp::Update {
                rtype: v["resourceType"].as_str().unwrap().into(),
                id: v["id"].as_str().unwrap().into(),
                resource: v,
                if_match: None,
            },
        })
        .collect();
    store
        .write(&store::Access::system(), entries, store::Mode::Atomic)
        .unwrap();
}

/// A gate whose accounts live in `store`.
pub(crate) fn gate(store: &Arc<dyn store::Store>) -> Arc<server::Gate> {
    Arc::new(server::Gate::for_store(store.clone()))
}

/// The whole application as `tend serve` layers it: API, pages, gate, audit.
pub(crate) fn app(state: server::AppState) -> axum::Router {
    app_with(state, web::WebConfig::default())
}

/// [`app`] with the web app's settings.
pub(crate) fn app_with(state: server::AppState, config: web::WebConfig) -> axum::Router {
    let app = server::app(state.clone()).merge(web::router(state.clone(), config));
    server::compose(app, &state, false)
}

/// Add an account (the first must be the administrator).
pub(crate) fn account(
    gate: &server::Gate,
    username: &str,
    role: access::Role,
    practitioner: Option<&str>,
    wards: &[&str],
) {
    if gate.accounts.is_empty().unwrap() && role != access::Role::Administrator {
        account(gate, "admin", access::Role::Administrator, None, &[]);
    }
    gate.accounts
        .add(
            accounts::NewAccount {
                username: username.into(),
                name: format!("Test {username}"),
                role,
                practitioner: practitioner.map(str::to_string),
                wards: wards.iter().map(|w| w.to_string()).collect(),
                organization: None,
                password: PASSWORD.into(),
            },
            "test",
        )
        .unwrap();
}

/// Add a community partner working for `organization` (an Organization id).
pub(crate) fn partner(gate: &server::Gate, username: &str, organization: &str) {
    if gate.accounts.is_empty().unwrap() {
        account(gate, "admin", access::Role::Administrator, None, &[]);
    }
    gate.accounts
        .add(
            accounts::NewAccount {
                username: username.into(),
                name: format!("Test {username}"),
                role: access::Role::CommunityPartner,
                practitioner: None,
                wards: vec![],
                organization: Some(organization.into()),
                password: PASSWORD.into(),
            },
            "test",
        )
        .unwrap();
}

pub(crate) async fn send(
    app: &axum::Router,
    req: Request<Body>,
) -> (StatusCode, Vec<String>, String) {
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let cookies = resp
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|c| c.to_str().ok())
        .map(|c| c.split(';').next().unwrap().to_string())
        .collect();
    let body = String::from_utf8(
        resp.into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap();
    (status, cookies, body)
}

/// The text between `start` and the next `end`.
pub(crate) fn between<'a>(s: &'a str, start: &str, end: &str) -> &'a str {
    let i = s
        .find(start)
        .unwrap_or_else(|| panic!("{start} not in page"))
        + start.len();
    &s[i..i + s[i..].find(end).unwrap()]
}

/// Sign in through the form (its login-CSRF cookie and token); returns the session cookie.
pub(crate) async fn sign_in(app: &axum::Router, username: &str) -> String {
    sign_in_with(app, username, PASSWORD, None)
        .await
        .expect("signed in")
}

/// A refused sign-in through the form: the status and the message the page shows.
pub(crate) async fn refusal(
    app: &axum::Router,
    username: &str,
    password: &str,
) -> (StatusCode, String) {
    let (s, _, page) = post_sign_in(app, username, password, None).await;
    (s, between(&page, "role=\"alert\">", "</p>").to_string())
}

/// Sign in, optionally presenting a cookie already in the browser; `None` if refused.
pub(crate) async fn sign_in_with(
    app: &axum::Router,
    username: &str,
    password: &str,
    presented: Option<&str>,
) -> Option<String> {
    let (s, cookies, _) = post_sign_in(app, username, password, presented).await;
    if s != StatusCode::SEE_OTHER {
        return None;
    }
    cookies.into_iter().find(|c| c.starts_with("tend_session="))
}

/// The sign-in form, fetched and posted as a browser does (its login-CSRF cookie and token).
async fn post_sign_in(
    app: &axum::Router,
    username: &str,
    password: &str,
    presented: Option<&str>,
) -> (StatusCode, Vec<String>, String) {
    let (_, cookies, page) = send(app, Request::get("/sign-in").body(Body::empty()).unwrap()).await;
    let mut cookie = cookies
        .into_iter()
        .find(|c| c.starts_with("tend_signin="))
        .unwrap();
    let csrf = between(&page, "name=\"csrf\" value=\"", "\"").to_string();
    if let Some(p) = presented {
        cookie = format!("{cookie}; {p}");
    }
    send(
        app,
        Request::post("/sign-in")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, cookie)
            .body(Body::from(format!(
                "csrf={csrf}&username={username}&password={}",
                password.replace(' ', "+")
            )))
            .unwrap(),
    )
    .await
}

/// Post a form as `cookie`; after a redirect, the page it leads to.
pub(crate) async fn form(
    app: &axum::Router,
    cookie: &str,
    path: &str,
    form: &[(&str, &str)],
) -> (axum::http::StatusCode, String) {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let resp = tower::ServiceExt::oneshot(
        app.clone(),
        axum::http::Request::post(path)
            .header(axum::http::header::COOKIE, cookie)
            .header(
                axum::http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(axum::body::Body::from(body))
            .unwrap(),
    )
    .await
    .unwrap();
    let status = resp.status();
    let to = resp
        .headers()
        .get(axum::http::header::LOCATION)
        .map(|l| l.to_str().unwrap().to_string());
    match to {
        Some(to) if status == axum::http::StatusCode::SEE_OTHER => {
            let (_, _, page) = send(
                app,
                axum::http::Request::get(to)
                    .header(axum::http::header::COOKIE, cookie)
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await;
            (status, page)
        }
        _ => {
            let bytes = http_body_util::BodyExt::collect(resp.into_body())
                .await
                .unwrap()
                .to_bytes();
            (status, String::from_utf8(bytes.to_vec()).unwrap())
        }
    }
}

/// A page as `cookie`.
pub(crate) async fn page(
    app: &axum::Router,
    cookie: &str,
    path: &str,
) -> (axum::http::StatusCode, String) {
    let (s, _, page) = send(
        app,
        axum::http::Request::get(path)
            .header(axum::http::header::COOKIE, cookie)
            .body(axum::body::Body::empty())
            .unwrap(),
    )
    .await;
    (s, page)
}

/// Synth's "now" (2026-11-24T08:00:00Z), for services that must agree with its history.
pub(crate) struct SynthNow;
impl store::Clock for SynthNow {
    fn now_ms(&self) -> i64 {
        1_795_507_200_000
    }
}

/// A synthetic hospital with `clinic_patients` clinic patients and `history_days` of past
/// stays in a SQLite store in `dir`, and the quality measures run over it once (hospital
/// time New York, the clock at synth's now).
pub(crate) fn quality_hospital(
    dir: &std::path::Path,
    clinic_patients: usize,
    history_days: u32,
) -> (Arc<dyn store::Store>, Arc<measure_reports::MeasureReports>) {
    let store = sqlite_store(dir);
    let cfg = synth::Config {
        inpatients: 20,
        clinic_patients,
        cancer_referrals: 2,
        vitals_days: 1,
        history_days,
        ..synth::Config::default()
    };
    put_all(&*store, synth::generate(&cfg).resources);
    let quality = measure_reports::MeasureReports::new(
        store.clone(),
        Arc::new(SynthNow),
        measure_reports::Config {
            zone: "America/New_York".into(),
            ..Default::default()
        },
    )
    .unwrap();
    quality.run_now().unwrap();
    (store, quality)
}

fn reading(patient: &str, id: &str, code: &str, value: Value, unit: &str, at: i64) -> Value {
    let mut o = json!({"resourceType": "Observation", "id": id, "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
        "subject": {"reference": format!("Patient/{patient}")},
        "encounter": {"reference": format!("Encounter/e-{patient}")},
        "effectiveDateTime": search::format_instant(at)});
    if code == "67775-7" {
        o["valueCodeableConcept"] =
            json!({"coding": [{"system": "http://snomed.info/sct", "code": value}]});
    } else {
        o["valueQuantity"] =
            json!({"value": value, "system": "http://unitsofmeasure.org", "code": unit});
    }
    o
}

/// A full set of vital signs in encounter `e-{patient}`: respiration, SpO2, oxygen flow (0:
/// air), systolic, pulse, temperature; alert.
#[allow(clippy::too_many_arguments)]
pub(crate) fn vital_set(
    patient: &str,
    at: i64,
    rr: i64,
    spo2: i64,
    o2: f64,
    sbp: i64,
    hr: i64,
    temp: f64,
) -> Vec<Value> {
    let id = |k: &str| format!("{patient}-{k}");
    let mut v = vec![
        reading(patient, &id("rr"), "9279-1", json!(rr), "/min", at),
        reading(patient, &id("spo2"), "59408-5", json!(spo2), "%", at),
        reading(patient, &id("sbp"), "8480-6", json!(sbp), "mm[Hg]", at),
        reading(patient, &id("hr"), "8867-4", json!(hr), "/min", at),
        reading(patient, &id("avpu"), "67775-7", json!("248234008"), "", at),
        reading(patient, &id("temp"), "8310-5", json!(temp), "Cel", at),
    ];
    if o2 > 0.0 {
        v.push(reading(
            patient,
            &id("o2"),
            "3151-8",
            json!(o2),
            "L/min",
            at,
        ));
    } else {
        let mut air = reading(patient, &id("o2"), "3151-8", json!(0), "L/min", at);
        air["valueQuantity"]["value"] = json!(0);
        v.push(air);
    }
    let members: Vec<Value> = v
        .iter()
        .map(|o| json!({"reference": format!("Observation/{}", o["id"].as_str().unwrap())}))
        .collect();
    v.push(
        json!({"resourceType": "Observation", "id": id("panel"), "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "85353-1"}]},
        "subject": {"reference": format!("Patient/{patient}")},
        "encounter": {"reference": format!("Encounter/e-{patient}")},
        "effectiveDateTime": search::format_instant(at), "hasMember": members}),
    );
    v
}
