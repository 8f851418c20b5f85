//! One conformance suite, run against every adapter: SQLite on a temporary file and
//! PostgreSQL on a throwaway cluster started by the test (Debian's `postgresql`).

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use search::{Indexer, Registry, SearchQuery};
use serde_json::{json, Value};
use store::{Clock, Entry, Mode, Op, Outcome, Store, StoreError, WriteOp};

/// A clock that moves one second per reading, from 2026-01-01T00:00:00Z.
struct StepClock(AtomicI64);

impl Clock for StepClock {
    fn now_ms(&self) -> i64 {
        self.0.fetch_add(1000, Ordering::SeqCst)
    }
}

fn options() -> store::Options {
    store::Options {
        clock: Arc::new(StepClock(AtomicI64::new(1_767_225_600_000))),
        indexer: Arc::new(Indexer::new(Registry::r4()).expect("indexer")),
        readers: 4,
    }
}

fn q(rtype: &str, query: &str) -> SearchQuery {
    let params: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    SearchQuery::parse(Registry::r4(), rtype, &params).expect("query parses")
}

fn one(store: &dyn Store, op: WriteOp) -> Result<Outcome, StoreError> {
    let mut r = store.write(
        &store::Access::system(),
        vec![Entry { full_url: None, op }],
        Mode::Atomic,
    )?;
    r.pop().expect("one outcome")
}

fn put(store: &dyn Store, resource: Value) -> Outcome {
    let rtype = resource["resourceType"].as_str().unwrap().to_string();
    let id = resource["id"].as_str().unwrap().to_string();
    one(
        store,
        WriteOp::Update {
            rtype,
            id,
            resource,
            if_match: None,
        },
    )
    .expect("put")
}

fn ids(store: &dyn Store, rtype: &str, query: &str) -> Vec<String> {
    store
        .search(&store::Access::system(), &q(rtype, query))
        .expect("search")
        .matches
        .into_iter()
        .map(|h| h.id)
        .collect()
}

fn body(store: &dyn Store, rtype: &str, id: &str) -> Value {
    serde_json::from_str(
        store
            .read(&store::Access::system(), rtype, id)
            .unwrap()
            .unwrap()
            .body
            .as_deref()
            .unwrap(),
    )
    .unwrap()
}

fn seed(store: &dyn Store) {
    put(
        store,
        json!({"resourceType": "Patient", "id": "p1", "name": [{"family": "Zoëlle", "given": ["Ana"]}], "gender": "female", "birthDate": "1950-03-04",
        "identifier": [{"system": "urn:mrn", "value": "111"}]}),
    );
    put(
        store,
        json!({"resourceType": "Patient", "id": "p2", "name": [{"family": "Smith", "given": ["John"]}], "gender": "male", "birthDate": "1980-11-30",
        "identifier": [{"system": "urn:mrn", "value": "222"}], "managingOrganization": {"reference": "Organization/o1"}}),
    );
    put(
        store,
        json!({"resourceType": "Organization", "id": "o1", "name": "Tend General"}),
    );
    for (i, (code, value, when, patient)) in [
        ("8867-4", 72.0, "2026-01-01T08:00:00Z", "p1"),
        ("8867-4", 95.0, "2026-01-02T08:00:00Z", "p1"),
        ("8867-4", 130.0, "2026-01-03T08:00:00Z", "p1"),
        ("9279-1", 18.0, "2026-01-02T08:00:00Z", "p1"),
        ("8867-4", 60.0, "2026-01-02T09:00:00Z", "p2"),
    ]
    .iter()
    .enumerate()
    {
        put(
            store,
            json!({"resourceType": "Observation", "id": format!("o{i}"), "status": "final",
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}]}],
            "code": {"coding": [{"system": "http://loinc.org", "code": code}], "text": "Heart rate"},
            "subject": {"reference": format!("Patient/{patient}")}, "effectiveDateTime": when,
            "valueQuantity": {"value": value, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"}}),
        );
    }
    put(
        store,
        json!({"resourceType": "Observation", "id": "bp", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
        "subject": {"reference": "Patient/p2"}, "effectiveDateTime": "2026-01-02T10:00:00Z",
        "component": [
            {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]}, "valueQuantity": {"value": 150, "unit": "mm[Hg]", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}},
            {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]}, "valueQuantity": {"value": 90, "unit": "mm[Hg]", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}}
        ]}),
    );
}

