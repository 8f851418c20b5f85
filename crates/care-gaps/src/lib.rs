//! Care gaps over the store: the [`prevention`] rules run for every patient.
//!
//! - A **population run** ([`CareGaps::run_population`]) reads every Patient and every record
//!   a rule can use (store scans), evaluates all rules at today's date on all cores, writes
//!   what changed (new or changed gaps as `DetectedIssue`, closed gaps deleted), one
//!   `MeasureReport` per rule with equity strata, and rebuilds the worklist. It runs at
//!   start-up and again when the date changes (evidence expires with no new data).
//! - An **incremental step** ([`CareGaps::step`]) follows the change log: only the patients
//!   whose records changed are read and evaluated again, and their gaps are written with the
//!   consumer's checkpoint in the same commit.
//! - [`CareGaps::patient`] evaluates one patient live (chart, CDS Hooks), from the store or
//!   from resources given (CDS Hooks prefetch, another FHIR server).

mod person;
mod population;
mod resources;
mod worklist;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use prevention::{Kind, RuleSet, Status};
use search::{Registry, SearchQuery};
use serde_json::Value;
use store::{Clock, Entry, Mode, Op, Store, WriteOp};

pub use person::{age_band, Person};
pub use population::RunReport;
pub use resources::{gap_id, Counts, OpenGap, GAP_SYSTEM, MEASURE_BASE, OUTCOMES, OUTREACH_SYSTEM};
pub use worklist::{Outreach, Page, Query, Row};

/// The name of the care-gap consumer in the change-log checkpoints.
pub const CONSUMER: &str = "care-gaps";
const BATCH: usize = 500;

/// The crate's error type.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error(transparent)]
    Rules(#[from] prevention::RuleError),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("invalid request: {0}")]
    Invalid(String),
}

/// One rule's verdict for a patient, owned, for pages and cards.
#[derive(Debug, Clone, PartialEq)]
pub struct GapView {
    pub rule: String,
    pub title: String,
    /// `due`, `satisfied`, `excluded` or `not-applicable`.
    pub status: &'static str,
    pub since: Option<NaiveDate>,
    /// When satisfied: the day it is due again (`None` with `once`: never).
    pub expires: Option<NaiveDate>,
    pub once: bool,
    pub evidence: Option<EvidenceView>,
    /// Why excluded or not applicable.
    pub reason: Option<String>,
    pub summary: String,
    pub action: String,
    /// e.g. "USPSTF 2021, grade A (50–75), B (45–49)".
    pub source: String,
    pub statement: String,
    pub url: String,
}

/// The record behind a verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct EvidenceView {
    /// `Type/id`.
    pub reference: String,
    pub date: Option<NaiveDate>,
    /// The evidence kind (e.g. "Colonoscopy").
    pub name: String,
    pub patient_reported: bool,
}

/// Every rule's verdict for one patient on one day.
#[derive(Debug, Clone, PartialEq)]
pub struct PatientGaps {
    pub patient: String,
    pub on: NaiveDate,
    pub gaps: Vec<GapView>,
}

impl PatientGaps {
    pub fn due(&self) -> impl Iterator<Item = &GapView> {
        self.gaps.iter().filter(|g| g.status == "due")
    }
}

/// Verdicts as owned views.
pub fn views(rules: &RuleSet, facts: &prevention::Facts, on: NaiveDate) -> PatientGaps {
    let gaps = rules
        .evaluate(facts, on)
        .into_iter()
        .map(|v| {
            let r = v.rule;
            let mut g = GapView {
                rule: r.id.clone(),
                title: r.title.clone(),
                status: v.status.code(),
                since: None,
                expires: None,
                once: false,
                evidence: None,
                reason: None,
                summary: r.summary.clone(),
                action: r.action.clone(),
                source: format!("USPSTF {}, grade {}", r.source.year, r.source.grade),
                statement: r.source.statement.clone(),
                url: r.source.url.clone(),
            };
            let ev = |f: &prevention::Found<'_>| EvidenceView {
                reference: f.item.reference(),
                date: f.item.date,
                name: f.evidence.name.clone(),
                patient_reported: f.item.patient_reported,
            };
            match &v.status {
                Status::Due { since, last } => {
                    g.since = *since;
                    g.evidence = last.as_ref().map(ev);
                }
                Status::Satisfied { evidence, expires } => {
                    g.expires = *expires;
                    g.once = expires.is_none();
                    g.evidence = Some(ev(evidence));
                }
                Status::Excluded { reason, item } => {
                    g.reason = Some(reason.to_string());
                    g.evidence = item.map(|i| EvidenceView {
                        reference: i.reference(),
                        date: i.date,
                        name: reason.to_string(),
                        patient_reported: i.patient_reported,
                    });
                }
                Status::NotApplicable(why) => g.reason = Some(why.to_string()),
            }
            g
        })
        .collect();
    PatientGaps {
        patient: facts.patient.clone(),
        on,
        gaps,
    }
}

