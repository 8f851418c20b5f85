//! A direct evaluator for the ViewDefinitions whose FHIRPath is a small, common subset:
//! member paths (with choice elements read through `ofType`), `where`, `exists`, `empty`,
//! `first`, `getResourceKey`, `getReferenceKey`, `=`, `!=`, `and`, `or`, string `+`,
//! string literals and `%constants`; `select` with `column`, `forEach`, `forEachOrNull`
//! and nested `select`. It walks the resource's JSON without converting it, many times
//! faster than the general engine; a view using anything else is left to the engine.
//!
//! FHIRPath's rules as the specification gives them: a path over a collection flattens;
//! `=` and `!=` over an empty operand are empty; `and` and `or` are three-valued; `where`
//! keeps the items whose criteria are true. A column declared single-valued that meets
//! several values is an error, as in the engine.

use std::collections::HashMap;

use serde_json::Value;

/// A parsed expression.
#[derive(Debug, Clone)]
enum Expr {
    /// The focus itself (`$this`, or the start of a path).
    This,
    Str(String),
    Constant(String),
    /// `base.name`.
    Member(Box<Expr>, String),
    /// `base.f(args)`.
    Call(Box<Expr>, String, Vec<Expr>),
    Eq(Box<Expr>, Box<Expr>, bool),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Plus(Box<Expr>, Box<Expr>),
}

/// An item of a collection: a node of the resource (with the type a choice element was
/// read as), or a value computed here.
#[derive(Debug, Clone)]
enum Item<'a> {
    Node(&'a Value, Option<&'a str>),
    Text(String),
    Bool(bool),
}

impl Item<'_> {
    fn value(&self) -> Value {
        match self {
            Item::Node(v, _) => (*v).clone(),
            Item::Text(s) => Value::String(s.clone()),
            Item::Bool(b) => Value::Bool(*b),
        }
    }

    fn text(&self) -> Option<&str> {
        match self {
            Item::Node(v, _) => v.as_str(),
            Item::Text(s) => Some(s),
            Item::Bool(_) => None,
        }
    }

    fn boolean(&self) -> Option<bool> {
        match self {
            Item::Node(v, _) => v.as_bool(),
            Item::Bool(b) => Some(*b),
            Item::Text(_) => None,
        }
    }
}

// ---- parsing ----

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Const(String),
    Dot,
    Open,
    Close,
    Comma,
    Eq,
    Ne,
    Plus,
}

fn lex(s: &str) -> Option<Vec<Tok>> {
    let c: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    while i < c.len() {
        match c[i] {
            ' ' | '\t' | '\n' | '\r' => i += 1,
            '.' => {
                out.push(Tok::Dot);
                i += 1;
            }
            '(' => {
                out.push(Tok::Open);
                i += 1;
            }
            ')' => {
                out.push(Tok::Close);
                i += 1;
            }
            ',' => {
                out.push(Tok::Comma);
                i += 1;
            }
            '+' => {
                out.push(Tok::Plus);
                i += 1;
            }
            '=' => {
                out.push(Tok::Eq);
                i += 1;
            }
            '!' if c.get(i + 1) == Some(&'=') => {
                out.push(Tok::Ne);
                i += 2;
            }
            '\'' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match c.get(i)? {
                        '\'' => break,
                        // Escapes are left to the engine.
                        '\\' => return None,
                        ch => s.push(*ch),
                    }
                    i += 1;
                }
                i += 1;
                out.push(Tok::Str(s));
            }
            '%' => {
                let start = i + 1;
                i += 1;
                while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                    i += 1;
                }
                out.push(Tok::Const(c[start..i].iter().collect()));
            }
            ch if ch.is_alphabetic() || ch == '_' => {
                let start = i;
                while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                    i += 1;
                }
                out.push(Tok::Ident(c[start..i].iter().collect()));
            }
            _ => return None,
        }
    }
    Some(out)
}

