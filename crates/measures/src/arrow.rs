//! A view's table as an Arrow record batch: integers as Int64, decimals as Float64,
//! booleans as Boolean, everything else (text, codes, dates and times as FHIR writes them,
//! collections as JSON) as Utf8, for the SQL to parse where it needs to.

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, BooleanBuilder, Float64Builder, Int64Builder, StringBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use serde_json::Value;
use views::{Kind, Table};

fn data_type(c: &views::Column) -> DataType {
    if c.collection {
        return DataType::Utf8;
    }
    match c.kind {
        Kind::Integer => DataType::Int64,
        Kind::Decimal => DataType::Float64,
        Kind::Boolean => DataType::Boolean,
        _ => DataType::Utf8,
    }
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// The table as one record batch.
pub(crate) fn batch(table: &Table) -> Result<RecordBatch, datafusion::arrow::error::ArrowError> {
    let schema = Arc::new(Schema::new(
        table
            .columns
            .iter()
            .map(|c| Field::new(&c.name, data_type(c), true))
            .collect::<Vec<_>>(),
    ));
    let n = table.rows.len();
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(table.columns.len());
    for (i, c) in table.columns.iter().enumerate() {
        let cell = |r: &Vec<Value>| r.get(i).cloned().unwrap_or(Value::Null);
        let array: ArrayRef = match data_type(c) {
            DataType::Int64 => {
                let mut b = Int64Builder::with_capacity(n);
                for r in &table.rows {
                    b.append_option(cell(r).as_i64());
                }
                Arc::new(b.finish())
            }
            DataType::Float64 => {
                let mut b = Float64Builder::with_capacity(n);
                for r in &table.rows {
                    b.append_option(cell(r).as_f64());
                }
                Arc::new(b.finish())
            }
            DataType::Boolean => {
                let mut b = BooleanBuilder::with_capacity(n);
                for r in &table.rows {
                    b.append_option(cell(r).as_bool());
                }
                Arc::new(b.finish())
            }
            _ => {
                let mut b = StringBuilder::with_capacity(n, n * 16);
                for r in &table.rows {
                    b.append_option(text(&cell(r)));
                }
                Arc::new(b.finish())
            }
        };
        arrays.push(array);
    }
    RecordBatch::try_new(schema, arrays)
}
