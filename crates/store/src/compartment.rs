//! Patient compartments (<https://hl7.org/fhir/R4/compartmentdefinition-patient.html>):
//! which patients a resource version is about, computed when it is written from the
//! official R4 Patient CompartmentDefinition (`data/compartmentdefinition-patient.json`)
//! over the version's own reference index values. References are therefore resolved
//! exactly as search resolves them (relative, absolute, versioned `Patient/X/_history/1`,
//! and conditional or Bundle-local references after the writer rewrote them), and access is
//! decided from the same facts search uses.
//!
//! A Patient is in its own compartment (and in those of the patients it links to); a
//! resource that names no patient through the listed parameters is in no compartment.

use std::collections::HashMap;
use std::sync::OnceLock;

use search::{IndexEntry, IndexValue};
use serde_json::Value;

/// Resource type → the reference search parameters that place it in a patient's compartment.
fn members() -> &'static HashMap<String, Vec<String>> {
    static M: OnceLock<HashMap<String, Vec<String>>> = OnceLock::new();
    M.get_or_init(|| {
        let def: Value =
            serde_json::from_str(include_str!("../data/compartmentdefinition-patient.json"))
                .expect("the vendored Patient CompartmentDefinition is JSON");
        let mut out: HashMap<String, Vec<String>> = HashMap::new();
        for r in def["resource"].as_array().into_iter().flatten() {
            let code = r["code"].as_str().unwrap_or_default();
            for p in r["param"].as_array().into_iter().flatten() {
                if let Some(p) = p.as_str().filter(|p| *p != "{def}") {
                    out.entry(code.to_string()).or_default().push(p.to_string());
                }
            }
        }
        out
    })
}

/// The ids of the patients whose compartments hold this version of `rtype/id`, sorted.
pub(crate) fn patients_of(rtype: &str, id: &str, index: &[IndexEntry]) -> Vec<String> {
    let mut out = Vec::new();
    if rtype == "Patient" {
        out.push(id.to_string());
    }
    if let Some(params) = members().get(rtype) {
        for e in index {
            if !params.contains(&e.param) {
                continue;
            }
            if let IndexValue::Reference { rtype, id, url, .. } = &e.value {
                match (rtype.as_deref(), id) {
                    (Some("Patient"), Some(pid)) if !pid.is_empty() => out.push(pid.clone()),
                    // An absolute URL naming a patient elsewhere: kept in its compartment
                    // too, so no reader of the reference can place it where access did not.
                    _ => out.extend(url.as_deref().and_then(patient_in_url)),
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The resource types a Patient compartment can hold (Patient itself included), sorted.
pub fn patient_compartment_types() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = members().keys().map(String::as_str).collect();
    if !out.contains(&"Patient") {
        out.push("Patient");
    }
    out.sort_unstable();
    out
}

/// `…/Patient/ID` or `…/Patient/ID/_history/V` at the end of a URL.
pub(crate) fn patient_in_url(url: &str) -> Option<String> {
    let path = url.split(['?', '#']).next()?;
    let path = match path.split_once("/_history/") {
        Some((p, _)) => p,
        None => path,
    };
    let (rest, id) = path.trim_end_matches('/').rsplit_once('/')?;
    (rest.ends_with("/Patient") || rest == "Patient")
        .then(|| id.to_string())
        .filter(|id| !id.is_empty())
}

/// The stored form of a compartment list: ids separated by spaces (FHIR ids hold none).
pub(crate) fn encode(patients: &[String]) -> Option<String> {
    (!patients.is_empty()).then(|| patients.join(" "))
}

pub(crate) fn decode(stored: Option<&str>) -> Vec<String> {
    stored
        .map(|s| {
            s.split(' ')
                .filter(|p| !p.is_empty())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn patients(resource: Value) -> Vec<String> {
        let indexer = search::Indexer::new(search::Registry::r4()).unwrap();
        let rtype = resource["resourceType"].as_str().unwrap().to_string();
        let id = resource["id"].as_str().unwrap_or("new").to_string();
        patients_of(&rtype, &id, &indexer.extract(&resource))
    }

    #[test]
    fn references_of_every_shape_place_a_resource() {
        let cases = [
            (
                json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "subject": {"reference": "Patient/a"}}),
                vec!["a"],
            ),
            (
                json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "subject": {"reference": "Patient/b/_history/1"}}),
                vec!["b"],
            ),
            (
                json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "subject": {"reference": "https://elsewhere.example/fhir/Patient/c"}}),
                vec!["c"],
            ),
            (
                json!({"resourceType": "CareTeam", "subject": {"reference": "Patient/d/_history/3"}, "participant": [{"member": {"reference": "Practitioner/p"}}]}),
                vec!["d"],
            ),
            (
                json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "subject": {"reference": "Group/g"}, "performer": [{"reference": "Patient/e"}]}),
                vec!["e"],
            ),
            (
                json!({"resourceType": "Patient", "id": "f", "link": [{"other": {"reference": "Patient/g"}, "type": "seealso"}]}),
                vec!["f", "g"],
            ),
            (
                json!({"resourceType": "Task", "status": "requested", "intent": "order", "for": {"reference": "Patient/h"}}),
                vec!["h"],
            ),
            (json!({"resourceType": "Location", "name": "Ward"}), vec![]),
            (
                json!({"resourceType": "MessageHeader", "eventCoding": {"code": "R01"}, "source": {"endpoint": "x"}, "focus": [{"reference": "Patient/i"}]}),
                vec![],
            ),
        ];
        for (resource, want) in cases {
            assert_eq!(patients(resource.clone()), want, "{resource}");
        }
    }

    #[test]
    fn stored_form_round_trips() {
        let p = vec!["a".to_string(), "b-1.2".to_string()];
        assert_eq!(decode(encode(&p).as_deref()), p);
        assert_eq!(encode(&[]), None);
        assert!(decode(None).is_empty());
    }
}
