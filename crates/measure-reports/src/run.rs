//! One run of the measure suite over the store, and the MeasureReports it writes.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use access::Access;
use chrono::{DateTime, Utc};
use measures::report::{by_period, quarter_of, Count};
use serde_json::{json, Value};
use store::{Entry, Mode, WriteOp};

use crate::{Error, MeasureReports, TAG, TAG_SYSTEM, UNIT_SYSTEM};

/// What a run did.
#[derive(Debug, Clone, PartialEq)]
pub struct Ran {
    pub at: DateTime<Utc>,
    /// Resources read.
    pub resources: usize,
    /// Rows the measures returned.
    pub rows: usize,
    /// Reports the run made, and how many of them were new or changed.
    pub reports: usize,
    pub written: usize,
    pub seconds: f64,
    /// Each view's and each measure's time.
    pub timing: Vec<measures::Timing>,
}

/// Equity reports are kept for this many quarters back.
const EQUITY_QUARTERS: usize = 8;
const PAGE: usize = 5000;

/// A unit (Location): its name.
#[derive(Debug, Clone, Default)]
pub(crate) struct UnitInfo {
    pub(crate) name: String,
}

/// The months (`YYYY-MM`) of a quarter (`YYYY-Qn`): first and last.
pub fn quarter_months(q: &str) -> Option<(String, String)> {
    let (y, n) = q.split_once("-Q")?;
    let n: u32 = n.parse().ok()?;
    (1..=4)
        .contains(&n)
        .then(|| (format!("{y}-{:02}", n * 3 - 2), format!("{y}-{:02}", n * 3)))
}

impl MeasureReports {
    /// Every current resource of `rtype`, parsed.
    fn all(&self, rtype: &str) -> Result<Vec<Value>, Error> {
        let mut out = Vec::new();
        let mut cursor = 0;
        loop {
            let (hits, next) = self.store.scan(rtype, cursor, PAGE)?;
            if hits.is_empty() {
                break;
            }
            out.extend(
                hits.iter()
                    .filter_map(|h| serde_json::from_str::<Value>(&h.body).ok()),
            );
            cursor = next;
        }
        Ok(out)
    }

    /// The units' names by Location id.
    pub(crate) fn units(&self) -> Result<BTreeMap<String, UnitInfo>, Error> {
        Ok(self
            .all("Location")?
            .into_iter()
            .filter_map(|l| {
                let id = l["id"].as_str()?.to_string();
                Some((
                    id.clone(),
                    UnitInfo {
                        name: l["name"].as_str().unwrap_or(&id).to_string(),
                    },
                ))
            })
            .collect())
    }

    /// Run the suite over the store and make every report, without writing; with the
    /// patients behind each number.
    pub(crate) fn compute(&self) -> Result<(Vec<Value>, Ran, crate::cases::Cases), Error> {
        let started = std::time::Instant::now();
        let now = self.now()?;
        let mut resources = Vec::new();
        for t in self.suite.resource_types() {
            resources.extend(self.all(&t)?);
        }
        let patients: HashMap<String, Value> = self
            .all("Patient")?
            .into_iter()
            .filter_map(|p| Some((p["id"].as_str()?.to_string(), p)))
            .collect();
        let units = self.units()?;
        let (rows, timing) = self
            .suite
            .run_timed(resources.iter(), &self.config.zone, now)?;
        let local_now = now
            .with_timezone(&self.config.zone.parse::<chrono_tz::Tz>().map_err(|_| {
                Error::Invalid(format!("{:?} is not a time zone", self.config.zone))
            })?)
            .format("%Y-%m")
            .to_string();
        let generated = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let mut reports = Vec::new();
        for m in self.suite.measures() {
            let monthly = by_period(&rows, &m.id, false);
            let months: BTreeSet<String> = monthly.keys().map(|(_, p)| p.clone()).collect();
            for month in &months {
                let mut r = measures::report::measure_report(
                    m,
                    &monthly,
                    month,
                    &format!("{month}-01"),
                    &strata::month_end(month),
                    &generated,
                );
                if *month >= local_now {
                    r["status"] = json!("pending");
                }
                name_units(&mut r, &units);
                tag(&mut r);
                reports.push(r);
            }
            // Equity: the four quarters ending with each complete quarter.
            let quarters: BTreeSet<String> = months
                .iter()
                .filter(|mo| **mo < local_now)
                .filter_map(|mo| quarter_of(mo))
                .filter(|q| quarter_months(q).is_some_and(|(_, last)| last < local_now))
                .collect();
            for q in quarters.iter().rev().take(EQUITY_QUARTERS) {
                let window = quality::magnet::last_quarters(q).unwrap_or_default();
                let (Some(first), Some(last)) = (
                    window
                        .get(window.len().saturating_sub(4))
                        .and_then(|w| quarter_months(w)),
                    quarter_months(q),
                ) else {
                    continue;
                };
                let (from, to) = (first.0, last.1);
                let groups = measures::equity::stratify(
                    m,
                    &rows,
                    &from,
                    &to,
                    &patients,
                    &self.config.settings,
                );
                let total = monthly
                    .iter()
                    .filter(|((_, mo), _)| *mo >= from && *mo <= to)
                    .fold(Count::default(), |a, (_, c)| Count {
                        numerator: a.numerator + c.numerator,
                        denominator: a.denominator + c.denominator,
                    });
                let mut r = measures::equity::equity_report(
                    m,
                    &groups,
                    total,
                    &format!("{}-equity-{}", m.id, q.to_lowercase()),
                    &format!("{from}-01"),
                    &strata::month_end(&to),
                    &generated,
                );
                tag(&mut r);
                reports.push(r);
            }
        }
        let ran = Ran {
            at: now,
            resources: resources.len() + patients.len(),
            rows: rows.len(),
            reports: reports.len(),
            written: 0,
            seconds: started.elapsed().as_secs_f64(),
            timing,
        };
        let cases = crate::cases::of_rows(self.suite.measures(), &rows);
        Ok((reports, ran, cases))
    }

