//! A member of staff's own safety-event reports (`GET /safety/mine`): where each review
//! stands and, once closed, what was learned; and the learning the safety team shared with
//! all staff. Read with the person's access: the store gives them their own reports only.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;

use crate::safety_rows::{row, EventRow};
use crate::view::{Nav, PageError};
use crate::{blocking, view, Web};

/// The most recent reports listed.
const SHOWN: usize = 25;

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Shown {
    done: Option<String>,
}

#[derive(Template)]
#[template(path = "safety_mine.html")]
struct MinePage {
    nav: Nav,
    notice: Option<String>,
    reports: Vec<EventRow>,
    /// How many reports in all (the page lists the most recent [`SHOWN`]).
    total: usize,
    lessons: Vec<(String, String, String)>,
}

pub(crate) async fn page(
    State(web): State<Web>,
    auth: crate::session::AuthExt,
    Query(q): Query<Shown>,
) -> Result<Response, PageError> {
    let user = crate::session::user(&auth, access::Permission::ReportSafetyEvents)?;
    let notice = web.notice(&user, q.done);
    let s = web.safety()?;
    let w = web.clone();
    let (p, seen) = blocking(move || {
        let access = w.access(&user)?;
        let now_ms = chrono::Utc::now().timestamp_millis();
        let wards = s.wards(&access).map_err(view::store_error)?;
        let mine = s
            .mine(&access, &user.practitioner)
            .map_err(view::store_error)?;
        let total = mine.len();
        let seen: Vec<String> = mine
            .iter()
            .take(SHOWN)
            .filter_map(|e| e.patient.as_ref().map(|p| format!("Patient/{p}")))
            .collect();
        let lessons = s
            .lessons(&access, 20)
            .map_err(view::store_error)?
            .into_iter()
            .map(|l| {
                (
                    l.about,
                    l.shared
                        .map(|t| w.config.zone.clock_ms(t.timestamp_millis(), now_ms))
                        .unwrap_or_default(),
                    l.learning,
                )
            })
            .collect();
        Ok((
            MinePage {
                nav: Nav::new(&user, "safety-mine", w.config.zone),
                notice,
                total,
                reports: mine
                    .iter()
                    .take(SHOWN)
                    .map(|e| row(e, &wards, w.config.zone, now_ms))
                    .collect(),
                lessons,
            },
            seen,
        ))
    })
    .await?;
    Ok(view::with_seen(view::render(&p), server::Seen(seen)))
}
