//! The quality office in a real browser (headless Chromium through chromedriver): the quality
//! officer signs in and lands on the measures; opens falls, reads the control chart (its
//! points have words), switches to a ward and a run chart, and sees the Magnet grid and the
//! groups; on a tablet the chart fits the width without a sideways scroll of the page.
//! Screenshots (desktop and tablet) under `target/e2e-screenshots/`.

use thirtyfour::prelude::*;

mod support;

use support::browser::{chromium, shot, sign_in, start_chromedriver, text, wait_for};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quality_officer_reads_a_measure_in_the_browser() {
    let dir = tempfile::tempdir().unwrap();
    let (store, quality) = support::quality_hospital(dir.path(), 400, 730);
    let state = server::AppState::new(store.clone(), support::gate(&store));
    support::account(
        &state.gate,
        "quinn",
        access::Role::QualityOfficer,
        None,
        &[],
    );
    let app = support::app_with(
        state,
        web::WebConfig {
            zone: web::Zone::parse("America/New_York").unwrap(),
            measure_reports: Some(quality),
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

    // Lands on the measures.
    sign_in(&driver, &base, "quinn", "/quality").await;
    let list = text(&driver, "main").await;
    assert!(
        list.contains("Patient falls per 1,000 patient days"),
        "{list}"
    );
    assert!(list.contains("Magnet rule"), "{list}");
    shot(&driver, "quality-1-measures").await;
    driver.set_window_rect(0, 0, 800, 1280).await.unwrap();
    shot(&driver, "quality-1-measures-tablet").await;
    driver.set_window_rect(0, 0, 1366, 900).await.unwrap();

    driver
        .find(By::Css("h2 a[href='/quality/measures/ndnqi-falls']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for("the measure", 10, || async {
        text(&driver, "h1").await.contains("Patient falls")
    })
    .await;
    let points = driver.find_all(By::Css("svg.spc circle")).await.unwrap();
    assert!(points.len() >= 20, "two years of months: {}", points.len());
    let tip = points[0]
        .find(By::Css("title"))
        .await
        .unwrap()
        .inner_html()
        .await
        .unwrap();
    assert!(tip.contains("patient days"), "{tip}");
    let page = text(&driver, "main").await;
    assert!(
        page.contains("Magnet: units against the benchmark"),
        "{page}"
    );
    assert!(page.contains("Needs an interpreter"), "{page}");
    assert!(
        page.contains("times the reference"),
        "ratios in words: {page}"
    );
    shot(&driver, "quality-2-falls").await;
    for (section, name) in [
        ("h-magnet", "quality-2-falls-magnet"),
        ("h-equity", "quality-2-falls-groups"),
    ] {
        driver
            .execute(
                &format!("document.getElementById('{section}').scrollIntoView();"),
                vec![],
            )
            .await
            .unwrap();
        shot(&driver, name).await;
    }

    // A ward, as a run chart.
    let unit = driver.find(By::Css("select[name=unit]")).await.unwrap();
    thirtyfour::components::SelectElement::new(&unit)
        .await
        .unwrap()
        .select_by_value("ward-2south")
        .await
        .unwrap();
    let chart = driver.find(By::Css("select[name=chart]")).await.unwrap();
    thirtyfour::components::SelectElement::new(&chart)
        .await
        .unwrap()
        .select_by_value("run")
        .await
        .unwrap();
    driver
        .find(By::Css("form.filters button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for("the ward", 10, || async {
        text(&driver, "h1").await.contains("Ward 2 South")
    })
    .await;
    assert!(text(&driver, "main").await.contains("median"));
    shot(&driver, "quality-3-ward-run-chart").await;

    // On a tablet the page does not scroll sideways; the chart fits.
    driver.set_window_rect(0, 0, 800, 1280).await.unwrap();
    let (page_width, view_width): (i64, i64) = {
        let r = driver
            .execute(
                "return [document.documentElement.scrollWidth, document.documentElement.clientWidth];",
                vec![],
            )
            .await
            .unwrap();
        let v: Vec<i64> = r.convert().unwrap();
        (v[0], v[1])
    };
    assert!(page_width <= view_width, "{page_width} > {view_width}");
    shot(&driver, "quality-3-ward-run-chart-tablet").await;
    driver
        .execute(
            "document.getElementById('h-magnet').scrollIntoView();",
            vec![],
        )
        .await
        .unwrap();
    shot(&driver, "quality-3-magnet-tablet").await;

    driver.quit().await.unwrap();
    let _ = stop.send(());
    let _ = server.await;
}
