//! The alert inbox: open alerts of the user's wards (all wards when the user has none),
//! escalated and overdue first; acknowledge, record the response, resolve.

use crate::local::Now;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use early_warning::{AlertView, Lifecycle};
use serde::Deserialize;

use crate::view::{self, band_label, Nav, PageError};
use crate::{blocking, Web};

#[derive(Debug, Clone)]
pub(crate) struct InboxAlert {
    pub(crate) id: String,
    pub(crate) patient: String,
    pub(crate) name: String,
    pub(crate) bed: String,
    pub(crate) ward: String,
    pub(crate) band: String,
    pub(crate) band_label: &'static str,
    pub(crate) score: String,
    pub(crate) state: String,
    pub(crate) role: String,
    pub(crate) escalation: u32,
    pub(crate) overdue: bool,
    pub(crate) left: String,
    pub(crate) response: String,
    pub(crate) raised: String,
    pub(crate) can_acknowledge: bool,
    pub(crate) can_respond: bool,
    pub(crate) can_resolve: bool,
    pub(crate) responses: Vec<String>,
    /// The readings that scored, as charted: "Respiration rate 26 /min +3".
    pub(crate) readings: Vec<String>,
    /// "11:52 by Nia Okafor" once acknowledged (the deadline then stops counting).
    pub(crate) acknowledged: Option<String>,
    /// A decision not to attempt resuscitation is in force: the team must know before going.
    pub(crate) dnacpr: bool,
    /// Its ceiling of treatment ("Ward-based care: not for intensive care").
    pub(crate) ceiling: String,
    /// Suspected sepsis's first hour, when begun in the last day.
    pub(crate) sepsis: Option<crate::sepsis::Cell>,
    /// A medium or high alert with no suspicion of infection in the last day: the card asks
    /// "could this be infection?" (NICE NG51).
    pub(crate) ask_infection: bool,
}

#[derive(Template)]
#[template(path = "alerts.html")]
struct AlertsPage {
    nav: Nav,
    alerts: Vec<InboxAlert>,
    scope: String,
    /// Responses a team can record: (code, display) of the alert policy's actions.
    actions: Vec<(&'static str, &'static str)>,
    notice: Option<String>,
}

/// An alert's card, when the signed-in user reaches its patient (read with their access: the
/// store decides).
fn line(
    ew: &early_warning::EarlyWarning,
    access: &store::Access,
    a: &AlertView,
    now: Now,
    dnacpr: Option<&String>,
) -> Option<InboxAlert> {
    let store = ew.store();
    let pid = a.patient.trim_start_matches("Patient/").to_string();
    let patient = view::read(&**store, access, "Patient", &pid)?;
    let ward = a
        .ward
        .as_deref()
        .and_then(|w| w.strip_prefix("Location/"))
        .and_then(|w| view::read(&**store, access, "Location", w))
        .and_then(|l| l["name"].as_str().map(str::to_string))
        .unwrap_or_default();
    let bed = a
        .encounter
        .as_deref()
        .and_then(|e| e.strip_prefix("Encounter/"))
        .and_then(|e| view::read(&**store, access, "Encounter", e))
        .and_then(|e| early_warning::bed_of(&e).1)
        .unwrap_or_default();
    let score = a
        .score
        .as_deref()
        .and_then(|s| s.strip_prefix("Observation/"))
        .and_then(|s| view::read(&**store, access, "Observation", s));
    let readings = score
        .as_ref()
        .map(|o| {
            early_warning::news2_cells(o)
                .into_iter()
                .filter(|c| c.points.is_some_and(|p| p > 0))
                .map(|c| match c.param {
                    rules::Param::AirOrOxygen => {
                        format!(
                            "On {} +{}",
                            c.value.unwrap_or_default(),
                            c.points.unwrap_or_default()
                        )
                    }
                    p => format!(
                        "{} {} +{}",
                        p.display(),
                        c.value.unwrap_or_default(),
                        c.points.unwrap_or_default()
                    ),
                })
                .collect()
        })
        .unwrap_or_default();
    let acknowledged = a.acknowledged_at.as_deref().map(|at| {
        let by = a
            .acknowledged_by
            .as_deref()
            .and_then(|r| r.strip_prefix("Practitioner/"))
            .and_then(|id| view::read(&**store, access, "Practitioner", id))
            .map(|p| view::name(&p))
            .filter(|n| !n.is_empty());
        match by {
            Some(by) => format!("{} by {by}", now.clock(at)),
            None => now.clock(at),
        }
    });
    Some(InboxAlert {
        id: a.id.clone(),
        patient: pid,
        name: view::name(&patient),
        bed,
        ward,
        band: a.band.clone(),
        band_label: band_label(&a.band),
        score: score
            .as_ref()
            .and_then(early_warning::news2_summary)
            .and_then(|s| s.total)
            .map(|t| format!("NEWS2 {t}"))
            .unwrap_or_default(),
        state: format!("{:?}", a.lifecycle),
        role: a.role_display.clone(),
        escalation: a.escalation_level,
        overdue: a.overdue,
        left: if a.ms_to_deadline < 0 {
            format!("{} past deadline", view::duration(-a.ms_to_deadline))
        } else {
            format!("{} left", view::duration(a.ms_to_deadline))
        },
        response: a.required_response.clone(),
        raised: now.clock(&a.raised),
        can_acknowledge: a.lifecycle == Lifecycle::Raised,
        can_respond: matches!(
            a.lifecycle,
            Lifecycle::Raised | Lifecycle::Acknowledged | Lifecycle::Responded
        ),
        can_resolve: a.lifecycle == Lifecycle::Responded,
        responses: view::responses(a),
        readings,
        acknowledged,
        dnacpr: dnacpr.is_some(),
        ceiling: dnacpr.cloned().unwrap_or_default(),
        sepsis: None,
        ask_infection: false,
    })
}

