//! The early-warning loop end to end on a real (SQLite) store with a fixed clock:
//! readings in, sets grouped, scores stored, alerts raised, superseded, escalated,
//! answered and resolved, and evaluation resumed after a restart.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use early_warning::{Config, EarlyWarning, Hub};
use search::{Indexer, Registry, SearchQuery};
use serde_json::{json, Value};
use store::{Clock, Entry, Mode, Store, WriteOp};

/// 2026-11-24T08:00:00Z.
const T0: i64 = 1_795_507_200_000;
const MIN: i64 = 60_000;

struct TestClock(AtomicI64);

impl Clock for TestClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

struct World {
    _dir: tempfile::TempDir,
    path: String,
    store: Arc<dyn Store>,
    clock: Arc<TestClock>,
    ew: Arc<EarlyWarning>,
}

fn open(path: &str, clock: Arc<TestClock>) -> Arc<dyn Store> {
    store::open(
        &format!("sqlite://{path}"),
        store::Options {
            clock: clock.clone(),
            indexer: Arc::new(Indexer::new(Registry::r4()).unwrap()),
            readers: 2,
        },
    )
    .unwrap()
}

fn world(config: Config) -> World {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ew.db").to_string_lossy().into_owned();
    let clock = Arc::new(TestClock(AtomicI64::new(T0)));
    let store = open(&path, clock.clone());
    let ew = EarlyWarning::new(store.clone(), config, clock.clone());
    let w = World {
        _dir: dir,
        path,
        store,
        clock,
        ew,
    };
    w.put_all(vec![
        json!({"resourceType": "Location", "id": "ward-a", "name": "Ward A", "status": "active",
            "physicalType": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/location-physical-type", "code": "wa"}]}}),
        json!({"resourceType": "Location", "id": "bed-a1", "name": "A1", "status": "active", "partOf": {"reference": "Location/ward-a"},
            "physicalType": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/location-physical-type", "code": "bd"}]}}),
        json!({"resourceType": "Practitioner", "id": "doc"}),
        json!({"resourceType": "Patient", "id": "p1"}),
        json!({"resourceType": "Encounter", "id": "e1", "status": "in-progress",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
            "subject": {"reference": "Patient/p1"},
            "location": [{"location": {"reference": "Location/bed-a1", "display": "A1"}, "status": "active",
                "physicalType": {"coding": [{"code": "bd"}]}}]}),
    ]);
    w
}

impl World {
    fn put_all(&self, resources: Vec<Value>) {
        let entries = resources
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
        for r in self
            .store
            .write(&store::Access::system(), entries, Mode::Atomic)
            .unwrap()
        {
            r.unwrap();
        }
    }

    fn read(&self, rtype: &str, id: &str) -> Option<Value> {
        let v = self
            .store
            .read(&store::Access::system(), rtype, id)
            .unwrap()?;
        serde_json::from_str(v.body.as_deref()?).ok()
    }

    fn search(&self, rtype: &str, q: &str) -> Vec<Value> {
        let params: Vec<(String, String)> =
            form_urlencoded::parse(q.as_bytes()).into_owned().collect();
        let q = SearchQuery::parse(Registry::r4(), rtype, &params).unwrap();
        self.store
            .search(&store::Access::system(), &q)
            .unwrap()
            .matches
            .into_iter()
            .map(|h| serde_json::from_str(&h.body).unwrap())
            .collect()
    }

    fn news2(&self) -> Vec<Value> {
        self.search(
            "Observation",
            "code=http://snomed.info/sct|1104051000000101&subject=Patient/p1&_sort=date",
        )
    }

    fn at(&self, ms: i64) {
        self.clock.0.store(ms, Ordering::SeqCst);
    }
}

fn instant(ms: i64) -> String {
    search::format_instant(ms)
}

fn reading(id: &str, code: &str, value: Value, unit: &str, at: i64) -> Value {
    let mut o = json!({"resourceType": "Observation", "id": id, "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
        "subject": {"reference": "Patient/p1"}, "encounter": {"reference": "Encounter/e1"},
        "effectiveDateTime": instant(at)});
    if code == "67775-7" {
        o["valueCodeableConcept"] =
            json!({"coding": [{"system": "http://snomed.info/sct", "code": value}]});
    } else {
        o["valueQuantity"] =
            json!({"value": value, "system": "http://unitsofmeasure.org", "code": unit});
    }
    o
}

/// A full panel: rr, spo2, o2 flow (None: no oxygen reading), sbp, hr, ACVPU SNOMED, temp.
#[allow(clippy::too_many_arguments)]
fn panel(
    id: &str,
    at: i64,
    rr: i64,
    spo2: i64,
    o2: Option<f64>,
    sbp: i64,
    hr: i64,
    acvpu: &str,
    temp: f64,
) -> Vec<Value> {
    let mut v = vec![
        reading(&format!("{id}-rr"), "9279-1", json!(rr), "/min", at),
        reading(&format!("{id}-spo2"), "59408-5", json!(spo2), "%", at),
        reading(&format!("{id}-sbp"), "8480-6", json!(sbp), "mm[Hg]", at),
        reading(&format!("{id}-hr"), "8867-4", json!(hr), "/min", at),
        reading(&format!("{id}-avpu"), "67775-7", json!(acvpu), "", at),
        reading(&format!("{id}-temp"), "8310-5", json!(temp), "Cel", at),
    ];
    if let Some(f) = o2 {
        v.push(reading(
            &format!("{id}-o2"),
            "3151-8",
            json!(f),
            "L/min",
            at,
        ));
    }
    let members: Vec<Value> = v
        .iter()
        .map(|o| json!({"reference": format!("Observation/{}", o["id"].as_str().unwrap())}))
        .collect();
    v.push(
        json!({"resourceType": "Observation", "id": id, "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "85353-1"}]},
        "subject": {"reference": "Patient/p1"}, "encounter": {"reference": "Encounter/e1"},
        "effectiveDateTime": instant(at), "hasMember": members}),
    );
    v
}

fn band(o: &Value) -> &str {
    o["interpretation"][0]["coding"][0]["code"]
        .as_str()
        .unwrap()
}

fn open_alerts(w: &World) -> Vec<early_warning::AlertView> {
    w.ew.alerts(None, Some("Patient/p1"), false).unwrap()
}

#[test]
fn a_high_panel_raises_an_alert_that_escalates_and_is_answered() {
    let w = world(Config::default());
    w.put_all(panel(
        "vs1",
        T0 - 5 * MIN,
        25,
        91,
        Some(2.0),
        90,
        131,
        "422768004",
        35.0,
    ));
    w.ew.catch_up().unwrap();
    let scores = w.news2();
    assert_eq!(scores.len(), 1);
    let s = &scores[0];
    assert_eq!(s["status"], "final");
    assert_eq!(s["valueInteger"], 20);
    assert_eq!(band(s), "high");
    assert_eq!(s["derivedFrom"].as_array().unwrap().len(), 8);
    assert_eq!(s["effectiveDateTime"], instant(T0 - 5 * MIN));
    // qSOFA and SIRS of the same set.
    let q = w.search(
        "Observation",
        "code=https://tend.example.org/fhir/CodeSystem/early-warning|qsofa",
    );
    assert_eq!(q[0]["interpretation"][0]["coding"][0]["code"], "POS");
    let sirs = w.search(
        "Observation",
        "code=https://tend.example.org/fhir/CodeSystem/early-warning|sirs",
    );
    assert_eq!(sirs[0]["status"], "preliminary", "no white cell count yet");
    // One alert, open, for the rapid response team, due 30 min after the set.
    let alerts = open_alerts(&w);
    assert_eq!(alerts.len(), 1);
    let a = &alerts[0];
    assert_eq!(
        (a.band.as_str(), a.role.as_str()),
        ("high", "rapid-response-team")
    );
    assert_eq!(a.deadline, instant(T0 + 25 * MIN));
    assert_eq!(a.ward.as_deref(), Some("Location/ward-a"));
    let flag = w.read("Flag", &a.id).unwrap();
    assert_eq!(flag["status"], "active");
    // Re-running the same log changes nothing.
    w.ew.catch_up().unwrap();
    assert_eq!(
        w.read("Observation", s["id"].as_str().unwrap()).unwrap()["meta"]["versionId"],
        "1"
    );
    // Not acknowledged by the deadline: escalates, once per interval.
    w.at(T0 + 24 * MIN);
    assert_eq!(w.ew.escalate_due().unwrap(), 0);
    w.at(T0 + 26 * MIN);
    assert_eq!(w.ew.escalate_due().unwrap(), 1);
    assert_eq!(w.ew.escalate_due().unwrap(), 0);
    let a = w.ew.alert(&alerts[0].id).unwrap();
    assert!(a.overdue);
    assert_eq!(
        (a.role.as_str(), a.escalation_level),
        ("critical-care-outreach", 1)
    );
    // Answered.
    assert!(
        w.ew.resolve(&a.id, None, "Practitioner/doc").is_err(),
        "no response yet"
    );
    assert!(
        w.ew.acknowledge(&a.id, "Patient/p1").is_err(),
        "only clinicians act"
    );
    let a = w.ew.acknowledge(&a.id, "Practitioner/doc").unwrap();
    assert_eq!(a.acknowledged_by.as_deref(), Some("Practitioner/doc"));
    assert!(!a.overdue);
    w.at(T0 + 40 * MIN);
    assert_eq!(
        w.ew.escalate_due().unwrap(),
        0,
        "acknowledged alerts do not escalate"
    );
    assert!(w
        .ew
        .respond(&a.id, "phone-a-friend", None, "Practitioner/doc")
        .is_err());
    w.ew.respond(
        &a.id,
        "rapid-response-call",
        Some("RRT reviewed"),
        "Practitioner/doc",
    )
    .unwrap();
    let a =
        w.ew.resolve(&a.id, Some("transferred to HDU"), "Practitioner/doc")
            .unwrap();
    assert!(!a.open);
    assert_eq!(w.read("Flag", &a.id).unwrap()["status"], "inactive");
    assert!(open_alerts(&w).is_empty());
}

#[test]
fn loose_readings_group_by_window_and_rescore_their_set() {
    let w = world(Config::default());
    w.put_all(vec![reading("r1", "9279-1", json!(16), "/min", T0)]);
    w.put_all(vec![reading(
        "r2",
        "8867-4",
        json!(70),
        "/min",
        T0 + 4 * MIN,
    )]);
    w.ew.catch_up().unwrap();
    let s = w.news2();
    assert_eq!(s.len(), 1, "two readings within 10 minutes are one set");
    assert_eq!(s[0]["status"], "preliminary");
    assert!(s[0].get("valueInteger").is_none());
    assert_eq!(s[0]["derivedFrom"].as_array().unwrap().len(), 2);
    // The rest of the set arrives inside the window: the same score is updated.
    w.put_all(vec![
        reading("r3", "59408-5", json!(97), "%", T0 + 9 * MIN),
        reading("r4", "3151-8", json!(0), "L/min", T0 + 9 * MIN),
        reading("r5", "8480-6", json!(120), "mm[Hg]", T0 + 10 * MIN),
        reading("r6", "67775-7", json!("248234008"), "", T0 + 10 * MIN),
        reading("r7", "8310-5", json!(98.6), "[degF]", T0 + 10 * MIN),
    ]);
    w.ew.catch_up().unwrap();
    let s = w.news2();
    assert_eq!(s.len(), 1);
    assert_eq!(s[0]["status"], "final");
    assert_eq!(s[0]["valueInteger"], 0);
    assert_eq!(s[0]["meta"]["versionId"], "2");
    assert_eq!(s[0]["effectiveDateTime"], instant(T0 + 10 * MIN));
    // 10 min 1 s after the set's first reading: a new set.
    w.put_all(vec![reading(
        "r8",
        "9279-1",
        json!(26),
        "/min",
        T0 + 10 * MIN + 1000,
    )]);
    w.ew.catch_up().unwrap();
    let s = w.news2();
    assert_eq!(s.len(), 2);
    assert_eq!(
        band(&s[1]),
        "low-medium",
        "a partial set escalates on its minimum band"
    );
    assert_eq!(open_alerts(&w).len(), 1);
    // A reading entered in error is dropped from its set.
    let mut r8 = reading("r8", "9279-1", json!(26), "/min", T0 + 10 * MIN + 1000);
    r8["status"] = json!("entered-in-error");
    w.put_all(vec![r8]);
    w.ew.catch_up().unwrap();
    assert_eq!(
        w.news2().len(),
        1,
        "a set with no reading left has no score"
    );
}

#[test]
fn oxygen_absent_is_missing_unless_the_ward_means_air() {
    let w = world(Config::default());
    w.put_all(panel("vs1", T0, 16, 97, None, 120, 70, "248234008", 37.0));
    w.ew.catch_up().unwrap();
    let s = &w.news2()[0];
    assert_eq!(s["status"], "preliminary");
    let mut config = Config::default();
    config.air_when_absent.wards = vec!["Location/ward-a".into()];
    let w = world(config);
    w.put_all(panel("vs1", T0, 16, 97, None, 120, 70, "248234008", 37.0));
    w.ew.catch_up().unwrap();
    let s = &w.news2()[0];
    assert_eq!(s["status"], "final");
    assert_eq!(s["valueInteger"], 0);
    let basis = s["component"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["code"]["coding"][0]["code"] == "oxygen-basis")
        .unwrap();
    assert_eq!(
        basis["valueCodeableConcept"]["coding"][0]["code"],
        "assumed-air"
    );
}

#[test]
fn scale_two_needs_a_clinician_prescribed_goal() {
    let w = world(Config::default());
    let goal = |id: &str, by: &str| {
        json!({"resourceType": "Goal", "id": id, "lifecycleStatus": "active",
        "description": {"text": "SpO2 88-92%"}, "subject": {"reference": "Patient/p1"},
        "target": [{"measure": {"coding": [{"system": "http://loinc.org", "code": "59408-5"}]},
            "detailRange": {"low": {"value": 88, "unit": "%"}, "high": {"value": 92, "unit": "%"}}}],
        "expressedBy": {"reference": by}})
    };
    w.put_all(vec![goal("g1", "Patient/p1")]);
    w.put_all(panel(
        "vs1",
        T0,
        16,
        89,
        Some(2.0),
        120,
        70,
        "248234008",
        37.0,
    ));
    w.ew.catch_up().unwrap();
    assert_eq!(
        w.news2()[0]["valueInteger"],
        5,
        "scale 1: SpO2 89 scores 3, oxygen 2"
    );
    w.put_all(vec![goal("g2", "Practitioner/doc")]);
    w.put_all(panel(
        "vs2",
        T0 + 60 * MIN,
        16,
        89,
        Some(2.0),
        120,
        70,
        "248234008",
        37.0,
    ));
    w.ew.catch_up().unwrap();
    let s = &w.news2()[1];
    assert_eq!(s["valueInteger"], 2, "scale 2: SpO2 89 scores 0, oxygen 2");
    let scale = s["component"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["code"]["coding"][0]["code"] == "scale")
        .unwrap();
    assert_eq!(scale["valueInteger"], 2);
}

#[test]
fn a_higher_band_supersedes_and_a_lower_one_does_not_stack() {
    let w = world(Config::default());
    w.put_all(panel(
        "vs1",
        T0,
        21,
        95,
        Some(2.0),
        120,
        70,
        "248234008",
        37.0,
    )); // 2+1+2 = 5 medium
    w.ew.catch_up().unwrap();
    let first = open_alerts(&w);
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].band, "medium");
    w.put_all(panel(
        "vs2",
        T0 + 30 * MIN,
        25,
        91,
        Some(2.0),
        120,
        70,
        "248234008",
        37.0,
    )); // 3+3+2 = 8 high
    w.ew.catch_up().unwrap();
    let now = open_alerts(&w);
    assert_eq!(now.len(), 1);
    assert_eq!(now[0].band, "high");
    let old = w.ew.alert(&first[0].id).unwrap();
    assert_eq!(old.lifecycle, early_warning::Lifecycle::Superseded);
    assert_eq!(w.read("Flag", &first[0].id).unwrap()["status"], "inactive");
    w.put_all(panel(
        "vs3",
        T0 + 40 * MIN,
        21,
        95,
        Some(2.0),
        120,
        70,
        "248234008",
        37.0,
    ));
    w.ew.catch_up().unwrap();
    let again = open_alerts(&w);
    assert_eq!(
        again.len(),
        1,
        "medium under an open high alert does not stack"
    );
    assert_eq!(again[0].id, now[0].id);
    // A rising trend: 5 → 8 → 5 is not rising; 0 → 1 → 3 (low) is.
    let w = world(Config::default());
    w.put_all(panel(
        "t1",
        T0,
        16,
        97,
        Some(0.0),
        120,
        70,
        "248234008",
        37.0,
    ));
    w.put_all(panel(
        "t2",
        T0 + 60 * MIN,
        16,
        95,
        Some(0.0),
        120,
        70,
        "248234008",
        37.0,
    ));
    w.put_all(panel(
        "t3",
        T0 + 120 * MIN,
        21,
        95,
        Some(0.0),
        120,
        70,
        "248234008",
        37.0,
    ));
    w.ew.catch_up().unwrap();
    let s = w.news2();
    let trend = |o: &Value| {
        o["component"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["code"]["coding"][0]["code"] == "trend")
            .unwrap()["valueCodeableConcept"]["coding"][0]["code"]
            .clone()
    };
    assert_eq!(
        s.iter()
            .map(|o| o["valueInteger"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        vec![0, 1, 3]
    );
    assert_eq!(trend(&s[1]), "steady");
    assert_eq!(trend(&s[2]), "rising");
    assert!(
        open_alerts(&w).is_empty(),
        "a rising low score is flagged, not alerted"
    );
}

#[test]
fn a_white_cell_count_rescores_sirs() {
    let w = world(Config::default());
    w.put_all(panel(
        "vs1",
        T0,
        22,
        97,
        Some(0.0),
        120,
        95,
        "248234008",
        37.0,
    ));
    w.ew.catch_up().unwrap();
    let sirs_q = "code=https://tend.example.org/fhir/CodeSystem/early-warning|sirs";
    assert_eq!(w.search("Observation", sirs_q)[0]["status"], "preliminary");
    w.put_all(vec![reading(
        "wbc",
        "6690-2",
        json!(13.2),
        "10*3/uL",
        T0 - 120 * MIN,
    )]);
    w.ew.catch_up().unwrap();
    let s = &w.search("Observation", sirs_q)[0];
    assert_eq!(s["status"], "final");
    assert_eq!(s["valueInteger"], 3);
    assert_eq!(s["interpretation"][0]["coding"][0]["code"], "POS");
}

#[test]
fn evaluation_resumes_from_the_change_log_after_a_restart() {
    let w = world(Config::default());
    // Readings acknowledged while no evaluator runs (as after a crash between commit and
    // evaluation).
    w.put_all(panel(
        "vs1",
        T0,
        25,
        91,
        Some(2.0),
        90,
        131,
        "422768004",
        35.0,
    ));
    assert!(w.news2().is_empty());
    let World {
        store,
        clock,
        path,
        _dir,
        ew,
    } = w;
    drop(ew);
    drop(store);
    let store = open(&path, clock.clone());
    let ew = EarlyWarning::new(store.clone(), Config::default(), clock.clone());
    let hub = Hub::start(ew.clone());
    let (_rx, position) = hub.subscribe();
    ew.catch_up().unwrap();
    let w = World {
        _dir,
        path,
        store,
        clock,
        ew,
    };
    assert_eq!(w.news2().len(), 1);
    assert_eq!(open_alerts(&w).len(), 1);
    assert_eq!(
        w.store.checkpoint(early_warning::CONSUMER).unwrap(),
        w.store.commits().latest()
    );
    // Every score and alert is an event, replayable from the log.
    let events = hub.replay(position, w.store.commits().latest());
    let kinds: Vec<&str> = events.iter().map(|e| e.kind).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "score").count(), 3);
    assert_eq!(kinds.iter().filter(|k| **k == "alert").count(), 1);
    assert!(events
        .iter()
        .all(|e| e.ward.as_deref() == Some("Location/ward-a")));
    hub.stop();
    // The ward view.
    let status = w.ew.ward_status("Location/ward-a").unwrap();
    assert_eq!(status.len(), 1);
    assert_eq!(status[0].news2.as_ref().unwrap().band, "high");
    assert!(status[0].alert.is_some());
    assert_eq!(status[0].bed.as_deref(), Some("Location/bed-a1"));
}

#[test]
fn an_alert_closed_through_the_fhir_api_closes_its_flag() {
    let w = world(Config::default());
    w.put_all(panel(
        "vs1",
        T0,
        25,
        91,
        Some(2.0),
        90,
        131,
        "422768004",
        35.0,
    ));
    w.ew.catch_up().unwrap();
    let id = open_alerts(&w)[0].id.clone();
    let mut task = w.read("Task", &id).unwrap();
    task["status"] = json!("completed");
    w.put_all(vec![task]);
    w.ew.catch_up().unwrap();
    assert_eq!(w.read("Flag", &id).unwrap()["status"], "inactive");
    assert!(open_alerts(&w).is_empty());
}

#[test]
fn a_feed_can_mean_air_when_no_oxygen_is_recorded() {
    let mut config = Config::default();
    config.air_when_absent.sources = vec!["urn:tend:feed:icu".into()];
    let w = world(config);
    let mut set = panel("vs1", T0, 16, 97, None, 120, 70, "248234008", 37.0);
    for o in &mut set {
        o["meta"] = json!({"source": "urn:tend:feed:icu#monitor-7"});
    }
    w.put_all(set);
    w.put_all(panel(
        "vs2",
        T0 + 60 * MIN,
        16,
        97,
        None,
        120,
        70,
        "248234008",
        37.0,
    ));
    w.ew.catch_up().unwrap();
    let s = w.news2();
    assert_eq!(s[0]["status"], "final", "the ICU feed's sets mean air");
    assert_eq!(
        s[1]["status"], "preliminary",
        "other sources leave oxygen missing"
    );
}

#[test]
fn only_recent_sets_of_watched_patients_raise_alerts() {
    let w = world(Config::default());
    // A high set from three days ago (an imported history): scored, never an alert.
    w.put_all(panel(
        "old",
        T0 - 3 * 24 * 60 * MIN,
        25,
        91,
        Some(2.0),
        90,
        131,
        "422768004",
        35.0,
    ));
    w.ew.catch_up().unwrap();
    assert_eq!(w.news2().len(), 1, "the old set is scored for the chart");
    assert_eq!(band(&w.news2()[0]), "high");
    assert!(open_alerts(&w).is_empty(), "an old set never alerts");

    // A high set 23 h old, entered late: an alert, but not born overdue.
    w.put_all(panel(
        "late",
        T0 - 23 * 60 * MIN,
        25,
        91,
        Some(2.0),
        90,
        131,
        "422768004",
        35.0,
    ));
    w.ew.catch_up().unwrap();
    let alerts = open_alerts(&w);
    assert_eq!(alerts.len(), 1, "a set within 24 h alerts");
    assert!(!alerts[0].overdue, "not born overdue");
    assert_eq!(alerts[0].deadline, instant(T0 + 30 * MIN));

    // The same set for a patient who went home, or is seen as an outpatient: no alert.
    for (patient, class, status) in [("p2", "IMP", "finished"), ("p3", "AMB", "in-progress")] {
        w.put_all(vec![
            json!({"resourceType": "Patient", "id": patient}),
            json!({"resourceType": "Encounter", "id": format!("e-{patient}"), "status": status,
                "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": class},
                "subject": {"reference": format!("Patient/{patient}")}}),
        ]);
        let set: Vec<Value> = panel(
            &format!("vs-{patient}"),
            T0 - 5 * MIN,
            25,
            91,
            Some(2.0),
            90,
            131,
            "422768004",
            35.0,
        )
        .into_iter()
        .map(|mut o| {
            o["subject"]["reference"] = json!(format!("Patient/{patient}"));
            o["encounter"]["reference"] = json!(format!("Encounter/e-{patient}"));
            o
        })
        .collect();
        w.put_all(set);
        w.ew.catch_up().unwrap();
        let scored = w.search(
            "Observation",
            &format!("code=http://snomed.info/sct|1104051000000101&subject=Patient/{patient}"),
        );
        assert_eq!(scored.len(), 1, "{patient} is scored");
        assert!(
            w.ew.alerts(None, Some(&format!("Patient/{patient}")), true)
                .unwrap()
                .is_empty(),
            "{patient} ({class}, {status}) raises no alert"
        );
    }
}

// ---- children: the national PEWS ----

const EW: &str = "https://tend.example.org/fhir/CodeSystem/early-warning";

/// A child's panel: rr, distress, spo2, oxygen (device, flow L/min), hr, sbp, capillary
/// refill (s), ACVPU SNOMED.
struct ChildSet<'a> {
    rr: i64,
    distress: &'a str,
    spo2: i64,
    device: &'a str,
    flow: f64,
    hr: i64,
    sbp: i64,
    crt: f64,
    acvpu: &'a str,
}

