//! SMART on FHIR backend services
//! (<https://hl7.org/fhir/smart-app-launch/backend-services.html>): an integration registers
//! its public keys and the system scopes it may have; it asks the token endpoint for an
//! access token with `grant_type=client_credentials` and a `client_assertion` JWT signed with
//! RS384 or ES384 (verified by `trusted-clients`: issuer and subject are the client id, the
//! audience is the token endpoint, at most five minutes' lifetime, no replayed `jti`). The
//! access token lives five minutes and carries the requested scopes the client may have.
//!
//! Clients are configured in a JSON file (`TEND_SMART_CLIENTS`):
//! `{"clients": [{"client_id": "lab-feed", "name": "Laboratory system", "scopes":
//! "system/Observation.write system/Patient.read", "jwks": {"keys": [...]}}]}` (or
//! `"jwks_file"`, relative to the configuration file).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use access::{Principal, Role, Scopes, Via};
use serde::{Deserialize, Serialize};
use trusted_clients::{Issuer, JwkSet, Trust};

/// Access tokens live this long (SMART: "should not exceed five minutes").
pub const TOKEN_SECONDS: i64 = 300;
/// The only client-assertion type.
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A registered backend-services client.
#[derive(Debug, Clone)]
pub struct Client {
    pub client_id: String,
    pub name: String,
    /// The most this client may be granted.
    pub scopes: Scopes,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientConfig {
    client_id: String,
    name: String,
    scopes: String,
    #[serde(default)]
    jwks: Option<JwkSet>,
    #[serde(default)]
    jwks_file: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    clients: Vec<ClientConfig>,
}

/// A token request as posted (form-encoded) to the token endpoint.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TokenRequest {
    #[serde(default)]
    pub grant_type: String,
    #[serde(default)]
    pub scope: String,
    #[serde(default)]
    pub client_assertion_type: String,
    #[serde(default)]
    pub client_assertion: String,
}

/// The token endpoint's answer (RFC 6749 §5.1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: i64,
    pub scope: String,
}

/// An OAuth error (RFC 6749 §5.2), with a description for the client's developer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {description}")]
pub struct SmartError {
    /// `invalid_request`, `invalid_client`, `invalid_scope`, `unsupported_grant_type`.
    pub code: &'static str,
    pub description: String,
}

fn err(code: &'static str, description: impl Into<String>) -> SmartError {
    SmartError {
        code,
        description: description.into(),
    }
}

/// The registered clients and the access tokens issued to them.
pub struct Smart {
    trust: Option<Trust>,
    clients: HashMap<String, Client>,
    /// Access tokens by digest: the client's principal and expiry (seconds).
    tokens: Mutex<HashMap<String, (Principal, i64)>>,
}

impl Smart {
    /// No clients: every token request is refused.
    pub fn none() -> Smart {
        Smart {
            trust: None,
            clients: HashMap::new(),
            tokens: Mutex::new(HashMap::new()),
        }
    }

    /// Clients from a configuration's text; `jwks_file` paths are relative to `base_dir`.
    pub fn from_json(text: &str, base_dir: &Path) -> Result<Smart, String> {
        let config: Config =
            serde_json::from_str(text).map_err(|e| format!("SMART clients: {e}"))?;
        let mut issuers = Vec::new();
        let mut clients = HashMap::new();
        for c in config.clients {
            let jwks = match (c.jwks, c.jwks_file) {
                (Some(j), None) => j,
                (None, Some(f)) => {
                    let path = base_dir.join(&f);
                    let text = std::fs::read_to_string(&path).map_err(|e| {
                        format!("SMART client {}: {}: {e}", c.client_id, path.display())
                    })?;
                    serde_json::from_str(&text).map_err(|e| {
                        format!("SMART client {}: {}: {e}", c.client_id, path.display())
                    })?
                }
                _ => {
                    return Err(format!(
                        "SMART client {}: give exactly one of jwks and jwks_file",
                        c.client_id
                    ))
                }
            };
            let scopes = Scopes::parse(&c.scopes)
                .map_err(|e| format!("SMART client {}: {e}", c.client_id))?;
            if scopes.is_empty() || !scopes.all_in("system") {
                return Err(format!(
                    "SMART client {}: scopes must be system scopes like system/Observation.read",
                    c.client_id
                ));
            }
            issuers.push(Issuer {
                iss: c.client_id.clone(),
                jwks,
                tenant: None,
            });
            clients.insert(
                c.client_id.clone(),
                Client {
                    client_id: c.client_id,
                    name: c.name,
                    scopes,
                },
            );
        }
        let trust = Trust::new(issuers).map_err(|e| format!("SMART clients: {e}"))?;
        Ok(Smart {
            trust: Some(trust),
            clients,
            tokens: Mutex::new(HashMap::new()),
        })
    }

