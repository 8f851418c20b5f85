//! The crate's one error type: what is wrong, in words for the person who sent it.

use std::fmt;

use crate::referral::{Party, Status};

/// A directory record an error is about: `service "s7"`, or its place in its list when it has
/// no id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// `service`, `organization`, `location`, `service_at_location`, `taxonomy_term`,
    /// `attribute`.
    pub kind: &'static str,
    pub id: Option<String>,
    /// Its place in its list, from 0.
    pub index: usize,
}

impl fmt::Display for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.id {
            Some(id) => write!(f, "{} {id:?}", self.kind),
            None => write!(f, "{} number {} (it has no id)", self.kind, self.index + 1),
        }
    }
}

/// What is wrong with a directory record. Fields are named by their JSON path inside the
/// record (`service_at_locations[0].location.latitude`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Problem {
    #[error("{0} is missing")]
    Missing(String),
    #[error("{field} should be {expected}")]
    Type {
        field: String,
        expected: &'static str,
    },
    #[error("{0} is longer than {max} characters", max = crate::MAX_TEXT)]
    TooLong(String),
    #[error("latitude {0} is out of range")]
    Latitude(f64),
    #[error("longitude {0} is out of range")]
    Longitude(f64),
    #[error("{0} has a latitude or a longitude but not both")]
    HalfPosition(String),
    #[error("language {0:?} is neither a language code nor a language Tend knows")]
    Language(String),
    #[error("{field} {value:?} is not a time (HH:MM)")]
    Time { field: String, value: String },
    #[error("day {0:?} is not a day of the week (MO to SU)")]
    Day(String),
    #[error("status {0:?} is not active, inactive, defunct or temporarily closed")]
    Status(String),
    #[error("{kind} {id:?} is not in the directory")]
    Unknown { kind: &'static str, id: String },
    #[error("the id is used twice")]
    Duplicate,
    #[error("{field} {value} is not a number of places")]
    Places { field: String, value: f64 },
}

/// Everything that can go wrong in this crate.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    // The directory.
    #[error("the directory is not JSON (line {line}, column {column})")]
    Json { line: usize, column: usize },
    #[error(
        "the directory is neither a list of HSDS services nor an object with a \"services\" list"
    )]
    NotHsds,
    #[error("the directory's {0:?} should be a list")]
    Table(&'static str),
    #[error("the directory has {0} services; Tend reads at most {max}", max = crate::directory::MAX_SERVICES)]
    TooManyServices(usize),
    #[error("{record}: {problem}")]
    Record { record: Record, problem: Problem },

    // Referrals.
    #[error("a referral needs the patient's consent to share their information with the partner")]
    NoConsent,
    #[error("the consent is dated after the referral")]
    ConsentAfterReferral,
    #[error("{0:?} is not a social need Tend screens for")]
    UnknownNeed(String),
    #[error("{field} {value:?} should be {expected}")]
    Reference {
        field: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error("{field} {value:?} is not a FHIR id")]
    Id { field: &'static str, value: String },
    #[error("{0} is longer than {max} characters", max = crate::MAX_TEXT)]
    TooLong(&'static str),
    #[error("{party} cannot change a referral from {from} to {to}")]
    NotAllowed {
        party: Party,
        from: Status,
        to: Status,
    },
    #[error("say why the referral is {0}")]
    ReasonRequired(Status),
    #[error("{0:?} is not a reason Tend knows")]
    UnknownReason(String),
    #[error("{reason:?} is not a reason for a referral that is {status}")]
    ReasonNotFor { reason: String, status: Status },
    #[error("the reason {0:?} needs words")]
    ReasonText(String),
    #[error("an outcome is recorded when the referral ends, not when it is {0}")]
    OutcomeTooEarly(Status),
    #[error("{outcome} does not go with a referral that is {status}")]
    OutcomeContradicts {
        outcome: &'static str,
        status: Status,
    },
    #[error("the change is dated before the referral's last change")]
    Backdated,
    #[error("the referral task has no valid {0}")]
    Task(&'static str),
    #[error("{0:?} is not a status a referral can have")]
    UnknownStatus(String),
}
