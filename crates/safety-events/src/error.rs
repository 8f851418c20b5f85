//! The crate's one error type: what is wrong, in words for the person who sent it.

/// Why a report or a review step cannot be taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The report or step is missing something or has a value that cannot be used.
    #[error("{0}")]
    Invalid(String),
    /// The step does not apply to the report's current status.
    #[error("a report that is {status} cannot be {step}")]
    Step { status: String, step: String },
    /// The stored AdverseEvent is not a report Tend can read.
    #[error("not a safety-event report Tend can read: {0}")]
    Unreadable(String),
}
