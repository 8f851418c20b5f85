//! What a navigator records, as the signed-in person with their own access (the store
//! decides; the actor is never a request field): a contact with the patient
//! (Communication), a milestone marked done (an update of its Task) or that entry withdrawn,
//! and an assignment or hand-over to a navigator (a Task the service turns into the
//! navigation CareTeam).

use std::time::Duration;

use chrono::{DateTime, FixedOffset};
use serde_json::{json, Value};
use store::{Access, Entry, Mode, WriteOp};

use crate::codes;
use crate::service::Navigation;
use crate::shape::{self, time};
use crate::Error;

/// A contact to record.
#[derive(Debug, Clone)]
pub struct NewContact {
    pub patient: String,
    /// A code of [`codes::CHANNELS`].
    pub channel: String,
    /// A code of [`codes::OUTCOMES`].
    pub outcome: String,
    pub note: String,
    pub at: DateTime<FixedOffset>,
}

impl Navigation {
    pub(crate) fn write_as(&self, access: &Access, entry: Entry) -> Result<(), Error> {
        for r in self.store.write(access, vec![entry], Mode::Atomic)? {
            r?;
        }
        // The worklist and timeline follow within the consumer's next step (when it runs).
        if self.running() {
            let latest = self.store.commits().latest();
            self.wait_processed(latest, Duration::from_secs(3));
        }
        Ok(())
    }

    /// Create `resource` (with its `id`) as the caller.
    pub(crate) fn create_as(
        &self,
        access: &Access,
        id: String,
        resource: Value,
    ) -> Result<(), Error> {
        self.write_as(
            access,
            Entry {
                full_url: None,
                op: WriteOp::Create {
                    resource,
                    id,
                    if_none_exist: None,
                },
            },
        )
    }

    /// A milestone Task as the caller reads it, with its version; `missing` is the error when
    /// there is none.
    fn milestone_task(
        &self,
        access: &Access,
        id: &str,
        missing: Error,
    ) -> Result<(Value, i64), Error> {
        let v = self
            .store
            .read(access, "Task", id)?
            .filter(|v| v.op != store::Op::Delete)
            .ok_or(missing)?;
        let t = serde_json::from_str(v.body.as_deref().unwrap_or("{}"))
            .map_err(|e| Error::Invalid(e.to_string()))?;
        Ok((t, v.version))
    }

    /// Write a milestone Task back as the caller, at the version it was read.
    fn update_task(
        &self,
        access: &Access,
        id: String,
        mut t: Value,
        version: i64,
    ) -> Result<(), Error> {
        if let Some(m) = t.get_mut("meta").and_then(Value::as_object_mut) {
            m.remove("versionId");
            m.remove("lastUpdated");
        }
        self.write_as(
            access,
            Entry {
                full_url: None,
                op: WriteOp::Update {
                    rtype: "Task".into(),
                    id,
                    resource: t,
                    if_match: Some(version.to_string()),
                },
            },
        )
    }

    /// Record a contact (Communication) as `by` (`Practitioner/ID`) with `access`.
    pub fn record_contact(&self, access: &Access, by: &str, c: &NewContact) -> Result<(), Error> {
        let channel = codes::CHANNELS
            .iter()
            .find(|x| x.0 == c.channel)
            .ok_or_else(|| Error::Invalid("Choose how you contacted the patient.".into()))?;
        let outcome = codes::OUTCOMES
            .iter()
            .find(|x| x.0 == c.outcome)
            .ok_or_else(|| Error::Invalid("Choose what happened.".into()))?;
        let mut about = Vec::new();
        if let Some(case) = self.case(&c.patient) {
            about = case
                .episodes
                .iter()
                .map(|e| json!({"reference": format!("EpisodeOfCare/{}", e.id)}))
                .collect();
        }
        let id = uuid::Uuid::new_v4().to_string();
        let mut r = json!({
            "resourceType": "Communication",
            "id": id,
            "extension": [{"url": codes::OUTCOME_EXT, "valueCodeableConcept": {"coding": [{"system": codes::OUTCOME, "code": outcome.0, "display": outcome.1}]}}],
            "status": "completed",
            "category": [{"coding": [{"system": codes::NAVIGATION, "code": codes::CONTACT, "display": "Navigator contact"}]}],
            "medium": [{"coding": [{"system": codes::MODE, "code": channel.1, "display": channel.2}]}],
            "subject": {"reference": format!("Patient/{}", c.patient)},
            "sent": time(c.at),
            "recipient": [{"reference": format!("Patient/{}", c.patient)}],
            "sender": {"reference": by},
        });
        if !about.is_empty() {
            r["about"] = Value::Array(about);
        }
        let note = c.note.trim();
        if !note.is_empty() {
            r["payload"] = json!([{"contentString": note}]);
        }
        self.create_as(access, id, r)
    }

