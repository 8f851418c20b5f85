//! Early warning as a service: every new set of vital signs scored (NEWS2, qSOFA and SIRS
//! for adults; the national PEWS for children under 16), alerts raised, escalated and
//! answered, ward status, and live events.
//!
//! It runs beside the store as a change-log consumer (see ARCHITECTURE.md, "Early
//! warning"): a vitals write is acknowledged once the readings are durable; the scores and
//! alerts they cause follow from the change log, written together with the consumer's
//! checkpoint in one transaction, so after a crash evaluation resumes exactly where it
//! stopped and nothing is scored twice or skipped. Callers that must see the score
//! (HL7 acknowledgements, the bedside form) wait for [`EarlyWarning::wait_processed`].
//!
//! The clinical rules themselves are the pure `rules` crate.

pub mod alert;
pub mod codes;
mod config;
mod evaluator;
mod events;
pub mod ranking;
pub mod score;
mod ward;

pub use alert::{AlertView, Lifecycle};
pub use config::{AirWhenAbsent, Config};
pub use evaluator::{EarlyWarning, CONSUMER};
pub use events::{Event, Hub};
pub use score::{
    news2_cells, news2_summary, pews_summary, summary, ChartCell, News2Summary, PewsSummary,
};
pub use ward::{bed_of, PatientStatus, WardSummary};

/// What can go wrong in the early-warning service.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error("not found: {0}")]
    NotFound(String),
    /// The request does not fit the alert's state (e.g. resolving before a response).
    #[error("{0}")]
    Conflict(String),
    #[error("invalid request: {0}")]
    Invalid(String),
}
