//! The search parameters of FHIR R4: what can be searched on each resource type, with
//! which type of matching, and the FHIRPath expression that finds the values.
//! Spec: <https://hl7.org/fhir/R4/search.html#ptypes> (parameter types),
//! <https://hl7.org/fhir/R4/searchparameter.html> (the definitions) and
//! <https://hl7.org/fhir/R4/search.html#all> (the parameters of every resource).
//!
//! The definitions are a compact copy of the official R4 SearchParameter bundle in
//! `data/search-parameters.json` (see `data/README.md`), embedded at build time.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

/// A search parameter's type: how its values are matched.
/// <https://hl7.org/fhir/R4/search.html#ptypes>
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParamType {
    Number,
    Date,
    String,
    Token,
    Reference,
    Composite,
    Quantity,
    Uri,
    Special,
}

impl ParamType {
    fn parse(s: &str) -> Option<ParamType> {
        Some(match s {
            "number" => ParamType::Number,
            "date" => ParamType::Date,
            "string" => ParamType::String,
            "token" => ParamType::Token,
            "reference" => ParamType::Reference,
            "composite" => ParamType::Composite,
            "quantity" => ParamType::Quantity,
            "uri" => ParamType::Uri,
            "special" => ParamType::Special,
            _ => return None,
        })
    }
}

/// One search parameter as it applies to one resource type.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchParam {
    /// The name used in a search URL, e.g. `subject`, `_lastUpdated`.
    pub code: String,
    /// The canonical URL of the definition.
    pub url: String,
    /// The resource type this entry is for (definitions shared by several types, and
    /// those of `Resource` / `DomainResource`, appear once per type).
    pub resource_type: String,
    pub kind: ParamType,
    /// The FHIRPath expression, keeping only the `|`-separated parts that apply to
    /// `resource_type`. `None` for parameters without one (`_text`, `_content`, `_query`).
    pub expression: Option<String>,
    /// The resource types a reference parameter may point to.
    pub targets: Vec<String>,
    /// The parts of a composite parameter, in definition order.
    pub components: Vec<Component>,
}

/// One part of a composite parameter.
/// <https://hl7.org/fhir/R4/search.html#composite>
#[derive(Debug, Clone, PartialEq)]
pub struct Component {
    /// The code of the search parameter defining this part (e.g. `code`).
    pub code: String,
    pub kind: ParamType,
    /// FHIRPath relative to each item the composite's own expression yields.
    pub expression: String,
}

/// All search parameters, by resource type.
#[derive(Debug)]
pub struct Registry {
    /// Per resource type, sorted by code.
    by_type: HashMap<String, Vec<SearchParam>>,
    /// Resource type names, sorted.
    types: Vec<String>,
}

/// The vendored definitions (see `data/README.md`).
const DEFINITIONS: &str = include_str!("../data/search-parameters.json");

/// R4 resource types that define no search parameter of their own; they still have the
/// parameters of every resource.
const TYPES_WITHOUT_PARAMS: &[&str] = &[
    "Binary",
    "BiologicallyDerivedProduct",
    "CatalogEntry",
    "MedicinalProductIngredient",
    "MedicinalProductManufactured",
    "ObservationDefinition",
    "OperationOutcome",
    "Parameters",
    "SubstanceNucleicAcid",
    "SubstancePolymer",
    "SubstanceProtein",
    "SubstanceReferenceInformation",
    "SubstanceSourceMaterial",
];

/// Composite components whose R4 definition points at the wrong parameter:
/// (composite url, component expression, the definition it should name). In R4 4.0.1
/// DocumentReference `relationship` gives its `code` part the `relatesto` (reference)
/// definition and its `target` part the `relation` (token) one.
const COMPONENT_ERRATA: &[(&str, &str, &str)] = &[
    (
        "http://hl7.org/fhir/SearchParameter/DocumentReference-relationship",
        "code",
        "http://hl7.org/fhir/SearchParameter/DocumentReference-relation",
    ),
    (
        "http://hl7.org/fhir/SearchParameter/DocumentReference-relationship",
        "target",
        "http://hl7.org/fhir/SearchParameter/DocumentReference-relatesto",
    ),
];

/// Resources that are not DomainResources (no narrative, so no `_text`).
const NOT_DOMAIN_RESOURCES: &[&str] = &["Binary", "Bundle", "Parameters"];

/// One SearchParameter definition in the vendored compact form: the fields of the
/// official resource that searching needs, under their official names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Definition {
    pub(crate) url: String,
    pub(crate) code: String,
    pub(crate) base: Vec<String>,
    #[serde(rename = "type")]
    pub(crate) kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) expression: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) target: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) modifier: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) comparator: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) multiple_or: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) multiple_and: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) component: Vec<DefinitionComponent>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct DefinitionComponent {
    pub(crate) definition: String,
    pub(crate) expression: String,
}

