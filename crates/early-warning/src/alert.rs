//! Alerts as FHIR resources: a `Flag` (<https://hl7.org/fhir/R4/flag.html>) that marks the
//! patient while the alert is open, and a `Task` (<https://hl7.org/fhir/R4/task.html>)
//! that carries the work: who must answer (`performerType`), by when
//! (`restriction.period.end`), who acknowledged (`owner`, `executionPeriod.start`), what
//! was done (`output`), and the timeline (`note`). Both share one id.
//!
//! | Lifecycle | `Task.status` | `Task.businessStatus` | `Flag.status` |
//! |---|---|---|---|
//! | raised | requested | raised | active |
//! | escalated (not acknowledged by the deadline) | requested | escalated | active |
//! | acknowledged | accepted | acknowledged | active |
//! | response recorded | in-progress | responded | active |
//! | resolved | completed | resolved | inactive |
//! | superseded by a higher band | cancelled | superseded | inactive |
//!
//! A NEWS2 alert (Task code `news2-response`) carries its band in `reasonCode` (system
//! [`codes::BAND`]); a PEWS alert (`pews-response`, for a child) carries its escalation level
//! (system [`codes::PEWS_LEVEL`]). Both go through the same lifecycle.
//!
//! Functions here are pure: they take the current JSON and a time and return the next.

use rules::{Action, Band, Policy, Role, Trigger};
use serde::Serialize;
use serde_json::{json, Value};

use crate::codes::{self, EW};
use crate::score::SetRef;
use crate::Error;

/// An alert's place in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Lifecycle {
    #[default]
    Raised,
    Acknowledged,
    Responded,
    Resolved,
    Superseded,
}

impl Lifecycle {
    /// The lifecycle an alert Task is in.
    pub fn of(task: &Value) -> Lifecycle {
        match task["status"].as_str().unwrap_or_default() {
            "accepted" => Lifecycle::Acknowledged,
            "in-progress" => Lifecycle::Responded,
            "completed" | "failed" | "rejected" | "entered-in-error" => Lifecycle::Resolved,
            "cancelled" => Lifecycle::Superseded,
            _ => Lifecycle::Raised,
        }
    }

    pub fn is_open(self) -> bool {
        matches!(
            self,
            Lifecycle::Raised | Lifecycle::Acknowledged | Lifecycle::Responded
        )
    }
}

/// A response recorded on an alert.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Response {
    pub action: String,
    pub display: String,
    pub note: Option<String>,
}

/// An alert as the web app and the JSON API show it.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct AlertView {
    pub id: String,
    pub version: Option<String>,
    pub patient: String,
    pub encounter: Option<String>,
    pub ward: Option<String>,
    /// The NEWS2 band, or the PEWS level, that raised it.
    pub band: String,
    /// The score that raised it: `NEWS2` or `PEWS`.
    pub score_name: String,
    pub lifecycle: Lifecycle,
    pub open: bool,
    pub required_response: String,
    /// The role that must answer now.
    pub role: String,
    pub role_display: String,
    pub escalation_level: u32,
    pub raised: String,
    pub deadline: String,
    /// Past its deadline and not acknowledged.
    pub overdue: bool,
    /// Milliseconds left to the deadline (negative when past).
    pub ms_to_deadline: i64,
    pub acknowledged_by: Option<String>,
    pub acknowledged_at: Option<String>,
    pub responses: Vec<Response>,
    pub resolved_at: Option<String>,
    pub score: Option<String>,
    pub timeline: Vec<Value>,
}

fn ew(code: &str) -> Value {
    json!({"coding": [{"system": EW, "code": code}]})
}

fn status_concept(code: &str, text: &str) -> Value {
    json!({"coding": [{"system": codes::ALERT_STATUS, "code": code}], "text": text})
}

fn role_concept(r: Role) -> Value {
    json!({"coding": [{"system": codes::ROLE, "code": r.code(), "display": r.display()}], "text": r.display()})
}

/// The band an alert was raised for.
pub fn band_of(task: &Value) -> Option<Band> {
    task["reasonCode"]["coding"]
        .as_array()?
        .iter()
        .find(|c| c["system"] == codes::BAND)
        .and_then(|c| Band::parse(c["code"].as_str()?))
}

