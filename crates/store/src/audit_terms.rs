//! What of an AuditEvent the audit log makes searchable, and how a search of the audit trail
//! maps onto it. Pure: no SQL, no IO.
//!
//! An AuditEvent is stored once, as written, in an append-only log (`audit_log.rs`); beside it
//! a handful of *terms*, short strings such as `entity:p1/Patient` or `subtype:BTG|SYSTEM`,
//! one row each, stand in for the dozens of index rows a FHIR resource gets. Each term is
//! written most specific part last, so a less specific search is a prefix of it (`agent=ID`
//! is every `agent:ID/…`, `subtype=BTG` every `subtype:BTG|…`): one row per fact serves every
//! way of asking. The searchable parameters are the ones people ask of an audit trail (R4
//! AuditEvent search parameters, <https://hl7.org/fhir/R4/auditevent.html#search>):
//!
//! | parameter | term | from |
//! |---|---|---|
//! | `agent` | `agent:ID/TYPE` | `agent.who` |
//! | `entity` | `entity:ID/TYPE` | `entity.what` |
//! | `patient` | `agent:ID/Patient` or `entity:ID/Patient` | the two above naming a Patient (the Patient compartment's rule) |
//! | `altid` | `altid:VALUE` | `agent.altId` |
//! | `type`, `subtype` | `type:CODE\|SYSTEM` | `type`, `subtype` codings |
//! | `action`, `outcome` | `action:CODE`, `outcome:CODE` | `action`, `outcome` |
//! | `date` | the `recorded` column | `recorded` |
//! | `_id`, `_lastUpdated` | columns | the log row |
//!
//! Any other parameter, modifier, chain or `_has` is refused with a message naming it, never
//! ignored.

use search::{Filter, Modifier, ParamType, Value as QueryValue};
use serde_json::Value;

use crate::compartment::patient_in_url;
use crate::error::StoreError;

/// What the log keeps beside an event's body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Facts {
    /// `recorded`, ms since the epoch (`None` when absent or not an instant).
    pub(crate) recorded: Option<i64>,
    /// The patients the event is about, sorted.
    pub(crate) patients: Vec<String>,
    /// The searchable terms, sorted and without repeats.
    pub(crate) terms: Vec<String>,
}

/// `Type/id` of a relative, versioned or absolute reference, if it names one.
fn type_and_id(reference: &str) -> Option<(String, String)> {
    let path = reference.split(['?', '#']).next()?;
    let path = match path.split_once("/_history/") {
        Some((p, _)) => p,
        None => path,
    };
    let mut parts = path.trim_end_matches('/').rsplit('/');
    let id = parts.next()?;
    let rtype = parts.next()?;
    let typed = rtype.chars().next().is_some_and(|c| c.is_ascii_uppercase())
        && rtype.chars().all(|c| c.is_ascii_alphanumeric());
    (typed && !id.is_empty() && !id.contains(':')).then(|| (rtype.to_string(), id.to_string()))
}

fn codings(v: &Value) -> impl Iterator<Item = &Value> {
    let list: Vec<&Value> = match v {
        Value::Array(a) => a.iter().collect(),
        Value::Null => Vec::new(),
        other => vec![other],
    };
    list.into_iter()
}

fn token_term(name: &str, coding: &Value, out: &mut Vec<String>) {
    let Some(code) = coding["code"].as_str() else {
        return;
    };
    let system = coding["system"].as_str().unwrap_or_default();
    out.push(format!("{name}:{code}|{system}"));
}

