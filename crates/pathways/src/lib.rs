//! Care pathways as data. Each pathway is a JSON file in `pathways/` (one per pathway, citing
//! its sources): milestones with the FHIR evidence that completes them and their due times,
//! waiting-time clocks (start, stop, target, operational standard) and the adjustments the
//! sources allow. [`PathwaySet`] loads the shipped files and a site's own over them;
//! [`evaluate`] judges one patient's [`Event`]s and [`Adjustment`]s at a given moment into
//! milestone states, clocks (running, paused, met, breached, ended; elapsed, remaining,
//! deadline) and the next step; [`worst_first`] orders a navigator's worklist; [`report`]
//! counts compliance with each standard per month, stratified and suppressed, as
//! MeasureReports.
//!
//! Shipped pathways (sources cited in each file):
//! - `nhs-suspected-cancer`: NHS England's 28-day Faster Diagnosis Standard, 31-day (one
//!   clock per treatment) and 62-day standards, National Cancer Waiting Times Monitoring
//!   Dataset Guidance v12.1 (July 2025);
//! - `oesophago-gastric`: NHS England's timed oesophago-gastric diagnostic pathway, with the
//!   HER2, PD-L1 (CPS), MMR/MSI and CLDN18.2 results a metastatic adenocarcinoma needs before
//!   systemic therapy;
//! - `coc-quality-measures`: the Commission on Cancer's BCSdx and ACT measures;
//! - `sepsis-adult`: NICE NG51 (2024) hour-1 actions after a raised NEWS2 (or another
//!   early-warning trigger) with suspected infection.
//!
//! Architecture invariant: pure. No IO (a site's files arrive as text), no clock (`now` is an
//! argument), no store; [`fhir`] reads the resources a service hands it into events.

mod definition;
mod evaluate;
mod event;
pub mod fhir;
pub mod report;
mod worklist;

pub use definition::{
    AdjustmentRule, AgeRange, Basis, Citation, Clock, CodeRef, Effect, Evidence, Milestone,
    Pathway, PathwaySet, Per, Source, Span, StartRule, StopRule, Target, Unit,
};
pub use evaluate::{
    apply_age, evaluate, AppliedAdjustment, ClockState, ClockStatus, Completion, Ending,
    Evaluation, MilestoneState, MilestoneStatus, NextStep,
};
pub use event::{Adjustment, Coding, Event, EventKind, Issue, ResourceType};
pub use worklist::{worst_first, worst_first_cmp, Urgency};

/// What can go wrong reading pathway files.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PathwayError {
    #[error("pathway file {file}: {message}")]
    Parse { file: String, message: String },
    #[error("pathway {pathway}: {message}")]
    Invalid { pathway: String, message: String },
}