/// What raised an alert: its NEWS2 band or PEWS level.
pub fn trigger_of(task: &Value) -> Option<Trigger> {
    task["reasonCode"]["coding"]
        .as_array()?
        .iter()
        .find_map(|c| {
            let code = c["code"].as_str()?;
            if c["system"] == codes::BAND {
                Band::parse(code).map(Trigger::News2)
            } else if c["system"] == codes::PEWS_LEVEL {
                rules::pews::Level::parse(code).map(Trigger::Pews)
            } else {
                None
            }
        })
}

/// Whether a Task is an early-warning alert.
pub fn is_alert(task: &Value) -> bool {
    task["resourceType"] == "Task"
        && task["code"]["coding"].as_array().is_some_and(|c| {
            c.iter().any(|x| {
                x["system"] == EW
                    && x["code"]
                        .as_str()
                        .is_some_and(|code| codes::ALERT_TASK_CODES.contains(&code))
            })
        })
}

fn input<'a>(task: &'a Value, code: &str) -> Option<&'a Value> {
    task["input"].as_array()?.iter().find(|i| {
        i["type"]["coding"]
            .as_array()
            .is_some_and(|c| c.iter().any(|x| x["system"] == EW && x["code"] == code))
    })
}

/// The escalation level recorded on an alert.
pub fn escalation_level(task: &Value) -> u32 {
    input(task, "escalation-level")
        .and_then(|i| i["valueInteger"].as_u64())
        .unwrap_or(0) as u32
}

/// The acknowledgement deadline (ms).
pub fn deadline_ms(task: &Value) -> Option<i64> {
    let end = task["restriction"]["period"]["end"].as_str()?;
    search::date_range(end).map(|(s, _)| s)
}

fn now_text(now_ms: i64) -> String {
    search::format_instant(now_ms)
}

fn note(task: &mut Value, by: Option<&str>, at_ms: i64, text: String) {
    let mut n = json!({"time": now_text(at_ms), "text": text});
    if let Some(by) = by {
        n["authorReference"] = json!({"reference": by});
    }
    match task["note"].as_array_mut() {
        Some(a) => a.push(n),
        None => task["note"] = json!([n]),
    }
}

/// A new alert for a set's band: (Task, Flag). `supersedes` is the open alert it replaces.
pub fn raise(
    set: &SetRef,
    band: Band,
    policy: &Policy,
    ward: Option<&str>,
    now_ms: i64,
    supersedes: Option<&str>,
) -> Option<(Value, Value)> {
    raise_for(set, Trigger::News2(band), policy, ward, now_ms, supersedes)
}

/// What an alert's resources say, per score.
struct Wording {
    task_code: &'static str,
    task_display: &'static str,
    flag_code: &'static str,
    flag_display: &'static str,
    reason: Value,
    /// The required response (the Task's description).
    response: &'static str,
    /// A short code of the response (the Flag's text).
    response_code: &'static str,
    score: codes::ScoreKind,
    /// The id's suffix after the set key.
    id_suffix: String,
    priority: &'static str,
}

fn wording(t: Trigger) -> Wording {
    match t {
        Trigger::News2(band) => Wording {
            task_code: "news2-response",
            task_display: "Respond to NEWS2 alert",
            flag_code: "news2-alert",
            flag_display: "NEWS2 alert",
            reason: json!({"coding": [{"system": codes::BAND, "code": band.code(), "display": band.display()}]}),
            response: band.response(),
            response_code: band.response_code(),
            score: codes::ScoreKind::News2,
            id_suffix: band.code().to_string(),
            priority: match band {
                Band::High => "stat",
                Band::Medium => "urgent",
                _ => "asap",
            },
        },
        Trigger::Pews(level) => Wording {
            task_code: "pews-response",
            task_display: "Respond to PEWS escalation",
            flag_code: "pews-alert",
            flag_display: "PEWS alert",
            reason: json!({"coding": [{"system": codes::PEWS_LEVEL, "code": level.code(), "display": level.display()}]}),
            response: level.response().unwrap_or_default(),
            response_code: level.medical_review().unwrap_or_default(),
            score: codes::ScoreKind::Pews,
            id_suffix: format!("pews-{}", level.code()),
            priority: match level {
                rules::pews::Level::High | rules::pews::Level::Emergency => "stat",
                _ => "urgent",
            },
        },
    }
}

