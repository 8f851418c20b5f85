//! Safety-event reporting through the web app, end to end: a physician reports a fall from
//! the patient's chart; the safety reviewer finds it first in the queue, triages it, agrees
//! an action, marks it done and closes the review sharing the learning; the reporter sees
//! the outcome on their own page, a colleague sees the shared learning but not the report,
//! and nobody but the safety team reaches the queue or the review.

use axum::http::StatusCode;
use serde_json::json;

mod support;
use support::{between, form as post, page as get};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fall_is_reported_reviewed_and_its_learning_shared() {
    let dir = tempfile::tempdir().unwrap();
    let store = support::sqlite_store(dir.path());
    support::put_all(
        &*store,
        vec![
            json!({"resourceType": "Patient", "id": "p1", "name": [{"given": ["Rosa"], "family": "Lima"}],
                "identifier": [{"value": "MRN-0001"}]}),
            json!({"resourceType": "CareTeam", "id": "ct1", "status": "active", "subject": {"reference": "Patient/p1"},
                "participant": [{"member": {"reference": "Practitioner/d1"}}]}),
            json!({"resourceType": "Location", "id": "ward-a", "name": "Ward A", "status": "active",
                "physicalType": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/location-physical-type", "code": "wa"}]}}),
        ],
    );
    let safety = safety::Safety::new(store.clone(), std::sync::Arc::new(store::SystemClock));
    let state = server::AppState::new(store.clone(), support::gate(&store));
    let gate = state.gate.clone();
    support::account(
        &gate,
        "doc",
        access::Role::Physician,
        Some("Practitioner/d1"),
        &[],
    );
    support::account(
        &gate,
        "colleague",
        access::Role::Physician,
        Some("Practitioner/d2"),
        &[],
    );
    support::account(
        &gate,
        "rae",
        access::Role::SafetyReviewer,
        Some("Practitioner/r1"),
        &[],
    );
    support::partner(&gate, "pantry", "cbo-pantry");
    let app = support::app_with(
        state,
        web::WebConfig {
            safety: Some(safety.clone()),
            ..Default::default()
        },
    );

    // From the chart: the patient is filled in.
    let doc = support::sign_in(&app, "doc").await;
    let (status, form) = get(&app, &doc, "/safety/report?patient=p1").await;
    assert_eq!(status, StatusCode::OK);
    assert!(form.contains("Rosa Lima"), "the patient by name");
    assert!(!form.contains("Patient/p1"), "no raw references");
    let csrf = between(&form, "name=\"csrf\" value=\"", "\"").to_string();
    let occurred = between(
        &form,
        "name=\"occurred\" type=\"datetime-local\" value=\"",
        "\"",
    )
    .to_string();

    // Something missing: the form comes back with what to correct, nothing filed.
    let (status, again) = post(
        &app,
        &doc,
        "/safety/report",
        &[
            ("csrf", &csrf),
            ("kind", "incident"),
            ("category", "fall"),
            ("occurred", &occurred),
            ("patient", "p1"),
            ("description", "Found on the floor."),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        again.contains("Say how much harm the patient came to."),
        "{again}"
    );
    assert!(
        again.contains("Say whether the fall caused an injury"),
        "{again}"
    );
    assert!(
        again.contains("Found on the floor."),
        "what was typed is kept"
    );

    let (status, mine) = post(
        &app,
        &doc,
        "/safety/report",
        &[
            ("csrf", &csrf),
            ("kind", "incident"),
            ("category", "fall"),
            ("occurred", &occurred),
            ("location", "ward-a"),
            ("patient", "p1"),
            ("description", "Found on the floor beside the bed at night."),
            ("harm", "mild"),
            ("fall_injury", "minor"),
            ("fall_assisted", "no"),
            ("factor", "patient"),
            ("factor", "environment"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(mine.contains("Thank you. Your report SE-"), "{mine}");
    let reference = format!("SE-{}", between(&mine, "Your report SE-", " "));
    assert!(
        mine.contains("Fall") && mine.contains("Ward A") && mine.contains(">New<"),
        "{mine}"
    );

    // The colleague, the partner: no queue, no review, not the report.
    let colleague = support::sign_in(&app, "colleague").await;
    assert_eq!(
        get(&app, &colleague, "/safety").await.0,
        StatusCode::FORBIDDEN
    );
    let (_, theirs) = get(&app, &colleague, "/safety/mine").await;
    assert!(!theirs.contains(&reference));
    let pantry = support::sign_in(&app, "pantry").await;
    assert_eq!(
        get(&app, &pantry, "/safety/report").await.0,
        StatusCode::FORBIDDEN
    );
    assert!(!get(&app, &pantry, "/safety/mine")
        .await
        .1
        .contains("Report a safety event"));

    // The safety reviewer lands on the queue; the fall is there, awaiting triage.
    let rae = support::sign_in(&app, "rae").await;
    let home = tower::ServiceExt::oneshot(
        app.clone(),
        axum::http::Request::get("/")
            .header(axum::http::header::COOKIE, &rae)
            .body(axum::body::Body::empty())
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(
        home.headers()[axum::http::header::LOCATION],
        "/safety",
        "the reviewer's home is the queue"
    );
    let (_, home) = get(&app, &rae, "/safety").await;
    let new = between(&home, "id=\"h-new\"", "</section>");
    assert!(
        new.contains(&reference) && new.contains("Mild harm"),
        "{new}"
    );
    let id = between(new, "href=\"/safety/events/", "\"").to_string();
    let path = format!("/safety/events/{id}");
    let (_, report) = get(&app, &rae, &path).await;
    assert!(
        report.contains("Test doc (Physician)"),
        "the reporter, for the safety team"
    );
    assert!(report.contains("Found on the floor beside the bed at night."));
    assert!(report.contains("Minor"), "the fall's injury");
    let csrf = between(&report, "name=\"csrf\" value=\"", "\"").to_string();
    let version = |page: &str| between(page, "name=\"version\" value=\"", "\"").to_string();

    // The reporter cannot review.
    let doc_csrf = between(
        &get(&app, &doc, "/safety/report").await.1,
        "name=\"csrf\" value=\"",
        "\"",
    )
    .to_string();
    let (status, _) = post(
        &app,
        &doc,
        &path,
        &[
            ("csrf", &doc_csrf),
            ("version", "1"),
            ("step", "note"),
            ("text", "x"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (_, page) = post(
        &app,
        &rae,
        &path,
        &[
            ("csrf", &csrf),
            ("version", &version(&report)),
            ("step", "triage"),
            ("priority", "high"),
            ("harm", "moderate"),
        ],
    )
    .await;
    assert!(page.contains("is now triaged"), "{page}");
    assert!(page.contains("Harm confirmed as Moderate harm (reported: Mild harm)."));
    let (_, page) = post(
        &app,
        &rae,
        &path,
        &[
            ("csrf", &csrf),
            ("version", &version(&page)),
            ("step", "action"),
            ("text", "Bed-exit alarms on for patients at high fall risk"),
            ("owner", "Ward A manager"),
            ("due", "2020-01-31"),
        ],
    )
    .await;
    assert!(
        page.contains("Bed-exit alarms on") && page.contains(">Overdue<"),
        "{page}"
    );
    // Closing with an action open is refused, saying why.
    let (_, page) = post(
        &app,
        &rae,
        &path,
        &[
            ("csrf", &csrf),
            ("version", &version(&page)),
            ("step", "close"),
            ("text", "x"),
            ("share", "1"),
        ],
    )
    .await;
    assert!(page.contains("are not done yet"), "{page}");
    let (_, page) = post(
        &app,
        &rae,
        &path,
        &[
            ("csrf", &csrf),
            ("version", &version(&page)),
            ("step", "action-done"),
            ("index", "0"),
        ],
    )
    .await;
    let (_, page) = post(
        &app,
        &rae,
        &path,
        &[
            ("csrf", &csrf),
            ("version", &version(&page)),
            ("step", "close"),
            (
                "text",
                "Bed-exit alarms had been switched off after a software update.",
            ),
            ("share", "1"),
        ],
    )
    .await;
    assert!(page.contains("is now closed"), "{page}");
    // A stale form (an old version) changes nothing.
    let (_, stale) = post(
        &app,
        &rae,
        &path,
        &[
            ("csrf", &csrf),
            ("version", "1"),
            ("step", "note"),
            ("text", "late"),
        ],
    )
    .await;
    assert!(
        stale.contains("someone else changed this report"),
        "{stale}"
    );

    // The reporter sees the outcome; the colleague sees the shared learning, unnamed.
    safety.catch_up().unwrap();
    let (_, mine) = get(&app, &doc, "/safety/mine").await;
    assert!(
        mine.contains(">Closed<") && mine.contains("software update"),
        "{mine}"
    );
    let (_, theirs) = get(&app, &colleague, "/safety/mine").await;
    let lessons = between(&theirs, "id=\"h-lessons\"", "</section>");
    assert!(
        lessons.contains("software update") && lessons.contains("Fall"),
        "{lessons}"
    );
    assert!(
        !lessons.contains("Rosa") && !lessons.contains("Test doc"),
        "{lessons}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_anonymous_report_reaches_the_safety_team_without_a_name() {
    let dir = tempfile::tempdir().unwrap();
    let store = support::sqlite_store(dir.path());
    let safety = safety::Safety::new(store.clone(), std::sync::Arc::new(store::SystemClock));
    let state = server::AppState::new(store.clone(), support::gate(&store));
    let gate = state.gate.clone();
    support::account(
        &gate,
        "navigator",
        access::Role::Navigator,
        Some("Practitioner/n1"),
        &[],
    );
    support::account(
        &gate,
        "rae",
        access::Role::SafetyReviewer,
        Some("Practitioner/r1"),
        &[],
    );
    let app = support::app_with(
        state,
        web::WebConfig {
            safety: Some(safety),
            ..Default::default()
        },
    );
    let nav = support::sign_in(&app, "navigator").await;
    let (_, form) = get(&app, &nav, "/safety/report").await;
    assert!(
        form.contains("name=\"mrn\""),
        "no chart: the patient by MRN, optional"
    );
    let csrf = between(&form, "name=\"csrf\" value=\"", "\"").to_string();
    let occurred = between(
        &form,
        "name=\"occurred\" type=\"datetime-local\" value=\"",
        "\"",
    )
    .to_string();
    let (status, mine) = post(
        &app,
        &nav,
        "/safety/report",
        &[
            ("csrf", &csrf),
            ("kind", "unsafe-condition"),
            ("category", "device"),
            ("occurred", &occurred),
            (
                "description",
                "Infusion pump with a cracked housing left in use.",
            ),
            ("anonymous", "1"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(mine.contains("was sent anonymously"), "{mine}");
    assert!(
        !mine.contains("cracked housing"),
        "an anonymous report is not listed as one's own"
    );
    // An unknown MRN is named, nothing is sent.
    let (status, again) = post(
        &app,
        &nav,
        "/safety/report",
        &[
            ("csrf", &csrf),
            ("kind", "near-miss"),
            ("category", "medication"),
            ("occurred", &occurred),
            ("mrn", "MRN-NOPE"),
            ("description", "Look-alike vials."),
            ("med_stage", "dispensing"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        again.contains("No patient in your care has the MRN MRN-NOPE"),
        "{again}"
    );

    let rae = support::sign_in(&app, "rae").await;
    let (_, queue) = get(&app, &rae, "/safety").await;
    let id = between(&queue, "href=\"/safety/events/", "\"").to_string();
    let (_, report) = get(&app, &rae, &format!("/safety/events/{id}")).await;
    assert!(
        report.contains("Anonymous") && report.contains("cracked housing"),
        "{report}"
    );
    assert!(!report.contains("Test navigator"), "{report}");
}
