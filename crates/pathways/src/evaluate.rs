//! The engine: one patient's events and adjustments on one pathway at one moment, judged into
//! milestone states, clocks and the next step. Pure: `now` is an argument, events dated after
//! `now` are plans and are not counted.
//!
//! Counting. A clock in days counts local calendar dates, the start date being day 0 (the NHS
//! England Cancer Waiting Times convention: a referral received on 1 March and a diagnosis
//! communicated on 29 March is 28 days), so day `target` is the last day within the standard.
//! A clock in minutes counts whole elapsed minutes, so at 60 min 59 s a 60-minute target is
//! still met and the 61st minute breaches. Allowed pauses are subtracted in the same unit.

use std::collections::HashSet;

use chrono::{DateTime, Duration, FixedOffset, NaiveTime};

use crate::definition::{Clock, Effect, Milestone, Pathway, Per, Span, Unit};
use crate::event::{resolve, Adjustment, Event, EventKind, Issue};

/// One patient on one pathway at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub pathway: String,
    pub now: DateTime<FixedOffset>,
    /// In the pathway file's order.
    pub milestones: Vec<MilestoneState>,
    /// In the pathway file's order; a clock kept per start has one entry per start.
    pub clocks: Vec<ClockState>,
    /// The step a navigator should chase now.
    pub next_step: Option<NextStep>,
    /// Set when a milestone that ends the pathway is done (e.g. cancer ruled out).
    pub ending: Option<Ending>,
    /// Events and adjustments that could not be used, with the reason.
    pub issues: Vec<Issue>,
}

/// How a pathway ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Ending {
    pub label: String,
    pub milestone: String,
    pub at: DateTime<FixedOffset>,
}

/// A milestone's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MilestoneStatus {
    Done,
    /// Not done; not yet due, or no due time yet.
    Pending,
    /// Not done and past its due time.
    Overdue,
    /// Not done and not needed: optional and not indicated, an alternative was done, or the
    /// pathway ended.
    NotNeeded,
}

/// One milestone for one patient.
#[derive(Debug, Clone, PartialEq)]
pub struct MilestoneState {
    pub id: String,
    pub name: String,
    pub status: MilestoneStatus,
    /// Every completion in force, earliest first.
    pub done: Vec<Completion>,
    /// The first moment the milestone is late (its due time has passed); `None` without a
    /// target or before the target's anchor is done.
    pub deadline: Option<DateTime<FixedOffset>>,
    /// Done, but at or after the deadline.
    pub late: bool,
}

/// What completed a milestone.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    pub at: DateTime<FixedOffset>,
    pub event: String,
    pub source: Option<String>,
    pub recorded_by: Option<String>,
    /// Entered by a navigator rather than read from the record.
    pub manual: bool,
    pub link: Option<String>,
    /// The ids of the earlier records this one corrected, newest first.
    pub corrects: Vec<String>,
}

/// A clock's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockStatus {
    /// No start event yet (or a required co-event is missing).
    NotStarted,
    /// The standard does not apply to this patient (see `reason`).
    NotApplicable,
    Running,
    /// An allowed pause is open now.
    Paused,
    /// Stopped within target.
    Met,
    /// Past target: still running, or stopped late (`stop` says which).
    Breached,
    /// Closed without measurement (e.g. cancer ruled out closes the 62-day clock).
    Ended,
}

/// One clock for one patient.
#[derive(Debug, Clone, PartialEq)]
pub struct ClockState {
    pub clock: String,
    pub name: String,
    /// For clocks kept per start: the start event's link.
    pub link: Option<String>,
    pub status: ClockStatus,
    /// Why a clock is not started, not applicable or ended.
    pub reason: Option<String>,
    /// The start in force (after any restart).
    pub start: Option<DateTime<FixedOffset>>,
    pub start_event: Option<String>,
    pub stop: Option<DateTime<FixedOffset>>,
    pub stop_event: Option<String>,
    /// The stop's ending label (`diagnosed`, `ruled-out`…).
    pub ending: Option<String>,
    pub unit: Unit,
    pub target: i64,
    /// Time counted, start to stop (or now), less pauses, in `unit`.
    pub elapsed: i64,
    /// Time not counted because of allowed pauses, in `unit`.
    pub paused: i64,
    /// `target - elapsed`; negative once breached.
    pub remaining: i64,
    /// The first moment the clock is in breach, pauses so far included; `None` while a pause
    /// is open or before the clock starts.
    pub deadline: Option<DateTime<FixedOffset>>,
    pub adjustments: Vec<AppliedAdjustment>,
    pub standard_percent: Option<f64>,
}

