//! Navigation: care pathways follow the record, and a navigator runs a morning from a
//! worklist.
//!
//! [`Navigation`] is a change-log consumer (on `store::Runner`, checkpoint `navigation`).
//! For each patient whose record changed (ServiceRequest, Appointment, Encounter,
//! DiagnosticReport, Observation, Specimen, Condition, Procedure, MedicationRequest,
//! MedicationAdministration, CarePlan, Communication, Task, Patient) it reads the record with
//! Tend's own access (`store::search_all`), decides which pathways apply (the site policy's
//! entry milestones, e.g. an urgent suspected-cancer referral, or a Condition code, e.g. an
//! oesophago-gastric cancer), evaluates them with [`pathways::evaluate`] at the service
//! clock's now, predicts breaches ([`predict`]) and writes the state as FHIR
//! ([`shape`]: EpisodeOfCare with clock extensions, a Task per milestone, the navigation
//! CareTeam) with stable ids: writing again changes nothing, a correction or deletion in the
//! record moves the state back, a patient no longer on a pathway loses it. When the date
//! changes every case is evaluated again (clocks run on days). The worklist ([`Query`],
//! [`Page`]) and the timeline ([`Item`]) are served from memory; a navigator's contacts,
//! milestone entries and assignments ([`NewContact`], [`Navigation::complete_milestone`],
//! [`Navigation::assign`]) are written with the navigator's own access, as is a consultant's
//! upgrade onto the 62-day pathway ([`NewUpgrade`]).

mod actions;
#[doc(hidden)]
pub mod bench;
mod breaches;
mod codes;
mod learn;
mod predict;
mod record;
mod reports;
mod service;
mod shape;
mod site;
mod timeline;
mod upgrade;
mod worklist;

pub use actions::NewContact;
pub use breaches::{longest_delay, Breach, Delay};
pub use codes::{channel_words, outcome_words, CHANNELS, OUTCOMES};
pub use predict::{predict, Prediction, Risk};
pub use record::{at, person, Assignment, Contact, Person};
pub use service::{Case, Config, Episode, Navigation, RunReport, CONSUMER};
pub use shape::{episode_id, milestone_id, team_id};
pub use site::{CodeMatch, Entry, Site, TumourSite};
pub use timeline::{day, Item, Kind};
pub use upgrade::NewUpgrade;
pub use worklist::{Page, Query, Row};

/// Code systems and extensions of the FHIR shape.
pub mod systems {
    pub use crate::codes::{
        ADJUST, ASSIGN, CLOCK_EXT, CONTACT, EPISODE_ID, MILESTONE, MILESTONE_ID, NAVIGATION,
        OUTCOME, OUTCOME_EXT, PATHWAY, PATHWAY_EVENT, SITE_EXT, TAG, TAGS, WITHDRAWN_EXT,
    };
}

/// The crate's error type.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
}
