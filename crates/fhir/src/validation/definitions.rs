//! The R4 element definitions and required value sets, loaded once from the vendored
//! `data/r4-definitions.txt` into lookup tables keyed by JSON property name.
//! Spec: <https://hl7.org/fhir/R4/elementdefinition.html>, <https://hl7.org/fhir/R4/terminologies.html#required>,
//! <https://hl7.org/fhir/R4/search.html#summary>.
//!
//! The vendored file is tab-separated, one record a line (`#` starts a comment):
//!
//! - `T name kind type`: a StructureDefinition; `kind` is `primitive`, `complex` or
//!   `resource`; `type` is the type it constrains (`Quantity` for `SimpleQuantity`).
//! - `E path min max array summary types binding contentReference`: one snapshot element
//!   of the preceding `T`, its path without the type name; `max` is a number or `*`; `array`
//!   is 1 when the JSON form is an array (the base definition repeats); `summary` is 1 when
//!   the element is marked `isSummary` (kept by `_summary=true`); `types` is a comma list;
//!   `binding` the URL of a required value set that could be expanded; `contentReference`
//!   the path whose children this element reuses.
//! - `V url` then `C system code...`: the expansion of a required value set.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use super::primitive::Primitive;

const SOURCE: &str = include_str!("../../data/r4-definitions.txt");

pub(crate) type NodeId = u32;
pub(crate) type ValueSetId = u32;

/// The loaded definitions, built on first use.
pub(crate) fn definitions() -> &'static Definitions {
    static DEFS: OnceLock<Definitions> = OnceLock::new();
    DEFS.get_or_init(|| Definitions::parse(SOURCE))
}

pub(crate) struct Definitions {
    /// Concrete resource types by name, with the node of their root element.
    resources: HashMap<&'static str, NodeId>,
    /// Resource type names, sorted.
    pub(crate) resource_names: Vec<&'static str>,
    nodes: Vec<Node>,
    value_sets: Vec<ValueSet>,
    /// The node of `Element` (`id` and `extension`), used for `_name` primitive siblings.
    pub(crate) element_node: NodeId,
}

/// An element with children: a resource root, a complex data type or a backbone element.
#[derive(Default)]
pub(crate) struct Node {
    pub(crate) elements: Vec<Element>,
    /// JSON property name (`valueQuantity`, `status`) to the element and its type.
    props: HashMap<Box<str>, Prop>,
    /// Indexes of elements with `min >= 1`.
    pub(crate) required: Vec<u8>,
}

#[derive(Clone, Copy)]
pub(crate) struct Prop {
    pub(crate) element: u8,
    pub(crate) ty: u8,
}

pub(crate) struct Element {
    /// The element name without `[x]`.
    pub(crate) name: &'static str,
    pub(crate) choice: bool,
    pub(crate) min: u32,
    /// `u32::MAX` for `*`.
    pub(crate) max: u32,
    /// The JSON form is an array.
    pub(crate) array: bool,
    /// Marked `isSummary`: part of the `_summary=true` form.
    pub(crate) summary: bool,
    pub(crate) types: Vec<ElementType>,
    pub(crate) binding: Option<ValueSetId>,
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum ElementType {
    Primitive(Primitive),
    /// A complex data type: its name as used in choice suffixes (`Quantity` for
    /// `SimpleQuantity`) and the node of its definition.
    Complex {
        name: &'static str,
        node: NodeId,
    },
    /// Children defined inline (BackboneElement) or by `contentReference`.
    Backbone(NodeId),
    /// A resource: any (`Resource`) or one type.
    Resource(Option<&'static str>),
}

impl ElementType {
    /// The name of the type as written after `ofType(` and in choice element names.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            ElementType::Primitive(p) => p.name(),
            ElementType::Complex { name, .. } => name,
            ElementType::Backbone(_) => "BackboneElement",
            ElementType::Resource(r) => r.unwrap_or("Resource"),
        }
    }
}

pub(crate) struct ValueSet {
    pub(crate) url: &'static str,
    /// Every code, whatever its system (for `code` elements).
    codes: HashSet<&'static str>,
    systems: Vec<(&'static str, HashSet<&'static str>)>,
}

impl ValueSet {
    pub(crate) fn contains_code(&self, code: &str) -> bool {
        self.codes.contains(code)
    }

    /// `None` when the value set does not draw on `system` (nothing can be said),
    /// otherwise whether `code` is one of its codes from that system.
    pub(crate) fn contains_coding(&self, system: &str, code: &str) -> Option<bool> {
        self.systems
            .iter()
            .find(|(s, _)| *s == system)
            .map(|(_, codes)| codes.contains(code))
    }
}

