//! Breaches and where the time went. A breached clock (stopped after its target, or still
//! open past it) is explained by its **longest delay**: of the steps done between the clock's
//! start and its stop (or now), each measured from the step before it (the start for the
//! first), the one that ran furthest over the days it usually takes here (the site's typical
//! days, [`crate::Site::typical`]); without a usual figure, or when no step ran over, the
//! longest step. Of two equal, the first. This follows the rule New Zealand's Faster Cancer
//! Treatment programme set for its mandatory 62-day delay codes (Ministry of Health, *Faster
//! Cancer Treatment: delay code reporting guidance*, v2.0, December 2016: "the delay code
//! reported should relate to the reason that contributed to the longest delay, or if there
//! are two delays of equal length, the first delay that occurred"); Tend names the step, and
//! a navigator's pauses (allowed adjustments) are already taken off the clock.

use std::collections::BTreeSet;

use chrono::{DateTime, FixedOffset};
use pathways::{ClockState, ClockStatus, Evaluation, Pathway, Unit};

use crate::service::Navigation;
use crate::Site;

/// The step that explains a breach.
#[derive(Debug, Clone, PartialEq)]
pub struct Delay {
    pub milestone: String,
    /// Short words for the step ("endoscopy").
    pub words: String,
    /// Calendar days from the step before to this one (local dates).
    pub days: i64,
    /// The days it usually takes here (0: no figure).
    pub typical: i64,
    /// Whether the step is still waited for (an open breach's current step).
    pub waiting: bool,
}

impl Delay {
    /// "endoscopy took 21 days (usually 9)", "still waiting for surgery: 30 days so far".
    pub fn words(&self) -> String {
        let usual = if self.typical > 0 {
            format!(" (usually {})", self.typical)
        } else {
            String::new()
        };
        let d = if self.days == 1 { "day" } else { "days" };
        if self.waiting {
            format!(
                "still waiting for {}: {} {d} so far{usual}",
                self.words, self.days
            )
        } else {
            format!("{} took {} {d}{usual}", self.words, self.days)
        }
    }
}

/// One breached clock.
#[derive(Debug, Clone, PartialEq)]
pub struct Breach {
    pub patient: String,
    pub name: String,
    pub mrn: Option<String>,
    pub pathway: String,
    pub pathway_title: String,
    pub clock: String,
    pub clock_name: String,
    pub target: i64,
    pub elapsed: i64,
    pub unit: Unit,
    pub start: Option<DateTime<FixedOffset>>,
    /// `None`: still open.
    pub stop: Option<DateTime<FixedOffset>>,
    pub delay: Option<Delay>,
}

/// The longest delay of one breached clock (see the module's rule).
pub fn longest_delay(
    pathway: &Pathway,
    ev: &Evaluation,
    clock: &ClockState,
    site: &Site,
) -> Option<Delay> {
    let start = clock.start?;
    let end = clock.stop.unwrap_or(ev.now);
    let mut done: Vec<(DateTime<FixedOffset>, &str, &str)> = ev
        .milestones
        .iter()
        .filter_map(|m| {
            let c = m.done.first()?;
            (c.at > start && c.at <= end && Some(&c.event) != clock.start_event.as_ref())
                .then_some((c.at, m.id.as_str(), m.name.as_str()))
        })
        .collect();
    done.sort_by_key(|(at, ..)| *at);
    let days = |a: DateTime<FixedOffset>, b: DateTime<FixedOffset>| {
        (b.date_naive() - a.date_naive()).num_days()
    };
    let mut steps: Vec<Delay> = Vec::new();
    let mut from = start;
    for (at, id, name) in &done {
        steps.push(Delay {
            milestone: id.to_string(),
            words: site.words(id, name),
            days: days(from, *at),
            typical: site.typical(&pathway.id, id),
            waiting: false,
        });
        from = *at;
    }
    // An open breach: the step being waited for counts from the last step done.
    if clock.stop.is_none() {
        if let Some(next) = &ev.next_step {
            steps.push(Delay {
                milestone: next.milestone.clone(),
                words: site.words(&next.milestone, &next.name),
                days: days(from, ev.now),
                typical: site.typical(&pathway.id, &next.milestone),
                waiting: true,
            });
        }
    }
    let over = |d: &Delay| d.days - d.typical;
    first_max(steps.iter().filter(|d| d.typical > 0), over)
        .filter(|d| over(d) > 0)
        .or_else(|| first_max(steps.iter(), |d| d.days))
        .cloned()
}

/// The first of the items with the greatest key.
fn first_max<'a>(
    items: impl Iterator<Item = &'a Delay>,
    key: impl Fn(&Delay) -> i64,
) -> Option<&'a Delay> {
    items.fold(None, |best, d| match best {
        Some(b) if key(b) >= key(d) => Some(b),
        _ => Some(d),
    })
}

impl Navigation {
    /// Every breached clock counted in days (stopped late, or open past target) of the cases
    /// `reach` allows (`None`: all), newest stop first and open ones first of all.
    pub fn breaches(&self, reach: Option<&BTreeSet<String>>) -> Vec<Breach> {
        let site = self.site_now();
        let mut out = Vec::new();
        for case in self.cases() {
            if reach.is_some_and(|r| !r.contains(&case.patient)) {
                continue;
            }
            for ep in &case.episodes {
                let Some(pw) = self.pathways().pathway(&ep.pathway) else {
                    continue;
                };
                for c in &ep.evaluation.clocks {
                    if c.status != ClockStatus::Breached || c.unit != Unit::Days {
                        continue;
                    }
                    out.push(Breach {
                        patient: case.patient.clone(),
                        name: case.person.name.clone(),
                        mrn: case.person.mrn.clone(),
                        pathway: ep.pathway.clone(),
                        pathway_title: ep.title.clone(),
                        clock: c.clock.clone(),
                        clock_name: c.name.clone(),
                        target: c.target,
                        elapsed: c.elapsed,
                        unit: c.unit,
                        start: c.start,
                        stop: c.stop,
                        delay: longest_delay(pw, &ep.evaluation, c, &site),
                    });
                }
            }
        }
        out.sort_by(|a, b| {
            a.stop
                .is_some()
                .cmp(&b.stop.is_some())
                .then(b.stop.cmp(&a.stop))
                .then(b.elapsed.cmp(&a.elapsed))
                .then(a.name.cmp(&b.name))
        });
        out
    }
}
