//! Validation against the official R4 StructureDefinitions.
//!
//! [`validate`] checks one resource in its JSON form (<https://hl7.org/fhir/R4/json.html>)
//! against the snapshots of the base R4 resource and data type definitions:
//!
//! - `resourceType` names a concrete R4 resource; property names are elements defined at
//!   that path, including the typed names of choice elements (`valueQuantity`), `_name`
//!   siblings of primitive values, elements reused by `contentReference`, and the
//!   resources nested in `contained`, `Bundle.entry.resource` and `Parameters.parameter.resource`;
//! - arrays exactly where the element repeats, minimum and maximum cardinality;
//! - the JSON type and lexical form of every primitive value
//!   (<https://hl7.org/fhir/R4/datatypes.html#primitive>), including calendar dates;
//! - codes under required bindings, when the value set can be expanded from the core
//!   definitions (<https://hl7.org/fhir/R4/terminologies.html#required>);
//! - the cheap core invariants ele-1 (no empty values), ext-1, dom-2 and dom-4;
//! - the Bundle invariants bdl-3 and bdl-4: each entry of a batch or transaction says what
//!   to do (`request`), each entry of their responses what happened (`response`);
//! - nesting: at most [`MAX_DEPTH`] levels of JSON objects and arrays.
//!
//! Profiles, extension definitions, references and the other FHIRPath invariants are not
//! checked. The definitions are vendored in `data/r4-definitions.txt` and loaded once.
//!
//! The same definitions tell which top-level elements the `_summary` forms keep
//! ([`is_summary`], [`is_mandatory`]).

mod definitions;
#[cfg(test)]
mod generate;
mod instance;
mod primitive;
#[cfg(test)]
mod tests;

use serde_json::Value;

/// The deepest JSON nesting (objects and arrays, the resource itself being level 1) a
/// resource may have; anything deeper is refused with one issue at the first place that
/// goes past it.
///
/// The deepest of the 5,306 official R4 example resources nests 22 levels (a Bundle of
/// ValueSets; on its own, a QuestionnaireResponse with nested items nests 21 and a
/// CodeSystem's concept hierarchy 19). 40 leaves room for deeper questionnaires (each
/// level of `item.answer.item` adds four) while staying far below serde_json's recursion
/// limit of 128 and below what JSON functions over stored resources handle comfortably:
/// a resource stored 62 levels deep once broke a JSON filter, and is now refused.
pub const MAX_DEPTH: usize = 40;

/// How bad an [`Issue`] is. A resource with warnings only is acceptable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// The kind of an [`Issue`], one of the `OperationOutcome.issue.code` values
/// (<https://hl7.org/fhir/R4/valueset-issue-type.html>).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssueCode {
    /// Unknown element, wrong JSON shape or type.
    Structure,
    /// A required element is missing.
    Required,
    /// A primitive value is malformed.
    Value,
    /// A code is not in its required value set.
    CodeInvalid,
    /// A core invariant (ele-1, ext-1, dom-2, dom-4) is violated.
    Invariant,
    /// The resource type is not an R4 resource.
    NotSupported,
}

impl IssueCode {
    /// The code as written in `OperationOutcome.issue.code`.
    pub fn as_str(&self) -> &'static str {
        match self {
            IssueCode::Structure => "structure",
            IssueCode::Required => "required",
            IssueCode::Value => "value",
            IssueCode::CodeInvalid => "code-invalid",
            IssueCode::Invariant => "invariant",
            IssueCode::NotSupported => "not-supported",
        }
    }
}

/// One problem found in a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub severity: Severity,
    pub code: IssueCode,
    /// Where, as a simple FHIRPath: `Patient.name[0].given[1]`, `Observation.value.ofType(Quantity).value`,
    /// `Bundle.entry[2].resource.ofType(Patient).gender`.
    pub expression: String,
    /// What, in plain English: `Unknown element 'foo'`.
    pub message: String,
}

/// Validate one resource (JSON) against the base R4 definitions. Empty = valid; issues of
/// [`Severity::Warning`] alone do not make a resource invalid.
pub fn validate(resource: &Value) -> Vec<Issue> {
    instance::validate_resource(definitions::definitions(), resource)
}

/// Whether `name` is a concrete R4 resource type (`Patient`, not `DomainResource`).
pub fn is_resource_type(name: &str) -> bool {
    definitions::definitions().resource(name).is_some()
}

/// The concrete R4 resource types, sorted.
pub fn resource_types() -> &'static [&'static str] {
    &definitions::definitions().resource_names
}

/// Whether the top-level element `element` of resource type `rtype` is marked isSummary
/// in the R4 StructureDefinition (for `_summary=true`, <https://hl7.org/fhir/R4/search.html#summary>).
/// Choice elements: `element` is the JSON name (e.g. `valueQuantity` matches `value[x]`);
/// the `_name` sibling of a primitive (`_birthDate`) follows its element.
///
/// The answer is the definition's: `id`, `meta` and `implicitRules` are summary elements
/// of every resource, `resourceType` is not an element at all (false). Unknown resource
/// types and element names are false.
pub fn is_summary(rtype: &str, element: &str) -> bool {
    top_level_element(rtype, element).is_some_and(|e| e.summary)
}

/// Whether the top-level element is mandatory (min >= 1) for `rtype` (kept by `_summary=text`).
/// Element names are matched as in [`is_summary`]; unknown names are false.
pub fn is_mandatory(rtype: &str, element: &str) -> bool {
    top_level_element(rtype, element).is_some_and(|e| e.min >= 1)
}

fn top_level_element(rtype: &str, json_name: &str) -> Option<&'static definitions::Element> {
    let defs = definitions::definitions();
    defs.node(defs.resource(rtype)?)
        .element_by_json_name(json_name)
}