struct Parser {
    toks: Vec<Tok>,
    at: usize,
}

/// The functions the evaluator knows, with their argument counts.
fn known(name: &str, args: usize) -> bool {
    matches!(
        (name, args),
        ("where", 1)
            | ("exists", 0)
            | ("exists", 1)
            | ("empty", 0)
            | ("first", 0)
            | ("not", 0)
            | ("ofType", 1)
            | ("getResourceKey", 0)
            | ("getReferenceKey", 0)
            | ("getReferenceKey", 1)
    )
}

/// Words that are operators or keywords in FHIRPath: a path using them is the engine's.
const RESERVED: &[&str] = &[
    "and", "or", "xor", "implies", "is", "as", "in", "contains", "div", "mod", "true", "false",
];

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at)
    }

    fn eat(&mut self, t: &Tok) -> bool {
        if self.peek() == Some(t) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn word(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Tok::Ident(i)) if i == w)
    }

    fn or(&mut self) -> Option<Expr> {
        let mut e = self.and()?;
        while self.word("or") {
            self.at += 1;
            e = Expr::Or(Box::new(e), Box::new(self.and()?));
        }
        Some(e)
    }

    fn and(&mut self) -> Option<Expr> {
        let mut e = self.eq()?;
        while self.word("and") {
            self.at += 1;
            e = Expr::And(Box::new(e), Box::new(self.eq()?));
        }
        Some(e)
    }

    fn eq(&mut self) -> Option<Expr> {
        let e = self.plus()?;
        if self.eat(&Tok::Eq) {
            return Some(Expr::Eq(Box::new(e), Box::new(self.plus()?), true));
        }
        if self.eat(&Tok::Ne) {
            return Some(Expr::Eq(Box::new(e), Box::new(self.plus()?), false));
        }
        Some(e)
    }

    fn plus(&mut self) -> Option<Expr> {
        let mut e = self.path()?;
        while self.eat(&Tok::Plus) {
            e = Expr::Plus(Box::new(e), Box::new(self.path()?));
        }
        Some(e)
    }

    fn path(&mut self) -> Option<Expr> {
        let mut e = match self.peek()?.clone() {
            Tok::Open => {
                self.at += 1;
                let inner = self.or()?;
                if !self.eat(&Tok::Close) {
                    return None;
                }
                inner
            }
            Tok::Str(s) => {
                self.at += 1;
                Expr::Str(s)
            }
            Tok::Const(c) => {
                self.at += 1;
                Expr::Constant(c)
            }
            Tok::Ident(_) => self.invocation(Expr::This)?,
            _ => return None,
        };
        while self.eat(&Tok::Dot) {
            e = self.invocation(e)?;
        }
        Some(e)
    }

    fn invocation(&mut self, base: Expr) -> Option<Expr> {
        let Some(Tok::Ident(name)) = self.peek().cloned() else {
            return None;
        };
        if RESERVED.contains(&name.as_str()) || name == "this" {
            return None;
        }
        self.at += 1;
        if !self.eat(&Tok::Open) {
            // A type name's first letter is upper case; a resource type as a path's start is
            // the engine's.
            if matches!(base, Expr::This) && name.chars().next().is_some_and(char::is_uppercase) {
                return None;
            }
            return Some(Expr::Member(Box::new(base), name));
        }
        let mut args = Vec::new();
        // A type argument is a name, not a path.
        if name == "ofType" || name == "getReferenceKey" {
            if let (Some(Tok::Ident(t)), Some(Tok::Close)) =
                (self.toks.get(self.at).cloned(), self.toks.get(self.at + 1))
            {
                self.at += 2;
                args.push(Expr::Member(Box::new(Expr::This), t));
                return known(&name, 1).then(|| Expr::Call(Box::new(base), name, args));
            }
        }
        if !self.eat(&Tok::Close) {
            loop {
                args.push(self.or()?);
                if self.eat(&Tok::Close) {
                    break;
                }
                if !self.eat(&Tok::Comma) {
                    return None;
                }
            }
        }
        if !known(&name, args.len()) {
            return None;
        }
        // Type arguments are names, not paths.
        if name == "ofType" || name == "getReferenceKey" {
            match args.first() {
                None => {}
                Some(Expr::Member(b, _)) if matches!(**b, Expr::This) => {}
                _ => return None,
            }
        }
        Some(Expr::Call(Box::new(base), name, args))
    }
}

