//! The audit trail's storage: an append-only log, not indexed FHIR resources.
//!
//! A FHIR resource costs its version row, its current-version row, its compartment rows and
//! some forty search-index rows; an audit trail records one event per request, so it would
//! cost more than the reads it records. Here an AuditEvent is one row of `audit_log` (its
//! position, id, `recorded`, commit time, JSON body and patients) and a few rows of
//! `audit_term` (`audit_terms.rs`: what it can be searched by). Positions are assigned in
//! commit order under the database's write lock, so the log's order is the chain's order
//! (`audit.rs`) for every process writing to one database.
//!
//! The FHIR API is the same as for any resource: read, vread (version 1), instance and type
//! history, search (the parameters of [`audit_terms`]), `_include` from AuditEvents and
//! `_revinclude=AuditEvent:…` onto other resources, `_summary=count`; create and update
//! (as create) by other systems. AuditEvents are not in the change log, the system history
//! or a patient's `$everything`: they are a record about the record.
//!
//! Access: the audit trail is read hospital-wide by those whose role may read AuditEvents
//! (the privacy officer), and by Tend itself. A caller who may read the type but would need
//! relationships to reach patients (no role today) is shown no events in searches, and a
//! read by id is decided with the event's patients like any resource.

use std::collections::HashSet;

use access::Access;
use search::{Include, SearchQuery, SortKey, Summary, Total};
use serde_json::Value;

use crate::audit_terms::{self, Condition, Facts, Term};
use crate::compartment;
use crate::conn::{Cell, Conn};
use crate::error::StoreError;
use crate::model::{HistoryQuery, HistoryScope, Hit, Op, SearchPage, Version};
use crate::reach_sql::{self, Types};
use crate::sql::{self, Arg, Stmt};

/// The type the log holds.
pub(crate) const TYPE: &str = "AuditEvent";

/// The most AuditEvents one `_revinclude` may add to a page: past it the request is refused
/// (with the search to run instead), not cut short.
pub(crate) const MAX_REVINCLUDED: usize = 1_000;

/// An AuditEvent Tend records, waiting for the next group commit, with what the recording
/// caller's thread computed ahead (the chain link changes neither): the text its hash covers
/// and its searchable facts.
pub(crate) struct Pending {
    pub(crate) event: Value,
    pub(crate) canonical: String,
    pub(crate) facts: Facts,
}

impl Pending {
    pub(crate) fn new(event: Value) -> Pending {
        Pending {
            canonical: crate::audit::canonical(&event),
            facts: audit_terms::facts(&event),
            event,
        }
    }
}

/// One row to append.
struct Row {
    pos: i64,
    id: String,
    recorded: Option<i64>,
    body: String,
    patients: Vec<String>,
    terms: Vec<String>,
}

const COLS: &str = "l.pos, l.id, l.lastupd, l.body, l.patients";

/// (pos, id, lastupd, body, patients) rows.
struct Read {
    pos: i64,
    id: String,
    last_updated: i64,
    body: String,
    patients: Vec<String>,
}

fn rows(cells: Vec<Vec<Cell>>) -> Vec<Read> {
    cells
        .into_iter()
        .map(|r| {
            let mut it = r.into_iter();
            Read {
                pos: it.next().map(|c| c.int()).unwrap_or_default(),
                id: it.next().and_then(Cell::text).unwrap_or_default(),
                last_updated: it.next().map(|c| c.int()).unwrap_or_default(),
                body: it.next().and_then(Cell::text).unwrap_or_default(),
                patients: compartment::decode(it.next().and_then(Cell::text).as_deref()),
            }
        })
        .collect()
}

impl Read {
    fn version(self) -> Version {
        Version {
            rtype: TYPE.into(),
            id: self.id,
            version: 1,
            last_updated: self.last_updated,
            op: Op::Create,
            body: Some(self.body),
            seq: 0,
            patients: self.patients,
            restricted: false,
            shared: None,
        }
    }

    fn hit(self) -> Hit {
        Hit {
            rtype: TYPE.into(),
            id: self.id,
            body: self.body,
            patients: self.patients,
        }
    }
}

/// Whether `access` sees the whole audit trail (searches show it nothing otherwise).
fn sees_trail(access: &Access) -> bool {
    access.may_type(TYPE, false) && access.reaches_all(TYPE)
}