/// The facts of one AuditEvent.
pub(crate) fn facts(event: &Value) -> Facts {
    let mut terms = Vec::new();
    let mut patients = Vec::new();
    for agent in event["agent"].as_array().into_iter().flatten() {
        if let Some(r) = agent["who"]["reference"].as_str() {
            if let Some((t, id)) = type_and_id(r) {
                terms.push(format!("agent:{id}/{t}"));
            }
            patients.extend(patient_in_url(r));
        }
        if let Some(alt) = agent["altId"].as_str() {
            terms.push(format!("altid:{alt}"));
        }
    }
    for entity in event["entity"].as_array().into_iter().flatten() {
        if let Some(r) = entity["what"]["reference"].as_str() {
            if let Some((t, id)) = type_and_id(r) {
                terms.push(format!("entity:{id}/{t}"));
            }
            patients.extend(patient_in_url(r));
        }
    }
    patients.sort();
    patients.dedup();
    for coding in codings(&event["type"]) {
        token_term("type", coding, &mut terms);
    }
    for coding in codings(&event["subtype"]) {
        token_term("subtype", coding, &mut terms);
    }
    for name in ["action", "outcome"] {
        if let Some(code) = event[name].as_str() {
            terms.push(format!("{name}:{code}"));
        }
    }
    terms.sort();
    terms.dedup();
    let recorded = event["recorded"]
        .as_str()
        .and_then(search::date_range)
        .map(|(lo, _)| lo);
    Facts {
        recorded,
        patients,
        terms,
    }
}

