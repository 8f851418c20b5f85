//! Tokens signed at test time with freshly generated RS384 and ES384 keys (no private key is
//! stored), verified against JWKS built from the public halves. The signing side here uses the
//! `rsa` and `p384` crates directly, not the verifier's JWT library.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use rsa::rand_core::OsRng;
use rsa::sha2::Sha384;
use rsa::signature::{SignatureEncoding as _, Signer as _};
use rsa::traits::PublicKeyParts as _;
use serde_json::{json, Value};
use trusted_clients::{Claims, Options, Trust, TrustError};

const EHR: &str = "https://ehr.example.org";
const AUD: &str = "https://tend.example.org/cds-services/news2";
/// 2025-06-15T15:06:40Z.
const NOW: i64 = 1_750_000_000;

enum Private {
    Es(p384::ecdsa::SigningKey),
    Rs(Box<rsa::pkcs1v15::SigningKey<Sha384>>, Value),
}

/// A client's key pair.
struct Client {
    kid: Option<String>,
    key: Private,
}

impl Client {
    fn es384(kid: &str) -> Client {
        let key = Private::Es(p384::ecdsa::SigningKey::random(&mut OsRng));
        Client {
            kid: Some(kid.to_owned()),
            key,
        }
    }

    fn rs384(kid: &str, bits: usize) -> Client {
        let private = rsa::RsaPrivateKey::new(&mut OsRng, bits).expect("RSA key generation");
        let public = json!({
            "n": B64.encode(private.n().to_bytes_be()),
            "e": B64.encode(private.e().to_bytes_be()),
        });
        let signer = rsa::pkcs1v15::SigningKey::<Sha384>::new(private);
        Client {
            kid: Some(kid.to_owned()),
            key: Private::Rs(Box::new(signer), public),
        }
    }

    fn without_kid(mut self) -> Client {
        self.kid = None;
        self
    }

    fn alg(&self) -> &'static str {
        match self.key {
            Private::Es(_) => "ES384",
            Private::Rs(..) => "RS384",
        }
    }

    /// The public key as a JWK, with `kid` and these extra members.
    fn jwk_with(&self, extra: Value) -> Value {
        let mut jwk = match &self.key {
            Private::Es(key) => {
                let point = key.verifying_key().to_encoded_point(false);
                json!({
                    "kty": "EC", "crv": "P-384",
                    "x": B64.encode(point.x().unwrap()), "y": B64.encode(point.y().unwrap()),
                })
            }
            Private::Rs(_, public) => {
                json!({"kty": "RSA", "n": public["n"], "e": public["e"]})
            }
        };
        if let Some(kid) = &self.kid {
            jwk["kid"] = json!(kid);
        }
        jwk.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        jwk
    }

    fn jwk(&self) -> Value {
        self.jwk_with(json!({}))
    }

    fn header(&self) -> Value {
        let mut header = json!({"alg": self.alg(), "typ": "JWT"});
        if let Some(kid) = &self.kid {
            header["kid"] = json!(kid);
        }
        header
    }

    fn sign(&self, claims: &Value) -> String {
        self.sign_with(&self.header(), claims)
    }

    fn sign_with(&self, header: &Value, claims: &Value) -> String {
        let message = format!("{}.{}", part(header), part(claims));
        let signature = match &self.key {
            Private::Es(key) => {
                let signature: p384::ecdsa::Signature = key.sign(message.as_bytes());
                signature.to_vec()
            }
            Private::Rs(key, _) => key.sign(message.as_bytes()).to_vec(),
        };
        format!("{message}.{}", B64.encode(signature))
    }
}

fn part(json: &Value) -> String {
    B64.encode(json.to_string())
}

/// Valid CDS Hooks claims from the EHR at NOW, with a fresh `jti`.
fn claims() -> Value {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let jti = format!("jti-{}", NEXT.fetch_add(1, Ordering::Relaxed));
    json!({"iss": EHR, "sub": "ehr-client", "aud": AUD, "iat": NOW, "exp": NOW + 60, "jti": jti})
}

