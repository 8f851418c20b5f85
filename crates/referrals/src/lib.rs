//! Referrals to community services over the store: the IO edge of crate `community`.
//!
//! - [`Referrals::directory`]: the community directory as the store holds it
//!   (Organization, HealthcareService and Location records, which every role may read),
//!   read again when it changes; [`Referrals::import`] writes an Open Referral HSDS file
//!   into it with the caller's access (administrators and integrations write the directory).
//! - [`Referrals::send`]: a social worker or navigator refers a patient to a service, with
//!   the patient's consent: Consent, ServiceRequest and Task in one atomic write with their
//!   own access. Sharing with the partner is the store's decision (`access::shared_with`):
//!   the partner reaches these three records and the patient's contact details, nothing else.
//! - [`Referrals::act`]: the partner's moves (accept, decline with a reason, start, pause,
//!   complete or fail with the outcome) and the hospital's (cancel, and the follow-up "was
//!   the need met?"), each checked by `community`'s rules, written with If-Match on the
//!   version the person saw.
//! - [`Referrals::received`], [`Referrals::worklist`], [`Referrals::of_patient`]: the lists
//!   the partner and the social worker work from, read with the caller's access.
//!
//! - links: a patient on a care pathway with a food or transport need and an appointment
//!   booked in the next 30 days gets a navigator's Task to arrange support before it.
//! - [`Referrals::measures`]: screening, positive, connection, loop-closure and
//!   need-resolution rates per month, stratified (`community::report`), which the service's
//!   change-log consumer (checkpoint `social-care`, on `store::Runner`) writes as
//!   MeasureReports when screenings, encounters or referrals change, at most once a minute.
//!
//! The follow-up interval and when a patient is due to be screened again are the site's
//! settings ([`Config::follow_up_days`], [`Config::rescreen_months`]).

mod act;
mod consumer;
mod directory;
mod links;
mod lists;
mod reports;
mod send;

use std::sync::{Arc, Mutex, OnceLock};

use search::{Registry, SearchQuery};
use store::{Progress, Store};

pub use consumer::CONSUMER;
pub use links::{CODE as BEFORE_APPOINTMENT, CODE_SYSTEM as NAVIGATION_CODES, LOOKAHEAD_DAYS};

pub use act::Move;
pub use lists::{Line, Worklist, SHOWN};
pub use send::NewReferral;

/// The crate's error type.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error(transparent)]
    Community(#[from] community::Error),
    /// Something the person asked that cannot be done, said in words.
    #[error("{0}")]
    Invalid(String),
}

/// The site's settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// The hospital's Organization id (the referrals' sender).
    pub hospital: String,
    /// Days without news after which a referral asks "was the need met?".
    pub follow_up_days: u32,
    /// The hospital's time zone: reports count its calendar months.
    pub zone: chrono_tz::Tz,
    /// Months after a screening when the next is due.
    pub rescreen_months: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            hospital: "hospital".into(),
            follow_up_days: community::DEFAULT_FOLLOW_UP_DAYS,
            zone: chrono_tz::Tz::UTC,
            rescreen_months: 12,
        }
    }
}

/// The service.
pub struct Referrals {
    store: Arc<dyn Store>,
    config: Config,
    clock: Arc<dyn store::Clock>,
    /// The directory as last read, and the fingerprint it was read at.
    cached: Mutex<Option<(i64, Arc<community::Directory>)>>,
    processed: Progress,
    stepping: Mutex<consumer::Pending>,
    runner: OnceLock<store::Runner>,
}

impl std::fmt::Debug for Referrals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Referrals")
            .field("config", &self.config)
            .finish()
    }
}

impl Referrals {
    pub fn new(
        store: Arc<dyn Store>,
        config: Config,
        clock: Arc<dyn store::Clock>,
    ) -> Arc<Referrals> {
        Arc::new(Referrals {
            store,
            config,
            clock,
            cached: Mutex::new(None),
            processed: Progress::default(),
            stepping: Mutex::new(consumer::Pending::default()),
            runner: OnceLock::new(),
        })
    }

    /// Follow the record on the store's consumer runner.
    pub fn start(self: &Arc<Self>) {
        let _ = self
            .runner
            .set(store::Runner::start(self.store.clone(), self.clone()));
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// When a patient screened at `screened` is due to be screened again.
    pub fn rescreen_due(
        &self,
        screened: chrono::DateTime<chrono::Utc>,
    ) -> chrono::DateTime<chrono::Utc> {
        screened
            .checked_add_months(chrono::Months::new(self.config.rescreen_months))
            .unwrap_or(screened)
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }
}

/// A search query from parameters.
pub(crate) fn q(rtype: &str, params: &[(&str, String)]) -> Result<SearchQuery, Error> {
    let params: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    SearchQuery::parse(Registry::r4(), rtype, &params).map_err(|e| Error::Invalid(e.to_string()))
}

/// The need a referral's ServiceRequest is for (its SDOH category).
pub(crate) fn need_of(request: &serde_json::Value) -> Option<&str> {
    request["category"]
        .as_array()?
        .iter()
        .flat_map(|c| c["coding"].as_array().into_iter().flatten())
        .find(|c| c["system"] == community::SDOHCC)
        .and_then(|c| c["code"].as_str())
}

/// The Task code of a referral.
pub(crate) const FULFIL: &str = "http://hl7.org/fhir/CodeSystem/task-code|fulfill";
