//! The navigation service over a real SQLite store: a referral puts a patient on the
//! pathway, a milestone recorded moves the state, re-running writes nothing, a correction
//! moves it back, a deletion takes the patient off, and a new day recomputes the clocks.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use chrono::TimeZone;
use navigation::{Config, Navigation, Query, Risk};
use serde_json::{json, Value};
use store::{Access, Entry, Mode, Store, WriteOp};

const EVENT: &str = "https://tend.example.org/fhir/CodeSystem/pathway-event";

struct TestClock(AtomicI64);

impl store::Clock for TestClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

fn put(store: &dyn Store, resources: Vec<Value>) {
    let entries = resources
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
    for r in store
        .write(&Access::system(), entries, Mode::Atomic)
        .unwrap()
    {
        r.unwrap();
    }
}

fn read(store: &dyn Store, rtype: &str, id: &str) -> Option<Value> {
    store
        .read(&Access::system(), rtype, id)
        .unwrap()
        .and_then(|v| v.body)
        .map(|b| serde_json::from_str(&b).unwrap())
}

fn tag(code: &str) -> Value {
    json!({"tag": [{"system": EVENT, "code": code}]})
}

struct World {
    store: Arc<dyn Store>,
    nav: Arc<Navigation>,
    clock: Arc<TestClock>,
    _dir: tempfile::TempDir,
}

fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let store = store::open(
        &format!("sqlite://{}", dir.path().join("nav.db").display()),
        store::Options {
            clock: Arc::new(store::SystemClock),
            indexer: Arc::new(search::Indexer::new(search::Registry::r4()).unwrap()),
            readers: 2,
        },
    )
    .unwrap();
    let zone = chrono_tz::Europe::London;
    let now = zone.with_ymd_and_hms(2026, 11, 24, 9, 0, 0).unwrap();
    let clock = Arc::new(TestClock(AtomicI64::new(now.timestamp_millis())));
    put(
        &*store,
        vec![
            json!({"resourceType": "Practitioner", "id": "nav1", "name": [{"text": "Nadia Navigator"}]}),
            json!({"resourceType": "PractitionerRole", "id": "nav1-role", "practitioner": {"reference": "Practitioner/nav1"},
                "code": [{"text": "Patient navigator (cancer pathways)"}]}),
            json!({"resourceType": "Patient", "id": "p1", "name": [{"given": ["Amos"], "family": "Reed"}],
                "identifier": [{"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]}, "value": "MRN0001"}],
                "communication": [{"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": "pl", "display": "Polish"}]}, "preferred": true}],
                "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/patient-interpreterRequired", "valueBoolean": true}]}),
            json!({"resourceType": "Patient", "id": "p2", "name": [{"given": ["Bo"], "family": "Other"}]}),
            json!({"resourceType": "ServiceRequest", "id": "sr1", "meta": tag("urgent-suspected-cancer-referral"),
                "status": "active", "intent": "order", "subject": {"reference": "Patient/p1"},
                "code": {"coding": [{"system": "https://tend.example.org/fhir/CodeSystem/referral-pathway", "code": "usc-upper-gi"}]},
                "authoredOn": "2026-11-14T10:00:00Z"}),
        ],
    );
    let config = Config {
        zone,
        ..Config::default()
    };
    let nav = Navigation::new(store.clone(), config, clock.clone());
    World {
        store,
        nav,
        clock,
        _dir: dir,
    }
}

fn milestone(w: &World, m: &str) -> Value {
    read(
        &*w.store,
        "Task",
        &navigation::milestone_id("p1", "nhs-suspected-cancer", m),
    )
    .unwrap_or(Value::Null)
}

