//! The store: where every FHIR resource version lives (<https://hl7.org/fhir/R4/http.html>).
//!
//! [`Store`] is the port; [`open`] gives an adapter for a database URL: SQLite
//! (`sqlite://PATH`, embedded, the default) or PostgreSQL (`postgres://...`). Both share one
//! schema and one body of logic (written over a small connection trait), so they behave
//! the same, and one conformance suite (`tests/conformance.rs`) runs against both.
//!
//! Architecture invariants:
//! - every version is kept; `resource` points at the current one;
//! - search index rows are written in the same transaction as the version they describe;
//! - every committed version has a position (`seq`) in one ordered change log, assigned
//!   in commit order (one writer per process; an advisory lock across processes on
//!   PostgreSQL), which consumers read from a saved checkpoint after a crash;
//! - a write is acknowledged only after its transaction committed durably; concurrent
//!   writes are grouped into one commit, each in its own savepoint;
//! - every version is placed, when written, in the patient compartments it belongs to
//!   (`compartment`), and every read, search and write is decided here with the caller's
//!   [`Access`]: in the SQL of reads (nothing outside it is loaded, counted or revealed) and
//!   entry by entry in the writer (the stored version's patients and the new version's).

mod audit_log;
mod audit_terms;
mod compartment;
mod conn;
mod engine;
mod error;
mod interaction;
mod model;
mod postgres;
mod reach_sql;
mod runner;
mod search_all;
mod sql;
mod sqlite;
mod temp_postgres;

use std::sync::mpsc::SyncSender;
use std::sync::Arc;

use search::Indexer;
use search::Registry;
use search::SearchQuery;

pub mod audit;

pub use access::{Access, Reach};
/// The search parameters of the audit trail (AuditEvent), served from its log.
pub use audit_terms::PARAMS as AUDIT_SEARCH_PARAMS;
pub use compartment::patient_compartment_types;
pub use engine::{Commits, Keyed, Mode, Progress, WriteResult};
pub use error::StoreError;
pub use model::{
    Change, Entry, ExportQuery, ExportScope, HistoryQuery, HistoryScope, Hit, Op, Outcome,
    SearchPage, Version, WriteOp, EXPORT_PATIENTS,
};
pub use runner::{Consumer, Runner, LEASE_TTL};
pub use search_all::search_all;
pub use temp_postgres::TempPostgres;

use conn::Conn;
use engine::{Job, Pool, Shared};

/// The time source of the store (commit times). Tests pass a fixed or stepping clock.
pub trait Clock: Send + Sync {
    /// Milliseconds since the Unix epoch, UTC.
    fn now_ms(&self) -> i64;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or_default()
    }
}

