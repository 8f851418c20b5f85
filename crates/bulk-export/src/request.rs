//! The kick-off request (<https://hl7.org/fhir/uv/bulkdata/export.html#query-parameters>):
//! which level, which types, since when, and which searches narrow a type, read from the
//! query parameters and checked before a job is accepted. Pure: no store, no clock.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::Error;

/// The output formats accepted for `_outputFormat` (all meaning NDJSON of FHIR resources).
pub const OUTPUT_FORMATS: &[&str] = &["application/fhir+ndjson", "application/ndjson", "ndjson"];

/// Types never exported: the audit trail is searched (`AuditEvent`), not exported.
pub const NOT_EXPORTED: &[&str] = &["AuditEvent"];

/// Which records an export is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "group")]
pub enum Level {
    /// `[base]/$export`: every resource the caller reaches.
    System,
    /// `[base]/Patient/$export`: the Patient compartments of every patient.
    Patient,
    /// `[base]/Group/[id]/$export`: the Patient compartments of the group's members.
    Group(String),
}

/// A `_typeFilter`: a search that a type's resources must match to be exported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypeFilter {
    pub rtype: String,
    /// The search's query parameters, decoded.
    pub params: Vec<(String, String)>,
}

/// A checked kick-off request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    pub level: Level,
    /// `_type`: these types only (None: every type the caller may read).
    pub types: Option<Vec<String>>,
    /// `_since`: only resources changed after this instant.
    pub since: Option<DateTime<Utc>>,
    /// `_typeFilter`s; several for one type are alternatives (OR).
    pub filters: Vec<TypeFilter>,
    /// Parameters ignored under `Prefer: handling=lenient`, named in the manifest's errors.
    pub ignored: Vec<String>,
    /// `patient` (a POST kick-off's Parameters, Patient and Group level): only these
    /// patients (ids); empty means every patient of the level.
    #[serde(default)]
    pub patients: Vec<String>,
}

impl Request {
    /// Everything of `level`: every type, no bounds, no filters.
    pub fn new(level: Level) -> Request {
        Request {
            level,
            types: None,
            since: None,
            filters: Vec::new(),
            ignored: Vec::new(),
            patients: Vec::new(),
        }
    }
}

/// What a kick-off needs to know about resource types.
pub trait Types {
    /// A FHIR R4 resource type.
    fn known(&self, rtype: &str) -> bool;
    /// A type a Patient compartment can hold.
    fn in_patient_compartment(&self, rtype: &str) -> bool;
}

fn bad(parameter: &str, message: impl Into<String>) -> Error {
    Error::Parameter {
        parameter: parameter.to_string(),
        message: message.into(),
    }
}

/// The parameters of a POST kick-off's `Parameters` body, as the name-value pairs
/// [`parse`] reads (`valueString`, `valueInstant`, `valueReference.reference`...).
pub fn from_parameters(body: &serde_json::Value) -> Result<Vec<(String, String)>, Error> {
    if body["resourceType"] != "Parameters" {
        return Err(bad(
            "resourceType",
            "a POST kick-off's body is a Parameters resource",
        ));
    }
    let mut out = Vec::new();
    for p in body["parameter"].as_array().into_iter().flatten() {
        let name = p["name"].as_str().unwrap_or_default().to_string();
        let value = p
            .as_object()
            .into_iter()
            .flatten()
            .find(|(k, _)| k.starts_with("value"))
            .map(|(_, v)| v);
        let text = match value {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(v) if v["reference"].is_string() => {
                v["reference"].as_str().unwrap_or_default().into()
            }
            _ => {
                return Err(bad(
                    if name.is_empty() { "parameter" } else { &name },
                    format!("the parameter '{name}' has no value Tend can read"),
                ))
            }
        };
        out.push((name, text));
    }
    Ok(out)
}

