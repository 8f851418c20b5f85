//! The evaluator: a change-log consumer that scores observation sets and manages alerts.
//!
//! Per batch of the change log: vital-sign readings and panels are grouped into sets
//! (panel members form one set; readings posted one by one join the patient's set whose
//! first reading is at most the window earlier, or start a new one); every touched set is
//! (re)scored from its current readings, with NEWS2, qSOFA and SIRS for an adult or the
//! national PEWS for a child (see [`Age`]); the patient's latest set decides the alert; labs
//! re-score the latest set (SIRS); alert Tasks closed through the FHIR API close their
//! Flag. All writes of a batch commit together with the consumer's checkpoint.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use rules::observation::{self, Parsed};
use rules::pews::{self, AgeBand, CivilDate};
use rules::{Action, Scale, Timed, Trigger};
use search::{Registry, SearchQuery};
use serde_json::Value;
use store::{Clock, Entry, Mode, Op, Store, Version, WriteOp};

use crate::alert::{self, AlertView, Lifecycle};
use crate::codes::{self, ScoreKind};
use crate::score::{self, News2Extras, PewsExtras, SetRef};
use crate::{Config, Error};

/// The evaluator's name in the change-log checkpoints.
pub const CONSUMER: &str = "early-warning";

/// Most change-log entries read per batch.
const BATCH: usize = 1000;

/// The early-warning service over one store.
pub struct EarlyWarning {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) config: Config,
    pub(crate) clock: Arc<dyn Clock>,
    processed: store::Progress,
    /// One batch at a time (the thread, or a test calling [`EarlyWarning::step`]).
    stepping: Mutex<()>,
    stop: AtomicBool,
    /// The evaluator's runner, once started.
    runner: OnceLock<store::Runner>,
    wards: Mutex<HashMap<String, Option<String>>>,
    /// SpO2 scale per patient, dropped when one of the patient's Goals changes.
    scales: Mutex<HashMap<String, Scale>>,
    /// Birth dates per patient (None: not known), dropped when the Patient changes.
    births: Mutex<HashMap<String, Option<CivilDate>>>,
    /// Patients known to have no labs for SIRS, dropped when a lab arrives.
    no_labs: Mutex<HashSet<String>>,
    /// The latest stored NEWS2 totals per patient, for trends.
    recent: Mutex<HashMap<String, Recent>>,
}

/// A patient's newest stored NEWS2 totals: (time, total, score id), oldest first.
#[derive(Debug, Clone, Default)]
struct Recent {
    items: Vec<(i64, u32, String)>,
    /// Whether `items` holds every stored score of the patient.
    complete: bool,
}

impl Recent {
    fn put(&mut self, t: i64, total: u32, id: String) {
        self.items.retain(|(_, _, i)| *i != id);
        self.items.push((t, total, id));
        self.items.sort_by_key(|(t, ..)| *t);
        if self.items.len() > RECENT {
            self.items.remove(0);
            self.complete = false;
        }
    }
}

/// Totals kept per patient for trends.
const RECENT: usize = 8;

/// A set to (re)score.
#[derive(Debug, Clone)]
struct Plan {
    key: String,
    subject: String,
    encounter: Option<String>,
    /// Set start for loose sets (the anchor); panels take their earliest reading.
    anchor_ms: Option<i64>,
    members: Vec<String>,
    /// meta.source of the readings, for "no oxygen reading = air" per feed.
    source: Option<String>,
    /// A set first seen in this batch: it has no stored scores to compare with.
    new: bool,
}

fn ms(s: &str) -> Option<i64> {
    search::date_range(s).map(|(start, _)| start)
}

fn query(rtype: &str, params: &[(&str, String)]) -> Result<SearchQuery, Error> {
    let params: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    SearchQuery::parse(Registry::r4(), rtype, &params).map_err(|e| Error::Invalid(e.to_string()))
}

fn body(v: &Version) -> Option<Value> {
    v.body.as_deref().and_then(|b| serde_json::from_str(b).ok())
}

