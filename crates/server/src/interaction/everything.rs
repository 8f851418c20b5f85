//! `Patient/[id]/$everything` (<https://hl7.org/fhir/R4/patient-operation-everything.html>):
//! the patient, every resource of the Patient compartment (per the official
//! CompartmentDefinition, as the store placed each version when it was written), and the
//! resources those reference that are in no other patient's compartment, as a searchset
//! Bundle; all as far as the caller reaches.
//!
//! The operation's parameters: `start` and `end` (care dates: a resource whose type has a
//! `date` search parameter is kept when that date falls in the range, searched as
//! `Patient/[id]/[type]?date=ge[start]&date=le[end]`; a resource with no care date is kept),
//! `_since` (changed at or after the instant), `_type` (these types only, the patient too if
//! listed) and `_count` with `next` and `previous` links (`_offset`). Anything else is a 400
//! naming it.

use std::collections::{BTreeSet, HashSet};

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use search::SearchQuery;
use serde_json::{json, Value};
use store::{Hit, Op};

use crate::caller::seen;
use crate::response::{base_url, blocking, check_type, json_response, query_pairs};
use crate::{ApiError, AppState};

/// The page size when `_count` is not given: the whole record, up to this many entries.
const DEFAULT_COUNT: usize = 1000;

/// The operation's parameters, as given.
#[derive(Debug, Default, Clone)]
struct Asked {
    start: Option<String>,
    end: Option<String>,
    since: Option<i64>,
    types: Option<BTreeSet<String>>,
    count: usize,
    offset: usize,
    /// The parameters as understood, for the links.
    canonical: Vec<(String, String)>,
}

fn bad(parameter: &str, message: String) -> ApiError {
    ApiError::BadParameter {
        message,
        parameter: parameter.to_string(),
    }
}

fn asked(params: &[(String, String)]) -> Result<Asked, ApiError> {
    let mut a = Asked {
        count: DEFAULT_COUNT,
        ..Asked::default()
    };
    for (k, v) in params {
        let number = |max: usize| {
            v.parse::<usize>()
                .ok()
                .filter(|n| *n <= max)
                .ok_or_else(|| bad(k, format!("'{k}' must be a whole number up to {max}")))
        };
        match k.as_str() {
            "start" | "end" => {
                if search::date_range(v).is_none() {
                    return Err(bad(k, format!("'{k}' must be a FHIR date, not '{v}'")));
                }
                if k == "start" {
                    a.start = Some(v.clone());
                } else {
                    a.end = Some(v.clone());
                }
            }
            "_since" => {
                let t = chrono::DateTime::parse_from_rfc3339(v)
                    .map_err(|_| bad(k, format!("'_since' must be an instant, not '{v}'")))?;
                a.since = Some(t.timestamp_millis());
            }
            "_type" => {
                let set = a.types.get_or_insert_with(BTreeSet::new);
                for t in v.split(',').map(str::trim).filter(|t| !t.is_empty()) {
                    check_type(t)?;
                    set.insert(t.to_string());
                }
            }
            "_count" => {
                a.count = number(search::MAX_COUNT)?;
                continue;
            }
            "_offset" => {
                a.offset = number(usize::MAX)?;
                continue;
            }
            _ => {
                return Err(bad(
                    k,
                    format!(
                    "'{k}' is not a parameter of $everything (start, end, _since, _type, _count)"
                ),
                ))
            }
        }
        a.canonical.push((k.clone(), v.clone()));
    }
    Ok(a)
}

/// When the stored version was last changed (ms), from its `meta.lastUpdated`.
fn last_updated(body: &Value) -> Option<i64> {
    body["meta"]["lastUpdated"]
        .as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.timestamp_millis())
}

