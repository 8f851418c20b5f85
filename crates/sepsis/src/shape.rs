//! The first hour as FHIR: one Task per started clock (antibiotics, blood cultures, lactate,
//! intravenous fluids), and back from a Task to what a page shows. Pure.
//!
//! | Task element | Holds |
//! |---|---|
//! | `id` | `sepsis-` and a digest of the suspicion's Condition and the clock |
//! | `meta.tag` | Tend's tag `sepsis-hour-one` (what the ward's live events look for) |
//! | `status` | `requested` while not done, `completed` once done, `cancelled` when infection was ruled out |
//! | `businessStatus` | `due`, `on-time` or `late` (done after the deadline) |
//! | `code` | the clock, in Tend's `sepsis-action` system |
//! | `for`, `focus`, `encounter` | the patient, the suspicion (Condition), the stay |
//! | `reasonReference` | the score or reading that started the clock |
//! | `authoredOn`, `restriction.period` | when the clock started; the deadline (`end`, the first late moment) |
//! | `executionPeriod.end`, `output` | when it was done, and the record that did it |
//!
//! The Task does not change as time passes: whether an open action is late is read from its
//! deadline at the moment of reading.

use chrono::{DateTime, Duration, FixedOffset};
use pathways::{ClockState, ClockStatus};
use serde_json::{json, Value};

use crate::episode::Episode;

/// Tend's tag system (shared with early warning's derived records).
pub const TAG_SYSTEM: &str = "https://tend.example.org/fhir/CodeSystem/tend-tags";
/// The tag on every first-hour Task (early warning's live events carry them to the ward).
pub const TAG: &str = "sepsis-hour-one";
/// The clocks as Task codes.
pub const ACTION: &str = "https://tend.example.org/fhir/CodeSystem/sepsis-action";
/// `due`, `on-time`, `late`.
pub const ACTION_STATUS: &str = "https://tend.example.org/fhir/CodeSystem/sepsis-action-status";

/// The plain name of a clock's action, for the ward.
pub fn action_name(clock: &str) -> &'static str {
    match clock {
        "antibiotics-within-hour" => "Antibiotics",
        "cultures-within-hour" => "Blood cultures",
        "lactate-within-hour" => "Lactate",
        "fluids-within-hour" => "Intravenous fluids",
        _ => "First-hour action",
    }
}

/// The Task of one started clock of an episode (`None` when the clock has not started).
pub fn task(patient: &str, encounter: Option<&str>, e: &Episode, c: &ClockState) -> Option<Value> {
    let start = c.start?;
    let deadline = c.deadline?;
    if matches!(
        c.status,
        ClockStatus::NotStarted | ClockStatus::NotApplicable
    ) {
        return None;
    }
    let (status, business) = match (c.stop, c.status) {
        (Some(_), ClockStatus::Met) => ("completed", "on-time"),
        (Some(_), _) => ("completed", "late"),
        (None, _) => ("requested", "due"),
    };
    let mut t = json!({
        "resourceType": "Task",
        "id": task_id(&e.anchor, &c.clock),
        "meta": {"tag": [{"system": TAG_SYSTEM, "code": TAG}]},
        "status": status,
        "businessStatus": {"coding": [{"system": ACTION_STATUS, "code": business}]},
        "intent": "order",
        "priority": "stat",
        "code": {"coding": [{"system": ACTION, "code": c.clock, "display": c.name}], "text": action_name(&c.clock)},
        "description": c.name,
        "focus": {"reference": e.anchor},
        "for": {"reference": format!("Patient/{patient}")},
        "authoredOn": start.to_rfc3339(),
        "restriction": {"period": {"start": start.to_rfc3339(), "end": deadline.to_rfc3339()}},
    });
    if let Some(enc) = encounter {
        t["encounter"] = json!({"reference": enc});
    }
    if let Some(r) = c.start_event.as_deref().filter(|r| r.contains('/')) {
        t["reasonReference"] = json!({"reference": r.split('#').next().unwrap_or(r)});
    }
    if let Some(stop) = c.stop {
        t["executionPeriod"] = json!({"start": start.to_rfc3339(), "end": stop.to_rfc3339()});
        if let Some(r) = c.stop_event.as_deref() {
            t["output"] =
                json!([{"type": {"text": "Done by"}, "valueReference": {"reference": r}}]);
        }
    }
    Some(t)
}