fn suite(store: &dyn Store) {
    // Versions, meta and history.
    let Outcome::Created(v1) = put(
        store,
        json!({"resourceType": "Patient", "id": "h1", "active": true}),
    ) else {
        panic!("created")
    };
    assert_eq!(v1.version, 1);
    let Outcome::Updated(v2) = put(
        store,
        json!({"resourceType": "Patient", "id": "h1", "active": false}),
    ) else {
        panic!("updated")
    };
    assert_eq!(v2.version, 2);
    assert!(v2.seq > v1.seq, "change-log positions grow");
    let b = body(store, "Patient", "h1");
    assert_eq!(b["meta"]["versionId"], "2");
    assert!(b["meta"]["lastUpdated"]
        .as_str()
        .unwrap()
        .starts_with("2026-01-01T"));
    let old: Value = serde_json::from_str(
        store
            .vread(&store::Access::system(), "Patient", "h1", 1)
            .unwrap()
            .unwrap()
            .body
            .as_deref()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(old["active"], true);
    let (hist, total) = store
        .history(
            &store::Access::system(),
            &store::HistoryQuery {
                scope: store::HistoryScope::Instance("Patient".into(), "h1".into()),
                since: None,
                count: 10,
                offset: 0,
            },
        )
        .unwrap();
    assert_eq!((hist.len(), total, hist[0].version), (2, 2, 2));

    // If-Match.
    let conflict = one(
        store,
        WriteOp::Update {
            rtype: "Patient".into(),
            id: "h1".into(),
            resource: json!({"resourceType": "Patient", "id": "h1"}),
            if_match: Some("1".into()),
        },
    );
    assert!(
        matches!(conflict, Err(StoreError::VersionConflict { .. })),
        "{conflict:?}"
    );

    // Delete keeps history; a deleted resource reads as a deletion and leaves search.
    let Ok(Outcome::Deleted(Some(d))) = one(
        store,
        WriteOp::Delete {
            rtype: "Patient".into(),
            id: "h1".into(),
        },
    ) else {
        panic!("deleted")
    };
    assert_eq!(d.version, 3);
    assert_eq!(
        store
            .read(&store::Access::system(), "Patient", "h1")
            .unwrap()
            .unwrap()
            .op,
        Op::Delete
    );
    assert!(store
        .vread(&store::Access::system(), "Patient", "h1", 2)
        .unwrap()
        .is_some());
    assert!(matches!(
        one(
            store,
            WriteOp::Delete {
                rtype: "Patient".into(),
                id: "h1".into()
            }
        ),
        Ok(Outcome::Deleted(None))
    ));
    assert!(ids(store, "Patient", "_id=h1").is_empty());

    seed(store);

    // Search: every parameter type, prefixes and modifiers.
    assert_eq!(
        ids(store, "Patient", "name=zoe"),
        vec!["p1"],
        "accent-insensitive prefix"
    );
    assert_eq!(ids(store, "Patient", "name:exact=Smith"), vec!["p2"]);
    assert!(ids(store, "Patient", "name:exact=smith").is_empty());
    assert_eq!(ids(store, "Patient", "name:contains=mit"), vec!["p2"]);
    assert_eq!(ids(store, "Patient", "gender=female"), vec!["p1"]);
    assert_eq!(ids(store, "Patient", "gender:not=female"), vec!["p2"]);
    assert_eq!(ids(store, "Patient", "identifier=urn:mrn|222"), vec!["p2"]);
    assert_eq!(ids(store, "Patient", "birthdate=lt1960"), vec!["p1"]);
    assert_eq!(ids(store, "Patient", "birthdate=1980-11"), vec!["p2"]);
    assert_eq!(
        ids(
            store,
            "Patient",
            "birthdate=ge1980-11-30&birthdate=le1980-11-30"
        ),
        vec!["p2"]
    );
    assert_eq!(
        ids(store, "Patient", "organization:missing=true"),
        vec!["p1"]
    );
    assert_eq!(
        ids(store, "Observation", "code=http://loinc.org|9279-1"),
        vec!["o3"]
    );
    assert_eq!(
        ids(store, "Observation", "code:text=heart&subject=Patient/p2"),
        vec!["o4"]
    );
    assert_eq!(
        ids(store, "Observation", "value-quantity=gt100"),
        vec!["o2"]
    );
    assert_eq!(ids(store, "Observation", "value-quantity=72"), vec!["o0"]);
    assert_eq!(
        ids(
            store,
            "Observation",
            "value-quantity=ap95|http://unitsofmeasure.org|/min"
        ),
        vec!["o1"]
    );
    assert_eq!(
        ids(store, "Observation", "date=sa2026-01-02&subject=p1"),
        vec!["o2"]
    );
    assert_eq!(
        ids(
            store,
            "Observation",
            "component-code-value-quantity=http://loinc.org|8480-6$gt140"
        ),
        vec!["bp"]
    );
    assert!(ids(
        store,
        "Observation",
        "component-code-value-quantity=http://loinc.org|8480-6$lt140"
    )
    .is_empty());

    // Sorting, paging, totals.
    assert_eq!(
        ids(
            store,
            "Observation",
            "subject=Patient/p1&code=8867-4&_sort=-date&_count=2"
        ),
        vec!["o2", "o1"]
    );
    let mut query = q(
        "Observation",
        "subject=Patient/p1&code=8867-4&_sort=-date&_count=2",
    );
    query.offset = 2;
    let page2 = store.search(&store::Access::system(), &query).unwrap();
    assert_eq!(
        page2
            .matches
            .iter()
            .map(|h| h.id.as_str())
            .collect::<Vec<_>>(),
        vec!["o0"]
    );
    assert!(!page2.has_more);
    let first = store
        .search(
            &store::Access::system(),
            &q("Observation", "subject=Patient/p1&_count=2&_total=accurate"),
        )
        .unwrap();
    assert_eq!((first.total, first.has_more), (Some(4), true));
    assert_eq!(
        store
            .search(
                &store::Access::system(),
                &q("Observation", "_summary=count")
            )
            .unwrap()
            .total,
        Some(6)
    );
    assert_eq!(ids(store, "Patient", "_sort=-birthdate"), vec!["p2", "p1"]);
    assert_eq!(
        ids(store, "Patient", "gender=female,male&_sort=family"),
        vec!["p2", "p1"]
    );

    // Chaining, reverse chaining, includes.
    assert_eq!(
        ids(store, "Observation", "subject.name=smith"),
        vec!["o4", "bp"]
    );
    assert_eq!(
        ids(
            store,
            "Observation",
            "subject:Patient.identifier=urn:mrn|111&code=9279-1"
        ),
        vec!["o3"]
    );
    assert_eq!(
        ids(store, "Patient", "_has:Observation:subject:code=9279-1"),
        vec!["p1"]
    );
    let inc = store
        .search(
            &store::Access::system(),
            &q(
                "Observation",
                "_id=o4&_include=Observation:subject&_include:iterate=Patient:organization",
            ),
        )
        .unwrap();
    let mut included: Vec<String> = inc
        .included
        .iter()
        .map(|h| format!("{}/{}", h.rtype, h.id))
        .collect();
    included.sort();
    assert_eq!(included, vec!["Organization/o1", "Patient/p2"]);
    let rev = store
        .search(
            &store::Access::system(),
            &q("Patient", "_id=p2&_revinclude=Observation:subject"),
        )
        .unwrap();
    assert_eq!(rev.included.len(), 2);

    // Conditional create matches instead of creating; ambiguity is refused.
    let c = one(
        store,
        WriteOp::Create {
            resource: json!({"resourceType": "Patient"}),
            id: "new1".into(),
            if_none_exist: Some(q("Patient", "identifier=urn:mrn|111")),
        },
    )
    .unwrap();
    assert!(matches!(c, Outcome::Exists(ref v) if v.id == "p1"));
    let amb = one(
        store,
        WriteOp::Create {
            resource: json!({"resourceType": "Patient"}),
            id: "new2".into(),
            if_none_exist: Some(q("Patient", "identifier=urn:mrn|")),
        },
    );
    assert!(matches!(amb, Err(StoreError::MultipleMatches { .. })));

    // Conditional update, patch.
    let u = one(store, WriteOp::ConditionalUpdate { query: q("Patient", "identifier=urn:mrn|222"), resource: json!({"resourceType": "Patient", "gender": "other", "identifier": [{"system": "urn:mrn", "value": "222"}]}), new_id: "x".into(), if_match: None }).unwrap();
    assert!(matches!(u, Outcome::Updated(ref v) if v.id == "p2"));
    let p = one(
        store,
        WriteOp::Patch {
            rtype: "Patient".into(),
            id: "p2".into(),
            patch: json!([{"op": "replace", "path": "/gender", "value": "male"}]),
            if_match: None,
        },
    )
    .unwrap();
    assert!(matches!(p, Outcome::Updated(ref v) if v.version == 3));
    assert_eq!(body(store, "Patient", "p2")["gender"], "male");
    let bad = one(
        store,
        WriteOp::Patch {
            rtype: "Patient".into(),
            id: "p2".into(),
            patch: json!([{"op": "replace", "path": "/gender", "value": "bogus"}]),
            if_match: None,
        },
    );
    assert!(
        matches!(bad, Err(StoreError::PatchedInvalid { .. })),
        "{bad:?}"
    );

    // Transactions: urn:uuid rewriting; all or nothing.
    let entries = vec![
        Entry {
            full_url: Some("urn:uuid:aaa".into()),
            op: WriteOp::Create {
                resource: json!({"resourceType": "Patient", "name": [{"family": "Tx"}]}),
                id: "txp".into(),
                if_none_exist: None,
            },
        },
        Entry {
            full_url: None,
            op: WriteOp::Create {
                resource: json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "subject": {"reference": "urn:uuid:aaa"}}),
                id: "txo".into(),
                if_none_exist: None,
            },
        },
        Entry {
            full_url: None,
            op: WriteOp::Create {
                resource: json!({"resourceType": "Observation", "status": "final", "code": {"text": "y"}, "subject": {"reference": "Patient?identifier=urn:mrn|111"}}),
                id: "txo2".into(),
                if_none_exist: None,
            },
        },
    ];
    store
        .write(&store::Access::system(), entries, Mode::Atomic)
        .unwrap()
        .into_iter()
        .for_each(|r| assert!(r.is_ok()));
    assert_eq!(
        body(store, "Observation", "txo")["subject"]["reference"],
        "Patient/txp"
    );
    assert_eq!(
        body(store, "Observation", "txo2")["subject"]["reference"],
        "Patient/p1"
    );
    let before = store.changes(0, 100_000).unwrap().len();
    let failing = vec![
        Entry {
            full_url: None,
            op: WriteOp::Update {
                rtype: "Patient".into(),
                id: "atomic1".into(),
                resource: json!({"resourceType": "Patient", "id": "atomic1"}),
                if_match: None,
            },
        },
        Entry {
            full_url: None,
            op: WriteOp::Update {
                rtype: "Patient".into(),
                id: "p1".into(),
                resource: json!({"resourceType": "Patient", "id": "p1"}),
                if_match: Some("99".into()),
            },
        },
    ];
    assert!(matches!(
        store.write(&store::Access::system(), failing, Mode::Atomic),
        Err(StoreError::VersionConflict { .. })
    ));
    assert!(
        store
            .read(&store::Access::system(), "Patient", "atomic1")
            .unwrap()
            .is_none(),
        "a failed transaction writes nothing"
    );
    assert_eq!(
        store.changes(0, 100_000).unwrap().len(),
        before,
        "nor does it touch the change log"
    );
    // A batch commits the entries that succeed.
    let batch = vec![
        Entry {
            full_url: None,
            op: WriteOp::Update {
                rtype: "Patient".into(),
                id: "b1".into(),
                resource: json!({"resourceType": "Patient", "id": "b1"}),
                if_match: None,
            },
        },
        Entry {
            full_url: None,
            op: WriteOp::Update {
                rtype: "Patient".into(),
                id: "p1".into(),
                resource: json!({"resourceType": "Patient", "id": "p1"}),
                if_match: Some("99".into()),
            },
        },
    ];
    let r = store
        .write(&store::Access::system(), batch, Mode::Independent)
        .unwrap();
    assert!(r[0].is_ok() && r[1].is_err());
    assert!(store
        .read(&store::Access::system(), "Patient", "b1")
        .unwrap()
        .is_some());

    // The change log: ordered, complete, resumable from a checkpoint.
    let all = store.changes(0, 100_000).unwrap();
    assert!(all.windows(2).all(|w| w[0].seq < w[1].seq));
    assert_eq!(
        all.len(),
        store
            .history(
                &store::Access::system(),
                &store::HistoryQuery {
                    scope: store::HistoryScope::System,
                    since: None,
                    count: 1,
                    offset: 0
                }
            )
            .unwrap()
            .1
    );
    store.save_checkpoint("test-consumer", all[5].seq).unwrap();
    let cp = store.checkpoint("test-consumer").unwrap();
    assert_eq!(cp, all[5].seq);
    assert_eq!(store.changes(cp, 100_000).unwrap().len(), all.len() - 6);
    assert_eq!(store.checkpoint("nobody").unwrap(), 0);

    // Concurrent writers are all durable, each once.
    std::thread::scope(|s| {
        for t in 0..8 {
            s.spawn(move || {
                for i in 0..25 {
                    put(
                        store,
                        json!({"resourceType": "Patient", "id": format!("c{t}-{i}")}),
                    );
                }
            });
        }
    });
    let n = store
        .counts()
        .unwrap()
        .into_iter()
        .find(|(t, _)| t == "Patient")
        .unwrap()
        .1;
    assert!(n >= 200, "{n}");

    // Compartment.
    let comp = store.compartment(&store::Access::system(), "p2").unwrap();
    assert!(comp.iter().any(|h| h.id == "bp") && comp.iter().all(|h| h.id != "o0"));
    compartment_search(store);
    audit(store, 0);
}