impl Registry {
    /// The official FHIR R4 (4.0.1) search parameters.
    pub fn r4() -> &'static Registry {
        static R4: OnceLock<Registry> = OnceLock::new();
        R4.get_or_init(|| {
            let defs: Vec<Definition> =
                serde_json::from_str(DEFINITIONS).expect("the embedded search parameters parse");
            Registry::from_definitions(&defs)
        })
    }

    pub(crate) fn from_definitions(defs: &[Definition]) -> Registry {
        let by_url: HashMap<&str, &Definition> = defs.iter().map(|d| (d.url.as_str(), d)).collect();
        let mut by_type: HashMap<String, Vec<SearchParam>> = HashMap::new();
        for name in TYPES_WITHOUT_PARAMS {
            by_type.entry((*name).to_owned()).or_default();
        }
        let mut common: Vec<(&Definition, bool)> = Vec::new();
        for def in defs {
            let Some(kind) = ParamType::parse(&def.kind) else {
                continue;
            };
            for base in &def.base {
                match base.as_str() {
                    "Resource" => common.push((def, false)),
                    "DomainResource" => common.push((def, true)),
                    _ => {
                        let param = make_param(def, kind, base, &by_url);
                        by_type.entry(base.clone()).or_default().push(param);
                    }
                }
            }
        }
        for (rtype, params) in by_type.iter_mut() {
            for (def, domain_only) in &common {
                if *domain_only && NOT_DOMAIN_RESOURCES.contains(&rtype.as_str()) {
                    continue;
                }
                if let Some(kind) = ParamType::parse(&def.kind) {
                    params.push(make_param(def, kind, rtype, &by_url));
                }
            }
            params.sort_by(|a, b| a.code.cmp(&b.code));
        }
        let mut types: Vec<String> = by_type.keys().cloned().collect();
        types.sort();
        Registry { by_type, types }
    }

    /// The parameter `code` of `resource_type`, including those every resource has
    /// (`_id`, `_lastUpdated`, `_tag`, `_profile`, `_security`, `_source`, `_text`, ...).
    pub fn get(&self, resource_type: &str, code: &str) -> Option<&SearchParam> {
        let params = self.by_type.get(resource_type)?;
        params
            .binary_search_by(|p| p.code.as_str().cmp(code))
            .ok()
            .map(|i| &params[i])
    }

    /// Every parameter of `resource_type`, sorted by code; empty for an unknown type.
    pub fn params_for(&self, resource_type: &str) -> &[SearchParam] {
        self.by_type
            .get(resource_type)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// The resource types known to the registry, sorted.
    pub fn resource_types(&self) -> impl Iterator<Item = &str> {
        self.types.iter().map(String::as_str)
    }
}

fn make_param(
    def: &Definition,
    kind: ParamType,
    resource_type: &str,
    by_url: &HashMap<&str, &Definition>,
) -> SearchParam {
    let components = def
        .component
        .iter()
        .filter_map(|c| {
            let definition = COMPONENT_ERRATA
                .iter()
                .find(|(url, expr, _)| *url == def.url && *expr == c.expression)
                .map_or(c.definition.as_str(), |(_, _, fixed)| fixed);
            let part = by_url.get(definition)?;
            Some(Component {
                code: part.code.clone(),
                kind: ParamType::parse(&part.kind)?,
                expression: c.expression.clone(),
            })
        })
        .collect();
    SearchParam {
        code: def.code.clone(),
        url: def.url.clone(),
        resource_type: resource_type.to_owned(),
        kind,
        expression: def
            .expression
            .as_deref()
            .map(|e| restrict_expression(e, resource_type, &def.base)),
        targets: def.target.clone(),
        components,
    }
}

/// Keep the union members of `expr` that apply to `resource_type`: those rooted at it
/// (or at `Resource` / `DomainResource`), and those not rooted at another of the
/// definition's base types (`name | alias`).
fn restrict_expression(expr: &str, resource_type: &str, bases: &[String]) -> String {
    if bases.len() <= 1 {
        return expr.trim().to_owned();
    }
    let kept: Vec<&str> = split_union(expr)
        .into_iter()
        .filter(|part| {
            let root = path_root(part);
            root == resource_type || !bases.iter().any(|b| b == root)
        })
        .collect();
    kept.join(" | ")
}

