//! The FHIR resources the crate writes are valid R4 (the `fhir` crate's validator) and carry
//! the elements R4 and the SDOH Clinical Care IG profiles require.

use serde_json::Value;

const SDOHCC: &str =
    "http://hl7.org/fhir/us/sdoh-clinicalcare/CodeSystem/SDOHCC-CodeSystemTemporaryCodes";

fn has(r: &Value, path: &str) -> bool {
    let mut v = r;
    for part in path.split('.') {
        v = &v[part];
    }
    match v {
        Value::Null => false,
        Value::Array(a) => !a.is_empty(),
        Value::String(s) => !s.is_empty(),
        _ => true,
    }
}

fn coded(v: &Value, system: &str, code: &str) -> bool {
    let codings = match v {
        Value::Array(a) => a
            .iter()
            .flat_map(|c| c["coding"].as_array())
            .flatten()
            .collect::<Vec<_>>(),
        _ => v["coding"].as_array().into_iter().flatten().collect(),
    };
    codings
        .iter()
        .any(|c| c["system"] == system && c["code"] == code)
}

/// Valid R4, and the required elements present.
pub(crate) fn check(r: &Value) {
    let errors: Vec<_> = fhir::validation::validate(r)
        .into_iter()
        .filter(|i| i.severity == fhir::validation::Severity::Error)
        .collect();
    assert!(errors.is_empty(), "{errors:?} in {r:#}");
    let id = r["id"].as_str().unwrap_or_default();
    assert!(fhir::id::is_id(id), "id {id:?} in {r}");
    let t = r["resourceType"].as_str().unwrap_or_default();
    let required: &[&str] = match t {
        "Task" => &[
            "status",
            "intent",
            "code",
            "focus",
            "for",
            "authoredOn",
            "requester",
        ],
        "ServiceRequest" => &[
            "status",
            "intent",
            "category",
            "code",
            "subject",
            "requester",
            "performer",
            "authoredOn",
        ],
        "Consent" => &[
            "status",
            "scope",
            "category",
            "patient",
            "dateTime",
            "organization",
            "provision.actor",
            "provision.data",
        ],
        "HealthcareService" => &["active", "name", "providedBy"],
        "Location" => &["status"],
        "Organization" => &["name", "active"],
        other => panic!("unexpected {other}"),
    };
    for path in required {
        assert!(has(r, path), "{t}.{path} is missing in {r:#}");
    }
    match t {
        "Task" => {
            assert_eq!(r["intent"], "order");
            assert!(coded(
                &r["code"],
                "http://hl7.org/fhir/CodeSystem/task-code",
                "fulfill"
            ));
            assert!(r["focus"]["reference"]
                .as_str()
                .unwrap()
                .starts_with("ServiceRequest/"));
            assert!(r["for"]["reference"]
                .as_str()
                .unwrap()
                .starts_with("Patient/"));
            for s in ["rejected", "cancelled", "failed", "on-hold"] {
                if r["status"] == s {
                    assert!(
                        has(r, "statusReason.text"),
                        "the IG wants the reason's text for {s}"
                    );
                }
            }
        }
        "ServiceRequest" => {
            assert!(coded(&r["category"], "http://snomed.info/sct", "410606002"));
            let sdoh = r["category"].as_array().unwrap().iter().any(|c| {
                c["coding"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|x| x["system"] == SDOHCC)
            });
            assert!(sdoh, "the SDOHCC category slice is required");
        }
        "Consent" => {
            assert!(coded(
                &r["scope"],
                "http://terminology.hl7.org/CodeSystem/consentscope",
                "patient-privacy"
            ));
            assert!(coded(
                &r["category"],
                "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                "IDSCL"
            ));
            assert!(
                has(r, "sourceAttachment") || has(r, "sourceReference"),
                "SDOHCC Consent needs a source"
            );
            assert!(
                has(r, "policyRule") || has(r, "policy"),
                "ppc-1: a policy or a policy rule"
            );
        }
        "HealthcareService" => assert_eq!(r["active"], true),
        "Location" => assert!(has(r, "address") || has(r, "position") || has(r, "name")),
        _ => {}
    }
}
