//! `Patient/[id]/$everything` (<https://hl7.org/fhir/R4/patient-operation-everything.html>):
//! the patient, every resource of the Patient compartment (per the official
//! CompartmentDefinition), and the resources those reference, as a searchset Bundle.

use std::sync::OnceLock;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};
use store::Op;

use crate::response::{base_url, blocking, json_response};
use crate::{ApiError, AppState};

/// (resource type, reference parameter) pairs that put a resource in a patient's compartment.
fn members() -> &'static Vec<(String, String)> {
    static M: OnceLock<Vec<(String, String)>> = OnceLock::new();
    M.get_or_init(|| {
        let def: Value = serde_json::from_str(include_str!(
            "../../data/compartmentdefinition-patient.json"
        ))
        .unwrap_or(Value::Null);
        let mut out = Vec::new();
        for r in def
            .get("resource")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let code = r.get("code").and_then(Value::as_str).unwrap_or_default();
            for p in r
                .get("param")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(p) = p.as_str() {
                    if p != "{def}" {
                        out.push((code.to_string(), p.to_string()));
                    }
                }
            }
        }
        out
    })
}

pub(crate) async fn everything(
    State(state): State<AppState>,
    Path((_, id, _)): Path<(String, String, String)>,
    headers: HeaderMap,
    RawQuery(_query): RawQuery,
) -> Result<Response, ApiError> {
    let store = state.store.clone();
    let pid = id.clone();
    let (patient, hits) = blocking(move || {
        let patient = store.read("Patient", &pid)?;
        match &patient {
            Some(p) if p.op != Op::Delete => {}
            Some(_) => return Err(ApiError::Gone(format!("Patient/{pid} has been deleted"))),
            None => return Err(ApiError::NotFound(format!("Patient/{pid} is not known"))),
        }
        let hits = store.compartment("Patient", &pid, members())?;
        Ok((patient, hits))
    })
    .await?;
    let base = base_url(&state, &headers);
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
    Ok(json_response(StatusCode::OK, bundle.to_string()))
}
