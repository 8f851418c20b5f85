//! Suspected sepsis's first hour in a real browser (headless Chromium through chromedriver):
//! a nurse sees a high alert, answers "could this be infection?" from the alert card, finds
//! the first-hour actions with their deadlines, records the antibiotics given and sees them
//! done on time; the board's sepsis column says what is still due. Screenshots (desktop and
//! tablet) under `target/e2e-screenshots/`.

use std::sync::Arc;

use serde_json::json;
use thirtyfour::prelude::*;

mod support;

use support::browser::{chromium, shot, sign_in, start_chromedriver, text, wait_for};

const PT: &str = "http://terminology.hl7.org/CodeSystem/location-physical-type";

async fn both_sizes(driver: &WebDriver, name: &str) {
    shot(driver, name).await;
    driver.set_window_rect(0, 0, 800, 1280).await.unwrap();
    shot(driver, &format!("{name}-tablet")).await;
    driver.set_window_rect(0, 0, 1366, 900).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nurse_starts_and_records_the_first_hour() {
    let dir = tempfile::tempdir().unwrap();
    let store = support::sqlite_store(dir.path());
    let now = chrono::Utc::now().timestamp_millis();
    let mut record = vec![
        json!({"resourceType": "Location", "id": "ward-t", "name": "Ward T", "status": "active",
            "physicalType": {"coding": [{"system": PT, "code": "wa"}]}}),
        json!({"resourceType": "Location", "id": "bed-t1", "name": "T-1", "status": "active",
            "physicalType": {"coding": [{"system": PT, "code": "bd"}]}, "partOf": {"reference": "Location/ward-t"}}),
        json!({"resourceType": "Practitioner", "id": "n1", "name": [{"given": ["Nia"], "family": "Okafor"}]}),
        json!({"resourceType": "Patient", "id": "pa", "name": [{"given": ["Ada"], "family": "Lovelace"}],
            "birthDate": "1950-03-01", "gender": "female"}),
        json!({"resourceType": "Encounter", "id": "e-pa", "status": "in-progress",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
            "subject": {"reference": "Patient/pa"},
            "period": {"start": search::format_instant(now - 86_400_000)},
            "location": [
                {"location": {"reference": "Location/ward-t"}, "status": "active", "physicalType": {"coding": [{"code": "wa"}]}},
                {"location": {"reference": "Location/bed-t1"}, "status": "active", "physicalType": {"coding": [{"code": "bd"}]}}]}),
    ];
    // NEWS2 13: respiration 25, SpO2 91 on air, systolic 95, pulse 135, 39.5 °C.
    record.extend(support::vital_set(
        "pa",
        now - 5 * 60_000,
        25,
        91,
        0.0,
        95,
        135,
        39.5,
    ));
    support::put_all(&*store, record);
    let clock = Arc::new(store::SystemClock);
    let ew = early_warning::EarlyWarning::new(
        store.clone(),
        early_warning::Config::default(),
        clock.clone(),
    );
    ew.catch_up().unwrap();
    ew.start();
    let hub = early_warning::Hub::start(ew.clone());
    let sepsis = sepsis_watch::Sepsis::new(store.clone(), chrono_tz::UTC, clock);
    sepsis.start();
    let state =
        server::AppState::new(store.clone(), support::gate(&store)).with_early_warning(ew, hub);
    support::account(
        &state.gate,
        "nurse",
        access::Role::Nurse,
        Some("Practitioner/n1"),
        &["Location/ward-t"],
    );
    let app = support::app_with(
        state,
        web::WebConfig {
            zone: web::Zone::parse("UTC").unwrap(),
            sepsis: Some(sepsis),
            ..Default::default()
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(server::serve(listener, app, async {
        let _ = stopped.await;
    }));
    let (_chromedriver, driver_url) = start_chromedriver();
    let (driver, _profile) = chromium(&driver_url).await;
    driver.set_window_rect(0, 0, 1366, 900).await.unwrap();

    sign_in(&driver, &base, "nurse", "/board").await;
    driver.goto(format!("{base}/alerts")).await.unwrap();
    wait_for("the alert", 10, || async {
        text(&driver, "main")
            .await
            .contains("Could this be infection?")
    })
    .await;
    driver
        .find(By::Css("a[href='/patients/pa/sepsis']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for("the sepsis page", 10, || async {
        text(&driver, "h1").await.contains("Suspected sepsis")
    })
    .await;
    assert!(text(&driver, "main").await.contains("NEWS2 13 (high)"));
    both_sizes(&driver, "sepsis-1-ask").await;
    let source = driver.find(By::Css("select[name=source]")).await.unwrap();
    thirtyfour::components::SelectElement::new(&source)
        .await
        .unwrap()
        .select_by_value("chest")
        .await
        .unwrap();
    driver
        .find(By::Css("form.sepsis-form button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for("the first hour", 10, || async {
        text(&driver, "main").await.contains("Infection suspected")
    })
    .await;
    let main = text(&driver, "main").await;
    for action in ["Blood cultures", "Lactate", "Antibiotics"] {
        assert!(main.contains(action), "{action}: {main}");
    }
    assert!(main.contains("Due by"), "{main}");
    both_sizes(&driver, "sepsis-2-first-hour").await;
    // The antibiotics given: chosen from the list, recorded now.
    let form = driver
        .find(By::Css("#action-antibiotics-within-hour form"))
        .await
        .unwrap();
    let drug = form.find(By::Css("select[name=antibiotic]")).await.unwrap();
    thirtyfour::components::SelectElement::new(&drug)
        .await
        .unwrap()
        .select_by_value("piperacillin-tazobactam")
        .await
        .unwrap();
    form.find(By::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for("the antibiotics done", 10, || async {
        text(&driver, "#action-antibiotics-within-hour")
            .await
            .contains("on time")
    })
    .await;
    let done = text(&driver, "#action-antibiotics-within-hour").await;
    assert!(done.contains("Piperacillin with tazobactam"), "{done}");
    assert!(done.contains("Nia Okafor"), "{done}");
    assert!(text(&driver, ".notice").await.contains("Antibiotics given"));
    both_sizes(&driver, "sepsis-3-antibiotics-given").await;
    // The board's sepsis column: what is still due.
    driver
        .goto(format!("{base}/board?ward=ward-t"))
        .await
        .unwrap();
    wait_for("the board's sepsis column", 10, || async {
        text(&driver, "#row-pa").await.contains("Sepsis:")
    })
    .await;
    let row = text(&driver, "#row-pa").await;
    assert!(row.contains("due by"), "{row}");
    both_sizes(&driver, "sepsis-4-board").await;

    driver.quit().await.unwrap();
    let _ = stop.send(());
    let _ = server.await;
}
