//! Records shared with someone outside the usual rules: a community organisation (all a
//! community partner may see), or a safety-event report's reporter.
//!
//! A referral to a community service, in the shapes of the HL7 SDOH Clinical Care IG
//! (STU 2, "Referral management"), is three records: the ServiceRequest (category an SDOH
//! domain, performer the organisation), the Task that asks the organisation to fulfil it
//! (code `fulfill`, owner the organisation) and the patient's Consent to share it (a
//! provision naming the organisation as information recipient). [`shared_with`] reads the
//! organisation from the record itself when it is written, so the store decides on it
//! like on a record's patients: a partner reaches only these records of its own
//! organisation, and of a patient only the contact details in [`PARTNER_PATIENT`].

use serde_json::Value;

/// The types a community partner reaches when, and only when, shared with its organisation.
pub const SHARED_TYPES: [&str; 3] = ["Task", "ServiceRequest", "Consent"];

/// The elements of a Patient a community partner receives (minimum necessary: who the
/// person is, how to reach them, the language to speak); the rest is left out and the
/// record is marked `SUBSETTED`.
pub const PARTNER_PATIENT: [&str; 9] = [
    "resourceType",
    "id",
    "meta",
    "name",
    "telecom",
    "address",
    "birthDate",
    "communication",
    "active",
];

const TASK_CODE: &str = "http://hl7.org/fhir/CodeSystem/task-code";
const SDOHCC: &str =
    "http://hl7.org/fhir/us/sdoh-clinicalcare/CodeSystem/SDOHCC-CodeSystemTemporaryCodes";
const PARTICIPATION: &str = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType";

fn organization(reference: &Value) -> Option<String> {
    reference["reference"]
        .as_str()?
        .strip_prefix("Organization/")
        .filter(|id| !id.is_empty() && !id.contains('/'))
        .map(str::to_string)
}

fn codings(v: &Value) -> impl Iterator<Item = &Value> {
    v["coding"].as_array().into_iter().flatten()
}

