//! The schema and the SQL both adapters share: a search request compiled to one SELECT
//! over the index tables (<https://hl7.org/fhir/R4/search.html>). Written once with `?`
//! placeholders; the PostgreSQL adapter renumbers them to `$n`.
//!
//! Tables: `resource_version` (every version; its `seq` is the change-log position),
//! `resource` (the current version of each resource, `rid` keys the index rows),
//! `search_param` (interned parameter ids) and one `ix_*` table per search parameter type,
//! holding rows only for current, non-deleted versions; `audit_log` and `audit_term` (the
//! audit trail, `audit_log.rs`).

use std::collections::HashMap;

use search::{normalize_string, IndexValue};
use search::{Filter, Modifier, Prefix, SearchQuery, Sort, SortKey, Value};
use search::{ParamType, Registry, SearchParam};

use access::Access;

use crate::reach_sql::{condition, Types};

/// The SQL dialect of an adapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

/// A bound SQL argument.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Arg {
    Int(i64),
    Real(f64),
    Text(String),
    Null,
}

/// DDL for one dialect. Idempotent.
pub(crate) fn schema(d: Dialect) -> String {
    let (seq, int, real, blob) = match d {
        Dialect::Sqlite => ("INTEGER PRIMARY KEY", "INTEGER", "REAL", "TEXT"),
        Dialect::Postgres => (
            "BIGSERIAL PRIMARY KEY",
            "BIGINT",
            "DOUBLE PRECISION",
            "TEXT",
        ),
    };
    let rid = match d {
        Dialect::Sqlite => "INTEGER PRIMARY KEY",
        Dialect::Postgres => "BIGSERIAL PRIMARY KEY",
    };
    // Index rows are clustered by resource: (rid, pid, n) is the key, so a new resource's
    // rows append at the end, its rows are deleted and probed by key, and only the value
    // index takes random inserts. SQLite stores such tables without a rowid.
    let clustered = match d {
        Dialect::Sqlite => "PRIMARY KEY (rid, pid, n)) WITHOUT ROWID",
        Dialect::Postgres => "PRIMARY KEY (rid, pid, n))",
    };
    // Terms are compared byte by byte (prefix searches are ranges), whatever the locale.
    let (term_key, term_collation) = match d {
        Dialect::Sqlite => ("PRIMARY KEY (term, pos)) WITHOUT ROWID", ""),
        Dialect::Postgres => ("PRIMARY KEY (term, pos))", " COLLATE \"C\""),
    };
    let compartment_key = match d {
        Dialect::Sqlite => "PRIMARY KEY (seq, patient)) WITHOUT ROWID",
        Dialect::Postgres => "PRIMARY KEY (seq, patient))",
    };
    format!(
        "
CREATE TABLE IF NOT EXISTS resource_version (
  seq {seq}, rtype TEXT NOT NULL, id TEXT NOT NULL, vid {int} NOT NULL,
  lastupd {int} NOT NULL, op TEXT NOT NULL, body {blob},
  patients TEXT, restricted {int} NOT NULL DEFAULT 0, shared TEXT,
  UNIQUE (rtype, id, vid));
CREATE INDEX IF NOT EXISTS resource_version_lastupd ON resource_version (lastupd);
CREATE TABLE IF NOT EXISTS resource (
  rid {rid}, rtype TEXT NOT NULL, id TEXT NOT NULL, vid {int} NOT NULL,
  lastupd {int} NOT NULL, deleted {int} NOT NULL, seq {int} NOT NULL,
  restricted {int} NOT NULL DEFAULT 0, shared TEXT,
  UNIQUE (rtype, id));
-- The patients whose compartments hold each version (by change-log position): access to a
-- resource is decided from these rows, in the SQL of every read.
CREATE TABLE IF NOT EXISTS compartment (seq {int} NOT NULL, patient TEXT NOT NULL, {compartment_key};
-- Scans of one type in rid order (exports, population runs) walk this index instead of
-- sorting every remaining row of the type for each page.
CREATE INDEX IF NOT EXISTS resource_type_rid ON resource (rtype, rid);
CREATE TABLE IF NOT EXISTS search_param (pid {int} PRIMARY KEY, rtype TEXT NOT NULL, code TEXT NOT NULL, UNIQUE (rtype, code));
CREATE TABLE IF NOT EXISTS checkpoint (consumer TEXT PRIMARY KEY, seq {int} NOT NULL);
-- Tend's own records that are not FHIR resources (accounts, sessions, tokens), never served
-- by the FHIR API: a value per key in a named space.
CREATE TABLE IF NOT EXISTS keyed (space TEXT NOT NULL, k TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (space, k));
-- The audit trail (`audit_log.rs`): one row per AuditEvent in append order, and the terms
-- it can be searched by (`audit_terms.rs`), instead of versions and index rows.
CREATE TABLE IF NOT EXISTS audit_log (pos {int} PRIMARY KEY, id TEXT NOT NULL, recorded {int},
  lastupd {int} NOT NULL, body TEXT NOT NULL, patients TEXT);
CREATE TABLE IF NOT EXISTS audit_term (term TEXT{term_collation} NOT NULL, pos {int} NOT NULL, {term_key};
CREATE TABLE IF NOT EXISTS ix_string (rid {int} NOT NULL, pid {int} NOT NULL, n {int} NOT NULL, text TEXT NOT NULL, exact TEXT NOT NULL, {clustered};
CREATE TABLE IF NOT EXISTS ix_token (rid {int} NOT NULL, pid {int} NOT NULL, n {int} NOT NULL, system TEXT, code TEXT, text TEXT, {clustered};
CREATE TABLE IF NOT EXISTS ix_date (rid {int} NOT NULL, pid {int} NOT NULL, n {int} NOT NULL, lo {int} NOT NULL, hi {int} NOT NULL, {clustered};
CREATE TABLE IF NOT EXISTS ix_number (rid {int} NOT NULL, pid {int} NOT NULL, n {int} NOT NULL, num {real} NOT NULL, {clustered};
CREATE TABLE IF NOT EXISTS ix_quantity (rid {int} NOT NULL, pid {int} NOT NULL, n {int} NOT NULL, num {real} NOT NULL, system TEXT, code TEXT, {clustered};
CREATE TABLE IF NOT EXISTS ix_reference (rid {int} NOT NULL, pid {int} NOT NULL, n {int} NOT NULL, rtype TEXT, id TEXT, url TEXT, isys TEXT, ival TEXT, {clustered};
CREATE TABLE IF NOT EXISTS ix_uri (rid {int} NOT NULL, pid {int} NOT NULL, n {int} NOT NULL, value TEXT NOT NULL, {clustered};
CREATE TABLE IF NOT EXISTS ix_composite (rid {int} NOT NULL, pid {int} NOT NULL, n {int} NOT NULL,
  a_system TEXT, a_code TEXT, a_num {real}, a_lo {int}, a_hi {int}, a_text TEXT,
  b_system TEXT, b_code TEXT, b_num {real}, b_lo {int}, b_hi {int}, b_text TEXT, {clustered};"
    )
}

/// Secondary indexes: created after the tables (and, for bulk loads into an empty store,
/// after the data).
pub(crate) const INDEXES: &str = "
CREATE INDEX IF NOT EXISTS compartment_patient ON compartment (patient, seq);
CREATE UNIQUE INDEX IF NOT EXISTS audit_log_id ON audit_log (id);
CREATE INDEX IF NOT EXISTS audit_log_recorded ON audit_log (recorded);
CREATE INDEX IF NOT EXISTS ix_string_v ON ix_string (pid, text);
CREATE INDEX IF NOT EXISTS ix_token_v ON ix_token (pid, code, system);
CREATE INDEX IF NOT EXISTS ix_date_v ON ix_date (pid, lo);
CREATE INDEX IF NOT EXISTS ix_number_v ON ix_number (pid, num);
CREATE INDEX IF NOT EXISTS ix_quantity_v ON ix_quantity (pid, num);
CREATE INDEX IF NOT EXISTS ix_reference_v ON ix_reference (pid, id, rtype);
CREATE INDEX IF NOT EXISTS ix_reference_u ON ix_reference (pid, url);
CREATE INDEX IF NOT EXISTS ix_uri_v ON ix_uri (pid, value);
CREATE INDEX IF NOT EXISTS ix_composite_v ON ix_composite (pid, a_code, b_code);
";

/// The index tables, for deleting a resource's rows.
pub(crate) const INDEX_TABLES: [&str; 8] = [
    "ix_string",
    "ix_token",
    "ix_date",
    "ix_number",
    "ix_quantity",
    "ix_reference",
    "ix_uri",
    "ix_composite",
];

/// Interned search-parameter ids, loaded at open: (type, code) → pid.
#[derive(Debug, Default, Clone)]
pub(crate) struct ParamIds {
    map: HashMap<(String, String), i64>,
}

impl ParamIds {
    /// Every (type, code) of the registry with a stable id: existing ids are kept, new
    /// parameters get the next free ids. Returns the rows to insert.
    pub(crate) fn assign(
        existing: Vec<(i64, String, String)>,
        registry: &Registry,
    ) -> (ParamIds, Vec<(i64, String, String)>) {
        let mut map = HashMap::new();
        let mut next = 1;
        for (pid, t, c) in existing {
            next = next.max(pid + 1);
            map.insert((t, c), pid);
        }
        let mut new_rows = Vec::new();
        let mut types: Vec<&str> = registry.resource_types().collect();
        types.sort_unstable();
        for t in types {
            for p in registry.params_for(t) {
                let key = (t.to_string(), p.code.clone());
                if !map.contains_key(&key) {
                    map.insert(key.clone(), next);
                    new_rows.push((next, key.0, key.1));
                    next += 1;
                }
            }
        }
        (ParamIds { map }, new_rows)
    }

    pub(crate) fn get(&self, rtype: &str, code: &str) -> Option<i64> {
        self.map
            .get(&(rtype.to_string(), code.to_string()))
            .copied()
    }
}

/// One row for an index table: table name and its values in column order after (rid, pid).
pub(crate) fn index_row(v: &IndexValue) -> Option<(&'static str, Vec<Arg>)> {
    use Arg::*;
    let t = |s: &Option<String>| s.clone().map(Text).unwrap_or(Null);
    Some(match v {
        IndexValue::String { norm, exact } => {
            ("ix_string", vec![Text(norm.clone()), Text(exact.clone())])
        }
        IndexValue::Token { system, code, text } => (
            "ix_token",
            vec![
                t(system),
                t(code),
                text.as_deref()
                    .map(|x| Text(normalize_string(x)))
                    .unwrap_or(Null),
            ],
        ),
        IndexValue::Date { lo, hi } => ("ix_date", vec![Int(*lo), Int(*hi)]),
        IndexValue::Number { value } => ("ix_number", vec![Real(*value)]),
        IndexValue::Quantity {
            value,
            system,
            code,
            unit,
        } => (
            "ix_quantity",
            vec![
                Real(*value),
                t(system),
                t(&code.clone().or_else(|| unit.clone())),
            ],
        ),
        IndexValue::Reference {
            rtype,
            id,
            url,
            identifier,
        } => (
            "ix_reference",
            vec![
                t(rtype),
                t(id),
                t(url),
                identifier.as_ref().map(|(s, _)| t(s)).unwrap_or(Null),
                identifier
                    .as_ref()
                    .map(|(_, v)| Text(v.clone()))
                    .unwrap_or(Null),
            ],
        ),
        IndexValue::Uri { value } => ("ix_uri", vec![Text(value.clone())]),
        IndexValue::Composite(parts) => {
            if parts.len() != 2 {
                return None;
            }
            let mut args = component_args(&parts[0]);
            args.extend(component_args(&parts[1]));
            ("ix_composite", args)
        }
    })
}

/// (system, code, num, lo, hi, text) of one composite component.
fn component_args(v: &IndexValue) -> Vec<Arg> {
    use Arg::*;
    let t = |s: &Option<String>| s.clone().map(Text).unwrap_or(Null);
    match v {
        IndexValue::Token { system, code, .. } => vec![t(system), t(code), Null, Null, Null, Null],
        IndexValue::Quantity {
            value,
            system,
            code,
            unit,
        } => {
            vec![
                t(system),
                t(&code.clone().or_else(|| unit.clone())),
                Real(*value),
                Null,
                Null,
                Null,
            ]
        }
        IndexValue::Number { value } => vec![Null, Null, Real(*value), Null, Null, Null],
        IndexValue::Date { lo, hi } => vec![Null, Null, Null, Int(*lo), Int(*hi), Null],
        IndexValue::String { norm, .. } => vec![Null, Null, Null, Null, Null, Text(norm.clone())],
        IndexValue::Uri { value } => vec![Null, Null, Null, Null, Null, Text(value.clone())],
        IndexValue::Reference { rtype, id, .. } => vec![t(rtype), t(id), Null, Null, Null, Null],
        IndexValue::Composite(_) => vec![Null, Null, Null, Null, Null, Null],
    }
}

/// What a compiled search returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// rid, rtype, id, body of one page (limit = count + 1 to detect a next page).
    Page,
    /// rtype, id of up to `limit` matches (conditional operations).
    Keys(usize),
    /// COUNT(*).
    Count,
}

/// A compiled statement.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Stmt {
    pub(crate) sql: String,
    pub(crate) args: Vec<Arg>,
}

/// `?` → `$n` (arguments are always bound, so `?` never occurs inside literals).
pub(crate) fn renumber(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(c);
        }
    }
    out
}

struct Builder<'a> {
    pids: &'a ParamIds,
    access: &'a Access,
    args: Vec<Arg>,
    alias_n: usize,
}

impl Builder<'_> {
    fn arg(&mut self, a: Arg) -> &'static str {
        self.args.push(a);
        "?"
    }
    fn text(&mut self, s: &str) -> &'static str {
        self.arg(Arg::Text(s.to_string()))
    }
    fn alias(&mut self) -> String {
        self.alias_n += 1;
        format!("x{}", self.alias_n)
    }
    /// The caller's reach on alias `t` (` AND ...`, or nothing).
    fn reach(&mut self, t: &str, types: Types<'_>) -> String {
        match crate::reach_sql::condition(self.access, t, types, &mut self.args) {
            Some(c) => format!(" AND {c}"),
            None => String::new(),
        }
    }
    fn pid(&self, p: &SearchParam) -> i64 {
        // Unknown to the schema: -1 matches nothing.
        self.pids.get(&p.resource_type, &p.code).unwrap_or(-1)
    }
}

/// Compile a search to SQL, limited to what `access` reaches.
pub(crate) fn compile(q: &SearchQuery, pids: &ParamIds, access: &Access, shape: Shape) -> Stmt {
    let mut b = Builder {
        pids,
        access,
        args: Vec::new(),
        alias_n: 0,
    };
    let mut filters: Vec<&Filter> = q.filters.iter().collect();
    filters.sort_by_key(|f| selectivity_rank(f));
    let mut conds = Vec::new();
    let rt = b.text(&q.resource_type);
    conds.push(format!("r.rtype = {rt}"));
    conds.push("r.deleted = 0".to_string());
    for (i, f) in filters.iter().enumerate() {
        conds.push(filter_sql(&mut b, f, "r", i == 0));
    }
    if let Some(c) = condition(access, "r", Types::One(&q.resource_type), &mut b.args) {
        conds.push(c);
    }
    let where_sql = conds.join(" AND ");
    match shape {
        Shape::Count => Stmt { sql: format!("SELECT COUNT(*) FROM resource r WHERE {where_sql}"), args: b.args },
        Shape::Keys(limit) => Stmt {
            sql: format!("SELECT r.rtype, r.id FROM resource r WHERE {where_sql} ORDER BY r.rid LIMIT {limit}"),
            args: b.args,
        },
        Shape::Page => {
            let order = order_sql(&mut b, &q.sort);
            let limit = q.count + 1;
            let offset = q.offset;
            Stmt {
                sql: format!(
                    "SELECT r.rid, r.rtype, r.id, v.body, v.patients FROM resource r JOIN resource_version v ON v.seq = r.seq \
                     WHERE {where_sql} ORDER BY {order} LIMIT {limit} OFFSET {offset}"
                ),
                args: b.args,
            }
        }
    }
}

/// Lower runs first: the first filter drives the query through its value index.
fn selectivity_rank(f: &Filter) -> u8 {
    match f {
        Filter::Id(_) | Filter::PatientCompartment(_) => 0,
        Filter::Param {
            param, modifier, ..
        } => match (param.kind, modifier) {
            (_, Some(Modifier::Missing | Modifier::Not)) => 9,
            (ParamType::Reference, _) => 1,
            (ParamType::Token, _) if param.code == "identifier" => 1,
            (ParamType::String | ParamType::Uri, _) => 2,
            (ParamType::Composite, _) => 3,
            (ParamType::Token, _) => 4,
            _ => 5,
        },
        Filter::Chain { .. } => 2,
        Filter::Has { .. } => 6,
        Filter::LastUpdated(_) => 7,
    }
}

fn order_sql(b: &mut Builder<'_>, sort: &[Sort]) -> String {
    let mut keys = Vec::new();
    for s in sort {
        let dir = if s.descending { "DESC" } else { "ASC" };
        let expr = match &s.key {
            SortKey::Id => "r.id".to_string(),
            SortKey::LastUpdated => "r.lastupd".to_string(),
            SortKey::Param(p) => {
                let (table, col) = match p.kind {
                    ParamType::Date => ("ix_date", if s.descending { "hi" } else { "lo" }),
                    ParamType::String => ("ix_string", "text"),
                    ParamType::Token => ("ix_token", "code"),
                    ParamType::Number => ("ix_number", "num"),
                    ParamType::Quantity => ("ix_quantity", "num"),
                    ParamType::Reference => ("ix_reference", "id"),
                    ParamType::Uri => ("ix_uri", "value"),
                    ParamType::Composite | ParamType::Special => continue,
                };
                let agg = if s.descending { "MAX" } else { "MIN" };
                let pid = b.arg(Arg::Int(b.pid(p)));
                format!(
                    "(SELECT {agg}(s.{col}) FROM {table} s WHERE s.rid = r.rid AND s.pid = {pid})"
                )
            }
        };
        keys.push(format!("{expr} {dir} NULLS LAST"));
    }
    keys.push("r.rid ASC".to_string());
    keys.join(", ")
}

fn table_of(kind: ParamType) -> &'static str {
    match kind {
        ParamType::String => "ix_string",
        ParamType::Token => "ix_token",
        ParamType::Date => "ix_date",
        ParamType::Number => "ix_number",
        ParamType::Quantity => "ix_quantity",
        ParamType::Reference => "ix_reference",
        ParamType::Uri => "ix_uri",
        ParamType::Composite | ParamType::Special => "ix_composite",
    }
}

/// SQL for one filter on the resource alias `r` (driver: as `rid IN (...)`).
fn filter_sql(b: &mut Builder<'_>, f: &Filter, r: &str, driver: bool) -> String {
    match f {
        Filter::Id(ids) => {
            let list: Vec<&str> = ids.iter().map(|id| b.text(id)).collect();
            format!("{r}.id IN ({})", list.join(", "))
        }
        // The compartment rows the writer placed with each version (`compartment.rs`); the
        // resource's current version is the one that counts.
        Filter::PatientCompartment(patient) => {
            let x = b.alias();
            let p = b.text(patient);
            if driver {
                format!("{r}.seq IN (SELECT {x}.seq FROM compartment {x} WHERE {x}.patient = {p})")
            } else {
                format!("EXISTS (SELECT 1 FROM compartment {x} WHERE {x}.seq = {r}.seq AND {x}.patient = {p})")
            }
        }
        Filter::LastUpdated(values) => {
            let parts: Vec<String> = values
                .iter()
                .map(|v| match v {
                    Value::Date { prefix, lo, hi } => date_cond(
                        &mut b.args,
                        *prefix,
                        *lo,
                        *hi,
                        &format!("{r}.lastupd"),
                        &format!("{r}.lastupd"),
                    ),
                    _ => "1=0".to_string(),
                })
                .collect();
            format!("({})", parts.join(" OR "))
        }
        Filter::Param {
            param,
            modifier,
            values,
        } => {
            let table = table_of(param.kind);
            let x = b.alias();
            if let [Value::Missing(missing)] = values.as_slice() {
                let pid = b.arg(Arg::Int(b.pid(param)));
                let not = if *missing { "NOT " } else { "" };
                return format!("{not}EXISTS (SELECT 1 FROM {table} {x} WHERE {x}.rid = {r}.rid AND {x}.pid = {pid})");
            }
            if modifier == &Some(Modifier::Not) {
                let pid = b.arg(Arg::Int(b.pid(param)));
                let ors: Vec<String> = values
                    .iter()
                    .map(|v| value_cond(b, param, None, v, &x))
                    .collect();
                return format!(
                    "NOT EXISTS (SELECT 1 FROM {table} {x} WHERE {x}.rid = {r}.rid AND {x}.pid = {pid} AND ({}))",
                    ors.join(" OR ")
                );
            }
            let pid_val = b.pid(param);
            if driver {
                let pid = b.arg(Arg::Int(pid_val));
                let ors: Vec<String> = values
                    .iter()
                    .map(|v| value_cond(b, param, modifier.as_ref(), v, &x))
                    .collect();
                format!(
                    "{r}.rid IN (SELECT {x}.rid FROM {table} {x} WHERE {x}.pid = {pid} AND ({}))",
                    ors.join(" OR ")
                )
            } else {
                let pid = b.arg(Arg::Int(pid_val));
                let ors: Vec<String> = values
                    .iter()
                    .map(|v| value_cond(b, param, modifier.as_ref(), v, &x))
                    .collect();
                format!(
                    "EXISTS (SELECT 1 FROM {table} {x} WHERE {x}.rid = {r}.rid AND {x}.pid = {pid} AND ({}))",
                    ors.join(" OR ")
                )
            }
        }
        Filter::Chain { param, targets } => {
            let mut alts = Vec::new();
            for (target_type, inner) in targets {
                let x = b.alias();
                let t = b.alias();
                let pid = b.arg(Arg::Int(b.pid(param)));
                let tt = b.text(target_type);
                let inner_sql = filter_sql(b, inner, &t, false);
                let reach = b.reach(&t, Types::One(target_type));
                alts.push(format!(
                    "{r}.rid IN (SELECT {x}.rid FROM {t_table} {t} JOIN ix_reference {x} ON {x}.id = {t}.id AND {x}.rtype = {t}.rtype \
                     WHERE {x}.pid = {pid} AND {t}.rtype = {tt} AND {t}.deleted = 0 AND {inner_sql}{reach})",
                    t_table = "resource"
                ));
            }
            format!("({})", alts.join(" OR "))
        }
        Filter::Has {
            source_type,
            param,
            inner,
        } => {
            let x = b.alias();
            let s = b.alias();
            let pid = b.arg(Arg::Int(b.pid(param)));
            let st = b.text(source_type);
            let inner_sql = filter_sql(b, inner, &s, false);
            let reach = b.reach(&s, Types::One(source_type));
            format!(
                "EXISTS (SELECT 1 FROM ix_reference {x} JOIN resource {s} ON {s}.rid = {x}.rid \
                 WHERE {x}.pid = {pid} AND {x}.id = {r}.id AND {x}.rtype = {r}.rtype AND {s}.rtype = {st} AND {s}.deleted = 0 AND {inner_sql}{reach})"
            )
        }
    }
}

/// The smallest string above every string starting with `prefix` (last character + 1).
fn prefix_upper(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    let last = chars.pop()?;
    let next = char::from_u32(last as u32 + 1)?;
    chars.push(next);
    Some(chars.into_iter().collect())
}

/// Escape `%`, `_` and `\` for LIKE ... ESCAPE '\'.
fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The condition one value puts on an index row `x` of the parameter's table.
fn value_cond(
    b: &mut Builder<'_>,
    param: &SearchParam,
    modifier: Option<&Modifier>,
    v: &Value,
    x: &str,
) -> String {
    match (param.kind, v) {
        (ParamType::String, Value::String(s)) => match modifier {
            Some(Modifier::Exact) => format!("{x}.exact = {}", b.text(s)),
            Some(Modifier::Contains) => {
                format!(
                    "{x}.text LIKE {} ESCAPE '\\'",
                    b.text(&format!("%{}%", like_escape(&normalize_string(s))))
                )
            }
            _ => {
                // A range on the index as well as the LIKE, so both databases can seek.
                let n = normalize_string(s);
                let like = b.text(&format!("{}%", like_escape(&n)));
                match prefix_upper(&n) {
                    Some(upper) => {
                        let lo = b.text(&n);
                        let hi = b.text(&upper);
                        format!("({x}.text LIKE {like} ESCAPE '\\' AND {x}.text >= {lo} AND {x}.text < {hi})")
                    }
                    None => format!("{x}.text LIKE {like} ESCAPE '\\'"),
                }
            }
        },
        (ParamType::Token, Value::String(s)) => {
            // :text: a word of the display / text starts with the value.
            let n = like_escape(&normalize_string(s));
            let a = b.text(&format!("{n}%"));
            let c = b.text(&format!("% {n}%"));
            format!("({x}.text LIKE {a} ESCAPE '\\' OR {x}.text LIKE {c} ESCAPE '\\')")
        }
        (ParamType::Token, Value::Token { system, code }) => token_cond(
            b,
            system,
            code,
            &format!("{x}.system"),
            &format!("{x}.code"),
        ),
        (ParamType::Date, Value::Date { prefix, lo, hi }) => date_cond(
            &mut b.args,
            *prefix,
            *lo,
            *hi,
            &format!("{x}.lo"),
            &format!("{x}.hi"),
        ),
        (
            ParamType::Number,
            Value::Number {
                prefix,
                value,
                lo,
                hi,
            },
        ) => num_cond(b, *prefix, *value, *lo, *hi, &format!("{x}.num")),
        (
            ParamType::Quantity,
            Value::Quantity {
                prefix,
                value,
                lo,
                hi,
                system,
                code,
            },
        ) => {
            let mut c = num_cond(b, *prefix, *value, *lo, *hi, &format!("{x}.num"));
            if let Some(s) = system {
                c = format!("{c} AND {x}.system = {}", b.text(s));
            }
            if let Some(code) = code {
                c = format!("{c} AND {x}.code = {}", b.text(code));
            }
            format!("({c})")
        }
        (ParamType::Reference, Value::Reference { rtype, id, url }) => {
            let mut alts = Vec::new();
            if let Some(id) = id {
                let mut c = format!("{x}.id = {}", b.text(id));
                let t = rtype.clone().or_else(|| match modifier {
                    Some(Modifier::Type(t)) => Some(t.clone()),
                    _ => None,
                });
                if let Some(t) = t {
                    c = format!("{c} AND {x}.rtype = {}", b.text(&t));
                }
                alts.push(format!("({c})"));
            }
            if let Some(u) = url {
                alts.push(format!("{x}.url = {}", b.text(u)));
                // A canonical URL searched without a version matches references to any of
                // its versions (`url|version`, FHIR R4 search, canonical references).
                if !u.contains('|') && !u.starts_with("urn:") {
                    alts.push(format!(
                        "{x}.url LIKE {} ESCAPE '\\'",
                        b.text(&format!("{}|%", like_escape(u)))
                    ));
                }
            }
            if alts.is_empty() {
                "1=0".to_string()
            } else {
                format!("({})", alts.join(" OR "))
            }
        }
        (ParamType::Reference, Value::Identifier { system, value }) => {
            let mut c = format!("{x}.ival = {}", b.text(value));
            if let Some(s) = system {
                c = format!("{c} AND {x}.isys = {}", b.text(s));
            }
            format!("({c})")
        }
        (ParamType::Uri, Value::Uri(u)) => match modifier {
            Some(Modifier::Below) => format!(
                "{x}.value LIKE {} ESCAPE '\\'",
                b.text(&format!("{}%", like_escape(u)))
            ),
            Some(Modifier::Above) => {
                let a = b.text(u);
                format!("{a} LIKE ({x}.value || '%')")
            }
            Some(Modifier::Contains) => format!(
                "{x}.value LIKE {} ESCAPE '\\'",
                b.text(&format!("%{}%", like_escape(u)))
            ),
            _ => format!("{x}.value = {}", b.text(u)),
        },
        (ParamType::Composite, Value::Composite(parts)) if parts.len() == 2 => {
            let a = component_cond(b, &parts[0], x, "a");
            let c = component_cond(b, &parts[1], x, "b");
            format!("({a} AND {c})")
        }
        _ => "1=0".to_string(),
    }
}

fn component_cond(b: &mut Builder<'_>, v: &Value, x: &str, p: &str) -> String {
    match v {
        Value::Token { system, code } => token_cond(
            b,
            system,
            code,
            &format!("{x}.{p}_system"),
            &format!("{x}.{p}_code"),
        ),
        Value::Quantity {
            prefix,
            value,
            lo,
            hi,
            system,
            code,
        } => {
            let mut c = num_cond(b, *prefix, *value, *lo, *hi, &format!("{x}.{p}_num"));
            if let Some(s) = system {
                c = format!("{c} AND {x}.{p}_system = {}", b.text(s));
            }
            if let Some(code) = code {
                c = format!("{c} AND {x}.{p}_code = {}", b.text(code));
            }
            format!("({c})")
        }
        Value::Number {
            prefix,
            value,
            lo,
            hi,
        } => num_cond(b, *prefix, *value, *lo, *hi, &format!("{x}.{p}_num")),
        Value::Date { prefix, lo, hi } => date_cond(
            &mut b.args,
            *prefix,
            *lo,
            *hi,
            &format!("{x}.{p}_lo"),
            &format!("{x}.{p}_hi"),
        ),
        Value::String(s) => {
            format!(
                "{x}.{p}_text LIKE {} ESCAPE '\\'",
                b.text(&format!("{}%", like_escape(&normalize_string(s))))
            )
        }
        Value::Uri(u) => format!("{x}.{p}_text = {}", b.text(u)),
        Value::Reference { rtype, id, .. } => {
            let mut c = format!("{x}.{p}_code = {}", b.text(id.as_deref().unwrap_or("")));
            if let Some(t) = rtype {
                c = format!("{c} AND {x}.{p}_system = {}", b.text(t));
            }
            format!("({c})")
        }
        _ => "1=0".to_string(),
    }
}

fn token_cond(
    b: &mut Builder<'_>,
    system: &Option<Option<String>>,
    code: &Option<String>,
    scol: &str,
    ccol: &str,
) -> String {
    let mut parts = Vec::new();
    if let Some(c) = code {
        parts.push(format!("{ccol} = {}", b.text(c)));
    }
    match system {
        None => {}
        Some(None) => parts.push(format!("{scol} IS NULL")),
        Some(Some(s)) => parts.push(format!("{scol} = {}", b.text(s))),
    }
    if parts.is_empty() {
        "1=1".to_string()
    } else {
        format!("({})", parts.join(" AND "))
    }
}

fn arg(args: &mut Vec<Arg>, a: Arg) -> &'static str {
    args.push(a);
    "?"
}

