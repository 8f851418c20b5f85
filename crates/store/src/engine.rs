//! The store logic both adapters share, written once over [`Conn`]: reads, searches with
//! includes, history, the change log, and the single writer thread that groups concurrent
//! commits into one transaction (one fsync) with a savepoint per job.

use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Condvar, Mutex};

use search::IndexEntry;
use search::Indexer;
use search::Registry;
use search::{SearchQuery, Summary, Total};
use serde_json::Value;

use crate::audit_log;
use crate::compartment;
use crate::conn::{Cell, Conn};
use crate::error::StoreError;
use crate::interaction::{self, Ctx};
use crate::model::{
    Change, Entry, ExportQuery, ExportScope, HistoryQuery, HistoryScope, Hit, Op, Outcome,
    SearchPage, Version, WriteOp, EXPORT_PATIENTS,
};
use crate::reach_sql::{self, Types};
use crate::sql::{self, Arg, ParamIds, Shape};
use crate::Clock;
use access::Access;

/// How the entries of one write are committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// All or nothing (a single interaction, or a transaction Bundle).
    Atomic,
    /// Each entry on its own (a batch Bundle, a bulk import).
    Independent,
}

/// The result of one write: per entry, its outcome or its error. An `Atomic` write that
/// fails returns the error of the first failing entry as the outer error.
pub type WriteResult = Result<Vec<Result<Outcome, StoreError>>, StoreError>;

/// One write of a keyed record: space, key, and the new value or `None` to remove it.
pub type Keyed = (String, String, Option<String>);

pub(crate) struct Job {
    pub(crate) entries: Vec<Entry>,
    /// Index values computed by the caller, per entry, where the resource cannot change
    /// inside the writer (no Bundle-local or conditional references to rewrite).
    pub(crate) index: Vec<Option<Vec<IndexEntry>>>,
    pub(crate) mode: Mode,
    /// A consumer's change-log position saved in the same transaction as the entries.
    pub(crate) checkpoint: Option<(String, i64)>,
    /// AuditEvents Tend records, linked into the audit chain in this job's transaction.
    pub(crate) audit: Vec<audit_log::Pending>,
    /// Keyed records set (`Some`) or removed (`None`) in this job's transaction.
    pub(crate) keyed: Vec<Keyed>,
    /// A lease to take, renew or give up in this job's transaction (see [`Lease`]).
    pub(crate) lease: Option<Lease>,
    /// Whose write this is: every entry is decided with it, in the writer.
    pub(crate) access: Arc<Access>,
    pub(crate) reply: SyncSender<WriteResult>,
}

/// A request for a named lease: one holder at a time across every process on the database.
/// Decided inside the writer's transaction, which holds the database's write lock (SQLite's
/// `BEGIN IMMEDIATE`, PostgreSQL's advisory lock), so two processes cannot both take it.
pub(crate) struct Lease {
    pub(crate) name: String,
    pub(crate) holder: String,
    /// How long from now the lease lasts; 0 gives it up (it is free at once).
    pub(crate) ttl_ms: i64,
}

/// The newest committed change-log position, for consumers that wait for new commits
/// instead of polling.
#[derive(Default)]
pub struct Commits {
    latest: Mutex<i64>,
    changed: Condvar,
}

impl Commits {
    /// The newest position committed by this process (0 before the first commit).
    pub fn latest(&self) -> i64 {
        self.latest.lock().map(|g| *g).unwrap_or_default()
    }

    /// Wait until a position after `seq` is committed, or `timeout` passes; returns the
    /// newest position. Commits by other processes (PostgreSQL) are not signalled:
    /// consumers also read the log when the wait times out.
    pub fn wait_after(&self, seq: i64, timeout: std::time::Duration) -> i64 {
        let Ok(guard) = self.latest.lock() else {
            return seq;
        };
        match self
            .changed
            .wait_timeout_while(guard, timeout, |latest| *latest <= seq)
        {
            Ok((g, _)) => *g,
            Err(_) => seq,
        }
    }

    pub(crate) fn advance(&self, seq: i64) {
        if let Ok(mut g) = self.latest.lock() {
            if seq > *g {
                *g = seq;
                self.changed.notify_all();
            }
        }
    }
}

/// How far a change-log consumer has got in this process, with a wait for callers that need
/// a position processed (e.g. scores written before an acknowledgement is sent).
#[derive(Default)]
pub struct Progress {
    at: Mutex<i64>,
    changed: Condvar,
}

impl Progress {
    /// The position processed so far.
    pub fn get(&self) -> i64 {
        self.at.lock().map(|g| *g).unwrap_or_default()
    }

    /// Wait until `seq` is processed; false on timeout.
    pub fn wait(&self, seq: i64, timeout: std::time::Duration) -> bool {
        let Ok(g) = self.at.lock() else {
            return false;
        };
        self.changed
            .wait_timeout_while(g, timeout, |p| *p < seq)
            .map(|(g, _)| *g >= seq)
            .unwrap_or(false)
    }

    /// Record `seq` as processed (positions only move forward).
    pub fn mark(&self, seq: i64) {
        if let Ok(mut g) = self.at.lock() {
            if seq > *g {
                *g = seq;
                self.changed.notify_all();
            }
        }
    }
}

/// State shared by the readers and the writer of one store.
pub(crate) struct Shared {
    pub(crate) pids: ParamIds,
    pub(crate) registry: &'static Registry,
}

/// A pool of read connections.
pub(crate) struct Pool<C: Conn> {
    conns: Mutex<Vec<C>>,
    open: Box<dyn Fn() -> Result<C, StoreError> + Send + Sync>,
}

impl<C: Conn> Pool<C> {
    pub(crate) fn new(open: Box<dyn Fn() -> Result<C, StoreError> + Send + Sync>) -> Self {
        Pool {
            conns: Mutex::new(Vec::new()),
            open,
        }
    }

    pub(crate) fn with<T>(
        &self,
        f: impl FnOnce(&mut C) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let taken = self
            .conns
            .lock()
            .map_err(|_| StoreError::Unavailable)?
            .pop();
        let mut conn = match taken {
            Some(c) => c,
            None => (self.open)()?,
        };
        let out = f(&mut conn);
        if let Ok(mut v) = self.conns.lock() {
            if v.len() < 16 {
                v.push(conn);
            }
        }
        out
    }
}

