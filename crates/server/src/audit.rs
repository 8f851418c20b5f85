//! One `AuditEvent` per request to the FHIR API and CDS Hooks: who (until accounts exist:
//! the client's network address), what (the interaction and the query), which patients (every
//! patient the response holds or names: a search lists each one it returned), when, and the
//! outcome. Recorded through [`store::Store::audit`]: linked into the hash chain and committed
//! with the next group commit, without delaying the response.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use base64::Engine as _;
use serde_json::{json, Value};
use store::Store;

const EVENT_TYPE: &str = "http://terminology.hl7.org/CodeSystem/audit-event-type";
const RESTFUL: &str = "http://hl7.org/fhir/restful-interaction";
const ENTITY_TYPE: &str = "http://terminology.hl7.org/CodeSystem/audit-entity-type";
const OBJECT_ROLE: &str = "http://terminology.hl7.org/CodeSystem/object-role";
/// Largest response inspected for the patients it holds.
const MAX_INSPECT: usize = 64 * 1024 * 1024;

/// Record an AuditEvent for every request under `/fhir` and `/cds-services`.
pub fn audited(app: Router, store: Arc<dyn Store>) -> Router {
    app.layer(axum::middleware::from_fn(
        move |req: Request, next: Next| {
            let store = store.clone();
            async move { record(store, req, next).await }
        },
    ))
}

/// The REST interaction a request is, from its method and path.
fn interaction(method: &Method, path: &str) -> (&'static str, &'static str) {
    let parts: Vec<&str> = path
        .trim_start_matches("/fhir")
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let op = parts.iter().any(|p| p.starts_with('$'));
    match (method.as_str(), parts.as_slice()) {
        (_, _) if op => ("operation", "E"),
        ("GET", []) | ("GET", ["metadata"]) => ("capabilities", "R"),
        ("POST", []) => ("transaction", "E"),
        ("GET", ["_history"]) => ("history", "R"),
        ("GET", [_]) => ("search-type", "E"),
        ("POST", [_, "_search"]) => ("search-type", "E"),
        ("GET", [_, "_history"]) | ("GET", [_, _, "_history"]) => ("history", "R"),
        ("GET", [_, _]) => ("read", "R"),
        ("GET", [_, _, "_history", _]) => ("vread", "R"),
        ("POST", [_]) => ("create", "C"),
        ("PUT", _) => ("update", "U"),
        ("PATCH", _) => ("patch", "U"),
        ("DELETE", _) => ("delete", "D"),
        _ => ("operation", "E"),
    }
}

/// Every patient a resource is, or is about (subject/patient), recursively through Bundles.
fn patients(v: &Value, out: &mut Vec<String>) {
    match v["resourceType"].as_str() {
        Some("Bundle") => {
            for e in v["entry"].as_array().into_iter().flatten() {
                patients(&e["resource"], out);
            }
        }
        Some("Patient") => {
            if let Some(id) = v["id"].as_str() {
                out.push(format!("Patient/{id}"));
            }
        }
        Some(_) => {
            for key in ["subject", "patient", "for"] {
                if let Some(r) = v[key]["reference"].as_str() {
                    if let Some(id) = r
                        .rsplit_once("Patient/")
                        .map(|(_, id)| id)
                        .filter(|id| !id.contains('/'))
                    {
                        out.push(format!("Patient/{id}"));
                    }
                }
            }
        }
        None => {}
    }
}