/// Date comparison of the resource range [lo_col, hi_col] with the search range [lo, hi]
/// (<https://hl7.org/fhir/R4/search.html#prefix>).
pub(crate) fn date_cond(
    args: &mut Vec<Arg>,
    prefix: Prefix,
    lo: i64,
    hi: i64,
    lo_col: &str,
    hi_col: &str,
) -> String {
    match prefix {
        Prefix::Eq => {
            let (a, c) = (arg(args, Arg::Int(lo)), arg(args, Arg::Int(hi)));
            format!("({lo_col} >= {a} AND {hi_col} <= {c})")
        }
        Prefix::Ne => {
            let (a, c) = (arg(args, Arg::Int(lo)), arg(args, Arg::Int(hi)));
            format!("({lo_col} < {a} OR {hi_col} > {c})")
        }
        Prefix::Gt => format!("{hi_col} > {}", arg(args, Arg::Int(hi))),
        Prefix::Lt => format!("{lo_col} < {}", arg(args, Arg::Int(lo))),
        Prefix::Ge => format!("{hi_col} >= {}", arg(args, Arg::Int(lo))),
        Prefix::Le => format!("{lo_col} <= {}", arg(args, Arg::Int(hi))),
        Prefix::Sa => format!("{lo_col} > {}", arg(args, Arg::Int(hi))),
        Prefix::Eb => format!("{hi_col} < {}", arg(args, Arg::Int(lo))),
        Prefix::Ap => {
            // Approximately: within 10 % of the range's width, at least a day either side.
            let slack = ((hi - lo) / 10).max(86_400_000);
            let (a, c) = (
                arg(args, Arg::Int(lo.saturating_sub(slack))),
                arg(args, Arg::Int(hi.saturating_add(slack))),
            );
            format!("({hi_col} >= {a} AND {lo_col} <= {c})")
        }
    }
}