/// The port: what the rest of Tend may ask of a store. All calls block; async callers
/// run them on a blocking thread.
pub trait Store: Send + Sync {
    /// Which adapter this is (`sqlite` or `postgres`).
    fn kind(&self) -> &'static str;
    /// The current version of a resource, a deletion included; `Forbidden` when it exists
    /// and `access` does not reach it.
    fn read(&self, access: &Access, rtype: &str, id: &str) -> Result<Option<Version>, StoreError>;
    /// One version of a resource, as [`Store::read`] decides.
    fn vread(
        &self,
        access: &Access,
        rtype: &str,
        id: &str,
        version: i64,
    ) -> Result<Option<Version>, StoreError>;
    /// History, newest first, and the number of versions in scope, of what `access` reaches.
    fn history(
        &self,
        access: &Access,
        q: &HistoryQuery,
    ) -> Result<(Vec<Version>, usize), StoreError>;
    /// Run a search over what `access` reaches (matches, includes, counts).
    fn search(&self, access: &Access, q: &SearchQuery) -> Result<SearchPage, StoreError>;
    /// Write entries, each decided with `access`; returns once durable.
    fn write(&self, access: &Access, entries: Vec<Entry>, mode: Mode) -> WriteResult;
    /// Write entries a change-log consumer derived (Tend itself: [`Access::system`]), and
    /// save its position `seq` in the same transaction: after a crash it resumes exactly
    /// where its writes stopped.
    fn write_consumed(
        &self,
        entries: Vec<Entry>,
        mode: Mode,
        consumer: &str,
        seq: i64,
    ) -> WriteResult;
    /// Change-log entries after position `after`, in order.
    fn changes(&self, after: i64, limit: usize) -> Result<Vec<Change>, StoreError>;
    /// Versions after position `after`, in change-log order, with their bodies.
    fn log(&self, after: i64, limit: usize) -> Result<Vec<Version>, StoreError>;
    /// The newest position committed through this store, with a wait for the next.
    fn commits(&self) -> Arc<Commits>;
    /// A consumer's saved change-log position (0 if none).
    fn checkpoint(&self, consumer: &str) -> Result<i64, StoreError>;
    /// Save a consumer's change-log position.
    fn save_checkpoint(&self, consumer: &str, seq: i64) -> Result<(), StoreError>;
    /// Take or renew the lease `name` for `holder` for `ttl_ms` from now, if it is free,
    /// expired or already `holder`'s; true when `holder` has it. Decided under the database's
    /// write lock, so one holder at a time across every process; `ttl_ms` 0 gives it up.
    fn lease(&self, name: &str, holder: &str, ttl_ms: i64) -> Result<bool, StoreError>;
    /// The resources of a patient's compartment (the patient itself excluded) and the
    /// resources they reference, as far as `access` reaches.
    fn compartment(&self, access: &Access, patient: &str) -> Result<Vec<Hit>, StoreError>;
    /// Current resources of a type after `cursor` (start at 0), and the next cursor. Tend's
    /// own population runs and exports only: no caller's access limits it.
    fn scan(&self, rtype: &str, cursor: i64, limit: usize) -> Result<(Vec<Hit>, i64), StoreError>;
    /// A page of a Bulk Data export, as far as `access` reaches (decided in the query, as
    /// for a search), and the cursor to continue from.
    fn export(&self, access: &Access, q: &ExportQuery) -> Result<(Vec<Hit>, i64), StoreError>;
    /// Where an export's snapshot ends: the newest change-log position and its commit time
    /// (ms), or None when nothing was ever written.
    fn export_snapshot(&self) -> Result<Option<(i64, i64)>, StoreError>;
    /// Current resources per type.
    fn counts(&self) -> Result<Vec<(String, usize)>, StoreError>;
    /// Record AuditEvents: linked into the audit chain and committed with the next group
    /// commit (no commit of their own); returns without waiting for it.
    fn audit(&self, events: Vec<serde_json::Value>) -> Result<(), StoreError>;
    /// Record AuditEvents and return once they are durable: they ride the next group commit
    /// (no commit of their own), and the caller holds its answer until then, so no access is
    /// answered without its record surviving a crash.
    fn audit_durable(&self, events: Vec<serde_json::Value>) -> Result<(), StoreError>;
    /// One of Tend's own records that are not FHIR resources (accounts, sessions, tokens),
    /// by space and key. The FHIR API never serves them.
    fn keyed_get(&self, space: &str, key: &str) -> Result<Option<String>, StoreError>;
    /// Every record of a space, by key.
    fn keyed_list(&self, space: &str) -> Result<Vec<(String, String)>, StoreError>;
    /// Set or remove keyed records, and record AuditEvents about them, in one durable commit.
    fn keyed_put(
        &self,
        writes: Vec<Keyed>,
        audit: Vec<serde_json::Value>,
    ) -> Result<(), StoreError>;
}

/// The longest a read may run before the store stops it (below the HTTP layer's 120 s, so a
/// request that gave up does not leave its query burning CPU).
pub const QUERY_LIMIT: std::time::Duration = std::time::Duration::from_secs(100);

/// What a store needs besides its URL.
#[derive(Clone)]
pub struct Options {
    pub clock: Arc<dyn Clock>,
    pub indexer: Arc<Indexer>,
    /// Read connections kept open.
    pub readers: usize,
}

