//! The service over a real SQLite store holding a synthetic hospital with four months of past
//! stays: the consumer writes monthly and equity MeasureReports that are valid R4 and agree
//! with the measure suite run directly; nothing is rewritten when nothing changed; a new fall
//! changes its month; the reports are read with the caller's access (a quality officer reads
//! them, a privacy officer does not); the pages' indicator names units, sets benchmarks by unit type
//! and evaluates the Magnet grid.

use std::sync::Arc;

use access::{Principal, Role, Via};
use measure_reports::{Config, MeasureReports};
use serde_json::Value;
use store::{Access, Entry, Mode, Reach, Store, WriteOp};

const NOW_MS: i64 = 1_795_507_200_000; // 2026-11-24T08:00:00Z, synth's default now

struct Fixed;
impl store::Clock for Fixed {
    fn now_ms(&self) -> i64 {
        NOW_MS
    }
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
        Reach::Patients(Default::default()),
        None,
    )
}

fn hospital() -> (tempfile::TempDir, Arc<dyn Store>, Vec<Value>) {
    let dir = tempfile::tempdir().unwrap();
    let store = store::open(
        &format!("sqlite://{}", dir.path().join("q.db").display()),
        store::Options {
            clock: Arc::new(store::SystemClock),
            indexer: Arc::new(search::Indexer::new(search::Registry::r4()).unwrap()),
            readers: 2,
        },
    )
    .unwrap();
    let cfg = synth::Config {
        inpatients: 20,
        clinic_patients: 300,
        cancer_referrals: 2,
        vitals_days: 1,
        history_days: 120,
        ..synth::Config::default()
    };
    let resources = synth::generate(&cfg).resources;
    let entries: Vec<Entry> = resources
        .iter()
        .map(|v| Entry {
            full_url: None,
            op: WriteOp::Update {
                rtype: v["resourceType"].as_str().unwrap().into(),
                id: v["id"].as_str().unwrap().into(),
                resource: v.clone(),
                if_match: None,
            },
        })
        .collect();
    for chunk in entries.chunks(5000) {
        for r in store
            .write(&Access::system(), chunk.to_vec(), Mode::Independent)
            .unwrap()
        {
            r.unwrap();
        }
    }
    (dir, store, resources)
}

fn service(store: &Arc<dyn Store>) -> Arc<MeasureReports> {
    MeasureReports::new(
        store.clone(),
        Arc::new(Fixed),
        Config {
            zone: "America/New_York".into(),
            min_interval: std::time::Duration::ZERO,
            ..Config::default()
        },
    )
    .unwrap()
}

fn catch_up(s: &MeasureReports) {
    while s.step().unwrap() > 0 {}
}

#[test]
fn the_consumer_keeps_the_measure_reports_true_to_the_record() {
    let (_dir, store, resources) = hospital();
    let svc = service(&store);
    catch_up(&svc);
    let ran = svc.last_run().expect("the first step runs the suite");
    assert!(ran.written > 0 && ran.written == ran.reports, "{ran:?}");

    let quality = person("q", Role::QualityOfficer);
    let reports = svc.reports(&quality).unwrap();
    assert_eq!(reports.len(), ran.reports);
    for r in &reports {
        assert!(fhir::validation::validate(r).is_empty(), "{r:#}");
    }

    // The hospital's months agree with the suite run directly over the same resources.
    let suite = measures::Suite::shipped().unwrap();
    let now = chrono::DateTime::from_timestamp_millis(NOW_MS).unwrap();
    let rows = suite.run(&resources, "America/New_York", now).unwrap();
    let falls = svc
        .indicator(&quality, "ndnqi-falls", &reports)
        .unwrap()
        .unwrap();
    assert!(
        falls.hospital.len() >= 4,
        "four months of stays: {:?}",
        falls.hospital
    );
    for p in &falls.hospital {
        let (n, d) = rows
            .iter()
            .filter(|r| r.measure == "ndnqi-falls" && r.month == p.month)
            .fold((0, 0), |a, r| (a.0 + r.numerator, a.1 + r.denominator));
        assert_eq!((p.numerator, p.denominator), (n, d), "{}", p.month);
    }
    assert!(
        falls.hospital.last().unwrap().pending,
        "November is still running"
    );
    assert!(falls.hospital.iter().rev().skip(1).all(|p| !p.pending));
    assert!(
        falls.hospital.iter().any(|p| p.numerator > 0),
        "falls were reported in those months"
    );

    // Units are named, typed and benchmarked; the Magnet grid covers eight quarters.
    let surgery = falls
        .units
        .iter()
        .find(|(u, _)| u.id == "ward-5west")
        .expect("the surgical ward");
    assert_eq!(surgery.0.name, "Ward 5 West – General Surgery");
    assert_eq!(surgery.0.unit_type.as_deref(), Some("Surgical"));
    assert_eq!(surgery.0.benchmark, Some(2.75));
    let grid = falls.magnet.as_ref().expect("a grid");
    assert_eq!(grid.quarters.len(), 8);
    assert_eq!(grid.quarters.last().unwrap(), "2026-Q3");
    assert!(
        !grid.met,
        "four months of data cannot meet five quarters of eight"
    );

    // The equity report of the last complete quarter, small groups suppressed.
    let (_, end, groups) = falls.equity.as_ref().expect("an equity report");
    assert_eq!(end, "2026-09-30");
    let codes: Vec<&str> = groups.iter().map(|g| g.code.as_str()).collect();
    assert_eq!(
        codes,
        [
            "race",
            "ethnicity",
            "language",
            "interpreter",
            "sex",
            "age-band"
        ]
    );
    for g in groups {
        assert!(
            g.rows.iter().any(|r| r.value == "Not recorded"),
            "{}",
            g.code
        );
        for r in &g.rows {
            assert_eq!(
                r.suppressed,
                r.numerator.is_none(),
                "{} {}",
                g.code,
                r.value
            );
            if let (Some(n), Some(d)) = (r.numerator, r.denominator) {
                assert!(n == 0 || n >= 11, "{} {}: {n} falls shown", g.code, r.value);
                assert!(d > 0 || n == 0);
            }
        }
    }

    // Screening on admission began six months ago: October's adult stays, some screened.
    let screening = svc
        .indicator(&quality, "social-needs-screening", &reports)
        .unwrap()
        .unwrap();
    let october = screening
        .hospital
        .iter()
        .find(|p| p.month == "2026-10")
        .expect("stays ended in October");
    assert!(
        october.denominator >= 20
            && october.numerator * 10 >= october.denominator * 3
            && october.numerator < october.denominator,
        "{october:?}"
    );

    // Nothing changed: a run makes the same reports and writes none.
    let again = svc.run_now().unwrap();
    assert_eq!((again.reports, again.written), (ran.reports, 0));

    // A privacy officer reads no MeasureReport (the role's types): the store decides.
    let privacy = person("p", Role::PrivacyOfficer);
    assert!(
        svc.reports(&privacy).map(|r| r.is_empty()).unwrap_or(true),
        "a privacy officer reads no measure reports"
    );
}

