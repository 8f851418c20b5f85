//! ORU^R01 (unsolicited observation results, HL7 v2.5 §7.3.1) to FHIR R4.
//!
//! | HL7 v2 | FHIR |
//! |---|---|
//! | PID-3 (all repetitions; assigning authority 4.1 / OID 4.2, type 5) | `Patient.identifier`; the patient is created from PID when no Patient has the first identifier (conditional create) |
//! | PID-5, 7, 8, 11, 13 | `name`, `birthDate`, `gender`, `address`, `telecom` |
//! | PID-10, PID-22 | US Core race and ethnicity extensions (CDC race and ethnicity codes) |
//! | PID-15 | `communication.language`, preferred |
//! | OBX-3 | `Observation.code`: LOINC (`LN`) directly, SNOMED CT (`SCT`), or a local code through the configured mapping table |
//! | OBX-2 / OBX-5 | NM → `valueQuantity`; SN → `valueQuantity` with comparator, `valueRange` (`-`) or `valueRatio` (`:` `/`); CWE/CE/CNE → `valueCodeableConcept`; ST/TX/FT → `valueString`; TS/DTM → `valueDateTime`; other types are skipped with a warning |
//! | OBX-6 | `valueQuantity.unit`, with the UCUM code where known ([`crate::to_ucum`]) |
//! | OBX-11 | `status`: F final, C corrected, A amended, P/R/S preliminary, I registered, X cancelled, W/D entered-in-error |
//! | OBX-14 (else OBR-7, else MSH-7) | `effectiveDateTime` |
//! | vital-sign OBX of one message | category `vital-signs`, and one vital-signs panel (LOINC 85353-1) whose `hasMember` lists them: one observation set for early warning |
//! | other OBX | category `laboratory`, grouped under a `DiagnosticReport` per OBR (code OBR-4, status OBR-25, effective OBR-7) |
//! | PV1-19 | `encounter` of every Observation and DiagnosticReport: the Encounter the ADT feed keeps for that visit number (same id, whichever message comes first) |
//! | MSH-3, MSH-4 | `meta.source` `urn:tend:hl7v2:APPLICATION:FACILITY` of every resource |
//!
//! A message carries at most [`MAX_OBX`] OBX segments.
//!
//! Resource ids are derived from the message key (MSH-3, MSH-4, MSH-10) and the segment's
//! position, so delivering a message twice writes the same resources, never new ones.

use std::collections::HashMap;

use hl7kit::Segment;
use serde_json::{json, Map, Value};

use crate::message::{comp, use_encoding, Diagnostic, ErrorCode, Inbound, Text};
use crate::{stable_id, to_fhir_datetime, to_ucum};

const LOINC: &str = "http://loinc.org";
const SNOMED: &str = "http://snomed.info/sct";
const OBS_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/observation-category";

/// LOINC codes of vital signs (grouped into the message's panel).
const VITALS: &[&str] = &[
    "9279-1", "59408-5", "2708-6", "3151-8", "3150-0", "8480-6", "8462-4", "85354-9", "8867-4",
    "8310-5", "80288-4", "67775-7", "9269-2", "29463-7", "8302-2", "39156-5",
];

/// The most OBX segments one ORU^R01 message may carry; a message with more is answered
/// `AE`, its `ERR` naming the first OBX past the limit, and nothing of it is written.
///
/// Every OBX becomes an Observation that is validated, indexed and written in the message's
/// one transaction, and in original mode the feed answers (and the sender sends its next
/// message) only once early warning has scored it: at about 2 ms an OBX, one message of
/// 20,000 OBX held up early warning for the whole hospital. A monitor's vital signs are a
/// dozen OBX and a large laboratory report (a full blood count with differential,
/// chemistry, a microbiology susceptibility panel) well under 200; 500 leaves room for the
/// largest real reports while keeping one message to about a second of work.
pub const MAX_OBX: usize = 500;

/// How a feed's codes and times are read.
#[derive(Debug, Clone)]
pub struct MappingConfig {
    /// Local OBX-3 codes: `CODE` or `SYSTEM^CODE` (OBX-3.3 and OBX-3.1) → (system URI,
    /// code, display).
    pub local_codes: HashMap<String, (String, String, String)>,
    /// Zone of times sent without one, e.g. `+00:00`.
    pub default_offset: String,
}