/// The id of an episode's Task for `clock`.
pub fn task_id(anchor: &str, clock: &str) -> String {
    fhir::id::stable_id("sepsis", &format!("{anchor}|{clock}"))
}

/// The same Task, cancelled: infection was ruled out (or the suspicion withdrawn).
pub fn cancelled(task: &Value) -> Value {
    let mut t = task.clone();
    t["status"] = json!("cancelled");
    t["statusReason"] = json!({"text": "Infection no longer suspected"});
    t
}

/// One first-hour action as the ward sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Action {
    /// The clock (`antibiotics-within-hour`…).
    pub clock: String,
    pub name: &'static str,
    pub patient: String,
    /// The suspicion it belongs to (`Condition/ID`).
    pub anchor: String,
    pub started: DateTime<FixedOffset>,
    /// The first late moment.
    pub deadline: DateTime<FixedOffset>,
    pub done: Option<DateTime<FixedOffset>>,
    pub cancelled: bool,
}

impl Action {
    /// Read back from a Task this module wrote.
    pub fn of(task: &Value) -> Option<Action> {
        let tagged = task["meta"]["tag"]
            .as_array()?
            .iter()
            .any(|t| t["system"] == TAG_SYSTEM && t["code"] == TAG);
        if !tagged {
            return None;
        }
        let time = |v: &Value| {
            v.as_str()
                .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        };
        let clock = task["code"]["coding"][0]["code"].as_str()?.to_string();
        Some(Action {
            name: action_name(&clock),
            clock,
            patient: task["for"]["reference"]
                .as_str()?
                .trim_start_matches("Patient/")
                .to_string(),
            anchor: task["focus"]["reference"].as_str()?.to_string(),
            started: time(&task["restriction"]["period"]["start"])?,
            deadline: time(&task["restriction"]["period"]["end"])?,
            done: time(&task["executionPeriod"]["end"]),
            cancelled: task["status"] == "cancelled",
        })
    }

    /// The last minute still on time ("by 10:05" when 10:06 is late).
    pub fn due_by(&self) -> DateTime<FixedOffset> {
        self.deadline - Duration::minutes(1)
    }

    /// Not done, and past its deadline at `now`.
    pub fn late(&self, now: DateTime<FixedOffset>) -> bool {
        self.done.is_none() && !self.cancelled && now >= self.deadline
    }

    /// Done after its deadline.
    pub fn done_late(&self) -> bool {
        self.done.is_some_and(|d| d >= self.deadline)
    }

    /// Minutes left at `now` (negative once late).
    pub fn minutes_left(&self, now: DateTime<FixedOffset>) -> i64 {
        (self.deadline - now).num_minutes()
    }
}

/// A patient's first hour at a glance (the board's cell, the alert's line).
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Actions not done and past their deadline, most overdue first.
    pub late: Vec<&'static str>,
    /// The open action due soonest and its last on-time minute.
    pub next: Option<(&'static str, DateTime<FixedOffset>)>,
    /// Actions not done (late or not).
    pub open: usize,
    /// Actions done.
    pub done: usize,
}

impl Summary {
    /// The summary of one patient's `actions` at `now` (cancelled ones left out); `None`
    /// without any.
    pub fn of(actions: &[&Action], now: DateTime<FixedOffset>) -> Option<Summary> {
        let live: Vec<&&Action> = actions.iter().filter(|a| !a.cancelled).collect();
        if live.is_empty() {
            return None;
        }
        let mut late: Vec<&&Action> = live.iter().copied().filter(|a| a.late(now)).collect();
        late.sort_by_key(|a| a.deadline);
        let next = live
            .iter()
            .filter(|a| a.done.is_none() && !a.late(now))
            .min_by_key(|a| a.deadline)
            .map(|a| (a.name, a.due_by()));
        Some(Summary {
            late: late.iter().map(|a| a.name).collect(),
            next,
            open: live.iter().filter(|a| a.done.is_none()).count(),
            done: live.iter().filter(|a| a.done.is_some()).count(),
        })
    }
}
