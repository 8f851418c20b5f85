//! Single sign-on with the hospital's OpenID Connect provider (optional): the authorization
//! code flow with PKCE (<https://openid.net/specs/openid-connect-core-1_0.html> §3.1,
//! RFC 7636). The provider authenticates; Tend's own accounts decide the role: the ID
//! token's user-name claim (default `preferred_username`) must name an enabled account.
//!
//! The ID token is checked against the provider's published keys (RS256, RS384, ES256 or
//! ES384), its issuer, audience (the client id), expiry and the nonce of this sign-in; the
//! `state` is single-use and expires after ten minutes.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use sha2::Digest;

/// How long a started sign-in may take at the provider.
const PENDING: Duration = Duration::from_secs(600);

/// The provider's settings.
#[derive(Debug, Clone)]
pub struct OidcConfig {
    /// The issuer URL (discovery at `{issuer}/.well-known/openid-configuration`).
    pub issuer: String,
    pub client_id: String,
    /// Sent with client_secret_basic; never logged or printed.
    pub client_secret: String,
    /// Where the provider sends the browser back: `{public URL}/sign-in/sso/callback`.
    pub redirect_uri: String,
    /// The ID-token claim holding the Tend user name.
    pub username_claim: String,
    /// The provider's name on the sign-in page.
    pub label: String,
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
}

#[derive(Deserialize)]
struct TokenAnswer {
    id_token: Option<String>,
}

/// A provider, discovered.
pub struct Provider {
    pub config: OidcConfig,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks: JwkSet,
    http: reqwest::Client,
    /// Sign-ins under way: state → (nonce, PKCE verifier, started).
    pending: Mutex<HashMap<String, (String, String, Instant)>>,
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

impl Provider {
    /// Read the provider's discovery document and keys.
    pub async fn discover(config: OidcConfig) -> Result<Provider, String> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| format!("single sign-on: {e}"))?;
        let url = format!(
            "{}/.well-known/openid-configuration",
            config.issuer.trim_end_matches('/')
        );
        let d: Discovery = http
            .get(&url)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| format!("single sign-on: discovery at {url}: {e}"))?
            .json()
            .await
            .map_err(|e| format!("single sign-on: discovery at {url}: {e}"))?;
        if d.issuer.trim_end_matches('/') != config.issuer.trim_end_matches('/') {
            return Err(format!(
                "single sign-on: the provider says its issuer is {}, not {}",
                d.issuer, config.issuer
            ));
        }
        let jwks: JwkSet = http
            .get(&d.jwks_uri)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| format!("single sign-on: keys at {}: {e}", d.jwks_uri))?
            .json()
            .await
            .map_err(|e| format!("single sign-on: keys at {}: {e}", d.jwks_uri))?;
        Ok(Provider {
            config,
            authorization_endpoint: d.authorization_endpoint,
            token_endpoint: d.token_endpoint,
            jwks,
            http,
            pending: Mutex::new(HashMap::new()),
        })
    }

    /// Start a sign-in: the provider's authorization URL to send the browser to.
    pub fn begin(&self) -> String {
        let (state, nonce, verifier) = (
            crate::random_token(""),
            crate::random_token(""),
            crate::random_token(""),
        );
        let challenge = B64.encode(sha2::Sha256::digest(verifier.as_bytes()));
        if let Ok(mut m) = self.pending.lock() {
            m.retain(|_, (_, _, at)| at.elapsed() < PENDING);
            m.insert(state.clone(), (nonce.clone(), verifier, Instant::now()));
        }
        let sep = if self.authorization_endpoint.contains('?') {
            '&'
        } else {
            '?'
        };
        format!(
            "{}{sep}response_type=code&scope=openid%20profile&client_id={}&redirect_uri={}&state={}&nonce={}&code_challenge={}&code_challenge_method=S256",
            self.authorization_endpoint,
            enc(&self.config.client_id),
            enc(&self.config.redirect_uri),
            enc(&state),
            enc(&nonce),
            enc(&challenge)
        )
    }

    /// Finish a sign-in from the provider's redirect: the user name the ID token vouches for.
    pub async fn finish(&self, code: &str, state: &str) -> Result<String, String> {
        let (nonce, verifier, at) = self
            .pending
            .lock()
            .map_err(|_| "single sign-on is unavailable".to_string())?
            .remove(state)
            .ok_or("this sign-in was not started here, was already used, or expired")?;
        if at.elapsed() >= PENDING {
            return Err("this sign-in took too long; start again".into());
        }
        let body = format!(
            "grant_type=authorization_code&code={}&redirect_uri={}&code_verifier={}&client_id={}",
            enc(code),
            enc(&self.config.redirect_uri),
            enc(&verifier),
            enc(&self.config.client_id)
        );
        let answer: TokenAnswer = self
            .http
            .post(&self.token_endpoint)
            .basic_auth(&self.config.client_id, Some(&self.config.client_secret))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| format!("the provider refused the code: {e}"))?
            .json()
            .await
            .map_err(|e| format!("the provider's answer is not JSON: {e}"))?;
        let token = answer.id_token.ok_or("the provider sent no ID token")?;
        self.verify(&token, &nonce)
    }

    /// Check an ID token and return its user name.
    fn verify(&self, token: &str, nonce: &str) -> Result<String, String> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| format!("ID token: {e}"))?;
        if !matches!(
            header.alg,
            Algorithm::RS256 | Algorithm::RS384 | Algorithm::ES256 | Algorithm::ES384
        ) {
            return Err(format!(
                "ID token: algorithm {:?} is not accepted",
                header.alg
            ));
        }
        let jwk = match &header.kid {
            Some(kid) => self.jwks.find(kid),
            None => self.jwks.keys.first(),
        }
        .ok_or("ID token: signed with a key the provider does not publish")?;
        let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("ID token key: {e}"))?;
        let mut v = Validation::new(header.alg);
        v.set_issuer(&[
            self.config.issuer.trim_end_matches('/'),
            &self.config.issuer,
        ]);
        v.set_audience(&[&self.config.client_id]);
        v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let claims = jsonwebtoken::decode::<serde_json::Value>(token, &key, &v)
            .map_err(|e| format!("ID token: {e}"))?
            .claims;
        if claims["nonce"].as_str() != Some(nonce) {
            return Err("ID token: the nonce is not this sign-in's".into());
        }
        claims[self.config.username_claim.as_str()]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| {
                format!(
                    "ID token: no '{}' claim to name the account",
                    self.config.username_claim
                )
            })
    }
}
