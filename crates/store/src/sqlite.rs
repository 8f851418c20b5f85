//! The embedded SQLite adapter (the default): one file, WAL journal, `synchronous=FULL` so
//! a commit is durable when acknowledged; one writer connection, pooled readers.
//! <https://www.sqlite.org/wal.html>

use rusqlite::types::{ToSqlOutput, Value as SqlValue, ValueRef};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags, ToSql};

use crate::conn::{Cell, Conn};
use crate::error::StoreError;
use crate::sql::{Arg, Dialect};

impl ToSql for Arg {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Arg::Int(i) => ToSqlOutput::Owned(SqlValue::Integer(*i)),
            Arg::Real(r) => ToSqlOutput::Owned(SqlValue::Real(*r)),
            Arg::Text(t) => ToSqlOutput::Borrowed(ValueRef::Text(t.as_bytes())),
            Arg::Null => ToSqlOutput::Owned(SqlValue::Null),
        })
    }
}

/// One SQLite connection.
pub(crate) struct SqliteConn {
    conn: Connection,
    /// When the running statement started (ms since `epoch`), 0 when none runs: a reader's
    /// progress handler stops a statement running longer than its limit.
    started: Arc<AtomicU64>,
    epoch: Instant,
}

impl SqliteConn {
    /// Open `path` for writing (creating it) or reading; a reader's statements stop after
    /// [`crate::QUERY_LIMIT`].
    pub(crate) fn open(path: &str, writer: bool) -> Result<SqliteConn, StoreError> {
        let limit = (!writer).then_some(crate::QUERY_LIMIT);
        SqliteConn::open_with(path, writer, limit)
    }

    fn open_with(
        path: &str,
        writer: bool,
        limit: Option<Duration>,
    ) -> Result<SqliteConn, StoreError> {
        let flags = if writer {
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
        } else {
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX
        };
        let conn = Connection::open_with_flags(path, flags)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.set_prepared_statement_cache_capacity(512);
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA temp_store = MEMORY;
             PRAGMA cache_size = -65536; PRAGMA mmap_size = 1073741824; PRAGMA wal_autocheckpoint = 4000;",
        )?;
        let started = Arc::new(AtomicU64::new(0));
        let epoch = Instant::now();
        if let Some(limit) = limit {
            let s = started.clone();
            let limit_ms = limit.as_millis() as u64;
            // Called every 10,000 virtual-machine steps: a few microseconds apart.
            conn.progress_handler(
                10_000,
                Some(move || {
                    let at = s.load(Ordering::Relaxed);
                    at != 0 && (epoch.elapsed().as_millis() as u64).saturating_sub(at) > limit_ms
                }),
            );
        }
        Ok(SqliteConn {
            conn,
            started,
            epoch,
        })
    }
}

fn cell(v: ValueRef<'_>) -> Cell {
    match v {
        ValueRef::Null => Cell::Null,
        ValueRef::Integer(i) => Cell::Int(i),
        ValueRef::Real(r) => Cell::Real(r),
        ValueRef::Text(t) | ValueRef::Blob(t) => {
            Cell::Text(String::from_utf8_lossy(t).into_owned())
        }
    }
}

impl Conn for SqliteConn {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        Ok(self.conn.execute_batch(sql)?)
    }

    fn exec(&mut self, sql: &str, args: &[Arg]) -> Result<u64, StoreError> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        Ok(stmt.execute(rusqlite::params_from_iter(args.iter()))? as u64)
    }

    fn query(&mut self, sql: &str, args: &[Arg]) -> Result<Vec<Vec<Cell>>, StoreError> {
        // 1 at least: 0 means no statement runs.
        let now = (self.epoch.elapsed().as_millis() as u64).max(1);
        self.started.store(now, Ordering::Relaxed);
        let r = self.run(sql, args);
        self.started.store(0, Ordering::Relaxed);
        r.map_err(|e| match e {
            rusqlite::Error::SqliteFailure(f, _)
                if f.code == rusqlite::ErrorCode::OperationInterrupted =>
            {
                StoreError::TooCostly(crate::QUERY_LIMIT)
            }
            e => e.into(),
        })
    }
}

impl SqliteConn {
    fn run(&mut self, sql: &str, args: &[Arg]) -> rusqlite::Result<Vec<Vec<Cell>>> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        let n = stmt.column_count();
        let mut rows = stmt.query(rusqlite::params_from_iter(args.iter()))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let mut r = Vec::with_capacity(n);
            for i in 0..n {
                r.push(cell(row.get_ref(i)?));
            }
            out.push(r);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_past_its_limit_stops() {
        let dir = std::env::temp_dir().join(format!("tend-limit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("limit.db").display().to_string();
        let mut c = SqliteConn::open_with(&path, true, Some(Duration::from_millis(100))).unwrap();
        let started = Instant::now();
        // Counts to ten billion: minutes of work unless stopped.
        let r = c.query(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000000000) SELECT COUNT(*) FROM n",
            &[],
        );
        assert!(matches!(r, Err(StoreError::TooCostly(_))), "{r:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
        // The connection serves the next read.
        assert_eq!(c.query("SELECT 1", &[]).unwrap().len(), 1);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
