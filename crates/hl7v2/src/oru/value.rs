//! OBX-5 (observation value, HL7 v2.5 §7.4.2.5) read by its type (OBX-2) as FHIR's
//! `Observation.value[x]`, with OBX-6 units as UCUM where known.

use hl7kit::Segment;
use serde_json::{json, Value};

use super::{coding::concept, MappingConfig};
use crate::message::{comp, Diagnostic, ErrorCode};
use crate::{to_fhir_datetime, to_ucum};

/// The `value[x]` element and its value of OBX `n`, whose OBX-5 is `raw` (not empty).
/// `Ok(None)` when the value type is not mapped: a warning is recorded and the result is
/// skipped.
pub(super) fn value(
    seg: &Segment<'_>,
    n: usize,
    raw: &str,
    cfg: &MappingConfig,
    warnings: &mut Vec<Diagnostic>,
) -> Result<Option<(&'static str, Value)>, Diagnostic> {
    let value_type = comp(seg, 2, 1).to_ascii_uppercase();
    let invalid = |component, text: &str| {
        Diagnostic::new("OBX", n, 5, component, ErrorCode::DataTypeError, text)
    };
    Ok(Some(match value_type.as_str() {
        "NM" => match number(raw) {
            Some(v) => ("valueQuantity", quantity(v, seg)),
            None => return Err(invalid(1, "an NM value must be a decimal number")),
        },
        "SN" => match structured_numeric(seg) {
            Some(v) => v,
            None => {
                return Err(invalid(
                    2,
                    "an SN value needs a number (and a separator with a second number)",
                ))
            }
        },
        "CWE" | "CE" | "CNE" | "CF" => match concept(seg, 5) {
            Some(cc) => ("valueCodeableConcept", cc),
            None => return Err(invalid(1, "a coded value needs a code or text")),
        },
        "ST" | "TX" | "FT" => ("valueString", json!(raw)),
        "TS" | "DTM" | "DT" => match to_fhir_datetime(&comp(seg, 5, 1), &cfg.default_offset) {
            Some(t) => ("valueDateTime", json!(t)),
            None => return Err(invalid(1, "a TS value must be an HL7 timestamp")),
        },
        "" => {
            return Err(Diagnostic::new(
                "OBX",
                n,
                2,
                0,
                ErrorCode::RequiredFieldMissing,
                "value type is missing",
            ))
        }
        _ => {
            warnings.push(
                Diagnostic::new(
                    "OBX",
                    n,
                    2,
                    0,
                    ErrorCode::TableValueNotFound,
                    format!("value type {value_type} is not mapped; the result was skipped"),
                )
                .warning(),
            );
            return Ok(None);
        }
    }))
}

/// An SN value (`comparator^num1^separator^num2`): a quantity with its comparator, a range
/// (`-`) or a ratio (`:` `/`).
fn structured_numeric(seg: &Segment<'_>) -> Option<(&'static str, Value)> {
    let c = |k: usize| comp(seg, 5, k);
    let (cmp, n1, sep, n2) = (c(1), number(&c(2)), c(3), number(&c(4)));
    match (sep.as_str(), n1, n2) {
        ("", Some(v), _) => {
            let mut q = quantity(v, seg);
            if matches!(cmp.as_str(), "<" | ">" | "<=" | ">=") {
                q["comparator"] = json!(cmp);
            }
            Some(("valueQuantity", q))
        }
        ("-", Some(a), Some(b)) => Some((
            "valueRange",
            json!({"low": quantity(a, seg), "high": quantity(b, seg)}),
        )),
        (":" | "/", Some(a), Some(b)) => Some((
            "valueRatio",
            json!({"numerator": {"value": a}, "denominator": {"value": b}}),
        )),
        _ => None,
    }
}

/// A decimal number (HL7 NM) as a JSON number.
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

/// A Quantity of `value` in the units of OBX-6.
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
