//! Alert actions: escalation past the deadline, the alert views, acknowledge, respond and
//! resolve (the actor is given by the caller, always a Practitioner or PractitionerRole).

use super::*;

impl EarlyWarning {
    /// Escalate every open, unacknowledged alert past its deadline; returns how many.
    pub fn escalate_due(&self) -> Result<usize, Error> {
        let now = self.clock.now_ms();
        let open = self.search(
            "Task",
            &[
                ("code", codes::alert_task_tokens()),
                ("status", "requested".into()),
            ],
        )?;
        let policy = &self.config.policy;
        let mut entries = Vec::new();
        for mut task in open {
            let (Some(trigger), Some(deadline)) =
                (alert::trigger_of(&task), alert::deadline_ms(&task))
            else {
                continue;
            };
            let level = policy.escalation_level_of(trigger, deadline, now);
            if level > alert::escalation_level(&task) as usize {
                let version = task["meta"]["versionId"].as_str().map(str::to_string);
                if alert::escalate(&mut task, policy, level, now) {
                    entries.extend(put(task, version));
                }
            }
        }
        let n = entries.len();
        if n > 0 {
            for r in self
                .store
                .write(&store::Access::system(), entries, Mode::Independent)?
            {
                if let Err(e) = r {
                    tracing::warn!(error = %e, "escalation write refused");
                }
            }
            tracing::info!(alerts = n, "alerts escalated");
        }
        Ok(n)
    }

    /// One alert, as the API shows it.
    pub fn alert(&self, id: &str) -> Result<AlertView, Error> {
        let task = self
            .read("Task", id)?
            .filter(alert::is_alert)
            .ok_or_else(|| Error::NotFound(format!("alert {id}")))?;
        alert::view(&task, &self.config.policy, self.clock.now_ms())
            .ok_or_else(|| Error::NotFound(format!("alert {id}")))
    }

    /// Alerts, newest first: open ones only unless `all`; filtered by ward and patient.
    pub fn alerts(
        &self,
        ward: Option<&str>,
        patient: Option<&str>,
        all: bool,
    ) -> Result<Vec<AlertView>, Error> {
        let mut params = vec![
            ("code", codes::alert_task_tokens()),
            ("_sort", "-authored-on".into()),
        ];
        if !all {
            params.push(("status", "requested,accepted,in-progress".into()));
        }
        if let Some(p) = patient {
            params.push(("patient", p.to_string()));
        }
        let now = self.clock.now_ms();
        let mut out: Vec<AlertView> = self
            .search("Task", &params)?
            .iter()
            .filter_map(|t| alert::view(t, &self.config.policy, now))
            .filter(|v| ward.is_none_or(|w| v.ward.as_deref() == Some(w)))
            .collect();
        out.sort_by(crate::ranking::most_urgent_alert_first);
        Ok(out)
    }

    pub(super) fn change_alert(
        &self,
        id: &str,
        f: impl Fn(&mut Value, i64) -> Result<(), Error>,
    ) -> Result<AlertView, Error> {
        for _attempt in 0..3 {
            let mut task = self
                .read("Task", id)?
                .filter(alert::is_alert)
                .ok_or_else(|| Error::NotFound(format!("alert {id}")))?;
            let now = self.clock.now_ms();
            let version = task["meta"]["versionId"].as_str().map(str::to_string);
            f(&mut task, now)?;
            let mut entries: Vec<Entry> = put(task.clone(), version).into_iter().collect();
            if !Lifecycle::is_open(Lifecycle::of(&task)) {
                if let Some(mut flag) = self.read("Flag", id)? {
                    if flag["status"] == "active" {
                        alert::close_flag(&mut flag, now);
                        entries.extend(put(flag, None));
                    }
                }
            }
            match self
                .store
                .write(&store::Access::system(), entries, Mode::Atomic)
            {
                Ok(_) => return self.alert(id),
                Err(store::StoreError::VersionConflict { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::Conflict(
            "the alert changed while it was being updated; try again".into(),
        ))
    }

    /// Acknowledge an alert as `by` (a Practitioner reference).
    pub fn acknowledge(&self, id: &str, by: &str) -> Result<AlertView, Error> {
        check_actor(by)?;
        self.change_alert(id, |t, now| alert::acknowledge(t, by, now))
    }

    /// Record the response to an alert.
    pub fn respond(
        &self,
        id: &str,
        action: &str,
        note: Option<&str>,
        by: &str,
    ) -> Result<AlertView, Error> {
        check_actor(by)?;
        let action = Action::parse(action).ok_or_else(|| {
            Error::Invalid(format!(
                "unknown response '{action}': use one of {}",
                Action::ALL.map(|a| a.code()).join(", ")
            ))
        })?;
        self.change_alert(id, |t, now| alert::respond(t, action, note, by, now))
    }

    /// Resolve an alert (a response must be recorded first).
    pub fn resolve(&self, id: &str, note: Option<&str>, by: &str) -> Result<AlertView, Error> {
        check_actor(by)?;
        self.change_alert(id, |t, now| alert::resolve(t, by, note, now))
    }
}

pub(super) fn check_actor(by: &str) -> Result<(), Error> {
    let ok = by
        .split_once('/')
        .is_some_and(|(t, id)| matches!(t, "Practitioner" | "PractitionerRole") && !id.is_empty());
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid(
            "who acted must be a Practitioner or PractitionerRole reference".into(),
        ))
    }
}
