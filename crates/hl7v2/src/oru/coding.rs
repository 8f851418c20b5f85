//! Coded values (CWE/CE, HL7 v2.5 §2.A.13) as CodeableConcepts, OBX-3 through the local-code
//! table, and the result status (HL7 table 0085) as FHIR's `Observation.status`.

use hl7kit::Segment;
use serde_json::{json, Value};

use super::MappingConfig;
use crate::message::{comp, Diagnostic, ErrorCode, Text};

pub(super) const LOINC: &str = "http://loinc.org";
pub(super) const SNOMED: &str = "http://snomed.info/sct";

/// The FHIR code system of an HL7 coding system name (CWE-3).
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
pub(super) fn concept(seg: &Segment<'_>, f: usize) -> Option<Value> {
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

/// The observation code of OBX `n` (OBX-3), a local code mapped through the configured
/// table with the original codings kept after the mapped one. A code with neither LOINC
/// nor SNOMED CT is kept with a warning: it is stored but not used for scoring.
pub(super) fn observation_code(
    seg: &Segment<'_>,
    n: usize,
    cfg: &MappingConfig,
    warnings: &mut Vec<Diagnostic>,
) -> Result<Value, Diagnostic> {
    let Some(code) = concept(seg, 3) else {
        return Err(Diagnostic::new(
            "OBX",
            n,
            3,
            1,
            ErrorCode::RequiredFieldMissing,
            "observation identifier is missing",
        ));
    };
    let (c1, c3) = (comp(seg, 3, 1), comp(seg, 3, 3));
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
    let standard = codings(&code).any(|c| c["system"] == LOINC || c["system"] == SNOMED);
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
    Ok(code)
}

/// The LOINC code of a CodeableConcept, if it has one.
pub(super) fn loinc(code: &Value) -> Option<String> {
    codings(code)
        .find(|c| c["system"] == LOINC)
        .and_then(|c| c["code"].as_str())
        .map(str::to_string)
}

fn codings(code: &Value) -> impl Iterator<Item = &Value> {
    code["coding"].as_array().into_iter().flatten()
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

/// An observation result status (HL7 table 0085, OBX-11; OBR-25 too) as FHIR's status.
pub(super) fn status(code: &str) -> Option<&'static str> {
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
