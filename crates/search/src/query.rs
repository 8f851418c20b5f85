//! The parsed form of a search request: <https://hl7.org/fhir/R4/search.html>.
//!
//! [`SearchQuery::parse`] turns the query parameters of `GET [type]?...` (or the form body
//! of `POST [type]/_search`) into filters typed by the official search parameter
//! definitions, so the store compiles them to SQL without knowing FHIR's syntax. Errors name
//! the parameter at fault; they become an OperationOutcome at the HTTP edge.
//!
//! The work one request can ask for is bounded: [`MAX_PARAMS`] parameters, [`MAX_OR_VALUES`]
//! values in one parameter, [`MAX_SORT_KEYS`] sort keys, [`MAX_INCLUDES`] includes, chains
//! and `_has` nested at most four deep. Past a bound the request is refused
//! ([`QueryError::InvalidValue`] naming the parameter), not cut short.

use crate::normalize::date_range;
use crate::registry::{ParamType, Registry, SearchParam};

/// Why a search request cannot be run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("unknown search parameter '{param}' for {resource_type}")]
    UnknownParameter {
        resource_type: String,
        param: String,
    },
    #[error("modifier ':{modifier}' is not supported for parameter '{param}'")]
    UnsupportedModifier { param: String, modifier: String },
    #[error("invalid value '{value}' for parameter '{param}': {reason}")]
    InvalidValue {
        param: String,
        value: String,
        reason: String,
    },
    #[error("parameter '{param}' is not supported: {reason}")]
    Unsupported { param: String, reason: String },
}

/// A comparison prefix for ordered types (<https://hl7.org/fhir/R4/search.html#prefix>).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prefix {
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    Sa,
    Eb,
    Ap,
}

impl Prefix {
    fn split(value: &str) -> (Prefix, &str) {
        let table = [
            ("eq", Prefix::Eq),
            ("ne", Prefix::Ne),
            ("gt", Prefix::Gt),
            ("lt", Prefix::Lt),
            ("ge", Prefix::Ge),
            ("le", Prefix::Le),
            ("sa", Prefix::Sa),
            ("eb", Prefix::Eb),
            ("ap", Prefix::Ap),
        ];
        for (text, p) in table {
            if let Some(rest) = value.strip_prefix(text) {
                if rest.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '.') {
                    return (p, rest);
                }
            }
        }
        (Prefix::Eq, value)
    }
}

/// A search modifier (<https://hl7.org/fhir/R4/search.html#modifiers>).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Modifier {
    Exact,
    Contains,
    Missing,
    Not,
    Text,
    Identifier,
    Below,
    Above,
    /// `:[type]` on a reference parameter.
    Type(String),
}

/// One value to match, typed by the parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// string / `:text`: the text as given.
    String(String),
    /// token: `system` None = any system; Some(None) = `|code` (no system).
    Token {
        system: Option<Option<String>>,
        code: Option<String>,
    },
    /// date: prefix and the inclusive range in ms the given value covers.
    Date {
        prefix: Prefix,
        lo: i64,
        hi: i64,
    },
    /// number: prefix, value, and the implicit range of its precision.
    Number {
        prefix: Prefix,
        value: f64,
        lo: f64,
        hi: f64,
    },
    /// quantity: as number plus optional system and code/unit.
    Quantity {
        prefix: Prefix,
        value: f64,
        lo: f64,
        hi: f64,
        system: Option<String>,
        code: Option<String>,
    },
    /// reference: local `Type/id` (type may be unknown), or an absolute/canonical url.
    Reference {
        rtype: Option<String>,
        id: Option<String>,
        url: Option<String>,
    },
    /// `:identifier` on a reference.
    Identifier {
        system: Option<String>,
        value: String,
    },
    Uri(String),
    /// `:missing=true|false`.
    Missing(bool),
    /// composite: one value per component.
    Composite(Vec<Value>),
}

/// A condition on the resources of one type. A query's filters are ANDed; the values
/// inside one filter are ORed.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// A parameter with its (ORed) values.
    Param {
        param: SearchParam,
        modifier: Option<Modifier>,
        values: Vec<Value>,
    },
    /// `_id`.
    Id(Vec<String>),
    /// `_lastUpdated`, matched against the stored version's time.
    LastUpdated(Vec<Value>),
    /// Chaining: `subject:Patient.name=x`: the reference param points at a resource, of
    /// one of the listed types, that matches the inner filter (built per target type).
    Chain {
        param: SearchParam,
        targets: Vec<(String, Box<Filter>)>,
    },
    /// Reverse chaining: `_has:Observation:patient:code=x`: some resource of `source_type`
    /// whose `param` references this resource matches `inner`.
    Has {
        source_type: String,
        param: SearchParam,
        inner: Box<Filter>,
    },
    /// Compartment search (`GET Patient/ID/Observation`,
    /// <https://hl7.org/fhir/R4/compartmentdefinition.html#search>): resources in the Patient
    /// compartment of the patient with this id, as the official CompartmentDefinition places
    /// them. Not a URL parameter: the path sets it ([`SearchQuery::in_patient_compartment`]).
    PatientCompartment(String),
}

