//! The population run: every patient, every rule, today.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use chrono::NaiveDate;
use prevention::{Extracted, Facts, Kind, Status};
use serde_json::Value;
use store::{Entry, Mode, WriteOp};

use crate::person::{self, age_band, Person};
use crate::resources::{self, Counts, OpenGap, Stratifier, OUTREACH_SYSTEM};
use crate::worklist::{Outreach, Row};
use crate::{CareGaps, Error, CONSUMER};

/// What a population run did.
#[derive(Debug, Clone, PartialEq)]
pub struct RunReport {
    pub on: NaiveDate,
    pub patients: usize,
    /// Records (resources) read besides Patients, and how many matched a rule's code sets.
    pub records: usize,
    pub items: usize,
    pub open: usize,
    /// Gaps written (new or changed) and deleted (closed).
    pub written: usize,
    pub deleted: usize,
    pub read_ms: u64,
    pub evaluate_ms: u64,
    pub write_ms: u64,
    pub millis: u64,
    /// Per rule: (rule id, counts).
    pub by_rule: Vec<(String, Counts)>,
}

const PAGE: usize = 5000;
const WRITE_CHUNK: usize = 5000;
const STRATIFIERS: [&str; 5] = ["Preferred language", "Race", "Ethnicity", "Sex", "Age band"];
const AGE_BANDS: [&str; 7] = [
    "under 18",
    "18–29",
    "30–39",
    "40–49",
    "50–64",
    "65–74",
    "75 and over",
];

/// Strata values interned to small numbers, per stratifier.
#[derive(Default)]
struct Strata {
    names: [Vec<String>; 5],
    ids: [HashMap<String, u16>; 5],
}

impl Strata {
    fn id(&mut self, s: usize, value: &str) -> u16 {
        if let Some(i) = self.ids[s].get(value) {
            return *i;
        }
        let i = self.names[s].len() as u16;
        self.names[s].push(value.to_string());
        self.ids[s].insert(value.to_string(), i);
        i
    }
}

struct Patient {
    facts: Facts,
    person: Arc<Person>,
    /// Stratum ids for language, race, ethnicity, sex (age band is computed on the day).
    strata: [u16; 4],
}

fn threads() -> usize {
    std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(1, 8)
}

