//! The people and services who use Tend, and how they prove it.
//!
//! - **Accounts** of people: user name, display name, [`access::Role`], linked
//!   `Practitioner`, wards; Argon2id password hashes (PHC strings with their own salt);
//!   password rules ([`access::password_problems`]); disabling an account ends its sessions
//!   and revokes its tokens.
//! - **Sign-in** with lockout (5 consecutive failures lock the account for 15 minutes) and a
//!   rate limit per client address (20 attempts a minute); every success and failure is an
//!   `AuditEvent` (DICOM "User Authentication", login/logout), recorded with the change it
//!   caused in one commit.
//! - **Sessions** that survive restarts: the token lives only in the browser's cookie; the
//!   store keeps its SHA-256 digest with the user and the session's CSRF token.
//! - **API tokens** for people's scripts (`tend users token`): bearer tokens acting with the
//!   user's role, stored as digests, listed and revocable.
//! - **SMART backend services** ([`smart`]): client credentials with a signed JWT assertion,
//!   short-lived access tokens with granted system scopes.
//!
//! Everything is kept in the store's keyed records (spaces `account`, `session`, `api-token`),
//! never in FHIR resources, so no FHIR search can reach a hash or a token.

mod audit;
mod error;
pub mod oidc;
pub mod smart;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use access::{Principal, Role, Via};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use serde::{Deserialize, Serialize};
use sha2::Digest;
use store::{Clock, Store};

pub use audit::{agent, authentication_event};
pub use error::AccountError;

const ACCOUNT: &str = "account";
const SESSION: &str = "session";
const API_TOKEN: &str = "api-token";

/// Consecutive failed sign-ins that lock an account.
pub const LOCK_AFTER: u32 = 5;
/// How long a locked account stays locked.
pub const LOCK_MS: i64 = 15 * 60 * 1000;
/// Sign-in attempts allowed per client address per minute.
pub const ATTEMPTS_PER_MINUTE: usize = 20;
/// A session ends after this long without use.
pub const SESSION_IDLE_MS: i64 = 12 * 3600 * 1000;
/// Sessions record their last use at most this often (not a write per request).
const TOUCH_MS: i64 = 5 * 60 * 1000;

/// A person's account as stored (the hash never leaves this crate).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Account {
    pub username: String,
    pub name: String,
    pub role: Role,
    #[serde(default)]
    pub practitioner: Option<String>,
    #[serde(default)]
    pub wards: Vec<String>,
    #[serde(default)]
    pub disabled: bool,
    #[serde(skip_serializing_if = "String::is_empty", default)]
    hash: String,
    #[serde(default)]
    pub failed: u32,
    #[serde(default)]
    pub locked_until: i64,
    pub created: i64,
}

impl Account {
    /// The principal this account acts as.
    pub fn principal(&self, via: Via) -> Principal {
        Principal {
            id: self.username.clone(),
            name: self.name.clone(),
            role: self.role,
            practitioner: self.practitioner.clone(),
            wards: self.wards.clone(),
            scopes: None,
            via,
        }
    }

    /// Whether the account is locked at `now`.
    pub fn locked(&self, now: i64) -> bool {
        self.locked_until > now
    }
}

/// A new account.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub username: String,
    pub name: String,
    pub role: Role,
    pub practitioner: Option<String>,
    pub wards: Vec<String>,
    pub password: String,
}

/// A signed-in session, as the web app holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct SessionRecord {
    username: String,
    csrf: String,
    created: i64,
    last: i64,
}

/// A session found by its token.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub principal: Principal,
    /// The CSRF token every form of this session posts back.
    pub csrf: String,
}

/// An API token as listed (the token itself is shown once, when issued).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiToken {
    /// Short id to revoke it by: the first characters of its digest.
    #[serde(default)]
    pub id: String,
    pub username: String,
    pub label: String,
    pub created: i64,
    /// Narrower SMART scopes, if the token was limited when issued.
    #[serde(default)]
    pub scopes: Option<String>,
}

/// Why a sign-in failed (the person sees one message for all but the last two).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInFailure {
    /// Unknown user or wrong password.
    Invalid,
    Disabled,
    Locked {
        until: i64,
    },
    /// Too many attempts from this address.
    RateLimited,
}