impl Default for MappingConfig {
    fn default() -> MappingConfig {
        MappingConfig {
            local_codes: HashMap::new(),
            default_offset: "+00:00".into(),
        }
    }
}

impl MappingConfig {
    /// Read a local-code table: one mapping per line, tab-separated `KEY SYSTEM CODE
    /// DISPLAY`, where KEY is OBX-3.1 or `OBX-3.3^OBX-3.1`; `#` starts a comment line.
    /// Errors name the line.
    pub fn parse_local_codes(
        text: &str,
    ) -> Result<HashMap<String, (String, String, String)>, String> {
        let mut codes = HashMap::new();
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() || line.trim_start().starts_with('#') {
                continue;
            }
            let f: Vec<&str> = line.split('\t').map(str::trim).collect();
            let (key, system, code) = match f.as_slice() {
                [k, s, c] | [k, s, c, ..] if !k.is_empty() && !s.is_empty() && !c.is_empty() => {
                    (*k, *s, *c)
                }
                _ => {
                    return Err(format!(
                        "line {}: expected KEY, SYSTEM, CODE and DISPLAY separated by tabs",
                        n + 1
                    ))
                }
            };
            if !system.contains(':') {
                return Err(format!(
                    "line {}: the system '{system}' is not a URI (e.g. http://loinc.org)",
                    n + 1
                ));
            }
            let display = f.get(3).copied().unwrap_or_default();
            if codes
                .insert(
                    key.to_string(),
                    (system.to_string(), code.to_string(), display.to_string()),
                )
                .is_some()
            {
                return Err(format!("line {}: '{key}' is mapped twice", n + 1));
            }
        }
        Ok(codes)
    }

    /// Check a zone offset for times sent without one: `+HH:MM` or `-HH:MM`.
    pub fn parse_offset(offset: &str) -> Result<String, String> {
        let b = offset.as_bytes();
        let ok = b.len() == 6
            && matches!(b[0], b'+' | b'-')
            && b[3] == b':'
            && [1, 2, 4, 5].iter().all(|&i| b[i].is_ascii_digit())
            && offset[1..3].parse::<u32>().is_ok_and(|h| h <= 14)
            && offset[4..6].parse::<u32>().is_ok_and(|m| m < 60);
        if ok {
            Ok(offset.to_string())
        } else {
            Err(format!(
                "'{offset}' is not a zone offset like +00:00 or -05:00"
            ))
        }
    }
}

/// One write of a transaction: a PUT at `id`, or a conditional POST (`if_none_exist`).
#[derive(Debug, Clone, PartialEq)]
pub struct Write {
    pub resource: Value,
    /// The Bundle-local URL other resources refer to (`urn:uuid:...`).
    pub full_url: Option<String>,
    /// For a conditional create: the search (`identifier=system|value`).
    pub if_none_exist: Option<String>,
}

/// The FHIR resources of a message.
#[derive(Debug, Clone, PartialEq)]
pub struct Mapped {
    pub writes: Vec<Write>,
    pub warnings: Vec<Diagnostic>,
    /// Number of vital-sign and laboratory Observations.
    pub vitals: usize,
    pub labs: usize,
}

fn uuid_from(key: &str) -> String {
    let a = crate::fnv(key.as_bytes());
    let b = crate::fnv(format!("{key}#2").as_bytes());
    format!(
        "urn:uuid:{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        (b >> 48) & 0xfff,
        b & 0xffff_ffff_ffff
    )
}

fn system_of(hl7: &str) -> String {
    match hl7.to_ascii_uppercase().as_str() {
        "LN" | "LOINC" => LOINC.into(),
        "SCT" | "SNM" | "SNOMED" | "SNOMEDCT" => SNOMED.into(),
        "UCUM" => "http://unitsofmeasure.org".into(),
        "I10" | "I10C" | "ICD10CM" => "http://hl7.org/fhir/sid/icd-10-cm".into(),
        "CDCREC" => "urn:oid:2.16.840.1.113883.6.238".into(),
        "ISO639" | "ISO+" | "BCP47" => "urn:ietf:bcp:47".into(),
        "" => "https://tend.example.org/fhir/CodeSystem/hl7v2-local".into(),
        other => format!(
            "https://tend.example.org/fhir/CodeSystem/hl7v2-{}",
            other.to_ascii_lowercase()
        ),
    }
}

