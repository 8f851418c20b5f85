//! Builders for the FHIR R4 datatypes the demo uses (<https://hl7.org/fhir/R4/datatypes.html>):
//! Coding, CodeableConcept, Reference, Quantity, and instants written with seconds and a zone.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde_json::{json, Value};

pub(crate) const LOINC: &str = "http://loinc.org";
pub(crate) const SNOMED: &str = "http://snomed.info/sct";
pub(crate) const UCUM: &str = "http://unitsofmeasure.org";
pub(crate) const ICD10CM: &str = "http://hl7.org/fhir/sid/icd-10-cm";
pub(crate) const CPT: &str = "http://www.ama-assn.org/go/cpt";
pub(crate) const NPI: &str = "http://hl7.org/fhir/sid/us-npi";
pub(crate) const OBS_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/observation-category";
pub(crate) const CONDITION_CATEGORY: &str =
    "http://terminology.hl7.org/CodeSystem/condition-category";
pub(crate) const V2_0074: &str = "http://terminology.hl7.org/CodeSystem/v2-0074";
/// Identifier systems and local code systems of the (fictional) hospital.
pub(crate) const TEND: &str = "https://tend.example.org/fhir";

/// `(system, code, display)`.
pub(crate) type Code = (&'static str, &'static str, &'static str);

pub(crate) fn coding(c: Code) -> Value {
    json!({"system": c.0, "code": c.1, "display": c.2})
}

/// A CodeableConcept with one or more codings for the same idea; its text is the first display.
pub(crate) fn concept(codes: &[Code]) -> Value {
    json!({
        "coding": codes.iter().map(|c| coding(*c)).collect::<Vec<_>>(),
        "text": codes[0].2,
    })
}

pub(crate) fn reference(resource_type: &str, id: &str) -> Value {
    json!({ "reference": format!("{resource_type}/{id}") })
}

/// An R4 instant/dateTime with seconds and `Z`, e.g. `2026-11-24T08:00:00Z`.
pub(crate) fn instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub(crate) fn date(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// A UCUM Quantity.
pub(crate) fn quantity(value: Value, unit: &str, code: &str) -> Value {
    json!({"value": value, "unit": unit, "system": UCUM, "code": code})
}

/// A number rounded to one decimal place, as recorded (37.25 -> 37.3).
pub(crate) fn one_decimal(x: f64) -> Value {
    json!((x * 10.0).round() / 10.0)
}

/// Marks every resource as synthetic test data (v3 ActReason HTEST), so demo records can never be
/// mistaken for real ones.
pub(crate) fn meta() -> Value {
    json!({"tag": [{
        "system": "http://terminology.hl7.org/CodeSystem/v3-ActReason",
        "code": "HTEST",
        "display": "test health data"
    }]})
}

/// `r` with the test-data tag of [`meta`] added to whatever `meta` it has (for resources
/// built by other crates).
pub(crate) fn with_test_tag(mut r: Value) -> Value {
    let tag = meta()["tag"][0].clone();
    match r["meta"]["tag"].as_array_mut() {
        Some(tags) => tags.push(tag),
        None => r["meta"]["tag"] = json!([tag]),
    }
    r
}

/// `[{"coding": [...]}]` for an Observation or Condition category.
pub(crate) fn category(system: &'static str, code: &'static str, display: &'static str) -> Value {
    json!([{ "coding": [coding((system, code, display))] }])
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn instants_have_seconds_and_zone() {
        let t = Utc.with_ymd_and_hms(2026, 11, 24, 8, 0, 0).unwrap();
        assert_eq!(instant(t), "2026-11-24T08:00:00Z");
    }

    #[test]
    fn one_decimal_prints_short() {
        assert_eq!(one_decimal(37.25000001).to_string(), "37.3");
        assert_eq!(one_decimal(36.0).to_string(), "36.0");
    }
}
