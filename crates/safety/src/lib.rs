//! Safety-event reporting over the store: the IO edge of crate `safety-events`.
//!
//! - [`Safety::file`]: any member of staff files a report with their own access, in their
//!   own name or anonymously; the store decides that they read back only their own
//!   (`access::shared_with`: an AdverseEvent is shared with its `recorder`).
//! - [`Safety::mine`]: a person's own reports, with where the review stands and, once
//!   closed, what was learned.
//! - [`Safety::queue`], [`Safety::event`], [`Safety::review`]: the safety team's list (most
//!   harm first), one report, and the review's steps, written with If-Match on the version
//!   the reviewer saw.
//! - The change-log consumer (checkpoint `safety-learning`, on `store::Runner`) publishes
//!   the learning of each report closed with "share" as a Communication to all staff,
//!   without the patient or the reporter, and withdraws it when the report is reopened or
//!   no longer shared. [`Safety::lessons`] reads them with the caller's access.

mod consumer;
mod file;
mod lists;
mod review;

use std::sync::{Arc, Mutex, OnceLock};

use store::{Progress, Store};

pub use consumer::{CONSUMER, LESSON_CODE, LESSON_SYSTEM};
pub use file::Filed;
pub use lists::{Lesson, Queue};
pub use safety_events::{Formats, Report, Reporter, SafetyEvent, Step};

/// The crate's error type.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error(transparent)]
    Rules(#[from] safety_events::Error),
    /// Something the person asked that cannot be done, said in words.
    #[error("{0}")]
    Invalid(String),
}

/// The service.
pub struct Safety {
    store: Arc<dyn Store>,
    clock: Arc<dyn store::Clock>,
    processed: Progress,
    stepping: Mutex<()>,
    runner: OnceLock<store::Runner>,
}

impl std::fmt::Debug for Safety {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Safety").finish()
    }
}

impl Safety {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn store::Clock>) -> Arc<Safety> {
        Arc::new(Safety {
            store,
            clock,
            processed: Progress::default(),
            stepping: Mutex::new(()),
            runner: OnceLock::new(),
        })
    }

    /// Follow the record on the store's consumer runner.
    pub fn start(self: &Arc<Self>) {
        let _ = self
            .runner
            .set(store::Runner::start(self.store.clone(), self.clone()));
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn formats(&self) -> &'static Formats {
        Formats::shipped()
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
