//! The tumour board over a real store: a navigator refers a patient, the board's care
//! relationship to the patient follows from the record, the coordinator arranges a meeting
//! and puts the case on its list, a physician records the recommendation as tracked steps,
//! the outcome is told to the patient and the relationship ends; every write is decided with
//! the person's own access, and every resource written is valid FHIR.

use std::sync::Arc;

use access::{Principal, Role, Via};
use mdt::TumourBoard;
use serde_json::{json, Value};
use store::{Access, Entry, Mode, Reach, Store, WriteOp};
use tumour_board::{codes, Recommendation};

fn person(role: Role, id: &str, reach: &[&str]) -> Access {
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
        Reach::Patients(reach.iter().map(|s| s.to_string()).collect()),
        None,
    )
}

fn put(store: &dyn Store, r: Value) {
    let entry = Entry {
        full_url: None,
        op: WriteOp::Update {
            rtype: r["resourceType"].as_str().unwrap().into(),
            id: r["id"].as_str().unwrap().into(),
            resource: r,
            if_match: None,
        },
    };
    for x in store
        .write(&Access::system(), vec![entry], Mode::Atomic)
        .unwrap()
    {
        x.unwrap();
    }
}

fn read(store: &dyn Store, rtype: &str, id: &str) -> Value {
    let v = store.read(&Access::system(), rtype, id).unwrap().expect(id);
    let body: Value = serde_json::from_str(&v.body.unwrap()).unwrap();
    let issues: Vec<_> = fhir::validation::validate(&body)
        .into_iter()
        .filter(|i| i.severity == fhir::validation::Severity::Error)
        .collect();
    assert!(issues.is_empty(), "{rtype}/{id}: {issues:?}");
    body
}

