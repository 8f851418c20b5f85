//! A community partner reaches, through every store path, only the referrals shared with its
//! organisation and the contact details of the patients referred to it.

use access::{Principal, Role, Via};
use search::SearchQuery;
use serde_json::{json, Value};
use store::{Access, HistoryQuery, HistoryScope, Reach};

use crate::{ids, options, put};

const SDOHCC: &str =
    "http://hl7.org/fhir/us/sdoh-clinicalcare/CodeSystem/SDOHCC-CodeSystemTemporaryCodes";

fn referral(id: &str, org: &str, patient: &str) -> Vec<Value> {
    vec![
        json!({"resourceType": "ServiceRequest", "id": format!("sr-{id}"), "status": "active", "intent": "order",
            "category": [{"coding": [{"system": SDOHCC, "code": "food-insecurity"}]}],
            "code": {"text": "Referral to a food bank"},
            "subject": {"reference": format!("Patient/{patient}")},
            "performer": [{"reference": format!("Organization/{org}")}]}),
        json!({"resourceType": "Task", "id": format!("t-{id}"), "status": "requested", "intent": "order",
            "code": {"coding": [{"system": "http://hl7.org/fhir/CodeSystem/task-code", "code": "fulfill"}]},
            "focus": {"reference": format!("ServiceRequest/sr-{id}")},
            "for": {"reference": format!("Patient/{patient}")},
            "owner": {"reference": format!("Organization/{org}")}}),
    ]
}

fn partner(org: Option<&str>, patients: &[&str]) -> Access {
    Access::caller(
        Principal {
            id: "partner".into(),
            name: "Partner".into(),
            role: Role::CommunityPartner,
            practitioner: None,
            wards: vec![],
            organization: org.map(str::to_string),
            scopes: None,
            via: Via::Session,
        },
        Reach::Patients(patients.iter().map(|p| p.to_string()).collect()),
        None,
    )
}

