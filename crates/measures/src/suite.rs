//! The measure files and running them.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use serde::Deserialize;
use serde_json::Value;

use crate::Error;

/// A measure's definition (`data/measures/*.json`).
#[derive(Debug, Clone, Deserialize)]
pub struct Measure {
    pub id: String,
    pub title: String,
    /// How the rate is said: "per 1,000 patient days", "%".
    pub unit: String,
    /// `lower` or `higher`.
    pub better: String,
    /// Where the definition comes from.
    pub source: String,
    pub views: Vec<String>,
    pub numerator: String,
    pub denominator: String,
    /// The SQL file, relative to `data/`.
    pub sql: String,
    /// Text put in the SQL for `{name}`.
    #[serde(default)]
    pub parameters: BTreeMap<String, String>,
    #[serde(skip)]
    query: String,
}

impl Measure {
    /// Numerator per denominator in the measure's unit (per 1,000 days, or per cent).
    pub fn scale(&self) -> f64 {
        if self.unit.starts_with("per 1,000") {
            1000.0
        } else if self.unit == "%" {
            100.0
        } else {
            1.0
        }
    }
}

/// One unit's month of one measure.
#[derive(Debug, Clone, PartialEq)]
pub struct MeasureRow {
    pub measure: String,
    /// The unit (`Location` id).
    pub unit: String,
    /// `YYYY-MM`, hospital time.
    pub month: String,
    /// The patient (`Patient` id) the counts are about, when the SQL says (its optional
    /// `patient` column): what equity strata are counted from.
    pub patient: Option<String>,
    pub numerator: i64,
    pub denominator: i64,
}

/// How long one step of a run took: a view's flattening and loading, or a measure's SQL.
#[derive(Debug, Clone, PartialEq)]
pub struct Timing {
    /// `view inpatient_stay`, `measure ndnqi-falls`.
    pub name: String,
    /// Rows the view produced, or the rows the SQL read (its views' rows).
    pub rows: usize,
    pub seconds: f64,
}

/// The views and measures, compiled.
#[derive(Debug)]
pub struct Suite {
    views: Vec<views::View>,
    /// Tables derived from the views by SQL (`data/tables/NAME.sql`), computed once a run,
    /// before the measures, for the measures that share them.
    tables: Vec<(String, String)>,
    measures: Vec<Measure>,
}

macro_rules! shipped_files {
    ($($path:literal),* $(,)?) => {
        &[$(($path, include_str!(concat!("../data/", $path)))),*]
    };
}

/// The files shipped with Tend, by path under `data/`.
const SHIPPED: &[(&str, &str)] = shipped_files!(
    "views/inpatient_stay.json",
    "views/safety_event.json",
    "views/alert_task.json",
    "views/prevalence_survey.json",
    "views/device.json",
    "views/device_use.json",
    "views/hai.json",
    "views/observation_set.json",
    "views/admission.json",
    "views/patient_birth.json",
    "views/social_screening_answer.json",
    "views/sepsis_action.json",
    "tables/census.sql",
    "measures/falls.json",
    "measures/falls_with_injury.json",
    "measures/falls.sql",
    "measures/alerts_acknowledged.json",
    "measures/alerts_acknowledged.sql",
    "measures/hapi.json",
    "measures/restraint.json",
    "measures/prevalence.sql",
    "measures/clabsi.json",
    "measures/cauti.json",
    "measures/device_infections.sql",
    "measures/observations_on_time.json",
    "measures/observations_on_time.sql",
    "measures/social_needs_screening.json",
    "measures/social_needs_screening.sql",
    "measures/sepsis_antibiotics.json",
    "measures/sepsis_antibiotics.sql",
);

fn file_error(file: &str, message: impl std::fmt::Display) -> Error {
    Error::File {
        file: file.to_string(),
        message: message.to_string(),
    }
}

impl Suite {
    /// The suite shipped with Tend.
    pub fn shipped() -> Result<Suite, Error> {
        Suite::from_files(SHIPPED.iter().map(|(p, t)| (p.to_string(), t.to_string())))
    }

