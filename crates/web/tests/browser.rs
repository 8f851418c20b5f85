//! End to end in a real browser: Debian's headless Chromium driven through chromedriver
//! (both installed by `.ci/run`) against Tend serving a small ward on a fresh SQLite store.
//!
//! A nurse signs in, opens the ward board, records a set of vital signs that makes a patient
//! high-risk in a second window, and sees the patient move up with a high alert on the board
//! without reloading; a rapid-response nurse then acknowledges the alert, records the
//! response and resolves it, and the chart shows who did what. Every page is saved as a
//! screenshot under `target/e2e-screenshots/`. The time from pressing "Save" to the board
//! updating is printed, never asserted.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use store::{Entry, Mode, WriteOp};
use thirtyfour::prelude::*;

mod support;

use support::browser::{chromium, shot, sign_in, start_chromedriver, text, wait_for};

const PT: &str = "http://terminology.hl7.org/CodeSystem/location-physical-type";

fn put(r: Value) -> Entry {
    Entry {
        full_url: None,
        op: WriteOp::Update {
            rtype: r["resourceType"].as_str().unwrap().to_string(),
            id: r["id"].as_str().unwrap().to_string(),
            resource: r,
            if_match: None,
        },
    }
}

/// One ward with four beds, three inpatients with a normal set each, a ward nurse and a
/// rapid-response nurse.
fn ward() -> Vec<Value> {
    let mut v = vec![
        json!({"resourceType": "Location", "id": "ward-t", "name": "Ward T", "status": "active",
            "physicalType": {"coding": [{"system": PT, "code": "wa"}]}}),
        json!({"resourceType": "Practitioner", "id": "n1", "name": [{"given": ["Nia"], "family": "Nurse"}]}),
        json!({"resourceType": "Practitioner", "id": "r1", "name": [{"given": ["Ravi"], "family": "Rapid"}]}),
        json!({"resourceType": "PractitionerRole", "id": "role-n1", "active": true, "practitioner": {"reference": "Practitioner/n1"},
            "code": [{"text": "Staff nurse"}], "location": [{"reference": "Location/ward-t"}]}),
        json!({"resourceType": "PractitionerRole", "id": "role-r1", "active": true, "practitioner": {"reference": "Practitioner/r1"},
            "code": [{"text": "Rapid response nurse"}]}),
    ];
    for b in 1..=4 {
        v.push(json!({"resourceType": "Location", "id": format!("bed-t{b}"), "name": format!("T-{b}"), "status": "active",
            "physicalType": {"coding": [{"system": PT, "code": "bd"}]}, "partOf": {"reference": "Location/ward-t"}}));
    }
    let people = [
        (
            "p1",
            "Ada",
            "Lovelace",
            "1950-03-01",
            "female",
            "en",
            "English",
            false,
        ),
        (
            "p2",
            "Tomasz",
            "Nowak",
            "1941-07-12",
            "male",
            "pl",
            "Polish",
            true,
        ),
        (
            "p3",
            "Mei",
            "Chen",
            "1979-11-30",
            "female",
            "zh",
            "Chinese",
            false,
        ),
    ];
    for (i, (id, given, family, born, sex, lang, lang_name, interp)) in people.iter().enumerate() {
        v.push(json!({"resourceType": "Patient", "id": id, "name": [{"given": [given], "family": family}],
            "birthDate": born, "gender": sex,
            "communication": [{"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": lang, "display": lang_name}]}, "preferred": true}],
            "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/patient-interpreterRequired", "valueBoolean": interp}]}));
        v.push(json!({"resourceType": "Encounter", "id": format!("e{}", i + 1), "status": "in-progress",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
            "subject": {"reference": format!("Patient/{id}")}, "period": {"start": "2026-11-20T08:00:00Z"},
            "location": [
                {"location": {"reference": "Location/ward-t", "display": "Ward T"}, "status": "active", "physicalType": {"coding": [{"system": PT, "code": "wa"}]}},
                {"location": {"reference": format!("Location/bed-t{}", i + 1), "display": format!("T-{}", i + 1)}, "status": "active", "physicalType": {"coding": [{"system": PT, "code": "bd"}]}}]}));
    }
    v
}