/// The accounts of one store.
pub struct Accounts {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    /// Sign-in attempts per client address (times, ms), for the rate limit.
    attempts: Mutex<HashMap<String, Vec<i64>>>,
}

/// A random token: 256 bits from the OS generator, URL-safe.
pub(crate) fn random_token(prefix: &str) -> String {
    let mut bytes = Vec::with_capacity(32);
    bytes.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    bytes.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    use base64::Engine as _;
    format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// The stored form of a token.
pub(crate) fn digest(token: &str) -> String {
    let d = sha2::Sha256::digest(token.as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

fn hash_password(password: &str) -> Result<String, AccountError> {
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AccountError::Internal(format!("password hashing failed: {e}")))
}

fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A hash to verify against when the user does not exist, so that unknown names take as
/// long as wrong passwords.
fn unknown_user_hash() -> &'static str {
    static H: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    H.get_or_init(|| hash_password("not a password anyone has").unwrap_or_default())
}

fn valid_username(u: &str) -> bool {
    (2..=64).contains(&u.len())
        && u.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        && u.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
}

impl Accounts {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Accounts {
        Accounts {
            store,
            clock,
            attempts: Mutex::new(HashMap::new()),
        }
    }

    fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    /// One account.
    pub fn get(&self, username: &str) -> Result<Option<Account>, AccountError> {
        match self.store.keyed_get(ACCOUNT, username)? {
            Some(text) => Ok(Some(serde_json::from_str(&text).map_err(|e| {
                AccountError::Internal(format!("account record '{username}' is unreadable: {e}"))
            })?)),
            None => Ok(None),
        }
    }

    /// Every account, by user name.
    pub fn list(&self) -> Result<Vec<Account>, AccountError> {
        self.store
            .keyed_list(ACCOUNT)?
            .into_iter()
            .map(|(k, v)| {
                serde_json::from_str(&v).map_err(|e| {
                    AccountError::Internal(format!("account record '{k}' is unreadable: {e}"))
                })
            })
            .collect()
    }

    /// Whether no account exists yet (the first one must be an administrator).
    pub fn is_empty(&self) -> Result<bool, AccountError> {
        Ok(self.store.keyed_list(ACCOUNT)?.is_empty())
    }

    fn save(
        &self,
        account: &Account,
        mut extra: Vec<store::Keyed>,
        events: Vec<serde_json::Value>,
    ) -> Result<(), AccountError> {
        let text =
            serde_json::to_string(account).map_err(|e| AccountError::Internal(e.to_string()))?;
        extra.insert(0, (ACCOUNT.into(), account.username.clone(), Some(text)));
        self.store.keyed_put(extra, events)?;
        Ok(())
    }

    /// Add an account. The first account of a store must be an administrator.
    pub fn add(&self, new: NewAccount, by: &str) -> Result<Account, AccountError> {
        if !valid_username(&new.username) {
            return Err(AccountError::Invalid(
                "a user name is 2 to 64 letters, digits, '.', '-' or '_', starting with a letter or digit".into(),
            ));
        }
        if new.name.trim().is_empty() {
            return Err(AccountError::Invalid("give the person's name".into()));
        }
        if self.get(&new.username)?.is_some() {
            return Err(AccountError::Exists(new.username));
        }
        if self.is_empty()? && new.role != Role::Administrator {
            return Err(AccountError::Invalid(
                "the first account must be an administrator (--role administrator)".into(),
            ));
        }
        if new.role == Role::IntegrationService {
            return Err(AccountError::Invalid(
                "integration services authenticate as SMART backend-services clients, not accounts"
                    .into(),
            ));
        }
        let problems = access::password_problems(&new.password, &new.username);
        if !problems.is_empty() {
            return Err(AccountError::WeakPassword(problems.join("; ")));
        }
        let account = Account {
            username: new.username,
            name: new.name.trim().to_string(),
            role: new.role,
            practitioner: new.practitioner,
            wards: new.wards,
            disabled: false,
            hash: hash_password(&new.password)?,
            failed: 0,
            locked_until: 0,
            created: self.now(),
        };
        let event = audit::admin_event(self.now(), by, "account added", &account.username);
        self.save(&account, vec![], vec![event])?;
        Ok(account)
    }

    /// Disable an account: its sessions end and its API tokens are revoked.
    pub fn disable(&self, username: &str, by: &str) -> Result<(), AccountError> {
        let mut a = self
            .get(username)?
            .ok_or_else(|| AccountError::NotFound(username.into()))?;
        a.disabled = true;
        let mut gone = self.sessions_of(username)?;
        gone.extend(self.token_keys_of(username)?);
        let event = audit::admin_event(self.now(), by, "account disabled", username);
        self.save(&a, gone, vec![event])
    }

    /// Enable a disabled account (and unlock it).
    pub fn enable(&self, username: &str, by: &str) -> Result<(), AccountError> {
        let mut a = self
            .get(username)?
            .ok_or_else(|| AccountError::NotFound(username.into()))?;
        a.disabled = false;
        a.failed = 0;
        a.locked_until = 0;
        let event = audit::admin_event(self.now(), by, "account enabled", username);
        self.save(&a, vec![], vec![event])
    }

    /// Set a new password (and unlock the account); the account's sessions end.
    pub fn reset_password(
        &self,
        username: &str,
        password: &str,
        by: &str,
    ) -> Result<(), AccountError> {
        let mut a = self
            .get(username)?
            .ok_or_else(|| AccountError::NotFound(username.into()))?;
        let problems = access::password_problems(password, username);
        if !problems.is_empty() {
            return Err(AccountError::WeakPassword(problems.join("; ")));
        }
        a.hash = hash_password(password)?;
        a.failed = 0;
        a.locked_until = 0;
        let gone = self.sessions_of(username)?;
        let event = audit::admin_event(self.now(), by, "password reset", username);
        self.save(&a, gone, vec![event])
    }

    fn sessions_of(&self, username: &str) -> Result<Vec<store::Keyed>, AccountError> {
        Ok(self
            .store
            .keyed_list(SESSION)?
            .into_iter()
            .filter(|(_, v)| {
                serde_json::from_str::<SessionRecord>(v).is_ok_and(|s| s.username == username)
            })
            .map(|(k, _)| (SESSION.to_string(), k, None))
            .collect())
    }

    fn token_keys_of(&self, username: &str) -> Result<Vec<store::Keyed>, AccountError> {
        Ok(self
            .store
            .keyed_list(API_TOKEN)?
            .into_iter()
            .filter(|(_, v)| {
                serde_json::from_str::<ApiToken>(v).is_ok_and(|t| t.username == username)
            })
            .map(|(k, _)| (API_TOKEN.to_string(), k, None))
            .collect())
    }

    /// Record a refused sign-in.
    fn refused(
        &self,
        username: &str,
        role: Option<Role>,
        from: &str,
        why: &str,
    ) -> Result<(), AccountError> {
        let event = audit::authentication_event(self.now(), username, role, from, false, why);
        self.store.audit(vec![event])?;
        Ok(())
    }

    /// Count a sign-in attempt from `from`; false when over the limit.
    fn admit(&self, from: &str) -> bool {
        let now = self.now();
        let Ok(mut m) = self.attempts.lock() else {
            return false;
        };
        if m.len() > 10_000 {
            m.retain(|_, v| v.iter().any(|t| now - t < 60_000));
        }
        let v = m.entry(from.to_string()).or_default();
        v.retain(|t| now - t < 60_000);
        if v.len() >= ATTEMPTS_PER_MINUTE {
            return false;
        }
        v.push(now);
        true
    }

    /// Sign in with a password from client address `from`. On success, a new session
    /// (a fresh token every time: an old or planted token never becomes signed in).
    pub fn sign_in(
        &self,
        username: &str,
        password: &str,
        from: &str,
    ) -> Result<Result<(String, Session), SignInFailure>, AccountError> {
        let now = self.now();
        if !self.admit(from) {
            self.refused(username, None, from, "rate limited")?;
            return Ok(Err(SignInFailure::RateLimited));
        }
        let Some(mut a) = self.get(username)? else {
            verify_password(password, unknown_user_hash());
            self.refused(username, None, from, "unknown user")?;
            return Ok(Err(SignInFailure::Invalid));
        };
        if a.disabled {
            self.refused(username, Some(a.role), from, "account disabled")?;
            return Ok(Err(SignInFailure::Disabled));
        }
        if a.locked(now) {
            self.refused(username, Some(a.role), from, "account locked")?;
            return Ok(Err(SignInFailure::Locked {
                until: a.locked_until,
            }));
        }
        if !verify_password(password, &a.hash) {
            a.failed += 1;
            let why = if a.failed >= LOCK_AFTER {
                a.locked_until = now + LOCK_MS;
                a.failed = 0;
                "wrong password; account locked"
            } else {
                "wrong password"
            };
            let event = audit::authentication_event(now, username, Some(a.role), from, false, why);
            self.save(&a, vec![], vec![event])?;
            return Ok(Err(if a.locked(now) {
                SignInFailure::Locked {
                    until: a.locked_until,
                }
            } else {
                SignInFailure::Invalid
            }));
        }
        a.failed = 0;
        a.locked_until = 0;
        self.open_session(a, from, "signed in").map(Ok)
    }

    /// Start a session for an account someone proved to be (a password, or the hospital's
    /// single sign-on), recording the sign-in with `how`.
    fn open_session(
        &self,
        a: Account,
        from: &str,
        how: &str,
    ) -> Result<(String, Session), AccountError> {
        let now = self.now();
        let token = random_token("");
        let record = SessionRecord {
            username: a.username.clone(),
            csrf: random_token(""),
            created: now,
            last: now,
        };
        let text =
            serde_json::to_string(&record).map_err(|e| AccountError::Internal(e.to_string()))?;
        let event = audit::authentication_event(now, &a.username, Some(a.role), from, true, how);
        self.save(
            &a,
            vec![(SESSION.into(), digest(&token), Some(text))],
            vec![event],
        )?;
        Ok((
            token,
            Session {
                principal: a.principal(Via::Session),
                csrf: record.csrf,
            },
        ))
    }

    /// Sign in a person the hospital's single sign-on vouched for: the account must exist
    /// and be enabled (single sign-on authenticates; Tend's accounts decide the role).
    pub fn sign_in_vouched(
        &self,
        username: &str,
        from: &str,
    ) -> Result<Result<(String, Session), SignInFailure>, AccountError> {
        let Some(a) = self.get(username)? else {
            self.refused(username, None, from, "single sign-on: no account")?;
            return Ok(Err(SignInFailure::Invalid));
        };
        if a.disabled {
            self.refused(
                username,
                Some(a.role),
                from,
                "single sign-on: account disabled",
            )?;
            return Ok(Err(SignInFailure::Disabled));
        }
        self.open_session(a, from, "signed in (single sign-on)")
            .map(Ok)
    }

    /// The session a cookie's token names, if it is current and its account is enabled.
    pub fn session(&self, token: &str) -> Result<Option<Session>, AccountError> {
        let key = digest(token);
        let Some(text) = self.store.keyed_get(SESSION, &key)? else {
            return Ok(None);
        };
        let Ok(mut record) = serde_json::from_str::<SessionRecord>(&text) else {
            return Ok(None);
        };
        let now = self.now();
        if now - record.last >= SESSION_IDLE_MS {
            self.store
                .keyed_put(vec![(SESSION.into(), key, None)], vec![])?;
            return Ok(None);
        }
        let Some(a) = self.get(&record.username)? else {
            return Ok(None);
        };
        if a.disabled {
            return Ok(None);
        }
        if now - record.last >= TOUCH_MS {
            record.last = now;
            let text = serde_json::to_string(&record)
                .map_err(|e| AccountError::Internal(e.to_string()))?;
            self.store
                .keyed_put(vec![(SESSION.into(), key, Some(text))], vec![])?;
        }
        Ok(Some(Session {
            principal: a.principal(Via::Session),
            csrf: record.csrf,
        }))
    }

    /// End a session (sign out), recording the logout.
    pub fn end_session(&self, token: &str, from: &str) -> Result<(), AccountError> {
        let key = digest(token);
        let who = self
            .store
            .keyed_get(SESSION, &key)?
            .and_then(|t| serde_json::from_str::<SessionRecord>(&t).ok());
        let events = match who {
            Some(r) => vec![audit::logout_event(self.now(), &r.username, from)],
            None => vec![],
        };
        self.store
            .keyed_put(vec![(SESSION.into(), key, None)], events)?;
        Ok(())
    }

    /// Issue an API token for a person's scripts; returns the token (shown once).
    pub fn issue_token(
        &self,
        username: &str,
        label: &str,
        scopes: Option<&str>,
        by: &str,
    ) -> Result<String, AccountError> {
        let a = self
            .get(username)?
            .ok_or_else(|| AccountError::NotFound(username.into()))?;
        if a.disabled {
            return Err(AccountError::Invalid(format!("{username} is disabled")));
        }
        if let Some(s) = scopes {
            let parsed =
                access::Scopes::parse(s).map_err(|e| AccountError::Invalid(e.to_string()))?;
            if parsed.is_empty() {
                return Err(AccountError::Invalid(
                    "no resource scopes given (like user/Observation.read)".into(),
                ));
            }
        }
        let token = random_token("tend_");
        let key = digest(&token);
        let record = ApiToken {
            id: key[..12].to_string(),
            username: username.into(),
            label: label.into(),
            created: self.now(),
            scopes: scopes.map(str::to_string),
        };
        let text =
            serde_json::to_string(&record).map_err(|e| AccountError::Internal(e.to_string()))?;
        let event = audit::admin_event(self.now(), by, "API token issued", username);
        self.store
            .keyed_put(vec![(API_TOKEN.into(), key, Some(text))], vec![event])?;
        Ok(token)
    }

    /// API tokens, of one user or all.
    pub fn tokens(&self, username: Option<&str>) -> Result<Vec<ApiToken>, AccountError> {
        Ok(self
            .store
            .keyed_list(API_TOKEN)?
            .into_iter()
            .filter_map(|(k, v)| {
                let mut t: ApiToken = serde_json::from_str(&v).ok()?;
                t.id = k[..12].to_string();
                Some(t)
            })
            .filter(|t| username.is_none_or(|u| t.username == u))
            .collect())
    }

    /// Revoke an API token by its id (as listed).
    pub fn revoke_token(&self, id: &str, by: &str) -> Result<(), AccountError> {
        let found = self
            .store
            .keyed_list(API_TOKEN)?
            .into_iter()
            .find(|(k, _)| id.len() >= 8 && k.starts_with(id));
        let Some((key, v)) = found else {
            return Err(AccountError::NotFound(format!("API token {id}")));
        };
        let user = serde_json::from_str::<ApiToken>(&v)
            .map(|t| t.username)
            .unwrap_or_default();
        let event = audit::admin_event(self.now(), by, "API token revoked", &user);
        self.store
            .keyed_put(vec![(API_TOKEN.into(), key, None)], vec![event])?;
        Ok(())
    }

    /// The person an API token acts for, if it is valid and the account enabled.
    pub fn api_token(&self, token: &str) -> Result<Option<Principal>, AccountError> {
        if !token.starts_with("tend_") {
            return Ok(None);
        }
        let Some(text) = self.store.keyed_get(API_TOKEN, &digest(token))? else {
            return Ok(None);
        };
        let Ok(record) = serde_json::from_str::<ApiToken>(&text) else {
            return Ok(None);
        };
        let Some(a) = self.get(&record.username)? else {
            return Ok(None);
        };
        if a.disabled {
            return Ok(None);
        }
        let mut p = a.principal(Via::ApiToken);
        if let Some(s) = &record.scopes {
            p.scopes = access::Scopes::parse(s).ok();
        }
        Ok(Some(p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_and_salted() {
        let a = hash_password("correct horse battery").unwrap();
        let b = hash_password("correct horse battery").unwrap();
        assert!(a.starts_with("$argon2id$"), "{a}");
        assert_ne!(a, b);
        assert!(verify_password("correct horse battery", &a));
        assert!(!verify_password("correct horse batterx", &a));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn user_names() {
        assert!(valid_username("nurse.jones"));
        assert!(!valid_username(".x"));
        assert!(!valid_username("a b"));
        assert!(!valid_username("x"));
    }
}
