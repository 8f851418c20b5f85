//! One `AuditEvent` per request that can show or change patient data (the FHIR API, CDS
//! Hooks, the JSON API, the web pages): who (user or service, role, network address; the
//! break-the-glass reason when there was one), what (the interaction and the query), which
//! patients (every patient the response holds or names: a search lists each one it
//! returned; pages name theirs), when, and the outcome (denied requests included).
//!
//! Recorded through [`store::Store::audit_durable`]: linked into the hash chain and committed
//! with the next group commit (no commit of its own); the response waits for it, so nothing
//! is answered whose record a crash could lose, and a record that cannot be written
//! withholds the response (503).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use base64::Engine as _;
use serde_json::{json, Value};
use store::Store;

use crate::ApiError;
use axum::response::IntoResponse as _;

const EVENT_TYPE: &str = "http://terminology.hl7.org/CodeSystem/audit-event-type";
const RESTFUL: &str = "http://hl7.org/fhir/restful-interaction";
const ENTITY_TYPE: &str = "http://terminology.hl7.org/CodeSystem/audit-entity-type";
const OBJECT_ROLE: &str = "http://terminology.hl7.org/CodeSystem/object-role";
/// Tend's own interaction kinds: CDS Hooks calls, web pages and web actions.
const TEND_SUBTYPE: &str = "https://tend.example.org/fhir/CodeSystem/audit-subtype";

/// Record an AuditEvent for every request that can touch patient data.
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

/// Whether a request is recorded: everything that can show or change patient data (the FHIR
/// API, CDS Hooks, the JSON API, the SMART token endpoint and the web pages), not static
/// assets, discovery, or sign-in pages (sign-ins are recorded by the accounts themselves).
fn recorded(path: &str) -> bool {
    !(path.starts_with("/assets/")
        || path.starts_with("/sign-in/")
        || matches!(
            path,
            "/" | "/sign-in" | "/sign-out" | "/fhir/metadata" | "/metrics" | "/cds-services"
        )
        || path.starts_with("/fhir/.well-known/"))
}

async fn record(store: Arc<dyn Store>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    if !recorded(&path) {
        return next.run(req).await;
    }
    let fhir = path == "/fhir" || path.starts_with("/fhir/");
    let cds = path.starts_with("/cds-services/");
    let method = req.method().clone();
    let query = req.uri().query().map(str::to_string);
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string());
    let resp = next.run(req).await;
    let status = resp.status();
    let (parts, body) = resp.into_parts();
    let auth = parts.extensions.get::<crate::gate::Auth>().cloned();
    let mut seen = parts
        .extensions
        .get::<crate::gate::Seen>()
        .map(|s| s.0.clone())
        .unwrap_or_default();
    // The patients come from what the handlers read (the store's compartment facts, or the
    // records a page or the JSON API showed), put in `Seen`: no body is read for them. The
    // body is held, not sent, until the record is durable.
    if let Some(rest) = path.strip_prefix("/patients/") {
        if let Some(id) = rest.split('/').next().filter(|id| !id.is_empty()) {
            seen.push(format!("Patient/{id}"));
        }
    }
    for key in ["patient", "subject"] {
        if let Some(q) = &query {
            if !fhir {
                for (k, v) in form_urlencoded::parse(q.as_bytes()) {
                    if k == key && !v.is_empty() {
                        let id = v.trim_start_matches("Patient/").to_string();
                        seen.push(format!("Patient/{id}"));
                    }
                }
            }
        }
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
    let (subtype_system, subtype, action) = if cds {
        (TEND_SUBTYPE, "cds-hooks", "E")
    } else if fhir {
        let (s, a) = interaction(&method, &path);
        (RESTFUL, s, a)
    } else if method == Method::GET {
        (TEND_SUBTYPE, "page", "R")
    } else {
        (TEND_SUBTYPE, "action", "U")
    };
    let outcome =
        if status.is_success() || status == StatusCode::NOT_MODIFIED || status.is_redirection() {
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
    // The gate's caller, or one a service verified itself (a CDS Hooks client's JWT).
    let principal = auth
        .as_ref()
        .and_then(|a| a.principal.as_ref())
        .or_else(|| parts.extensions.get::<access::Principal>());
    let glass = auth.as_ref().and_then(|a| a.break_glass.as_deref());
    let agent = accounts::agent(principal, peer.as_deref(), glass);
    let outcome_desc = status.as_u16().to_string();
    let mut event = json!({
        "resourceType": "AuditEvent",
        "id": store::audit::event_id(),
        "type": {"system": EVENT_TYPE, "code": "rest", "display": "RESTful Operation"},
        "subtype": [{"system": subtype_system, "code": subtype}],
        "action": action,
        "recorded": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "outcome": outcome,
        "outcomeDesc": outcome_desc,
        "agent": [agent],
        "source": {"observer": {"display": "Tend"}, "type": [{"system": "http://terminology.hl7.org/CodeSystem/security-source-type", "code": "4", "display": "Application Server"}]},
        "entity": entities,
    });
    if let Some(reason) = glass {
        event["purposeOfEvent"] = json!([{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "BTG", "display": "break the glass"}], "text": reason}]);
        // Also a subtype: `purposeOfEvent` has no search parameter, and the privacy officer
        // finds break-the-glass accesses by searching for it.
        if let Some(a) = event["subtype"].as_array_mut() {
            a.push(json!({"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "BTG", "display": "break the glass"}));
        }
    }
    // The answer waits for its audit record to be durable (it rides the next group commit).
    let recorded = tokio::task::spawn_blocking(move || store.audit_durable(vec![event])).await;
    if !matches!(recorded, Ok(Ok(()))) {
        tracing::error!(%path, "an audit record could not be written; the response is withheld");
        return ApiError::Unavailable.into_response();
    }
    Response::from_parts(parts, body)
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
}