/// A CWE/CE value (`code^text^system^altcode^alttext^altsystem`) as a CodeableConcept.
pub(crate) fn concept(seg: &Segment<'_>, f: usize) -> Option<Value> {
    let field = seg.field(f)?;
    let rep = field.repetition(1)?;
    let c = |n: usize| {
        rep.component(n)
            .map(|x| x.text().trim().to_string())
            .unwrap_or_default()
    };
    let mut codings = Vec::new();
    for (code, text, sys) in [(c(1), c(2), c(3)), (c(4), c(5), c(6))] {
        if !code.is_empty() {
            let mut coding = json!({"system": system_of(&sys), "code": code});
            if !text.is_empty() {
                coding["display"] = json!(text);
            }
            codings.push(coding);
        }
    }
    let text = c(2);
    if codings.is_empty() && text.is_empty() {
        return None;
    }
    let mut cc = json!({"coding": codings});
    if !text.is_empty() {
        cc["text"] = json!(text);
    }
    Some(cc)
}

fn number(s: &str) -> Option<Value> {
    let s = s.trim();
    let valid = !s.is_empty()
        && s.trim_start_matches(['+', '-'])
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.')
        && s.chars().filter(|c| *c == '.').count() <= 1
        && s.chars().any(|c| c.is_ascii_digit());
    if !valid {
        return None;
    }
    serde_json::from_str::<Value>(s.trim_start_matches('+'))
        .ok()
        .or_else(|| {
            // "5." or ".5": normalise for JSON.
            let fixed = format!("0{}0", s.trim_start_matches('+'));
            s.parse::<f64>()
                .ok()
                .and_then(|f| serde_json::Number::from_f64(f).map(Value::Number))
                .or_else(|| serde_json::from_str(&fixed).ok())
        })
}

fn quantity(value: Value, seg: &Segment<'_>) -> Value {
    let mut q = json!({"value": value});
    let code = comp(seg, 6, 1);
    let text = comp(seg, 6, 2);
    let unit = if code.is_empty() {
        text.clone()
    } else {
        code.clone()
    };
    if !unit.is_empty() {
        q["unit"] = json!(if text.is_empty() { &code } else { &text });
        if let Some(ucum) = to_ucum(&code).or_else(|| to_ucum(&text)) {
            q["system"] = json!("http://unitsofmeasure.org");
            q["code"] = json!(ucum);
        }
    }
    q
}

fn status(code: &str) -> Option<&'static str> {
    Some(match code.to_ascii_uppercase().as_str() {
        "F" | "U" => "final",
        "C" => "corrected",
        "A" => "amended",
        "P" | "R" | "S" => "preliminary",
        "I" | "O" => "registered",
        "X" | "N" => "cancelled",
        "W" | "D" => "entered-in-error",
        _ => return None,
    })
}

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

