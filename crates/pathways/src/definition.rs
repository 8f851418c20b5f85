//! The pathway file format: one JSON file per pathway (`pathways/*.json`), read into a
//! [`Pathway`] and checked by [`Pathway::validate`]. See the crate's README for a worked
//! example a site can copy.

use std::collections::{BTreeMap, HashSet};

use serde::Deserialize;

use crate::event::{Coding, ResourceType};
use crate::PathwayError;

/// The pathway files shipped with Tend, by file name.
const BUILTIN: &[(&str, &str)] = &[
    (
        "nhs-suspected-cancer.json",
        include_str!("../pathways/nhs-suspected-cancer.json"),
    ),
    (
        "oesophago-gastric.json",
        include_str!("../pathways/oesophago-gastric.json"),
    ),
    (
        "coc-quality-measures.json",
        include_str!("../pathways/coc-quality-measures.json"),
    ),
    (
        "sepsis-adult.json",
        include_str!("../pathways/sepsis-adult.json"),
    ),
];

/// One care pathway as data.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pathway {
    /// Stable id, e.g. `nhs-suspected-cancer`: lower-case letters, digits and `-`.
    pub id: String,
    pub title: String,
    /// What the pathway is for, in one or two sentences.
    pub summary: String,
    /// `false` switches a shipped pathway off (in a site's override file).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The published documents the rules come from; milestones, clocks and adjustments cite
    /// them by `id`.
    pub sources: Vec<Source>,
    /// The steps, in the order a navigator expects them.
    pub milestones: Vec<Milestone>,
    #[serde(default)]
    pub clocks: Vec<Clock>,
    /// The adjustments the sources allow; a clock lists the ones that apply to it.
    #[serde(default)]
    pub adjustments: Vec<AdjustmentRule>,
    /// Remarks for reviewers: scope, what was left out and why.
    #[serde(default)]
    pub notes: Vec<String>,
}

fn yes() -> bool {
    true
}

/// A published document.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    pub id: String,
    pub title: String,
    pub publisher: String,
    #[serde(default)]
    pub version: Option<String>,
    /// Publication date as printed (`2025-07`).
    #[serde(default)]
    pub date: Option<String>,
    pub url: String,
}

/// Where a rule or a number comes from.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Citation {
    /// A [`Source::id`] of the same file.
    pub source: String,
    /// Section, recommendation or table, as the source numbers it.
    #[serde(default)]
    pub section: Option<String>,
    /// `source` (default): the source states it; `site-policy`: the source sets no number and
    /// this default is Tend's, for a site to replace.
    #[serde(default)]
    pub basis: Basis,
}

/// Whether a number is the source's or a site's default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Basis {
    #[default]
    Source,
    SitePolicy,
}

/// One step, completed by evidence in the record or by a navigator's entry.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Milestone {
    pub id: String,
    /// Plain words, as a patient or navigator would say it.
    pub name: String,
    /// Any one of these completes the milestone. Empty: only a navigator's entry does.
    #[serde(default)]
    pub evidence: Vec<Evidence>,
    /// `false`: a navigator cannot mark it done by hand (it must come from the record).
    #[serde(default = "yes")]
    pub manual: bool,
    /// When it should be done.
    #[serde(default)]
    pub target: Option<Target>,
    /// Not every patient needs it (it is never "next" and never overdue until it is
    /// `indicated_by` one of these milestones).
    #[serde(default)]
    pub optional: bool,
    /// Milestones whose completion makes an optional milestone needed.
    #[serde(default)]
    pub indicated_by: Vec<String>,
    /// Other milestones that do the same job (e.g. "diagnosis communicated" and "cancer ruled
    /// out"): once one of them is done, this one is no longer needed.
    #[serde(default)]
    pub alternatives: Vec<String>,
    /// It only counts when done before these milestones: a completion dated on a later
    /// local date than the earliest of them is not used and is reported (e.g. a consultant
    /// upgrade after the decision to treat).
    #[serde(default)]
    pub before: Vec<String>,
    /// Completing it ends the pathway with this label (e.g. `ruled-out`): the steps not yet
    /// done are no longer needed.
    #[serde(default)]
    pub ends_pathway: Option<String>,
    #[serde(default)]
    pub cite: Vec<Citation>,
}

/// A due time: `within` after the earliest completion of any milestone in `after`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    pub within: Span,
    pub after: Vec<String>,
    #[serde(default)]
    pub cite: Vec<Citation>,
}

/// A length of time: whole calendar days (counted on local dates, the day of the start
/// event being day 0) or whole minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span {
    Days(i64),
    Minutes(i64),
}

impl Span {
    pub fn amount(self) -> i64 {
        match self {
            Span::Days(n) | Span::Minutes(n) => n,
        }
    }

