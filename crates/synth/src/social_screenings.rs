//! Social-needs screenings of the demo's patients on cancer pathways (crate `social-needs`):
//! one patient in four answered the AHC HRSN core questions at the first appointment, a few
//! with needs (food, transport, housing, utilities) the navigator's worklist shows as
//! barriers once the screening service has scored them. No safety answer is positive.

use serde_json::{json, Value};
use social_needs::{LOINC, QUESTIONNAIRE_URL};

use crate::fhir;
use crate::hospital::Out;

/// Answers by pattern: (linkId, LOINC answer code).
const PATTERNS: [&[(&str, &str)]; 4] = [
    // Nothing to report.
    &[
        ("q1", "LA31993-1"),
        ("q3", "LA28398-8"),
        ("q4", "LA28398-8"),
        ("q5", "LA32-8"),
        ("q6", "LA32-8"),
    ],
    // Food runs out; no car to get to appointments.
    &[
        ("q1", "LA31993-1"),
        ("q3", "LA6729-3"),
        ("q4", "LA28397-0"),
        ("q5", "LA33-6"),
        ("q6", "LA32-8"),
    ],
    // Worried about losing the home; the electricity company threatened to cut off.
    &[
        ("q1", "LA31994-9"),
        ("q3", "LA28398-8"),
        ("q4", "LA28398-8"),
        ("q5", "LA32-8"),
        ("q6", "LA33-6"),
    ],
    // Transport only.
    &[
        ("q1", "LA31993-1"),
        ("q3", "LA28398-8"),
        ("q4", "LA28398-8"),
        ("q5", "LA33-6"),
        ("q6", "LA32-8"),
    ],
];

pub(crate) fn generate(out: &mut Out) {
    // Patients referred on the suspected-cancer pathway, with the referral's date.
    let referred: Vec<(String, String)> = out
        .of_type("ServiceRequest")
        .iter()
        .filter(|s| s["priority"] == "urgent")
        .filter_map(|s| {
            Some((
                s["subject"]["reference"].as_str()?.to_string(),
                s["authoredOn"].as_str()?.to_string(),
            ))
        })
        .collect();
    let mut made: Vec<Value> = Vec::new();
    for (k, (patient, authored)) in referred.iter().enumerate().filter(|(k, _)| k % 4 == 0) {
        let id = format!("hrsn-demo-{}", patient.trim_start_matches("Patient/"));
        let answers = PATTERNS[(k / 4) % PATTERNS.len()];
        made.push(json!({
            "resourceType": "QuestionnaireResponse",
            "id": id,
            "meta": fhir::meta(),
            "language": "en",
            "questionnaire": QUESTIONNAIRE_URL,
            "status": "completed",
            "subject": {"reference": patient},
            "authored": authored,
            "item": answers.iter().map(|(link, code)| json!({
                "linkId": link,
                "answer": [{"valueCoding": {"system": LOINC, "code": code}}],
            })).collect::<Vec<_>>(),
        }));
    }
    out.extend(made);
}
