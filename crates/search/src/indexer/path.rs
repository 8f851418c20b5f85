//! Plain element paths of search expressions, walked directly over the resource JSON.
//!
//! Most R4 search expressions are paths: `Observation.code`, `Patient.name.given`,
//! `Observation.value.ofType(Quantity)`, `Patient.telecom.where(system='email')`. Walking
//! those over the JSON takes well under a microsecond, while a round trip through the
//! FHIRPath engine costs several (and converting the resource for it more still). Each
//! step's type comes from the R4 model at start-up, so values carry the same FHIR type
//! the engine would give them. Anything else goes to the engine; a test compares both
//! ways on every official example. FHIRPath paths: <https://hl7.org/fhirpath/N1/#path-selection>.

use fhirpath::{ElementType, Engine};
use serde_json::Value;

/// A path from a focus of known type to the values it selects.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Path {
    pub(super) steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Step {
    /// An element with one declared type (a backbone element is named by its path).
    Child { name: String, ty: String },
    /// A choice element `x[x]`: the JSON keys it may appear under, with their types.
    Choice { keys: Vec<(String, String)> },
    /// `where(field = 'literal')`.
    WhereEq { field: String, value: String },
}

/// A value found by a path, with its FHIR type.
pub(super) type Found<'a> = (&'a Value, &'a str);

impl Path {
    /// Parse `expr` as a path from a focus of type `focus`. With `rooted`, the path must
    /// start with the focus type's name (`Observation.code`); otherwise it starts with an
    /// element (`value.ofType(Quantity)`). `None` when the expression is not such a path.
    pub(super) fn parse(engine: &Engine, expr: &str, focus: &str, rooted: bool) -> Option<Path> {
        let flat = flatten(expr)?;
        let (expr, as_type) = split_as(&flat);
        let mut tokens = Tokens::new(strip_parens(expr));
        let mut steps = Vec::new();
        // The type of the current values; `None` after an unrestricted choice.
        let mut current: Option<String> = Some(focus.to_owned());
        // A member of a rooted expression may still start at an element (`name | alias`).
        if rooted && tokens.starts_with_type() {
            if tokens.ident()? != focus {
                return None;
            }
            if tokens.done() {
                return finish(steps, current, as_type);
            }
            tokens.dot()?;
        }
        loop {
            let name = tokens.ident()?;
            if tokens.peek() == Some('(') {
                let args = tokens.parens()?;
                match function(engine, name, args, &mut steps, current.as_deref())? {
                    Call::Narrowed(ty) => current = Some(ty),
                    Call::Filter(step) => steps.push(step),
                }
            } else {
                let parent = current.as_deref()?;
                match engine.element_type(parent, name)? {
                    ElementType::Single(ty) => {
                        current = Some(ty.clone());
                        steps.push(Step::Child {
                            name: name.to_owned(),
                            ty,
                        });
                    }
                    ElementType::Choice(types) => {
                        let keys = types
                            .into_iter()
                            .map(|t| (choice_key(name, &t), t))
                            .collect();
                        current = None;
                        steps.push(Step::Choice { keys });
                    }
                }
            }
            if tokens.done() {
                return finish(steps, current, as_type);
            }
            tokens.dot()?;
        }
    }

    /// The values the path selects from `focus` (of type `focus_type`).
    pub(super) fn walk<'a>(
        &'a self,
        focus: &'a Value,
        focus_type: &'a str,
        out: &mut Vec<Found<'a>>,
    ) {
        let mut current: Vec<Found<'a>> = vec![(focus, focus_type)];
        for step in &self.steps {
            let mut next = Vec::new();
            for (value, ty) in current {
                match step {
                    Step::Child { name, ty } => push_children(value.get(name), ty, &mut next),
                    Step::Choice { keys } => {
                        for (key, ty) in keys {
                            push_children(value.get(key), ty, &mut next);
                        }
                    }
                    Step::WhereEq {
                        field,
                        value: wanted,
                    } => {
                        if value.get(field).and_then(Value::as_str) == Some(wanted.as_str()) {
                            next.push((value, ty));
                        }
                    }
                }
            }
            if next.is_empty() {
                return;
            }
            current = next;
        }
        out.extend(current);
    }
}

