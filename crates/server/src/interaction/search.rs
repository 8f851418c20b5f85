//! search, by GET and by POST `_search` (<https://hl7.org/fhir/R4/search.html>), and the
//! searchset Bundle with `self`, `first`, `next` and `prev` links
//! (<https://hl7.org/fhir/R4/http.html#paging>).

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use search::{SearchQuery, Summary};
use serde_json::Value;
use store::{Hit, SearchPage};

use crate::caller::{seen, Caller};
use crate::response::{
    base_url, blocking, check_type, json_response, query_pairs, subset, summarize,
};
use crate::{ApiError, AppState};

pub(crate) async fn search_get(
    State(state): State<AppState>,
    Caller(access): Caller,
    Path(rtype): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let params = query_pairs(query.as_deref());
    run(&state, access, &headers, &rtype, params).await
}

/// POST `[type]/_search`: parameters from the form body and the URL together.
pub(crate) async fn search_post(
    State(state): State<AppState>,
    Caller(access): Caller,
    Path(rtype): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    let ct = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !body.is_empty() && !ct.starts_with("application/x-www-form-urlencoded") {
        return Err(ApiError::UnsupportedMediaType(format!(
            "POST _search takes application/x-www-form-urlencoded, not '{ct}'"
        )));
    }
    let mut params = query_pairs(query.as_deref());
    params.extend(form_urlencoded::parse(&body).into_owned());
    run(&state, access, &headers, &rtype, params).await
}

/// Compartment search, `GET Patient/[id]/[type]`
/// (<https://hl7.org/fhir/R4/http.html#vsearch>): a search of `[type]` within the patient's
/// compartment, with the same parameters, paging and access as any search. Only the Patient
/// compartment is kept (the one Tend's access control is built on).
pub(crate) async fn compartment(
    state: State<AppState>,
    access: std::sync::Arc<store::Access>,
    Path((compartment, id, rtype)): Path<(String, String, String)>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    if compartment != "Patient" {
        return Err(ApiError::NotFound(format!(
            "compartment search is offered for the Patient compartment only, not {compartment}"
        )));
    }
    let params = query_pairs(query.as_deref());
    run_in(&state, access, &headers, &rtype, params, Some(&id)).await
}

async fn run(
    state: &AppState,
    access: std::sync::Arc<store::Access>,
    headers: &HeaderMap,
    rtype: &str,
    params: Vec<(String, String)>,
) -> Result<Response, ApiError> {
    run_in(state, access, headers, rtype, params, None).await
}

/// A search, within a patient's compartment when `patient` is given.
async fn run_in(
    state: &AppState,
    access: std::sync::Arc<store::Access>,
    headers: &HeaderMap,
    rtype: &str,
    params: Vec<(String, String)>,
    patient: Option<&str>,
) -> Result<Response, ApiError> {
    check_type(rtype)?;
    let mut q = SearchQuery::parse(state.registry, rtype, &params)?;
    if let Some(id) = patient {
        q = q.in_patient_compartment(id);
    }
    let store = state.store.clone();
    let q2 = q.clone();
    let page = blocking(move || Ok(store.search(&access, &q2)?)).await?;
    let base = base_url(state, headers);
    let patients: Vec<String> = page
        .matches
        .iter()
        .chain(&page.included)
        .flat_map(|h| h.patients.iter().cloned())
        .collect();
    let mut r = json_response(StatusCode::OK, searchset(&base, &q, page)?);
    seen(&mut r, &patients);
    Ok(r)
}

/// The path a search's links name: the type, or the compartment and type.
fn path_of(q: &SearchQuery) -> String {
    match q.filters.iter().find_map(|f| match f {
        search::Filter::PatientCompartment(id) => Some(id),
        _ => None,
    }) {
        Some(id) => format!("/Patient/{id}/{}", q.resource_type),
        None => format!("/{}", q.resource_type),
    }
}

fn link_url(base: &str, path: &str, q: &SearchQuery, offset: usize) -> String {
    let mut ser = form_urlencoded::Serializer::new(String::new());
    for (k, v) in &q.canonical_params {
        ser.append_pair(k, v);
    }
    ser.append_pair("_count", &q.count.to_string());
    if offset > 0 {
        ser.append_pair("_offset", &offset.to_string());
    }
    format!("{base}{path}?{}", ser.finish())
}

/// Serialise the searchset Bundle. Stored bodies are embedded as they are (no re-parse)
/// unless `_elements` or `_summary` asks for a subset.
pub(crate) fn searchset(base: &str, q: &SearchQuery, page: SearchPage) -> Result<String, ApiError> {
    searchset_at(base, &path_of(q), q, page)
}

/// [`searchset`] with links to `path` under the base (empty for a search of all types).
pub(crate) fn searchset_at(
    base: &str,
    path: &str,
    q: &SearchQuery,
    page: SearchPage,
) -> Result<String, ApiError> {
    let mut out = String::with_capacity(
        256 + page
            .matches
            .iter()
            .map(|h| h.body.len() + 128)
            .sum::<usize>(),
    );
    out.push_str("{\"resourceType\":\"Bundle\",\"type\":\"searchset\"");
    if let Some(t) = page.total {
        out.push_str(&format!(",\"total\":{t}"));
    }
    let mut links = vec![
        ("self", link_url(base, path, q, q.offset)),
        ("first", link_url(base, path, q, 0)),
    ];
    if page.has_more && q.count > 0 {
        links.push(("next", link_url(base, path, q, q.offset + q.count)));
    }
    if q.offset > 0 {
        links.push((
            "previous",
            link_url(base, path, q, q.offset.saturating_sub(q.count)),
        ));
    }
    out.push_str(",\"link\":[");
    for (i, (rel, url)) in links.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&serde_json::json!({"relation": rel, "url": url}).to_string());
    }
    out.push(']');
    if q.summary != Some(Summary::Count) {
        out.push_str(",\"entry\":[");
        let mut first = true;
        for (mode, hit) in page
            .matches
            .iter()
            .map(|h| ("match", h))
            .chain(page.included.iter().map(|h| ("include", h)))
        {
            if !first {
                out.push(',');
            }
            first = false;
            out.push_str(&entry_json(base, q, hit, mode)?);
        }
        out.push(']');
    }
    out.push('}');
    Ok(out)
}

fn entry_json(base: &str, q: &SearchQuery, hit: &Hit, mode: &str) -> Result<String, ApiError> {
    let resource = if !q.elements.is_empty() && mode == "match" {
        let v: Value =
            serde_json::from_str(&hit.body).map_err(|e| ApiError::Internal(e.to_string()))?;
        subset(v, &q.elements).to_string()
    } else if let Some(s) = q
        .summary
        .filter(|s| matches!(s, Summary::True | Summary::Text | Summary::Data))
    {
        let v: Value =
            serde_json::from_str(&hit.body).map_err(|e| ApiError::Internal(e.to_string()))?;
        summarize(v, s).to_string()
    } else {
        hit.body.clone()
    };
    let full_url =
        serde_json::to_string(&format!("{base}/{}/{}", hit.rtype, hit.id)).unwrap_or_default();
    Ok(format!(
        "{{\"fullUrl\":{full_url},\"resource\":{resource},\"search\":{{\"mode\":\"{mode}\"}}}}"
    ))
}