impl ClockState {
    /// Started and neither stopped nor closed: the clocks a worklist chases.
    pub fn is_open(&self) -> bool {
        self.stop.is_none()
            && matches!(
                self.status,
                ClockStatus::Running | ClockStatus::Paused | ClockStatus::Breached
            )
    }

    /// `remaining` in minutes, to compare clocks counted in different units.
    pub fn remaining_minutes(&self) -> i64 {
        match self.unit {
            Unit::Days => self.remaining.saturating_mul(24 * 60),
            Unit::Minutes => self.remaining,
        }
    }
}

/// An adjustment the engine applied, for the audit trail.
#[derive(Debug, Clone, PartialEq)]
pub struct AppliedAdjustment {
    pub id: String,
    pub rule: String,
    pub effect: Effect,
    pub from: DateTime<FixedOffset>,
    pub until: Option<DateTime<FixedOffset>>,
    pub reason: String,
    pub recorded_by: String,
    pub recorded_at: DateTime<FixedOffset>,
    pub corrects: Vec<String>,
}

/// The step to chase.
#[derive(Debug, Clone, PartialEq)]
pub struct NextStep {
    pub milestone: String,
    pub name: String,
    pub deadline: Option<DateTime<FixedOffset>>,
    pub overdue: bool,
}

/// Judges one patient's `events` and `adjustments` on `pathway` at `now`.
pub fn evaluate(
    pathway: &Pathway,
    events: &[Event],
    adjustments: &[Adjustment],
    now: DateTime<FixedOffset>,
) -> Evaluation {
    let mut issues = Vec::new();
    let in_force: Vec<(&Event, Vec<String>)> = resolve(events)
        .into_iter()
        .filter(|(e, _)| e.time <= now)
        .collect();
    for (e, _) in &in_force {
        if let EventKind::Navigator { milestone } = &e.kind {
            match pathway.milestone(milestone) {
                None => issues.push(Issue {
                    id: e.id.clone(),
                    message: format!("no milestone '{milestone}' on pathway '{}'", pathway.id),
                }),
                Some(m) if !m.manual => issues.push(Issue {
                    id: e.id.clone(),
                    message: format!("milestone '{milestone}' comes from the record only"),
                }),
                Some(_) => {}
            }
        }
    }

    // Completions per milestone, earliest first.
    let done: Vec<Vec<Completion>> = pathway
        .milestones
        .iter()
        .map(|m| {
            let mut c: Vec<Completion> = in_force
                .iter()
                .filter(|(e, _)| completes(m, e))
                .map(|(e, h)| Completion {
                    at: e.time,
                    event: e.id.clone(),
                    source: e.source.clone(),
                    recorded_by: e.recorded_by.clone(),
                    manual: matches!(e.kind, EventKind::Navigator { .. }),
                    link: e.link.clone(),
                    corrects: h.clone(),
                })
                .collect();
            c.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.event.cmp(&b.event)));
            c
        })
        .collect();
    let index = |id: &str| pathway.milestones.iter().position(|m| m.id == id);
    let done = too_late_dropped(pathway, done, &mut issues);
    let first = |id: &str| index(id).and_then(|i| done[i].first()).map(|c| c.at);

    let ending = pathway
        .milestones
        .iter()
        .zip(&done)
        .filter_map(|(m, d)| {
            let label = m.ends_pathway.as_ref()?;
            let c = d.first()?;
            Some(Ending {
                label: label.clone(),
                milestone: m.id.clone(),
                at: c.at,
            })
        })
        .min_by_key(|e| e.at);

    let milestones: Vec<MilestoneState> = pathway
        .milestones
        .iter()
        .zip(&done)
        .map(|(m, d)| {
            let deadline = m.target.as_ref().and_then(|t| {
                let anchor = t.after.iter().filter_map(|a| first(a)).min()?;
                Some(deadline_after(anchor, t.within, 0))
            });
            let indicated = !m.optional || m.indicated_by.iter().any(|i| first(i).is_some());
            let alternative_done = m.alternatives.iter().any(|a| first(a).is_some());
            let status = if !d.is_empty() {
                MilestoneStatus::Done
            } else if !indicated || alternative_done || ending.is_some() {
                MilestoneStatus::NotNeeded
            } else if deadline.is_some_and(|dl| now >= dl) {
                MilestoneStatus::Overdue
            } else {
                MilestoneStatus::Pending
            };
            MilestoneState {
                id: m.id.clone(),
                name: m.name.clone(),
                status,
                late: match (d.first(), deadline) {
                    (Some(c), Some(dl)) => c.at >= dl,
                    _ => false,
                },
                done: d.clone(),
                deadline,
            }
        })
        .collect();

    let adjustments_in_force = resolve(adjustments);
    for (a, _) in &adjustments_in_force {
        if let Some(problem) = adjustment_problem(pathway, a) {
            issues.push(Issue {
                id: a.id.clone(),
                message: problem,
            });
        }
    }

    let mut clocks = Vec::new();
    for clock in &pathway.clocks {
        clocks.extend(clock_states(
            pathway,
            clock,
            &done,
            &adjustments_in_force,
            now,
            &mut issues,
        ));
    }

    let next_step = next_step(&milestones);
    Evaluation {
        pathway: pathway.id.clone(),
        now,
        milestones,
        clocks,
        next_step,
        ending,
        issues,
    }
}

