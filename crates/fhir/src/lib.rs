//! FHIR R4 resources as JSON: validation against the official definitions, the
//! building blocks of the RESTful API (OperationOutcome), and stable resource ids
//! ([`stable_id`]).
//! Spec: <https://hl7.org/fhir/R4/>. This crate does no IO and never reads the clock.

pub mod id;
pub mod outcome;
pub mod validation;

pub use id::stable_id;
