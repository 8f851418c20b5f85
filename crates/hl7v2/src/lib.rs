//! HL7 v2 (2.3 to 2.8) as Tend receives it: [`message::Inbound`] parses a message and reads
//! its header; [`ack`] builds the acknowledgement (original and enhanced mode, with `ERR`
//! segments naming segment, field and component); [`oru`] maps ORU^R01 results to FHIR R4
//! resources (a vital-signs panel per message, laboratory results with a
//! DiagnosticReport). Pure: no IO, no clock; time comes in as an argument.
//!
//! Parsing is done by the `hl7kit` crate; this crate adds the positions of problems
//! ([`Diagnostic`]) and the meaning.

pub mod ack;
pub mod adt;
mod datetime;
pub mod message;
pub mod oru;
mod units;

pub use ack::{AckCode, AckMode};
pub use adt::{apply as apply_adt, map_adt, Adt, Event as AdtEvent};
pub use datetime::to_fhir_datetime;
pub use message::{unescape, Diagnostic, ErrorCode, Inbound, Rejection};
pub use oru::{map_oru, source_uri, Mapped, MappingConfig, Write, MAX_OBX};
pub use units::to_ucum;
