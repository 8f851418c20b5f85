//! The service's change-log consumer. It links needs to care: a change to a patient's
//! health concerns, appointments or pathway episodes looks again for an appointment a food
//! or transport need could keep them from (`links`). And the social-needs MeasureReports
//! follow the record: what they count (screenings, encounters, referrals, the patients'
//! details) marks them stale; stale reports are recomputed at most once a minute (a busy
//! feed does not recompute a year of measures per commit). Both are written with the
//! checkpoint.

use chrono::{TimeZone, Utc};
use store::{Mode, Progress};

use crate::{Error, Referrals};

/// The consumer's name (its checkpoint and lease).
pub const CONSUMER: &str = "social-care";
/// Change-log entries read per step.
const BATCH: usize = 2000;
/// The shortest time between two recomputations, ms.
const EVERY_MS: i64 = 60_000;
/// What the reports count.
const COUNTED: [&str; 5] = [
    "QuestionnaireResponse",
    "Encounter",
    "Task",
    "ServiceRequest",
    "Patient",
];

/// What a need's link to an appointment depends on.
const LINKED: [&str; 3] = ["Condition", "Appointment", "EpisodeOfCare"];

/// Whether the reports are stale, and when they were last written (ms).
#[derive(Debug, Default)]
pub(crate) struct Pending {
    stale: bool,
    written: Option<i64>,
}

impl Referrals {
    /// Handle what is new; recompute the reports when they are stale and a minute has
    /// passed since the last time. Returns the entries read.
    pub fn step(&self) -> Result<usize, Error> {
        let mut pending = self
            .stepping
            .lock()
            .map_err(|_| Error::Invalid("poisoned".into()))?;
        let from = self.store.checkpoint(CONSUMER)?;
        let log = self.store.log(from, BATCH)?;
        let last = log.last().map(|c| c.seq).unwrap_or(from);
        if pending.written.is_none() || log.iter().any(|c| COUNTED.contains(&c.rtype.as_str())) {
            pending.stale = true;
        }
        let now_ms = self.clock.now_ms();
        let now = Utc
            .timestamp_millis_opt(now_ms)
            .single()
            .ok_or_else(|| Error::Invalid("the clock is out of range".into()))?;
        let mut patients: Vec<&String> = log
            .iter()
            .filter(|v| LINKED.contains(&v.rtype.as_str()))
            .flat_map(|v| v.patients.iter())
            .collect();
        patients.sort();
        patients.dedup();
        let mut entries = Vec::new();
        for p in patients {
            entries.extend(self.link_entries(p, now)?);
        }
        let due = pending.stale && pending.written.is_none_or(|w| now_ms - w >= EVERY_MS);
        if !due {
            if !entries.is_empty() {
                for r in self
                    .store
                    .write_consumed(entries, Mode::Independent, CONSUMER, last)?
                {
                    if let Err(e) = r {
                        tracing::warn!(error = %e, "a navigator's task was refused");
                    }
                }
            } else if !log.is_empty() {
                self.store.save_checkpoint(CONSUMER, last)?;
            }
            self.processed.mark(last);
            return Ok(log.len());
        }
        entries.extend(self.report_entries(now)?);
        for r in self
            .store
            .write_consumed(entries, Mode::Independent, CONSUMER, last)?
        {
            if let Err(e) = r {
                tracing::warn!(error = %e, "a social-needs report was refused");
            }
        }
        pending.stale = false;
        pending.written = Some(now_ms);
        self.processed.mark(last);
        Ok(log.len())
    }

    /// Step until nothing is new and the reports are written (tests, the demo's start).
    pub fn catch_up(&self) -> Result<(), Error> {
        while self.step()? > 0 {}
        Ok(())
    }
}

impl store::Consumer for Referrals {
    fn name(&self) -> &str {
        CONSUMER
    }
    fn step(&self) -> Result<usize, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Referrals::step(self)?)
    }
    fn progress(&self) -> &Progress {
        &self.processed
    }
}
