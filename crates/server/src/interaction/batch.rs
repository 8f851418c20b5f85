//! batch and transaction Bundles (<https://hl7.org/fhir/R4/http.html#transaction>): each
//! entry becomes a store write; a transaction commits all of them or none, with
//! `urn:uuid:` and conditional references resolved inside the same database transaction.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use base64::Engine as _;
use search::SearchQuery;
use serde_json::{json, Value};
use store::{Entry, Mode, Outcome, StoreError, WriteOp};

use crate::caller::{seen, Caller};
use crate::interaction::search::searchset;
use crate::interaction::write::condition;
use crate::response::{
    base_url, blocking, check_content_type, json_response, parse_etag, parse_json, query_pairs,
    validate_resource,
};
use crate::{ApiError, AppState};

/// What one Bundle entry asks for.
enum Planned {
    Write(Box<Entry>),
    Read { url: String },
    Failed(ApiError),
}

pub(crate) async fn batch_or_transaction(
    State(state): State<AppState>,
    Caller(access): Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    check_content_type(&headers)?;
    let bundle = parse_json(&body)?;
    if bundle.get("resourceType").and_then(Value::as_str) != Some("Bundle") {
        return Err(ApiError::BadRequest(
            "POST to the base URL takes a batch or transaction Bundle".into(),
        ));
    }
    let kind = bundle
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let atomic = match kind.as_str() {
        "transaction" => true,
        "batch" => false,
        other => {
            return Err(ApiError::Parse {
                message: format!("Bundle.type is '{other}'; expected batch or transaction"),
                expression: Some("Bundle.type".into()),
            })
        }
    };
    let entries = match bundle.get("entry") {
        None => Vec::new(),
        Some(Value::Array(a)) => a.clone(),
        Some(_) => {
            return Err(ApiError::Parse {
                message: "Bundle.entry must be a list of entries".into(),
                expression: Some("Bundle.entry".into()),
            })
        }
    };
    let mut planned = Vec::with_capacity(entries.len());
    for (i, e) in entries.iter().enumerate() {
        let p = plan(&state, i, e);
        if atomic {
            if let Planned::Failed(err) = p {
                return Err(err);
            }
        }
        planned.push(p);
    }
    // Writes first (in one unit for a transaction), then reads.
    let mut write_idx = Vec::new();
    let mut writes = Vec::new();
    for (i, p) in planned.iter_mut().enumerate() {
        if let Planned::Write(_) = p {
            if let Planned::Write(e) =
                std::mem::replace(p, Planned::Failed(ApiError::Internal("moved".into())))
            {
                write_idx.push(i);
                writes.push(*e);
            }
        }
    }
    let store = state.store.clone();
    let mode = if atomic {
        Mode::Atomic
    } else {
        Mode::Independent
    };
    let results = if writes.is_empty() {
        Vec::new()
    } else {
        let a = access.clone();
        blocking(move || Ok(store.write(&a, writes, mode)?)).await?
    };
    let base = base_url(&state, &headers);
    // The patients each entry touched or was refused, from the store, for the audit record.
    let mut patients: Vec<String> = Vec::new();
    let mut responses: Vec<Value> = vec![Value::Null; planned.len()];
    for (i, r) in write_idx.into_iter().zip(results) {
        responses[i] = match r {
            Ok(o) => {
                patients.extend(o.version().into_iter().flat_map(|v| v.patients.clone()));
                outcome_entry(&base, o)
            }
            Err(e) => {
                let e = ApiError::from(e);
                refused(&e, &mut patients);
                error_entry(&e)
            }
        };
    }
    for (i, p) in planned.into_iter().enumerate() {
        match p {
            Planned::Read { url } => {
                responses[i] = match read_entry(&state, &access, &base, &url).await {
                    Ok((v, touched)) => {
                        patients.extend(touched);
                        v
                    }
                    Err(e) => {
                        refused(&e, &mut patients);
                        error_entry(&e)
                    }
                }
            }
            Planned::Failed(e) if responses[i].is_null() => responses[i] = error_entry(&e),
            _ => {}
        }
    }
    let out = json!({
        "resourceType": "Bundle",
        "type": if atomic { "transaction-response" } else { "batch-response" },
        "entry": responses,
    });
    let mut r = json_response(StatusCode::OK, out.to_string());
    seen(&mut r, &patients);
    Ok(r)
}