/// Who a record is shared with outside the usual rules: the organisation (`Organization`
/// id) of a community referral's records, or the reporter (`Practitioner/ID`) of a
/// safety-event report (AdverseEvent `recorder`; none when the report is anonymous), who
/// may read their own report and no one else's.
pub fn shared_with(resource: &Value) -> Option<String> {
    match resource["resourceType"].as_str()? {
        "AdverseEvent" => resource["recorder"]["reference"]
            .as_str()
            .filter(|r| {
                r.strip_prefix("Practitioner/")
                    .is_some_and(|id| !id.is_empty() && !id.contains('/'))
            })
            .map(str::to_string),
        "Task" => {
            let fulfil = codings(&resource["code"])
                .any(|c| c["system"] == TASK_CODE && c["code"] == "fulfill");
            fulfil.then(|| organization(&resource["owner"])).flatten()
        }
        "ServiceRequest" => {
            let sdoh = resource["category"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(codings)
                .any(|c| c["system"] == SDOHCC);
            if !sdoh {
                return None;
            }
            resource["performer"]
                .as_array()
                .into_iter()
                .flatten()
                .find_map(organization)
        }
        "Consent" => resource["provision"]["actor"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|a| {
                codings(&a["role"]).any(|c| c["system"] == PARTICIPATION && c["code"] == "IRCP")
            })
            .find_map(|a| organization(&a["reference"])),
        _ => None,
    }
}

/// A Patient cut to what a community partner receives ([`PARTNER_PATIENT`]), marked
/// `SUBSETTED` as FHIR asks of a partial resource.
pub fn partner_patient(patient: &Value) -> Value {
    let mut out = serde_json::Map::new();
    if let Some(o) = patient.as_object() {
        for (k, v) in o {
            if PARTNER_PATIENT.contains(&k.as_str()) {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    let meta = out
        .entry("meta")
        .or_insert_with(|| Value::Object(Default::default()));
    if let Some(m) = meta.as_object_mut() {
        let tags = m.entry("tag").or_insert_with(|| Value::Array(vec![]));
        if let Some(t) = tags.as_array_mut() {
            t.push(serde_json::json!({
                "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
                "code": "SUBSETTED",
                "display": "subsetted"
            }));
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_referral_s_records_name_their_organisation() {
        let task = json!({"resourceType": "Task", "code": {"coding": [{"system": TASK_CODE, "code": "fulfill"}]},
            "owner": {"reference": "Organization/food-bank"}});
        assert_eq!(shared_with(&task).as_deref(), Some("food-bank"));
        let navigator_task = json!({"resourceType": "Task", "code": {"text": "call"}, "owner": {"reference": "Organization/food-bank"}});
        assert_eq!(shared_with(&navigator_task), None);
        let owned_by_person = json!({"resourceType": "Task", "code": {"coding": [{"system": TASK_CODE, "code": "fulfill"}]},
            "owner": {"reference": "Practitioner/n1"}});
        assert_eq!(shared_with(&owned_by_person), None);
        let sr = json!({"resourceType": "ServiceRequest", "category": [{"coding": [{"system": SDOHCC, "code": "food-insecurity"}]}],
            "performer": [{"reference": "Practitioner/x"}, {"reference": "Organization/food-bank"}]});
        assert_eq!(shared_with(&sr).as_deref(), Some("food-bank"));
        let hospital_sr = json!({"resourceType": "ServiceRequest", "category": [{"text": "imaging"}], "performer": [{"reference": "Organization/hospital"}]});
        assert_eq!(shared_with(&hospital_sr), None);
        let consent = json!({"resourceType": "Consent", "provision": {"actor": [
            {"role": {"coding": [{"system": PARTICIPATION, "code": "IRCP"}]}, "reference": {"reference": "Organization/food-bank"}}]}});
        assert_eq!(shared_with(&consent).as_deref(), Some("food-bank"));
        let author = json!({"resourceType": "Consent", "provision": {"actor": [
            {"role": {"coding": [{"system": PARTICIPATION, "code": "AUT"}]}, "reference": {"reference": "Organization/food-bank"}}]}});
        assert_eq!(shared_with(&author), None);
        assert_eq!(shared_with(&json!({"resourceType": "Observation"})), None);
    }

    #[test]
    fn a_safety_report_is_shared_with_its_reporter_unless_anonymous() {
        let named =
            json!({"resourceType": "AdverseEvent", "recorder": {"reference": "Practitioner/n1"}});
        assert_eq!(shared_with(&named).as_deref(), Some("Practitioner/n1"));
        let anonymous = json!({"resourceType": "AdverseEvent"});
        assert_eq!(shared_with(&anonymous), None);
        let patient =
            json!({"resourceType": "AdverseEvent", "recorder": {"reference": "Patient/p1"}});
        assert_eq!(shared_with(&patient), None);
    }

    #[test]
    fn a_partner_receives_contact_details_only() {
        let p = json!({"resourceType": "Patient", "id": "p1", "meta": {"versionId": "2"},
            "identifier": [{"value": "MRN1"}], "name": [{"family": "Doe"}], "telecom": [{"value": "555"}],
            "birthDate": "1960-01-01", "extension": [{"url": "race"}], "maritalStatus": {"text": "M"},
            "communication": [{"language": {"text": "Spanish"}}]});
        let cut = partner_patient(&p);
        assert_eq!(cut["name"][0]["family"], "Doe");
        assert_eq!(cut["telecom"][0]["value"], "555");
        assert!(cut.get("identifier").is_none());
        assert!(cut.get("extension").is_none());
        assert!(cut.get("maritalStatus").is_none());
        assert_eq!(cut["meta"]["versionId"], "2");
        assert_eq!(cut["meta"]["tag"][0]["code"], "SUBSETTED");
    }
}
