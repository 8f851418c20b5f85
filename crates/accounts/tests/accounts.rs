//! Accounts over a real SQLite store: the first administrator, password rules, sign-in with
//! backoff per user name and address and a rate limit per address (refusals the same for
//! unknown and known names), sessions that survive a restart, disabling, API tokens, and SMART
//! backend-services tokens (assertions signed at test time with a fresh ES384 key).

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use access::{Role, Via};
use accounts::smart::{Smart, TokenRequest, ASSERTION_TYPE};
use accounts::{AccountError, Accounts, NewAccount, SignInFailure};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use p384::ecdsa::signature::Signer as _;
use serde_json::{json, Value};
use store::{Clock, Store};

/// A clock the test moves by hand, from 2026-01-01T00:00:00Z.
#[derive(Default)]
struct Hand(AtomicI64);

impl Clock for Hand {
    fn now_ms(&self) -> i64 {
        1_767_225_600_000 + self.0.load(Ordering::SeqCst)
    }
}

fn open(path: &std::path::Path, clock: Arc<Hand>) -> Arc<dyn Store> {
    store::open(
        &format!("sqlite://{}", path.display()),
        store::Options {
            clock,
            indexer: Arc::new(search::Indexer::new(search::Registry::r4()).unwrap()),
            readers: 2,
        },
    )
    .unwrap()
}

fn new(username: &str, role: Role, password: &str) -> NewAccount {
    NewAccount {
        username: username.into(),
        name: format!("{username} name"),
        role,
        practitioner: Some(format!("Practitioner/{username}")),
        wards: vec!["Location/ward-3east".into()],
        organization: None,
        password: password.into(),
    }
}

const PW: &str = "correct horse battery staple";

fn audit_events(store: &dyn Store) -> Vec<Value> {
    let q = search::SearchQuery::parse(
        search::Registry::r4(),
        "AuditEvent",
        &[("_count".into(), "1000".into())],
    )
    .unwrap();
    // Audit records ride the next group commit: make one.
    store.save_checkpoint("test", 1).unwrap();
    store
        .search(&store::Access::system(), &q)
        .unwrap()
        .matches
        .into_iter()
        .map(|h| serde_json::from_str(&h.body).unwrap())
        .collect()
}