/// Open the store at `url`: `sqlite://PATH` (`sqlite::memory:` is not supported: the
/// readers need the file), or `postgres://...` / `postgresql://...`.
pub fn open(url: &str, options: Options) -> Result<Arc<dyn Store>, StoreError> {
    let registry = Registry::r4();
    if let Some(path) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    {
        let path = path.to_string();
        let mut writer = sqlite::SqliteConn::open(&path, true)?;
        let pids = engine::init_schema(&mut writer, registry)?;
        audit_log::migrate(&mut writer, None)?;
        let shared = Arc::new(Shared { pids, registry });
        let commits = Arc::new(engine::Commits::default());
        commits.advance(engine::newest_seq(&mut writer)?);
        let queue = engine::spawn_writer(
            writer,
            shared.clone(),
            options.indexer.clone(),
            options.clock.clone(),
            None,
            commits.clone(),
        );
        let p = path.clone();
        let pool = Pool::new(Box::new(move || sqlite::SqliteConn::open(&p, false)));
        Ok(Arc::new(SqlStore {
            kind: "sqlite",
            indexer: options.indexer,
            shared,
            pool,
            queue,
            commits,
        }))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let mut writer = postgres::PgConn::open(url)?;
        writer.batch(postgres::WRITE_LOCK)?;
        let pids = engine::init_schema(&mut writer, registry)?;
        audit_log::migrate(&mut writer, Some(postgres::WRITE_LOCK))?;
        let shared = Arc::new(Shared { pids, registry });
        let commits = Arc::new(engine::Commits::default());
        commits.advance(engine::newest_seq(&mut writer)?);
        let queue = engine::spawn_writer(
            writer,
            shared.clone(),
            options.indexer.clone(),
            options.clock.clone(),
            Some(postgres::WRITE_LOCK),
            commits.clone(),
        );
        let u = url.to_string();
        let pool = Pool::new(Box::new(move || postgres::PgConn::open_reader(&u)));
        Ok(Arc::new(SqlStore {
            kind: "postgres",
            indexer: options.indexer,
            shared,
            pool,
            queue,
            commits,
        }))
    } else {
        Err(StoreError::BadRequest(format!(
            "unsupported database URL '{url}': use sqlite://PATH or postgres://USER@HOST:PORT/DB"
        )))
    }
}

/// A store over one kind of [`Conn`].
struct SqlStore<C: Conn> {
    kind: &'static str,
    indexer: Arc<Indexer>,
    shared: Arc<Shared>,
    pool: Pool<C>,
    queue: SyncSender<Job>,
    commits: Arc<engine::Commits>,
}

/// A Patient as the caller receives it: a community partner gets the contact details only
/// (`Access::shape_patient`), decided here for every path that returns records.
fn shape_body(access: &Access, rtype: &str, body: &mut Option<String>) {
    if rtype != "Patient" || access.partner_of().is_none() {
        return;
    }
    if let Some(b) = body.as_mut() {
        let shaped = serde_json::from_str::<serde_json::Value>(b)
            .map(|v| access.shape_patient(&v).to_string())
            .unwrap_or_default();
        *b = shaped;
    }
}

fn shape_hit(access: &Access, h: &mut Hit) {
    let mut body = Some(std::mem::take(&mut h.body));
    shape_body(access, &h.rtype, &mut body);
    h.body = body.unwrap_or_default();
}

fn shape_version(
    access: &Access,
    v: Result<Option<Version>, StoreError>,
) -> Result<Option<Version>, StoreError> {
    v.map(|v| {
        v.map(|mut v| {
            shape_body(access, &v.rtype, &mut v.body);
            v
        })
    })
}

