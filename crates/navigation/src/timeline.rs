//! One patient's pathway on one line of time: every milestone done or due, every clock's
//! start, stop, deadline and pause, every contact and navigator hand-over, in plain words.

use chrono::{DateTime, FixedOffset};
use pathways::{ClockStatus, MilestoneStatus, Unit};

use crate::codes;
use crate::service::{Case, Navigation};

/// What kind of line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Milestone,
    Due,
    Clock,
    Contact,
    Navigator,
    Adjustment,
    /// A navigator's entry withdrawn.
    Withdrawn,
}

impl Kind {
    pub fn code(self) -> &'static str {
        match self {
            Kind::Milestone => "milestone",
            Kind::Due => "due",
            Kind::Clock => "clock",
            Kind::Contact => "contact",
            Kind::Navigator => "navigator",
            Kind::Adjustment => "adjustment",
            Kind::Withdrawn => "withdrawn",
        }
    }
}

/// One line of the timeline.
#[derive(Debug, Clone)]
pub struct Item {
    pub at: DateTime<FixedOffset>,
    pub kind: Kind,
    /// The pathway's title (empty for contacts and hand-overs, which are the patient's).
    pub pathway: String,
    pub title: String,
    pub detail: String,
    pub who: Option<String>,
    /// After now (a due time or a deadline ahead).
    pub ahead: bool,
    /// Late, overdue or breached.
    pub late: bool,
}

fn source_words(source: &str) -> &'static str {
    match source.split('/').next().unwrap_or("") {
        "ServiceRequest" => "a referral or request in the record",
        "Appointment" => "an appointment",
        "Encounter" => "a clinic visit",
        "DiagnosticReport" => "a report",
        "Observation" => "a result",
        "Specimen" => "a specimen",
        "Condition" => "a diagnosis in the record",
        "Procedure" => "a procedure",
        "MedicationRequest" => "a prescription",
        "MedicationAdministration" => "a treatment given",
        "CarePlan" => "a care plan",
        "Communication" => "a conversation recorded",
        "Task" => "a navigator's entry",
        _ => "the record",
    }
}

/// A day in words, with the year only when it is not this year's ("5 Dec", "28 Nov 2025").
pub fn day(t: DateTime<FixedOffset>, now: DateTime<FixedOffset>) -> String {
    if chrono::Datelike::year(&t) == chrono::Datelike::year(&now) {
        t.format("%-d %b").to_string()
    } else {
        t.format("%-d %b %Y").to_string()
    }
}

fn days(n: i64, unit: Unit) -> String {
    match unit {
        Unit::Days if n.abs() == 1 => "1 day".into(),
        Unit::Days => format!("{} days", n.abs()),
        Unit::Minutes => format!("{} min", n.abs()),
    }
}

