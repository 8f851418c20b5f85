//! Reading the record: FHIR resources (JSON) into the pathway engine's [`pathways::Event`]s,
//! and the navigators' own records (milestone entries, contacts, assignments, clock
//! adjustments) into what the service keeps. Times are read in the hospital's zone, so
//! day-counted clocks count local calendar dates.
//!
//! | Event field | From |
//! |---|---|
//! | `codes` | `code`, `category`, `type`, `medicationCodeableConcept` codings and `meta.tag` codings of Tend's `pathway-event` system |
//! | `time` | ServiceRequest and MedicationRequest `authoredOn`; Appointment `start`; Encounter `period.start`; DiagnosticReport and Observation `issued` (the result reported), else `effective[x]`; Specimen `collection.collected[x]`; Condition `recordedDate`, else `onset[x]`; Procedure `performed[x]`; MedicationAdministration `effective[x]`; CarePlan `created`, else `period.start`; Communication `sent` |
//! | `link` | a CarePlan's own reference; a treatment's `basedOn` CarePlan |
//! | retracted | status `entered-in-error` (the event is left out) |

use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone};
use chrono_tz::Tz;
use pathways::{Adjustment, Coding, Event, ResourceType};
use serde_json::Value;

use crate::codes;

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

fn codings(v: &Value, out: &mut Vec<Coding>) {
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

/// One resource as an event; `None` for types and resources the pathways do not read
/// (navigators' own contact Communications among them) and for records entered in error.
pub(crate) fn event(zone: Tz, r: &Value) -> Option<Event> {
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
    if rtype == ResourceType::Communication && codes.iter().any(|c| c.system == codes::NAVIGATION) {
        return None;
    }
    for t in r["meta"]["tag"].as_array().into_iter().flatten() {
        if let (Some(s), Some(c)) = (t["system"].as_str(), t["code"].as_str()) {
            if s == codes::PATHWAY_EVENT {
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
        value: r["valueQuantity"]["value"].as_f64(),
        value_codes,
        source: Some(reference.clone()),
        recorded_by: actor(r),
        link,
        ..Event::resource(&reference, rtype, time)
    })
}

/// A navigator's entry on a milestone Task: (pathway, milestone, when it happened, who).
pub(crate) fn navigator_entry(zone: Tz, task: &Value) -> Option<(String, String, Event)> {
    let (pathway, milestone) = milestone_key(task)?;
    let outputs = task["output"].as_array()?;
    let of = |code: &str| {
        outputs.iter().find(|o| {
            o["type"]["coding"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["system"] == codes::NAVIGATION && c["code"] == code)
        })
    };
    let when = at(zone, of(codes::ENTRY)?["valueDateTime"].as_str()?)?;
    let by = of(codes::ENTRY_BY)
        .and_then(|o| o["valueReference"]["reference"].as_str())
        .unwrap_or("unknown")
        .to_string();
    let id = format!("Task/{}#navigator", task["id"].as_str()?);
    let mut e = Event::navigator(&id, &milestone, when, &by);
    e.source = Some(format!("Task/{}", task["id"].as_str()?));
    Some((pathway, milestone, e))
}

/// The `(pathway, milestone)` a milestone Task is for.
pub(crate) fn milestone_key(task: &Value) -> Option<(String, String)> {
    let v = task["identifier"]
        .as_array()?
        .iter()
        .find(|i| i["system"] == codes::MILESTONE_ID)?["value"]
        .as_str()?;
    let (p, m) = v.split_once('#')?;
    Some((p.to_string(), m.to_string()))
}

/// Whether a resource carries `code` of Tend's navigation system in `code` (Tasks) or
/// `category` (Communications).
pub(crate) fn is_nav(r: &Value, code: &str) -> bool {
    let mut cs = Vec::new();
    codings(&r["code"], &mut cs);
    codings(&r["category"], &mut cs);
    cs.iter()
        .any(|c| c.system == codes::NAVIGATION && c.code == code)
}

/// A clock adjustment Task as the engine's [`Adjustment`], with its pathway.
pub(crate) fn adjustment(zone: Tz, task: &Value) -> Option<(String, Adjustment)> {
    let input = |name: &str| {
        task["input"].as_array().and_then(|a| {
            a.iter()
                .find(|i| i["type"]["text"] == name)
                .and_then(|i| i["valueString"].as_str())
                .map(str::to_string)
        })
    };
    let pathway = input("pathway")?;
    let id = format!("Task/{}", task["id"].as_str()?);
    Some((
        pathway,
        Adjustment {
            id: id.clone(),
            rule: input("rule")?,
            clock: input("clock"),
            link: None,
            from: at(zone, task["executionPeriod"]["start"].as_str()?)?,
            until: task["executionPeriod"]["end"]
                .as_str()
                .and_then(|s| at(zone, s)),
            reason: task["reasonCode"]["text"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            recorded_by: task["requester"]["reference"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            recorded_at: at(zone, task["authoredOn"].as_str()?)?,
            supersedes: None,
            retracted: task["status"] == "entered-in-error",
        },
    ))
}

/// A navigator's contact with the patient.
#[derive(Debug, Clone, PartialEq)]
pub struct Contact {
    pub id: String,
    pub at: DateTime<FixedOffset>,
    /// `phone`, `in-person`, `video`, `letter`, `email`, `text`.
    pub channel: String,
    /// e.g. `reached`.
    pub outcome: String,
    pub note: Option<String>,
    /// `Practitioner/ID`.
    pub by: Option<String>,
}

/// A contact Communication.
pub(crate) fn contact(zone: Tz, c: &Value) -> Option<Contact> {
    if !is_nav(c, codes::CONTACT) || c["status"] == "entered-in-error" {
        return None;
    }
    let channel = c["medium"][0]["coding"][0]["code"]
        .as_str()
        .and_then(codes::channel_of_mode)
        .unwrap_or("other")
        .to_string();
    let outcome = c["extension"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["url"] == codes::OUTCOME_EXT)
        .and_then(|e| e["valueCodeableConcept"]["coding"][0]["code"].as_str())
        .unwrap_or("other")
        .to_string();
    Some(Contact {
        id: c["id"].as_str()?.to_string(),
        at: at(zone, c["sent"].as_str()?)?,
        channel,
        outcome,
        note: c["payload"][0]["contentString"]
            .as_str()
            .map(str::to_string),
        by: c["sender"]["reference"].as_str().map(str::to_string),
    })
}

/// A navigator assignment (or hand-over).
#[derive(Debug, Clone, PartialEq)]
pub struct Assignment {
    pub id: String,
    pub at: DateTime<FixedOffset>,
    /// `Practitioner/ID` of the navigator.
    pub navigator: String,
    /// Who assigned.
    pub by: Option<String>,
    pub note: Option<String>,
}

/// An assignment Task.
pub(crate) fn assignment(zone: Tz, t: &Value) -> Option<Assignment> {
    if !is_nav(t, codes::ASSIGN) || t["status"] != "completed" {
        return None;
    }
    Some(Assignment {
        id: t["id"].as_str()?.to_string(),
        at: at(zone, t["authoredOn"].as_str()?)?,
        navigator: t["owner"]["reference"].as_str()?.to_string(),
        by: t["requester"]["reference"].as_str().map(str::to_string),
        note: t["note"][0]["text"].as_str().map(str::to_string),
    })
}

/// What the worklist shows about a patient.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Person {
    pub name: String,
    pub mrn: Option<String>,
    pub birth_date: Option<NaiveDate>,
    pub gender: Option<String>,
    /// Preferred language's display, when not English.
    pub language: Option<String>,
    pub interpreter: bool,
    pub phone: Option<String>,
    /// US Core race and ethnicity, as their text says (`None`: not recorded).
    pub race: Option<String>,
    pub ethnicity: Option<String>,
}

/// A Patient resource read for the worklist.
pub fn person(p: &Value) -> Person {
    let names = p["name"].as_array().cloned().unwrap_or_default();
    let n = names
        .iter()
        .find(|n| n["use"] == "official")
        .or(names.first());
    let name = n
        .map(|n| {
            n["text"].as_str().map(str::to_string).unwrap_or_else(|| {
                let mut parts: Vec<&str> = n["given"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                if let Some(f) = n["family"].as_str() {
                    parts.push(f);
                }
                parts.join(" ")
            })
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "Unnamed".into());
    let mrn = p["identifier"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|i| i["type"]["coding"][0]["code"] == "MR")
        .and_then(|i| i["value"].as_str())
        .map(str::to_string);
    let comms = p["communication"].as_array().cloned().unwrap_or_default();
    let c = comms
        .iter()
        .find(|c| c["preferred"] == true)
        .or(comms.first());
    let language = c
        .and_then(|c| {
            let code = c["language"]["coding"][0]["code"].as_str().unwrap_or("");
            if code == "en" || code.starts_with("en-") {
                return None;
            }
            c["language"]["text"]
                .as_str()
                .or_else(|| c["language"]["coding"][0]["display"].as_str())
                .or(Some(code).filter(|c| !c.is_empty()))
        })
        .map(str::to_string);
    let interpreter = p["extension"].as_array().into_iter().flatten().any(|e| {
        e["url"] == "http://hl7.org/fhir/StructureDefinition/patient-interpreterRequired"
            && e["valueBoolean"] == true
    });
    Person {
        name,
        mrn,
        birth_date: p["birthDate"]
            .as_str()
            .and_then(|d| NaiveDate::parse_from_str(d.get(..10)?, "%Y-%m-%d").ok()),
        gender: p["gender"].as_str().map(str::to_string),
        language,
        interpreter,
        race: us_core_text(p, "us-core-race"),
        ethnicity: us_core_text(p, "us-core-ethnicity"),
        phone: p["telecom"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|t| t["system"] == "phone")
            .and_then(|t| t["value"].as_str())
            .map(str::to_string),
    }
}

/// The `text` of a US Core race or ethnicity extension.
fn us_core_text(p: &Value, which: &str) -> Option<String> {
    let url = format!("http://hl7.org/fhir/us/core/StructureDefinition/{which}");
    p["extension"]
        .as_array()?
        .iter()
        .find(|e| e["url"] == url.as_str())?["extension"]
        .as_array()?
        .iter()
        .find(|e| e["url"] == "text")?["valueString"]
        .as_str()
        .map(str::to_string)
}

/// A barrier to care from a social-needs screening answer (AHC HRSN), in plain words.
pub(crate) fn barrier(o: &Value) -> Option<&'static str> {
    const POSITIVE: &[&str] = &[
        "LA33-6",    // Yes
        "LA28397-0", // Often true
        "LA6729-3",  // Sometimes true
        "LA31994-9", // I have a place to live today, but I am worried about losing it
        "LA31995-6", // I do not have a steady place to live
        "LA15832-0", // Very hard
        "LA14745-4", // Somewhat hard
    ];
    let code = o["code"]["coding"]
        .as_array()?
        .iter()
        .find(|c| c["system"] == "http://loinc.org")?["code"]
        .as_str()?;
    let label = match code {
        "93030-5" => "transport",
        "88122-7" | "88123-5" => "food",
        "71802-3" => "housing",
        "96779-4" => "utilities",
        "76513-1" => "money for basics",
        _ => return None,
    };
    let answer = o["valueCodeableConcept"]["coding"][0]["code"].as_str()?;
    POSITIVE.contains(&answer).then_some(label)
}
