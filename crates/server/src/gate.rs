//! Who is asking, and may they? Every request passes the gate before any handler.
//!
//! 1. **Who**: `Authorization: Bearer` with a SMART backend-services access token or a
//!    person's API token, or the web session cookie. A bearer token that is not valid
//!    (expired, revoked, forged) is refused with 401 at once.
//! 2. **May they**, per interface:
//!    - `/fhir`: the role's permissions narrowed by the token's scopes decide the resource
//!      types and read/write ([`access::Principal::may_fhir`]); a transaction is checked
//!      entry by entry. People reach patient data only for patients they have a care
//!      relationship with (ward, care team, outreach list) or by breaking the glass
//!      (`X-Break-Glass: <reason>`); a search returns the entries they may see and says how
//!      many were withheld, a read of anything else is 403. Sensitive records
//!      ([`access::sensitive`]) need `SensitiveRead`, glass or no glass.
//!    - `/api`: the ward board and alerts need `Board` (and the ward must be one's own,
//!      except for the hospital-wide rapid-response team); alert actions need
//!      `AlertRespond` and, from a browser session, the session's CSRF token in
//!      `X-CSRF-Token`; the HL7 message log and `/metrics` need `Interfaces`.
//!    - web pages get the caller as an [`Auth`] request extension and decide themselves.
//! 3. The caller, any break-the-glass reason and what was withheld go into the response's
//!    extensions for the audit record.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use access::{BreakGlass, Permission, Principal, Relationship, Role};
use accounts::smart::Smart;
use accounts::Accounts;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::{ApiError, AppState};

/// The break-the-glass header of the FHIR API: the reason, in words.
pub const BREAK_GLASS_HEADER: &str = "x-break-glass";
/// The CSRF header for `/api` writes from a browser session.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// The web session cookie.
pub const SESSION_COOKIE: &str = "tend_session";
/// How long a care-relationship answer is reused.
const RELATIONSHIP_TTL: Duration = Duration::from_secs(60);
/// How long a web break-the-glass grant lasts.
const GLASS_TTL: Duration = Duration::from_secs(8 * 3600);

/// Accounts, services and care relationships.
pub struct Gate {
    pub accounts: Arc<Accounts>,
    pub smart: Arc<Smart>,
    /// The hospital's single sign-on, when configured.
    pub oidc: Option<Arc<accounts::oidc::Provider>>,
    relationships: Mutex<HashMap<(String, String), (Option<Relationship>, Instant)>>,
    /// Break-the-glass grants made in the web app: (user, patient) → reason.
    glass: Mutex<HashMap<(String, String), (String, Instant)>>,
}

/// The caller of a request, as the gate found it.
#[derive(Debug, Clone, Default)]
pub struct Auth {
    pub principal: Option<Principal>,
    /// The web session's CSRF token (sessions only).
    pub csrf: Option<String>,
    /// The break-the-glass reason this request relied on.
    pub break_glass: Option<String>,
    /// Entries withheld from a response (outside care relationships or sensitive).
    pub withheld: usize,
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
            relationships: Mutex::new(HashMap::new()),
            glass: Mutex::new(HashMap::new()),
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
        if let Ok(mut m) = self.glass.lock() {
            m.retain(|_, (_, at)| at.elapsed() < GLASS_TTL);
            m.insert(
                (p.id.clone(), patient.to_string()),
                (reason.reason().to_string(), Instant::now()),
            );
        }
        if let Ok(mut m) = self.relationships.lock() {
            m.remove(&(p.id.clone(), patient.to_string()));
        }
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
        let id = patient.trim_start_matches("Patient/").to_string();
        if let Some((reason, at)) = self
            .glass
            .lock()
            .ok()
            .and_then(|m| m.get(&(p.id.clone(), id.clone())).cloned())
        {
            if at.elapsed() < GLASS_TTL {
                return Some(Relationship::BrokeGlass { reason });
            }
        }
        let key = (p.id.clone(), id.clone());
        if let Some((r, at)) = self
            .relationships
            .lock()
            .ok()
            .and_then(|m| m.get(&key).cloned())
        {
            if at.elapsed() < RELATIONSHIP_TTL {
                return r;
            }
        }
        let r = find_relationship(state, p, &id);
        if let Ok(mut m) = self.relationships.lock() {
            if m.len() > 100_000 {
                m.clear();
            }
            m.insert(key, (r.clone(), Instant::now()));
        }
        r
    }
}