/// Completions of milestones that must come `before` others, dated on a later local date
/// than the earliest completion of any of those, are dropped with an issue.
fn too_late_dropped(
    pathway: &Pathway,
    mut done: Vec<Vec<Completion>>,
    issues: &mut Vec<Issue>,
) -> Vec<Vec<Completion>> {
    for (i, m) in pathway.milestones.iter().enumerate() {
        let limit = m
            .before
            .iter()
            .filter_map(|b| {
                let j = pathway.milestones.iter().position(|x| x.id == *b)?;
                let c = done[j].first()?;
                Some((c.at, pathway.milestones[j].name.as_str()))
            })
            .min_by_key(|(at, _)| *at);
        let Some((limit, name)) = limit else { continue };
        let (kept, late): (Vec<Completion>, Vec<Completion>) = std::mem::take(&mut done[i])
            .into_iter()
            .partition(|c| c.at.date_naive() <= limit.date_naive());
        for c in late {
            issues.push(Issue {
                id: c.event,
                message: format!(
                    "'{}' must come before '{}' ({}); not counted",
                    m.name,
                    name.to_lowercase(),
                    limit.format("%-d %b %Y")
                ),
            });
        }
        done[i] = kept;
    }
    done
}

/// The clocks of `ev` whose standard is for other ages than the patient's on the day the
/// clock started (born `birth`) are not applicable, with the reason. Without a birth date
/// nothing changes (the cohort cannot be judged; the record says so elsewhere).
pub fn apply_age(pathway: &Pathway, ev: &mut Evaluation, birth: Option<chrono::NaiveDate>) {
    let Some(birth) = birth else { return };
    for c in &mut ev.clocks {
        let (Some(range), Some(start)) = (
            pathway.clock(&c.clock).and_then(|d| d.age.as_ref()),
            c.start,
        ) else {
            continue;
        };
        let Some(age) = start.date_naive().years_since(birth).map(i64::from) else {
            continue;
        };
        let outside = range.from.is_some_and(|f| age < f) || range.below.is_some_and(|b| age >= b);
        if outside {
            let words = match (range.from, range.below) {
                (Some(f), Some(b)) => format!("{f} to {}", b - 1),
                (Some(f), None) => format!("{f} and over"),
                (None, Some(b)) => format!("under {b}"),
                (None, None) => "every age".into(),
            };
            c.status = ClockStatus::NotApplicable;
            c.reason = Some(format!(
                "aged {age} when it started: the standard is for {words}"
            ));
            c.deadline = None;
        }
    }
}

impl Milestone {
    /// Whether `e` is evidence that completes this milestone (its resource, codes, status,
    /// verification status, value range and value codes).
    pub fn completed_by(&self, e: &Event) -> bool {
        completes(self, e)
    }
}

