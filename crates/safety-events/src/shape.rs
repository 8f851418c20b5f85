//! The AdverseEvent's own elements and Tend's extensions for what R4 has no element for.

use serde_json::{json, Map, Value};

const BASE: &str = "https://tend.example.org/fhir/StructureDefinition/safety-event-";
pub(crate) const KIND_SYSTEM: &str = "https://tend.example.org/fhir/CodeSystem/safety-event-kind";
pub(crate) const CATEGORY_SYSTEM: &str =
    "https://tend.example.org/fhir/CodeSystem/safety-event-category";
/// The AHRQ Harm Scale v1.2 levels (the answers to LOINC 74560-4).
pub(crate) const HARM_SYSTEM: &str = "https://tend.example.org/fhir/CodeSystem/ahrq-harm-scale";
pub(crate) const FACTOR_SYSTEM: &str =
    "https://tend.example.org/fhir/CodeSystem/safety-event-contributing-factor";

/// The full URL of Tend's extension `name` (`description`, `harm`, `review`, …).
pub(crate) fn url(name: &str) -> String {
    format!("{BASE}{name}")
}

/// The extensions of `v` with URL `url(name)`.
pub(crate) fn extensions<'a>(v: &'a Value, name: &str) -> impl Iterator<Item = &'a Value> {
    let u = url(name);
    v["extension"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(move |e| e["url"].as_str() == Some(u.as_str()))
}

pub(crate) fn extension<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    extensions(v, name).next()
}

/// The parts of a complex extension named `part`.
pub(crate) fn parts<'a>(ext: &'a Value, part: &'a str) -> impl Iterator<Item = &'a Value> {
    ext["extension"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(move |e| e["url"].as_str() == Some(part))
}

pub(crate) fn part<'a>(ext: &'a Value, part_name: &'a str) -> Option<&'a Value> {
    parts(ext, part_name).next()
}

pub(crate) fn text(v: Option<&Value>, key: &str) -> Option<String> {
    v.and_then(|x| x[key].as_str()).map(str::to_string)
}

pub(crate) fn coding(system: &str, code: &str, display: &str) -> Value {
    json!({"coding": [{"system": system, "code": code, "display": display}]})
}

/// The code of the first coding of `concept` in `system`.
pub(crate) fn code_in<'a>(concept: &'a Value, system: &str) -> Option<&'a str> {
    concept["coding"]
        .as_array()?
        .iter()
        .find(|c| c["system"] == system)?["code"]
        .as_str()
}

/// A complex extension from its parts (`None` parts are left out).
pub(crate) fn complex(name: &str, parts: Vec<Option<Value>>) -> Value {
    let list: Vec<Value> = parts.into_iter().flatten().collect();
    json!({"url": url(name), "extension": list})
}

/// A simple extension part with an explicit value type.
pub(crate) fn typed(k: &str, value_key: &str, v: Value) -> Value {
    let mut m = Map::new();
    m.insert("url".into(), Value::String(k.into()));
    m.insert(value_key.into(), v);
    Value::Object(m)
}

/// Replace every extension named `name` of `resource` with `new` (none when empty).
pub(crate) fn replace(resource: &mut Value, name: &str, new: Vec<Value>) {
    let u = url(name);
    let Some(obj) = resource.as_object_mut() else {
        return;
    };
    let list = obj
        .entry("extension")
        .or_insert_with(|| Value::Array(vec![]));
    if let Some(a) = list.as_array_mut() {
        a.retain(|e| e["url"].as_str() != Some(u.as_str()));
        a.extend(new);
    }
    if obj["extension"].as_array().is_some_and(Vec::is_empty) {
        obj.remove("extension");
    }
}
