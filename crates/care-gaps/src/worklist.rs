//! The outreach worklist: open gaps with who the patient is, how to reach them and in which
//! language, and the last outreach. Kept in memory, rebuilt by each population run and
//! updated by each incremental step; the stored DetectedIssues and Tasks are the record.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::NaiveDate;

use crate::person::Person;
use crate::resources::OpenGap;

/// The last outreach attempt on a gap.
#[derive(Debug, Clone, PartialEq)]
pub struct Outreach {
    pub task: String,
    /// RFC 3339 time.
    pub at: String,
    pub outcome: String,
    pub outcome_display: String,
    pub by: String,
    pub note: Option<String>,
}

/// One open gap on the worklist.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub gap: OpenGap,
    pub rule_title: String,
    pub action: String,
    pub person: Arc<Person>,
    pub age: Option<i32>,
    pub outreach: Option<Outreach>,
}

impl Row {
    pub fn id(&self) -> String {
        self.gap.id()
    }
}

/// Which rows to show.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Query {
    pub rule: Option<String>,
    /// Preferred language code (`en` also matches patients with none recorded).
    pub language: Option<String>,
    /// `Some(false)`: not yet contacted; `Some(true)`: contacted at least once.
    pub contacted: Option<bool>,
    /// Only gaps open since this day or earlier.
    pub since_before: Option<NaiveDate>,
    pub count: usize,
    pub offset: usize,
}

/// A page of the worklist, with counts to filter by.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Page {
    pub rows: Vec<Row>,
    pub total: usize,
    /// (rule id, open gaps) over the whole worklist.
    pub by_rule: Vec<(String, usize)>,
    /// (language code, display, open gaps) over the whole worklist.
    pub by_language: Vec<(String, String, usize)>,
}

#[derive(Debug, Default)]
pub(crate) struct Worklist {
    rows: HashMap<String, Row>,
    by_patient: HashMap<String, Vec<String>>,
}

fn language_code(p: &Person) -> &str {
    p.language.as_ref().map_or("en", |(c, _)| c.as_str())
}

impl Worklist {
    /// The patients with at least one open gap.
    pub(crate) fn patients(&self) -> std::collections::BTreeSet<String> {
        self.by_patient
            .iter()
            .filter(|(_, gaps)| !gaps.is_empty())
            .map(|(p, _)| p.trim_start_matches("Patient/").to_string())
            .collect()
    }

    pub(crate) fn replace(&mut self, rows: Vec<Row>) {
        self.rows.clear();
        self.by_patient.clear();
        for r in rows {
            self.insert(r);
        }
    }

    fn insert(&mut self, r: Row) {
        let id = r.id();
        self.by_patient
            .entry(r.gap.patient.clone())
            .or_default()
            .push(id.clone());
        self.rows.insert(id, r);
    }

    /// Replace one patient's rows.
    pub(crate) fn set_patient(&mut self, patient: &str, rows: Vec<Row>) {
        for id in self.by_patient.remove(patient).unwrap_or_default() {
            self.rows.remove(&id);
        }
        for r in rows {
            self.insert(r);
        }
    }

    pub(crate) fn outreach_of(&self, gap: &str) -> Option<Outreach> {
        self.rows.get(gap).and_then(|r| r.outreach.clone())
    }

    pub(crate) fn row(&self, gap: &str) -> Option<&Row> {
        self.rows.get(gap)
    }

    pub(crate) fn set_outreach(&mut self, gap: &str, o: Outreach) {
        if let Some(r) = self.rows.get_mut(gap) {
            r.outreach = Some(o);
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.rows.len()
    }

    pub(crate) fn query(&self, q: &Query) -> Page {
        let mut by_rule: BTreeMap<&str, usize> = BTreeMap::new();
        let mut by_language: BTreeMap<&str, (&str, usize)> = BTreeMap::new();
        let mut hits: Vec<&Row> = Vec::new();
        for r in self.rows.values() {
            *by_rule.entry(&r.gap.rule).or_default() += 1;
            let code = language_code(&r.person);
            let display = r
                .person
                .language
                .as_ref()
                .map_or("English", |(_, d)| d.as_str());
            by_language.entry(code).or_insert((display, 0)).1 += 1;
            if q.rule.as_ref().is_some_and(|x| *x != r.gap.rule)
                || q.language.as_ref().is_some_and(|l| l != code)
                || q.contacted.is_some_and(|c| c != r.outreach.is_some())
                || q.since_before
                    .is_some_and(|d| r.gap.since.is_none_or(|s| s > d))
            {
                continue;
            }
            hits.push(r);
        }
        // Longest open first; then by name, then rule, so the order is stable.
        hits.sort_by(|a, b| {
            a.gap
                .since
                .cmp(&b.gap.since)
                .then_with(|| a.person.name.cmp(&b.person.name))
                .then_with(|| a.gap.patient.cmp(&b.gap.patient))
                .then_with(|| a.gap.rule.cmp(&b.gap.rule))
        });
        let total = hits.len();
        let count = if q.count == 0 { 50 } else { q.count.min(500) };
        let rows = hits
            .into_iter()
            .skip(q.offset)
            .take(count)
            .cloned()
            .collect();
        let mut by_language: Vec<(String, String, usize)> = by_language
            .into_iter()
            .map(|(c, (d, n))| (c.to_string(), d.to_string(), n))
            .collect();
        by_language.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.1.cmp(&b.1)));
        Page {
            rows,
            total,
            by_rule: by_rule
                .into_iter()
                .map(|(r, n)| (r.to_string(), n))
                .collect(),
            by_language,
        }
    }
}