fn completes(m: &Milestone, e: &Event) -> bool {
    match &e.kind {
        EventKind::Navigator { milestone } => m.manual && *milestone == m.id,
        EventKind::Resource(rt) => m.evidence.iter().any(|ev| {
            ev.resource == *rt
                && (ev.codes.is_empty()
                    || ev
                        .codes
                        .iter()
                        .any(|c| e.codes.iter().any(|x| c.matches(x))))
                && (ev.status.is_empty()
                    || e.status.as_ref().is_some_and(|s| ev.status.contains(s)))
                && (ev.verification_status.is_empty()
                    || e.verification_status
                        .as_ref()
                        .is_some_and(|s| ev.verification_status.contains(s)))
                && ev
                    .min_value
                    .is_none_or(|lo| e.value.is_some_and(|v| v >= lo))
                && ev
                    .max_value
                    .is_none_or(|hi| e.value.is_some_and(|v| v <= hi))
                && (ev.value_codes.is_empty()
                    || ev
                        .value_codes
                        .iter()
                        .any(|c| e.value_codes.iter().any(|x| c.matches(x))))
                && (ev.focus_codes.is_empty()
                    || ev
                        .focus_codes
                        .iter()
                        .any(|c| e.focus.iter().any(|x| c.matches(x))))
        }),
    }
}

/// The first late moment after `anchor` with `within` allowed and `paused` not counted.
fn deadline_after(
    anchor: DateTime<FixedOffset>,
    within: Span,
    paused: i64,
) -> DateTime<FixedOffset> {
    match within {
        Span::Days(n) => {
            let date = anchor.date_naive() + Duration::days(n + paused + 1);
            date.and_time(NaiveTime::MIN)
                .and_local_timezone(*anchor.offset())
                .single()
                .expect("a fixed offset maps every local time once")
        }
        Span::Minutes(n) => anchor + Duration::minutes(n + paused + 1),
    }
}

/// Time from `a` to `b` in `unit` (negative if `b` is earlier).
fn between(a: DateTime<FixedOffset>, b: DateTime<FixedOffset>, unit: Unit) -> i64 {
    match unit {
        Unit::Days => (b.date_naive() - a.date_naive()).num_days(),
        Unit::Minutes => (b - a).num_minutes(),
    }
}

fn adjustment_problem(pathway: &Pathway, a: &Adjustment) -> Option<String> {
    if a.reason.trim().is_empty() {
        return Some("an adjustment needs a reason".into());
    }
    if a.recorded_by.trim().is_empty() {
        return Some("an adjustment needs who recorded it".into());
    }
    let Some(rule) = pathway.adjustment(&a.rule) else {
        return Some(format!(
            "pathway '{}' allows no adjustment '{}'",
            pathway.id, a.rule
        ));
    };
    if let Some(until) = a.until {
        if until < a.from {
            return Some("the adjustment ends before it starts".into());
        }
    }
    if rule.effect == Effect::Restart && a.until.is_some() {
        return Some("a restart has no end".into());
    }
    let allowed = |c: &Clock| c.adjustments.contains(&a.rule);
    match &a.clock {
        Some(id) => match pathway.clock(id) {
            None => Some(format!("no clock '{id}' on pathway '{}'", pathway.id)),
            Some(c) if !allowed(c) => Some(format!(
                "clock '{id}' does not allow adjustment '{}'",
                a.rule
            )),
            Some(_) => None,
        },
        None if !pathway.clocks.iter().any(allowed) => {
            Some(format!("no clock allows adjustment '{}'", a.rule))
        }
        None => None,
    }
}

struct Candidate {
    at: DateTime<FixedOffset>,
    target: Span,
    event: String,
    link: Option<String>,
    overrides: bool,
}