/// A sort key (<https://hl7.org/fhir/R4/search.html#sort>).
#[derive(Debug, Clone, PartialEq)]
pub struct Sort {
    pub key: SortKey,
    pub descending: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SortKey {
    Id,
    LastUpdated,
    Param(SearchParam),
}

/// `_include` / `_revinclude` (<https://hl7.org/fhir/R4/search.html#include>).
#[derive(Debug, Clone, PartialEq)]
pub struct Include {
    /// The type that has the reference parameter.
    pub source_type: String,
    /// The reference parameter's code, or None for `*`.
    pub param: Option<String>,
    /// Restrict to targets of this type.
    pub target_type: Option<String>,
    pub iterate: bool,
}

/// `_summary` (<https://hl7.org/fhir/R4/search.html#summary>).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Summary {
    True,
    Text,
    Data,
    Count,
    False,
}

/// `_total` (<https://hl7.org/fhir/R4/search.html#total>).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Total {
    /// Not asked: the store reports a total only when it costs nothing.
    #[default]
    Unspecified,
    None,
    Estimate,
    Accurate,
}

/// A whole search request.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchQuery {
    pub resource_type: String,
    pub filters: Vec<Filter>,
    pub sort: Vec<Sort>,
    /// Page size (`_count`), already capped at [`MAX_COUNT`].
    pub count: usize,
    /// Where this page starts (`_offset`, carried by next/prev links).
    pub offset: usize,
    pub include: Vec<Include>,
    pub revinclude: Vec<Include>,
    pub summary: Option<Summary>,
    pub elements: Vec<String>,
    pub total: Total,
    /// The parameters as understood, for the Bundle's `self` link (result-parameter
    /// and paging parameters excluded).
    pub canonical_params: Vec<(String, String)>,
}

/// Default page size.
pub const DEFAULT_COUNT: usize = 20;
/// Largest page a client may ask for.
pub const MAX_COUNT: usize = 1000;

/// Most parameters (`name=value` pairs, result parameters included) one search may have.
/// Each selection parameter is one more `EXISTS` probe or join in the single SELECT a search
/// compiles to; clinical searches use a handful, and 50 leaves room for generated queries
/// while keeping the plan (and the time to find it) small.
pub const MAX_PARAMS: usize = 50;
/// Most comma-separated (ORed) values one parameter may carry. Each value is one more term
/// of an `OR` in the SQL, which SQLite parses into a tree as deep as the list and refuses
/// past 1,000 levels (a 500-value list failed with a server error); 100 covers the long lists
/// clients do send (a page of ids, the codes of a small value set) with room to spare.
pub const MAX_OR_VALUES: usize = 100;
/// Most `_sort` keys, over all `_sort` parameters of a search. Every key is an ORDER BY term
/// over an index aggregate evaluated for every match; a thousand keys kept one query busy
/// for minutes. Clients sort by one to three keys; 8 is generous.
pub const MAX_SORT_KEYS: usize = 8;
/// Most `_include` and `_revinclude` values, together, in one search. Each is a further
/// query per page (`:iterate` ones repeat until nothing new is found); 10 covers a page
/// with its patients, encounters, performers and provenance several times over.
pub const MAX_INCLUDES: usize = 10;

/// Parameters that control the result rather than select resources: accepted and ignored
/// where Tend has nothing to do for them.
const IGNORED: &[&str] = &["_format", "_pretty"];

impl SearchQuery {
    /// The same search within the Patient compartment of patient `id` (compartment search).
    /// The compartment comes first: it is the most selective filter there is.
    pub fn in_patient_compartment(mut self, id: &str) -> SearchQuery {
        self.filters
            .insert(0, Filter::PatientCompartment(id.to_string()));
        self
    }

