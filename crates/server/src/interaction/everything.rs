//! `Patient/[id]/$everything` (<https://hl7.org/fhir/R4/patient-operation-everything.html>):
//! the patient, every resource of the Patient compartment (per the official
//! CompartmentDefinition, as the store placed each version when it was written), and the
//! resources those reference, as a searchset Bundle; all as far as the caller reaches.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};
use store::Op;

use crate::caller::seen;
use crate::response::{base_url, blocking, json_response};
use crate::{ApiError, AppState};

pub(crate) async fn everything(
    State(state): State<AppState>,
    access: std::sync::Arc<store::Access>,
    Path((_, id, _)): Path<(String, String, String)>,
    headers: HeaderMap,
    RawQuery(_query): RawQuery,
) -> Result<Response, ApiError> {
    let store = state.store.clone();
    let pid = id.clone();
    let (patient, hits) = blocking(move || {
        let patient = store.read(&access, "Patient", &pid)?;
        match &patient {
            Some(p) if p.op != Op::Delete => {}
            Some(_) => return Err(ApiError::Gone(format!("Patient/{pid} has been deleted"))),
            None => return Err(ApiError::NotFound(format!("Patient/{pid} is not known"))),
        }
        let hits = store.compartment(&access, &pid)?;
        Ok((patient, hits))
    })
    .await?;
    let base = base_url(&state, &headers);
    let mut patients: Vec<String> = vec![id.clone()];
    patients.extend(hits.iter().flat_map(|h| h.patients.iter().cloned()));
    let mut entries = Vec::with_capacity(hits.len() + 1);
    if let Some(p) = patient.and_then(|p| p.body) {
        entries.push(json!({
            "fullUrl": format!("{base}/Patient/{id}"),
            "resource": serde_json::from_str::<Value>(&p).unwrap_or(Value::Null),
            "search": {"mode": "match"}
        }));
    }
    for h in hits {
        entries.push(json!({
            "fullUrl": format!("{base}/{}/{}", h.rtype, h.id),
            "resource": serde_json::from_str::<Value>(&h.body).unwrap_or(Value::Null),
            "search": {"mode": "match"}
        }));
    }
    let bundle = json!({
        "resourceType": "Bundle",
        "type": "searchset",
        "total": entries.len(),
        "link": [{"relation": "self", "url": format!("{base}/Patient/{id}/$everything")}],
        "entry": entries,
    });
    let mut r = json_response(StatusCode::OK, bundle.to_string());
    seen(&mut r, &patients);
    Ok(r)
}
