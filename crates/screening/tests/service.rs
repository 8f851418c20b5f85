//! Screenings over a real store: one recorded by a navigator through the service and one
//! arriving through the FHIR API both become scored Observations; safety answers are
//! restricted, so a navigator's view of the results leaves them out and a physician's shows
//! them with the follow-up; an amended response replaces its Observations and a withdrawn
//! one removes them.

use std::sync::Arc;

use access::{Principal, Role, Via};
use screening::{prefix, Screenings};
use serde_json::{json, Value};
use social_needs::{Answer, Status, QUESTIONNAIRE_URL};
use store::{Access, Entry, Mode, Reach, WriteOp};

fn person(role: Role, id: &str) -> Access {
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
        Reach::Patients(["p1".to_string()].into_iter().collect()),
        None,
    )
}

fn answers(pairs: &[(&str, &str)]) -> Answer {
    pairs
        .iter()
        .map(|(l, a)| (l.to_string(), vec![a.to_string()]))
        .collect()
}

#[test]
fn screenings_become_scored_observations_seen_as_far_as_one_may() {
    let dir = tempfile::tempdir().unwrap();
    let store = store::open(
        &format!("sqlite://{}", dir.path().join("s.db").display()),
        store::Options {
            clock: Arc::new(store::SystemClock),
            indexer: Arc::new(search::Indexer::new(search::Registry::r4()).unwrap()),
            readers: 2,
        },
    )
    .unwrap();
    let put = |r: Value| {
        for w in store
            .write(
                &Access::system(),
                vec![Entry {
                    full_url: None,
                    op: WriteOp::Update {
                        rtype: r["resourceType"].as_str().unwrap().into(),
                        id: r["id"].as_str().unwrap().into(),
                        resource: r,
                        if_match: None,
                    },
                }],
                Mode::Atomic,
            )
            .unwrap()
        {
            w.unwrap();
        }
    };
    put(json!({"resourceType": "Patient", "id": "p1"}));
    let s = Screenings::new(store.clone());

    // Recorded by a navigator: food positive, physically hurt "rarely".
    let navigator = person(Role::Navigator, "nav1");
    let id = s
        .record(
            &navigator,
            "Practitioner/nav1",
            "p1",
            &answers(&[
                ("q3", "LA6729-3"),
                ("q4", "LA28398-8"),
                ("q7", "LA10066-1"),
                ("q8", "LA6270-8"),
                ("q9", "LA6270-8"),
                ("q10", "LA6270-8"),
            ]),
            "2026-12-06T10:00:00Z",
            false,
        )
        .unwrap();
    let system = Access::system();
    let qr = store
        .read(&system, "QuestionnaireResponse", &id)
        .unwrap()
        .unwrap();
    assert!(
        qr.restricted,
        "a response with safety answers is restricted"
    );
    let q7 = store
        .read(&system, "Observation", &format!("{}-q7", prefix(&id)))
        .unwrap()
        .unwrap();
    assert!(q7.restricted);
    let body: Value = serde_json::from_str(&q7.body.unwrap()).unwrap();
    let errors: Vec<_> = fhir::validation::validate(&body)
        .into_iter()
        .filter(|i| i.severity == fhir::validation::Severity::Error)
        .collect();
    assert!(errors.is_empty(), "{errors:?}");

    // The navigator sees food, not safety; the physician sees both and the follow-up.
    let mine = s.latest(&navigator, "p1").unwrap().unwrap();
    let status = |l: &screening::Latest, d: &str| {
        l.score
            .domains
            .iter()
            .find(|x| x.domain == d)
            .unwrap()
            .status
    };
    assert_eq!(status(&mine, "food-insecurity"), Status::Positive);
    assert_eq!(
        status(&mine, "intimate-partner-violence"),
        Status::NotAnswered
    );
    assert!(
        !mine.score.follow_up,
        "nothing about safety reaches the navigator"
    );
    let physician = person(Role::Physician, "d1");
    let theirs = s.latest(&physician, "p1").unwrap().unwrap();
    assert_eq!(
        status(&theirs, "intimate-partner-violence"),
        Status::Negative
    );
    assert_eq!(theirs.score.safety_total, Some(5));
    assert!(theirs.score.follow_up);

    // Through the FHIR API: a response to the same Questionnaire, then amended, then withdrawn.
    let mut api = json!({"resourceType": "QuestionnaireResponse", "id": "api-1", "questionnaire": QUESTIONNAIRE_URL,
        "status": "completed", "subject": {"reference": "Patient/p1"}, "authored": "2026-12-06T11:00:00Z",
        "item": [{"linkId": "q5", "answer": [{"valueCoding": {"system": "http://loinc.org", "code": "LA33-6"}}]},
                 {"linkId": "q1", "answer": [{"valueCoding": {"system": "http://loinc.org", "code": "LA31995-6"}}]}]});
    put(api.clone());
    s.catch_up().unwrap();
    let latest = s.latest(&navigator, "p1").unwrap().unwrap();
    assert_eq!(
        status(&latest, "transportation-insecurity"),
        Status::Positive
    );
    assert_eq!(status(&latest, "housing-instability"), Status::Positive);
    api["item"] = json!([{"linkId": "q5", "answer": [{"valueCoding": {"system": "http://loinc.org", "code": "LA32-8"}}]}]);
    put(api.clone());
    s.catch_up().unwrap();
    let q1 = store
        .read(&system, "Observation", "hrsn-api-1-q1")
        .unwrap()
        .unwrap();
    assert_eq!(
        q1.op,
        store::Op::Delete,
        "the amended response no longer answers q1"
    );
    let latest = s.latest(&navigator, "p1").unwrap().unwrap();
    assert_eq!(
        status(&latest, "transportation-insecurity"),
        Status::Negative
    );
    api["status"] = json!("entered-in-error");
    put(api);
    s.catch_up().unwrap();
    let q5 = store
        .read(&system, "Observation", "hrsn-api-1-q5")
        .unwrap()
        .unwrap();
    assert_eq!(
        q5.op,
        store::Op::Delete,
        "a withdrawn response leaves no answers"
    );

    // The needs found await a clinician: food (the first screening) for the navigator;
    // the safety concern is not raised (total 5) and would be restricted if it were.
    let waiting = s.awaiting(&navigator, 100).unwrap();
    let domains: Vec<&str> = waiting.iter().map(|c| c.domain.as_str()).collect();
    assert_eq!(domains, ["food-insecurity"], "{waiting:?}");
    let food = waiting[0].clone();
    assert_eq!(food.status, "unconfirmed");
    assert!(food.because.contains("Sometimes true"), "{}", food.because);
    let withdrawn = store
        .read(&system, "Condition", "hrsn-api-1-need-housing-instability")
        .unwrap();
    assert!(
        withdrawn.is_none_or(|v| v.op == store::Op::Delete),
        "the withdrawn response's undecided needs are gone"
    );
    // A navigator may not confirm a problem; a social worker may, with a goal.
    let no = s.decide(
        &navigator,
        "Practitioner/nav1",
        &food.id,
        food.version,
        &screening::Decision::Confirm { goal: None },
        "2026-12-07T09:00:00Z",
    );
    assert!(
        matches!(
            no,
            Err(screening::Error::Store(store::StoreError::Forbidden { .. }))
        ),
        "{no:?}"
    );
    let social = person(Role::SocialWorker, "sw1");
    let stale = s.decide(
        &social,
        "Practitioner/sw1",
        &food.id,
        food.version + 5,
        &screening::Decision::Confirm { goal: None },
        "2026-12-07T09:00:00Z",
    );
    assert!(stale.is_err(), "decided on what the page showed");
    let done = s
        .decide(
            &social,
            "Practitioner/sw1",
            &food.id,
            food.version,
            &screening::Decision::Confirm {
                goal: Some("Enough food for the family every week".into()),
            },
            "2026-12-07T09:00:00Z",
        )
        .unwrap();
    assert_eq!(done.status, "confirmed");
    assert!(s.awaiting(&social, 100).unwrap().is_empty());
    let goals = s
        .store()
        .search(
            &system,
            &search::SearchQuery::parse(
                search::Registry::r4(),
                "Goal",
                &[("subject".to_string(), "Patient/p1".to_string())],
            )
            .unwrap(),
        )
        .unwrap();
    assert_eq!(goals.matches.len(), 1);
    assert!(goals.matches[0].body.contains("Enough food"));
    // Screening again does not raise a confirmed need twice.
    s.record(
        &navigator,
        "Practitioner/nav1",
        "p1",
        &answers(&[("q3", "LA28397-0")]),
        "2026-12-07T10:00:00Z",
        false,
    )
    .unwrap();
    assert!(s.awaiting(&navigator, 100).unwrap().is_empty());
    let all = s.concerns(&navigator, "p1").unwrap();
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0].status, "confirmed");
}
