//! Quality and equity arithmetic, pure.
//!
//! - [`ratio`]: a group's rate or proportion against a reference group's, as a ratio with
//!   its 95 % confidence interval (the large-sample log method).
//! - [`magnet`]: the Magnet rule for a nurse-sensitive indicator: over the most recent
//!   eight quarters, the majority of units outperform the benchmark in the majority of
//!   quarters.
//! - [`spc`]: statistical process control: u- and p-charts with their limits and run
//!   charts, with the special-cause rules of NHS England's *Making Data Count*.
//!
//! *Architecture invariant:* no IO, no clock, no environment.

pub mod magnet;
pub mod ratio;
pub mod spc;

pub use magnet::{evaluate, Better, Cell, Grid, UnitQuarter, UnitRow};
pub use ratio::{rate_ratio, risk_ratio, Ratio};
