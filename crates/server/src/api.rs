//! The small JSON API the web app uses for early warning, beside the FHIR API: wards and
//! their patients, alerts and their lifecycle, and live events (server-sent events,
//! <https://html.spec.whatwg.org/multipage/server-sent-events.html>).
//!
//! | Method and path | What |
//! |---|---|
//! | `GET /api/wards` | wards with patient, overdue and open-alert counts |
//! | `GET /api/wards/{id}/patients` | the ward's inpatients, latest scores, next set due, open alert; most at risk first |
//! | `GET /api/alerts?ward=&patient=&status=open\|all` | alerts; escalated and overdue first |
//! | `GET /api/alerts/{id}` | one alert with its timeline |
//! | `POST /api/alerts/{id}/acknowledge` `{"by"}` | acknowledge |
//! | `POST /api/alerts/{id}/respond` `{"action", "note", "by"}` | record the response (`increased-monitoring`, `medical-review`, `rapid-response-call`, `transfer-to-higher-care`) |
//! | `POST /api/alerts/{id}/resolve` `{"note", "by"}` | resolve (after a response) |
//! | `GET /api/events?ward=&patient=` | live scores, alerts and changes to suspected sepsis's first hour; resumes after `Last-Event-ID` |
//!
//! `by` is a `Practitioner/ID` reference. Errors are OperationOutcomes, from the same table
//! as the FHIR API.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use early_warning::{EarlyWarning, Event, Hub, PatientStatus, WardSummary};
use futures_util::stream::{self, Stream};
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;

use crate::{ApiError, AppState};

/// The `/api` routes.
pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/wards", get(wards))
        .route("/api/wards/{id}/patients", get(ward_patients))
        .route("/api/alerts", get(alerts))
        .route("/api/alerts/{id}", get(alert))
        .route("/api/alerts/{id}/{action}", post(act))
        .route("/api/events", get(events))
        .with_state(state)
}

fn service(state: &AppState) -> Result<Arc<EarlyWarning>, ApiError> {
    state
        .early_warning
        .clone()
        .ok_or_else(|| ApiError::NotFound("early warning is not running on this server".into()))
}

