//! Trusted issuers and their keys: a JSON Web Key Set ([RFC 7517 §5](https://www.rfc-editor.org/rfc/rfc7517#section-5))
//! per issuer, given inline or in a file, as CDS Hooks asks of a service that
//! [trusts its clients](https://cds-hooks.org/specification/current/#trusting-cds-clients).

use std::path::Path;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;

use crate::TrustError;

/// One trusted issuer: its `iss` and its public keys.
#[derive(Debug, Clone)]
pub struct Issuer {
    /// The `iss` its tokens carry (for SMART Backend Services, the client_id).
    pub iss: String,
    /// Its public keys. Only signing keys for RS384 (`kty` RSA, 2048 to 4096 bits) and ES384
    /// (`kty` EC, `crv` P-384) are used; keys marked for another `use` or `alg` are skipped.
    pub jwks: JwkSet,
    /// If set, tokens from this issuer must carry this `tenant` or none (CDS Hooks 2.0).
    pub tenant: Option<String>,
}

/// Verification limits; the defaults suit both CDS Hooks and SMART Backend Services.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Clock skew allowed on `exp`, `iat` and `nbf`, in seconds. Default 60.
    pub leeway_secs: i64,
    /// Longest accepted lifetime, `exp - iat`, and furthest `exp` after now (plus leeway), in
    /// seconds. Default 300: SMART requires `exp` no more than five minutes in the future.
    pub max_lifetime_secs: i64,
    /// How many unexpired `jti`s are remembered; when full, tokens are refused. Default 100,000.
    pub replay_capacity: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            leeway_secs: 60,
            max_lifetime_secs: 300,
            replay_capacity: 100_000,
        }
    }
}

/// A usable verification key of one issuer.
pub(crate) struct Key {
    pub(crate) kid: Option<String>,
    pub(crate) alg: Algorithm,
    pub(crate) key: DecodingKey,
}

/// A key the issuer published that cannot verify RS384 or ES384, kept to explain refusals.
pub(crate) struct Skipped {
    pub(crate) kid: Option<String>,
    pub(crate) why: String,
}

/// Splits an issuer's JWKS into usable keys and skipped ones; errors on broken usable keys.
pub(crate) fn keys(issuer: &Issuer) -> Result<(Vec<Key>, Vec<Skipped>), TrustError> {
    let fail = |kid: &Option<String>, problem: String| TrustError::Issuer {
        iss: issuer.iss.clone(),
        problem: format!(
            "key {}: {problem}",
            kid.as_deref()
                .map_or("without kid".into(), |k| format!("'{k}'"))
        ),
    };
    let (mut usable, mut skipped) = (Vec::new(), Vec::new());
    for jwk in &issuer.jwks.keys {
        let kid = jwk.common.key_id.clone();
        match usable_alg(jwk) {
            Err(why) => skipped.push(Skipped { kid, why }),
            Ok(alg) => {
                check_size(jwk).map_err(|p| fail(&kid, p))?;
                let key = DecodingKey::from_jwk(jwk).map_err(|e| fail(&kid, e.to_string()))?;
                if alg == Algorithm::ES384 {
                    // Building jsonwebtoken's verifier parses the EC point; with an empty
                    // signature that is all `verify` does, so an error means a bad point.
                    jsonwebtoken::crypto::verify("", b"", &key, alg)
                        .map_err(|_| fail(&kid, "x and y are not a point on P-384".into()))?;
                }
                usable.push(Key { kid, alg, key });
            }
        }
    }
    if usable.is_empty() {
        let found: Vec<String> = skipped.iter().map(|s| s.why.clone()).collect();
        return Err(TrustError::Issuer {
            iss: issuer.iss.clone(),
            problem: format!(
                "no RS384 or ES384 signing key among {} key(s){}{}",
                skipped.len(),
                if found.is_empty() { "" } else { ": " },
                found.join("; ")
            ),
        });
    }
    Ok((usable, skipped))
}

/// The algorithm a JWK can verify, or why it cannot verify RS384 or ES384.
fn usable_alg(jwk: &Jwk) -> Result<Algorithm, String> {
    let alg = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Algorithm::RS384,
        AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P384 => Algorithm::ES384,
        AlgorithmParameters::EllipticCurve(p) => return Err(format!("an EC {:?} key", p.curve)),
        AlgorithmParameters::OctetKey(_) => return Err("a symmetric (oct) key".into()),
        AlgorithmParameters::OctetKeyPair(_) => return Err("an OKP key".into()),
        _ => return Err("a key of unknown type".into()),
    };
    match &jwk.common.public_key_use {
        None | Some(PublicKeyUse::Signature) => {}
        Some(_) => return Err("a key not for signatures ('use')".into()),
    }
    match jwk.common.key_algorithm {
        Some(declared) if declared != alg.into() => Err(format!("a key for {declared}")),
        _ => Ok(alg),
    }
}

/// RSA moduli of 2048 to 4096 bits; EC coordinates of 48 bytes.
fn check_size(jwk: &Jwk) -> Result<(), String> {
    let b64 = |what: &str, v: &str| {
        URL_SAFE_NO_PAD
            .decode(v)
            .map_err(|_| format!("'{what}' is not base64url"))
    };
    match &jwk.algorithm {
        AlgorithmParameters::RSA(p) => {
            let n = b64("n", &p.n)?;
            let n = &n[n.iter().take_while(|b| **b == 0).count()..];
            let bits = n
                .first()
                .map_or(0, |b| n.len() * 8 - b.leading_zeros() as usize);
            if !(2048..=4096).contains(&bits) {
                return Err(format!(
                    "RSA modulus has {bits} bits: 2048 to 4096 are accepted"
                ));
            }
            b64("e", &p.e).map(drop)
        }
        AlgorithmParameters::EllipticCurve(p) => {
            if b64("x", &p.x)?.len() != 48 || b64("y", &p.y)?.len() != 48 {
                return Err("P-384 'x' and 'y' must be 48 bytes each".into());
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    issuers: Vec<IssuerConfig>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IssuerConfig {
    iss: String,
    jwks: Option<serde_json::Value>,
    jwks_file: Option<String>,
    tenant: Option<String>,
}

/// Reads `{"issuers":[{"iss": ..., "jwks": {...} | "jwks_file": "...", "tenant": ...}]}`.
pub(crate) fn parse(text: &str, base_dir: &Path) -> Result<Vec<Issuer>, TrustError> {
    let config: Config =
        serde_json::from_str(text).map_err(|e| TrustError::Config(e.to_string()))?;
    let mut issuers = Vec::with_capacity(config.issuers.len());
    for entry in config.issuers {
        let problem = |problem: String| TrustError::Issuer {
            iss: entry.iss.clone(),
            problem,
        };
        if entry.iss.is_empty() {
            return Err(TrustError::Config("an issuer has an empty 'iss'".into()));
        }
        let jwks = match (&entry.jwks, &entry.jwks_file) {
            (Some(jwks), None) => serde_json::from_value(jwks.clone())
                .map_err(|e| problem(format!("'jwks' is not a JWK Set: {e}")))?,
            (None, Some(file)) => {
                let path = base_dir.join(file);
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| problem(format!("cannot read {}: {e}", path.display())))?;
                serde_json::from_str(&text)
                    .map_err(|e| problem(format!("{} is not a JWK Set: {e}", path.display())))?
            }
            _ => {
                return Err(problem(
                    "needs exactly one of 'jwks' and 'jwks_file'".into(),
                ))
            }
        };
        issuers.push(Issuer {
            iss: entry.iss,
            jwks,
            tenant: entry.tenant,
        });
    }
    Ok(issuers)
}
