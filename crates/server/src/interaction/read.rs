//! read and vread (<https://hl7.org/fhir/R4/http.html#read>, `#vread`).

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use store::Op;

use crate::caller::{seen, Caller};
use crate::response::{
    base_url, blocking, check_type, json_response, query_pairs, summarize, version_headers,
};
use crate::{ApiError, AppState};

pub(crate) async fn read(
    State(state): State<AppState>,
    Caller(access): Caller,
    Path((rtype, id)): Path<(String, String)>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    check_type(&rtype)?;
    let base = base_url(&state, &headers);
    let store = state.store.clone();
    let (t, i) = (rtype.clone(), id.clone());
    let v = blocking(move || Ok(store.read(&access, &t, &i)?)).await?;
    let v = match v {
        None => return Err(ApiError::NotFound(format!("{rtype}/{id} is not known"))),
        Some(v) if v.op == Op::Delete => {
            let mut r = ApiError::Gone(format!("{rtype}/{id} has been deleted")).into_response();
            version_headers(&mut r, &v, &base, false);
            seen(&mut r, &v.patients);
            return Ok(r);
        }
        Some(v) => v,
    };
    // Conditional read: If-None-Match with the current ETag.
    if let Some(inm) = headers.get("if-none-match").and_then(|h| h.to_str().ok()) {
        if crate::response::parse_etag(inm) == v.version.to_string() {
            let mut r = StatusCode::NOT_MODIFIED.into_response();
            version_headers(&mut r, &v, &base, false);
            seen(&mut r, &v.patients);
            return Ok(r);
        }
    }
    if rtype == "Binary" && super::binary::wants_native(&headers, query.as_deref()) {
        let mut r = super::binary::native_response(v.body.as_deref().unwrap_or("{}"))?;
        version_headers(&mut r, &v, &base, false);
        seen(&mut r, &v.patients);
        return Ok(r);
    }
    let summary = query_pairs(query.as_deref())
        .into_iter()
        .find(|(k, _)| k == "_summary")
        .map(|(_, s)| s);
    let body = match summary.as_deref() {
        None | Some("false") => v.body.clone().unwrap_or_default(),
        Some(s) => {
            let kind = match s {
                "true" => search::Summary::True,
                "text" => search::Summary::Text,
                "data" => search::Summary::Data,
                _ => {
                    return Err(ApiError::BadParameter {
                        message: format!(
                            "invalid _summary '{s}' for a read: expected true, text, data or false"
                        ),
                        parameter: "_summary".into(),
                    })
                }
            };
            let parsed: serde_json::Value = serde_json::from_str(v.body.as_deref().unwrap_or("{}"))
                .map_err(|e| ApiError::Internal(e.to_string()))?;
            summarize(parsed, kind).to_string()
        }
    };
    let mut r = json_response(StatusCode::OK, body);
    version_headers(&mut r, &v, &base, false);
    seen(&mut r, &v.patients);
    Ok(r)
}

pub(crate) async fn vread(
    State(state): State<AppState>,
    Caller(access): Caller,
    Path((rtype, id, vid)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    check_type(&rtype)?;
    let base = base_url(&state, &headers);
    let version: i64 = vid
        .parse()
        .map_err(|_| ApiError::NotFound(format!("version '{vid}' of {rtype}/{id} is not known")))?;
    let store = state.store.clone();
    let (t, i) = (rtype.clone(), id.clone());
    let v = blocking(move || Ok(store.vread(&access, &t, &i, version)?)).await?;
    match v {
        None => Err(ApiError::NotFound(format!(
            "version {vid} of {rtype}/{id} is not known"
        ))),
        Some(v) if v.op == Op::Delete => {
            let mut r = ApiError::Gone(format!("version {vid} of {rtype}/{id} is a deletion"))
                .into_response();
            version_headers(&mut r, &v, &base, false);
            seen(&mut r, &v.patients);
            Ok(r)
        }
        Some(v) => {
            let mut r = json_response(StatusCode::OK, v.body.clone().unwrap_or_default());
            version_headers(&mut r, &v, &base, false);
            seen(&mut r, &v.patients);
            Ok(r)
        }
    }
}
