//! Index extraction: the values each search parameter of a resource's type finds in the
//! resource, normalised for the store's indexes.
//! Spec: <https://hl7.org/fhir/R4/search.html#ptypes> (what each parameter type matches)
//! and <https://hl7.org/fhir/R4/searchparameter.html> (expressions).
//!
//! Everything that can be decided once is decided in [`Indexer::new`]: each expression is
//! split per resource type, plain paths are prepared for a direct walk over the JSON (see
//! `path.rs`), the rest is compiled for the FHIRPath engine, and every parameter learns
//! which top-level elements it reads, so a resource only pays for the parameters whose
//! elements it has. Two gaps of the engine are closed here:
//! - `X.where(resolve() is T)` (resolve() finds nothing without a server): read as `X`,
//!   keeping the references whose type is `T`;
//! - `Resource.x` on a concrete type yields nothing: read as `Type.x`.

mod convert;
mod path;

use std::collections::{HashMap, HashSet};

use fhirpath::{Compiled, ElementType, Engine, Prepared};
use serde_json::Value;

use crate::registry::{split_union, ParamType, Registry, SearchParam};
use crate::value::{IndexEntry, IndexValue};
use convert::{push_values, Context};
use path::Path;

/// The error type of this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The FHIRPath engine could not start.
    #[error("the FHIRPath engine could not start: {0}")]
    Engine(#[source] fhirpath::Error),
    /// A search parameter's expression does not compile.
    #[error("search parameter {resource_type}.{code}: {source}")]
    Expression {
        resource_type: String,
        code: String,
        #[source]
        source: fhirpath::Error,
    },
    /// A search parameter's expression failed on a resource (the parameter is then
    /// not indexed for that resource).
    #[error("search parameter {resource_type}.{code} failed on this resource: {source}")]
    Evaluation {
        resource_type: String,
        code: String,
        #[source]
        source: fhirpath::Error,
    },
}

/// How plain paths are evaluated: walked directly, or (to check the walk) by the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Walk {
    Native,
    #[cfg_attr(not(test), allow(dead_code))]
    Engine,
}

/// Extracts index entries from resources. Build once; `Send + Sync`.
pub struct Indexer {
    engine: Engine,
    plans: HashMap<String, TypePlan>,
    resource_types: HashSet<String>,
}

/// The parameters of one resource type, ready to run.
struct TypePlan {
    params: Vec<ParamPlan>,
    /// Top-level element key -> the parameters that read it.
    by_key: HashMap<String, Vec<usize>>,
    /// Parameters that may find values whatever the resource holds.
    always: Vec<usize>,
}

struct ParamPlan {
    code: String,
    kind: ParamType,
    groups: Vec<Group>,
    composite: Option<Composite>,
    /// `P.exists() and P != false`: a boolean token, true when the path holds anything
    /// but `false` (Patient `deceased`: deceasedBoolean true or a deceasedDateTime).
    flag: Option<Path>,
}

/// Union members sharing a reference-type filter.
struct Group {
    /// `Some(T)` for members written `X.where(resolve() is T)`.
    only: Option<String>,
    native: Vec<Path>,
    engine: Option<Compiled>,
}

enum Composite {
    /// Focus paths, each with its components' paths (a union per component) relative
    /// to the focus.
    Native {
        parts: Vec<(Path, Vec<Vec<Path>>)>,
        kinds: Vec<ParamType>,
    },
    Engine {
        focus: Compiled,
        parts: Vec<Compiled>,
        kinds: Vec<ParamType>,
    },
}

impl Indexer {
    /// Prepare every search parameter of `registry` (compiling each expression once).
    pub fn new(registry: &'static Registry) -> Result<Indexer, Error> {
        Indexer::build(registry, Walk::Native)
    }

    fn build(registry: &'static Registry, walk: Walk) -> Result<Indexer, Error> {
        let engine = Engine::r4().map_err(Error::Engine)?;
        let resource_types: HashSet<String> =
            registry.resource_types().map(str::to_owned).collect();
        let mut plans = HashMap::new();
        for rtype in registry.resource_types() {
            let mut params = Vec::new();
            let mut keys: Vec<Option<Vec<String>>> = Vec::new();
            for param in registry.params_for(rtype) {
                if let Some((plan, needs)) = plan_param(&engine, param, walk)? {
                    params.push(plan);
                    keys.push(needs);
                }
            }
            let mut by_key: HashMap<String, Vec<usize>> = HashMap::new();
            let mut always = Vec::new();
            for (i, needs) in keys.into_iter().enumerate() {
                match needs {
                    Some(needs) => {
                        for key in needs {
                            let list = by_key.entry(key).or_default();
                            if list.last() != Some(&i) {
                                list.push(i);
                            }
                        }
                    }
                    None => always.push(i),
                }
            }
            plans.insert(
                rtype.to_owned(),
                TypePlan {
                    params,
                    by_key,
                    always,
                },
            );
        }
        Ok(Indexer {
            engine,
            plans,
            resource_types,
        })
    }

