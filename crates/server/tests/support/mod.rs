//! Shared by the server's tests: a gate whose integration service `feed` is a SMART
//! backend-services client (as integration services are in a hospital), and people as
//! accounts.
#![allow(dead_code)]

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use p384::ecdsa::signature::Signer as _;
use serde_json::json;

/// Where the test client says its assertion is for.
const TOKEN_URL: &str = "http://tend.test/auth/token";

/// A gate over `store` whose SMART backend-services client `feed` may read and write every
/// type (`system/*.*`), and `feed`'s bearer token. The first account, `admin`, is created.
pub(crate) fn gate(store: &Arc<dyn store::Store>) -> (Arc<server::Gate>, String) {
    let key = p384::ecdsa::SigningKey::random(&mut rsa::rand_core::OsRng);
    let point = key.verifying_key().to_encoded_point(false);
    let jwk = json!({"kty": "EC", "crv": "P-384", "kid": "k1",
        "x": B64.encode(point.x().unwrap()), "y": B64.encode(point.y().unwrap())});
    let smart = accounts::smart::Smart::from_json(
        &json!({"clients": [{"client_id": "feed", "name": "Test feed", "scopes": "system/*.*",
            "jwks": {"keys": [jwk]}}]})
        .to_string(),
        std::path::Path::new("."),
    )
    .unwrap();
    let now = chrono::Utc::now().timestamp();
    let header = B64.encode(json!({"alg": "ES384", "kid": "k1", "typ": "JWT"}).to_string());
    let claims = json!({"iss": "feed", "sub": "feed", "aud": TOKEN_URL, "exp": now + 240,
        "iat": now, "jti": uuid::Uuid::new_v4().to_string()});
    let message = format!("{header}.{}", B64.encode(claims.to_string()));
    let sig: p384::ecdsa::Signature = key.sign(message.as_bytes());
    let token = smart
        .token(
            &accounts::smart::TokenRequest {
                grant_type: "client_credentials".into(),
                scope: "system/*.*".into(),
                client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
                    .into(),
                client_assertion: format!("{message}.{}", B64.encode(sig.to_vec())),
            },
            TOKEN_URL,
            now,
        )
        .unwrap();
    let accounts = accounts::Accounts::new(store.clone(), Arc::new(store::SystemClock));
    let gate = Arc::new(server::Gate::new(Arc::new(accounts), Arc::new(smart)));
    account(&gate, "admin", access::Role::Administrator, None);
    (gate, format!("Bearer {}", token.access_token))
}

/// Add a person's account.
pub(crate) fn account(
    gate: &server::Gate,
    username: &str,
    role: access::Role,
    practitioner: Option<&str>,
) {
    gate.accounts
        .add(
            accounts::NewAccount {
                username: username.into(),
                name: format!("Test {username}"),
                role,
                practitioner: practitioner.map(str::to_string),
                wards: vec![],
                organization: None,
                password: "a long test passphrase for tend".into(),
            },
            "test",
        )
        .unwrap();
}

/// A person's API token, as a bearer header value.
pub(crate) fn bearer(gate: &server::Gate, username: &str) -> String {
    format!(
        "Bearer {}",
        gate.accounts
            .issue_token(username, "tests", None, "test")
            .unwrap()
    )
}