/// Read the kick-off's query parameters. `lenient`: the client sent `Prefer:
/// handling=lenient`, so parameters Tend does not support are ignored (and named in the
/// manifest) instead of refused.
pub fn parse(
    level: Level,
    params: &[(String, String)],
    lenient: bool,
    types: &dyn Types,
) -> Result<Request, Error> {
    let mut req = Request::new(level);
    for (k, v) in params {
        match k.as_str() {
            "_outputFormat" => {
                if !OUTPUT_FORMATS.contains(&v.as_str()) {
                    return Err(bad(
                        k,
                        format!(
                            "'{v}' is not an output format Tend writes (it writes {})",
                            OUTPUT_FORMATS.join(", ")
                        ),
                    ));
                }
            }
            "_since" => {
                if req.since.is_some() {
                    return Err(bad(k, "'_since' is given more than once"));
                }
                let t = DateTime::parse_from_rfc3339(v).map_err(|_| {
                    bad(
                        k,
                        format!("'_since' must be a FHIR instant with its time zone, not '{v}'"),
                    )
                })?;
                req.since = Some(t.with_timezone(&Utc));
            }
            "_type" => {
                let list = req.types.get_or_insert_with(Vec::new);
                for t in v.split(',').map(str::trim).filter(|t| !t.is_empty()) {
                    if !types.known(t) {
                        return Err(bad(k, format!("'{t}' is not a FHIR R4 resource type")));
                    }
                    if NOT_EXPORTED.contains(&t) {
                        return Err(bad(
                            k,
                            format!("{t} is not exported: search the audit trail instead"),
                        ));
                    }
                    if !list.iter().any(|x| x == t) {
                        list.push(t.to_string());
                    }
                }
            }
            "_typeFilter" => {
                for one in split_filters(v) {
                    req.filters.push(type_filter(one, types)?);
                }
            }
            "patient" => {
                if req.level == Level::System {
                    return Err(bad(
                        k,
                        "'patient' narrows a Patient or Group export; a system export has none",
                    ));
                }
                let id = v.trim().strip_prefix("Patient/").unwrap_or("");
                if id.is_empty() || id.contains('/') {
                    return Err(bad(
                        k,
                        format!("'patient' must reference a Patient (Patient/ID), not '{v}'"),
                    ));
                }
                if !req.patients.iter().any(|p| p == id) {
                    req.patients.push(id.to_string());
                }
            }
            other => {
                if lenient {
                    req.ignored.push(other.to_string());
                } else {
                    return Err(bad(
                        other,
                        format!(
                            "'{other}' is not a parameter Tend's export supports (_outputFormat, \
                             _since, _type, _typeFilter, patient); send 'Prefer: handling=lenient' to \
                             have it ignored"
                        ),
                    ));
                }
            }
        }
    }
    if let Some(list) = &req.types {
        if list.is_empty() {
            return Err(bad("_type", "'_type' names no resource type"));
        }
        for f in &req.filters {
            if !list.contains(&f.rtype) {
                return Err(bad(
                    "_typeFilter",
                    format!(
                        "the filter on {} is for a type '_type' does not ask for",
                        f.rtype
                    ),
                ));
            }
        }
    }
    if req.level != Level::System {
        if let Some(list) = &mut req.types {
            let outside: Vec<String> = list
                .iter()
                .filter(|t| !types.in_patient_compartment(t))
                .cloned()
                .collect();
            if !outside.is_empty() {
                if !lenient {
                    return Err(bad(
                        "_type",
                        format!(
                            "{} cannot be in a patient's record, so a patient-level export has \
                             none (export them at system level)",
                            outside.join(", ")
                        ),
                    ));
                }
                list.retain(|t| !outside.contains(t));
                req.ignored
                    .extend(outside.into_iter().map(|t| format!("_type={t}")));
            }
        }
    }
    Ok(req)
}

/// The filters of one `_typeFilter` value: comma-separated, each starting with a type and
/// `?`; a comma inside a search (`code=a,b`) stays in it.
fn split_filters(v: &str) -> Vec<&str> {
    let starts_filter = |rest: &str| {
        rest.split_once('?').is_some_and(|(t, _)| {
            t.starts_with(|c: char| c.is_ascii_uppercase())
                && t.chars().all(|c| c.is_ascii_alphanumeric())
        })
    };
    let mut out = Vec::new();
    let mut start = 0;
    for (i, _) in v.match_indices(',') {
        if starts_filter(&v[i + 1..]) {
            out.push(&v[start..i]);
            start = i + 1;
        }
    }
    out.push(&v[start..]);
    out.into_iter()
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .collect()
}

/// One `_typeFilter` value: `Type?query`, the query URL-encoded once more inside it.
fn type_filter(value: &str, types: &dyn Types) -> Result<TypeFilter, Error> {
    let (rtype, query) = value.split_once('?').ok_or_else(|| {
        bad(
            "_typeFilter",
            format!("'{value}' must be a type and a search, as in 'Observation?code=8867-4'"),
        )
    })?;
    if !types.known(rtype) {
        return Err(bad(
            "_typeFilter",
            format!("'{rtype}' is not a FHIR R4 resource type"),
        ));
    }
    let params: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if params.is_empty() {
        return Err(bad(
            "_typeFilter",
            format!("the filter on {rtype} has no search parameters"),
        ));
    }
    if let Some((k, _)) = params.iter().find(|(k, _)| {
        matches!(
            k.as_str(),
            "_count" | "_offset" | "_sort" | "_include" | "_revinclude" | "_summary" | "_elements"
        )
    }) {
        return Err(bad(
            "_typeFilter",
            format!("'{k}' shapes a result page and has no place in a type filter"),
        ));
    }
    Ok(TypeFilter {
        rtype: rtype.to_string(),
        params,
    })
}