// ---- writing ----------------------------------------------------------------------------

/// The next free position (the writer holds the database's write lock).
fn next_pos(conn: &mut dyn Conn) -> Result<i64, StoreError> {
    Ok(conn
        .scalar("SELECT COALESCE(MAX(pos), 0) + 1 FROM audit_log", &[])?
        .unwrap_or(1))
}

/// Which of `ids` the log already holds.
fn taken(conn: &mut dyn Conn, ids: &[&str]) -> Result<HashSet<String>, StoreError> {
    let mut out = HashSet::new();
    for chunk in ids.chunks(500) {
        let sql = format!(
            "SELECT id FROM audit_log WHERE id IN ({})",
            vec!["?"; chunk.len()].join(", ")
        );
        let args: Vec<Arg> = chunk.iter().map(|i| Arg::Text(i.to_string())).collect();
        for r in conn.query(&sql, &args)? {
            out.extend(r.into_iter().next().and_then(Cell::text));
        }
    }
    Ok(out)
}

/// Append rows and their terms: a few multi-row statements for a whole group.
fn insert(conn: &mut dyn Conn, now: i64, rows: &[Row]) -> Result<(), StoreError> {
    for chunk in rows.chunks(100) {
        let sql = format!(
            "INSERT INTO audit_log (pos, id, recorded, lastupd, body, patients) VALUES {}",
            vec!["(?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ")
        );
        let mut args = Vec::with_capacity(chunk.len() * 6);
        for r in chunk {
            args.extend([
                Arg::Int(r.pos),
                Arg::Text(r.id.clone()),
                r.recorded.map(Arg::Int).unwrap_or(Arg::Null),
                Arg::Int(now),
                Arg::Text(r.body.clone()),
                compartment::encode(&r.patients)
                    .map(Arg::Text)
                    .unwrap_or(Arg::Null),
            ]);
        }
        conn.exec(&sql, &args)?;
    }
    let terms: Vec<(&str, i64)> = rows
        .iter()
        .flat_map(|r| r.terms.iter().map(move |t| (t.as_str(), r.pos)))
        .collect();
    for chunk in terms.chunks(400) {
        let sql = format!(
            "INSERT INTO audit_term (term, pos) VALUES {}",
            vec!["(?, ?)"; chunk.len()].join(", ")
        );
        let args: Vec<Arg> = chunk
            .iter()
            .flat_map(|(t, p)| [Arg::Text(t.to_string()), Arg::Int(*p)])
            .collect();
        conn.exec(&sql, &args)?;
    }
    Ok(())
}

/// The stored text of an event: `id` and `meta` set, `resourceType`, `id`, `meta` first.
fn stamped(mut event: Value, id: &str, now: i64) -> Result<String, StoreError> {
    if let Some(o) = event.as_object_mut() {
        o.insert("id".into(), Value::String(id.into()));
        let meta = o
            .entry("meta")
            .or_insert_with(|| Value::Object(Default::default()));
        if let Some(m) = meta.as_object_mut() {
            m.insert("versionId".into(), Value::String("1".into()));
            m.insert(
                "lastUpdated".into(),
                Value::String(search::format_instant(now)),
            );
        }
    }
    serde_json::to_string(&crate::interaction::order_keys(event))
        .map_err(|e| StoreError::Database(e.to_string()))
}

/// Link a group's events into the chain after `head`, in order, and append them. An event
/// whose id the log already holds is refused on its own (logged; audit records are never
/// replaced) and costs no other its place. Returns the new head.
pub(crate) fn append_chained(
    conn: &mut dyn Conn,
    now: i64,
    events: Vec<Pending>,
    head: crate::audit::Head,
) -> Result<crate::audit::Head, StoreError> {
    let ids: Vec<String> = events
        .iter()
        .map(|p| p.event["id"].as_str().unwrap_or_default().to_string())
        .collect();
    let id_refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let mut taken = taken(conn, &id_refs)?;
    let mut pos = next_pos(conn)?;
    let mut head = head;
    let mut out = Vec::with_capacity(events.len());
    for (mut p, id) in events.into_iter().zip(ids) {
        if id.is_empty() || !taken.insert(id.clone()) {
            tracing::error!(
                "an audit event was refused: its id is already in the audit trail or empty"
            );
            continue;
        }
        head = crate::audit::link(&mut p.event, &p.canonical, &head);
        out.push(Row {
            pos,
            body: stamped(p.event, &id, now)?,
            id,
            recorded: p.facts.recorded,
            patients: p.facts.patients,
            terms: p.facts.terms,
        });
        pos += 1;
    }
    insert(conn, now, &out)?;
    Ok(head)
}

