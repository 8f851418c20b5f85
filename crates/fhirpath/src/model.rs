//! Element types from the embedded R4 model, for callers that walk FHIR JSON themselves
//! and need the type the engine would give a value.
//! Spec: <https://hl7.org/fhir/R4/elementdefinition.html> (types, choice elements `[x]`).

use std::collections::HashMap;

use octofhir_fhirschema::types::FhirSchemaElement;
use octofhir_fhirschema::{get_schema, FhirVersion};

/// The declared type of an element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ElementType {
    /// One type: a data type (`CodeableConcept`, `dateTime`), `Resource` for contained
    /// resources, or a backbone element named by its path (`Observation.component`),
    /// usable as a parent type in turn.
    Single(String),
    /// A choice element `name[x]`: the allowed types, in model order. In JSON the
    /// element appears as `name` followed by the type with its first letter in capitals.
    Choice(Vec<String>),
}

const BASE_PREFIX: &str = "http://hl7.org/fhir/StructureDefinition/";

type Elements = HashMap<String, FhirSchemaElement>;

static EMPTY: std::sync::LazyLock<Elements> = std::sync::LazyLock::new(HashMap::new);

/// The elements of a type or backbone path, own ones only.
fn own_elements(path: &str) -> Option<(&'static Elements, String)> {
    let mut parts = path.split('.');
    let root = parts.next()?;
    let schema = get_schema(FhirVersion::R4, root)?;
    let mut elements = schema.elements.as_ref()?;
    let mut resolved = root.to_owned();
    for part in parts {
        let element = elements.get(part)?;
        let (next, name) = backbone(element, &resolved, part)?;
        elements = next;
        resolved = name;
    }
    Some((elements, resolved))
}

/// The nested elements of a backbone element (following content references).
fn backbone(
    element: &'static FhirSchemaElement,
    parent: &str,
    name: &str,
) -> Option<(&'static Elements, String)> {
    if let Some(nested) = &element.elements {
        return Some((nested, format!("{parent}.{name}")));
    }
    // `elementReference: [url, "elements", a, "elements", b]` → `Type.a.b`.
    let reference = element.element_reference.as_ref()?;
    let root = reference.first()?.strip_prefix(BASE_PREFIX)?;
    let path: Vec<&str> = reference
        .iter()
        .skip(1)
        .filter(|s| *s != "elements")
        .map(String::as_str)
        .collect();
    let full = std::iter::once(root)
        .chain(path)
        .collect::<Vec<_>>()
        .join(".");
    own_elements(&full)
}

/// The declared type of `element` in `parent` (a type name or a backbone path).
pub(crate) fn element_type(parent: &str, element: &str) -> Option<ElementType> {
    let mut current = parent.to_owned();
    // Walk up the base chain (Observation → DomainResource → Resource).
    for _ in 0..8 {
        let (elements, resolved) = match own_elements(&current) {
            Some(found) => found,
            // A profile of its base (Age, Duration) declares no elements of its own.
            None if !current.contains('.') => (&*EMPTY, current.clone()),
            None => return None,
        };
        if let Some(found) = elements.get(element) {
            if let Some(choices) = &found.choices {
                let types = choices
                    .iter()
                    .filter_map(|key| elements.get(key)?.type_name.clone())
                    .collect();
                return Some(ElementType::Choice(types));
            }
            if found.elements.is_some() || found.element_reference.is_some() {
                return backbone(found, &resolved, element)
                    .map(|(_, name)| ElementType::Single(name));
            }
            return found.type_name.clone().map(ElementType::Single);
        }
        if current.contains('.') {
            // Backbone elements inherit id, extension and modifierExtension.
            current = "BackboneElement".to_owned();
            continue;
        }
        let base = get_schema(FhirVersion::R4, &current)?.base.as_deref()?;
        current = base.strip_prefix(BASE_PREFIX)?.to_owned();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn single(t: &str) -> Option<ElementType> {
        Some(ElementType::Single(t.to_owned()))
    }

    #[test]
    fn looks_up_declared_types() {
        assert_eq!(
            element_type("Observation", "code"),
            single("CodeableConcept")
        );
        assert_eq!(element_type("Observation", "status"), single("code"));
        assert_eq!(
            element_type("Observation", "component"),
            single("Observation.component")
        );
        assert_eq!(
            element_type("Observation.component", "code"),
            single("CodeableConcept")
        );
        assert_eq!(element_type("Observation", "meta"), single("Meta"));
        assert_eq!(element_type("Observation", "contained"), single("Resource"));
        assert_eq!(element_type("Meta", "lastUpdated"), single("instant"));
        assert_eq!(element_type("Age", "value"), single("decimal"));
        assert_eq!(
            element_type("Observation.component", "referenceRange"),
            single("Observation.referenceRange")
        );
        assert_eq!(
            element_type("Observation.component", "extension"),
            single("Extension")
        );
        let Some(ElementType::Choice(types)) = element_type("Observation", "effective") else {
            panic!("effective[x] is a choice")
        };
        assert!(types.contains(&"dateTime".to_owned()) && types.contains(&"Period".to_owned()));
        assert_eq!(element_type("Observation", "nope"), None);
        assert_eq!(element_type("NoSuchType", "id"), None);
    }
}