#[test]
fn accounts_sign_in_sessions_and_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("a.db");
    let clock = Arc::new(Hand::default());
    let store = open(&db, clock.clone());
    let accounts = Accounts::new(store.clone(), clock.clone());

    // The first account must be an administrator; weak passwords and bad names are refused.
    assert!(accounts.is_empty().unwrap());
    assert!(matches!(
        accounts.add(new("nurse.jones", Role::Nurse, PW), "console"),
        Err(AccountError::Invalid(m)) if m.contains("administrator")
    ));
    accounts
        .add(new("admin", Role::Administrator, PW), "console")
        .unwrap();
    assert!(matches!(
        accounts.add(new("nurse.jones", Role::Nurse, "short"), "admin"),
        Err(AccountError::WeakPassword(_))
    ));
    assert!(matches!(
        accounts.add(new("bad name", Role::Nurse, PW), "admin"),
        Err(AccountError::Invalid(_))
    ));
    accounts
        .add(new("nurse.jones", Role::Nurse, PW), "admin")
        .unwrap();
    assert!(matches!(
        accounts.add(new("nurse.jones", Role::Nurse, PW), "admin"),
        Err(AccountError::Exists(_))
    ));
    let listed: Vec<String> = accounts
        .list()
        .unwrap()
        .into_iter()
        .map(|a| a.username)
        .collect();
    assert_eq!(listed, ["admin", "nurse.jones"]);
    // The stored record holds an Argon2id hash, never the password.
    let raw = store.keyed_get("account", "nurse.jones").unwrap().unwrap();
    assert!(raw.contains("$argon2id$") && !raw.contains(PW));

    // Sign in; the session is found by its token, with its CSRF token.
    let (token, session) = accounts
        .sign_in("nurse.jones", PW, "10.0.0.5")
        .unwrap()
        .unwrap();
    assert_eq!(session.principal.role, Role::Nurse);
    assert_eq!(session.principal.via, Via::Session);
    let found = accounts.session(&token).unwrap().unwrap();
    assert_eq!(found.csrf, session.csrf);
    assert!(accounts.session("guessed").unwrap().is_none());
    // The store never holds the session token itself.
    assert!(store
        .keyed_list("session")
        .unwrap()
        .iter()
        .all(|(k, v)| k != &token && !v.contains(&token)));

    // Sessions survive a restart.
    drop(accounts);
    drop(store);
    let store = open(&db, clock.clone());
    let accounts = Accounts::new(store.clone(), clock.clone());
    assert!(accounts.session(&token).unwrap().is_some());

    // Wrong passwords and unknown users look the same (more in `refusals_...` below).
    assert_eq!(
        accounts.sign_in("nobody", PW, "10.0.0.6").unwrap(),
        Err(SignInFailure::Invalid)
    );
    assert_eq!(
        accounts
            .sign_in("nurse.jones", "wrong password!", "10.0.0.6")
            .unwrap(),
        Err(SignInFailure::Invalid)
    );

    // Rate limit per address: the 21st attempt in a minute is refused without checking.
    clock.0.fetch_add(61_000, Ordering::SeqCst);
    for _ in 0..accounts::ATTEMPTS_PER_MINUTE {
        let _ = accounts.sign_in("admin", "wrong password!", "10.0.0.7");
    }
    assert_eq!(
        accounts.sign_in("admin", PW, "10.0.0.7").unwrap(),
        Err(SignInFailure::RateLimited)
    );
    assert!(accounts.sign_in("admin", PW, "10.0.0.8").unwrap().is_ok());

    // Sessions end after 12 idle hours.
    let (idle, _) = accounts.sign_in("admin", PW, "10.0.0.8").unwrap().unwrap();
    clock
        .0
        .fetch_add(accounts::SESSION_IDLE_MS, Ordering::SeqCst);
    assert!(accounts.session(&idle).unwrap().is_none());

    // API tokens: act as the user with the user's role; optional narrower scopes; revocable.
    let api = accounts
        .issue_token("nurse.jones", "vitals script", None, "admin")
        .unwrap();
    assert!(api.starts_with("tend_"));
    let p = accounts.api_token(&api).unwrap().unwrap();
    assert_eq!((p.role, p.via), (Role::Nurse, Via::ApiToken));
    let narrow = accounts
        .issue_token(
            "nurse.jones",
            "read only",
            Some("user/Observation.read"),
            "admin",
        )
        .unwrap();
    let p = accounts.api_token(&narrow).unwrap().unwrap();
    assert!(p.may_fhir("Observation", false) && !p.may_fhir("Observation", true));
    assert!(accounts.api_token("tend_forged").unwrap().is_none());
    let listed = accounts.tokens(Some("nurse.jones")).unwrap();
    assert_eq!(listed.len(), 2);
    assert!(store
        .keyed_list("api-token")
        .unwrap()
        .iter()
        .all(|(k, v)| k != &api && !v.contains(&api)));
    let first = listed.iter().find(|t| t.label == "read only").unwrap();
    accounts.revoke_token(&first.id, "admin").unwrap();
    assert!(accounts.api_token(&narrow).unwrap().is_none());
    assert!(accounts.api_token(&api).unwrap().is_some());

    // Disabling ends sessions and revokes tokens; signing in is refused.
    let (s, _) = accounts
        .sign_in("nurse.jones", PW, "10.0.0.9")
        .unwrap()
        .unwrap();
    accounts.disable("nurse.jones", "admin").unwrap();
    assert!(accounts.session(&s).unwrap().is_none());
    assert!(accounts.api_token(&api).unwrap().is_none());
    assert_eq!(
        accounts.sign_in("nurse.jones", PW, "10.0.0.9").unwrap(),
        Err(SignInFailure::Disabled)
    );
    // A reset password replaces the old one.
    accounts.enable("nurse.jones", "admin").unwrap();
    accounts
        .reset_password("nurse.jones", "a whole new sentence here", "admin")
        .unwrap();
    assert_eq!(
        accounts.sign_in("nurse.jones", PW, "10.0.0.10").unwrap(),
        Err(SignInFailure::Invalid)
    );
    assert!(accounts
        .sign_in("nurse.jones", "a whole new sentence here", "10.0.0.10")
        .unwrap()
        .is_ok());

    // Every sign-in attempt and account change left an AuditEvent, failures included.
    let events = audit_events(&*store);
    let logins: Vec<&Value> = events
        .iter()
        .filter(|e| e["subtype"][0]["code"] == "110122")
        .collect();
    assert!(logins
        .iter()
        .any(|e| e["outcome"] == "4" && e["outcomeDesc"] == "unknown user"));
    assert!(logins.iter().any(|e| e["outcomeDesc"]
        == "wrong password; this address waits 60 s before trying this name again"));
    assert!(logins.iter().any(|e| e["outcomeDesc"] == "rate limited"));
    assert!(logins.iter().any(|e| e["outcome"] == "0"));
    assert!(events
        .iter()
        .any(|e| e["outcomeDesc"] == "account disabled" && e["type"]["code"] == "110137"));
    // None of them holds a password or a token.
    let all = serde_json::to_string(&events).unwrap();
    assert!(!all.contains(PW) && !all.contains(&api) && !all.contains(&token));
    let (hits, _) = store.scan("AuditEvent", 0, 10_000).unwrap();
    let report = store::audit::verify(hits.iter().map(|h| h.body.as_str()));
    assert!(
        report.broken.is_none() && report.linked == hits.len(),
        "{report:?}"
    );
}