    /// Parse the query parameters of a search on `resource_type`.
    pub fn parse(
        registry: &Registry,
        resource_type: &str,
        params: &[(String, String)],
    ) -> Result<SearchQuery, QueryError> {
        let mut q = SearchQuery {
            resource_type: resource_type.to_string(),
            filters: Vec::new(),
            sort: Vec::new(),
            count: DEFAULT_COUNT,
            offset: 0,
            include: Vec::new(),
            revinclude: Vec::new(),
            summary: None,
            elements: Vec::new(),
            total: Total::Unspecified,
            canonical_params: Vec::new(),
        };
        if let Some((name, value)) = params.get(MAX_PARAMS) {
            return Err(too_many(
                name,
                value,
                &format!("a search takes at most {MAX_PARAMS} parameters"),
            ));
        }
        for (name, value) in params {
            let name = name.as_str();
            match name {
                "_count" => {
                    let n: usize = value
                        .parse()
                        .map_err(|_| invalid(name, value, "expected a non-negative integer"))?;
                    q.count = n.min(MAX_COUNT);
                    continue;
                }
                "_offset" => {
                    q.offset = value
                        .parse()
                        .map_err(|_| invalid(name, value, "expected a non-negative integer"))?;
                    continue;
                }
                "_sort" => {
                    let keys = value.split(',').filter(|k| !k.is_empty()).count();
                    if q.sort.len() + keys > MAX_SORT_KEYS {
                        return Err(too_many(
                            name,
                            value,
                            &format!("a search sorts by at most {MAX_SORT_KEYS} keys"),
                        ));
                    }
                    for key in value.split(',').filter(|k| !k.is_empty()) {
                        let (descending, code) = match key.strip_prefix('-') {
                            Some(c) => (true, c),
                            None => (false, key),
                        };
                        let key = match code {
                            "_id" => SortKey::Id,
                            "_lastUpdated" => SortKey::LastUpdated,
                            _ => {
                                let p = lookup(registry, resource_type, code)?;
                                if matches!(p.kind, ParamType::Composite | ParamType::Special) {
                                    return Err(QueryError::Unsupported {
                                        param: "_sort".into(),
                                        reason: format!(
                                            "cannot sort by {} parameter '{code}'",
                                            kind_name(p.kind)
                                        ),
                                    });
                                }
                                SortKey::Param(p.clone())
                            }
                        };
                        q.sort.push(Sort { key, descending });
                    }
                    q.canonical_params.push((name.to_string(), value.clone()));
                    continue;
                }
                "_include"
                | "_include:iterate"
                | "_include:recurse"
                | "_revinclude"
                | "_revinclude:iterate"
                | "_revinclude:recurse" => {
                    if q.include.len() + q.revinclude.len() >= MAX_INCLUDES {
                        return Err(too_many(
                            name,
                            value,
                            &format!(
                                "a search takes at most {MAX_INCLUDES} _include and _revinclude values"
                            ),
                        ));
                    }
                    let iterate = name.contains(':');
                    let inc = parse_include(registry, name, value, iterate)?;
                    if name.starts_with("_include") {
                        q.include.push(inc);
                    } else {
                        q.revinclude.push(inc);
                    }
                    q.canonical_params.push((name.to_string(), value.clone()));
                    continue;
                }
                "_summary" => {
                    q.summary = Some(match value.as_str() {
                        "true" => Summary::True,
                        "text" => Summary::Text,
                        "data" => Summary::Data,
                        "count" => Summary::Count,
                        "false" => Summary::False,
                        _ => {
                            return Err(invalid(
                                name,
                                value,
                                "expected true, text, data, count or false",
                            ))
                        }
                    });
                    q.canonical_params.push((name.to_string(), value.clone()));
                    continue;
                }
                "_elements" => {
                    check_or_count(name, value, value.split(',').count())?;
                    q.elements.extend(
                        value
                            .split(',')
                            .map(str::trim)
                            .filter(|e| !e.is_empty())
                            .map(String::from),
                    );
                    q.canonical_params.push((name.to_string(), value.clone()));
                    continue;
                }
                "_total" => {
                    q.total = match value.as_str() {
                        "none" => Total::None,
                        "estimate" => Total::Estimate,
                        "accurate" => Total::Accurate,
                        _ => {
                            return Err(invalid(name, value, "expected none, estimate or accurate"))
                        }
                    };
                    q.canonical_params.push((name.to_string(), value.clone()));
                    continue;
                }
                _ if IGNORED.contains(&name) => continue,
                _ => {}
            }
            let filter = parse_filter(registry, resource_type, name, value)?;
            q.filters.push(filter);
            q.canonical_params.push((name.to_string(), value.clone()));
        }
        Ok(q)
    }
}

fn invalid(param: &str, value: &str, reason: &str) -> QueryError {
    QueryError::InvalidValue {
        param: param.to_string(),
        value: value.to_string(),
        reason: reason.to_string(),
    }
}

/// A limit exceeded: the value is shortened, since it is long by nature.
fn too_many(param: &str, value: &str, reason: &str) -> QueryError {
    const SHOWN: usize = 60;
    let mut shown: String = value.chars().take(SHOWN).collect();
    if shown.len() < value.len() {
        shown.push('…');
    }
    QueryError::InvalidValue {
        param: param.chars().take(80).collect(),
        value: shown,
        reason: reason.to_string(),
    }
}

