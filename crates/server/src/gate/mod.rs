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

use access::{Access, BreakGlass, Principal, Reach, Relationship};
use accounts::smart::Smart;
use accounts::Accounts;
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

    /// Accounts kept in `store`, on the system clock, and no SMART backend-services clients.
    pub fn for_store(store: Arc<dyn store::Store>) -> Gate {
        let accounts = Accounts::new(store, Arc::new(store::SystemClock));
        Gate::new(Arc::new(accounts), Arc::new(Smart::none()))
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
            "id": store::audit::event_id(),
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

    /// [`Gate::access`] with the care relationships found again now, not from the cache (a
    /// live stream meeting a patient it did not reach). Blocking.
    pub fn access_now(&self, state: &AppState, p: &Principal) -> Result<Access, ApiError> {
        let reach = if Access::reaches_everyone(p, None) {
            Reach::All
        } else {
            self.relationships.reach_as(state, p, true)?
        };
        Ok(Access::caller(p.clone(), reach, None))
    }
}

mod api;
mod fhir;
mod guard;

/// Whether a request from a browser session carries the session's CSRF token (requests
/// with a bearer token have no session and need none).
pub(super) fn csrf_ok(req: &axum::extract::Request, auth: &Auth) -> bool {
    let Some(csrf) = &auth.csrf else {
        return true;
    };
    req.headers()
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|sent| sent == csrf)
}

pub use guard::{cookie_value, guarded};
