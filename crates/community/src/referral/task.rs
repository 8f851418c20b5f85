//! The referral Task over its life: changed by the hospital or the partner ([`apply`]), read
//! for pages and reports ([`read`]), and followed up ([`follow_up_due`]).
//!
//! A change sets `status`, `statusReason` (coded in Tend's reason system, with the IG's
//! required `text`; cleared when the new status has none), `businessStatus` (the status in
//! words, with the reason), `lastModified`, appends a `note` with its author and time, and at
//! the end records the outcome in `output`:
//! - `type` Tend's `need-outcome` (`https://tend.example.org/fhir/CodeSystem/referral-task-parameter`),
//!   `valueCodeableConcept` `need-met` or `need-not-met`
//!   (`https://tend.example.org/fhir/CodeSystem/referral-outcome`);
//! - when not met, a second output `need-outcome-reason` with the reason (Tend's outcome
//!   reason codes, in the same outcome system, and the words).
//!
//! The IG defines no outcome coding (its `output` slice carries the procedures performed), so
//! these are Tend's; `data/reasons.json` says which outcome goes with which ending.

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

use super::create::{instant, TASK_CODE};
use super::{Party, Rules, Status};
use crate::{Error, MAX_TEXT};

/// A coded reason for a change (a code of `data/reasons.json`), with words ("other" needs
/// them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    pub code: String,
    pub text: Option<String>,
}

/// How a referral ended for the patient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    NeedMet,
    /// Not met, and why (an outcome reason code of `data/reasons.json`, with words).
    NotMet {
        reason: String,
        text: Option<String>,
    },
}

impl Outcome {
    fn code(&self) -> &'static str {
        match self {
            Outcome::NeedMet => "need-met",
            Outcome::NotMet { .. } => "need-not-met",
        }
    }
}

/// A change to a referral.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub to: Status,
    pub reason: Option<Reason>,
    pub outcome: Option<Outcome>,
    pub note: Option<String>,
}

/// A note on the referral.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub author: Option<String>,
    pub time: Option<DateTime<Utc>>,
    pub text: String,
}

/// Why the referral has its status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusReason {
    pub code: Option<String>,
    pub text: String,
}

/// A referral as the pages and reports need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferralState {
    /// The Task's id.
    pub id: String,
    pub status: Status,
    pub reason: Option<StatusReason>,
    /// The status in words.
    pub business_status: Option<String>,
    pub outcome: Option<Outcome>,
    /// The partner's Organization id.
    pub owner: Option<String>,
    /// The HealthcareService id referred to.
    pub service: Option<String>,
    /// The ServiceRequest id.
    pub service_request: String,
    /// `Patient/ID`.
    pub patient: String,
    pub authored_on: DateTime<Utc>,
    pub last_modified: DateTime<Utc>,
    /// When the partner took it on (accepted, started or finished it): the connection.
    pub connected: Option<DateTime<Utc>>,
    pub notes: Vec<Note>,
}

fn time(v: &Value) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(v.as_str()?)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn status_of(task: &Value) -> Result<Status, Error> {
    let code = task["status"].as_str().ok_or(Error::Task("status"))?;
    Status::from_code(code).ok_or_else(|| Error::UnknownStatus(code.to_string()))
}

fn check_task(task: &Value) -> Result<(), Error> {
    if task["resourceType"] != "Task" {
        return Err(Error::Task("resourceType (Task)"));
    }
    let fulfill = task["code"]["coding"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["system"] == TASK_CODE && c["code"] == "fulfill");
    if !fulfill {
        return Err(Error::Task("code (fulfill)"));
    }
    Ok(())
}