/// Open the schema on a connection and load (or assign) the parameter ids.
pub(crate) fn init_schema(
    conn: &mut dyn Conn,
    registry: &'static Registry,
) -> Result<ParamIds, StoreError> {
    conn.batch(&sql::schema(conn.dialect()))?;
    if conn
        .query("SELECT n FROM ix_token WHERE 1 = 0", &[])
        .is_err()
    {
        return Err(StoreError::BadRequest(
            "this database was created by an earlier version of Tend with a different index \
             layout: export it with that version and import it into a new database"
                .into(),
        ));
    }
    // Databases written before records could be shared with a community organisation
    // (`access::shared_with`) gain the column; none of their records was shared.
    if conn
        .query("SELECT shared FROM resource WHERE 1 = 0", &[])
        .is_err()
    {
        conn.batch(
            "ALTER TABLE resource_version ADD COLUMN shared TEXT; ALTER TABLE resource ADD COLUMN shared TEXT",
        )?;
    }
    conn.batch(sql::INDEXES)?;
    let existing = conn
        .query("SELECT pid, rtype, code FROM search_param", &[])?
        .into_iter()
        .map(|r| {
            let mut it = r.into_iter();
            let pid = it.next().map(|c| c.int()).unwrap_or_default();
            let t = it.next().and_then(Cell::text).unwrap_or_default();
            let c = it.next().and_then(Cell::text).unwrap_or_default();
            (pid, t, c)
        })
        .collect();
    let (pids, new_rows) = ParamIds::assign(existing, registry);
    if !new_rows.is_empty() {
        conn.batch("BEGIN")?;
        for chunk in new_rows.chunks(200) {
            let mut sql = String::from("INSERT INTO search_param (pid, rtype, code) VALUES ");
            let mut args = Vec::new();
            for (i, (pid, t, c)) in chunk.iter().enumerate() {
                if i > 0 {
                    sql.push_str(", ");
                }
                sql.push_str("(?, ?, ?)");
                args.extend([Arg::Int(*pid), Arg::Text(t.clone()), Arg::Text(c.clone())]);
            }
            conn.exec(&sql, &args)?;
        }
        conn.batch("COMMIT")?;
    }
    Ok(pids)
}

fn version_from_row(row: Vec<Cell>) -> Version {
    // seq, rtype, id, vid, lastupd, op, body, patients, restricted, shared
    let mut it = row.into_iter();
    let seq = it.next().map(|c| c.int()).unwrap_or_default();
    let rtype = it.next().and_then(Cell::text).unwrap_or_default();
    let id = it.next().and_then(Cell::text).unwrap_or_default();
    let version = it.next().map(|c| c.int()).unwrap_or_default();
    let last_updated = it.next().map(|c| c.int()).unwrap_or_default();
    let op = Op::parse(&it.next().and_then(Cell::text).unwrap_or_default());
    let body = it.next().and_then(Cell::text);
    let patients = compartment::decode(it.next().and_then(Cell::text).as_deref());
    let restricted = it.next().is_some_and(|c| c.int() != 0);
    let shared = it.next().and_then(Cell::text);
    Version {
        rtype,
        id,
        version,
        last_updated,
        op,
        body,
        seq,
        patients,
        restricted,
        shared,
    }
}

const VERSION_COLS: &str =
    "v.seq, v.rtype, v.id, v.vid, v.lastupd, v.op, v.body, v.patients, v.restricted, v.shared";

/// Whether resources of `rtype` may be read at all.
fn readable(access: &Access, rtype: &str) -> Result<(), StoreError> {
    if access.may_type(rtype, false) {
        return Ok(());
    }
    Err(StoreError::denied(
        access,
        access::Denied::Type {
            rtype: rtype.into(),
            write: false,
        },
    ))
}

/// A version the caller reached, or why not.
fn reached(access: &Access, v: Option<Version>) -> Result<Option<Version>, StoreError> {
    if let Some(v) = &v {
        access
            .check(
                &v.rtype,
                false,
                &v.patients,
                v.restricted,
                v.shared.as_deref(),
            )
            .map_err(|d| StoreError::denied(access, d))?;
    }
    Ok(v)
}

/// The current version of a resource (a deletion included), if it ever existed.
fn current(conn: &mut dyn Conn, rtype: &str, id: &str) -> Result<Option<Version>, StoreError> {
    let rows = conn.query(
        &format!("SELECT {VERSION_COLS} FROM resource r JOIN resource_version v ON v.seq = r.seq WHERE r.rtype = ? AND r.id = ?"),
        &[Arg::Text(rtype.into()), Arg::Text(id.into())],
    )?;
    Ok(rows.into_iter().next().map(version_from_row))
}

/// The current version, when `access` reaches it (Forbidden when it exists but does not).
pub(crate) fn read(
    conn: &mut dyn Conn,
    access: &Access,
    rtype: &str,
    id: &str,
) -> Result<Option<Version>, StoreError> {
    readable(access, rtype)?;
    if rtype == audit_log::TYPE {
        return reached(access, audit_log::current(conn, id)?);
    }
    reached(access, current(conn, rtype, id)?)
}

pub(crate) fn vread(
    conn: &mut dyn Conn,
    access: &Access,
    rtype: &str,
    id: &str,
    vid: i64,
) -> Result<Option<Version>, StoreError> {
    if rtype == audit_log::TYPE {
        readable(access, rtype)?;
        let v = audit_log::current(conn, id)?.filter(|v| v.version == vid);
        return reached(access, v);
    }
    let rows = conn.query(
        &format!("SELECT {VERSION_COLS} FROM resource_version v WHERE v.rtype = ? AND v.id = ? AND v.vid = ?"),
        &[Arg::Text(rtype.into()), Arg::Text(id.into()), Arg::Int(vid)],
    )?;
    reached(access, rows.into_iter().next().map(version_from_row))
}