fn entry_error(i: usize, e: ApiError) -> ApiError {
    match e {
        ApiError::Invalid(mut issues) => {
            for is in &mut issues {
                is.expression = is
                    .expression
                    .take()
                    .map(|x| format!("Bundle.entry[{i}].resource.{x}"));
            }
            ApiError::Invalid(issues)
        }
        ApiError::Parse {
            message,
            expression,
        } => ApiError::Parse {
            message: format!("entry {i}: {message}"),
            expression: expression.or(Some(format!("Bundle.entry[{i}]"))),
        },
        ApiError::BadRequest(m) => ApiError::BadRequest(format!("entry {i}: {m}")),
        ApiError::BadParameter { message, parameter } => ApiError::BadParameter {
            message: format!("entry {i}: {message}"),
            parameter,
        },
        other => other,
    }
}

fn plan(state: &AppState, i: usize, e: &Value) -> Planned {
    match plan_entry(state, i, e) {
        Ok(p) => p,
        Err(err) => Planned::Failed(entry_error(i, err)),
    }
}

fn plan_entry(state: &AppState, i: usize, e: &Value) -> Result<Planned, ApiError> {
    let request = e.get("request").ok_or_else(|| ApiError::Parse {
        message: "the entry has no request".into(),
        expression: Some(format!("Bundle.entry[{i}].request")),
    })?;
    let method = request
        .get("method")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let url = request
        .get("url")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .trim_start_matches('/')
        .to_string();
    let full_url = e.get("fullUrl").and_then(Value::as_str).map(String::from);
    let if_match = request
        .get("ifMatch")
        .and_then(Value::as_str)
        .map(parse_etag);
    let (path, query) = match url.split_once('?') {
        Some((p, q)) => (p.to_string(), Some(q.to_string())),
        None => (url.clone(), None),
    };
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let resource = e.get("resource").cloned();
    let op = match (method, segs.as_slice(), &query) {
        ("GET", _, _) | ("HEAD", _, _) => return Ok(Planned::Read { url }),
        ("POST", [rtype], _) => {
            let resource = resource
                .ok_or_else(|| ApiError::BadRequest("a POST entry needs a resource".into()))?;
            validate_resource(&resource, Some(rtype))?;
            let if_none_exist = match request.get("ifNoneExist").and_then(Value::as_str) {
                Some(q) => Some(condition(state, rtype, q)?),
                None => None,
            };
            WriteOp::Create {
                resource,
                id: state.ids.next_id(),
                if_none_exist,
            }
        }
        ("PUT", [rtype], Some(q)) => {
            let resource = resource
                .ok_or_else(|| ApiError::BadRequest("a PUT entry needs a resource".into()))?;
            validate_resource(&resource, Some(rtype))?;
            WriteOp::ConditionalUpdate {
                query: condition(state, rtype, q)?,
                resource,
                new_id: state.ids.next_id(),
                if_match,
            }
        }
        ("PUT", [rtype, id], None) => {
            let resource = resource
                .ok_or_else(|| ApiError::BadRequest("a PUT entry needs a resource".into()))?;
            validate_resource(&resource, Some(rtype))?;
            if let Some(body_id) = resource.get("id").and_then(Value::as_str) {
                if body_id != *id {
                    return Err(ApiError::BadRequest(format!(
                        "the resource id '{body_id}' does not match '{id}' in request.url"
                    )));
                }
            }
            WriteOp::Update {
                rtype: rtype.to_string(),
                id: id.to_string(),
                resource,
                if_match,
            }
        }
        ("PATCH", [rtype, id], None) => {
            let patch = binary_patch(resource.as_ref())?;
            WriteOp::Patch {
                rtype: rtype.to_string(),
                id: id.to_string(),
                patch,
                if_match,
            }
        }
        ("DELETE", [rtype, id], None) => WriteOp::Delete {
            rtype: rtype.to_string(),
            id: id.to_string(),
        },
        ("DELETE", [rtype], Some(q)) => WriteOp::ConditionalDelete {
            query: condition(state, rtype, q)?,
        },
        _ => {
            return Err(ApiError::BadRequest(format!(
                "entry {i}: unsupported request '{method} {url}'"
            )));
        }
    };
    Ok(Planned::Write(Box::new(Entry { full_url, op })))
}

