//! The hospital's quality measures kept up to date from the record: the IO edge of crate
//! `measures`.
//!
//! - The change-log consumer (checkpoint `measure-reports`, on `store::Runner`) notes when
//!   anything the measures read has changed (the suite's resource types, patients, units)
//!   and, no more often than [`Config::min_interval`] (and at least every
//!   [`Config::refresh`], as open stays accrue days), runs the whole suite over the store
//!   with the system's access and writes what changed:
//!   - per measure and month, `MeasureReport/{measure}-{yyyy-mm}`: the hospital's numerator,
//!     denominator and rate, and one stratum per unit;
//!   - per measure and quarter, `MeasureReport/{measure}-equity-{yyyy}-q{n}`: the four
//!     quarters ending with it by race, ethnicity, language, interpreter need, sex and age
//!     band, small cells suppressed, with ratios to the reference group.
//!
//!   The current month is `pending`; finished months and quarters are `complete`. Every
//!   report carries the tag `quality`.
//! - [`MeasureReports::indicator`] reads one measure's reports back **with the caller's
//!   access** (the store decides: quality officers, safety reviewers and administrators read
//!   MeasureReports) and assembles what the quality pages show: the hospital's and each
//!   unit's months as an SPC chart, the Magnet grid against the benchmark of each unit's
//!   type, and the latest equity report.
//! - [`MeasureReports::cases`]: the patients behind a unit's month of a measure, from the
//!   last run (kept in memory, never written as such), for the quality pages' case review.

mod cases;
mod consumer;
mod indicator;
mod run;

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use store::{Progress, Store};

pub use cases::{counts_against, Case};
pub use consumer::CONSUMER;
pub use indicator::{EquityGroup, EquityRow, Indicator, MonthPoint, Unit};
pub use run::{quarter_months, Ran};

/// The tag every report carries (`tend-tags|quality`).
pub const TAG_SYSTEM: &str = "https://tend.example.org/fhir/CodeSystem/tend-tags";
pub const TAG: &str = "quality";
/// How a unit stratum names its Location.
pub const UNIT_SYSTEM: &str = "https://tend.example.org/fhir/Location";

/// The crate's error type.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error(transparent)]
    Measures(#[from] measures::Error),
    /// Something that cannot be done, said in words.
    #[error("{0}")]
    Invalid(String),
}

/// How the service runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// The hospital's IANA time zone: months and midnights are the hospital's.
    pub zone: String,
    /// Benchmarks, the small-cell rule, reference groups.
    pub settings: measures::Settings,
    /// The shortest time between two runs when the record keeps changing.
    pub min_interval: Duration,
    /// The longest time between two runs when nothing changes (open stays accrue days).
    pub refresh: Duration,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            zone: "UTC".into(),
            settings: measures::Settings::shipped(),
            min_interval: Duration::from_secs(300),
            refresh: Duration::from_secs(3600),
        }
    }
}

#[derive(Debug, Default)]
struct State {
    /// Something the measures read changed since the last run.
    dirty: bool,
    /// When the last run started (ms), if there was one in this process.
    last_run: Option<i64>,
    last: Option<Ran>,
    /// The patients behind each measure's months, from the last run.
    cases: Arc<cases::Cases>,
}

/// The service.
pub struct MeasureReports {
    store: Arc<dyn Store>,
    clock: Arc<dyn store::Clock>,
    suite: measures::Suite,
    config: Config,
    processed: Progress,
    state: Mutex<State>,
    runner: OnceLock<store::Runner>,
}

impl std::fmt::Debug for MeasureReports {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MeasureReports").finish()
    }
}

impl MeasureReports {
    /// The service over the shipped measure suite.
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn store::Clock>,
        config: Config,
    ) -> Result<Arc<MeasureReports>, Error> {
        if !measures::Suite::zone_ok(&config.zone) {
            return Err(Error::Invalid(format!(
                "{:?} is not a time zone",
                config.zone
            )));
        }
        Ok(Arc::new(MeasureReports {
            store,
            clock,
            suite: measures::Suite::shipped()?,
            config,
            processed: Progress::default(),
            state: Mutex::new(State::default()),
            runner: OnceLock::new(),
        }))
    }

    /// Follow the record on the store's consumer runner.
    pub fn start(self: &Arc<Self>) {
        let _ = self
            .runner
            .set(store::Runner::start(self.store.clone(), self.clone()));
    }

    pub fn suite(&self) -> &measures::Suite {
        &self.suite
    }

    pub fn settings(&self) -> &measures::Settings {
        &self.config.settings
    }

    pub fn zone(&self) -> &str {
        &self.config.zone
    }

    /// The patients who count against `measure` in `month` (`YYYY-MM`), on `unit` or
    /// every unit, most counted first; `None` before the first run in this process.
    pub fn cases(&self, measure: &str, month: &str, unit: Option<&str>) -> Option<Vec<Case>> {
        let s = self.state.lock().ok()?;
        s.last.as_ref()?;
        let mut out: Vec<Case> = s
            .cases
            .get(&(measure.to_string(), month.to_string()))
            .into_iter()
            .flatten()
            .filter(|c| unit.is_none_or(|u| c.unit == u))
            .cloned()
            .collect();
        let against = |c: &Case| {
            if self
                .suite
                .measure(measure)
                .is_some_and(|m| m.better == "higher")
            {
                c.denominator - c.numerator
            } else {
                c.numerator
            }
        };
        out.sort_by(|a, b| against(b).cmp(&against(a)).then(a.patient.cmp(&b.patient)));
        Some(out)
    }

    /// What the last run in this process did.
    pub fn last_run(&self) -> Option<Ran> {
        self.state.lock().ok().and_then(|s| s.last.clone())
    }

    pub(crate) fn now(&self) -> Result<chrono::DateTime<chrono::Utc>, Error> {
        chrono::DateTime::from_timestamp_millis(self.clock.now_ms())
            .ok_or_else(|| Error::Invalid("the clock is out of range".into()))
    }
}

/// A search query from parameters.
pub(crate) fn q(rtype: &str, params: &[(&str, String)]) -> Result<search::SearchQuery, Error> {
    let params: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    search::SearchQuery::parse(search::Registry::r4(), rtype, &params)
        .map_err(|e| Error::Invalid(e.to_string()))
}
