//! What the pages list: a person's own reports, the safety team's queue, one report, and
//! the learning shared with staff. All read with the caller's access.

use access::Access;
use chrono::{DateTime, Utc};
use safety_events::{read, review::Status, SafetyEvent};
use serde_json::Value;

use crate::consumer::{LESSON_CODE, LESSON_SYSTEM};
use crate::{q, Error, Safety};

/// The safety team's list.
#[derive(Debug, Clone, Default)]
pub struct Queue {
    /// Not yet triaged: most harm first, then oldest first.
    pub new: Vec<SafetyEvent>,
    /// Triaged or under investigation: high priority first, then most overdue action.
    pub open: Vec<SafetyEvent>,
    /// Closed, most recent first.
    pub closed: Vec<SafetyEvent>,
}

/// Learning shared with staff from a closed report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lesson {
    /// The kind of event, in words ("Fall").
    pub about: String,
    pub learning: String,
    pub shared: Option<DateTime<Utc>>,
}

fn events(hits: Vec<store::Hit>) -> Vec<SafetyEvent> {
    hits.into_iter()
        .filter_map(|h| serde_json::from_str::<Value>(&h.body).ok())
        .filter_map(|v| read(&v).ok())
        .collect()
}

fn harm_rank(e: &SafetyEvent) -> u8 {
    e.harm
        .as_deref()
        .and_then(|h| safety_events::Formats::shipped().harm(h))
        .map_or(0, |h| h.rank)
}

impl Safety {
    /// The reports `reporter` (`Practitioner/ID`) filed in their own name, newest event
    /// first.
    pub fn mine(&self, access: &Access, reporter: &str) -> Result<Vec<SafetyEvent>, Error> {
        let hits = store::search_all(
            &**self.store(),
            access,
            q(
                "AdverseEvent",
                &[
                    ("recorder", reporter.to_string()),
                    ("_sort", "-date".into()),
                ],
            )?,
        )?;
        Ok(events(hits))
    }

    /// Every report the caller reaches (the whole hospital's for the safety team), sorted
    /// into the queue. Closed reports older than `closed_days` are left out.
    pub fn queue(&self, access: &Access, closed_days: i64) -> Result<Queue, Error> {
        let now = self.now()?;
        let all = events(store::search_all(
            &**self.store(),
            access,
            q("AdverseEvent", &[("_sort", "-date".into())])?,
        )?);
        let mut out = Queue::default();
        for e in all {
            match e.review.status {
                Status::New => out.new.push(e),
                Status::Triaged | Status::Investigating => out.open.push(e),
                Status::Closed => {
                    if e.review
                        .closed
                        .is_some_and(|c| (now - c).num_days() <= closed_days)
                    {
                        out.closed.push(e)
                    }
                }
            }
        }
        out.new.sort_by(|a, b| {
            harm_rank(b)
                .cmp(&harm_rank(a))
                .then(a.recorded.cmp(&b.recorded))
        });
        let priority = |e: &SafetyEvent| match e.review.priority.as_deref() {
            Some("high") => 0,
            Some("medium") => 1,
            _ => 2,
        };
        let first_due = |e: &SafetyEvent| {
            e.review
                .actions
                .iter()
                .filter(|a| a.done.is_none())
                .filter_map(|a| a.due)
                .min()
        };
        out.open.sort_by(|a, b| {
            priority(a)
                .cmp(&priority(b))
                .then_with(|| match (first_due(a), first_due(b)) {
                    (Some(x), Some(y)) => x.cmp(&y),
                    (Some(_), None) => std::cmp::Ordering::Less,
                    (None, Some(_)) => std::cmp::Ordering::Greater,
                    (None, None) => harm_rank(b).cmp(&harm_rank(a)),
                })
        });
        out.closed
            .sort_by_key(|e| std::cmp::Reverse(e.review.closed));
        Ok(out)
    }

    /// One report and its version, when the caller reaches it.
    /// The reports of events that happened in `[from, to)`, on `unit` when given, that
    /// `access` may read, oldest first: what a measure's number counted.
    pub fn between(
        &self,
        access: &Access,
        unit: Option<&str>,
        from: chrono::DateTime<chrono::Utc>,
        to: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<SafetyEvent>, Error> {
        let fmt =
            |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let mut params = vec![
            ("date", format!("ge{}", fmt(from))),
            ("date", format!("lt{}", fmt(to))),
            ("_sort", "date".into()),
        ];
        if let Some(u) = unit {
            params.push(("location", format!("Location/{u}")));
        }
        Ok(events(store::search_all(
            &**self.store(),
            access,
            q("AdverseEvent", &params)?,
        )?))
    }

    pub fn event(&self, access: &Access, id: &str) -> Result<Option<(SafetyEvent, i64)>, Error> {
        let Some(v) = self.store().read(access, "AdverseEvent", id)? else {
            return Ok(None);
        };
        let Some(body) = v.body.as_deref() else {
            return Ok(None);
        };
        let value: Value = serde_json::from_str(body)
            .map_err(|e| Error::Invalid(format!("a stored report is not JSON: {e}")))?;
        Ok(Some((read(&value)?, v.version)))
    }

    /// The learning shared with staff, newest first.
    pub fn lessons(&self, access: &Access, limit: usize) -> Result<Vec<Lesson>, Error> {
        let page = self.store().search(
            access,
            &q(
                "Communication",
                &[
                    ("category", format!("{LESSON_SYSTEM}|{LESSON_CODE}")),
                    ("_sort", "-sent".into()),
                    ("_count", limit.to_string()),
                ],
            )?,
        )?;
        Ok(page
            .matches
            .into_iter()
            .filter_map(|h| serde_json::from_str::<Value>(&h.body).ok())
            .map(|c| Lesson {
                about: c["topic"]["text"].as_str().unwrap_or_default().to_string(),
                learning: c["payload"][0]["contentString"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                shared: c["sent"]
                    .as_str()
                    .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                    .map(|t| t.with_timezone(&Utc)),
            })
            .collect())
    }
}

impl Safety {
    /// The wards a report can name as where it happened (`Location` id, name), by name.
    pub fn wards(&self, access: &Access) -> Result<Vec<(String, String)>, Error> {
        let hits = store::search_all(&**self.store(), access, q("Location", &[])?)?;
        let mut out: Vec<(String, String)> = hits
            .into_iter()
            .filter_map(|h| serde_json::from_str::<Value>(&h.body).ok())
            .filter(|l| {
                l["physicalType"]["coding"]
                    .as_array()
                    .is_some_and(|c| c.iter().any(|x| x["code"] == "wa"))
            })
            .map(|l| {
                (
                    l["id"].as_str().unwrap_or_default().to_string(),
                    l["name"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        out.sort_by(|a, b| a.1.cmp(&b.1));
        Ok(out)
    }
}