/// A PATCH entry carries its JSON Patch as a Binary resource.
fn binary_patch(resource: Option<&Value>) -> Result<Value, ApiError> {
    let r = resource.ok_or_else(|| {
        ApiError::BadRequest("a PATCH entry needs a Binary resource with a JSON Patch".into())
    })?;
    let is_patch = r.get("resourceType").and_then(Value::as_str) == Some("Binary")
        && r.get("contentType")
            .and_then(Value::as_str)
            .is_some_and(|c| c.starts_with("application/json-patch+json"));
    if !is_patch {
        return Err(ApiError::BadRequest(
            "a PATCH entry needs a Binary with contentType application/json-patch+json".into(),
        ));
    }
    let data = r.get("data").and_then(Value::as_str).unwrap_or_default();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data)
        .map_err(|e| ApiError::BadRequest(format!("Binary.data is not base64: {e}")))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::BadRequest(format!("the patch is not valid JSON: {e}")))
}

fn outcome_entry(base: &str, o: Outcome) -> Value {
    let (status, v) = match &o {
        Outcome::Created(v) => ("201 Created", Some(v)),
        Outcome::Updated(v) | Outcome::Exists(v) => ("200 OK", Some(v)),
        Outcome::Deleted(_) => ("204 No Content", None),
    };
    let mut entry = json!({ "response": { "status": status } });
    if let Some(v) = v {
        entry["fullUrl"] = json!(format!("{base}/{}/{}", v.rtype, v.id));
        entry["response"]["location"] =
            json!(format!("{}/{}/_history/{}", v.rtype, v.id, v.version));
        entry["response"]["etag"] = json!(format!("W/\"{}\"", v.version));
        entry["response"]["lastModified"] = json!(search::format_instant(v.last_updated));
        if let Some(b) = &v.body {
            if let Ok(r) = serde_json::from_str::<Value>(b) {
                entry["resource"] = r;
            }
        }
    }
    entry
}

fn error_entry(e: &ApiError) -> Value {
    let (status, _) = e.parts();
    json!({
        "response": {
            "status": format!("{} {}", status.as_u16(), status.canonical_reason().unwrap_or("")),
            "outcome": e.outcome(),
        }
    })
}

/// The patient a refusal aimed at, for the audit record.
fn refused(e: &ApiError, patients: &mut Vec<String>) {
    if let ApiError::Refused {
        patient: Some(p), ..
    } = e
    {
        patients.push(p.clone());
    }
}

/// A GET entry: its response entry and the patients it showed.
async fn read_entry(
    state: &AppState,
    access: &std::sync::Arc<store::Access>,
    base: &str,
    url: &str,
) -> Result<(Value, Vec<String>), ApiError> {
    let access = access.clone();
    let (path, query) = match url.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (url, None),
    };
    let segs: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    let store = state.store.clone();
    match segs.as_slice() {
        [m] if m == "metadata" => Ok((
            json!({
                "resource": serde_json::from_str::<Value>(super::capabilities::statement(state.registry))
                    .map_err(|e| ApiError::Internal(e.to_string()))?,
                "response": { "status": "200 OK" }
            }),
            Vec::new(),
        )),
        [rtype, id] => {
            let (t, i) = (rtype.clone(), id.clone());
            let v = blocking(move || Ok(store.read(&access, &t, &i)?)).await?;
            match v {
                Some(v) if v.op != store::Op::Delete => Ok((
                    json!({
                        "fullUrl": format!("{base}/{rtype}/{id}"),
                        "resource": serde_json::from_str::<Value>(v.body.as_deref().unwrap_or("{}")).unwrap_or(Value::Null),
                        "response": { "status": "200 OK", "etag": format!("W/\"{}\"", v.version) }
                    }),
                    v.patients,
                )),
                Some(_) => Err(StoreError::Gone {
                    rtype: rtype.clone(),
                    id: id.clone(),
                }
                .into()),
                None => Err(StoreError::NotFound {
                    rtype: rtype.clone(),
                    id: id.clone(),
                }
                .into()),
            }
        }
        [rtype] => {
            crate::response::check_type(rtype)?;
            let q = SearchQuery::parse(state.registry, rtype, &query_pairs(query))?;
            let q2 = q.clone();
            let page = blocking(move || Ok(store.search(&access, &q2)?)).await?;
            let touched: Vec<String> = page
                .matches
                .iter()
                .chain(&page.included)
                .flat_map(|h| h.patients.iter().cloned())
                .collect();
            let bundle: Value = serde_json::from_str(&searchset(base, &q, page)?)
                .map_err(|e| ApiError::Internal(e.to_string()))?;
            Ok((
                json!({ "resource": bundle, "response": { "status": "200 OK" } }),
                touched,
            ))
        }
        _ => Err(ApiError::BadRequest(format!(
            "unsupported GET '{url}' in a Bundle"
        ))),
    }
}