fn search(state: &AppState, rtype: &str, params: &[(&str, String)]) -> Vec<Value> {
    let params: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    let Ok(q) = search::SearchQuery::parse(state.registry, rtype, &params) else {
        return Vec::new();
    };
    state
        .store
        .search(&q)
        .map(|page| {
            page.matches
                .into_iter()
                .filter_map(|h| serde_json::from_str(&h.body).ok())
                .collect()
        })
        .unwrap_or_default()
}

fn find_relationship(state: &AppState, p: &Principal, id: &str) -> Option<Relationship> {
    let subject = format!("Patient/{id}");
    let encounters = search(
        state,
        "Encounter",
        &[
            ("subject", subject.clone()),
            ("status", "in-progress".into()),
        ],
    );
    for enc in &encounters {
        for loc in enc["location"].as_array().into_iter().flatten() {
            let Some(r) = loc["location"]["reference"].as_str() else {
                continue;
            };
            if loc["status"].as_str().is_none_or(|s| s == "active")
                && p.wards.iter().any(|w| w == r)
            {
                return Some(Relationship::Ward {
                    ward: r.to_string(),
                });
            }
        }
        if p.role == Role::RapidResponse && enc["class"]["code"].as_str() == Some("IMP") {
            return Some(Relationship::Hospital);
        }
    }
    if let Some(practitioner) = &p.practitioner {
        let teams = search(
            state,
            "CareTeam",
            &[
                ("subject", subject.clone()),
                ("status", "active".into()),
                ("participant", practitioner.clone()),
            ],
        );
        if let Some(t) = teams.first() {
            return Some(Relationship::CareTeam {
                team: format!("CareTeam/{}", t["id"].as_str().unwrap_or_default()),
            });
        }
    }
    if p.may(Permission::Outreach) {
        if let Some(gaps) = &state.care_gaps {
            if gaps
                .patient(id)
                .is_ok_and(|g| g.gaps.iter().any(|v| v.status == "due"))
            {
                return Some(Relationship::Outreach);
            }
        }
    }
    None
}

