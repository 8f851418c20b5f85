//! Who is asking, and may they? Every request passes the gate before any handler.
//!
//! 1. **Who**: `Authorization: Bearer` with a SMART backend-services access token or a
//!    person's API token, or the web session cookie. A bearer token that is not valid
//!    (expired, revoked, forged) is refused with 401 at once.
//! 2. **May they**, per interface:
//!    - `/fhir`: the gate decides nothing about data. It builds the caller's
//!      [`access::Access`] (the principal; the patients they reach now through care
//!      relationships, [`crate::reach`]; a break-the-glass reason from `X-Break-Glass`) and
//!      puts it in the request for the handlers, which hand it to the store; the store
//!      decides every read, search and write where the data is. Writes from a browser
//!      session must carry the session's CSRF token, and no FHIR write takes a form body.
//!    - `/api`: the ward board and alerts need `Board` (and the ward must be one's own,
//!      except for the hospital-wide rapid-response team); alert actions need
//!      `AlertRespond` and, from a browser session, the session's CSRF token in
//!      `X-CSRF-Token`; the HL7 message log and `/metrics` need `Interfaces`.
//!    - web pages get the caller as an [`Auth`] request extension and decide themselves.
//! 3. The caller and any break-the-glass reason go into the response's extensions for the
//!    audit record.

use std::sync::Arc;

use access::{Access, BreakGlass, Permission, Principal, Reach, Relationship, Role};
use accounts::smart::Smart;
use accounts::Accounts;
use axum::extract::Request;
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::reach::Relationships;
use crate::{ApiError, AppState};

/// The break-the-glass header of the FHIR API: the reason, in words.
pub const BREAK_GLASS_HEADER: &str = "x-break-glass";
/// The CSRF header for `/api` writes from a browser session.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// The web session cookie.
pub const SESSION_COOKIE: &str = "tend_session";

/// Accounts, services and care relationships.
pub struct Gate {
    pub accounts: Arc<Accounts>,
    pub smart: Arc<Smart>,
    /// The hospital's single sign-on, when configured.
    pub oidc: Option<Arc<accounts::oidc::Provider>>,
    relationships: Relationships,
}

/// The caller of a request, as the gate found it.
#[derive(Debug, Clone, Default)]
pub struct Auth {
    pub principal: Option<Principal>,
    /// The web session's CSRF token (sessions only).
    pub csrf: Option<String>,
    /// The break-the-glass reason this request relied on.
    pub break_glass: Option<String>,
}

pub use access::Seen;

fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

impl Gate {
    pub fn new(accounts: Arc<Accounts>, smart: Arc<Smart>) -> Gate {
        Gate {
            accounts,
            smart,
            oidc: None,
            relationships: Relationships::default(),
        }
    }

    /// With single sign-on through an OpenID Connect provider.
    pub fn with_oidc(mut self, provider: Arc<accounts::oidc::Provider>) -> Gate {
        self.oidc = Some(provider);
        self
    }

    /// The caller a bearer token names: `Ok(None)` when it names nobody valid.
    pub fn bearer(&self, token: &str) -> Result<Option<Principal>, ApiError> {
        if let Some(p) = self.smart.principal(token, now_secs()) {
            return Ok(Some(p));
        }
        self.accounts
            .api_token(token)
            .map_err(|e| ApiError::Internal(e.to_string()))
    }

    /// Record a web break-the-glass: the person may see the patient for the next hours, and
    /// the privacy officer sees the reason. Returns the AuditEvent to record.
    pub fn break_glass(&self, p: &Principal, patient: &str, reason: &BreakGlass) -> Value {
        self.relationships.grant(&p.id, patient, reason.reason());
        json!({
            "resourceType": "AuditEvent",
            "id": uuid::Uuid::new_v4().to_string(),
            "type": {"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "110113", "display": "Security Alert"},
            "subtype": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "BTG", "display": "break the glass"}],
            "action": "E",
            "recorded": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "outcome": "0",
            "outcomeDesc": "break the glass",
            "purposeOfEvent": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "BTG", "display": "break the glass"}], "text": reason.reason()}],
            "agent": [accounts::agent(Some(p), None, Some(reason.reason()))],
            "source": {"observer": {"display": "Tend"}},
            "entity": [{"what": {"reference": format!("Patient/{patient}")},
                "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "1", "display": "Person"},
                "role": {"system": "http://terminology.hl7.org/CodeSystem/object-role", "code": "1", "display": "Patient"}}],
        })
    }

    /// Why `p` may reach the patient (`Patient/ID` or `ID`), or `None`. Blocking.
    pub fn relationship(
        &self,
        state: &AppState,
        p: &Principal,
        patient: &str,
    ) -> Option<Relationship> {
        self.relationships
            .relationship(state, p, patient)
            .ok()
            .flatten()
    }

    /// The access `p` acts with now: the patients they reach, and the glass when broken.
    /// Blocking.
    pub fn access(
        &self,
        state: &AppState,
        p: &Principal,
        break_glass: Option<String>,
    ) -> Result<Access, ApiError> {
        let reach = if Access::reaches_everyone(p, break_glass.as_deref()) {
            Reach::All
        } else {
            self.relationships.reach(state, p)?
        };
        Ok(Access::caller(p.clone(), reach, break_glass))
    }
}

