//! FHIR Bulk Data export over HTTP (<https://hl7.org/fhir/uv/bulkdata/export.html>, v2):
//!
//! - kick-off: `GET [base]/$export`, `GET [base]/Patient/$export`,
//!   `GET [base]/Group/[id]/$export` with `Prefer: respond-async` → 202 and
//!   `Content-Location` (the status URL); or the same by POST with a `Parameters` body
//!   (which may also name `patient`s at Patient and Group level);
//! - status: `GET [base]/$export-status/[job]` → 202 with `X-Progress` and `Retry-After`
//!   while it runs, 200 with the manifest when complete, or an OperationOutcome when it
//!   failed; `DELETE` cancels it and removes its files;
//! - files: `GET [base]/$export-file/[job]/[name]` → `application/fhir+ndjson`, streamed.
//!
//! Only callers with the bulk-export permission (integration services, as SMART backend
//! services) kick off; each job is its owner's alone. What the files hold was decided by the
//! store as the owner, record by record; each download's audit record names the patients in
//! the file.

use std::io::Read as _;
use std::sync::Arc;

use access::{Access, Permission, Principal};
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bulk_export::{Level, State as JobState};
use serde_json::json;

use crate::caller::{seen, Caller};
use crate::response::{base_url, blocking, json_response, query_pairs};
use crate::{ApiError, AppState};

/// Seconds a client is asked to wait between status requests.
const RETRY_AFTER: &str = "2";

struct R4Types;

impl bulk_export::Types for R4Types {
    fn known(&self, rtype: &str) -> bool {
        fhir::validation::is_resource_type(rtype)
    }
    fn in_patient_compartment(&self, rtype: &str) -> bool {
        store::patient_compartment_types().contains(&rtype)
    }
}

fn exports(state: &AppState) -> Result<Arc<bulk_export::Exports>, ApiError> {
    state.exports.clone().ok_or_else(|| {
        ApiError::NotFound("Bulk Data export is not configured on this server".into())
    })
}

/// The caller, who must be someone (the system never comes over HTTP).
fn principal(access: &Access) -> Result<Principal, ApiError> {
    access
        .principal()
        .cloned()
        .ok_or_else(|| ApiError::Unauthorized("sign in to export".into()))
}

fn prefers(headers: &HeaderMap, what: &str) -> bool {
    headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim().eq_ignore_ascii_case(what))
}

pub(crate) async fn system(
    state: State<AppState>,
    Caller(access): Caller,
    headers: HeaderMap,
    query: RawQuery,
) -> Result<Response, ApiError> {
    kick_off(state, access, Level::System, headers, query, None).await
}

pub(crate) async fn patients(
    state: State<AppState>,
    Caller(access): Caller,
    headers: HeaderMap,
    query: RawQuery,
) -> Result<Response, ApiError> {
    kick_off(state, access, Level::Patient, headers, query, None).await
}

pub(crate) async fn group(
    state: State<AppState>,
    Caller(access): Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    query: RawQuery,
) -> Result<Response, ApiError> {
    kick_off(state, access, Level::Group(id), headers, query, None).await
}

/// The kick-offs by POST, their parameters in a `Parameters` body.
pub(crate) async fn system_post(
    state: State<AppState>,
    Caller(access): Caller,
    headers: HeaderMap,
    query: RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    let params = body_parameters(&headers, &body)?;
    kick_off(state, access, Level::System, headers, query, Some(params)).await
}

pub(crate) async fn patients_post(
    state: State<AppState>,
    Caller(access): Caller,
    headers: HeaderMap,
    query: RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    let params = body_parameters(&headers, &body)?;
    kick_off(state, access, Level::Patient, headers, query, Some(params)).await
}

pub(crate) async fn group_post(
    state: State<AppState>,
    Caller(access): Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    query: RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    let params = body_parameters(&headers, &body)?;
    kick_off(
        state,
        access,
        Level::Group(id),
        headers,
        query,
        Some(params),
    )
    .await
}

/// A POST kick-off's `Parameters`, as name-value pairs.
fn body_parameters(headers: &HeaderMap, body: &[u8]) -> Result<Vec<(String, String)>, ApiError> {
    crate::response::check_content_type(headers)?;
    let value = crate::response::parse_json(body)?;
    Ok(bulk_export::request::from_parameters(&value)?)
}

