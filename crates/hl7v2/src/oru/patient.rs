//! PID (patient identification, HL7 v2.5 §3.4.2) as a FHIR R4
//! [Patient](https://hl7.org/fhir/R4/patient.html), created when no Patient has its first
//! identifier. ORU and ADT share it.

use hl7kit::{Repetition, Segment};
use serde_json::{json, Map, Value};

use super::{coding::concept, MappingConfig};
use crate::message::{comp, Diagnostic, ErrorCode, Inbound, Text};
use crate::to_fhir_datetime;

/// The identifier system of a CX assigning authority (HD): its OID when it has one, else
/// a Tend URI from its namespace, else from the sending facility. PID and MRG share it, so a
/// merge finds the patient PID created.
pub(crate) fn identifier_system(namespace: &str, oid: &str, facility: &str) -> String {
    if !oid.is_empty() && oid.chars().all(|ch| ch.is_ascii_digit() || ch == '.') {
        format!("urn:oid:{oid}")
    } else {
        let name = if namespace.is_empty() {
            facility
        } else {
            namespace
        };
        format!(
            "https://tend.example.org/fhir/sid/hl7v2/{}",
            name.replace(' ', "-").to_ascii_lowercase()
        )
    }
}

/// The Patient of PID and its conditional-create search (`identifier=system|value` of the
/// first identifier). An error when PID-3 carries no identifier or PID-7 is not a date.
pub(crate) fn patient(
    m: &Inbound,
    pid: &Segment<'_>,
    cfg: &MappingConfig,
    source: &str,
) -> Result<(Value, String), Diagnostic> {
    let identifiers = identifiers(m, pid);
    let Some(first) = identifiers.first().cloned() else {
        return Err(Diagnostic::new(
            "PID",
            1,
            3,
            1,
            ErrorCode::RequiredFieldMissing,
            "the patient identifier list has no identifier",
        ));
    };
    let mut p = Map::new();
    p.insert("resourceType".into(), json!("Patient"));
    p.insert("meta".into(), json!({"source": source}));
    p.insert("identifier".into(), json!(identifiers));
    insert_list(&mut p, "name", names(pid));
    if let Some(d) = birth_date(pid, cfg)? {
        p.insert("birthDate".into(), json!(d));
    }
    if let Some(g) = gender(pid) {
        p.insert("gender".into(), json!(g));
    }
    insert_list(&mut p, "address", addresses(pid));
    insert_list(&mut p, "telecom", telecom(pid));
    insert_list(&mut p, "extension", race_and_ethnicity(pid));
    if let Some(lang) = concept(pid, 15) {
        p.insert(
            "communication".into(),
            json!([{"language": lang, "preferred": true}]),
        );
    }
    let condition = format!(
        "identifier={}|{}",
        first["system"].as_str().unwrap_or_default(),
        first["value"].as_str().unwrap_or_default()
    );
    Ok((Value::Object(p), condition))
}

/// Insert `values` under `key` unless there are none.
fn insert_list(p: &mut Map<String, Value>, key: &str, values: Vec<Value>) {
    if !values.is_empty() {
        p.insert(key.into(), json!(values));
    }
}

/// The decoded, trimmed text of component `n` of a repetition.
fn component(rep: &Repetition<'_>, n: usize) -> String {
    rep.component(n)
        .map(|x| x.text().trim().to_string())
        .unwrap_or_default()
}

/// Every valued repetition of a field.
fn repetitions<'m>(seg: &Segment<'m>, f: usize) -> impl Iterator<Item = Repetition<'m>> {
    seg.field(f).into_iter().flat_map(|f| f.repetitions())
}

/// PID-3, every repetition (CX: value, type 5, assigning authority 4.1 / OID 4.2).
fn identifiers(m: &Inbound, pid: &Segment<'_>) -> Vec<Value> {
    let mut identifiers = Vec::new();
    for rep in repetitions(pid, 3) {
        let value = component(&rep, 1);
        if value.is_empty() {
            continue;
        }
        let authority = rep.component(4);
        let sub = |n: usize| {
            authority
                .and_then(|a| a.subcomponent(n))
                .map(|s| s.text().trim().to_string())
                .unwrap_or_default()
        };
        let (namespace, oid) = (sub(1), sub(2));
        let system = identifier_system(&namespace, &oid, &m.header.sending_facility);
        let mut id = json!({"system": system, "value": value});
        let kind = component(&rep, 5);
        if !kind.is_empty() {
            id["type"] = json!({"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": kind}]});
        }
        identifiers.push(id);
    }
    identifiers
}