    /// Clients from a configuration file.
    pub fn load(path: &Path) -> Result<Smart, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Smart::from_json(&text, path.parent().unwrap_or(Path::new(".")))
    }

    pub fn clients(&self) -> impl Iterator<Item = &Client> {
        self.clients.values()
    }

    /// Answer a token request made to `token_url` at `now` (seconds).
    pub fn token(
        &self,
        req: &TokenRequest,
        token_url: &str,
        now: i64,
    ) -> Result<TokenResponse, SmartError> {
        if req.grant_type != "client_credentials" {
            return Err(err(
                "unsupported_grant_type",
                "grant_type must be client_credentials",
            ));
        }
        if req.client_assertion_type != ASSERTION_TYPE {
            return Err(err(
                "invalid_request",
                format!("client_assertion_type must be {ASSERTION_TYPE}"),
            ));
        }
        if req.client_assertion.is_empty() {
            return Err(err("invalid_request", "client_assertion is missing"));
        }
        let trust = self.trust.as_ref().ok_or_else(|| {
            err(
                "invalid_client",
                "no backend-services clients are registered",
            )
        })?;
        let claims = trust
            .verify(&req.client_assertion, token_url, now)
            .map_err(|e| err("invalid_client", e.to_string()))?;
        if claims.sub != claims.iss {
            return Err(err(
                "invalid_client",
                "the assertion's sub must be the client_id, as its iss is",
            ));
        }
        let client = self
            .clients
            .get(&claims.iss)
            .ok_or_else(|| err("invalid_client", "unknown client"))?;
        let requested =
            Scopes::parse(&req.scope).map_err(|e| err("invalid_scope", e.to_string()))?;
        if requested.is_empty() {
            return Err(err(
                "invalid_scope",
                "ask for system scopes, like system/Observation.read",
            ));
        }
        let granted = Scopes::grant(&requested, &client.scopes);
        if granted.is_empty() {
            return Err(err(
                "invalid_scope",
                format!(
                    "none of the requested scopes is allowed for this client (allowed: {})",
                    client.scopes
                ),
            ));
        }
        let access_token = crate::random_token("smart_");
        let principal = Principal {
            id: client.client_id.clone(),
            name: client.name.clone(),
            role: Role::IntegrationService,
            practitioner: None,
            wards: vec![],
            organization: None,
            scopes: Some(granted.clone()),
            via: Via::Smart,
        };
        if let Ok(mut m) = self.tokens.lock() {
            m.retain(|_, (_, exp)| *exp > now);
            m.insert(
                crate::digest(&access_token),
                (principal, now + TOKEN_SECONDS),
            );
        }
        Ok(TokenResponse {
            access_token,
            token_type: "bearer".into(),
            expires_in: TOKEN_SECONDS,
            scope: granted.to_string(),
        })
    }

    /// The service an access token was issued to, while it is valid at `now` (seconds).
    pub fn principal(&self, token: &str, now: i64) -> Option<Principal> {
        if !token.starts_with("smart_") {
            return None;
        }
        let m = self.tokens.lock().ok()?;
        let (p, exp) = m.get(&crate::digest(token))?;
        (*exp > now).then(|| p.clone())
    }
}