/// A new alert for what a set's score asks (a NEWS2 band or a PEWS level): (Task, Flag).
/// `supersedes` is the open alert it replaces.
pub fn raise_for(
    set: &SetRef,
    trigger: Trigger,
    policy: &Policy,
    ward: Option<&str>,
    now_ms: i64,
    supersedes: Option<&str>,
) -> Option<(Value, Value)> {
    let bp = policy.trigger(trigger)?;
    let w = wording(trigger);
    let id = fhir::stable_id("alert", &format!("{}#{}", set.key, w.id_suffix));
    // The response clock starts when the set was taken; a set recorded so late that its
    // deadline has already passed gets the full time from when Tend learnt of it (anyone
    // could know of it only then): an alert is never born past its deadline.
    let allowed = i64::from(bp.deadline_minutes) * 60_000;
    let deadline = match set.effective_ms + allowed {
        d if d > now_ms => d,
        _ => now_ms + allowed,
    };
    let role = *bp.ladder.first()?;
    let tag = json!({"tag": [{"system": codes::TAG, "code": codes::TAG_CODE}]});
    let mut task = json!({
        "resourceType": "Task",
        "id": id,
        "meta": tag,
        "status": "requested",
        "businessStatus": status_concept("raised", "Raised"),
        "intent": "order",
        "priority": w.priority,
        "code": {"coding": [{"system": EW, "code": w.task_code, "display": w.task_display}]},
        "description": w.response,
        "focus": {"reference": format!("Observation/{}", set.score_id(w.score))},
        "for": {"reference": set.subject},
        "authoredOn": now_text(now_ms),
        "lastModified": now_text(now_ms),
        "restriction": {"period": {"end": now_text(deadline)}},
        "performerType": [role_concept(role)],
        "reasonCode": w.reason,
        "reasonReference": {"reference": format!("Flag/{id}")},
        "input": [
            {"type": ew("escalation-level"), "valueInteger": 0},
            {"type": ew("set-time"), "valueDateTime": now_text(set.effective_ms)},
        ],
    });
    if let Some(e) = &set.encounter {
        task["encounter"] = json!({"reference": e});
    }
    if let Some(w) = ward {
        task["location"] = json!({"reference": w});
    }
    if let Some(old) = supersedes {
        if let Some(a) = task["input"].as_array_mut() {
            a.push(json!({"type": ew("supersedes"), "valueReference": {"reference": format!("Task/{old}")}}));
        }
    }
    note(
        &mut task,
        None,
        now_ms,
        format!(
            "Raised: {} {}; {} to respond by {}",
            trigger.score_name(),
            trigger.level_code(),
            role.display(),
            now_text(deadline)
        ),
    );
    let mut flag = json!({
        "resourceType": "Flag",
        "id": id,
        "meta": tag,
        "status": "active",
        "category": [{"coding": [{"system": codes::FLAG_CATEGORY, "code": "clinical", "display": "Clinical"}]}],
        "code": {"coding": [{"system": EW, "code": w.flag_code, "display": w.flag_display}],
            "text": format!("{} {}: {}", trigger.score_name(), trigger.level_code(), w.response_code)},
        "subject": {"reference": set.subject},
        "period": {"start": now_text(set.effective_ms)},
    });
    if let Some(e) = &set.encounter {
        flag["encounter"] = json!({"reference": e});
    }
    Some((task, flag))
}

/// The Flag of an alert, closed.
pub fn close_flag(flag: &mut Value, now_ms: i64) {
    flag["status"] = json!("inactive");
    flag["period"]["end"] = json!(now_text(now_ms));
}

/// Mark an open alert superseded by a higher band.
pub fn supersede(task: &mut Value, by: &str, now_ms: i64) {
    task["status"] = json!("cancelled");
    task["businessStatus"] = status_concept("superseded", "Superseded");
    let why = match trigger_of(task) {
        Some(Trigger::Pews(_)) => "higher PEWS level",
        _ => "higher NEWS2 band",
    };
    task["statusReason"] = json!({"text": format!("Superseded by Task/{by} ({why})")});
    task["lastModified"] = json!(now_text(now_ms));
    note(task, None, now_ms, format!("Superseded by Task/{by}"));
}

/// Escalate an unacknowledged alert to `level` on its band's ladder.
pub fn escalate(task: &mut Value, policy: &Policy, level: usize, now_ms: i64) -> bool {
    let Some(trigger) = trigger_of(task) else {
        return false;
    };
    let Some(role) = policy
        .trigger(trigger)
        .and_then(|b| b.ladder.get(level))
        .copied()
    else {
        return false;
    };
    if escalation_level(task) as usize >= level || Lifecycle::of(task) != Lifecycle::Raised {
        return false;
    }
    task["performerType"] = json!([role_concept(role)]);
    task["businessStatus"] = status_concept("escalated", "Escalated");
    task["lastModified"] = json!(now_text(now_ms));
    if let Some(a) = task["input"].as_array_mut() {
        a.retain(|i| i["type"]["coding"][0]["code"] != "escalation-level");
        a.push(json!({"type": ew("escalation-level"), "valueInteger": level}));
    }
    note(
        task,
        None,
        now_ms,
        format!(
            "Escalated to {}: not acknowledged by the deadline",
            role.display()
        ),
    );
    true
}