/// Compartment search (`Patient/p1/Observation?...`): the type's resources in the
/// patient's compartment, with the search's own parameters and paging, and as far as the
/// caller reaches.
fn compartment_search(store: &dyn Store) {
    let within = |patient: &str, rtype: &str, query: &str, access: &store::Access| {
        let mut ids: Vec<String> = store
            .search(access, &q(rtype, query).in_patient_compartment(patient))
            .expect("search")
            .matches
            .into_iter()
            .map(|h| h.id)
            .collect();
        ids.sort();
        ids
    };
    let system = store::Access::system();
    // The Observations about each patient (the suite wrote more than the seed's).
    let about = |p: &str| {
        let mut v = ids(
            store,
            "Observation",
            &format!("subject=Patient/{p}&_count=1000"),
        );
        v.sort();
        v
    };
    assert!(about("p1").len() >= 4 && about("p2").contains(&"bp".to_string()));
    assert_eq!(
        within("p1", "Observation", "_count=1000", &system),
        about("p1")
    );
    assert_eq!(
        within("p2", "Observation", "_count=1000", &system),
        about("p2")
    );
    assert_eq!(within("p1", "Observation", "code=9279-1", &system), ["o3"]);
    assert_eq!(within("p1", "Patient", "", &system), ["p1"]);
    assert!(within("p2", "Organization", "", &system).is_empty());
    assert!(within("nobody", "Observation", "", &system).is_empty());
    let page = store
        .search(
            &system,
            &q("Observation", "_count=3&_sort=date").in_patient_compartment("p1"),
        )
        .unwrap();
    assert_eq!(page.matches.len(), 3);
    assert!(page.has_more);
    // A caller who reaches p2 alone finds nothing in p1's compartment, all of p2's.
    let nurse = nurse_reaching("p2");
    assert!(within("p1", "Observation", "", &nurse).is_empty());
    assert_eq!(
        within("p2", "Observation", "_count=1000", &nurse),
        about("p2")
    );
}