/// The referral Task after `party` (`actor_label` naming the person) makes `change` at `now`.
pub fn apply(
    task: &Value,
    party: Party,
    change: &Change,
    actor_label: &str,
    now: DateTime<Utc>,
) -> Result<Value, Error> {
    check_task(task)?;
    let rules = Rules::shipped();
    let from = status_of(task)?;
    let to = change.to;
    if !rules.allows(party, from, to) {
        return Err(Error::NotAllowed { party, from, to });
    }
    let reason = match &change.reason {
        None if rules.reason_required(to) => return Err(Error::ReasonRequired(to)),
        None => None,
        Some(r) => {
            let known = rules
                .status_reason(&r.code)
                .ok_or_else(|| Error::UnknownReason(r.code.clone()))?;
            if !rules.status_reasons(to).iter().any(|x| x.code == r.code) {
                return Err(Error::ReasonNotFor {
                    reason: r.code.clone(),
                    status: to,
                });
            }
            let text = r.text.as_deref().map(str::trim).filter(|t| !t.is_empty());
            if known.text_required && text.is_none() {
                return Err(Error::ReasonText(r.code.clone()));
            }
            if let Some(t) = text {
                if t.chars().count() > MAX_TEXT {
                    return Err(Error::TooLong("the reason"));
                }
            }
            Some((known, text))
        }
    };
    if let Some(o) = &change.outcome {
        if !to.is_terminal() {
            return Err(Error::OutcomeTooEarly(to));
        }
        if !rules.outcome_fits(o.code(), to) {
            return Err(Error::OutcomeContradicts {
                outcome: match o {
                    Outcome::NeedMet => "a need met",
                    Outcome::NotMet { .. } => "a need not met",
                },
                status: to,
            });
        }
        if let Outcome::NotMet { reason, text } = o {
            let known = rules
                .outcome_reason(reason)
                .ok_or_else(|| Error::UnknownReason(reason.clone()))?;
            let text = text.as_deref().map(str::trim).filter(|t| !t.is_empty());
            if known.text_required && text.is_none() {
                return Err(Error::ReasonText(reason.clone()));
            }
            if text.is_some_and(|t| t.chars().count() > MAX_TEXT) {
                return Err(Error::TooLong("the outcome"));
            }
        }
    }
    let note = change
        .note
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    if note.is_some_and(|n| n.chars().count() > MAX_TEXT) {
        return Err(Error::TooLong("the note"));
    }
    let mut t = moved(task, now)?;
    let Some(m) = t.as_object_mut() else {
        return Err(Error::Task("resourceType (Task)"));
    };
    m.insert("status".into(), json!(to.code()));
    let mut words = to.words().to_string();
    match reason {
        Some((known, text)) => {
            let said = text.unwrap_or(&known.words);
            words.push_str(&format!(": {said}"));
            m.insert(
                "statusReason".into(),
                json!({
                    "coding": [{"system": rules.status_reason_system(), "code": known.code, "display": known.words}],
                    "text": said,
                }),
            );
        }
        None => {
            m.remove("statusReason");
        }
    }
    m.insert("businessStatus".into(), json!({"text": words}));
    m.insert("lastModified".into(), json!(instant(now)));
    // When the partner took the referral on (the connection the reports time) and when it
    // ended: Task.executionPeriod.
    let mut period = m
        .get("executionPeriod")
        .cloned()
        .unwrap_or_else(|| json!({}));
    if matches!(
        to,
        Status::Accepted | Status::InProgress | Status::Completed
    ) && period.get("start").is_none()
    {
        period["start"] = json!(instant(now));
    }
    if to.is_terminal() {
        period["end"] = json!(instant(now));
    }
    if period.as_object().is_some_and(|p| !p.is_empty()) {
        m.insert("executionPeriod".into(), period);
    }
    if let Some(n) = note {
        let mut notes = m
            .get("note")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        notes.push(json!({"authorString": actor_label, "time": instant(now), "text": n}));
        m.insert("note".into(), json!(notes));
    }
    if let Some(o) = &change.outcome {
        put_outcome(m, o);
    }
    Ok(t)
}

/// A copy of the Task to change at `now`, which may not be before its last change.
fn moved(task: &Value, now: DateTime<Utc>) -> Result<Value, Error> {
    let last = time(&task["lastModified"]).or_else(|| time(&task["authoredOn"]));
    if last.is_some_and(|l| now < l) {
        return Err(Error::Backdated);
    }
    Ok(task.clone())
}

