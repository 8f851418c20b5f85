//! A batch of the change log: which sets its readings make (panels, loose readings joining
//! a set within the window), the Flags that follow closed alert Tasks, retiring superseded
//! loose sets.

use super::*;

impl<'a> Batch<'a> {
    pub(super) fn new(ew: &'a EarlyWarning, log: &'a [Version]) -> Batch<'a> {
        let mut fresh = HashMap::new();
        let mut created = HashSet::new();
        for v in log.iter().filter(|v| v.rtype == "Observation") {
            let key = format!("Observation/{}", v.id);
            if v.version == 1 {
                created.insert(key.clone());
            }
            match body(v) {
                Some(b) => {
                    fresh.insert(key, Arc::new(b));
                }
                None => {
                    fresh.remove(&key);
                }
            }
        }
        Batch {
            ew,
            log,
            now: ew.clock.now_ms(),
            fresh,
            out: BTreeMap::new(),
            open_alerts: HashMap::new(),
            created,
            fresh_sets: HashSet::new(),
        }
    }

    pub(super) fn evaluate(&mut self) -> Result<Vec<Entry>, Error> {
        let ew = self.ew;
        // Panels in this batch claim their members.
        let mut claimed: HashSet<String> = HashSet::new();
        let mut plans: Vec<Plan> = Vec::new();
        let mut planned: HashSet<String> = HashSet::new();
        let mut loose: Vec<Loose> = Vec::new();
        // Patients whose latest set is scored again: a lab arrived (SIRS), or their record
        // changed (a corrected birth date can make a child of an adult, or the reverse).
        let mut lab_patients: Vec<String> = Vec::new();
        let mut seen_obs: HashSet<&str> = HashSet::new();
        for v in self.log.iter().rev() {
            if v.rtype != "Observation" || !seen_obs.insert(&v.id) {
                continue;
            }
            let Some(b) = self.fresh.get(&format!("Observation/{}", v.id)) else {
                continue;
            };
            if codes::is_derived(b) {
                continue;
            }
            let p = observation::read(b);
            if p.is_panel {
                claimed.extend(p.members.iter().cloned());
            }
        }
        let mut done_obs: HashSet<&str> = HashSet::new();
        for v in self.log {
            match v.rtype.as_str() {
                "Encounter" => ew.forget_encounter(&format!("Encounter/{}", v.id)),
                "Patient" => {
                    let subject = format!("Patient/{}", v.id);
                    ew.forget_patient(&subject);
                    if v.version > 1 {
                        lab_patients.push(subject);
                    }
                }
                "Goal" => {
                    let subject = body(v)
                        .and_then(|g| g["subject"]["reference"].as_str().map(str::to_string));
                    ew.forget_goals(subject.as_deref());
                }
                "Task" => self.sync_flag(v)?,
                "Observation" => {
                    if !done_obs.insert(&v.id) {
                        continue;
                    }
                    let reference = format!("Observation/{}", v.id);
                    let Some(b) = self.fresh.get(&reference).cloned() else {
                        // Deleted: re-score the sets it was part of.
                        for p in self.sets_containing(&reference)? {
                            if planned.insert(p.key.clone()) {
                                plans.push(p);
                            }
                        }
                        continue;
                    };
                    if codes::is_derived(&b) {
                        continue;
                    }
                    let parsed = observation::read(&b);
                    let Some(subject) = parsed.subject.clone() else {
                        continue;
                    };
                    if !subject.starts_with("Patient/") {
                        continue;
                    }
                    if parsed.is_panel {
                        // The panel's set replaces any loose sets its members were in.
                        for m in &parsed.members {
                            // Members created in this batch were claimed before any
                            // loose set could take them.
                            if self.created.contains(m) {
                                continue;
                            }
                            for old in self.sets_containing(m)? {
                                if old.key.starts_with("loose:") {
                                    self.retire(&old);
                                }
                            }
                        }
                        let mut members = vec![reference.clone()];
                        members.extend(parsed.members.iter().cloned());
                        let key = format!("panel:{reference}");
                        if planned.insert(key.clone()) {
                            plans.push(Plan {
                                key,
                                subject,
                                encounter: parsed.encounter.clone(),
                                anchor_ms: None,
                                members,
                                source: b["meta"]["source"].as_str().map(str::to_string),
                                new: v.version == 1,
                            });
                        }
                        continue;
                    }
                    let vital = parsed.readings.iter().any(|(k, _)| k.is_vital_sign());
                    let lab = parsed.readings.iter().any(|(k, _)| !k.is_vital_sign());
                    if lab {
                        if let Ok(mut m) = ew.no_labs.lock() {
                            m.remove(&subject);
                        }
                        lab_patients.push(subject.clone());
                    }
                    if !vital || claimed.contains(&reference) {
                        continue;
                    }
                    let containing = self.sets_containing(&reference)?;
                    if !containing.is_empty() {
                        for p in containing {
                            if planned.insert(p.key.clone()) {
                                plans.push(p);
                            }
                        }
                        continue;
                    }
                    if self.in_a_stored_panel(&reference)? {
                        continue;
                    }
                    let Some(t) = parsed.effective.as_deref().and_then(ms) else {
                        continue;
                    };
                    loose.push((
                        subject,
                        t,
                        reference,
                        parsed.encounter.clone(),
                        b["meta"]["source"].as_str().map(str::to_string),
                    ));
                }
                _ => {}
            }
        }
        // Readings posted one by one, per patient in time order.
        loose.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        let window = ew.config.window.readings_ms;
        for (subject, t, reference, encounter, source) in loose {
            let in_batch = plans.iter_mut().find(|p| {
                p.subject == subject && p.anchor_ms.is_some_and(|a| a <= t && t - a <= window)
            });
            if let Some(p) = in_batch {
                if !p.members.contains(&reference) {
                    p.members.push(reference);
                }
                continue;
            }
            if let Some(mut p) = self.stored_loose_set(&subject, t)? {
                p.members.push(reference);
                planned.insert(p.key.clone());
                plans.push(p);
                continue;
            }
            let key = format!("loose:{subject}:{t}");
            planned.insert(key.clone());
            plans.push(Plan {
                key,
                subject,
                encounter,
                anchor_ms: Some(t),
                members: vec![reference],
                source,
                new: true,
            });
        }
        // Labs and changed patient records re-score the patient's latest set.
        for subject in lab_patients {
            if plans.iter().any(|p| p.subject == subject) {
                continue;
            }
            if let Some(p) = self.latest_set(&subject)? {
                if planned.insert(p.key.clone()) {
                    plans.push(p);
                }
            }
        }
        // Score, then store in time order per patient: trends see the sets before them
        // (stored or in this batch) and the latest set decides the alert.
        let mut scored = Vec::new();
        for p in plans {
            if let Some(s) = self.score(&p)? {
                scored.push(s);
            }
        }
        scored.sort_by(|a, b| {
            (&a.set.subject, a.set.effective_ms).cmp(&(&b.set.subject, b.set.effective_ms))
        });
        let in_batch: HashSet<String> = scored
            .iter()
            .flat_map(|p| {
                [
                    p.set.score_id(ScoreKind::News2),
                    p.set.score_id(ScoreKind::Pews),
                ]
            })
            .collect();
        // The last known AVPU per child, as this batch leaves it (for PEWS "change to").
        let mut last_avpu: HashMap<String, Option<pews::Avpu>> = HashMap::new();
        let mut earlier: HashMap<String, Vec<(i64, u32)>> = HashMap::new();
        let mut latest: HashMap<String, usize> = HashMap::new();
        for (i, p) in scored.iter().enumerate() {
            latest.insert(p.set.subject.clone(), i);
        }
        for (i, p) in scored.iter().enumerate() {
            let decides = latest.get(&p.set.subject) == Some(&i);
            let adult = match &p.scores {
                Scores::Adult(a) => a,
                Scores::Child { inputs, band } => {
                    let known = match last_avpu.get(&p.set.subject) {
                        Some(a) => *a,
                        None => self.previous_avpu(&p.set, &in_batch)?,
                    };
                    let mut inputs = inputs.clone();
                    inputs.triggers.previous_avpu = known;
                    let s = pews::score(&inputs, *band);
                    if inputs.triggers.avpu.is_some() {
                        last_avpu.insert(p.set.subject.clone(), inputs.triggers.avpu);
                    } else {
                        last_avpu.insert(p.set.subject.clone(), known);
                    }
                    self.store_pews(p, &s, inputs.triggers.avpu)?;
                    let level = s.level();
                    if decides
                        && level >= pews::Level::Medium
                        && self.is_latest(&p.set)?
                        && self.under_watch(&p.set)?
                    {
                        self.decide_alert(&p.set, Trigger::Pews(level))?;
                    }
                    continue;
                }
            };
            let mut before = self.previous_totals(&p.set, &in_batch)?;
            let mine = earlier.entry(p.set.subject.clone()).or_default();
            before.extend(mine.iter().copied());
            before.sort_by_key(|(t, _)| *t);
            let totals: Vec<u32> = before.iter().map(|(_, v)| *v).collect();
            mine.push((
                p.set.effective_ms,
                adult.news2.total.unwrap_or(adult.news2.partial_total),
            ));
            self.store_scores(&p.set, adult, p.oxygen_basis, &totals)?;
            let band = adult.news2.band;
            if decides && band.alerts() && self.is_latest(&p.set)? && self.under_watch(&p.set)? {
                self.decide_alert(&p.set, Trigger::News2(band))?;
            }
        }
        Ok(std::mem::take(&mut self.out)
            .into_values()
            .filter_map(|(r, m)| put(r, m))
            .collect())
    }

    /// Alert Tasks closed through the FHIR API close their Flag.
    pub(super) fn sync_flag(&mut self, v: &Version) -> Result<(), Error> {
        let Some(task) = body(v) else { return Ok(()) };
        if !alert::is_alert(&task) || Lifecycle::of(&task).is_open() {
            return Ok(());
        }
        let key = format!("Flag/{}", v.id);
        if self.out.contains_key(&key) {
            return Ok(());
        }
        if let Some(mut flag) = self.ew.read("Flag", &v.id)? {
            if flag["status"] == "active" {
                alert::close_flag(&mut flag, self.now);
                self.out.insert(key, (flag, None));
            }
        }
        Ok(())
    }

    pub(super) fn reading_body(&self, reference: &str) -> Result<Option<Arc<Value>>, Error> {
        if let Some(b) = self.fresh.get(reference) {
            return Ok(Some(b.clone()));
        }
        match reference.split_once('/') {
            Some(("Observation", id)) => Ok(self.ew.read("Observation", id)?.map(Arc::new)),
            _ => Ok(None),
        }
    }

    /// Stored NEWS2 or PEWS scores whose set includes `reference`, as plans.
    pub(super) fn sets_containing(&self, reference: &str) -> Result<Vec<Plan>, Error> {
        let found = self.ew.search(
            "Observation",
            &[
                ("code", ScoreKind::set_score_tokens()),
                ("derived-from", reference.to_string()),
            ],
        )?;
        Ok(found.iter().filter_map(plan_of_score).collect())
    }

    pub(super) fn in_a_stored_panel(&self, reference: &str) -> Result<bool, Error> {
        let found = self.ew.search(
            "Observation",
            &[
                ("has-member", reference.to_string()),
                (
                    "code",
                    format!("{}|{}", observation::LOINC, observation::VITALS_PANEL),
                ),
                ("_count", "1".into()),
            ],
        )?;
        Ok(!found.is_empty())
    }

    /// The patient's stored loose set that a reading at `t` joins.
    pub(super) fn stored_loose_set(&self, subject: &str, t: i64) -> Result<Option<Plan>, Error> {
        let window = self.ew.config.window.readings_ms;
        let found = self.ew.search(
            "Observation",
            &[
                ("code", ScoreKind::set_score_tokens()),
                ("subject", subject.to_string()),
                ("date", format!("ge{}", search::format_instant(t - window))),
                ("_count", "50".into()),
            ],
        )?;
        Ok(found
            .iter()
            .filter_map(plan_of_score)
            .filter(|p| p.key.starts_with("loose:"))
            .find(|p| p.anchor_ms.is_some_and(|a| a <= t && t - a <= window)))
    }

    pub(super) fn latest_set(&self, subject: &str) -> Result<Option<Plan>, Error> {
        let found = self.ew.search(
            "Observation",
            &[
                ("code", ScoreKind::set_score_tokens()),
                ("subject", subject.to_string()),
                ("_sort", "-date".into()),
                ("_count", "1".into()),
            ],
        )?;
        Ok(found.iter().find_map(plan_of_score))
    }

    /// A loose set whose readings now belong to a panel: its scores are deleted.
    pub(super) fn retire(&mut self, p: &Plan) {
        if let Ok(mut m) = self.ew.recent.lock() {
            if let Some(r) = m.get_mut(&p.subject) {
                let id = fhir::stable_id(ScoreKind::News2.prefix(), &p.key);
                r.items.retain(|(_, _, i)| *i != id);
            }
        }
        for kind in ScoreKind::ALL {
            let id = fhir::stable_id(kind.prefix(), &p.key);
            self.out.remove(&format!("Observation/{id}"));
        }
        // Deletions go through the store directly: the batch writes updates only.
        let entries: Vec<Entry> = ScoreKind::ALL
            .iter()
            .map(|k| Entry {
                full_url: None,
                op: WriteOp::Delete {
                    rtype: "Observation".into(),
                    id: fhir::stable_id(k.prefix(), &p.key),
                },
            })
            .collect();
        if let Err(e) = self
            .ew
            .store
            .write(&store::Access::system(), entries, Mode::Independent)
        {
            tracing::warn!(error = %e, "retiring a superseded loose set failed");
        }
    }
}