/// History, newest first, plus the total count of versions in scope.
pub(crate) fn history(
    conn: &mut dyn Conn,
    access: &Access,
    q: &HistoryQuery,
) -> Result<(Vec<Version>, usize), StoreError> {
    if let HistoryScope::Type(t) | HistoryScope::Instance(t, _) = &q.scope {
        if t == audit_log::TYPE {
            readable(access, t)?;
            return audit_log::history(conn, access, q);
        }
    }
    let mut conds = vec!["1=1".to_string()];
    let mut args = Vec::new();
    let types = match &q.scope {
        HistoryScope::System => Types::Any,
        HistoryScope::Type(t) => {
            conds.push("v.rtype = ?".into());
            args.push(Arg::Text(t.clone()));
            Types::One(t)
        }
        HistoryScope::Instance(t, id) => {
            conds.push("v.rtype = ? AND v.id = ?".into());
            args.push(Arg::Text(t.clone()));
            args.push(Arg::Text(id.clone()));
            Types::One(t)
        }
    };
    if let Types::One(t) = types {
        readable(access, t)?;
    }
    if let Some(since) = q.since {
        conds.push("v.lastupd >= ?".into());
        args.push(Arg::Int(since));
    }
    if let Some(c) = reach_sql::condition(access, "v", types, &mut args) {
        conds.push(c);
    }
    let where_sql = conds.join(" AND ");
    let total = conn
        .scalar(
            &format!("SELECT COUNT(*) FROM resource_version v WHERE {where_sql}"),
            &args,
        )?
        .map(|n| n as usize)
        .unwrap_or(0);
    let rows = conn.query(
        &format!(
            "SELECT {VERSION_COLS} FROM resource_version v WHERE {where_sql} ORDER BY v.seq DESC LIMIT {} OFFSET {}",
            q.count, q.offset
        ),
        &args,
    )?;
    Ok((rows.into_iter().map(version_from_row).collect(), total))
}

/// The newest change-log position in the database.
pub(crate) fn newest_seq(conn: &mut dyn Conn) -> Result<i64, StoreError> {
    Ok(conn
        .scalar("SELECT COALESCE(MAX(seq), 0) FROM resource_version", &[])?
        .unwrap_or(0))
}

/// Versions after change-log position `after`, in order, with their bodies.
pub(crate) fn log(
    conn: &mut dyn Conn,
    after: i64,
    limit: usize,
) -> Result<Vec<Version>, StoreError> {
    let rows = conn.query(
        &format!("SELECT {VERSION_COLS} FROM resource_version v WHERE v.seq > ? ORDER BY v.seq LIMIT {limit}"),
        &[Arg::Int(after)],
    )?;
    Ok(rows.into_iter().map(version_from_row).collect())
}

pub(crate) fn changes(
    conn: &mut dyn Conn,
    after: i64,
    limit: usize,
) -> Result<Vec<Change>, StoreError> {
    Ok(log(conn, after, limit)?
        .into_iter()
        .map(|v| Change {
            seq: v.seq,
            rtype: v.rtype,
            id: v.id,
            version: v.version,
            op: v.op,
            last_updated: v.last_updated,
        })
        .collect())
}

pub(crate) fn checkpoint(conn: &mut dyn Conn, consumer: &str) -> Result<i64, StoreError> {
    Ok(conn
        .scalar(
            "SELECT seq FROM checkpoint WHERE consumer = ?",
            &[Arg::Text(consumer.into())],
        )?
        .unwrap_or(0))
}

pub(crate) fn save_checkpoint(
    conn: &mut dyn Conn,
    consumer: &str,
    seq: i64,
) -> Result<(), StoreError> {
    conn.exec(
        "INSERT INTO checkpoint (consumer, seq) VALUES (?, ?) ON CONFLICT (consumer) DO UPDATE SET seq = excluded.seq",
        &[Arg::Text(consumer.into()), Arg::Int(seq)],
    )?;
    Ok(())
}

/// Number of current (not deleted) resources per type.
pub(crate) fn counts(conn: &mut dyn Conn) -> Result<Vec<(String, usize)>, StoreError> {
    let rows = conn.query(
        "SELECT rtype, COUNT(*) FROM resource WHERE deleted = 0 GROUP BY rtype ORDER BY rtype",
        &[],
    )?;
    let mut out: Vec<(String, usize)> = rows
        .into_iter()
        .map(|r| {
            let mut it = r.into_iter();
            let t = it.next().and_then(Cell::text).unwrap_or_default();
            (t, it.next().map(|c| c.int() as usize).unwrap_or(0))
        })
        .collect();
    let audit = audit_log::count(conn)?;
    if audit > 0 {
        out.push((audit_log::TYPE.to_string(), audit));
        out.sort();
    }
    Ok(out)
}

/// Rows of (rid, rtype, id, body, patients).
pub(crate) fn hits(rows: Vec<Vec<Cell>>) -> Vec<(i64, Hit)> {
    rows.into_iter()
        .map(|r| {
            let mut it = r.into_iter();
            let rid = it.next().map(|c| c.int()).unwrap_or_default();
            let rtype = it.next().and_then(Cell::text).unwrap_or_default();
            let id = it.next().and_then(Cell::text).unwrap_or_default();
            let body = it.next().and_then(Cell::text).unwrap_or_default();
            let patients = compartment::decode(it.next().and_then(Cell::text).as_deref());
            (
                rid,
                Hit {
                    rtype,
                    id,
                    body,
                    patients,
                },
            )
        })
        .collect()
}

/// Run a search: one page of matches, the includes, and the total when asked.
pub(crate) fn search(
    conn: &mut dyn Conn,
    shared: &Shared,
    access: &Access,
    q: &SearchQuery,
) -> Result<SearchPage, StoreError> {
    readable(access, &q.resource_type)?;
    if let Some(code) = q.filters.iter().find_map(has_audit) {
        return Err(StoreError::BadRequest(format!(
            "'{code}' cannot be answered: the audit trail is searched as AuditEvent (by patient, agent, entity, date), not through _has or chains"
        )));
    }
    if q.resource_type == audit_log::TYPE {
        let mut page = audit_log::search(conn, access, q)?;
        if !q.revinclude.is_empty() && !page.matches.is_empty() {
            let mut rev = q.clone();
            rev.include.clear();
            let frontier: Vec<(i64, Hit)> = page.matches.iter().map(|h| (0, h.clone())).collect();
            page.included
                .extend(includes(conn, shared, access, &rev, &frontier)?);
        }
        return Ok(page);
    }
    let count_only = q.summary == Some(Summary::Count) || q.count == 0;
    let mut page = SearchPage::default();
    if !count_only {
        let stmt = sql::compile(q, &shared.pids, access, Shape::Page);
        let mut rows = hits(conn.query(&stmt.sql, &stmt.args)?);
        page.has_more = rows.len() > q.count;
        rows.truncate(q.count);
        if !rows.is_empty() && (!q.include.is_empty() || !q.revinclude.is_empty()) {
            page.included = includes(conn, shared, access, q, &rows)?;
        }
        if q.total == Total::Unspecified && !page.has_more {
            page.total = Some(q.offset + rows.len());
        }
        page.matches = rows.into_iter().map(|(_, h)| h).collect();
    }
    if count_only || matches!(q.total, Total::Accurate | Total::Estimate) {
        let stmt = sql::compile(q, &shared.pids, access, Shape::Count);
        let n = conn.scalar(&stmt.sql, &stmt.args)?.unwrap_or(0);
        page.total = Some(n as usize);
    }
    Ok(page)
}