/// PID-5 (XPN) as HumanNames.
fn names(pid: &Segment<'_>) -> Vec<Value> {
    let mut names = Vec::new();
    for rep in repetitions(pid, 5) {
        let c = |n: usize| component(&rep, n);
        let mut name = Map::new();
        // XPN-1 is FN: the surname is its first subcomponent.
        let family = rep
            .component(1)
            .and_then(|x| x.subcomponent(1))
            .map(|x| x.text().trim().to_string())
            .unwrap_or_default();
        if !family.is_empty() {
            name.insert("family".into(), json!(family));
        }
        let given: Vec<String> = [c(2), c(3)].into_iter().filter(|g| !g.is_empty()).collect();
        if !given.is_empty() {
            name.insert("given".into(), json!(given));
        }
        if !c(5).is_empty() {
            name.insert("prefix".into(), json!([c(5)]));
        }
        if !c(4).is_empty() {
            name.insert("suffix".into(), json!([c(4)]));
        }
        if !name.is_empty() {
            names.push(Value::Object(name));
        }
    }
    names
}

/// PID-7 as a FHIR date; an error when it is valued but not an HL7 date.
fn birth_date(pid: &Segment<'_>, cfg: &MappingConfig) -> Result<Option<String>, Diagnostic> {
    let dob = comp(pid, 7, 1);
    if dob.is_empty() {
        return Ok(None);
    }
    match to_fhir_datetime(&dob, &cfg.default_offset) {
        Some(d) => Ok(Some(d.get(..10).unwrap_or(&d).to_string())),
        None => Err(Diagnostic::new(
            "PID",
            1,
            7,
            1,
            ErrorCode::DataTypeError,
            "date of birth is not an HL7 date",
        )),
    }
}

/// PID-8 (HL7 table 0001) as an administrative gender.
fn gender(pid: &Segment<'_>) -> Option<&'static str> {
    let sex = comp(pid, 8, 1).to_ascii_uppercase();
    if sex.is_empty() {
        return None;
    }
    Some(match sex.as_str() {
        "M" => "male",
        "F" => "female",
        "O" | "A" | "N" => "other",
        _ => "unknown",
    })
}

/// PID-11 (XAD) as Addresses.
fn addresses(pid: &Segment<'_>) -> Vec<Value> {
    let mut addresses = Vec::new();
    for rep in repetitions(pid, 11) {
        let c = |n: usize| component(&rep, n);
        let mut a = Map::new();
        let lines: Vec<String> = [c(1), c(2)].into_iter().filter(|l| !l.is_empty()).collect();
        if !lines.is_empty() {
            a.insert("line".into(), json!(lines));
        }
        for (k, v) in [
            ("city", c(3)),
            ("state", c(4)),
            ("postalCode", c(5)),
            ("country", c(6)),
        ] {
            if !v.is_empty() {
                a.insert(k.into(), json!(v));
            }
        }
        if !a.is_empty() {
            addresses.push(Value::Object(a));
        }
    }
    addresses
}

/// PID-13 (XTN) as ContactPoints: a phone number (XTN-1, 12, or area and local 6 and 7),
/// else an email address (XTN-4).
fn telecom(pid: &Segment<'_>) -> Vec<Value> {
    let mut telecom = Vec::new();
    for rep in repetitions(pid, 13) {
        let c = |n: usize| component(&rep, n);
        let number = [c(1), c(12)]
            .into_iter()
            .find(|v| !v.is_empty())
            .or_else(|| {
                let (area, local) = (c(6), c(7));
                (!local.is_empty()).then(|| format!("{area}{local}"))
            });
        let email = c(4);
        if let Some(n) = number {
            telecom.push(json!({"system": "phone", "value": n, "use": "home"}));
        } else if !email.is_empty() {
            telecom.push(json!({"system": "email", "value": email}));
        }
    }
    telecom
}

/// PID-10 and PID-22 as the US Core race and ethnicity extensions (CDC codes).
fn race_and_ethnicity(pid: &Segment<'_>) -> Vec<Value> {
    let mut extensions = Vec::new();
    for (field, url) in [
        (
            10,
            "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race",
        ),
        (
            22,
            "http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity",
        ),
    ] {
        let mut parts = Vec::new();
        let mut texts = Vec::new();
        for rep in repetitions(pid, field) {
            let c = |n: usize| component(&rep, n);
            if c(1).is_empty() {
                continue;
            }
            parts.push(json!({"url": "ombCategory", "valueCoding": {"system": "urn:oid:2.16.840.1.113883.6.238", "code": c(1), "display": c(2)}}));
            texts.push(if c(2).is_empty() { c(1) } else { c(2) });
        }
        if !parts.is_empty() {
            parts.push(json!({"url": "text", "valueString": texts.join(", ")}));
            extensions.push(json!({"url": url, "extension": parts}));
        }
    }
    extensions
}