    pub fn unit(self) -> Unit {
        match self {
            Span::Days(_) => Unit::Days,
            Span::Minutes(_) => Unit::Minutes,
        }
    }
}

/// The unit a clock counts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Days,
    Minutes,
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Raw {
            #[serde(default)]
            days: Option<i64>,
            #[serde(default)]
            minutes: Option<i64>,
        }
        match Raw::deserialize(d)? {
            Raw {
                days: Some(n),
                minutes: None,
            } if n >= 0 => Ok(Span::Days(n)),
            Raw {
                days: None,
                minutes: Some(n),
            } if n >= 0 => Ok(Span::Minutes(n)),
            _ => Err(serde::de::Error::custom(
                "write a span as {\"days\": n} or {\"minutes\": n}, n ≥ 0",
            )),
        }
    }
}

/// Which record completes a milestone: a resource type, any of `codes` (on the resource's
/// code, category or type), and the status conditions. Every list left empty matches anything.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Evidence {
    pub resource: ResourceType,
    /// `code` ending in `*` matches every code that starts with the rest (ICD-10, ATC families).
    #[serde(default)]
    pub codes: Vec<CodeRef>,
    /// The resource's `status` (e.g. `final`, `completed`, `booked`, `fulfilled`).
    #[serde(default)]
    pub status: Vec<String>,
    /// A Condition's `verificationStatus` (e.g. `confirmed`, `refuted`).
    #[serde(default)]
    pub verification_status: Vec<String>,
    /// The numeric value must be at least this (e.g. a NEWS2 total ≥ 5).
    #[serde(default)]
    pub min_value: Option<f64>,
    /// The numeric value must be at most this.
    #[serde(default)]
    pub max_value: Option<f64>,
    /// Any of these on the value or interpretation (e.g. a PEWS escalation level, a stage group).
    #[serde(default)]
    pub value_codes: Vec<CodeRef>,
    /// Any of these on what the resource is about (`Observation.focus`, e.g. the cancer a stage
    /// group belongs to), so a colon cancer's stage does not count for a breast measure.
    #[serde(default)]
    pub focus_codes: Vec<CodeRef>,
    #[serde(default)]
    pub note: Option<String>,
}

/// A code in a system.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeRef {
    pub system: String,
    pub code: String,
    #[serde(default)]
    pub display: Option<String>,
}

impl CodeRef {
    pub(crate) fn matches(&self, c: &Coding) -> bool {
        if self.system != c.system {
            return false;
        }
        match self.code.strip_suffix('*') {
            Some(prefix) => c.code.starts_with(prefix),
            None => self.code == c.code,
        }
    }
}

/// A waiting-time clock or a timed standard.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Clock {
    pub id: String,
    pub name: String,
    /// Any of these starts the clock. With several, the one giving the earliest deadline counts.
    pub start: Vec<StartRule>,
    /// These must also have happened: the clock starts when the last of them (or the start
    /// event, if later) happened. E.g. suspected infection with a raised early-warning score.
    #[serde(default)]
    pub requires: Vec<String>,
    /// Any of these stops the clock, with an optional ending label (`diagnosed`, `ruled-out`).
    pub stop: Vec<StopRule>,
    /// Any of these closes the clock without measuring it (the standard no longer applies,
    /// e.g. cancer ruled out closes the 62-day clock).
    #[serde(default)]
    pub ended_by: Vec<String>,
    pub target: Span,
    /// The operational standard: the share of patients to be within target, in percent.
    #[serde(default)]
    pub standard_percent: Option<f64>,
    /// `episode` (default): one clock per pathway; `each-start`: one clock per start event,
    /// stopped by the next unclaimed stop event (or the stop event with the same `link`).
    #[serde(default)]
    pub per: Per,
    /// Ids of the [`AdjustmentRule`]s this clock allows.
    #[serde(default)]
    pub adjustments: Vec<String>,
    /// Milestones that must be done for the standard to apply (e.g. stage I–III).
    #[serde(default)]
    pub applies_if: Vec<String>,
    /// Milestones that, when done before the clock stops, take the patient out of the
    /// standard (e.g. neoadjuvant therapy before surgery).
    #[serde(default)]
    pub not_if: Vec<String>,
    /// The ages (whole years on the day the clock starts) the standard applies to; a patient
    /// outside them is not counted ([`crate::apply_age`]).
    #[serde(default)]
    pub age: Option<AgeRange>,
    pub cite: Vec<Citation>,
}

/// Ages from `from` (inclusive) to `below` (exclusive), in whole years, with their source.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgeRange {
    #[serde(default)]
    pub from: Option<i64>,
    #[serde(default)]
    pub below: Option<i64>,
    pub cite: Vec<Citation>,
}

