//! Health-related social needs, pure.
//!
//! [`Instrument::ahc_hrsn`] is the Accountable Health Communities screening tool's core
//! questions as data (`data/ahc-hrsn.json`, sources cited there): as a FHIR Questionnaire
//! ([`Instrument::questionnaire`]), read back from a QuestionnaireResponse
//! ([`Instrument::answers`]), scored by the tool's rules ([`Instrument::score`]: housing,
//! housing quality, food (either question), transportation, utilities, and interpersonal
//! safety (the sum of four answers greater than 10), plus the safety policy of Tend's
//! clinical reference: any answer other than "never" to being physically hurt or threatened
//! asks for a clinician's follow-up, whatever the sum), and turned into Observations in the
//! shapes of the HL7 SDOH Clinical Care IG ([`Instrument::observations`]), and its positive
//! domains as health concerns a clinician confirms or refutes ([`concerns`]). Interpersonal-
//! safety answers are sensitive: the store restricts them by code (`access::sensitive`).
//!
//! *Architecture invariant:* no IO, no clock.

pub mod concerns;
mod instrument;
mod observations;
mod score;

pub use instrument::{Answer, AnswerOption, Domain, Instrument, Question};
pub use observations::Context;
pub use score::{DomainResult, Screening, Status};

/// LOINC.
pub const LOINC: &str = "http://loinc.org";
/// The SDOH Clinical Care IG's category codes.
pub const SDOHCC: &str =
    "http://hl7.org/fhir/us/sdoh-clinicalcare/CodeSystem/SDOHCC-CodeSystemTemporaryCodes";
/// The canonical URL of Tend's AHC HRSN Questionnaire.
pub const QUESTIONNAIRE_URL: &str = "https://tend.example.org/fhir/Questionnaire/ahc-hrsn";

/// The crate's error type.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    /// An answer that is not one of the question's (linkId, what was given).
    #[error("'{1}' is not an answer to question {0}")]
    UnknownAnswer(String, String),
    /// A question the instrument does not have.
    #[error("the screening has no question {0}")]
    UnknownQuestion(String),
}
