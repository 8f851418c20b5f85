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

/// A stable id from a key: `prefix-` and 16 hex digits of a 64-bit FNV-1a hash.
pub fn stable_id(prefix: &str, key: &str) -> String {
    format!("{prefix}-{:016x}", fnv(key.as_bytes()))
}

/// 64-bit FNV-1a.
pub fn fnv(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}