/// Acknowledge an alert: someone has seen it and owns it.
pub fn acknowledge(task: &mut Value, by: &str, now_ms: i64) -> Result<(), Error> {
    match Lifecycle::of(task) {
        Lifecycle::Raised => {}
        Lifecycle::Acknowledged | Lifecycle::Responded => {
            return Err(Error::Conflict("the alert is already acknowledged".into()))
        }
        _ => return Err(Error::Conflict("the alert is no longer open".into())),
    }
    task["status"] = json!("accepted");
    task["businessStatus"] = status_concept("acknowledged", "Acknowledged");
    task["owner"] = json!({"reference": by});
    task["executionPeriod"] = json!({"start": now_text(now_ms)});
    task["lastModified"] = json!(now_text(now_ms));
    note(task, Some(by), now_ms, "Acknowledged".into());
    Ok(())
}

/// Record what was done. An alert not yet acknowledged is acknowledged by the same person.
pub fn respond(
    task: &mut Value,
    action: Action,
    text: Option<&str>,
    by: &str,
    now_ms: i64,
) -> Result<(), Error> {
    if Lifecycle::of(task) == Lifecycle::Raised {
        acknowledge(task, by, now_ms)?;
    }
    if !Lifecycle::of(task).is_open() {
        return Err(Error::Conflict("the alert is no longer open".into()));
    }
    task["status"] = json!("in-progress");
    task["businessStatus"] = status_concept("responded", "Response recorded");
    task["lastModified"] = json!(now_text(now_ms));
    let mut value =
        json!({"coding": [{"system": EW, "code": action.code(), "display": action.display()}]});
    if let Some(t) = text.filter(|t| !t.trim().is_empty()) {
        value["text"] = json!(t);
    }
    let out = json!({"type": ew("response"), "valueCodeableConcept": value});
    match task["output"].as_array_mut() {
        Some(a) => a.push(out),
        None => task["output"] = json!([out]),
    }
    note(
        task,
        Some(by),
        now_ms,
        format!("Response: {}", action.display()),
    );
    Ok(())
}

/// Resolve an alert. A response must have been recorded first: nobody closes an alert
/// without saying what was done.
pub fn resolve(task: &mut Value, by: &str, text: Option<&str>, now_ms: i64) -> Result<(), Error> {
    match Lifecycle::of(task) {
        Lifecycle::Responded => {}
        Lifecycle::Raised | Lifecycle::Acknowledged => {
            return Err(Error::Conflict(
                "record the response before resolving the alert".into(),
            ))
        }
        _ => return Err(Error::Conflict("the alert is no longer open".into())),
    }
    task["status"] = json!("completed");
    task["businessStatus"] = status_concept("resolved", "Resolved");
    task["executionPeriod"]["end"] = json!(now_text(now_ms));
    task["lastModified"] = json!(now_text(now_ms));
    let msg = match text.filter(|t| !t.trim().is_empty()) {
        Some(t) => format!("Resolved: {t}"),
        None => "Resolved".into(),
    };
    note(task, Some(by), now_ms, msg);
    Ok(())
}

