//! Walks one JSON resource against the definitions: property names, JSON shapes,
//! cardinality, primitive values, required bindings and a few core invariants.
//! Spec: <https://hl7.org/fhir/R4/json.html>, <https://hl7.org/fhir/R4/validation.html>.

use std::fmt::Write as _;

use serde_json::{Map, Value};

use super::definitions::{Definitions, Element, ElementType, NodeId, ValueSetId};
use super::primitive::{shorten, Finding};
use super::{Issue, IssueCode, Severity, MAX_DEPTH};

/// Validates a resource, returning every issue found.
pub(crate) fn validate_resource(defs: &'static Definitions, resource: &Value) -> Vec<Issue> {
    let mut walker = Walker {
        defs,
        path: Vec::new(),
        issues: Vec::new(),
        depth: 0,
        too_deep: false,
    };
    walker.resource(resource, None, false);
    walker.issues
}

/// One step of the FHIRPath-style location of an issue.
#[derive(Clone, Copy)]
enum Step<'a> {
    Name(&'a str),
    Index(usize),
    OfType(&'a str),
}

struct Walker<'a> {
    defs: &'static Definitions,
    path: Vec<Step<'a>>,
    issues: Vec<Issue>,
    /// JSON objects and arrays enclosing the value being walked (the resource itself is 1).
    depth: usize,
    /// Whether nesting past [`MAX_DEPTH`] was reported (once: the first place is enough).
    too_deep: bool,
}

