//! Quality measures as data.
//!
//! A measure is files shipped with Tend (`data/`): the SQL-on-FHIR v2 ViewDefinitions that
//! flatten the record into tables (`data/views/*.json`), and the measure's definition
//! (`data/measures/*.json`: title, unit, which way is better, its source) with its SQL
//! (`data/measures/*.sql`) over those tables. [`Suite::shipped`] reads them;
//! [`Suite::run`] flattens the resources through every view (crate `views`), loads each
//! table into an embedded SQL engine over Arrow (Apache DataFusion) and runs each measure's
//! SQL, which returns one row per unit and month: `unit`, `month` (`YYYY-MM`, hospital
//! time), `numerator`, `denominator`. The same files are meant to run on a cluster.
//!
//! Each row may name its `patient`: [`equity`] then counts every measure by race,
//! ethnicity, language, interpreter need, sex and age band, small cells suppressed, with
//! ratios to a reference group. [`Settings`] (`data/settings.json`, a site's to replace)
//! holds benchmarks by unit type, the small-cell rule and the reference groups.
//!
//! SQL templates take `{zone}` (the hospital's IANA time zone, checked), `{as_of}` (the
//! end of anything still open) and the measure's own `parameters`.

mod arrow;
pub mod equity;
pub mod report;
mod settings;
mod suite;

pub use settings::{Benchmark, Settings};
pub use suite::{Measure, MeasureRow, Suite, Timing};

/// The crate's error type.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A shipped or site file cannot be used.
    #[error("{file}: {message}")]
    File { file: String, message: String },
    #[error(transparent)]
    View(#[from] views::Error),
    /// The SQL engine refused or failed a measure's SQL.
    #[error("measure {measure}: {message}")]
    Sql { measure: String, message: String },
}