/// Refuse more than [`MAX_OR_VALUES`] values in one parameter.
fn check_or_count(param: &str, value: &str, count: usize) -> Result<(), QueryError> {
    if count > MAX_OR_VALUES {
        return Err(too_many(
            param,
            value,
            &format!("a parameter takes at most {MAX_OR_VALUES} comma-separated values"),
        ));
    }
    Ok(())
}

fn kind_name(kind: ParamType) -> &'static str {
    match kind {
        ParamType::Number => "number",
        ParamType::Date => "date",
        ParamType::String => "string",
        ParamType::Token => "token",
        ParamType::Reference => "reference",
        ParamType::Composite => "composite",
        ParamType::Quantity => "quantity",
        ParamType::Uri => "uri",
        ParamType::Special => "special",
    }
}

fn lookup<'r>(
    registry: &'r Registry,
    resource_type: &str,
    code: &str,
) -> Result<&'r SearchParam, QueryError> {
    registry
        .get(resource_type, code)
        .ok_or_else(|| QueryError::UnknownParameter {
            resource_type: resource_type.to_string(),
            param: code.to_string(),
        })
}

fn parse_include(
    registry: &Registry,
    name: &str,
    value: &str,
    iterate: bool,
) -> Result<Include, QueryError> {
    let parts: Vec<&str> = value.split(':').collect();
    let bad = || {
        invalid(
            name,
            value,
            "expected [type]:[parameter] or [type]:[parameter]:[target type] or *",
        )
    };
    if value == "*" {
        return Err(QueryError::Unsupported {
            param: name.into(),
            reason: "wildcard includes are not supported".into(),
        });
    }
    if parts.len() < 2 || parts.len() > 3 {
        return Err(bad());
    }
    let source_type = parts[0].to_string();
    if registry.params_for(&source_type).is_empty() {
        return Err(invalid(name, value, "unknown resource type"));
    }
    let param = if parts[1] == "*" {
        None
    } else {
        let p = lookup(registry, &source_type, parts[1])?;
        if p.kind != ParamType::Reference {
            return Err(invalid(name, value, "not a reference parameter"));
        }
        Some(p.code.clone())
    };
    let target_type = parts.get(2).map(|s| s.to_string());
    Ok(Include {
        source_type,
        param,
        target_type,
        iterate,
    })
}

/// Parse one `name=value` selection parameter of `resource_type`.
fn parse_filter(
    registry: &Registry,
    resource_type: &str,
    name: &str,
    value: &str,
) -> Result<Filter, QueryError> {
    // The value is the same at every level of a chain: count its values once, naming the
    // whole parameter.
    check_or_count(name, value, split_or(value).len())?;
    parse_filter_at(registry, resource_type, name, value, 0)
}

/// Chains and `_has` nest at most this deep (bounds the work a request can ask for).
const MAX_DEPTH: usize = 4;

