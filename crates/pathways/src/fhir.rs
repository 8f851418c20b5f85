//! Reading the record: FHIR resources (JSON) into the engine's [`Event`]s, with times in the
//! hospital's zone so that day-counted clocks count local calendar dates. Pure: the zone is
//! an argument.
//!
//! | Event field | From |
//! |---|---|
//! | `codes` | `code`, `category`, `type`, `medicationCodeableConcept` codings and `meta.tag` codings of Tend's `pathway-event` system |
//! | `time` | ServiceRequest and MedicationRequest `authoredOn`; Appointment `start`; Encounter `period.start`; DiagnosticReport and Observation `issued` (the result reported), else `effective[x]`; Specimen `collection.collected[x]`; Condition `recordedDate`, else `onset[x]`; Procedure `performed[x]`; MedicationAdministration `effective[x]`; CarePlan `created`, else `period.start`; Communication `sent` |
//! | `value` | `valueQuantity.value`, else `valueInteger` |
//! | `link` | a CarePlan's own reference; a treatment's `basedOn` CarePlan |
//! | retracted | status `entered-in-error` (the event is left out) |

use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone};
use chrono_tz::Tz;
use serde_json::Value;

use crate::{Coding, Event, ResourceType};

/// Tend's code system for events the pathways read from tags (`meta.tag`).
pub const PATHWAY_EVENT: &str = "https://tend.example.org/fhir/CodeSystem/pathway-event";

/// An instant or date of FHIR in the hospital's zone (a date: local midnight).
pub fn at(zone: Tz, s: &str) -> Option<DateTime<FixedOffset>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&zone).fixed_offset());
    }
    let d = NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d").ok()?;
    zone.from_local_datetime(&d.and_hms_opt(0, 0, 0)?)
        .earliest()
        .map(|t| t.fixed_offset())
}

/// Every coding of a CodeableConcept (or an array of them), appended to `out`.
pub fn codings(v: &Value, out: &mut Vec<Coding>) {
    match v {
        Value::Array(a) => a.iter().for_each(|x| codings(x, out)),
        Value::Object(_) => {
            for c in v["coding"].as_array().into_iter().flatten() {
                if let (Some(s), Some(c)) = (c["system"].as_str(), c["code"].as_str()) {
                    out.push(Coding::new(s, c));
                }
            }
        }
        _ => {}
    }
}

fn first_str<'a>(v: &'a Value, paths: &[&[&str]]) -> Option<&'a str> {
    paths.iter().find_map(|p| {
        let mut x = v;
        for k in *p {
            x = &x[*k];
        }
        x.as_str()
    })
}

/// The clinical time of a resource.
fn clinical_time(rtype: ResourceType, r: &Value) -> Option<&str> {
    use ResourceType::*;
    let p: &[&[&str]] = match rtype {
        ServiceRequest | MedicationRequest => &[&["authoredOn"], &["occurrenceDateTime"]],
        Appointment => &[&["start"]],
        Encounter => &[&["period", "start"]],
        DiagnosticReport | Observation => &[
            &["issued"],
            &["effectiveDateTime"],
            &["effectivePeriod", "start"],
            &["effectiveInstant"],
        ],
        Specimen => &[
            &["collection", "collectedDateTime"],
            &["collection", "collectedPeriod", "start"],
            &["receivedTime"],
        ],
        Condition => &[
            &["recordedDate"],
            &["onsetDateTime"],
            &["onsetPeriod", "start"],
        ],
        Procedure => &[&["performedDateTime"], &["performedPeriod", "start"]],
        MedicationAdministration => &[&["effectiveDateTime"], &["effectivePeriod", "start"]],
        CarePlan => &[&["created"], &["period", "start"]],
        Communication => &[&["sent"], &["received"]],
    };
    first_str(r, p)
}

/// Who recorded or did it.
fn actor(r: &Value) -> Option<String> {
    first_str(
        r,
        &[
            &["recorder", "reference"],
            &["asserter", "reference"],
            &["requester", "reference"],
            &["author", "reference"],
            &["sender", "reference"],
        ],
    )
    .or_else(|| r["performer"][0]["actor"]["reference"].as_str())
    .or_else(|| r["performer"][0]["reference"].as_str())
    .map(str::to_string)
}

/// One resource as an event; `None` for types the pathways do not read and for records
/// entered in error.
pub fn event(zone: Tz, r: &Value) -> Option<Event> {
    let rtype_s = r["resourceType"].as_str()?;
    let rtype = ResourceType::parse(rtype_s)?;
    let id = r["id"].as_str()?;
    let status = r["status"].as_str().map(str::to_string);
    if status.as_deref() == Some("entered-in-error") {
        return None;
    }
    let mut codes = Vec::new();
    codings(&r["code"], &mut codes);
    codings(&r["category"], &mut codes);
    codings(&r["type"], &mut codes);
    codings(&r["medicationCodeableConcept"], &mut codes);
    for t in r["meta"]["tag"].as_array().into_iter().flatten() {
        if let (Some(s), Some(c)) = (t["system"].as_str(), t["code"].as_str()) {
            if s == PATHWAY_EVENT {
                codes.push(Coding::new(s, c));
            }
        }
    }
    let time = at(zone, clinical_time(rtype, r)?)?;
    let reference = format!("{rtype_s}/{id}");
    let mut value_codes = Vec::new();
    codings(&r["valueCodeableConcept"], &mut value_codes);
    codings(&r["interpretation"], &mut value_codes);
    let link = match rtype {
        ResourceType::CarePlan => Some(reference.clone()),
        _ => r["basedOn"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|b| b["reference"].as_str())
            .find(|b| b.starts_with("CarePlan/"))
            .map(str::to_string),
    };
    Some(Event {
        codes,
        status,
        verification_status: r["verificationStatus"]["coding"][0]["code"]
            .as_str()
            .map(str::to_string),
        value: r["valueQuantity"]["value"]
            .as_f64()
            .or_else(|| r["valueInteger"].as_f64()),
        value_codes,
        source: Some(reference.clone()),
        recorded_by: actor(r),
        link,
        ..Event::resource(&reference, rtype, time)
    })
}
