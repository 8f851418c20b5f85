//! Live events: every score, alert and alert state change, and every change to suspected
//! sepsis's first hour, as it is committed, for the web app's server-sent event streams (per
//! ward and per patient).
//!
//! The hub is fed from the store's change log, not from the evaluator's memory: an event's
//! id is its change-log position, so a client that reconnects with `Last-Event-ID` gets
//! every event it missed, across restarts ([`Hub::replay`]).

use std::sync::{Arc, OnceLock};

use serde::Serialize;
use serde_json::{json, Value};
use store::{Progress, Version};
use tokio::sync::broadcast;

use crate::codes::{self, ScoreKind};
use crate::{alert, score, EarlyWarning};

/// One event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// Change-log position (the SSE event id).
    pub seq: i64,
    /// `score`, `alert` or `sepsis`.
    pub kind: &'static str,
    pub patient: String,
    pub ward: Option<String>,
    /// The score summary or the alert view.
    pub data: Value,
}

/// Publishes events to every subscriber.
pub struct Hub {
    ew: Arc<EarlyWarning>,
    tx: broadcast::Sender<Arc<Event>>,
    /// The change-log position published so far.
    position: Progress,
    runner: OnceLock<store::Runner>,
}

impl Hub {
    /// Start publishing from the store's newest position (on the store's change-log runner;
    /// every process publishes to its own subscribers).
    pub fn start(ew: Arc<EarlyWarning>) -> Arc<Hub> {
        let (tx, _) = broadcast::channel(4096);
        let position = Progress::default();
        position.mark(ew.store().commits().latest());
        let hub = Arc::new(Hub {
            ew,
            tx,
            position,
            runner: OnceLock::new(),
        });
        let runner = store::Runner::start(hub.ew.store().clone(), hub.clone());
        let _ = hub.runner.set(runner);
        hub
    }

    pub fn stop(&self) {
        if let Some(r) = self.runner.get() {
            r.stop();
        }
    }

    /// Subscribe to live events; also returns the position published so far (replay up to
    /// it, then skip live events at or before it).
    pub fn subscribe(&self) -> (broadcast::Receiver<Arc<Event>>, i64) {
        let rx = self.tx.subscribe();
        (rx, self.position.get())
    }

    /// Events after `after` up to `upto`, read back from the change log.
    pub fn replay(&self, after: i64, upto: i64) -> Vec<Event> {
        let mut out = Vec::new();
        let mut at = after;
        while at < upto {
            let Ok(log) = self.ew.store().log(at, 1000) else {
                break;
            };
            let Some(last) = log.last().map(|v| v.seq) else {
                break;
            };
            out.extend(
                log.iter()
                    .filter(|v| v.seq <= upto)
                    .filter_map(|v| self.event(v)),
            );
            at = last;
        }
        out
    }

    /// The event a committed version means, if any.
    pub fn event(&self, v: &Version) -> Option<Event> {
        // Cheap pre-filter: the service gives what it writes these ids (the tag decides).
        let derived_id = ["news2-", "qsofa-", "sirs-", "pews-", "alert-"]
            .iter()
            .any(|p| v.id.starts_with(p));
        if !derived_id && v.rtype != "Task" {
            return None;
        }
        let body: Value = serde_json::from_str(v.body.as_deref()?).ok()?;
        match v.rtype.as_str() {
            "Observation" if codes::is_derived(&body) => {
                let kind = ScoreKind::of(&body)?;
                let patient = body["subject"]["reference"].as_str()?.to_string();
                let ward = body["encounter"]["reference"]
                    .as_str()
                    .and_then(|e| self.ew.ward_of(e));
                let data = match kind {
                    ScoreKind::News2 => {
                        let mut d = serde_json::to_value(score::news2_summary(&body)?).ok()?;
                        d["score"] = json!("news2");
                        d
                    }
                    ScoreKind::Pews => {
                        // The board's shape (band = the level), named.
                        let mut d = serde_json::to_value(score::summary(&body)?).ok()?;
                        d["score"] = json!("pews");
                        d
                    }
                    _ => json!({
                        "score": kind.prefix(),
                        "id": body["id"],
                        "screen": body["interpretation"][0]["coding"][0]["code"],
                        "met": score::component(&body, "criteria-met").map(|c| c["valueInteger"].clone()),
                        "effective": body["effectiveDateTime"],
                    }),
                };
                Some(Event {
                    seq: v.seq,
                    kind: "score",
                    patient,
                    ward,
                    data,
                })
            }
            "Task" if alert::is_alert(&body) => {
                let view = alert::view(&body, &self.ew.config().policy, self.ew.now_ms())?;
                let ward = view
                    .ward
                    .clone()
                    .or_else(|| view.encounter.as_deref().and_then(|e| self.ew.ward_of(e)));
                Some(Event {
                    seq: v.seq,
                    kind: "alert",
                    patient: view.patient.clone(),
                    ward,
                    data: serde_json::to_value(view).ok()?,
                })
            }
            "Task" if is_sepsis(&body) => {
                let patient = body["for"]["reference"].as_str()?.to_string();
                let ward = body["encounter"]["reference"]
                    .as_str()
                    .and_then(|e| self.ew.ward_of(e));
                Some(Event {
                    seq: v.seq,
                    kind: "sepsis",
                    patient,
                    ward,
                    data: json!({
                        "action": body["code"]["text"],
                        "status": body["status"],
                        "deadline": body["restriction"]["period"]["end"],
                    }),
                })
            }
            _ => None,
        }
    }
}

/// A Task of suspected sepsis's first hour.
fn is_sepsis(task: &Value) -> bool {
    task["meta"]["tag"].as_array().is_some_and(|tags| {
        tags.iter()
            .any(|t| t["system"] == sepsis::shape::TAG_SYSTEM && t["code"] == sepsis::shape::TAG)
    })
}

impl store::Consumer for Hub {
    fn name(&self) -> &str {
        "events"
    }
    fn exclusive(&self) -> bool {
        false
    }
    fn step(&self) -> Result<usize, Box<dyn std::error::Error + Send + Sync>> {
        let at = self.position.get();
        let log = self.ew.store().log(at, 1000)?;
        for v in &log {
            // Position first, then send: a subscriber that reads a position replays up to
            // it and receives everything after it live.
            self.position.mark(v.seq);
            if let Some(e) = self.event(v) {
                let _ = self.tx.send(Arc::new(e));
            }
        }
        Ok(log.len())
    }
    fn progress(&self) -> &Progress {
        &self.position
    }
}