/// Split an expression at its top-level `|` operators (not inside parentheses or
/// string literals), trimming each member.
pub(crate) fn split_union(expr: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut in_string, mut start) = (0i32, false, 0);
    let bytes = expr.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if in_string => i += 1,
            b'\'' => in_string = !in_string,
            b'(' | b'[' if !in_string => depth += 1,
            b')' | b']' if !in_string => depth -= 1,
            b'|' if !in_string && depth == 0 => {
                parts.push(expr[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    parts.push(expr[start..].trim());
    parts.retain(|p| !p.is_empty());
    parts
}

/// The first identifier of a path expression, ignoring leading parentheses.
pub(crate) fn path_root(part: &str) -> &str {
    let s = part.trim_start_matches(|c: char| c == '(' || c.is_whitespace());
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn every_type_has_the_common_parameters() {
        let reg = Registry::r4();
        for rtype in reg.resource_types() {
            for code in [
                "_id",
                "_lastUpdated",
                "_tag",
                "_profile",
                "_security",
                "_source",
            ] {
                let p = reg
                    .get(rtype, code)
                    .unwrap_or_else(|| panic!("{rtype} lacks {code}"));
                assert_eq!(p.resource_type, rtype);
            }
        }
        assert!(reg.get("Patient", "_text").is_some());
        assert!(reg.get("Bundle", "_text").is_none());
        assert_eq!(
            reg.get("Patient", "_id").unwrap().expression.as_deref(),
            Some("Resource.id")
        );
        assert!(reg.resource_types().count() >= 145);
        assert!(reg.params_for("NoSuchType").is_empty());
        for rtype in reg.resource_types() {
            let params = reg.params_for(rtype);
            assert!(
                params.windows(2).all(|w| w[0].code != w[1].code),
                "{rtype}: a code twice"
            );
        }
    }

    #[test]
    fn shared_expressions_are_split_by_type() {
        let reg = Registry::r4();
        let date = reg.get("Observation", "date").unwrap();
        assert_eq!(date.kind, ParamType::Date);
        assert_eq!(date.expression.as_deref(), Some("Observation.effective"));
        let patient = reg.get("Condition", "patient").unwrap();
        assert_eq!(
            patient.expression.as_deref(),
            Some("Condition.subject.where(resolve() is Patient)")
        );
        assert_eq!(patient.targets, ["Patient"]);
        let name = reg.get("InsurancePlan", "name").unwrap();
        assert_eq!(name.expression.as_deref(), Some("name | alias"));
    }

    #[test]
    fn composites_know_their_components() {
        let reg = Registry::r4();
        let p = reg
            .get("Observation", "component-code-value-quantity")
            .unwrap();
        assert_eq!(p.kind, ParamType::Composite);
        assert_eq!(p.expression.as_deref(), Some("Observation.component"));
        let parts: Vec<(&str, ParamType, &str)> = p
            .components
            .iter()
            .map(|c| (c.code.as_str(), c.kind, c.expression.as_str()))
            .collect();
        assert_eq!(
            parts,
            [
                ("component-code", ParamType::Token, "code"),
                (
                    "component-value-quantity",
                    ParamType::Quantity,
                    "value.ofType(Quantity)"
                )
            ]
        );
    }

    #[test]
    fn component_errata_are_applied() {
        let p = Registry::r4()
            .get("DocumentReference", "relationship")
            .unwrap();
        let parts: Vec<(&str, ParamType)> = p
            .components
            .iter()
            .map(|c| (c.expression.as_str(), c.kind))
            .collect();
        assert_eq!(
            parts,
            [("code", ParamType::Token), ("target", ParamType::Reference)]
        );
    }

    #[test]
    fn unions_split_at_top_level_only() {
        assert_eq!(
            split_union("(A.x.ofType(B) | A.y) | A.where(z = 'a|b') | B.c"),
            ["(A.x.ofType(B) | A.y)", "A.where(z = 'a|b')", "B.c"]
        );
        assert_eq!(path_root("(Observation.value as Quantity)"), "Observation");
    }

    /// Build the compact copy from the official bundle.
    fn derive(bundle: &serde_json::Value) -> Vec<Definition> {
        let entries = bundle["entry"].as_array().expect("a Bundle");
        entries
            .iter()
            .map(|e| serde_json::from_value(e["resource"].clone()).expect("a SearchParameter"))
            .collect()
    }

    fn render(defs: &[Definition]) -> String {
        let lines: Vec<String> = defs
            .iter()
            .map(|d| serde_json::to_string(d).expect("serialisable"))
            .collect();
        format!("[\n{}\n]\n", lines.join(",\n"))
    }

    /// The vendored copy is exactly what the official bundle derives to. Regenerate it
    /// with `UPDATE_DEFS=1 cargo test -p search`.
    #[test]
    fn vendored_definitions_match_the_official_bundle() {
        let source = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/data/fhir-r4/search-parameters.json");
        let Ok(text) = std::fs::read_to_string(&source) else {
            eprintln!("skipped: {} not found", source.display());
            return;
        };
        let bundle: serde_json::Value = serde_json::from_str(&text).expect("bundle JSON");
        let defs = derive(&bundle);
        assert_eq!(defs.len(), 1378);
        let expected = render(&defs);
        let vendored = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/search-parameters.json");
        if std::env::var_os("UPDATE_DEFS").is_some() {
            std::fs::write(&vendored, &expected).expect("write the vendored copy");
            return;
        }
        assert!(
            DEFINITIONS == expected,
            "data/search-parameters.json is stale: run with UPDATE_DEFS=1"
        );
    }
}