/// The parameter of a `_has` or chain that would search the audit trail through the index
/// tables (where it is not).
fn has_audit(f: &search::Filter) -> Option<String> {
    match f {
        search::Filter::Has {
            source_type,
            param,
            inner,
        } => {
            if source_type == audit_log::TYPE {
                Some(format!("_has:{source_type}:{}", param.code))
            } else {
                has_audit(inner)
            }
        }
        search::Filter::Chain { param, targets } => targets.iter().find_map(|(t, inner)| {
            if t == audit_log::TYPE {
                Some(format!("{}:{t}", param.code))
            } else {
                has_audit(inner)
            }
        }),
        _ => None,
    }
}

/// `_include` and `_revinclude`, following `:iterate` up to a fixed depth.
fn includes(
    conn: &mut dyn Conn,
    shared: &Shared,
    access: &Access,
    q: &SearchQuery,
    matches: &[(i64, Hit)],
) -> Result<Vec<Hit>, StoreError> {
    use std::collections::HashSet;
    let mut seen: HashSet<(String, String)> = matches
        .iter()
        .map(|(_, h)| (h.rtype.clone(), h.id.clone()))
        .collect();
    let mut out = Vec::new();
    let mut frontier: Vec<(i64, Hit)> = matches.to_vec();
    for depth in 0..4 {
        let mut next = Vec::new();
        for inc in q.include.iter().filter(|i| depth == 0 || i.iterate) {
            let rids: Vec<i64> = frontier
                .iter()
                .filter(|(_, h)| h.rtype == inc.source_type)
                .map(|(r, _)| *r)
                .collect();
            if rids.is_empty() {
                continue;
            }
            let pids = match &inc.param {
                Some(code) => vec![shared.pids.get(&inc.source_type, code).unwrap_or(-1)],
                None => ref_pids(shared, &inc.source_type),
            };
            for chunk in rids.chunks(500) {
                let stmt = sql::include_stmt(
                    access,
                    Some(pids.clone()),
                    inc.target_type.as_deref(),
                    chunk,
                );
                next.extend(hits(conn.query(&stmt.sql, &stmt.args)?));
            }
        }
        for inc in q.revinclude.iter().filter(|i| depth == 0 || i.iterate) {
            if inc.source_type == audit_log::TYPE {
                // From the audit log; not followed further (nothing an event refers to is
                // reached through it).
                if depth == 0 {
                    let targets: Vec<(String, String)> = frontier
                        .iter()
                        .filter(|(_, h)| inc.target_type.as_ref().is_none_or(|t| *t == h.rtype))
                        .map(|(_, h)| (h.rtype.clone(), h.id.clone()))
                        .collect();
                    for h in audit_log::referring(conn, access, inc.param.as_deref(), &targets)? {
                        if seen.insert((h.rtype.clone(), h.id.clone())) {
                            out.push(h);
                        }
                    }
                }
                continue;
            }
            let pids = match &inc.param {
                Some(code) => vec![shared.pids.get(&inc.source_type, code).unwrap_or(-1)],
                None => ref_pids(shared, &inc.source_type),
            };
            let targets: Vec<(String, String)> = frontier
                .iter()
                .filter(|(_, h)| inc.target_type.as_ref().is_none_or(|t| *t == h.rtype))
                .map(|(_, h)| (h.rtype.clone(), h.id.clone()))
                .collect();
            for chunk in targets.chunks(300) {
                let stmt = sql::revinclude_stmt(access, pids.clone(), chunk);
                let found = hits(conn.query(&stmt.sql, &stmt.args)?);
                next.extend(
                    found
                        .into_iter()
                        .filter(|(_, h)| h.rtype == inc.source_type),
                );
            }
        }
        let mut fresh = Vec::new();
        for (rid, h) in next {
            if seen.insert((h.rtype.clone(), h.id.clone())) {
                out.push(h.clone());
                fresh.push((rid, h));
            }
        }
        if fresh.is_empty() {
            break;
        }
        frontier = fresh;
    }
    Ok(out)
}

/// A patient's compartment (<https://hl7.org/fhir/R4/compartmentdefinition.html>): the
/// current resources whose versions were placed in it when written, plus the resources they
/// reference directly (practitioners, locations, organizations), all as far as `access`
/// reaches. The patient itself must be reached, or nothing is returned.
pub(crate) fn compartment(
    conn: &mut dyn Conn,
    access: &Access,
    patient: &str,
) -> Result<Vec<Hit>, StoreError> {
    use std::collections::HashSet;
    let mut args = vec![Arg::Text(patient.to_string())];
    // From the patient's compartment rows (by patient) to their versions (by position) to
    // the current resources (by type and id): every step an index lookup, and a version
    // that is no longer current drops out.
    let mut sql = "SELECT r.rid, r.rtype, r.id, v.body, v.patients FROM compartment c \
         JOIN resource_version v ON v.seq = c.seq \
         JOIN resource r ON r.rtype = v.rtype AND r.id = v.id AND r.seq = v.seq \
         WHERE c.patient = ? AND r.deleted = 0 AND NOT (r.rtype = 'Patient' AND r.id = c.patient)"
        .to_string();
    if let Some(c) = reach_sql::condition(access, "r", Types::Any, &mut args) {
        sql.push_str(&format!(" AND {c}"));
    }
    sql.push_str(" ORDER BY r.rid");
    let found = hits(conn.query(&sql, &args)?);
    let mut seen: HashSet<(String, String)> = found
        .iter()
        .map(|(_, h)| (h.rtype.clone(), h.id.clone()))
        .collect();
    seen.insert(("Patient".to_string(), patient.to_string()));
    // What the compartment's resources refer to, and what the patient's own record does
    // (their organisation, their clinicians).
    let mut rids: Vec<i64> = found.iter().map(|(r, _)| *r).collect();
    for row in conn.query(
        "SELECT rid FROM resource WHERE rtype = 'Patient' AND id = ? AND deleted = 0",
        &[Arg::Text(patient.to_string())],
    )? {
        if let Some(rid) = row.first() {
            rids.push(rid.int());
        }
    }
    let mut out: Vec<Hit> = found.into_iter().map(|(_, h)| h).collect();
    for chunk in rids.chunks(500) {
        let stmt = sql::include_stmt(access, None, None, chunk);
        for (_, h) in hits(conn.query(&stmt.sql, &stmt.args)?) {
            if seen.insert((h.rtype.clone(), h.id.clone())) {
                out.push(h);
            }
        }
    }
    Ok(out)
}