/// Append one AuditEvent another system sent (no chain link), under `id`; returns its
/// stored text. The caller checked that the id is free and that the writer may write it.
pub(crate) fn append_one(
    conn: &mut dyn Conn,
    now: i64,
    id: &str,
    event: Value,
) -> Result<(String, Vec<String>), StoreError> {
    let facts = audit_terms::facts(&event);
    let body = stamped(event, id, now)?;
    let pos = next_pos(conn)?;
    insert(
        conn,
        now,
        &[Row {
            pos,
            id: id.into(),
            recorded: facts.recorded,
            body: body.clone(),
            patients: facts.patients.clone(),
            terms: facts.terms,
        }],
    )?;
    Ok((body, facts.patients))
}

/// The patients an AuditEvent is about, for deciding its write before it is appended.
pub(crate) fn patients_of(event: &Value) -> Vec<String> {
    audit_terms::facts(event).patients
}

// ---- reading ----------------------------------------------------------------------------

/// The event stored under `id`, whoever may see it.
pub(crate) fn current(conn: &mut dyn Conn, id: &str) -> Result<Option<Version>, StoreError> {
    let found = rows(conn.query(
        &format!("SELECT {COLS} FROM audit_log l WHERE l.id = ?"),
        &[Arg::Text(id.into())],
    )?);
    Ok(found.into_iter().next().map(Read::version))
}

/// Up to `limit` events after position `after`, in append order, and the position to
/// continue from.
pub(crate) fn scan(
    conn: &mut dyn Conn,
    after: i64,
    limit: usize,
) -> Result<(Vec<Hit>, i64), StoreError> {
    let found = rows(conn.query(
        &format!("SELECT {COLS} FROM audit_log l WHERE l.pos > ? ORDER BY l.pos LIMIT {limit}"),
        &[Arg::Int(after)],
    )?);
    let next = found.last().map(|r| r.pos).unwrap_or(after);
    Ok((found.into_iter().map(Read::hit).collect(), next))
}

/// How many events the log holds.
pub(crate) fn count(conn: &mut dyn Conn) -> Result<usize, StoreError> {
    Ok(conn
        .scalar("SELECT COUNT(*) FROM audit_log", &[])?
        .map(|n| n as usize)
        .unwrap_or(0))
}

/// The newest linked event's (sequence, hash), for a database whose kept head is missing.
pub(crate) fn newest_link(conn: &mut dyn Conn) -> Result<Option<(i64, String)>, StoreError> {
    let found = rows(conn.query(
        &format!("SELECT {COLS} FROM audit_log l ORDER BY l.pos DESC LIMIT 1000"),
        &[],
    )?);
    Ok(found.into_iter().find_map(|r| {
        serde_json::from_str::<Value>(&r.body)
            .ok()
            .as_ref()
            .and_then(crate::audit::link_of)
            .map(|(s, _, h)| (s, h))
    }))
}

/// Instance or type history of AuditEvents, newest first, and the number in scope (an
/// event has one version).
pub(crate) fn history(
    conn: &mut dyn Conn,
    access: &Access,
    q: &HistoryQuery,
) -> Result<(Vec<Version>, usize), StoreError> {
    let mut conds = vec![if sees_trail(access) { "1=1" } else { "1=0" }.to_string()];
    let mut args = Vec::new();
    if let HistoryScope::Instance(_, id) = &q.scope {
        conds.push("l.id = ?".into());
        args.push(Arg::Text(id.clone()));
    }
    if let Some(since) = q.since {
        conds.push("l.lastupd >= ?".into());
        args.push(Arg::Int(since));
    }
    let where_sql = conds.join(" AND ");
    let total = conn
        .scalar(
            &format!("SELECT COUNT(*) FROM audit_log l WHERE {where_sql}"),
            &args,
        )?
        .map(|n| n as usize)
        .unwrap_or(0);
    let found = rows(conn.query(
        &format!(
            "SELECT {COLS} FROM audit_log l WHERE {where_sql} ORDER BY l.pos DESC LIMIT {} OFFSET {}",
            q.count, q.offset
        ),
        &args,
    )?);
    Ok((found.into_iter().map(Read::version).collect(), total))
}