impl Definitions {
    pub(crate) fn resource(&self, name: &str) -> Option<NodeId> {
        self.resources.get(name).copied()
    }

    pub(crate) fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id as usize]
    }

    pub(crate) fn value_set(&self, id: ValueSetId) -> &ValueSet {
        &self.value_sets[id as usize]
    }

    /// Builds the tables. The input is the vendored file, checked by the tests, so a
    /// malformed line is a build defect and panics.
    fn parse(source: &'static str) -> Definitions {
        struct RawType {
            name: &'static str,
            kind: &'static str,
            base: &'static str,
            elements: Vec<Vec<&'static str>>,
        }
        let mut raw: Vec<RawType> = Vec::new();
        let mut value_sets: Vec<ValueSet> = Vec::new();
        for line in source
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            let fields: Vec<&'static str> = line.split('\t').collect();
            match fields[0] {
                "T" => raw.push(RawType {
                    name: fields[1],
                    kind: fields[2],
                    base: fields[3],
                    elements: Vec::new(),
                }),
                "E" => raw
                    .last_mut()
                    .expect("E before T")
                    .elements
                    .push(fields[1..].to_vec()),
                "V" => value_sets.push(ValueSet {
                    url: fields[1],
                    codes: HashSet::new(),
                    systems: Vec::new(),
                }),
                "C" => {
                    let vs = value_sets.last_mut().expect("C before V");
                    let codes: HashSet<&'static str> = fields[2..].iter().copied().collect();
                    vs.codes.extend(codes.iter().copied());
                    vs.systems.push((fields[1], codes));
                }
                other => panic!("unknown record {other:?} in the definitions"),
            }
        }
        let vs_index: HashMap<&str, ValueSetId> = value_sets
            .iter()
            .enumerate()
            .map(|(i, vs)| (vs.url, i as ValueSetId))
            .collect();

        // Pass 1: a root node for every complex type and resource, so types can refer to
        // each other in any order.
        let mut nodes: Vec<Node> = Vec::new();
        let mut roots: HashMap<&'static str, NodeId> = HashMap::new();
        for t in raw.iter().filter(|t| t.kind != "primitive") {
            roots.insert(t.name, nodes.len() as NodeId);
            nodes.push(Node::default());
        }
        let base_names: HashMap<&'static str, &'static str> =
            raw.iter().map(|t| (t.name, t.base)).collect();
        let resource_set: HashSet<&str> = raw
            .iter()
            .filter(|t| t.kind == "resource")
            .map(|t| t.name)
            .collect();
        let resolve = |code: &'static str| -> ElementType {
            if let Some(p) = Primitive::from_name(code) {
                ElementType::Primitive(p)
            } else if code == "Resource" || code == "DomainResource" {
                ElementType::Resource(None)
            } else if resource_set.contains(code) {
                ElementType::Resource(Some(code))
            } else {
                let node = *roots
                    .get(code)
                    .unwrap_or_else(|| panic!("unknown type {code}"));
                ElementType::Complex {
                    name: base_names[code],
                    node,
                }
            }
        };

        // Pass 2: the elements of each type, with a node for every element with children.
        for t in raw.iter().filter(|t| t.kind != "primitive") {
            let root = roots[t.name];
            let parents: HashSet<&str> = t
                .elements
                .iter()
                .filter_map(|e| e[0].rsplit_once('.').map(|(p, _)| p))
                .collect();
            let mut inline: HashMap<&str, NodeId> = HashMap::new();
            let mut content_refs: Vec<(NodeId, usize, &str)> = Vec::new();
            for e in &t.elements {
                let (path, min, max, array, summary, types, binding, content_ref) =
                    (e[0], e[1], e[2], e[3], e[4], e[5], e[6], e[7]);
                let (parent, name) = match path.rsplit_once('.') {
                    Some((parent, name)) => (inline[parent], name),
                    None => (root, path),
                };
                let mut types: Vec<ElementType> = types
                    .split(',')
                    .filter(|c| !c.is_empty())
                    .map(&resolve)
                    .collect();
                if parents.contains(path) {
                    let node = nodes.len() as NodeId;
                    nodes.push(Node::default());
                    inline.insert(path, node);
                    types = vec![ElementType::Backbone(node)];
                }
                let element = Element {
                    name: name.strip_suffix("[x]").unwrap_or(name),
                    choice: name.ends_with("[x]"),
                    min: min.parse().expect("min"),
                    max: if max == "*" {
                        u32::MAX
                    } else {
                        max.parse().expect("max")
                    },
                    array: array == "1",
                    summary: summary == "1",
                    types,
                    binding: (!binding.is_empty()).then(|| vs_index[binding]),
                };
                let parent_node = &mut nodes[parent as usize];
                if !content_ref.is_empty() {
                    content_refs.push((parent, parent_node.elements.len(), content_ref));
                }
                parent_node.elements.push(element);
            }
            for (node, index, target) in content_refs {
                let target = inline[target];
                nodes[node as usize].elements[index].types = vec![ElementType::Backbone(target)];
            }
        }

        for node in &mut nodes {
            node.index();
        }
        let mut resource_names: Vec<&'static str> = raw
            .iter()
            .filter(|t| t.kind == "resource")
            .map(|t| t.name)
            .collect();
        resource_names.sort_unstable();
        Definitions {
            resources: resource_names.iter().map(|n| (*n, roots[n])).collect(),
            resource_names,
            element_node: roots["Element"],
            nodes,
            value_sets,
        }
    }
}

