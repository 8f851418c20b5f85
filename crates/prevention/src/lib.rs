//! Preventive screening as data. Each USPSTF A/B recommendation in
//! `clinical/screening.md` is a TOML file in `rules/` (population, qualifying evidence with
//! its interval, exclusions, the statement and year it follows); [`RuleSet`] compiles them
//! and [`RuleSet::evaluate`] judges one patient at one date: **due**, **satisfied** (with the
//! evidence and the day it expires), **excluded** (with the reason) or **not applicable**.
//!
//! Pure: no IO besides reading a site's rule directory, no clock (the date is an argument).
//! Sex and anatomy come from sex assigned at birth (US Core birth sex) and Tend's organ
//! inventory where recorded, not from administrative gender alone; patient-reported results
//! with a date count as evidence.

mod evaluate;
mod facts;
mod rule;

pub use evaluate::{age_on, Found, Status, Verdict, Why};
pub use facts::{
    parse_date, patient_id, Extracted, Factor, Facts, Item, Kind, Sex, BIRTH_SEX, ORGAN_INVENTORY,
    RACE,
};
pub use rule::{
    Codes, Evidence, Exclusion, Interval, LowRisk, Organ, Population, Rule, RuleSet, Source,
};

/// What can go wrong reading rules or records.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum RuleError {
    #[error("rule file {file}: {message}")]
    Parse { file: String, message: String },
    #[error("rule {rule}: {message}")]
    Invalid { rule: String, message: String },
    #[error("cannot read {path}: {message}")]
    Io { path: String, message: String },
    #[error("resource is not valid JSON for the evaluator: {0}")]
    Resource(String),
}
