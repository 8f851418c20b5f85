//! SQL-on-FHIR v2 ViewDefinitions (<https://sql-on-fhir.org/ig/latest/>) run over FHIR R4
//! resources held as JSON: how Tend's measures flatten the record into tables before their
//! SQL runs.
//!
//! A thin adapter around the SQL-on-FHIR engine crate (`octofhir-sof`'s in-memory
//! evaluator, on the FHIRPath engine Tend already uses). [`View::parse`] reads and checks a
//! ViewDefinition and compiles its expressions once; [`View::rows`] flattens resources
//! into a [`Table`] (the view's columns, typed, and one row per selected element). A view
//! within a common FHIRPath subset runs on a direct evaluator over the JSON instead
//! ([`View::is_direct`], module `fast`); the tests check it against the engine.
//!
//! *Architecture invariant:* it is the only crate that names the engine's types; the
//! engine's futures are driven on the calling thread (`fhirpath::block_on`): no runtime.
//! The official SQL-on-FHIR v2 test suite runs as this crate's test
//! (`tests/official_suite.rs`) and prints its pass count.

use serde_json::Value;

mod fast;

/// The crate's error type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The ViewDefinition cannot be used: not a ViewDefinition, an unknown column type, a
    /// FHIRPath expression that does not parse, a constant that is not defined…
    #[error("view {view}: {message}")]
    View { view: String, message: String },
    /// A resource could not be flattened (e.g. a column declared single-valued met several
    /// values).
    #[error("view {view}, {resource}: {message}")]
    Row {
        view: String,
        resource: String,
        message: String,
    },
}

/// A column's type, as the ViewDefinition declares it (or string).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    String,
    Integer,
    Decimal,
    Boolean,
    Date,
    DateTime,
    /// Anything else FHIR has (`time`, `base64Binary`, codes, ids…), kept as text.
    Other,
}

/// A column of a view's table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub kind: Kind,
    /// `collection: true`: the cell holds a JSON array.
    pub collection: bool,
}

/// A view's rows: each a JSON value per column (`null` when empty).
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Value>>,
}

/// A compiled ViewDefinition.
pub struct View {
    name: String,
    definition: Value,
    compiled: octofhir_sof::CompiledView,
    /// The direct evaluator, when the view is within its subset.
    fast: Option<fast::FastView>,
}

impl std::fmt::Debug for View {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("View").field("name", &self.name).finish()
    }
}

fn kind(t: octofhir_sof::ColumnType) -> Kind {
    use octofhir_sof::ColumnType as C;
    match t {
        C::String => Kind::String,
        C::Integer | C::Integer64 => Kind::Integer,
        C::Decimal => Kind::Decimal,
        C::Boolean => Kind::Boolean,
        C::Date => Kind::Date,
        C::DateTime | C::Instant => Kind::DateTime,
        _ => Kind::Other,
    }
}

impl View {
    /// Read a ViewDefinition (JSON) and compile it.
    pub fn parse(definition: &Value) -> Result<View, Error> {
        let name = definition["name"]
            .as_str()
            .or(definition["id"].as_str())
            .unwrap_or("(unnamed)")
            .to_string();
        let err = |message: String| Error::View {
            view: name.clone(),
            message,
        };
        let vd =
            octofhir_sof::ViewDefinition::from_json(definition).map_err(|e| err(e.to_string()))?;
        let compiled = fhirpath::block_on(octofhir_sof::CompiledView::compile(&vd))
            .map_err(|e| err(e.to_string()))?;
        let names: Vec<String> = compiled.columns().iter().map(|c| c.name.clone()).collect();
        let fast = fast::FastView::compile(definition, &names);
        Ok(View {
            name: name.clone(),
            definition: definition.clone(),
            compiled,
            fast,
        })
    }

    /// The view's name (`name`, else `id`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The resource type it selects from.
    pub fn resource(&self) -> &str {
        self.compiled.resource_type()
    }

    /// The ViewDefinition as given.
    pub fn definition(&self) -> &Value {
        &self.definition
    }