/// The Patient of PID (None when PID-3 carries no identifier).
pub(crate) fn patient(
    m: &Inbound,
    pid: &Segment<'_>,
    cfg: &MappingConfig,
    source: &str,
) -> Result<(Value, String), Diagnostic> {
    let mut identifiers = Vec::new();
    if let Some(f) = pid.field(3) {
        for rep in f.repetitions() {
            let c = |n: usize| {
                rep.component(n)
                    .map(|x| x.text().trim().to_string())
                    .unwrap_or_default()
            };
            let value = c(1);
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
            let kind = c(5);
            if !kind.is_empty() {
                id["type"] = json!({"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": kind}]});
            }
            identifiers.push(id);
        }
    }
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
    let mut names = Vec::new();
    if let Some(f) = pid.field(5) {
        for rep in f.repetitions() {
            let c = |n: usize| {
                rep.component(n)
                    .map(|x| x.text().trim().to_string())
                    .unwrap_or_default()
            };
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
    }
    if !names.is_empty() {
        p.insert("name".into(), json!(names));
    }
    let dob = comp(pid, 7, 1);
    if !dob.is_empty() {
        match to_fhir_datetime(&dob, &cfg.default_offset) {
            Some(d) => {
                p.insert("birthDate".into(), json!(d.get(..10).unwrap_or(&d)));
            }
            None => {
                return Err(Diagnostic::new(
                    "PID",
                    1,
                    7,
                    1,
                    ErrorCode::DataTypeError,
                    "date of birth is not an HL7 date",
                ))
            }
        }
    }
    let sex = comp(pid, 8, 1).to_ascii_uppercase();
    if !sex.is_empty() {
        let g = match sex.as_str() {
            "M" => "male",
            "F" => "female",
            "O" | "A" | "N" => "other",
            _ => "unknown",
        };
        p.insert("gender".into(), json!(g));
    }
    let mut addresses = Vec::new();
    if let Some(f) = pid.field(11) {
        for rep in f.repetitions() {
            let c = |n: usize| {
                rep.component(n)
                    .map(|x| x.text().trim().to_string())
                    .unwrap_or_default()
            };
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
    }
    if !addresses.is_empty() {
        p.insert("address".into(), json!(addresses));
    }
    let mut telecom = Vec::new();
    if let Some(f) = pid.field(13) {
        for rep in f.repetitions() {
            let c = |n: usize| {
                rep.component(n)
                    .map(|x| x.text().trim().to_string())
                    .unwrap_or_default()
            };
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
    }
    if !telecom.is_empty() {
        p.insert("telecom".into(), json!(telecom));
    }
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
        if let Some(f) = pid.field(field) {
            let mut parts = Vec::new();
            let mut texts = Vec::new();
            for rep in f.repetitions() {
                let c = |n: usize| {
                    rep.component(n)
                        .map(|x| x.text().trim().to_string())
                        .unwrap_or_default()
                };
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
    }
    if !extensions.is_empty() {
        p.insert("extension".into(), json!(extensions));
    }
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

/// Map an ORU^R01 message. Errors (answered `AE`) name segment, field and component.
pub fn map_oru(m: &Inbound, cfg: &MappingConfig) -> Result<Mapped, Vec<Diagnostic>> {
    let obx = m.message.segments().filter(|s| s.name() == "OBX").count();
    if obx > MAX_OBX {
        return Err(vec![Diagnostic::new(
            "OBX",
            MAX_OBX + 1,
            0,
            0,
            ErrorCode::SegmentSequence,
            format!(
                "a message may carry at most {MAX_OBX} OBX segments and this one has {obx}: send the results in several messages"
            ),
        )]);
    }
    use_encoding(&m.message);
    let key = m.key();
    let base = stable_id("hl7", &key);
    let source = source_uri(&m.header.sending_application, &m.header.sending_facility);
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let Some(pid) = m.message.segment("PID") else {
        return Err(vec![Diagnostic::new(
            "PID",
            1,
            0,
            0,
            ErrorCode::SegmentSequence,
            "an ORU^R01 message needs a PID segment",
        )]);
    };
    let (patient, condition) = match patient(m, &pid, cfg, &source) {
        Ok(p) => p,
        Err(d) => return Err(vec![d]),
    };
    let patient_url = uuid_from(&format!("{key}#patient"));
    let mut writes = vec![Write {
        resource: patient,
        full_url: Some(patient_url.clone()),
        if_none_exist: Some(condition),
    }];
    let msh_time = to_fhir_datetime(&m.header.time, &cfg.default_offset);
    let (mut vitals, mut labs) = (Vec::<String>::new(), 0usize);
    let mut vitals_time: Option<String> = None;
    let mut obr_time: Option<String> = None;
    let mut report: Option<(usize, Value, Vec<Value>)> = None;
    let mut reports: Vec<(usize, Value, Vec<Value>)> = Vec::new();
    let (mut obr_n, mut obx_n) = (0usize, 0usize);
    for seg in m.message.segments() {
        match seg.name() {
            "OBR" => {
                obr_n += 1;
                if let Some(r) = report.take() {
                    reports.push(r);
                }
                let t = comp(&seg, 7, 1);
                obr_time = if t.is_empty() {
                    None
                } else {
                    match to_fhir_datetime(&t, &cfg.default_offset) {
                        Some(v) => Some(v),
                        None => {
                            errors.push(Diagnostic::new(
                                "OBR",
                                obr_n,
                                7,
                                1,
                                ErrorCode::DataTypeError,
                                "observation date/time is not an HL7 timestamp",
                            ));
                            None
                        }
                    }
                };
                let mut dr = json!({
                    "resourceType": "DiagnosticReport",
                    "id": format!("{base}-dr{obr_n}"),
                    "meta": {"source": source},
                    "status": status(&comp(&seg, 25, 1)).map(|s| match s { "entered-in-error" | "cancelled" | "registered" | "preliminary" | "final" | "corrected" | "amended" => s, _ => "final" }).unwrap_or("final"),
                    "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "LAB"}]}],
                    "code": concept(&seg, 4).unwrap_or_else(|| json!({"text": "Laboratory report"})),
                    "subject": {"reference": patient_url},
                });
                if let Some(t) = &obr_time {
                    dr["effectiveDateTime"] = json!(t);
                }
                report = Some((obr_n, dr, Vec::new()));
            }
            "OBX" => {
                obx_n += 1;
                let n = obx_n;
                let Some(code) = concept(&seg, 3) else {
                    errors.push(Diagnostic::new(
                        "OBX",
                        n,
                        3,
                        1,
                        ErrorCode::RequiredFieldMissing,
                        "observation identifier is missing",
                    ));
                    continue;
                };
                // Local codes through the mapping table.
                let (c1, c3) = (comp(&seg, 3, 1), comp(&seg, 3, 3));
                let mapped = cfg
                    .local_codes
                    .get(&format!("{c3}^{c1}"))
                    .or_else(|| cfg.local_codes.get(&c1));
                let code = match mapped {
                    Some((system, local, display)) => {
                        let mut cc = code_with(&code_json(system, local, display), &code);
                        cc["text"] = code.get("text").cloned().unwrap_or(json!(display));
                        cc
                    }
                    None => code,
                };
                let standard = code["coding"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|c| c["system"] == LOINC || c["system"] == SNOMED);
                if !standard {
                    warnings.push(
                        Diagnostic::new(
                            "OBX",
                            n,
                            3,
                            1,
                            ErrorCode::TableValueNotFound,
                            format!("local code '{c1}' has no LOINC or SNOMED CT mapping in the local-code table; stored with its local code and not used for scoring"),
                        )
                        .warning(),
                    );
                }
                let loinc = code["coding"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|c| c["system"] == LOINC)
                    .and_then(|c| c["code"].as_str())
                    .map(str::to_string);
                let value_type = comp(&seg, 2, 1).to_ascii_uppercase();
                let raw = seg
                    .field(5)
                    .map(|f| f.text().trim().to_string())
                    .unwrap_or_default();
                let mut obs = json!({
                    "resourceType": "Observation",
                    "id": format!("{base}-o{n}"),
                    "meta": {"source": source},
                    "identifier": [{"system": "https://tend.example.org/fhir/sid/hl7v2-result", "value": format!("{key}#OBX{n}")}],
                    "status": "final",
                    "code": code,
                    "subject": {"reference": patient_url},
                });
                let st = comp(&seg, 11, 1);
                match status(&st) {
                    Some(s) => obs["status"] = json!(s),
                    None if st.is_empty() => warnings.push(
                        Diagnostic::new(
                            "OBX",
                            n,
                            11,
                            0,
                            ErrorCode::RequiredFieldMissing,
                            "result status is missing; read as final",
                        )
                        .warning(),
                    ),
                    None => {
                        errors.push(Diagnostic::new(
                            "OBX",
                            n,
                            11,
                            0,
                            ErrorCode::TableValueNotFound,
                            "result status is not in HL7 table 0085",
                        ));
                        continue;
                    }
                }
                if raw.is_empty() {
                    if !matches!(
                        obs["status"].as_str(),
                        Some("cancelled" | "entered-in-error" | "registered")
                    ) {
                        obs["dataAbsentReason"] = json!({"coding": [{"system": "http://terminology.hl7.org/CodeSystem/data-absent-reason", "code": "unknown"}]});
                    }
                } else {
                    match value_type.as_str() {
                        "NM" => match number(&raw) {
                            Some(v) => obs["valueQuantity"] = quantity(v, &seg),
                            None => {
                                errors.push(Diagnostic::new(
                                    "OBX",
                                    n,
                                    5,
                                    1,
                                    ErrorCode::DataTypeError,
                                    "an NM value must be a decimal number",
                                ));
                                continue;
                            }
                        },
                        "SN" => {
                            let c = |k: usize| comp(&seg, 5, k);
                            let (cmp, n1, sep, n2) = (c(1), number(&c(2)), c(3), number(&c(4)));
                            match (sep.as_str(), n1, n2) {
                                ("", Some(v), _) => {
                                    let mut q = quantity(v, &seg);
                                    if matches!(cmp.as_str(), "<" | ">" | "<=" | ">=") {
                                        q["comparator"] = json!(cmp);
                                    }
                                    obs["valueQuantity"] = q;
                                }
                                ("-", Some(a), Some(b)) => {
                                    obs["valueRange"] =
                                        json!({"low": quantity(a, &seg), "high": quantity(b, &seg)})
                                }
                                (":" | "/", Some(a), Some(b)) => {
                                    obs["valueRatio"] = json!({"numerator": {"value": a}, "denominator": {"value": b}})
                                }
                                _ => {
                                    errors.push(Diagnostic::new("OBX", n, 5, 2, ErrorCode::DataTypeError, "an SN value needs a number (and a separator with a second number)"));
                                    continue;
                                }
                            }
                        }
                        "CWE" | "CE" | "CNE" | "CF" => match concept(&seg, 5) {
                            Some(cc) => obs["valueCodeableConcept"] = cc,
                            None => {
                                errors.push(Diagnostic::new(
                                    "OBX",
                                    n,
                                    5,
                                    1,
                                    ErrorCode::DataTypeError,
                                    "a coded value needs a code or text",
                                ));
                                continue;
                            }
                        },
                        "ST" | "TX" | "FT" => obs["valueString"] = json!(raw),
                        "TS" | "DTM" | "DT" => {
                            match to_fhir_datetime(&comp(&seg, 5, 1), &cfg.default_offset) {
                                Some(t) => obs["valueDateTime"] = json!(t),
                                None => {
                                    errors.push(Diagnostic::new(
                                        "OBX",
                                        n,
                                        5,
                                        1,
                                        ErrorCode::DataTypeError,
                                        "a TS value must be an HL7 timestamp",
                                    ));
                                    continue;
                                }
                            }
                        }
                        "" => {
                            errors.push(Diagnostic::new(
                                "OBX",
                                n,
                                2,
                                0,
                                ErrorCode::RequiredFieldMissing,
                                "value type is missing",
                            ));
                            continue;
                        }
                        _ => {
                            warnings.push(Diagnostic::new("OBX", n, 2, 0, ErrorCode::TableValueNotFound, format!("value type {value_type} is not mapped; the result was skipped")).warning());
                            continue;
                        }
                    }
                }
                let t14 = comp(&seg, 14, 1);
                let effective = if t14.is_empty() {
                    obr_time.clone().or_else(|| msh_time.clone())
                } else {
                    match to_fhir_datetime(&t14, &cfg.default_offset) {
                        Some(t) => Some(t),
                        None => {
                            errors.push(Diagnostic::new(
                                "OBX",
                                n,
                                14,
                                1,
                                ErrorCode::DataTypeError,
                                "observation date/time is not an HL7 timestamp",
                            ));
                            continue;
                        }
                    }
                };
                let Some(effective) = effective else {
                    errors.push(Diagnostic::new(
                        "OBX",
                        n,
                        14,
                        1,
                        ErrorCode::RequiredFieldMissing,
                        "no observation time in OBX-14, OBR-7 or MSH-7",
                    ));
                    continue;
                };
                obs["effectiveDateTime"] = json!(effective);
                let is_vital = loinc.as_deref().is_some_and(|c| VITALS.contains(&c));
                let category = if is_vital {
                    ("vital-signs", "Vital Signs")
                } else {
                    ("laboratory", "Laboratory")
                };
                obs["category"] = json!([{"coding": [{"system": OBS_CATEGORY, "code": category.0, "display": category.1}]}]);
                let reference = format!("Observation/{base}-o{n}");
                if is_vital {
                    vitals.push(reference);
                    if vitals_time
                        .as_deref()
                        .is_none_or(|t| effective.as_str() > t)
                    {
                        vitals_time = Some(effective.clone());
                    }
                } else {
                    labs += 1;
                    if let Some((_, _, results)) = report.as_mut() {
                        results.push(json!({"reference": reference}));
                    }
                }
                writes.push(Write {
                    resource: obs,
                    full_url: None,
                    if_none_exist: None,
                });
            }
            _ => {}
        }
    }
    if let Some(r) = report.take() {
        reports.push(r);
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    if !vitals.is_empty() {
        let members: Vec<Value> = vitals.iter().map(|r| json!({"reference": r})).collect();
        writes.push(Write {
            resource: json!({
                "resourceType": "Observation",
                "id": format!("{base}-vs"),
                "meta": {"source": source},
                "status": "final",
                "category": [{"coding": [{"system": OBS_CATEGORY, "code": "vital-signs", "display": "Vital Signs"}]}],
                "code": {"coding": [{"system": LOINC, "code": "85353-1", "display": "Vital signs, weight, height, head circumference, oxygen saturation and BMI panel"}]},
                "subject": {"reference": patient_url},
                "effectiveDateTime": vitals_time,
                "hasMember": members,
            }),
            full_url: None,
            if_none_exist: None,
        });
    }
    for (_, mut dr, results) in reports {
        if !results.is_empty() {
            dr["result"] = json!(results);
            writes.push(Write {
                resource: dr,
                full_url: None,
                if_none_exist: None,
            });
        }
    }
    if obx_n == 0 {
        return Err(vec![Diagnostic::new(
            "OBX",
            1,
            0,
            0,
            ErrorCode::SegmentSequence,
            "an ORU^R01 message needs at least one OBX segment",
        )]);
    }
    // Results of a visit (PV1-19) belong to its Encounter.
    if let Some((encounter, _)) = m
        .message
        .segment("PV1")
        .and_then(|pv1| crate::adt::visit(&pv1, m))
    {
        for w in writes.iter_mut().skip(1) {
            w.resource["encounter"] = json!({"reference": format!("Encounter/{encounter}")});
        }
    }
    Ok(Mapped {
        writes,
        warnings,
        vitals: vitals.len(),
        labs,
    })
}

/// `urn:tend:hl7v2:APPLICATION:FACILITY` (characters other than letters, digits, `.`
/// and `-` become `-`): the `meta.source` of everything a feed writes.
pub fn source_uri(application: &str, facility: &str) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                    c
                } else {
                    '-'
                }
            })
            .collect()
    };
    format!("urn:tend:hl7v2:{}:{}", clean(application), clean(facility))
}

