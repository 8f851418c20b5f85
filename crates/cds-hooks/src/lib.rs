//! CDS Hooks 2.0 (<https://cds-hooks.org/specification/current/>) at `/cds-services`, outside
//! the FHIR base.
//!
//! - `GET /cds-services`: discovery — one `patient-view` service, [`SERVICE_ID`], with its
//!   prefetch templates.
//! - `POST /cds-services/tend-patient-view`: cards for the patient's open care gaps (USPSTF
//!   rules, [`prevention`]) and, when the patient is an inpatient (an in-progress Encounter of
//!   class IMP), the latest NEWS2 score with its band and any open early-warning alert.
//!
//! Data comes from the request's `prefetch` where given; what is missing is read from the
//! request's `fhirServer` (with `fhirAuthorization` as a bearer token) when given, otherwise
//! from Tend's own store, where `context.patientId` is a Tend Patient id. Clients authenticate
//! with the signed JWT the specification requires (`Authorization: Bearer`, audience the
//! service URL), verified against the configured trusted issuers ([`trusted_clients`]);
//! `tend demo` runs without. Malformed requests get 400 with the reason.

mod cards;
mod data;

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use care_gaps::CareGaps;
use serde_json::{json, Value};
use store::Store;
use trusted_clients::Trust;

/// The one service's id.
pub const SERVICE_ID: &str = "tend-patient-view";

/// Prefetch templates of the service, by key.
pub const PREFETCH: &[(&str, &str)] = &[
    ("patient", "Patient/{{context.patientId}}"),
    ("conditions", "Condition?patient={{context.patientId}}"),
    ("observations", "Observation?patient={{context.patientId}}"),
    ("procedures", "Procedure?patient={{context.patientId}}"),
    ("reports", "DiagnosticReport?patient={{context.patientId}}"),
    (
        "encounters",
        "Encounter?patient={{context.patientId}}&status=in-progress",
    ),
    // R4 has no Flag status search parameter: inactive flags are filtered out here.
    ("alerts", "Flag?patient={{context.patientId}}"),
];

/// How the service is set up.
#[derive(Clone, Default)]
pub struct Config {
    /// Trusted CDS clients. `None`: no authentication (development only: `tend demo`).
    pub trust: Option<Arc<Trust>>,
    /// Public base URL of Tend (e.g. `https://tend.hospital.org`): the JWT audience is this
    /// plus the service path, and card links point into it. When `None`, taken from the
    /// request's Host header.
    pub public_url: Option<String>,
}

/// What the handlers share.
#[derive(Clone)]
pub struct Cds {
    pub gaps: Arc<CareGaps>,
    pub store: Arc<dyn Store>,
    pub config: Config,
    http: reqwest::Client,
}

impl Cds {
    pub fn new(gaps: Arc<CareGaps>, store: Arc<dyn Store>, config: Config) -> Cds {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        Cds {
            gaps,
            store,
            config,
            http,
        }
    }
}

/// The CDS Hooks routes.
pub fn router(cds: Cds) -> Router {
    Router::new()
        .route("/cds-services", get(discovery))
        .route("/cds-services/{id}", post(call))
        .with_state(cds)
}

/// Why a request failed: status and a reason the client developer can act on.
#[derive(Debug, thiserror::Error)]
pub enum CdsError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("no CDS service '{0}'")]
    UnknownService(String),
    #[error("could not read data for the cards: {0}")]
    Data(String),
}

impl IntoResponse for CdsError {
    fn into_response(self) -> Response {
        let status = match &self {
            CdsError::BadRequest(_) => StatusCode::BAD_REQUEST,
            CdsError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            CdsError::UnknownService(_) => StatusCode::NOT_FOUND,
            CdsError::Data(_) => StatusCode::BAD_GATEWAY,
        };
        let mut r = (status, Json(json!({"error": self.to_string()}))).into_response();
        if status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        r
    }
}