/// What a sign-in attempt got, without the session.
fn attempt(
    accounts: &Accounts,
    username: &str,
    password: &str,
    from: &str,
) -> Result<(), SignInFailure> {
    accounts
        .sign_in(username, password, from)
        .unwrap()
        .map(|_| ())
}

/// Failures back off per (user name, address): the address that failed waits (1 minute after
/// five failures, doubling up to 15), everyone else signs in. Unknown and known names get
/// identical answers at every step, the "try again later" ones included.
#[test]
fn refusals_back_off_per_address_and_do_not_tell_whether_a_name_exists() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(Hand::default());
    let store = open(&dir.path().join("a.db"), clock.clone());
    let accounts = Accounts::new(store.clone(), clock.clone());
    accounts
        .add(new("admin", Role::Administrator, PW), "console")
        .unwrap();
    accounts
        .add(new("nurse.jones", Role::Nurse, PW), "admin")
        .unwrap();
    let wait = |ms: i64| {
        clock.0.fetch_add(ms, Ordering::SeqCst);
    };
    let backed_off = |ms: i64| Err(SignInFailure::BackedOff { wait_ms: ms });
    const WRONG: &str = "wrong password!";
    const MINUTE: i64 = 60_000;

    // The same ladder for a known and an unknown name, each from its own address.
    let ladder = |name: &str, from: &str| {
        let mut got = Vec::new();
        for _ in 0..5 {
            got.push(attempt(&accounts, name, WRONG, from));
        }
        // While waiting, even the right password is not checked.
        got.push(attempt(&accounts, name, PW, from));
        wait(MINUTE / 2);
        got.push(attempt(&accounts, name, PW, from));
        // Each failure after a wait doubles the next one.
        let mut remaining = MINUTE / 2;
        for _ in 0..5 {
            wait(remaining);
            got.push(attempt(&accounts, name, WRONG, from));
            got.push(attempt(&accounts, name, WRONG, from));
            let Err(SignInFailure::BackedOff { wait_ms }) = got[got.len() - 1] else {
                break;
            };
            remaining = wait_ms;
        }
        got
    };
    let expected = vec![
        Err(SignInFailure::Invalid),
        Err(SignInFailure::Invalid),
        Err(SignInFailure::Invalid),
        Err(SignInFailure::Invalid),
        backed_off(MINUTE),
        backed_off(MINUTE),
        backed_off(MINUTE / 2),
        backed_off(2 * MINUTE),
        backed_off(2 * MINUTE),
        backed_off(4 * MINUTE),
        backed_off(4 * MINUTE),
        backed_off(8 * MINUTE),
        backed_off(8 * MINUTE),
        backed_off(accounts::BACKOFF_MAX_MS),
        backed_off(accounts::BACKOFF_MAX_MS),
        backed_off(accounts::BACKOFF_MAX_MS),
        backed_off(accounts::BACKOFF_MAX_MS),
    ];
    let known = ladder("nurse.jones", "10.1.0.1");
    // Meanwhile the nurse signs in from the ward; nothing is locked.
    assert!(accounts.backed_off("nurse.jones"));
    assert!(attempt(&accounts, "nurse.jones", PW, "10.2.0.1").is_ok());
    let unknown = ladder("nobody", "10.1.0.2");
    assert_eq!(known, expected);
    assert_eq!(unknown, expected);
    // The other address's failures never touched the ward's.
    assert!(attempt(&accounts, "nurse.jones", PW, "10.2.0.1").is_ok());

    // Once the wait is over, the right password signs in, and the count starts again.
    wait(accounts::BACKOFF_MAX_MS);
    assert!(!accounts.backed_off("nurse.jones"));
    assert!(attempt(&accounts, "nurse.jones", PW, "10.1.0.1").is_ok());
    assert_eq!(
        attempt(&accounts, "nurse.jones", WRONG, "10.1.0.1"),
        Err(SignInFailure::Invalid)
    );
    // An administrator's unlock (enable) ends the waits of every address.
    for _ in 0..4 {
        let _ = attempt(&accounts, "nurse.jones", WRONG, "10.1.0.1");
    }
    assert_eq!(
        attempt(&accounts, "nurse.jones", PW, "10.1.0.1"),
        backed_off(MINUTE)
    );
    accounts.enable("nurse.jones", "admin").unwrap();
    assert!(attempt(&accounts, "nurse.jones", PW, "10.1.0.1").is_ok());

    // The rate limit per address: the same for both names too.
    wait(MINUTE);
    let mut pairs = Vec::new();
    for _ in 0..=accounts::ATTEMPTS_PER_MINUTE / 2 {
        pairs.push((
            attempt(&accounts, "nurse.jones", WRONG, "10.3.0.1"),
            attempt(&accounts, "nobody", WRONG, "10.3.0.1"),
        ));
    }
    assert!(pairs.iter().all(|(k, u)| k == u), "{pairs:?}");
    assert_eq!(pairs.last().unwrap().0, Err(SignInFailure::RateLimited));

    // A disabled account says so only to who has its password.
    accounts.disable("nurse.jones", "admin").unwrap();
    assert_eq!(
        attempt(&accounts, "nurse.jones", WRONG, "10.4.0.1"),
        attempt(&accounts, "nobody", WRONG, "10.4.0.1")
    );
    assert_eq!(
        attempt(&accounts, "nurse.jones", PW, "10.4.0.1"),
        Err(SignInFailure::Disabled)
    );

    // Each refusal is audited with its internal reason.
    let events = audit_events(&*store);
    let why = |who: &str| -> Vec<String> {
        events
            .iter()
            .filter(|e| e["subtype"][0]["code"] == "110122" && e["agent"][0]["altId"] == who)
            .filter_map(|e| e["outcomeDesc"].as_str().map(str::to_string))
            .collect()
    };
    let (nurse, nobody) = (why("nurse.jones"), why("nobody"));
    for (reasons, first) in [(&nurse, "wrong password"), (&nobody, "unknown user")] {
        assert!(reasons.iter().any(|r| r == first), "{reasons:?}");
        assert!(reasons.iter().any(
            |r| r == &format!("{first}; this address waits 60 s before trying this name again")
        ));
        assert!(reasons
            .iter()
            .any(|r| r.ends_with("backed off: too many failures from this address")));
        assert!(reasons.iter().any(|r| r == "rate limited"));
    }
    assert!(nurse.iter().any(|r| r == "account disabled"));
}