fn child_panel(id: &str, at: i64, c: &ChildSet) -> Vec<Value> {
    let mut o2 = reading(&format!("{id}-o2"), "3151-8", json!(c.flow), "L/min", at);
    o2["method"] = json!({"coding": [{"system": "https://tend.example.org/fhir/CodeSystem/oxygen-device", "code": c.device}]});
    let mut distress = reading(&format!("{id}-rd"), "x", json!(0), "", at);
    distress["code"] = json!({"coding": [{"system": EW, "code": "respiratory-distress"}]});
    distress.as_object_mut().unwrap().remove("valueQuantity");
    distress["valueCodeableConcept"] = json!({"coding": [{"system": EW, "code": c.distress}]});
    let mut v = vec![
        reading(&format!("{id}-rr"), "9279-1", json!(c.rr), "/min", at),
        distress,
        reading(&format!("{id}-spo2"), "59408-5", json!(c.spo2), "%", at),
        o2,
        reading(&format!("{id}-hr"), "8867-4", json!(c.hr), "/min", at),
        reading(&format!("{id}-sbp"), "8480-6", json!(c.sbp), "mm[Hg]", at),
        reading(&format!("{id}-crt"), "44963-7", json!(c.crt), "s", at),
        reading(&format!("{id}-avpu"), "67775-7", json!(c.acvpu), "", at),
        reading(&format!("{id}-temp"), "8310-5", json!(37.0), "Cel", at),
    ];
    let members: Vec<Value> = v
        .iter()
        .map(|o| json!({"reference": format!("Observation/{}", o["id"].as_str().unwrap())}))
        .collect();
    v.push(
        json!({"resourceType": "Observation", "id": id, "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "85353-1"}]},
        "subject": {"reference": "Patient/p1"}, "encounter": {"reference": "Encounter/e1"},
        "effectiveDateTime": instant(at), "hasMember": members}),
    );
    v
}

