//! Filing, listing and reviewing reports through the service, and the learning a closed
//! review shares reaching every member of staff without the patient or the reporter.

use std::sync::Arc;

use access::{Principal, Role, Via};
use chrono::Utc;
use safety::{Report, Reporter, Safety, Step};
use safety_events::{Details, Fall};
use serde_json::json;
use store::{Access, Entry, Mode, Reach, Store, WriteOp};

fn person(id: &str, role: Role, patients: &[&str]) -> Access {
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
        Reach::Patients(patients.iter().map(|p| p.to_string()).collect()),
        None,
    )
}

fn fall(patient: Option<&str>, anonymous: bool) -> Report {
    Report {
        kind: "incident".into(),
        category: "fall".into(),
        occurred: Utc::now() - chrono::Duration::hours(2),
        discovered: None,
        location: Some("ward-a".into()),
        description: "Found on the floor beside the bed.".into(),
        harm: Some("mild".into()),
        factors: vec!["patient".into()],
        patient: patient.map(str::to_string),
        encounter: None,
        details: Details::Fall(Fall {
            injury: "minor".into(),
            ..Fall::default()
        }),
        anonymous,
    }
}

fn reporter(id: &str) -> Reporter {
    Reporter {
        reference: format!("Practitioner/{id}"),
        name: "A Nurse".into(),
        role: "Nurse".into(),
    }
}

#[test]
fn a_report_is_filed_reviewed_closed_and_its_learning_shared() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = store::open(
        &format!("sqlite://{}", dir.path().join("s.db").display()),
        store::Options {
            clock: Arc::new(store::SystemClock),
            indexer: Arc::new(search::Indexer::new(search::Registry::r4()).unwrap()),
            readers: 1,
        },
    )
    .unwrap();
    store
        .write(
            &Access::system(),
            vec![Entry {
                full_url: None,
                op: WriteOp::Update {
                    rtype: "Patient".into(),
                    id: "a".into(),
                    resource: json!({"resourceType": "Patient", "id": "a"}),
                    if_match: None,
                },
            }],
            Mode::Atomic,
        )
        .unwrap();
    let safety = Safety::new(store.clone(), Arc::new(store::SystemClock));
    let nina = person("nina", Role::Nurse, &["a"]);
    let omar = person("omar", Role::Nurse, &[]);
    let rae = person("rae", Role::SafetyReviewer, &[]);

    let filed = safety
        .file(&nina, &reporter("nina"), &fall(Some("a"), false))
        .unwrap();
    assert!(filed.reference.starts_with("SE-") && filed.reference.len() == 11);
    safety
        .file(&nina, &reporter("nina"), &fall(None, true))
        .err()
        .unwrap();
    // A near miss with no patient, anonymously: Tend keeps the "no patient" Group.
    let mut near = fall(None, true);
    near.kind = "near-miss".into();
    near.category = "medication".into();
    near.harm = None;
    near.details = Details::Medication(safety_events::Medication {
        stage: "dispensing".into(),
        ..Default::default()
    });
    safety.file(&omar, &reporter("omar"), &near).unwrap();
    assert!(store
        .read(&Access::system(), "Group", "safety-no-patient")
        .unwrap()
        .is_some());

    let mine = safety.mine(&nina, "Practitioner/nina").unwrap();
    assert_eq!(mine.len(), 1);
    assert!(
        safety.mine(&omar, "Practitioner/omar").unwrap().is_empty(),
        "anonymous"
    );
    let queue = safety.queue(&rae, 90).unwrap();
    assert_eq!(queue.new.len(), 2);
    assert_eq!(queue.new[0].id, filed.id, "most harm first");

    // Only the safety team reviews.
    let triage = Step::Triage {
        priority: "high".into(),
        reviewer: ("Practitioner/rae".into(), "Rae".into()),
        harm: None,
    };
    assert!(safety.review(&nina, "Nina", &filed.id, 1, &triage).is_err());
    safety.review(&rae, "Rae", &filed.id, 1, &triage).unwrap();
    // A stale version is refused.
    assert!(safety
        .review(&rae, "Rae", &filed.id, 1, &Step::Note { text: "x".into() })
        .is_err());
    safety
        .review(
            &rae,
            "Rae",
            &filed.id,
            2,
            &Step::Close {
                learning: "Bed-exit alarms were off after a software update.".into(),
                share: true,
            },
        )
        .unwrap();
    safety.catch_up().unwrap();
    // Every member of staff reads the lesson; it names neither the patient nor the reporter.
    let lessons = safety.lessons(&omar, 10).unwrap();
    assert_eq!(lessons.len(), 1);
    assert_eq!(lessons[0].about, "Fall");
    let c = store
        .read(
            &Access::system(),
            "Communication",
            &format!("lesson-{}", filed.id),
        )
        .unwrap()
        .unwrap()
        .body
        .unwrap();
    assert!(!c.contains("Patient/") && !c.contains("nina"), "{c}");
    // The reporter sees the outcome of their report.
    let (mine, _) = safety.event(&nina, &filed.id).unwrap().unwrap();
    assert_eq!(mine.review.status, safety_events::Status::Closed);

    // Reopened: the lesson is withdrawn.
    safety
        .review(
            &rae,
            "Rae",
            &filed.id,
            3,
            &Step::Reopen {
                why: "Another fall.".into(),
            },
        )
        .unwrap();
    safety.catch_up().unwrap();
    assert!(safety.lessons(&omar, 10).unwrap().is_empty());
}