    /// A suite from `(path, text)` files laid out as `data/` is (`views/…json`,
    /// `measures/…json`, the SQL files they name).
    pub fn from_files(files: impl IntoIterator<Item = (String, String)>) -> Result<Suite, Error> {
        let files: BTreeMap<String, String> = files.into_iter().collect();
        let mut views = Vec::new();
        let mut tables = Vec::new();
        let mut measures = Vec::new();
        for (path, text) in &files {
            if path.starts_with("views/") && path.ends_with(".json") {
                let v: Value = serde_json::from_str(text).map_err(|e| file_error(path, e))?;
                views.push(views::View::parse(&v)?);
            } else if let Some(name) = path
                .strip_prefix("tables/")
                .and_then(|p| p.strip_suffix(".sql"))
            {
                tables.push((name.to_string(), text.clone()));
            } else if path.starts_with("measures/") && path.ends_with(".json") {
                let mut m: Measure = serde_json::from_str(text).map_err(|e| file_error(path, e))?;
                m.query = files
                    .get(&m.sql)
                    .ok_or_else(|| file_error(path, format!("no SQL file {}", m.sql)))?
                    .clone();
                measures.push(m);
            }
        }
        for m in &measures {
            if let Some(v) = m.views.iter().find(|v| {
                !views.iter().any(|x| x.name() == *v) && !tables.iter().any(|(t, _)| t == *v)
            }) {
                return Err(file_error(&m.id, format!("no view or table {v}")));
            }
        }
        Ok(Suite {
            views,
            tables,
            measures,
        })
    }

    /// Whether `zone` is an IANA time zone the SQL can be given.
    pub fn zone_ok(zone: &str) -> bool {
        zone.parse::<chrono_tz::Tz>().is_ok()
    }

    pub fn measures(&self) -> &[Measure] {
        &self.measures
    }

    pub fn measure(&self, id: &str) -> Option<&Measure> {
        self.measures.iter().find(|m| m.id == id)
    }

    /// The resource types the views read.
    pub fn resource_types(&self) -> Vec<String> {
        let mut t: Vec<String> = self
            .views
            .iter()
            .map(|v| v.resource().to_string())
            .collect();
        t.sort();
        t.dedup();
        t
    }

