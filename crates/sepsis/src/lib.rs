//! Suspected sepsis on the ward, pure: which records make an episode of suspected infection
//! and how its first hour stands ([`episode`], with the `sepsis-adult` pathway of the
//! `pathways` crate, NICE NG51), the first hour as FHIR Tasks and back ([`shape`]), and what
//! the ward records in the record's own resources ([`record`]).
//!
//! Architecture invariant: pure. No IO, no clock (`now` is an argument), no store; the
//! `sepsis-watch` service follows the record and writes.

pub mod episode;
pub mod record;
pub mod shape;

pub use episode::Episode;
pub use record::{Antibiotic, Fluid, Record, Source};
pub use shape::Action;

/// The pathway followed.
pub const PATHWAY: &str = "sepsis-adult";
/// Tend's code system for events the pathways read from tags.
pub(crate) const PE: &str = pathways::fhir::PATHWAY_EVENT;

/// What cannot be recorded, said plainly for the page.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Invalid(String),
}