async fn discovery() -> Json<Value> {
    let prefetch: serde_json::Map<String, Value> = PREFETCH
        .iter()
        .map(|(k, v)| ((*k).to_string(), json!(v)))
        .collect();
    Json(json!({
        "services": [{
            "hook": "patient-view",
            "id": SERVICE_ID,
            "title": "Tend: preventive care gaps and early warning",
            "description": "Open USPSTF A/B screening gaps for the patient (due, with the evidence that expired), and for inpatients the latest NEWS2 score and any open deterioration alert.",
            "prefetch": prefetch,
            "usageRequirements": "Send Observation, Procedure, DiagnosticReport and Condition resources for the patient (prefetch or fhirServer access); inpatient cards need Encounter and NEWS2 Observations."
        }]
    }))
}

/// The base URL of this server as the client reached it.
fn base(cds: &Cds, headers: &HeaderMap) -> String {
    if let Some(u) = &cds.config.public_url {
        return u.trim_end_matches('/').to_string();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let proto = headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .filter(|p| *p == "https")
        .unwrap_or("http");
    format!("{proto}://{host}")
}

/// A validated hook request.
#[derive(Debug)]
pub(crate) struct Request {
    pub(crate) patient_id: String,
    pub(crate) fhir_server: Option<String>,
    pub(crate) access_token: Option<String>,
    pub(crate) prefetch: serde_json::Map<String, Value>,
}

fn parse(body: &[u8]) -> Result<Request, CdsError> {
    let bad = |m: &str| CdsError::BadRequest(m.to_string());
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| CdsError::BadRequest(format!("request body is not JSON: {e}")))?;
    let obj = v
        .as_object()
        .ok_or_else(|| bad("request body must be a JSON object"))?;
    match obj.get("hook").and_then(Value::as_str) {
        Some("patient-view") => {}
        Some(h) => {
            return Err(CdsError::BadRequest(format!(
                "hook '{h}' is not served here: this service handles patient-view"
            )))
        }
        None => return Err(bad("'hook' is required")),
    }
    if obj
        .get("hookInstance")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return Err(bad(
            "'hookInstance' is required (a UUID for this hook call)",
        ));
    }
    let context = obj
        .get("context")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("'context' is required and must be an object"))?;
    let patient_id = context
        .get("patientId")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| bad("'context.patientId' is required for patient-view"))?;
    if !patient_id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        || patient_id.len() > 64
    {
        return Err(bad("'context.patientId' is not a FHIR id"));
    }
    if context.get("userId").is_some_and(|u| !u.is_string()) {
        return Err(bad("'context.userId' must be a string"));
    }
    let fhir_server = match obj.get("fhirServer") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.starts_with("https://") || s.starts_with("http://") => {
            Some(s.trim_end_matches('/').to_string())
        }
        Some(_) => return Err(bad("'fhirServer' must be an http(s) URL")),
    };
    let access_token = match obj.get("fhirAuthorization") {
        None | Some(Value::Null) => None,
        Some(Value::Object(a)) => {
            if a.get("token_type")
                .and_then(Value::as_str)
                .is_some_and(|t| !t.eq_ignore_ascii_case("bearer"))
            {
                return Err(bad("'fhirAuthorization.token_type' must be Bearer"));
            }
            let t = a
                .get("access_token")
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
                .ok_or_else(|| bad("'fhirAuthorization.access_token' is required"))?;
            if fhir_server.is_none() {
                return Err(bad("'fhirAuthorization' given without 'fhirServer'"));
            }
            Some(t.to_string())
        }
        Some(_) => return Err(bad("'fhirAuthorization' must be an object")),
    };
    let prefetch = match obj.get("prefetch") {
        None | Some(Value::Null) => serde_json::Map::new(),
        Some(Value::Object(p)) => p.clone(),
        Some(_) => return Err(bad("'prefetch' must be an object")),
    };
    Ok(Request {
        patient_id: patient_id.to_string(),
        fhir_server,
        access_token,
        prefetch,
    })
}