/// Number comparison (<https://hl7.org/fhir/R4/search.html#number>): `eq` means within
/// the precision range of the given value.
fn num_cond(
    b: &mut Builder<'_>,
    prefix: Prefix,
    value: f64,
    lo: f64,
    hi: f64,
    col: &str,
) -> String {
    match prefix {
        Prefix::Eq => {
            let (a, c) = (b.arg(Arg::Real(lo)), b.arg(Arg::Real(hi)));
            format!("({col} >= {a} AND {col} < {c})")
        }
        Prefix::Ne => {
            let (a, c) = (b.arg(Arg::Real(lo)), b.arg(Arg::Real(hi)));
            format!("({col} < {a} OR {col} >= {c})")
        }
        Prefix::Gt | Prefix::Sa => format!("{col} > {}", b.arg(Arg::Real(value))),
        Prefix::Lt | Prefix::Eb => format!("{col} < {}", b.arg(Arg::Real(value))),
        Prefix::Ge => format!("{col} >= {}", b.arg(Arg::Real(value))),
        Prefix::Le => format!("{col} <= {}", b.arg(Arg::Real(value))),
        Prefix::Ap => {
            let slack = (value.abs() * 0.1).max(hi - lo);
            let (a, c) = (
                b.arg(Arg::Real(value - slack)),
                b.arg(Arg::Real(value + slack)),
            );
            format!("({col} >= {a} AND {col} <= {c})")
        }
    }
}

