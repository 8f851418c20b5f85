//! The one seam between the shared store logic and a database: run SQL with arguments,
//! get rows back. Each adapter implements [`Conn`] for its driver's connection.

use crate::error::StoreError;
use crate::sql::{Arg, Dialect};

/// One value of a result row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
}

impl Cell {
    pub(crate) fn int(&self) -> i64 {
        match self {
            Cell::Int(i) => *i,
            Cell::Real(r) => *r as i64,
            Cell::Text(t) => t.parse().unwrap_or_default(),
            Cell::Null => 0,
        }
    }

    pub(crate) fn text(self) -> Option<String> {
        match self {
            Cell::Text(t) => Some(t),
            Cell::Int(i) => Some(i.to_string()),
            Cell::Real(r) => Some(r.to_string()),
            Cell::Null => None,
        }
    }
}

/// A database connection as the shared logic needs it.
pub(crate) trait Conn: Send {
    fn dialect(&self) -> Dialect;
    /// Run statements without arguments or results (DDL, BEGIN, COMMIT).
    fn batch(&mut self, sql: &str) -> Result<(), StoreError>;
    /// Run one statement; returns the number of rows changed.
    fn exec(&mut self, sql: &str, args: &[Arg]) -> Result<u64, StoreError>;
    /// Run one query; `sql` uses `?` placeholders (renumbered by adapters that need it).
    fn query(&mut self, sql: &str, args: &[Arg]) -> Result<Vec<Vec<Cell>>, StoreError>;

    /// The first column of the first row of a query as an integer (a count, a position);
    /// `None` when there is no row.
    fn scalar(&mut self, sql: &str, args: &[Arg]) -> Result<Option<i64>, StoreError> {
        Ok(self
            .query(sql, args)?
            .first()
            .and_then(|r| r.first())
            .map(Cell::int))
    }
}
