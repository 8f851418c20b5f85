//! Population runs, incremental re-evaluation from the change log and outreach, over a real
//! SQLite store loaded with the synthetic hospital's clinic patients.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use care_gaps::{CareGaps, Query};
use prevention::RuleSet;
use search::{Indexer, Registry, SearchQuery};
use serde_json::{json, Value};
use store::{Clock, Entry, Mode, Store, WriteOp};

/// 2026-11-24T08:00:00Z, the synthetic hospital's "now".
const T0: i64 = 1_795_507_200_000;

struct TestClock(AtomicI64);

impl Clock for TestClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

fn open(path: &str, clock: Arc<TestClock>) -> Arc<dyn Store> {
    store::open(
        &format!("sqlite://{path}"),
        store::Options {
            clock,
            indexer: Arc::new(Indexer::new(Registry::r4()).unwrap()),
            readers: 2,
        },
    )
    .unwrap()
}

fn put(v: Value) -> Entry {
    Entry {
        full_url: None,
        op: WriteOp::Update {
            rtype: v["resourceType"].as_str().unwrap().to_string(),
            id: v["id"].as_str().unwrap().to_string(),
            resource: v,
            if_match: None,
        },
    }
}

fn write(store: &Arc<dyn Store>, entries: Vec<Entry>) {
    for r in store
        .write(&store::Access::system(), entries, Mode::Independent)
        .unwrap()
    {
        r.unwrap();
    }
}

fn count(store: &Arc<dyn Store>, rtype: &str, params: &[(&str, &str)]) -> usize {
    let mut p: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    p.push(("_summary".into(), "count".into()));
    let q = SearchQuery::parse(Registry::r4(), rtype, &p).unwrap();
    store
        .search(&store::Access::system(), &q)
        .unwrap()
        .total
        .unwrap()
}

fn world() -> (tempfile::TempDir, String, Arc<TestClock>, Arc<dyn Store>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gaps.db").display().to_string();
    let clock = Arc::new(TestClock(AtomicI64::new(T0)));
    let store = open(&path, clock.clone());
    let cfg = synth::Config {
        inpatients: 10,
        clinic_patients: 300,
        cancer_referrals: 5,
        ..synth::Config::default()
    };
    let hospital = synth::generate(&cfg);
    let entries: Vec<Entry> = hospital.resources.into_iter().map(put).collect();
    for chunk in entries.chunks(2000) {
        write(&store, chunk.to_vec());
    }
    (dir, path, clock, store)
}