/// Replace the Task's outcome outputs with `o` (already checked against the rules).
fn put_outcome(m: &mut serde_json::Map<String, Value>, o: &Outcome) {
    let rules = Rules::shipped();
    let p = rules.parameters();
    let types = [p.outcome.code.as_str(), p.reason.code.as_str()];
    let mut outputs: Vec<Value> = m
        .get("output")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|x| {
            !x["type"]["coding"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| {
                    c["system"] == rules.parameter_system() && types.iter().any(|t| c["code"] == *t)
                })
        })
        .cloned()
        .collect();
    let parameter = |c: &super::Coded| json!({"coding": [{"system": rules.parameter_system(), "code": c.code, "display": c.words}], "text": c.words});
    outputs.push(json!({
        "type": parameter(&p.outcome),
        "valueCodeableConcept": {
            "coding": [{"system": rules.outcome_system(), "code": o.code(), "display": rules.outcome_words(o.code())}],
            "text": rules.outcome_words(o.code()),
        },
    }));
    if let Outcome::NotMet { reason, text } = o {
        let known = rules.outcome_reason(reason).expect("checked above");
        let said = text
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .unwrap_or(&known.words);
        outputs.push(json!({
            "type": parameter(&p.reason),
            "valueCodeableConcept": {
                "coding": [{"system": rules.outcome_system(), "code": known.code, "display": known.words}],
                "text": said,
            },
        }));
    }
    m.insert("output".into(), json!(outputs));
}

/// The hospital's answer to "was the need met?" (a navigator or social worker, or the
/// patient through them), `actor_label` naming who: on a referral that has ended it is
/// recorded beside the ending (it must fit it: a rejected referral did not meet the need);
/// on one still open, "not met" closes it (cancelled, with the reason, so the partner stops
/// working on it) and "met" is recorded without changing what the partner is doing.
pub fn follow_up(
    task: &Value,
    outcome: &Outcome,
    actor_label: &str,
    now: DateTime<Utc>,
) -> Result<Value, Error> {
    check_task(task)?;
    let rules = Rules::shipped();
    let status = status_of(task)?;
    let note = Some(format!(
        "Followed up: {}.",
        rules.outcome_words(outcome.code()).to_lowercase()
    ));
    if !status.is_terminal() {
        if let Outcome::NotMet { reason, text } = outcome {
            return apply(
                task,
                Party::Sender,
                &Change {
                    to: Status::Cancelled,
                    reason: Some(Reason {
                        code: reason.clone(),
                        text: text.clone(),
                    }),
                    outcome: Some(outcome.clone()),
                    note,
                },
                actor_label,
                now,
            );
        }
    } else if !rules.outcome_fits(outcome.code(), status) {
        return Err(Error::OutcomeContradicts {
            outcome: match outcome {
                Outcome::NeedMet => "a need met",
                Outcome::NotMet { .. } => "a need not met",
            },
            status,
        });
    }
    // Checked as `apply` checks an outcome, by recording it with the status unchanged.
    if let Outcome::NotMet { reason, text } = outcome {
        let known = rules
            .outcome_reason(reason)
            .ok_or_else(|| Error::UnknownReason(reason.clone()))?;
        if known.text_required && text.as_deref().is_none_or(|t| t.trim().is_empty()) {
            return Err(Error::ReasonText(reason.clone()));
        }
        if text
            .as_deref()
            .is_some_and(|t| t.chars().count() > MAX_TEXT)
        {
            return Err(Error::TooLong("the outcome"));
        }
    }
    let mut t = moved(task, now)?;
    let Some(m) = t.as_object_mut() else {
        return Err(Error::Task("resourceType (Task)"));
    };
    put_outcome(m, outcome);
    m.insert("lastModified".into(), json!(instant(now)));
    let mut notes = m
        .get("note")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    notes.push(json!({"authorString": actor_label, "time": instant(now), "text": note}));
    m.insert("note".into(), json!(notes));
    Ok(t)
}

fn reference_id(v: &Value, kind: &str) -> Option<String> {
    v["reference"]
        .as_str()?
        .strip_prefix(kind)?
        .strip_prefix('/')
        .map(str::to_string)
}

