//! Benchmark support (`cargo bench -p navigation`, `benches/navigation.rs`): synthetic cases
//! in memory at the stages of the suspected-cancer pathway, their clocks recomputed, and the
//! worklist queried. Not part of the service's API.

use std::sync::Arc;
use std::time::Instant;

use chrono::{Duration, FixedOffset, TimeZone};
use pathways::{Coding, Event, ResourceType};

use crate::record::Person;
use crate::service::{Case, Config, Episode, Navigation};
use crate::{codes, Query};

struct NoStoreClock(i64);

impl store::Clock for NoStoreClock {
    fn now_ms(&self) -> i64 {
        self.0
    }
}

fn tagged(
    id: &str,
    kind: ResourceType,
    code: &str,
    status: &str,
    t: chrono::DateTime<FixedOffset>,
) -> Event {
    Event {
        codes: vec![Coding::new(codes::PATHWAY_EVENT, code)],
        status: Some(status.into()),
        source: Some(id.into()),
        ..Event::resource(id, kind, t)
    }
}

/// Case `i` of a synthetic population: referred 1–70 days ago, at a stage that depends on
/// `i`.
pub fn case(nav: &Navigation, i: usize, now: chrono::DateTime<FixedOffset>) -> Case {
    let patient = format!("bench-{i:06}");
    let referred = now - Duration::days((i % 70) as i64 + 1);
    let mut events = vec![tagged(
        &format!("ServiceRequest/{i}"),
        ResourceType::ServiceRequest,
        "urgent-suspected-cancer-referral",
        "active",
        referred,
    )];
    let stage = i % 5;
    if stage >= 1 {
        events.push(tagged(
            &format!("Encounter/{i}"),
            ResourceType::Encounter,
            "first-seen",
            "finished",
            referred + Duration::days(6),
        ));
    }
    if stage >= 2 {
        events.push(tagged(
            &format!("Communication/{i}"),
            ResourceType::Communication,
            "diagnosis-communicated",
            "completed",
            referred + Duration::days(20),
        ));
    }
    if stage >= 3 {
        events.push(tagged(
            &format!("CarePlan/{i}"),
            ResourceType::CarePlan,
            "decision-to-treat",
            "active",
            referred + Duration::days(27),
        ));
    }
    if stage >= 4 {
        events.push(tagged(
            &format!("Procedure/{i}"),
            ResourceType::Procedure,
            "first-definitive-treatment",
            "completed",
            referred + Duration::days(45),
        ));
    }
    let pw = nav
        .pathways()
        .pathway("nhs-suspected-cancer")
        .expect("shipped");
    Case {
        patient: patient.clone(),
        person: Person {
            name: format!("Patient {i:06}"),
            mrn: Some(format!("MRN{i:07}")),
            ..Person::default()
        },
        barriers: if i.is_multiple_of(7) {
            vec!["interpreter needed (Polish)".into()]
        } else {
            Vec::new()
        },
        site: Some(["Breast", "Lung", "Skin", "Upper GI", "Lower GI"][i % 5].into()),
        referrals: vec![format!("ServiceRequest/{i}")],
        episodes: vec![Episode {
            pathway: pw.id.clone(),
            title: pw.title.clone(),
            id: crate::episode_id(&patient, &pw.id),
            evaluation: pathways::evaluate(pw, &[], &[], now),
            predictions: Vec::new(),
            active: true,
            start: None,
            end: None,
        }],
        contacts: Vec::new(),
        assignments: Vec::new(),
        navigator: Some(format!("Practitioner/nav-{}", i % 4)),
        events,
        navigator_events: Vec::new(),
        adjustments: Vec::new(),
        stored: Default::default(),
        fingerprint: 0,
    }
}

/// Runs both benchmarks and reports.
pub fn run(patients: usize, worklist: usize) -> String {
    let dir = std::env::temp_dir().join(format!("tend-nav-bench-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let store = store::open(
        &format!("sqlite://{}", dir.join("bench.db").display()),
        store::Options {
            clock: Arc::new(store::SystemClock),
            indexer: Arc::new(search::Indexer::new(search::Registry::r4()).expect("registry")),
            readers: 2,
        },
    )
    .expect("a store");
    let zone = chrono_tz::Europe::London;
    let now = zone
        .with_ymd_and_hms(2026, 11, 24, 9, 0, 0)
        .single()
        .expect("a time")
        .fixed_offset();
    let nav = Navigation::new(
        store,
        Config {
            zone,
            ..Config::default()
        },
        Arc::new(NoStoreClock(now.timestamp_millis())),
    );
    let mut out = String::new();

    let mut cases: Vec<Case> = (0..patients).map(|i| case(&nav, i, now)).collect();
    let pw = nav
        .pathways()
        .pathway("nhs-suspected-cancer")
        .expect("shipped");
    let t = Instant::now();
    let mut open = 0;
    for c in &cases {
        let ev = pathways::evaluate(pw, &c.events, &[], now);
        open += ev.clocks.iter().filter(|c| c.is_open()).count();
    }
    out.push_str(&format!(
        "the engine alone: {patients} evaluations in {:.2} s on one thread ({open} open clocks)\n",
        t.elapsed().as_secs_f64()
    ));
    let t = Instant::now();
    let writes = nav.recompute_cases(&mut cases, now);
    let first = t.elapsed();
    let later = now + Duration::days(1);
    let t = Instant::now();
    let _ = nav.recompute_cases(&mut cases, later);
    let second = t.elapsed();
    out.push_str(&format!(
        "clock recomputation: {patients} patients in {:.2} s (first, {writes} resources to write), {:.2} s (next day) on {} threads; target 100,000 in 10 s\n",
        first.as_secs_f64(),
        second.as_secs_f64(),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    ));

    let mut cases: Vec<Case> = (0..worklist).map(|i| case(&nav, i, now)).collect();
    nav.recompute_cases(&mut cases, now);
    nav.set_cases(cases);
    let mut times = Vec::new();
    let queries = [
        Query {
            count: 50,
            ..Query::default()
        },
        Query {
            site: Some("Lung".into()),
            count: 50,
            ..Query::default()
        },
        Query {
            search: Some("0012".into()),
            count: 50,
            ..Query::default()
        },
        Query {
            navigator: Some("Practitioner/nav-1".into()),
            count: 50,
            offset: 100,
            ..Query::default()
        },
    ];
    let mut total = 0;
    for k in 0..200 {
        let t = Instant::now();
        let page = nav.worklist(&queries[k % queries.len()]);
        times.push(t.elapsed());
        total = total.max(page.total);
    }
    times.sort();
    let p = |q: f64| {
        times[((times.len() as f64 * q) as usize).min(times.len() - 1)].as_secs_f64() * 1000.0
    };
    out.push_str(&format!(
        "worklist: {worklist} active pathways ({total} rows at most per query), 200 queries: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; target p99 < 200 ms",
        p(0.5),
        p(0.99),
        p(1.0)
    ));
    // The reports page's breaches, each put down to its longest delay.
    let mut times = Vec::new();
    let mut found = 0;
    for _ in 0..20 {
        let t = Instant::now();
        found = nav.breaches(None).len();
        times.push(t.elapsed());
    }
    times.sort();
    out.push_str(&format!(
        "\nbreaches with their longest delay: {worklist} active pathways ({found} breached clocks), 20 runs: p50 {:.1} ms, max {:.1} ms",
        times[times.len() / 2].as_secs_f64() * 1000.0,
        times[times.len() - 1].as_secs_f64() * 1000.0
    ));
    let _ = std::fs::remove_dir_all(&dir);
    out
}