/// What a compiled audit search returns.
enum Shape {
    Page,
    Keys(usize),
    Count,
}

/// `col` (a point in time) within any of `ranges`.
fn dates(args: &mut Vec<Arg>, ranges: Vec<(search::Prefix, i64, i64)>, col: &str) -> String {
    let parts: Vec<String> = ranges
        .into_iter()
        .map(|(p, lo, hi)| sql::date_cond(args, p, lo, hi, col, col))
        .collect();
    if parts.is_empty() {
        "1=0".to_string()
    } else {
        format!("({})", parts.join(" OR "))
    }
}

/// An audit-trail search as SQL over the log, or why it cannot be answered.
fn compile(q: &SearchQuery, access: &Access, shape: Shape) -> Result<Stmt, StoreError> {
    let mut args = Vec::new();
    let mut conds = vec![if sees_trail(access) { "1=1" } else { "1=0" }.to_string()];
    for f in &q.filters {
        let c = match audit_terms::condition(f)? {
            Condition::AnyTerm(terms) => {
                let mut alts = Vec::new();
                for t in terms {
                    match t {
                        Term::Exact(t) => {
                            args.push(Arg::Text(t));
                            alts.push("t.term = ?".to_string());
                        }
                        Term::Prefix(p) => {
                            args.push(Arg::Text(Term::upper(&p)));
                            args.push(Arg::Text(p));
                            alts.push("(t.term < ? AND t.term >= ?)".to_string());
                        }
                    }
                }
                format!(
                    "l.pos IN (SELECT t.pos FROM audit_term t WHERE {})",
                    alts.join(" OR ")
                )
            }
            Condition::Ids(ids) => {
                let marks = vec!["?"; ids.len()].join(", ");
                args.extend(ids.into_iter().map(Arg::Text));
                format!("l.id IN ({marks})")
            }
            Condition::Recorded(ranges) => dates(&mut args, ranges, "l.recorded"),
            Condition::LastUpdated(ranges) => dates(&mut args, ranges, "l.lastupd"),
        };
        conds.push(c);
    }
    let where_sql = conds.join(" AND ");
    Ok(match shape {
        Shape::Count => Stmt {
            sql: format!("SELECT COUNT(*) FROM audit_log l WHERE {where_sql}"),
            args,
        },
        Shape::Keys(limit) => Stmt {
            sql: format!(
                "SELECT CAST('AuditEvent' AS TEXT), l.id FROM audit_log l WHERE {where_sql} ORDER BY l.pos LIMIT {limit}"
            ),
            args,
        },
        Shape::Page => {
            let mut keys = Vec::new();
            for s in &q.sort {
                let col = match &s.key {
                    SortKey::Id => "l.id",
                    SortKey::LastUpdated => "l.pos",
                    SortKey::Param(p) if p.code == "date" => "l.recorded",
                    SortKey::Param(p) => {
                        return Err(StoreError::BadRequest(format!(
                            "the audit trail cannot be sorted by '{}': sort by date, _lastUpdated or _id",
                            p.code
                        )))
                    }
                };
                let dir = if s.descending { "DESC" } else { "ASC" };
                keys.push(format!("{col} {dir}"));
            }
            let tie = if q.sort.first().is_some_and(|s| s.descending) {
                "l.pos DESC"
            } else {
                "l.pos ASC"
            };
            keys.push(tie.to_string());
            Stmt {
                sql: format!(
                    "SELECT {COLS} FROM audit_log l WHERE {where_sql} ORDER BY {} LIMIT {} OFFSET {}",
                    keys.join(", "),
                    q.count + 1,
                    q.offset
                ),
                args,
            }
        }
    })
}

