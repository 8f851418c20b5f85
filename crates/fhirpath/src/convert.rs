//! Engine values to FHIR JSON plus a FHIR type name.

use octofhir_fhirpath::core::model_provider::TypeInfo;
use octofhir_fhirpath::core::TemporalPrecision;
use octofhir_fhirpath::FhirPathValue;
use serde_json::{Map, Number, Value};

use crate::Item;

/// Append the items `value` stands for (collections are flattened, empties dropped).
pub(crate) fn push_items(value: &FhirPathValue, out: &mut Vec<Item>) {
    let (json, info) = match value {
        FhirPathValue::Collection(items) => {
            for item in items.iter() {
                push_items(item, out);
            }
            return;
        }
        FhirPathValue::Empty => return,
        FhirPathValue::Boolean(b, info, _) => (Value::Bool(*b), info),
        FhirPathValue::Integer(i, info, _) => (Value::from(*i), info),
        FhirPathValue::Decimal(d, info, _) => (decimal(&d.to_string()), info),
        FhirPathValue::String(s, info, _) => (Value::String(s.clone()), info),
        FhirPathValue::Date(d, info, _) => (Value::String(d.to_string()), info),
        FhirPathValue::DateTime(dt, info, _) => {
            let text = if dt.tz_specified {
                dt.to_string()
            } else {
                // Keep a value written without a zone without one, as in the resource.
                let local = dt.datetime.naive_local();
                match dt.precision {
                    TemporalPrecision::Hour => local.format("%Y-%m-%dT%H").to_string(),
                    TemporalPrecision::Minute => local.format("%Y-%m-%dT%H:%M").to_string(),
                    TemporalPrecision::Second => local.format("%Y-%m-%dT%H:%M:%S").to_string(),
                    TemporalPrecision::Millisecond => {
                        local.format("%Y-%m-%dT%H:%M:%S%.3f").to_string()
                    }
                    _ => dt.to_string(),
                }
            };
            (Value::String(text), info)
        }
        FhirPathValue::Time(t, info, _) => {
            let text = t.to_string();
            (
                Value::String(text.strip_prefix('T').unwrap_or(&text).to_owned()),
                info,
            )
        }
        FhirPathValue::Quantity {
            value,
            unit,
            code,
            system,
            calendar_unit,
            type_info,
            ..
        } => {
            let mut map = Map::new();
            map.insert("value".into(), decimal(&value.to_string()));
            let unit = unit
                .clone()
                .or_else(|| calendar_unit.map(|c| c.as_str().to_owned()));
            if let Some(unit) = unit {
                map.insert("unit".into(), Value::String(unit));
            }
            if let Some(system) = system {
                map.insert("system".into(), Value::String(system.clone()));
            }
            if let Some(code) = code {
                map.insert("code".into(), Value::String(code.clone()));
            }
            (Value::Object(map), type_info)
        }
        FhirPathValue::Resource(node, info, _) => {
            // A resource inside another (contained, Bundle.entry.resource) is typed by
            // the element holding it; name it by its own type instead.
            if let Some(rtype) = node.get("resourceType").and_then(|t| t.as_str()) {
                let rtype = rtype.to_owned();
                out.push(Item {
                    value: node.to_json(),
                    type_name: Some(rtype),
                });
                return;
            }
            (node.to_json(), info)
        }
    };
    out.push(Item {
        value: json,
        type_name: type_name(info),
    });
}

/// A decimal's text as a JSON number (integral values stay integers).
fn decimal(text: &str) -> Value {
    if let Ok(i) = text.parse::<i64>() {
        return Value::from(i);
    }
    text.parse::<f64>()
        .ok()
        .and_then(Number::from_f64)
        .map(Value::Number)
        .unwrap_or_else(|| Value::String(text.to_owned()))
}

/// The FHIR primitive types (<https://hl7.org/fhir/R4/datatypes.html#primitive>).
const PRIMITIVES: &[&str] = &[
    "boolean",
    "integer",
    "string",
    "decimal",
    "uri",
    "url",
    "canonical",
    "base64Binary",
    "instant",
    "date",
    "dateTime",
    "time",
    "code",
    "oid",
    "id",
    "markdown",
    "unsignedInt",
    "positiveInt",
    "uuid",
    "xhtml",
];

/// The FHIR spelling of a type: model types keep their name, FHIRPath system types map
/// to the FHIR primitive of the same meaning.
fn type_name(info: &TypeInfo) -> Option<String> {
    let name = info.name.as_deref().unwrap_or(&info.type_name);
    if name.is_empty() || name == "Any" {
        return None;
    }
    let fhir = match name {
        "Boolean" => "boolean",
        "Integer" | "Long" => "integer",
        "Decimal" => "decimal",
        "String" => "string",
        "Date" => "date",
        "DateTime" | "datetime" => "dateTime",
        "Time" => "time",
        // The engine names extensions after the element holding them.
        "extension" | "modifierExtension" => "Extension",
        // For elements it cannot type (those a resource inherits, such as `meta`, and
        // what lies below them) the engine reports the element's name: unknown.
        other
            if other.starts_with(|c: char| c.is_ascii_lowercase())
                && !PRIMITIVES.contains(&other) =>
        {
            return None;
        }
        other => other,
    };
    Some(fhir.to_owned())
}