fn list(v: &Value) -> impl Iterator<Item = &Value> {
    v.as_array().into_iter().flatten()
}

fn coded(v: &Value, system: &str, code: &str) -> bool {
    list(&v["coding"]).any(|c| c["system"] == system && c["code"] == code)
}

/// A referral Task as what the pages and reports need.
pub fn read(task: &Value) -> Result<ReferralState, Error> {
    check_task(task)?;
    let rules = Rules::shipped();
    let p = rules.parameters();
    let status = status_of(task)?;
    let reason = task.get("statusReason").map(|r| StatusReason {
        code: list(&r["coding"])
            .find(|c| c["system"] == rules.status_reason_system())
            .and_then(|c| c["code"].as_str())
            .map(str::to_string),
        text: r["text"].as_str().unwrap_or_default().to_string(),
    });
    let output = |code: &str| {
        list(&task["output"])
            .find(|o| coded(&o["type"], rules.parameter_system(), code))
            .map(|o| &o["valueCodeableConcept"])
    };
    let outcome = match output(&p.outcome.code) {
        Some(v) if coded(v, rules.outcome_system(), "need-met") => Some(Outcome::NeedMet),
        Some(v) if coded(v, rules.outcome_system(), "need-not-met") => {
            let why = output(&p.reason.code);
            let reason = why
                .and_then(|w| {
                    list(&w["coding"])
                        .find(|c| c["system"] == rules.outcome_system())
                        .and_then(|c| c["code"].as_str())
                })
                .unwrap_or("other")
                .to_string();
            let words = rules.outcome_reason(&reason).map(|r| r.words.as_str());
            let text = why
                .and_then(|w| w["text"].as_str())
                .filter(|t| Some(*t) != words)
                .map(str::to_string);
            Some(Outcome::NotMet { reason, text })
        }
        _ => None,
    };
    let service = list(&task["input"])
        .find(|i| coded(&i["type"], rules.parameter_system(), &p.service.code))
        .and_then(|i| reference_id(&i["valueReference"], "HealthcareService"));
    let authored_on = time(&task["authoredOn"]).ok_or(Error::Task("authoredOn"))?;
    Ok(ReferralState {
        id: task["id"].as_str().ok_or(Error::Task("id"))?.to_string(),
        status,
        reason,
        business_status: task["businessStatus"]["text"].as_str().map(str::to_string),
        outcome,
        owner: reference_id(&task["owner"], "Organization"),
        service,
        service_request: reference_id(&task["focus"], "ServiceRequest")
            .ok_or(Error::Task("focus (ServiceRequest)"))?,
        patient: task["for"]["reference"]
            .as_str()
            .filter(|r| r.starts_with("Patient/"))
            .ok_or(Error::Task("for (Patient)"))?
            .to_string(),
        authored_on,
        last_modified: time(&task["lastModified"]).unwrap_or(authored_on),
        connected: time(&task["executionPeriod"]["start"]),
        notes: list(&task["note"])
            .filter_map(|n| {
                Some(Note {
                    author: n["authorString"]
                        .as_str()
                        .or_else(|| n["authorReference"]["display"].as_str())
                        .map(str::to_string),
                    time: time(&n["time"]),
                    text: n["text"].as_str()?.to_string(),
                })
            })
            .collect(),
    })
}

/// Tend's default follow-up interval in days. The IG sets none; a site chooses its own (a
/// setting of the referral service).
pub const DEFAULT_FOLLOW_UP_DAYS: u32 = 14;

/// When to check the loop ("was the need met?"): `interval_days` after the later of sending
/// and the last change, so a referral the partner is working on is asked about when it has
/// gone quiet. `None` once the outcome is known or the referral was cancelled.
pub fn follow_up_due(
    sent: DateTime<Utc>,
    last_change: DateTime<Utc>,
    status: Status,
    outcome_known: bool,
    interval_days: u32,
) -> Option<DateTime<Utc>> {
    if outcome_known || status == Status::Cancelled {
        return None;
    }
    Some(sent.max(last_change) + Duration::days(i64::from(interval_days)))
}