/// Up to `limit` current resources of a type after the cursor `after`, in storage order,
/// and the cursor to continue from.
pub(crate) fn scan(
    conn: &mut dyn Conn,
    rtype: &str,
    after: i64,
    limit: usize,
) -> Result<(Vec<Hit>, i64), StoreError> {
    if rtype == audit_log::TYPE {
        return audit_log::scan(conn, after, limit);
    }
    let rows = hits(conn.query(
        &format!(
            "SELECT r.rid, r.rtype, r.id, v.body, v.patients FROM resource r JOIN resource_version v ON v.seq = r.seq \
             WHERE r.rtype = ? AND r.deleted = 0 AND r.rid > ? ORDER BY r.rid LIMIT {limit}"
        ),
        &[Arg::Text(rtype.into()), Arg::Int(after)],
    )?);
    let next = rows.last().map(|(r, _)| *r).unwrap_or(after);
    Ok((rows.into_iter().map(|(_, h)| h).collect(), next))
}

/// The newest change-log position and the time it was committed (ms): where an export's
/// snapshot ends. Commit times only grow with the position, so everything after it was
/// committed later than that time.
pub(crate) fn export_snapshot(conn: &mut dyn Conn) -> Result<Option<(i64, i64)>, StoreError> {
    let rows = conn.query(
        "SELECT seq, lastupd FROM resource_version ORDER BY seq DESC LIMIT 1",
        &[],
    )?;
    Ok(rows.first().map(|r| (r[0].int(), r[1].int())))
}

/// A page of a Bulk Data export: current resources of the query's type after its cursor,
/// in rid order, with the caller's reach as one more condition of the statement.
pub(crate) fn export(
    conn: &mut dyn Conn,
    access: &Access,
    q: &ExportQuery,
) -> Result<(Vec<Hit>, i64), StoreError> {
    if q.rtype == audit_log::TYPE {
        return Err(StoreError::BadRequest(
            "the audit trail is not exported; search AuditEvent instead".into(),
        ));
    }
    let mut args = vec![
        Arg::Text(q.rtype.clone()),
        Arg::Int(q.after),
        Arg::Int(q.upto),
    ];
    let mut sql = String::from(
        "SELECT r.rid, r.rtype, r.id, v.body, v.patients FROM resource r JOIN resource_version v ON v.seq = r.seq \
         WHERE r.rtype = ? AND r.deleted = 0 AND r.rid > ? AND r.seq <= ?",
    );
    if let Some(since) = q.since {
        sql.push_str(" AND r.lastupd > ?");
        args.push(Arg::Int(since));
    }
    match &q.scope {
        ExportScope::Everything => {}
        ExportScope::AnyPatient => {
            sql.push_str(" AND EXISTS (SELECT 1 FROM compartment c WHERE c.seq = r.seq)")
        }
        ExportScope::Patients(ids) => {
            if ids.is_empty() {
                return Ok((Vec::new(), q.after));
            }
            if ids.len() > EXPORT_PATIENTS {
                return Err(StoreError::BadRequest(format!(
                    "an export query names at most {EXPORT_PATIENTS} patients"
                )));
            }
            sql.push_str(&format!(
                " AND EXISTS (SELECT 1 FROM compartment c WHERE c.seq = r.seq AND c.patient IN ({}))",
                vec!["?"; ids.len()].join(", ")
            ));
            args.extend(ids.iter().map(|p| Arg::Text(p.clone())));
        }
    }
    if let Some(c) = reach_sql::condition(access, "r", Types::One(&q.rtype), &mut args) {
        sql.push_str(&format!(" AND {c}"));
    }
    sql.push_str(&format!(" ORDER BY r.rid LIMIT {}", q.limit.max(1)));
    let rows = hits(conn.query(&sql, &args)?);
    let next = rows.last().map(|(r, _)| *r).unwrap_or(q.after);
    Ok((rows.into_iter().map(|(_, h)| h).collect(), next))
}

fn ref_pids(shared: &Shared, rtype: &str) -> Vec<i64> {
    shared
        .registry
        .params_for(rtype)
        .iter()
        .filter(|p| p.kind == search::ParamType::Reference)
        .filter_map(|p| shared.pids.get(rtype, &p.code))
        .collect()
}

/// The writer's view of one open transaction: what the interactions need.
pub(crate) struct WriterTx<'a> {
    pub(crate) conn: &'a mut dyn Conn,
    pub(crate) shared: &'a Shared,
    /// Whose write this is: conditional matches see only what it reaches.
    pub(crate) access: &'a Access,
}

/// A version to write, with its index values.
pub(crate) struct NewVersion<'a> {
    pub(crate) rtype: &'a str,
    pub(crate) id: &'a str,
    pub(crate) version: i64,
    pub(crate) last_updated: i64,
    pub(crate) op: Op,
    pub(crate) body: Option<String>,
    pub(crate) index: &'a [IndexEntry],
    /// The patients whose compartments hold the version (ids).
    pub(crate) patients: &'a [String],
    pub(crate) restricted: bool,
    /// The community organisation the version is shared with (`access::shared_with`).
    pub(crate) shared: Option<&'a str>,
}

