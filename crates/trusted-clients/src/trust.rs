//! Verifying a client's JWT: the checks of CDS Hooks
//! ([trusting CDS clients](https://cds-hooks.org/specification/current/#trusting-cds-clients)) and of
//! SMART Backend Services ([authenticating to the token endpoint](https://hl7.org/fhir/smart-app-launch/client-confidential-asymmetric.html#authenticating-to-the-token-endpoint)),
//! which share RS384/ES384 signatures, `iss`, `sub`, `aud`, `exp` and a unique `jti`.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::{Mutex, PoisonError};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::Algorithm;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::config::{self, Issuer, Key, Options, Skipped};
use crate::TrustError;

/// The set of trusted issuers, their keys, and the `jti`s already accepted.
///
/// Share it across request handlers in an `Arc`: [`Trust::verify`] takes `&self`, and the
/// replay cache inside is behind a mutex held only for a map lookup and insert.
pub struct Trust {
    issuers: HashMap<String, Trusted>,
    options: Options,
    replay: Mutex<Replay>,
}

struct Trusted {
    tenant: Option<String>,
    keys: Vec<Key>,
    skipped: Vec<Skipped>,
}

/// Accepted `(iss, jti)` pairs with the time after which their token can no longer be accepted.
#[derive(Default)]
struct Replay {
    until: HashMap<(String, String), i64>,
    next_sweep: i64,
}

/// The claims of a verified token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// The issuer (CDS Hooks: the CDS client; SMART: the client_id).
    pub iss: String,
    /// The subject (CDS Hooks: the client_id; SMART: the client_id, which callers must check
    /// equals `iss`).
    pub sub: String,
    /// The audience values; one of them is the endpoint passed to [`Trust::verify`].
    pub aud: Vec<String>,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
    /// Issue time, seconds since the epoch (required by CDS Hooks, optional in SMART).
    pub iat: Option<i64>,
    /// The token's unique id.
    pub jti: String,
    /// The healthcare organisation (CDS Hooks 2.0 `tenant`), or the issuer's configured one.
    pub tenant: Option<String>,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    kid: Option<String>,
    crit: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawClaims {
    iss: Option<String>,
    sub: Option<String>,
    aud: Option<Audience>,
    exp: Option<f64>,
    iat: Option<f64>,
    nbf: Option<f64>,
    jti: Option<String>,
    tenant: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged, expecting = "'aud' to be a string or an array of strings")]
enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Trust {
    /// Trusts these issuers, with default [`Options`]. Fails on a repeated `iss` or an issuer
    /// without a usable RS384 or ES384 key; errors name the issuer and the key.
    pub fn new(issuers: Vec<Issuer>) -> Result<Trust, TrustError> {
        let mut map = HashMap::with_capacity(issuers.len());
        for issuer in issuers {
            let (keys, skipped) = config::keys(&issuer)?;
            let trusted = Trusted {
                tenant: issuer.tenant,
                keys,
                skipped,
            };
            if map.insert(issuer.iss.clone(), trusted).is_some() {
                let problem = "listed twice".into();
                return Err(TrustError::Issuer {
                    iss: issuer.iss,
                    problem,
                });
            }
        }
        Ok(Trust {
            issuers: map,
            options: Options::default(),
            replay: Mutex::default(),
        })
    }

    /// The same trust with other limits.
    #[must_use]
    pub fn with_options(self, options: Options) -> Trust {
        Trust { options, ..self }
    }

    /// Reads a configuration: `{"issuers":[{"iss":"https://ehr.example.org","jwks":{"keys":[...]}}]}`,
    /// where an issuer may give `jwks_file` (relative to `base_dir`) instead of `jwks`, and an
    /// optional `tenant`. Unknown fields are errors, so a misspelt setting is not ignored.
    pub fn from_json(text: &str, base_dir: &Path) -> Result<Trust, TrustError> {
        Trust::new(config::parse(text, base_dir)?)
    }

    /// Reads a configuration file; `jwks_file` paths are relative to its directory.
    pub fn load(path: &Path) -> Result<Trust, TrustError> {
        let text = std::fs::read_to_string(path).map_err(|source| TrustError::Read {
            path: path.to_owned(),
            source,
        })?;
        Trust::from_json(&text, path.parent().unwrap_or(Path::new(".")))
    }

    /// Whether no issuer is trusted (every token is then refused).
    pub fn is_empty(&self) -> bool {
        self.issuers.is_empty()
    }

    /// Verifies `token` (the compact JWS, without `Bearer `) presented to the endpoint `aud`
    /// at `now` (seconds since the epoch), and remembers its `jti` until it expires.
    ///
    /// Checks, in order: the token's shape; `alg` is RS384 or ES384; `iss` is trusted; the
    /// signature, with the key named by `kid` (or the issuer's only key for `alg`); `sub`;
    /// `aud` is or contains `aud`; `exp` has not passed, `iat` and `nbf` are not in the
    /// future (each with the leeway); the lifetime (`exp - iat`, and `exp - now`) is within
    /// the maximum; `jti` is present; `tenant` matches the issuer's; `jti` is new for `iss`.
    /// The `jku` header is never fetched: keys come from the configuration only.
    pub fn verify(&self, token: &str, aud: &str, now: i64) -> Result<Claims, TrustError> {
        let shape = || malformed("expected three base64url parts separated by '.'");
        let (message, signature) = token.rsplit_once('.').ok_or_else(shape)?;
        let (header, payload) = message.split_once('.').ok_or_else(shape)?;
        if payload.contains('.') {
            return Err(shape());
        }
        let header: Header = part(header, "header")?;
        let alg = match header.alg.as_str() {
            "RS384" => Algorithm::RS384,
            "ES384" => Algorithm::ES384,
            other => return Err(TrustError::Algorithm(shown(other))),
        };
        if header.crit.is_some() {
            return Err(malformed("the 'crit' header is not supported"));
        }
        let raw: RawClaims = part(payload, "claims")?;
        let iss = required(raw.iss, "iss")?;
        let issuer = self
            .issuers
            .get(&iss)
            .ok_or_else(|| TrustError::UntrustedIssuer(shown(&iss)))?;
        let key = issuer.select(&iss, header.kid.as_deref(), alg)?;
        match jsonwebtoken::crypto::verify(signature, message.as_bytes(), &key.key, alg) {
            Ok(true) => {}
            Err(e) if matches!(e.kind(), ErrorKind::Base64(_)) => {
                return Err(malformed("the signature is not base64url"))
            }
            Ok(false) | Err(_) => {
                let kid = key.kid.clone();
                return Err(TrustError::Signature {
                    iss,
                    kid,
                    alg: name(alg),
                });
            }
        }

        let sub = required(raw.sub, "sub")?;
        let auds = match raw.aud.ok_or(TrustError::MissingClaim("aud"))? {
            Audience::One(one) => vec![one],
            Audience::Many(many) => many,
        };
        if !auds.iter().any(|a| a == aud) {
            let found: Vec<String> = auds.iter().map(|a| format!("'{}'", shown(a))).collect();
            let found = if found.is_empty() {
                "[]".into()
            } else {
                found.join(", ")
            };
            return Err(TrustError::Audience {
                found,
                expected: aud.to_owned(),
            });
        }
        let exp = date(raw.exp, "exp")?.ok_or(TrustError::MissingClaim("exp"))?;
        let (iat, nbf) = (date(raw.iat, "iat")?, date(raw.nbf, "nbf")?);
        let Options {
            leeway_secs: leeway,
            max_lifetime_secs: max,
            ..
        } = self.options;
        if exp.saturating_add(leeway) <= now {
            return Err(TrustError::Expired { exp, now, leeway });
        }
        for (claim, time) in [("iat", iat), ("nbf", nbf)] {
            if let Some(time) = time.filter(|t| *t > now.saturating_add(leeway)) {
                return Err(TrustError::NotYetValid {
                    claim,
                    time,
                    now,
                    leeway,
                });
            }
        }
        if let Some(iat) = iat.filter(|iat| exp - iat > max) {
            return Err(TrustError::Lifetime {
                from: "iat",
                lifetime: exp - iat,
                max,
            });
        }
        if exp.saturating_sub(now) > max.saturating_add(leeway) {
            return Err(TrustError::Lifetime {
                from: "now",
                lifetime: exp.saturating_sub(now),
                max,
            });
        }
        let jti = required(raw.jti, "jti")?;
        let tenant = match (&issuer.tenant, raw.tenant) {
            (Some(expected), Some(found)) if found != *expected => {
                let (iss, found, expected) = (iss, shown(&found), expected.clone());
                return Err(TrustError::Tenant {
                    iss,
                    found,
                    expected,
                });
            }
            (configured, found) => found.or_else(|| configured.clone()),
        };
        self.remember(&iss, &jti, exp.saturating_add(leeway), now)?;
        Ok(Claims {
            iss,
            sub,
            aud: auds,
            exp,
            iat,
            jti,
            tenant,
        })
    }

    /// Records `(iss, jti)` until `until`, refusing it if already there and unexpired.
    fn remember(&self, iss: &str, jti: &str, until: i64, now: i64) -> Result<(), TrustError> {
        let mut replay = self.replay.lock().unwrap_or_else(PoisonError::into_inner);
        let key = (iss.to_owned(), jti.to_owned());
        if replay.until.get(&key).is_some_and(|u| *u > now) {
            return Err(TrustError::Replayed {
                iss: key.0,
                jti: shown(&key.1),
            });
        }
        let capacity = self.options.replay_capacity;
        if now >= replay.next_sweep || replay.until.len() >= capacity {
            replay.until.retain(|_, u| *u > now);
            replay.next_sweep = now.saturating_add(60);
        }
        if replay.until.len() >= capacity {
            return Err(TrustError::ReplayCacheFull(replay.until.len()));
        }
        replay.until.insert(key, until);
        Ok(())
    }
}