const TOKEN_URL: &str = "https://tend.example.org/auth/token";

fn es384() -> (p384::ecdsa::SigningKey, Value) {
    let key = p384::ecdsa::SigningKey::random(&mut rsa::rand_core::OsRng);
    let point = key.verifying_key().to_encoded_point(false);
    let jwk = json!({"kty": "EC", "crv": "P-384", "kid": "k1",
        "x": B64.encode(point.x().unwrap()), "y": B64.encode(point.y().unwrap())});
    (key, jwk)
}

fn assertion(key: &p384::ecdsa::SigningKey, claims: Value) -> String {
    let header = B64.encode(json!({"alg": "ES384", "kid": "k1", "typ": "JWT"}).to_string());
    let message = format!("{header}.{}", B64.encode(claims.to_string()));
    let sig: p384::ecdsa::Signature = key.sign(message.as_bytes());
    format!("{message}.{}", B64.encode(sig.to_vec()))
}

#[test]
fn smart_backend_services_tokens() {
    let (key, jwk) = es384();
    let config = json!({"clients": [{"client_id": "lab-feed", "name": "Laboratory system",
        "scopes": "system/Observation.* system/Patient.read", "jwks": {"keys": [jwk]}}]});
    let smart = Smart::from_json(&config.to_string(), std::path::Path::new(".")).unwrap();
    let now = 1_767_225_600;
    let claims = |jti: &str, aud: &str, iss: &str| json!({"iss": iss, "sub": "lab-feed", "aud": aud, "exp": now + 240, "iat": now, "jti": jti});
    let req = |assertion: String, scope: &str| TokenRequest {
        grant_type: "client_credentials".into(),
        scope: scope.into(),
        client_assertion_type: ASSERTION_TYPE.into(),
        client_assertion: assertion,
    };

    let ok = smart
        .token(
            &req(
                assertion(&key, claims("j1", TOKEN_URL, "lab-feed")),
                "system/Observation.write system/Patient.write system/Patient.read",
            ),
            TOKEN_URL,
            now,
        )
        .unwrap();
    assert_eq!(ok.scope, "system/Observation.write system/Patient.read");
    assert_eq!((ok.token_type.as_str(), ok.expires_in), ("bearer", 300));
    let p = smart.principal(&ok.access_token, now + 10).unwrap();
    assert_eq!((p.role, p.via), (Role::IntegrationService, Via::Smart));
    assert!(p.may_fhir("Observation", true) && !p.may_fhir("Observation", false));
    assert!(p.may_fhir("Patient", false) && !p.may_fhir("Patient", true));
    assert!(!p.may_fhir("Condition", false));
    // Expired after five minutes.
    assert!(smart.principal(&ok.access_token, now + 300).is_none());
    assert!(smart.principal("smart_forged", now).is_none());

    // Refusals: replayed jti, wrong audience, forged signature, unknown client, wrong grant,
    // scopes the client may not have.
    let replay = smart.token(
        &req(
            assertion(&key, claims("j1", TOKEN_URL, "lab-feed")),
            "system/Patient.read",
        ),
        TOKEN_URL,
        now,
    );
    assert_eq!(replay.unwrap_err().code, "invalid_client");
    let aud = smart.token(
        &req(
            assertion(&key, claims("j2", "https://elsewhere/token", "lab-feed")),
            "system/Patient.read",
        ),
        TOKEN_URL,
        now,
    );
    assert_eq!(aud.unwrap_err().code, "invalid_client");
    let (other, _) = es384();
    let forged = smart.token(
        &req(
            assertion(&other, claims("j3", TOKEN_URL, "lab-feed")),
            "system/Patient.read",
        ),
        TOKEN_URL,
        now,
    );
    assert_eq!(forged.unwrap_err().code, "invalid_client");
    let unknown = smart.token(
        &req(
            assertion(&key, claims("j4", TOKEN_URL, "someone")),
            "system/Patient.read",
        ),
        TOKEN_URL,
        now,
    );
    assert_eq!(unknown.unwrap_err().code, "invalid_client");
    let mut grant = req(
        assertion(&key, claims("j5", TOKEN_URL, "lab-feed")),
        "system/Patient.read",
    );
    grant.grant_type = "password".into();
    assert_eq!(
        smart.token(&grant, TOKEN_URL, now).unwrap_err().code,
        "unsupported_grant_type"
    );
    let scope = smart.token(
        &req(
            assertion(&key, claims("j6", TOKEN_URL, "lab-feed")),
            "system/Condition.read",
        ),
        TOKEN_URL,
        now,
    );
    assert_eq!(scope.unwrap_err().code, "invalid_scope");
    // An expired assertion.
    let old = json!({"iss": "lab-feed", "sub": "lab-feed", "aud": TOKEN_URL, "exp": now - 120, "iat": now - 300, "jti": "j7"});
    let expired = smart.token(
        &req(assertion(&key, old), "system/Patient.read"),
        TOKEN_URL,
        now,
    );
    assert_eq!(expired.unwrap_err().code, "invalid_client");
}