fn with(mut claims: Value, changes: Value) -> Value {
    for (name, value) in changes.as_object().unwrap() {
        if value.is_null() {
            claims.as_object_mut().unwrap().remove(name);
        } else {
            claims[name] = value.clone();
        }
    }
    claims
}

fn config(issuers: &[(&str, Vec<Value>)]) -> String {
    let issuers: Vec<Value> = issuers
        .iter()
        .map(|(iss, keys)| json!({"iss": iss, "jwks": {"keys": keys}}))
        .collect();
    json!({ "issuers": issuers }).to_string()
}

fn trust(issuers: &[(&str, Vec<Value>)]) -> Trust {
    Trust::from_json(&config(issuers), Path::new(".")).expect("valid configuration")
}

#[track_caller]
fn accepted(trust: &Trust, token: &str, now: i64) -> Claims {
    trust
        .verify(token, AUD, now)
        .unwrap_or_else(|e| panic!("token refused: {e}"))
}

/// The refusal, after checking its message does not show the token's signature or parts.
#[track_caller]
fn refused(trust: &Trust, token: &str, now: i64) -> TrustError {
    let err = trust
        .verify(token, AUD, now)
        .expect_err("token should be refused");
    let message = err.to_string();
    for part in token.split('.').filter(|p| p.len() > 8) {
        assert!(
            !message.contains(part),
            "the error shows the token: {message}"
        );
    }
    err
}

#[track_caller]
fn config_error(text: &str, base_dir: &Path) -> String {
    Trust::from_json(text, base_dir)
        .expect_err("configuration should be refused")
        .to_string()
}

#[test]
fn es384_token_is_accepted() {
    let ehr = Client::es384("ehr-2025");
    let trust = trust(&[(EHR, vec![ehr.jwk()])]);
    let claims = claims();
    let verified = accepted(&trust, &ehr.sign(&claims), NOW);
    assert_eq!(
        verified,
        Claims {
            iss: EHR.into(),
            sub: "ehr-client".into(),
            aud: vec![AUD.into()],
            exp: NOW + 60,
            iat: Some(NOW),
            jti: claims["jti"].as_str().unwrap().into(),
            tenant: None,
        }
    );
}

#[test]
fn rs384_token_is_accepted() {
    let ehr = Client::rs384("rsa-1", 2048);
    let trust = trust(&[(EHR, vec![ehr.jwk()])]);
    let claims = with(claims(), json!({"exp": NOW as f64 + 300.5, "iat": null}));
    let verified = accepted(&trust, &ehr.sign(&claims), NOW);
    assert_eq!((verified.exp, verified.iat), (NOW + 300, None));
}

#[test]
fn signature_by_another_key_is_refused() {
    let ehr = Client::es384("k1");
    let other_issuer = Client::es384("other-1");
    let impostor = Client::es384("k1"); // same kid, different key
    let trust = trust(&[
        (EHR, vec![ehr.jwk()]),
        ("https://other.example.org", vec![other_issuer.jwk()]),
    ]);
    let err = refused(&trust, &impostor.sign(&claims()), NOW);
    assert_eq!(
        err.to_string(),
        format!("signature does not verify with ES384 key 'k1' of issuer '{EHR}'")
    );
    // The other issuer's key, presented under the EHR's kid.
    let header = json!({"alg": "ES384", "kid": "k1"});
    let err = refused(&trust, &other_issuer.sign_with(&header, &claims()), NOW);
    assert!(matches!(err, TrustError::Signature { .. }), "{err}");
}