impl<C: Conn + 'static> Store for SqlStore<C> {
    fn kind(&self) -> &'static str {
        self.kind
    }
    fn read(&self, access: &Access, rtype: &str, id: &str) -> Result<Option<Version>, StoreError> {
        shape_version(
            access,
            self.pool.with(|c| engine::read(c, access, rtype, id)),
        )
    }
    fn vread(
        &self,
        access: &Access,
        rtype: &str,
        id: &str,
        version: i64,
    ) -> Result<Option<Version>, StoreError> {
        shape_version(
            access,
            self.pool
                .with(|c| engine::vread(c, access, rtype, id, version)),
        )
    }
    fn history(
        &self,
        access: &Access,
        q: &HistoryQuery,
    ) -> Result<(Vec<Version>, usize), StoreError> {
        let (mut versions, total) = self.pool.with(|c| engine::history(c, access, q))?;
        for v in &mut versions {
            shape_body(access, &v.rtype, &mut v.body);
        }
        Ok((versions, total))
    }
    fn search(&self, access: &Access, q: &SearchQuery) -> Result<SearchPage, StoreError> {
        let mut page = self
            .pool
            .with(|c| engine::search(c, &self.shared, access, q))?;
        for h in page.matches.iter_mut().chain(page.included.iter_mut()) {
            shape_hit(access, h);
        }
        Ok(page)
    }
    fn write(&self, access: &Access, entries: Vec<Entry>, mode: Mode) -> WriteResult {
        engine::submit(&self.queue, &self.indexer, access, entries, mode, None)
    }
    fn write_consumed(
        &self,
        entries: Vec<Entry>,
        mode: Mode,
        consumer: &str,
        seq: i64,
    ) -> WriteResult {
        let cp = Some((consumer.to_string(), seq));
        engine::submit(
            &self.queue,
            &self.indexer,
            &Access::system(),
            entries,
            mode,
            cp,
        )
    }
    fn changes(&self, after: i64, limit: usize) -> Result<Vec<Change>, StoreError> {
        self.pool.with(|c| engine::changes(c, after, limit))
    }
    fn log(&self, after: i64, limit: usize) -> Result<Vec<Version>, StoreError> {
        self.pool.with(|c| engine::log(c, after, limit))
    }
    fn commits(&self) -> Arc<engine::Commits> {
        self.commits.clone()
    }
    fn checkpoint(&self, consumer: &str) -> Result<i64, StoreError> {
        self.pool.with(|c| engine::checkpoint(c, consumer))
    }
    fn save_checkpoint(&self, consumer: &str, seq: i64) -> Result<(), StoreError> {
        // Through the writer, like every write: a second writing connection would wait
        // for the database lock behind the writer's commits (SQLite's busy handler sleeps).
        let cp = Some((consumer.to_string(), seq));
        engine::submit(
            &self.queue,
            &self.indexer,
            &Access::system(),
            Vec::new(),
            Mode::Independent,
            cp,
        )?;
        Ok(())
    }
    fn lease(&self, name: &str, holder: &str, ttl_ms: i64) -> Result<bool, StoreError> {
        engine::submit_lease(&self.queue, name, holder, ttl_ms)
    }
    fn compartment(&self, access: &Access, patient: &str) -> Result<Vec<Hit>, StoreError> {
        let mut hits = self
            .pool
            .with(|c| engine::compartment(c, access, patient))?;
        for h in &mut hits {
            shape_hit(access, h);
        }
        Ok(hits)
    }
    fn scan(&self, rtype: &str, cursor: i64, limit: usize) -> Result<(Vec<Hit>, i64), StoreError> {
        self.pool.with(|c| engine::scan(c, rtype, cursor, limit))
    }
    fn export(&self, access: &Access, q: &ExportQuery) -> Result<(Vec<Hit>, i64), StoreError> {
        let (mut hits, next) = self.pool.with(|c| engine::export(c, access, q))?;
        for h in &mut hits {
            shape_hit(access, h);
        }
        Ok((hits, next))
    }
    fn export_snapshot(&self) -> Result<Option<(i64, i64)>, StoreError> {
        self.pool.with(|c| engine::export_snapshot(c))
    }
    fn counts(&self) -> Result<Vec<(String, usize)>, StoreError> {
        self.pool.with(|c| engine::counts(c))
    }
    fn audit(&self, events: Vec<serde_json::Value>) -> Result<(), StoreError> {
        engine::submit_audit(&self.queue, events, Vec::new(), false)
    }
    fn audit_durable(&self, events: Vec<serde_json::Value>) -> Result<(), StoreError> {
        engine::submit_audit(&self.queue, events, Vec::new(), true)
    }
    fn keyed_get(&self, space: &str, key: &str) -> Result<Option<String>, StoreError> {
        self.pool.with(|c| engine::keyed_get(c, space, key))
    }
    fn keyed_list(&self, space: &str) -> Result<Vec<(String, String)>, StoreError> {
        self.pool.with(|c| engine::keyed_list(c, space))
    }
    fn keyed_put(
        &self,
        writes: Vec<Keyed>,
        audit: Vec<serde_json::Value>,
    ) -> Result<(), StoreError> {
        engine::submit_audit(&self.queue, audit, writes, true)
    }
}
