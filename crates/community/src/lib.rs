//! Community services and closed-loop referrals for health-related social needs, pure.
//!
//! A patient screened positive for a social need (crate `social-needs`, the AHC HRSN tool) is
//! referred by a social worker to a community organisation; a member of that organisation's
//! staff (a *community partner*) accepts or declines the referral and says how it ended; the
//! hospital checks "was the need met?" when nothing has been heard for a while.
//!
//! - [`directory`]: the community-services directory, read from Open Referral HSDS 3.0 JSON
//!   ([`Directory::from_hsds`]), searched by need, language, distance, opening time and words
//!   ([`Directory::search`]), and written as FHIR Organization, HealthcareService and Location
//!   resources in the shapes of the HL7 SDOH Clinical Care IG ([`Directory::resources`], read
//!   back by [`Directory::from_resources`]).
//! - [`referral`]: a referral as the IG's three resources, Consent, ServiceRequest and a Task
//!   for referral management ([`referral()`]); the Task's status moved by the hospital or the
//!   partner under the transition table `data/transitions.json` ([`apply`]), with reasons and
//!   outcomes from `data/reasons.json`; read back for pages and reports ([`read`]); and when
//!   to follow the loop up ([`follow_up_due`]).
//!
//! Needs are the SDOHCC category codes the screening uses (`social_needs::Instrument`'s
//! domains): food-insecurity, housing-instability, inadequate-housing,
//! transportation-insecurity, utility-insecurity and intimate-partner-violence.
//!
//! *Architecture invariant:* no IO, no clock, no environment: the time is always a parameter,
//! ids come from the caller (checked by `cli/tests/architecture.rs`).

pub mod directory;
mod error;
pub mod need;
pub mod referral;
pub mod report;

pub use directory::{
    distance_miles, Address, Capacity, CapacityStatus, Contact, ContactSystem, Directory, Hours,
    Location, Match, OpenHours, Organization, Position, Query, ReferralMethod, Service, Term,
};
pub use error::{Error, Problem, Record};
pub use referral::{
    apply, follow_up, follow_up_due, read, referral, Change, ConsentFacts, ConsentGiver,
    ConsentMethod, Ids, NewReferral, Note, Outcome, Party, Reason, ReasonCode, Referral,
    ReferralState, Requester, Rules, Status, StatusReason, DEFAULT_FOLLOW_UP_DAYS,
};

pub use social_needs::SDOHCC;

/// The longest text Tend reads from a directory or takes as a note, in characters.
pub const MAX_TEXT: usize = 10_000;
