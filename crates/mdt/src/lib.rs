//! The multidisciplinary team (tumour board) service over the store.
//!
//! [`TumourBoard`] follows the change log (on `store::Runner`, checkpoint `tumour-board`)
//! and keeps each board's care relationship to the patients it discusses; the pages read and
//! write boards, meetings, cases, recommendations and the outcome told through it, each with
//! the caller's own access. The rules and the FHIR shape are the pure `tumour-board` crate.

mod service;

pub use service::{MeetingCases, Recorded, TumourBoard, CONSUMER};

/// The crate's error type.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
}

impl From<tumour_board::Error> for Error {
    fn from(e: tumour_board::Error) -> Error {
        match e {
            tumour_board::Error::Invalid(m) => Error::Invalid(m),
        }
    }
}