    /// The index entries of `resource`, grouped by parameter (in code order). Values a
    /// parameter finds twice are indexed once; parameters whose expression fails on this
    /// resource are skipped (see [`Indexer::extract_with_errors`]).
    pub fn extract(&self, resource: &Value) -> Vec<IndexEntry> {
        self.run(resource, None)
    }

    /// Like [`Indexer::extract`], also returning the parameters that failed.
    pub fn extract_with_errors(&self, resource: &Value) -> (Vec<IndexEntry>, Vec<Error>) {
        let mut errors = Vec::new();
        let entries = self.run(resource, Some(&mut errors));
        (entries, errors)
    }

    fn run(&self, resource: &Value, mut errors: Option<&mut Vec<Error>>) -> Vec<IndexEntry> {
        let mut entries = Vec::new();
        let Some(rtype) = resource.get("resourceType").and_then(Value::as_str) else {
            return entries;
        };
        let (Some(plan), Some(object)) = (self.plans.get(rtype), resource.as_object()) else {
            return entries;
        };
        let mut active = vec![false; plan.params.len()];
        for &i in &plan.always {
            active[i] = true;
        }
        for key in object.keys() {
            for &i in plan.by_key.get(key).map(Vec::as_slice).unwrap_or(&[]) {
                active[i] = true;
            }
        }
        let mut run = Run {
            indexer: self,
            resource,
            rtype,
            prepared: None,
        };
        let mut values = Vec::new();
        for (param, _) in plan.params.iter().zip(&active).filter(|(_, on)| **on) {
            values.clear();
            if let Err(source) = run.param(param, &mut values) {
                if let Some(errors) = errors.as_deref_mut() {
                    errors.push(Error::Evaluation {
                        resource_type: rtype.to_owned(),
                        code: param.code.clone(),
                        source,
                    });
                }
                continue;
            }
            for (i, value) in values.iter().enumerate() {
                if !values[..i].contains(value) {
                    entries.push(IndexEntry {
                        param: param.code.clone(),
                        value: value.clone(),
                    });
                }
            }
        }
        entries
    }
}

/// The extraction of one resource.
struct Run<'a> {
    indexer: &'a Indexer,
    resource: &'a Value,
    rtype: &'a str,
    /// The resource converted for the engine, on first need.
    prepared: Option<Prepared>,
}

impl<'a> Run<'a> {
    fn prepared(&mut self) -> &Prepared {
        self.prepared
            .get_or_insert_with(|| self.indexer.engine.prepare(self.resource))
    }

    fn param(
        &mut self,
        param: &'a ParamPlan,
        out: &mut Vec<IndexValue>,
    ) -> Result<(), fhirpath::Error> {
        if let Some(composite) = &param.composite {
            return self.composite(composite, out);
        }
        let mut found = Vec::new();
        if let Some(flag) = &param.flag {
            flag.walk(self.resource, self.rtype, &mut found);
            let set = found.iter().any(|(v, _)| **v != Value::Bool(false));
            out.push(IndexValue::Token {
                system: None,
                code: Some(set.to_string()),
                text: None,
            });
        }
        for group in &param.groups {
            let cx = Context {
                resource_types: &self.indexer.resource_types,
                only: group.only.as_deref(),
            };
            for path in &group.native {
                found.clear();
                path.walk(self.resource, self.rtype, &mut found);
                for (value, ty) in &found {
                    push_values(param.kind, value, Some(ty), &cx, out);
                }
            }
            if let Some(expr) = &group.engine {
                let engine = &self.indexer.engine;
                let items = engine.evaluate_prepared(expr, self.prepared())?;
                for item in &items {
                    push_values(param.kind, &item.value, item.type_name.as_deref(), &cx, out);
                }
            }
        }
        Ok(())
    }