fn parse(expression: &str) -> Option<Expr> {
    let mut p = Parser {
        toks: lex(expression)?,
        at: 0,
    };
    let e = p.or()?;
    (p.at == p.toks.len()).then_some(e)
}

// ---- evaluation ----

/// Children of a node named `name`: the element, or a choice element `name[x]` read with
/// its type (`valueCodeableConcept` as `value` of type `CodeableConcept`).
fn member<'a>(node: &'a Value, name: &str, out: &mut Vec<Item<'a>>) {
    let Some(o) = node.as_object() else {
        return;
    };
    let push = |v: &'a Value, t: Option<&'a str>, out: &mut Vec<Item<'a>>| match v {
        Value::Array(a) => out.extend(a.iter().map(|x| Item::Node(x, t))),
        Value::Null => {}
        other => out.push(Item::Node(other, t)),
    };
    if let Some(v) = o.get(name) {
        push(v, None, out);
        return;
    }
    for (k, v) in o {
        if let Some(rest) = k.strip_prefix(name) {
            if rest.chars().next().is_some_and(char::is_uppercase) {
                push(v, Some(rest), out);
            }
        }
    }
}

fn singleton_text<'a>(items: &'a [Item<'_>]) -> Option<&'a str> {
    match items {
        [one] => one.text(),
        _ => None,
    }
}

/// The truth of a collection as criteria: true only for a single true.
fn truth(items: &[Item<'_>]) -> Option<bool> {
    match items {
        [] => None,
        [one] => one.boolean().or(Some(true)),
        _ => Some(true),
    }
}

struct Ctx<'v> {
    constants: &'v HashMap<String, Value>,
}

impl Ctx<'_> {
    fn eval<'a>(&self, e: &Expr, focus: &[Item<'a>]) -> Result<Vec<Item<'a>>, String> {
        Ok(match e {
            Expr::This => focus.to_vec(),
            Expr::Str(s) => vec![Item::Text(s.clone())],
            Expr::Constant(c) => match self.constants.get(c) {
                Some(Value::String(s)) => vec![Item::Text(s.clone())],
                Some(Value::Bool(b)) => vec![Item::Bool(*b)],
                _ => return Err(format!("constant %{c} is not defined")),
            },
            Expr::Member(base, name) => {
                let mut out = Vec::new();
                for item in self.eval(base, focus)? {
                    if let Item::Node(v, _) = item {
                        member(v, name, &mut out);
                    }
                }
                out
            }
            Expr::Eq(a, b, equal) => {
                let (a, b) = (self.eval(a, focus)?, self.eval(b, focus)?);
                if a.is_empty() || b.is_empty() {
                    return Ok(Vec::new());
                }
                let same =
                    a.len() == b.len() && a.iter().zip(&b).all(|(x, y)| x.value() == y.value());
                vec![Item::Bool(same == *equal)]
            }
            Expr::And(a, b) => {
                let (a, b) = (truth(&self.eval(a, focus)?), truth(&self.eval(b, focus)?));
                match (a, b) {
                    (Some(false), _) | (_, Some(false)) => vec![Item::Bool(false)],
                    (Some(true), Some(true)) => vec![Item::Bool(true)],
                    _ => Vec::new(),
                }
            }
            Expr::Or(a, b) => {
                let (a, b) = (truth(&self.eval(a, focus)?), truth(&self.eval(b, focus)?));
                match (a, b) {
                    (Some(true), _) | (_, Some(true)) => vec![Item::Bool(true)],
                    (Some(false), Some(false)) => vec![Item::Bool(false)],
                    _ => Vec::new(),
                }
            }
            Expr::Plus(a, b) => {
                let (a, b) = (self.eval(a, focus)?, self.eval(b, focus)?);
                match (singleton_text(&a), singleton_text(&b)) {
                    (Some(x), Some(y)) => vec![Item::Text(format!("{x}{y}"))],
                    _ if a.is_empty() || b.is_empty() => Vec::new(),
                    _ => return Err("+ over values that are not single strings".into()),
                }
            }
            Expr::Call(base, name, args) => {
                let items = self.eval(base, focus)?;
                self.call(name, args, items)?
            }
        })
    }

    fn call<'a>(
        &self,
        name: &str,
        args: &[Expr],
        items: Vec<Item<'a>>,
    ) -> Result<Vec<Item<'a>>, String> {
        let type_arg = || match args.first() {
            Some(Expr::Member(_, t)) => Some(t.as_str()),
            _ => None,
        };
        Ok(match name {
            "where" => {
                let mut out = Vec::new();
                for item in items {
                    let one = [item];
                    if truth(&self.eval(&args[0], &one)?) == Some(true) {
                        let [item] = one;
                        out.push(item);
                    }
                }
                out
            }
            "exists" => {
                let found = match args.first() {
                    None => !items.is_empty(),
                    Some(criteria) => {
                        let mut any = false;
                        for item in items {
                            if truth(&self.eval(criteria, &[item])?) == Some(true) {
                                any = true;
                                break;
                            }
                        }
                        any
                    }
                };
                vec![Item::Bool(found)]
            }
            "empty" => vec![Item::Bool(items.is_empty())],
            "not" => match truth(&items) {
                Some(b) => vec![Item::Bool(!b)],
                None => Vec::new(),
            },
            "first" => items.into_iter().take(1).collect(),
            "ofType" => {
                let want = type_arg().unwrap_or_default();
                items
                    .into_iter()
                    .filter(|i| match i {
                        Item::Node(_, Some(t)) => t.eq_ignore_ascii_case(want),
                        _ => false,
                    })
                    .collect()
            }
            "getResourceKey" => items
                .iter()
                .filter_map(|i| match i {
                    Item::Node(v, _) => v["id"].as_str().map(|s| Item::Text(s.to_string())),
                    _ => None,
                })
                .collect(),
            "getReferenceKey" => {
                let want = type_arg();
                items
                    .iter()
                    .filter_map(|i| match i {
                        Item::Node(v, _) => reference_key(v["reference"].as_str()?, want),
                        _ => None,
                    })
                    .map(Item::Text)
                    .collect()
            }
            other => return Err(format!("{other}() is not supported here")),
        })
    }
}

