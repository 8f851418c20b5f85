//! create, update, conditional create/update, patch and delete
//! (<https://hl7.org/fhir/R4/http.html#create>, `#update`, `#patch`, `#delete`, `#cond-update`).

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use search::SearchQuery;
use store::{Entry, Mode, Outcome, WriteOp};

use crate::caller::{seen, Caller};
use crate::response::{
    base_url, blocking, check_content_type, check_type, if_match, parse_json, prefer_return,
    query_pairs, validate_resource, write_response,
};
use crate::{ApiError, AppState};

/// Run one write as its own atomic unit.
pub(crate) async fn write_one(
    state: &AppState,
    access: &std::sync::Arc<store::Access>,
    op: WriteOp,
) -> Result<Outcome, ApiError> {
    let store = state.store.clone();
    let access = access.clone();
    blocking(move || {
        let mut r = store.write(&access, vec![Entry { full_url: None, op }], Mode::Atomic)?;
        match r.pop() {
            Some(Ok(o)) => Ok(o),
            Some(Err(e)) => Err(e.into()),
            None => Err(ApiError::Internal("no outcome".into())),
        }
    })
    .await
}

fn outcome_response(o: Outcome, base: &str, headers: &HeaderMap) -> Response {
    let ret = prefer_return(headers);
    let patients = o.version().map(|v| v.patients.clone()).unwrap_or_default();
    let mut r = match o {
        Outcome::Created(v) => write_response(StatusCode::CREATED, &v, base, ret, "created"),
        Outcome::Updated(v) => write_response(StatusCode::OK, &v, base, ret, "updated"),
        Outcome::Exists(v) => write_response(
            StatusCode::OK,
            &v,
            base,
            ret,
            "a matching resource exists; nothing was created",
        ),
        Outcome::Deleted(_) => StatusCode::NO_CONTENT.into_response(),
    };
    seen(&mut r, &patients);
    r
}

/// Parse an `If-None-Exist` or conditional URL query for `rtype`.
pub(crate) fn condition(
    state: &AppState,
    rtype: &str,
    query: &str,
) -> Result<SearchQuery, ApiError> {
    let q = query.trim_start_matches('?');
    let params = query_pairs(Some(q));
    if params.is_empty() {
        return Err(ApiError::BadRequest(
            "a conditional request needs search parameters".into(),
        ));
    }
    Ok(SearchQuery::parse(state.registry, rtype, &params)?)
}

pub(crate) async fn create(
    State(state): State<AppState>,
    Caller(access): Caller,
    Path(rtype): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    check_type(&rtype)?;
    let resource = match super::binary::native_type(&headers).filter(|_| rtype == "Binary") {
        Some(ct) => super::binary::from_native(&ct, &body, &headers, None)?,
        None => {
            check_content_type(&headers)?;
            parse_json(&body)?
        }
    };
    validate_resource(&resource, Some(&rtype))?;
    let if_none_exist = match headers.get("if-none-exist").and_then(|v| v.to_str().ok()) {
        Some(q) => Some(condition(&state, &rtype, q)?),
        None => None,
    };
    let id = state.ids.next_id();
    let o = write_one(
        &state,
        &access,
        WriteOp::Create {
            resource,
            id,
            if_none_exist,
        },
    )
    .await?;
    Ok(outcome_response(o, &base_url(&state, &headers), &headers))
}

pub(crate) async fn update(
    State(state): State<AppState>,
    Caller(access): Caller,
    Path((rtype, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    check_type(&rtype)?;
    let resource = match super::binary::native_type(&headers).filter(|_| rtype == "Binary") {
        Some(ct) => super::binary::from_native(&ct, &body, &headers, Some(&id))?,
        None => {
            check_content_type(&headers)?;
            parse_json(&body)?
        }
    };
    validate_resource(&resource, Some(&rtype))?;
    match resource.get("id").and_then(|v| v.as_str()) {
        Some(body_id) if body_id == id => {}
        Some(body_id) => {
            return Err(ApiError::BadRequest(format!(
                "the resource id '{body_id}' does not match the id '{id}' in the URL"
            )))
        }
        None => {
            return Err(ApiError::BadRequest(
                "an update needs the resource's id in the body".into(),
            ))
        }
    }
    let o = write_one(
        &state,
        &access,
        WriteOp::Update {
            rtype,
            id,
            resource,
            if_match: if_match(&headers),
        },
    )
    .await?;
    Ok(outcome_response(o, &base_url(&state, &headers), &headers))
}

pub(crate) async fn conditional_update(
    State(state): State<AppState>,
    Caller(access): Caller,
    Path(rtype): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    check_type(&rtype)?;
    check_content_type(&headers)?;
    let query = condition(&state, &rtype, query.as_deref().unwrap_or(""))?;
    let resource = parse_json(&body)?;
    validate_resource(&resource, Some(&rtype))?;
    let new_id = state.ids.next_id();
    let o = write_one(
        &state,
        &access,
        WriteOp::ConditionalUpdate {
            query,
            resource,
            new_id,
            if_match: if_match(&headers),
        },
    )
    .await?;
    Ok(outcome_response(o, &base_url(&state, &headers), &headers))
}

pub(crate) async fn patch(
    State(state): State<AppState>,
    Caller(access): Caller,
    Path((rtype, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    check_type(&rtype)?;
    let ct = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct.starts_with("application/json-patch+json") {
        return Err(ApiError::UnsupportedMediaType(format!(
            "patch needs Content-Type application/json-patch+json, not '{ct}'"
        )));
    }
    let patch: serde_json::Value = serde_json::from_slice(&body).map_err(|e| ApiError::Parse {
        message: format!("the patch is not valid JSON: {e}"),
        expression: None,
    })?;
    if !patch.is_array() {
        return Err(ApiError::Parse {
            message: "a JSON Patch document is an array of operations".into(),
            expression: None,
        });
    }
    let o = write_one(
        &state,
        &access,
        WriteOp::Patch {
            rtype,
            id,
            patch,
            if_match: if_match(&headers),
        },
    )
    .await?;
    Ok(outcome_response(o, &base_url(&state, &headers), &headers))
}

pub(crate) async fn delete(
    State(state): State<AppState>,
    Caller(access): Caller,
    Path((rtype, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    check_type(&rtype)?;
    let o = write_one(&state, &access, WriteOp::Delete { rtype, id }).await?;
    Ok(outcome_response(o, &base_url(&state, &headers), &headers))
}

pub(crate) async fn conditional_delete(
    State(state): State<AppState>,
    Caller(access): Caller,
    Path(rtype): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    check_type(&rtype)?;
    let query = condition(&state, &rtype, query.as_deref().unwrap_or(""))?;
    let o = write_one(&state, &access, WriteOp::ConditionalDelete { query }).await?;
    Ok(outcome_response(o, &base_url(&state, &headers), &headers))
}
