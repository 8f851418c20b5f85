//! The service's change-log consumer: a report closed with "share the learning" becomes a
//! Communication to all staff (topic the kind of event, payload what was learned, sent when
//! the report closed), with no patient, no reporter and no ward; reopening the report or
//! unsharing it withdraws it. Written with the checkpoint, so each change is handled once.

use access::Access;
use safety_events::{read, review::Status, Formats};
use serde_json::{json, Value};
use store::{Entry, Mode, Op, Progress, WriteOp};

use crate::{Error, Safety};

/// The consumer's name (its checkpoint and lease).
pub const CONSUMER: &str = "safety-learning";
/// The category of a lesson's Communication.
pub const LESSON_SYSTEM: &str = "https://tend.example.org/fhir/CodeSystem/communication-category";
pub const LESSON_CODE: &str = "safety-learning";
/// Change-log entries read per step.
const BATCH: usize = 2000;

fn lesson_id(report: &str) -> String {
    format!("lesson-{report}")
}

/// The Communication sharing a closed report's learning, or `None` when there is nothing
/// to share.
pub(crate) fn lesson(report: &Value) -> Option<Value> {
    let e = read(report).ok()?;
    if e.review.status != Status::Closed || !e.review.share {
        return None;
    }
    let learning = e.review.learning.clone()?;
    let about = Formats::shipped()
        .category(&e.category)
        .map_or(e.category.clone(), |c| c.words.clone());
    let sent = e.review.closed?;
    Some(json!({
        "resourceType": "Communication",
        "id": lesson_id(&e.id),
        "status": "completed",
        "category": [{"coding": [{"system": LESSON_SYSTEM, "code": LESSON_CODE, "display": "Learning from a safety report"}]}],
        "topic": {"text": about},
        "sent": sent.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "payload": [{"contentString": learning}]
    }))
}

impl Safety {
    /// Handle what is new; returns the entries read.
    pub fn step(&self) -> Result<usize, Error> {
        let _one = self
            .stepping
            .lock()
            .map_err(|_| Error::Invalid("poisoned".into()))?;
        let store = self.store();
        let from = store.checkpoint(CONSUMER)?;
        let log = store.log(from, BATCH)?;
        let Some(last) = log.last().map(|c| c.seq) else {
            return Ok(0);
        };
        let system = Access::system();
        let mut entries = Vec::new();
        let mut seen = std::collections::HashSet::new();
        // The latest version of each report in the batch decides.
        for v in log.iter().rev().filter(|v| v.rtype == "AdverseEvent") {
            if !seen.insert(v.id.clone()) {
                continue;
            }
            let body = v
                .body
                .as_deref()
                .filter(|_| v.op != Op::Delete)
                .and_then(|b| serde_json::from_str::<Value>(b).ok());
            let id = lesson_id(&v.id);
            match body.as_ref().and_then(lesson) {
                Some(c) => entries.push(Entry {
                    full_url: None,
                    op: WriteOp::Update {
                        rtype: "Communication".into(),
                        id,
                        resource: c,
                        if_match: None,
                    },
                }),
                None => {
                    if store.read(&system, "Communication", &id)?.is_some() {
                        entries.push(Entry {
                            full_url: None,
                            op: WriteOp::Delete {
                                rtype: "Communication".into(),
                                id,
                            },
                        });
                    }
                }
            }
        }
        if entries.is_empty() {
            store.save_checkpoint(CONSUMER, last)?;
        } else {
            for r in store.write_consumed(entries, Mode::Independent, CONSUMER, last)? {
                if let Err(e) = r {
                    tracing::warn!(error = %e, "a safety lesson was refused");
                }
            }
        }
        self.processed.mark(last);
        Ok(log.len())
    }

    /// Step until nothing is new (tests, the demo's start).
    pub fn catch_up(&self) -> Result<(), Error> {
        while self.step()? > 0 {}
        Ok(())
    }
}

impl store::Consumer for Safety {
    fn name(&self) -> &str {
        CONSUMER
    }
    fn step(&self) -> Result<usize, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Safety::step(self)?)
    }
    fn progress(&self) -> &Progress {
        &self.processed
    }
}