#[test]
fn a_referral_starts_the_pathway_and_milestones_follow_the_record() {
    let w = world();
    w.nav.catch_up().unwrap();

    // On the pathway: an episode with its clocks, a Task per step, the navigator's team.
    let ep = read(
        &*w.store,
        "EpisodeOfCare",
        &navigation::episode_id("p1", "nhs-suspected-cancer"),
    )
    .unwrap();
    assert_eq!(ep["status"], "active");
    assert_eq!(ep["careManager"]["reference"], "Practitioner/nav1");
    assert!(ep["extension"].to_string().contains("fds-28"), "{ep}");
    assert!(ep["extension"].to_string().contains("Upper GI"), "{ep}");
    let team = read(&*w.store, "CareTeam", &navigation::team_id("p1")).unwrap();
    assert_eq!(
        team["participant"][0]["member"]["reference"],
        "Practitioner/nav1"
    );
    assert_eq!(milestone(&w, "first-seen")["status"], "requested");
    assert!(read(
        &*w.store,
        "EpisodeOfCare",
        &navigation::episode_id("p2", "nhs-suspected-cancer")
    )
    .is_none());

    let page = w.nav.worklist(&Query::default());
    assert_eq!(page.total, 1);
    let row = &page.rows[0];
    assert_eq!(row.name, "Amos Reed");
    assert_eq!(row.site.as_deref(), Some("Upper GI"));
    assert!(
        row.barriers[0].contains("interpreter needed (Polish)"),
        "{:?}",
        row.barriers
    );
    let fds = row.clocks.iter().find(|c| c.clock == "fds-28").unwrap();
    assert_eq!(fds.left, 18, "referral on 14 Nov, today 24 Nov");
    assert_eq!(fds.risk, Risk::OnTrack, "{fds:?}");

    // Re-running writes nothing.
    let before = w.store.commits().latest();
    w.nav.catch_up().unwrap();
    w.nav.step().unwrap();
    assert_eq!(w.store.commits().latest(), before, "idempotent");

    // A first appointment attended: the milestone is done from the record.
    put(
        &*w.store,
        vec![
            json!({"resourceType": "Encounter", "id": "e1", "meta": tag("first-seen"), "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
            "subject": {"reference": "Patient/p1"}, "period": {"start": "2026-11-20T10:00:00Z", "end": "2026-11-20T10:30:00Z"}}),
        ],
    );
    w.nav.catch_up().unwrap();
    let t = milestone(&w, "first-seen");
    assert_eq!(t["status"], "completed");
    assert_eq!(t["focus"]["reference"], "Encounter/e1");
    let before = w.store.commits().latest();
    w.nav.catch_up().unwrap();
    assert_eq!(
        w.store.commits().latest(),
        before,
        "idempotent after a milestone"
    );

    // A correction: the encounter was entered in error; the step is pending again.
    put(
        &*w.store,
        vec![
            json!({"resourceType": "Encounter", "id": "e1", "meta": tag("first-seen"), "status": "entered-in-error",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
            "subject": {"reference": "Patient/p1"}, "period": {"start": "2026-11-20T10:00:00Z"}}),
        ],
    );
    w.nav.catch_up().unwrap();
    assert_eq!(milestone(&w, "first-seen")["status"], "requested");

    // A navigator's contact and a hand-marked step (as Tend here; the web tests use a person).
    w.nav
        .record_contact(
            &Access::system(),
            "Practitioner/nav1",
            &navigation::NewContact {
                patient: "p1".into(),
                channel: "phone".into(),
                outcome: "reached".into(),
                note: "Booked an interpreter for the clinic".into(),
                at: w.nav.now(),
            },
        )
        .unwrap();
    w.nav.catch_up().unwrap();
    let case = w.nav.case("p1").unwrap();
    assert_eq!(case.contacts.len(), 1);
    w.nav
        .complete_milestone(
            &Access::system(),
            "Practitioner/nav1",
            "p1",
            "nhs-suspected-cancer",
            "first-seen",
            w.nav.now() - chrono::Duration::days(1),
            "Seen in the one-stop clinic",
        )
        .unwrap();
    w.nav.catch_up().unwrap();
    let t = milestone(&w, "first-seen");
    assert_eq!(t["status"], "completed", "{t}");
    assert!(
        t["note"].to_string().contains("one-stop"),
        "kept across rewrites: {t}"
    );
    let timeline = w.nav.timeline(&w.nav.case("p1").unwrap());
    assert!(timeline.iter().any(|i| i.title == "Contact: Phone"));
    assert!(timeline
        .iter()
        .any(|i| i.detail.contains("marked done by the navigator")));

    // The next day the clocks move without a change in the record.
    w.clock.0.fetch_add(86_400_000, Ordering::Relaxed);
    w.nav.catch_up().unwrap();
    let row = w.nav.worklist(&Query::default()).rows.remove(0);
    assert_eq!(
        row.clocks
            .iter()
            .find(|c| c.clock == "fds-28")
            .unwrap()
            .left,
        17
    );

    // The referral withdrawn (deleted): the patient leaves the pathway and the worklist.
    for r in w
        .store
        .write(
            &Access::system(),
            vec![Entry {
                full_url: None,
                op: WriteOp::Delete {
                    rtype: "ServiceRequest".into(),
                    id: "sr1".into(),
                },
            }],
            Mode::Atomic,
        )
        .unwrap()
    {
        r.unwrap();
    }
    w.nav.catch_up().unwrap();
    assert!(read(
        &*w.store,
        "EpisodeOfCare",
        &navigation::episode_id("p1", "nhs-suspected-cancer")
    )
    .is_none());
    assert_eq!(w.nav.worklist(&Query::default()).total, 0);
}