    /// Mark a milestone done by hand (when it happened, and why), updating its Task.
    #[allow(clippy::too_many_arguments)]
    pub fn complete_milestone(
        &self,
        access: &Access,
        by: &str,
        patient: &str,
        pathway: &str,
        milestone: &str,
        at: DateTime<FixedOffset>,
        note: &str,
    ) -> Result<(), Error> {
        let pw = self
            .pathways()
            .pathway(pathway)
            .ok_or_else(|| Error::NotFound(format!("pathway {pathway}")))?;
        let m = pw
            .milestone(milestone)
            .ok_or_else(|| Error::NotFound(format!("milestone {milestone}")))?;
        if !m.manual {
            return Err(Error::Invalid(format!(
                "'{}' comes from the record only.",
                m.name
            )));
        }
        if at > self.now() {
            return Err(Error::Invalid("The date cannot be in the future.".into()));
        }
        let id = shape::milestone_id(patient, pathway, milestone);
        let (mut t, version) = self.milestone_task(
            access,
            &id,
            Error::NotFound("This step is not on the patient's pathway yet.".into()),
        )?;
        let mut outputs: Vec<Value> = t["output"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|o| {
                let c = &o["type"]["coding"][0]["code"];
                c != codes::ENTRY && c != codes::ENTRY_BY
            })
            .collect();
        outputs.push(json!({"type": {"coding": [{"system": codes::NAVIGATION, "code": codes::ENTRY}]}, "valueDateTime": time(at)}));
        outputs.push(json!({"type": {"coding": [{"system": codes::NAVIGATION, "code": codes::ENTRY_BY}]}, "valueReference": {"reference": by}}));
        t["output"] = Value::Array(outputs);
        t["status"] = json!("completed");
        t["businessStatus"] =
            json!({"coding": [{"system": codes::MILESTONE_STATUS, "code": "done"}]});
        let mut notes = t["note"].as_array().cloned().unwrap_or_default();
        let text = note.trim();
        notes.push(json!({
            "authorReference": {"reference": by},
            "time": time(self.now()),
            "text": if text.is_empty() { format!("Marked done ({})", at.format("%-d %b %Y")) } else { text.to_string() },
        }));
        t["note"] = Value::Array(notes);
        self.update_task(access, id, t, version)
    }

