//! The PostgreSQL adapter (production): the same schema and SQL as SQLite, `$n`
//! placeholders, prepared statements cached per connection, and a transaction-scoped
//! advisory lock so change-log positions are assigned in commit order even when several
//! Tend processes share one database. <https://www.postgresql.org/docs/15/>

use std::collections::HashMap;

use postgres::types::{ToSql, Type};
use postgres::{Client, NoTls, Statement};

use crate::conn::{Cell, Conn};
use crate::error::StoreError;
use crate::sql::{renumber, Arg, Dialect};

/// Serialises writers across processes for the duration of a transaction.
pub(crate) const WRITE_LOCK: &str = "SELECT pg_advisory_xact_lock(7355608)";

/// One PostgreSQL connection.
pub(crate) struct PgConn {
    client: Client,
    cache: HashMap<String, Statement>,
}

impl PgConn {
    pub(crate) fn open(url: &str) -> Result<PgConn, StoreError> {
        let client = Client::connect(url, NoTls)?;
        Ok(PgConn {
            client,
            cache: HashMap::new(),
        })
    }

    /// A reader: its statements stop after [`crate::QUERY_LIMIT`].
    pub(crate) fn open_reader(url: &str) -> Result<PgConn, StoreError> {
        let mut c = PgConn::open(url)?;
        c.client.batch_execute(&format!(
            "SET statement_timeout = {}",
            crate::QUERY_LIMIT.as_millis()
        ))?;
        Ok(c)
    }

    fn statement(&mut self, sql: &str) -> Result<Statement, StoreError> {
        if let Some(s) = self.cache.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client.prepare(&renumber(sql))?;
        if self.cache.len() > 1024 {
            self.cache.clear();
        }
        self.cache.insert(sql.to_string(), s.clone());
        Ok(s)
    }
}

/// Bind arguments with the types the statement expects (integers to int4/int8, numbers
/// to float8, text).
fn bind(args: &[Arg], types: &[Type]) -> Vec<Box<dyn ToSql + Sync>> {
    args.iter()
        .zip(types.iter().chain(std::iter::repeat(&Type::TEXT)))
        .map(|(a, t)| -> Box<dyn ToSql + Sync> {
            match a {
                Arg::Int(i) if *t == Type::INT4 => Box::new(*i as i32),
                Arg::Int(i) if *t == Type::FLOAT8 => Box::new(*i as f64),
                Arg::Int(i) if *t == Type::TEXT || *t == Type::VARCHAR => Box::new(i.to_string()),
                Arg::Int(i) => Box::new(*i),
                Arg::Real(r) => Box::new(*r),
                Arg::Text(s) => Box::new(s.clone()),
                Arg::Null if *t == Type::INT8 => Box::new(None::<i64>),
                Arg::Null if *t == Type::FLOAT8 => Box::new(None::<f64>),
                Arg::Null => Box::new(None::<String>),
            }
        })
        .collect()
}

fn cell(row: &postgres::Row, i: usize) -> Cell {
    let t = row.columns()[i].type_();
    if *t == Type::INT8 {
        row.get::<_, Option<i64>>(i)
            .map(Cell::Int)
            .unwrap_or(Cell::Null)
    } else if *t == Type::INT4 {
        row.get::<_, Option<i32>>(i)
            .map(|v| Cell::Int(v.into()))
            .unwrap_or(Cell::Null)
    } else if *t == Type::FLOAT8 {
        row.get::<_, Option<f64>>(i)
            .map(Cell::Real)
            .unwrap_or(Cell::Null)
    } else {
        row.get::<_, Option<String>>(i)
            .map(Cell::Text)
            .unwrap_or(Cell::Null)
    }
}

impl Conn for PgConn {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        Ok(self.client.batch_execute(sql)?)
    }

    fn exec(&mut self, sql: &str, args: &[Arg]) -> Result<u64, StoreError> {
        let stmt = self.statement(sql)?;
        let bound = bind(args, stmt.params());
        let refs: Vec<&(dyn ToSql + Sync)> = bound.iter().map(|b| b.as_ref()).collect();
        Ok(self.client.execute(&stmt, &refs)?)
    }

    fn query(&mut self, sql: &str, args: &[Arg]) -> Result<Vec<Vec<Cell>>, StoreError> {
        let stmt = self.statement(sql)?;
        let bound = bind(args, stmt.params());
        let refs: Vec<&(dyn ToSql + Sync)> = bound.iter().map(|b| b.as_ref()).collect();
        let rows = self.client.query(&stmt, &refs)?;
        Ok(rows
            .iter()
            .map(|r| (0..r.len()).map(|i| cell(r, i)).collect())
            .collect())
    }
}
