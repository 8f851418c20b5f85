//! FHIR values to index values, per search parameter type.
//! Which data types each parameter type indexes, and how:
//! <https://hl7.org/fhir/R4/search.html#ptypes> (number, date, string, token, reference,
//! quantity, uri) and <https://hl7.org/fhir/R4/search.html#token> (the token table).

use std::collections::HashSet;

use serde_json::Value;

use crate::normalize::{date_range, normalize_string};
use crate::registry::ParamType;
use crate::value::IndexValue;

/// The quantity-shaped data types (profiles of Quantity).
const QUANTITIES: &[&str] = &[
    "Quantity",
    "Age",
    "Duration",
    "Distance",
    "Count",
    "SimpleQuantity",
    "MoneyQuantity",
];

/// Facts a conversion needs beyond the value.
pub(super) struct Context<'a> {
    /// Resource type names, to recognise `Type/id` in references.
    pub(super) resource_types: &'a HashSet<String>,
    /// Keep only references to this type (for `where(resolve() is Type)`).
    pub(super) only: Option<&'a str>,
}

/// Append the index values of one FHIR value of type `ty` (when known) to `out`.
pub(super) fn push_values(
    kind: ParamType,
    value: &Value,
    ty: Option<&str>,
    cx: &Context<'_>,
    out: &mut Vec<IndexValue>,
) {
    // An object can only be of a complex type: an engine result typed as a primitive
    // was typed after its element's name (see the fhirpath crate), so look at its shape.
    let ty = ty
        .filter(|t| !(value.is_object() && t.starts_with(|c: char| c.is_ascii_lowercase())))
        .map(str::to_owned)
        .or_else(|| infer_type(value))
        .unwrap_or_default();
    let ty = ty.as_str();
    match kind {
        ParamType::Token => token(value, ty, out),
        ParamType::Date => date(value, ty, out),
        ParamType::String => string(value, ty, out),
        ParamType::Number => {
            if let Some(n) = value.as_f64() {
                out.push(IndexValue::Number { value: n });
            }
        }
        ParamType::Quantity => quantity(value, ty, out),
        ParamType::Reference => reference(value, ty, cx, out),
        ParamType::Uri => {
            if let Some(s) = value.as_str().filter(|s| !s.is_empty()) {
                out.push(IndexValue::Uri {
                    value: s.to_owned(),
                });
            }
        }
        // Composites are assembled from their components; `near` needs a geo index.
        ParamType::Composite | ParamType::Special => {}
    }
}

/// The type of a value from its shape, for values the engine computed untyped.
fn infer_type(value: &Value) -> Option<String> {
    let t = match value {
        Value::Bool(_) => "boolean",
        Value::Number(_) => "decimal",
        Value::String(_) => "string",
        Value::Object(map) => {
            if let Some(Value::String(rtype)) = map.get("resourceType") {
                return Some(rtype.clone());
            }
            if map.contains_key("coding") {
                "CodeableConcept"
            } else if map.contains_key("reference") {
                "Reference"
            } else if map.contains_key("start") || map.contains_key("end") {
                "Period"
            } else if map.contains_key("family") || map.contains_key("given") {
                "HumanName"
            } else if map.get("value").is_some_and(Value::is_number) {
                "Quantity"
            } else if map.contains_key("code") {
                "Coding"
            } else if map.contains_key("value") {
                "Identifier"
            } else {
                return None;
            }
        }
        _ => return None,
    };
    Some(t.to_owned())
}

fn text_of<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

fn owned(s: Option<&str>) -> Option<String> {
    s.map(str::to_owned)
}

/// A primitive's text (strings, numbers, booleans).
fn primitive_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn token(value: &Value, ty: &str, out: &mut Vec<IndexValue>) {
    match ty {
        "CodeableConcept" => {
            let text = text_of(value, "text");
            let codings = value
                .get("coding")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            for coding in codings {
                let (system, code) = (text_of(coding, "system"), text_of(coding, "code"));
                let text = text.or_else(|| text_of(coding, "display"));
                if system.is_some() || code.is_some() || text.is_some() {
                    out.push(IndexValue::Token {
                        system: owned(system),
                        code: owned(code),
                        text: owned(text),
                    });
                }
            }
            if codings.is_empty() && text.is_some() {
                out.push(IndexValue::Token {
                    system: None,
                    code: None,
                    text: owned(text),
                });
            }
        }
        "Coding" => {
            let (system, code, text) = (
                text_of(value, "system"),
                text_of(value, "code"),
                text_of(value, "display"),
            );
            if system.is_some() || code.is_some() || text.is_some() {
                out.push(IndexValue::Token {
                    system: owned(system),
                    code: owned(code),
                    text: owned(text),
                });
            }
        }
        "Identifier" => {
            let (system, code) = (text_of(value, "system"), text_of(value, "value"));
            let text = value.get("type").and_then(|t| text_of(t, "text"));
            if system.is_some() || code.is_some() {
                out.push(IndexValue::Token {
                    system: owned(system),
                    code: owned(code),
                    text: owned(text),
                });
            }
        }
        // The system is the kind of contact point (phone, email, ...).
        "ContactPoint" => {
            if let Some(code) = text_of(value, "value") {
                let system = text_of(value, "system");
                out.push(IndexValue::Token {
                    system: owned(system),
                    code: Some(code.to_owned()),
                    text: None,
                });
            }
        }
        _ => {
            if let Some(code) = primitive_text(value) {
                out.push(IndexValue::Token {
                    system: None,
                    code: Some(code),
                    text: None,
                });
            }
        }
    }
}