/// Parse `bodies` on all cores with `f`.
fn parallel<T: Send>(bodies: &[String], f: impl Fn(&str) -> T + Sync) -> Vec<T> {
    let n = threads();
    if n == 1 || bodies.len() < 256 {
        return bodies.iter().map(|b| f(b)).collect();
    }
    let chunk = bodies.len().div_ceil(n);
    std::thread::scope(|s| {
        let handles: Vec<_> = bodies
            .chunks(chunk)
            .map(|c| s.spawn(|| c.iter().map(|b| f(b)).collect::<Vec<T>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}

impl CareGaps {
    fn scan_all(
        &self,
        rtype: &str,
        mut each: impl FnMut(Vec<String>) -> Result<(), Error>,
    ) -> Result<usize, Error> {
        let mut cursor = 0;
        let mut n = 0;
        loop {
            let (hits, next) = self.store.scan(rtype, cursor, PAGE)?;
            if hits.is_empty() {
                return Ok(n);
            }
            n += hits.len();
            each(hits.into_iter().map(|h| h.body).collect())?;
            cursor = next;
        }
    }

    /// Evaluate every patient today; write what changed; rebuild the worklist.
    pub fn run_population(&self) -> Result<RunReport, Error> {
        let _one = self
            .stepping
            .lock()
            .map_err(|_| Error::Invalid("poisoned".into()))?;
        let t0 = Instant::now();
        let seq0 = self.store.commits().latest();
        let on = self.today();

        // Patients and their strata.
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut patients: Vec<Patient> = Vec::new();
        let mut strata = Strata::default();
        self.scan_all("Patient", |bodies| {
            let parsed = parallel(&bodies, |b| {
                (self.rules.patient_facts(b).ok(), person::read(b))
            });
            for (facts, person) in parsed {
                let (Some(facts), Some(person)) = (facts, person) else {
                    continue;
                };
                let ids = [
                    strata.id(0, person.language_stratum()),
                    strata.id(1, &person.race),
                    strata.id(2, &person.ethnicity),
                    strata.id(3, &person.sex),
                ];
                index.insert(facts.patient.clone(), patients.len());
                patients.push(Patient {
                    facts,
                    person: Arc::new(person),
                    strata: ids,
                });
            }
            Ok(())
        })?;
        // Their records.
        let mut records = 0;
        let mut items = 0;
        for kind in Kind::ALL {
            records += self.scan_all(kind.as_str(), |bodies| {
                let parsed: Vec<Option<Extracted>> =
                    parallel(&bodies, |b| self.rules.extract(b).ok().flatten());
                for x in parsed.into_iter().flatten() {
                    if let Some(i) = index.get(&x.patient) {
                        items += x.items.len();
                        patients[*i].facts.items.extend(x.items);
                    }
                }
                Ok(())
            })?;
        }
        // What is stored: open gaps and the last outreach on each.
        let mut stored: HashMap<String, OpenGap> = HashMap::new();
        self.scan_all("DetectedIssue", |bodies| {
            for b in bodies {
                if let Some(g) = serde_json::from_str::<Value>(&b)
                    .ok()
                    .as_ref()
                    .and_then(OpenGap::read)
                {
                    stored.insert(g.id(), g);
                }
            }
            Ok(())
        })?;
        let mut outreach: HashMap<String, Outreach> = HashMap::new();
        self.scan_all("Task", |bodies| {
            for b in bodies.iter().filter(|b| b.contains(OUTREACH_SYSTEM)) {
                let Ok(v) = serde_json::from_str::<Value>(b) else {
                    continue;
                };
                let Some(gap) = v["focus"]["reference"]
                    .as_str()
                    .and_then(|r| r.strip_prefix("DetectedIssue/"))
                else {
                    continue;
                };
                if let Some(o) = crate::outreach_of(&v) {
                    if outreach.get(gap).is_none_or(|prev| prev.at <= o.at) {
                        outreach.insert(gap.to_string(), o);
                    }
                }
            }
            Ok(())
        })?;
        let read_ms = t0.elapsed().as_millis() as u64;

        // Evaluate on all cores.
        let t1 = Instant::now();
        let rules = self.rules.rules();
        let base: Vec<usize> = {
            let mut b = Vec::with_capacity(5);
            let mut at = 0;
            for s in 0..5 {
                b.push(at);
                at += if s == 4 {
                    AGE_BANDS.len()
                } else {
                    strata.names[s].len()
                };
            }
            b.push(at);
            b
        };
        let width = base[5];
        let n = threads();
        let chunk = patients.len().div_ceil(n).max(1);
        let results: Vec<(Vec<OpenGap>, Vec<Counts>, Vec<Counts>)> = std::thread::scope(|s| {
            let handles: Vec<_> = patients
                .chunks(chunk)
                .map(|part| {
                    let base = &base;
                    s.spawn(move || {
                        let mut open = Vec::new();
                        let mut totals = vec![Counts::default(); rules.len()];
                        let mut by_stratum = vec![Counts::default(); rules.len() * width];
                        for p in part {
                            let band = p
                                .facts
                                .birth_date
                                .map(|b| {
                                    AGE_BANDS
                                        .iter()
                                        .position(|x| *x == age_band(prevention::age_on(b, on)))
                                        .unwrap_or(0)
                                })
                                .unwrap_or(0);
                            let cells = [
                                base[0] + p.strata[0] as usize,
                                base[1] + p.strata[1] as usize,
                                base[2] + p.strata[2] as usize,
                                base[3] + p.strata[3] as usize,
                                base[4] + band,
                            ];
                            for (r, v) in self.rules.evaluate(&p.facts, on).into_iter().enumerate()
                            {
                                let add = |c: &mut Counts| match &v.status {
                                    Status::Due { .. } => {
                                        c.initial += 1;
                                        c.denominator += 1;
                                    }
                                    Status::Satisfied { .. } => {
                                        c.initial += 1;
                                        c.denominator += 1;
                                        c.numerator += 1;
                                    }
                                    Status::Excluded { .. } => {
                                        c.initial += 1;
                                        c.excluded += 1;
                                    }
                                    Status::NotApplicable(_) => {}
                                };
                                if matches!(v.status, Status::NotApplicable(_)) {
                                    continue;
                                }
                                add(&mut totals[r]);
                                for cell in cells {
                                    add(&mut by_stratum[r * width + cell]);
                                }
                                if let Status::Due { since, last } = &v.status {
                                    open.push(OpenGap {
                                        rule: v.rule.id.clone(),
                                        patient: p.facts.patient.clone(),
                                        since: *since,
                                        last_evidence: last.as_ref().map(|f| f.item.reference()),
                                    });
                                }
                            }
                        }
                        (open, totals, by_stratum)
                    })
                })
                .collect();
            handles.into_iter().filter_map(|h| h.join().ok()).collect()
        });
        let mut open: Vec<OpenGap> = Vec::new();
        let mut totals = vec![Counts::default(); rules.len()];
        let mut by_stratum = vec![Counts::default(); rules.len() * width];
        let merge = |a: &mut Counts, b: &Counts| {
            a.initial += b.initial;
            a.denominator += b.denominator;
            a.excluded += b.excluded;
            a.numerator += b.numerator;
        };
        for (o, t, s) in results {
            open.extend(o);
            for (a, b) in totals.iter_mut().zip(&t) {
                merge(a, b);
            }
            for (a, b) in by_stratum.iter_mut().zip(&s) {
                merge(a, b);
            }
        }
        let evaluate_ms = t1.elapsed().as_millis() as u64;

        // Write what changed, then the measure reports with the checkpoint.
        let t2 = Instant::now();
        // Built and written a chunk at a time, so a first run over a large population never
        // holds every gap's resource at once.
        let flush = |pending: &mut Vec<Entry>| -> Result<(), Error> {
            for r in self.store.write(
                &store::Access::system(),
                std::mem::take(pending),
                Mode::Independent,
            )? {
                if let Err(e) = r {
                    tracing::warn!(error = %e, "a care-gap write was refused");
                }
            }
            Ok(())
        };
        let mut entries: Vec<Entry> = Vec::new();
        let mut written = 0;
        for chunk in open.chunks(WRITE_CHUNK) {
            let mine: HashMap<String, OpenGap> = chunk
                .iter()
                .filter_map(|g| stored.get(&g.id()).map(|s| (g.id(), s.clone())))
                .collect();
            let changed = self.diff(chunk, &mine);
            written += changed.len();
            entries.extend(changed);
            if entries.len() >= WRITE_CHUNK {
                flush(&mut entries)?;
            }
        }
        let open_ids: std::collections::HashSet<String> = open.iter().map(OpenGap::id).collect();
        let mut deleted = 0;
        for id in stored.keys().filter(|id| !open_ids.contains(*id)) {
            deleted += 1;
            entries.push(Entry {
                full_url: None,
                op: WriteOp::Delete {
                    rtype: "DetectedIssue".into(),
                    id: id.clone(),
                },
            });
            if entries.len() >= WRITE_CHUNK {
                flush(&mut entries)?;
            }
        }
        let at = self.now();
        let mut reports = Vec::new();
        for (r, rule) in rules.iter().enumerate() {
            let strat: Vec<Stratifier<'_>> = (0..5)
                .map(|s| {
                    let names: Vec<&str> = if s == 4 {
                        AGE_BANDS.to_vec()
                    } else {
                        strata.names[s].iter().map(String::as_str).collect()
                    };
                    let mut values: Vec<(&str, Counts)> = names
                        .into_iter()
                        .enumerate()
                        .map(|(i, name)| (name, by_stratum[r * width + base[s] + i]))
                        .filter(|(_, c)| c.initial > 0)
                        .collect();
                    if s != 4 {
                        values.sort_by(|a, b| {
                            b.1.initial.cmp(&a.1.initial).then_with(|| a.0.cmp(b.0))
                        });
                    }
                    Stratifier {
                        name: STRATIFIERS[s],
                        strata: values,
                    }
                })
                .collect();
            let v = resources::measure_report(rule, on, at, totals[r], &strat);
            reports.push(Entry {
                full_url: None,
                op: WriteOp::Update {
                    rtype: "MeasureReport".into(),
                    id: v["id"].as_str().unwrap_or_default().to_string(),
                    resource: v,
                    if_match: None,
                },
            });
        }
        entries.extend(reports);
        let checkpoint = self.store.checkpoint(CONSUMER)?.max(seq0);
        for r in self
            .store
            .write_consumed(entries, Mode::Independent, CONSUMER, checkpoint)?
        {
            if let Err(e) = r {
                tracing::warn!(error = %e, "a care-gap write was refused");
            }
        }
        let write_ms = t2.elapsed().as_millis() as u64;

        // The worklist.
        let titles: HashMap<&str, (&str, &str)> = rules
            .iter()
            .map(|r| (r.id.as_str(), (r.title.as_str(), r.action.as_str())))
            .collect();
        let rows: Vec<Row> = open
            .iter()
            .filter_map(|g| {
                let p = &patients[*index.get(&g.patient)?];
                let (title, action) = titles.get(g.rule.as_str())?;
                Some(Row {
                    rule_title: (*title).to_string(),
                    action: (*action).to_string(),
                    person: p.person.clone(),
                    age: p.facts.birth_date.map(|b| prevention::age_on(b, on)),
                    outreach: outreach.get(&g.id()).cloned(),
                    gap: g.clone(),
                })
            })
            .collect();
        let open_count = rows.len();
        if let Ok(mut w) = self.worklist.write() {
            w.replace(rows);
        }
        self.mark_processed(checkpoint);
        let report = RunReport {
            on,
            patients: patients.len(),
            records,
            items,
            open: open_count,
            written,
            deleted,
            read_ms,
            evaluate_ms,
            write_ms,
            millis: t0.elapsed().as_millis() as u64,
            by_rule: rules
                .iter()
                .zip(totals)
                .map(|(r, c)| (r.id.clone(), c))
                .collect(),
        };
        if let Ok(mut g) = self.last_run.lock() {
            *g = Some(report.clone());
        }
        Ok(report)
    }
}
