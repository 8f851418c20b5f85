//! Data-driven tests: `tests/cases/*.toml` describe patients and records in a compact form
//! and the verdict expected for one rule. Each case is turned into real FHIR R4 JSON (Patient
//! with US Core birth sex and race, Observations, Procedures, DiagnosticReports, Conditions)
//! and goes through the same extraction and evaluation as production.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use prevention::{RuleSet, Status};
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    rule: String,
    on: String,
    #[serde(default)]
    patient: Option<Person>,
    case: Vec<Case>,
}

#[derive(Deserialize, Clone, Default)]
#[serde(deny_unknown_fields)]
struct Person {
    born: Option<String>,
    /// Sex assigned at birth: female, male, unknown (extension UNK), or absent.
    sex: Option<String>,
    /// Administrative gender; defaults to the sex at birth.
    gender: Option<String>,
    #[serde(default)]
    race: Vec<String>,
    #[serde(default)]
    deceased: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    #[serde(default)]
    patient: Option<Person>,
    /// Overrides the file's `born` only.
    born: Option<String>,
    on: Option<String>,
    #[serde(default)]
    records: Vec<Record>,
    expect: String,
    expires: Option<String>,
    since: Option<String>,
    /// Reference of the deciding record (evidence or exclusion).
    by: Option<String>,
    reason: Option<String>,
    #[serde(default)]
    reported: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    #[serde(rename = "type")]
    rtype: String,
    /// `system|code`; none for an Encounter.
    #[serde(default)]
    code: String,
    /// The Encounter's id an Observation was made in; an Encounter's own id.
    encounter: Option<String>,
    /// An Encounter's class (v3 ActCode: IMP, AMB, EMER…).
    class: Option<String>,
    date: Option<String>,
    status: Option<String>,
    value: Option<f64>,
    value_code: Option<String>,
    value_date: Option<String>,
    value_bool: Option<bool>,
    clinical_status: Option<String>,
    verification: Option<String>,
    #[serde(default)]
    reported: bool,
    #[serde(default)]
    components: Vec<Component>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Component {
    code: String,
    value: f64,
}

fn coding(short: &str) -> Value {
    let (sys, code) = short.split_once('|').expect("code as system|code");
    let system = match sys {
        "loinc" => "http://loinc.org",
        "snomed" => "http://snomed.info/sct",
        "cpt" => "http://www.ama-assn.org/go/cpt",
        "hcpcs" => "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",
        "icd10cm" => "http://hl7.org/fhir/sid/icd-10-cm",
        "organ" => prevention::ORGAN_INVENTORY,
        other => other,
    };
    json!({"coding": [{"system": system, "code": code}]})
}

fn patient(p: &Person) -> Value {
    let mut ext = Vec::new();
    match p.sex.as_deref() {
        Some("female") => ext.push(json!({"url": prevention::BIRTH_SEX, "valueCode": "F"})),
        Some("male") => ext.push(json!({"url": prevention::BIRTH_SEX, "valueCode": "M"})),
        Some("unknown") => ext.push(json!({"url": prevention::BIRTH_SEX, "valueCode": "UNK"})),
        _ => {}
    }
    let omb: Vec<Value> = p
        .race
        .iter()
        .map(|r| {
            let code = match r.as_str() {
                "asian" => "2028-9",
                "black" => "2054-5",
                "white" => "2106-3",
                other => panic!("race {other}"),
            };
            json!({"url": "ombCategory", "valueCoding": {"system": "urn:oid:2.16.840.1.113883.6.238", "code": code}})
        })
        .collect();
    if !omb.is_empty() {
        ext.push(json!({"url": prevention::RACE, "extension": omb}));
    }
    let gender = p
        .gender
        .clone()
        .or(p.sex.clone().filter(|s| s != "unknown"))
        .unwrap_or("unknown".into());
    let mut v = json!({"resourceType": "Patient", "id": "p", "extension": ext, "gender": gender});
    if let Some(b) = &p.born {
        v["birthDate"] = json!(b);
    }
    if p.deceased {
        v["deceasedBoolean"] = json!(true);
    }
    v
}

fn resource(n: usize, r: &Record) -> Value {
    if r.rtype == "Encounter" {
        let mut v = json!({"resourceType": "Encounter", "id": r.encounter.clone().unwrap_or(format!("r{n}")),
            "status": r.status.as_deref().unwrap_or("finished"),
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": r.class.as_deref().unwrap_or("AMB")},
            "subject": {"reference": "Patient/p"}});
        if let Some(d) = &r.date {
            v["period"] = json!({"start": d});
        }
        return v;
    }
    let mut v = json!({"resourceType": r.rtype, "id": format!("r{n}"), "code": coding(&r.code), "subject": {"reference": "Patient/p"}});
    if let Some(e) = &r.encounter {
        v["encounter"] = json!({"reference": format!("Encounter/{e}")});
    }
    let (status, date_field) = match r.rtype.as_str() {
        "Observation" => ("final", "effectiveDateTime"),
        "DiagnosticReport" => ("final", "effectiveDateTime"),
        "Procedure" => ("completed", "performedDateTime"),
        "Condition" => ("", "onsetDateTime"),
        other => panic!("type {other}"),
    };
    if !status.is_empty() || r.status.is_some() {
        v["status"] = json!(r.status.as_deref().unwrap_or(status));
    }
    if let Some(d) = &r.date {
        v[date_field] = json!(d);
    }
    if r.rtype == "Condition" {
        let cs = r.clinical_status.as_deref().unwrap_or("active");
        v["clinicalStatus"] = json!({"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": cs}]});
        if let Some(vs) = &r.verification {
            v["verificationStatus"] = json!({"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": vs}]});
        }
    }
    if let Some(x) = r.value {
        v["valueQuantity"] = json!({"value": x});
    }
    if let Some(c) = &r.value_code {
        v["valueCodeableConcept"] = coding(c);
    }
    if let Some(d) = &r.value_date {
        v["valueDateTime"] = json!(d);
    }
    if let Some(b) = r.value_bool {
        v["valueBoolean"] = json!(b);
    }
    if !r.components.is_empty() {
        v["component"] = r
            .components
            .iter()
            .map(|c| json!({"code": coding(&c.code), "valueQuantity": {"value": c.value}}))
            .collect();
    }
    if r.reported {
        match r.rtype.as_str() {
            "Procedure" | "Condition" => v["asserter"] = json!({"reference": "Patient/p"}),
            _ => v["performer"] = json!([{"reference": "Patient/p"}]),
        }
    }
    v
}

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_else(|_| panic!("date {s}"))
}