    /// Flatten `resources` through every view, then run every measure, in the hospital's
    /// `zone` with open stays ending at `as_of`.
    pub fn run<'a>(
        &self,
        resources: impl IntoIterator<Item = &'a Value>,
        zone: &str,
        as_of: DateTime<Utc>,
    ) -> Result<Vec<MeasureRow>, Error> {
        Ok(self.run_timed(resources, zone, as_of)?.0)
    }

    /// Every measure's SQL over the registered views, with its timing.
    fn queries(
        &self,
        ctx: &SessionContext,
        zone: &str,
        as_of: &str,
        view_rows: &BTreeMap<&str, usize>,
    ) -> Result<(Vec<MeasureRow>, Vec<Timing>), Error> {
        let mut timing = Vec::new();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .map_err(|e| file_error("runtime", e))?;
        let mut view_rows = view_rows.clone();
        for (name, query) in &self.tables {
            let started = std::time::Instant::now();
            let sql = query.replace("{zone}", zone).replace("{as_of}", as_of);
            let err = |e: datafusion::error::DataFusionError| Error::Sql {
                measure: format!("table {name}"),
                message: e.to_string(),
            };
            let batches = runtime.block_on(async {
                let df = ctx.sql(&sql).await.map_err(err)?;
                df.collect().await.map_err(err)
            })?;
            let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
            let schema = match batches.first() {
                Some(b) => b.schema(),
                None => runtime
                    .block_on(async { ctx.sql(&sql).await.map(|df| df.schema().inner().clone()) })
                    .map_err(err)?,
            };
            let mem = MemTable::try_new(schema, vec![batches]).map_err(err)?;
            ctx.register_table(name.as_str(), Arc::new(mem))
                .map_err(err)?;
            view_rows.insert(name.as_str(), rows);
            timing.push(Timing {
                name: format!("table {name}"),
                rows,
                seconds: started.elapsed().as_secs_f64(),
            });
        }
        let view_rows = &view_rows;
        let mut out = Vec::new();
        for m in &self.measures {
            let started = std::time::Instant::now();
            let mut sql = m.query.replace("{zone}", zone).replace("{as_of}", as_of);
            for (k, v) in &m.parameters {
                sql = sql.replace(&format!("{{{k}}}"), v);
            }
            let err = |e: datafusion::error::DataFusionError| Error::Sql {
                measure: m.id.clone(),
                message: e.to_string(),
            };
            let batches = runtime.block_on(async {
                let df = ctx.sql(&sql).await.map_err(err)?;
                df.collect().await.map_err(err)
            })?;
            for b in batches {
                let col = |name: &str| {
                    b.column_by_name(name).cloned().ok_or_else(|| Error::Sql {
                        measure: m.id.clone(),
                        message: format!("the SQL returns no column {name}"),
                    })
                };
                let (unit, month, num, den) = (
                    col("unit")?,
                    col("month")?,
                    col("numerator")?,
                    col("denominator")?,
                );
                let int = |a: &Arc<dyn Array>| -> Result<Vec<i64>, Error> {
                    let a = datafusion::arrow::compute::cast(a, &DataType::Int64).map_err(|e| {
                        Error::Sql {
                            measure: m.id.clone(),
                            message: e.to_string(),
                        }
                    })?;
                    Ok(a.as_primitive::<Int64Type>()
                        .iter()
                        .map(|v| v.unwrap_or(0))
                        .collect())
                };
                let text = |a: &Arc<dyn Array>| -> Result<Vec<String>, Error> {
                    let a = datafusion::arrow::compute::cast(a, &DataType::Utf8).map_err(|e| {
                        Error::Sql {
                            measure: m.id.clone(),
                            message: e.to_string(),
                        }
                    })?;
                    Ok(a.as_string::<i32>()
                        .iter()
                        .map(|v| v.unwrap_or_default().to_string())
                        .collect())
                };
                let (units, months, nums, dens) =
                    (text(&unit)?, text(&month)?, int(&num)?, int(&den)?);
                let patients: Vec<Option<String>> = match b.column_by_name("patient") {
                    Some(p) => text(p)?
                        .into_iter()
                        .map(|p| (!p.is_empty()).then_some(p))
                        .collect(),
                    None => vec![None; b.num_rows()],
                };
                for i in 0..b.num_rows() {
                    out.push(MeasureRow {
                        measure: m.id.clone(),
                        unit: units[i].clone(),
                        month: months[i].clone(),
                        patient: patients[i].clone(),
                        numerator: nums[i],
                        denominator: dens[i],
                    });
                }
            }
            timing.push(Timing {
                name: format!("measure {}", m.id),
                rows: m
                    .views
                    .iter()
                    .filter_map(|v| view_rows.get(v.as_str()))
                    .sum(),
                seconds: started.elapsed().as_secs_f64(),
            });
        }
        Ok((out, timing))
    }

    /// [`Suite::run`], with how long each view and each measure took.
    pub fn run_timed<'a>(
        &self,
        resources: impl IntoIterator<Item = &'a Value>,
        zone: &str,
        as_of: DateTime<Utc>,
    ) -> Result<(Vec<MeasureRow>, Vec<Timing>), Error> {
        let mut timing = Vec::new();
        let mut view_rows: BTreeMap<&str, usize> = BTreeMap::new();
        if zone.parse::<chrono_tz::Tz>().is_err() {
            return Err(file_error("zone", format!("{zone:?} is not a time zone")));
        }
        let mut by_type: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
        for r in resources {
            if let Some(t) = r["resourceType"].as_str() {
                by_type.entry(t).or_default().push(r);
            }
        }
        let ctx = SessionContext::new();
        for v in &self.views {
            let started = std::time::Instant::now();
            let list = by_type
                .get(v.resource())
                .map(Vec::as_slice)
                .unwrap_or_default();
            let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
            let table = v.rows_parallel(list, threads)?;
            view_rows.insert(v.name(), table.rows.len());
            let batch = crate::arrow::batch(&table).map_err(|e| Error::Sql {
                measure: v.name().into(),
                message: e.to_string(),
            })?;
            let mem =
                MemTable::try_new(batch.schema(), vec![vec![batch]]).map_err(|e| Error::Sql {
                    measure: v.name().into(),
                    message: e.to_string(),
                })?;
            ctx.register_table(v.name(), Arc::new(mem))
                .map_err(|e| Error::Sql {
                    measure: v.name().into(),
                    message: e.to_string(),
                })?;
            timing.push(Timing {
                name: format!("view {}", v.name()),
                rows: table.rows.len(),
                seconds: started.elapsed().as_secs_f64(),
            });
        }
        let as_of = as_of.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let queries = || self.queries(&ctx, zone, &as_of, &view_rows);
        // DataFusion's futures are driven on a runtime of their own; a caller already inside
        // one (an async request handler) has the SQL run on a thread beside it.
        let (out, more) = if tokio::runtime::Handle::try_current().is_ok() {
            std::thread::scope(|s| {
                s.spawn(queries)
                    .join()
                    .unwrap_or_else(|_| Err(file_error("runtime", "the SQL thread failed")))
            })?
        } else {
            queries()?
        };
        timing.extend(more);
        Ok((out, timing))
    }
}
