//! The service: follows the change log on the store's runner, rebuilds the pathways of each
//! patient whose record changed, recomputes every clock when the date changes, writes the
//! state (see [`crate::shape`]) and keeps the worklist in memory.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset, NaiveDate};
use chrono_tz::Tz;
use pathways::{Adjustment, Evaluation, Event, MilestoneStatus, PathwaySet};
use search::{Registry, SearchQuery};
use serde_json::Value;
use store::{Access, Clock, Entry, Mode, Op, Store, WriteOp};

use crate::codes;
use crate::predict::{predict, Prediction};
use crate::record::{self, Assignment, Contact, Person};
use crate::shape::{self, EpisodeFacts};
use crate::{Error, Site};

/// The consumer's name (checkpoint and lease).
pub const CONSUMER: &str = "navigation";
const BATCH: usize = 1000;

/// Resource types whose changes can move a pathway.
const RECORD_TYPES: &[&str] = &[
    "ServiceRequest",
    "Appointment",
    "Encounter",
    "DiagnosticReport",
    "Observation",
    "Specimen",
    "Condition",
    "Procedure",
    "MedicationRequest",
    "MedicationAdministration",
    "CarePlan",
    "Communication",
    "Task",
];

/// How the service runs.
#[derive(Clone)]
pub struct Config {
    /// The hospital's time zone: day clocks count its calendar dates.
    pub zone: Tz,
    pub pathways: Arc<PathwaySet>,
    pub site: Arc<Site>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            zone: Tz::UTC,
            pathways: Arc::new(PathwaySet::builtin()),
            site: Arc::new(Site::builtin()),
        }
    }
}

/// One pathway episode of a patient, evaluated.
#[derive(Debug, Clone)]
pub struct Episode {
    pub pathway: String,
    pub title: String,
    pub id: String,
    pub evaluation: Evaluation,
    pub predictions: Vec<Prediction>,
    pub active: bool,
    pub start: Option<DateTime<FixedOffset>>,
    pub end: Option<DateTime<FixedOffset>>,
}

/// Everything the service knows about one patient on a pathway.
#[derive(Debug, Clone)]
pub struct Case {
    pub patient: String,
    pub person: Person,
    pub barriers: Vec<String>,
    pub site: Option<String>,
    pub referrals: Vec<String>,
    pub episodes: Vec<Episode>,
    pub contacts: Vec<Contact>,
    pub assignments: Vec<Assignment>,
    /// `Practitioner/ID`.
    pub navigator: Option<String>,
    /// The record's events (for recomputation and the timeline), per pathway.
    pub events: Vec<Event>,
    pub navigator_events: Vec<(String, Event)>,
    pub adjustments: Vec<(String, Adjustment)>,
    /// Stored derived resources: `Type/id` → (version, body).
    pub(crate) stored: HashMap<String, (i64, Value)>,
    /// What the resources last built for this case say ([`fingerprint`]); 0: not built.
    pub(crate) fingerprint: u64,
}

impl Case {
    /// Whether any episode is active.
    pub fn active(&self) -> bool {
        self.episodes.iter().any(|e| e.active)
    }
}

/// What a population run did.
#[derive(Debug, Clone, PartialEq)]
pub struct RunReport {
    pub on: NaiveDate,
    pub patients: usize,
    pub active: usize,
    pub written: usize,
    pub millis: u128,
}

/// The navigation service.
pub struct Navigation {
    pub(crate) store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    pub(crate) config: Config,
    pub(crate) cases: RwLock<HashMap<String, Arc<Case>>>,
    pub(crate) names: RwLock<HashMap<String, String>>,
    /// The navigation team: (`Practitioner/ID`, name).
    pub(crate) team: RwLock<Vec<(String, String)>>,
    stepping: Mutex<()>,
    runner: OnceLock<store::Runner>,
    processed: store::Progress,
    last_run: Mutex<Option<RunReport>>,
    /// The site policy in force: the configured one with the typical durations learned from
    /// the site's own patients (`learn.rs`).
    effective: RwLock<Arc<Site>>,
}

impl std::fmt::Debug for Navigation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Navigation")
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

