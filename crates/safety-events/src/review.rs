//! The safety team's review of a report, kept on the AdverseEvent (extension `review`):
//! its status, priority and reviewer, the reviewers' notes, the actions with owners and due
//! dates, and at closure what was learned and whether to share it with staff. Steps move it
//! under the table in `data/review.json`.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;

use crate::formats::Formats;
use crate::report::instant;
use crate::shape::{self, complex, part, parts, text, typed};
use crate::Error;

/// Where a report's review stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, PartialOrd, Ord, Hash)]
pub enum Status {
    #[default]
    New,
    Triaged,
    Investigating,
    Closed,
}

impl Status {
    pub fn code(self) -> &'static str {
        match self {
            Status::New => "new",
            Status::Triaged => "triaged",
            Status::Investigating => "investigating",
            Status::Closed => "closed",
        }
    }
    pub fn parse(code: &str) -> Option<Status> {
        [
            Status::New,
            Status::Triaged,
            Status::Investigating,
            Status::Closed,
        ]
        .into_iter()
        .find(|s| s.code() == code)
    }
    /// The status as the page says it.
    pub fn words(self) -> &'static str {
        match self {
            Status::New => "New",
            Status::Triaged => "Triaged",
            Status::Investigating => "Under investigation",
            Status::Closed => "Closed",
        }
    }
}

/// A reviewer's note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub author: String,
    pub time: DateTime<Utc>,
    pub text: String,
}

/// An action agreed in the review, with its owner and due date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    pub text: String,
    pub owner: String,
    pub due: Option<NaiveDate>,
    pub done: Option<DateTime<Utc>>,
}

/// The review as stored.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Review {
    pub status: Status,
    pub priority: Option<String>,
    /// The reviewer in charge (`Practitioner/ID`) and their name.
    pub reviewer: Option<(String, String)>,
    pub notes: Vec<Note>,
    pub actions: Vec<Action>,
    pub learning: Option<String>,
    /// Share the learning with all staff (without the patient or the reporter).
    pub share: bool,
    pub closed: Option<DateTime<Utc>>,
}

/// A step of the review, taken by a member of the safety team.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Priority, the reviewer in charge (`Practitioner/ID`, name), and the harm level the
    /// safety team confirms (when it differs from the report's).
    Triage {
        priority: String,
        reviewer: (String, String),
        harm: Option<String>,
    },
    /// Start the investigation, with a first note.
    Investigate {
        note: Option<String>,
    },
    Note {
        text: String,
    },
    Action {
        text: String,
        owner: String,
        due: Option<NaiveDate>,
    },
    /// The action at this place in the list is done.
    ActionDone {
        index: usize,
    },
    /// Close with what was learned; share it with staff or not.
    Close {
        learning: String,
        share: bool,
    },
    Reopen {
        why: String,
    },
}

impl Step {
    pub fn code(&self) -> &'static str {
        match self {
            Step::Triage { .. } => "triage",
            Step::Investigate { .. } => "investigate",
            Step::Note { .. } => "note",
            Step::Action { .. } => "action",
            Step::ActionDone { .. } => "action-done",
            Step::Close { .. } => "close",
            Step::Reopen { .. } => "reopen",
        }
    }

    fn words(&self) -> &'static str {
        match self {
            Step::Triage { .. } => "triaged",
            Step::Investigate { .. } => "investigated",
            Step::Note { .. } => "given a note",
            Step::Action { .. } => "given an action",
            Step::ActionDone { .. } => "given an action done",
            Step::Close { .. } => "closed",
            Step::Reopen { .. } => "reopened",
        }
    }
}

fn bounded(what: &str, s: &str) -> Result<String, Error> {
    let t = s.trim();
    if t.is_empty() {
        return Err(Error::Invalid(format!("{what} is empty.")));
    }
    if t.chars().count() > crate::MAX_TEXT {
        return Err(Error::Invalid(format!(
            "{what} is longer than {} characters.",
            crate::MAX_TEXT
        )));
    }
    Ok(t.to_string())
}

impl Review {
    /// The review of a stored AdverseEvent (a new one when it has none).
    pub fn of(event: &Value) -> Review {
        let Some(x) = shape::extension(event, "review") else {
            return Review::default();
        };
        let time = |v: Option<&Value>, key: &str| {
            text(v, key)
                .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
                .map(|t| t.with_timezone(&Utc))
        };
        Review {
            status: text(part(x, "status"), "valueCode")
                .and_then(|c| Status::parse(&c))
                .unwrap_or_default(),
            priority: text(part(x, "priority"), "valueCode"),
            reviewer: part(x, "reviewer").and_then(|r| {
                let r = &r["valueReference"];
                Some((
                    r["reference"].as_str()?.to_string(),
                    r["display"].as_str().unwrap_or_default().to_string(),
                ))
            }),
            notes: parts(x, "note")
                .filter_map(|n| {
                    Some(Note {
                        author: text(part(n, "author"), "valueString")?,
                        time: time(part(n, "time"), "valueDateTime")?,
                        text: text(part(n, "text"), "valueString")?,
                    })
                })
                .collect(),
            actions: parts(x, "action")
                .filter_map(|a| {
                    Some(Action {
                        text: text(part(a, "text"), "valueString")?,
                        owner: text(part(a, "owner"), "valueString").unwrap_or_default(),
                        due: text(part(a, "due"), "valueDate")
                            .and_then(|d| NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok()),
                        done: time(part(a, "done"), "valueDateTime"),
                    })
                })
                .collect(),
            learning: text(part(x, "learning"), "valueString"),
            share: part(x, "share")
                .and_then(|s| s["valueBoolean"].as_bool())
                .unwrap_or(false),
            closed: time(part(x, "closed"), "valueDateTime"),
        }
    }

