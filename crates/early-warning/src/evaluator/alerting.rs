//! Deciding the alert of a patient's latest set: whether the set is the latest, whether the
//! patient is under watch (an in-progress encounter, a recent set), raising, superseding and
//! closing alerts.

use super::*;

impl Batch<'_> {
    /// Whether no vital-sign reading of the patient is newer than the set.
    pub(super) fn is_latest(&self, set: &SetRef) -> Result<bool, Error> {
        let codes: Vec<String> = observation::codes()
            .filter(|c| observation::kind_of(c).is_some_and(|k| k.is_vital_sign()))
            .map(|c| format!("{}|{c}", observation::LOINC))
            .collect();
        let mut codes = codes;
        codes.push(format!(
            "{}|{}",
            observation::EARLY_WARNING,
            observation::RESPIRATORY_DISTRESS
        ));
        let newer = self.ew.search(
            "Observation",
            &[
                ("subject", set.subject.clone()),
                ("code", codes.join(",")),
                // Readings are often charted to the second, and a `gt` search matches any
                // overlap of precisions: "newer" starts after the set's whole second.
                (
                    "date",
                    format!("gt{}", search::format_instant(set.effective_ms + 999)),
                ),
                ("_count", "1".into()),
            ],
        )?;
        Ok(newer.is_empty())
    }

    /// Whether a set may raise an alert: taken within the recency window, of a patient in
    /// an in-progress inpatient, emergency or observation encounter (someone is there to
    /// answer). Other sets are scored for the chart only.
    pub(super) fn under_watch(&self, set: &SetRef) -> Result<bool, Error> {
        if self.now - set.effective_ms > self.ew.config.alert_recency_ms {
            return Ok(false);
        }
        let encounters = self.ew.search(
            "Encounter",
            &[
                ("subject", set.subject.clone()),
                ("status", "in-progress".into()),
            ],
        )?;
        Ok(encounters.iter().any(codes::is_watched_encounter))
    }

    pub(super) fn open_alert(&mut self, subject: &str) -> Result<Option<(Value, Trigger)>, Error> {
        if let Some(a) = self.open_alerts.get(subject) {
            return Ok(a.clone());
        }
        let found = self.ew.search(
            "Task",
            &[
                ("code", codes::alert_task_tokens()),
                ("patient", subject.to_string()),
                ("status", "requested,accepted,in-progress".into()),
                ("_sort", "-authored-on".into()),
                ("_count", "10".into()),
            ],
        )?;
        let open = found
            .into_iter()
            .filter_map(|t| alert::trigger_of(&t).map(|b| (t, b)))
            .max_by_key(|(_, b)| b.urgency());
        self.open_alerts.insert(subject.to_string(), open.clone());
        Ok(open)
    }

    /// The latest set's band (or a child's PEWS level) decides: no open alert → raise; an
    /// open alert of a lower band → supersede it; an open alert of the same or a higher band
    /// → keep it. An open alert of the other score (a child's PEWS alert when the patient
    /// has turned 16) is superseded: the patient's score has changed.
    pub(super) fn decide_alert(&mut self, set: &SetRef, trigger: Trigger) -> Result<(), Error> {
        let policy = &self.ew.config.policy;
        let open = self.open_alert(&set.subject)?;
        if let Some((_, open_trigger)) = &open {
            if open_trigger.score_code() == trigger.score_code()
                && open_trigger.urgency() >= trigger.urgency()
            {
                return Ok(());
            }
        }
        let ward = set.encounter.as_deref().and_then(|e| self.ew.ward_of(e));
        let supersedes = open
            .as_ref()
            .and_then(|(t, _)| t["id"].as_str().map(str::to_string));
        let Some((task, flag)) = alert::raise_for(
            set,
            trigger,
            policy,
            ward.as_deref(),
            self.now,
            supersedes.as_deref(),
        ) else {
            return Ok(());
        };
        let id = task["id"].as_str().unwrap_or_default().to_string();
        if self.ew.read("Task", &id)?.is_some() {
            // This set already raised this band once (and it was answered): not again.
            return Ok(());
        }
        if let Some((mut old, _)) = open {
            let old_id = old["id"].as_str().unwrap_or_default().to_string();
            let version = old["meta"]["versionId"].as_str().map(str::to_string);
            alert::supersede(&mut old, &id, self.now);
            self.out.insert(format!("Task/{old_id}"), (old, version));
            if let Some(mut f) = self.ew.read("Flag", &old_id)? {
                alert::close_flag(&mut f, self.now);
                self.out.insert(format!("Flag/{old_id}"), (f, None));
            }
        }
        self.open_alerts
            .insert(set.subject.clone(), Some((task.clone(), trigger)));
        self.out.insert(format!("Task/{id}"), (task, None));
        self.out.insert(format!("Flag/{id}"), (flag, None));
        Ok(())
    }
}