/// A clock start.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartRule {
    pub milestone: String,
    /// A different target when this event starts the clock.
    #[serde(default)]
    pub target: Option<Span>,
    /// This start replaces the others of the same clock instance (e.g. an earliest clinically
    /// appropriate date recorded for a subsequent treatment).
    #[serde(default)]
    pub overrides: bool,
}

/// A clock stop.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StopRule {
    pub milestone: String,
    #[serde(default)]
    pub ending: Option<String>,
}

/// How many clocks a definition makes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Per {
    #[default]
    Episode,
    EachStart,
}

/// An adjustment a source allows.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdjustmentRule {
    pub id: String,
    pub name: String,
    pub effect: Effect,
    /// What the adjustment's `from` and `until` mean, in words.
    pub description: String,
    /// The adjustment is valid only if this milestone was not yet done on its `from` date
    /// (e.g. a missed *first* appointment).
    #[serde(default)]
    pub only_before: Option<String>,
    pub cite: Vec<Citation>,
}

/// What an adjustment does to a clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Effect {
    /// The clock starts again at the adjustment's `from`.
    Restart,
    /// The time from `from` to `until` does not count.
    Pause,
}

impl Pathway {
    /// Reads one pathway file.
    pub fn parse(file: &str, text: &str) -> Result<Pathway, PathwayError> {
        let p: Pathway = serde_json::from_str(text).map_err(|e| PathwayError::Parse {
            file: file.to_string(),
            message: e.to_string(),
        })?;
        p.validate(file)?;
        Ok(p)
    }

    /// Checks what serde cannot: ids well formed and unique, every reference resolves
    /// (milestones named by targets and clocks, adjustments named by clocks, cited sources).
    pub fn validate(&self, file: &str) -> Result<(), PathwayError> {
        let bad = |message: String| PathwayError::Invalid {
            pathway: format!("{} ({file})", self.id),
            message,
        };
        let well_formed = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        };
        if !well_formed(&self.id) {
            return Err(bad("id must be lower-case letters, digits and '-'".into()));
        }
        if self.sources.is_empty() {
            return Err(bad("a pathway cites at least one source".into()));
        }
        let mut sources = HashSet::new();
        for s in &self.sources {
            if !sources.insert(s.id.as_str()) {
                return Err(bad(format!("source '{}' twice", s.id)));
            }
            if !s.url.starts_with("https://") && !s.url.starts_with("http://") {
                return Err(bad(format!("source '{}': url is not a web address", s.id)));
            }
        }
        let cites = |what: &str, cs: &[Citation], required: bool| -> Result<(), PathwayError> {
            if required && cs.is_empty() {
                return Err(bad(format!("{what} cites no source")));
            }
            for c in cs {
                if !sources.contains(c.source.as_str()) {
                    return Err(bad(format!("{what} cites unknown source '{}'", c.source)));
                }
            }
            Ok(())
        };
        let mut milestones = HashSet::new();
        for m in &self.milestones {
            if !well_formed(&m.id) || !milestones.insert(m.id.as_str()) {
                return Err(bad(format!(
                    "milestone id '{}' is malformed or repeated",
                    m.id
                )));
            }
            if m.evidence.is_empty() && !m.manual {
                return Err(bad(format!(
                    "milestone '{}' has no evidence and cannot be entered by hand",
                    m.id
                )));
            }
            for e in &m.evidence {
                if let (Some(lo), Some(hi)) = (e.min_value, e.max_value) {
                    if lo > hi {
                        return Err(bad(format!("milestone '{}': min_value > max_value", m.id)));
                    }
                }
            }
            cites(&format!("milestone '{}'", m.id), &m.cite, false)?;
        }
        let known = |what: &str, id: &str| -> Result<(), PathwayError> {
            if milestones.contains(id) {
                Ok(())
            } else {
                Err(bad(format!("{what} names unknown milestone '{id}'")))
            }
        };
        for m in &self.milestones {
            if let Some(t) = &m.target {
                if t.after.is_empty() {
                    return Err(bad(format!("milestone '{}' target names no anchor", m.id)));
                }
                for a in &t.after {
                    known(&format!("milestone '{}' target", m.id), a)?;
                }
                if t.after.contains(&m.id) {
                    return Err(bad(format!("milestone '{}' is due after itself", m.id)));
                }
                cites(&format!("milestone '{}' target", m.id), &t.cite, true)?;
            }
            for i in &m.indicated_by {
                known(&format!("milestone '{}' indicated_by", m.id), i)?;
            }
            for a in &m.alternatives {
                known(&format!("milestone '{}' alternatives", m.id), a)?;
            }
            for b in &m.before {
                known(&format!("milestone '{}' before", m.id), b)?;
            }
            if !m.indicated_by.is_empty() && !m.optional {
                return Err(bad(format!(
                    "milestone '{}' has indicated_by but is not optional",
                    m.id
                )));
            }
        }
        let mut rules = HashSet::new();
        for a in &self.adjustments {
            if !well_formed(&a.id) || !rules.insert(a.id.as_str()) {
                return Err(bad(format!(
                    "adjustment id '{}' is malformed or repeated",
                    a.id
                )));
            }
            if let Some(m) = &a.only_before {
                known(&format!("adjustment '{}'", a.id), m)?;
            }
            cites(&format!("adjustment '{}'", a.id), &a.cite, true)?;
        }
        let mut clocks = HashSet::new();
        for c in &self.clocks {
            let what = format!("clock '{}'", c.id);
            if !well_formed(&c.id) || !clocks.insert(c.id.as_str()) {
                return Err(bad(format!("{what}: id is malformed or repeated")));
            }
            if c.start.is_empty() || c.stop.is_empty() {
                return Err(bad(format!("{what} needs a start and a stop")));
            }
            for s in &c.start {
                known(&what, &s.milestone)?;
                if let Some(t) = s.target {
                    if t.unit() != c.target.unit() {
                        return Err(bad(format!("{what}: a start's target is in another unit")));
                    }
                }
            }
            for s in &c.stop {
                known(&what, &s.milestone)?;
                if c.start.iter().any(|st| st.milestone == s.milestone) {
                    return Err(bad(format!(
                        "{what}: '{}' both starts and stops it",
                        s.milestone
                    )));
                }
            }
            for m in c
                .requires
                .iter()
                .chain(&c.ended_by)
                .chain(&c.applies_if)
                .chain(&c.not_if)
            {
                known(&what, m)?;
            }
            for a in &c.adjustments {
                if !rules.contains(a.as_str()) {
                    return Err(bad(format!("{what} allows unknown adjustment '{a}'")));
                }
            }
            if let Some(p) = c.standard_percent {
                if !(0.0..=100.0).contains(&p) {
                    return Err(bad(format!("{what}: standard_percent is not a percentage")));
                }
            }
            cites(&what, &c.cite, true)?;
            if let Some(a) = &c.age {
                if a.from.zip(a.below).is_some_and(|(f, b)| f >= b) {
                    return Err(bad(format!("{what}: the age range is empty")));
                }
                cites(&format!("{what} age"), &a.cite, true)?;
            }
        }
        Ok(())
    }

    /// A milestone by id.
    pub fn milestone(&self, id: &str) -> Option<&Milestone> {
        self.milestones.iter().find(|m| m.id == id)
    }

    /// A clock by id.
    pub fn clock(&self, id: &str) -> Option<&Clock> {
        self.clocks.iter().find(|c| c.id == id)
    }

    /// An adjustment rule by id.
    pub fn adjustment(&self, id: &str) -> Option<&AdjustmentRule> {
        self.adjustments.iter().find(|a| a.id == id)
    }
}