    /// The review as the AdverseEvent's extension.
    pub fn extension(&self) -> Value {
        let s = |k: &str, v: &str| typed(k, "valueString", Value::String(v.to_string()));
        let mut list = vec![Some(typed(
            "status",
            "valueCode",
            Value::String(self.status.code().into()),
        ))];
        list.push(
            self.priority
                .as_ref()
                .map(|p| typed("priority", "valueCode", Value::String(p.clone()))),
        );
        list.push(self.reviewer.as_ref().map(|(r, name)| {
            typed(
                "reviewer",
                "valueReference",
                serde_json::json!({"reference": r, "display": name}),
            )
        }));
        for n in &self.notes {
            list.push(Some(serde_json::json!({
                "url": "note",
                "extension": [s("author", &n.author), typed("time", "valueDateTime", Value::String(instant(n.time))), s("text", &n.text)]
            })));
        }
        for a in &self.actions {
            let mut parts = vec![s("text", &a.text), s("owner", &a.owner)];
            if let Some(d) = a.due {
                parts.push(typed("due", "valueDate", Value::String(d.to_string())));
            }
            if let Some(d) = a.done {
                parts.push(typed("done", "valueDateTime", Value::String(instant(d))));
            }
            list.push(Some(
                serde_json::json!({"url": "action", "extension": parts}),
            ));
        }
        list.push(self.learning.as_ref().map(|l| s("learning", l)));
        list.push(Some(typed(
            "share",
            "valueBoolean",
            Value::Bool(self.share),
        )));
        list.push(
            self.closed
                .map(|c| typed("closed", "valueDateTime", Value::String(instant(c)))),
        );
        complex("review", list)
    }

    /// Actions not done yet.
    pub fn open_actions(&self) -> usize {
        self.actions.iter().filter(|a| a.done.is_none()).count()
    }
}

/// Take `step` on the stored report `event`, by the reviewer named `who`, at `now`: the new
/// AdverseEvent to store, or why the step cannot be taken.
pub fn apply(
    f: &Formats,
    event: &Value,
    step: &Step,
    who: &str,
    now: DateTime<Utc>,
) -> Result<Value, Error> {
    let mut review = Review::of(event);
    let rule = f
        .step(step.code())
        .ok_or_else(|| Error::Invalid(format!("no review step {}", step.code())))?;
    if !rule.from.iter().any(|s| s == review.status.code()) {
        return Err(Error::Step {
            status: review.status.words().to_lowercase(),
            step: step.words().into(),
        });
    }
    let mut out = event.clone();
    let note = |review: &mut Review, t: String| {
        review.notes.push(Note {
            author: who.to_string(),
            time: now,
            text: t,
        })
    };
    match step {
        Step::Triage {
            priority,
            reviewer,
            harm,
        } => {
            if !f.priorities().iter().any(|p| &p.code == priority) {
                return Err(Error::Invalid("Choose a priority.".into()));
            }
            if !reviewer.0.starts_with("Practitioner/") {
                return Err(Error::Invalid("Choose who reviews it.".into()));
            }
            review.priority = Some(priority.clone());
            review.reviewer = Some(reviewer.clone());
            if let Some(h) = harm.as_deref().filter(|h| !h.is_empty()) {
                let level = f
                    .harm(h)
                    .ok_or_else(|| Error::Invalid(format!("Unknown harm level {h:?}.")))?;
                let before = crate::read(event)
                    .ok()
                    .and_then(|e| e.harm)
                    .unwrap_or_default();
                if before != level.code {
                    crate::report::set_harm(&mut out, level);
                    let was = f.harm(&before).map_or("not given", |x| x.words.as_str());
                    note(
                        &mut review,
                        format!("Harm confirmed as {} (reported: {was}).", level.words),
                    );
                }
            }
            add_contributor(&mut out, &reviewer.0);
        }
        Step::Investigate { note: n } => {
            if let Some(t) = n.as_deref().filter(|t| !t.trim().is_empty()) {
                let t = bounded("The note", t)?;
                note(&mut review, t);
            }
        }
        Step::Note { text } => {
            let t = bounded("The note", text)?;
            note(&mut review, t);
        }
        Step::Action { text, owner, due } => {
            let text = bounded("The action", text)?;
            let owner = bounded("The action's owner", owner)?;
            review.actions.push(Action {
                text,
                owner,
                due: *due,
                done: None,
            });
        }
        Step::ActionDone { index } => {
            let a = review
                .actions
                .get_mut(*index)
                .ok_or_else(|| Error::Invalid("There is no such action.".into()))?;
            if a.done.is_none() {
                a.done = Some(now);
            }
        }
        Step::Close { learning, share } => {
            if review.open_actions() > 0 {
                return Err(Error::Invalid(format!(
                    "{} action(s) are not done yet: finish them or record why they are not needed before closing.",
                    review.open_actions()
                )));
            }
            review.learning = Some(bounded("What was learned", learning)?);
            review.share = *share;
            review.closed = Some(now);
        }
        Step::Reopen { why } => {
            let why = bounded("Why it is reopened", why)?;
            note(&mut review, format!("Reopened: {why}"));
            review.closed = None;
        }
    }
    if let Some(to) = rule.to.as_deref().and_then(Status::parse) {
        review.status = to;
    }
    shape::replace(&mut out, "review", vec![review.extension()]);
    Ok(out)
}

fn add_contributor(ae: &mut Value, reference: &str) {
    let o = ae.as_object_mut().expect("object");
    let list = o
        .entry("contributor")
        .or_insert_with(|| Value::Array(vec![]));
    if let Some(a) = list.as_array_mut() {
        if !a.iter().any(|c| c["reference"] == reference) {
            a.push(serde_json::json!({"reference": reference}));
        }
    }
}
