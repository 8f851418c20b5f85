//! The navigator's pages over the whole application (gate, audit, pages) on a real SQLite
//! store with the navigation service following it: the worklist's order and filters, limited
//! to the patients one reaches; the timeline in plain words; recording a contact, marking a
//! step done and handing a patient over, each through the form (CSRF, post/redirect/get, a
//! notice shown once) and written as the signed-in person; and the pages in headless
//! Chromium at desktop and tablet size, saved as screenshots under
//! `target/e2e-screenshots/`.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use chrono::{TimeDelta, Utc};
use serde_json::{json, Value};

mod support;
use support::{between, send};

const EVENT: &str = "https://tend.example.org/fhir/CodeSystem/pathway-event";
const NAV: &str = "https://tend.example.org/fhir/CodeSystem/navigation";

fn ago(days: i64) -> String {
    (Utc::now() - TimeDelta::days(days))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn patient(id: &str, given: &str, family: &str, mrn: &str) -> Value {
    json!({"resourceType": "Patient", "id": id, "name": [{"given": [given], "family": family}], "gender": "male", "birthDate": "1961-05-04",
        "identifier": [{"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]}, "value": mrn}]})
}

fn referral(id: &str, p: &str, days: i64) -> Value {
    json!({"resourceType": "ServiceRequest", "id": id, "meta": {"tag": [{"system": EVENT, "code": "urgent-suspected-cancer-referral"}]},
        "status": "active", "intent": "order", "priority": "urgent", "subject": {"reference": format!("Patient/{p}")},
        "code": {"coding": [{"system": "https://tend.example.org/fhir/CodeSystem/referral-pathway", "code": "usc-lung"}]},
        "authoredOn": ago(days)})
}

fn assign(id: &str, p: &str, nav: &str, days: i64) -> Value {
    json!({"resourceType": "Task", "id": id, "status": "completed", "intent": "order",
        "code": {"coding": [{"system": NAV, "code": "assign-navigator"}]}, "for": {"reference": format!("Patient/{p}")},
        "authoredOn": ago(days), "requester": {"reference": format!("Practitioner/{nav}")}, "owner": {"reference": format!("Practitioner/{nav}")}})
}

fn resources() -> Vec<Value> {
    let mut amos = patient("p1", "Amos", "Reed", "MRN-0001");
    amos["communication"] = json!([{"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": "pl", "display": "Polish"}]}, "preferred": true}]);
    amos["extension"] = json!([{"url": "http://hl7.org/fhir/StructureDefinition/patient-interpreterRequired", "valueBoolean": true}]);
    vec![
        json!({"resourceType": "Practitioner", "id": "nav1", "name": [{"given": ["Nadia"], "family": "Navigator"}]}),
        json!({"resourceType": "Practitioner", "id": "nav2", "name": [{"given": ["Omar"], "family": "Navigator"}]}),
        json!({"resourceType": "PractitionerRole", "id": "role-nav1", "practitioner": {"reference": "Practitioner/nav1"}, "code": [{"text": "Patient navigator"}]}),
        json!({"resourceType": "PractitionerRole", "id": "role-nav2", "practitioner": {"reference": "Practitioner/nav2"}, "code": [{"text": "Patient navigator"}]}),
        amos,
        patient("p2", "Bea", "Lang", "MRN-0002"),
        patient("p3", "Cy", "Moss", "MRN-0003"),
        patient("p4", "Dee", "Park", "MRN-0004"),
        referral("sr1", "p1", 35),
        referral("sr2", "p2", 20),
        referral("sr3", "p3", 5),
        json!({"resourceType": "Encounter", "id": "e2", "meta": {"tag": [{"system": EVENT, "code": "first-seen"}]}, "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
            "subject": {"reference": "Patient/p2"}, "period": {"start": ago(10)}}),
        assign("a1", "p1", "nav1", 34),
        assign("a2", "p2", "nav1", 19),
        assign("a3", "p3", "nav2", 4),
    ]
}

struct World {
    app: axum::Router,
    store: Arc<dyn store::Store>,
    nav: Arc<navigation::Navigation>,
    zone: web::Zone,
    _dir: tempfile::TempDir,
}

fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let store = support::sqlite_store(dir.path());
    support::put_all(&*store, resources());
    let zone = web::Zone::parse("Europe/London").unwrap();
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
    let state = server::AppState::new(store.clone(), support::gate(&store));
    let gate = state.gate.clone();
    support::account(
        &gate,
        "navigator",
        access::Role::Navigator,
        Some("Practitioner/nav1"),
        &[],
    );
    support::account(
        &gate,
        "navigator2",
        access::Role::Navigator,
        Some("Practitioner/nav2"),
        &[],
    );
    support::account(
        &gate,
        "physician",
        access::Role::Physician,
        Some("Practitioner/doc1"),
        &["Location/ward-x"],
    );
    support::account(
        &gate,
        "nurse",
        access::Role::Nurse,
        Some("Practitioner/n1"),
        &["Location/ward-x"],
    );
    let config = web::WebConfig {
        zone,
        navigation: Some(nav.clone()),
        ..Default::default()
    };
    World {
        app: support::app_with(state, config),
        store,
        nav,
        zone,
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

async fn post(
    w: &World,
    cookie: &str,
    path: &str,
    form: &[(&str, &str)],
) -> (StatusCode, Option<String>, String) {
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
        .map(str::to_string);
    let bytes = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .unwrap()
        .to_bytes();
    (status, location, String::from_utf8(bytes.to_vec()).unwrap())
}

fn rows(page: &str) -> Vec<String> {
    page.split("<tr id=\"pt-")
        .skip(1)
        .map(|r| r[..r.find('"').unwrap()].to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worklist_is_worst_first_filtered_and_limited_to_ones_patients() {
    let w = world();
    let nadia = support::sign_in(&w.app, "navigator").await;
    let (s, page) = get(&w, &nadia, "/navigation").await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert_eq!(
        rows(&page),
        ["p1", "p2"],
        "breached first; Cy Moss is Omar's, Dee Park is on no pathway"
    );
    let amos = between(&page, "id=\"pt-p1\"", "</tr>");
    assert!(
        amos.contains("28-day") && amos.contains("Breached") && amos.contains("7 days over"),
        "{amos}"
    );
    assert!(amos.contains("interpreter needed (Polish)"), "{amos}");
    assert!(
        amos.contains("Nadia Navigator") && amos.contains("MRN-0001") && amos.contains("Lung"),
        "{amos}"
    );
    let bea = between(&page, "id=\"pt-p2\"", "</tr>");
    assert!(bea.contains("8 days left"), "{bea}");
    assert!(page.contains("Pathways</a>"), "in the navigation bar");

    for (query, want) in [
        ("status=breached", vec!["p1"]),
        ("status=on-track", vec!["p2"]),
        ("q=mrn-0002", vec!["p2"]),
        ("q=amos", vec!["p1"]),
        ("navigator=Practitioner/nav1", vec!["p1", "p2"]),
        ("navigator=none", vec![]),
        ("site=Lung", vec!["p1", "p2"]),
        ("pathway=oesophago-gastric", vec![]),
    ] {
        let (s, page) = get(&w, &nadia, &format!("/navigation?{query}")).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(rows(&page), want, "{query}");
    }
    let omar = support::sign_in(&w.app, "navigator2").await;
    assert_eq!(rows(&get(&w, &omar, "/navigation").await.1), ["p3"]);
    let nurse = support::sign_in(&w.app, "nurse").await;
    assert_eq!(
        get(&w, &nurse, "/navigation").await.0,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_navigator_records_a_contact_marks_a_step_and_hands_over() {
    let w = world();
    let nadia = support::sign_in(&w.app, "navigator").await;
    let (s, page) = get(&w, &nadia, "/navigation/patients/p1").await;
    assert_eq!(s, StatusCode::OK, "{page}");
    let timeline = between(&page, "class=\"pathway-timeline\"", "</ol>");
    assert!(
        timeline.contains("Urgent suspected cancer referral received"),
        "{timeline}"
    );
    assert!(
        timeline.contains("28-day Faster Diagnosis Standard started"),
        "{timeline}"
    );
    assert!(timeline.contains("breached"), "{timeline}");
    assert!(
        !timeline.contains("ServiceRequest/") && !timeline.contains("Patient/"),
        "no raw references: {timeline}"
    );
    let csrf = between(&page, "name=\"csrf\" value=\"", "\"").to_string();
    let contact = "/navigation/patients/p1/contact";

    // Refused: no CSRF token; nothing chosen.
    let (s, ..) = post(
        &w,
        &nadia,
        contact,
        &[("channel", "phone"), ("outcome", "reached")],
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _, page) = post(
        &w,
        &nadia,
        contact,
        &[("csrf", &csrf), ("channel", "phone"), ("outcome", "")],
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("Choose what happened."), "{page}");

    // A contact: post, redirect, get; the notice once; on the timeline and the worklist
    // (the post returns once the service has taken it in: the time is printed).
    let started = Instant::now();
    let (s, location, _) = post(
        &w,
        &nadia,
        contact,
        &[
            ("csrf", &csrf),
            ("channel", "phone"),
            ("outcome", "reached"),
            ("note", "Interpreter booked for Thursday"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let location = location.unwrap();
    assert!(
        location.starts_with("/navigation/patients/p1?done="),
        "{location}"
    );
    let (_, page) = get(&w, &nadia, &location).await;
    assert!(page.contains("Contact recorded."), "{page}");
    assert!(
        page.contains("Contact: Phone") && page.contains("Interpreter booked for Thursday"),
        "{page}"
    );
    assert!(
        !get(&w, &nadia, &location)
            .await
            .1
            .contains("Contact recorded."),
        "shown once"
    );
    let (_, list) = get(&w, &nadia, "/navigation").await;
    assert!(between(&list, "id=\"pt-p1\"", "</tr>").contains("Spoke with the patient"));
    println!(
        "a contact recorded to the worklist showing it: {} ms",
        started.elapsed().as_millis()
    );
    let comm = store::search_all(
        &*w.store,
        &store::Access::system(),
        search::SearchQuery::parse(
            search::Registry::r4(),
            "Communication",
            &[("subject".into(), "Patient/p1".into())],
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(comm.len(), 1);
    let comm: Value = serde_json::from_str(&comm[0].body).unwrap();
    assert_eq!(
        comm["sender"]["reference"], "Practitioner/nav1",
        "the signed-in person, never a form field"
    );

    // A step marked done by hand.
    let day = (w.nav.now() - TimeDelta::days(2))
        .format("%Y-%m-%d")
        .to_string();
    let (s, location, page) = post(
        &w,
        &nadia,
        "/navigation/patients/p1/milestone",
        &[
            ("csrf", &csrf),
            ("step", "nhs-suspected-cancer|first-seen"),
            ("date", &day),
            ("note", "Seen at the one-stop clinic"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{page}");
    let (_, page) = get(&w, &nadia, &location.unwrap()).await;
    assert!(page.contains("Step marked done."), "{page}");
    assert!(page.contains("marked done by the navigator"), "{page}");
    let task: Value = serde_json::from_str(
        &w.store
            .read(
                &store::Access::system(),
                "Task",
                &navigation::milestone_id("p1", "nhs-suspected-cancer", "first-seen"),
            )
            .unwrap()
            .unwrap()
            .body
            .unwrap(),
    )
    .unwrap();
    assert_eq!(task["status"], "completed");
    assert!(
        task.to_string().contains("Practitioner/nav1") && task.to_string().contains("one-stop"),
        "{task}"
    );

    // Marked by mistake: withdrawn with the reason (none: refused). The step is due again,
    // the timeline says what was withdrawn and why, and the Task's history keeps the entry.
    let task_id = navigation::milestone_id("p1", "nhs-suspected-cancer", "first-seen");
    let withdraw = "/navigation/patients/p1/milestone/withdraw";
    let step = "nhs-suspected-cancer|first-seen";
    let (s, _, page) = post(
        &w,
        &nadia,
        withdraw,
        &[("csrf", &csrf), ("step", step), ("reason", "")],
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("Say why the step is withdrawn."), "{page}");
    let (s, location, page) = post(
        &w,
        &nadia,
        withdraw,
        &[
            ("csrf", &csrf),
            ("step", step),
            ("reason", "Wrong patient's clinic list"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{page}");
    let (_, page) = get(&w, &nadia, &location.unwrap()).await;
    assert!(page.contains("Step withdrawn"), "{page}");
    let timeline = between(&page, "class=\"pathway-timeline\"", "</ol>");
    assert!(
        timeline.contains("Withdrawn: First appointment or first test attended")
            && timeline.contains("Wrong patient&#39;s clinic list"),
        "{timeline}"
    );
    assert!(
        !timeline.contains("marked done by the navigator"),
        "the entry no longer counts: {timeline}"
    );
    let options = between(&page, "id=\"m-step\"", "</select>");
    assert!(
        options.contains(step),
        "the step can be marked again: {options}"
    );
    assert!(
        !page.contains("Withdraw a step marked by mistake"),
        "nothing left to withdraw"
    );
    let task: Value = serde_json::from_str(
        &w.store
            .read(&store::Access::system(), "Task", &task_id)
            .unwrap()
            .unwrap()
            .body
            .unwrap(),
    )
    .unwrap();
    assert_ne!(task["status"], "completed", "{task}");
    assert!(!task.to_string().contains("navigator-entry\""), "{task}");
    let (history, _) = w
        .store
        .history(
            &store::Access::system(),
            &store::HistoryQuery {
                scope: store::HistoryScope::Instance("Task".into(), task_id.clone()),
                since: None,
                count: 50,
                offset: 0,
            },
        )
        .unwrap();
    assert!(
        history
            .iter()
            .any(|v| v.body.as_deref().is_some_and(|b| b.contains("one-stop"))),
        "history keeps the withdrawn entry"
    );
    // Mark it again, for what follows.
    let (s, ..) = post(
        &w,
        &nadia,
        "/navigation/patients/p1/milestone",
        &[
            ("csrf", &csrf),
            ("step", step),
            ("date", &day),
            ("note", "Seen at the one-stop clinic"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER);

    // A pause the rules allow, with its reason; one without a reason is refused.
    let from = (w.nav.now() - TimeDelta::days(3))
        .format("%Y-%m-%d")
        .to_string();
    let adjustment = "/navigation/patients/p1/adjustment";
    let rule = "nhs-suspected-cancer|declined-admitted-treatment";
    let (s, _, page) = post(
        &w,
        &nadia,
        adjustment,
        &[
            ("csrf", &csrf),
            ("rule", rule),
            ("from", &from),
            ("reason", " "),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("Say why the clock is adjusted."), "{page}");
    let (s, location, page) = post(
        &w,
        &nadia,
        adjustment,
        &[
            ("csrf", &csrf),
            ("rule", rule),
            ("from", &from),
            (
                "reason",
                "Asked to move the admission after a family wedding",
            ),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{page}");
    let (_, page) = get(&w, &nadia, &location.unwrap()).await;
    assert!(page.contains("Clock adjustment recorded."), "{page}");
    assert!(
        page.contains("Asked to move the admission after a family wedding"),
        "{page}"
    );

    // Hand-over: Bea Lang to Omar, who then reaches her.
    let (s, location, page) = post(
        &w,
        &nadia,
        "/navigation/patients/p2/navigator",
        &[
            ("csrf", &csrf),
            ("navigator", "Practitioner/nav2"),
            ("note", "Covering while I am on leave"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{page}");
    let (_, page) = get(&w, &nadia, &location.unwrap()).await;
    assert!(
        page.contains("Omar Navigator is now the navigator."),
        "{page}"
    );
    let team: Value = serde_json::from_str(
        &w.store
            .read(
                &store::Access::system(),
                "CareTeam",
                &navigation::team_id("p2"),
            )
            .unwrap()
            .unwrap()
            .body
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        team["participant"][0]["member"]["reference"],
        "Practitioner/nav2"
    );
    let omar = support::sign_in(&w.app, "navigator2").await;
    assert_eq!(rows(&get(&w, &omar, "/navigation").await.1), ["p2", "p3"]);

    // Not one's patient: the record stays closed, nothing is written.
    let (s, ..) = post(
        &w,
        &nadia,
        "/navigation/patients/p3/contact",
        &[
            ("csrf", &csrf),
            ("channel", "phone"),
            ("outcome", "reached"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let _ = w.zone;
}

// ---- In a browser ------------------------------------------------------------------------

use support::browser::{chromium, shots, sign_in, start_chromedriver, wait_for};
use thirtyfour::prelude::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_navigator_runs_a_morning_in_the_browser() {
    let w = world();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(server::serve(listener, w.app.clone(), async {
        let _ = stopped.await;
    }));
    let (_chromedriver, driver_url) = start_chromedriver();
    let (driver, _profile) = chromium(&driver_url).await;
    sign_in(&driver, &base, "navigator", "/navigation").await;

    driver.goto(format!("{base}/navigation")).await.unwrap();
    let rows = driver
        .find_all(By::Css("table.pathways tbody tr"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows[0].text().await.unwrap().contains("Amos Reed"));
    driver
        .screenshot(&shots().join("navigation-1-worklist.png"))
        .await
        .unwrap();
    driver.set_window_rect(0, 0, 800, 1280).await.unwrap();
    driver
        .screenshot(&shots().join("navigation-1-worklist-tablet.png"))
        .await
        .unwrap();
    driver.set_window_rect(0, 0, 1280, 900).await.unwrap();

    driver
        .find(By::LinkText("Amos Reed"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for("the timeline", 10, || async {
        driver
            .current_url()
            .await
            .is_ok_and(|u| u.path() == "/navigation/patients/p1")
    })
    .await;
    driver
        .screenshot(&shots().join("navigation-2-timeline.png"))
        .await
        .unwrap();
    driver
        .find(By::Css("#c-channel option[value=phone]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    driver
        .find(By::Css("#c-outcome option[value=left-message]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    driver
        .find(By::Css("#c-note"))
        .await
        .unwrap()
        .send_keys("Asked him to call back about Thursday")
        .await
        .unwrap();
    driver
        .find(By::Css("form[action$='/contact'] button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for("the notice", 10, || async {
        driver.find(By::Css("p.notice")).await.is_ok()
    })
    .await;
    let notice = driver
        .find(By::Css("p.notice"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(notice, "Contact recorded.");
    let timeline = driver
        .find(By::Css(".pathway-timeline"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        timeline.contains("Left a message: Asked him to call back about Thursday"),
        "{timeline}"
    );
    driver
        .screenshot(&shots().join("navigation-3-contact-recorded.png"))
        .await
        .unwrap();
    driver.set_window_rect(0, 0, 800, 1280).await.unwrap();
    driver
        .screenshot(&shots().join("navigation-3-timeline-tablet.png"))
        .await
        .unwrap();

    driver.quit().await.unwrap();
    let _ = stop.send(());
    let _ = server.await;
}

/// A transport need before an appointment: the referrals service raises the navigator's
/// task; it is on the patient's timeline, and the navigator marks it done.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transport_need_before_an_appointment_is_on_the_timeline() {
    let w = world();
    let soon = (chrono::Utc::now() + chrono::Duration::days(5))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    support::put_all(
        &*w.store,
        vec![
            json!({"resourceType": "Condition", "id": "need-1",
                "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]},
                "verificationStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "unconfirmed"}]},
                "category": [{"coding": [{"system": "http://hl7.org/fhir/us/core/CodeSystem/condition-category", "code": "health-concern"}]},
                             {"coding": [{"system": "http://hl7.org/fhir/us/sdoh-clinicalcare/CodeSystem/SDOHCC-CodeSystemTemporaryCodes", "code": "transportation-insecurity"}]}],
                "code": {"text": "Transportation"}, "subject": {"reference": "Patient/p1"}}),
            json!({"resourceType": "Appointment", "id": "appt-1", "status": "booked", "start": soon, "end": soon,
                "serviceType": [{"text": "CT scan"}],
                "participant": [{"actor": {"reference": "Patient/p1"}, "status": "accepted"}]}),
        ],
    );
    w.nav.catch_up().unwrap();
    let r = referrals::Referrals::new(
        w.store.clone(),
        referrals::Config::default(),
        Arc::new(store::SystemClock),
    );
    r.catch_up().unwrap();
    let nadia = support::sign_in(&w.app, "navigator").await;
    let (s, page) = get(&w, &nadia, "/navigation/patients/p1").await;
    assert_eq!(s, StatusCode::OK, "{page}");
    let before = between(&page, "id=\"h-before\"", "</div>").to_string();
    assert!(
        before.contains("Arrange a ride before the CT scan"),
        "{before}"
    );
    let action = between(&before, "action=\"", "\"").to_string();
    let version = between(&before, "name=\"version\" value=\"", "\"").to_string();
    let csrf = between(&page, "name=\"csrf\" value=\"", "\"").to_string();
    let (s, to, page) = post(
        &w,
        &nadia,
        &action,
        &[("csrf", &csrf), ("version", &version)],
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{page}");
    let (_, page) = get(&w, &nadia, &to.unwrap()).await;
    assert!(page.contains("Marked done."), "{page}");
    assert!(
        !page.contains("id=\"h-before\""),
        "nothing left before appointments"
    );
}

fn inpatient(id: &str, p: &str) -> Value {
    json!({"resourceType": "Encounter", "id": id, "status": "in-progress",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
        "subject": {"reference": format!("Patient/{p}")}, "period": {"start": ago(2)},
        "location": [{"location": {"reference": "Location/ward-x"}, "status": "active"}]})
}

/// A consultant upgrades an inpatient not referred urgently onto the 62-day pathway from
/// the patient's cancer-pathway page: the clock starts on the day of the upgrade, the
/// ServiceRequest is the signed-in consultant's, and the page then says why no second upgrade
/// is offered. A patient already on the 62-day pathway, or whose decision to treat was made,
/// is not offered the form; the POST refuses it too. Navigators and nurses cannot upgrade.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consultant_upgrades_a_patient_onto_the_62_day_pathway() {
    let w = world();
    support::put_all(
        &*w.store,
        vec![
            json!({"resourceType": "Location", "id": "ward-x", "name": "Ward X", "status": "active"}),
            patient("p5", "Eve", "Stone", "MRN-0005"),
            inpatient("e-p2", "p2"),
            inpatient("e-p4", "p4"),
            inpatient("e-p5", "p5"),
            json!({"resourceType": "CarePlan", "id": "dtt-p5", "meta": {"tag": [{"system": EVENT, "code": "decision-to-treat"}]},
                "status": "active", "intent": "plan", "subject": {"reference": "Patient/p5"}, "created": ago(4)}),
        ],
    );
    w.nav.catch_up().unwrap();
    let doc = support::sign_in(&w.app, "physician").await;
    let path = "/patients/p4/cancer-pathway";

    // Not on a pathway: the form is offered.
    let (s, page) = get(&w, &doc, path).await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert!(page.contains("Not on a cancer pathway."), "{page}");
    assert!(page.contains("Upgrade to the 62-day pathway"), "{page}");
    let csrf = between(&page, "name=\"csrf\" value=\"", "\"").to_string();
    let today = w.nav.today();
    let three_ago = (today - chrono::Days::new(3))
        .format("%Y-%m-%d")
        .to_string();
    let tomorrow = (today + chrono::Days::new(1))
        .format("%Y-%m-%d")
        .to_string();

    // Refused with the reason: a day ahead, no clinical reason, no suspected cancer.
    for (form, want) in [
        (
            vec![
                ("site", "Lung"),
                ("date", tomorrow.as_str()),
                ("reason", "Mass on CT"),
            ],
            "cannot be in the future",
        ),
        (
            vec![
                ("site", "Lung"),
                ("date", three_ago.as_str()),
                ("reason", " "),
            ],
            "Say why cancer is suspected",
        ),
        (
            vec![
                ("site", ""),
                ("date", three_ago.as_str()),
                ("reason", "Mass on CT"),
            ],
            "Choose the suspected cancer.",
        ),
    ] {
        let mut f = vec![("csrf", csrf.as_str())];
        f.extend(form);
        let (s, _, page) = post(&w, &doc, path, &f).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
        assert!(page.contains(want), "{want}: {page}");
    }

    // The upgrade: post, redirect, the notice, the clock from the day of the upgrade.
    let (s, to, page) = post(
        &w,
        &doc,
        path,
        &[
            ("csrf", &csrf),
            ("site", "Lung"),
            ("date", &three_ago),
            ("reason", "Spiculated mass on the CT arranged for pneumonia"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{page}");
    let (_, page) = get(&w, &doc, &to.unwrap()).await;
    assert!(
        page.contains("Upgraded: the 62-day clock runs from"),
        "{page}"
    );
    let status = between(&page, "id=\"h-now\"", "</section>");
    assert!(status.contains("Suspected cancer"), "{status}");
    assert!(status.contains("59 days left"), "day 3 of 62: {status}");
    assert!(
        page.contains("Already on the 62-day pathway") && page.contains("consultant upgraded"),
        "no second upgrade: {page}"
    );
    let srs = store::search_all(
        &*w.store,
        &store::Access::system(),
        search::SearchQuery::parse(
            search::Registry::r4(),
            "ServiceRequest",
            &[("subject".into(), "Patient/p4".into())],
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(srs.len(), 1);
    let sr: Value = serde_json::from_str(&srs[0].body).unwrap();
    assert_eq!(
        sr["requester"]["reference"], "Practitioner/doc1",
        "the signed-in consultant, never a form field"
    );
    assert_eq!(sr["category"][0]["coding"][1]["code"], "consultant-upgrade");

    // Already on the 62-day pathway from an urgent referral: no form, and the POST refuses.
    let (_, page) = get(&w, &doc, "/patients/p2/cancer-pathway").await;
    assert!(
        page.contains("Already on the 62-day pathway: the clock started on"),
        "{page}"
    );
    assert!(!page.contains("Upgrade to the 62-day pathway"), "{page}");
    let (s, _, page) = post(
        &w,
        &doc,
        "/patients/p2/cancer-pathway",
        &[
            ("csrf", &csrf),
            ("site", "Lung"),
            ("date", &three_ago),
            ("reason", "Mass"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{page}");

    // The decision to treat was made: too late for an upgrade.
    let (_, page) = get(&w, &doc, "/patients/p5/cancer-pathway").await;
    assert!(
        page.contains("The decision to treat was made on")
            && !page.contains("Upgrade to the 62-day pathway"),
        "{page}"
    );

    // Navigators and nurses do not upgrade.
    for who in ["navigator", "nurse"] {
        let c = support::sign_in(&w.app, who).await;
        let (s, _) = get(&w, &c, path).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{who}");
    }
}
