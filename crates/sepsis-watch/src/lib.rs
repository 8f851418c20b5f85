//! Suspected sepsis on the ward, over the store: the first hour after a raised early-warning
//! score with suspected infection (NICE NG51), kept from the record.
//!
//! [`Sepsis`] follows the store's change log (on `store::Runner`, checkpoint `sepsis`). When a
//! patient's score, lactate, blood pressure, suspicion of infection or first-hour action is
//! committed, it reads that patient's episodes ([`sepsis::episode`]), judges them with the
//! `sepsis-adult` pathway of the `pathways` crate and keeps one Task per started clock
//! ([`sepsis::shape`]): antibiotics, blood cultures, lactate and intravenous fluids, each with its
//! deadline and, once done, the record that did it. Only what changed is written; suspicions
//! older than [`LOOK_BACK_DAYS`] are left as they were written. The ward board and the alert
//! inbox read those Tasks (with the caller's access); the patient's sepsis page judges the
//! episode afresh from the record as the caller reaches it.
//!
//! [`Sepsis::record`] writes what the ward does (suspicion, cultures, lactate, antibiotics,
//! fluids, ruling infection out) as the signed-in person, in the record's own resources
//! ([`sepsis::record`]).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, FixedOffset, TimeZone};
use chrono_tz::Tz;
use pathways::{Event, Pathway, PathwaySet};
use search::{Registry, SearchQuery};
use serde_json::Value;
use store::{Access, Clock, Entry, Mode, Progress, Store, Version, WriteOp};

mod write;

use sepsis::{episode, shape, Action, Episode};

/// The consumer's name (its checkpoint).
pub const CONSUMER: &str = "sepsis";
/// Suspicions recorded longer ago than this (days) are not judged again.
pub use sepsis::episode::LOOK_BACK_DAYS;
const BATCH: usize = 1000;
const PE: &str = pathways::fhir::PATHWAY_EVENT;
const SNOMED: &str = "http://snomed.info/sct";
const LOINC: &str = "http://loinc.org";
/// Blood pressure panel (LOINC), whose systolic component counts.
const BP_PANEL: &str = "85354-9";

/// The crate's error type.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// What the person asked cannot be recorded (said plainly, for the page).
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Record(#[from] sepsis::Error),
    #[error("no such patient")]
    NotFound,
}

/// The service.
pub struct Sepsis {
    store: Arc<dyn Store>,
    zone: Tz,
    clock: Arc<dyn Clock>,
    pathway: Pathway,
    processed: Progress,
    stepping: Mutex<()>,
    runner: OnceLock<store::Runner>,
}

impl std::fmt::Debug for Sepsis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sepsis")
            .field("processed", &self.processed.get())
            .finish_non_exhaustive()
    }
}

pub(crate) fn query(rtype: &str, params: &[(&str, String)]) -> Result<SearchQuery, Error> {
    let owned: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| ((*k).to_string(), v.clone()))
        .collect();
    SearchQuery::parse(Registry::r4(), rtype, &owned).map_err(|e| Error::Invalid(e.to_string()))
}

fn body(h: &store::Hit) -> Option<Value> {
    serde_json::from_str(&h.body).ok()
}

/// The patient a resource is about (id), by the references these types use.
fn patient_of(r: &Value) -> Option<String> {
    ["subject", "patient", "for"]
        .iter()
        .find_map(|k| r[*k]["reference"].as_str())
        .and_then(|s| s.strip_prefix("Patient/"))
        .map(str::to_string)
}

