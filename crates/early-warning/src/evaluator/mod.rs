//! The evaluator: a change-log consumer that scores observation sets and manages alerts.
//!
//! Per batch of the change log: vital-sign readings and panels are grouped into sets
//! (panel members form one set; readings posted one by one join the patient's set whose
//! first reading is at most the window earlier, or start a new one); every touched set is
//! (re)scored from its current readings, with NEWS2, qSOFA and SIRS for an adult or the
//! national PEWS for a child (see [`Age`]); the patient's latest set decides the alert; labs
//! re-score the latest set (SIRS); alert Tasks closed through the FHIR API close their
//! Flag. All writes of a batch commit together with the consumer's checkpoint.
//!
//! By job: this file holds the service, its lifecycle and the batch's state; `sets` groups a
//! batch's readings into sets; `scoring` scores and stores a set; `alerting` decides the
//! patient's alert; `actions` are the alert actions people take; `record` reads the record
//! (wards, SpO2 scale, birth dates) with its caches.

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

mod actions;
mod alerting;
mod record;
mod scoring;
mod sets;

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