fn put(resource: Value, if_match: Option<String>) -> Option<Entry> {
    Some(Entry {
        full_url: None,
        op: WriteOp::Update {
            rtype: resource["resourceType"].as_str()?.to_string(),
            id: resource["id"].as_str()?.to_string(),
            resource,
            if_match,
        },
    })
}

/// The content of a resource without what changes on every write.
fn content(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("meta");
        o.remove("issued");
    }
    v
}

impl EarlyWarning {
    pub fn new(store: Arc<dyn Store>, config: Config, clock: Arc<dyn Clock>) -> Arc<EarlyWarning> {
        Arc::new(EarlyWarning {
            store,
            config,
            clock,
            processed: store::Progress::default(),
            stepping: Mutex::new(()),
            stop: AtomicBool::new(false),
            runner: OnceLock::new(),
            wards: Mutex::new(HashMap::new()),
            scales: Mutex::new(HashMap::new()),
            births: Mutex::new(HashMap::new()),
            no_labs: Mutex::new(HashSet::new()),
            recent: Mutex::new(HashMap::new()),
        })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Start the evaluator (on the store's change-log runner: one process per database
    /// evaluates) and the escalation thread; they run until [`EarlyWarning::stop`].
    pub fn start(self: &Arc<Self>) {
        let runner = store::Runner::start(self.store.clone(), self.clone());
        if self.runner.set(runner).is_err() {
            return; // already started
        }
        let me = self.clone();
        std::thread::Builder::new()
            .name("tend-escalation".into())
            .spawn(move || {
                let every = Duration::from_secs(me.config.escalation_check_secs.max(1));
                while !me.stop.load(Ordering::Relaxed) {
                    // Escalation writes too: only where the evaluator runs.
                    let here = me.runner.get().is_some_and(|r| r.holds());
                    if here {
                        if let Err(e) = me.escalate_due() {
                            tracing::warn!(error = %e, "escalation check failed");
                        }
                    }
                    std::thread::sleep(every);
                }
            })
            .expect("spawn escalation thread");
    }

    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(r) = self.runner.get() {
            r.stop();
        }
    }

    /// The change-log position evaluated so far (here, or by the process that runs the
    /// evaluator for this database).
    pub fn processed(&self) -> i64 {
        self.processed.get()
    }

    /// Wait until the change log is evaluated up to `seq`; false on timeout.
    pub fn wait_processed(&self, seq: i64, timeout: Duration) -> bool {
        self.processed.wait(seq, timeout)
    }

    fn mark_processed(&self, seq: i64) {
        self.processed.mark(seq);
    }

    /// Evaluate until the change log is drained.
    pub fn catch_up(&self) -> Result<(), Error> {
        while self.step()? > 0 {}
        Ok(())
    }

    /// Evaluate one batch of the change log; returns how many entries it read.
    pub fn step(&self) -> Result<usize, Error> {
        let _one = self
            .stepping
            .lock()
            .map_err(|_| Error::Conflict("poisoned".into()))?;
        let from = self.store.checkpoint(CONSUMER)?;
        let log = self.store.log(from, BATCH)?;
        let Some(last) = log.last().map(|v| v.seq) else {
            self.mark_processed(from);
            return Ok(0);
        };
        let n = log.len();
        let t0 = std::time::Instant::now();
        let mut batch = Batch::new(self, &log);
        let entries = batch.evaluate()?;
        let t_eval = t0.elapsed();
        if entries.is_empty() {
            self.store.save_checkpoint(CONSUMER, last)?;
        } else {
            let results = self
                .store
                .write_consumed(entries, Mode::Independent, CONSUMER, last)?;
            for r in results {
                if let Err(e) = r {
                    tracing::warn!(error = %e, "an early-warning write was refused");
                }
            }
        }
        if t0.elapsed() > Duration::from_millis(100) {
            tracing::debug!(
                changes = n,
                evaluate_ms = t_eval.as_millis() as u64,
                total_ms = t0.elapsed().as_millis() as u64,
                "slow evaluation batch"
            );
        }
        self.mark_processed(last);
        Ok(n)
    }

    /// Resources matching a search, as Tend (the system): every match, page by page,
    /// unless `_count` asks for only the first N (the newest N with a `_sort`).
    pub(crate) fn search(
        &self,
        rtype: &str,
        params: &[(&str, String)],
    ) -> Result<Vec<Value>, Error> {
        let q = query(rtype, params)?;
        let system = store::Access::system();
        let hits = if params.iter().any(|(k, _)| *k == "_count") {
            self.store.search(&system, &q)?.matches
        } else {
            store::search_all(&*self.store, &system, q)?
        };
        hits.into_iter()
            .map(|h| serde_json::from_str(&h.body).map_err(|e| Error::Invalid(e.to_string())))
            .collect()
    }

    fn read(&self, rtype: &str, id: &str) -> Result<Option<Value>, Error> {
        Ok(self
            .store
            .read(&store::Access::system(), rtype, id)?
            .filter(|v| v.op != Op::Delete)
            .and_then(|v| body(&v)))
    }

    /// The ward (`Location/ID`) of an encounter: its active location of physical type
    /// ward, or the ward its bed or room is part of.
    pub fn ward_of(&self, encounter: &str) -> Option<String> {
        if let Some(w) = self.wards.lock().ok()?.get(encounter) {
            return w.clone();
        }
        let ward = self.resolve_ward(encounter);
        if let Ok(mut m) = self.wards.lock() {
            if m.len() > 100_000 {
                m.clear();
            }
            m.insert(encounter.to_string(), ward.clone());
        }
        ward
    }

    fn resolve_ward(&self, encounter: &str) -> Option<String> {
        let (_, id) = encounter.split_once('/')?;
        let enc = self.read("Encounter", id).ok()??;
        let locations: Vec<&Value> = enc["location"]
            .as_array()?
            .iter()
            .filter(|l| l["status"].as_str().is_none_or(|s| s == "active"))
            .collect();
        let is_ward = |l: &Value| {
            l["physicalType"]["coding"]
                .as_array()
                .is_some_and(|c| c.iter().any(|x| x["code"] == "wa"))
        };
        if let Some(w) = locations.iter().find(|l| is_ward(l)) {
            return w["location"]["reference"].as_str().map(str::to_string);
        }
        let first = locations.first()?["location"]["reference"].as_str()?;
        let (_, lid) = first.split_once('/')?;
        let loc = self.read("Location", lid).ok()??;
        if is_ward(&loc) {
            return Some(first.to_string());
        }
        loc["partOf"]["reference"].as_str().map(str::to_string)
    }

    fn cached_scale(&self, subject: &str, at_ms: i64) -> Result<Scale, Error> {
        if let Some(s) = self
            .scales
            .lock()
            .ok()
            .and_then(|m| m.get(subject).copied())
        {
            return Ok(s);
        }
        let s = self.scale_for(subject, at_ms)?;
        if let Ok(mut m) = self.scales.lock() {
            if m.len() > 100_000 {
                m.clear();
            }
            m.insert(subject.to_string(), s);
        }
        Ok(s)
    }

    fn forget_goals(&self, subject: Option<&str>) {
        if let Ok(mut m) = self.scales.lock() {
            match subject {
                Some(s) => {
                    m.remove(s);
                }
                None => m.clear(),
            }
        }
    }

    /// The patient's birth date (`Patient.birthDate`, a full date), cached.
    fn birth_date(&self, subject: &str) -> Result<Option<CivilDate>, Error> {
        if let Some(b) = self
            .births
            .lock()
            .ok()
            .and_then(|m| m.get(subject).copied())
        {
            return Ok(b);
        }
        let birth = match subject.split_once('/') {
            Some(("Patient", id)) => self
                .read("Patient", id)?
                .and_then(|p| p["birthDate"].as_str().and_then(CivilDate::parse)),
            _ => None,
        };
        if let Ok(mut m) = self.births.lock() {
            if m.len() > 100_000 {
                m.clear();
            }
            m.insert(subject.to_string(), birth);
        }
        Ok(birth)
    }

    fn forget_patient(&self, subject: &str) {
        if let Ok(mut m) = self.births.lock() {
            m.remove(subject);
        }
    }

    fn forget_encounter(&self, encounter: &str) {
        if let Ok(mut m) = self.wards.lock() {
            m.remove(encounter);
        }
    }

    /// Whether a Scale 2 prescription is in force for the patient: an active Goal whose
    /// target is SpO2 (59408-5 or 2708-6) 88–92 %, expressed by a Practitioner.
    fn scale_for(&self, subject: &str, at_ms: i64) -> Result<Scale, Error> {
        let goals = self.search(
            "Goal",
            &[
                ("subject", subject.to_string()),
                ("lifecycle-status", "active".into()),
            ],
        )?;
        let scale2 = goals.iter().any(|g| {
            let by_clinician = g["expressedBy"]["reference"]
                .as_str()
                .is_some_and(|r| r.starts_with("Practitioner/"));
            let started = g["startDate"]
                .as_str()
                .and_then(ms)
                .is_none_or(|s| s <= at_ms);
            let target = g["target"].as_array().into_iter().flatten().any(|t| {
                let spo2 = t["measure"]["coding"].as_array().is_some_and(|c| {
                    c.iter().any(|x| {
                        x["system"] == observation::LOINC
                            && (x["code"] == "59408-5" || x["code"] == "2708-6")
                    })
                });
                let low = &t["detailRange"]["low"]["value"];
                let high = &t["detailRange"]["high"]["value"];
                spo2 && low.as_f64() == Some(88.0) && high.as_f64() == Some(92.0)
            });
            by_clinician && started && target
        });
        Ok(if scale2 { Scale::Two } else { Scale::One })
    }

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

    fn change_alert(
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

fn check_actor(by: &str) -> Result<(), Error> {
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

/// One batch of the change log being evaluated.
struct Batch<'a> {
    ew: &'a EarlyWarning,
    log: &'a [Version],
    now: i64,
    /// Latest body in this batch of each `Observation/ID`.
    fresh: HashMap<String, Arc<Value>>,
    /// Score and alert resources to write, by `Type/ID` (the last wins).
    out: BTreeMap<String, (Value, Option<String>)>,
    /// Open alert per patient as this batch leaves it: (task, what raised it).
    open_alerts: HashMap<String, Option<(Value, Trigger)>>,
    /// `Observation/ID`s whose first version is in this batch.
    created: HashSet<String>,
    /// Sets whose scores are stored without comparing with a stored version.
    fresh_sets: HashSet<String>,
}

impl<'a> Batch<'a> {
    fn new(ew: &'a EarlyWarning, log: &'a [Version]) -> Batch<'a> {
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

    fn evaluate(&mut self) -> Result<Vec<Entry>, Error> {
        let ew = self.ew;
        // Panels in this batch claim their members.
        let mut claimed: HashSet<String> = HashSet::new();
        let mut plans: Vec<Plan> = Vec::new();
        let mut planned: HashSet<String> = HashSet::new();
        let mut loose: Vec<Loose> = Vec::new();
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
                "Patient" => ew.forget_patient(&format!("Patient/{}", v.id)),
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
        // Labs re-score the patient's latest set (SIRS).
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
    fn sync_flag(&mut self, v: &Version) -> Result<(), Error> {
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

    fn reading_body(&self, reference: &str) -> Result<Option<Arc<Value>>, Error> {
        if let Some(b) = self.fresh.get(reference) {
            return Ok(Some(b.clone()));
        }
        match reference.split_once('/') {
            Some(("Observation", id)) => Ok(self.ew.read("Observation", id)?.map(Arc::new)),
            _ => Ok(None),
        }
    }

    /// Stored NEWS2 or PEWS scores whose set includes `reference`, as plans.
    fn sets_containing(&self, reference: &str) -> Result<Vec<Plan>, Error> {
        let found = self.ew.search(
            "Observation",
            &[
                ("code", ScoreKind::set_score_tokens()),
                ("derived-from", reference.to_string()),
            ],
        )?;
        Ok(found.iter().filter_map(plan_of_score).collect())
    }

    fn in_a_stored_panel(&self, reference: &str) -> Result<bool, Error> {
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
    fn stored_loose_set(&self, subject: &str, t: i64) -> Result<Option<Plan>, Error> {
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

    fn latest_set(&self, subject: &str) -> Result<Option<Plan>, Error> {
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
    fn retire(&mut self, p: &Plan) {
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

    /// Score one set (without its trend); None when nothing is left of it.
    fn score(&mut self, p: &Plan) -> Result<Option<Prepared>, Error> {
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
    fn drop_scores(&mut self, p: &Plan, kinds: &[ScoreKind]) -> Result<(), Error> {
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
    fn store_scores(
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
    fn store_pews(
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
    fn previous_avpu(
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
    fn emit(&mut self, resource: Value) -> Result<(), Error> {
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

    fn labs(&self, subject: &str, at: i64) -> Result<Vec<Timed>, Error> {
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
    fn previous_totals(
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

    /// Whether no vital-sign reading of the patient is newer than the set.
    fn is_latest(&self, set: &SetRef) -> Result<bool, Error> {
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
    fn under_watch(&self, set: &SetRef) -> Result<bool, Error> {
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

    fn open_alert(&mut self, subject: &str) -> Result<Option<(Value, Trigger)>, Error> {
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
    fn decide_alert(&mut self, set: &SetRef, trigger: Trigger) -> Result<(), Error> {
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

/// A reading posted on its own: (subject, time, reference, encounter, source).
type Loose = (String, i64, String, Option<String>, Option<String>);

/// Which score a set gets, by the patient's age on the set's date.
///
/// NEWS2 is validated for adults of 16 and over (RCP 2017; NICE NG51); a child under 16 is
/// scored on the national PEWS chart of their age band (NHS England SPOT 2023), and qSOFA
/// and SIRS, adult sepsis screens (Sepsis-3; ACCP/SCCM 1992), are not computed. A patient
/// whose birth date is not known (none, a partial date, or after the set) is scored with
/// NEWS2: most patients are adults, and an unknown age must never silence scoring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Age {
    Child(AgeBand),
    Adult,
}

/// Age in completed months from which NEWS2 applies (16 years).
const ADULT_MONTHS: u32 = 16 * 12;

impl Age {
    fn of(birth: Option<CivilDate>, on: Option<CivilDate>) -> Age {
        match (birth, on) {
            (Some(b), Some(d)) => match pews::completed_months(b, d) {
                Some(m) if m < ADULT_MONTHS => Age::Child(AgeBand::of_months(m)),
                _ => Age::Adult,
            },
            _ => Age::Adult,
        }
    }
}

/// An adult set's scores.
struct Adult {
    news2: rules::Score,
    qsofa: rules::sepsis::Result,
    sirs: rules::sepsis::Result,
}

enum Scores {
    Adult(Adult),
    /// A child's PEWS inputs and chart, scored once the previous set's AVPU is known.
    Child {
        inputs: pews::Inputs,
        band: AgeBand,
    },
}

/// A set scored, before its trend is known.
struct Prepared {
    set: SetRef,
    scores: Scores,
    oxygen_basis: rules::OxygenBasis,
}

/// A stored NEWS2 or PEWS score back as a plan for its set.
fn plan_of_score(obs: &Value) -> Option<Plan> {
    let key = obs["identifier"]
        .as_array()?
        .iter()
        .find(|i| i["system"] == codes::SET_ID)?["value"]
        .as_str()?
        .to_string();
    let anchor_ms = if key.starts_with("loose:") {
        score::component(obs, "set-start")
            .and_then(|c| c["valueDateTime"].as_str())
            .and_then(ms)
    } else {
        None
    };
    Some(Plan {
        key,
        subject: obs["subject"]["reference"].as_str()?.to_string(),
        encounter: obs["encounter"]["reference"].as_str().map(str::to_string),
        anchor_ms,
        members: obs["derivedFrom"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["reference"].as_str().map(str::to_string))
            .collect(),
        source: None,
        new: false,
    })
}

impl store::Consumer for EarlyWarning {
    fn name(&self) -> &str {
        CONSUMER
    }
    fn step(&self) -> Result<usize, Box<dyn std::error::Error + Send + Sync>> {
        Ok(EarlyWarning::step(self)?)
    }
    fn progress(&self) -> &store::Progress {
        &self.processed
    }
}