    /// The columns, in order.
    pub fn columns(&self) -> Vec<Column> {
        let collections = collection_columns(&self.definition["select"]);
        self.compiled
            .columns()
            .iter()
            .map(|c| Column {
                name: c.name.clone(),
                kind: kind(c.col_type),
                collection: collections.contains(&c.name),
            })
            .collect()
    }

    /// Whether the view runs on the direct evaluator (its FHIRPath is within the common
    /// subset) rather than the general engine.
    pub fn is_direct(&self) -> bool {
        self.fast.is_some()
    }

    /// The same view on the general engine alone.
    pub fn engine_only(mut self) -> View {
        self.fast = None;
        self
    }

    /// The rows of one resource by the general engine alone (what the direct evaluator is
    /// checked against).
    pub fn engine_rows(&self, resource: &Value) -> Result<Vec<Vec<Value>>, Error> {
        fhirpath::block_on(self.compiled.execute_resource(resource))
            .map_err(|e| self.row_error(resource, e.to_string()))
    }

    fn row_error(&self, resource: &Value, message: String) -> Error {
        Error::Row {
            view: self.name.clone(),
            resource: format!(
                "{}/{}",
                resource["resourceType"].as_str().unwrap_or("?"),
                resource["id"].as_str().unwrap_or("?")
            ),
            message,
        }
    }

    /// The rows of one resource (none when it is of another type or its `where` fails).
    pub fn resource_rows(&self, resource: &Value) -> Result<Vec<Vec<Value>>, Error> {
        if let Some(f) = &self.fast {
            if resource["resourceType"].as_str() != Some(self.resource()) {
                return Ok(Vec::new());
            }
            return f.rows(resource).map_err(|m| self.row_error(resource, m));
        }
        fhirpath::block_on(self.compiled.execute_resource(resource)).map_err(|e| Error::Row {
            view: self.name.clone(),
            resource: format!(
                "{}/{}",
                resource["resourceType"].as_str().unwrap_or("?"),
                resource["id"].as_str().unwrap_or("?")
            ),
            message: e.to_string(),
        })
    }

    /// The table of `resources`.
    pub fn rows<'a>(&self, resources: impl IntoIterator<Item = &'a Value>) -> Result<Table, Error> {
        let mut rows = Vec::new();
        for r in resources {
            rows.extend(self.resource_rows(r)?);
        }
        Ok(Table {
            columns: self.columns(),
            rows,
        })
    }
}

impl View {
    /// [`View::rows`] on up to `threads` threads (each flattens a contiguous share of
    /// `resources`; the rows keep the resources' order).
    pub fn rows_parallel(&self, resources: &[&Value], threads: usize) -> Result<Table, Error> {
        let threads = threads.max(1);
        if threads == 1 || resources.len() < 1000 {
            return self.rows(resources.iter().copied());
        }
        let share = resources.len().div_ceil(threads);
        let parts: Vec<Result<Vec<Vec<Value>>, Error>> = std::thread::scope(|s| {
            let handles: Vec<_> = resources
                .chunks(share)
                .map(|part| {
                    s.spawn(move || {
                        let mut rows = Vec::new();
                        for r in part {
                            rows.extend(self.resource_rows(r)?);
                        }
                        Ok(rows)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(Error::View {
                            view: self.name.clone(),
                            message: "a flattening thread failed".into(),
                        })
                    })
                })
                .collect()
        });
        let mut rows = Vec::with_capacity(resources.len());
        for p in parts {
            rows.extend(p?);
        }
        Ok(Table {
            columns: self.columns(),
            rows,
        })
    }
}

/// The names of columns declared `collection: true` anywhere in `select`.
fn collection_columns(select: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for s in select.as_array().into_iter().flatten() {
        for c in s["column"].as_array().into_iter().flatten() {
            if c["collection"].as_bool() == Some(true) {
                if let Some(n) = c["name"].as_str() {
                    out.push(n.to_string());
                }
            }
        }
        out.extend(collection_columns(&s["select"]));
        out.extend(collection_columns(&s["unionAll"]));
    }
    out
}