    fn composite(
        &mut self,
        composite: &'a Composite,
        out: &mut Vec<IndexValue>,
    ) -> Result<(), fhirpath::Error> {
        let cx = Context {
            resource_types: &self.indexer.resource_types,
            only: None,
        };
        match composite {
            Composite::Native { parts, kinds } => {
                let mut focus = Vec::new();
                for (focus_path, components) in parts {
                    focus.clear();
                    focus_path.walk(self.resource, self.rtype, &mut focus);
                    for &(item, ty) in &focus {
                        let mut columns = Vec::with_capacity(components.len());
                        for (component, kind) in components.iter().zip(kinds) {
                            let mut found = Vec::new();
                            for member in component {
                                member.walk(item, ty, &mut found);
                            }
                            let mut values = Vec::new();
                            for (value, ty) in found {
                                push_values(*kind, value, Some(ty), &cx, &mut values);
                            }
                            columns.push(values);
                        }
                        cross_product(&columns, out);
                    }
                }
            }
            Composite::Engine {
                focus,
                parts,
                kinds,
            } => {
                let engine = &self.indexer.engine;
                let rows = engine.evaluate_for_each(focus, parts, self.prepared())?;
                for row in rows {
                    let columns: Vec<Vec<IndexValue>> = row
                        .iter()
                        .zip(kinds)
                        .map(|(items, kind)| {
                            let mut values = Vec::new();
                            for item in items {
                                push_values(
                                    *kind,
                                    &item.value,
                                    item.type_name.as_deref(),
                                    &cx,
                                    &mut values,
                                );
                            }
                            values
                        })
                        .collect();
                    cross_product(&columns, out);
                }
            }
        }
        Ok(())
    }
}

/// One composite value per combination of the components' values.
fn cross_product(columns: &[Vec<IndexValue>], out: &mut Vec<IndexValue>) {
    if columns.is_empty() || columns.iter().any(Vec::is_empty) {
        return;
    }
    let mut index = vec![0usize; columns.len()];
    loop {
        out.push(IndexValue::Composite(
            index
                .iter()
                .zip(columns)
                .map(|(&i, column)| column[i].clone())
                .collect(),
        ));
        // Advance like an odometer.
        let mut pos = columns.len();
        loop {
            if pos == 0 {
                return;
            }
            pos -= 1;
            index[pos] += 1;
            if index[pos] < columns[pos].len() {
                break;
            }
            index[pos] = 0;
        }
    }
}

/// A parameter's plan and the top-level keys it reads (`None`: any resource).
type Planned = (ParamPlan, Option<Vec<String>>);

/// The plan of one parameter and the top-level keys it reads (`None`: any resource).
/// `Ok(None)` for parameters that index nothing (no expression, or `special`).
fn plan_param(engine: &Engine, param: &SearchParam, walk: Walk) -> Result<Option<Planned>, Error> {
    let Some(expression) = param.expression.as_deref() else {
        return Ok(None);
    };
    if param.kind == ParamType::Special {
        return Ok(None);
    }
    let rtype = param.resource_type.as_str();
    let compile = |expr: &str| {
        engine.compile(expr).map_err(|source| Error::Expression {
            resource_type: rtype.to_owned(),
            code: param.code.clone(),
            source,
        })
    };
    let members: Vec<String> = split_union(expression)
        .into_iter()
        .map(|m| rebase(m, rtype))
        .collect();
    let mut keys: Option<Vec<String>> = Some(Vec::new());
    for member in &members {
        // A composite over the resource itself needs its last component's element
        // (`value[x]` for Observation's code-value-* parameters).
        let needs = match param.components.last() {
            Some(last) if path::strip_parens(member) == rtype => split_union(&last.expression)
                .into_iter()
                .map(|m| member_keys(engine, m, rtype))
                .collect::<Option<Vec<Vec<String>>>>()
                .map(|all| all.concat()),
            _ => member_keys(engine, member, rtype),
        };
        match (needs, keys.as_mut()) {
            (Some(found), Some(all)) => all.extend(found),
            _ => keys = None,
        }
    }
    if let Some(all) = &keys {
        if all.is_empty() {
            keys = None;
        }
    }
    let mut plan = ParamPlan {
        code: param.code.clone(),
        kind: param.kind,
        groups: Vec::new(),
        composite: None,
        flag: None,
    };
    if param.kind == ParamType::Composite {
        let kinds: Vec<ParamType> = param.components.iter().map(|c| c.kind).collect();
        let native: Option<Vec<(Path, Vec<Vec<Path>>)>> = (walk == Walk::Native)
            .then(|| {
                members
                    .iter()
                    .map(|member| {
                        let focus = Path::parse(engine, member, rtype, true)?;
                        let focus_type = end_type(&focus, rtype)?;
                        let components = param
                            .components
                            .iter()
                            .map(|c| {
                                split_union(&c.expression)
                                    .into_iter()
                                    .map(|m| Path::parse(engine, m, &focus_type, false))
                                    .collect::<Option<Vec<Path>>>()
                            })
                            .collect::<Option<Vec<Vec<Path>>>>()?;
                        Some((focus, components))
                    })
                    .collect()
            })
            .flatten();
        plan.composite = Some(match native {
            Some(parts) => Composite::Native { parts, kinds },
            None => Composite::Engine {
                focus: compile(expression)?,
                parts: param
                    .components
                    .iter()
                    .map(|c| compile(&c.expression))
                    .collect::<Result<_, _>>()?,
                kinds,
            },
        });
        return Ok(Some((plan, keys)));
    }
    if walk == Walk::Native && members.len() == 1 {
        if let Some(flag) =
            present_and_not_false(&members[0]).and_then(|p| Path::parse(engine, p, rtype, true))
        {
            plan.flag = Some(flag);
            return Ok(Some((plan, keys)));
        }
    }
    let mut groups: Vec<(Option<String>, Vec<Path>, Vec<String>)> = Vec::new();
    for member in &members {
        let (member, only) = match split_resolve(member) {
            Some((path, only)) => (path, Some(only.to_owned())),
            None => (member.as_str(), None),
        };
        let index = match groups.iter().position(|(o, _, _)| *o == only) {
            Some(i) => i,
            None => {
                groups.push((only, Vec::new(), Vec::new()));
                groups.len() - 1
            }
        };
        match Path::parse(engine, member, rtype, true).filter(|_| walk == Walk::Native) {
            Some(path) => groups[index].1.push(path),
            None => groups[index].2.push(member.to_owned()),
        }
    }
    for (only, native, rest) in groups {
        let engine = if rest.is_empty() {
            None
        } else {
            Some(compile(&rest.join(" | "))?)
        };
        plan.groups.push(Group {
            only,
            native,
            engine,
        });
    }
    Ok(Some((plan, keys)))
}