/// `ward-3east` or `Location/ward-3east` → `Location/ward-3east`.
fn reference(rtype: &str, id: &str) -> String {
    if id.contains('/') {
        id.to_string()
    } else {
        format!("{rtype}/{id}")
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, early_warning::Error> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(ApiError::from)
}

async fn wards(State(state): State<AppState>) -> Result<Json<Vec<WardSummary>>, ApiError> {
    let ew = service(&state)?;
    Ok(Json(blocking(move || ew.wards()).await?))
}

/// A JSON answer naming the patients it shows, for its audit record (from what the handler
/// read, not from the body).
fn shown<T: serde::Serialize>(value: T, patients: Vec<String>) -> Response {
    let mut resp = Json(value).into_response();
    crate::caller::seen(&mut resp, &patients);
    resp
}

async fn ward_patients(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let ew = service(&state)?;
    let ward = reference("Location", &id);
    let found: Vec<PatientStatus> = blocking(move || ew.ward_status(&ward)).await?;
    let patients = found.iter().map(|s| s.patient.clone()).collect();
    Ok(shown(found, patients))
}

#[derive(Deserialize)]
struct AlertFilter {
    ward: Option<String>,
    patient: Option<String>,
    status: Option<String>,
}

async fn alerts(
    State(state): State<AppState>,
    auth: Option<axum::Extension<crate::gate::Auth>>,
    Query(f): Query<AlertFilter>,
) -> Result<Response, ApiError> {
    let mine: Option<Vec<String>> = auth
        .and_then(|a| a.0.principal)
        .filter(|p| p.role != access::Role::RapidResponse)
        .map(|p| p.wards);
    let ew = service(&state)?;
    let all = match f.status.as_deref() {
        None | Some("open") => false,
        Some("all") => true,
        Some(other) => {
            return Err(ApiError::BadParameter {
                message: format!("status must be 'open' or 'all', not '{other}'"),
                parameter: "status".into(),
            })
        }
    };
    let ward = f.ward.map(|w| reference("Location", &w));
    let patient = f.patient.map(|p| reference("Patient", &p));
    let mut found = blocking(move || ew.alerts(ward.as_deref(), patient.as_deref(), all)).await?;
    // People see their own wards' alerts (the rapid-response team: every ward).
    if let Some(m) = mine {
        found.retain(|a| a.ward.as_ref().is_some_and(|w| m.contains(w)));
    }
    let patients = found.iter().map(|a| a.patient.clone()).collect();
    Ok(shown(found, patients))
}

async fn alert(
    State(state): State<AppState>,
    auth: Option<axum::Extension<crate::gate::Auth>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let ew = service(&state)?;
    let view = blocking(move || ew.alert(&id)).await?;
    related(&state, auth.as_ref().map(|a| &a.0), &view.patient).await?;
    let patient = view.patient.clone();
    Ok(shown(view, vec![patient]))
}

/// The signed-in person must reach the alert's patient (ward, care team, the
/// rapid-response team's inpatients, or an earlier break-the-glass), as for the chart.
async fn related(
    state: &AppState,
    auth: Option<&crate::gate::Auth>,
    patient: &str,
) -> Result<(), ApiError> {
    let gate = state.gate.clone();
    let Some(p) = auth.and_then(|a| a.principal.clone()) else {
        return Err(ApiError::Unauthorized("sign in to act on alerts".into()));
    };
    if !p.needs_relationship() {
        return Ok(());
    }
    let (s, pat) = (state.clone(), patient.to_string());
    let pp = p.clone();
    let found = tokio::task::spawn_blocking(move || gate.relationship(&s, &pp, &pat))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    match found {
        Some(_) => Ok(()),
        None => Err(ApiError::Refused {
            message: format!(
                "{patient} is not in your care (ward, care team or outreach list): you cannot act on this alert"
            ),
            patient: Some(patient.to_string()),
        }),
    }
}

/// What an alert action says. Who acts is the signed-in person, never a field of the
/// request (a `by` in the body is ignored).
#[derive(Deserialize)]
struct Act {
    action: Option<String>,
    note: Option<String>,
}

async fn act(
    State(state): State<AppState>,
    auth: Option<axum::Extension<crate::gate::Auth>>,
    Path((id, action)): Path<(String, String)>,
    body: Result<Json<Act>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let ew = service(&state)?;
    let Json(body) = body.map_err(|e| ApiError::Parse {
        message: format!("the body must be JSON (with 'action' and 'note' where they apply): {e}"),
        expression: None,
    })?;
    let principal = auth.as_ref().and_then(|a| a.0.principal.clone());
    let by = match &principal {
        Some(p) => p.practitioner.clone().ok_or_else(|| {
            ApiError::Forbidden(
                "your account is not linked to a staff member, so it cannot act on alerts".into(),
            )
        })?,
        None => return Err(ApiError::Unauthorized("sign in to act on alerts".into())),
    };
    let (e, alert_id) = (ew.clone(), id.clone());
    let current = blocking(move || e.alert(&alert_id)).await?;
    related(&state, auth.as_ref().map(|a| &a.0), &current.patient).await?;
    let view = match action.as_str() {
        "acknowledge" => blocking(move || ew.acknowledge(&id, &by)).await?,
        "respond" => {
            let what = body.action.ok_or_else(|| ApiError::BadParameter {
                message: "'action' is required to record a response".into(),
                parameter: "action".into(),
            })?;
            blocking(move || ew.respond(&id, &what, body.note.as_deref(), &by)).await?
        }
        "resolve" => blocking(move || ew.resolve(&id, body.note.as_deref(), &by)).await?,
        other => {
            return Err(ApiError::NotFound(format!(
                "no alert action '{other}': use acknowledge, respond or resolve"
            )))
        }
    };
    let patient = view.patient.clone();
    Ok(shown(view, vec![patient]))
}

#[derive(Deserialize)]
struct EventFilter {
    ward: Option<String>,
    patient: Option<String>,
    /// Resume after this event id (the `Last-Event-ID` header takes precedence).
    after: Option<i64>,
}

fn sse(e: &Event) -> SseEvent {
    SseEvent::default()
        .id(e.seq.to_string())
        .event(e.kind)
        .json_data(e)
        .unwrap_or_default()
}

/// A live stream of scores and alerts for a ward or a patient (or everything).
/// Who a live stream is for: the caller's access, found again when an event names a patient
/// it did not reach (a patient admitted to the caller's ward after the stream opened is
/// theirs too). A patient found out of reach is not looked up again for [`REACH_REFRESH`].
struct StreamReach {
    state: AppState,
    access: Arc<store::Access>,
    refused: std::collections::HashMap<String, std::time::Instant>,
}

/// How long a patient found out of a live stream's reach stays so before it is looked up
/// again.
const REACH_REFRESH: Duration = Duration::from_secs(10);

impl StreamReach {
    async fn reaches(&mut self, patient: &str) -> bool {
        if self.access.reach().contains(patient) {
            return true;
        }
        let Some(p) = self.access.principal().cloned() else {
            return false;
        };
        if self
            .refused
            .get(patient)
            .is_some_and(|at| at.elapsed() < REACH_REFRESH)
        {
            return false;
        }
        let (gate, state) = (self.state.gate.clone(), self.state.clone());
        if let Ok(Ok(a)) = tokio::task::spawn_blocking(move || gate.access_now(&state, &p)).await {
            self.access = Arc::new(a);
        }
        let reached = self.access.reach().contains(patient);
        if !reached {
            self.refused
                .insert(patient.to_string(), std::time::Instant::now());
        }
        reached
    }
}

async fn events(
    State(state): State<AppState>,
    auth: Option<axum::Extension<crate::gate::Auth>>,
    Query(f): Query<EventFilter>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let hub: Arc<Hub> = state
        .hub
        .clone()
        .ok_or_else(|| ApiError::NotFound("live events are not running on this server".into()))?;
    let after = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok())
        .or(f.after);
    let ward = f.ward.map(|w| reference("Location", &w));
    let patient = f.patient.map(|p| reference("Patient", &p));
    // What the caller asked for; whom they may hear about is their access (the patients
    // they reach, as for reading the chart), not a filter of this handler.
    let wanted = move |e: &Event| {
        ward.as_ref().is_none_or(|w| e.ward.as_ref() == Some(w))
            && patient.as_ref().is_none_or(|p| &e.patient == p)
    };
    let Some(principal) = auth.and_then(|a| a.0.principal) else {
        return Err(ApiError::Unauthorized(
            "sign in to follow live events".into(),
        ));
    };
    let (gate, s) = (state.gate.clone(), state.clone());
    let access = tokio::task::spawn_blocking(move || gate.access(&s, &principal, None))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
    let mut reach = StreamReach {
        state: state.clone(),
        access: Arc::new(access),
        refused: Default::default(),
    };
    let (rx, position) = hub.subscribe();
    let missed = match after {
        Some(a) if a < position => {
            let h = hub.clone();
            tokio::task::spawn_blocking(move || h.replay(a, position))
                .await
                .map_err(|e| ApiError::Internal(e.to_string()))?
        }
        _ => Vec::new(),
    };
    let start = after.map_or(position, |a| a.max(position));
    let mut kept = Vec::new();
    for e in missed {
        if wanted(&e) && reach.reaches(&e.patient).await {
            kept.push(e);
        }
    }
    let replayed = stream::iter(kept.into_iter().map(|e| Ok(sse(&e))));
    let live = stream::unfold(
        (rx, start, hub, wanted, reach),
        |(mut rx, mut last, hub, wanted, mut reach)| async move {
            loop {
                match rx.recv().await {
                    Ok(e) if e.seq <= last || !wanted(&e) => continue,
                    Ok(e) if !reach.reaches(&e.patient).await => continue,
                    Ok(e) => {
                        last = e.seq;
                        return Some((Ok(sse(&e)), (rx, last, hub, wanted, reach)));
                    }
                    Err(RecvError::Lagged(_)) => {
                        // Too slow a reader: tell it to reload rather than drop silently.
                        let reload = SseEvent::default().event("reload").data("{}");
                        return Some((Ok(reload), (rx, last, hub, wanted, reach)));
                    }
                    Err(RecvError::Closed) => return None,
                }
            }
        },
    );
    Ok(Sse::new(futures_util::StreamExt::chain(replayed, live))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
