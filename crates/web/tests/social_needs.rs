//! Social-needs screening through the web app: a nurse asks the questions on her ward
//! patient's record; the needs found are said in the notice and the results; the safety
//! answers are restricted, so she sees that they exist but not what they say, while the
//! physician sees them and the follow-up they ask for; a role that does not screen is
//! refused.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use serde_json::json;

mod support;
use support::{between, send};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nurse_screens_and_the_safety_answers_reach_only_the_physician() {
    let dir = tempfile::tempdir().unwrap();
    let store = support::sqlite_store(dir.path());
    support::put_all(
        &*store,
        vec![
            json!({"resourceType": "Location", "id": "ward-t", "name": "Ward T", "status": "active"}),
            json!({"resourceType": "Patient", "id": "p1", "name": [{"given": ["Ada"], "family": "Lovel"}]}),
            json!({"resourceType": "Encounter", "id": "e1", "status": "in-progress",
                "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
                "subject": {"reference": "Patient/p1"}, "period": {"start": "2026-12-01T10:00:00Z"},
                "location": [{"location": {"reference": "Location/ward-t"}, "status": "active"}]}),
        ],
    );
    let screenings = screening::Screenings::new(store.clone());
    let state = server::AppState::new(store.clone(), support::gate(&store));
    let gate = state.gate.clone();
    let ward = ["Location/ward-t"];
    support::account(
        &gate,
        "nurse",
        access::Role::Nurse,
        Some("Practitioner/n1"),
        &ward,
    );
    support::account(
        &gate,
        "physician",
        access::Role::Physician,
        Some("Practitioner/d1"),
        &ward,
    );
    support::account(
        &gate,
        "coordinator",
        access::Role::MdtCoordinator,
        Some("Practitioner/c1"),
        &[],
    );
    let app = support::app_with(
        state,
        web::WebConfig {
            screening: Some(screenings),
            ..Default::default()
        },
    );
    let get = |cookie: String, path: String| {
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
    let nurse = support::sign_in(&app, "nurse").await;
    let (s, page) = get(nurse.clone(), "/patients/p1/social-needs".into()).await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert!(page.contains("Not screened yet."));
    let csrf = between(&page, "name=\"csrf\" value=\"", "\"").to_string();
    let form = form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("csrf", csrf.as_str()),
            ("q1", "LA31993-1"),
            ("q3", "LA6729-3"),
            ("q4", "LA28398-8"),
            ("q7", "LA10066-1"),
            ("q8", "LA6270-8"),
            ("q9", "LA6270-8"),
            ("q10", "LA6270-8"),
        ])
        .finish();
    let resp = tower::ServiceExt::oneshot(
        app.clone(),
        Request::post("/patients/p1/social-needs")
            .header(header::COOKIE, &nurse)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form))
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let to = resp.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_string();
    let (_, page) = get(nurse.clone(), to).await;
    assert!(
        page.contains("Screening saved. Needs found: food insecurity."),
        "{page}"
    );
    let results = between(&page, "id=\"h-results\"", "</section>");
    assert!(
        results.contains("Food insecurity") && results.contains(">Need<"),
        "{results}"
    );
    assert!(!results.contains("Interpersonal safety"), "{results}");
    assert!(results.contains("shown only to clinicians"), "{results}");
    assert!(
        !page.contains("should follow up"),
        "the nurse is not told what the answers say"
    );

    let physician = support::sign_in(&app, "physician").await;
    let (_, page) = get(physician.clone(), "/patients/p1/social-needs".into()).await;
    assert!(
        page.contains("A clinician should follow up today, privately."),
        "{page}"
    );
    let results = between(&page, "id=\"h-results\"", "</section>");
    assert!(
        results.contains("Interpersonal safety") && results.contains("total 5"),
        "{results}"
    );

    // The physician confirms the food need, with the patient's goal.
    let needs = between(&page, "id=\"h-needs\"", "</section>").to_string();
    assert!(
        needs.contains("Food insecurity") && needs.contains("Awaiting a clinician"),
        "{needs}"
    );
    let action = between(&needs, "<form method=\"post\" action=\"", "\"").to_string();
    let version = between(&needs, "name=\"version\" value=\"", "\"").to_string();
    let csrf = between(&page, "name=\"csrf\" value=\"", "\"").to_string();
    let form = form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("csrf", csrf.as_str()),
            ("version", version.as_str()),
            ("decision", "confirm"),
            ("goal", "Enough food every week"),
        ])
        .finish();
    let resp = tower::ServiceExt::oneshot(
        app.clone(),
        Request::post(&action)
            .header(header::COOKIE, &physician)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form.clone()))
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let to = resp.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_string();
    let (_, page) = get(physician.clone(), to).await;
    assert!(
        page.contains("Food insecurity confirmed as a need."),
        "{page}"
    );
    assert!(between(&page, "id=\"h-needs\"", "</section>").contains("Confirmed need"));
    // Posting the same decision again (a second tab) is refused in words.
    let resp = tower::ServiceExt::oneshot(
        app.clone(),
        Request::post(&action)
            .header(header::COOKIE, &physician)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form))
            .unwrap(),
    )
    .await
    .unwrap();
    let to = resp.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_string();
    let (_, page) = get(physician, to).await;
    assert!(page.contains("Someone has decided on this need"), "{page}");

    let coordinator = support::sign_in(&app, "coordinator").await;
    let (s, _) = get(coordinator, "/patients/p1/social-needs".into()).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