#[test]
fn a_case_goes_from_referral_to_a_recommendation_told_to_the_patient() {
    let dir = tempfile::tempdir().unwrap();
    let options = store::Options {
        clock: Arc::new(store::SystemClock),
        indexer: Arc::new(search::Indexer::new(search::Registry::r4()).unwrap()),
        readers: 2,
    };
    let url = format!("sqlite://{}", dir.path().join("tb.db").display());
    let store = store::open(&url, options).unwrap();
    for (id, family) in [
        ("d1", "Oncologist"),
        ("coord1", "Coordinator"),
        ("nav1", "Navigator"),
    ] {
        put(
            &*store,
            json!({"resourceType": "Practitioner", "id": id, "name": [{"family": family}]}),
        );
    }
    put(
        &*store,
        json!({"resourceType": "CareTeam", "id": "board-ugi", "status": "active", "name": "Upper GI MDT",
        "category": [{"coding": [{"system": codes::SYSTEM, "code": codes::BOARD}]}],
        "participant": [
            {"member": {"reference": "Practitioner/d1"}, "role": [{"text": "Medical oncologist"}]},
            {"member": {"reference": "Practitioner/coord1"}, "role": [{"text": "MDT coordinator"}]}]}),
    );
    for p in ["p1", "p2"] {
        put(
            &*store,
            json!({"resourceType": "Patient", "id": p, "name": [{"family": p}]}),
        );
    }
    put(
        &*store,
        json!({"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p1"},
        "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "C15.5", "display": "Malignant neoplasm of lower third of esophagus"}]}}),
    );
    let tb = TumourBoard::new(store.clone(), Arc::new(store::SystemClock));

    // The navigator, who reaches p1, refers p1; she cannot refer p2.
    let navigator = person(Role::Navigator, "nav1", &["p1"]);
    let case = tb
        .refer(
            &navigator,
            "Practitioner/nav1",
            "p1",
            "board-ugi",
            "Progression after chemoradiotherapy: second-line options or a trial?",
        )
        .unwrap();
    assert!(tb
        .refer(&navigator, "Practitioner/nav1", "p2", "board-ugi", "?")
        .is_err());
    let again = tb.refer(&navigator, "Practitioner/nav1", "p1", "board-ugi", "Again?");
    assert!(again.unwrap_err().to_string().contains("already waiting"));
    read(&*store, "Task", &case);

    // The board's care relationship to p1 follows from the record.
    tb.catch_up().unwrap();
    let team = read(&*store, "CareTeam", "board-case-board-ugi-p1");
    assert_eq!(team["status"], "active");
    assert_eq!(team["participant"].as_array().unwrap().len(), 2);

    // The coordinator (reaching p1 through that team) arranges a meeting and lists the case.
    let coordinator = person(Role::MdtCoordinator, "coord1", &["p1"]);
    let start = chrono::Utc::now() + chrono::TimeDelta::days(3);
    let meeting = tb
        .new_meeting(
            &coordinator,
            "Practitioner/coord1",
            "board-ugi",
            start,
            90,
            "Seminar room 2",
        )
        .unwrap();
    read(&*store, "Appointment", &meeting);
    assert_eq!(tb.waiting(&coordinator).unwrap().len(), 1);
    tb.schedule(&coordinator, &case, &meeting).unwrap();
    let listed = tb.meeting(&coordinator, &meeting).unwrap();
    assert_eq!(listed.cases.len(), 1);
    assert_eq!(listed.cases[0].stage, codes::SCHEDULED);
    assert!(tb.waiting(&coordinator).unwrap().is_empty());
    // Someone who does not reach p1 sees the meeting but not the patient on its list.
    let stranger = person(Role::MdtCoordinator, "coord2", &[]);
    assert!(tb.meeting(&stranger, &meeting).unwrap().cases.is_empty());
    // The coordinator may not record a recommendation (no clinical writes).
    let rec = Recommendation {
        intent: "palliative".into(),
        steps: vec!["second-line-systemic".into(), "clinical-trial".into()],
        rationale: "HER2 negative, PD-L1 CPS 7, CLDN18.2 positive.".into(),
    };
    assert!(tb
        .recommend(&coordinator, "Practitioner/coord1", &case, &rec)
        .is_err());

    // The physician records it: a plan the pathway reads, its steps, the case moved on.
    let physician = person(Role::Physician, "d1", &["p1"]);
    let summary = tb.summary(&physician, "p1").unwrap();
    assert_eq!(summary.diagnoses.len(), 1);
    let plan = tb
        .recommend(&physician, "Practitioner/d1", &case, &rec)
        .unwrap();
    let plan_body = read(&*store, "CarePlan", plan.trim_start_matches("CarePlan/"));
    assert_eq!(plan_body["meta"]["tag"][0]["code"], "second-line-plan");
    assert_eq!(plan_body["addresses"][0]["reference"], "Condition/c1");
    read(&*store, "ServiceRequest", &format!("{case}-clinical-trial"));
    let c = tb.case(&physician, &case).unwrap();
    assert_eq!(c.stage, codes::RECOMMENDED);
    let recorded = tb.recommendation(&physician, &c).unwrap().unwrap();
    assert_eq!(recorded.steps.len(), 2);
    assert!(
        tb.recommend(&physician, "Practitioner/d1", &case, &rec)
            .is_err(),
        "once"
    );

    // Told to the patient: the pathway's milestone, the case closed, the relationship ended.
    tb.communicated(
        &navigator,
        "Practitioner/nav1",
        &case,
        "Discussed in clinic with his wife.",
    )
    .unwrap();
    let told = read(&*store, "Communication", &format!("{case}-told"));
    assert_eq!(
        told["meta"]["tag"][0]["code"],
        "treatment-plan-communicated"
    );
    assert_eq!(
        tb.case(&physician, &case).unwrap().stage,
        codes::COMMUNICATED
    );
    tb.catch_up().unwrap();
    assert_eq!(
        read(&*store, "CareTeam", "board-case-board-ugi-p1")["status"],
        "inactive"
    );
}