fn parse_filter_at(
    registry: &Registry,
    resource_type: &str,
    name: &str,
    value: &str,
    depth: usize,
) -> Result<Filter, QueryError> {
    if depth > MAX_DEPTH {
        return Err(QueryError::Unsupported {
            param: name.chars().take(80).collect(),
            reason: format!("chains and _has nest at most {MAX_DEPTH} deep"),
        });
    }
    if let Some(rest) = name.strip_prefix("_has:") {
        // _has:[source type]:[reference param]:[param of source]
        let mut parts = rest.splitn(3, ':');
        let (Some(source_type), Some(ref_code), Some(inner_name)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid(
                name,
                value,
                "expected _has:[type]:[reference parameter]:[parameter]",
            ));
        };
        let param = lookup(registry, source_type, ref_code)?.clone();
        if param.kind != ParamType::Reference {
            return Err(invalid(
                name,
                value,
                "the middle part of _has must be a reference parameter",
            ));
        }
        let inner = parse_filter_at(registry, source_type, inner_name, value, depth + 1)?;
        return Ok(Filter::Has {
            source_type: source_type.to_string(),
            param,
            inner: Box::new(inner),
        });
    }
    // Chain: the part before the first '.' is a reference parameter (with optional :Type).
    if let Some((head, tail)) = name.split_once('.') {
        let (code, type_mod) = match head.split_once(':') {
            Some((c, t)) => (c, Some(t)),
            None => (head, None),
        };
        let param = lookup(registry, resource_type, code)?.clone();
        if param.kind != ParamType::Reference {
            return Err(invalid(name, value, "chaining needs a reference parameter"));
        }
        let candidates: Vec<String> = match type_mod {
            Some(t) => vec![t.to_string()],
            None => param.targets.clone(),
        };
        let inner_code = tail.split(['.', ':']).next().unwrap_or(tail);
        let mut targets = Vec::new();
        for t in candidates {
            if t != "Resource" && registry.get(&t, inner_code).is_some() {
                targets.push((
                    t.clone(),
                    Box::new(parse_filter_at(registry, &t, tail, value, depth + 1)?),
                ));
            }
        }
        if targets.is_empty() {
            return Err(QueryError::UnknownParameter {
                resource_type: format!("the targets of {resource_type}.{code}"),
                param: inner_code.to_string(),
            });
        }
        return Ok(Filter::Chain { param, targets });
    }
    let (code, modifier_text) = match name.split_once(':') {
        Some((c, m)) => (c, Some(m)),
        None => (name, None),
    };
    if code == "_id" {
        if modifier_text.is_some() {
            return Err(QueryError::UnsupportedModifier {
                param: code.into(),
                modifier: modifier_text.unwrap_or("").into(),
            });
        }
        check_or_count(name, value, value.split(',').count())?;
        return Ok(Filter::Id(value.split(',').map(String::from).collect()));
    }
    if code == "_lastUpdated" {
        let values = split_or(value)
            .iter()
            .map(|v| parse_date(code, v))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(Filter::LastUpdated(values));
    }
    let param = lookup(registry, resource_type, code)?.clone();
    if param.expression.is_none() || param.kind == ParamType::Special {
        return Err(QueryError::Unsupported {
            param: code.into(),
            reason: "it has no FHIRPath expression to index".into(),
        });
    }
    if param.kind == ParamType::Composite && param.components.len() != 2 {
        return Err(QueryError::Unsupported {
            param: code.into(),
            reason: "only composite parameters of two components are indexed".into(),
        });
    }
    let modifier = match modifier_text {
        None => None,
        Some(m) => Some(parse_modifier(registry, &param, m)?),
    };
    if modifier == Some(Modifier::Missing) {
        let v = match value {
            "true" => true,
            "false" => false,
            _ => return Err(invalid(name, value, "expected true or false")),
        };
        return Ok(Filter::Param {
            param,
            modifier,
            values: vec![Value::Missing(v)],
        });
    }
    let mut values = Vec::new();
    for v in split_or(value) {
        values.push(parse_value(&param, modifier.as_ref(), name, &v)?);
    }
    Ok(Filter::Param {
        param,
        modifier,
        values,
    })
}

fn parse_modifier(
    registry: &Registry,
    param: &SearchParam,
    m: &str,
) -> Result<Modifier, QueryError> {
    use ParamType::*;
    let modifier = match m {
        "missing" => Modifier::Missing,
        "exact" if param.kind == String => Modifier::Exact,
        "contains" if matches!(param.kind, String | Uri) => Modifier::Contains,
        "not" if param.kind == Token => Modifier::Not,
        "text" if param.kind == Token => Modifier::Text,
        "identifier" if param.kind == Reference => Modifier::Identifier,
        "below" if param.kind == Uri => Modifier::Below,
        "above" if param.kind == Uri => Modifier::Above,
        t if param.kind == Reference && !registry.params_for(t).is_empty() => {
            Modifier::Type(t.to_string())
        }
        _ => {
            return Err(QueryError::UnsupportedModifier {
                param: param.code.clone(),
                modifier: m.to_string(),
            })
        }
    };
    Ok(modifier)
}

/// Split a parameter value on unescaped commas (`\,` is a literal comma).
fn split_or(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if matches!(chars.peek(), Some(',' | '$' | '|' | '\\')) => {
                // Keep the escape for '$', '|' and '\\' (split later), drop it for ','.
                let next = chars.next().unwrap_or_default();
                if next != ',' {
                    current.push('\\');
                }
                current.push(next);
            }
            ',' => out.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    out.push(current);
    out
}

/// Split on the first unescaped `sep`, unescaping `\sep`.
fn split_unescaped(value: &str, sep: char) -> (String, Option<String>) {
    let mut left = String::new();
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(&n) = chars.peek() {
                if n == sep || n == '\\' {
                    chars.next();
                    left.push(n);
                    continue;
                }
            }
            left.push(c);
        } else if c == sep {
            return (left, Some(chars.collect()));
        } else {
            left.push(c);
        }
    }
    (left, None)
}

fn parse_date(param: &str, v: &str) -> Result<Value, QueryError> {
    let (prefix, rest) = Prefix::split(v);
    let (lo, hi) = date_range(rest).ok_or_else(|| invalid(param, v, "expected a FHIR date, dateTime or instant, optionally prefixed (eq, ne, gt, lt, ge, le, sa, eb, ap)"))?;
    Ok(Value::Date { prefix, lo, hi })
}