/// A cookie's value from a request's headers.
pub fn cookie_value(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

fn is_public(path: &str) -> bool {
    matches!(
        path,
        "/" | "/sign-in" | "/sign-out" | "/fhir/metadata" | "/auth/token"
    ) || path.starts_with("/assets/")
        || path.starts_with("/fhir/.well-known/")
        || path == "/cds-services"
        || path.starts_with("/cds-services/")
}

/// The gate as a layer over the whole application (no-op when `state.gate` is unset).
pub fn guarded(app: axum::Router, state: AppState) -> axum::Router {
    app.layer(axum::middleware::from_fn(
        move |req: Request, next: Next| {
            let state = state.clone();
            async move { guard(state, req, next).await }
        },
    ))
}

fn with_auth(mut resp: Response, auth: Auth) -> Response {
    resp.extensions_mut().insert(auth);
    resp
}

async fn guard(state: AppState, mut req: Request, next: Next) -> Response {
    let Some(gate) = state.gate.clone() else {
        return next.run(req).await;
    };
    let path = req.uri().path().to_string();
    let mut auth = Auth::default();
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(|t| t.trim().to_string());
    if let Some(token) = bearer {
        // CDS Hooks clients send their own signed JWTs, checked by the CDS service.
        if !path.starts_with("/cds-services") {
            let g = gate.clone();
            match tokio::task::spawn_blocking(move || g.bearer(&token)).await {
                Ok(Ok(Some(p))) => auth.principal = Some(p),
                Ok(Ok(None)) => {
                    return with_auth(
                        ApiError::Unauthorized(
                            "the bearer token is not valid: it is unknown, expired or revoked"
                                .into(),
                        )
                        .into_response(),
                        auth,
                    )
                }
                Ok(Err(e)) => return e.into_response(),
                Err(_) => return ApiError::Unavailable.into_response(),
            }
        }
    } else if let Some(token) = cookie_value(req.headers(), SESSION_COOKIE) {
        let g = gate.clone();
        if let Ok(Ok(Some(s))) =
            tokio::task::spawn_blocking(move || g.accounts.session(&token)).await
        {
            auth.principal = Some(s.principal);
            auth.csrf = Some(s.csrf);
        }
    }
    if let Some(reason) = req
        .headers()
        .get(BREAK_GLASS_HEADER)
        .and_then(|v| v.to_str().ok())
    {
        match BreakGlass::new(reason) {
            Ok(b) => auth.break_glass = Some(b.reason().to_string()),
            Err(why) => {
                return with_auth(
                    ApiError::BadRequest(format!("{BREAK_GLASS_HEADER}: {why}")).into_response(),
                    auth,
                )
            }
        }
    }
    let api = path.starts_with("/api/") || path == "/metrics";
    let fhir = path.starts_with("/fhir/") || path == "/fhir";
    if is_public(&path) || (!api && !fhir) {
        req.extensions_mut().insert(auth.clone());
        let resp = next.run(req).await;
        return with_auth(resp, auth);
    }
    let Some(p) = auth.principal.clone() else {
        return with_auth(
            ApiError::Unauthorized(
                "sign in, or send Authorization: Bearer with an API token or a SMART access token"
                    .into(),
            )
            .into_response(),
            auth,
        );
    };
    if api {
        if let Err(e) = check_api(&req, &p, &auth) {
            return with_auth(e.into_response(), auth);
        }
        req.extensions_mut().insert(auth.clone());
        let resp = next.run(req).await;
        return with_auth(resp, auth);
    }
    fhir_guard(state, gate, p, auth, req, next).await
}

fn query_param(req: &Request, name: &str) -> Option<String> {
    form_urlencoded::parse(req.uri().query().unwrap_or_default().as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty())
}

fn check_api(req: &Request, p: &Principal, auth: &Auth) -> Result<(), ApiError> {
    let path = req.uri().path();
    let need = |perm: Permission| {
        if p.may(perm) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "the {} role does not include {perm:?}",
                p.role.title()
            )))
        }
    };
    if path == "/metrics" || path.starts_with("/api/hl7/") {
        return need(Permission::Interfaces);
    }
    if req.method() != Method::GET {
        need(Permission::AlertRespond)?;
        if let Some(csrf) = &auth.csrf {
            let sent = req
                .headers()
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            if sent != csrf {
                return Err(ApiError::Forbidden(format!(
                    "a request from a browser session must carry the session's {CSRF_HEADER}"
                )));
            }
        }
        return Ok(());
    }
    need(Permission::Board)?;
    let ward = path
        .strip_prefix("/api/wards/")
        .and_then(|rest| rest.strip_suffix("/patients"))
        .map(str::to_string)
        .or_else(|| query_param(req, "ward"));
    if let Some(w) = ward {
        let w = if w.contains('/') {
            w
        } else {
            format!("Location/{w}")
        };
        if p.role != Role::RapidResponse && !p.wards.contains(&w) {
            return Err(ApiError::Forbidden(format!("{w} is not one of your wards")));
        }
    }
    Ok(())
}