    /// Withdraw a navigator's entry on a milestone (marked done by mistake), with the reason:
    /// the entry leaves the Task and a note says what was withdrawn, when, by whom and why
    /// (the Task's history keeps the entry itself); the step goes back to what the record
    /// says, and its clocks with it.
    #[allow(clippy::too_many_arguments)]
    pub fn withdraw_milestone(
        &self,
        access: &Access,
        by: &str,
        patient: &str,
        pathway: &str,
        milestone: &str,
        reason: &str,
    ) -> Result<(), Error> {
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(Error::Invalid("Say why the step is withdrawn.".into()));
        }
        let id = shape::milestone_id(patient, pathway, milestone);
        let (mut t, version) = self.milestone_task(
            access,
            &id,
            Error::Invalid("Choose a step marked done by hand.".into()),
        )?;
        let outputs: Vec<Value> = t["output"].as_array().cloned().unwrap_or_default();
        let code = |o: &Value| o["type"]["coding"][0]["code"].as_str().map(str::to_string);
        let entry = outputs
            .iter()
            .find(|o| code(o).as_deref() == Some(codes::ENTRY))
            .and_then(|o| o["valueDateTime"].as_str())
            .map(str::to_string)
            .ok_or_else(|| Error::Invalid("This step was not marked done by hand.".into()))?;
        let kept: Vec<Value> = outputs
            .into_iter()
            .filter(|o| {
                !matches!(
                    code(o).as_deref(),
                    Some(
                        codes::ENTRY | codes::ENTRY_BY | codes::COMPLETED_AT | codes::COMPLETED_BY
                    )
                )
            })
            .collect();
        if kept.is_empty() {
            if let Some(o) = t.as_object_mut() {
                o.remove("output");
            }
        } else {
            t["output"] = Value::Array(kept);
        }
        if let Some(o) = t.as_object_mut() {
            o.remove("executionPeriod");
        }
        t["status"] = json!("requested");
        t["businessStatus"] =
            json!({"coding": [{"system": codes::MILESTONE_STATUS, "code": "pending"}]});
        let mut notes = t["note"].as_array().cloned().unwrap_or_default();
        notes.push(json!({
            "extension": [{"url": codes::WITHDRAWN_EXT, "valueDateTime": entry}],
            "authorReference": {"reference": by},
            "time": time(self.now()),
            "text": reason.chars().take(500).collect::<String>(),
        }));
        t["note"] = Value::Array(notes);
        self.update_task(access, id, t, version)
    }

    /// Record a clock adjustment the pathway file allows (a pause, or a restart after a
    /// missed first appointment), with its reason: a Task the service reads as an
    /// [`pathways::Adjustment`]; one the rules do not allow is kept and shown as not applied.
    #[allow(clippy::too_many_arguments)]
    pub fn record_adjustment(
        &self,
        access: &Access,
        by: &str,
        patient: &str,
        pathway: &str,
        rule: &str,
        from: DateTime<FixedOffset>,
        until: Option<DateTime<FixedOffset>>,
        reason: &str,
    ) -> Result<(), Error> {
        let pw = self
            .pathways()
            .pathway(pathway)
            .ok_or_else(|| Error::Invalid("Choose the adjustment.".into()))?;
        let r = pw
            .adjustment(rule)
            .ok_or_else(|| Error::Invalid("Choose the adjustment.".into()))?;
        if reason.trim().is_empty() {
            return Err(Error::Invalid("Say why the clock is adjusted.".into()));
        }
        if until.is_some_and(|u| u <= from) {
            return Err(Error::Invalid("The pause must end after it starts.".into()));
        }
        let id = uuid::Uuid::new_v4().to_string();
        let mut period = json!({"start": time(from)});
        if let Some(u) = until {
            period["end"] = json!(time(u));
        }
        let t = json!({
            "resourceType": "Task",
            "id": id,
            "status": "completed",
            "intent": "order",
            "code": {"coding": [{"system": codes::NAVIGATION, "code": codes::ADJUST, "display": "Waiting-time adjustment"}], "text": r.name},
            "for": {"reference": format!("Patient/{patient}")},
            "authoredOn": time(self.now()),
            "requester": {"reference": by},
            "reasonCode": {"text": reason.trim()},
            "executionPeriod": period,
            "input": [
                {"type": {"text": "pathway"}, "valueString": pathway},
                {"type": {"text": "rule"}, "valueString": rule},
            ],
        });
        self.create_as(access, id, t)
    }

    /// Assign the patient to a navigator of the team (or hand them over).
    pub fn assign(
        &self,
        access: &Access,
        by: &str,
        patient: &str,
        navigator: &str,
        note: &str,
    ) -> Result<(), Error> {
        if !self.team().iter().any(|(p, _)| p == navigator) {
            return Err(Error::Invalid("Choose a navigator from the team.".into()));
        }
        let id = uuid::Uuid::new_v4().to_string();
        let mut t = json!({
            "resourceType": "Task",
            "id": id,
            "status": "completed",
            "intent": "order",
            "code": {"coding": [{"system": codes::NAVIGATION, "code": codes::ASSIGN, "display": "Assign a patient navigator"}]},
            "for": {"reference": format!("Patient/{patient}")},
            "authoredOn": time(self.now()),
            "requester": {"reference": by},
            "owner": {"reference": navigator},
        });
        if !note.trim().is_empty() {
            t["note"] = json!([{"authorReference": {"reference": by}, "text": note.trim()}]);
        }
        self.create_as(access, id, t)
    }
}