/// The care-gap service.
pub struct CareGaps {
    store: Arc<dyn Store>,
    rules: Arc<RuleSet>,
    clock: Arc<dyn Clock>,
    worklist: RwLock<worklist::Worklist>,
    /// One population run or incremental step at a time.
    stepping: Mutex<()>,
    /// The change-log runner, once started.
    runner: OnceLock<store::Runner>,
    processed: store::Progress,
    last_run: Mutex<Option<RunReport>>,
}

pub(crate) fn query(rtype: &str, params: &[(&str, String)]) -> Result<SearchQuery, Error> {
    let owned: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| ((*k).to_string(), v.clone()))
        .collect();
    SearchQuery::parse(Registry::r4(), rtype, &owned).map_err(|e| Error::Invalid(e.to_string()))
}

impl CareGaps {
    pub fn new(store: Arc<dyn Store>, rules: Arc<RuleSet>, clock: Arc<dyn Clock>) -> Arc<CareGaps> {
        Arc::new(CareGaps {
            store,
            rules,
            clock,
            worklist: RwLock::new(worklist::Worklist::default()),
            stepping: Mutex::new(()),
            runner: OnceLock::new(),
            processed: store::Progress::default(),
            last_run: Mutex::new(None),
        })
    }

    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.clock.now_ms()).unwrap_or_default()
    }

    /// The evaluation date: today (UTC).
    pub fn today(&self) -> NaiveDate {
        self.now().date_naive()
    }

    /// The last population run's report.
    pub fn last_run(&self) -> Option<RunReport> {
        self.last_run.lock().ok().and_then(|g| g.clone())
    }

    /// Start following the record (on the store's change-log runner: one process per
    /// database runs it): a population run now and whenever the date changes, incremental
    /// steps in between.
    pub fn start(self: &Arc<Self>) {
        let runner = store::Runner::start(self.store.clone(), self.clone());
        let _ = self.runner.set(runner);
    }

    pub fn stop(&self) {
        if let Some(r) = self.runner.get() {
            r.stop();
        }
    }

    /// A population run when none ran today, else an incremental step.
    fn follow(&self) -> Result<usize, Error> {
        let stale = self.last_run().is_none_or(|r| r.on != self.today());
        if !stale {
            return self.step();
        }
        let r = self.run_population()?;
        tracing::info!(
            patients = r.patients,
            open = r.open,
            written = r.written,
            ms = r.millis,
            "care-gap population run"
        );
        Ok(1)
    }

    /// The change-log position evaluated so far.
    pub fn processed(&self) -> i64 {
        self.processed.get()
    }

    /// Wait until the change log is evaluated up to `seq`; false on timeout.
    pub fn wait_processed(&self, seq: i64, timeout: Duration) -> bool {
        self.processed.wait(seq, timeout)
    }

    pub(crate) fn mark_processed(&self, seq: i64) {
        self.processed.mark(seq);
    }

    /// Evaluate until the change log is drained.
    pub fn catch_up(&self) -> Result<(), Error> {
        while self.step()? > 0 {}
        Ok(())
    }

    /// A patient's current resources of one kind.
    fn patient_resources(
        &self,
        kind: Kind,
        patient: &str,
        out: &mut Vec<String>,
    ) -> Result<(), Error> {
        let q = query(kind.as_str(), &[("patient", format!("Patient/{patient}"))])?;
        let hits = store::search_all(&*self.store, &store::Access::system(), q)?;
        out.extend(hits.into_iter().map(|h| h.body));
        Ok(())
    }

    /// A patient's Patient resource and the records the rules read, from the store.
    fn patient_record(&self, patient: &str) -> Result<Option<(String, Vec<String>)>, Error> {
        let Some(p) = self
            .store
            .read(&store::Access::system(), "Patient", patient)?
            .filter(|v| v.op != Op::Delete)
            .and_then(|v| v.body)
        else {
            return Ok(None);
        };
        let mut records = Vec::new();
        for kind in Kind::ALL {
            self.patient_resources(kind, patient, &mut records)?;
        }
        Ok(Some((p, records)))
    }

    /// Every rule's verdict for a patient in the store, today.
    pub fn patient(&self, patient: &str) -> Result<PatientGaps, Error> {
        let (p, records) = self
            .patient_record(patient)?
            .ok_or_else(|| Error::NotFound(format!("Patient/{patient}")))?;
        let facts = self.rules.facts(&p, records.iter().map(String::as_str))?;
        Ok(views(&self.rules, &facts, self.today()))
    }

    /// Every rule's verdict for a patient given as resources (JSON values), today.
    pub fn evaluate_resources(
        &self,
        patient: &Value,
        resources: &[Value],
    ) -> Result<PatientGaps, Error> {
        let texts: Vec<String> = resources.iter().map(Value::to_string).collect();
        let facts = self
            .rules
            .facts(&patient.to_string(), texts.iter().map(String::as_str))?;
        Ok(views(&self.rules, &facts, self.today()))
    }

    /// Open gaps, filtered.
    pub fn worklist(&self, q: &Query) -> Page {
        self.worklist.read().map(|w| w.query(q)).unwrap_or_default()
    }

    /// The patients on the outreach worklist (ids): those with an open gap.
    pub fn outreach_patients(&self) -> std::collections::BTreeSet<String> {
        self.worklist
            .read()
            .map(|w| w.patients())
            .unwrap_or_default()
    }

    /// One open gap of the worklist.
    pub fn gap(&self, id: &str) -> Option<Row> {
        self.worklist.read().ok().and_then(|w| w.row(id).cloned())
    }

    /// Record an outreach attempt on an open gap.
    pub fn record_outreach(
        &self,
        gap: &str,
        outcome: &str,
        note: Option<&str>,
        by: &str,
    ) -> Result<Outreach, Error> {
        let row = self
            .gap(gap)
            .ok_or_else(|| Error::NotFound(format!("open care gap {gap}")))?;
        let rule = self
            .rules
            .rule(&row.gap.rule)
            .ok_or_else(|| Error::NotFound(format!("rule {}", row.gap.rule)))?;
        let id = uuid::Uuid::new_v4().to_string();
        let at = self.now();
        let task = resources::outreach_task(&id, &row.gap, rule, outcome, note, by, at)
            .ok_or_else(|| Error::Invalid(format!("unknown outreach outcome '{outcome}'")))?;
        let outreach = outreach_of(&task).ok_or_else(|| Error::Invalid("outreach task".into()))?;
        let entry = Entry {
            full_url: None,
            op: WriteOp::Create {
                resource: task,
                id,
                if_none_exist: None,
            },
        };
        for r in self
            .store
            .write(&store::Access::system(), vec![entry], Mode::Atomic)?
        {
            r?;
        }
        if let Ok(mut w) = self.worklist.write() {
            w.set_outreach(gap, outreach.clone());
        }
        Ok(outreach)
    }

    /// Evaluate one batch of the change log: the patients whose records changed.
    pub fn step(&self) -> Result<usize, Error> {
        let _one = self
            .stepping
            .lock()
            .map_err(|_| Error::Invalid("poisoned".into()))?;
        let from = self.store.checkpoint(CONSUMER)?;
        let log = self.store.log(from, BATCH)?;
        let Some(last) = log.last().map(|v| v.seq) else {
            self.mark_processed(from);
            return Ok(0);
        };
        let mut patients: Vec<String> = Vec::new();
        let mut seen = HashSet::new();
        for v in &log {
            let id = if v.rtype == "Patient" {
                Some(v.id.clone())
            } else if Kind::of(&v.rtype).is_some() {
                let body = match &v.body {
                    Some(b) => Some(b.clone()),
                    // A deletion: the previous version names the patient.
                    None if v.version > 1 => self
                        .store
                        .vread(&store::Access::system(), &v.rtype, &v.id, v.version - 1)?
                        .and_then(|p| p.body),
                    None => None,
                };
                body.as_deref().and_then(subject_of)
            } else {
                None
            };
            if let Some(id) = id {
                if seen.insert(id.clone()) {
                    patients.push(id);
                }
            }
        }
        let mut entries = Vec::new();
        let mut rows = Vec::new();
        for p in &patients {
            let (e, r) = self.reevaluate(p)?;
            entries.extend(e);
            rows.push((p.clone(), r));
        }
        if entries.is_empty() {
            self.store.save_checkpoint(CONSUMER, last)?;
        } else {
            for r in self
                .store
                .write_consumed(entries, Mode::Independent, CONSUMER, last)?
            {
                if let Err(e) = r {
                    tracing::warn!(error = %e, "a care-gap write was refused");
                }
            }
        }
        if let Ok(mut w) = self.worklist.write() {
            for (p, r) in rows {
                w.set_patient(&p, r);
            }
        }
        self.mark_processed(last);
        Ok(log.len())
    }

    /// The writes that bring one patient's stored gaps up to date, and their worklist rows.
    fn reevaluate(&self, patient: &str) -> Result<(Vec<Entry>, Vec<Row>), Error> {
        let q = query(
            "DetectedIssue",
            &[
                ("patient", format!("Patient/{patient}")),
                ("code", format!("{GAP_SYSTEM}|")),
                ("_count", "100".into()),
            ],
        )?;
        let stored: HashMap<String, OpenGap> = self
            .store
            .search(&store::Access::system(), &q)?
            .matches
            .iter()
            .filter_map(|h| serde_json::from_str::<Value>(&h.body).ok())
            .filter_map(|v| OpenGap::read(&v))
            .map(|g| (g.id(), g))
            .collect();
        let today = self.today();
        let record = self.patient_record(patient)?;
        let mut open = Vec::new();
        let mut rows = Vec::new();
        if let Some((p, records)) = &record {
            let facts = self.rules.facts(p, records.iter().map(String::as_str))?;
            let person = Arc::new(person::read(p).unwrap_or_default());
            let age = person.birth_date.map(|b| prevention::age_on(b, today));
            for v in self.rules.evaluate(&facts, today) {
                if let Status::Due { since, last } = &v.status {
                    let gap = OpenGap {
                        rule: v.rule.id.clone(),
                        patient: patient.to_string(),
                        since: *since,
                        last_evidence: last.as_ref().map(|f| f.item.reference()),
                    };
                    let outreach = self
                        .worklist
                        .read()
                        .ok()
                        .and_then(|w| w.outreach_of(&gap.id()));
                    rows.push(Row {
                        gap: gap.clone(),
                        rule_title: v.rule.title.clone(),
                        action: v.rule.action.clone(),
                        person: person.clone(),
                        age,
                        outreach,
                    });
                    open.push(gap);
                }
            }
        }
        Ok((self.diff(&open, &stored), rows))
    }

    /// Writes turning `stored` gaps into `open` ones: new or changed gaps written, the rest
    /// deleted.
    pub(crate) fn diff(&self, open: &[OpenGap], stored: &HashMap<String, OpenGap>) -> Vec<Entry> {
        let mut entries = Vec::new();
        let mut keep = HashSet::new();
        for g in open {
            let id = g.id();
            if stored.get(&id) != Some(g) {
                if let Some(rule) = self.rules.rule(&g.rule) {
                    entries.push(Entry {
                        full_url: None,
                        op: WriteOp::Update {
                            rtype: "DetectedIssue".into(),
                            id: id.clone(),
                            resource: g.resource(rule),
                            if_match: None,
                        },
                    });
                }
            }
            keep.insert(id);
        }
        for id in stored.keys() {
            if !keep.contains(id) {
                entries.push(Entry {
                    full_url: None,
                    op: WriteOp::Delete {
                        rtype: "DetectedIssue".into(),
                        id: id.clone(),
                    },
                });
            }
        }
        entries
    }

    /// Open gaps on the worklist.
    pub fn open_gaps(&self) -> usize {
        self.worklist.read().map(|w| w.len()).unwrap_or_default()
    }
}

