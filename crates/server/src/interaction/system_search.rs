//! Search across resource types, `GET [base]?_type=…&…`
//! (<https://hl7.org/fhir/R4/http.html#search>): each type is searched with the same
//! parameters (so a parameter must be one every listed type has, else a 400 names it), with
//! the caller's access, and the matches follow one another in the order the types were
//! listed, each type's in its own order. Without `_type`, every type the record holds and
//! the caller may read. `_sort`, `_include` and `_revinclude` are refused by name (there is
//! no order shared by several types, and an include belongs to one); a search pages through
//! at most [`DEEPEST`] matches.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use search::SearchQuery;
use store::SearchPage;

use crate::caller::{seen, Caller};
use crate::interaction::search::searchset_at;
use crate::response::{base_url, blocking, check_type, json_response, query_pairs};
use crate::{ApiError, AppState};

/// The deepest match a search of several types pages to (`_offset` + `_count`): each type is
/// searched from its first match to there.
pub(crate) const DEEPEST: usize = 10_000;

fn refused(parameter: &str, why: &str) -> ApiError {
    ApiError::BadParameter {
        message: format!("'{parameter}' {why}"),
        parameter: parameter.to_string(),
    }
}

pub(crate) async fn search(
    State(state): State<AppState>,
    Caller(access): Caller,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let mut params = query_pairs(query.as_deref());
    let listed: Option<Vec<String>> = params.iter().find(|(k, _)| k == "_type").map(|(_, v)| {
        v.split(',')
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .collect()
    });
    params.retain(|(k, _)| k != "_type");
    for (k, _) in &params {
        if k == "_sort" || k.starts_with("_include") || k.starts_with("_revinclude") {
            return Err(refused(
                k,
                "is not offered in a search of several types: search one type for it",
            ));
        }
    }
    let store = state.store.clone();
    let registry = state.registry;
    let a = access.clone();
    let (first, page, types) = blocking(move || {
        let types: Vec<String> = match listed {
            Some(list) if list.is_empty() => {
                return Err(refused("_type", "names no resource type"));
            }
            Some(list) => {
                for t in &list {
                    check_type(t)?;
                }
                list
            }
            None => store
                .counts()?
                .into_iter()
                .filter(|(t, n)| *n > 0 && a.may_type(t, false))
                .map(|(t, _)| t)
                .collect(),
        };
        let mut queries: Vec<SearchQuery> = Vec::with_capacity(types.len());
        for t in &types {
            queries.push(SearchQuery::parse(registry, t, &params)?);
        }
        let Some(first) = queries.first().cloned() else {
            return Ok((None, SearchPage::default(), types));
        };
        let (offset, count) = (first.offset, first.count);
        if offset + count > DEEPEST {
            return Err(refused(
                "_offset",
                &format!("goes past the {DEEPEST} matches a search of several types pages to"),
            ));
        }
        let mut matches = Vec::new();
        let mut total = Some(0);
        let mut more = false;
        for mut q in queries {
            q.offset = 0;
            q.count = offset + count;
            let p = store.search(&a, &q)?;
            total = total.zip(p.total).map(|(x, y)| x + y);
            more |= p.has_more;
            matches.extend(p.matches);
        }
        let has_more = more || matches.len() > offset + count;
        let page = SearchPage {
            matches: matches.into_iter().skip(offset).take(count).collect(),
            included: Vec::new(),
            total,
            has_more,
        };
        Ok((Some(first), page, types))
    })
    .await?;
    let base = base_url(&state, &headers);
    let patients: Vec<String> = page
        .matches
        .iter()
        .flat_map(|h| h.patients.iter().cloned())
        .collect();
    let body = match first {
        Some(mut q) => {
            // The links carry the types searched and the parameters as understood.
            q.canonical_params
                .insert(0, ("_type".to_string(), types.join(",")));
            searchset_at(&base, "", &q, page)?
        }
        None => serde_json::json!({"resourceType": "Bundle", "type": "searchset", "total": 0,
            "link": [{"relation": "self", "url": format!("{base}?_type=")}], "entry": []})
        .to_string(),
    };
    let mut r = json_response(StatusCode::OK, body);
    seen(&mut r, &patients);
    Ok(r)
}