/// The references an included AuditEvent's `param` (or every reference parameter, `None`)
/// points at, as (type, id).
pub(crate) fn references(event: &Value, param: Option<&str>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut add = |r: Option<&str>, only_patients: bool| {
        if let Some((t, id)) = r.and_then(type_and_id) {
            if !only_patients || t == "Patient" {
                out.push((t, id));
            }
        }
    };
    for agent in event["agent"].as_array().into_iter().flatten() {
        let r = agent["who"]["reference"].as_str();
        match param {
            None | Some("agent") => add(r, false),
            Some("patient") => add(r, true),
            _ => {}
        }
    }
    for entity in event["entity"].as_array().into_iter().flatten() {
        let r = entity["what"]["reference"].as_str();
        match param {
            None | Some("entity") => add(r, false),
            Some("patient") => add(r, true),
            _ => {}
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The terms whose events reference `(rtype, id)` through `param` (`None`: any).
pub(crate) fn referring_terms(param: Option<&str>, rtype: &str, id: &str) -> Vec<String> {
    let mut out = Vec::new();
    for name in ["agent", "entity"] {
        let by_patient = param == Some("patient") && rtype == "Patient";
        if param.is_none() || param == Some(name) || by_patient {
            out.push(format!("{name}:{id}/{rtype}"));
        }
    }
    out
}

/// One term to look for: exactly, or every term it begins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Term {
    Exact(String),
    Prefix(String),
}

impl Term {
    /// Whether `held` (a term an event holds) is one this looks for.
    #[cfg(test)]
    fn finds(&self, held: &str) -> bool {
        match self {
            Term::Exact(t) => t == held,
            Term::Prefix(p) => held.starts_with(p.as_str()),
        }
    }

    /// The end of a prefix's range: the prefix with its last character moved up by one
    /// (prefixes end in `/` or `|`).
    pub(crate) fn upper(prefix: &str) -> String {
        let mut out: String = prefix.to_string();
        if let Some(last) = out.pop() {
            out.push(char::from_u32(last as u32 + 1).unwrap_or(char::MAX));
        }
        out
    }
}

/// How one filter of an audit-trail search is answered.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Condition {
    /// Events holding any of these terms.
    AnyTerm(Vec<Term>),
    /// `recorded` compared with these ranges (ORed): prefix, lo, hi.
    Recorded(Vec<(search::Prefix, i64, i64)>),
    /// `meta.lastUpdated` compared with these ranges (ORed).
    LastUpdated(Vec<(search::Prefix, i64, i64)>),
    /// One of these ids.
    Ids(Vec<String>),
}

/// The parameters an audit-trail search understands.
pub const PARAMS: [&str; 11] = [
    "_id",
    "_lastUpdated",
    "date",
    "patient",
    "agent",
    "altid",
    "entity",
    "type",
    "subtype",
    "action",
    "outcome",
];

/// [`PARAMS`] as words, for error messages.
const SEARCHABLE: &str =
    "_id, _lastUpdated, date, patient, agent, altid, entity, type, subtype, action, outcome";

fn unsupported(what: &str) -> StoreError {
    StoreError::BadRequest(format!(
        "the audit trail cannot be searched by {what}: AuditEvent searches take {SEARCHABLE}"
    ))
}

fn date_ranges(values: &[QueryValue]) -> Vec<(search::Prefix, i64, i64)> {
    values
        .iter()
        .filter_map(|v| match v {
            QueryValue::Date { prefix, lo, hi } => Some((*prefix, *lo, *hi)),
            _ => None,
        })
        .collect()
}

fn reference_terms(
    code: &str,
    modifier: Option<&Modifier>,
    v: &QueryValue,
) -> Result<Vec<Term>, StoreError> {
    let QueryValue::Reference { rtype, id, url } = v else {
        return Err(unsupported(&format!("'{code}' with that kind of value")));
    };
    let typed = match modifier {
        Some(Modifier::Type(t)) => Some(t.clone()),
        None => rtype.clone(),
        Some(_) => return Err(unsupported(&format!("a modifier on '{code}'"))),
    };
    let (typed, id) = match (typed, id, url) {
        (t, Some(id), _) => (t, id.clone()),
        (_, None, Some(url)) => match type_and_id(url) {
            Some((t, id)) => (Some(t), id),
            None => return Err(unsupported(&format!("'{code}' with the address {url}"))),
        },
        _ => return Err(unsupported(&format!("an empty '{code}'"))),
    };
    Ok(match (code, typed) {
        ("patient", t) => {
            let t = t.unwrap_or_else(|| "Patient".into());
            vec![
                Term::Exact(format!("agent:{id}/{t}")),
                Term::Exact(format!("entity:{id}/{t}")),
            ]
        }
        (_, Some(t)) => vec![Term::Exact(format!("{code}:{id}/{t}"))],
        (_, None) => vec![Term::Prefix(format!("{code}:{id}/"))],
    })
}

fn token_search(code: &str, v: &QueryValue) -> Result<Term, StoreError> {
    let QueryValue::Token { system, code: c } = v else {
        return Err(unsupported(&format!("'{code}' with that kind of value")));
    };
    let Some(c) = c else {
        return Err(unsupported(&format!("'{code}' with a system and no code")));
    };
    Ok(match (code, system) {
        ("type" | "subtype", None) => Term::Prefix(format!("{code}:{c}|")),
        ("type" | "subtype", Some(None)) => Term::Exact(format!("{code}:{c}|")),
        ("type" | "subtype", Some(Some(s))) => Term::Exact(format!("{code}:{c}|{s}")),
        (_, _) => Term::Exact(format!("{code}:{c}")),
    })
}

/// The condition of one filter, or why it cannot be answered.
pub(crate) fn condition(f: &Filter) -> Result<Condition, StoreError> {
    match f {
        Filter::Id(ids) => Ok(Condition::Ids(ids.clone())),
        Filter::LastUpdated(values) => Ok(Condition::LastUpdated(date_ranges(values))),
        Filter::Chain { param, .. } => Err(unsupported(&format!("a chain on '{}'", param.code))),
        Filter::Has { source_type, .. } => Err(unsupported(&format!("_has:{source_type}"))),
        // The Patient compartment's rule for AuditEvent: `patient`.
        Filter::PatientCompartment(id) => Ok(Condition::AnyTerm(vec![
            Term::Exact(format!("agent:{id}/Patient")),
            Term::Exact(format!("entity:{id}/Patient")),
        ])),
        Filter::Param {
            param,
            modifier,
            values,
        } => {
            let code = param.code.as_str();
            match (code, param.kind) {
                ("date", ParamType::Date) if modifier.is_none() => {
                    Ok(Condition::Recorded(date_ranges(values)))
                }
                ("patient" | "agent" | "entity", ParamType::Reference) => {
                    let mut terms = Vec::new();
                    for v in values {
                        terms.extend(reference_terms(code, modifier.as_ref(), v)?);
                    }
                    Ok(Condition::AnyTerm(terms))
                }
                ("altid" | "type" | "subtype" | "action" | "outcome", ParamType::Token)
                    if modifier.is_none() =>
                {
                    values
                        .iter()
                        .map(|v| token_search(code, v))
                        .collect::<Result<_, _>>()
                        .map(Condition::AnyTerm)
                }
                _ if modifier.is_some() => Err(unsupported(&format!("'{code}' with a modifier"))),
                _ => Err(unsupported(&format!("'{code}'"))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use search::{Registry, SearchQuery};
    use serde_json::json;

    fn event() -> Value {
        json!({"resourceType": "AuditEvent",
            "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-event-type", "code": "rest"},
            "subtype": [{"system": "http://hl7.org/fhir/restful-interaction", "code": "read"},
                        {"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "BTG"}],
            "action": "R", "outcome": "0", "recorded": "2026-11-25T10:00:00Z",
            "agent": [{"who": {"reference": "Practitioner/pr-1"}, "altId": "nurse", "requestor": true}],
            "entity": [{"what": {"reference": "https://tend.example.org/fhir/Patient/p1/_history/2"}},
                       {"what": {"reference": "Patient/p2"}},
                       {"what": {"reference": "Observation/o1"}}]})
    }

    #[test]
    fn an_event_is_searchable_by_who_whom_what_and_when() {
        let f = facts(&event());
        assert_eq!(f.patients, vec!["p1", "p2"]);
        assert_eq!(f.recorded, Some(1_795_600_800_000));
        for t in [
            "agent:pr-1/Practitioner",
            "altid:nurse",
            "entity:o1/Observation",
            "entity:p1/Patient",
            "entity:p2/Patient",
            "subtype:BTG|http://terminology.hl7.org/CodeSystem/v3-ActReason",
            "type:rest|http://terminology.hl7.org/CodeSystem/audit-event-type",
            "action:R",
            "outcome:0",
        ] {
            assert!(f.terms.contains(&t.to_string()), "{t} in {:?}", f.terms);
        }
    }

    fn conditions(params: &[(&str, &str)]) -> Result<Vec<Condition>, StoreError> {
        let params: Vec<(String, String)> = params
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        let q = SearchQuery::parse(Registry::r4(), "AuditEvent", &params).unwrap();
        q.filters.iter().map(condition).collect()
    }

    #[test]
    fn searches_map_to_the_terms_an_event_holds() {
        let held = facts(&event()).terms;
        let finds = |params: &[(&str, &str)]| {
            conditions(params).unwrap().into_iter().all(|cond| {
                let Condition::AnyTerm(terms) = cond else {
                    panic!("{cond:?}")
                };
                terms.iter().any(|t| held.iter().any(|h| t.finds(h)))
            })
        };
        assert!(finds(&[
            ("patient", "Patient/p1,p2"),
            (
                "subtype",
                "http://terminology.hl7.org/CodeSystem/v3-ActReason|BTG"
            ),
            ("agent", "Practitioner/pr-1"),
            ("altid", "nurse"),
        ]));
        assert!(finds(&[
            ("patient", "p2"),
            ("subtype", "BTG"),
            ("agent", "pr-1")
        ]));
        assert!(finds(&[
            ("entity", "o1"),
            ("type", "rest"),
            ("action", "R")
        ]));
        assert!(!finds(&[("subtype", "|BTG")]), "BTG has a system");
        assert!(!finds(&[("patient", "o1")]), "o1 is no patient");
        assert!(!finds(&[("agent", "Patient/pr-1")]));
        assert_eq!(Term::upper("agent:pr-1/"), "agent:pr-10");
        assert_eq!(Term::upper("type:rest|"), "type:rest}");
    }

    #[test]
    fn the_words_name_every_parameter() {
        assert_eq!(SEARCHABLE, PARAMS.join(", "));
    }

    #[test]
    fn what_the_log_cannot_answer_is_refused_by_name() {
        for (p, v) in [
            ("entity-name", "x"),
            ("patient:Patient.name", "Smith"),
            ("_has:Provenance:target:agent", "x"),
            ("type:not", "rest"),
        ] {
            let e = conditions(&[(p, v)]).unwrap_err().to_string();
            assert!(e.contains("AuditEvent searches take"), "{p}: {e}");
        }
    }
}
