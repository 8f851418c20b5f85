//! The navigator's worklist: patients with an active pathway episode, worst first (a
//! breached clock first, the longest in breach first; then the fewest days left; then the
//! next step due soonest; then by name), filtered by pathway, tumour site, standard status
//! and navigator, searched by name or MRN, and limited to the patients the viewer reaches.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, FixedOffset, NaiveDate};
use pathways::Urgency;

use crate::predict::{Prediction, Risk};
use crate::record::Contact;
use crate::service::{Case, Navigation};

/// What to show.
#[derive(Debug, Clone, Default)]
pub struct Query {
    pub pathway: Option<String>,
    pub site: Option<String>,
    /// Worst status of the patient's open clocks.
    pub status: Option<Risk>,
    /// `Practitioner/ID`, or `none` for patients without a navigator.
    pub navigator: Option<String>,
    /// Part of the name or the MRN.
    pub search: Option<String>,
    /// The patients the viewer reaches (`None`: everyone, Tend itself).
    pub reach: Option<Arc<BTreeSet<String>>>,
    pub count: usize,
    pub offset: usize,
}

/// One patient on the worklist.
#[derive(Debug, Clone)]
pub struct Row {
    pub patient: String,
    pub name: String,
    pub mrn: Option<String>,
    pub birth_date: Option<NaiveDate>,
    pub gender: Option<String>,
    /// Active pathways' titles.
    pub pathways: Vec<(String, String)>,
    pub site: Option<String>,
    /// The step to chase: (pathway title, step name, due, overdue).
    pub next: Option<(String, String, Option<DateTime<FixedOffset>>, bool)>,
    pub clocks: Vec<Prediction>,
    pub worst: Option<Risk>,
    pub barriers: Vec<String>,
    pub last_contact: Option<Contact>,
    pub navigator: Option<(String, String)>,
    pub urgency: Urgency,
}

/// A page of rows and the counts the filters offer.
#[derive(Debug, Clone, Default)]
pub struct Page {
    pub rows: Vec<Row>,
    pub total: usize,
    /// Among the cases the viewer reaches (before filters).
    pub pathways: BTreeMap<String, (String, usize)>,
    pub sites: BTreeMap<String, usize>,
    pub navigators: BTreeMap<String, (String, usize)>,
    pub statuses: BTreeMap<Risk, usize>,
}

impl Navigation {
    /// One case as a worklist row (`None`: no active episode).
    pub fn row(&self, c: &Case) -> Option<Row> {
        let active: Vec<_> = c.episodes.iter().filter(|e| e.active).collect();
        if active.is_empty() {
            return None;
        }
        let urgency = active
            .iter()
            .map(|e| e.evaluation.urgency())
            .min()
            .unwrap_or(Urgency {
                tier: 2,
                remaining_minutes: i64::MAX,
            });
        let next = active
            .iter()
            .filter_map(|e| e.evaluation.next_step.as_ref().map(|n| (e, n)))
            .min_by_key(|(_, n)| (!n.overdue, n.deadline.map_or(i64::MAX, |d| d.timestamp())))
            .map(|(e, n)| {
                (
                    short(&e.pathway, &e.title),
                    n.name.clone(),
                    n.deadline,
                    n.overdue,
                )
            });
        let clocks: Vec<Prediction> = active
            .iter()
            .flat_map(|e| e.predictions.iter().cloned())
            .collect();
        let worst = clocks.iter().map(|p| p.risk).min();
        Some(Row {
            patient: c.patient.clone(),
            name: c.person.name.clone(),
            mrn: c.person.mrn.clone(),
            birth_date: c.person.birth_date,
            gender: c.person.gender.clone(),
            pathways: active
                .iter()
                .map(|e| (e.pathway.clone(), short(&e.pathway, &e.title)))
                .collect(),
            site: c.site.clone(),
            next,
            clocks,
            worst,
            barriers: c.barriers.clone(),
            last_contact: c.contacts.last().cloned(),
            navigator: c.navigator.as_ref().map(|n| (n.clone(), self.name_of(n))),
            urgency,
        })
    }

    /// The worklist.
    pub fn worklist(&self, q: &Query) -> Page {
        let cases = self.cases();
        let mut page = Page::default();
        let mut rows = Vec::new();
        for c in &cases {
            if q.reach.as_ref().is_some_and(|r| !r.contains(&c.patient)) {
                continue;
            }
            let Some(row) = self.row(c) else { continue };
            for (id, title) in &row.pathways {
                page.pathways
                    .entry(id.clone())
                    .or_insert((title.clone(), 0))
                    .1 += 1;
            }
            if let Some(s) = &row.site {
                *page.sites.entry(s.clone()).or_default() += 1;
            }
            let (nid, nname) = row
                .navigator
                .clone()
                .unwrap_or_else(|| ("none".into(), "No navigator".into()));
            page.navigators.entry(nid).or_insert((nname, 0)).1 += 1;
            if let Some(w) = row.worst {
                *page.statuses.entry(w).or_default() += 1;
            }
            if q.pathway
                .as_ref()
                .is_some_and(|p| !row.pathways.iter().any(|(id, _)| id == p))
            {
                continue;
            }
            if q.site
                .as_ref()
                .is_some_and(|s| row.site.as_ref() != Some(s))
            {
                continue;
            }
            if q.status.is_some_and(|s| row.worst != Some(s)) {
                continue;
            }
            if let Some(n) = &q.navigator {
                let mine = row.navigator.as_ref().map_or("none", |(id, _)| id.as_str());
                if mine != n {
                    continue;
                }
            }
            if let Some(s) = q
                .search
                .as_ref()
                .map(|s| s.trim().to_lowercase())
                .filter(|s| !s.is_empty())
            {
                let hit = row.name.to_lowercase().contains(&s)
                    || row
                        .mrn
                        .as_ref()
                        .is_some_and(|m| m.to_lowercase().contains(&s));
                if !hit {
                    continue;
                }
            }
            rows.push(row);
        }
        // Worst first; among equals (e.g. no clock running) the next step due soonest.
        let due = |r: &Row| {
            r.next
                .as_ref()
                .and_then(|n| n.2)
                .map_or(i64::MAX, |d| d.timestamp())
        };
        rows.sort_by(|a, b| {
            a.urgency
                .cmp(&b.urgency)
                .then_with(|| due(a).cmp(&due(b)))
                .then_with(|| a.name.cmp(&b.name))
        });
        page.total = rows.len();
        let count = if q.count == 0 { 50 } else { q.count };
        page.rows = rows.into_iter().skip(q.offset).take(count).collect();
        page
    }
}

/// A pathway's short name for a list.
pub(crate) fn short(id: &str, title: &str) -> String {
    match id {
        "nhs-suspected-cancer" => "Suspected cancer".into(),
        "oesophago-gastric" => "Oesophago-gastric".into(),
        "coc-quality-measures" => "CoC measures".into(),
        _ => title.split(':').next().unwrap_or(title).trim().to_string(),
    }
}
