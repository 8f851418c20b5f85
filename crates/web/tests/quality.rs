//! The quality office's pages over a real SQLite store holding a synthetic hospital with four
//! months of past stays and two years of safety reports: the quality officer lands on the
//! measures, the riskiest first; a measure shows its control chart, its months, the Magnet
//! grid and its equity groups; the unit view and both downloads work; the reports behind a
//! number are the safety team's alone, the patients behind it the quality officer's (case
//! review), and opening either is audited with the patients.

use std::sync::Arc;

use axum::http::StatusCode;
use serde_json::Value;

mod support;
use support::page as get;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quality_office_reads_its_measures() {
    let dir = tempfile::tempdir().unwrap();
    let (store, quality) = support::quality_hospital(dir.path(), 300, 120);
    let state = server::AppState::new(store.clone(), support::gate(&store));
    let gate = state.gate.clone();
    support::account(&gate, "quinn", access::Role::QualityOfficer, None, &[]);
    support::account(
        &gate,
        "rae",
        access::Role::SafetyReviewer,
        Some("Practitioner/safety-lead"),
        &[],
    );
    let app = support::app_with(
        state,
        web::WebConfig {
            zone: web::Zone::parse("America/New_York").unwrap(),
            safety: Some(safety::Safety::new(
                store.clone(),
                Arc::new(store::SystemClock),
            )),
            measure_reports: Some(quality.clone()),
            ..Default::default()
        },
    );

    // The quality officer lands on the measures.
    let quinn = support::sign_in(&app, "quinn").await;
    let (s, home) = get(&app, &quinn, "/").await;
    assert!(s.is_success() || s.is_redirection(), "{s}");
    let (s, list) = get(&app, &quinn, "/quality").await;
    assert_eq!(s, StatusCode::OK, "{list}");
    assert!(home.contains("Quality measures") || list.contains("Quality measures"));
    assert!(
        list.contains("Patient falls per 1,000 patient days"),
        "{list}"
    );
    assert!(list.contains("Falls with injury per 1,000 patient days"));
    assert!(
        list.contains("October 2026"),
        "the latest finished month, in words"
    );
    assert!(!list.contains(">ndnqi"), "no internal names as text");

    // One measure: chart, months, Magnet grid, groups, definition.
    let (s, m) = get(&app, &quinn, "/quality/measures/ndnqi-falls").await;
    assert_eq!(s, StatusCode::OK, "{m}");
    assert!(m.contains("<svg class=\"spc\""), "a control chart");
    assert!(
        m.matches("<circle").count() >= 4,
        "one point a finished month"
    );
    assert!(m.contains("2026 Q3"), "the Magnet grid's last quarter");
    assert!(m.contains("Ward 5 West – General Surgery"));
    assert!(m.contains("Needs an interpreter"), "the equity groups");
    assert!(
        m.contains("Not recorded"),
        "the not-recorded group is always shown"
    );
    assert!(m.contains("midnight"), "how it is counted");
    assert!(
        m.contains("open to the safety team"),
        "no drill-down for the quality office"
    );
    assert!(!m.contains("/events?month="));

    // A unit, and a run chart.
    let (s, unit) = get(
        &app,
        &quinn,
        "/quality/measures/ndnqi-falls?unit=ward-2south&chart=run",
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{unit}");
    assert!(unit.contains("Ward 2 South"), "{unit}");
    assert!(
        unit.contains("benchmark 2.75"),
        "the unit's benchmark on its chart"
    );
    let (s, _) = get(
        &app,
        &quinn,
        "/quality/measures/ndnqi-falls?unit=ward-nowhere",
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = get(&app, &quinn, "/quality/measures/no-such-measure").await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Downloads: CSV by unit and month; the MeasureReports as a Bundle of valid R4.
    let (s, csv) = get(&app, &quinn, "/quality/measures/ndnqi-falls/csv").await;
    assert_eq!(s, StatusCode::OK);
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "measure,unit,unit_name,month,numerator,denominator,rate,rate_unit,status"
    );
    assert!(
        csv.contains(",ward-3east,Ward 3 East – Acute Medicine,2026-09,"),
        "{csv}"
    );
    let (s, bundle) = get(&app, &quinn, "/quality/measures/ndnqi-falls/fhir").await;
    assert_eq!(s, StatusCode::OK);
    let bundle: Value = serde_json::from_str(&bundle).unwrap();
    assert!(bundle["total"].as_u64().unwrap() >= 5);
    for e in bundle["entry"].as_array().unwrap() {
        assert!(fhir::validation::validate(&e["resource"]).is_empty());
    }

    // The reports behind a number: the safety team's, audited with the patients.
    let (s, _) = get(
        &app,
        &quinn,
        "/quality/measures/ndnqi-falls/events?month=2026-09",
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let rae = support::sign_in(&app, "rae").await;
    let (s, m) = get(&app, &rae, "/quality/measures/ndnqi-falls").await;
    assert_eq!(s, StatusCode::OK);
    let link = support::between(
        &m,
        "href=\"/quality/measures/ndnqi-falls/events?month=",
        "\"",
    )
    .to_string();
    let path = format!(
        "/quality/measures/ndnqi-falls/events?month={}",
        link.replace("&amp;", "&")
    );
    let (s, events) = get(&app, &rae, &path).await;
    assert_eq!(s, StatusCode::OK, "{events}");
    let listed = events.matches("href=\"/safety/events/").count();
    assert!(listed >= 1, "{events}");
    let month = link.get(..7).unwrap().to_string();
    let report = quality
        .reports(&store::Access::system())
        .unwrap()
        .into_iter()
        .find(|r| r["id"] == format!("ndnqi-falls-{month}"))
        .unwrap();
    assert_eq!(
        report["group"][0]["population"][0]["count"]
            .as_u64()
            .unwrap() as usize,
        listed,
        "the page lists exactly the falls the month counted"
    );
    let (hits, _) = store.scan("AuditEvent", 0, 100_000).unwrap();
    let audit = hits
        .iter()
        .map(|h| serde_json::from_str::<Value>(&h.body).unwrap())
        .find(|e| {
            e["agent"][0]["altId"] == "rae"
                && e["entity"]
                    .to_string()
                    .contains("/quality/measures/ndnqi-falls/events")
        })
        .expect("opening the reports is audited");
    assert!(audit["entity"].to_string().contains("Patient/"), "{audit}");
    let (s, _) = get(
        &app,
        &rae,
        "/quality/measures/ndnqi-falls/events?month=not-a-month",
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // The patients behind a number: the quality officer's case review, audited with them.
    let (s, _) = get(
        &app,
        &rae,
        &format!("/quality/measures/ndnqi-falls/patients?month={month}"),
    )
    .await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "the safety team opens the reports"
    );
    let (_, m) = get(&app, &quinn, "/quality/measures/ndnqi-falls").await;
    assert!(
        m.contains("<details open>"),
        "the months with their links are open for those who may follow them"
    );
    assert!(
        m.contains(&format!(
            "href=\"/quality/measures/ndnqi-falls/patients?month={month}\""
        )),
        "{m}"
    );
    let (s, cases) = get(
        &app,
        &quinn,
        &format!("/quality/measures/ndnqi-falls/patients?month={month}"),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{cases}");
    let fallers: std::collections::BTreeSet<String> = quality
        .cases("ndnqi-falls", &month, None)
        .unwrap()
        .into_iter()
        .map(|c| c.patient)
        .collect();
    assert!(!fallers.is_empty());
    let listed = cases.matches("<th scope=\"row\">").count();
    assert_eq!(listed, fallers.len(), "one row a patient who fell: {cases}");
    for p in &fallers {
        let patient: Value = serde_json::from_str(
            &store
                .read(&store::Access::system(), "Patient", p)
                .unwrap()
                .unwrap()
                .body
                .unwrap(),
        )
        .unwrap();
        let family = patient["name"][0]["family"].as_str().unwrap();
        assert!(cases.contains(family), "{family} is listed");
    }
    let (hits, _) = store.scan("AuditEvent", 0, 100_000).unwrap();
    let audit = hits
        .iter()
        .map(|h| serde_json::from_str::<Value>(&h.body).unwrap())
        .find(|e| {
            e["agent"][0]["altId"] == "quinn"
                && e["entity"]
                    .to_string()
                    .contains("/quality/measures/ndnqi-falls/patients")
        })
        .expect("opening the patients is audited");
    for p in &fallers {
        assert!(
            audit["entity"]
                .to_string()
                .contains(&format!("Patient/{p}\"")),
            "{audit}"
        );
    }
    // A higher-is-better measure lists those short of it; a bad month is refused.
    let (s, _) = get(
        &app,
        &quinn,
        "/quality/measures/ndnqi-falls/patients?month=2026-13",
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // The role reads no patient through the FHIR API for all that.
    let (s, _) = get(
        &app,
        &quinn,
        &format!("/fhir/Patient/{}", fallers.iter().next().unwrap()),
    )
    .await;
    assert!(s.is_client_error(), "{s}");
}