/// A nurse who reaches one patient.
fn nurse_reaching(patient: &str) -> store::Access {
    store::Access::caller(
        access::Principal {
            id: "n".into(),
            name: "N".into(),
            role: access::Role::Nurse,
            practitioner: None,
            wards: vec![],
            organization: None,
            scopes: None,
            via: access::Via::Session,
        },
        store::Reach::Patients([patient.to_string()].into_iter().collect()),
        None,
    )
}

fn audit_event(id: &str) -> Value {
    json!({"resourceType": "AuditEvent", "id": id,
        "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-event-type", "code": "rest"},
        "action": "R", "recorded": "2026-01-01T00:00:00Z", "outcome": "0",
        "agent": [{"who": {"display": "tester"}, "requestor": true}],
        "source": {"observer": {"display": "Tend"}},
        "entity": [{"what": {"reference": "Patient/p1"}}]})
}

/// Every AuditEvent in append order, verified.
fn audit_report(store: &dyn Store) -> store::audit::Report {
    let mut bodies = Vec::new();
    let mut cursor = 0;
    loop {
        let (hits, next) = store.scan("AuditEvent", cursor, 100).unwrap();
        if hits.is_empty() {
            break;
        }
        bodies.extend(hits.into_iter().map(|h| h.body));
        cursor = next;
    }
    store::audit::verify(bodies.iter().map(String::as_str))
}

