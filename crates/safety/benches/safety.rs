//! `cargo bench -p safety`: the safety team's queue and a reporter's own list with
//! `SAFETY_BENCH_REPORTS` (default 5,000) reports on file (two years of a large hospital's
//! reports), read as the pages read them. Target: p99 < 300 ms (the quality dashboard's
//! page target). Also times filing one report (the reporter's wait after "Send").

use std::sync::Arc;
use std::time::{Duration, Instant};

use access::{Principal, Role, Via};
use chrono::{Duration as Days, Utc};
use safety::{Report, Reporter, Safety};
use safety_events::{Details, Fall};
use store::{Access, Reach, Store};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn person(id: &str, role: Role) -> Access {
    Access::caller(
        Principal {
            id: id.into(),
            name: id.into(),
            role,
            practitioner: Some(format!("Practitioner/{id}")),
            wards: vec![],
            organization: None,
            scopes: None,
            via: Via::Session,
        },
        Reach::All,
        None,
    )
}

fn percentile(mut v: Vec<Duration>, p: f64) -> Duration {
    v.sort();
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let n = env("SAFETY_BENCH_REPORTS", 5_000);
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = store::open(
        &format!("sqlite://{}", dir.path().join("bench.db").display()),
        store::Options {
            clock: Arc::new(store::SystemClock),
            indexer: Arc::new(search::Indexer::new(search::Registry::r4()).unwrap()),
            readers: 4,
        },
    )
    .unwrap();
    let safety = Safety::new(store, Arc::new(store::SystemClock));
    let reporters: Vec<String> = (0..50).map(|i| format!("nurse-{i}")).collect();
    let now = Utc::now();
    let mut filing = Vec::new();
    for i in 0..n {
        let who = &reporters[i % reporters.len()];
        let access = person(who, Role::IntegrationService);
        let report = Report {
            kind: "incident".into(),
            category: "fall".into(),
            occurred: now - Days::hours((i % 17_000) as i64),
            discovered: None,
            location: Some(format!("ward-{}", i % 8)),
            description: "Found on the floor beside the bed.".into(),
            harm: Some(["none", "mild", "moderate", "severe"][i % 4].into()),
            factors: vec!["patient".into()],
            patient: Some(format!("p{}", i % 2_000)),
            encounter: None,
            details: Details::Fall(Fall {
                injury: "minor".into(),
                ..Fall::default()
            }),
            anonymous: i % 10 == 0,
        };
        let t = Instant::now();
        safety
            .file(
                &access,
                &Reporter {
                    reference: format!("Practitioner/{who}"),
                    name: "A Nurse".into(),
                    role: "Nurse".into(),
                },
                &report,
            )
            .unwrap();
        filing.push(t.elapsed());
    }
    println!(
        "filing one report ({n}): p50 {:?}, p99 {:?}",
        percentile(filing.clone(), 0.5),
        percentile(filing, 0.99)
    );
    let reviewer = person("rae", Role::SafetyReviewer);
    let mut queue = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        let q = safety.queue(&reviewer, 90).unwrap();
        queue.push(t.elapsed());
        assert_eq!(q.new.len(), n);
    }
    println!(
        "safety team's queue ({n} reports): p50 {:?}, p99 {:?} (target p99 < 300 ms)",
        percentile(queue.clone(), 0.5),
        percentile(queue, 0.99)
    );
    let nurse = person("nurse-3", Role::Nurse);
    let mut mine = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        let m = safety.mine(&nurse, "Practitioner/nurse-3").unwrap();
        mine.push(t.elapsed());
        assert!(!m.is_empty());
    }
    println!(
        "a reporter's own reports: p50 {:?}, p99 {:?}",
        percentile(mine.clone(), 0.5),
        percentile(mine, 0.99)
    );
}
