//! FHIR R4 resources as JSON: validation against the official definitions, and the
//! building blocks of the RESTful API (OperationOutcome).
//! Spec: <https://hl7.org/fhir/R4/>. This crate does no IO and never reads the clock.

pub mod outcome;
pub mod validation;