    /// The writes that bring the stored reports up to `reports` (the new and the changed).
    pub(crate) fn changes(&self, reports: Vec<Value>) -> Result<Vec<Entry>, Error> {
        let system = Access::system();
        let mut entries = Vec::new();
        for r in reports {
            let id = r["id"].as_str().unwrap_or_default().to_string();
            let same = match self.store.read(&system, "MeasureReport", &id)? {
                Some(v) => v
                    .body
                    .as_deref()
                    .and_then(|b| serde_json::from_str::<Value>(b).ok())
                    .is_some_and(|old| comparable(&old) == comparable(&r)),
                None => false,
            };
            if !same {
                entries.push(Entry {
                    full_url: None,
                    op: WriteOp::Update {
                        rtype: "MeasureReport".into(),
                        id,
                        resource: r,
                        if_match: None,
                    },
                });
            }
        }
        Ok(entries)
    }

    /// Run the suite and write what changed now (the demo's start, tests, benchmarks).
    pub fn run_now(&self) -> Result<Ran, Error> {
        let (reports, mut ran, cases) = self.compute()?;
        let entries = self.changes(reports)?;
        ran.written = entries.len();
        if !entries.is_empty() {
            for r in self
                .store
                .write(&Access::system(), entries, Mode::Independent)?
            {
                r?;
            }
        }
        self.remember(&ran, cases);
        Ok(ran)
    }

    pub(crate) fn remember(&self, ran: &Ran, cases: crate::cases::Cases) {
        if let Ok(mut s) = self.state.lock() {
            s.cases = std::sync::Arc::new(cases);
            s.last_run = Some(ran.at.timestamp_millis());
            s.last = Some(ran.clone());
            s.dirty = false;
        }
    }
}

/// A report without what changes every run (when it was made, the store's meta).
fn comparable(r: &Value) -> Value {
    let mut r = r.clone();
    if let Some(o) = r.as_object_mut() {
        o.remove("date");
        o.remove("meta");
    }
    tag(&mut r);
    r
}

fn tag(r: &mut Value) {
    r["meta"] =
        json!({"tag": [{"system": TAG_SYSTEM, "code": TAG, "display": "Quality measures"}]});
}

/// Unit strata named by their Location: its id as a code, its name as the text.
fn name_units(r: &mut Value, units: &BTreeMap<String, UnitInfo>) {
    for s in r["group"][0]["stratifier"][0]["stratum"]
        .as_array_mut()
        .into_iter()
        .flatten()
    {
        let id = s["value"]["text"].as_str().unwrap_or_default().to_string();
        let name = units.get(&id).map_or(id.clone(), |u| u.name.clone());
        s["value"] =
            json!({"coding": [{"system": UNIT_SYSTEM, "code": id, "display": name}], "text": name});
    }
    r["group"][0]["stratifier"][0]["code"] = json!([{"coding": [{"system": "https://tend.example.org/fhir/CodeSystem/stratifier", "code": "unit"}], "text": "Unit"}]);
}