#[test]
fn a_new_fall_changes_its_month() {
    let (_dir, store, resources) = hospital();
    let svc = service(&store);
    catch_up(&svc);
    let quality = person("q", Role::QualityOfficer);
    let before = svc.reports(&quality).unwrap();
    let october = |rs: &[Value]| {
        rs.iter()
            .find(|r| r["id"] == "ndnqi-falls-2026-10")
            .map(|r| r["group"][0]["population"][0]["count"].as_i64().unwrap())
            .unwrap()
    };
    let n = october(&before);
    // A patient on 3 East in October falls there.
    let stay = resources
        .iter()
        .find(|r| {
            r["id"].as_str().unwrap_or("").starts_with("stay-3east")
                && r["period"]["start"].as_str().unwrap_or("") > "2026-10-05"
                && r["period"]["end"].as_str().unwrap_or("") < "2026-10-25"
        })
        .unwrap();
    let start = chrono::DateTime::parse_from_rfc3339(stay["period"]["start"].as_str().unwrap())
        .unwrap()
        .with_timezone(&chrono::Utc);
    let report = safety_events::Report {
        kind: "incident".into(),
        category: "fall".into(),
        occurred: start + chrono::Duration::hours(6),
        discovered: None,
        location: Some("ward-3east".into()),
        description: "Found on the floor.".into(),
        harm: Some("none".into()),
        factors: vec![],
        patient: Some(
            stay["subject"]["reference"]
                .as_str()
                .unwrap()
                .trim_start_matches("Patient/")
                .into(),
        ),
        encounter: None,
        details: safety_events::Details::Fall(safety_events::Fall {
            injury: "none".into(),
            ..Default::default()
        }),
        anonymous: true,
    };
    let ae = report
        .adverse_event(
            safety_events::Formats::shipped(),
            "se-new-fall",
            start + chrono::Duration::hours(7),
            None,
        )
        .unwrap();
    store
        .write(
            &Access::system(),
            vec![Entry {
                full_url: None,
                op: WriteOp::Update {
                    rtype: "AdverseEvent".into(),
                    id: "se-new-fall".into(),
                    resource: ae,
                    if_match: None,
                },
            }],
            Mode::Atomic,
        )
        .unwrap();
    catch_up(&svc);
    let ran = svc.last_run().unwrap();
    assert!(ran.written >= 1 && ran.written < ran.reports, "{ran:?}");
    assert_eq!(october(&svc.reports(&quality).unwrap()), n + 1);
}

#[test]
fn sets_scored_by_early_warning_are_measured_for_timeliness() {
    let (_dir, store, _) = hospital();
    let ew = early_warning::EarlyWarning::new(
        store.clone(),
        early_warning::Config::default(),
        Arc::new(Fixed),
    );
    ew.catch_up().unwrap();
    let svc = service(&store);
    catch_up(&svc);
    let quality = person("q", Role::QualityOfficer);
    let reports = svc.reports(&quality).unwrap();
    let timely = svc
        .indicator(&quality, "observations-on-time", &reports)
        .unwrap()
        .expect("the measure is reported");
    let november = timely
        .hospital
        .iter()
        .find(|p| p.month == "2026-11")
        .expect("the day of sets scored falls in November");
    // The synthetic nurses take most sets by the time they fall due and some late.
    assert!(november.denominator > 20, "{november:?}");
    assert!(
        november.numerator > november.denominator / 2 && november.numerator < november.denominator,
        "{november:?}"
    );
}