/// Audit events are linked in commit order and are append-only for everyone.
fn audit(store: &dyn Store, first: usize) {
    std::thread::scope(|s| {
        for t in 0..3 {
            s.spawn(move || {
                for i in 0..4 {
                    store
                        .audit(vec![audit_event(&format!("ae-{first}-{t}-{i}"))])
                        .unwrap();
                }
            });
        }
    });
    // A synchronous write after them: the queue is in order, so they are committed.
    put(
        store,
        json!({"resourceType": "Patient", "id": format!("after-audit-{first}")}),
    );
    let r = audit_report(store);
    assert_eq!(r.broken, None, "{r:?}");
    assert_eq!(r.linked, first + 12);
    assert_eq!(r.head.as_ref().unwrap().sequence as usize, first + 12);
    let id = format!("ae-{first}-0-0");
    let changed = one(
        store,
        WriteOp::Update {
            rtype: "AuditEvent".into(),
            id: id.clone(),
            resource: audit_event(&id),
            if_match: None,
        },
    );
    assert!(
        matches!(&changed, Err(StoreError::BadRequest(m)) if m.contains("append-only")),
        "{changed:?}"
    );
    let deleted = one(
        store,
        WriteOp::Delete {
            rtype: "AuditEvent".into(),
            id: id.clone(),
        },
    );
    assert!(
        matches!(&deleted, Err(StoreError::BadRequest(m)) if m.contains("append-only")),
        "{deleted:?}"
    );
    let patched = one(
        store,
        WriteOp::Patch {
            rtype: "AuditEvent".into(),
            id: id.clone(),
            patch: json!([{"op": "replace", "path": "/outcome", "value": "8"}]),
            if_match: None,
        },
    );
    assert!(patched.is_err(), "{patched:?}");
    let body: Value = serde_json::from_str(
        &store
            .read(&store::Access::system(), "AuditEvent", &id)
            .unwrap()
            .unwrap()
            .body
            .unwrap(),
    )
    .unwrap();
    let forged = one(
        store,
        WriteOp::Update {
            rtype: "AuditEvent".into(),
            id: format!("forged-{first}"),
            resource: json!({"resourceType": "AuditEvent", "id": format!("forged-{first}"), "extension": body["extension"].clone(), "type": body["type"].clone(), "recorded": "2026-01-01T00:00:00Z", "agent": body["agent"].clone(), "source": body["source"].clone()}),
            if_match: None,
        },
    );
    assert!(
        matches!(&forged, Err(StoreError::BadRequest(m)) if m.contains("audit-chain")),
        "{forged:?}"
    );
    // Another system's own AuditEvent is accepted, unlinked.
    put(
        store,
        json!({"resourceType": "AuditEvent", "id": format!("external-{first}"), "type": body["type"].clone(), "recorded": "2026-01-01T00:00:00Z", "agent": body["agent"].clone(), "source": body["source"].clone()}),
    );
    let r = audit_report(store);
    assert_eq!((r.linked, r.broken.is_none()), (first + 12, true));

    // One refused event (its id is taken: audit records are never replaced) costs the others
    // recorded with it neither their record nor their place in the chain.
    store
        .audit_durable(vec![
            audit_event(&format!("ae-{first}-before")),
            audit_event(&id),
            audit_event(&format!("ae-{first}-after")),
        ])
        .unwrap();
    let r = audit_report(store);
    assert_eq!((r.linked, r.broken.clone()), (first + 14, None), "{r:?}");
    for kept in ["before", "after"] {
        let id = format!("ae-{first}-{kept}");
        assert!(store
            .read(&store::Access::system(), "AuditEvent", &id)
            .unwrap()
            .is_some());
    }
}