impl Navigation {
    /// The timeline of a case, in time order.
    pub fn timeline(&self, c: &Case) -> Vec<Item> {
        let now = self.now();
        let mut out = Vec::new();
        for ep in &c.episodes {
            let ev = &ep.evaluation;
            let title = crate::worklist::short(&ep.pathway, &ep.title);
            let def = self.pathways().pathway(&ep.pathway);
            // Of steps that do the same job (diagnosis told, cancer ruled out), one is due.
            let mut due_shown: Vec<&str> = Vec::new();
            for m in &ev.milestones {
                for (k, d) in m.done.iter().enumerate() {
                    if k > 0 && !d.manual {
                        continue;
                    }
                    let (detail, who) = if d.manual {
                        (
                            "marked done by the navigator".to_string(),
                            d.recorded_by.as_deref().map(|r| self.name_of(r)),
                        )
                    } else {
                        (
                            format!(
                                "from {}",
                                d.source.as_deref().map_or("the record", source_words)
                            ),
                            None,
                        )
                    };
                    out.push(Item {
                        at: d.at,
                        kind: Kind::Milestone,
                        pathway: title.clone(),
                        title: m.name.clone(),
                        detail: if m.late {
                            format!("{detail}; after its due time")
                        } else {
                            detail
                        },
                        who,
                        ahead: false,
                        late: m.late,
                    });
                }
                let alternative_shown = def.and_then(|p| p.milestone(&m.id)).is_some_and(|d| {
                    d.alternatives
                        .iter()
                        .any(|a| due_shown.contains(&a.as_str()))
                });
                if matches!(
                    m.status,
                    MilestoneStatus::Pending | MilestoneStatus::Overdue
                ) && !alternative_shown
                {
                    if let Some(d) = m.deadline {
                        due_shown.push(&m.id);
                        let overdue = m.status == MilestoneStatus::Overdue;
                        out.push(Item {
                            at: d,
                            kind: Kind::Due,
                            pathway: title.clone(),
                            title: format!("Due: {}", m.name),
                            detail: if overdue {
                                "not done yet; overdue".into()
                            } else {
                                "not done yet".into()
                            },
                            who: None,
                            ahead: d > now,
                            late: overdue,
                        });
                    }
                }
            }
            for cl in &ev.clocks {
                if let Some(s) = cl.start {
                    out.push(Item {
                        at: s,
                        kind: Kind::Clock,
                        pathway: title.clone(),
                        title: format!("{} started", cl.name),
                        detail: format!("target {}", days(cl.target, cl.unit)),
                        who: None,
                        ahead: false,
                        late: false,
                    });
                }
                for a in &cl.adjustments {
                    out.push(Item {
                        at: a.from,
                        kind: Kind::Adjustment,
                        pathway: title.clone(),
                        title: format!("{}: clock adjusted", cl.name),
                        detail: match a.until {
                            Some(u) => format!("{} (until {})", a.reason, u.format("%-d %b")),
                            None => format!("{} (open)", a.reason),
                        },
                        who: Some(self.name_of(&a.recorded_by)),
                        ahead: false,
                        late: false,
                    });
                }
                match (cl.stop, cl.status) {
                    (Some(s), ClockStatus::Met) => out.push(Item {
                        at: s,
                        kind: Kind::Clock,
                        pathway: title.clone(),
                        title: format!("{} met", cl.name),
                        detail: format!(
                            "stopped after {} of {}",
                            days(cl.elapsed, cl.unit),
                            days(cl.target, cl.unit)
                        ),
                        who: None,
                        ahead: false,
                        late: false,
                    }),
                    (Some(s), ClockStatus::Breached) => out.push(Item {
                        at: s,
                        kind: Kind::Clock,
                        pathway: title.clone(),
                        title: format!("{} breached", cl.name),
                        detail: format!(
                            "stopped after {}, {} over",
                            days(cl.elapsed, cl.unit),
                            days(-cl.remaining, cl.unit)
                        ),
                        who: None,
                        ahead: false,
                        late: true,
                    }),
                    (None, ClockStatus::Ended) => {}
                    (None, _) if cl.is_open() => {
                        if let Some(d) = cl.deadline {
                            let breached = cl.status == ClockStatus::Breached;
                            out.push(Item {
                                at: d,
                                kind: Kind::Clock,
                                pathway: title.clone(),
                                title: format!(
                                    "{}: {}",
                                    cl.name,
                                    if breached { "breached" } else { "deadline" }
                                ),
                                detail: if breached {
                                    format!(
                                        "{} over and still running",
                                        days(-cl.remaining, cl.unit)
                                    )
                                } else {
                                    format!("{} left", days(cl.remaining, cl.unit))
                                },
                                who: None,
                                ahead: d > now,
                                late: breached,
                            });
                        }
                    }
                    _ => {}
                }
            }
            for issue in ev.issues.iter().filter(|i| i.id.starts_with("Task/")) {
                if let Some((_, a)) = c.adjustments.iter().find(|(_, a)| a.id == issue.id) {
                    out.push(Item {
                        at: a.from,
                        kind: Kind::Adjustment,
                        pathway: title.clone(),
                        title: "Clock adjustment not applied".into(),
                        detail: format!("{}: {}", a.reason, issue.message),
                        who: Some(self.name_of(&a.recorded_by)),
                        ahead: false,
                        late: true,
                    });
                }
            }
            if let Some(e) = &ev.ending {
                out.push(Item {
                    at: e.at,
                    kind: Kind::Clock,
                    pathway: title.clone(),
                    title: "Pathway ended".into(),
                    detail: e.label.replace('-', " "),
                    who: None,
                    ahead: false,
                    late: false,
                });
            }
        }
        for k in &c.contacts {
            let mut detail = codes::outcome_words(&k.outcome).to_string();
            if let Some(n) = k.note.as_ref().filter(|n| !n.is_empty()) {
                detail = format!("{detail}: {n}");
            }
            out.push(Item {
                at: k.at,
                kind: Kind::Contact,
                pathway: String::new(),
                title: format!("Contact: {}", codes::channel_words(&k.channel)),
                detail,
                who: k.by.as_deref().map(|b| self.name_of(b)),
                ahead: false,
                late: false,
            });
        }
        for a in &c.assignments {
            out.push(Item {
                at: a.at,
                kind: Kind::Navigator,
                pathway: String::new(),
                title: format!("Navigator: {}", self.name_of(&a.navigator)),
                detail: a.note.clone().unwrap_or_default(),
                who: a.by.as_deref().map(|b| self.name_of(b)),
                ahead: false,
                late: false,
            });
        }
        out.extend(self.withdrawals(c));
        out.sort_by(|a, b| a.at.cmp(&b.at).then(a.title.cmp(&b.title)));
        out
    }

    /// Navigators' entries withdrawn, from the notes on the case's milestone Tasks.
    fn withdrawals(&self, c: &Case) -> Vec<Item> {
        let zone = self.zone();
        let mut out = Vec::new();
        for (key, (_, t)) in &c.stored {
            if !key.starts_with("Task/") {
                continue;
            }
            let Some((pathway, milestone)) = crate::record::milestone_key(t) else {
                continue;
            };
            let Some(p) = self.pathways().pathway(&pathway) else {
                continue;
            };
            let name = p
                .milestone(&milestone)
                .map_or(milestone.clone(), |m| m.name.clone());
            let title = c
                .episodes
                .iter()
                .find(|e| e.pathway == pathway)
                .map(|e| crate::worklist::short(&e.pathway, &e.title))
                .unwrap_or_default();
            for n in t["note"].as_array().into_iter().flatten() {
                let Some(entry) = n["extension"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|e| e["url"] == codes::WITHDRAWN_EXT)
                    .and_then(|e| e["valueDateTime"].as_str())
                else {
                    continue;
                };
                let (Some(at), Some(was)) = (
                    n["time"].as_str().and_then(|s| crate::record::at(zone, s)),
                    crate::record::at(zone, entry),
                ) else {
                    continue;
                };
                out.push(Item {
                    at,
                    kind: Kind::Withdrawn,
                    pathway: title.clone(),
                    title: format!("Withdrawn: {name}"),
                    detail: format!(
                        "had been marked done for {}; {}",
                        day(was, self.now()),
                        n["text"].as_str().unwrap_or_default()
                    ),
                    who: n["authorReference"]["reference"]
                        .as_str()
                        .map(|r| self.name_of(r)),
                    ahead: false,
                    late: false,
                });
            }
        }
        out
    }
}
