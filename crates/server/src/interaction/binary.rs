//! Binary in its native form (<https://hl7.org/fhir/R4/binary.html#rest>): a create or update
//! whose body is not FHIR (`Content-Type: image/png`, `application/pdf`…) stores a Binary
//! with that `contentType` and the body as `data`, its `securityContext` from the
//! `X-Security-Context` header; a read whose `Accept` names no FHIR or JSON type answers
//! with the content itself and its own Content-Type. A Binary is about the patient its
//! security context names (directly, or through the resource it names), so the store decides
//! who reads it like any patient record.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{json, Value};

use crate::ApiError;

/// The body's media type when it is not a FHIR or JSON one (`None`: a FHIR body).
pub(crate) fn native_type(headers: &HeaderMap) -> Option<String> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())?
        .split(';')
        .next()?
        .trim()
        .to_ascii_lowercase();
    (!ct.is_empty() && !ct.ends_with("json") && ct != "application/x-www-form-urlencoded")
        .then_some(ct)
}

/// A Binary built from a native body (`id` for an update).
pub(crate) fn from_native(
    content_type: &str,
    body: &[u8],
    headers: &HeaderMap,
    id: Option<&str>,
) -> Result<Value, ApiError> {
    let mut b = json!({
        "resourceType": "Binary",
        "contentType": content_type,
        "data": base64::engine::general_purpose::STANDARD.encode(body),
    });
    if let Some(id) = id {
        b["id"] = json!(id);
    }
    if let Some(ctx) = headers.get("x-security-context") {
        let r = ctx.to_str().map_err(|_| {
            ApiError::BadRequest(
                "X-Security-Context must be a reference such as Patient/123".into(),
            )
        })?;
        let (t, i) = r.trim().split_once('/').unwrap_or(("", ""));
        if t.is_empty() || i.is_empty() || !t.starts_with(|c: char| c.is_ascii_uppercase()) {
            return Err(ApiError::BadRequest(format!(
                "X-Security-Context '{r}' is not a reference such as Patient/123"
            )));
        }
        b["securityContext"] = json!({"reference": r.trim()});
    }
    Ok(b)
}

/// Whether a read should answer with the native content: `Accept` is present and names no
/// FHIR, JSON or XML type (`*/*` alone counts as native; no `Accept` is FHIR JSON).
pub(crate) fn wants_native(headers: &HeaderMap, query: Option<&str>) -> bool {
    if query.is_some_and(|q| q.contains("_format=")) {
        return false;
    }
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let accept = accept.to_ascii_lowercase();
    !accept.is_empty()
        && !accept.contains("json")
        && !accept.contains("fhir")
        && !accept.contains("xml")
}

/// The stored Binary as its native content.
pub(crate) fn native_response(body: &str) -> Result<Response, ApiError> {
    let b: Value = serde_json::from_str(body).map_err(|e| ApiError::Internal(e.to_string()))?;
    let ct = b["contentType"]
        .as_str()
        .unwrap_or("application/octet-stream")
        .to_string();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b["data"].as_str().unwrap_or_default())
        .map_err(|e| ApiError::Internal(format!("Binary.data is not base64: {e}")))?;
    let mut r = (StatusCode::OK, bytes).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&ct)
            .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream")),
    );
    if let Some(ctx) = b["securityContext"]["reference"]
        .as_str()
        .and_then(|s| HeaderValue::from_str(s).ok())
    {
        h.insert("x-security-context", ctx);
    }
    Ok(r)
}