/// The number and the half-unit range its written precision implies
/// (<https://hl7.org/fhir/R4/search.html#number>: `100` matches [99.5, 100.5)).
fn parse_number(param: &str, v: &str) -> Result<(f64, f64, f64), QueryError> {
    let value: f64 = v
        .parse()
        .map_err(|_| invalid(param, v, "expected a decimal number"))?;
    if !value.is_finite() {
        return Err(invalid(param, v, "expected a finite decimal number"));
    }
    let mantissa = v.split(['e', 'E']).next().unwrap_or(v);
    let exponent: i32 = v
        .split(['e', 'E'])
        .nth(1)
        .and_then(|e| e.parse().ok())
        .unwrap_or(0);
    let decimals = mantissa
        .split_once('.')
        .map(|(_, f)| f.len() as i32)
        .unwrap_or(0);
    let half = 0.5 * 10f64.powi(exponent - decimals);
    Ok((value, value - half, value + half))
}

fn parse_value(
    param: &SearchParam,
    modifier: Option<&Modifier>,
    name: &str,
    v: &str,
) -> Result<Value, QueryError> {
    if v.is_empty() {
        return Err(invalid(name, v, "empty value"));
    }
    Ok(match param.kind {
        ParamType::String => Value::String(v.to_string()),
        ParamType::Uri => Value::Uri(v.to_string()),
        ParamType::Token => {
            if modifier == Some(&Modifier::Text) {
                Value::String(v.to_string())
            } else {
                parse_token(v)
            }
        }
        ParamType::Date => parse_date(name, v)?,
        ParamType::Number => {
            let (prefix, rest) = Prefix::split(v);
            let (value, lo, hi) = parse_number(name, rest)?;
            Value::Number {
                prefix,
                value,
                lo,
                hi,
            }
        }
        ParamType::Quantity => parse_quantity(name, v)?,
        ParamType::Reference => {
            if modifier == Some(&Modifier::Identifier) {
                let (a, b) = split_unescaped(v, '|');
                match b {
                    Some(value) => Value::Identifier {
                        system: Some(a).filter(|s| !s.is_empty()),
                        value,
                    },
                    None => Value::Identifier {
                        system: None,
                        value: a,
                    },
                }
            } else {
                parse_reference(modifier, v)
            }
        }
        ParamType::Composite => {
            let mut parts = Vec::new();
            let mut rest = v.to_string();
            for (i, comp) in param.components.iter().enumerate() {
                let (head, tail) = if i + 1 == param.components.len() {
                    (rest.clone(), None)
                } else {
                    split_unescaped(&rest, '$')
                };
                let comp_param = SearchParam {
                    code: comp.code.clone(),
                    url: String::new(),
                    resource_type: param.resource_type.clone(),
                    kind: comp.kind,
                    expression: None,
                    targets: Vec::new(),
                    components: Vec::new(),
                };
                parts.push(parse_value(&comp_param, None, name, &head)?);
                match tail {
                    Some(t) => rest = t,
                    None if i + 1 < param.components.len() => {
                        return Err(invalid(
                            name,
                            v,
                            "a composite value needs one '$'-separated part per component",
                        ));
                    }
                    None => {}
                }
            }
            Value::Composite(parts)
        }
        ParamType::Special => {
            return Err(QueryError::Unsupported {
                param: name.into(),
                reason: "special parameters are not supported".into(),
            })
        }
    })
}

fn parse_token(v: &str) -> Value {
    let (a, b) = split_unescaped(v, '|');
    match b {
        None => Value::Token {
            system: None,
            code: Some(a),
        },
        Some(code) => Value::Token {
            system: Some(if a.is_empty() { None } else { Some(a) }),
            code: if code.is_empty() { None } else { Some(code) },
        },
    }
}

fn parse_quantity(name: &str, v: &str) -> Result<Value, QueryError> {
    let (prefix, rest) = Prefix::split(v);
    let (num, tail) = split_unescaped(rest, '|');
    let (value, lo, hi) = parse_number(name, &num)?;
    let (system, code) = match tail {
        None => (None, None),
        Some(t) => {
            let (s, c) = split_unescaped(&t, '|');
            (
                Some(s).filter(|s| !s.is_empty()),
                c.filter(|c| !c.is_empty()),
            )
        }
    };
    Ok(Value::Quantity {
        prefix,
        value,
        lo,
        hi,
        system,
        code,
    })
}