async fn inbox(
    web: &Web,
    user: &crate::User,
    notice: Option<String>,
) -> Result<Response, PageError> {
    let ew = web.ew()?;
    let wards = user.wards.clone();
    let everywhere = user.hospital_wide();
    let zone = web.config.zone;
    let (w, reader) = (web.clone(), user.clone());
    let loaded = blocking(move || {
        let access = w.access(&reader)?;
        let now = Now::new(ew.now_ms(), zone);
        let mut all = Vec::new();
        if everywhere {
            all = ew.alerts(None, None, false).map_err(view::store_error)?;
        } else {
            for w in &wards {
                all.extend(ew.alerts(Some(w), None, false).map_err(view::store_error)?);
            }
        }
        all.sort_by(early_warning::ranking::most_urgent_alert_first);
        let patients: Vec<String> = all.iter().map(|a| a.patient.clone()).collect();
        let dnacpr =
            crate::chart_essentials::not_for_resuscitation(&**ew.store(), &access, &patients)?;
        let sepsis = match &w.config.sepsis {
            Some(svc) => crate::sepsis::cells(svc, &access, None, now)?,
            None => Default::default(),
        };
        Ok(all
            .iter()
            .filter_map(|a| {
                let mut l = line(&ew, &access, a, now, dnacpr.get(&a.patient))?;
                l.sepsis = sepsis.get(&a.patient).cloned();
                l.ask_infection = w.config.sepsis.is_some()
                    && l.sepsis.is_none()
                    && matches!(a.band.as_str(), "medium" | "high" | "emergency");
                Some(l)
            })
            .collect::<Vec<_>>())
    })
    .await?;
    let seen = server::Seen(
        loaded
            .iter()
            .map(|a| format!("Patient/{}", a.patient))
            .collect(),
    );
    Ok(view::with_seen(
        view::render(&AlertsPage {
            nav: Nav::new(user, "alerts", web.config.zone),
            alerts: loaded,
            scope: if user.hospital_wide() {
                "all wards".into()
            } else {
                "your wards".into()
            },
            actions: rules::Action::ALL
                .into_iter()
                .map(|a| (a.code(), a.display()))
                .collect(),
            notice,
        }),
        seen,
    ))
}

pub(crate) async fn page(
    State(web): State<Web>,
    auth: crate::session::AuthExt,
) -> Result<Response, PageError> {
    let user = crate::session::user(&auth, access::Permission::Board)?;
    inbox(&web, &user, None).await
}

#[derive(Debug, Deserialize)]
pub(crate) struct ActForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    response: String,
    #[serde(default)]
    note: String,
    /// Where to go afterwards (a page of Tend).
    #[serde(default)]
    back: String,
}

pub(crate) async fn act(
    State(web): State<Web>,
    auth: crate::session::AuthExt,
    Path((id, action)): Path<(String, String)>,
    Form(form): Form<ActForm>,
) -> Result<Response, PageError> {
    let user = crate::session::poster(&auth, &form.csrf, access::Permission::AlertRespond)?;
    if action == "respond" && form.response.is_empty() {
        // Nothing is chosen for the nurse: the response is what was actually done.
        let mut resp = inbox(
            &web,
            &user,
            Some("Choose the response you gave before recording it.".into()),
        )
        .await?;
        *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
        return Ok(resp);
    }
    let ew = web.ew()?;
    // Acting on an alert needs the same relationship as opening the patient's chart.
    let (e, alert_id) = (ew.clone(), id.clone());
    let alert = blocking(move || Ok(e.alert(&alert_id)))
        .await?
        .map_err(|_| view::error_page(StatusCode::NOT_FOUND, "There is no such alert."))?;
    crate::chart::reach(&web, &user, alert.patient.trim_start_matches("Patient/")).await?;
    let by = user.practitioner.clone();
    let note = Some(form.note.trim().to_string()).filter(|n| !n.is_empty());
    let response = form.response.clone();
    let act = action.clone();
    let done = blocking(move || {
        Ok(match act.as_str() {
            "acknowledge" => ew.acknowledge(&id, &by),
            "respond" => ew.respond(&id, &response, note.as_deref(), &by),
            "resolve" => ew.resolve(&id, note.as_deref(), &by),
            _ => {
                return Err(view::error_page(
                    StatusCode::NOT_FOUND,
                    "There is no such action on an alert.",
                ))
            }
        })
    })
    .await?;
    match done {
        Ok(_) => {
            let back = if form.back.starts_with('/') && !form.back.starts_with("//") {
                form.back
            } else {
                "/alerts".into()
            };
            Ok(Redirect::to(&back).into_response())
        }
        Err(e) => {
            let mut resp = inbox(&web, &user, Some(e.to_string())).await?;
            *resp.status_mut() = StatusCode::CONFLICT;
            Ok(resp)
        }
    }
}