fn date(value: &Value, ty: &str, out: &mut Vec<IndexValue>) {
    match ty {
        "Period" => period(value, out),
        "Timing" => {
            for event in value
                .get("event")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some((lo, hi)) = event.as_str().and_then(date_range) {
                    out.push(IndexValue::Date { lo, hi });
                }
            }
            if let Some(bounds) = value.get("repeat").and_then(|r| r.get("boundsPeriod")) {
                period(bounds, out);
            }
        }
        _ => {
            if let Some((lo, hi)) = value.as_str().and_then(date_range) {
                out.push(IndexValue::Date { lo, hi });
            }
        }
    }
}

/// A Period; an open end is unbounded. <https://hl7.org/fhir/R4/datatypes.html#Period>
fn period(value: &Value, out: &mut Vec<IndexValue>) {
    let start = text_of(value, "start").map(date_range);
    let end = text_of(value, "end").map(date_range);
    let lo = match start {
        Some(Some((lo, _))) => lo,
        Some(None) => return,
        None => i64::MIN,
    };
    let hi = match end {
        Some(Some((_, hi))) => hi,
        Some(None) => return,
        None => i64::MAX,
    };
    if start.is_some() || end.is_some() {
        out.push(IndexValue::Date { lo, hi });
    }
}

fn push_string(s: &str, out: &mut Vec<IndexValue>) {
    if !s.is_empty() {
        out.push(IndexValue::String {
            norm: normalize_string(s),
            exact: s.to_owned(),
        });
    }
}

/// Each listed element of `value` (single strings or arrays of them) as a string.
fn string_parts(value: &Value, parts: &[&str], out: &mut Vec<IndexValue>) {
    for part in parts {
        match value.get(*part) {
            Some(Value::String(s)) => push_string(s, out),
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .for_each(|s| push_string(s, out)),
            _ => {}
        }
    }
}

fn string(value: &Value, ty: &str, out: &mut Vec<IndexValue>) {
    match ty {
        "HumanName" => string_parts(value, &["family", "given", "text", "prefix", "suffix"], out),
        "Address" => string_parts(
            value,
            &[
                "line",
                "city",
                "district",
                "state",
                "postalCode",
                "country",
                "text",
            ],
            out,
        ),
        _ => {
            if let Some(s) = value.as_str() {
                push_string(s, out);
            }
        }
    }
}

fn quantity(value: &Value, ty: &str, out: &mut Vec<IndexValue>) {
    let Some(number) = value.get("value").and_then(Value::as_f64) else {
        return;
    };
    if QUANTITIES.contains(&ty) {
        out.push(IndexValue::Quantity {
            value: number,
            system: owned(text_of(value, "system")),
            code: owned(text_of(value, "code")),
            unit: owned(text_of(value, "unit")),
        });
    } else if ty == "Money" {
        out.push(IndexValue::Quantity {
            value: number,
            system: Some("urn:iso:std:iso:4217".to_owned()),
            code: owned(text_of(value, "currency")),
            unit: None,
        });
    }
    // Range, Ratio and SampledData have no single value to compare.
}

fn reference(value: &Value, ty: &str, cx: &Context<'_>, out: &mut Vec<IndexValue>) {
    let found = match value {
        Value::String(s) => {
            // canonical / uri: matched by URL.
            Some(IndexValue::Reference {
                rtype: None,
                id: None,
                url: Some(s.clone()),
                identifier: None,
            })
            .filter(|_| !s.is_empty())
        }
        Value::Object(map) => {
            if let (Some(Value::String(rtype)), Some(Value::String(id))) =
                (map.get("resourceType"), map.get("id"))
            {
                // A resource in place of a reference (Bundle.entry.resource).
                Some(IndexValue::Reference {
                    rtype: Some(rtype.clone()),
                    id: Some(id.clone()),
                    url: None,
                    identifier: None,
                })
            } else if ty == "Reference" || ty.is_empty() {
                literal_reference(value, cx)
            } else {
                None
            }
        }
        _ => None,
    };
    let Some(found) = found else { return };
    if let Some(only) = cx.only {
        let IndexValue::Reference { rtype, .. } = &found else {
            return;
        };
        if rtype.as_deref() != Some(only) {
            return;
        }
    }
    out.push(found);
}

