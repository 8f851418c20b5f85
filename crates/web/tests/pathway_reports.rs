//! Pathway standards over the whole application: the navigation service counts stopped
//! clocks into monthly MeasureReports, and the page shows each month against the standard,
//! one month by group, and never a count under 11; navigators and the quality office see it,
//! a nurse does not.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use serde_json::{json, Value};

mod support;
use support::{between, send};

const EVENT: &str = "https://tend.example.org/fhir/CodeSystem/pathway-event";

/// 14 referrals on 1 October 2026: 12 told their diagnosis on 15 October (within 28 days),
/// 2 on 5 November (past it).
fn resources() -> Vec<Value> {
    let mut out = vec![
        json!({"resourceType": "Practitioner", "id": "nav1", "name": [{"text": "Nadia Navigator"}]}),
        json!({"resourceType": "PractitionerRole", "id": "role-nav1", "practitioner": {"reference": "Practitioner/nav1"}, "code": [{"text": "Patient navigator"}]}),
    ];
    for i in 0..14 {
        let p = format!("p{i}");
        let late = i >= 12;
        out.push(json!({"resourceType": "Patient", "id": p, "name": [{"given": [format!("Pat{i}")], "family": "Lane"}], "gender": if i % 7 == 0 { "male" } else { "female" }, "birthDate": "1960-01-01",
            "extension": [{"url": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race", "extension": [{"url": "text", "valueString": if i < 11 { "White" } else { "Asian" }}]}]}));
        out.push(json!({"resourceType": "ServiceRequest", "id": format!("sr{i}"), "status": "completed", "intent": "order", "priority": "urgent",
            "meta": {"tag": [{"system": EVENT, "code": "urgent-suspected-cancer-referral"}]},
            "subject": {"reference": format!("Patient/{p}")}, "authoredOn": "2026-10-01T10:00:00Z"}));
        out.push(json!({"resourceType": "Communication", "id": format!("told{i}"), "status": "completed",
            "meta": {"tag": [{"system": EVENT, "code": "diagnosis-communicated"}]},
            "subject": {"reference": format!("Patient/{p}")}, "sent": if late { "2026-11-05T10:00:00Z" } else { "2026-10-15T10:00:00Z" }}));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monthly_compliance_is_shown_against_the_standard_and_small_counts_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let store = support::sqlite_store(dir.path());
    support::put_all(&*store, resources());
    let nav = navigation::Navigation::new(
        store.clone(),
        navigation::Config::default(),
        Arc::new(store::SystemClock),
    );
    nav.catch_up().unwrap();
    // The reports are stored, without any count under 11.
    let oct = store
        .read(
            &store::Access::system(),
            "MeasureReport",
            "pathway-nhs-suspected-cancer-fds-28-2026-10",
        )
        .unwrap()
        .expect("October's 28-day report");
    let body: Value = serde_json::from_str(&oct.body.unwrap()).unwrap();
    assert_eq!(body["group"][0]["population"][0]["count"], 12);
    let nov = store
        .read(
            &store::Access::system(),
            "MeasureReport",
            "pathway-nhs-suspected-cancer-fds-28-2026-11",
        )
        .unwrap()
        .expect("November's 28-day report");
    assert!(
        !nov.body.unwrap().contains("\"count\""),
        "2 stopped: suppressed"
    );

    let state = server::AppState::new(store.clone(), support::gate(&store));
    let gate = state.gate.clone();
    support::account(
        &gate,
        "navigator",
        access::Role::Navigator,
        Some("Practitioner/nav1"),
        &[],
    );
    support::account(&gate, "quality", access::Role::QualityOfficer, None, &[]);
    support::account(
        &gate,
        "nurse",
        access::Role::Nurse,
        Some("Practitioner/n1"),
        &[],
    );
    let app = support::app_with(
        state,
        web::WebConfig {
            navigation: Some(nav),
            ..Default::default()
        },
    );
    let get = |cookie: String, path: &'static str| {
        let app = app.clone();
        async move {
            let (s, _, body) = send(
                &app,
                Request::get(path)
                    .header(header::COOKIE, cookie)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
            (s, body)
        }
    };
    let quality = support::sign_in(&app, "quality").await;
    let (s, page) = get(quality.clone(), "/navigation/reports").await;
    assert_eq!(s, StatusCode::OK, "{page}");
    let fds = between(&page, "28-day Faster Diagnosis Standard", "</section>");
    assert!(
        fds.contains("The standard expects 80% within target."),
        "{fds}"
    );
    assert!(
        fds.contains("October 2026") && fds.contains("100% of 12 within target"),
        "{fds}"
    );
    assert!(
        fds.contains("November 2026") && fds.contains("fewer than 11 counted"),
        "{fds}"
    );
    let (s, page) = get(
        quality.clone(),
        "/navigation/reports?standard=pathway-nhs-suspected-cancer-fds-28&month=2026-10",
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let detail = between(&page, "id=\"h-detail\"", "</section>");
    assert!(
        detail.contains("Female") && detail.contains("100% of 11 within target"),
        "{detail}"
    );
    assert!(
        detail.contains("White") && detail.contains("Asian"),
        "{detail}"
    );
    // Asian: 1 patient in October; male: 2: never shown as numbers.
    assert!(
        !detail.contains("of 1 within") && !detail.contains("of 2 within"),
        "{detail}"
    );
    // November's two breaches, put down to their longest delay: counts only for the
    // quality office (and none under 11), the patients for their navigator.
    let november = "/navigation/reports?standard=pathway-nhs-suspected-cancer-fds-28&month=2026-11";
    let (_, page) = get(quality.clone(), november).await;
    let breaches = between(&page, "id=\"h-breaches\"", "</section>");
    assert!(
        breaches.contains("stopped in November 2026")
            && breaches.contains("<strong>diagnosis told to the patient</strong> fewer than 11"),
        "{breaches}"
    );
    assert!(
        !breaches.contains("Pat12") && !breaches.contains("<table"),
        "{breaches}"
    );
    let navigator = support::sign_in(&app, "navigator").await;
    assert_eq!(
        get(navigator.clone(), "/navigation/reports").await.0,
        StatusCode::OK
    );
    let (_, page) = get(navigator, november).await;
    let breaches = between(&page, "id=\"h-breaches\"", "</section>");
    assert!(
        breaches.contains("<strong>diagnosis told to the patient</strong> 2 breaches"),
        "{breaches}"
    );
    for p in ["Pat12", "Pat13"] {
        let row = between(breaches, p, "</tr>");
        assert!(
            row.contains("35 days (standard 28)")
                && row.contains("Diagnosis told to the patient took 35 days (usually 12)"),
            "{row}"
        );
    }
    assert!(!breaches.contains("Pat11"), "on time: not a breach");
    let nurse = support::sign_in(&app, "nurse").await;
    assert_eq!(
        get(nurse, "/navigation/reports").await.0,
        StatusCode::FORBIDDEN
    );
}
