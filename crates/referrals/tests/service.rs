//! A referral's whole loop over a real store: the administrator imports the directory, the
//! social worker refers with consent, the food network's partner sees it (and nothing else),
//! accepts and completes it, and the social worker's follow-up closes the loop; refusals are
//! said in words and write nothing.

use std::sync::Arc;

use access::{Principal, Role, Via};
use chrono::{Duration, TimeZone, Utc};
use community::{Change, ConsentFacts, ConsentGiver, ConsentMethod, Outcome, Reason, Status};
use referrals::{Config, Move, NewReferral, Referrals};
use serde_json::json;
use store::{Access, Entry, Mode, Reach, WriteOp};

fn person(role: Role, id: &str, org: Option<&str>, reach: &[&str]) -> (Principal, Access) {
    let p = Principal {
        id: id.into(),
        name: format!("{id} name"),
        role,
        practitioner: (role != Role::CommunityPartner).then(|| format!("Practitioner/{id}")),
        wards: vec![],
        organization: org.map(str::to_string),
        scopes: None,
        via: Via::Session,
    };
    let a = Access::caller(
        p.clone(),
        Reach::Patients(reach.iter().map(|s| s.to_string()).collect()),
        None,
    );
    (p, a)
}

#[test]
fn a_referral_goes_round_the_loop() {
    let dir = tempfile::tempdir().unwrap();
    let store = store::open(
        &format!("sqlite://{}", dir.path().join("r.db").display()),
        store::Options {
            clock: Arc::new(store::SystemClock),
            indexer: Arc::new(search::Indexer::new(search::Registry::r4()).unwrap()),
            readers: 2,
        },
    )
    .unwrap();
    let put = |r: serde_json::Value| {
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
    put(
        json!({"resourceType": "Patient", "id": "p1", "name": [{"given": ["Rosa"], "family": "Lima"}],
        "identifier": [{"value": "MRN-77"}], "telecom": [{"system": "phone", "value": "617-555-0142"}],
        "communication": [{"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": "es"}], "text": "Spanish"}, "preferred": true}]}),
    );
    put(json!({"resourceType": "Patient", "id": "p2", "name": [{"family": "Other"}]}));
    let r = Referrals::new(
        store.clone(),
        Config::default(),
        Arc::new(store::SystemClock),
    );
    let hsds = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../community/test_data/hsds/services.json"),
    )
    .unwrap();

    // The directory: the social worker may not write it; the administrator imports it.
    let (_, social_access) = person(Role::SocialWorker, "sw1", None, &["p1", "p2"]);
    assert!(r.import(&social_access, &hsds).is_err());
    let (_, admin) = person(Role::Administrator, "admin", None, &[]);
    assert!(r.import(&admin, &hsds).unwrap() >= 6);
    let d = r.directory().unwrap();
    let pantry = d
        .services
        .iter()
        .find(|s| s.needs.iter().any(|n| n == "food-insecurity"))
        .unwrap()
        .clone();
    let org = community::directory::fhir::fhir_id(&pantry.organization.id);

    // Without consent, nothing is sent.
    let (social, social_access) = person(Role::SocialWorker, "sw1", None, &["p1", "p2"]);
    let t0 = Utc.with_ymd_and_hms(2026, 11, 2, 10, 0, 0).unwrap();
    let mut new = NewReferral {
        patient: "p1".into(),
        service: pantry.id.clone(),
        need: "food-insecurity".into(),
        reasons: vec![],
        note: Some("Prefers afternoon calls".into()),
        contact_prohibited: false,
        consent: None,
    };
    assert!(r.send(&social_access, &social, new.clone(), t0).is_err());
    new.consent = Some(ConsentFacts {
        given_by: ConsentGiver::Patient,
        at: t0,
        method: ConsentMethod::Verbal,
        document: None,
    });
    let task = r.send(&social_access, &social, new.clone(), t0).unwrap();
    // Another for p2, to another organisation's service if there is one.
    let other = d
        .services
        .iter()
        .find(|s| s.organization.id != pantry.organization.id)
        .unwrap();
    let mut elsewhere = new.clone();
    elsewhere.patient = "p2".into();
    elsewhere.service = other.id.clone();
    elsewhere.need = other
        .needs
        .first()
        .cloned()
        .unwrap_or("housing-instability".into());
    r.send(&social_access, &social, elsewhere, t0).unwrap();

    // The partner sees its referral and the contact details, and nothing else.
    let (partner, partner_access) = person(Role::CommunityPartner, "pantry", Some(&org), &["p1"]);
    let got = r.received(&partner_access).unwrap();
    assert_eq!(got.len(), 1, "{got:?}");
    let line = &got[0];
    assert_eq!(line.state.id, task);
    assert_eq!(line.patient_name, "Rosa Lima");
    assert_eq!(line.phone.as_deref(), Some("617-555-0142"));
    assert_eq!(line.language.as_deref(), Some("Spanish"));
    assert_eq!(line.need, "food-insecurity");
    assert_eq!(line.note.as_deref(), Some("Prefers afternoon calls"));
    assert_eq!(line.service_name, pantry.name);
    let patient = store
        .read(&partner_access, "Patient", "p1")
        .unwrap()
        .unwrap();
    assert!(!patient.body.unwrap().contains("MRN-77"));
    assert!(store.read(&partner_access, "Patient", "p2").is_err());

    // The hospital cannot answer for the partner, nor the partner cancel.
    let accept = Move::Partner(Change {
        to: Status::Accepted,
        reason: None,
        outcome: None,
        note: Some("Booked for Thursday".into()),
    });
    let t1 = t0 + Duration::hours(3);
    assert!(r.act(&social_access, "sw1", &task, 1, &accept, t1).is_err());
    let cancel = Move::Cancel(Reason {
        code: "patient-declined".into(),
        text: None,
    });
    assert!(r
        .act(&partner_access, &partner.label(), &task, 1, &cancel, t1)
        .is_err());
    // A stale page is refused, then the partner accepts.
    assert!(r
        .act(&partner_access, &partner.label(), &task, 7, &accept, t1)
        .is_err());
    let s = r
        .act(&partner_access, &partner.label(), &task, 1, &accept, t1)
        .unwrap();
    assert_eq!(s.status, Status::Accepted);

    // The social worker's list: open, not yet due.
    let w = r.worklist(&social_access, t1).unwrap();
    assert_eq!(w.open.len(), 2);
    assert!(w.due.is_empty());
    let count =
        |w: &referrals::Worklist, st: Status| w.by_status.iter().find(|(s, _)| *s == st).unwrap().1;
    assert_eq!(count(&w, Status::Accepted), 1);
    assert_eq!(count(&w, Status::Requested), 1);

    // The partner completes it without saying; three weeks later the follow-up is due.
    let t2 = t1 + Duration::days(1);
    r.act(
        &partner_access,
        &partner.label(),
        &task,
        2,
        &Move::Partner(Change {
            to: Status::Completed,
            reason: None,
            outcome: None,
            note: None,
        }),
        t2,
    )
    .unwrap();
    let t3 = t2 + Duration::days(21);
    let w = r.worklist(&social_access, t3).unwrap();
    assert!(w.due.iter().any(|l| l.state.id == task), "{:?}", w.due);
    let s = r
        .act(
            &social_access,
            &social.label(),
            &task,
            3,
            &Move::FollowUp(Outcome::NeedMet),
            t3,
        )
        .unwrap();
    assert_eq!(s.outcome, Some(Outcome::NeedMet));
    let w = r.worklist(&social_access, t3).unwrap();
    assert!(!w.due.iter().any(|l| l.state.id == task));
    // The measures: one referral sent, connected, its need met (counts under 11 withheld).
    let lines = r.measures(t3).unwrap();
    let resolution = lines
        .iter()
        .find(|l| l.measure == "need-resolution")
        .expect("need resolution is measured");
    assert_eq!(
        (resolution.all.denominator, resolution.all.numerator),
        (1, 1)
    );
    assert!(resolution.all.suppressed());
    let connection = lines.iter().find(|l| l.measure == "connection").unwrap();
    assert_eq!(connection.all.denominator, 2);
    assert_eq!(connection.all.numerator, 1);
    r.catch_up().unwrap();
    let written = store
        .read(
            &Access::system(),
            "MeasureReport",
            &format!("social-need-resolution-{}", t0.format("%Y-%m")),
        )
        .unwrap()
        .unwrap();
    assert!(
        !written.body.unwrap().contains("\"count\""),
        "small counts are never stored"
    );
    // Screened again a year later (the site's setting).
    assert_eq!(
        r.rescreen_due(t0),
        Utc.with_ymd_and_hms(2027, 11, 2, 10, 0, 0).unwrap()
    );
    let mine = r.of_patient(&social_access, "p1").unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].state.status, Status::Completed);
}