/// The patient a resource (JSON text) is about.
fn subject_of(json: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct R {
        subject: Option<Ref>,
        patient: Option<Ref>,
    }
    #[derive(serde::Deserialize)]
    struct Ref {
        reference: Option<String>,
    }
    let r: R = serde_json::from_str(json).ok()?;
    let reference = r.subject.or(r.patient)?.reference?;
    prevention::patient_id(&reference).map(str::to_string)
}

/// The last outreach an outreach Task records.
pub(crate) fn outreach_of(task: &Value) -> Option<Outreach> {
    let status = &task["businessStatus"]["coding"][0];
    Some(Outreach {
        task: task["id"].as_str()?.to_string(),
        at: task["lastModified"]
            .as_str()
            .or(task["authoredOn"].as_str())?
            .to_string(),
        outcome: status["code"].as_str()?.to_string(),
        outcome_display: status["display"].as_str().unwrap_or_default().to_string(),
        by: task["owner"]["display"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        note: task["note"][0]["text"].as_str().map(str::to_string),
    })
}

impl store::Consumer for CareGaps {
    fn name(&self) -> &str {
        CONSUMER
    }
    fn step(&self) -> Result<usize, Box<dyn std::error::Error + Send + Sync>> {
        Ok(self.follow()?)
    }
    fn progress(&self) -> &store::Progress {
        &self.processed
    }
    fn idle_wait(&self) -> std::time::Duration {
        std::time::Duration::from_secs(1)
    }
}