pub(crate) async fn everything(
    State(state): State<AppState>,
    access: std::sync::Arc<store::Access>,
    Path((_, id, _)): Path<(String, String, String)>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let a = asked(&query_pairs(query.as_deref()))?;
    let store = state.store.clone();
    let registry = state.registry;
    let pid = id.clone();
    let asked = a.clone();
    let (entries, patients) = blocking(move || {
        let patient = store.read(&access, "Patient", &pid)?;
        let patient = match patient {
            Some(p) if p.op != Op::Delete => p,
            Some(_) => return Err(ApiError::Gone(format!("Patient/{pid} has been deleted"))),
            None => return Err(ApiError::NotFound(format!("Patient/{pid} is not known"))),
        };
        let hits = store.compartment(&access, &pid)?;
        // Care dates: per type with a `date` parameter, the ids in range.
        let mut in_range: Option<HashSet<(String, String)>> = None;
        if asked.start.is_some() || asked.end.is_some() {
            let mut keep = HashSet::new();
            let types: BTreeSet<&str> = hits
                .iter()
                .filter(|h| h.patients.contains(&pid))
                .map(|h| h.rtype.as_str())
                .collect();
            for t in types {
                if registry.get(t, "date").is_none() {
                    continue;
                }
                let mut params = vec![("_count".to_string(), search::MAX_COUNT.to_string())];
                if let Some(s) = &asked.start {
                    params.push(("date".into(), format!("ge{s}")));
                }
                if let Some(e) = &asked.end {
                    params.push(("date".into(), format!("le{e}")));
                }
                let mut offset = 0;
                loop {
                    let mut q =
                        SearchQuery::parse(registry, t, &params)?.in_patient_compartment(&pid);
                    q.offset = offset;
                    let page = store.search(&access, &q)?;
                    offset += page.matches.len();
                    keep.extend(page.matches.into_iter().map(|h| (h.rtype, h.id)));
                    if !page.has_more {
                        break;
                    }
                }
            }
            in_range = Some(keep);
        }
        let dated = |h: &Hit| registry.get(&h.rtype, "date").is_some();
        let mut kept: Vec<(String, String, Value, Vec<String>)> = Vec::new();
        let mut consider = |rtype: &str, hid: &str, body: &str, patients: &[String]| {
            if asked.types.as_ref().is_some_and(|t| !t.contains(rtype)) {
                return;
            }
            let Ok(v) = serde_json::from_str::<Value>(body) else {
                return;
            };
            if let Some(since) = asked.since {
                if last_updated(&v).is_none_or(|t| t < since) {
                    return;
                }
            }
            kept.push((rtype.to_string(), hid.to_string(), v, patients.to_vec()));
        };
        if let Some(body) = &patient.body {
            consider("Patient", &pid, body, std::slice::from_ref(&pid));
        }
        for h in &hits {
            let own = h.patients.contains(&pid);
            // A referenced resource in another patient's compartment is theirs, not this
            // patient's record.
            if !own && !h.patients.is_empty() {
                continue;
            }
            if own {
                if let Some(range) = &in_range {
                    if dated(h) && !range.contains(&(h.rtype.clone(), h.id.clone())) {
                        continue;
                    }
                }
            }
            consider(&h.rtype, &h.id, &h.body, &h.patients);
        }
        let patients: Vec<String> = kept.iter().flat_map(|k| k.3.iter().cloned()).collect();
        Ok((kept, patients))
    })
    .await?;
    let base = base_url(&state, &headers);
    let link = |offset: usize| {
        let mut ser = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &a.canonical {
            ser.append_pair(k, v);
        }
        ser.append_pair("_count", &a.count.to_string());
        if offset > 0 {
            ser.append_pair("_offset", &offset.to_string());
        }
        format!("{base}/Patient/{id}/$everything?{}", ser.finish())
    };
    let total = entries.len();
    let mut links = vec![json!({"relation": "self", "url": link(a.offset)})];
    if a.offset + a.count < total && a.count > 0 {
        links.push(json!({"relation": "next", "url": link(a.offset + a.count)}));
    }
    if a.offset > 0 {
        links.push(json!({"relation": "previous", "url": link(a.offset.saturating_sub(a.count))}));
    }
    let page: Vec<Value> = entries
        .into_iter()
        .skip(a.offset)
        .take(a.count)
        .map(|(rtype, hid, resource, _)| {
            json!({"fullUrl": format!("{base}/{rtype}/{hid}"), "resource": resource,
                "search": {"mode": "match"}})
        })
        .collect();
    let bundle = json!({
        "resourceType": "Bundle",
        "type": "searchset",
        "total": total,
        "link": links,
        "entry": page,
    });
    let mut r = json_response(StatusCode::OK, bundle.to_string());
    let mut named = vec![id.clone()];
    named.extend(patients);
    seen(&mut r, &named);
    Ok(r)
}