/// The view of an alert Task at `now_ms`.
pub fn view(task: &Value, policy: &Policy, now_ms: i64) -> Option<AlertView> {
    if !is_alert(task) {
        return None;
    }
    let trigger = trigger_of(task)?;
    let lifecycle = Lifecycle::of(task);
    let deadline = deadline_ms(task).unwrap_or(now_ms);
    let role_code = task["performerType"][0]["coding"][0]["code"]
        .as_str()
        .unwrap_or_default();
    let role = Role::parse(role_code);
    let text = |v: &Value| v.as_str().map(str::to_string);
    let responses = task["output"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| {
            let c = &o["valueCodeableConcept"];
            Some(Response {
                action: c["coding"][0]["code"].as_str()?.to_string(),
                display: c["coding"][0]["display"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                note: text(&c["text"]),
            })
        })
        .collect();
    let _ = policy;
    Some(AlertView {
        id: task["id"].as_str()?.to_string(),
        version: text(&task["meta"]["versionId"]),
        patient: text(&task["for"]["reference"])?,
        encounter: text(&task["encounter"]["reference"]),
        ward: text(&task["location"]["reference"]),
        band: trigger.level_code().to_string(),
        score_name: trigger.score_name().to_string(),
        open: lifecycle.is_open(),
        lifecycle,
        required_response: text(&task["description"]).unwrap_or_default(),
        role: role_code.to_string(),
        role_display: role.map(|r| r.display().to_string()).unwrap_or_default(),
        escalation_level: escalation_level(task),
        raised: text(&task["authoredOn"]).unwrap_or_default(),
        deadline: now_text(deadline),
        overdue: lifecycle == Lifecycle::Raised && now_ms >= deadline,
        ms_to_deadline: deadline - now_ms,
        acknowledged_by: text(&task["owner"]["reference"]),
        acknowledged_at: text(&task["executionPeriod"]["start"]),
        responses,
        resolved_at: if lifecycle == Lifecycle::Resolved {
            text(&task["executionPeriod"]["end"])
        } else {
            None
        },
        score: text(&task["focus"]["reference"]),
        timeline: task["note"].as_array().cloned().unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set() -> SetRef {
        SetRef {
            key: "panel:Observation/vs-1".into(),
            subject: "Patient/p1".into(),
            encounter: Some("Encounter/e1".into()),
            start_ms: 1_000_000,
            effective_ms: 1_000_000,
            members: vec!["Observation/vs-1".into()],
        }
    }

    #[test]
    fn lifecycle_from_raise_to_resolve() {
        let p = Policy::default();
        let (mut task, flag) =
            raise(&set(), Band::High, &p, Some("Location/w"), 1_000_000, None).unwrap();
        assert_eq!(flag["status"], "active");
        let v = view(&task, &p, 1_000_000).unwrap();
        assert_eq!(v.role, "rapid-response-team");
        assert_eq!(v.ms_to_deadline, 30 * 60_000);
        assert!(!v.overdue);
        assert!(view(&task, &p, 1_000_000 + 30 * 60_000).unwrap().overdue);
        assert!(resolve(&mut task, "Practitioner/x", None, 2_000_000).is_err());
        assert!(escalate(&mut task, &p, 1, 3_000_000));
        assert!(!escalate(&mut task, &p, 1, 3_000_000), "same level twice");
        assert_eq!(
            view(&task, &p, 3_000_000).unwrap().role,
            "critical-care-outreach"
        );
        acknowledge(&mut task, "Practitioner/x", 3_100_000).unwrap();
        assert!(acknowledge(&mut task, "Practitioner/x", 3_100_000).is_err());
        assert!(
            !escalate(&mut task, &p, 2, 9_000_000),
            "acknowledged alerts do not escalate"
        );
        respond(
            &mut task,
            Action::RapidResponseCall,
            Some("RRT attended"),
            "Practitioner/x",
            3_200_000,
        )
        .unwrap();
        resolve(&mut task, "Practitioner/x", Some("stable"), 3_300_000).unwrap();
        let v = view(&task, &p, 3_300_000).unwrap();
        assert!(!v.open);
        assert_eq!(v.responses.len(), 1);
        assert_eq!(v.acknowledged_by.as_deref(), Some("Practitioner/x"));
        assert_eq!(v.timeline.len(), 5);
    }

    #[test]
    fn a_pews_level_raises_an_alert_due_by_the_charts_review_time() {
        let p = Policy::default();
        let (task, flag) = raise_for(
            &set(),
            Trigger::Pews(rules::pews::Level::High),
            &p,
            None,
            1_000_000,
            None,
        )
        .unwrap();
        assert!(is_alert(&task));
        assert_eq!(flag["code"]["coding"][0]["code"], "pews-alert");
        let v = view(&task, &p, 1_000_000).unwrap();
        assert_eq!((v.score_name.as_str(), v.band.as_str()), ("PEWS", "high"));
        assert_eq!(v.ms_to_deadline, 15 * 60_000);
        assert!(v.required_response.contains("Rapid Review"));
        assert!(raise_for(
            &set(),
            Trigger::Pews(rules::pews::Level::Low),
            &p,
            None,
            0,
            None
        )
        .is_none());
    }

    #[test]
    fn low_bands_raise_nothing() {
        assert!(raise(&set(), Band::Low, &Policy::default(), None, 0, None).is_none());
    }
}