/// A normal complete set for a patient, an hour ago.
fn normal_set(p: &str, e: &str) -> Vec<Value> {
    let at = search::format_instant(chrono::Utc::now().timestamp_millis() - 3_600_000);
    let reading = |tag: &str, code: &str, value: Value| {
        let mut o = json!({"resourceType": "Observation", "id": format!("n-{p}-{tag}"), "status": "final",
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}]}],
            "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
            "subject": {"reference": format!("Patient/{p}")}, "encounter": {"reference": format!("Encounter/{e}")},
            "effectiveDateTime": at});
        if value.is_string() {
            o["valueCodeableConcept"] =
                json!({"coding": [{"system": "http://snomed.info/sct", "code": value}]});
        } else {
            let unit = match code {
                "59408-5" => "%",
                "3151-8" => "L/min",
                "8480-6" => "mm[Hg]",
                "8310-5" => "Cel",
                _ => "/min",
            };
            o["valueQuantity"] =
                json!({"value": value, "system": "http://unitsofmeasure.org", "code": unit});
        }
        o
    };
    let mut v = vec![
        reading("rr", "9279-1", json!(16)),
        reading("spo2", "59408-5", json!(97)),
        reading("o2", "3151-8", json!(0)),
        reading("sbp", "8480-6", json!(124)),
        reading("hr", "8867-4", json!(72)),
        reading("avpu", "67775-7", json!("248234008")),
        reading("temp", "8310-5", json!(36.8)),
    ];
    let members: Vec<Value> = v
        .iter()
        .map(|o| json!({"reference": format!("Observation/{}", o["id"].as_str().unwrap())}))
        .collect();
    let mut panel = reading("panel", "85353-1", json!(0));
    panel.as_object_mut().unwrap().remove("valueQuantity");
    panel["hasMember"] = json!(members);
    v.push(panel);
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nurse_and_a_rapid_response_team_do_their_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let options = store::Options {
        clock: Arc::new(store::SystemClock),
        indexer: Arc::new(search::Indexer::new(search::Registry::r4()).unwrap()),
        readers: 4,
    };
    let store = store::open(
        &format!("sqlite://{}", dir.path().join("web.db").display()),
        options,
    )
    .unwrap();
    let mut resources = ward();
    for (p, e) in [("p1", "e1"), ("p2", "e2"), ("p3", "e3")] {
        resources.extend(normal_set(p, e));
    }
    store
        .write(
            &store::Access::system(),
            resources.into_iter().map(put).collect(),
            Mode::Atomic,
        )
        .unwrap();
    let ew = early_warning::EarlyWarning::new(
        store.clone(),
        early_warning::Config::default(),
        Arc::new(store::SystemClock),
    );
    ew.start();
    assert!(ew.wait_processed(store.commits().latest(), Duration::from_secs(20)));
    let hub = early_warning::Hub::start(ew.clone());
    let state = server::AppState::new(store.clone(), support::gate(&store))
        .with_early_warning(ew.clone(), hub);
    let gate = state.gate.clone();
    support::account(
        &gate,
        "nia",
        access::Role::Nurse,
        Some("Practitioner/n1"),
        &["Location/ward-t"],
    );
    support::account(
        &gate,
        "ravi",
        access::Role::RapidResponse,
        Some("Practitioner/r1"),
        &[],
    );
    let app = support::app(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(server::serve(listener, app, async {
        let _ = stopped.await;
    }));

    let (_chromedriver, driver_url) = start_chromedriver();
    let (driver, _profile) = chromium(&driver_url).await;

    // Sign-in.
    driver.goto(format!("{base}/board")).await.unwrap();
    assert_eq!(
        driver.current_url().await.unwrap().path(),
        "/sign-in",
        "pages need a signed-in user"
    );
    shot(&driver, "1-sign-in").await;
    sign_in(&driver, &base, "nia", "/board").await;

    // The board: three patients, all low risk, the interpreter need shown.
    wait_for("the board to go live", 10, || async {
        text(&driver, "#live-state").await == "live"
    })
    .await;
    let rows = driver.find_all(By::Css("#board-rows tr")).await.unwrap();
    assert_eq!(rows.len(), 3);
    let board = text(&driver, "table.board").await;
    assert!(
        board.contains("Tomasz Nowak") && board.contains("Interpreter"),
        "{board}"
    );
    assert!(
        board.contains("Zero"),
        "band names are written out: {board}"
    );
    assert!(text(&driver, "h2").await.contains("Empty beds"));
    shot(&driver, "2-board").await;
    // A 10-inch tablet held upright.
    driver.set_window_rect(0, 0, 800, 1280).await.unwrap();
    shot(&driver, "2-board-tablet").await;
    driver.set_window_rect(0, 0, 1280, 900).await.unwrap();

    // The monthly prevalence survey, from the board: one patient surveyed, the rest later.
    driver
        .find(By::LinkText("Pressure injury and restraint survey"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert_eq!(driver.current_url().await.unwrap().path(), "/board/survey");
    for (id, value) in [("pi-p1", "deep-tissue"), ("re-p1", "none")] {
        driver
            .find(By::Css(format!("#{id} option[value='{value}']")))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }
    shot(&driver, "2-survey").await;
    driver
        .find(By::Css(".survey-save button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for("the survey to be recorded", 10, || async {
        text(&driver, "p.notice")
            .await
            .contains("Recorded the survey of 1 patient")
    })
    .await;
    assert!(text(&driver, ".survey-save")
        .await
        .contains("1 of 3 patients surveyed today"));
    driver.set_window_rect(0, 0, 800, 1280).await.unwrap();
    shot(&driver, "2-survey-tablet").await;
    driver.set_window_rect(0, 0, 1280, 900).await.unwrap();
    driver.goto(format!("{base}/board")).await.unwrap();
    wait_for("the board to go live again", 10, || async {
        text(&driver, "#live-state").await == "live"
    })
    .await;
    let board_window = driver.window().await.unwrap();

    // A second window: the bedside form for Mei Chen, at the bottom of the board.
    driver.new_tab().await.unwrap();
    let windows = driver.windows().await.unwrap();
    let form_window = windows.into_iter().find(|w| *w != board_window).unwrap();
    driver.switch_to_window(form_window.clone()).await.unwrap();
    driver
        .goto(format!("{base}/patients/p3/vitals"))
        .await
        .unwrap();
    // A typing error first: a plain message, nothing saved.
    driver
        .find(By::Id("temp"))
        .await
        .unwrap()
        .send_keys("53")
        .await
        .unwrap();
    driver
        .find(By::Id("save"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for("the validation message", 10, || async {
        text(&driver, "#errors")
            .await
            .contains("Temperature 53 °C is outside 25–45 °C")
    })
    .await;
    shot(&driver, "3-vitals-error").await;
    for (id, value) in [
        ("rr", "26"),
        ("spo2", "90"),
        ("flow", "4"),
        ("sbp", "88"),
        ("pulse", "125"),
        ("temp", "38.6"),
    ] {
        let input = driver.find(By::Id(id)).await.unwrap();
        input.clear().await.unwrap();
        input.send_keys(value).await.unwrap();
    }
    driver
        .find(By::Css("select#device option[value=nasal-cannula]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    driver
        .find(By::Css("input[name=acvpu][value=C]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let submitted_at: i64 = driver
        .execute("return Date.now();", vec![])
        .await
        .unwrap()
        .convert()
        .unwrap();
    driver
        .find(By::Id("save"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for("the score of the set", 15, || async {
        text(&driver, "#result-score").await.contains("High")
    })
    .await;
    let result = text(&driver, "#result").await;
    assert!(result.contains("Required response"), "{result}");
    assert!(result.contains("Next set due"), "{result}");
    assert!(result.contains("alert has been raised"), "{result}");
    shot(&driver, "4-vitals-scored").await;

    // Back on the board, without reloading: Mei Chen is first, high, with an alert.
    driver.switch_to_window(board_window).await.unwrap();
    wait_for("the board to update live", 10, || async {
        let first = text(&driver, "#board-rows tr:first-child").await;
        first.contains("Mei Chen") && first.contains("High")
    })
    .await;
    let updated: i64 = driver
        .execute("return Number(document.body.dataset.updated || 0);", vec![])
        .await
        .unwrap()
        .convert()
        .unwrap();
    println!(
        "vitals saved → board updated in the browser: {} ms (includes scoring and the form's round trip)",
        updated - submitted_at
    );
    let first = text(&driver, "#board-rows tr:first-child").await;
    assert!(first.contains("raised"), "{first}");
    let announce_js = "return document.getElementById('announce').textContent;";
    wait_for("the screen-reader announcement", 10, || async {
        driver
            .execute(announce_js, vec![])
            .await
            .ok()
            .and_then(|r| r.convert::<String>().ok())
            .is_some_and(|t| t.contains("Mei Chen") && t.contains("high"))
    })
    .await;
    shot(&driver, "5-board-live-alert").await;

    // The rapid-response nurse: acknowledge, respond, resolve.
    driver
        .find(By::Css("form[action='/sign-out'] button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    sign_in(&driver, &base, "ravi", "/board").await;
    driver.goto(format!("{base}/alerts")).await.unwrap();
    let inbox = text(&driver, ".inbox").await;
    assert!(
        inbox.contains("Mei Chen") && inbox.contains("High"),
        "{inbox}"
    );
    shot(&driver, "6-alerts").await;
    driver
        .find(By::Css(".alert-card form[action$='/acknowledge'] button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for("the acknowledgement", 10, || async {
        text(&driver, ".inbox").await.contains("Acknowledged")
    })
    .await;
    driver
        .find(By::Css(
            ".alert-card select[name=response] option[value='rapid-response-call']",
        ))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    driver
        .find(By::Css(".alert-card input[name=note]"))
        .await
        .unwrap()
        .send_keys("Reviewed at bedside, fluids started")
        .await
        .unwrap();
    driver
        .find(By::Css(".alert-card form.respond button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for("the response", 10, || async {
        text(&driver, ".inbox").await.contains("Responded")
    })
    .await;
    shot(&driver, "7-alert-responded").await;
    driver
        .find(By::Css(".alert-card form[action$='/resolve'] button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for("the alert to leave the inbox", 10, || async {
        text(&driver, "main").await.contains("No open alerts")
    })
    .await;

    // The chart: the timeline names who acknowledged and what was done.
    driver.goto(format!("{base}/patients/p3")).await.unwrap();
    let chart = text(&driver, "main").await;
    assert!(
        chart.contains("Acknowledged") && chart.contains("Ravi Rapid"),
        "{chart}"
    );
    assert!(
        chart.contains("Rapid response call: Reviewed at bedside, fluids started"),
        "{chart}"
    );
    assert!(chart.contains("Resolved"), "{chart}");
    assert!(chart.contains("NEWS2 total"), "{chart}");
    assert!(
        chart.contains("26 /min") && chart.contains("38.6 °C"),
        "readings as typed: {chart}"
    );
    let cells = driver
        .find_all(By::Css(".obs-chart td.cell.p3"))
        .await
        .unwrap();
    assert!(!cells.is_empty(), "parameters scoring 3 are coloured");
    shot(&driver, "8-chart").await;

    // Nothing was fetched from anywhere but Tend.
    let foreign: i64 = driver
        .execute(
            "return performance.getEntriesByType('resource').filter(function (e) { return !e.name.startsWith(location.origin); }).length;",
            vec![],
        )
        .await
        .unwrap()
        .convert()
        .unwrap();
    assert_eq!(foreign, 0);

    driver.quit().await.unwrap();
    let _ = stop.send(());
    let _ = server.await;
    ew.stop();
}
