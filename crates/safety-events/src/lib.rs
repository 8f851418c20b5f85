//! Patient-safety event reports, pure.
//!
//! Any member of staff reports an *incident* (it reached the patient), a *near miss* (it was
//! caught first) or an *unsafe condition*, in the AHRQ Common Formats for Event Reporting,
//! hospital version 2.0: what happened, its category, where and when, a description, the
//! harm on the AHRQ Harm Scale, contributing factors, the patient (or none) and, for falls,
//! pressure injuries and medication events, their own details. The safety team then
//! reviews it: triage, investigation, actions with owners and dates, closure with what was
//! learned, and that learning shared with staff.
//!
//! - [`Formats`]: the vocabularies as data (`data/common-formats.json`, `data/review.json`).
//! - [`Report`]: a new report, checked ([`Report::problems`]) and written as a FHIR R4
//!   AdverseEvent ([`Report::adverse_event`]). Its `recorder` is the reporter, left out when
//!   the report is anonymous.
//! - [`read`]: an AdverseEvent read back as a [`SafetyEvent`] for pages and measures.
//! - [`review`]: the review, kept on the AdverseEvent, moved by [`review::apply`] under the
//!   step table.
//!
//! *Architecture invariant:* no IO, no clock, no environment: times and ids are parameters.

mod error;
pub mod event;
pub mod formats;
pub mod report;
pub mod review;
mod shape;

pub use error::Error;
pub use event::{read, SafetyEvent};
pub use formats::{Category, Code, Formats, Harm, Kind};
pub use report::{Details, Fall, Medication, PressureInjury, Report, Reporter};
pub use review::{Action, Note, Review, Status, Step};

/// The longest description, note or learning Tend takes, in characters.
pub const MAX_TEXT: usize = 5_000;

/// The identifier system of a report's reference number.
pub const REFERENCE_SYSTEM: &str = "https://tend.example.org/fhir/sid/safety-event";

/// The subject of a report that involves no patient (AdverseEvent.subject is required):
/// a Group Tend keeps for the purpose ([`no_patient_group`]).
pub const NO_PATIENT: &str = "Group/safety-no-patient";

/// The Group a report with no patient names as its subject.
pub fn no_patient_group() -> serde_json::Value {
    serde_json::json!({
        "resourceType": "Group",
        "id": "safety-no-patient",
        "type": "person",
        "actual": false,
        "name": "No patient involved",
        "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">The subject of safety-event reports that involve no patient.</div>"}
    })
}

/// The reference number staff quote for a report (`SE-7F3A2C1B`), from its id: the first
/// eight letters and digits after `se-` (report ids are random).
pub fn reference_number(id: &str) -> String {
    let tail: String = id
        .strip_prefix("se-")
        .unwrap_or(id)
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(8)
        .collect();
    format!("SE-{}", tail.to_ascii_uppercase())
}
