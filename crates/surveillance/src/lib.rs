//! What the nurse-sensitive indicators are counted from, as FHIR R4 resources.
//!
//! - [`survey`]: one patient's findings on a point-prevalence survey day (NDNQI): the
//!   highest stage of hospital-acquired pressure injury (NPIAP staging) and any physical
//!   restraint in use, each possibly not assessed. An Observation (category `survey`).
//! - [`device`]: a central line or indwelling urinary catheter in a patient, placed and
//!   removed: a Device (the catheter) and a DeviceUseStatement (its time in the patient),
//!   what central-line and catheter days are counted from (NHSN).
//! - [`infection`]: a CLABSI or CAUTI the infection prevention team confirmed against the
//!   NHSN definitions, with its date of event: a Condition.
//!
//! Everything here is pure: the caller gives ids and times. The measures that count these
//! resources are files of crate `measures`; the codes here are what their views read.

pub mod device;
pub mod infection;
pub mod survey;

/// Tend's code systems used here.
pub const SURVEY_SYSTEM: &str = "https://tend.example.org/fhir/CodeSystem/nursing-survey";
pub const DEVICE_SYSTEM: &str = "https://tend.example.org/fhir/CodeSystem/device-kind";
pub const HAI_SYSTEM: &str =
    "https://tend.example.org/fhir/CodeSystem/healthcare-associated-infection";
/// SNOMED CT.
pub const SNOMED: &str = "http://snomed.info/sct";

/// The crate's error type.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// A code that is not one of the crate's (from a form or a stored resource).
    #[error("{what}: {code:?} is not a known code")]
    Code { what: &'static str, code: String },
    /// Times that cannot both be true.
    #[error("{0}")]
    Times(String),
}

pub(crate) fn reference(kind: &str, id: &str) -> serde_json::Value {
    serde_json::json!({"reference": format!("{kind}/{id}")})
}

pub(crate) fn instant(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