/// Every patient a JSON value is or names: Patient resources by id, and every reference to
/// `Patient/ID` anywhere in it.
pub(crate) fn patients_in(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if m.get("resourceType").and_then(Value::as_str) == Some("Patient") {
                if let Some(id) = m.get("id").and_then(Value::as_str) {
                    out.push(format!("Patient/{id}"));
                }
            }
            for (k, x) in m {
                if k == "fullUrl" || k == "url" || k == "link" {
                    continue;
                }
                patients_in(x, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| patients_in(x, out)),
        Value::String(s) => {
            if let Some((_, id)) = s.rsplit_once("Patient/") {
                let ok = (s.starts_with("Patient/") || s.contains("/Patient/"))
                    && !id.is_empty()
                    && id.len() <= 64
                    && id
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
                if ok {
                    out.push(format!("Patient/{id}"));
                }
            }
        }
        _ => {}
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

/// The resource type and whether it writes, for a FHIR request path and method.
fn fhir_target(method: &Method, path: &str) -> (String, bool) {
    let parts: Vec<&str> = path
        .trim_start_matches("/fhir")
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let rtype = parts.first().map_or("*", |t| t).to_string();
    let read = *method == Method::GET
        || *method == Method::HEAD
        || (*method == Method::POST && parts.get(1) == Some(&"_search"));
    (rtype, !read)
}

async fn fhir_guard(
    state: AppState,
    gate: Arc<Gate>,
    p: Principal,
    mut auth: Auth,
    req: Request,
    next: Next,
) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let (rtype, write) = fhir_target(&method, &path);
    let deny = |auth: &Auth, e: ApiError| with_auth(e.into_response(), auth.clone());
    let verb = |w: bool| if w { "write" } else { "read" };
    // Writes carry bodies the gate reads: what they touch, and (transactions) each entry.
    let (parts, body) = req.into_parts();
    let bytes = if write {
        match axum::body::to_bytes(body, crate::MAX_BODY).await {
            Ok(b) => b,
            Err(_) => {
                return deny(
                    &auth,
                    ApiError::BadRequest("the request body is too large or unreadable".into()),
                )
            }
        }
    } else {
        axum::body::Bytes::new()
    };
    let mut touched: Vec<String> = Vec::new();
    if rtype == "*" && method == Method::POST {
        let bundle: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        for e in bundle["entry"].as_array().into_iter().flatten() {
            let m = e["request"]["method"].as_str().unwrap_or("GET");
            let t = e["resource"]["resourceType"]
                .as_str()
                .map(str::to_string)
                .or_else(|| {
                    e["request"]["url"]
                        .as_str()
                        .and_then(|u| u.split(['/', '?']).next())
                        .map(str::to_string)
                })
                .unwrap_or_default();
            let w = m != "GET" && m != "HEAD";
            if !p.may_fhir(&t, w) {
                return deny(
                    &auth,
                    ApiError::Forbidden(format!(
                        "the {} role{} may not {} {t} (a Bundle entry)",
                        p.role.title(),
                        if p.scopes.is_some() {
                            " with this token's scopes"
                        } else {
                            ""
                        },
                        verb(w)
                    )),
                );
            }
        }
        patients_in(&bundle, &mut touched);
    } else if !p.may_fhir(&rtype, write) {
        return deny(
            &auth,
            ApiError::Forbidden(format!(
                "the {} role{} may not {} {rtype}",
                p.role.title(),
                if p.scopes.is_some() {
                    " with this token's scopes"
                } else {
                    ""
                },
                verb(write)
            )),
        );
    } else if write {
        if let Ok(v) = serde_json::from_slice::<Value>(&bytes) {
            patients_in(&v, &mut touched);
        }
        // Changing or deleting an existing record touches its patients too.
        let segs: Vec<&str> = path.trim_start_matches("/fhir/").split('/').collect();
        let mut exists = false;
        if let [t, id] = segs.as_slice() {
            if method != Method::POST {
                let (t, id, store) = (t.to_string(), id.to_string(), state.store.clone());
                if let Ok(Ok(Some(v))) =
                    tokio::task::spawn_blocking(move || store.read(&t, &id)).await
                {
                    if let Some(b) = v.body.and_then(|b| serde_json::from_str(&b).ok()) {
                        exists = true;
                        patients_in(&b, &mut touched);
                    }
                }
            }
        }
        // Registering a new patient creates a record no one has a relationship with yet.
        if rtype == "Patient" && !exists && method != Method::DELETE && method != Method::PATCH {
            touched.clear();
        }
    }
    if p.needs_relationship() && !touched.is_empty() {
        touched.sort();
        touched.dedup();
        let (g, s, pp, t) = (gate.clone(), state.clone(), p.clone(), touched.clone());
        let unrelated = tokio::task::spawn_blocking(move || {
            t.into_iter()
                .filter(|pat| g.relationship(&s, &pp, pat).is_none())
                .collect::<Vec<_>>()
        })
        .await
        .unwrap_or_default();
        if !unrelated.is_empty() {
            if auth.break_glass.is_none() || !p.may(Permission::BreakGlass) {
                return deny(&auth, outside(&unrelated[0], &p));
            }
        }
    }
    let mut req = Request::from_parts(parts, Body::from(bytes));
    req.extensions_mut().insert(auth.clone());
    let resp = next.run(req).await;
    if !p.needs_relationship() && p.may(Permission::SensitiveRead) {
        return with_auth(resp, auth);
    }
    // Filter what the response shows.
    let (rparts, body) = resp.into_parts();
    let is_json = rparts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.contains("json"));
    let bytes = match axum::body::to_bytes(body, 256 * 1024 * 1024).await {
        Ok(b) => b,
        Err(_) => return ApiError::Internal("response unreadable".into()).into_response(),
    };
    let parsed = if is_json && rparts.status.is_success() {
        serde_json::from_slice::<Value>(&bytes).ok()
    } else {
        None
    };
    let Some(mut v) = parsed else {
        return with_auth(Response::from_parts(rparts, Body::from(bytes)), auth);
    };
    let (g, s, pp, glass) = (
        gate.clone(),
        state.clone(),
        p.clone(),
        auth.break_glass.clone(),
    );
    let verdict = tokio::task::spawn_blocking(move || {
        let allowed = |r: &Value| -> Result<(), ApiError> {
            if access::sensitive(r) && !pp.may(Permission::SensitiveRead) {
                return Err(ApiError::Forbidden(
                    "this record is restricted (sensitive): your role does not include it"
                        .into(),
                ));
            }
            if !pp.needs_relationship() {
                return Ok(());
            }
            let mut pats = Vec::new();
            patients_in(r, &mut pats);
            pats.sort();
            pats.dedup();
            for pat in pats {
                if g.relationship(&s, &pp, &pat).is_none()
                    && (glass.is_none() || !pp.may(Permission::BreakGlass))
                {
                    return Err(outside(&pat, &pp));
                }
            }
            Ok(())
        };
        if v["resourceType"] == "Bundle" {
            let mut withheld = 0;
            if let Some(entries) = v["entry"].as_array_mut() {
                entries.retain(|e| {
                    let ok = e["resource"].is_null() || allowed(&e["resource"]).is_ok();
                    if !ok {
                        withheld += 1;
                    }
                    ok
                });
                if withheld > 0 {
                    entries.push(json!({"resource": fhir::outcome::operation_outcome(&[fhir::outcome::OutcomeIssue {
                        severity: fhir::outcome::IssueSeverity::Information,
                        code: "suppressed",
                        diagnostics: format!("{withheld} entries were withheld: they are about patients outside your care relationships or are restricted records"),
                        expression: None,
                    }]), "search": {"mode": "outcome"}}));
                }
            }
            Ok((v, withheld))
        } else {
            allowed(&v).map(|_| (v, 0))
        }
    })
    .await;
    match verdict {
        Ok(Ok((v, withheld))) => {
            auth.withheld = withheld;
            let mut rparts = rparts;
            rparts.headers.remove(header::CONTENT_LENGTH);
            let body = if withheld > 0 {
                serde_json::to_vec(&v).unwrap_or_default()
            } else {
                bytes.to_vec()
            };
            with_auth(Response::from_parts(rparts, Body::from(body)), auth)
        }
        Ok(Err(e)) => deny(&auth, e),
        Err(_) => deny(&auth, ApiError::Unavailable),
    }
}

