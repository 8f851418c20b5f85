//! Tumour boards over the whole application (gate, audit, pages) on a real SQLite store with
//! the tumour-board and navigation services following it: a navigator refers a patient from
//! the pathway timeline; the board's care relationship follows from the record, so the
//! coordinator sees the patient waiting, arranges a meeting and lists the case; the case
//! summary is prepared from the record; the oncologist records the recommendation, which
//! becomes tracked steps; the outcome is told. Someone outside the board sees the meeting but
//! not the patient; a role outside tumour boards is refused. In headless Chromium the
//! oncologist records a recommendation through the form, at desktop and tablet size
//! (screenshots under `target/e2e-screenshots/`).

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use chrono::{TimeDelta, Utc};
use serde_json::{json, Value};

mod support;
use support::browser::{chromium, shot, sign_in, start_chromedriver, wait_for};
use support::{between, send};
use thirtyfour::By;

const TB: &str = "https://tend.example.org/fhir/CodeSystem/tumour-board";
const EVENT: &str = "https://tend.example.org/fhir/CodeSystem/pathway-event";

fn ago(days: i64) -> String {
    (Utc::now() - TimeDelta::days(days))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn resources() -> Vec<Value> {
    let mut out = vec![
        json!({"resourceType": "Practitioner", "id": "d1", "name": [{"given": ["Jon"], "family": "Weber"}, ], "gender": "male"}),
        json!({"resourceType": "Practitioner", "id": "coord1", "name": [{"given": ["Ebony"], "family": "Kelly"}]}),
        json!({"resourceType": "Practitioner", "id": "nav1", "name": [{"given": ["Nadia"], "family": "Navigator"}]}),
        json!({"resourceType": "CareTeam", "id": "board-ugi", "status": "active", "name": "Upper GI MDT",
            "category": [{"coding": [{"system": TB, "code": "board"}]}],
            "participant": [
                {"member": {"reference": "Practitioner/d1"}, "role": [{"text": "Medical oncologist"}]},
                {"member": {"reference": "Practitioner/coord1"}, "role": [{"text": "MDT coordinator"}]}]}),
        json!({"resourceType": "Patient", "id": "p1", "name": [{"given": ["Scott"], "family": "Green"}], "gender": "male", "birthDate": "1962-03-01",
            "identifier": [{"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]}, "value": "MRN-0001"}]}),
        json!({"resourceType": "ServiceRequest", "id": "sr1", "meta": {"tag": [{"system": EVENT, "code": "urgent-suspected-cancer-referral"}, {"system": EVENT, "code": "urgent-suspected-og-cancer-referral"}]},
            "status": "completed", "intent": "order", "priority": "urgent", "subject": {"reference": "Patient/p1"},
            "code": {"text": "Urgent suspected cancer referral – upper gastrointestinal"}, "authoredOn": ago(110)}),
        json!({"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p1"}, "recordedDate": ago(90),
            "verificationStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "confirmed"}]},
            "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "C15.5", "display": "Malignant neoplasm of lower third of esophagus"}]},
            "stage": [{"summary": {"text": "cT3 N1 M0 (stage III) adenocarcinoma"}}]}),
        json!({"resourceType": "Observation", "id": "o-her2", "status": "final", "subject": {"reference": "Patient/p1"},
            "code": {"coding": [{"system": "http://loinc.org", "code": "48676-1", "display": "HER2 [Interpretation] in Tissue"}]},
            "issued": ago(5), "valueCodeableConcept": {"text": "Negative (IHC 1+)"}}),
        json!({"resourceType": "Observation", "id": "o-ecog", "status": "final", "subject": {"reference": "Patient/p1"},
            "code": {"coding": [{"system": "http://loinc.org", "code": "89247-1"}]}, "effectiveDateTime": ago(6), "valueInteger": 1}),
        json!({"resourceType": "Task", "id": "assign-p1", "status": "completed", "intent": "order",
            "code": {"coding": [{"system": "https://tend.example.org/fhir/CodeSystem/navigation", "code": "assign-navigator"}]},
            "for": {"reference": "Patient/p1"}, "authoredOn": ago(100),
            "requester": {"reference": "Practitioner/nav1"}, "owner": {"reference": "Practitioner/nav1"}}),
    ];
    out.push(json!({"resourceType": "PractitionerRole", "id": "role-nav1", "practitioner": {"reference": "Practitioner/nav1"}, "code": [{"text": "Patient navigator"}]}));
    out
}

struct World {
    app: axum::Router,
    store: Arc<dyn store::Store>,
    _dir: tempfile::TempDir,
}

fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let store = support::sqlite_store(dir.path());
    support::put_all(&*store, resources());
    let zone = web::Zone::parse("America/New_York").unwrap();
    let nav = navigation::Navigation::new(
        store.clone(),
        navigation::Config {
            zone: zone.tz(),
            ..Default::default()
        },
        Arc::new(store::SystemClock),
    );
    nav.catch_up().unwrap();
    nav.start();
    let tb = mdt::TumourBoard::new(store.clone(), Arc::new(store::SystemClock));
    tb.catch_up().unwrap();
    tb.start();
    let state = server::AppState::new(store.clone(), support::gate(&store));
    let gate = state.gate.clone();
    use access::Role::*;
    for (name, role, practitioner) in [
        ("navigator", Navigator, Some("Practitioner/nav1")),
        ("coordinator", MdtCoordinator, Some("Practitioner/coord1")),
        ("coordinator2", MdtCoordinator, Some("Practitioner/coord2")),
        ("oncologist", Physician, Some("Practitioner/d1")),
        ("nurse", Nurse, Some("Practitioner/n1")),
    ] {
        support::account(&gate, name, role, practitioner, &[]);
    }
    let config = web::WebConfig {
        zone,
        navigation: Some(nav),
        tumour_board: Some(tb),
        ..Default::default()
    };
    World {
        app: support::app_with(state, config),
        store,
        _dir: dir,
    }
}

async fn get(w: &World, cookie: &str, path: &str) -> (StatusCode, String) {
    let (s, _, body) = send(
        &w.app,
        Request::get(path)
            .header(header::COOKIE, cookie)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    (s, body)
}

async fn post(w: &World, cookie: &str, path: &str, form: &[(&str, &str)]) -> (StatusCode, String) {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let resp = tower::ServiceExt::oneshot(
        w.app.clone(),
        Request::post(path)
            .header(header::COOKIE, cookie)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap(),
    )
    .await
    .unwrap();
    let status = resp.status();
    let location = resp
        .headers()
        .get(header::LOCATION)
        .and_then(|l| l.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (status, location)
}

fn csrf(page: &str) -> String {
    between(page, "name=\"csrf\" value=\"", "\"").to_string()
}

/// Refer p1, arrange a meeting and list the case, as the navigator and the coordinator;
/// returns the meeting's id.
async fn prepare(w: &World) -> String {
    let nadia = support::sign_in(&w.app, "navigator").await;
    let (s, page) = get(w, &nadia, "/navigation/patients/p1").await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert!(page.contains("Refer to a tumour board"), "{page}");
    let (s, to) = post(
        w,
        &nadia,
        "/mdt/refer/p1",
        &[
            ("csrf", &csrf(&page)),
            ("board", "board-ugi"),
            (
                "question",
                "Progression after chemoradiotherapy: second-line options or a trial?",
            ),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{to}");
    assert!(to.starts_with("/navigation/patients/p1?done="), "{to}");
    let (_, page) = get(w, &nadia, &to).await;
    assert!(page.contains("Referred to the tumour board."), "{page}");
    assert!(
        page.contains("Upper GI MDT</a>: Waiting for a meeting")
            || page.contains("Upper GI MDT: Waiting for a meeting"),
        "{page}"
    );

    // The coordinator reaches p1 through the board's care team, written from the record.
    let ebony = support::sign_in(&w.app, "coordinator").await;
    let (s, page) = get(w, &ebony, "/mdt").await;
    assert_eq!(s, StatusCode::OK, "{page}");
    let waiting = between(&page, "id=\"h-waiting\"", "</section>");
    assert!(
        waiting.contains("Scott Green") && waiting.contains("second-line options"),
        "{waiting}"
    );
    assert!(
        waiting.contains("No meeting of this board ahead"),
        "{waiting}"
    );
    let day = (Utc::now() + TimeDelta::days(3))
        .format("%Y-%m-%d")
        .to_string();
    let (s, to) = post(
        w,
        &ebony,
        "/mdt/meetings",
        &[
            ("csrf", &csrf(&page)),
            ("board", "board-ugi"),
            ("date", &day),
            ("time", "08:00"),
            ("minutes", "90"),
            ("place", "Seminar room 2"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{to}");
    let (_, page) = get(w, &ebony, &to).await;
    assert!(page.contains("Meeting arranged."));
    let meeting = between(&page, "href=\"/mdt/meetings/", "\"").to_string();
    let case = between(&page, "action=\"/mdt/cases/", "/schedule").to_string();
    let (s, to) = post(
        w,
        &ebony,
        &format!("/mdt/cases/{case}/schedule"),
        &[("csrf", &csrf(&page)), ("meeting", &meeting)],
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{to}");
    let (_, page) = get(w, &ebony, &to).await;
    assert!(
        page.contains("No patient is waiting for a meeting."),
        "{page}"
    );
    meeting
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_goes_from_referral_to_a_recommendation_told_to_the_patient() {
    let w = world();
    let meeting = prepare(&w).await;
    let ebony = support::sign_in(&w.app, "coordinator").await;
    let (s, page) = get(&w, &ebony, &format!("/mdt/meetings/{meeting}")).await;
    assert_eq!(s, StatusCode::OK, "{page}");
    // The case summary, from the record.
    for want in [
        "Scott Green",
        "MRN-0001",
        "Malignant neoplasm of lower third of esophagus",
        "cT3 N1 M0 (stage III) adenocarcinoma",
        "HER2:</strong> Negative (IHC 1+)",
        "ECOG performance status:</strong> 1",
        "To discuss",
        "A physician of the board records the recommendation.",
    ] {
        assert!(page.contains(want), "{want} in {page}");
    }
    // The coordinator may not record one.
    let case = between(&page, "id=\"case-", "\"").to_string();
    let (s, _) = post(
        &w,
        &ebony,
        &format!("/mdt/cases/{case}/recommend"),
        &[
            ("csrf", &csrf(&page)),
            ("intent", "palliative"),
            ("step", "clinical-trial"),
            ("meeting", &meeting),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // Someone outside the board sees the meeting, not the patient; a nurse has no boards.
    let other = support::sign_in(&w.app, "coordinator2").await;
    let (s, page) = get(&w, &other, &format!("/mdt/meetings/{meeting}")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        !page.contains("Scott Green") && page.contains("No patient you can see"),
        "{page}"
    );
    let nurse = support::sign_in(&w.app, "nurse").await;
    assert_eq!(get(&w, &nurse, "/mdt").await.0, StatusCode::FORBIDDEN);

    // The oncologist records the recommendation: a plan the pathway reads, tracked steps.
    let jon = support::sign_in(&w.app, "oncologist").await;
    let (_, page) = get(&w, &jon, &format!("/mdt/meetings/{meeting}")).await;
    assert!(page.contains("Record the board's recommendation"), "{page}");
    let (s, _) = post(
        &w,
        &jon,
        &format!("/mdt/cases/{case}/recommend"),
        &[
            ("csrf", &csrf(&page)),
            ("intent", "palliative"),
            ("meeting", &meeting),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "a step is needed");
    let (s, to) = post(
        &w,
        &jon,
        &format!("/mdt/cases/{case}/recommend"),
        &[
            ("csrf", &csrf(&page)),
            ("intent", "palliative"),
            ("step", "second-line-systemic"),
            ("step", "clinical-trial"),
            ("rationale", "HER2 negative; PD-L1 CPS 7."),
            ("meeting", &meeting),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{to}");
    let (_, page) = get(&w, &jon, &to).await;
    assert!(page.contains("Recommendation recorded: its steps are now tracked."));
    let recorded = between(&page, "aria-label=\"Recommendation\"", "</section>");
    for want in [
        "Palliative",
        "Second-line systemic therapy",
        "Referral to a clinical trial",
        "To do",
        "HER2 negative; PD-L1 CPS 7.",
    ] {
        assert!(recorded.contains(want), "{want} in {recorded}");
    }
    let plan = w
        .store
        .read(
            &store::Access::system(),
            "CarePlan",
            &format!("{case}-plan"),
        )
        .unwrap()
        .unwrap();
    let plan: Value = serde_json::from_str(&plan.body.unwrap()).unwrap();
    assert_eq!(plan["meta"]["tag"][0]["code"], "second-line-plan");
    assert_eq!(
        plan["author"]["reference"], "Practitioner/d1",
        "the signed-in oncologist"
    );

    // Told to the patient, by the coordinator: the case is closed.
    let (_, page) = get(&w, &ebony, &format!("/mdt/meetings/{meeting}")).await;
    let (s, to) = post(
        &w,
        &ebony,
        &format!("/mdt/cases/{case}/told"),
        &[
            ("csrf", &csrf(&page)),
            ("note", "In clinic, with his wife."),
            ("meeting", &meeting),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{to}");
    let (_, page) = get(&w, &ebony, &to).await;
    assert!(page.contains("Told to the patient"), "{page}");
    assert!(
        !page.contains("action=\"/mdt/cases/"),
        "nothing left to do on it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oncologist_records_a_recommendation_in_the_browser() {
    let w = world();
    let meeting = prepare(&w).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(server::serve(listener, w.app.clone(), async {
        let _ = stopped.await;
    }));
    let (_chromedriver, driver_url) = start_chromedriver();
    let (driver, _profile) = chromium(&driver_url).await;
    sign_in(&driver, &base, "oncologist", "/board").await;
    driver.goto(format!("{base}/mdt")).await.unwrap();
    shot(&driver, "mdt-1-boards").await;
    driver
        .find(By::Css(".mdt-meetings a"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for("the meeting", 10, || async {
        driver
            .current_url()
            .await
            .is_ok_and(|u| u.path() == format!("/mdt/meetings/{meeting}"))
    })
    .await;
    shot(&driver, "mdt-2-meeting").await;
    for css in [
        "input[name=intent][value=palliative]",
        "input[name=step][value=second-line-systemic]",
        "input[name=step][value=clinical-trial]",
    ] {
        driver
            .find(By::Css(css))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }
    driver
        .find(By::Css("textarea[name=rationale]"))
        .await
        .unwrap()
        .send_keys("HER2 negative, CLDN18.2 positive: a trial first if one is open.")
        .await
        .unwrap();
    driver
        .find(By::Css(".recommend-form button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for("the notice", 10, || async {
        driver.find(By::Css("p.notice")).await.is_ok()
    })
    .await;
    let text = driver
        .find(By::Css(".recorded"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("Referral to a clinical trial"), "{text}");
    shot(&driver, "mdt-3-recorded").await;
    driver.set_window_rect(0, 0, 800, 1280).await.unwrap();
    shot(&driver, "mdt-3-recorded-tablet").await;
    driver.quit().await.unwrap();
    let _ = stop.send(());
    let _ = server.await;
}
