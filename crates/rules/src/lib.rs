//! Clinical rules as pure functions: no IO, no clock, no randomness. Time comes in as
//! arguments; every result explains itself.
//!
//! - [`news2`]: NEWS2 (RCP 2017), scales 1 and 2, bands, required response, monitoring;
//! - [`pews`]: the national Paediatric Early Warning System for England (NHS England SPOT
//!   2023): age bands, seven items scored 0/1/2/4, escalation levels and their triggers;
//! - [`sepsis`]: qSOFA (Sepsis-3) and SIRS (ACCP/SCCM 1992);
//! - [`observation`]: FHIR Observations read into typed readings;
//! - [`set`]: one observation set's inputs for the scores (NEWS2, qSOFA and SIRS for
//!   adults, PEWS for children);
//! - [`alert`]: the alert policy (deadlines, roles, escalation);
//! - [`decimal`]: exact decimals and the one rounding rule (round half up).

pub mod alert;
pub mod decimal;
pub mod news2;
pub mod observation;
pub mod pews;
pub mod sepsis;
pub mod set;

pub use alert::{Action, BandPolicy, Policy, Role, Trigger};
pub use decimal::Decimal;
pub use news2::{Acvpu, Band, Monitoring, Param, Scale, Score, Vitals};
pub use observation::{Kind, OxygenDevice, Parsed, Reading};
pub use pews::{AgeBand, CivilDate};
pub use sepsis::{Criterion, Screen};
pub use set::{assemble, assemble_pews, OxygenBasis, SetInputs, SetWindow, Timed};