/// The nurse hands the tablet to the patient: her session ends on the device, the tablet
/// shows the questions only, the answers are recorded as hers with the patient as their
/// source, the key works once, and the audit names both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_patient_answers_on_a_tablet_handed_over_by_the_nurse() {
    let dir = tempfile::tempdir().unwrap();
    let store = support::sqlite_store(dir.path());
    support::put_all(
        &*store,
        vec![
            json!({"resourceType": "Location", "id": "ward-t", "name": "Ward T", "status": "active"}),
            json!({"resourceType": "Patient", "id": "p1", "name": [{"given": ["Ada"], "family": "Lovel"}],
                "identifier": [{"value": "MRN-SECRET"}]}),
            json!({"resourceType": "Encounter", "id": "e1", "status": "in-progress",
                "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
                "subject": {"reference": "Patient/p1"}, "period": {"start": "2026-12-01T10:00:00Z"},
                "location": [{"location": {"reference": "Location/ward-t"}, "status": "active"}]}),
        ],
    );
    let screenings = screening::Screenings::new(store.clone());
    let state = server::AppState::new(store.clone(), support::gate(&store));
    let gate = state.gate.clone();
    support::account(
        &gate,
        "nurse",
        access::Role::Nurse,
        Some("Practitioner/n1"),
        &["Location/ward-t"],
    );
    let app = support::app_with(
        state,
        web::WebConfig {
            screening: Some(screenings.clone()),
            ..Default::default()
        },
    );
    let nurse = support::sign_in(&app, "nurse").await;
    let (_, _, page) = send(
        &app,
        Request::get("/patients/p1/social-needs")
            .header(header::COOKIE, &nurse)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    let csrf = between(&page, "name=\"csrf\" value=\"", "\"").to_string();
    let resp = tower::ServiceExt::oneshot(
        app.clone(),
        Request::post("/patients/p1/social-needs/kiosk")
            .header(header::COOKIE, &nurse)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(format!("csrf={csrf}")))
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let kiosk = resp.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_string();
    assert!(kiosk.starts_with("/kiosk/"));
    assert!(resp.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    // The nurse's session is over on this device.
    let (s, _, _) = send(
        &app,
        Request::get("/patients/p1/social-needs")
            .header(header::COOKIE, &nurse)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_ne!(s, StatusCode::OK);
    // The tablet: the questions, the first name, nothing else of the record.
    let (s, _, page) = send(&app, Request::get(&kiosk).body(Body::empty()).unwrap()).await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert!(
        page.contains("Hello, Ada.") && page.contains("name=\"q1\""),
        "{page}"
    );
    assert!(
        !page.contains("Lovel") && !page.contains("MRN-SECRET") && !page.contains("Ward board")
    );
    // Nothing answered: asked again.
    let (s, _, page) = send(
        &app,
        Request::post(&kiosk)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(""))
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("Please answer at least one question"));
    let (s, _, page) = send(
        &app,
        Request::post(&kiosk)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from("q3=LA28397-0&q5=LA33-6"))
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert!(page.contains("Please hand the tablet back"));
    // Once only.
    let (s, _, _) = send(&app, Request::get(&kiosk).body(Body::empty()).unwrap()).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Recorded as the nurse's, with the patient as the source.
    let q = search::SearchQuery::parse(
        search::Registry::r4(),
        "QuestionnaireResponse",
        &[("subject".to_string(), "Patient/p1".to_string())],
    )
    .unwrap();
    let page = store.search(&store::Access::system(), &q).unwrap();
    assert_eq!(page.matches.len(), 1);
    let qr: serde_json::Value = serde_json::from_str(&page.matches[0].body).unwrap();
    assert_eq!(qr["author"]["reference"], "Practitioner/n1");
    assert_eq!(qr["source"]["reference"], "Patient/p1");
    assert_eq!(qr["language"], "en");
    let latest = screenings
        .latest(&store::Access::system(), "p1")
        .unwrap()
        .unwrap();
    assert!(latest
        .score
        .positive()
        .any(|d| d.domain == "food-insecurity"));
    assert!(latest
        .score
        .positive()
        .any(|d| d.domain == "transportation-insecurity"));
    // The audit trail names the nurse for the tablet's requests, with the patient.
    let q = search::SearchQuery::parse(
        search::Registry::r4(),
        "AuditEvent",
        &[("patient".to_string(), "Patient/p1".to_string())],
    )
    .unwrap();
    let events = store.search(&store::Access::system(), &q).unwrap().matches;
    assert!(
        events
            .iter()
            .any(|e| e.body.contains("/kiosk/") && e.body.contains("nurse")),
        "{events:?}"
    );
}