/// The id a reference points to (`Patient/p1`, `http://…/Patient/p1/_history/2`), when it
/// is of type `want` (any type when `None`).
fn reference_key(reference: &str, want: Option<&str>) -> Option<String> {
    let mut parts: Vec<&str> = reference.split('/').collect();
    if parts.len() >= 4 && parts[parts.len() - 2] == "_history" {
        parts.truncate(parts.len() - 2);
    }
    let (t, id) = match parts.as_slice() {
        [.., t, id] => (*t, *id),
        _ => return None,
    };
    if id.is_empty() || want.is_some_and(|w| w != t) {
        return None;
    }
    Some(id.to_string())
}

// ---- views ----

/// Whether every `%constant` in `e` is one of the view's (the environment's own, such as
/// `%rowIndex` or `%resource`, are the engine's).
fn constants_defined(e: &Expr, defined: &HashMap<String, Value>) -> bool {
    match e {
        Expr::This | Expr::Str(_) => true,
        Expr::Constant(c) => defined.contains_key(c),
        Expr::Member(b, _) => constants_defined(b, defined),
        Expr::Call(b, _, args) => {
            constants_defined(b, defined) && args.iter().all(|a| constants_defined(a, defined))
        }
        Expr::Eq(a, b, _) | Expr::And(a, b) | Expr::Or(a, b) | Expr::Plus(a, b) => {
            constants_defined(a, defined) && constants_defined(b, defined)
        }
    }
}