fn cancer(id: &str, patient: &str, code: &str, onset: &str) -> Value {
    json!({"resourceType": "Condition", "id": id,
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]},
        "verificationStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "confirmed"}]},
        "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": code}]},
        "subject": {"reference": format!("Patient/{patient}")}, "onsetDateTime": onset})
}

/// A clinical stage group about a cancer (`focus`), as Tend's stage-group code.
fn stage(id: &str, patient: &str, condition: &str, group: &str, at: &str) -> Value {
    json!({"resourceType": "Observation", "id": id, "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "21908-9"}]},
        "subject": {"reference": format!("Patient/{patient}")}, "focus": [{"reference": format!("Condition/{condition}")}],
        "effectiveDateTime": at, "valueCodeableConcept": {"coding": [{"system": EVENT, "code": group}]}})
}

/// The CoC measures follow recent diagnoses only (the site policy's window, 365 days): a
/// breast cancer diagnosed on 4 Nov, staged II (the stage Observation is about that cancer,
/// `focus`), starts BCSdx's 60 days; one diagnosed in 2024 is history and starts nothing;
/// the first therapeutic surgery on day 35 meets the measure.
#[test]
fn coc_measures_follow_recent_diagnoses_and_their_stage() {
    let w = world();
    put(
        &*w.store,
        vec![
            json!({"resourceType": "Patient", "id": "p3", "name": [{"given": ["Cleo"], "family": "Hart"}], "gender": "female"}),
            json!({"resourceType": "Patient", "id": "p4", "name": [{"given": ["Dora"], "family": "Old"}], "gender": "female"}),
            cancer("c3", "p3", "C50.411", "2026-11-04T10:00:00Z"),
            cancer("c4", "p4", "C50.411", "2024-03-01T10:00:00Z"),
            stage("stage3", "p3", "c3", "stage-iia", "2026-11-10T10:00:00Z"),
        ],
    );
    w.nav.catch_up().unwrap();
    let episode = |p: &str| {
        w.nav.case(p).and_then(|c| {
            c.episodes
                .iter()
                .find(|e| e.pathway == "coc-quality-measures")
                .cloned()
        })
    };
    let coc = |p: &str| episode(p).map(|e| e.evaluation);
    assert!(coc("p4").is_none(), "diagnosed in 2024: history");
    let ev = coc("p3").expect("a recent breast cancer");
    let bcsdx = ev.clocks.iter().find(|c| c.clock == "bcsdx").unwrap();
    assert_eq!(format!("{:?}", bcsdx.status), "Running", "{bcsdx:?}");
    assert_eq!(bcsdx.elapsed, 20, "4 Nov to 24 Nov");
    let row = w
        .nav
        .worklist(&Query::default())
        .rows
        .into_iter()
        .find(|r| r.patient == "p3")
        .expect("on the worklist");
    assert!(
        row.clocks
            .iter()
            .any(|c| c.label == "60-day" && c.left == 40),
        "{:?}",
        row.clocks
    );

    // Stage IV: the measure does not apply and nothing is left to chase, so the patient is
    // not on the worklist (no "stage I to III" step to chase either).
    put(
        &*w.store,
        vec![
            json!({"resourceType": "Patient", "id": "p6", "name": [{"given": ["Fay"], "family": "Iv"}], "gender": "female"}),
            cancer("c6", "p6", "C50.912", "2026-11-01T10:00:00Z"),
            stage("stage6", "p6", "c6", "stage-iv", "2026-11-03T10:00:00Z"),
        ],
    );
    w.nav.catch_up().unwrap();
    let ev = coc("p6").expect("followed");
    assert!(ev.next_step.is_none(), "{:?}", ev.next_step);
    assert!(
        w.nav
            .worklist(&Query::default())
            .rows
            .iter()
            .all(|r| r.patient != "p6"),
        "stage IV: off the worklist"
    );

    // The first therapeutic surgery on 9 Dec, day 35: met.
    put(
        &*w.store,
        vec![
            json!({"resourceType": "Procedure", "id": "surgery3", "status": "completed",
            "meta": tag("first-therapeutic-breast-surgery"),
            "subject": {"reference": "Patient/p3"}, "performedDateTime": "2026-12-09T10:00:00Z"}),
        ],
    );
    w.clock.0.store(
        chrono_tz::Europe::London
            .with_ymd_and_hms(2026, 12, 10, 9, 0, 0)
            .unwrap()
            .timestamp_millis(),
        Ordering::Relaxed,
    );
    w.nav.catch_up().unwrap();
    w.nav.recompute_all().unwrap();
    let ev = coc("p3").unwrap();
    let bcsdx = ev.clocks.iter().find(|c| c.clock == "bcsdx").unwrap();
    assert_eq!(format!("{:?}", bcsdx.status), "Met", "{bcsdx:?}");
    assert_eq!(bcsdx.elapsed, 35);

    // A navigator marks a surgery by mistake on another patient: the measure is met and the
    // episode ends; withdrawn, the clock runs again and the episode is active again.
    put(
        &*w.store,
        vec![
            json!({"resourceType": "Patient", "id": "p5", "name": [{"given": ["Edie"], "family": "Fox"}], "gender": "female"}),
            cancer("c5", "p5", "C50.911", "2026-12-01T10:00:00Z"),
            stage("stage5", "p5", "c5", "stage-i", "2026-12-02T10:00:00Z"),
        ],
    );
    w.nav.catch_up().unwrap();
    let day = chrono::DateTime::parse_from_rfc3339("2026-12-08T12:00:00+00:00").unwrap();
    let system = Access::system();
    w.nav
        .complete_milestone(
            &system,
            "Practitioner/nav1",
            "p5",
            "coc-quality-measures",
            "breast-surgery",
            day,
            "",
        )
        .unwrap();
    w.nav.catch_up().unwrap();
    let ep = episode("p5").unwrap();
    assert!(!ep.active, "met: the episode ended");
    let err = w
        .nav
        .withdraw_milestone(
            &system,
            "Practitioner/nav1",
            "p5",
            "coc-quality-measures",
            "breast-surgery",
            " ",
        )
        .unwrap_err();
    assert!(err.to_string().contains("Say why"), "{err}");
    w.nav
        .withdraw_milestone(
            &system,
            "Practitioner/nav1",
            "p5",
            "coc-quality-measures",
            "breast-surgery",
            "Wrong patient",
        )
        .unwrap();
    w.nav.catch_up().unwrap();
    let ep = episode("p5").unwrap();
    assert!(ep.active, "running again");
    let bcsdx = ep
        .evaluation
        .clocks
        .iter()
        .find(|c| c.clock == "bcsdx")
        .unwrap();
    assert_eq!(format!("{:?}", bcsdx.status), "Running", "{bcsdx:?}");
    let err = w
        .nav
        .withdraw_milestone(
            &system,
            "Practitioner/nav1",
            "p5",
            "coc-quality-measures",
            "breast-surgery",
            "Again",
        )
        .unwrap_err();
    assert!(err.to_string().contains("not marked done by hand"), "{err}");
    let timeline = w.nav.timeline(&w.nav.case("p5").unwrap());
    assert!(
        timeline
            .iter()
            .any(|i| i.title == "Withdrawn: First therapeutic breast surgery"
                && i.detail.contains("Wrong patient")),
        "{timeline:?}"
    );
}