/// `Resource.x` / `DomainResource.x` as `Type.x` (the engine finds nothing otherwise).
fn rebase(member: &str, rtype: &str) -> String {
    let open = member.len() - member.trim_start_matches(['(', ' ']).len();
    for base in ["Resource.", "DomainResource."] {
        if member[open..].starts_with(base) {
            return format!(
                "{}{rtype}.{}",
                &member[..open],
                &member[open + base.len()..]
            );
        }
    }
    member.to_owned()
}

/// `P` of `P.exists() and P != false`.
fn present_and_not_false(member: &str) -> Option<&str> {
    let (left, right) = member.split_once(" and ")?;
    let path = left.trim().strip_suffix(".exists()")?;
    (right.trim().strip_suffix("!= false")?.trim() == path).then_some(path)
}

/// `X.where(resolve() is T)` as `(X, T)`.
fn split_resolve(member: &str) -> Option<(&str, &str)> {
    let body = member.strip_suffix(')')?;
    let (path, rtype) = body.rsplit_once(".where(resolve() is ")?;
    rtype
        .chars()
        .all(|c| c.is_ascii_alphanumeric())
        .then_some((path, rtype))
}

/// The type a path ends on, when single.
fn end_type(path: &Path, focus: &str) -> Option<String> {
    match path
        .steps
        .iter()
        .rev()
        .find(|s| !matches!(s, path::Step::WhereEq { .. }))
    {
        None => Some(focus.to_owned()),
        Some(path::Step::Child { ty, .. }) => Some(ty.clone()),
        Some(path::Step::Choice { keys }) if keys.len() == 1 => Some(keys[0].1.clone()),
        _ => None,
    }
}

/// The top-level keys one union member reads: its first element after the type name,
/// provided nothing in the member can produce a value from an absent element (as
/// `exists()`, `empty()` or a comparison would). `None` when that cannot be told.
fn member_keys(engine: &Engine, member: &str, rtype: &str) -> Option<Vec<String>> {
    let member = split_resolve(member).map_or(member, |(p, _)| p);
    let first = path::first_element(member, rtype)?;
    match engine.element_type(rtype, &first) {
        Some(ElementType::Choice(types)) => {
            Some(types.iter().map(|t| path::choice_key(&first, t)).collect())
        }
        // An element R4 does not define can still only be found under its own key.
        Some(ElementType::Single(_)) | None => Some(vec![first]),
    }
}

#[cfg(test)]
mod tests;