impl WriterTx<'_> {
    /// The stored version, whoever may reach it: the interactions decide with both it and
    /// the new version.
    pub(crate) fn current(&mut self, rtype: &str, id: &str) -> Result<Option<Version>, StoreError> {
        if rtype == audit_log::TYPE {
            return audit_log::current(self.conn, id);
        }
        current(self.conn, rtype, id)
    }

    /// Up to `limit` (type, id) keys matching a search, for conditional operations.
    pub(crate) fn search_keys(
        &mut self,
        q: &SearchQuery,
        limit: usize,
    ) -> Result<Vec<(String, String)>, StoreError> {
        if q.resource_type == audit_log::TYPE {
            return audit_log::keys(self.conn, self.access, q, limit);
        }
        let stmt = sql::compile(q, &self.shared.pids, self.access, Shape::Keys(limit));
        Ok(self
            .conn
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

    /// Append a version, move the current pointer and replace the index rows, all in the
    /// open transaction. Returns the change-log position.
    pub(crate) fn write(&mut self, v: NewVersion<'_>) -> Result<i64, StoreError> {
        let conn = &mut *self.conn;
        let seq = conn.scalar(
            "INSERT INTO resource_version (rtype, id, vid, lastupd, op, body, patients, restricted, shared) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq",
            &[
                Arg::Text(v.rtype.into()),
                Arg::Text(v.id.into()),
                Arg::Int(v.version),
                Arg::Int(v.last_updated),
                Arg::Text(v.op.as_str().into()),
                v.body.map(Arg::Text).unwrap_or(Arg::Null),
                compartment::encode(v.patients)
                    .map(Arg::Text)
                    .unwrap_or(Arg::Null),
                Arg::Int(i64::from(v.restricted)),
                v.shared.map(|s| Arg::Text(s.into())).unwrap_or(Arg::Null),
            ],
        )?
        .ok_or(StoreError::Database("no seq".into()))?;
        let deleted = i64::from(v.op == Op::Delete);
        let rid = conn.scalar(
            "INSERT INTO resource (rtype, id, vid, lastupd, deleted, seq, restricted, shared) VALUES (?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (rtype, id) DO UPDATE SET vid = excluded.vid, lastupd = excluded.lastupd, deleted = excluded.deleted, seq = excluded.seq, restricted = excluded.restricted, shared = excluded.shared \
             RETURNING rid",
            &[
                Arg::Text(v.rtype.into()),
                Arg::Text(v.id.into()),
                Arg::Int(v.version),
                Arg::Int(v.last_updated),
                Arg::Int(deleted),
                Arg::Int(seq),
                Arg::Int(i64::from(v.restricted)),
                v.shared.map(|s| Arg::Text(s.into())).unwrap_or(Arg::Null),
            ],
        )?
        .ok_or(StoreError::Database("no rid".into()))?;
        if !v.patients.is_empty() {
            let sql = format!(
                "INSERT INTO compartment (seq, patient) VALUES {}",
                vec!["(?, ?)"; v.patients.len()].join(", ")
            );
            let args: Vec<Arg> = v
                .patients
                .iter()
                .flat_map(|p| [Arg::Int(seq), Arg::Text(p.clone())])
                .collect();
            conn.exec(&sql, &args)?;
        }
        if v.version > 1 {
            for t in sql::INDEX_TABLES {
                conn.exec(&format!("DELETE FROM {t} WHERE rid = ?"), &[Arg::Int(rid)])?;
            }
        }
        if v.op != Op::Delete {
            insert_index(conn, &self.shared.pids, v.rtype, rid, v.index)?;
        }
        Ok(seq)
    }
}

/// Insert the index rows of one resource: one multi-row INSERT per table.
fn insert_index(
    conn: &mut dyn Conn,
    pids: &ParamIds,
    rtype: &str,
    rid: i64,
    index: &[IndexEntry],
) -> Result<(), StoreError> {
    let mut by_table: Vec<(&'static str, Vec<Vec<Arg>>)> = Vec::new();
    for e in index {
        if e.param == "_lastUpdated" || e.param == "_id" {
            continue; // kept as columns of `resource`
        }
        let Some(pid) = pids.get(rtype, &e.param) else {
            continue;
        };
        let Some((table, vals)) = sql::index_row(&e.value) else {
            continue;
        };
        let rows = match by_table.iter_mut().position(|(t, _)| *t == table) {
            Some(i) => &mut by_table[i].1,
            None => {
                by_table.push((table, Vec::new()));
                &mut by_table.last_mut().expect("just pushed").1
            }
        };
        // `n` numbers the rows of one resource in one table (the key is rid, pid, n).
        let mut row = vec![Arg::Int(rid), Arg::Int(pid), Arg::Int(rows.len() as i64)];
        row.extend(vals);
        rows.push(row);
    }
    for (table, rows) in by_table {
        for chunk in rows.chunks(100) {
            let width = chunk[0].len();
            let tuple = format!("({})", vec!["?"; width].join(", "));
            let sql = format!(
                "INSERT INTO {table} VALUES {}",
                vec![tuple.as_str(); chunk.len()].join(", ")
            );
            let args: Vec<Arg> = chunk.iter().flatten().cloned().collect();
            conn.exec(&sql, &args)?;
        }
    }
    Ok(())
}

/// Start the writer thread for `conn`; returns the queue it takes jobs from.
pub(crate) fn spawn_writer<C: Conn + 'static>(
    mut conn: C,
    shared: Arc<Shared>,
    indexer: Arc<Indexer>,
    clock: Arc<dyn Clock>,
    lock_sql: Option<&'static str>,
    commits: Arc<Commits>,
) -> SyncSender<Job> {
    let (tx, rx) = mpsc::sync_channel::<Job>(4096);
    std::thread::Builder::new()
        .name("tend-store-writer".into())
        .spawn(move || {
            writer_loop(
                &mut conn, &shared, &indexer, &*clock, rx, lock_sql, &commits,
            )
        })
        .expect("spawn writer thread");
    tx
}

/// Most jobs folded into one commit.
const MAX_GROUP: usize = 512;

fn writer_loop(
    conn: &mut dyn Conn,
    shared: &Shared,
    indexer: &Indexer,
    clock: &dyn Clock,
    rx: Receiver<Job>,
    lock_sql: Option<&'static str>,
    commits: &Commits,
) {
    let mut last_now = 0i64;
    // Planner statistics: refreshed as the data grows, so the query planner knows that
    // `rtype` is not selective and drives searches from the value indexes.
    let mut stats = Stats {
        written: 0,
        at_last: 0,
    };
    stats.refresh(conn);
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        while jobs.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        let now = clock.now_ms().max(last_now + 1);
        last_now = now;
        let results = run_group(conn, shared, indexer, now, &mut jobs, lock_sql);
        match results {
            Ok(results) => {
                let newest = results
                    .iter()
                    .flatten()
                    .flatten()
                    .flatten()
                    .filter_map(|o| o.version().map(|v| v.seq))
                    .max();
                if let Some(seq) = newest {
                    commits.advance(seq);
                }
                for (job, r) in jobs.into_iter().zip(results) {
                    if let Ok(outcomes) = &r {
                        stats.written += outcomes.len() as u64;
                    }
                    let _ = job.reply.send(r);
                }
                if stats.due() {
                    stats.refresh(conn);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "store commit failed");
                let _ = conn.batch("ROLLBACK");
                for job in jobs {
                    let _ = job.reply.send(Err(StoreError::Database(e.to_string())));
                }
            }
        }
    }
}

/// When to refresh the planner's statistics: after 5,000 versions and after the data has
/// grown by a fifth since the last refresh.
struct Stats {
    written: u64,
    at_last: u64,
}

