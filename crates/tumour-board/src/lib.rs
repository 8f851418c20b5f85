//! Tumour boards (multidisciplinary team meetings, MDTs): a board's meetings with the list
//! of patients to discuss, the case summary prepared from each patient's record, the
//! recommendation recorded in a structured way and turned into steps the care pathways
//! track, and "outcome told to the patient" as the pathway milestone it is.
//!
//! The pure parts: [`summary`] (the record into a case summary), [`recommendation`] (what a
//! board may recommend, as data, and the FHIR resources a recommendation becomes) and
//! [`shape`] (the FHIR shape of boards, meetings and cases, read and written). The IO part is
//! [`TumourBoard`], a change-log consumer that keeps each board's care relationship to the
//! patients it discusses, and the reads and writes the pages make with the caller's access.

pub mod codes;
pub mod recommendation;
mod service;
pub mod shape;
pub mod summary;

pub use recommendation::{Options, Recommendation};
pub use service::{MeetingCases, Recorded, TumourBoard, CONSUMER};
pub use shape::{Board, Case, Meeting};
pub use summary::{CaseSummary, Diagnosis, Finding};

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