fn select_constants_defined(s: &Select, defined: &HashMap<String, Value>) -> bool {
    s.for_each
        .as_ref()
        .is_none_or(|(e, _)| constants_defined(e, defined))
        && s.columns
            .iter()
            .all(|(_, e, _)| constants_defined(e, defined))
        && s.select
            .iter()
            .all(|n| select_constants_defined(n, defined))
}

#[derive(Debug, Clone)]
struct Select {
    /// `forEach` (or `forEachOrNull`, `true`).
    for_each: Option<(Expr, bool)>,
    /// (name, expression, collection).
    columns: Vec<(String, Expr, bool)>,
    select: Vec<Select>,
}

/// A ViewDefinition the direct evaluator can run.
#[derive(Debug, Clone)]
pub(crate) struct FastView {
    wheres: Vec<Expr>,
    select: Vec<Select>,
    constants: HashMap<String, Value>,
    columns: Vec<String>,
}

fn select(s: &Value, names: &mut Vec<String>) -> Option<Select> {
    let o = s.as_object()?;
    if o.keys().any(|k| {
        !matches!(
            k.as_str(),
            "column" | "select" | "forEach" | "forEachOrNull"
        )
    }) {
        return None;
    }
    let for_each = match (o.get("forEach"), o.get("forEachOrNull")) {
        (Some(f), None) => Some((parse(f.as_str()?)?, false)),
        (None, Some(f)) => Some((parse(f.as_str()?)?, true)),
        (None, None) => None,
        _ => return None,
    };
    let mut columns = Vec::new();
    for c in o
        .get("column")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = c["name"].as_str()?.to_string();
        names.push(name.clone());
        columns.push((
            name,
            parse(c["path"].as_str()?)?,
            c["collection"].as_bool() == Some(true),
        ));
    }
    let mut nested = Vec::new();
    for n in o
        .get("select")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        nested.push(select(n, names)?);
    }
    Some(Select {
        for_each,
        columns,
        select: nested,
    })
}

impl FastView {
    /// The view, when everything in it is within the subset; its columns must come out in
    /// `engine_columns`' order (else the engine keeps it).
    pub(crate) fn compile(definition: &Value, engine_columns: &[String]) -> Option<FastView> {
        let mut constants = HashMap::new();
        for c in definition["constant"].as_array().into_iter().flatten() {
            let name = c["name"].as_str()?.to_string();
            let value = c
                .as_object()?
                .iter()
                .find(|(k, _)| k.starts_with("value"))
                .map(|(_, v)| v.clone())?;
            if !(value.is_string() || value.is_boolean()) {
                return None;
            }
            constants.insert(name, value);
        }
        let mut wheres = Vec::new();
        for w in definition["where"].as_array().into_iter().flatten() {
            wheres.push(parse(w["path"].as_str()?)?);
        }
        let mut names = Vec::new();
        let mut selects = Vec::new();
        for s in definition["select"].as_array()? {
            selects.push(select(s, &mut names)?);
        }
        let defined = wheres.iter().all(|w| constants_defined(w, &constants))
            && selects
                .iter()
                .all(|s| select_constants_defined(s, &constants));
        (defined && names == engine_columns).then_some(FastView {
            wheres,
            select: selects,
            constants,
            columns: names,
        })
    }

