//! `cargo bench -p web --bench quality`: how fast the quality office's pages are served. The
//! demo hospital (two years of past stays on five wards, two years of safety reports) on a
//! fresh SQLite store; the measures are run once (timed), then the measures page, one
//! measure for the whole hospital and for a unit, and the CSV download are requested 120
//! times each in process (no socket), after a quality officer signs in. Prints p50/p99 (the
//! target: p99 under 300 ms); asserts nothing.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use store::{Entry, Mode, WriteOp};
use tower::ServiceExt;

struct Fixed;
impl store::Clock for Fixed {
    fn now_ms(&self) -> i64 {
        1_795_507_200_000 // 2026-11-24T08:00:00Z, synth's default now
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let store = store::open(
            &format!("sqlite://{}", dir.path().join("quality.db").display()),
            store::Options {
                clock: Arc::new(store::SystemClock),
                indexer: Arc::new(search::Indexer::new(search::Registry::r4()).unwrap()),
                readers: 4,
            },
        )
        .unwrap();
        let hospital = synth::generate(&synth::Config::default());
        let n = hospital.resources.len();
        let started = Instant::now();
        for chunk in hospital.resources.chunks(5000) {
            store
                .write(
                    &store::Access::system(),
                    chunk
                        .iter()
                        .map(|r| Entry {
                            full_url: None,
                            op: WriteOp::Update {
                                rtype: r["resourceType"].as_str().unwrap().to_string(),
                                id: r["id"].as_str().unwrap().to_string(),
                                resource: r.clone(),
                                if_match: None,
                            },
                        })
                        .collect(),
                    Mode::Independent,
                )
                .unwrap();
        }
        println!(
            "demo hospital: {n} resources loaded in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        let quality = measure_reports::MeasureReports::new(
            store.clone(),
            Arc::new(Fixed),
            measure_reports::Config {
                zone: "America/New_York".into(),
                ..Default::default()
            },
        )
        .unwrap();
        let ran = quality.run_now().unwrap();
        println!(
            "measure run: {} resources read, {} rows, {} reports written in {:.2} s",
            ran.resources, ran.rows, ran.written, ran.seconds
        );
        for t in &ran.timing {
            println!(
                "  {}: {} rows in {:.2} s ({:.0} rows/s)",
                t.name,
                t.rows,
                t.seconds,
                t.rows as f64 / t.seconds.max(1e-9)
            );
        }
        let accounts = Arc::new(accounts::Accounts::new(
            store.clone(),
            Arc::new(store::SystemClock),
        ));
        let password = "correct horse battery staple on the bench";
        // The first account is an administrator's.
        for (username, role) in [
            ("admin", access::Role::Administrator),
            ("quality", access::Role::QualityOfficer),
        ] {
            accounts
                .add(
                    accounts::NewAccount {
                        username: username.into(),
                        name: format!("Bench {username}"),
                        role,
                        practitioner: None,
                        wards: vec![],
                        organization: None,
                        password: password.into(),
                    },
                    "bench",
                )
                .unwrap();
        }
        let (token, _) = accounts
            .sign_in("quality", password, "127.0.0.1")
            .unwrap()
            .unwrap();
        let cookie = format!("{}={token}", server::gate::SESSION_COOKIE);
        let gate = Arc::new(server::Gate::new(
            accounts,
            Arc::new(accounts::smart::Smart::none()),
        ));
        let state = server::AppState::new(store.clone(), gate);
        let config = web::WebConfig {
            zone: web::Zone::parse("America/New_York").unwrap(),
            measure_reports: Some(quality),
            ..Default::default()
        };
        let app = server::guarded(web::router(state.clone(), config), state);
        for (name, url) in [
            ("measures page", "/quality"),
            ("measure, whole hospital", "/quality/measures/ndnqi-falls"),
            (
                "measure, one unit, run chart",
                "/quality/measures/ndnqi-falls-with-injury?unit=ward-2south&chart=run",
            ),
            ("CSV download", "/quality/measures/ndnqi-falls/csv"),
            (
                "patients behind a month (case review)",
                "/quality/measures/social-needs-screening/patients?month=2026-10",
            ),
        ] {
            let mut times = Vec::new();
            let mut bytes = 0;
            for i in 0..120 {
                let started = Instant::now();
                let resp = app
                    .clone()
                    .oneshot(
                        Request::get(url)
                            .header("cookie", &cookie)
                            .body(Body::empty())
                            .unwrap(),
                    )
                    .await
                    .unwrap();
                assert_eq!(resp.status(), 200, "{url}");
                let body = resp.into_body().collect().await.unwrap().to_bytes();
                if url.contains("/patients?") && i == 0 {
                    let rows = String::from_utf8_lossy(&body)
                        .matches("<th scope=\"row\">")
                        .count();
                    assert!(rows > 0, "the case review lists patients");
                    println!("  case review lists {rows} patients");
                }
                if i >= 20 {
                    times.push(started.elapsed().as_secs_f64() * 1000.0);
                }
                bytes = body.len();
            }
            times.sort_by(|a, b| a.total_cmp(b));
            println!(
                "web quality {name}: {} KB, p50 {:.1} ms, p99 {:.1} ms",
                bytes / 1024,
                percentile(&times, 0.5),
                percentile(&times, 0.99)
            );
        }
    });
}