impl Navigation {
    pub fn new(store: Arc<dyn Store>, config: Config, clock: Arc<dyn Clock>) -> Arc<Navigation> {
        Arc::new(Navigation {
            store,
            clock,
            cases: RwLock::new(HashMap::new()),
            names: RwLock::new(HashMap::new()),
            team: RwLock::new(Vec::new()),
            stepping: Mutex::new(()),
            runner: OnceLock::new(),
            processed: store::Progress::default(),
            last_run: Mutex::new(None),
            effective: RwLock::new(config.site.clone()),
            config,
        })
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn zone(&self) -> Tz {
        self.config.zone
    }

    /// The site policy predictions use now: the configured one, with typical durations
    /// learned from the site's own patients where enough have done a step.
    pub fn site_now(&self) -> Arc<Site> {
        self.effective
            .read()
            .map(|s| s.clone())
            .unwrap_or_else(|_| self.config.site.clone())
    }

    /// Learn typical durations from every case; true when what predictions use changed.
    fn learn(&self) -> bool {
        let mut observed = HashMap::new();
        for case in self.cases() {
            for ep in &case.episodes {
                crate::learn::observe(&ep.pathway, &ep.evaluation, &mut observed);
            }
        }
        let learned = crate::learn::with_learned(&self.config.site, observed);
        let changed = {
            let now = self.site_now();
            now.typical_days != learned.typical_days || now.learned != learned.learned
        };
        if changed {
            if let Ok(mut e) = self.effective.write() {
                *e = Arc::new(learned);
            }
        }
        changed
    }

    pub fn pathways(&self) -> &PathwaySet {
        &self.config.pathways
    }

    pub fn site(&self) -> &Site {
        &self.config.site
    }

    /// Now, in the hospital's zone.
    pub fn now(&self) -> DateTime<FixedOffset> {
        DateTime::from_timestamp_millis(self.clock.now_ms())
            .unwrap_or_default()
            .with_timezone(&self.config.zone)
            .fixed_offset()
    }

    pub fn today(&self) -> NaiveDate {
        self.now().date_naive()
    }

    pub fn last_run(&self) -> Option<RunReport> {
        self.last_run.lock().ok().and_then(|g| g.clone())
    }

    /// Start following the record on the store's runner.
    pub fn start(self: &Arc<Self>) {
        let runner = store::Runner::start(self.store.clone(), self.clone());
        let _ = self.runner.set(runner);
    }

    /// Whether this process follows the record (the runner is started and holds the lease).
    pub fn running(&self) -> bool {
        self.runner.get().is_some_and(|r| r.holds())
    }

    pub fn stop(&self) {
        if let Some(r) = self.runner.get() {
            r.stop();
        }
    }

    pub fn processed(&self) -> i64 {
        self.processed.get()
    }

    /// Wait until the change log is handled up to `seq`; false on timeout.
    pub fn wait_processed(&self, seq: i64, timeout: Duration) -> bool {
        self.processed.wait(seq, timeout)
    }

    /// Handle the change log until it is drained (and the population run, first).
    pub fn catch_up(&self) -> Result<(), Error> {
        while self.follow()? > 0 {}
        Ok(())
    }

    /// A population run at start, every clock again when the date changes, else an
    /// incremental step.
    fn follow(&self) -> Result<usize, Error> {
        let last = self.last_run();
        if last.as_ref().is_some_and(|r| r.on != self.today()) {
            let r = self.recompute_all()?;
            tracing::info!(
                patients = r.patients,
                written = r.written,
                ms = r.millis as u64,
                "navigation clocks recomputed"
            );
            return Ok(1);
        }
        if last.is_none() {
            let mut r = self.run_population()?;
            if self.learn() {
                // Predictions made with the defaults: made again with what was learned.
                let again = self.recompute_all()?;
                r.written += again.written;
                r.millis += again.millis;
            }
            tracing::info!(
                patients = r.patients,
                active = r.active,
                written = r.written,
                ms = r.millis as u64,
                "navigation run"
            );
            return Ok(1);
        }
        self.step()
    }

    /// One case.
    pub fn case(&self, patient: &str) -> Option<Arc<Case>> {
        self.cases.read().ok()?.get(patient).cloned()
    }

    /// Every case, shared.
    pub fn cases(&self) -> Vec<Arc<Case>> {
        self.cases
            .read()
            .map(|c| c.values().cloned().collect())
            .unwrap_or_default()
    }

    /// The name of a practitioner (`Practitioner/ID`), read once.
    pub fn name_of(&self, reference: &str) -> String {
        if let Some(n) = self
            .names
            .read()
            .ok()
            .and_then(|m| m.get(reference).cloned())
        {
            return n;
        }
        let name = reference
            .split_once('/')
            .and_then(|(t, id)| self.store.read(&Access::system(), t, id).ok().flatten())
            .and_then(|v| v.body)
            .and_then(|b| serde_json::from_str::<Value>(&b).ok())
            .map(|p| record::person(&p).name)
            .unwrap_or_else(|| "Someone".into());
        if let Ok(mut m) = self.names.write() {
            m.insert(reference.to_string(), name.clone());
        }
        name
    }

    /// The navigation team: practitioners whose role is a patient navigator.
    pub fn team(&self) -> Vec<(String, String)> {
        self.team.read().map(|t| t.clone()).unwrap_or_default()
    }

    fn find_team(&self) -> Result<(), Error> {
        let q = query("PractitionerRole", &[])?;
        let mut team: Vec<(String, String)> =
            store::search_all(&*self.store, &Access::system(), q)?
                .iter()
                .filter_map(body)
                .filter(|r| {
                    r["code"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|c| c["text"].as_str())
                        .any(|t| t.to_lowercase().contains("navigator"))
                })
                .filter_map(|r| r["practitioner"]["reference"].as_str().map(str::to_string))
                .collect::<BTreeSet<_>>()
                .into_iter()
                .map(|p| {
                    let n = self.name_of(&p);
                    (p, n)
                })
                .collect();
        team.sort_by(|a, b| a.1.cmp(&b.1));
        if let Ok(mut t) = self.team.write() {
            *t = team;
        }
        Ok(())
    }

    /// Codes that put a patient on a pathway (entry milestones' evidence codes).
    fn entry_codes(&self) -> HashSet<(String, String)> {
        let mut out = HashSet::new();
        for e in &self.config.site.pathways {
            let Some(p) = self.config.pathways.pathway(&e.pathway) else {
                continue;
            };
            for m in &e.entry_milestones {
                for ev in p.milestone(m).map(|m| m.evidence.as_slice()).unwrap_or(&[]) {
                    for c in &ev.codes {
                        out.insert((c.system.clone(), c.code.clone()));
                    }
                }
            }
        }
        out
    }

    /// Every patient on (or possibly entering) a pathway, rebuilt and evaluated today; the
    /// change log is followed from where the run began.
    pub fn run_population(&self) -> Result<RunReport, Error> {
        let _one = self
            .stepping
            .lock()
            .map_err(|_| Error::Invalid("poisoned".into()))?;
        let started = Instant::now();
        let on = self.today();
        let from = self
            .store
            .commits()
            .latest()
            .max(self.store.checkpoint(CONSUMER)?);
        self.find_team()?;
        let entry = self.entry_codes();
        let zone = self.config.zone;
        let mut candidates: BTreeSet<String> = BTreeSet::new();
        for rtype in ["ServiceRequest", "Condition", "EpisodeOfCare"] {
            let mut cursor = 0;
            loop {
                let (hits, next) = self.store.scan(rtype, cursor, 2000)?;
                if hits.is_empty() {
                    break;
                }
                for h in &hits {
                    let Some(v) = body(h) else { continue };
                    let hit = match rtype {
                        "EpisodeOfCare" => v["identifier"][0]["system"] == codes::EPISODE_ID,
                        "Condition" => self.entry_condition(&v).is_some(),
                        _ => record::event(zone, &v).is_some_and(|e| {
                            e.codes
                                .iter()
                                .any(|c| entry.contains(&(c.system.clone(), c.code.clone())))
                        }),
                    };
                    if hit {
                        candidates.extend(h.patients.iter().cloned());
                    }
                }
                cursor = next;
            }
        }
        // Cases no longer found are dropped.
        let mut rebuilt: HashMap<String, Arc<Case>> = HashMap::new();
        let mut written = 0;
        for chunk in candidates.iter().collect::<Vec<_>>().chunks(200) {
            let mut entries = Vec::new();
            let mut owners = Vec::new();
            let mut built = Vec::new();
            for p in chunk {
                let (case, e) = self.rebuild(p)?;
                owners.extend(std::iter::repeat_n(p.to_string(), e.len()));
                entries.extend(e);
                built.push(((*p).clone(), case));
            }
            written += entries.len();
            let results = if entries.is_empty() {
                Vec::new()
            } else {
                self.store
                    .write(&Access::system(), entries, Mode::Independent)?
            };
            let mut cases: HashMap<String, Case> = built
                .into_iter()
                .filter_map(|(p, c)| c.map(|c| (p, c)))
                .collect();
            note_versions(&mut cases, &owners, results);
            for (p, c) in cases {
                rebuilt.insert(p, Arc::new(c));
            }
        }
        let active = rebuilt.values().filter(|c| c.active()).count();
        let patients = rebuilt.len();
        if let Ok(mut c) = self.cases.write() {
            *c = rebuilt;
        }
        let written = written + self.write_reports()?;
        self.store.save_checkpoint(CONSUMER, from)?;
        self.processed.mark(from);
        let r = RunReport {
            on,
            patients,
            active,
            written,
            millis: started.elapsed().as_millis(),
        };
        if let Ok(mut l) = self.last_run.lock() {
            *l = Some(r.clone());
        }
        Ok(r)
    }

    /// Every case evaluated again at now (the date changed): the writes are made, the
    /// cases replaced.
    pub fn recompute_all(&self) -> Result<RunReport, Error> {
        let _one = self
            .stepping
            .lock()
            .map_err(|_| Error::Invalid("poisoned".into()))?;
        let started = Instant::now();
        let now = self.now();
        self.learn();
        let mut cases: Vec<Case> = self.cases().iter().map(|c| (**c).clone()).collect();
        let (owners, entries): (Vec<String>, Vec<Entry>) = self
            .recompute_parallel(&mut cases, now, |patient, entries, out| {
                out.extend(entries.into_iter().map(|e| (patient.to_string(), e)));
            })
            .into_iter()
            .unzip();
        let written = entries.len();
        let results = if entries.is_empty() {
            Vec::new()
        } else {
            self.store
                .write(&Access::system(), entries, Mode::Independent)?
        };
        let mut by: HashMap<String, Case> =
            cases.into_iter().map(|c| (c.patient.clone(), c)).collect();
        note_versions(&mut by, &owners, results);
        let active = by.values().filter(|c| c.active()).count();
        let patients = by.len();
        self.set_cases(by.into_values().collect());
        let written = written + self.write_reports()?;
        let r = RunReport {
            on: now.date_naive(),
            patients,
            active,
            written,
            millis: started.elapsed().as_millis(),
        };
        if let Ok(mut l) = self.last_run.lock() {
            *l = Some(r.clone());
        }
        Ok(r)
    }

    /// Evaluate cases at `now` on every core; returns how many writes they need.
    pub fn recompute_cases(&self, cases: &mut [Case], now: DateTime<FixedOffset>) -> usize {
        self.recompute_parallel(cases, now, |_, entries, out| out.push(entries.len()))
            .into_iter()
            .sum()
    }

    /// Evaluate cases at `now` on every core, handing each case's writes to `keep` on the
    /// thread that made them (what is not kept is freed there).
    fn recompute_parallel<T: Send>(
        &self,
        cases: &mut [Case],
        now: DateTime<FixedOffset>,
        keep: impl Fn(&str, Vec<Entry>, &mut Vec<T>) + Sync,
    ) -> Vec<T> {
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .max(1);
        let chunk = cases.len().div_ceil(threads).max(1);
        let keep = &keep;
        std::thread::scope(|s| {
            let handles: Vec<_> = cases
                .chunks_mut(chunk)
                .map(|part| {
                    s.spawn(move || {
                        let mut out = Vec::new();
                        for c in part.iter_mut() {
                            let entries = self.recompute(c, now);
                            keep(&c.patient, entries, &mut out);
                        }
                        out
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_default())
                .collect()
        })
    }

    /// Replace the in-memory cases (benchmarks and tests).
    pub fn set_cases(&self, cases: Vec<Case>) {
        if let Ok(mut all) = self.cases.write() {
            *all = cases
                .into_iter()
                .map(|c| (c.patient.clone(), Arc::new(c)))
                .collect();
        }
    }

    fn entry_condition(&self, c: &Value) -> Option<String> {
        self.entry_conditions(c).into_iter().next()
    }

    /// The pathways a Condition puts its patient on (its codes, and the entry's window on
    /// the diagnosis's onset or, without one, when it was recorded).
    fn entry_conditions(&self, c: &Value) -> Vec<String> {
        if c["verificationStatus"]["coding"][0]["code"]
            .as_str()
            .is_some_and(|s| s == "refuted" || s == "entered-in-error")
        {
            return Vec::new();
        }
        let Some(codings) = c["code"]["coding"].as_array() else {
            return Vec::new();
        };
        let when = c["onsetDateTime"]
            .as_str()
            .or_else(|| c["recordedDate"].as_str())
            .and_then(|s| record::at(self.config.zone, s));
        self.config
            .site
            .pathways
            .iter()
            .filter(|e| {
                codings.iter().any(|x| {
                    e.entry_conditions.iter().any(|m| {
                        m.matches(
                            x["system"].as_str().unwrap_or(""),
                            x["code"].as_str().unwrap_or(""),
                        )
                    })
                })
            })
            .filter(|e| self.recent(e, when))
            .map(|e| e.pathway.clone())
            .collect()
    }

    /// Whether an entry event at `when` is within the entry's window (no window: always).
    fn recent(&self, e: &crate::site::Entry, when: Option<DateTime<FixedOffset>>) -> bool {
        match (e.within_days, when) {
            (None, _) => true,
            (Some(days), Some(t)) => (self.today() - t.date_naive()).num_days() <= days,
            (Some(_), None) => false,
        }
    }

    /// Handle one batch of the change log.
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
        let mut patients: Vec<String> = Vec::new();
        let mut seen = HashSet::new();
        for v in &log {
            let relevant = v.rtype == "Patient" || RECORD_TYPES.contains(&v.rtype.as_str());
            if !relevant {
                continue;
            }
            // Vital signs and other readings of patients not on a pathway: only a Patient,
            // an entry resource or a known case's record matter.
            for p in &v.patients {
                if seen.contains(p) {
                    continue;
                }
                let known = self.case(p).is_some();
                let entering = matches!(v.rtype.as_str(), "ServiceRequest" | "Condition");
                if known || entering {
                    seen.insert(p.clone());
                    patients.push(p.clone());
                }
            }
        }
        let mut entries = Vec::new();
        let mut owners = Vec::new();
        let mut built = Vec::new();
        for p in &patients {
            let (case, e) = self.rebuild(p)?;
            owners.extend(std::iter::repeat_n(p.clone(), e.len()));
            entries.extend(e);
            built.push((p.clone(), case));
        }
        let results = if entries.is_empty() {
            self.store.save_checkpoint(CONSUMER, last)?;
            Vec::new()
        } else {
            self.store
                .write_consumed(entries, Mode::Independent, CONSUMER, last)?
        };
        let mut cases: HashMap<String, Case> = built
            .iter()
            .filter_map(|(p, c)| c.clone().map(|c| (p.clone(), c)))
            .collect();
        note_versions(&mut cases, &owners, results);
        if let Ok(mut all) = self.cases.write() {
            for (p, c) in built {
                match cases.remove(&p) {
                    Some(c2) => {
                        all.insert(p, Arc::new(c2));
                    }
                    None if c.is_none() => {
                        all.remove(&p);
                    }
                    None => {}
                }
            }
        }
        self.processed.mark(last);
        Ok(log.len())
    }

    pub(crate) fn search_patient(&self, rtype: &str, patient: &str) -> Result<Vec<Value>, Error> {
        let param = match rtype {
            "Task" => "patient",
            "Communication" | "CareTeam" => "subject",
            "Appointment" => "actor",
            _ => "patient",
        };
        let q = query(rtype, &[(param, format!("Patient/{patient}"))])?;
        Ok(store::search_all(&*self.store, &Access::system(), q)?
            .iter()
            .filter_map(body)
            .collect())
    }

    /// Read one patient's record and stored state, evaluate their pathways now, and return
    /// the case (none: not on a pathway) with the writes that bring the stored state up to
    /// date.
    pub(crate) fn rebuild(&self, patient: &str) -> Result<(Option<Case>, Vec<Entry>), Error> {
        let zone = self.config.zone;
        let now = self.now();
        let p = self
            .store
            .read(&Access::system(), "Patient", patient)?
            .filter(|v| v.op != Op::Delete)
            .and_then(|v| v.body)
            .and_then(|b| serde_json::from_str::<Value>(&b).ok());
        // Stored derived resources.
        let mut stored: HashMap<String, (i64, Value)> = HashMap::new();
        let keep = |v: Value, stored: &mut HashMap<String, (i64, Value)>| {
            let version = v["meta"]["versionId"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            let key = format!(
                "{}/{}",
                v["resourceType"].as_str().unwrap_or(""),
                v["id"].as_str().unwrap_or("")
            );
            stored.insert(key, (version, v));
        };
        for e in self.search_patient("EpisodeOfCare", patient)? {
            if e["identifier"][0]["system"] == codes::EPISODE_ID {
                keep(e, &mut stored);
            }
        }
        let entry = self.entry_codes();
        let mut events: Vec<Event> = Vec::new();
        let mut applies: BTreeSet<String> = BTreeSet::new();
        let mut referrals = Vec::new();
        let mut site: Option<String> = None;
        let mut cancer_site: Option<String> = None;
        // Conditions' codes by reference, for what an Observation is about (a stage's
        // cancer, `Observation.focus`).
        let mut conditions: HashMap<String, Vec<pathways::Coding>> = HashMap::new();
        for rtype in ["ServiceRequest", "Condition"] {
            for r in self.search_patient(rtype, patient)? {
                if rtype == "Condition" {
                    applies.extend(self.entry_conditions(&r));
                    let mut cs = Vec::new();
                    pathways::fhir::codings(&r["code"], &mut cs);
                    conditions.insert(
                        format!("Condition/{}", r["id"].as_str().unwrap_or_default()),
                        cs,
                    );
                    if cancer_site.is_none() {
                        cancer_site = self.tumour_site(&r["code"]);
                    }
                }
                if let Some(e) = record::event(zone, &r) {
                    if rtype == "ServiceRequest"
                        && e.codes
                            .iter()
                            .any(|c| entry.contains(&(c.system.clone(), c.code.clone())))
                    {
                        referrals
                            .push(format!("ServiceRequest/{}", r["id"].as_str().unwrap_or("")));
                        if site.is_none() {
                            site = self.tumour_site(&r["code"]);
                        }
                    }
                    events.push(e);
                }
            }
        }
        for e in &self.config.site.pathways {
            let Some(pw) = self.config.pathways.pathway(&e.pathway) else {
                continue;
            };
            let entered = events.iter().any(|ev| {
                self.recent(e, Some(ev.time))
                    && e.entry_milestones.iter().any(|m| {
                        pw.milestone(m).is_some_and(|m| {
                            m.evidence.iter().any(|x| {
                                x.resource == resource_of(ev)
                                    && x.codes.iter().any(|c| {
                                        ev.codes
                                            .iter()
                                            .any(|k| k.system == c.system && k.code == c.code)
                                    })
                            })
                        })
                    })
            });
            if entered {
                applies.insert(e.pathway.clone());
            }
        }
        let Some(p) = p.filter(|_| !applies.is_empty()) else {
            // Not on a pathway (any more): remove what was stored.
            let mut deletes = Vec::new();
            for t in self.search_patient("Task", patient)? {
                if record::is_nav(&t, codes::MILESTONE) {
                    keep(t, &mut stored);
                }
            }
            if let Some(v) =
                self.store
                    .read(&Access::system(), "CareTeam", &shape::team_id(patient))?
            {
                if v.op != Op::Delete {
                    stored.insert(format!("CareTeam/{}", v.id), (v.version, Value::Null));
                }
            }
            for key in stored.keys() {
                let (rtype, id) = key.split_once('/').unwrap_or_default();
                deletes.push(Entry {
                    full_url: None,
                    op: WriteOp::Delete {
                        rtype: rtype.into(),
                        id: id.into(),
                    },
                });
            }
            return Ok((None, deletes));
        };
        // The rest of the record, each type read once: events for the engine, and the
        // navigators' own records (hand entries, adjustments, assignments, contacts) and the
        // social-needs answers beside them.
        let mut navigator_events = Vec::new();
        let mut adjustments = Vec::new();
        let mut assignments = Vec::new();
        let mut contacts = Vec::new();
        let mut needs: Vec<&'static str> = Vec::new();
        for rtype in RECORD_TYPES {
            if matches!(*rtype, "ServiceRequest" | "Condition") {
                continue;
            }
            for r in self.search_patient(rtype, patient)? {
                match *rtype {
                    "Task" if record::is_nav(&r, codes::MILESTONE) => {
                        if let Some((pw, _, e)) = record::navigator_entry(zone, &r) {
                            navigator_events.push((pw, e));
                        }
                        keep(r, &mut stored);
                    }
                    "Task" if record::is_nav(&r, codes::ADJUST) => {
                        adjustments.extend(record::adjustment(zone, &r));
                    }
                    "Task" => assignments.extend(record::assignment(zone, &r)),
                    "Communication" if record::is_nav(&r, codes::CONTACT) => {
                        contacts.extend(record::contact(zone, &r));
                    }
                    _ => {
                        let Some(mut e) = record::event(zone, &r) else {
                            continue;
                        };
                        if *rtype == "Observation" {
                            if let Some(b) = record::barrier(&r).filter(|b| !needs.contains(b)) {
                                needs.push(b);
                            }
                            for f in r["focus"].as_array().into_iter().flatten() {
                                if let Some(cs) =
                                    f["reference"].as_str().and_then(|x| conditions.get(x))
                                {
                                    e.focus.extend(cs.iter().cloned());
                                }
                            }
                        }
                        events.push(e);
                    }
                }
            }
        }
        assignments.sort_by_key(|a| a.at);
        contacts.sort_by_key(|c| c.at);
        let person = record::person(&p);
        let mut barriers = Vec::new();
        if person.interpreter {
            barriers.push(format!(
                "interpreter needed ({})",
                person
                    .language
                    .clone()
                    .unwrap_or_else(|| "language not recorded".into())
            ));
        } else if let Some(l) = &person.language {
            barriers.push(format!("speaks {l}"));
        }
        barriers.extend(needs.into_iter().map(str::to_string));
        if let Some(v) = self
            .store
            .read(&Access::system(), "CareTeam", &shape::team_id(patient))?
        {
            if let (Some(b), Op::Create | Op::Update) = (v.body, v.op) {
                if let Ok(val) = serde_json::from_str::<Value>(&b) {
                    stored.insert(format!("CareTeam/{}", v.id), (v.version, val));
                }
            }
        }
        let stored_manager = stored
            .iter()
            .filter(|(k, _)| k.starts_with("EpisodeOfCare/"))
            .find_map(|(_, (_, v))| v["careManager"]["reference"].as_str().map(str::to_string));
        let navigator = assignments
            .last()
            .map(|a| a.navigator.clone())
            .or(stored_manager)
            .or_else(|| self.least_loaded());
        let mut case = Case {
            patient: patient.to_string(),
            person,
            barriers,
            site: cancer_site.or(site),
            referrals,
            episodes: applies
                .iter()
                .filter_map(|id| {
                    let pw = self.config.pathways.pathway(id)?;
                    Some(Episode {
                        pathway: id.clone(),
                        title: pw.title.clone(),
                        id: shape::episode_id(patient, id),
                        evaluation: pathways::evaluate(pw, &[], &[], now),
                        predictions: Vec::new(),
                        active: true,
                        start: None,
                        end: None,
                    })
                })
                .collect(),
            contacts,
            assignments,
            navigator,
            events,
            navigator_events,
            adjustments,
            stored,
            fingerprint: 0,
        };
        let entries = self.recompute(&mut case, now);
        Ok((Some(case), entries))
    }

    fn tumour_site(&self, concept: &Value) -> Option<String> {
        concept["coding"].as_array()?.iter().find_map(|c| {
            self.config
                .site
                .tumour_site(c["system"].as_str()?, c["code"].as_str()?)
                .map(str::to_string)
        })
    }

    /// The team's navigator with the fewest active cases (ties: by name).
    fn least_loaded(&self) -> Option<String> {
        let team = self.team();
        let cases = self.cases.read().ok()?;
        team.iter()
            .min_by_key(|(p, _)| {
                cases
                    .values()
                    .filter(|c| c.active() && c.navigator.as_deref() == Some(p.as_str()))
                    .count()
            })
            .map(|(p, _)| p.clone())
    }

    /// Evaluate a case's pathways at `now` and return the writes that bring its stored
    /// resources up to date (none when nothing changed).
    pub fn recompute(&self, case: &mut Case, now: DateTime<FixedOffset>) -> Vec<Entry> {
        for ep in &mut case.episodes {
            let Some(pw) = self.config.pathways.pathway(&ep.pathway) else {
                continue;
            };
            let own: Vec<Event> = case
                .navigator_events
                .iter()
                .filter(|(p, _)| *p == ep.pathway)
                .map(|(_, e)| e.clone())
                .collect();
            let merged;
            let events: &[Event] = if own.is_empty() {
                &case.events
            } else {
                merged = [case.events.as_slice(), own.as_slice()].concat();
                &merged
            };
            let adjustments: Vec<Adjustment> = case
                .adjustments
                .iter()
                .filter(|(p, _)| *p == ep.pathway)
                .map(|(_, a)| a.clone())
                .collect();
            let mut ev = pathways::evaluate(pw, events, &adjustments, now);
            pathways::apply_age(pw, &mut ev, case.person.birth_date);
            let preds = predict(pw, &ev, &self.site_now());
            let start = ev
                .milestones
                .iter()
                .filter_map(|m| m.done.first().map(|c| c.at))
                .min();
            let end = ev.ending.as_ref().map(|e| e.at).or_else(|| {
                ev.milestones
                    .iter()
                    .filter_map(|m| m.done.last().map(|c| c.at))
                    .max()
            });
            let open = ev.clocks.iter().any(|c| c.is_open());
            let started = ev.clocks.iter().any(|c| c.start.is_some());
            // Every standard found not to apply (e.g. a stage IV cancer for the CoC
            // measures): nothing to wait for.
            let none_apply = !ev.clocks.is_empty()
                && ev
                    .clocks
                    .iter()
                    .all(|c| c.status == pathways::ClockStatus::NotApplicable);
            ep.active = ev.ending.is_none()
                && (open || ev.next_step.is_some() || (!started && !none_apply));
            ep.start = start;
            ep.end = end;
            ep.evaluation = ev;
            ep.predictions = preds;
        }
        // What the stored resources say, in one number: when it is what was last built,
        // there is nothing to write (most cases on most days).
        let fingerprint = fingerprint(case);
        if fingerprint == case.fingerprint {
            return Vec::new();
        }
        case.fingerprint = fingerprint;
        let mut desired: Vec<Value> = Vec::new();
        for ep in &case.episodes {
            let Some(pw) = self.config.pathways.pathway(&ep.pathway) else {
                continue;
            };
            let ev = &ep.evaluation;
            desired.push(shape::episode(
                pw,
                ev,
                &ep.predictions,
                &EpisodeFacts {
                    patient: &case.patient,
                    site: case.site.as_deref(),
                    navigator: case.navigator.as_deref(),
                    referrals: &case.referrals,
                    active: ep.active,
                    start: ep.start,
                    end: ep.end,
                },
            ));
            for m in &ev.milestones {
                let id = shape::milestone_id(&case.patient, &pw.id, &m.id);
                let stored = case.stored.get(&format!("Task/{id}")).map(|(_, v)| v);
                // A step not needed is written only to say so where it was written before.
                if m.status == MilestoneStatus::NotNeeded && m.done.is_empty() && stored.is_none() {
                    continue;
                }
                desired.push(shape::milestone_task(&case.patient, pw, m, stored));
            }
        }
        if let Some(n) = &case.navigator {
            desired.push(shape::care_team(&case.patient, n, case.active()));
        }
        let mut entries = Vec::new();
        let mut wanted = HashSet::new();
        for d in desired {
            let rtype = d["resourceType"].as_str().unwrap_or_default().to_string();
            let id = d["id"].as_str().unwrap_or_default().to_string();
            let key = format!("{rtype}/{id}");
            wanted.insert(key.clone());
            let (if_match, same) = match case.stored.get(&key) {
                Some((v, s)) => (Some(v.to_string()), shape::comparable(s) == d),
                None => (None, false),
            };
            if same {
                continue;
            }
            // Tasks a navigator may have just written are replaced only at the version read.
            let if_match = if rtype == "Task" { if_match } else { None };
            entries.push(Entry {
                full_url: None,
                op: WriteOp::Update {
                    rtype,
                    id,
                    resource: d,
                    if_match,
                },
            });
        }
        for key in case.stored.keys() {
            if !wanted.contains(key) {
                let (rtype, id) = key.split_once('/').unwrap_or_default();
                entries.push(Entry {
                    full_url: None,
                    op: WriteOp::Delete {
                        rtype: rtype.into(),
                        id: id.into(),
                    },
                });
            }
        }
        entries
    }
}

/// Everything the derived resources of a case are made of (not the days left, which change
/// daily without changing them), hashed.
fn fingerprint(c: &Case) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (&c.navigator, &c.site, &c.referrals, c.stored.len()).hash(&mut h);
    for ep in &c.episodes {
        (&ep.pathway, ep.active, ep.start, ep.end).hash(&mut h);
        for m in &ep.evaluation.milestones {
            (&m.id, m.status as u8, m.deadline, m.late).hash(&mut h);
            if let Some(d) = m.done.first() {
                (d.at, &d.source, &d.recorded_by, d.manual).hash(&mut h);
            }
        }
        for k in &ep.evaluation.clocks {
            (
                &k.clock,
                &k.link,
                k.status as u8,
                k.start,
                k.stop,
                k.deadline,
                k.target,
            )
                .hash(&mut h);
        }
        for p in &ep.predictions {
            (&p.clock, &p.link, p.risk, &p.reason).hash(&mut h);
        }
    }
    h.finish().max(1)
}

fn resource_of(e: &Event) -> pathways::ResourceType {
    match &e.kind {
        pathways::EventKind::Resource(r) => *r,
        pathways::EventKind::Navigator { .. } => pathways::ResourceType::Communication,
    }
}

/// Keep the versions the store gave the derived resources just written.
fn note_versions(
    cases: &mut HashMap<String, Case>,
    owners: &[String],
    results: Vec<Result<store::Outcome, store::StoreError>>,
) {
    for (owner, r) in owners.iter().zip(results) {
        let Some(case) = cases.get_mut(owner) else {
            continue;
        };
        match r {
            Ok(store::Outcome::Deleted(Some(v))) => {
                case.stored.remove(&format!("{}/{}", v.rtype, v.id));
            }
            Ok(o) => {
                if let Some(v) = o.version() {
                    let body = v
                        .body
                        .as_deref()
                        .and_then(|b| serde_json::from_str(b).ok())
                        .unwrap_or(Value::Null);
                    case.stored
                        .insert(format!("{}/{}", v.rtype, v.id), (v.version, body));
                }
            }
            Err(e) => {
                // Built again (and retried) at the next recomputation.
                case.fingerprint = 0;
                tracing::warn!(error = %e, "a navigation write was refused");
            }
        }
    }
}

impl store::Consumer for Navigation {
    fn name(&self) -> &str {
        CONSUMER
    }
    fn step(&self) -> Result<usize, Box<dyn std::error::Error + Send + Sync>> {
        Ok(self.follow()?)
    }
    fn progress(&self) -> &store::Progress {
        &self.processed
    }
    fn idle_wait(&self) -> Duration {
        Duration::from_secs(1)
    }
}