/// The pathways in force.
#[derive(Debug, Clone)]
pub struct PathwaySet {
    pathways: Vec<Pathway>,
}

impl PathwaySet {
    /// The pathways shipped with Tend.
    pub fn builtin() -> PathwaySet {
        Self::with_overrides(Vec::new()).expect("the shipped pathway files are valid")
    }

    /// The shipped files, by name, as text (for a test that every one parses, or a page that
    /// shows them).
    pub fn builtin_files() -> &'static [(&'static str, &'static str)] {
        BUILTIN
    }

    /// The shipped pathways with a site's `(file name, text)` files over them: a file whose
    /// `id` matches a shipped pathway replaces it, a new id adds one, and `"enabled": false`
    /// switches one off. The caller reads the files (this crate does no IO).
    pub fn with_overrides(files: Vec<(String, String)>) -> Result<PathwaySet, PathwayError> {
        let mut by_id: BTreeMap<String, (usize, Pathway)> = BTreeMap::new();
        let shipped = BUILTIN
            .iter()
            .map(|(n, t)| ((*n).to_string(), (*t).to_string()));
        for (order, (name, text)) in shipped.chain(files).enumerate() {
            let p = Pathway::parse(&name, &text)?;
            let order = by_id.get(&p.id).map_or(order, |(o, _)| *o);
            by_id.insert(p.id.clone(), (order, p));
        }
        let mut pathways: Vec<(usize, Pathway)> =
            by_id.into_values().filter(|(_, p)| p.enabled).collect();
        pathways.sort_by_key(|(o, _)| *o);
        Ok(PathwaySet {
            pathways: pathways.into_iter().map(|(_, p)| p).collect(),
        })
    }

    pub fn pathways(&self) -> &[Pathway] {
        &self.pathways
    }

    pub fn pathway(&self, id: &str) -> Option<&Pathway> {
        self.pathways.iter().find(|p| p.id == id)
    }
}