/// Whether a FHIR request writes (anything but GET, HEAD and POST `_search`).
fn writes(method: &Method, path: &str) -> bool {
    !(*method == Method::GET
        || *method == Method::HEAD
        || (*method == Method::POST && path.ends_with("/_search")))
}

async fn fhir_guard(
    state: AppState,
    gate: Arc<Gate>,
    p: Principal,
    auth: Auth,
    mut req: Request,
    next: Next,
) -> Response {
    let deny = |auth: &Auth, e: ApiError| with_auth(e.into_response(), auth.clone());
    if writes(req.method(), req.uri().path()) {
        // A browser sends forms and plain text across sites without asking; FHIR writes
        // are JSON, and from a browser session they carry the session's CSRF token.
        let ct = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        if [
            "application/x-www-form-urlencoded",
            "multipart/form-data",
            "text/plain",
        ]
        .iter()
        .any(|f| ct.starts_with(f))
        {
            return deny(
                &auth,
                ApiError::UnsupportedMediaType(format!(
                    "FHIR writes take application/fhir+json (or JSON Patch), not '{ct}'"
                )),
            );
        }
        if let Some(csrf) = &auth.csrf {
            let sent = req
                .headers()
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            if sent != csrf {
                return deny(
                    &auth,
                    ApiError::Forbidden(format!(
                        "a write from a browser session must carry the session's {CSRF_HEADER}"
                    )),
                );
            }
        }
    }
    let (g, s, pp, glass) = (
        gate.clone(),
        state.clone(),
        p.clone(),
        auth.break_glass.clone(),
    );
    let access = match tokio::task::spawn_blocking(move || g.access(&s, &pp, glass)).await {
        Ok(Ok(a)) => a,
        Ok(Err(e)) => return deny(&auth, e),
        Err(_) => return deny(&auth, ApiError::Unavailable),
    };
    // The glass opens records only for roles that may break it (`Access::caller`); the
    // reason stays on the audit record either way, so refused attempts are reviewed too.
    req.extensions_mut().insert(Arc::new(access));
    req.extensions_mut().insert(auth.clone());
    let resp = next.run(req).await;
    with_auth(resp, auth)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_writes() {
        assert!(!writes(&Method::GET, "/fhir/Patient/1"));
        assert!(!writes(&Method::POST, "/fhir/Observation/_search"));
        assert!(writes(&Method::POST, "/fhir/Observation"));
        assert!(writes(&Method::POST, "/fhir"));
        assert!(writes(&Method::PATCH, "/fhir/Observation/1"));
        assert!(writes(&Method::DELETE, "/fhir/Observation?_id=1"));
    }
}