#[test]
fn altered_claims_are_refused() {
    let ehr = Client::es384("k1");
    let trust = trust(&[(EHR, vec![ehr.jwk()])]);
    let token = ehr.sign(&claims());
    let mut parts: Vec<&str> = token.split('.').collect();
    let altered = part(&with(claims(), json!({"sub": "admin"})));
    parts[1] = &altered;
    let err = refused(&trust, &parts.join("."), NOW);
    assert!(matches!(err, TrustError::Signature { .. }), "{err}");
}

#[test]
fn alg_none_and_other_algorithms_are_refused() {
    let ehr = Client::es384("k1");
    let trust = trust(&[(EHR, vec![ehr.jwk()])]);
    let unsigned = format!(
        "{}.{}.",
        part(&json!({"alg": "none", "typ": "JWT"})),
        part(&claims())
    );
    let err = refused(&trust, &unsigned, NOW);
    assert_eq!(
        err.to_string(),
        "token signed with none: only RS384 and ES384 are accepted"
    );
    for alg in [
        "HS256", "HS384", "HS512", "RS256", "RS512", "PS384", "ES256", "EdDSA",
    ] {
        let token = ehr.sign_with(&json!({"alg": alg, "kid": "k1"}), &claims());
        let err = refused(&trust, &token, NOW);
        assert_eq!(
            err.to_string(),
            format!("token signed with {alg}: only RS384 and ES384 are accepted")
        );
    }
}

#[test]
fn untrusted_issuer_is_refused() {
    let ehr = Client::es384("k1");
    let trust = trust(&[(EHR, vec![ehr.jwk()])]);
    let token = ehr.sign(&with(claims(), json!({"iss": "https://evil.example.org"})));
    let err = refused(&trust, &token, NOW);
    assert_eq!(
        err.to_string(),
        "issuer 'https://evil.example.org' is not trusted"
    );
}