fn born(w: &World, date: Option<&str>) {
    let mut p = json!({"resourceType": "Patient", "id": "p1"});
    if let Some(d) = date {
        p["birthDate"] = json!(d);
    }
    w.put_all(vec![p]);
}

impl World {
    fn pews(&self) -> Vec<Value> {
        self.search(
            "Observation",
            &format!("code={EW}|pews&subject=Patient/p1&_sort=date"),
        )
    }

    fn screens(&self) -> usize {
        self.search("Observation", &format!("code={EW}|qsofa,{EW}|sirs"))
            .len()
    }
}

fn component<'a>(o: &'a Value, code: &str) -> &'a Value {
    o["component"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["code"]["coding"][0]["code"] == code)
        .unwrap_or_else(|| panic!("no component {code}"))
}

/// A 3-year-old on nasal cannula, 1–4 years chart. Expected points from the national PEWS
/// tables (P2–P8): RR 45 → 1 (40–49.99); moderate distress → 2; SpO2 93 % → 1
/// (91.01–94.99); 1 L/min → 1 (0.01–1.99); HR 155 → 2 (150–169.99); SBP 95 → 0
/// (80–99.99); CRT 2 s → 0 (≤ 2). Total 7: medium (5–8).
const TODDLER: ChildSet = ChildSet {
    rr: 45,
    distress: "moderate",
    spo2: 93,
    device: "nasal-cannula",
    flow: 1.0,
    hr: 155,
    sbp: 95,
    crt: 2.0,
    acvpu: "248234008",
};

