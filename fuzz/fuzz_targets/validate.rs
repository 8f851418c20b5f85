//! Any bytes that parse as JSON go through `fhir::validation::validate`, which must report
//! issues and never panic (<https://hl7.org/fhir/R4/json.html>).
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(resource) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let _ = fhir::validation::validate(&resource);
    // The `_summary` lookups take whatever names a client sends.
    if let Some(obj) = resource.as_object() {
        let rtype = obj
            .get("resourceType")
            .and_then(Value::as_str)
            .unwrap_or_default();
        for key in obj.keys() {
            let _ = fhir::validation::is_summary(rtype, key);
            let _ = fhir::validation::is_mandatory(rtype, key);
        }
    }
});
