//! The safety team's pages: the queue (`GET /safety`: new reports most harm first, those in
//! review by priority and overdue actions, recently closed) and one report
//! (`GET /safety/events/{id}`) with its review: triage, notes, actions with owners and due
//! dates, closure with what was learned. Read with the reviewer's access.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use safety_events::Formats;
use serde::Deserialize;

use crate::safety_rows::{row, EventRow};
use crate::view::{Nav, PageError};
use crate::{blocking, view, Web};

/// Closed reports stay on the queue this many days.
const CLOSED_DAYS: i64 = 30;

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Filters {
    #[serde(default)]
    category: String,
    #[serde(default)]
    ward: String,
    done: Option<String>,
}

#[derive(Template)]
#[template(path = "safety.html")]
struct QueuePage {
    nav: Nav,
    notice: Option<String>,
    new: Vec<EventRow>,
    open: Vec<EventRow>,
    closed: Vec<EventRow>,
    serious_new: usize,
    overdue: usize,
    categories: Vec<(String, String)>,
    wards: Vec<(String, String)>,
    category: String,
    ward: String,
}

pub(crate) async fn queue(
    State(web): State<Web>,
    auth: crate::session::AuthExt,
    Query(q): Query<Filters>,
) -> Result<Response, PageError> {
    let user = crate::session::user(&auth, access::Permission::SafetyEvents)?;
    let notice = web.notice(&user, q.done.clone());
    let s = web.safety()?;
    let w = web.clone();
    let p = blocking(move || {
        let access = w.access(&user)?;
        let now_ms = chrono::Utc::now().timestamp_millis();
        let wards = s.wards(&access).map_err(view::store_error)?;
        let queue = s.queue(&access, CLOSED_DAYS).map_err(view::store_error)?;
        let keep = |e: &safety_events::SafetyEvent| {
            (q.category.is_empty() || e.category == q.category)
                && (q.ward.is_empty() || e.location.as_deref() == Some(q.ward.as_str()))
        };
        let rows = |list: &[safety_events::SafetyEvent]| -> Vec<EventRow> {
            list.iter()
                .filter(|e| keep(e))
                .map(|e| row(e, &wards, w.config.zone, now_ms))
                .collect()
        };
        let new = rows(&queue.new);
        let open = rows(&queue.open);
        Ok(QueuePage {
            nav: Nav::new(&user, "safety", w.config.zone),
            notice,
            serious_new: new.iter().filter(|r| r.harm_class == "high").count(),
            overdue: open.iter().map(|r| r.overdue_actions).sum(),
            closed: rows(&queue.closed),
            new,
            open,
            categories: Formats::shipped()
                .categories()
                .iter()
                .map(|c| (c.code.clone(), c.words.clone()))
                .collect(),
            wards,
            category: q.category,
            ward: q.ward,
        })
    })
    .await?;
    // The queue shows no patient: its audit record names none.
    Ok(view::render(&p))
}

#[derive(Template)]
#[template(path = "safety_event.html")]
struct EventPage {
    nav: Nav,
    notice: Option<String>,
    e: EventRow,
    version: i64,
    notes: Vec<(String, String, String)>,
    /// (index, text, owner, due, done, overdue)
    actions: Vec<(usize, String, String, String, String, bool)>,
    priorities: Vec<(String, String)>,
    harms: Vec<(String, String)>,
    harm_code: String,
    can: Vec<&'static str>,
    share: bool,
}

impl EventPage {
    fn may(&self, step: &str) -> bool {
        self.can.contains(&step)
    }
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Shown {
    done: Option<String>,
}

pub(crate) async fn event(
    State(web): State<Web>,
    auth: crate::session::AuthExt,
    Path(id): Path<String>,
    Query(q): Query<Shown>,
) -> Result<Response, PageError> {
    let user = crate::session::user(&auth, access::Permission::SafetyEvents)?;
    let notice = web.notice(&user, q.done);
    let s = web.safety()?;
    let w = web.clone();
    let (p, seen) = blocking(move || {
        let access = w.access(&user)?;
        let now_ms = chrono::Utc::now().timestamp_millis();
        let Some((e, version)) = s.event(&access, &id).map_err(view::store_error)? else {
            return Err(view::error_page(
                StatusCode::NOT_FOUND,
                "There is no such report.",
            ));
        };
        let wards = s.wards(&access).map_err(view::store_error)?;
        let f = Formats::shipped();
        let today = chrono::DateTime::from_timestamp_millis(now_ms)
            .map(|t| t.date_naive())
            .unwrap_or_default();
        let zone = w.config.zone;
        let status = e.review.status.code();
        let can: Vec<&'static str> = [
            "triage",
            "investigate",
            "note",
            "action",
            "action-done",
            "close",
            "reopen",
        ]
        .into_iter()
        .filter(|st| {
            f.step(st)
                .is_some_and(|r| r.from.iter().any(|x| x == status))
        })
        .collect();
        let seen = e
            .patient
            .as_ref()
            .map(|p| vec![format!("Patient/{p}")])
            .unwrap_or_default();
        Ok((
            EventPage {
                nav: Nav::new(&user, "safety", zone),
                notice,
                version,
                notes: e
                    .review
                    .notes
                    .iter()
                    .map(|n| {
                        (
                            n.author.clone(),
                            zone.clock_ms(n.time.timestamp_millis(), now_ms),
                            n.text.clone(),
                        )
                    })
                    .collect(),
                actions: e
                    .review
                    .actions
                    .iter()
                    .enumerate()
                    .map(|(i, a)| {
                        (
                            i,
                            a.text.clone(),
                            a.owner.clone(),
                            a.due
                                .map(|d| zone.date(&d.to_string(), now_ms))
                                .unwrap_or_default(),
                            a.done
                                .map(|d| zone.clock_ms(d.timestamp_millis(), now_ms))
                                .unwrap_or_default(),
                            a.done.is_none() && a.due.is_some_and(|d| d < today),
                        )
                    })
                    .collect(),
                priorities: f
                    .priorities()
                    .iter()
                    .map(|c| (c.code.clone(), c.words.clone()))
                    .collect(),
                harms: f
                    .harms()
                    .iter()
                    .map(|h| (h.code.clone(), h.words.clone()))
                    .collect(),
                harm_code: e.harm.clone().unwrap_or_default(),
                share: e.review.share,
                can,
                e: row(&e, &wards, zone, now_ms),
            },
            seen,
        ))
    })
    .await?;
    Ok(view::with_seen(view::render(&p), server::Seen(seen)))
}