/// A Reference: literal (`Type/id`, absolute URL, `urn:uuid:`), logical (identifier),
/// or both. Contained references (`#id`) are not indexed.
/// <https://hl7.org/fhir/R4/references.html#Reference>
fn literal_reference(value: &Value, cx: &Context<'_>) -> Option<IndexValue> {
    let identifier = value.get("identifier").and_then(|i| {
        let v = text_of(i, "value")?;
        Some((owned(text_of(i, "system")), v.to_owned()))
    });
    let (mut rtype, mut id, mut url) = (None, None, None);
    if let Some(reference) = text_of(value, "reference") {
        if reference.starts_with('#') {
            return None;
        }
        if reference.starts_with("urn:") {
            url = Some(reference.to_owned());
        } else {
            let absolute = reference.contains("://");
            let mut segments: Vec<&str> = reference.split('/').collect();
            if segments.len() >= 4 && segments[segments.len() - 2] == "_history" {
                segments.truncate(segments.len() - 2);
            }
            let n = segments.len();
            if n >= 2 && cx.resource_types.contains(segments[n - 2]) && !segments[n - 1].is_empty()
            {
                rtype = Some(segments[n - 2].to_owned());
                id = Some(segments[n - 1].to_owned());
            }
            if absolute || rtype.is_none() {
                url = Some(reference.to_owned());
            }
        }
    }
    if rtype.is_none() {
        rtype = owned(text_of(value, "type"));
    }
    if id.is_none() && url.is_none() && identifier.is_none() {
        return None;
    }
    Some(IndexValue::Reference {
        rtype,
        id,
        url,
        identifier,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn convert(kind: ParamType, value: Value, ty: &str) -> Vec<IndexValue> {
        let types: HashSet<String> = ["Patient", "Practitioner"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let cx = Context {
            resource_types: &types,
            only: None,
        };
        let mut out = Vec::new();
        push_values(kind, &value, Some(ty), &cx, &mut out);
        out
    }

    fn reference(rtype: Option<&str>, id: Option<&str>, url: Option<&str>) -> IndexValue {
        IndexValue::Reference {
            rtype: owned(rtype),
            id: owned(id),
            url: owned(url),
            identifier: None,
        }
    }

    #[test]
    fn references_split_into_type_and_id() {
        let r = |s: &str| convert(ParamType::Reference, json!({ "reference": s }), "Reference");
        assert_eq!(
            r("Patient/1"),
            [reference(Some("Patient"), Some("1"), None)]
        );
        assert_eq!(
            r("Patient/1/_history/2"),
            [reference(Some("Patient"), Some("1"), None)]
        );
        assert_eq!(
            r("http://x.org/fhir/Patient/1"),
            [reference(
                Some("Patient"),
                Some("1"),
                Some("http://x.org/fhir/Patient/1")
            )]
        );
        assert_eq!(
            r("urn:uuid:abc"),
            [reference(None, None, Some("urn:uuid:abc"))]
        );
        assert_eq!(r("#contained"), []);
        assert_eq!(
            convert(
                ParamType::Reference,
                json!({"identifier": {"system": "s", "value": "v"}}),
                "Reference"
            ),
            [IndexValue::Reference {
                rtype: None,
                id: None,
                url: None,
                identifier: Some((Some("s".into()), "v".into()))
            }]
        );
        assert_eq!(
            convert(
                ParamType::Reference,
                json!({"display": "Dr No"}),
                "Reference"
            ),
            []
        );
    }

    #[test]
    fn periods_are_open_at_missing_ends() {
        let out = convert(ParamType::Date, json!({"start": "2020"}), "Period");
        let IndexValue::Date { lo, hi } = out[0] else {
            panic!()
        };
        assert_eq!((lo, hi), (date_range("2020").unwrap().0, i64::MAX));
        assert!(convert(ParamType::Date, json!({}), "Period").is_empty());
    }

    #[test]
    fn names_index_each_part() {
        let out = convert(
            ParamType::String,
            json!({"family": "Ölz", "given": ["A", "B"]}),
            "HumanName",
        );
        let exact: Vec<&str> = out
            .iter()
            .map(|v| match v {
                IndexValue::String { exact, .. } => exact.as_str(),
                _ => "",
            })
            .collect();
        assert_eq!(exact, ["Ölz", "A", "B"]);
        assert_eq!(
            out[0],
            IndexValue::String {
                norm: "olz".into(),
                exact: "Ölz".into()
            }
        );
    }

    #[test]
    fn tokens_from_codeable_concepts_carry_text() {
        let cc = json!({"coding": [{"system": "s", "code": "c", "display": "d"}], "text": "t"});
        assert_eq!(
            convert(ParamType::Token, cc, "CodeableConcept"),
            [IndexValue::Token {
                system: Some("s".into()),
                code: Some("c".into()),
                text: Some("t".into())
            }]
        );
        assert_eq!(
            convert(ParamType::Token, json!(true), "boolean"),
            [IndexValue::Token {
                system: None,
                code: Some("true".into()),
                text: None
            }]
        );
    }
}
