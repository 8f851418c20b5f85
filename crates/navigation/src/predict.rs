//! The predicted breach of each open clock: days left against the days the steps still to
//! do usually take (the site's typical step durations, [`crate::Site::typical`], learned from
//! its own patients once enough have done a step: `learn.rs`).
//!
//! For an open clock, the steps still needed are the pathway's milestones, in file order, up
//! to its first stop that is still needed, that are pending or overdue (an alternative of a
//! step already counted is not counted again). The first of them has been waited for since
//! the last milestone done; it is expected to take its typical days less that wait (at least
//! one day). The clock is **at risk** when the expected days exceed the days left,
//! **breached** once past target, **paused** during an allowed pause, else **on track**.

use std::collections::HashSet;

use pathways::{ClockStatus, Evaluation, MilestoneStatus, Pathway, Unit};

use crate::Site;

/// How a clock is expected to end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Risk {
    Breached,
    AtRisk,
    OnTrack,
    Paused,
}

impl Risk {
    pub fn code(self) -> &'static str {
        match self {
            Risk::Breached => "breached",
            Risk::AtRisk => "at-risk",
            Risk::OnTrack => "on-track",
            Risk::Paused => "paused",
        }
    }

    pub fn parse(s: &str) -> Option<Risk> {
        Some(match s {
            "breached" => Risk::Breached,
            "at-risk" => Risk::AtRisk,
            "on-track" => Risk::OnTrack,
            "paused" => Risk::Paused,
            _ => return None,
        })
    }

    pub fn words(self) -> &'static str {
        match self {
            Risk::Breached => "Breached",
            Risk::AtRisk => "At risk",
            Risk::OnTrack => "On track",
            Risk::Paused => "Paused",
        }
    }
}

/// One open clock's prediction.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    pub clock: String,
    /// The standard's short label ("28-day").
    pub label: String,
    pub link: Option<String>,
    pub risk: Risk,
    /// Days left (negative: days past target); minutes for clocks counted in minutes.
    pub left: i64,
    pub unit: Unit,
    /// The days the steps still needed usually take.
    pub expected: i64,
    /// The next step still needed: (milestone id, short words, its typical days).
    pub next: Option<(String, String, i64)>,
    /// Why, in plain words, without the days left (which the page adds as of today).
    pub reason: String,
}

/// Predictions for every open clock of an evaluation.
pub fn predict(pathway: &Pathway, ev: &Evaluation, site: &Site) -> Vec<Prediction> {
    let last_done = ev
        .milestones
        .iter()
        .filter_map(|m| m.done.first().map(|c| c.at))
        .filter(|t| *t <= ev.now)
        .max();
    ev.clocks
        .iter()
        .filter(|c| c.is_open())
        .filter_map(|c| {
            let def = pathway.clock(&c.clock)?;
            let stop_at = ev
                .milestones
                .iter()
                .position(|m| {
                    def.stop.iter().any(|s| s.milestone == m.id)
                        && matches!(
                            m.status,
                            MilestoneStatus::Pending | MilestoneStatus::Overdue
                        )
                })
                .unwrap_or(ev.milestones.len().saturating_sub(1));
            let mut counted: HashSet<&str> = HashSet::new();
            let mut steps = Vec::new();
            for (i, m) in ev.milestones.iter().enumerate().take(stop_at + 1) {
                if !matches!(
                    m.status,
                    MilestoneStatus::Pending | MilestoneStatus::Overdue
                ) {
                    continue;
                }
                let def_m = pathway.milestone(&m.id)?;
                if def_m.optional && def_m.indicated_by.is_empty() && i != stop_at {
                    continue;
                }
                if def_m
                    .alternatives
                    .iter()
                    .any(|a| counted.contains(a.as_str()))
                {
                    continue;
                }
                counted.insert(&m.id);
                steps.push((m, site.typical(&pathway.id, &m.id)));
            }
            let waited = last_done.map_or(0, |t| (ev.now - t).num_days().max(0));
            let mut expected = 0;
            for (k, (_, typical)) in steps.iter().enumerate() {
                expected += if k == 0 && *typical > 0 {
                    (typical - waited).max(1)
                } else {
                    *typical
                };
            }
            let next = steps
                .first()
                .map(|(m, t)| (m.id.clone(), site.words(&m.id, &m.name), *t));
            let left = c.remaining;
            let risk = match c.status {
                ClockStatus::Breached => Risk::Breached,
                ClockStatus::Paused => Risk::Paused,
                _ if c.unit == Unit::Days && expected > left => Risk::AtRisk,
                _ => Risk::OnTrack,
            };
            let reason = match (&next, risk) {
                (_, Risk::Paused) => "paused: an allowed adjustment is open".to_string(),
                (Some((_, words, t)), _) if *t > 0 => {
                    let rest = steps.len().saturating_sub(1);
                    let after = if rest > 0 {
                        format!(
                            ", then {rest} more step{}",
                            if rest == 1 { "" } else { "s" }
                        )
                    } else {
                        String::new()
                    };
                    let n = next
                        .as_ref()
                        .map_or(0, |(id, _, _)| site.learned_from(&pathway.id, id));
                    if n > 0 {
                        format!(
                            "waiting for {words} (usually {t} days here, from {n} patients){after}"
                        )
                    } else {
                        format!("waiting for {words} (usually {t} days){after}")
                    }
                }
                (Some((_, words, _)), _) => format!("waiting for {words}"),
                (None, _) => "no step recorded yet".to_string(),
            };
            Some(Prediction {
                clock: c.clock.clone(),
                label: label(c.target, c.unit, &c.clock),
                link: c.link.clone(),
                risk,
                left,
                unit: c.unit,
                expected,
                next,
                reason,
            })
        })
        .collect()
}

/// "28-day", "62-day", "60-min".
fn label(target: i64, unit: Unit, _clock: &str) -> String {
    match unit {
        Unit::Days => format!("{target}-day"),
        Unit::Minutes => format!("{target}-min"),
    }
}
