//! Settings of the early-warning service (read once by the `tend` binary).

use rules::{Policy, SetWindow};

/// Where "no oxygen reading in a set" means the patient is on air. Off by default: a set
/// without an oxygen reading then has the air/oxygen parameter missing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AirWhenAbsent {
    /// Every source and ward.
    pub all: bool,
    /// Wards (`Location/ID`) whose sets mean air when no oxygen is recorded.
    pub wards: Vec<String>,
    /// Feeds, by the prefix of the readings' `meta.source` (e.g. an HL7 sending facility).
    pub sources: Vec<String>,
}

/// The service's configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub window: SetWindow,
    pub policy: Policy,
    pub air_when_absent: AirWhenAbsent,
    /// Trend: a rise of `trend_rise` points over the last `trend_sets` sets is flagged.
    pub trend_sets: usize,
    pub trend_rise: u32,
    /// Seconds between checks for alerts to escalate.
    pub escalation_check_secs: u64,
    /// How recent a set must be to raise an alert, in milliseconds before now (24 h by
    /// default). Older sets (an imported history, a late back-entry) are scored for the
    /// chart and never alert: nobody can answer an alert about a patient's state last year.
    pub alert_recency_ms: i64,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            window: SetWindow::default(),
            policy: Policy::default(),
            air_when_absent: AirWhenAbsent::default(),
            trend_sets: 3,
            trend_rise: 2,
            escalation_check_secs: 15,
            alert_recency_ms: 24 * 3_600_000,
        }
    }
}