#[test]
fn every_rule_has_cases_and_every_case_holds() {
    let rules = RuleSet::builtin();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cases");
    let mut per_rule: BTreeMap<String, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    for path in paths {
        let text = std::fs::read_to_string(&path).unwrap();
        let file: File =
            toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            rules.rule(&file.rule).is_some(),
            "{}: no rule {}",
            path.display(),
            file.rule
        );
        for case in &file.case {
            *per_rule.entry(file.rule.clone()).or_default() += 1;
            let mut person = case
                .patient
                .clone()
                .or(file.patient.clone())
                .unwrap_or_default();
            if let Some(b) = &case.born {
                person.born = Some(b.clone());
            }
            let p = patient(&person).to_string();
            let records: Vec<String> = case
                .records
                .iter()
                .enumerate()
                .map(|(n, r)| resource(n + 1, r).to_string())
                .collect();
            let facts = rules.facts(&p, records.iter().map(String::as_str)).unwrap();
            let on = day(case.on.as_deref().unwrap_or(&file.on));
            let verdicts = rules.evaluate(&facts, on);
            let v = verdicts.iter().find(|v| v.rule.id == file.rule).unwrap();
            let mut problems = Vec::new();
            if v.status.code() != case.expect {
                problems.push(format!("expected {}, got {:?}", case.expect, v.status));
            }
            match &v.status {
                Status::Satisfied { evidence, expires } => {
                    if let Some(x) = &case.expires {
                        let want = (x != "never").then(|| day(x));
                        if *expires != want {
                            problems.push(format!("expires {expires:?}, expected {x}"));
                        }
                    }
                    if let Some(by) = &case.by {
                        if evidence.item.reference() != *by {
                            problems.push(format!(
                                "evidence {}, expected {by}",
                                evidence.item.reference()
                            ));
                        }
                    }
                    if let Some(r) = case.reported {
                        if evidence.item.patient_reported != r {
                            problems.push(format!(
                                "patient_reported {}",
                                evidence.item.patient_reported
                            ));
                        }
                    }
                }
                Status::Due { since, .. } => {
                    if let Some(s) = &case.since {
                        if *since != Some(day(s)) {
                            problems.push(format!("due since {since:?}, expected {s}"));
                        }
                    }
                }
                Status::Excluded { reason, item } => {
                    if let Some(want) = &case.reason {
                        if !reason.to_string().contains(want.as_str()) {
                            problems.push(format!("reason '{reason}', expected '{want}'"));
                        }
                    }
                    if let Some(by) = &case.by {
                        if item.map(|i| i.reference()).as_deref() != Some(by.as_str()) {
                            problems.push(format!(
                                "excluded by {:?}, expected {by}",
                                item.map(|i| i.reference())
                            ));
                        }
                    }
                }
                Status::NotApplicable(why) => {
                    if let Some(want) = &case.reason {
                        if !why.to_string().contains(want.as_str()) {
                            problems.push(format!("reason '{why}', expected '{want}'"));
                        }
                    }
                }
            }
            if !problems.is_empty() {
                failures.push(format!(
                    "{} / {}: {}",
                    file.rule,
                    case.name,
                    problems.join("; ")
                ));
            }
        }
    }
    for rule in rules.rules() {
        assert!(
            per_rule.get(&rule.id).copied().unwrap_or(0) >= 6,
            "rule {} needs boundary cases",
            rule.id
        );
    }
    assert!(
        failures.is_empty(),
        "{} failing cases:\n{}",
        failures.len(),
        failures.join("\n")
    );
    eprintln!("cases per rule: {per_rule:?}");
}