#[test]
fn a_child_is_scored_with_pews_and_alerts_by_its_level() {
    let w = world(Config::default());
    born(&w, Some("2023-06-15"));
    w.put_all(child_panel("c1", T0 - 20 * MIN, &TODDLER));
    w.ew.catch_up().unwrap();
    assert!(w.news2().is_empty(), "no NEWS2 for a child");
    assert_eq!(w.screens(), 0, "qSOFA and SIRS are adult screens");
    let scores = w.pews();
    assert_eq!(scores.len(), 1);
    let s = &scores[0];
    assert_eq!(s["status"], "final");
    assert_eq!(s["valueInteger"], 7);
    assert_eq!(band(s), "medium");
    assert_eq!(
        component(s, "age-band")["valueCodeableConcept"]["coding"][0]["code"],
        "1-4y"
    );
    let expected = [
        ("respiratory-rate", 1),
        ("respiratory-distress", 2),
        ("spo2", 1),
        ("oxygen-delivery", 1),
        ("heart-rate", 2),
        ("systolic-bp", 0),
        ("capillary-refill", 0),
    ];
    for (code, points) in expected {
        assert_eq!(component(s, code)["valueInteger"], points, "{code}");
    }
    assert_eq!(
        component(s, "next-observations-due")["valueDateTime"],
        instant(T0 + 10 * MIN),
        "medium: reassess within 30 minutes"
    );
    // Medium: an alert, medical review within 30 minutes.
    let alerts = open_alerts(&w);
    assert_eq!(alerts.len(), 1);
    let a = &alerts[0];
    assert_eq!(
        (a.score_name.as_str(), a.band.as_str(), a.role.as_str()),
        ("PEWS", "medium", "specialist-registrar")
    );
    assert_eq!(a.deadline, instant(T0 + 10 * MIN));
    assert!(a.required_response.contains("Request Medical Review"));
    // The board shows PEWS with its level.
    let ward = w.ew.ward_status("Location/ward-a").unwrap();
    let n = ward[0].news2.as_ref().unwrap();
    assert_eq!(
        (n.score_name(), n.total, n.band.as_str()),
        ("PEWS", Some(7), "medium")
    );

    // Next set: the same readings, now responsive only to voice: a change to V is high
    // whatever the score (specific concern), and supersedes the medium alert.
    w.put_all(child_panel(
        "c2",
        T0 - 10 * MIN,
        &ChildSet {
            acvpu: "300202002",
            ..TODDLER
        },
    ));
    w.ew.catch_up().unwrap();
    let s = &w.pews()[1];
    assert_eq!((s["valueInteger"].as_u64(), band(s)), (Some(7), "high"));
    let alerts = open_alerts(&w);
    assert_eq!(alerts.len(), 1);
    let a = &alerts[0];
    assert_eq!(
        (a.band.as_str(), a.role.as_str()),
        ("high", "rapid-response-team")
    );
    assert_eq!(
        a.deadline,
        instant(T0 + 5 * MIN),
        "rapid review within 15 min"
    );

    // Then on high flow with a capillary refill of 3 s: HF scores 4 over the flow, CRT ≥ 3 s
    // scores 2: 1 + 2 + 1 + 4 + 2 + 0 + 2 = 12, high (9–12). Still V: no change, no new
    // specific concern; the open high alert stands.
    w.put_all(child_panel(
        "c3",
        T0 - 5 * MIN,
        &ChildSet {
            device: "high-flow",
            flow: 20.0,
            crt: 3.0,
            acvpu: "300202002",
            ..TODDLER
        },
    ));
    w.ew.catch_up().unwrap();
    let s = &w.pews()[2];
    assert_eq!((s["valueInteger"].as_u64(), band(s)), (Some(12), "high"));
    assert_eq!(component(s, "oxygen-delivery")["valueInteger"], 4);
    assert_eq!(
        component(s, "escalation-criteria")["valueCodeableConcept"]["coding"][0]["code"],
        "pews-reason-P"
    );
    let alerts = open_alerts(&w);
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].id, a.id);
    // Through the same lifecycle: escalates past its deadline, then is answered.
    w.at(T0 + 6 * MIN);
    assert_eq!(w.ew.escalate_due().unwrap(), 1);
    assert_eq!(w.ew.alert(&a.id).unwrap().role, "critical-care-outreach");
    w.ew.respond(&a.id, "rapid-response-call", None, "Practitioner/doc")
        .unwrap();
    let a = w.ew.resolve(&a.id, None, "Practitioner/doc").unwrap();
    assert!(!a.open);
    assert_eq!(w.read("Flag", &a.id).unwrap()["status"], "inactive");
}