/// The audit trail is searched, read and included like any resource, from its log: by
/// patient, agent, user name, subtype and date, with counts, sorting, `_revinclude` onto the
/// patient, history and vread; what the log cannot answer is refused by name, and someone
/// without the audit permission is refused.
fn audit_search(store: &dyn Store) {
    let event = |id: &str, patient: &str, when: &str, btg: bool| {
        let mut subtype =
            vec![json!({"system": "http://hl7.org/fhir/restful-interaction", "code": "read"})];
        if btg {
            subtype.push(json!({"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "BTG"}));
        }
        json!({"resourceType": "AuditEvent", "id": id,
            "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-event-type", "code": "rest"},
            "subtype": subtype, "action": "R", "recorded": when, "outcome": "0",
            "agent": [{"who": {"reference": "Practitioner/as-pr"}, "altId": "as-nurse", "requestor": true}],
            "source": {"observer": {"display": "Tend"}},
            "entity": [{"what": {"reference": format!("Patient/{patient}")}}]})
    };
    store
        .audit_durable(vec![
            event("as-1", "as-p1", "2026-03-01T10:00:00Z", false),
            event("as-2", "as-p1", "2026-03-02T10:00:00Z", true),
            event("as-3", "as-p2", "2026-03-03T10:00:00Z", false),
        ])
        .unwrap();
    put(store, json!({"resourceType": "Patient", "id": "as-p1"}));
    assert_eq!(
        ids(store, "AuditEvent", "patient=Patient/as-p1&_sort=-date"),
        ["as-2", "as-1"]
    );
    assert_eq!(
        ids(
            store,
            "AuditEvent",
            "patient=as-p1,as-p2&date=ge2026-03-02&_sort=date"
        ),
        ["as-2", "as-3"]
    );
    assert_eq!(
        ids(
            store,
            "AuditEvent",
            "subtype=http://terminology.hl7.org/CodeSystem/v3-ActReason|BTG&altid=as-nurse"
        ),
        ["as-2"]
    );
    assert_eq!(
        ids(
            store,
            "AuditEvent",
            "agent=Practitioner/as-pr&entity=Patient/as-p2"
        ),
        ["as-3"]
    );
    let system = store::Access::system();
    let counted = store
        .search(&system, &q("AuditEvent", "altid=as-nurse&_summary=count"))
        .unwrap();
    assert_eq!(counted.total, Some(3));
    let page = store
        .search(
            &system,
            &q("Patient", "_id=as-p1&_revinclude=AuditEvent:patient"),
        )
        .unwrap();
    let mut included: Vec<String> = page.included.iter().map(|h| h.id.clone()).collect();
    included.sort();
    assert_eq!(included, ["as-1", "as-2"]);
    let page = store
        .search(
            &system,
            &q("AuditEvent", "_id=as-3&_include=AuditEvent:patient"),
        )
        .unwrap();
    assert!(page.included.is_empty(), "as-p2 was never stored");
    let refused = store.search(&system, &q("AuditEvent", "entity-name=x"));
    assert!(
        matches!(&refused, Err(StoreError::BadRequest(m)) if m.contains("AuditEvent searches take")),
        "{refused:?}"
    );
    let (versions, total) = store
        .history(
            &system,
            &store::HistoryQuery {
                scope: store::HistoryScope::Instance("AuditEvent".into(), "as-1".into()),
                since: None,
                count: 10,
                offset: 0,
            },
        )
        .unwrap();
    assert_eq!((versions.len(), total), (1, 1));
    assert!(store
        .vread(&system, "AuditEvent", "as-1", 1)
        .unwrap()
        .is_some());
    assert!(store
        .vread(&system, "AuditEvent", "as-1", 2)
        .unwrap()
        .is_none());
    let nurse = nurse_reaching("as-p1");
    assert!(matches!(
        store.search(&nurse, &q("AuditEvent", "patient=as-p1")),
        Err(StoreError::Forbidden { .. })
    ));
    let page = store
        .search(
            &nurse,
            &q("Patient", "_id=as-p1&_revinclude=AuditEvent:patient"),
        )
        .unwrap();
    assert_eq!((page.matches.len(), page.included.len()), (1, 0));
}

/// Keyed records: set, replace, list by space, remove; with an audit event in the same commit.
fn keyed(store: &dyn Store) {
    store
        .keyed_put(
            vec![
                ("account".into(), "nurse".into(), Some("{\"v\":1}".into())),
                ("account".into(), "admin".into(), Some("{\"v\":2}".into())),
                ("session".into(), "nurse".into(), Some("s".into())),
            ],
            vec![],
        )
        .unwrap();
    store
        .keyed_put(
            vec![("account".into(), "nurse".into(), Some("{\"v\":3}".into()))],
            vec![],
        )
        .unwrap();
    assert_eq!(
        store.keyed_get("account", "nurse").unwrap().as_deref(),
        Some("{\"v\":3}")
    );
    assert_eq!(
        store.keyed_list("account").unwrap(),
        vec![
            ("admin".to_string(), "{\"v\":2}".to_string()),
            ("nurse".to_string(), "{\"v\":3}".to_string())
        ]
    );
    store
        .keyed_put(vec![("session".into(), "nurse".into(), None)], vec![])
        .unwrap();
    assert_eq!(store.keyed_get("session", "nurse").unwrap(), None);
    assert!(store.keyed_list("session").unwrap().is_empty());
}

/// Canonical references searched with and without a version (`url|version`).
fn canonical(store: &dyn Store) {
    for (id, q) in [
        ("qr-v2", "http://example.org/Questionnaire/phq|2.0"),
        ("qr-v1", "http://example.org/Questionnaire/phq|1.0"),
        ("qr-other", "http://example.org/Questionnaire/phq_9"),
    ] {
        put(
            store,
            json!({"resourceType": "QuestionnaireResponse", "id": id, "status": "completed", "questionnaire": q}),
        );
    }
    assert_eq!(
        ids(
            store,
            "QuestionnaireResponse",
            "questionnaire=http://example.org/Questionnaire/phq%7C2.0"
        ),
        ["qr-v2"]
    );
    let mut any = ids(
        store,
        "QuestionnaireResponse",
        "questionnaire=http://example.org/Questionnaire/phq",
    );
    any.sort();
    assert_eq!(
        any,
        ["qr-v1", "qr-v2"],
        "every version, not another questionnaire"
    );
}

/// Bulk Data export pages: every resource once across pages, scoped to patients'
/// compartments, limited by `_since` and the transaction time, and by the caller's reach.
fn export(store: &dyn Store) {
    let page = |access: &store::Access, rtype: &str, scope: store::ExportScope, since, upto| {
        let mut out = Vec::new();
        let mut after = 0;
        loop {
            let (hits, next) = store
                .export(
                    access,
                    &store::ExportQuery {
                        rtype: rtype.into(),
                        after,
                        limit: 2,
                        since,
                        upto,
                        scope: scope.clone(),
                    },
                )
                .expect("export page");
            if hits.is_empty() {
                break;
            }
            assert!(next > after, "the cursor moves on");
            after = next;
            out.extend(hits.into_iter().map(|h| h.id));
        }
        out.sort();
        out
    };
    let system = store::Access::system();
    let all = |rtype: &str| {
        let mut v = ids(store, rtype, "_count=1000");
        v.sort();
        v
    };
    let never = i64::MAX;
    assert_eq!(
        page(
            &system,
            "Observation",
            store::ExportScope::Everything,
            None,
            never
        ),
        all("Observation")
    );
    assert_eq!(
        page(
            &system,
            "Patient",
            store::ExportScope::AnyPatient,
            None,
            never
        ),
        all("Patient")
    );
    assert!(page(
        &system,
        "Organization",
        store::ExportScope::AnyPatient,
        None,
        never
    )
    .is_empty());
    assert!(!page(
        &system,
        "Organization",
        store::ExportScope::Everything,
        None,
        never
    )
    .is_empty());
    let mut of_p2 = ids(store, "Observation", "subject=Patient/p2&_count=1000");
    of_p2.sort();
    assert_eq!(
        page(
            &system,
            "Observation",
            store::ExportScope::Patients(vec!["p2".into()]),
            None,
            never
        ),
        of_p2
    );
    // A caller who reaches p2 alone exports p2's Observations, whatever the scope.
    let nurse = nurse_reaching("p2");
    assert_eq!(
        page(
            &nurse,
            "Observation",
            store::ExportScope::Everything,
            None,
            never
        ),
        of_p2
    );
    // `_since` and the transaction time, from a reading written now.
    let late = put(
        store,
        json!({"resourceType": "Observation", "id": "export-late", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
            "subject": {"reference": "Patient/p1"}}),
    );
    let at = late.version().unwrap().last_updated;
    // What each Observation's own `meta.lastUpdated` says about the bounds.
    let changed = |id: &String| {
        body(store, "Observation", id)["meta"]["lastUpdated"]
            .as_str()
            .map(|t| {
                chrono::DateTime::parse_from_rfc3339(t)
                    .unwrap()
                    .timestamp_millis()
            })
            .unwrap()
    };
    let (mut at_or_after, mut earlier): (Vec<String>, Vec<String>) = all("Observation")
        .into_iter()
        .partition(|id| changed(id) >= at);
    at_or_after.sort();
    earlier.sort();
    assert!(at_or_after.contains(&"export-late".to_string()) && !earlier.is_empty());
    assert_eq!(
        page(
            &system,
            "Observation",
            store::ExportScope::Everything,
            Some(at - 1),
            never
        ),
        at_or_after
    );
    // The snapshot ends at the newest position: the reading is in it; a snapshot taken just
    // before it was written is not.
    let (head, head_time) = store.export_snapshot().unwrap().unwrap();
    let seq = late.version().unwrap().seq;
    assert!(head >= seq && head_time >= at);
    let upto: Vec<String> = all("Observation")
        .into_iter()
        .filter(|id| id != "export-late")
        .collect();
    assert_eq!(
        page(
            &system,
            "Observation",
            store::ExportScope::Everything,
            None,
            seq - 1
        ),
        upto
    );
    // The audit trail is searched, not exported.
    assert!(store
        .export(
            &system,
            &store::ExportQuery {
                rtype: "AuditEvent".into(),
                after: 0,
                limit: 10,
                since: None,
                upto: never,
                scope: store::ExportScope::Everything,
            }
        )
        .is_err());
}

#[test]
fn sqlite_conformance() {
    let dir = std::env::temp_dir().join(format!("tend-conf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("conf.db").display());
    let store = store::open(&url, options()).expect("open sqlite");
    suite(&*store);
    keyed(&*store);
    drop(store);
    // Reopening sees everything that was acknowledged.
    let store = store::open(&url, options()).expect("reopen sqlite");
    assert!(store
        .read(&store::Access::system(), "Patient", "b1")
        .unwrap()
        .is_some());
    assert!(store.keyed_get("account", "admin").unwrap().is_some());
    // The chain continues from the head the database holds.
    audit(&*store, 14);
    audit_search(&*store);
    canonical(&*store);
    export(&*store);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn postgres_conformance() {
    let pg = store::TempPostgres::start()
        .expect("start a throwaway PostgreSQL cluster (install the postgresql package)");
    let url = pg.create_database("tend_conformance").unwrap();
    let store = store::open(&url, options()).expect("open postgres");
    suite(&*store);
    keyed(&*store);
    drop(store);
    let store = store::open(&url, options()).expect("reopen postgres");
    assert!(store
        .read(&store::Access::system(), "Patient", "b1")
        .unwrap()
        .is_some());
    assert!(store.keyed_get("account", "admin").unwrap().is_some());
    audit(&*store, 14);
    audit_search(&*store);
    canonical(&*store);
    export(&*store);
}