    /// The rows of one resource (its type already checked).
    pub(crate) fn rows(&self, resource: &Value) -> Result<Vec<Vec<Value>>, String> {
        let ctx = Ctx {
            constants: &self.constants,
        };
        let root = [Item::Node(resource, None)];
        for w in &self.wheres {
            match ctx.eval(w, &root)?.as_slice() {
                [] => return Ok(Vec::new()),
                [one] => match one.boolean() {
                    Some(true) => {}
                    Some(false) => return Ok(Vec::new()),
                    None => return Err("a where path does not evaluate to a boolean".into()),
                },
                _ => return Err("a where path gives several values".into()),
            }
        }
        let mut rows: Vec<Vec<Value>> = vec![Vec::with_capacity(self.columns.len())];
        for s in &self.select {
            rows = product(rows, self.select_rows(&ctx, s, &root[0])?);
        }
        Ok(rows)
    }

    fn select_rows<'a>(
        &self,
        ctx: &Ctx<'_>,
        s: &Select,
        node: &Item<'a>,
    ) -> Result<Vec<Vec<Value>>, String> {
        let foci: Vec<Option<Item<'a>>> = match &s.for_each {
            None => vec![Some(node.clone())],
            Some((e, or_null)) => {
                let items = ctx.eval(e, std::slice::from_ref(node))?;
                if items.is_empty() && *or_null {
                    vec![None]
                } else {
                    items.into_iter().map(Some).collect()
                }
            }
        };
        let mut out = Vec::new();
        for focus in foci {
            let mut row = Vec::with_capacity(s.columns.len());
            for (name, e, collection) in &s.columns {
                let items = match &focus {
                    Some(f) => ctx.eval(e, std::slice::from_ref(f))?,
                    None => Vec::new(),
                };
                row.push(if *collection {
                    Value::Array(items.iter().map(Item::value).collect())
                } else {
                    match items.as_slice() {
                        [] => Value::Null,
                        [one] => one.value(),
                        _ => {
                            return Err(format!(
                                "column {name} is single-valued but met {} values",
                                items.len()
                            ))
                        }
                    }
                });
            }
            let mut rows = vec![row];
            for n in &s.select {
                let nested = match &focus {
                    Some(f) => self.select_rows(ctx, n, f)?,
                    None => vec![vec![Value::Null; count(n)]],
                };
                rows = product(rows, nested);
            }
            out.extend(rows);
        }
        Ok(out)
    }
}

/// The columns a select (with its nested selects) gives.
fn count(s: &Select) -> usize {
    s.columns.len() + s.select.iter().map(count).sum::<usize>()
}

/// Every row of `a` followed by every row of `b`.
fn product(a: Vec<Vec<Value>>, b: Vec<Vec<Value>>) -> Vec<Vec<Value>> {
    let mut out = Vec::with_capacity(a.len() * b.len());
    for x in &a {
        for y in &b {
            let mut r = x.clone();
            r.extend(y.iter().cloned());
            out.push(r);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_beyond_the_subset_are_left_to_the_engine() {
        for p in [
            "name.given.join(' ')",
            "value is Quantity",
            "Patient.id",
            "a.b = true",
            "'it\\'s'",
            "repeat(item)",
        ] {
            assert!(parse(p).is_none(), "{p}");
        }
        for p in [
            "subject.getReferenceKey(Patient)",
            "extension.where(url = %ext + 'harm').value.ofType(CodeableConcept).coding.code.first()",
            "status = 'final' or status = 'amended'",
            "(a or b) and c.exists()",
        ] {
            assert!(parse(p).is_some(), "{p}");
        }
    }

    #[test]
    fn references_keys() {
        assert_eq!(
            reference_key("Patient/p1", Some("Patient")).as_deref(),
            Some("p1")
        );
        assert_eq!(reference_key("Patient/p1", Some("Group")), None);
        assert_eq!(
            reference_key("http://x.org/fhir/Patient/p1/_history/2", None).as_deref(),
            Some("p1")
        );
        assert_eq!(reference_key("p1", None), None);
    }
}
