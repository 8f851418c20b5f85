//! Social needs end to end in a real browser (headless Chromium through chromedriver):
//! the social worker hands the tablet to the patient, who answers the questions in large
//! type; the social worker signs in again, finds the need on the worklist, confirms it,
//! refers the patient to the food pantry with consent; the pantry's community partner
//! accepts the referral on their own page and records that the need was met; the social
//! worker sees the loop closed. Screenshots (desktop and tablet) under
//! `target/e2e-screenshots/`.

use std::sync::Arc;

use serde_json::json;
use thirtyfour::prelude::*;

mod support;

use support::browser::{chromium, shot, sign_in, start_chromedriver, text, wait_for};

async fn click(driver: &WebDriver, css: &str) {
    driver
        .find(By::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap();
}

async fn both_sizes(driver: &WebDriver, name: &str) {
    shot(driver, name).await;
    driver.set_window_rect(0, 0, 800, 1280).await.unwrap();
    shot(driver, &format!("{name}-tablet")).await;
    driver.set_window_rect(0, 0, 1366, 900).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patient_is_screened_referred_and_helped() {
    let dir = tempfile::tempdir().unwrap();
    let store = support::sqlite_store(dir.path());
    support::put_all(
        &*store,
        vec![
            json!({"resourceType": "Patient", "id": "p1", "name": [{"given": ["Rosa"], "family": "Lima"}],
                "identifier": [{"value": "MRN-SECRET-1"}], "telecom": [{"system": "phone", "value": "617-555-0142"}],
                "communication": [{"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": "es"}], "text": "Spanish"}, "preferred": true}]}),
            json!({"resourceType": "CareTeam", "id": "ct1", "status": "active", "subject": {"reference": "Patient/p1"},
                "participant": [{"member": {"reference": "Practitioner/sw1"}}]}),
        ],
    );
    let screenings = screening::Screenings::new(store.clone());
    screenings.start();
    let referrals = referrals::Referrals::new(
        store.clone(),
        referrals::Config::default(),
        Arc::new(store::SystemClock),
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
        "sam",
        access::Role::SocialWorker,
        Some("Practitioner/sw1"),
        &[],
    );
    support::partner(&gate, "pat", &org);
    let app = support::app_with(
        state,
        web::WebConfig {
            screening: Some(screenings),
            referrals: Some(referrals),
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

    // The social worker hands the tablet over.
    sign_in(&driver, &base, "sam", "/social").await;
    driver
        .goto(format!("{base}/patients/p1/social-needs"))
        .await
        .unwrap();
    click(&driver, "form[action$='/kiosk'] button").await;
    wait_for("the tablet's questions", 10, || async {
        driver
            .current_url()
            .await
            .is_ok_and(|u| u.path().starts_with("/kiosk/"))
    })
    .await;
    let page = text(&driver, "main").await;
    assert!(page.contains("Hello, Rosa."), "{page}");
    assert!(!page.contains("Lima") && !page.contains("MRN"), "{page}");
    assert!(
        driver
            .find_all(By::Css("header.top nav"))
            .await
            .unwrap()
            .is_empty(),
        "nothing but the questions"
    );
    let size = driver
        .execute("return getComputedStyle(document.body).fontSize", vec![])
        .await
        .unwrap()
        .json()
        .clone();
    assert_eq!(size, json!("22px"), "large type");
    both_sizes(&driver, "social-1-kiosk").await;
    // Food runs out "often"; no car.
    click(&driver, "input[name=q3][value='LA28397-0']").await;
    click(&driver, "input[name=q5][value='LA33-6']").await;
    click(&driver, "button.kiosk-finish").await;
    wait_for("the thank-you", 10, || async {
        text(&driver, "main").await.contains("Thank you")
    })
    .await;
    shot(&driver, "social-2-kiosk-done").await;

    // Back to staff: the needs await a decision on the worklist.
    click(&driver, "a[href='/sign-in']").await;
    sign_in(&driver, &base, "sam", "/social").await;
    wait_for("the needs on the worklist", 10, || async {
        driver.refresh().await.is_ok() && text(&driver, "#h-awaiting").await.contains("(2)")
    })
    .await;
    let awaiting = text(&driver, "section[aria-labelledby=h-awaiting]").await;
    assert!(
        awaiting.contains("Rosa Lima") && awaiting.contains("Food insecurity"),
        "{awaiting}"
    );
    both_sizes(&driver, "social-3-worklist").await;

    // Confirm the food need with the patient's goal, then refer.
    click(&driver, "section[aria-labelledby=h-awaiting] a").await;
    let goal = driver
        .find(By::Css("input[id^='goal-'][id$='food-insecurity']"))
        .await
        .unwrap();
    goal.send_keys("Enough food for the family every week")
        .await
        .unwrap();
    let form = goal.parent().await.unwrap();
    form.find(By::Css("button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for("the confirmation", 10, || async {
        text(&driver, "p.notice")
            .await
            .contains("confirmed as a need")
    })
    .await;
    both_sizes(&driver, "social-4-needs").await;
    click(&driver, "a[href*='refer?need=food-insecurity']").await;
    wait_for("the services", 10, || async {
        text(&driver, "h1")
            .await
            .contains("Refer to a community service")
    })
    .await;
    both_sizes(&driver, "social-5-refer").await;
    click(
        &driver,
        &format!("input[name=service][value='{}']", pantry.id),
    )
    .await;
    click(&driver, "input[name=consent]").await;
    driver
        .find(By::Id("r-note"))
        .await
        .unwrap()
        .send_keys("Best reached after 3 pm")
        .await
        .unwrap();
    click(&driver, "form[action$='/refer'] button.primary").await;
    wait_for("the referral sent", 10, || async {
        text(&driver, "p.notice").await.contains("Referral sent to")
    })
    .await;

    // The partner: their own page, the contact details and nothing else.
    driver.delete_all_cookies().await.unwrap();
    sign_in(&driver, &base, "pat", "/partner").await;
    let page = text(&driver, "main").await;
    assert!(
        page.contains("Rosa Lima") && page.contains("617-555-0142") && page.contains("Spanish"),
        "{page}"
    );
    assert!(page.contains("Best reached after 3 pm"), "{page}");
    assert!(!page.contains("MRN-SECRET-1"), "{page}");
    both_sizes(&driver, "social-6-partner").await;
    click(&driver, "section[aria-labelledby=h-waiting] button.primary").await;
    wait_for("accepted", 10, || async {
        text(&driver, "p.notice").await.contains("accepted")
    })
    .await;
    click(
        &driver,
        "section[aria-labelledby=h-hand] select[name=outcome] option[value=need-met]",
    )
    .await;
    click(
        &driver,
        "section[aria-labelledby=h-hand] form button.primary",
    )
    .await;
    wait_for("the outcome recorded", 10, || async {
        text(&driver, "p.notice").await.contains("the need was met")
    })
    .await;
    shot(&driver, "social-7-partner-done").await;

    // The social worker sees the loop closed.
    driver.delete_all_cookies().await.unwrap();
    sign_in(&driver, &base, "sam", "/social").await;
    driver
        .goto(format!("{base}/patients/p1/social-needs"))
        .await
        .unwrap();
    let card = text(&driver, "section[aria-labelledby=h-referrals]").await;
    assert!(
        card.contains("Completed") && card.contains("Need met"),
        "{card}"
    );
    shot(&driver, "social-8-closed").await;

    driver.quit().await.unwrap();
    let _ = stop.send(());
    let _ = server.await;
}
