//! The pathway state as FHIR, written by the service (ids from [`fhir::stable_id`], so a
//! re-run rewrites the same resources and writes nothing when nothing changed):
//!
//! - **EpisodeOfCare** `nav-episode-…` per patient and pathway: `status` active or finished
//!   (ended, e.g. cancer ruled out, or every clock closed and no step left); `type` the
//!   pathway (`…/CodeSystem/pathway`, code = file id); `period` from the entry event to the
//!   end; `careManager` the assigned navigator; `team` the navigation CareTeam;
//!   `referralRequest` the referrals; extension `tumour-site` (valueString) and one
//!   `pathway-clock` extension per clock with sub-extensions `clock` (code), `name`, `link`,
//!   `status` (not-started, not-applicable, running, paused, met, breached, ended), `start`,
//!   `stop`, `deadline` (the first moment in breach), `target` (integer, in `unit`), `unit`,
//!   and for open clocks `risk` (on-track, at-risk, breached, paused) and `reason` (words).
//! - **Task** `nav-milestone-…` per milestone still needed or done: `identifier`
//!   `{pathway}#{milestone}`; `basedOn` the EpisodeOfCare; `code` navigation `milestone`;
//!   `status` completed / requested (pending or overdue) with `businessStatus` done, pending
//!   or overdue; `focus` the evidence resource; `executionPeriod.end` when it was done;
//!   `restriction.period.end` the due time; `output` `completed-at` (dateTime) and
//!   `completed-by` (Reference), and the navigator's own `navigator-entry` (dateTime) and
//!   `navigator-entry-by` when a navigator marked it done (kept across rewrites, with `note`).
//! - **CareTeam** `nav-team-…` per patient: the assigned navigator (the care relationship
//!   through which the navigator reaches the patient), active while an episode is.

use chrono::{DateTime, FixedOffset, SecondsFormat};
use pathways::{
    ClockState, ClockStatus, Evaluation, MilestoneState, MilestoneStatus, Pathway, Unit,
};
use serde_json::{json, Value};

use crate::codes;
use crate::predict::Prediction;

pub fn episode_id(patient: &str, pathway: &str) -> String {
    fhir::stable_id("nav-episode", &format!("{patient}#{pathway}"))
}

pub fn milestone_id(patient: &str, pathway: &str, milestone: &str) -> String {
    fhir::stable_id("nav-milestone", &format!("{patient}#{pathway}#{milestone}"))
}

pub fn team_id(patient: &str) -> String {
    fhir::stable_id("nav-team", patient)
}

pub(crate) fn time(t: DateTime<FixedOffset>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, false)
}

fn meta() -> Value {
    json!({"tag": [{"system": codes::TAGS, "code": codes::TAG}]})
}

fn status_code(s: ClockStatus) -> &'static str {
    match s {
        ClockStatus::NotStarted => "not-started",
        ClockStatus::NotApplicable => "not-applicable",
        ClockStatus::Running => "running",
        ClockStatus::Paused => "paused",
        ClockStatus::Met => "met",
        ClockStatus::Breached => "breached",
        ClockStatus::Ended => "ended",
    }
}

fn clock_ext(c: &ClockState, p: Option<&Prediction>) -> Value {
    let mut ext = vec![
        json!({"url": "clock", "valueCode": c.clock}),
        json!({"url": "name", "valueString": c.name}),
        json!({"url": "status", "valueCode": status_code(c.status)}),
        json!({"url": "target", "valueInteger": c.target}),
        json!({"url": "unit", "valueCode": if c.unit == Unit::Days { "d" } else { "min" }}),
    ];
    if let Some(l) = &c.link {
        ext.push(json!({"url": "link", "valueString": l}));
    }
    for (url, t) in [
        ("start", c.start),
        ("stop", c.stop),
        ("deadline", c.deadline),
    ] {
        if let Some(t) = t {
            ext.push(json!({"url": url, "valueDateTime": time(t)}));
        }
    }
    if let Some(p) = p {
        ext.push(json!({"url": "risk", "valueCode": p.risk.code()}));
        ext.push(json!({"url": "reason", "valueString": p.reason}));
    }
    json!({"url": codes::CLOCK_EXT, "extension": ext})
}

/// What the episode resource needs besides the evaluation.
pub(crate) struct EpisodeFacts<'a> {
    pub patient: &'a str,
    pub site: Option<&'a str>,
    pub navigator: Option<&'a str>,
    pub referrals: &'a [String],
    pub active: bool,
    pub start: Option<DateTime<FixedOffset>>,
    pub end: Option<DateTime<FixedOffset>>,
}