impl Node {
    /// Fills the property table: one entry per JSON name, `valueQuantity`-style names for
    /// each type of a choice element (https://hl7.org/fhir/R4/formats.html#choice).
    fn index(&mut self) {
        assert!(
            self.elements.len() <= 128,
            "too many elements for the presence bitmask"
        );
        for (i, e) in self.elements.iter().enumerate() {
            let element = i as u8;
            if e.min >= 1 {
                self.required.push(element);
            }
            if !e.choice {
                self.props.insert(e.name.into(), Prop { element, ty: 0 });
                continue;
            }
            for (ty, t) in e.types.iter().enumerate() {
                let type_name = t.name();
                let mut name = String::with_capacity(e.name.len() + type_name.len());
                name.push_str(e.name);
                let mut chars = type_name.chars();
                if let Some(first) = chars.next() {
                    name.push(first.to_ascii_uppercase());
                    name.push_str(chars.as_str());
                }
                self.props.insert(
                    name.into_boxed_str(),
                    Prop {
                        element,
                        ty: ty as u8,
                    },
                );
            }
        }
    }

    pub(crate) fn prop(&self, json_name: &str) -> Option<Prop> {
        self.props.get(json_name).copied()
    }

    /// The element behind a JSON property name: `status`, `valueQuantity`, or `_status`,
    /// the sibling carrying the id and extensions of a primitive value
    /// (<https://hl7.org/fhir/R4/json.html#primitive>).
    pub(crate) fn element_by_json_name(&self, json_name: &str) -> Option<&Element> {
        let (underscore, name) = match json_name.strip_prefix('_') {
            Some(name) => (true, name),
            None => (false, json_name),
        };
        let prop = self.prop(name)?;
        let element = &self.elements[usize::from(prop.element)];
        let primitive = matches!(
            element.types.get(usize::from(prop.ty)),
            Some(ElementType::Primitive(_))
        );
        (!underscore || primitive).then_some(element)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_resolve_the_definitions() {
        let start = std::time::Instant::now();
        let defs = Definitions::parse(SOURCE);
        println!("definitions loaded in {:?}", start.elapsed());

        let questionnaire = defs.node(defs.resource("Questionnaire").unwrap());
        let item =
            &questionnaire.elements[usize::from(questionnaire.prop("item").unwrap().element)];
        let ElementType::Backbone(item_node) = item.types[0] else {
            panic!("item is a backbone")
        };
        let nested = defs.node(item_node);
        let nested = &nested.elements[usize::from(nested.prop("item").unwrap().element)];
        assert!(
            matches!(nested.types[0], ElementType::Backbone(n) if n == item_node),
            "contentReference"
        );

        let observation = defs.node(defs.resource("Observation").unwrap());
        let value = observation.prop("valueQuantity").unwrap();
        let element = &observation.elements[usize::from(value.element)];
        assert!(
            element.choice
                && element.name == "value"
                && element.types[usize::from(value.ty)].name() == "Quantity"
        );
        assert!(observation.prop("value").is_none() && observation.prop("valueFoo").is_none());
        let status =
            &observation.elements[usize::from(observation.prop("status").unwrap().element)];
        let vs = defs.value_set(status.binding.unwrap());
        assert!(vs.contains_code("final") && !vs.contains_code("bogus"));
    }
}