impl Stats {
    fn due(&self) -> bool {
        let since = self.written.saturating_sub(self.at_last);
        since >= 5_000 && since * 5 >= self.at_last
    }

    fn refresh(&mut self, conn: &mut dyn Conn) {
        let sql = match conn.dialect() {
            sql::Dialect::Sqlite => "PRAGMA analysis_limit = 2000; ANALYZE",
            sql::Dialect::Postgres => "ANALYZE",
        };
        if let Err(e) = conn.batch(sql) {
            tracing::warn!(error = %e, "refreshing planner statistics failed");
        }
        self.at_last = self.written.max(1);
    }
}

fn run_group(
    conn: &mut dyn Conn,
    shared: &Shared,
    indexer: &Indexer,
    now: i64,
    jobs: &mut [Job],
    lock_sql: Option<&'static str>,
) -> Result<Vec<WriteResult>, StoreError> {
    // The durability rule for audit records: a group that records only AuditEvents (reads,
    // sign-ins, refusals) is committed durable against a crash of this process (the commit is
    // in the operating system's hands before anyone is answered) without a disk flush of its
    // own; the flush rides the next group that writes anything else, which flushes every
    // commit before it. Any other group is flushed before it is acknowledged.
    let audit_only = jobs.iter().all(|j| {
        j.entries.is_empty() && j.keyed.is_empty() && j.checkpoint.is_none() && j.lease.is_none()
    });
    let r = in_transaction(conn, shared, indexer, now, jobs, lock_sql, audit_only);
    if r.is_err() {
        let _ = conn.batch("ROLLBACK");
    }
    if audit_only && conn.dialect() == sql::Dialect::Sqlite {
        conn.batch("PRAGMA synchronous = FULL")?;
    }
    r
}

#[allow(clippy::too_many_arguments)]
fn in_transaction(
    conn: &mut dyn Conn,
    shared: &Shared,
    indexer: &Indexer,
    now: i64,
    jobs: &mut [Job],
    lock_sql: Option<&'static str>,
    audit_only: bool,
) -> Result<Vec<WriteResult>, StoreError> {
    match (conn.dialect(), audit_only) {
        (sql::Dialect::Sqlite, true) => {
            conn.batch("PRAGMA synchronous = NORMAL; BEGIN IMMEDIATE")?
        }
        (sql::Dialect::Sqlite, false) => conn.batch("BEGIN IMMEDIATE")?,
        (sql::Dialect::Postgres, true) => {
            conn.batch("BEGIN; SET LOCAL synchronous_commit = off")?
        }
        (sql::Dialect::Postgres, false) => conn.batch("BEGIN")?,
    }
    if let Some(lock) = lock_sql {
        conn.batch(lock)?;
    }
    let mut results = Vec::with_capacity(jobs.len());
    // The group's AuditEvents, written together after its other work.
    let mut pending: Vec<audit_log::Pending> = Vec::new();
    for job in jobs.iter_mut() {
        let entries = std::mem::take(&mut job.entries);
        let mut index = std::mem::take(&mut job.index);
        index.resize_with(entries.len(), || None);
        let r = match job.mode {
            Mode::Atomic => {
                let r = in_savepoint(conn, shared, &job.access, indexer, now, entries, index)?;
                if let Err(e @ StoreError::Database(_)) = &r {
                    tracing::warn!(error = %e, "write rolled back");
                }
                r.map(|outcomes| outcomes.into_iter().map(Ok).collect())
            }
            Mode::Independent => {
                let mut per = Vec::with_capacity(entries.len());
                for (entry, idx) in entries.into_iter().zip(index) {
                    let r = in_savepoint(
                        conn,
                        shared,
                        &job.access,
                        indexer,
                        now,
                        vec![entry],
                        vec![idx],
                    )?;
                    per.push(r.and_then(|mut o| {
                        o.pop().ok_or(StoreError::Database("no outcome".into()))
                    }));
                }
                Ok(per)
            }
        };
        results.push(r);
        if let Some((consumer, seq)) = &job.checkpoint {
            save_checkpoint(conn, consumer, *seq)?;
        }
        for (space, key, value) in std::mem::take(&mut job.keyed) {
            match value {
                Some(v) => keyed_set(conn, &space, &key, v)?,
                None => {
                    conn.exec(
                        "DELETE FROM keyed WHERE space = ? AND k = ?",
                        &[Arg::Text(space), Arg::Text(key)],
                    )?;
                }
            };
        }
        if let Some(lease) = job.lease.take() {
            if !take_lease(conn, now, &lease)? {
                if let Some(Ok(r)) = results.last_mut() {
                    r.push(Err(StoreError::Unavailable));
                }
            }
        }
        pending.append(&mut job.audit);
    }
    if !pending.is_empty() {
        // The chain's head is read inside this transaction, which holds the database's
        // write lock: every process appends to one chain, in commit order.
        let head = audit_head(conn)?;
        let head = audit_log::append_chained(conn, now, pending, head)?;
        let kept = format!("{} {}", head.sequence, head.hash);
        keyed_set(conn, AUDIT_HEAD.0, AUDIT_HEAD.1, kept)?;
    }
    conn.batch("COMMIT")?;
    Ok(results)
}

/// Run entries as one unit inside a savepoint of the open transaction: kept on success,
/// rolled back on failure. The outer error is a failure of the savepoint itself.
fn in_savepoint(
    conn: &mut dyn Conn,
    shared: &Shared,
    access: &Access,
    indexer: &Indexer,
    now: i64,
    entries: Vec<Entry>,
    index: Vec<Option<Vec<IndexEntry>>>,
) -> Result<Result<Vec<Outcome>, StoreError>, StoreError> {
    conn.batch("SAVEPOINT unit")?;
    let mut tx = WriterTx {
        conn: &mut *conn,
        shared,
        access,
    };
    let ctx = Ctx {
        now,
        indexer,
        registry: shared.registry,
        access,
    };
    let r = interaction::transaction(&mut tx, &ctx, entries, index);
    if r.is_err() {
        conn.batch("ROLLBACK TO SAVEPOINT unit")?;
    }
    conn.batch("RELEASE SAVEPOINT unit")?;
    Ok(r)
}

