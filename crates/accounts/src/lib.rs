//! The people and services who use Tend, and how they prove it.
//!
//! - **Accounts** of people: user name, display name, [`access::Role`], linked
//!   `Practitioner`, wards; Argon2id password hashes (PHC strings with their own salt);
//!   password rules ([`access::password_problems`]); disabling an account ends its sessions
//!   and revokes its tokens.
//! - **Sign-in** with a backoff per user name and client address (after 5 failures from one
//!   address, that address waits 1 minute before trying that name again, doubling with each
//!   further failure up to 15 minutes; people signing in from elsewhere are not affected)
//!   and a rate limit per client address (20 attempts a minute). Every refusal looks the
//!   same whether or not the user name exists (same answer, same work); every success and
//!   failure is an `AuditEvent` (DICOM "User Authentication", login/logout) that says why.
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

/// Failed sign-ins for one user name from one client address before that address must wait
/// to try the name again. A success from the address starts the count again.
pub const BACKOFF_AFTER: u32 = 5;
/// The first wait, after [`BACKOFF_AFTER`] failures; each further failure doubles it.
pub const BACKOFF_FIRST_MS: i64 = 60 * 1000;
/// The longest wait (reached at the fifth doubling).
pub const BACKOFF_MAX_MS: i64 = 15 * 60 * 1000;
/// Failures of a (user name, address) pair are forgotten this long after the last one.
/// Longer than [`BACKOFF_MAX_MS`], so a guesser cannot start afresh by waiting out a wait.
const FORGET_MS: i64 = 24 * 3600 * 1000;
/// Pairs kept in memory before forgotten ones are dropped (and, past ten times as many,
/// all but those waiting): many addresses must not exhaust memory.
const PAIRS_KEPT: usize = 10_000;
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
    /// A community partner's organisation (`Organization` id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    #[serde(default)]
    pub disabled: bool,
    #[serde(skip_serializing_if = "String::is_empty", default)]
    hash: String,
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
            organization: self.organization.clone(),
            scopes: None,
            via,
        }
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
    /// A community partner's organisation (`Organization` id); required for that role.
    pub organization: Option<String>,
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

/// Why a sign-in failed. None of them tells whether the user name exists: an unknown name
/// gets exactly what a known one with a wrong password gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInFailure {
    /// Unknown user name or wrong password.
    Invalid,
    /// The right password, for a disabled account: only who knows the password learns it.
    Disabled,
    /// Too many failures for this user name from this address: try again after `wait_ms`
    /// (the password was not checked).
    BackedOff { wait_ms: i64 },
    /// Too many attempts from this address, whatever the user name.
    RateLimited,
}

/// Failed sign-ins of one (user name, client address) pair.
#[derive(Debug, Clone, Copy, Default)]
struct Failures {
    count: u32,
    last: i64,
    /// No attempt for this pair before this time.
    wait_until: i64,
}

/// The wait after `count` failures: none below [`BACKOFF_AFTER`], then
/// [`BACKOFF_FIRST_MS`] doubling up to [`BACKOFF_MAX_MS`].
fn backoff_ms(count: u32) -> i64 {
    match count.checked_sub(BACKOFF_AFTER) {
        None => 0,
        Some(doublings) => BACKOFF_FIRST_MS
            .saturating_mul(1 << doublings.min(20))
            .min(BACKOFF_MAX_MS),
    }
}

