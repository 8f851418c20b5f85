//! Sensitive records: visible only to roles with [`crate::Permission::SensitiveRead`].
//!
//! Interpersonal-safety screening answers (AHC HRSN questions 7–10 and their total score,
//! `clinical/quality-safety-equity.md` §9: "handle safety answers with restricted
//! visibility"), and any record whose `meta.security` carries the HL7 confidentiality code
//! `R` (restricted) or `V` (very restricted).

use serde_json::Value;

/// LOINC codes of the AHC HRSN interpersonal-safety questions and their total score.
pub const INTERPERSONAL_SAFETY_LOINC: [&str; 5] =
    ["95618-5", "95617-7", "95616-9", "95615-1", "95614-4"];

const CONFIDENTIALITY: &str = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality";
const LOINC: &str = "http://loinc.org";

fn codings(v: &Value) -> impl Iterator<Item = &Value> {
    v["coding"].as_array().into_iter().flatten()
}

/// Whether a resource is sensitive.
pub fn sensitive(resource: &Value) -> bool {
    let labelled = resource["meta"]["security"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| {
            c["system"].as_str() == Some(CONFIDENTIALITY)
                && matches!(c["code"].as_str(), Some("R" | "V"))
        });
    if labelled {
        return true;
    }
    let safety = |code: &Value| {
        codings(code).any(|c| {
            c["system"].as_str() == Some(LOINC)
                && c["code"]
                    .as_str()
                    .is_some_and(|k| INTERPERSONAL_SAFETY_LOINC.contains(&k))
        })
    };
    match resource["resourceType"].as_str() {
        Some("Observation") => {
            safety(&resource["code"])
                || resource["component"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|c| safety(&c["code"]))
        }
        Some("QuestionnaireResponse") => {
            fn items(v: &Value, f: &dyn Fn(&str) -> bool) -> bool {
                v["item"].as_array().into_iter().flatten().any(|i| {
                    i["code"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|c| c["code"].as_str().is_some_and(f))
                        || i["linkId"].as_str().is_some_and(f)
                        || items(i, f)
                })
            }
            items(resource, &|k| INTERPERSONAL_SAFETY_LOINC.contains(&k))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn safety_answers_and_restricted_labels_are_sensitive() {
        let hurt = json!({"resourceType": "Observation", "code": {"coding": [{"system": LOINC, "code": "95618-5"}]}});
        assert!(sensitive(&hurt));
        let panel = json!({"resourceType": "Observation", "code": {"coding": [{"system": LOINC, "code": "96777-8"}]},
            "component": [{"code": {"coding": [{"system": LOINC, "code": "95615-1"}]}}]});
        assert!(sensitive(&panel));
        let qr = json!({"resourceType": "QuestionnaireResponse", "item": [{"linkId": "g", "item": [{"linkId": "95616-9"}]}]});
        assert!(sensitive(&qr));
        let food = json!({"resourceType": "Observation", "code": {"coding": [{"system": LOINC, "code": "88122-7"}]}});
        assert!(!sensitive(&food));
        let restricted = json!({"resourceType": "Condition", "meta": {"security": [{"system": CONFIDENTIALITY, "code": "R"}]}});
        assert!(sensitive(&restricted));
        let normal = json!({"resourceType": "Condition", "meta": {"security": [{"system": CONFIDENTIALITY, "code": "N"}]}});
        assert!(!sensitive(&normal));
    }
}
