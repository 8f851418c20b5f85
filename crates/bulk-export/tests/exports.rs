//! Export jobs over a real (SQLite) store: what each level holds, what a caller's reach
//! leaves out, `_since` and `_typeFilter`, files split by size with their patients listed,
//! one owner per job, cancellation, and a restart in the middle of a job.

use std::collections::BTreeMap;
use std::sync::Arc;

use access::{Access, Principal, Reach, Role, Via};
use bulk_export::{Config, Exports, Job, Level, Request, State, TypeFilter};
use serde_json::{json, Value};
use store::{Entry, Mode, Store};

fn principal(id: &str, role: Role, via: Via) -> Principal {
    Principal {
        id: id.into(),
        name: format!("Test {id}"),
        role,
        practitioner: None,
        wards: vec![],
        organization: None,
        scopes: None,
        via,
    }
}

fn service() -> Principal {
    principal("warehouse", Role::IntegrationService, Via::Smart)
}

fn put(store: &dyn Store, r: Value) {
    store
        .write(
            &Access::system(),
            vec![Entry::put(r).unwrap()],
            Mode::Atomic,
        )
        .unwrap();
}

fn obs(id: &str, patient: &str, code: &str) -> Value {
    json!({"resourceType": "Observation", "id": id, "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
        "subject": {"reference": format!("Patient/{patient}")},
        "valueQuantity": {"value": 80, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"}})
}

fn hospital() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = store::open(
        &format!("sqlite://{}", dir.path().join("export.db").display()),
        store::Options {
            clock: Arc::new(store::SystemClock),
            indexer: Arc::new(search::Indexer::new(search::Registry::r4()).unwrap()),
            readers: 2,
        },
    )
    .unwrap();
    for p in ["p1", "p2", "p3"] {
        put(
            &*store,
            json!({"resourceType": "Patient", "id": p, "gender": "female"}),
        );
    }
    put(
        &*store,
        json!({"resourceType": "Organization", "id": "org1", "name": "Tend General"}),
    );
    for (i, (p, code)) in [
        ("p1", "8867-4"),
        ("p1", "9279-1"),
        ("p1", "8867-4"),
        ("p2", "8867-4"),
        ("p3", "9279-1"),
    ]
    .iter()
    .enumerate()
    {
        put(&*store, obs(&format!("o{i}"), p, code));
    }
    put(
        &*store,
        json!({"resourceType": "Group", "id": "g1", "type": "person", "actual": true,
            "member": [{"entity": {"reference": "Patient/p1"}},
                       {"entity": {"reference": "Patient/p2"}, "inactive": true},
                       {"entity": {"reference": "Patient/p3"}}]}),
    );
    (store, dir)
}

fn request(level: Level) -> Request {
    Request::new(level)
}

/// Run an export to completion; the ids per type, read back from its files.
fn export(
    exports: &Arc<Exports>,
    who: &Principal,
    access: Access,
    req: Request,
) -> (Job, BTreeMap<String, Vec<String>>) {
    let job = exports
        .kick_off(
            who,
            Arc::new(access),
            req,
            "http://tend.test/fhir/$export".into(),
        )
        .unwrap();
    let job = exports.wait(&job.id, who).unwrap();
    assert_eq!(job.state, State::Complete, "{job:?}");
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for o in &job.outputs {
        let f = exports.file(&job.id, who, &o.file).unwrap();
        let text = std::fs::read_to_string(&f.path).unwrap();
        assert_eq!(text.lines().count() as u64, o.count, "{}", o.file);
        for line in text.lines() {
            let r: Value = serde_json::from_str(line).unwrap();
            assert_eq!(r["resourceType"], o.rtype.as_str());
            out.entry(o.rtype.clone())
                .or_default()
                .push(r["id"].as_str().unwrap().into());
        }
    }
    for v in out.values_mut() {
        v.sort();
    }
    (job, out)
}

fn open(store: &Arc<dyn Store>, dir: &std::path::Path, config: Config) -> Arc<Exports> {
    Exports::open(
        store.clone(),
        &dir.join("exports"),
        config,
        Arc::new(store::SystemClock),
    )
    .unwrap()
}

#[test]
fn each_level_holds_what_it_should_and_the_files_name_their_patients() {
    let (store, dir) = hospital();
    let exports = open(&store, dir.path(), Config::default());
    let who = service();
    let (job, all) = export(&exports, &who, Access::system(), request(Level::System));
    assert_eq!(
        all.keys().collect::<Vec<_>>(),
        ["Group", "Observation", "Organization", "Patient"]
    );
    assert_eq!(job.outputs[0].rtype, "Patient", "patients come first");
    assert_eq!(all["Observation"], ["o0", "o1", "o2", "o3", "o4"]);
    let obs_file = job
        .outputs
        .iter()
        .find(|o| o.rtype == "Observation")
        .unwrap();
    let f = exports.file(&job.id, &who, &obs_file.file).unwrap();
    assert_eq!(f.patients, ["p1", "p2", "p3"]);
    let org = job
        .outputs
        .iter()
        .find(|o| o.rtype == "Organization")
        .unwrap();
    assert!(exports
        .file(&job.id, &who, &org.file)
        .unwrap()
        .patients
        .is_empty());

    let (_, patients) = export(&exports, &who, Access::system(), request(Level::Patient));
    // The Group too: its members' compartments hold it (the R4 CompartmentDefinition).
    assert_eq!(
        patients.keys().collect::<Vec<_>>(),
        ["Group", "Observation", "Patient"]
    );
    assert_eq!(patients["Patient"], ["p1", "p2", "p3"]);

    // The group's active members only.
    let (_, group) = export(
        &exports,
        &who,
        Access::system(),
        request(Level::Group("g1".into())),
    );
    assert_eq!(group["Patient"], ["p1", "p3"]);
    assert_eq!(group["Observation"], ["o0", "o1", "o2", "o4"]);
    // Named patients (a POST kick-off's `patient`): only theirs, and of a group only members.
    let mut req = request(Level::Patient);
    req.patients = vec!["p2".into()];
    let (_, named) = export(&exports, &who, Access::system(), req);
    assert_eq!(named["Patient"], ["p2"]);
    assert_eq!(named["Observation"], ["o3"]);
    let mut req = request(Level::Group("g1".into()));
    req.patients = vec!["p1".into(), "p2".into()];
    let (_, named) = export(&exports, &who, Access::system(), req);
    assert_eq!(named["Patient"], ["p1"], "p2 is not an active member");
    let missing = exports.kick_off(
        &who,
        Arc::new(Access::system()),
        request(Level::Group("nope".into())),
        String::new(),
    );
    assert!(matches!(missing, Err(bulk_export::Error::NotFound(_))));
}

#[test]
fn a_caller_exports_only_what_they_reach() {
    let (store, dir) = hospital();
    let exports = open(&store, dir.path(), Config::default());
    let nurse = principal("nurse", Role::Nurse, Via::ApiToken);
    let reach = Reach::Patients(["p1".to_string()].into_iter().collect());
    let access = Access::caller(nurse.clone(), reach, None);
    let (_, got) = export(&exports, &nurse, access.clone(), request(Level::System));
    assert_eq!(got["Patient"], ["p1"]);
    assert_eq!(got["Observation"], ["o0", "o1", "o2"]);
    // Types the caller may not read are refused by name before anything runs.
    let mut req = request(Level::System);
    req.types = Some(vec!["MessageHeader".into()]);
    let refused = exports.kick_off(&nurse, Arc::new(access), req, String::new());
    assert!(
        matches!(refused, Err(bulk_export::Error::Forbidden(m)) if m.contains("MessageHeader"))
    );
}

#[test]
fn since_type_filters_and_file_size() {
    let (store, dir) = hospital();
    let exports = open(
        &store,
        dir.path(),
        Config {
            file_resources: 2,
            ..Config::default()
        },
    );
    let who = service();
    let (job, _) = export(&exports, &who, Access::system(), request(Level::System));
    let obs_files: Vec<u64> = job
        .outputs
        .iter()
        .filter(|o| o.rtype == "Observation")
        .map(|o| o.count)
        .collect();
    assert_eq!(obs_files, [2, 2, 1]);
    // A reading written after that export; the next export `_since` its transaction time
    // finds that and nothing the first one had.
    put(&*store, obs("late", "p2", "8867-4"));
    let mut req = request(Level::System);
    req.since = chrono::DateTime::from_timestamp_millis(job.transaction_time);
    let (_, since) = export(&exports, &who, Access::system(), req);
    assert_eq!(since.keys().collect::<Vec<_>>(), ["Observation"]);
    assert_eq!(since["Observation"], ["late"]);
    // A type filter narrows its type; other types are whole.
    let mut req = request(Level::Patient);
    req.filters = vec![TypeFilter {
        rtype: "Observation".into(),
        params: vec![("code".into(), "9279-1".into())],
    }];
    let (_, filtered) = export(&exports, &who, Access::system(), req);
    assert_eq!(filtered["Observation"], ["o1", "o4"]);
    assert_eq!(filtered["Patient"], ["p1", "p2", "p3"]);
}

#[test]
fn a_job_is_its_owners_and_ends_when_cancelled_or_interrupted() {
    let (store, dir) = hospital();
    let config = Config {
        per_owner: 1,
        ..Config::default()
    };
    let exports = open(&store, dir.path(), config.clone());
    let who = service();
    let (job, _) = export(&exports, &who, Access::system(), request(Level::System));
    let other = principal("warehouse", Role::Nurse, Via::ApiToken);
    assert!(matches!(
        exports.status(&job.id, &other),
        Err(bulk_export::Error::NotFound(_))
    ));
    let first = &job.outputs[0].file;
    assert!(exports.file(&job.id, &other, first).is_err());
    assert!(exports.file(&job.id, &who, "../export.db").is_err());
    let path = exports.file(&job.id, &who, first).unwrap().path;
    // The administrators' list shows it, newest first.
    let listed = exports.list().unwrap();
    assert_eq!(listed[0].job.id, job.id);
    assert_eq!(listed[0].job.state, State::Complete);
    exports.cancel(&job.id, &who).unwrap();
    assert!(!path.exists(), "the files go with the job");
    assert!(matches!(
        exports.status(&job.id, &who),
        Err(bulk_export::Error::NotFound(_))
    ));
    // A job another process is running: it counts against its owner, and its status is
    // that process's last word.
    let now = chrono::Utc::now().timestamp_millis();
    let mut elsewhere = Job {
        id: "elsewhere".into(),
        owner: bulk_export::owner_of(&who),
        request: request(Level::System),
        request_url: String::new(),
        snapshot: 0,
        transaction_time: 0,
        created: now,
        state: State::Running,
        outputs: vec![],
        finished: None,
        exported: 1234,
        current: Some("Observation".into()),
        heartbeat: now,
    };
    let keep = |job: &Job| {
        store
            .keyed_put(
                vec![(
                    bulk_export::job::SPACE.into(),
                    job.id.clone(),
                    Some(serde_json::to_string(job).unwrap()),
                )],
                vec![],
            )
            .unwrap()
    };
    keep(&elsewhere);
    let busy = exports.kick_off(
        &who,
        Arc::new(Access::system()),
        request(Level::System),
        String::new(),
    );
    assert!(matches!(busy, Err(bulk_export::Error::Busy(_))), "{busy:?}");
    let s = exports.status("elsewhere", &who).unwrap();
    assert_eq!(s.job.state, State::Running);
    assert_eq!(s.progress, "1234 resources exported; now Observation");
    // Once that process has been silent for a while, a restart reports the job failed,
    // and the owner may export again.
    elsewhere.heartbeat = now - 60_000;
    keep(&elsewhere);
    let reopened = open(&store, dir.path(), config);
    let s = reopened.status("elsewhere", &who).unwrap();
    assert_eq!(s.job.state, State::Failed(bulk_export::RESTARTED.into()));
    let (again, _) = export(&reopened, &who, Access::system(), request(Level::System));
    assert_eq!(again.state, State::Complete);
    // An administrator removes someone's export: gone for its owner too.
    let removed = reopened.remove(&again.id).unwrap();
    assert_eq!(removed.owner, bulk_export::owner_of(&who));
    assert!(matches!(
        reopened.status(&again.id, &who),
        Err(bulk_export::Error::NotFound(_))
    ));
    assert!(reopened
        .list()
        .unwrap()
        .iter()
        .all(|s| s.job.id != again.id));
}