/// Run an audit-trail search: one page, its includes, and the total when asked.
pub(crate) fn search(
    conn: &mut dyn Conn,
    access: &Access,
    q: &SearchQuery,
) -> Result<SearchPage, StoreError> {
    let count_only = q.summary == Some(Summary::Count) || q.count == 0;
    let mut page = SearchPage::default();
    if !count_only {
        let stmt = compile(q, access, Shape::Page)?;
        let mut found = rows(conn.query(&stmt.sql, &stmt.args)?);
        page.has_more = found.len() > q.count;
        found.truncate(q.count);
        if q.total == Total::Unspecified && !page.has_more {
            page.total = Some(q.offset + found.len());
        }
        page.matches = found.into_iter().map(Read::hit).collect();
        page.included = included(conn, access, &q.include, &page.matches)?;
    }
    // Compiled even for a page: a filter the log cannot answer is refused either way.
    let count = compile(q, access, Shape::Count)?;
    if count_only || matches!(q.total, Total::Accurate | Total::Estimate) {
        let n = conn.scalar(&count.sql, &count.args)?.unwrap_or(0);
        page.total = Some(n as usize);
    }
    Ok(page)
}

/// (type, id) of up to `limit` events matching `q`, for conditional interactions.
pub(crate) fn keys(
    conn: &mut dyn Conn,
    access: &Access,
    q: &SearchQuery,
    limit: usize,
) -> Result<Vec<(String, String)>, StoreError> {
    let stmt = compile(q, access, Shape::Keys(limit))?;
    Ok(conn
        .query(&stmt.sql, &stmt.args)?
        .into_iter()
        .map(|r| {
            let mut it = r.into_iter();
            (
                it.next().and_then(Cell::text).unwrap_or_default(),
                it.next().and_then(Cell::text).unwrap_or_default(),
            )
        })
        .collect())
}

/// `_include=AuditEvent:…`: the resources the matched events reference, as far as `access`
/// reaches (`:iterate` goes no further than these).
fn included(
    conn: &mut dyn Conn,
    access: &Access,
    includes: &[Include],
    matches: &[Hit],
) -> Result<Vec<Hit>, StoreError> {
    let mut keys: Vec<(String, String)> = Vec::new();
    for inc in includes.iter().filter(|i| i.source_type == TYPE) {
        for h in matches {
            let Ok(v) = serde_json::from_str::<Value>(&h.body) else {
                continue;
            };
            keys.extend(
                audit_terms::references(&v, inc.param.as_deref())
                    .into_iter()
                    .filter(|(t, _)| inc.target_type.as_ref().is_none_or(|want| want == t)),
            );
        }
    }
    keys.sort();
    keys.dedup();
    let mut out = Vec::new();
    for chunk in keys.chunks(300) {
        let mut args = Vec::new();
        let alts: Vec<&str> = chunk
            .iter()
            .map(|(t, id)| {
                args.push(Arg::Text(t.clone()));
                args.push(Arg::Text(id.clone()));
                "(r.rtype = ? AND r.id = ?)"
            })
            .collect();
        let mut sql = format!(
            "SELECT r.rid, r.rtype, r.id, v.body, v.patients FROM resource r JOIN resource_version v ON v.seq = r.seq \
             WHERE r.deleted = 0 AND ({})",
            alts.join(" OR ")
        );
        if let Some(c) = reach_sql::condition(access, "r", Types::Any, &mut args) {
            sql.push_str(&format!(" AND {c}"));
        }
        out.extend(
            crate::engine::hits(conn.query(&sql, &args)?)
                .into_iter()
                .map(|(_, h)| h),
        );
    }
    Ok(out)
}

/// `_revinclude=AuditEvent:param` (or `AuditEvent:*`): the events referring to `targets`,
/// for those who see the audit trail; refused past [`MAX_REVINCLUDED`].
pub(crate) fn referring(
    conn: &mut dyn Conn,
    access: &Access,
    param: Option<&str>,
    targets: &[(String, String)],
) -> Result<Vec<Hit>, StoreError> {
    if let Some(p) = param.filter(|p| !["patient", "agent", "entity"].contains(p)) {
        return Err(StoreError::BadRequest(format!(
            "_revinclude=AuditEvent:{p} is not supported: the audit trail is included by patient, agent or entity"
        )));
    }
    if !sees_trail(access) || targets.is_empty() {
        return Ok(Vec::new());
    }
    let terms: Vec<String> = targets
        .iter()
        .flat_map(|(t, id)| audit_terms::referring_terms(param, t, id))
        .collect();
    let mut out = Vec::new();
    for chunk in terms.chunks(300) {
        let sql = format!(
            "SELECT {COLS} FROM audit_log l WHERE l.pos IN (SELECT t.pos FROM audit_term t WHERE t.term IN ({})) \
             ORDER BY l.pos LIMIT {}",
            vec!["?"; chunk.len()].join(", "),
            MAX_REVINCLUDED + 1
        );
        let args: Vec<Arg> = chunk.iter().map(|t| Arg::Text(t.clone())).collect();
        out.extend(rows(conn.query(&sql, &args)?).into_iter().map(Read::hit));
        if out.len() > MAX_REVINCLUDED {
            return Err(StoreError::BadRequest(format!(
                "more than {MAX_REVINCLUDED} audit events refer to this page's resources: \
                 search AuditEvent by patient, agent or entity (with date) instead of _revinclude"
            )));
        }
    }
    Ok(out)
}