fn code_json(system: &str, code: &str, display: &str) -> Value {
    json!({"system": system, "code": code, "display": display})
}

/// A mapped coding first, the original codings kept after it.
fn code_with(mapped: &Value, original: &Value) -> Value {
    let mut codings = vec![mapped.clone()];
    codings.extend(original["coding"].as_array().cloned().unwrap_or_default());
    json!({"coding": codings})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_code_tables_are_read_with_line_numbered_errors() {
        let t = "# comment\nL^RR\thttp://loinc.org\t9279-1\tRespiratory rate\n\nPULSE\thttp://loinc.org\t8867-4\n";
        let codes = MappingConfig::parse_local_codes(t).unwrap();
        assert_eq!(codes.len(), 2);
        assert_eq!(codes["PULSE"].1, "8867-4");
        assert_eq!(
            MappingConfig::parse_local_codes("a\tb").unwrap_err(),
            "line 1: expected KEY, SYSTEM, CODE and DISPLAY separated by tabs"
        );
        assert!(MappingConfig::parse_local_codes("RR\tloinc\t9279-1\tx")
            .unwrap_err()
            .contains("not a URI"));
        assert!(MappingConfig::parse_local_codes(
            "RR\thttp://loinc.org\t9279-1\nRR\thttp://loinc.org\t9279-1"
        )
        .unwrap_err()
        .starts_with("line 2: 'RR' is mapped twice"));
    }

    #[test]
    fn zone_offsets_are_checked() {
        for ok in ["+00:00", "-05:00", "+05:30", "+14:00"] {
            assert_eq!(MappingConfig::parse_offset(ok).as_deref(), Ok(ok));
        }
        for bad in [
            "0000",
            "+0000",
            "+15:00",
            "+01:60",
            "Europe/London",
            "+1:00",
        ] {
            assert!(MappingConfig::parse_offset(bad).is_err(), "{bad}");
        }
    }
}
