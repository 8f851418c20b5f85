//! The service over a real store: a nurse suspects infection after a NEWS2 of 7, the first
//! hour's Tasks appear with their deadlines, the antibiotics given complete theirs, another
//! ward's nurse sees none of it and cannot record it, and ruling infection out cancels the
//! rest.

use std::sync::Arc;

use access::{Principal, Role, Via};
use chrono::DateTime;
use sepsis::{Record, Source};
use sepsis_watch::Sepsis;
use serde_json::{json, Value};
use store::{Access, Entry, Mode, Reach};

struct Fixed(i64);
impl store::Clock for Fixed {
    fn now_ms(&self) -> i64 {
        self.0
    }
}

fn nurse(id: &str, patient: &str) -> Access {
    Access::caller(
        Principal {
            id: id.into(),
            name: id.into(),
            role: Role::Nurse,
            practitioner: Some(format!("Practitioner/{id}")),
            wards: vec![],
            organization: None,
            scopes: None,
            via: Via::Session,
        },
        Reach::Patients([patient.to_string()].into_iter().collect()),
        None,
    )
}

#[test]
fn the_first_hour_is_kept_from_what_the_ward_records() {
    let dir = tempfile::tempdir().unwrap();
    let now = DateTime::parse_from_rfc3339("2026-11-02T10:30:00+00:00").unwrap();
    let clock = Arc::new(Fixed(now.timestamp_millis()));
    let store = store::open(
        &format!("sqlite://{}", dir.path().join("s.db").display()),
        store::Options {
            clock: clock.clone(),
            indexer: Arc::new(search::Indexer::new(search::Registry::r4()).unwrap()),
            readers: 2,
        },
    )
    .unwrap();
    let put = |r: Value| {
        for w in store
            .write(
                &Access::system(),
                vec![Entry::put(r).unwrap()],
                Mode::Atomic,
            )
            .unwrap()
        {
            w.unwrap();
        }
    };
    put(json!({"resourceType": "Patient", "id": "p1"}));
    put(json!({"resourceType": "Patient", "id": "p2"}));
    put(
        json!({"resourceType": "Encounter", "id": "e1", "status": "in-progress",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
        "subject": {"reference": "Patient/p1"}}),
    );
    put(
        json!({"resourceType": "Observation", "id": "news2-s1", "status": "final",
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "1104051000000101"}]},
        "subject": {"reference": "Patient/p1"}, "effectiveDateTime": "2026-11-02T10:00:00Z",
        "valueInteger": 7}),
    );
    let s = Sepsis::new(store.clone(), chrono_tz::UTC, clock);
    s.catch_up().unwrap();
    let ours = nurse("n1", "p1");
    let theirs = nurse("n2", "p2");
    let since = now - chrono::Duration::hours(24);
    assert!(
        s.actions(&ours, None, since).unwrap().is_empty(),
        "no suspicion yet"
    );
    assert!(s.current(&ours, "p1").unwrap().is_none());

    // Another ward's nurse cannot record for p1.
    let at = DateTime::parse_from_rfc3339("2026-11-02T10:10:00+00:00").unwrap();
    let refused = s.record(
        &theirs,
        "Practitioner/n2",
        "p1",
        Some("Encounter/e1"),
        &Record::Suspected {
            source: Source::Chest,
        },
        at,
    );
    assert!(
        refused.is_err(),
        "a nurse without p1 records nothing for p1"
    );
    assert!(s.actions(&ours, None, since).unwrap().is_empty());

    // Ours suspects infection at 10:10: four clocks? Three: fluids are not indicated.
    let cond = s
        .record(
            &ours,
            "Practitioner/n1",
            "p1",
            Some("Encounter/e1"),
            &Record::Suspected {
                source: Source::Chest,
            },
            at,
        )
        .unwrap();
    let actions = s.actions(&ours, None, since).unwrap();
    let mut clocks: Vec<&str> = actions.iter().map(|a| a.clock.as_str()).collect();
    clocks.sort();
    assert_eq!(
        clocks,
        [
            "antibiotics-within-hour",
            "cultures-within-hour",
            "lactate-within-hour"
        ]
    );
    for a in &actions {
        assert_eq!(a.anchor, format!("Condition/{cond}"));
        assert_eq!(a.due_by().to_rfc3339(), "2026-11-02T11:10:00+00:00");
        assert!(!a.late(now));
        assert_eq!(a.minutes_left(now), 41);
    }
    assert!(
        s.actions(&theirs, None, since).unwrap().is_empty(),
        "another ward sees none"
    );
    let task = store
        .read(
            &Access::system(),
            "Task",
            &sepsis::shape::task_id(&format!("Condition/{cond}"), "antibiotics-within-hour"),
        )
        .unwrap()
        .unwrap();
    let task: Value = serde_json::from_str(task.body.as_deref().unwrap()).unwrap();
    assert_eq!(task["encounter"]["reference"], "Encounter/e1");
    assert_eq!(task["reasonReference"]["reference"], "Observation/news2-s1");

    // Antibiotics at 10:25: done, on time; the page's judgement agrees.
    let given = DateTime::parse_from_rfc3339("2026-11-02T10:25:00+00:00").unwrap();
    let bad = s.record(
        &ours,
        "Practitioner/n1",
        "p1",
        Some("Encounter/e1"),
        &Record::Antibiotic {
            key: "no-such-drug".into(),
        },
        given,
    );
    assert!(matches!(
        bad,
        Err(sepsis_watch::Error::Invalid(_) | sepsis_watch::Error::Record(_))
    ));
    let abx = s
        .record(
            &ours,
            "Practitioner/n1",
            "p1",
            Some("Encounter/e1"),
            &Record::Antibiotic {
                key: "piperacillin-tazobactam".into(),
            },
            given,
        )
        .unwrap();
    let a = s
        .actions(&ours, None, since)
        .unwrap()
        .into_iter()
        .find(|a| a.clock == "antibiotics-within-hour")
        .unwrap();
    assert_eq!(
        a.done.map(|d| d.to_rfc3339()),
        Some("2026-11-02T10:25:00+00:00".into())
    );
    assert!(!a.done_late());
    let e = s.current(&ours, "p1").unwrap().expect("an episode");
    let abx_clock = e
        .evaluation
        .clocks
        .iter()
        .find(|c| c.clock == "antibiotics-within-hour")
        .unwrap();
    assert_eq!(
        abx_clock.stop_event.as_deref(),
        Some(format!("MedicationAdministration/{abx}").as_str())
    );
    assert!(
        s.current(&theirs, "p1").unwrap().is_none(),
        "judged as the caller reaches"
    );

    // A lactate of 5.2 indicates fluids: a fourth clock from 10:28.
    let lac = DateTime::parse_from_rfc3339("2026-11-02T10:28:00+00:00").unwrap();
    assert!(s
        .record(
            &ours,
            "Practitioner/n1",
            "p1",
            None,
            &Record::Lactate { mmol_per_l: 45.0 },
            lac
        )
        .is_err());
    s.record(
        &ours,
        "Practitioner/n1",
        "p1",
        None,
        &Record::Lactate { mmol_per_l: 5.2 },
        lac,
    )
    .unwrap();
    let fluids = s
        .actions(&ours, None, since)
        .unwrap()
        .into_iter()
        .find(|a| a.clock == "fluids-within-hour")
        .expect("fluids indicated");
    assert_eq!(fluids.started.to_rfc3339(), "2026-11-02T10:28:00+00:00");

    // Ruled out: every Task is cancelled (kept, not deleted).
    let no_reason = s.record(
        &ours,
        "Practitioner/n1",
        "p1",
        None,
        &Record::RuledOut {
            condition: format!("Condition/{cond}"),
            reason: " ".into(),
        },
        now,
    );
    assert!(matches!(
        no_reason,
        Err(sepsis_watch::Error::Invalid(_) | sepsis_watch::Error::Record(_))
    ));
    s.record(
        &ours,
        "Practitioner/n1",
        "p1",
        None,
        &Record::RuledOut {
            condition: format!("Condition/{cond}"),
            reason: "Chest clear; pain after a fall".into(),
        },
        now,
    )
    .unwrap();
    assert!(s.actions(&ours, None, since).unwrap().is_empty());
    let task = store
        .read(
            &Access::system(),
            "Task",
            &sepsis::shape::task_id(&format!("Condition/{cond}"), "cultures-within-hour"),
        )
        .unwrap()
        .unwrap();
    let task: Value = serde_json::from_str(task.body.as_deref().unwrap()).unwrap();
    assert_eq!(task["status"], "cancelled");
    assert!(s.current(&ours, "p1").unwrap().is_none());

    // A second suspicion, later withdrawn through the FHIR API as entered in error: its
    // clocks are cancelled too.
    let again = DateTime::parse_from_rfc3339("2026-11-02T10:29:00+00:00").unwrap();
    let second = s
        .record(
            &ours,
            "Practitioner/n1",
            "p1",
            None,
            &Record::Suspected {
                source: Source::Urine,
            },
            again,
        )
        .unwrap();
    assert_eq!(
        s.actions(&ours, None, since).unwrap().len(),
        4,
        "three clocks and fluids"
    );
    let v = store
        .read(&Access::system(), "Condition", &second)
        .unwrap()
        .unwrap();
    let mut c: Value = serde_json::from_str(v.body.as_deref().unwrap()).unwrap();
    c["verificationStatus"]["coding"][0]["code"] = json!("entered-in-error");
    c.as_object_mut().unwrap().remove("clinicalStatus");
    for w in store
        .write(&ours, vec![Entry::put(c).unwrap()], Mode::Atomic)
        .unwrap()
    {
        w.unwrap();
    }
    s.catch_up().unwrap();
    assert!(
        s.actions(&ours, None, since).unwrap().is_empty(),
        "withdrawn"
    );
}

#[test]
fn the_codes_read_are_the_codes_early_warning_writes() {
    assert_eq!(
        sepsis::episode::NEWS2_TOTAL,
        early_warning::codes::NEWS2_TOTAL
    );
    assert_eq!(
        sepsis::episode::PEWS_TOTAL,
        early_warning::codes::PEWS_TOTAL
    );
    assert_eq!(sepsis::shape::TAG_SYSTEM, early_warning::codes::TAG);
}