/// The EpisodeOfCare of one patient's pathway.
pub(crate) fn episode(
    p: &Pathway,
    ev: &Evaluation,
    preds: &[Prediction],
    f: &EpisodeFacts<'_>,
) -> Value {
    let mut ext = Vec::new();
    if let Some(s) = f.site {
        ext.push(json!({"url": codes::SITE_EXT, "valueString": s}));
    }
    for c in &ev.clocks {
        let pred = preds
            .iter()
            .find(|x| x.clock == c.clock && x.link == c.link);
        ext.push(clock_ext(c, pred));
    }
    let mut e = json!({
        "resourceType": "EpisodeOfCare",
        "id": episode_id(f.patient, &p.id),
        "meta": meta(),
        "extension": ext,
        "identifier": [{"system": codes::EPISODE_ID, "value": format!("{}#{}", f.patient, p.id)}],
        "status": if f.active { "active" } else { "finished" },
        "type": [{"coding": [{"system": codes::PATHWAY, "code": p.id, "display": p.title}], "text": p.title}],
        "patient": {"reference": format!("Patient/{}", f.patient)},
    });
    let mut period = serde_json::Map::new();
    if let Some(s) = f.start {
        period.insert("start".into(), json!(time(s)));
    }
    if let Some(s) = f.end.filter(|_| !f.active) {
        period.insert("end".into(), json!(time(s)));
    }
    if !period.is_empty() {
        e["period"] = Value::Object(period);
    }
    if !f.referrals.is_empty() {
        e["referralRequest"] = f
            .referrals
            .iter()
            .map(|r| json!({"reference": r}))
            .collect();
    }
    if let Some(n) = f.navigator {
        e["careManager"] = json!({"reference": n});
        e["team"] = json!([{"reference": format!("CareTeam/{}", team_id(f.patient))}]);
    }
    e
}

fn output(code: &str, value: (&str, Value)) -> Value {
    let mut o = json!({"type": {"coding": [{"system": codes::NAVIGATION, "code": code}]}});
    o[value.0] = value.1;
    o
}

fn is_output(o: &Value, code: &str) -> bool {
    o["type"]["coding"][0]["system"] == codes::NAVIGATION && o["type"]["coding"][0]["code"] == code
}

/// The Task of one milestone; a navigator's entry and notes on `stored` are kept.
pub(crate) fn milestone_task(
    patient: &str,
    p: &Pathway,
    m: &MilestoneState,
    stored: Option<&Value>,
) -> Value {
    let (status, business) = match m.status {
        MilestoneStatus::Done => ("completed", "done"),
        MilestoneStatus::Overdue => ("requested", "overdue"),
        MilestoneStatus::Pending => ("requested", "pending"),
        MilestoneStatus::NotNeeded => ("cancelled", "not-needed"),
    };
    let mut t = json!({
        "resourceType": "Task",
        "id": milestone_id(patient, &p.id, &m.id),
        "meta": meta(),
        "identifier": [{"system": codes::MILESTONE_ID, "value": format!("{}#{}", p.id, m.id)}],
        "basedOn": [{"reference": format!("EpisodeOfCare/{}", episode_id(patient, &p.id))}],
        "status": status,
        "businessStatus": {"coding": [{"system": codes::MILESTONE_STATUS, "code": business}]},
        "intent": "plan",
        "code": {"coding": [{"system": codes::NAVIGATION, "code": codes::MILESTONE}], "text": m.name},
        "description": m.name,
        "for": {"reference": format!("Patient/{patient}")},
    });
    let first = m.done.first();
    if let Some(c) = first {
        if let Some(src) = c.source.as_ref().filter(|_| !c.manual) {
            t["focus"] = json!({"reference": src});
        }
        t["executionPeriod"] = json!({"end": time(c.at)});
    }
    if let Some(d) = m.deadline {
        t["restriction"] = json!({"period": {"end": time(d)}});
    }
    let mut outputs = Vec::new();
    if let Some(c) = first {
        outputs.push(output(
            codes::COMPLETED_AT,
            ("valueDateTime", json!(time(c.at))),
        ));
        if let Some(by) = c.recorded_by.as_ref().filter(|b| b.contains('/')) {
            outputs.push(output(
                codes::COMPLETED_BY,
                ("valueReference", json!({"reference": by})),
            ));
        }
    }
    if let Some(s) = stored {
        for o in s["output"].as_array().into_iter().flatten() {
            if is_output(o, codes::ENTRY) || is_output(o, codes::ENTRY_BY) {
                outputs.push(o.clone());
            }
        }
        if let Some(n) = s.get("note") {
            t["note"] = n.clone();
        }
    }
    if !outputs.is_empty() {
        t["output"] = Value::Array(outputs);
    }
    t
}

/// The navigation care team: the assigned navigator.
pub(crate) fn care_team(patient: &str, navigator: &str, active: bool) -> Value {
    json!({
        "resourceType": "CareTeam",
        "id": team_id(patient),
        "meta": meta(),
        "status": if active { "active" } else { "inactive" },
        "category": [{"coding": [{"system": codes::NAVIGATION, "code": codes::TEAM, "display": "Cancer pathway navigation"}]}],
        "name": "Pathway navigation",
        "subject": {"reference": format!("Patient/{patient}")},
        "participant": [{"role": [{"text": "Patient navigator"}], "member": {"reference": navigator}}],
    })
}

/// A stored resource as the service compares it: without the store's version and time.
pub(crate) fn comparable(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(m) = v.get_mut("meta").and_then(Value::as_object_mut) {
        m.remove("versionId");
        m.remove("lastUpdated");
    }
    v
}