fn clock_states(
    pathway: &Pathway,
    clock: &Clock,
    done: &[Vec<Completion>],
    adjustments: &[(&Adjustment, Vec<String>)],
    now: DateTime<FixedOffset>,
    issues: &mut Vec<Issue>,
) -> Vec<ClockState> {
    let index = |id: &str| {
        pathway
            .milestones
            .iter()
            .position(|m| m.id == id)
            .expect("validated: clocks name known milestones")
    };
    let first = |id: &str| done[index(id)].first().map(|c| c.at);
    let blank = |status: ClockStatus, reason: String| ClockState {
        clock: clock.id.clone(),
        name: clock.name.clone(),
        link: None,
        status,
        reason: Some(reason),
        start: None,
        start_event: None,
        stop: None,
        stop_event: None,
        ending: None,
        unit: clock.target.unit(),
        target: clock.target.amount(),
        elapsed: 0,
        paused: 0,
        remaining: clock.target.amount(),
        deadline: None,
        adjustments: Vec::new(),
        standard_percent: clock.standard_percent,
    };

    let missing: Vec<&str> = clock
        .applies_if
        .iter()
        .filter(|m| first(m).is_none())
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        return vec![blank(
            ClockStatus::NotApplicable,
            format!("applies only once done: {}", missing.join(", ")),
        )];
    }

    // Co-events: the clock cannot start before the last of them.
    let mut requires_at: Option<DateTime<FixedOffset>> = None;
    for r in &clock.requires {
        match first(r) {
            None => return vec![blank(ClockStatus::NotStarted, format!("waiting for: {r}"))],
            Some(t) => {
                requires_at = Some(requires_at.map_or(t, |x: DateTime<FixedOffset>| x.max(t)))
            }
        }
    }

    let mut candidates: Vec<Candidate> = Vec::new();
    for s in &clock.start {
        for c in &done[index(&s.milestone)] {
            candidates.push(Candidate {
                at: requires_at.map_or(c.at, |r| r.max(c.at)),
                target: s.target.unwrap_or(clock.target),
                event: c.event.clone(),
                link: c.link.clone(),
                overrides: s.overrides,
            });
        }
    }
    if candidates.is_empty() {
        return vec![blank(ClockStatus::NotStarted, "no start event yet".into())];
    }

    // Group the starts into clock instances.
    let mut groups: Vec<Vec<Candidate>> = Vec::new();
    match clock.per {
        Per::Episode => groups.push(candidates),
        Per::EachStart => {
            for c in candidates {
                match groups
                    .iter_mut()
                    .find(|g| c.link.is_some() && g[0].link == c.link)
                {
                    Some(g) => g.push(c),
                    None => groups.push(vec![c]),
                }
            }
        }
    }
    let mut starts: Vec<Candidate> = groups
        .into_iter()
        .map(|g| {
            if g.iter().any(|c| c.overrides) {
                g.into_iter()
                    .filter(|c| c.overrides)
                    .max_by(|a, b| a.at.cmp(&b.at).then_with(|| a.event.cmp(&b.event)))
                    .expect("non-empty")
            } else {
                g.into_iter()
                    .min_by(|a, b| {
                        deadline_after(a.at, a.target, 0)
                            .cmp(&deadline_after(b.at, b.target, 0))
                            .then_with(|| a.at.cmp(&b.at))
                            .then_with(|| a.event.cmp(&b.event))
                    })
                    .expect("non-empty")
            }
        })
        .collect();
    starts.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.event.cmp(&b.event)));

    // Stops, earliest first, each claimed once.
    let mut stops: Vec<(&Completion, Option<&String>)> = clock
        .stop
        .iter()
        .flat_map(|s| {
            done[index(&s.milestone)]
                .iter()
                .map(move |c| (c, s.ending.as_ref()))
        })
        .collect();
    stops.sort_by(|a, b| a.0.at.cmp(&b.0.at).then_with(|| a.0.event.cmp(&b.0.event)));
    let mut claimed: HashSet<&str> = HashSet::new();

    let mut out = Vec::new();
    for start in starts {
        let mut state = blank(ClockStatus::Running, String::new());
        state.reason = None;
        state.link = start.link.clone();
        state.target = start.target.amount();
        let unit = start.target.unit();
        let mut begin = start.at;

        // Restarts move the start; the latest valid one counts.
        let mine: Vec<&(&Adjustment, Vec<String>)> = adjustments
            .iter()
            .filter(|(a, _)| {
                clock.adjustments.contains(&a.rule)
                    && a.clock.as_ref().is_none_or(|c| *c == clock.id)
                    && (a.link.is_none() || a.link == start.link)
                    && adjustment_problem(pathway, a).is_none()
            })
            .collect();
        let stop = stops.iter().find(|(c, _)| {
            !claimed.contains(c.event.as_str())
                && c.at >= start.at
                && (clock.per == Per::Episode || start.link.is_none() || c.link == start.link)
        });
        let stop_at = stop.map(|(c, _)| c.at);
        for (a, corrects) in &mine {
            let rule = pathway.adjustment(&a.rule).expect("checked");
            if rule.effect != Effect::Restart {
                continue;
            }
            let valid = a.from > begin
                && a.from <= now
                && stop_at.is_none_or(|s| a.from <= s)
                && rule
                    .only_before
                    .as_ref()
                    .is_none_or(|m| first(m).is_none_or(|t| t >= a.from));
            if !valid {
                issues.push(Issue {
                    id: a.id.clone(),
                    message: format!(
                        "restart not applied to clock '{}': it must fall after the start, before the stop{}",
                        clock.id,
                        rule.only_before
                            .as_ref()
                            .map(|m| format!(" and before '{m}' is done"))
                            .unwrap_or_default()
                    ),
                });
                continue;
            }
            begin = a.from;
            state.adjustments.push(applied(a, rule.effect, corrects));
        }
        state.start = Some(begin);
        state.start_event = Some(start.event.clone());

        if let Some((c, ending)) = stop {
            claimed.insert(c.event.as_str());
            state.stop = Some(c.at);
            state.stop_event = Some(c.event.clone());
            state.ending = ending.cloned();
        }
        let end = state.stop.unwrap_or(now);

        // Closed without measurement.
        let closed = clock
            .ended_by
            .iter()
            .filter_map(|m| first(m).map(|t| (m, t)))
            .filter(|(_, t)| *t >= start.at && *t <= end)
            .min_by_key(|(_, t)| *t);
        let excluded = clock
            .not_if
            .iter()
            .find(|m| first(m).is_some_and(|t| t <= end));

        // Pauses, merged and clipped to [begin, end].
        let mut spans: Vec<(DateTime<FixedOffset>, Option<DateTime<FixedOffset>>)> = Vec::new();
        for (a, corrects) in &mine {
            let rule = pathway.adjustment(&a.rule).expect("checked");
            if rule.effect != Effect::Pause || a.from > end {
                continue;
            }
            if a.until.is_some_and(|u| u <= begin) {
                continue;
            }
            spans.push((a.from.max(begin), a.until));
            state.adjustments.push(applied(a, rule.effect, corrects));
        }
        spans.sort_by_key(|s| s.0);
        let mut paused = 0;
        let mut open = false;
        let mut cursor: Option<DateTime<FixedOffset>> = None;
        for (from, until) in spans {
            let from = cursor.map_or(from, |c| c.max(from));
            let to = match until {
                Some(u) if u < end => u,
                _ => {
                    open |= state.stop.is_none();
                    end
                }
            };
            if to > from {
                paused += between(from, to, unit);
                cursor = Some(to);
            }
        }
        let elapsed = between(begin, end, unit) - paused;
        state.paused = paused;
        state.elapsed = elapsed;
        state.remaining = start.target.amount() - elapsed;
        state.deadline = (!open).then(|| deadline_after(begin, start.target, paused));
        state.status = if let Some((m, _)) = closed {
            state.reason = Some(format!("closed by '{m}'"));
            state.deadline = None;
            ClockStatus::Ended
        } else if let Some(m) = excluded {
            state.reason = Some(format!("excluded: '{m}' done"));
            state.deadline = None;
            ClockStatus::NotApplicable
        } else if elapsed > start.target.amount() {
            ClockStatus::Breached
        } else if state.stop.is_some() {
            ClockStatus::Met
        } else if open {
            ClockStatus::Paused
        } else {
            ClockStatus::Running
        };
        out.push(state);
    }
    out
}

