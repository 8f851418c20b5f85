//! Reading the record: FHIR resources (JSON) into the pathway engine's [`pathways::Event`]s,
//! and the navigators' own records (milestone entries, contacts, assignments, clock
//! adjustments) into what the service keeps. Times are read in the hospital's zone, so
//! day-counted clocks count local calendar dates.
//!
//! The record's own resources are read by [`pathways::fhir`].

use chrono::{DateTime, FixedOffset, NaiveDate};
use chrono_tz::Tz;
use pathways::fhir::codings;
use pathways::{Adjustment, Event, ResourceType};
use serde_json::Value;

use crate::codes;

/// One resource as an event; `None` for types and resources the pathways do not read
/// (navigators' own contact Communications among them) and for records entered in error.
pub(crate) fn event(zone: Tz, r: &Value) -> Option<Event> {
    let e = pathways::fhir::event(zone, r)?;
    if e.kind == pathways::EventKind::Resource(ResourceType::Communication)
        && e.codes.iter().any(|c| c.system == codes::NAVIGATION)
    {
        return None;
    }
    Some(e)
}

pub use pathways::fhir::at;

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
