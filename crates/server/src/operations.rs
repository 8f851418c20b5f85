//! What integration engineers and operators use beside the clinical APIs.
//!
//! | Method and path | What |
//! |---|---|
//! | `GET /metrics` | Prometheus text: MLLP connections and frames per peer, HL7 v2 messages by type and outcome, duplicates, ACK latency |
//! | `GET /api/hl7/messages?outcome=&type=&sender=&since=&until=&key=&_count=&_offset=` | the HL7 v2 message log, newest first (filters: [`interface::MessageQuery`]) |
//! | `GET /api/hl7/messages/{id}` | one message with its text, acknowledgement, problems and the resources it wrote |
//! | `POST /api/hl7/messages/{id}/replay` | process a stored message again; an accepted one is answered from its record and writes nothing |

use std::sync::OnceLock;

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use serde::Deserialize;
use std::sync::Arc;

use crate::{ApiError, AppState};

pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/api/hl7/messages", get(messages))
        .route("/api/hl7/messages/{id}", get(message))
        .route("/api/hl7/messages/{id}/replay", post(replay))
        .with_state(state)
}

/// Install the process-wide recorder once and return its handle (later calls return the
/// same handle). ACK latency is a histogram with buckets from 1 ms to 30 s.
pub fn install_metrics() -> Option<PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("tend_hl7_ack_seconds".into()),
                    &[
                        0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                        10.0, 30.0,
                    ],
                )
                .ok()?
                .install_recorder()
                .map_err(|e| tracing::warn!(error = %e, "metrics are not recorded"))
                .ok()
        })
        .clone()
}

async fn metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    let handle = state
        .metrics
        .ok_or_else(|| ApiError::NotFound("metrics are not recorded on this server".into()))?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle.render(),
    )
        .into_response())
}

fn feed(state: &AppState) -> Result<Arc<interface::Feed>, ApiError> {
    state
        .feed
        .clone()
        .ok_or_else(|| ApiError::NotFound("the HL7 v2 feed is not running on this server".into()))
}

#[derive(Debug, Deserialize)]
struct LogParams {
    outcome: Option<String>,
    #[serde(rename = "type")]
    message_type: Option<String>,
    sender: Option<String>,
    since: Option<String>,
    until: Option<String>,
    key: Option<String>,
    #[serde(rename = "_count")]
    count: Option<usize>,
    #[serde(rename = "_offset")]
    offset: Option<usize>,
}

async fn messages(
    State(state): State<AppState>,
    params: Result<Query<LogParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(p) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let feed = feed(&state)?;
    let q = interface::MessageQuery {
        outcome: p.outcome.filter(|s| !s.is_empty()),
        message_type: p.message_type.filter(|s| !s.is_empty()),
        sender: p.sender.filter(|s| !s.is_empty()),
        since: p.since.filter(|s| !s.is_empty()),
        until: p.until.filter(|s| !s.is_empty()),
        key: p.key.filter(|s| !s.is_empty()),
        count: p.count.unwrap_or(50),
        offset: p.offset.unwrap_or(0),
    };
    let page = tokio::task::spawn_blocking(move || feed.messages(&q))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
    let patients = patients_of(page.messages.iter());
    let mut resp = Json(page).into_response();
    crate::caller::seen(&mut resp, &patients);
    Ok(resp)
}

/// The patients message records name: the Patient resources each message wrote.
fn patients_of<'a>(records: impl Iterator<Item = &'a interface::MessageView>) -> Vec<String> {
    records
        .flat_map(|m| m.resources.iter())
        .filter(|r| r.starts_with("Patient/"))
        .cloned()
        .collect()
}

async fn message(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let feed = feed(&state)?;
    let view = tokio::task::spawn_blocking(move || feed.message(&id))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .ok_or_else(|| ApiError::NotFound("no HL7 v2 message record with this id".into()))?;
    let patients = patients_of(std::iter::once(&view));
    let mut resp = Json(view).into_response();
    crate::caller::seen(&mut resp, &patients);
    Ok(resp)
}

async fn replay(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let feed = feed(&state)?;
    let handled =
        tokio::task::spawn_blocking(move || feed.replay(&id).map(|h| (h, feed.message(&id))))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))??;
    let (h, record) = handled;
    let mut patients = patients_of(record.iter());
    patients.extend(h.patients.iter().cloned());
    let mut resp = Json(serde_json::json!({
        "ackCode": h.code,
        "answeredFromRecord": h.duplicate,
        "ack": h.ack,
        "record": record,
    }))
    .into_response();
    crate::caller::seen(&mut resp, &patients);
    Ok(resp)
}