fn applied(a: &Adjustment, effect: Effect, corrects: &[String]) -> AppliedAdjustment {
    AppliedAdjustment {
        id: a.id.clone(),
        rule: a.rule.clone(),
        effect,
        from: a.from,
        until: a.until,
        reason: a.reason.clone(),
        recorded_by: a.recorded_by.clone(),
        recorded_at: a.recorded_at,
        corrects: corrects.to_vec(),
    }
}

/// Overdue steps first (earliest deadline), then steps with a deadline (earliest), then the
/// first needed step in file order.
fn next_step(milestones: &[MilestoneState]) -> Option<NextStep> {
    let open = milestones.iter().filter(|m| {
        matches!(
            m.status,
            MilestoneStatus::Pending | MilestoneStatus::Overdue
        )
    });
    let best = open
        .clone()
        .filter(|m| m.deadline.is_some())
        .min_by(|a, b| {
            (a.status != MilestoneStatus::Overdue)
                .cmp(&(b.status != MilestoneStatus::Overdue))
                .then_with(|| a.deadline.cmp(&b.deadline))
        });
    let m = best.or_else(|| open.clone().next())?;
    Some(NextStep {
        milestone: m.id.clone(),
        name: m.name.clone(),
        deadline: m.deadline,
        overdue: m.status == MilestoneStatus::Overdue,
    })
}