/// A patient on a pathway with a transport need and an appointment next week gets a
/// navigator's task due before it, once; a patient on no pathway, or whose need was refuted,
/// gets none.
#[test]
fn a_need_before_an_appointment_becomes_a_navigator_s_task() {
    let dir = tempfile::tempdir().unwrap();
    let store = store::open(
        &format!("sqlite://{}", dir.path().join("l.db").display()),
        store::Options {
            clock: Arc::new(store::SystemClock),
            indexer: Arc::new(search::Indexer::new(search::Registry::r4()).unwrap()),
            readers: 2,
        },
    )
    .unwrap();
    let soon = (Utc::now() + Duration::days(6)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let far = (Utc::now() + Duration::days(60)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let concern = |id: &str, p: &str, domain: &str, status: &str| {
        json!({"resourceType": "Condition", "id": id,
            "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]},
            "verificationStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": status}]},
            "category": [{"coding": [{"system": "http://hl7.org/fhir/us/core/CodeSystem/condition-category", "code": "health-concern"}]},
                         {"coding": [{"system": community::SDOHCC, "code": domain}]}],
            "code": {"text": domain}, "subject": {"reference": format!("Patient/{p}")}})
    };
    let appointment = |id: &str, p: &str, start: &str| {
        json!({"resourceType": "Appointment", "id": id, "status": "booked", "start": start, "end": start,
            "serviceType": [{"text": "Endoscopy"}],
            "participant": [{"actor": {"reference": format!("Patient/{p}")}, "status": "accepted"}]})
    };
    let episode = |p: &str| {
        json!({"resourceType": "EpisodeOfCare", "id": format!("ep-{p}"), "status": "active",
            "patient": {"reference": format!("Patient/{p}")}})
    };
    let mut world = vec![];
    for p in ["p1", "p2", "p3"] {
        world.push(json!({"resourceType": "Patient", "id": p}));
    }
    world.extend([
        episode("p1"),
        concern("c1", "p1", "transportation-insecurity", "unconfirmed"),
        appointment("a1", "p1", &soon),
        appointment("a-far", "p1", &far),
        // p2: the same, but on no pathway.
        concern("c2", "p2", "transportation-insecurity", "confirmed"),
        appointment("a2", "p2", &soon),
        // p3: on a pathway, the need refuted.
        episode("p3"),
        concern("c3", "p3", "food-insecurity", "refuted"),
        appointment("a3", "p3", &soon),
    ]);
    let entries = world
        .into_iter()
        .map(|r| Entry {
            full_url: None,
            op: WriteOp::Update {
                rtype: r["resourceType"].as_str().unwrap().into(),
                id: r["id"].as_str().unwrap().into(),
                resource: r,
                if_match: None,
            },
        })
        .collect();
    store
        .write(&Access::system(), entries, Mode::Atomic)
        .unwrap();
    let r = Referrals::new(
        store.clone(),
        Config::default(),
        Arc::new(store::SystemClock),
    );
    r.catch_up().unwrap();
    let tasks = |p: &str| {
        store
            .search(
                &Access::system(),
                &search::SearchQuery::parse(
                    search::Registry::r4(),
                    "Task",
                    &[
                        ("patient".to_string(), format!("Patient/{p}")),
                        (
                            "code".to_string(),
                            format!(
                                "{}|{}",
                                referrals::NAVIGATION_CODES,
                                referrals::BEFORE_APPOINTMENT
                            ),
                        ),
                    ],
                )
                .unwrap(),
            )
            .unwrap()
            .matches
    };
    let mine = tasks("p1");
    assert_eq!(
        mine.len(),
        1,
        "one appointment in the next 30 days: {mine:?}"
    );
    let t: serde_json::Value = serde_json::from_str(&mine[0].body).unwrap();
    assert_eq!(t["focus"]["reference"], "Appointment/a1");
    assert_eq!(t["restriction"]["period"]["end"], soon.as_str());
    assert_eq!(t["status"], "requested");
    assert!(
        t["description"]
            .as_str()
            .unwrap()
            .contains("Arrange a ride before the endoscopy"),
        "{t}"
    );
    assert!(tasks("p2").is_empty(), "not on a pathway");
    assert!(tasks("p3").is_empty(), "the need was refuted");
    // The appointment moves: looked at again, the same task is not written twice.
    let mut moved = appointment("a1", "p1", &soon);
    moved["comment"] = json!("Moved to the afternoon");
    store
        .write(
            &Access::system(),
            vec![Entry {
                full_url: None,
                op: WriteOp::Update {
                    rtype: "Appointment".into(),
                    id: "a1".into(),
                    resource: moved,
                    if_match: None,
                },
            }],
            Mode::Atomic,
        )
        .unwrap();
    r.catch_up().unwrap();
    assert_eq!(tasks("p1").len(), 1);
    let v = store
        .read(&Access::system(), "Task", t["id"].as_str().unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(v.version, 1, "written once");
}
