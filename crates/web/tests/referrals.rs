//! Referrals to community services through the web app, end to end: the social worker sees
//! the patient's need, refers with consent (nothing leaves without it), the food network's
//! community partner finds the referral on their own page with the contact details and
//! nothing else of the record, accepts it and records that the need was met; the social
//! worker's worklist follows.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use serde_json::json;

mod support;
use support::{between, form as post, page as get, send};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_social_worker_refers_and_the_partner_closes_the_loop() {
    let dir = tempfile::tempdir().unwrap();
    let store = support::sqlite_store(dir.path());
    support::put_all(
        &*store,
        vec![
            json!({"resourceType": "Patient", "id": "p1", "name": [{"given": ["Rosa"], "family": "Lima"}],
                "identifier": [{"value": "MRN-SECRET-1"}], "birthDate": "1961-04-02",
                "telecom": [{"system": "phone", "value": "617-555-0142"}],
                "communication": [{"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": "es"}], "text": "Spanish"}, "preferred": true}]}),
            json!({"resourceType": "Observation", "id": "o1", "status": "final", "code": {"text": "HbA1c"},
                "subject": {"reference": "Patient/p1"}, "valueString": "LAB-SECRET"}),
            json!({"resourceType": "CareTeam", "id": "ct1", "status": "active", "subject": {"reference": "Patient/p1"},
                "participant": [{"member": {"reference": "Practitioner/sw1"}}]}),
        ],
    );
    let screenings = screening::Screenings::new(store.clone());
    let referrals = referrals::Referrals::new(
        store.clone(),
        referrals::Config::default(),
        std::sync::Arc::new(store::SystemClock),
    );
    let hsds = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../community/test_data/hsds/services.json"),
    )
    .unwrap();
    referrals.import(&store::Access::system(), &hsds).unwrap();
    let pantry = referrals
        .directory()
        .unwrap()
        .services
        .iter()
        .find(|s| s.needs.iter().any(|n| n == "food-insecurity"))
        .unwrap()
        .clone();
    let org = community::directory::fhir::fhir_id(&pantry.organization.id);
    let state = server::AppState::new(store.clone(), support::gate(&store));
    let gate = state.gate.clone();
    support::account(
        &gate,
        "social",
        access::Role::SocialWorker,
        Some("Practitioner/sw1"),
        &[],
    );
    support::partner(&gate, "pantry", &org);
    support::partner(&gate, "elsewhere", "cbo-nobody");
    let app = support::app_with(
        state,
        web::WebConfig {
            screening: Some(screenings.clone()),
            referrals: Some(referrals.clone()),
            ..Default::default()
        },
    );

    // The social worker screens: food insecurity.
    let social = support::sign_in(&app, "social").await;
    let (_, page) = get(&app, &social, "/patients/p1/social-needs").await;
    let csrf = between(&page, "name=\"csrf\" value=\"", "\"").to_string();
    let (s, page) = post(
        &app,
        &social,
        "/patients/p1/social-needs",
        &[("csrf", &csrf), ("q3", "LA28397-0"), ("q4", "LA28397-0")],
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{page}");
    assert!(
        page.contains("href=\"/patients/p1/social-needs/refer?need=food-insecurity\""),
        "{page}"
    );
    // The worklist shows the need awaiting a decision.
    let (s, page) = get(&app, &social, "/social").await;
    assert_eq!(s, StatusCode::OK, "{page}");
    let awaiting = between(&page, "id=\"h-awaiting\"", "</section>");
    assert!(
        awaiting.contains("Rosa Lima") && awaiting.contains("Food insecurity"),
        "{awaiting}"
    );

    // Referring: the pantry is offered, Spanish first; nothing is sent without consent.
    let (s, page) = get(
        &app,
        &social,
        "/patients/p1/social-needs/refer?need=food-insecurity",
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert!(page.contains(&pantry.name), "{page}");
    let (s, page) = post(
        &app,
        &social,
        "/patients/p1/social-needs/refer",
        &[
            ("csrf", &csrf),
            ("need", "food-insecurity"),
            ("service", &pantry.id),
            ("given_by", "patient"),
            ("method", "verbal"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.contains("Nothing is sent without the patient&#39;s consent")
            || page.contains("Nothing is sent without the patient's consent"),
        "{page}"
    );
    let (s, page) = post(
        &app,
        &social,
        "/patients/p1/social-needs/refer",
        &[
            ("csrf", &csrf),
            ("need", "food-insecurity"),
            ("service", &pantry.id),
            ("given_by", "patient"),
            ("method", "verbal"),
            ("consent", "yes"),
            ("note", "Best reached after 3 pm"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{page}");
    assert!(page.contains("Referral sent to"), "{page}");
    let referrals_card = between(&page, "id=\"h-referrals\"", "</section>");
    assert!(
        referrals_card.contains("Food insecurity") && referrals_card.contains(">Sent<"),
        "{referrals_card}"
    );

    // The partner: signed in, lands on their list; sees the contact details, not the record.
    let partner = support::sign_in(&app, "pantry").await;
    let (s, _, _) = send(
        &app,
        Request::get("/")
            .header(header::COOKIE, &partner)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let (s, page) = get(&app, &partner, "/partner").await;
    assert_eq!(s, StatusCode::OK, "{page}");
    let waiting = between(&page, "id=\"h-waiting\"", "</section>").to_string();
    assert!(
        waiting.contains("Rosa Lima")
            && waiting.contains("617-555-0142")
            && waiting.contains("Spanish"),
        "{waiting}"
    );
    assert!(waiting.contains("Best reached after 3 pm"));
    assert!(
        !page.contains("MRN-SECRET-1") && !page.contains("LAB-SECRET") && !page.contains("1961"),
        "{page}"
    );
    let (s, _) = get(&app, &partner, "/patients/p1/social-needs").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = get(&app, &partner, "/patients/p1").await;
    assert_ne!(s, StatusCode::OK);
    let (s, _) = get(&app, &partner, "/social").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Another organisation's partner sees nothing of it.
    let other = support::sign_in(&app, "elsewhere").await;
    let (_, page) = get(&app, &other, "/partner").await;
    assert!(!page.contains("Rosa"), "{page}");

    // Accept, then finish with the need met.
    let action = between(&waiting, "action=\"/referrals/", "\"").to_string();
    let version = between(&waiting, "name=\"version\" value=\"", "\"").to_string();
    let pcsrf = between(
        &page_csrf(&app, &partner).await,
        "name=\"csrf\" value=\"",
        "\"",
    )
    .to_string();
    let path = format!("/referrals/{action}");
    // The social worker cannot answer for the partner.
    let (_, page) = post(
        &app,
        &social,
        &path,
        &[("csrf", &csrf), ("version", &version), ("action", "accept")],
    )
    .await;
    assert!(page.contains("Not recorded"), "{page}");
    let (_, page) = post(
        &app,
        &partner,
        &path,
        &[
            ("csrf", &pcsrf),
            ("version", &version),
            ("action", "accept"),
            ("note", "Booked Thursday"),
        ],
    )
    .await;
    assert!(page.contains("Referral now accepted."), "{page}");
    let hand = between(&page, "id=\"h-hand\"", "</section>").to_string();
    let version = between(&hand, "name=\"version\" value=\"", "\"").to_string();
    let (_, page) = post(
        &app,
        &partner,
        &path,
        &[
            ("csrf", &pcsrf),
            ("version", &version),
            ("action", "complete"),
            ("outcome", "need-met"),
        ],
    )
    .await;
    assert!(page.contains("Recorded: the need was met."), "{page}");
    assert!(between(&page, "id=\"h-finished\"", "</section>").contains("Need met"));

    // The hospital sees it closed, with the outcome.
    let (_, page) = get(&app, &social, "/patients/p1/social-needs").await;
    let card = between(&page, "id=\"h-referrals\"", "</section>");
    assert!(
        card.contains("Completed") && card.contains("Need met"),
        "{card}"
    );
}

async fn page_csrf(app: &axum::Router, cookie: &str) -> String {
    get(app, cookie, "/partner").await.1
}