async fn kick_off(
    State(state): State<AppState>,
    access: Arc<Access>,
    level: Level,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Option<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let exports = exports(&state)?;
    let who = principal(&access)?;
    if !who.may(Permission::BulkExport) {
        return Err(ApiError::Forbidden(format!(
            "{} may not export in bulk (integration services export, as SMART backend services)",
            who.name
        )));
    }
    if !prefers(&headers, "respond-async") {
        return Err(ApiError::BadRequest(
            "an export runs asynchronously: send 'Prefer: respond-async'".into(),
        ));
    }
    if let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) {
        let ok = accept.split(',').any(|a| {
            let a = a.split(';').next().unwrap_or_default().trim();
            matches!(a, "application/fhir+json" | "application/json" | "*/*")
        });
        if !ok {
            return Err(ApiError::NotAcceptable(format!(
                "an export's status and errors are application/fhir+json, not '{accept}'"
            )));
        }
    }
    let lenient = prefers(&headers, "handling=lenient");
    let mut params = query_pairs(query.as_deref());
    params.extend(body.unwrap_or_default());
    let request = bulk_export::parse(level, &params, lenient, &R4Types)?;
    let base = base_url(&state, &headers);
    let path = match &request.level {
        Level::System => "$export".to_string(),
        Level::Patient => "Patient/$export".to_string(),
        Level::Group(g) => format!("Group/{g}/$export"),
    };
    let request_url = match &query {
        Some(q) if !q.is_empty() => format!("{base}/{path}?{q}"),
        _ => format!("{base}/{path}"),
    };
    let job = blocking(move || Ok(exports.kick_off(&who, access, request, request_url)?)).await?;
    let outcome = json!({"resourceType": "OperationOutcome", "issue": [{
        "severity": "information", "code": "informational",
        "diagnostics": "The export is under way: ask the Content-Location URL how far it got."}]});
    let mut resp = json_response(StatusCode::ACCEPTED, outcome.to_string());
    resp.headers_mut().insert(
        header::CONTENT_LOCATION,
        HeaderValue::from_str(&format!("{base}/$export-status/{}", job.id))
            .map_err(|e| ApiError::Internal(e.to_string()))?,
    );
    Ok(resp)
}

/// `GET [base]/$export-status/[job]`.
pub(crate) async fn status(
    State(state): State<AppState>,
    Caller(access): Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let exports = exports(&state)?;
    let who = principal(&access)?;
    let base = base_url(&state, &headers);
    let ex = exports.clone();
    let s = blocking(move || Ok(ex.status(&id, &who)?)).await?;
    match &s.job.state {
        JobState::Queued | JobState::Running => {
            let mut resp = StatusCode::ACCEPTED.into_response();
            let h = resp.headers_mut();
            h.insert(
                "x-progress",
                HeaderValue::from_str(&s.progress).unwrap_or(HeaderValue::from_static("running")),
            );
            h.insert(header::RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER));
            Ok(resp)
        }
        JobState::Failed(reason) => {
            // The reason is Tend's own words, never a record's content.
            let outcome = json!({"resourceType": "OperationOutcome", "issue": [{
                "severity": "error", "code": "exception",
                "diagnostics": format!("the export failed: {reason}")}]});
            Ok(json_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                outcome.to_string(),
            ))
        }
        JobState::Complete => {
            let files = format!("{base}/$export-file/{}", s.job.id);
            let body = bulk_export::manifest::manifest(&s.job, &files).to_string();
            let mut resp = (StatusCode::OK, body).into_response();
            let h = resp.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            if let Some(at) = exports.expires(&s.job) {
                if let Ok(v) = HeaderValue::from_str(&crate::response::http_date(at)) {
                    h.insert(header::EXPIRES, v);
                }
            }
            Ok(resp)
        }
    }
}

/// `DELETE [base]/$export-status/[job]`: stop the export and remove its files.
pub(crate) async fn cancel(
    State(state): State<AppState>,
    Caller(access): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let exports = exports(&state)?;
    let who = principal(&access)?;
    blocking(move || Ok(exports.cancel(&id, &who)?)).await?;
    let outcome = json!({"resourceType": "OperationOutcome", "issue": [{
        "severity": "information", "code": "informational",
        "diagnostics": "The export is cancelled and its files removed."}]});
    Ok(json_response(StatusCode::ACCEPTED, outcome.to_string()))
}

/// `GET [base]/$export-file/[job]/[name]`: one file, streamed; its audit record names the
/// patients it holds.
pub(crate) async fn file(
    State(state): State<AppState>,
    Caller(access): Caller,
    Path((id, name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let exports = exports(&state)?;
    let who = principal(&access)?;
    let (f, handle) = blocking(move || {
        let f = exports.file(&id, &who, &name)?;
        let handle = std::fs::File::open(&f.path).map_err(|e| ApiError::Internal(e.to_string()))?;
        Ok((f, handle))
    })
    .await?;
    let chunks = futures_util::stream::unfold(Some(handle), |handle| async move {
        let mut handle = handle?;
        let read = tokio::task::spawn_blocking(move || {
            let mut buf = vec![0u8; 256 * 1024];
            let n = handle.read(&mut buf)?;
            buf.truncate(n);
            Ok::<_, std::io::Error>((buf, handle))
        })
        .await;
        match read {
            Ok(Ok((buf, handle))) if !buf.is_empty() => {
                Some((Ok::<_, std::io::Error>(Bytes::from(buf)), Some(handle)))
            }
            Ok(Ok(_)) => None,
            Ok(Err(e)) => Some((Err(e), None)),
            Err(e) => Some((Err(std::io::Error::other(e.to_string())), None)),
        }
    });
    let mut resp = (StatusCode::OK, Body::from_stream(chunks)).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/fhir+ndjson"),
    );
    seen(&mut resp, f.patients.iter());
    Ok(resp)
}
