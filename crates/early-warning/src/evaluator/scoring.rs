//! Scoring a set: NEWS2, qSOFA and SIRS for an adult, PEWS for a child; storing the
//! scores and reading the labs and earlier totals they need.

use super::*;

impl Batch<'_> {
    /// Score one set (without its trend); None when nothing is left of it.
    pub(super) fn score(&mut self, p: &Plan) -> Result<Option<Prepared>, Error> {
        let ew = self.ew;
        let mut readings: Vec<Timed> = Vec::new();
        let mut members = Vec::new();
        let mut encounter = p.encounter.clone();
        let mut source = p.source.clone();
        let mut panel_time = None;
        // The latest reading's time as written: its date is the set's date (in the offset
        // the reading was charted in), for the patient's age.
        let mut written: Option<(i64, String)> = None;
        for m in &p.members {
            let Some(b) = self.reading_body(m)? else {
                continue;
            };
            let parsed: Parsed = observation::read(&b);
            if !parsed.counts || parsed.subject.as_deref() != Some(p.subject.as_str()) {
                continue;
            }
            let t = parsed.effective.as_deref().and_then(ms);
            if parsed.is_panel {
                panel_time = t;
            }
            encounter = encounter.or(parsed.encounter.clone());
            source = source.or(b["meta"]["source"].as_str().map(str::to_string));
            let Some(t) = t.or(panel_time) else { continue };
            if let Some(e) = parsed.effective.as_deref() {
                if written.as_ref().is_none_or(|(w, _)| t > *w) {
                    written = Some((t, e.to_string()));
                }
            }
            let mut vitals: Vec<_> = parsed
                .readings
                .iter()
                .filter(|(k, _)| k.is_vital_sign())
                .map(|(k, r)| (t, *k, *r))
                .collect();
            if let Some(d) = parsed.device {
                vitals.push((
                    t,
                    observation::Kind::OxygenDevice,
                    observation::Reading::Device(d),
                ));
            }
            if vitals.is_empty() && !parsed.is_panel {
                continue;
            }
            readings.extend(vitals);
            members.push(m.clone());
        }
        let times: Vec<i64> = readings.iter().map(|(t, ..)| *t).collect();
        let (Some(&first), Some(&effective)) = (times.iter().min(), times.iter().max()) else {
            // Nothing left (every reading deleted or entered in error): retire the scores.
            self.retire(p);
            return Ok(None);
        };
        let set = SetRef {
            key: p.key.clone(),
            subject: p.subject.clone(),
            encounter: encounter.clone(),
            start_ms: p.anchor_ms.unwrap_or(first),
            effective_ms: effective,
            members,
        };
        let scale = ew.cached_scale(&p.subject, effective)?;
        if p.new {
            self.fresh_sets.insert(p.key.clone());
        }
        let ward = encounter.as_deref().and_then(|e| ew.ward_of(e));
        let air = &ew.config.air_when_absent;
        let air_when_absent = air.all
            || ward.as_ref().is_some_and(|w| air.wards.contains(w))
            || source
                .as_deref()
                .is_some_and(|s| air.sources.iter().any(|x| s.starts_with(x.as_str())));
        let date = written
            .as_ref()
            .and_then(|(_, e)| e.get(..10))
            .and_then(CivilDate::parse)
            .or_else(|| {
                search::format_instant(effective)
                    .get(..10)
                    .and_then(CivilDate::parse)
            });
        let age = Age::of(ew.birth_date(&p.subject)?, date);
        let scores = match age {
            Age::Child(band) => {
                let (inputs, basis) = rules::assemble_pews(&readings, air_when_absent);
                self.drop_scores(p, &[ScoreKind::News2, ScoreKind::Qsofa, ScoreKind::Sirs])?;
                return Ok(Some(Prepared {
                    scores: Scores::Child { inputs, band },
                    oxygen_basis: basis,
                    set,
                }));
            }
            Age::Adult => {
                self.drop_scores(p, &[ScoreKind::Pews])?;
                let labs = self.labs(&p.subject, effective)?;
                let inputs = rules::assemble(&readings, &labs, air_when_absent);
                (
                    Adult {
                        news2: rules::news2::score(&inputs.vitals, scale),
                        qsofa: rules::sepsis::qsofa(&inputs.qsofa),
                        sirs: rules::sepsis::sirs(&inputs.sirs),
                    },
                    inputs.oxygen_basis,
                )
            }
        };
        Ok(Some(Prepared {
            scores: Scores::Adult(scores.0),
            oxygen_basis: scores.1,
            set,
        }))
    }

    /// Delete a stored set's scores of other kinds (its patient's age, or birth date, now
    /// asks for the other score). A set first seen in this batch has none.
    pub(super) fn drop_scores(&mut self, p: &Plan, kinds: &[ScoreKind]) -> Result<(), Error> {
        if p.new {
            return Ok(());
        }
        let mut entries = Vec::new();
        for kind in kinds {
            let id = fhir::stable_id(kind.prefix(), &p.key);
            self.out.remove(&format!("Observation/{id}"));
            if self.ew.read("Observation", &id)?.is_some() {
                entries.push(Entry {
                    full_url: None,
                    op: WriteOp::Delete {
                        rtype: "Observation".into(),
                        id,
                    },
                });
            }
        }
        if entries.is_empty() {
            return Ok(());
        }
        // Deletions go through the store directly: the batch writes updates only.
        if let Err(e) = self
            .ew
            .store
            .write(&store::Access::system(), entries, Mode::Independent)
        {
            tracing::warn!(error = %e, "deleting a set's scores of another kind failed");
        }
        Ok(())
    }

    /// Store an adult set's scores, with its trend over `earlier` totals (oldest first).
    pub(super) fn store_scores(
        &mut self,
        set: &SetRef,
        a: &Adult,
        oxygen_basis: rules::OxygenBasis,
        earlier: &[u32],
    ) -> Result<(), Error> {
        let ew = self.ew;
        let mut totals = earlier.to_vec();
        totals.push(a.news2.total.unwrap_or(a.news2.partial_total));
        let rising = rules::news2::rising(&totals, ew.config.trend_sets, ew.config.trend_rise);
        let next_due =
            set.effective_ms + i64::from(ew.config.policy.next_set_minutes(a.news2.band)) * 60_000;
        let extras = News2Extras {
            oxygen_basis,
            next_due_ms: next_due,
            rising,
        };
        if let Ok(mut m) = ew.recent.lock() {
            if let Some(r) = m.get_mut(&set.subject) {
                r.put(
                    set.effective_ms,
                    a.news2.total.unwrap_or(a.news2.partial_total),
                    set.score_id(ScoreKind::News2),
                );
            }
        }
        self.emit(score::news2(set, &a.news2, &extras, self.now))?;
        self.emit(score::screen(ScoreKind::Qsofa, set, &a.qsofa, self.now))?;
        self.emit(score::screen(ScoreKind::Sirs, set, &a.sirs, self.now))?;
        Ok(())
    }

    /// Store a child's PEWS. The next set is due by the level's minimal observations.
    pub(super) fn store_pews(
        &mut self,
        p: &Prepared,
        s: &pews::Score,
        avpu: Option<pews::Avpu>,
    ) -> Result<(), Error> {
        let extras = PewsExtras {
            oxygen_basis: p.oxygen_basis,
            next_due_ms: s
                .next_observation_minutes()
                .map(|m| p.set.effective_ms + i64::from(m) * 60_000),
            avpu,
        };
        self.emit(score::pews(&p.set, s, &extras, self.now))
    }

    /// The last AVPU recorded on the child's stored sets before this one (leaving out the
    /// sets re-scored in this batch): what a "change to V, P or U" is measured against.
    pub(super) fn previous_avpu(
        &self,
        set: &SetRef,
        in_batch: &HashSet<String>,
    ) -> Result<Option<pews::Avpu>, Error> {
        let found = self.ew.search(
            "Observation",
            &[
                ("code", ScoreKind::Pews.token()),
                ("subject", set.subject.clone()),
                (
                    "date",
                    format!("lt{}", search::format_instant(set.effective_ms)),
                ),
                ("_sort", "-date".into()),
                ("_count", (10 + in_batch.len().min(50)).to_string()),
            ],
        )?;
        Ok(found
            .iter()
            .filter(|o| o["id"].as_str().is_some_and(|id| !in_batch.contains(id)))
            .find_map(score::pews_avpu))
    }

    /// Queue a derived resource unless the stored one already says the same.
    pub(super) fn emit(&mut self, resource: Value) -> Result<(), Error> {
        let rtype = resource["resourceType"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let id = resource["id"].as_str().unwrap_or_default().to_string();
        let set_key = resource["identifier"][0]["value"]
            .as_str()
            .unwrap_or_default();
        if !self.fresh_sets.contains(set_key) {
            if let Some(old) = self.ew.read(&rtype, &id)? {
                if content(&old) == content(&resource) {
                    return Ok(());
                }
            }
        }
        self.out.insert(format!("{rtype}/{id}"), (resource, None));
        Ok(())
    }

    pub(super) fn labs(&self, subject: &str, at: i64) -> Result<Vec<Timed>, Error> {
        let known_none = self.ew.no_labs.lock().is_ok_and(|m| m.contains(subject));
        if known_none {
            return Ok(Vec::new());
        }
        let w = &self.ew.config.window;
        let codes: Vec<String> = observation::codes()
            .filter(|c| observation::kind_of(c).is_some_and(|k| !k.is_vital_sign()))
            .map(|c| format!("{}|{c}", observation::LOINC))
            .collect();
        let found = self.ew.search(
            "Observation",
            &[
                ("subject", subject.to_string()),
                ("code", codes.join(",")),
                (
                    "date",
                    format!("ge{}", search::format_instant(at - w.labs_ms)),
                ),
                (
                    "date",
                    format!("le{}", search::format_instant(at + w.readings_ms)),
                ),
                ("_sort", "-date".into()),
                ("_count", "50".into()),
            ],
        )?;
        if found.is_empty() {
            // None in the window: remember patients without any lab at all.
            let any = self.ew.search(
                "Observation",
                &[
                    ("subject", subject.to_string()),
                    ("code", codes.join(",")),
                    ("_count", "1".into()),
                ],
            )?;
            if any.is_empty() {
                if let Ok(mut m) = self.ew.no_labs.lock() {
                    if m.len() > 100_000 {
                        m.clear();
                    }
                    m.insert(subject.to_string());
                }
            }
        }
        let mut out = Vec::new();
        for b in found {
            let p = observation::read(&b);
            let Some(t) = p.effective.as_deref().and_then(ms) else {
                continue;
            };
            if p.counts {
                out.extend(
                    p.readings
                        .into_iter()
                        .filter(|(k, _)| !k.is_vital_sign())
                        .map(|(k, r)| (t, k, r)),
                );
            }
        }
        Ok(out)
    }

    /// Stored NEWS2 totals (partial totals for incomplete sets) of the sets before this
    /// one, with their times, leaving out the sets being re-scored in this batch.
    pub(super) fn previous_totals(
        &self,
        set: &SetRef,
        in_batch: &HashSet<String>,
    ) -> Result<Vec<(i64, u32)>, Error> {
        let n = self.ew.config.trend_sets.saturating_sub(1).max(1);
        let pick = |r: &Recent| -> Option<Vec<(i64, u32)>> {
            let before: Vec<(i64, u32)> = r
                .items
                .iter()
                .filter(|(t, _, id)| *t < set.effective_ms && !in_batch.contains(id))
                .map(|(t, v, _)| (*t, *v))
                .collect();
            (before.len() >= n || r.complete)
                .then(|| before[before.len().saturating_sub(n)..].to_vec())
        };
        let cached = self
            .ew
            .recent
            .lock()
            .ok()
            .and_then(|m| m.get(&set.subject).cloned());
        if let Some(found) = cached.as_ref().and_then(pick) {
            return Ok(found);
        }
        let found = self.ew.search(
            "Observation",
            &[
                ("code", ScoreKind::News2.token()),
                ("subject", set.subject.clone()),
                ("_sort", "-date".into()),
                ("_count", RECENT.to_string()),
            ],
        )?;
        let mut r = Recent {
            complete: found.len() < RECENT,
            items: Vec::new(),
        };
        for s in found.iter().filter_map(score::news2_summary) {
            if let Some(t) = ms(&s.effective) {
                r.put(t, s.total.unwrap_or(s.partial_total), s.id);
            }
        }
        if let Some(p) = pick(&r) {
            if let Ok(mut m) = self.ew.recent.lock() {
                if m.len() > 100_000 {
                    m.clear();
                }
                m.insert(set.subject.clone(), r);
            }
            return Ok(p);
        }
        // An old set arriving late: ask the store for the sets before it.
        let found = self.ew.search(
            "Observation",
            &[
                ("code", ScoreKind::News2.token()),
                ("subject", set.subject.clone()),
                (
                    "date",
                    format!("lt{}", search::format_instant(set.effective_ms)),
                ),
                ("_sort", "-date".into()),
                ("_count", (n + in_batch.len().min(50)).to_string()),
            ],
        )?;
        let mut out: Vec<(i64, u32)> = found
            .iter()
            .filter(|o| o["id"].as_str().is_some_and(|id| !in_batch.contains(id)))
            .filter_map(score::news2_summary)
            .filter_map(|s| Some((ms(&s.effective)?, s.total.unwrap_or(s.partial_total))))
            .take(n)
            .collect();
        out.reverse();
        Ok(out)
    }
}