async fn record(store: Arc<dyn Store>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let fhir = path == "/fhir" || path.starts_with("/fhir/");
    let cds = path.starts_with("/cds-services/");
    if !fhir && !cds {
        return next.run(req).await;
    }
    let method = req.method().clone();
    let query = req.uri().query().map(str::to_string);
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string());
    let resp = next.run(req).await;
    let status = resp.status();
    let (parts, body) = resp.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_INSPECT).await {
        Ok(b) => b,
        Err(_) => {
            tracing::error!(%path, "a response could not be read for its audit record");
            return Response::from_parts(parts, Body::empty());
        }
    };
    let mut seen = Vec::new();
    if let Ok(v) = serde_json::from_slice::<Value>(&bytes) {
        patients(&v, &mut seen);
    }
    if let Some(loc) = parts
        .headers
        .get(header::LOCATION)
        .and_then(|l| l.to_str().ok())
    {
        if let Some((_, rest)) = loc.split_once("/fhir/Patient/") {
            seen.push(format!(
                "Patient/{}",
                rest.split('/').next().unwrap_or_default()
            ));
        }
    }
    seen.sort();
    seen.dedup();
    let (subtype, action) = if cds {
        ("cds-hooks", "E")
    } else {
        interaction(&method, &path)
    };
    let outcome = if status.is_success() || status == StatusCode::NOT_MODIFIED {
        "0"
    } else if status.is_server_error() {
        "8"
    } else {
        "4"
    };
    let mut entities: Vec<Value> = seen
        .iter()
        .map(|p| {
            json!({"what": {"reference": p},
                "type": {"system": ENTITY_TYPE, "code": "1", "display": "Person"},
                "role": {"system": OBJECT_ROLE, "code": "1", "display": "Patient"}})
        })
        .collect();
    entities.push(json!({
        "type": {"system": ENTITY_TYPE, "code": "2", "display": "System Object"},
        "description": format!("{method} {path}"),
        "query": query.map(|q| base64::engine::general_purpose::STANDARD.encode(q)),
    }));
    if entities.last().is_some_and(|e| e["query"].is_null()) {
        if let Some(o) = entities.last_mut().and_then(Value::as_object_mut) {
            o.remove("query");
        }
    }
    let mut agent = json!({"requestor": true, "who": {"display": "unauthenticated client"}});
    if let Some(ip) = &peer {
        agent["network"] = json!({"address": ip, "type": "2"});
    }
    let event = json!({
        "resourceType": "AuditEvent",
        "id": uuid::Uuid::new_v4().to_string(),
        "type": {"system": EVENT_TYPE, "code": "rest", "display": "RESTful Operation"},
        "subtype": [{"system": if cds { "https://tend.example.org/fhir/CodeSystem/audit-subtype" } else { RESTFUL }, "code": subtype}],
        "action": action,
        "recorded": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "outcome": outcome,
        "outcomeDesc": status.as_u16().to_string(),
        "agent": [agent],
        "source": {"observer": {"display": "Tend"}, "type": [{"system": "http://terminology.hl7.org/CodeSystem/security-source-type", "code": "4", "display": "Application Server"}]},
        "entity": entities,
    });
    if let Err(e) = store.audit(vec![event]) {
        tracing::error!(error = %e, %path, "an audit record could not be queued");
    }
    Response::from_parts(parts, Body::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interactions_are_named_from_method_and_path() {
        assert_eq!(interaction(&Method::GET, "/fhir/Patient/p1"), ("read", "R"));
        assert_eq!(
            interaction(&Method::GET, "/fhir/Patient"),
            ("search-type", "E")
        );
        assert_eq!(
            interaction(&Method::POST, "/fhir/Patient/_search"),
            ("search-type", "E")
        );
        assert_eq!(
            interaction(&Method::GET, "/fhir/Patient/p1/_history/2"),
            ("vread", "R")
        );
        assert_eq!(interaction(&Method::POST, "/fhir/Patient"), ("create", "C"));
        assert_eq!(
            interaction(&Method::PUT, "/fhir/Patient/p1"),
            ("update", "U")
        );
        assert_eq!(
            interaction(&Method::DELETE, "/fhir/Patient/p1"),
            ("delete", "D")
        );
        assert_eq!(interaction(&Method::POST, "/fhir"), ("transaction", "E"));
        assert_eq!(
            interaction(&Method::GET, "/fhir/_history"),
            ("history", "R")
        );
        assert_eq!(
            interaction(&Method::GET, "/fhir/Patient/p1/$everything"),
            ("operation", "E")
        );
    }

    #[test]
    fn patients_are_found_in_resources_and_bundles() {
        let b = json!({"resourceType": "Bundle", "entry": [
            {"resource": {"resourceType": "Patient", "id": "a"}},
            {"resource": {"resourceType": "Observation", "subject": {"reference": "Patient/b"}}},
            {"resource": {"resourceType": "Task", "for": {"reference": "https://x/fhir/Patient/c"}}},
            {"resource": {"resourceType": "Observation", "subject": {"reference": "Group/g"}}}]});
        let mut out = Vec::new();
        patients(&b, &mut out);
        assert_eq!(out, ["Patient/a", "Patient/b", "Patient/c"]);
    }
}