fn push_children<'a>(child: Option<&'a Value>, ty: &'a str, out: &mut Vec<Found<'a>>) {
    let mut push = |v: &'a Value| {
        if v.is_null() {
            return;
        }
        // A resource inside another is typed by its own resourceType.
        let ty = match v.get("resourceType").and_then(Value::as_str) {
            Some(rtype) if ty == "Resource" => rtype,
            _ => ty,
        };
        out.push((v, ty));
    };
    match child {
        Some(Value::Array(items)) => items.iter().for_each(&mut push),
        Some(v) => push(v),
        None => {}
    }
}

/// Apply a trailing ` as T` and check the path ends on a typed value.
fn finish(mut steps: Vec<Step>, current: Option<String>, as_type: Option<&str>) -> Option<Path> {
    if let Some(t) = as_type {
        restrict(&mut steps, current.as_deref(), t)?;
    }
    Some(Path { steps })
}

/// `ofType(T)` / `as T`: keep a choice's key of type `T`; on a single-typed element,
/// only the identity is handled here (subtypes are left to the engine).
fn restrict(steps: &mut [Step], current: Option<&str>, wanted: &str) -> Option<()> {
    match steps.last_mut() {
        Some(Step::Choice { keys }) => {
            // `ofType(DateTime)` (the FHIRPath system type) selects FHIR dateTime values.
            keys.retain(|(_, t)| t == wanted || choice_key("", t) == wanted);
            (!keys.is_empty()).then_some(())
        }
        _ => (current == Some(wanted)).then_some(()),
    }
}

/// What a function call in a path does.
enum Call {
    /// `ofType(T)` / `as(T)`: the last step now selects values of type `T` only.
    Narrowed(String),
    /// `where(field = 'literal')`: a filter keeping the current type.
    Filter(Step),
}

/// A function call in a path: `ofType(T)`, `as(T)`, `where(field = 'literal')`.
fn function(
    engine: &Engine,
    name: &str,
    args: &str,
    steps: &mut [Step],
    current: Option<&str>,
) -> Option<Call> {
    match name {
        "ofType" | "as" => {
            let wanted = args.trim();
            if !is_ident(wanted) {
                return None;
            }
            restrict(steps, current, wanted)?;
            Some(Call::Narrowed(wanted.to_owned()))
        }
        "where" => {
            let (field, literal) = args.split_once('=')?;
            let field = field.trim();
            let literal = literal.trim().strip_prefix('\'')?.strip_suffix('\'')?;
            if !is_ident(field) || literal.contains(['\'', '\\']) {
                return None;
            }
            // The field must be a primitive of the current type.
            match engine.element_type(current?, field)? {
                ElementType::Single(t) if t.starts_with(|c: char| c.is_ascii_lowercase()) => {}
                _ => return None,
            }
            Some(Call::Filter(Step::WhereEq {
                field: field.to_owned(),
                value: literal.to_owned(),
            }))
        }
        _ => None,
    }
}

/// The JSON key of a choice element for one type: `value` + `Quantity`.
pub(super) fn choice_key(name: &str, ty: &str) -> String {
    let mut key = String::with_capacity(name.len() + ty.len());
    key.push_str(name);
    let mut chars = ty.chars();
    if let Some(first) = chars.next() {
        key.extend(first.to_uppercase());
        key.push_str(chars.as_str());
    }
    key
}

/// The first element a rooted member reads (`value` in `(Observation.value as Quantity)`),
/// when the rest of the member only narrows what that element holds: member access and
/// filtering functions, no operators and no functions that answer for absent elements
/// (`exists()`, `empty()`, `count()`, ...).
pub(super) fn first_element(member: &str, root: &str) -> Option<String> {
    const NARROWING: &[&str] = &[
        "where",
        "ofType",
        "as",
        "first",
        "last",
        "distinct",
        "select",
        "extension",
        "resolve",
    ];
    let flat = flatten(member)?;
    let (member, _) = split_as(&flat);
    let mut tokens = Tokens::new(strip_parens(member));
    if tokens.starts_with_type() {
        if tokens.ident()? != root {
            return None;
        }
        tokens.dot()?;
    }
    let first = tokens.ident()?;
    while !tokens.done() {
        match tokens.peek() {
            Some('(') => return None,
            // An indexer such as `[0]` only narrows.
            Some('[') => {
                tokens.brackets()?;
                continue;
            }
            _ => {}
        }
        tokens.dot()?;
        let name = tokens.ident()?;
        if tokens.peek() == Some('(') {
            if !NARROWING.contains(&name) {
                return None;
            }
            tokens.parens()?;
        }
    }
    Some(first.to_owned())
}

