//! Tumour boards (multidisciplinary team meetings, MDTs): a board's meetings with the list
//! of patients to discuss, the case summary prepared from each patient's record, the
//! recommendation recorded in a structured way and turned into steps the care pathways
//! track, and "outcome told to the patient" as the pathway milestone it is.
//!
//! Pure: [`summary`] (the record into a case summary), [`recommendation`] (what a board may
//! recommend, as data, and the FHIR resources a recommendation becomes) and [`shape`] (the
//! FHIR shape of boards, meetings and cases, read and written). The service over the store is
//! the `mdt` crate; the demo hospital builds its boards with [`shape`] too.
//!
//! *Architecture invariant:* no IO, no clock (checked by `cli/tests/architecture.rs`).

pub mod codes;
pub mod recommendation;
pub mod shape;
pub mod summary;

pub use recommendation::{Options, Recommendation};
pub use shape::{Board, Case, Meeting};
pub use summary::{CaseSummary, Diagnosis, Finding};

/// The crate's error type: what was asked is not valid, in words for the person who asked.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Invalid(String),
}
