//! The service's change-log consumer: note what the measures read has changed, and run the
//! suite when it has (no more often than the minimum interval) or when the last run is
//! older than the refresh interval. Written with the checkpoint, so a crash mid-run leaves
//! the reports as they were and the next process runs again.

use store::{Mode, Progress};

use crate::{Error, MeasureReports};

/// The consumer's name (its checkpoint and lease).
pub const CONSUMER: &str = "measure-reports";
/// Change-log entries read per step.
const BATCH: usize = 5000;

impl MeasureReports {
    /// The resource types whose changes can change a measure.
    fn read_types(&self) -> Vec<String> {
        let mut t = self.suite.resource_types();
        t.extend(["Patient".to_string(), "Location".to_string()]);
        t
    }

    /// Handle what is new; returns the entries read.
    pub fn step(&self) -> Result<usize, Error> {
        let store = &self.store;
        let from = store.checkpoint(CONSUMER)?;
        let log = store.log(from, BATCH)?;
        let last = log.last().map(|c| c.seq);
        let now_ms = self.clock.now_ms();
        let due = {
            let mut s = self
                .state
                .lock()
                .map_err(|_| Error::Invalid("poisoned".into()))?;
            let read = self.read_types();
            if log.iter().any(|v| read.contains(&v.rtype)) {
                s.dirty = true;
            }
            let since = s.last_run.map(|t| now_ms - t);
            match since {
                None => true,
                Some(ms) => {
                    (s.dirty && ms >= self.config.min_interval.as_millis() as i64)
                        || ms >= self.config.refresh.as_millis() as i64
                }
            }
        };
        // Run once the backlog is read, so a long catch-up runs the suite once.
        if due && log.len() < BATCH {
            let (reports, mut ran, cases) = self.compute()?;
            let entries = self.changes(reports)?;
            ran.written = entries.len();
            let upto = last.unwrap_or(from);
            if entries.is_empty() {
                if last.is_some() {
                    store.save_checkpoint(CONSUMER, upto)?;
                }
            } else {
                for r in store.write_consumed(entries, Mode::Independent, CONSUMER, upto)? {
                    if let Err(e) = r {
                        tracing::warn!(error = %e, "a measure report was refused");
                    }
                }
            }
            tracing::info!(
                seconds = ran.seconds,
                reports = ran.reports,
                written = ran.written,
                "quality measures run"
            );
            self.remember(&ran, cases);
        } else if let Some(l) = last {
            store.save_checkpoint(CONSUMER, l)?;
        }
        if let Some(l) = last {
            self.processed.mark(l);
        }
        Ok(log.len())
    }
}

impl store::Consumer for MeasureReports {
    fn name(&self) -> &str {
        CONSUMER
    }
    fn step(&self) -> Result<usize, Box<dyn std::error::Error + Send + Sync>> {
        Ok(MeasureReports::step(self)?)
    }
    fn progress(&self) -> &Progress {
        &self.processed
    }
    fn idle_wait(&self) -> std::time::Duration {
        std::time::Duration::from_secs(5)
    }
}