/// Rewrite a parenthesised head followed by more path, `(X as T).y` or
/// `(X.ofType(T)).y`, as one path `X.ofType(T).y`; strip enclosing parentheses.
/// `None` when the head is not a single path.
fn flatten(expr: &str) -> Option<String> {
    let s = strip_parens(expr.trim());
    if !s.starts_with('(') {
        return Some(s.to_owned());
    }
    let close = closing(s, 0)?;
    let inner = flatten(&s[1..close])?;
    if inner.contains('|') {
        return None;
    }
    let head = match split_as(&inner) {
        (path, Some(ty)) => format!("{path}.ofType({ty})"),
        (path, None) => path.to_owned(),
    };
    Some(format!("{head}{}", &s[close + 1..]))
}

fn is_ident(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Remove parentheses that enclose the whole expression.
pub(super) fn strip_parens(mut s: &str) -> &str {
    while s.starts_with('(') && s.ends_with(')') && closing(s, 0) == Some(s.len() - 1) {
        s = s[1..s.len() - 1].trim();
    }
    s
}

/// Split a top-level trailing ` as Type`.
fn split_as(s: &str) -> (&str, Option<&str>) {
    if let Some(pos) = s.rfind(" as ") {
        let (head, tail) = (&s[..pos], s[pos + 4..].trim());
        if is_ident(tail) && depth_at(s, pos) == 0 {
            return (head.trim(), Some(tail));
        }
    }
    (s, None)
}

/// The index of the parenthesis closing the one at `open`.
fn closing(s: &str, open: usize) -> Option<usize> {
    let mut depth = 0;
    let mut in_string = false;
    for (i, b) in s.bytes().enumerate().skip(open) {
        match b {
            b'\'' => in_string = !in_string,
            b'(' if !in_string => depth += 1,
            b')' if !in_string => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

fn depth_at(s: &str, pos: usize) -> i32 {
    let mut depth = 0;
    let mut in_string = false;
    for b in s[..pos].bytes() {
        match b {
            b'\'' => in_string = !in_string,
            b'(' if !in_string => depth += 1,
            b')' if !in_string => depth -= 1,
            _ => {}
        }
    }
    depth
}

/// A cursor over a path expression.
struct Tokens<'a> {
    s: &'a str,
}

impl<'a> Tokens<'a> {
    fn new(s: &'a str) -> Self {
        Tokens { s: s.trim() }
    }

    fn done(&self) -> bool {
        self.s.is_empty()
    }

    fn peek(&self) -> Option<char> {
        self.s.chars().next()
    }

    fn ident(&mut self) -> Option<&'a str> {
        let end = self
            .s
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(self.s.len());
        if end == 0 {
            return None;
        }
        let (ident, rest) = self.s.split_at(end);
        self.s = rest;
        Some(ident)
    }

    /// Whether the next identifier names a type (FHIR types are capitalised; elements
    /// are not).
    fn starts_with_type(&self) -> bool {
        self.s.starts_with(|c: char| c.is_ascii_uppercase())
    }

    /// Skip an indexer `[...]`.
    fn brackets(&mut self) -> Option<()> {
        let end = self.s.strip_prefix('[')?.find(']')?;
        self.s = &self.s[end + 2..];
        Some(())
    }

    fn dot(&mut self) -> Option<()> {
        self.s = self.s.strip_prefix('.')?;
        Some(())
    }

    /// The text inside the parentheses starting here.
    fn parens(&mut self) -> Option<&'a str> {
        let end = closing(self.s, 0)?;
        let inside = &self.s[1..end];
        self.s = &self.s[end + 1..];
        Some(inside)
    }
}