/// SQL for `_include`: the targets of `param` references from the resources `rids`, as
/// far as `access` reaches.
pub(crate) fn include_stmt(
    access: &Access,
    pid: Option<Vec<i64>>,
    target_type: Option<&str>,
    rids: &[i64],
) -> Stmt {
    let mut args = Vec::new();
    let rid_list = rids.iter().map(|_| "?").collect::<Vec<_>>().join(", ");
    args.extend(rids.iter().map(|r| Arg::Int(*r)));
    let mut sql = format!(
        "SELECT DISTINCT t.rid, t.rtype, t.id, v.body, v.patients FROM ix_reference x \
         JOIN resource t ON t.rtype = x.rtype AND t.id = x.id JOIN resource_version v ON v.seq = t.seq \
         WHERE t.deleted = 0 AND x.rid IN ({rid_list})"
    );
    if let Some(pids) = pid {
        sql.push_str(&format!(
            " AND x.pid IN ({})",
            pids.iter().map(|_| "?").collect::<Vec<_>>().join(", ")
        ));
        args.extend(pids.into_iter().map(Arg::Int));
    }
    if let Some(t) = target_type {
        sql.push_str(" AND t.rtype = ?");
        args.push(Arg::Text(t.to_string()));
    }
    if let Some(c) = condition(access, "t", Types::Any, &mut args) {
        sql.push_str(&format!(" AND {c}"));
    }
    Stmt { sql, args }
}

