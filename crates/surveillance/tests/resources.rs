//! What each finding counts toward (from `tests/data/findings.json`), and every resource
//! the crate builds is valid R4 and reads back as it was written.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;
use surveillance::device::{DeviceKind, DeviceUse};
use surveillance::infection::{Event, Infection};
use surveillance::survey::{Finding, NotAssessed, Restraint, Stage, Survey};

fn data() -> Value {
    let path = format!("{}/tests/data/findings.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn valid(r: &Value) {
    let issues = fhir::validation::validate(r);
    assert!(issues.is_empty(), "{issues:?}\n{r:#}");
}

#[test]
fn each_stage_and_restraint_counts_as_the_indicator_says() {
    let d = data();
    let stages = d["stages"].as_object().unwrap();
    assert_eq!(stages.len(), Stage::ALL.len(), "every stage is in the file");
    for (code, counts) in stages {
        let s = Stage::parse(code).unwrap();
        assert_eq!(s.code(), code);
        assert_eq!(s.counts(), counts.as_bool().unwrap(), "{code}");
    }
    let restraints = d["restraints"].as_object().unwrap();
    assert_eq!(restraints.len(), Restraint::ALL.len());
    for (code, counts) in restraints {
        let r = Restraint::parse(code).unwrap();
        assert_eq!(r.counts(), counts.as_bool().unwrap(), "{code}");
    }
    for bad in d["refused"].as_array().unwrap() {
        let bad = bad.as_str().unwrap();
        assert!(Stage::parse(bad).is_err(), "{bad}");
        assert!(Restraint::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn a_survey_is_a_valid_observation_that_reads_back() {
    for (pi, restraint) in [
        (
            Finding::Found(Stage::DeepTissue),
            Finding::Found(Restraint::VestAndLimb),
        ),
        (
            Finding::NotAssessed(NotAssessed::Refused),
            Finding::Found(Restraint::None),
        ),
        (
            Finding::Found(Stage::None),
            Finding::NotAssessed(NotAssessed::Unavailable),
        ),
    ] {
        let s = Survey {
            patient: "p1".into(),
            encounter: Some("e1".into()),
            surveyed: t("2026-02-12T15:00:00Z"),
            surveyor: Some("n1".into()),
            pressure_injury: pi,
            restraint,
        };
        let o = s.observation("s1", t("2026-02-12T15:05:00Z"));
        valid(&o);
        assert_eq!(Survey::from_observation(&o).unwrap(), s);
    }
}

#[test]
fn a_device_is_a_device_and_its_time_in_the_patient() {
    let mut u = DeviceUse {
        patient: "p1".into(),
        encounter: Some("e1".into()),
        kind: DeviceKind::CentralLine,
        placed: t("2026-02-10T14:00:00Z"),
        removed: None,
        site: Some("Right internal jugular vein".into()),
    };
    let (device, statement) = u
        .resources("dev1", "use1", t("2026-02-10T14:10:00Z"))
        .unwrap();
    valid(&device);
    valid(&statement);
    assert_eq!(statement["status"], "active");
    assert!(statement["timingPeriod"].get("end").is_none());
    assert_eq!(statement["device"]["reference"], "Device/dev1");
    // Removed later: the recorded pair is closed as if recorded removed, once.
    let (mut open_device, mut open_statement) = (device, statement);
    let out = t("2026-02-14T09:00:00Z");
    assert!(surveillance::device::removed(
        &mut open_statement,
        Some(&mut open_device),
        out
    ));
    assert!(!surveillance::device::removed(
        &mut open_statement,
        None,
        t("2026-02-15T09:00:00Z")
    ));
    u.removed = Some(out);
    let (device, statement) = u
        .resources("dev1", "use1", t("2026-02-14T09:10:00Z"))
        .unwrap();
    assert_eq!(device["status"], "inactive");
    assert_eq!(statement["timingPeriod"]["end"], "2026-02-14T09:00:00Z");
    assert_eq!(open_device, device);
    assert_eq!(open_statement["timingPeriod"], statement["timingPeriod"]);
    assert_eq!(open_statement["status"], statement["status"]);
    u.removed = Some(t("2026-02-09T09:00:00Z"));
    assert!(u
        .resources("dev1", "use1", t("2026-02-14T09:10:00Z"))
        .is_err());
}

#[test]
fn an_infection_is_a_confirmed_condition_dated_by_its_date_of_event() {
    let i = Infection {
        patient: "p3".into(),
        encounter: None,
        event: Event::Clabsi,
        date_of_event: NaiveDate::from_ymd_opt(2026, 2, 13).unwrap(),
        recorder: Some("ip1".into()),
    };
    let c = i.condition("hai1", t("2026-02-16T10:00:00Z"));
    valid(&c);
    assert_eq!(c["onsetDateTime"], "2026-02-13");
    assert_eq!(c["verificationStatus"]["coding"][0]["code"], "confirmed");
    assert_eq!(Event::parse("cauti").unwrap(), Event::Cauti);
    assert!(Event::parse("vap").is_err());
}