#[test]
fn empty_trust_refuses_every_token() {
    let trust = Trust::from_json(r#"{"issuers": []}"#, Path::new(".")).unwrap();
    assert!(trust.is_empty());
    let ehr = Client::es384("k1");
    let err = refused(&trust, &ehr.sign(&claims()), NOW);
    assert!(matches!(err, TrustError::UntrustedIssuer(_)), "{err}");
}

#[test]
fn key_is_chosen_by_kid() {
    let (k1, k2) = (Client::es384("k1"), Client::es384("k2"));
    let p256 = json!({"kty": "EC", "crv": "P-256", "kid": "p256",
        "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"});
    let trust = trust(&[(EHR, vec![k1.jwk(), k2.jwk(), p256])]);
    accepted(&trust, &k1.sign(&claims()), NOW);
    accepted(&trust, &k2.sign(&claims()), NOW);

    let unknown = Client::es384("k3");
    let err = refused(&trust, &unknown.sign(&claims()), NOW);
    assert_eq!(err.to_string(), format!("no key 'k3' for issuer '{EHR}'"));

    let token = k1.sign_with(&json!({"alg": "RS384", "kid": "k1"}), &claims());
    let err = refused(&trust, &token, NOW);
    assert_eq!(
        err.to_string(),
        format!("key 'k1' of issuer '{EHR}' cannot verify RS384: it is an ES384 key")
    );

    let token = k1.sign_with(&json!({"alg": "ES384", "kid": "p256"}), &claims());
    let err = refused(&trust, &token, NOW);
    assert_eq!(
        err.to_string(),
        format!("key 'p256' of issuer '{EHR}' cannot verify ES384: it is an EC P256 key")
    );

    let token = k1.without_kid().sign(&claims());
    let err = refused(&trust, &token, NOW);
    assert_eq!(
        err.to_string(),
        format!("token has no 'kid' and issuer '{EHR}' has 2 ES384 keys: name one with 'kid'")
    );
}

#[test]
fn token_without_kid_uses_the_issuers_only_key_for_its_alg() {
    let ehr = Client::es384("k1");
    let trust = trust(&[(EHR, vec![ehr.jwk()])]);
    accepted(&trust, &ehr.without_kid().sign(&claims()), NOW);
}

#[test]
fn keys_for_other_uses_and_algorithms_are_skipped() {
    let ehr = Client::es384("sig");
    let small = Client::rs384("enc", 1024);
    let jwks = vec![
        small.jwk_with(json!({"use": "enc"})),
        Client::es384("for-es256").jwk_with(json!({"alg": "ES256"})),
        ehr.jwk_with(json!({"use": "sig", "alg": "ES384"})),
    ];
    let trust = trust(&[(EHR, jwks)]);
    accepted(&trust, &ehr.sign(&claims()), NOW);
    let token = ehr.sign_with(&json!({"alg": "RS384", "kid": "enc"}), &claims());
    let err = refused(&trust, &token, NOW);
    assert_eq!(
        err.to_string(),
        format!("key 'enc' of issuer '{EHR}' cannot verify RS384: it is a key not for signatures ('use')")
    );
    let token = ehr.sign_with(&json!({"alg": "ES384", "kid": "for-es256"}), &claims());
    let err = refused(&trust, &token, NOW);
    assert_eq!(
        err.to_string(),
        format!("key 'for-es256' of issuer '{EHR}' cannot verify ES384: it is a key for ES256")
    );
}

#[test]
fn expired_token_is_refused_after_the_leeway() {
    let ehr = Client::es384("k1");
    let trust = trust(&[(EHR, vec![ehr.jwk()])]);
    let token = ehr.sign(&with(claims(), json!({"iat": NOW - 120, "exp": NOW - 60})));
    let err = refused(&trust, &token, NOW);
    assert_eq!(
        err.to_string(),
        "token expired at 2025-06-15T15:05:40Z (60 s before now; leeway 60 s)"
    );
    accepted(
        &trust,
        &ehr.sign(&with(claims(), json!({"iat": NOW - 120, "exp": NOW - 59}))),
        NOW,
    );
}

#[test]
fn token_from_the_future_is_refused() {
    let ehr = Client::es384("k1");
    let trust = trust(&[(EHR, vec![ehr.jwk()])]);
    let token = ehr.sign(&with(claims(), json!({"iat": NOW + 61, "exp": NOW + 120})));
    let err = refused(&trust, &token, NOW);
    assert_eq!(
        err.to_string(),
        "token 'iat' is 2025-06-15T15:07:41Z (61 s after now; leeway 60 s): check the client's clock"
    );
    let token = ehr.sign(&with(claims(), json!({"nbf": NOW + 100})));
    assert!(matches!(
        refused(&trust, &token, NOW),
        TrustError::NotYetValid { claim: "nbf", .. }
    ));
    accepted(
        &trust,
        &ehr.sign(&with(claims(), json!({"iat": NOW + 60, "exp": NOW + 120}))),
        NOW,
    );
}

#[test]
fn lifetime_over_the_maximum_is_refused() {
    let ehr = Client::es384("k1");
    let trust = trust(&[(EHR, vec![ehr.jwk()])]);
    let token = ehr.sign(&with(claims(), json!({"exp": NOW + 301})));
    let err = refused(&trust, &token, NOW);
    assert_eq!(
        err.to_string(),
        "token lives 301 s (iat to exp): at most 300 s are accepted"
    );
    let token = ehr.sign(&with(claims(), json!({"iat": null, "exp": NOW + 361})));
    let err = refused(&trust, &token, NOW);
    assert_eq!(
        err.to_string(),
        "token lives 361 s (now to exp): at most 300 s are accepted"
    );
    let long_lived = ehr.sign(&with(claims(), json!({"exp": NOW + 3600})));
    assert!(matches!(
        refused(&trust, &long_lived, NOW),
        TrustError::Lifetime { .. }
    ));

    let options = Options {
        max_lifetime_secs: 3600,
        ..Options::default()
    };
    let trust = trust_with(&ehr, options);
    accepted(&trust, &long_lived, NOW);
}

fn trust_with(client: &Client, options: Options) -> Trust {
    trust(&[(EHR, vec![client.jwk()])]).with_options(options)
}

#[test]
fn wrong_audience_is_refused() {
    let ehr = Client::es384("k1");
    let trust = trust(&[(EHR, vec![ehr.jwk()])]);
    let other = "https://tend.example.org/cds-services/sepsis";
    let err = refused(
        &trust,
        &ehr.sign(&with(claims(), json!({"aud": other}))),
        NOW,
    );
    assert_eq!(
        err.to_string(),
        format!("audience '{other}' does not match '{AUD}'")
    );
    let err = refused(
        &trust,
        &ehr.sign(&with(claims(), json!({"aud": [other, "x"]}))),
        NOW,
    );
    assert_eq!(
        err.to_string(),
        format!("audience '{other}', 'x' does not match '{AUD}'")
    );
    let err = refused(&trust, &ehr.sign(&with(claims(), json!({"aud": 7}))), NOW);
    assert!(
        err.to_string()
            .contains("'aud' to be a string or an array of strings"),
        "{err}"
    );
}

#[test]
fn audience_array_containing_the_endpoint_is_accepted() {
    let ehr = Client::es384("k1");
    let trust = trust(&[(EHR, vec![ehr.jwk()])]);
    let token = ehr.sign(&with(
        claims(),
        json!({"aud": ["https://other.example.org", AUD]}),
    ));
    assert_eq!(
        accepted(&trust, &token, NOW).aud,
        vec!["https://other.example.org".to_string(), AUD.into()]
    );
}

#[test]
fn replayed_jti_is_refused() {
    let ehr = Client::es384("k1");
    let trust = trust(&[(EHR, vec![ehr.jwk()])]);
    let claims = claims();
    let token = ehr.sign(&claims);
    accepted(&trust, &token, NOW);
    let err = refused(&trust, &token, NOW + 1);
    let jti = claims["jti"].as_str().unwrap();
    assert_eq!(
        err.to_string(),
        format!("token '{jti}' from issuer '{EHR}' already used: each token needs a new 'jti'")
    );
    // A new token (new signature) reusing the jti is refused too.
    let again = ehr.sign(&with(claims.clone(), json!({"iat": NOW + 1})));
    assert!(matches!(
        refused(&trust, &again, NOW + 1),
        TrustError::Replayed { .. }
    ));
}

#[test]
fn replay_cache_is_bounded_and_forgets_expired_tokens() {
    let ehr = Client::es384("k1");
    let options = Options {
        replay_capacity: 2,
        ..Options::default()
    };
    let trust = trust_with(&ehr, options);
    accepted(&trust, &ehr.sign(&claims()), NOW);
    accepted(&trust, &ehr.sign(&claims()), NOW);
    let err = refused(&trust, &ehr.sign(&claims()), NOW);
    assert_eq!(
        err.to_string(),
        "too many tokens in flight (2 unexpired): try again shortly"
    );
    // Both remembered tokens expire at NOW + 60 (+ 60 s leeway); then there is room again.
    let later = NOW + 121;
    let fresh = with(claims(), json!({"iat": later, "exp": later + 60}));
    accepted(&trust, &ehr.sign(&fresh), later);
}

#[test]
fn missing_claims_are_refused() {
    let ehr = Client::es384("k1");
    let trust = trust(&[(EHR, vec![ehr.jwk()])]);
    for claim in ["iss", "sub", "aud", "exp", "jti"] {
        let token = ehr.sign(&with(claims(), json!({ claim: null })));
        let err = refused(&trust, &token, NOW);
        assert_eq!(err.to_string(), format!("token has no '{claim}' claim"));
    }
    let token = ehr.sign(&with(claims(), json!({"jti": ""})));
    assert!(matches!(
        refused(&trust, &token, NOW),
        TrustError::MissingClaim("jti")
    ));
}

#[test]
fn malformed_tokens_are_refused() {
    let ehr = Client::es384("k1");
    let trust = trust(&[(EHR, vec![ehr.jwk()])]);
    let good = ehr.sign(&claims());
    let (header, rest) = good.split_once('.').unwrap();
    let cases = [
        ("", "malformed token: expected three base64url parts separated by '.'"),
        ("abc.def", "malformed token: expected three base64url parts separated by '.'"),
        (&format!("{good}.x.y"), "malformed token: expected three base64url parts separated by '.'"),
        (&format!("%%%.{rest}"), "malformed token: the header is not base64url"),
        (&format!("{}.{rest}", B64.encode("not json")), "malformed token: header: expected ident at line 1 column 2"),
        (&format!("{header}.{}.sig", part(&with(claims(), json!({"exp": "soon"})))), "malformed token: claims: invalid type: string \"soon\", expected f64 at line 1 column 133"),
        (&ehr.sign(&with(claims(), json!({"exp": -5}))), "malformed token: 'exp' is not a time in seconds since 1970"),
        (&format!("{}.{rest}", part(&json!({"alg": "ES384", "crit": ["exp"]}))), "malformed token: the 'crit' header is not supported"),
        (&format!("{}!", good), "malformed token: the signature is not base64url"),
    ];
    for (token, expected) in cases {
        assert_eq!(
            trust.verify(token, AUD, NOW).expect_err(token).to_string(),
            expected,
            "{token}"
        );
    }
}

#[test]
fn tenant_must_match_the_issuers() {
    let ehr = Client::es384("k1");
    let text =
        json!({"issuers": [{"iss": EHR, "tenant": "north-trust", "jwks": {"keys": [ehr.jwk()]}}]});
    let trust = Trust::from_json(&text.to_string(), Path::new(".")).unwrap();
    assert_eq!(
        accepted(&trust, &ehr.sign(&claims()), NOW)
            .tenant
            .as_deref(),
        Some("north-trust")
    );
    let token = ehr.sign(&with(claims(), json!({"tenant": "north-trust"})));
    assert_eq!(
        accepted(&trust, &token, NOW).tenant.as_deref(),
        Some("north-trust")
    );
    let token = ehr.sign(&with(claims(), json!({"tenant": "south-trust"})));
    let err = refused(&trust, &token, NOW);
    assert_eq!(
        err.to_string(),
        format!(
            "tenant 'south-trust' is not accepted from issuer '{EHR}' (expected 'north-trust')"
        )
    );
}

#[test]
fn configuration_errors_name_the_issuer_and_the_problem() {
    let dir = Path::new(".");
    let ehr = Client::es384("k1").jwk();
    let e = |iss: &str, problem: &str| format!("trust configuration, issuer '{iss}': {problem}");
    assert_eq!(
        config_error("{\"issuers\": [}", dir),
        "trust configuration: expected value at line 1 column 14"
    );
    assert_eq!(
        config_error("{}", dir),
        "trust configuration: missing field `issuers` at line 1 column 2"
    );
    let typo =
        json!({"issuers": [{"iss": EHR, "jwks": {"keys": [ehr]}, "tennant": "x"}]}).to_string();
    assert!(
        config_error(&typo, dir).starts_with("trust configuration: unknown field `tennant`"),
        "{}",
        config_error(&typo, dir)
    );
    let neither = json!({"issuers": [{"iss": EHR}]}).to_string();
    assert_eq!(
        config_error(&neither, dir),
        e(EHR, "needs exactly one of 'jwks' and 'jwks_file'")
    );
    let both = json!({"issuers": [{"iss": EHR, "jwks": {"keys": [ehr]}, "jwks_file": "k.json"}]})
        .to_string();
    assert_eq!(
        config_error(&both, dir),
        e(EHR, "needs exactly one of 'jwks' and 'jwks_file'")
    );
    let twice = config(&[(EHR, vec![ehr.clone()]), (EHR, vec![ehr.clone()])]);
    assert_eq!(config_error(&twice, dir), e(EHR, "listed twice"));
    let not_a_set = json!({"issuers": [{"iss": EHR, "jwks": [ehr]}]}).to_string();
    assert!(config_error(&not_a_set, dir).starts_with(&e(EHR, "'jwks' is not a JWK Set: ")));
    let missing = json!({"issuers": [{"iss": EHR, "jwks_file": "no-such-keys.json"}]}).to_string();
    assert!(config_error(&missing, Path::new("/nonexistent"))
        .starts_with(&e(EHR, "cannot read /nonexistent/no-such-keys.json: ")));

    let hmac = json!({"kty": "oct", "k": "c2VjcmV0", "kid": "shared"});
    let only_hmac = config(&[(EHR, vec![hmac])]);
    assert_eq!(
        config_error(&only_hmac, dir),
        e(
            EHR,
            "no RS384 or ES384 signing key among 1 key(s): a symmetric (oct) key"
        )
    );
    assert_eq!(
        config_error(&config(&[(EHR, vec![])]), dir),
        e(EHR, "no RS384 or ES384 signing key among 0 key(s)")
    );
    let small = config(&[(EHR, vec![Client::rs384("old", 1024).jwk()])]);
    assert_eq!(
        config_error(&small, dir),
        e(
            EHR,
            "key 'old': RSA modulus has 1024 bits: 2048 to 4096 are accepted"
        )
    );
    let mut off_curve = Client::es384("bad").jwk();
    off_curve["y"] = off_curve["x"].clone();
    assert_eq!(
        config_error(&config(&[(EHR, vec![off_curve])]), dir),
        e(EHR, "key 'bad': x and y are not a point on P-384")
    );
    let mut short = Client::es384("short").jwk();
    short["x"] = json!("AAAA");
    assert_eq!(
        config_error(&config(&[(EHR, vec![short])]), dir),
        e(EHR, "key 'short': P-384 'x' and 'y' must be 48 bytes each")
    );
}

/// A scratch directory under the system's temp dir, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("trusted-clients-{name}-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("keys")).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn jwks_file_is_read_relative_to_the_configuration() {
    let ehr = Client::es384("k1");
    let scratch = Scratch::new("jwks-file");
    std::fs::write(
        scratch.0.join("keys/ehr.json"),
        json!({"keys": [ehr.jwk()]}).to_string(),
    )
    .unwrap();
    let text = json!({"issuers": [{"iss": EHR, "jwks_file": "keys/ehr.json"}]}).to_string();
    std::fs::write(scratch.0.join("trust.json"), text).unwrap();
    let trust = Trust::load(&scratch.0.join("trust.json")).unwrap();
    accepted(&trust, &ehr.sign(&claims()), NOW);

    std::fs::write(scratch.0.join("keys/ehr.json"), "{\"keys\": ").unwrap();
    let err = Trust::load(&scratch.0.join("trust.json"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("keys/ehr.json is not a JWK Set: EOF while parsing"),
        "{err}"
    );
    let err = Trust::load(&scratch.0.join("absent.json"))
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("cannot read ") && err.contains("absent.json"),
        "{err}"
    );
}

#[test]
fn trust_shared_across_threads_accepts_a_token_once() {
    let ehr = Client::es384("k1");
    let trust = Arc::new(trust(&[(EHR, vec![ehr.jwk()])]));
    let token = Arc::new(ehr.sign(&claims()));
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let (trust, token) = (Arc::clone(&trust), Arc::clone(&token));
            std::thread::spawn(move || trust.verify(&token, AUD, NOW).is_ok())
        })
        .collect();
    let accepted = handles
        .into_iter()
        .map(|h| h.join().unwrap())
        .filter(|ok| *ok)
        .count();
    assert_eq!(accepted, 1);
}