/// A FHIR instant for search parameters.
fn instant(t: DateTime<FixedOffset>) -> String {
    t.to_utc().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A stored body without what the store sets, to compare with what the service wants.
fn comparable(mut v: Value) -> Value {
    if let Some(m) = v["meta"].as_object_mut() {
        m.remove("versionId");
        m.remove("lastUpdated");
    }
    v
}

impl Sepsis {
    pub fn new(store: Arc<dyn Store>, zone: Tz, clock: Arc<dyn Clock>) -> Arc<Sepsis> {
        let pathway = PathwaySet::builtin()
            .pathway(sepsis::PATHWAY)
            .cloned()
            .expect("the sepsis pathway ships with Tend");
        Arc::new(Sepsis {
            store,
            zone,
            clock,
            pathway,
            processed: Progress::default(),
            stepping: Mutex::new(()),
            runner: OnceLock::new(),
        })
    }

    /// Follow the record on the store's change-log runner.
    pub fn start(self: &Arc<Self>) {
        let _ = self
            .runner
            .set(store::Runner::start(self.store.clone(), self.clone()));
    }

    pub fn stop(&self) {
        if let Some(r) = self.runner.get() {
            r.stop();
        }
    }

    pub fn catch_up(&self) -> Result<(), Error> {
        while self.step()? > 0 {}
        Ok(())
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn zone(&self) -> Tz {
        self.zone
    }

    /// Now, in the hospital's zone.
    pub fn now(&self) -> DateTime<FixedOffset> {
        self.zone
            .timestamp_millis_opt(self.clock.now_ms())
            .single()
            .map(|t| t.fixed_offset())
            .unwrap_or_else(|| chrono::Utc::now().fixed_offset())
    }

    /// Whether a committed version can change someone's first hour; the patient if so.
    fn touches(&self, v: &Version) -> Option<(String, bool)> {
        let types = [
            "Condition",
            "Observation",
            "MedicationAdministration",
            "Specimen",
            "Procedure",
            "ServiceRequest",
        ];
        if !types.contains(&v.rtype.as_str()) {
            return None;
        }
        let condition = v.rtype == "Condition";
        let Some(b) = v.body.as_deref() else {
            // A deletion: the patients it was about.
            return v.patients.first().map(|p| (p.clone(), condition));
        };
        let r: Value = serde_json::from_str(b).ok()?;
        let patient = patient_of(&r)?;
        let events = episode::events(self.zone, &r);
        // A suspicion of any verification status: one refuted or entered in error withdraws
        // its clocks.
        let suspicion = |e: &Event| {
            e.codes.iter().any(|c| {
                (c.system == SNOMED && c.code == "40733004")
                    || (c.system == PE && c.code == "suspected-infection")
            })
        };
        let relevant = events.iter().any(|e| {
            episode::is_reading(e)
                || (condition && suspicion(e))
                || self.pathway.milestones.iter().any(|m| m.completed_by(e))
        });
        relevant.then_some((patient, condition))
    }

    /// Bring the Tasks of what changed up to date.
    pub fn step(&self) -> Result<usize, Error> {
        let _one = self
            .stepping
            .lock()
            .map_err(|_| Error::Invalid("poisoned".into()))?;
        let from = self.store.checkpoint(CONSUMER)?;
        let log = self.store.log(from, BATCH)?;
        let Some(last) = log.last().map(|v| v.seq) else {
            self.processed.mark(from);
            return Ok(0);
        };
        let mut patients: BTreeMap<String, bool> = BTreeMap::new();
        for v in &log {
            if let Some((p, condition)) = self.touches(v) {
                *patients.entry(p).or_default() |= condition;
            }
        }
        let mut entries = Vec::new();
        for (p, condition) in patients {
            entries.extend(self.refresh(&p, condition)?);
        }
        for r in self
            .store
            .write_consumed(entries, Mode::Independent, CONSUMER, last)?
        {
            if let Err(e) = r {
                tracing::warn!(error = %e, "a sepsis first-hour task was refused");
            }
        }
        self.processed.mark(last);
        Ok(log.len())
    }

    /// The suspicions of infection recorded for `patient` (any verification status) as the
    /// caller reaches them.
    fn suspicions(&self, access: &Access, patient: &str) -> Result<Vec<Value>, Error> {
        let q = query(
            "Condition",
            &[
                ("patient", format!("Patient/{patient}")),
                (
                    "code",
                    format!("{SNOMED}|40733004,{PE}|suspected-infection"),
                ),
            ],
        )?;
        Ok(store::search_all(&*self.store, access, q)?
            .iter()
            .filter_map(body)
            .collect())
    }

    /// The patient's events from `since` on, as the caller reaches them: the suspicions, the
    /// scores and readings, and the first-hour actions.
    fn events(
        &self,
        access: &Access,
        patient: &str,
        suspicions: &[Value],
        since: DateTime<FixedOffset>,
    ) -> Result<Vec<Event>, Error> {
        let p = format!("Patient/{patient}");
        let ge = format!("ge{}", instant(since));
        let observation_codes = [
            format!("{SNOMED}|{}", episode::NEWS2_TOTAL),
            format!("{SNOMED}|{}", episode::PEWS_TOTAL),
            format!("{LOINC}|{}", episode::LACTATE[0]),
            format!("{LOINC}|{}", episode::LACTATE[1]),
            format!("{LOINC}|{}", episode::SYSTOLIC),
            format!("{LOINC}|{BP_PANEL}"),
        ]
        .join(",");
        let searches = [
            query(
                "Observation",
                &[
                    ("patient", p.clone()),
                    ("code", observation_codes),
                    ("date", ge.clone()),
                ],
            )?,
            query(
                "MedicationAdministration",
                &[("patient", p.clone()), ("effective-time", ge.clone())],
            )?,
            query(
                "Specimen",
                &[("patient", p.clone()), ("collected", ge.clone())],
            )?,
            query("Procedure", &[("patient", p.clone()), ("date", ge.clone())])?,
            query(
                "ServiceRequest",
                &[("patient", p.clone()), ("code", format!("{LOINC}|600-7"))],
            )?,
        ];
        let mut out: Vec<Event> = suspicions
            .iter()
            .flat_map(|c| episode::events(self.zone, c))
            .collect();
        for q in searches {
            for h in store::search_all(&*self.store, access, q)? {
                if let Some(r) = body(&h) {
                    out.extend(episode::events(self.zone, &r));
                }
            }
        }
        Ok(out)
    }

    /// The patient's episodes judged now, from the record as `access` reaches it; suspicions
    /// from the last [`LOOK_BACK_DAYS`].
    fn judged(&self, access: &Access, patient: &str) -> Result<(Vec<Episode>, Vec<Value>), Error> {
        let now = self.now();
        let cutoff = now - Duration::days(LOOK_BACK_DAYS);
        let suspicions: Vec<Value> = self
            .suspicions(access, patient)?
            .into_iter()
            .filter(|c| {
                episode::events(self.zone, c)
                    .first()
                    .is_some_and(|e| e.time >= cutoff)
            })
            .collect();
        if suspicions.is_empty() {
            return Ok((Vec::new(), suspicions));
        }
        let earliest = suspicions
            .iter()
            .filter_map(|c| episode::events(self.zone, c).first().map(|e| e.time))
            .min()
            .unwrap_or(now);
        let since = earliest - Duration::hours(episode::EPISODE_HOURS);
        let events = self.events(access, patient, &suspicions, since)?;
        Ok((episode::episodes(&self.pathway, &events, now), suspicions))
    }

    /// The writes that bring one patient's first-hour Tasks up to date. `condition`: a
    /// Condition of theirs changed (a suspicion may have been withdrawn).
    fn refresh(&self, patient: &str, condition: bool) -> Result<Vec<Entry>, Error> {
        let system = Access::system();
        let (episodes, suspicions) = self.judged(&system, patient)?;
        if episodes.is_empty() && !condition {
            return Ok(Vec::new());
        }
        let encounter_of = |anchor: &str| {
            suspicions
                .iter()
                .find(|c| format!("Condition/{}", c["id"].as_str().unwrap_or_default()) == anchor)
                .and_then(|c| c["encounter"]["reference"].as_str())
                .map(str::to_string)
        };
        let mut wanted: BTreeMap<String, Value> = BTreeMap::new();
        for e in &episodes {
            let enc = encounter_of(&e.anchor);
            let mut seen = BTreeSet::new();
            for c in &e.evaluation.clocks {
                if !seen.insert(c.clock.clone()) {
                    continue;
                }
                if let Some(t) = shape::task(patient, enc.as_deref(), e, c) {
                    wanted.insert(t["id"].as_str().unwrap_or_default().to_string(), t);
                }
            }
        }
        let stored = self.stored(&system, patient)?;
        let cutoff = self.now() - Duration::days(LOOK_BACK_DAYS);
        let mut out = Vec::new();
        for (id, t) in &wanted {
            if stored.get(id).map(|s| comparable(s.clone())) != Some(t.clone()) {
                out.push(update(id, t.clone()));
            }
        }
        for (id, s) in &stored {
            if wanted.contains_key(id) || s["status"] != "requested" && s["status"] != "completed" {
                continue;
            }
            let recent = Action::of(s).is_some_and(|a| a.started >= cutoff);
            if recent {
                out.push(update(id, shape::cancelled(&comparable(s.clone()))));
            }
        }
        Ok(out)
    }

    /// The first-hour Tasks stored for `patient`, by id, as `access` reaches them.
    fn stored(&self, access: &Access, patient: &str) -> Result<BTreeMap<String, Value>, Error> {
        let q = query(
            "Task",
            &[
                ("patient", format!("Patient/{patient}")),
                ("_tag", format!("{}|{}", shape::TAG_SYSTEM, shape::TAG)),
            ],
        )?;
        Ok(store::search_all(&*self.store, access, q)?
            .iter()
            .filter_map(body)
            .filter_map(|t| Some((t["id"].as_str()?.to_string(), t)))
            .collect())
    }

    /// The patient's current episode (infection suspected in the last
    /// [`episode::EPISODE_HOURS`]), judged now from the record as `access` reaches it.
    pub fn current(&self, access: &Access, patient: &str) -> Result<Option<Episode>, Error> {
        let now = self.now();
        let (episodes, _) = self.judged(access, patient)?;
        Ok(episodes.into_iter().rev().find(|e| e.current(now)))
    }

    /// The patient's episodes of the last [`LOOK_BACK_DAYS`], oldest first, judged now from
    /// the record as `access` reaches it.
    pub fn episodes(&self, access: &Access, patient: &str) -> Result<Vec<Episode>, Error> {
        Ok(self.judged(access, patient)?.0)
    }

    /// The first-hour actions of every episode begun since `since`, of the patients `access`
    /// reaches (the board and the inbox), or of one of them (the chart).
    pub fn actions(
        &self,
        access: &Access,
        patient: Option<&str>,
        since: DateTime<FixedOffset>,
    ) -> Result<Vec<Action>, Error> {
        let mut params = vec![
            ("_tag", format!("{}|{}", shape::TAG_SYSTEM, shape::TAG)),
            ("authored-on", format!("ge{}", instant(since))),
        ];
        if let Some(p) = patient {
            params.push(("patient", format!("Patient/{p}")));
        }
        let q = query("Task", &params)?;
        Ok(store::search_all(&*self.store, access, q)?
            .iter()
            .filter_map(body)
            .filter_map(|t| Action::of(&t))
            .filter(|a| !a.cancelled)
            .collect())
    }

    /// Wait until what was just written has been followed (or follow it here when no runner
    /// holds the consumer).
    pub(crate) fn settle(&self) -> Result<(), Error> {
        if self.runner.get().is_some_and(|r| r.holds()) {
            self.processed
                .wait(self.store.commits().latest(), StdDuration::from_secs(3));
            Ok(())
        } else {
            self.catch_up()
        }
    }
}

fn update(id: &str, resource: Value) -> Entry {
    Entry {
        full_url: None,
        op: WriteOp::Update {
            rtype: "Task".into(),
            id: id.to_string(),
            resource,
            if_match: None,
        },
    }
}

impl store::Consumer for Sepsis {
    fn name(&self) -> &str {
        CONSUMER
    }
    fn step(&self) -> Result<usize, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Sepsis::step(self)?)
    }
    fn progress(&self) -> &Progress {
        &self.processed
    }
}