impl<'a> Walker<'a> {
    /// The current location, plus an optional child name.
    fn expression(&self, child: Option<&str>) -> String {
        let mut out = String::new();
        for step in &self.path {
            match step {
                Step::Name(name) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(name);
                }
                Step::Index(i) => {
                    let _ = write!(out, "[{i}]");
                }
                Step::OfType(t) => {
                    let _ = write!(out, ".ofType({t})");
                }
            }
        }
        if let Some(child) = child {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(child);
        }
        out
    }

    fn report(
        &mut self,
        severity: Severity,
        code: IssueCode,
        child: Option<&str>,
        message: String,
    ) {
        let expression = self.expression(child);
        self.issues.push(Issue {
            severity,
            code,
            expression,
            message,
        });
    }

    /// Enter a JSON object or array at the current location; false (and one issue for the
    /// whole resource) when that is deeper than [`MAX_DEPTH`]: its contents are not walked.
    /// Every `enter` that returns true is paired with a [`Walker::leave`].
    fn enter(&mut self) -> bool {
        if self.depth >= MAX_DEPTH {
            if !self.too_deep {
                self.too_deep = true;
                let message = format!(
                    "JSON nested deeper than {MAX_DEPTH} levels (objects and arrays) is not accepted"
                );
                self.error(IssueCode::Structure, message);
            }
            return false;
        }
        self.depth += 1;
        true
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    fn error(&mut self, code: IssueCode, message: String) {
        self.report(Severity::Error, code, None, message);
    }

    fn error_at(&mut self, child: &str, code: IssueCode, message: String) {
        self.report(Severity::Error, code, Some(child), message);
    }

    /// A resource at the root, in `contained`, or in an element of type `Resource`
    /// (`Bundle.entry.resource`, `Parameters.parameter.resource`).
    fn resource(&mut self, value: &'a Value, expected: Option<&'static str>, contained: bool) {
        let Some(obj) = value.as_object() else {
            let message = "A resource must be a JSON object".to_owned();
            if self.path.is_empty() {
                self.error_at("Resource", IssueCode::Structure, message);
            } else {
                self.error(IssueCode::Structure, message);
            }
            return;
        };
        let resource_type = match obj.get("resourceType") {
            Some(Value::String(s)) => s.as_str(),
            Some(_) => {
                self.error_at(
                    "resourceType",
                    IssueCode::Structure,
                    "'resourceType' must be a string".to_owned(),
                );
                return;
            }
            None => {
                self.error_at(
                    "resourceType",
                    IssueCode::Required,
                    "Missing 'resourceType'".to_owned(),
                );
                return;
            }
        };
        let Some(node) = self.defs.resource(resource_type) else {
            let message = format!("Unknown resource type '{}'", shorten(resource_type));
            self.error_at("resourceType", IssueCode::NotSupported, message);
            return;
        };
        if let Some(expected) = expected.filter(|e| *e != resource_type) {
            let message = format!("Expected a {expected} resource, found {resource_type}");
            self.error_at("resourceType", IssueCode::Structure, message);
        }
        self.path.push(if self.path.is_empty() {
            Step::Name(resource_type)
        } else {
            Step::OfType(resource_type)
        });
        if contained {
            self.contained_invariants(obj);
        }
        if resource_type == "Bundle" {
            self.bundle_invariants(obj);
        }
        self.object(obj, node, true);
        self.path.pop();
    }

    /// dom-2 and dom-4 (<https://hl7.org/fhir/R4/domainresource.html#invs>).
    fn contained_invariants(&mut self, obj: &Map<String, Value>) {
        if obj.contains_key("contained") {
            let message = "A contained resource must not contain resources (dom-2)".to_owned();
            self.error_at("contained", IssueCode::Invariant, message);
        }
        let meta = obj.get("meta").and_then(Value::as_object);
        if meta.is_some_and(|m| m.contains_key("versionId") || m.contains_key("lastUpdated")) {
            let message =
                "A contained resource must not have meta.versionId or meta.lastUpdated (dom-4)"
                    .to_owned();
            self.error_at("meta", IssueCode::Invariant, message);
        }
    }

    /// bdl-3 and bdl-4 (<https://hl7.org/fhir/R4/bundle.html#invs>): every entry of a batch,
    /// a transaction or a history has a `request` (saying what to do: `method` and `url`,
    /// both required in it), every entry of their responses and of a history a `response`.
    /// The other halves (no `request` or `response` in other Bundles) are not checked.
    fn bundle_invariants(&mut self, obj: &Map<String, Value>) {
        let kind = obj.get("type").and_then(Value::as_str).unwrap_or_default();
        let needed: &[(&str, &str)] = match kind {
            "batch" | "transaction" => &[("request", "bdl-3")],
            "batch-response" | "transaction-response" => &[("response", "bdl-4")],
            "history" => &[("request", "bdl-3"), ("response", "bdl-4")],
            _ => return,
        };
        // An `entry` that is not an array, or an entry that is not an object, is reported
        // where the walk meets it.
        let Some(entries) = obj.get("entry").and_then(Value::as_array) else {
            return;
        };
        for (i, entry) in entries.iter().enumerate() {
            let Some(entry) = entry.as_object() else {
                continue;
            };
            for &(name, invariant) in needed {
                if !entry.contains_key(name) {
                    let what = if name == "request" {
                        "what to do with it: request.method and request.url"
                    } else {
                        "the outcome: response.status"
                    };
                    let message = format!(
                        "Missing '{name}': every entry of a {kind} Bundle needs {what} ({invariant})"
                    );
                    self.path.extend([Step::Name("entry"), Step::Index(i)]);
                    self.error_at(name, IssueCode::Required, message);
                    self.path.truncate(self.path.len() - 2);
                }
            }
        }
    }

    /// The properties of one JSON object against the node defining its children.
    fn object(&mut self, obj: &'a Map<String, Value>, node_id: NodeId, resource_root: bool) {
        if self.enter() {
            self.properties(obj, node_id, resource_root);
            self.leave();
        }
    }

    /// The properties of one JSON object (entered) against the node defining its children.
    fn properties(&mut self, obj: &'a Map<String, Value>, node_id: NodeId, resource_root: bool) {
        let defs = self.defs;
        let node = defs.node(node_id);
        if obj.is_empty() {
            let message =
                "Empty object; an element must have a value or children (ele-1)".to_owned();
            self.error(IssueCode::Invariant, message);
            return;
        }
        // Elements seen, as bits of their index in the node: values, then `_` siblings.
        let mut values: u128 = 0;
        let mut siblings: u128 = 0;
        for (key, value) in obj {
            if resource_root && key == "resourceType" {
                continue;
            }
            let (underscore, name) = match key.strip_prefix('_') {
                Some(name) => (true, name),
                None => (false, key.as_str()),
            };
            let Some(prop) = node.prop(name) else {
                self.error_at(
                    key,
                    IssueCode::Structure,
                    format!("Unknown element '{}'", shorten(key)),
                );
                continue;
            };
            let element = &node.elements[usize::from(prop.element)];
            let ty = element.types[usize::from(prop.ty)];
            let bit = 1u128 << prop.element;
            if underscore {
                if !matches!(ty, ElementType::Primitive(_)) {
                    let message = format!(
                        "Unknown element '{key}': only primitive elements have '_' siblings"
                    );
                    self.error_at(key, IssueCode::Structure, message);
                    continue;
                }
                siblings |= bit;
                self.primitive_sibling(value, element, ty, obj.get(name));
            } else {
                if values & bit != 0 {
                    let message = format!(
                        "Only one of the choices of '{}[x]' is allowed",
                        element.name
                    );
                    self.error_at(key, IssueCode::Structure, message);
                }
                values |= bit;
                self.element(key, value, element, ty, obj);
            }
        }
        for &index in &node.required {
            if (values | siblings) & (1u128 << index) == 0 {
                let element = &node.elements[usize::from(index)];
                let name = if element.choice {
                    format!("{}[x]", element.name)
                } else {
                    element.name.to_owned()
                };
                let message = format!("Missing required element '{name}' (min {})", element.min);
                self.error_at(&name, IssueCode::Required, message);
            }
        }
    }

    fn push_element(&mut self, element: &'static Element, ty: ElementType) {
        self.path.push(Step::Name(element.name));
        if element.choice {
            self.path.push(Step::OfType(ty.name()));
        }
    }

    fn pop_element(&mut self, element: &Element) {
        self.path.pop();
        if element.choice {
            self.path.pop();
        }
    }

    /// One property: its JSON shape (array or single value) and each of its values.
    fn element(
        &mut self,
        key: &str,
        value: &'a Value,
        element: &'static Element,
        ty: ElementType,
        parent: &Map<String, Value>,
    ) {
        self.push_element(element, ty);
        match value {
            _ if element.max == 0 => {
                self.error(
                    IssueCode::Structure,
                    format!("Element '{key}' is not allowed here (max 0)"),
                );
            }
            Value::Array(items) if element.array => {
                if !self.enter() {
                    return self.pop_element(element);
                }
                if items.is_empty() {
                    let message =
                        format!("Empty array '{key}'; arrays must have at least one item");
                    self.error(IssueCode::Structure, message);
                }
                if items.len() > element.max as usize {
                    let message = format!(
                        "Too many items in '{key}': {} (max {})",
                        items.len(),
                        element.max
                    );
                    self.error(IssueCode::Structure, message);
                }
                for (i, item) in items.iter().enumerate() {
                    self.path.push(Step::Index(i));
                    if !item.is_null() {
                        self.value(item, element, ty);
                    } else if !(matches!(ty, ElementType::Primitive(_))
                        && parent.contains_key(&format!("_{key}")))
                    {
                        // A null only holds the place of a value that has just an extension.
                        self.error(
                            IssueCode::Structure,
                            "Null item; only allowed when '_' extensions align".to_owned(),
                        );
                    }
                    self.path.pop();
                }
                self.leave();
            }
            Value::Array(_) => {
                let message =
                    format!("Element '{key}' must be a single value, not an array (max 1)");
                self.error(IssueCode::Structure, message);
            }
            _ if element.array => {
                let max = if element.max == u32::MAX {
                    "*".to_owned()
                } else {
                    element.max.to_string()
                };
                self.error(
                    IssueCode::Structure,
                    format!("Element '{key}' must be an array (max {max})"),
                );
            }
            Value::Null => {
                self.error(
                    IssueCode::Structure,
                    format!("Element '{key}' is null; omit it instead"),
                );
            }
            _ => self.value(value, element, ty),
        }
        self.pop_element(element);
    }

    /// One value of an element, of one type.
    fn value(&mut self, value: &'a Value, element: &'static Element, ty: ElementType) {
        match ty {
            ElementType::Primitive(p) => match p.check(value) {
                Some(Finding::Error(code, message)) => self.error(code, message),
                Some(Finding::Warning(message)) => {
                    self.report(Severity::Warning, IssueCode::Value, None, message)
                }
                None => {
                    if let (Some(vs), Value::String(code)) = (element.binding, value) {
                        self.check_code(vs, code);
                    }
                }
            },
            ElementType::Complex { name, node } => {
                let Some(obj) = self.expect_object(value, name) else {
                    return;
                };
                self.object(obj, node, false);
                match (name, element.binding) {
                    ("Extension", _) => self.extension_invariant(obj),
                    ("Coding", Some(vs)) => self.check_coding(vs, obj),
                    ("CodeableConcept", Some(vs)) => {
                        if let Some(Value::Array(codings)) = obj.get("coding") {
                            for (i, coding) in codings.iter().enumerate() {
                                if let Value::Object(coding) = coding {
                                    self.path.extend([Step::Name("coding"), Step::Index(i)]);
                                    self.check_coding(vs, coding);
                                    self.path.truncate(self.path.len() - 2);
                                }
                            }
                        }
                    }
                    _ => {}
                }
            }
            ElementType::Backbone(node) => {
                if let Some(obj) = self.expect_object(value, "BackboneElement") {
                    self.object(obj, node, false);
                }
            }
            ElementType::Resource(expected) => {
                self.resource(value, expected, element.name == "contained")
            }
        }
    }

    fn expect_object(
        &mut self,
        value: &'a Value,
        type_name: &str,
    ) -> Option<&'a Map<String, Value>> {
        let obj = value.as_object();
        if obj.is_none() {
            let found = match value {
                Value::String(_) => "a string",
                Value::Number(_) => "a number",
                Value::Bool(_) => "a boolean",
                _ => "something else",
            };
            self.error(
                IssueCode::Structure,
                format!("Type {type_name} must be a JSON object, found {found}"),
            );
        }
        obj
    }

    /// A `code` element bound to a required value set.
    fn check_code(&mut self, vs: ValueSetId, code: &str) {
        let vs = self.defs.value_set(vs);
        if !vs.contains_code(code) {
            let message = format!(
                "Code '{}' is not in the required value set {}",
                shorten(code),
                vs.url
            );
            self.error(IssueCode::CodeInvalid, message);
        }
    }

    /// A Coding under a required binding: judged only when its system is one the value set
    /// draws on, since other codings may be translations.
    fn check_coding(&mut self, vs: ValueSetId, coding: &Map<String, Value>) {
        let vs = self.defs.value_set(vs);
        let (Some(Value::String(system)), Some(Value::String(code))) =
            (coding.get("system"), coding.get("code"))
        else {
            return;
        };
        if vs.contains_coding(system, code) == Some(false) {
            let message = format!(
                "Code '{}' from {} is not in the required value set {}",
                shorten(code),
                shorten(system),
                vs.url
            );
            self.error_at("code", IssueCode::CodeInvalid, message);
        }
    }

    /// ext-1: an extension has nested extensions or a value, not both.
    fn extension_invariant(&mut self, obj: &Map<String, Value>) {
        let has_value = obj
            .keys()
            .any(|k| k.starts_with("value") || k.starts_with("_value"));
        let has_extensions = obj.contains_key("extension");
        if has_value == has_extensions {
            let message = if has_value {
                "An extension must not have both a value and nested extensions (ext-1)"
            } else {
                "An extension must have a value or nested extensions (ext-1)"
            };
            self.error(IssueCode::Invariant, message.to_owned());
        }
    }

    /// `_name`: the id and extensions of a primitive value, an object, or an array aligned
    /// with the values (<https://hl7.org/fhir/R4/json.html#primitive>).
    fn primitive_sibling(
        &mut self,
        sibling: &'a Value,
        element: &'static Element,
        ty: ElementType,
        values: Option<&'a Value>,
    ) {
        let element_node = self.defs.element_node;
        self.push_element(element, ty);
        match sibling {
            Value::Object(obj) if !element.array => self.object(obj, element_node, false),
            Value::Array(items) if element.array => {
                if !self.enter() {
                    return self.pop_element(element);
                }
                let values = values.and_then(Value::as_array);
                if let Some(values) = values.filter(|v| v.len() != items.len()) {
                    let message = format!(
                        "'_{}' has {} items but '{}' has {}; they must align",
                        element.name,
                        items.len(),
                        element.name,
                        values.len()
                    );
                    self.error(IssueCode::Structure, message);
                }
                for (i, item) in items.iter().enumerate() {
                    self.path.push(Step::Index(i));
                    match item {
                        Value::Object(obj) => self.object(obj, element_node, false),
                        Value::Null => {
                            if values.and_then(|v| v.get(i)).is_none_or(Value::is_null) {
                                let message =
                                    "Both the value and its extension are null".to_owned();
                                self.error(IssueCode::Structure, message);
                            }
                        }
                        _ => {
                            let message = "Items of a '_' array must be objects or null".to_owned();
                            self.error(IssueCode::Structure, message);
                        }
                    }
                    self.path.pop();
                }
                self.leave();
            }
            _ => {
                let shape = if element.array {
                    "an array"
                } else {
                    "an object"
                };
                self.error(
                    IssueCode::Structure,
                    format!("The '_' sibling of '{}' must be {shape}", element.name),
                );
            }
        }
        self.pop_element(element);
    }
}
