//! Safety-event reports (AdverseEvent): any member of staff files one, in their own name or
//! anonymously, and reads back only their own, through every store path; the safety team
//! reads and reviews them all; a filed report's reporter never changes.

use access::{Principal, Role, Via};
use serde_json::{json, Value};
use store::{Access, Entry, HistoryQuery, HistoryScope, Mode, Outcome, Reach, Store, WriteOp};

use crate::{ids, options, put};

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

fn report(id: &str, patient: &str, recorder: Option<&str>) -> Value {
    let mut r = json!({"resourceType": "AdverseEvent", "id": id, "actuality": "actual",
        "subject": {"reference": format!("Patient/{patient}")},
        "date": "2026-03-10T03:20:00Z"});
    if let Some(who) = recorder {
        r["recorder"] = json!({"reference": format!("Practitioner/{who}")});
    }
    r
}

fn create(store: &dyn Store, access: &Access, r: Value) -> Result<Outcome, store::StoreError> {
    store
        .write(
            access,
            vec![Entry {
                full_url: None,
                op: WriteOp::Create {
                    id: "new-report".into(),
                    resource: r,
                    if_none_exist: None,
                },
            }],
            Mode::Atomic,
        )?
        .into_iter()
        .next()
        .unwrap()
}

#[test]
fn staff_read_back_their_own_reports_only_and_the_safety_team_reads_all() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("safety.db").display());
    let store = store::open(&url, options()).unwrap();
    let system = Access::system();
    for r in [
        json!({"resourceType": "Patient", "id": "a", "name": [{"family": "Able"}]}),
        json!({"resourceType": "Patient", "id": "b", "name": [{"family": "Baker"}]}),
    ] {
        put(&*store, &system, r).unwrap();
    }
    let nina = person("nina", Role::Nurse, &["a", "b"]);
    let omar = person("omar", Role::Nurse, &["a"]);
    let rae = person("rae", Role::SafetyReviewer, &[]);

    // Filing: in one's own name, or anonymously; never in someone else's.
    put(&*store, &nina, report("ae-1", "a", Some("nina"))).unwrap();
    put(&*store, &nina, report("ae-2", "b", None)).unwrap();
    put(&*store, &omar, report("ae-3", "a", Some("omar"))).unwrap();
    assert!(
        create(&*store, &omar, report("x", "a", Some("nina"))).is_err(),
        "a report in another person's name"
    );
    assert!(
        create(&*store, &omar, report("x", "b", Some("omar"))).is_err(),
        "a report about a patient outside one's care"
    );

    // Reading back: one's own, on every path.
    assert_eq!(
        ids(&*store, &nina, "AdverseEvent", &[]),
        ["AdverseEvent/ae-1"]
    );
    assert_eq!(
        ids(&*store, &nina, "AdverseEvent", &[("subject", "Patient/a")]),
        ["AdverseEvent/ae-1"]
    );
    assert_eq!(
        ids(
            &*store,
            &nina,
            "Patient",
            &[("_revinclude", "AdverseEvent:subject")]
        ),
        ["AdverseEvent/ae-1", "Patient/a", "Patient/b"]
    );
    assert_eq!(
        ids(
            &*store,
            &nina,
            "Patient",
            &[("_has:AdverseEvent:subject:_id", "ae-3")]
        ),
        Vec::<String>::new(),
        "a _has over another's report must not reveal it"
    );
    assert!(store.read(&nina, "AdverseEvent", "ae-1").unwrap().is_some());
    assert!(store.read(&nina, "AdverseEvent", "ae-3").is_err());
    assert!(
        store.read(&nina, "AdverseEvent", "ae-2").is_err(),
        "an anonymous report is not read back, even by whoever sent it"
    );
    let h = store
        .history(
            &nina,
            &HistoryQuery {
                scope: HistoryScope::Type("AdverseEvent".into()),
                since: None,
                count: 10,
                offset: 0,
            },
        )
        .unwrap();
    assert!(h.0.iter().all(|v| v.id == "ae-1"), "type history");
    let everything = store
        .history(
            &omar,
            &HistoryQuery {
                scope: HistoryScope::System,
                since: None,
                count: 100,
                offset: 0,
            },
        )
        .unwrap();
    assert!(
        everything
            .0
            .iter()
            .filter(|v| v.rtype == "AdverseEvent")
            .all(|v| v.id == "ae-3"),
        "system history"
    );
    // Once the patient is out of one's care, one's own report is still one's own.
    let omar_elsewhere = person("omar", Role::Nurse, &[]);
    assert!(store
        .read(&omar_elsewhere, "AdverseEvent", "ae-3")
        .unwrap()
        .is_some());

    // Changing a filed report: the safety team only, and never its reporter.
    let mut changed = report("ae-1", "a", Some("nina"));
    changed["date"] = json!("2026-03-10T04:00:00Z");
    assert!(
        put(&*store, &nina, changed.clone()).is_err(),
        "the reporter edits"
    );
    assert!(
        put(&*store, &omar, changed.clone()).is_err(),
        "a colleague edits"
    );
    put(&*store, &rae, changed).unwrap();
    let mut renamed = report("ae-2", "b", Some("omar"));
    renamed["date"] = json!("2026-03-10T04:00:00Z");
    assert!(
        put(&*store, &rae, renamed).is_err(),
        "an anonymous report stays anonymous"
    );
    assert!(store
        .write(
            &nina,
            vec![Entry {
                full_url: None,
                op: WriteOp::Delete {
                    rtype: "AdverseEvent".into(),
                    id: "ae-1".into(),
                },
            }],
            Mode::Atomic,
        )
        .map(|o| o.into_iter().all(|x| x.is_err()))
        .unwrap_or(true));

    // The safety team reads every report, whoever the patient.
    assert_eq!(
        ids(&*store, &rae, "AdverseEvent", &[]),
        [
            "AdverseEvent/ae-1",
            "AdverseEvent/ae-2",
            "AdverseEvent/ae-3"
        ]
    );
    // Others who reach no patient see none.
    let quality = person("q", Role::QualityOfficer, &[]);
    assert!(ids(&*store, &quality, "AdverseEvent", &[]).is_empty());
}
