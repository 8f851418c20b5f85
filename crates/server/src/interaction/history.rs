//! history: instance, type and system (<https://hl7.org/fhir/R4/http.html#history>),
//! with `_since`, `_count` and paging.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use store::{HistoryQuery, HistoryScope, Op};

use crate::caller::{seen, Caller};
use crate::response::{base_url, blocking, check_type, http_date, json_response, query_pairs};
use crate::{ApiError, AppState};

pub(crate) async fn system(
    State(state): State<AppState>,
    Caller(access): Caller,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    run(
        &state,
        access,
        &headers,
        HistoryScope::System,
        query.as_deref(),
    )
    .await
}

pub(crate) async fn of_type(
    State(state): State<AppState>,
    Caller(access): Caller,
    Path(rtype): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    check_type(&rtype)?;
    run(
        &state,
        access,
        &headers,
        HistoryScope::Type(rtype),
        query.as_deref(),
    )
    .await
}

pub(crate) async fn instance(
    State(state): State<AppState>,
    access: std::sync::Arc<store::Access>,
    Path((rtype, id, _)): Path<(String, String, String)>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    check_type(&rtype)?;
    let store = state.store.clone();
    // The resource as it is now decides first: unknown is 404, out of reach a refusal
    // naming its patient; the history then holds the versions the caller reaches.
    let (t, i, a) = (rtype.clone(), id.clone(), access.clone());
    if blocking(move || Ok(store.read(&a, &t, &i)?))
        .await?
        .is_none()
    {
        return Err(ApiError::NotFound(format!("{rtype}/{id} is not known")));
    }
    run(
        &state,
        access,
        &headers,
        HistoryScope::Instance(rtype, id),
        query.as_deref(),
    )
    .await
}

async fn run(
    state: &AppState,
    access: std::sync::Arc<store::Access>,
    headers: &HeaderMap,
    scope: HistoryScope,
    raw: Option<&str>,
) -> Result<Response, ApiError> {
    let mut q = HistoryQuery {
        scope,
        since: None,
        count: search::DEFAULT_COUNT,
        offset: 0,
    };
    for (k, v) in query_pairs(raw) {
        match k.as_str() {
            "_since" => {
                let (lo, _) = search::date_range(&v).ok_or_else(|| ApiError::BadParameter {
                    message: format!("invalid _since '{v}': expected an instant"),
                    parameter: "_since".into(),
                })?;
                q.since = Some(lo);
            }
            "_count" => {
                q.count = v
                    .parse::<usize>()
                    .map_err(|_| ApiError::BadParameter {
                        message: format!("invalid _count '{v}'"),
                        parameter: "_count".into(),
                    })?
                    .min(search::MAX_COUNT);
            }
            "_offset" => {
                q.offset = v.parse().map_err(|_| ApiError::BadParameter {
                    message: format!("invalid _offset '{v}'"),
                    parameter: "_offset".into(),
                })?;
            }
            "_format" | "_pretty" => {}
            other => {
                return Err(ApiError::BadParameter {
                    message: format!("history does not support the parameter '{other}'"),
                    parameter: other.to_string(),
                })
            }
        }
    }
    let store = state.store.clone();
    let q2 = q.clone();
    let (versions, total) = blocking(move || Ok(store.history(&access, &q2)?)).await?;
    let base = base_url(state, headers);
    let path = match &q.scope {
        HistoryScope::System => "_history".to_string(),
        HistoryScope::Type(t) => format!("{t}/_history"),
        HistoryScope::Instance(t, i) => format!("{t}/{i}/_history"),
    };
    let link = |offset: usize| {
        let mut s = format!("{base}/{path}?_count={}", q.count);
        if let Some(since) = q.since {
            s.push_str(&format!("&_since={}", search::format_instant(since)));
        }
        if offset > 0 {
            s.push_str(&format!("&_offset={offset}"));
        }
        s
    };
    let mut links = vec![serde_json::json!({"relation": "self", "url": link(q.offset)})];
    if q.offset + versions.len() < total {
        links.push(serde_json::json!({"relation": "next", "url": link(q.offset + q.count)}));
    }
    if q.offset > 0 {
        links.push(serde_json::json!({"relation": "previous", "url": link(q.offset.saturating_sub(q.count))}));
    }
    let mut out = format!(
        "{{\"resourceType\":\"Bundle\",\"type\":\"history\",\"total\":{total},\"link\":{},\"entry\":[",
        serde_json::Value::Array(links)
    );
    for (i, v) in versions.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let full_url =
            serde_json::to_string(&format!("{base}/{}/{}", v.rtype, v.id)).unwrap_or_default();
        let (method, url, status) = match v.op {
            Op::Create => ("POST", v.rtype.clone(), "201 Created"),
            Op::Update => ("PUT", format!("{}/{}", v.rtype, v.id), "200 OK"),
            Op::Delete => ("DELETE", format!("{}/{}", v.rtype, v.id), "204 No Content"),
        };
        let request = serde_json::json!({"method": method, "url": url});
        let response = serde_json::json!({
            "status": status,
            "etag": format!("W/\"{}\"", v.version),
            "lastModified": search::format_instant(v.last_updated),
        });
        out.push_str(&format!("{{\"fullUrl\":{full_url}"));
        if let Some(b) = &v.body {
            out.push_str(&format!(",\"resource\":{b}"));
        }
        out.push_str(&format!(",\"request\":{request},\"response\":{response}}}"));
    }
    out.push_str("]}");
    let mut r = json_response(StatusCode::OK, out);
    if let Some(v) = versions.first() {
        if let Ok(h) = axum::http::HeaderValue::from_str(&http_date(v.last_updated)) {
            r.headers_mut().insert(axum::http::header::LAST_MODIFIED, h);
        }
    }
    seen(&mut r, versions.iter().flat_map(|v| &v.patients));
    Ok(r)
}
