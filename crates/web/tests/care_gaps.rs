//! The care-gap worklist and the chart's preventive-care section, over the router with a real
//! SQLite store holding the synthetic clinic: a navigator signs in, filters the worklist,
//! records an outreach (and a forged form without the CSRF token is refused), and the chart
//! shows every rule's verdict with its evidence.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use store::{Entry, Mode, WriteOp};

mod support;
use support::{between, send};

struct Fixed;
impl store::Clock for Fixed {
    fn now_ms(&self) -> i64 {
        1_795_507_200_000 // 2026-11-24T08:00:00Z
    }
}

fn get(path: &str, cookie: &str) -> Request<Body> {
    Request::get(path)
        .header(header::COOKIE, cookie)
        .body(Body::empty())
        .unwrap()
}

fn post(path: &str, cookie: &str, form: &str) -> Request<Body> {
    Request::post(path)
        .header(header::COOKIE, cookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form.to_string()))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_navigator_works_the_care_gap_worklist() {
    let dir = tempfile::tempdir().unwrap();
    let options = store::Options {
        clock: Arc::new(store::SystemClock),
        indexer: Arc::new(search::Indexer::new(search::Registry::r4()).unwrap()),
        readers: 2,
    };
    let store = store::open(
        &format!("sqlite://{}", dir.path().join("web.db").display()),
        options,
    )
    .unwrap();
    let cfg = synth::Config {
        inpatients: 6,
        clinic_patients: 120,
        cancer_referrals: 2,
        vitals_days: 1,
        ..synth::Config::default()
    };
    let entries: Vec<Entry> = synth::generate(&cfg)
        .resources
        .into_iter()
        .map(|v| Entry {
            full_url: None,
            op: WriteOp::Update {
                rtype: v["resourceType"].as_str().unwrap().into(),
                id: v["id"].as_str().unwrap().into(),
                resource: v,
                if_match: None,
            },
        })
        .collect();
    for chunk in entries.chunks(2000) {
        for r in store
            .write(&store::Access::system(), chunk.to_vec(), Mode::Independent)
            .unwrap()
        {
            r.unwrap();
        }
    }
    let ew = early_warning::EarlyWarning::new(
        store.clone(),
        early_warning::Config::default(),
        Arc::new(Fixed),
    );
    ew.catch_up().unwrap();
    let hub = early_warning::Hub::start(ew.clone());
    let gaps = care_gaps::CareGaps::new(
        store.clone(),
        Arc::new(prevention::RuleSet::builtin()),
        Arc::new(Fixed),
    );
    gaps.run_population().unwrap();
    let state = server::AppState::new(store.clone(), support::gate(&store))
        .with_early_warning(ew, hub)
        .with_care_gaps(gaps.clone());
    let gate = state.gate.clone();
    let navigator = state
        .store
        .search(
            &store::Access::system(),
            &search::SearchQuery::parse(
                search::Registry::r4(),
                "PractitionerRole",
                &[("_count".into(), "500".into())],
            )
            .unwrap(),
        )
        .unwrap()
        .matches
        .into_iter()
        .map(|h| serde_json::from_str::<serde_json::Value>(&h.body).unwrap())
        .find(|r| {
            r["code"][0]["text"]
                .as_str()
                .unwrap_or("")
                .starts_with("Patient navigator")
        })
        .and_then(|r| r["practitioner"]["reference"].as_str().map(str::to_string));
    support::account(
        &gate,
        "navigator",
        access::Role::Navigator,
        navigator.as_deref(),
        &[],
    );
    let app = support::app(state);

    // Sign in as the clinic's navigator.
    let cookie = support::sign_in(&app, "navigator").await;

    // The worklist: open gaps, filters with counts, contact details.
    let (s, _, page) = send(&app, get("/care-gaps", &cookie)).await;
    assert_eq!(s, StatusCode::OK, "{page}");
    let open = gaps.open_gaps();
    assert!(open > 50, "{open}");
    assert!(
        page.contains(&format!("{open} open")),
        "header counts every open gap"
    );
    assert!(page.contains("Colorectal cancer screening"));
    assert!(page.contains("aria-current=\"page\">Care gaps"));
    let (s, _, only) = send(
        &app,
        get("/care-gaps?rule=breast-cancer&contacted=no", &cookie),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let want = gaps
        .worklist(&care_gaps::Query {
            rule: Some("breast-cancer".into()),
            contacted: Some(false),
            ..Default::default()
        })
        .total;
    assert!(
        only.contains(&format!("{want} gaps match")),
        "filtered count"
    );
    assert!(!between(&only, "<tbody>", "</tbody>").contains("Colorectal cancer screening"));

    // Record an outreach on the first breast gap; a forged form is refused.
    let gap = between(&only, "<tr id=\"gap-", "\"").to_string();
    let csrf = between(&only, "name=\"csrf\" value=\"", "\"").to_string();
    let (s, _, _) = send(
        &app,
        post(
            &format!("/care-gaps/{gap}/outreach"),
            &cookie,
            "csrf=forged&outcome=scheduled&note=x",
        ),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _, _) = send(&app, post(&format!("/care-gaps/{gap}/outreach"), &cookie, &format!("csrf={csrf}&outcome=scheduled&note=Booked+for+3+Dec&back=%2Fcare-gaps%3Frule%3Dbreast-cancer"))).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let (_, _, contacted) = send(
        &app,
        get("/care-gaps?rule=breast-cancer&contacted=yes", &cookie),
    )
    .await;
    assert!(
        contacted.contains("1 gaps match"),
        "{}",
        between(&contacted, "<p class=\"muted\" id=\"count\">", "</p>")
    );
    assert!(contacted.contains("Reached: screening scheduled"));
    let (s, _, bad) = send(
        &app,
        post(
            &format!("/care-gaps/{gap}/outreach"),
            &cookie,
            &format!("csrf={csrf}&outcome=telepathy"),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert!(bad.contains("telepathy"));

    // The chart's preventive-care section: every rule, with evidence where satisfied.
    let patient = gaps.gap(&gap).unwrap().gap.patient;
    let (s, _, chart) = send(&app, get(&format!("/patients/{patient}"), &cookie)).await;
    assert_eq!(s, StatusCode::OK);
    let section = between(&chart, "id=\"care-gaps\"", "</section>");
    assert_eq!(
        section.matches("<tr class=\"gap ").count(),
        10,
        "one line per rule"
    );
    assert!(
        section
            .contains("Breast cancer screening</th><td><span class=\"gap-status due\">Due</span>"),
        "{section}"
    );
    assert!(section.contains("uspreventiveservicestaskforce.org"));
    // Plain words: no raw references, dates with their year, nothing older than the advice.
    assert!(!section.contains("Observation/"), "{section}");
    assert!(!section.contains("Condition/"), "{section}");
    assert!(!section.contains("people who:"), "{section}");
    for since in section.split("since ").skip(1) {
        let date = &since[..since.find('.').unwrap_or(since.len())];
        let year: i32 = date.rsplit(' ').next().unwrap().parse().unwrap();
        assert!(
            year >= 2018,
            "a gap older than its recommendation: since {date}"
        );
    }
}