async fn call(
    State(cds): State<Cds>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<axum::response::Response, CdsError> {
    if id != SERVICE_ID {
        return Err(CdsError::UnknownService(id));
    }
    let base = base(&cds, &headers);
    let mut caller = None;
    if let Some(trust) = &cds.config.trust {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| {
                h.strip_prefix("Bearer ")
                    .or_else(|| h.strip_prefix("bearer "))
            })
            .ok_or_else(|| {
                CdsError::Unauthorized(
                    "a signed JWT is required: Authorization: Bearer <token>".into(),
                )
            })?;
        let aud = format!("{base}/cds-services/{SERVICE_ID}");
        let now = chrono::Utc::now().timestamp();
        let claims = trust
            .verify(token, &aud, now)
            .map_err(|e| CdsError::Unauthorized(e.to_string()))?;
        tracing::info!(iss = %claims.iss, "CDS Hooks call from a trusted client");
        // Who called, for the audit record.
        caller = Some(access::Principal {
            id: claims.iss.clone(),
            name: format!("CDS client {}", claims.iss),
            role: access::Role::IntegrationService,
            practitioner: None,
            wards: vec![],
            organization: None,
            scopes: None,
            via: access::Via::CdsHooks,
        });
    }
    let req = parse(&body)?;
    let record = data::gather(&cds, &req).await?;
    let local = req.fhir_server.is_none() && record.from_store;
    let link_base = if local || tend_has_patient(&cds, &req.patient_id).await {
        Some(base)
    } else {
        None
    };
    let cards = cards::cards(&cds, &req.patient_id, &record, link_base.as_deref())?;
    let mut resp = axum::response::IntoResponse::into_response(Json(json!({"cards": cards})));
    if let Some(p) = caller {
        resp.extensions_mut().insert(p);
    }
    resp.extensions_mut()
        .insert(access::Seen(vec![format!("Patient/{}", req.patient_id)]));
    Ok(resp)
}

async fn tend_has_patient(cds: &Cds, id: &str) -> bool {
    let store = cds.store.clone();
    let id = id.to_string();
    tokio::task::spawn_blocking(move || {
        store
            .read(&store::Access::system(), "Patient", &id)
            .ok()
            .flatten()
            .is_some_and(|v| v.body.is_some())
    })
    .await
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_requests_are_named() {
        let cases = [
            (&b"not json"[..], "not JSON"),
            (br#"[1]"#, "JSON object"),
            (br#"{"hookInstance":"x","context":{"patientId":"p"}}"#, "'hook' is required"),
            (br#"{"hook":"order-sign","hookInstance":"x","context":{"patientId":"p"}}"#, "order-sign"),
            (br#"{"hook":"patient-view","context":{"patientId":"p"}}"#, "hookInstance"),
            (br#"{"hook":"patient-view","hookInstance":"x"}"#, "'context' is required"),
            (br#"{"hook":"patient-view","hookInstance":"x","context":{}}"#, "patientId"),
            (br#"{"hook":"patient-view","hookInstance":"x","context":{"patientId":"a/b"}}"#, "not a FHIR id"),
            (br#"{"hook":"patient-view","hookInstance":"x","context":{"patientId":"p"},"fhirServer":"ftp://x"}"#, "fhirServer"),
            (br#"{"hook":"patient-view","hookInstance":"x","context":{"patientId":"p"},"fhirAuthorization":{"access_token":"t","token_type":"Bearer"}}"#, "without 'fhirServer'"),
            (br#"{"hook":"patient-view","hookInstance":"x","context":{"patientId":"p"},"fhirServer":"https://f","fhirAuthorization":{"token_type":"Bearer"}}"#, "access_token"),
            (br#"{"hook":"patient-view","hookInstance":"x","context":{"patientId":"p"},"prefetch":[]}"#, "'prefetch' must be an object"),
        ];
        for (body, want) in cases {
            let e = parse(body).unwrap_err().to_string();
            assert!(e.contains(want), "{}: {e}", String::from_utf8_lossy(body));
        }
        let ok = parse(br#"{"hook":"patient-view","hookInstance":"x","context":{"patientId":"p-1","userId":"Practitioner/1"},"fhirServer":"https://ehr.example.org/fhir/","fhirAuthorization":{"access_token":"t","token_type":"Bearer","expires_in":300,"scope":"patient/*.read","subject":"cds"}}"#).unwrap();
        assert_eq!(ok.patient_id, "p-1");
        assert_eq!(
            ok.fhir_server.as_deref(),
            Some("https://ehr.example.org/fhir")
        );
        assert_eq!(ok.access_token.as_deref(), Some("t"));
    }
}