/// The accounts of one store.
pub struct Accounts {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    /// Sign-in attempts per client address (times, ms), for the rate limit.
    attempts: Mutex<HashMap<String, Vec<i64>>>,
    /// Failed sign-ins per (user name, client address), known names or not. In memory: a
    /// restart forgets them, like the rate limit.
    failures: Mutex<HashMap<(String, String), Failures>>,
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
            failures: Mutex::new(HashMap::new()),
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
        if new.role == Role::CommunityPartner
            && new
                .organization
                .as_deref()
                .is_none_or(|o| o.trim().is_empty())
        {
            return Err(AccountError::Invalid(
                "a community partner works for one organisation: give it (--organization)".into(),
            ));
        }
        if new.role != Role::CommunityPartner && new.organization.is_some() {
            return Err(AccountError::Invalid(
                "only community partners are given an organisation".into(),
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
            organization: new.organization,
            disabled: false,
            hash: hash_password(&new.password)?,
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

    /// Enable a disabled account, and let every address that is waiting to try it again
    /// try at once.
    pub fn enable(&self, username: &str, by: &str) -> Result<(), AccountError> {
        let mut a = self
            .get(username)?
            .ok_or_else(|| AccountError::NotFound(username.into()))?;
        a.disabled = false;
        self.forget_failures(username);
        let event = audit::admin_event(self.now(), by, "account enabled", username);
        self.save(&a, vec![], vec![event])
    }

    /// Set a new password (addresses waiting to try the account may try at once); the
    /// account's sessions end.
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
        self.forget_failures(username);
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

    /// The key of a (user name, address) pair; user names are at most 64 characters, so
    /// longer ones (unknown by construction) cannot take more memory.
    fn pair(username: &str, from: &str) -> (String, String) {
        (username.chars().take(64).collect(), from.to_string())
    }

    /// How long the pair must still wait before its next attempt (0: it may try now).
    fn waiting(&self, username: &str, from: &str, now: i64) -> i64 {
        let Ok(m) = self.failures.lock() else {
            return 0;
        };
        m.get(&Self::pair(username, from))
            .map_or(0, |f| (f.wait_until - now).max(0))
    }

    /// Count a failure of the pair; returns the wait it must now keep (0 for none).
    fn failed(&self, username: &str, from: &str, now: i64) -> i64 {
        let Ok(mut m) = self.failures.lock() else {
            return 0;
        };
        if m.len() > PAIRS_KEPT {
            m.retain(|_, f| now - f.last < FORGET_MS);
            if m.len() > 10 * PAIRS_KEPT {
                m.retain(|_, f| f.wait_until > now);
            }
        }
        let f = m.entry(Self::pair(username, from)).or_default();
        if now - f.last >= FORGET_MS {
            *f = Failures::default();
        }
        f.count = f.count.saturating_add(1);
        f.last = now;
        let wait = backoff_ms(f.count);
        f.wait_until = now + wait;
        wait
    }

    /// A success from an address: its failures for this name are forgotten.
    fn succeeded(&self, username: &str, from: &str) {
        if let Ok(mut m) = self.failures.lock() {
            m.remove(&Self::pair(username, from));
        }
    }

    /// An administrator's unlock: every address may try this name again at once.
    fn forget_failures(&self, username: &str) {
        if let Ok(mut m) = self.failures.lock() {
            m.retain(|(name, _), _| name != username);
        }
    }

    /// Whether some address must wait before trying this user name again (for the list of
    /// accounts; an administrator's [`Accounts::enable`] or password reset ends the waits).
    pub fn backed_off(&self, username: &str) -> bool {
        let now = self.now();
        self.failures.lock().is_ok_and(|m| {
            m.iter()
                .any(|((name, _), f)| name == username && f.wait_until > now)
        })
    }

    /// Sign in with a password from client address `from`. On success, a new session
    /// (a fresh token every time: an old or planted token never becomes signed in).
    ///
    /// Refusals do not tell whether the user name exists: an unknown name costs the same
    /// password check, counts failures and backs off exactly like a wrong password, and
    /// gets the same answers. Only the right password of a disabled account gets
    /// [`SignInFailure::Disabled`].
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
        let account = self.get(username)?;
        let role = account.as_ref().map(|a| a.role);
        let wait_ms = self.waiting(username, from, now);
        if wait_ms > 0 {
            let why = if account.is_some() {
                "backed off: too many failures from this address"
            } else {
                "unknown user; backed off: too many failures from this address"
            };
            self.refused(username, role, from, why)?;
            return Ok(Err(SignInFailure::BackedOff { wait_ms }));
        }
        let right = verify_password(
            password,
            account.as_ref().map_or(unknown_user_hash(), |a| &a.hash),
        );
        let Some(a) = account.filter(|_| right) else {
            let wait_ms = self.failed(username, from, now);
            let mut why = if role.is_some() {
                "wrong password"
            } else {
                "unknown user"
            }
            .to_string();
            if wait_ms > 0 {
                why.push_str(&format!(
                    "; this address waits {} s before trying this name again",
                    wait_ms / 1000
                ));
            }
            self.refused(username, role, from, &why)?;
            return Ok(Err(if wait_ms > 0 {
                SignInFailure::BackedOff { wait_ms }
            } else {
                SignInFailure::Invalid
            }));
        };
        if a.disabled {
            self.refused(username, Some(a.role), from, "account disabled")?;
            return Ok(Err(SignInFailure::Disabled));
        }
        self.succeeded(username, from);
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