#[test]
fn adults_and_unknown_ages_get_news2() {
    for birth in [Some("2009-06-01"), None] {
        let w = world(Config::default());
        born(&w, birth);
        w.put_all(panel(
            "vs1",
            T0 - 5 * MIN,
            25,
            91,
            Some(2.0),
            90,
            131,
            "422768004",
            35.0,
        ));
        w.ew.catch_up().unwrap();
        assert!(w.pews().is_empty(), "{birth:?}");
        let scores = w.news2();
        assert_eq!(scores[0]["valueInteger"], 20, "{birth:?}");
        assert_eq!(w.screens(), 2, "{birth:?}");
        assert_eq!(open_alerts(&w)[0].score_name, "NEWS2");
    }
}

/// A corrected birth date re-scores the patient's latest set with the score their age asks
/// for: recorded as an adult by mistake, the toddler's set gets PEWS, and its NEWS2 goes.
#[test]
fn a_corrected_birth_date_rescores_the_latest_set() {
    let w = world(Config::default());
    born(&w, Some("1980-06-15"));
    w.put_all(child_panel("c1", T0 - 20 * MIN, &TODDLER));
    w.ew.catch_up().unwrap();
    assert_eq!(w.news2().len(), 1, "scored as an adult first");
    assert!(w.pews().is_empty());
    born(&w, Some("2023-06-15"));
    w.ew.catch_up().unwrap();
    assert!(w.news2().is_empty(), "no NEWS2 for a child");
    let scores = w.pews();
    assert_eq!(scores.len(), 1, "the latest set is scored again, with PEWS");
    assert_eq!(scores[0]["valueInteger"], 7);
}