#[test]
fn population_run_then_incremental_changes_then_outreach_survives_a_restart() {
    let (_dir, path, clock, store) = world();
    let rules = Arc::new(RuleSet::builtin());
    let gaps = CareGaps::new(store.clone(), rules.clone(), clock.clone());

    // First run: every open gap stored, one MeasureReport per rule.
    let run = gaps.run_population().unwrap();
    assert!(run.patients >= 300, "{run:?}");
    assert!(run.open > 300, "clinic adults have open gaps: {run:?}");
    assert_eq!(run.written, run.open);
    assert_eq!(
        count(
            &store,
            "DetectedIssue",
            &[("code", "https://tend.example.org/fhir/CodeSystem/care-gap|")]
        ),
        run.open
    );
    assert_eq!(count(&store, "MeasureReport", &[]), 10);
    for (rule, c) in &run.by_rule {
        assert!(
            c.initial > 0 && c.numerator > 0 && c.denominator > c.numerator,
            "{rule}: realistic uptake {c:?}"
        );
    }
    let mr: Value = serde_json::from_str(
        &store
            .read(
                &store::Access::system(),
                "MeasureReport",
                "care-gaps-colorectal-cancer",
            )
            .unwrap()
            .unwrap()
            .body
            .unwrap(),
    )
    .unwrap();
    let strata: Vec<&str> = mr["group"][0]["stratifier"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["code"][0]["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        strata,
        ["Preferred language", "Race", "Ethnicity", "Sex", "Age band"]
    );

    // A second run on the same day writes nothing: results are stored only when they change.
    let again = gaps.run_population().unwrap();
    assert_eq!((again.written, again.deleted, again.open), (0, 0, run.open));

    // Incremental: a colonoscopy closes a colorectal gap, only for that patient.
    let page = gaps.worklist(&Query {
        rule: Some("colorectal-cancer".into()),
        ..Query::default()
    });
    let row = page.rows.first().expect("an open colorectal gap").clone();
    let patient = row.gap.patient.clone();
    write(
        &store,
        vec![put(json!({
            "resourceType": "Procedure", "id": "test-colonoscopy", "status": "completed",
            "code": {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "45378"}]},
            "subject": {"reference": format!("Patient/{patient}")},
            "performedDateTime": "2026-11-20"
        }))],
    );
    gaps.catch_up().unwrap();
    assert!(
        store
            .read(&store::Access::system(), "DetectedIssue", &row.id())
            .unwrap()
            .unwrap()
            .body
            .is_none(),
        "closed gap deleted"
    );
    assert!(gaps.gap(&row.id()).is_none(), "off the worklist");
    let mine = gaps.patient(&patient).unwrap();
    let crc = mine
        .gaps
        .iter()
        .find(|g| g.rule == "colorectal-cancer")
        .unwrap();
    assert_eq!(crc.status, "satisfied");
    assert_eq!(
        crc.evidence.as_ref().unwrap().reference,
        "Procedure/test-colonoscopy"
    );
    assert_eq!(crc.expires, chrono::NaiveDate::from_ymd_opt(2036, 11, 20));

    // Entered in error: deleting it reopens the gap.
    write(
        &store,
        vec![Entry {
            full_url: None,
            op: WriteOp::Delete {
                rtype: "Procedure".into(),
                id: "test-colonoscopy".into(),
            },
        }],
    );
    gaps.catch_up().unwrap();
    assert!(gaps.gap(&row.id()).is_some(), "gap reopened");

    // Outreach on a gap is stored as a Task and survives a restart.
    let err = gaps
        .record_outreach(&row.id(), "telepathy", None, "Nina Navigator")
        .unwrap_err();
    assert!(err.to_string().contains("telepathy"), "{err}");
    let o = gaps
        .record_outreach(
            &row.id(),
            "left-message",
            Some("Voicemail, will call back Friday"),
            "Nina Navigator",
        )
        .unwrap();
    assert_eq!(o.outcome, "left-message");
    let contacted = gaps.worklist(&Query {
        contacted: Some(true),
        ..Query::default()
    });
    assert_eq!(contacted.total, 1);
    assert_eq!(contacted.rows[0].id(), row.id());
    drop(gaps);
    drop(store);
    let store = open(&path, clock.clone());
    let gaps = CareGaps::new(store.clone(), rules, clock.clone());
    gaps.run_population().unwrap();
    let back = gaps.gap(&row.id()).unwrap();
    assert_eq!(
        back.outreach.as_ref().map(|o| o.outcome.as_str()),
        Some("left-message")
    );
    assert_eq!(
        back.outreach.as_ref().and_then(|o| o.note.as_deref()),
        Some("Voicemail, will call back Friday")
    );

    // Filters: by language and not-yet-contacted.
    let all = gaps.worklist(&Query::default());
    let (code, _, n) = all
        .by_language
        .iter()
        .find(|(c, _, _)| c != "en")
        .expect("a non-English language")
        .clone();
    let spoken = gaps.worklist(&Query {
        language: Some(code.clone()),
        count: 500,
        ..Query::default()
    });
    assert_eq!(spoken.total, n);
    assert!(spoken.rows.iter().all(|r| r
        .person
        .language
        .as_ref()
        .is_some_and(|(c, _)| *c == code)));
    let fresh = gaps.worklist(&Query {
        contacted: Some(false),
        ..Query::default()
    });
    assert_eq!(fresh.total, all.total - 1);

    // A new day: evidence expiring in between opens gaps without any new data.
    clock.0.store(T0 + 400 * 86_400_000, Ordering::SeqCst);
    let later = gaps.run_population().unwrap();
    assert!(
        later.open > run.open,
        "gaps open as evidence expires: {} → {}",
        run.open,
        later.open
    );
}