impl fmt::Debug for Trust {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut issuers: Vec<&String> = self.issuers.keys().collect();
        issuers.sort();
        f.debug_struct("Trust")
            .field("issuers", &issuers)
            .field("options", &self.options)
            .finish()
    }
}

impl Trusted {
    /// The key named by `kid`, or without `kid` the only key for `alg`.
    fn select(&self, iss: &str, kid: Option<&str>, alg: Algorithm) -> Result<&Key, TrustError> {
        let Some(kid) = kid else {
            let mut fit = self.keys.iter().filter(|k| k.alg == alg);
            return match (fit.next(), fit.next()) {
                (Some(key), None) => Ok(key),
                _ => {
                    let count = self.keys.iter().filter(|k| k.alg == alg).count();
                    Err(TrustError::NoKid {
                        iss: iss.to_owned(),
                        alg: name(alg),
                        count,
                    })
                }
            };
        };
        let mut named = self
            .keys
            .iter()
            .filter(|k| k.kid.as_deref() == Some(kid))
            .peekable();
        let other = named.peek().map(|k| k.alg);
        if let Some(key) = named.find(|k| k.alg == alg) {
            return Ok(key);
        }
        let why = match other {
            Some(other) => Some(format!("it is an {} key", name(other))),
            None => self
                .skipped
                .iter()
                .find(|s| s.kid.as_deref() == Some(kid))
                .map(|s| format!("it is {}", s.why)),
        };
        let (iss, kid) = (iss.to_owned(), shown(kid));
        Err(match why {
            Some(why) => TrustError::WrongKey {
                iss,
                kid,
                alg: name(alg),
                why,
            },
            None => TrustError::UnknownKey { iss, kid },
        })
    }
}

fn name(alg: Algorithm) -> &'static str {
    if alg == Algorithm::RS384 {
        "RS384"
    } else {
        "ES384"
    }
}

fn malformed(why: &str) -> TrustError {
    TrustError::Malformed(why.to_owned())
}

/// A base64url JSON part of the token.
fn part<T: DeserializeOwned>(b64: &str, what: &str) -> Result<T, TrustError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(b64)
        .map_err(|_| TrustError::Malformed(format!("the {what} is not base64url")))?;
    serde_json::from_slice(&bytes).map_err(|e| TrustError::Malformed(format!("{what}: {e}")))
}

fn required(value: Option<String>, claim: &'static str) -> Result<String, TrustError> {
    value
        .filter(|v| !v.is_empty())
        .ok_or(TrustError::MissingClaim(claim))
}

/// A NumericDate (RFC 7519 §2): seconds since the epoch, possibly fractional, within reason.
fn date(value: Option<f64>, claim: &str) -> Result<Option<i64>, TrustError> {
    match value {
        Some(v) if !(0.0..1e12).contains(&v) => Err(TrustError::Malformed(format!(
            "'{claim}' is not a time in seconds since 1970"
        ))),
        Some(v) => Ok(Some(v.floor() as i64)),
        None => Ok(None),
    }
}

/// A value from the token as shown in an error: control characters replaced, length bounded.
fn shown(value: &str) -> String {
    let mut out: String = value
        .chars()
        .take(100)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if value.chars().nth(100).is_some() {
        out.push('…');
    }
    out
}