fn parse_reference(modifier: Option<&Modifier>, v: &str) -> Value {
    let type_mod = match modifier {
        Some(Modifier::Type(t)) => Some(t.clone()),
        _ => None,
    };
    if v.contains("://") || v.starts_with("urn:") {
        // Absolute: if it ends in Type/id treat it as that local reference too.
        let segs: Vec<&str> = v.trim_end_matches('/').rsplitn(3, '/').collect();
        if segs.len() >= 2
            && segs[1]
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_uppercase())
            && !v.starts_with("urn:")
        {
            return Value::Reference {
                rtype: Some(segs[1].to_string()),
                id: Some(segs[0].to_string()),
                url: Some(v.to_string()),
            };
        }
        return Value::Reference {
            rtype: None,
            id: None,
            url: Some(v.to_string()),
        };
    }
    match v.split_once('/') {
        Some((t, rest)) => {
            let id = rest.split('/').next().unwrap_or(rest);
            Value::Reference {
                rtype: Some(t.to_string()),
                id: Some(id.to_string()),
                url: None,
            }
        }
        None => Value::Reference {
            rtype: type_mod,
            id: Some(v.to_string()),
            url: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(t: &str, q: &str) -> Result<SearchQuery, QueryError> {
        let params: Vec<(String, String)> = form_pairs(q);
        SearchQuery::parse(Registry::r4(), t, &params)
    }

    fn form_pairs(q: &str) -> Vec<(String, String)> {
        q.split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (a, b) = p.split_once('=').unwrap_or((p, ""));
                (a.to_string(), b.to_string())
            })
            .collect()
    }

    #[test]
    fn parses_tokens_with_and_without_system() {
        let q = parse(
            "Observation",
            "code=http://loinc.org|8867-4,9279-1&status=final",
        )
        .unwrap();
        let Filter::Param { values, .. } = &q.filters[0] else {
            panic!()
        };
        assert_eq!(
            values[0],
            Value::Token {
                system: Some(Some("http://loinc.org".into())),
                code: Some("8867-4".into())
            }
        );
        assert_eq!(
            values[1],
            Value::Token {
                system: None,
                code: Some("9279-1".into())
            }
        );
        assert_eq!(q.filters.len(), 2);
    }

    #[test]
    fn parses_prefixes_and_precision() {
        let q = parse(
            "Observation",
            "value-quantity=gt5.40|http://unitsofmeasure.org|mg",
        )
        .unwrap();
        let Filter::Param { values, .. } = &q.filters[0] else {
            panic!()
        };
        let Value::Quantity {
            prefix,
            value,
            lo,
            hi,
            system,
            code,
        } = &values[0]
        else {
            panic!()
        };
        assert_eq!((*prefix, *value), (Prefix::Gt, 5.4));
        assert!((lo - 5.395).abs() < 1e-9 && (hi - 5.405).abs() < 1e-9);
        assert_eq!(system.as_deref(), Some("http://unitsofmeasure.org"));
        assert_eq!(code.as_deref(), Some("mg"));
    }

    #[test]
    fn parses_chains_has_sort_and_includes() {
        let q = parse(
            "Observation",
            "subject.name=peter&_sort=-date,_id&_include=Observation:subject&_revinclude:iterate=Provenance:target&_count=5000",
        )
        .unwrap();
        assert!(
            matches!(&q.filters[0], Filter::Chain { targets, .. } if targets.iter().any(|(t, _)| t == "Patient"))
        );
        assert_eq!(q.sort.len(), 2);
        assert!(q.sort[0].descending);
        assert_eq!(q.count, MAX_COUNT);
        assert_eq!(q.include[0].param.as_deref(), Some("subject"));
        assert!(q.revinclude[0].iterate);
        let q = parse("Patient", "_has:Observation:patient:code=1234-5").unwrap();
        assert!(
            matches!(&q.filters[0], Filter::Has { source_type, .. } if source_type == "Observation")
        );
    }

    #[test]
    fn composite_splits_on_dollar() {
        let q = parse(
            "Observation",
            "component-code-value-quantity=http://loinc.org|8480-6$gt140",
        )
        .unwrap();
        let Filter::Param { values, .. } = &q.filters[0] else {
            panic!()
        };
        let Value::Composite(parts) = &values[0] else {
            panic!()
        };
        assert_eq!(parts.len(), 2);
        assert!(
            matches!(parts[1], Value::Quantity { prefix: Prefix::Gt, value, .. } if value == 140.0)
        );
    }

    #[test]
    fn errors_name_the_parameter() {
        assert_eq!(
            parse("Patient", "foo=bar").unwrap_err(),
            QueryError::UnknownParameter {
                resource_type: "Patient".into(),
                param: "foo".into()
            }
        );
        assert!(
            matches!(parse("Patient", "birthdate=yesterday"), Err(QueryError::InvalidValue { param, .. }) if param == "birthdate")
        );
        assert!(matches!(
            parse("Patient", "name:below=x"),
            Err(QueryError::UnsupportedModifier { .. })
        ));
        assert!(matches!(
            parse("Patient", "_count=many"),
            Err(QueryError::InvalidValue { .. })
        ));
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = format!("{}name=x", "link.".repeat(3000));
        assert!(matches!(
            parse("Patient", &deep),
            Err(QueryError::Unsupported { .. })
        ));
        let has = format!(
            "subject.{}code=x",
            "_has:Observation:subject:subject.".repeat(10)
        );
        assert!(parse("Observation", &has).is_err());
        assert!(parse("Observation", "subject:Patient.organization.partof.name=x").is_ok());
    }

    /// Every limit: the query at the limit is accepted, one past it is refused with an
    /// error naming the parameter, before any work is done for it.
    #[test]
    fn work_is_bounded() {
        let list = |n: usize, item: &dyn Fn(usize) -> String| {
            (0..n).map(item).collect::<Vec<_>>().join(",")
        };
        let refused = |t: &str, q: &str| match parse(t, q) {
            Err(QueryError::InvalidValue { param, reason, .. }) => (param, reason),
            other => panic!("{q:.80}: {other:?}"),
        };

        // OR values, in every kind of parameter that takes a list.
        let codes = |n| list(n, &|i| format!("http://loinc.org|{i}-1"));
        let ids = |n| list(n, &|i| format!("id{i}"));
        let dates = |n| list(n, &|i| format!("ge20{:02}", i % 100));
        for (t, name, value) in [
            ("Observation", "code", &codes as &dyn Fn(usize) -> String),
            ("Observation", "subject.identifier", &codes),
            ("Patient", "_id", &ids),
            ("Patient", "_lastUpdated", &dates),
            ("Patient", "_elements", &|n| {
                list(n, &|_| "name".to_string())
            }),
        ] {
            let at = format!("{name}={}", value(MAX_OR_VALUES));
            assert!(parse(t, &at).is_ok(), "{name}: {:?}", parse(t, &at).err());
            let past = format!("{name}={}", value(MAX_OR_VALUES + 1));
            let (param, reason) = refused(t, &past);
            assert_eq!(param, name);
            assert!(reason.contains("at most 100"), "{reason}");
        }
        // 500 values (once a server error) are refused as the client's mistake.
        assert_eq!(
            refused("Observation", &format!("code={}", codes(500))).0,
            "code"
        );
        // Escaped commas are part of a value, not separators.
        let escaped = format!("name={}", list(MAX_OR_VALUES, &|i| format!("a\\,{i}")));
        assert!(parse("Patient", &escaped).is_ok());

        // Sort keys, over all _sort parameters.
        let keys = |n| {
            list(n, &|i| {
                ["date", "-_id", "code", "_lastUpdated"][i % 4].to_string()
            })
        };
        assert_eq!(
            parse("Observation", &format!("_sort={}", keys(MAX_SORT_KEYS)))
                .unwrap()
                .sort
                .len(),
            MAX_SORT_KEYS
        );
        assert_eq!(
            refused("Observation", &format!("_sort={}", keys(MAX_SORT_KEYS + 1))).0,
            "_sort"
        );
        let split = format!("_sort={}&_sort={}", keys(4), keys(MAX_SORT_KEYS - 3));
        assert_eq!(refused("Observation", &split).0, "_sort");
        let started = std::time::Instant::now();
        let (param, reason) = refused("Observation", &format!("_sort={}", keys(1000)));
        assert_eq!(
            (param.as_str(), reason.contains("at most 8")),
            ("_sort", true)
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(1));

        // _include and _revinclude together.
        let includes = |n: usize| {
            (0..n)
                .map(|i| {
                    if i % 2 == 0 {
                        "_include=Observation:subject"
                    } else {
                        "_revinclude=Provenance:target"
                    }
                })
                .collect::<Vec<_>>()
                .join("&")
        };
        assert!(parse("Observation", &includes(MAX_INCLUDES)).is_ok());
        assert_eq!(
            refused("Observation", &includes(MAX_INCLUDES + 1)).0,
            "_include"
        );

        // Parameters in one search; the first one past the limit is named.
        let at: Vec<_> = (0..MAX_PARAMS).map(|_| "gender=female").collect();
        assert_eq!(
            parse("Patient", &at.join("&")).unwrap().filters.len(),
            MAX_PARAMS
        );
        let (param, reason) = refused("Patient", &format!("{}&family=x", at.join("&")));
        assert_eq!(param, "family");
        assert!(reason.contains("at most 50 parameters"), "{reason}");
    }

    #[test]
    fn escaped_commas_are_literal() {
        assert_eq!(
            split_or("a\\,b,c"),
            vec!["a,b".to_string(), "c".to_string()]
        );
    }
}