/// SQL for `_revinclude`: resources whose `pids` references point at `targets` (type, id),
/// as far as `access` reaches.
pub(crate) fn revinclude_stmt(
    access: &Access,
    pids: Vec<i64>,
    targets: &[(String, String)],
) -> Stmt {
    let mut args = Vec::new();
    let pid_list = pids.iter().map(|_| "?").collect::<Vec<_>>().join(", ");
    args.extend(pids.into_iter().map(Arg::Int));
    let mut alts = Vec::new();
    for (t, id) in targets {
        alts.push("(x.id = ? AND x.rtype = ?)");
        args.push(Arg::Text(id.clone()));
        args.push(Arg::Text(t.clone()));
    }
    let mut sql = format!(
        "SELECT DISTINCT s.rid, s.rtype, s.id, v.body, v.patients FROM ix_reference x \
         JOIN resource s ON s.rid = x.rid JOIN resource_version v ON v.seq = s.seq \
         WHERE s.deleted = 0 AND x.pid IN ({pid_list}) AND ({})",
        if alts.is_empty() {
            "1=0".to_string()
        } else {
            alts.join(" OR ")
        }
    );
    if let Some(c) = condition(access, "s", Types::Any, &mut args) {
        sql.push_str(&format!(" AND {c}"));
    }
    Stmt { sql, args }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renumbers_placeholders() {
        assert_eq!(
            renumber("a = ? AND b IN (?, ?)"),
            "a = $1 AND b IN ($2, $3)"
        );
    }

    #[test]
    fn like_values_are_escaped() {
        assert_eq!(like_escape("50%_a\\"), "50\\%\\_a\\\\");
    }
}