/// Submit a job and wait until it is durable. Index values are extracted here, on the
/// caller's thread, wherever the resource will be written as given, so extraction runs
/// in parallel across callers and the writer thread only runs SQL.
pub(crate) fn submit(
    queue: &SyncSender<Job>,
    indexer: &Indexer,
    access: &Access,
    entries: Vec<Entry>,
    mode: Mode,
    checkpoint: Option<(String, i64)>,
) -> WriteResult {
    // Index values can be computed ahead unless the writer rewrites references: Bundle-local
    // `urn:` full URLs in an atomic transaction, or conditional references.
    let independent = mode == Mode::Independent
        || entries.len() == 1
        || !entries
            .iter()
            .any(|e| e.full_url.as_deref().is_some_and(|u| u.starts_with("urn:")));
    let index = entries
        .iter()
        .map(|e| match (&e.op, independent) {
            (
                WriteOp::Create { resource, .. }
                | WriteOp::Update { resource, .. }
                | WriteOp::ConditionalUpdate { resource, .. },
                true,
            ) if !interaction::has_conditional_refs(&e.op) => Some(indexer.extract(resource)),
            _ => None,
        })
        .collect();
    let (reply, rx) = mpsc::sync_channel(1);
    queue
        .send(Job {
            entries,
            index,
            mode,
            checkpoint,
            audit: Vec::new(),
            keyed: Vec::new(),
            lease: None,
            access: Arc::new(access.clone()),
            reply,
        })
        .map_err(|_| StoreError::Unavailable)?;
    rx.recv().map_err(|_| StoreError::Unavailable)?
}

/// Queue AuditEvents (and keyed records) for the next group commit; with `wait`, return
/// once it is durable. The hashed text and the searchable facts are computed here, on the
/// caller's thread: linking an event into the chain changes neither.
pub(crate) fn submit_audit(
    queue: &SyncSender<Job>,
    events: Vec<Value>,
    keyed: Vec<Keyed>,
    wait: bool,
) -> Result<(), StoreError> {
    let audit = events.into_iter().map(audit_log::Pending::new).collect();
    let (reply, rx) = mpsc::sync_channel(1);
    queue
        .send(Job {
            entries: Vec::new(),
            index: Vec::new(),
            mode: Mode::Independent,
            checkpoint: None,
            audit,
            keyed,
            lease: None,
            access: Arc::new(Access::system()),
            reply,
        })
        .map_err(|_| StoreError::Unavailable)?;
    if wait {
        rx.recv().map_err(|_| StoreError::Unavailable)??;
    }
    Ok(())
}

/// Where leases are kept: one keyed record per lease, `EXPIRES_MS HOLDER`.
const LEASES: &str = "lease";

/// Take or renew `lease` if it is free, expired or already its holder's; false when another
/// holder has it.
fn take_lease(conn: &mut dyn Conn, now: i64, lease: &Lease) -> Result<bool, StoreError> {
    if let Some(kept) = keyed_get(conn, LEASES, &lease.name)? {
        let (expires, holder) = kept.split_once(' ').unwrap_or(("0", ""));
        let expires: i64 = expires.parse().unwrap_or(0);
        if holder != lease.holder && expires > now {
            return Ok(false);
        }
    }
    // Given up (`ttl_ms` 0): free from now on, whatever another process's clock says.
    let expires = if lease.ttl_ms <= 0 {
        0
    } else {
        now + lease.ttl_ms
    };
    let kept = format!("{expires} {}", lease.holder);
    keyed_set(conn, LEASES, &lease.name, kept)?;
    Ok(true)
}

/// Set one keyed record, in the open transaction.
fn keyed_set(conn: &mut dyn Conn, space: &str, key: &str, value: String) -> Result<(), StoreError> {
    conn.exec(
        "INSERT INTO keyed (space, k, value) VALUES (?, ?, ?) ON CONFLICT (space, k) DO UPDATE SET value = excluded.value",
        &[Arg::Text(space.into()), Arg::Text(key.into()), Arg::Text(value)],
    )?;
    Ok(())
}

/// Ask the writer for a lease; true when `holder` has it now.
pub(crate) fn submit_lease(
    queue: &SyncSender<Job>,
    name: &str,
    holder: &str,
    ttl_ms: i64,
) -> Result<bool, StoreError> {
    let (reply, rx) = mpsc::sync_channel(1);
    queue
        .send(Job {
            entries: Vec::new(),
            index: Vec::new(),
            mode: Mode::Independent,
            checkpoint: None,
            audit: Vec::new(),
            keyed: Vec::new(),
            lease: Some(Lease {
                name: name.into(),
                holder: holder.into(),
                ttl_ms,
            }),
            access: Arc::new(Access::system()),
            reply,
        })
        .map_err(|_| StoreError::Unavailable)?;
    let outcomes = rx.recv().map_err(|_| StoreError::Unavailable)??;
    Ok(outcomes.is_empty())
}

/// One keyed record.
pub(crate) fn keyed_get(
    conn: &mut dyn Conn,
    space: &str,
    key: &str,
) -> Result<Option<String>, StoreError> {
    let rows = conn.query(
        "SELECT value FROM keyed WHERE space = ? AND k = ?",
        &[Arg::Text(space.into()), Arg::Text(key.into())],
    )?;
    Ok(rows
        .into_iter()
        .next()
        .and_then(|r| r.into_iter().next())
        .and_then(|c| c.text()))
}

/// Every record of a space, by key.
pub(crate) fn keyed_list(
    conn: &mut dyn Conn,
    space: &str,
) -> Result<Vec<(String, String)>, StoreError> {
    let rows = conn.query(
        "SELECT k, value FROM keyed WHERE space = ? ORDER BY k",
        &[Arg::Text(space.into())],
    )?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let mut cells = r.into_iter();
            Some((cells.next()?.text()?, cells.next()?.text()?))
        })
        .collect())
}

/// Where the audit chain's head is kept: a keyed record written in the same transaction as
/// the events it links.
const AUDIT_HEAD: (&str, &str) = ("audit-chain", "head");

/// The newest link of the audit chain in the database: the kept head, or (a database from
/// before the head was kept) the newest linked event.
fn audit_head(conn: &mut dyn Conn) -> Result<crate::audit::Head, StoreError> {
    if let Some(kept) = keyed_get(conn, AUDIT_HEAD.0, AUDIT_HEAD.1)? {
        if let Some((seq, hash)) = kept.split_once(' ') {
            if let Ok(sequence) = seq.parse() {
                return Ok(crate::audit::Head {
                    sequence,
                    hash: hash.to_string(),
                });
            }
        }
    }
    if let Some((sequence, hash)) = audit_log::newest_link(conn)? {
        return Ok(crate::audit::Head { sequence, hash });
    }
    Ok(crate::audit::Head::genesis())
}