#[test]
fn a_partner_reaches_its_referrals_and_the_contact_details_only() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("partner.db").display());
    let store = store::open(&url, options()).unwrap();
    let system = Access::system();
    let mut world = vec![
        json!({"resourceType": "Patient", "id": "a", "identifier": [{"system": "urn:mrn", "value": "MRN-A"}],
            "name": [{"family": "Able"}], "telecom": [{"system": "phone", "value": "555-0101"}],
            "extension": [{"url": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race", "extension": [{"url": "text", "valueString": "Asian"}]}]}),
        json!({"resourceType": "Patient", "id": "b", "name": [{"family": "Baker"}]}),
        json!({"resourceType": "Observation", "id": "obs-a", "status": "final", "code": {"text": "Heart rate"},
            "subject": {"reference": "Patient/a"}}),
        json!({"resourceType": "Task", "id": "nav-a", "status": "requested", "intent": "order", "code": {"text": "Call about the scan"},
            "for": {"reference": "Patient/a"}, "owner": {"reference": "Practitioner/nav"}}),
        json!({"resourceType": "Organization", "id": "food", "name": "Food bank"}),
        json!({"resourceType": "Organization", "id": "shelter", "name": "Shelter"}),
    ];
    world.extend(referral("1", "food", "a"));
    world.extend(referral("2", "shelter", "a"));
    world.extend(referral("3", "shelter", "b"));
    for r in world {
        put(&*store, &system, r).unwrap();
    }
    let p = partner(Some("food"), &["a"]);

    // Searches: only what was shared with the food bank, whatever the path.
    assert_eq!(ids(&*store, &p, "Task", &[]), ["Task/t-1"]);
    assert_eq!(ids(&*store, &p, "Task", &[("patient", "a")]), ["Task/t-1"]);
    assert_eq!(
        ids(
            &*store,
            &p,
            "Task",
            &[("_include", "Task:focus"), ("_include", "Task:patient")]
        ),
        ["Patient/a", "ServiceRequest/sr-1", "Task/t-1"]
    );
    assert_eq!(
        ids(&*store, &p, "ServiceRequest", &[]),
        ["ServiceRequest/sr-1"]
    );
    assert_eq!(
        ids(&*store, &p, "Patient", &[("_revinclude", "Task:patient")]),
        ["Patient/a", "Task/t-1"]
    );
    assert!(
        ids(
            &*store,
            &p,
            "Patient",
            &[("_has:Task:patient:owner", "Organization/shelter")]
        )
        .is_empty(),
        "a _has over records the partner cannot see must not reveal them",
    );
    // Reads.
    assert!(store.read(&p, "Task", "t-1").unwrap().is_some());
    assert!(store.read(&p, "Task", "t-2").is_err());
    assert!(store.read(&p, "Task", "nav-a").is_err());
    assert!(store.read(&p, "Observation", "obs-a").is_err());
    assert!(store.read(&p, "Patient", "b").is_err());
    // History of a record not shared with it.
    let h = store.history(
        &p,
        &HistoryQuery {
            scope: HistoryScope::Instance("Task".into(), "t-2".into()),
            since: None,
            count: 10,
            offset: 0,
        },
    );
    assert!(h.map(|(v, _)| v.is_empty()).unwrap_or(true));
    let h = store
        .history(
            &p,
            &HistoryQuery {
                scope: HistoryScope::Type("Task".into()),
                since: None,
                count: 10,
                offset: 0,
            },
        )
        .unwrap();
    assert!(h.0.iter().all(|v| v.id == "t-1"), "type history");
    // The patient, cut to the contact details, on every path.
    let a: Value = serde_json::from_str(
        &store
            .read(&p, "Patient", "a")
            .unwrap()
            .unwrap()
            .body
            .unwrap(),
    )
    .unwrap();
    assert_eq!(a["telecom"][0]["value"], "555-0101");
    assert!(
        a.get("identifier").is_none() && a.get("extension").is_none(),
        "{a}"
    );
    assert_eq!(a["meta"]["tag"][0]["code"], "SUBSETTED");
    let q = SearchQuery::parse(
        search::Registry::r4(),
        "Task",
        &[("_include".to_string(), "Task:patient".to_string())],
    )
    .unwrap();
    let page = store.search(&p, &q).unwrap();
    let included = page.included.iter().find(|h| h.rtype == "Patient").unwrap();
    assert!(!included.body.contains("MRN-A"));
    let q = SearchQuery::parse(search::Registry::r4(), "Patient", &[]).unwrap();
    assert!(!store.search(&p, &q).unwrap().matches[0]
        .body
        .contains("MRN-A"));
    // A navigator sees the whole record.
    let nav = Access::caller(
        Principal {
            id: "nav".into(),
            name: "Nav".into(),
            role: Role::Navigator,
            practitioner: None,
            wards: vec![],
            organization: None,
            scopes: None,
            via: Via::Session,
        },
        Reach::Patients(["a".to_string()].into_iter().collect()),
        None,
    );
    assert!(store
        .read(&nav, "Patient", "a")
        .unwrap()
        .unwrap()
        .body
        .unwrap()
        .contains("MRN-A"));
    assert_eq!(ids(&*store, &nav, "Task", &[("patient", "a")]).len(), 3);

    // Writes: the partner moves its own referral, and nothing else.
    let mut t1 = referral("1", "food", "a")[1].clone();
    t1["status"] = json!("accepted");
    assert!(put(&*store, &p, t1.clone()).is_ok());
    let mut stolen = referral("2", "shelter", "a")[1].clone();
    stolen["status"] = json!("rejected");
    assert!(
        put(&*store, &p, stolen).is_err(),
        "another organisation's referral"
    );
    let mut hand_off = t1.clone();
    hand_off["owner"] = json!({"reference": "Organization/shelter"});
    assert!(
        put(&*store, &p, hand_off).is_err(),
        "giving a referral away"
    );
    // Nor moves its referral to another patient it reaches.
    let mut elsewhere = t1.clone();
    elsewhere["for"] = json!({"reference": "Patient/b"});
    let both = partner(Some("food"), &["a", "b"]);
    assert!(
        put(&*store, &both, elsewhere).is_err(),
        "moving a referral to another patient"
    );
    let mut new = referral("9", "food", "a")[1].clone();
    new["id"] = json!("t-9");
    assert!(
        put(&*store, &p, new).is_err(),
        "partners do not create referrals"
    );
    let mut sr = referral("1", "food", "a")[0].clone();
    sr["status"] = json!("completed");
    assert!(
        put(&*store, &p, sr).is_err(),
        "the request is the hospital's"
    );
    assert!(put(
        &*store,
        &p,
        json!({"resourceType": "Patient", "id": "a", "name": [{"family": "X"}]})
    )
    .is_err());

    // A partner account with no organisation reaches no referral.
    assert!(ids(&*store, &partner(None, &["a"]), "Task", &[]).is_empty());
}