// ---- migration --------------------------------------------------------------------------

/// Move AuditEvents a database holds as FHIR resources (written by an earlier version of
/// Tend) into the log, in the order they were appended, in one transaction; returns how
/// many moved. Change-log checkpoints past the newest remaining version are brought back to
/// it, so a position freed at the end of the change log is not skipped when reused.
pub(crate) fn migrate(conn: &mut dyn Conn, lock_sql: Option<&str>) -> Result<usize, StoreError> {
    let any = conn.query(
        "SELECT 1 FROM resource WHERE rtype = 'AuditEvent' LIMIT 1",
        &[],
    )?;
    if any.is_empty() {
        return Ok(0);
    }
    let begin = match conn.dialect() {
        sql::Dialect::Sqlite => "BEGIN IMMEDIATE",
        sql::Dialect::Postgres => "BEGIN",
    };
    conn.batch(begin)?;
    let r = (|| {
        if let Some(lock) = lock_sql {
            conn.batch(lock)?;
        }
        let mut moved = 0;
        let mut after = 0i64;
        let mut pos = next_pos(conn)?;
        loop {
            let batch = conn.query(
                "SELECT v.seq, v.id, v.lastupd, v.body FROM resource_version v \
                 WHERE v.rtype = 'AuditEvent' AND v.seq > ? AND v.body IS NOT NULL ORDER BY v.seq LIMIT 2000",
                &[Arg::Int(after)],
            )?;
            if batch.is_empty() {
                break;
            }
            let mut by_time: Vec<(i64, Vec<Row>)> = Vec::new();
            for r in batch {
                let mut it = r.into_iter();
                after = it.next().map(|c| c.int()).unwrap_or(after);
                let id = it.next().and_then(Cell::text).unwrap_or_default();
                let lastupd = it.next().map(|c| c.int()).unwrap_or_default();
                let body = it.next().and_then(Cell::text).unwrap_or_default();
                let facts = serde_json::from_str::<Value>(&body)
                    .map(|v| audit_terms::facts(&v))
                    .unwrap_or(Facts {
                        recorded: None,
                        patients: Vec::new(),
                        terms: Vec::new(),
                    });
                let row = Row {
                    pos,
                    id,
                    recorded: facts.recorded,
                    body,
                    patients: facts.patients,
                    terms: facts.terms,
                };
                pos += 1;
                match by_time.last_mut() {
                    Some((t, rows)) if *t == lastupd => rows.push(row),
                    _ => by_time.push((lastupd, vec![row])),
                }
                moved += 1;
            }
            for (lastupd, rows) in by_time {
                insert(conn, lastupd, &rows)?;
            }
        }
        for t in sql::INDEX_TABLES {
            conn.exec(
                &format!(
                    "DELETE FROM {t} WHERE rid IN (SELECT rid FROM resource WHERE rtype = 'AuditEvent')"
                ),
                &[],
            )?;
        }
        conn.exec(
            "DELETE FROM compartment WHERE seq IN (SELECT seq FROM resource_version WHERE rtype = 'AuditEvent')",
            &[],
        )?;
        conn.exec(
            "DELETE FROM resource_version WHERE rtype = 'AuditEvent'",
            &[],
        )?;
        conn.exec("DELETE FROM resource WHERE rtype = 'AuditEvent'", &[])?;
        conn.exec(
            "UPDATE checkpoint SET seq = (SELECT COALESCE(MAX(seq), 0) FROM resource_version) \
             WHERE seq > (SELECT COALESCE(MAX(seq), 0) FROM resource_version)",
            &[],
        )?;
        Ok(moved)
    })();
    match r {
        Ok(n) => {
            conn.batch("COMMIT")?;
            Ok(n)
        }
        Err(e) => {
            let _ = conn.batch("ROLLBACK");
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{self, NewVersion, Shared, WriterTx};
    use serde_json::json;

    /// A database written by an earlier version of Tend (AuditEvents as FHIR resources, the
    /// newest versions of the change log among them) moves its trail into the log, in
    /// order, with the chain intact and nothing of it left in the resource tables; the
    /// checkpoints past the freed positions come back to the newest remaining version.
    #[test]
    fn an_earlier_databases_audit_events_move_into_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db").display().to_string();
        let mut conn = crate::sqlite::SqliteConn::open(&path, true).unwrap();
        let registry = search::Registry::r4();
        let pids = engine::init_schema(&mut conn, registry).unwrap();
        let shared = Shared { pids, registry };
        let indexer = search::Indexer::new(registry).unwrap();
        let system = Access::system();
        conn.batch("BEGIN").unwrap();
        let mut head = crate::audit::Head::genesis();
        let mut tx = WriterTx {
            conn: &mut conn,
            shared: &shared,
            access: &system,
        };
        let patient = json!({"resourceType": "Patient", "id": "p1"});
        tx.write(NewVersion {
            rtype: "Patient",
            id: "p1",
            version: 1,
            last_updated: 1_000,
            op: Op::Create,
            body: Some(patient.to_string()),
            index: &indexer.extract(&patient),
            patients: &["p1".to_string()],
            restricted: false,
            shared: None,
        })
        .unwrap();
        for i in 1..=3 {
            let mut e = json!({"resourceType": "AuditEvent", "id": format!("old-{i}"),
                "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-event-type", "code": "rest"},
                "recorded": format!("2026-01-0{i}T00:00:00Z"), "outcome": "0",
                "agent": [{"who": {"display": "x"}, "altId": "nurse", "requestor": true}],
                "source": {"observer": {"display": "Tend"}},
                "entity": [{"what": {"reference": "Patient/p1"}}]});
            let text = crate::audit::canonical(&e);
            head = crate::audit::link(&mut e, &text, &head);
            tx.write(NewVersion {
                rtype: TYPE,
                id: &format!("old-{i}"),
                version: 1,
                last_updated: 1_000 + i,
                op: Op::Create,
                body: Some(e.to_string()),
                index: &indexer.extract(&e),
                patients: &["p1".to_string()],
                restricted: false,
                shared: None,
            })
            .unwrap();
        }
        engine::save_checkpoint(tx.conn, "early-warning", 4).unwrap();
        conn.batch("COMMIT").unwrap();

        assert_eq!(migrate(&mut conn, None).unwrap(), 3);
        let (hits, _) = scan(&mut conn, 0, 10).unwrap();
        let ids: Vec<&str> = hits.iter().map(|h| h.id.as_str()).collect();
        assert_eq!(ids, ["old-1", "old-2", "old-3"]);
        let report = crate::audit::verify(hits.iter().map(|h| h.body.as_str()));
        assert_eq!((report.linked, report.broken), (3, None));
        assert_eq!(hits[0].patients, ["p1"]);
        let left = conn
            .query(
                "SELECT (SELECT COUNT(*) FROM resource WHERE rtype = 'AuditEvent') + \
                 (SELECT COUNT(*) FROM resource_version WHERE rtype = 'AuditEvent') + \
                 (SELECT COUNT(*) FROM ix_token t JOIN resource r ON r.rid = t.rid WHERE r.rtype = 'AuditEvent')",
                &[],
            )
            .unwrap();
        assert_eq!(left[0][0].int(), 0);
        assert_eq!(engine::checkpoint(&mut conn, "early-warning").unwrap(), 1);
        let terms = conn
            .query(
                "SELECT COUNT(*) FROM audit_term WHERE term = 'altid:nurse'",
                &[],
            )
            .unwrap();
        assert_eq!(terms[0][0].int(), 3);
        assert_eq!(newest_link(&mut conn).unwrap().map(|(s, _)| s), Some(3));
        assert_eq!(migrate(&mut conn, None).unwrap(), 0, "once only");
    }
}