fn outside(patient: &str, p: &Principal) -> ApiError {
    if p.may(Permission::BreakGlass) {
        ApiError::Forbidden(format!(
            "{patient} is not in your care (ward, care team or outreach list); to proceed in an emergency, repeat the request with an {BREAK_GLASS_HEADER} header giving the reason (it is recorded and reviewed)"
        ))
    } else {
        ApiError::Forbidden(format!(
            "the {} role does not reach patient records ({patient})",
            p.role.title()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patients_are_found_anywhere() {
        let v = json!({"resourceType": "Bundle", "entry": [
            {"fullUrl": "http://x/fhir/Patient/zz", "resource": {"resourceType": "Patient", "id": "a"}},
            {"resource": {"resourceType": "Observation", "subject": {"reference": "Patient/b"}}},
            {"resource": {"resourceType": "Task", "for": {"reference": "https://x/fhir/Patient/c"}}},
            {"resource": {"resourceType": "Flag", "subject": {"reference": "Group/g"}, "note": "Patient/ has no id"}}]});
        let mut out = Vec::new();
        patients_in(&v, &mut out);
        out.sort();
        assert_eq!(out, ["Patient/a", "Patient/b", "Patient/c"]);
    }

    #[test]
    fn fhir_targets() {
        assert_eq!(
            fhir_target(&Method::GET, "/fhir/Patient/1"),
            ("Patient".into(), false)
        );
        assert_eq!(
            fhir_target(&Method::POST, "/fhir/Observation/_search"),
            ("Observation".into(), false)
        );
        assert_eq!(
            fhir_target(&Method::POST, "/fhir/Observation"),
            ("Observation".into(), true)
        );
        assert_eq!(
            fhir_target(&Method::GET, "/fhir/_history"),
            ("_history".into(), false)
        );
        assert_eq!(fhir_target(&Method::POST, "/fhir"), ("*".into(), true));
    }
}
