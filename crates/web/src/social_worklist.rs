//! The social worker's worklist (`/social`): needs screenings found that await a
//! clinician's decision, referrals whose follow-up is due ("was the need met?", answered on
//! the page), and open referrals, oldest first, with how many referrals are at each status;
//! filtered by status and by the patient's name. Read with the signed-in person's access
//! (navigators and social workers; the store keeps each list to the patients they reach).

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use crate::view::{self, Nav, PageError};
use crate::{blocking, Web};

impl Web {
    pub(crate) fn referrals(&self) -> Result<std::sync::Arc<referrals::Referrals>, PageError> {
        self.config.referrals.clone().ok_or_else(|| {
            view::error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Referrals to community services are not running on this server.",
            )
        })
    }
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Filters {
    #[serde(default)]
    status: String,
    #[serde(default)]
    q: String,
    done: Option<String>,
}

pub(crate) struct Awaiting {
    patient: String,
    name: String,
    need: String,
    when: String,
    because: String,
}

/// A referral line as the pages show it.
pub(crate) struct Row {
    pub(crate) id: String,
    pub(crate) version: i64,
    pub(crate) patient: String,
    pub(crate) name: String,
    pub(crate) need: String,
    pub(crate) service: String,
    pub(crate) organization: String,
    pub(crate) status: &'static str,
    pub(crate) status_code: &'static str,
    pub(crate) reason: String,
    pub(crate) outcome: String,
    pub(crate) sent: String,
    pub(crate) age_days: i64,
    pub(crate) changed: String,
    pub(crate) phone: String,
    pub(crate) language: String,
    pub(crate) note: String,
    pub(crate) no_contact: bool,
    pub(crate) notes: Vec<(String, String, String)>,
}

pub(crate) fn row(web: &Web, l: &referrals::Line, now_ms: i64) -> Row {
    let zone = web.config.zone;
    let s = &l.state;
    Row {
        id: s.id.clone(),
        version: l.version,
        patient: l.patient.clone(),
        name: l.patient_name.clone(),
        need: community::need::title(&l.need),
        service: l.service_name.clone(),
        organization: l.organization_name.clone(),
        status: s.status.words(),
        status_code: s.status.code(),
        reason: s
            .reason
            .as_ref()
            .map(|r| r.text.clone())
            .unwrap_or_default(),
        outcome: match &s.outcome {
            Some(community::Outcome::NeedMet) => "Need met".into(),
            Some(community::Outcome::NotMet { reason, text }) => format!(
                "Need not met: {}",
                text.clone().unwrap_or_else(|| reason.replace('-', " "))
            ),
            None => String::new(),
        },
        sent: zone.clock_ms(s.authored_on.timestamp_millis(), now_ms),
        age_days: (now_ms - s.authored_on.timestamp_millis()) / 86_400_000,
        changed: zone.clock_ms(s.last_modified.timestamp_millis(), now_ms),
        phone: l.phone.clone().unwrap_or_default(),
        language: l.language.clone().unwrap_or_default(),
        note: l.note.clone().unwrap_or_default(),
        no_contact: l.no_contact,
        notes: s
            .notes
            .iter()
            .map(|n| {
                (
                    n.author.clone().unwrap_or_default(),
                    n.time
                        .map(|t| zone.clock_ms(t.timestamp_millis(), now_ms))
                        .unwrap_or_default(),
                    n.text.clone(),
                )
            })
            .collect(),
    }
}

/// Reasons a need was not met, for the follow-up form: (code, words).
pub(crate) fn outcome_reasons() -> Vec<(String, String)> {
    community::Rules::shipped()
        .outcome_reasons()
        .iter()
        .map(|r| (r.code.clone(), r.words.clone()))
        .collect()
}

#[derive(Template)]
#[template(path = "social.html")]
struct WorklistPage {
    nav: Nav,
    notice: Option<String>,
    awaiting: Vec<Awaiting>,
    due: Vec<Row>,
    open: Vec<Row>,
    counts: Vec<(&'static str, &'static str, usize)>,
    status: String,
    q: String,
    reasons: Vec<(String, String)>,
    more: bool,
}

pub(crate) async fn page(
    State(web): State<Web>,
    auth: crate::session::AuthExt,
    Query(f): Query<Filters>,
) -> Result<Response, PageError> {
    let user = crate::session::user(&auth, access::Permission::Outreach)?;
    let notice = web.notice(&user, f.done.clone());
    let r = web.referrals()?;
    let s = web.screenings()?;
    let w = web.clone();
    let (page, seen) = blocking(move || {
        let access = w.access(&user)?;
        let now = chrono::Utc::now();
        let now_ms = now.timestamp_millis();
        let list = r.worklist(&access, now).map_err(view::store_error)?;
        let waiting = s.awaiting(&access, 200).map_err(view::store_error)?;
        // Names of the patients whose needs await, as the user reaches them.
        let ids: Vec<String> = waiting.iter().map(|c| c.patient.clone()).collect();
        let mut names: HashMap<String, String> = HashMap::new();
        for chunk in ids.chunks(100) {
            for p in view::search(
                &*w.app.store,
                &access,
                "Patient",
                &[("_id", chunk.join(",")), ("_count", "100".into())],
            )? {
                if let Some(id) = p["id"].as_str() {
                    names.insert(id.to_string(), view::name(&p));
                }
            }
        }
        let needle = f.q.trim().to_lowercase();
        let matches = |name: &str| needle.is_empty() || name.to_lowercase().contains(&needle);
        let awaiting: Vec<Awaiting> = waiting
            .into_iter()
            .map(|c| Awaiting {
                name: names
                    .get(&c.patient)
                    .cloned()
                    .unwrap_or_else(|| "Patient".into()),
                need: c.words,
                when: w.config.zone.clock(&c.recorded, now_ms),
                because: c.because,
                patient: c.patient,
            })
            .filter(|a| matches(&a.name))
            .collect();
        let keep = |l: &&referrals::Line| {
            matches(&l.patient_name) && (f.status.is_empty() || l.state.status.code() == f.status)
        };
        let due: Vec<Row> = list
            .due
            .iter()
            .filter(keep)
            .map(|l| row(&w, l, now_ms))
            .collect();
        let open: Vec<Row> = list
            .open
            .iter()
            .filter(keep)
            .map(|l| row(&w, l, now_ms))
            .collect();
        let mut seen: Vec<String> = awaiting
            .iter()
            .map(|a| a.patient.clone())
            .chain(due.iter().chain(open.iter()).map(|r| r.patient.clone()))
            .map(|p| format!("Patient/{p}"))
            .collect();
        seen.sort();
        seen.dedup();
        let open_total: usize = list
            .by_status
            .iter()
            .filter(|(s, _)| !s.is_terminal())
            .map(|(_, n)| n)
            .sum();
        Ok((
            WorklistPage {
                nav: Nav::new(&user, "social", w.config.zone),
                notice,
                awaiting,
                more: open_total > list.open.len(),
                due,
                open,
                counts: list
                    .by_status
                    .iter()
                    .map(|(s, n)| (s.code(), s.words(), *n))
                    .collect(),
                status: f.status.clone(),
                q: f.q.clone(),
                reasons: outcome_reasons(),
            },
            seen,
        ))
    })
    .await?;
    Ok(view::with_seen(view::render(&page), server::Seen(seen)))
}
