//! Sessions: a random token in an HttpOnly, SameSite=Strict cookie names a signed-in user
//! held in memory (signing in again after a restart is expected). Each session has its own
//! CSRF token, which every form posts back.

use crate::view::PageError;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;

/// The session cookie.
pub(crate) const COOKIE: &str = "tend_session";
/// Sessions end after this long without use.
const IDLE: Duration = Duration::from_secs(12 * 3600);

/// Who is signed in.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    /// `Practitioner/ID`: who acknowledges, responds and records.
    pub practitioner: String,
    pub name: String,
    /// The role as the hospital names it (e.g. "Staff nurse, Ward 3 East").
    pub role: String,
    /// Wards of the user's roles (`Location/ID`); empty: every ward.
    pub wards: Vec<String>,
    pub csrf: String,
}

/// The signed-in users, by session token.
#[derive(Debug, Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, (User, Instant)>>,
}

fn token() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

impl Sessions {
    /// Start a session; returns its token (a fresh one each time: no fixation).
    pub fn start(&self, mut user: User) -> String {
        user.csrf = token();
        let t = token();
        if let Ok(mut m) = self.map.lock() {
            m.retain(|_, (_, used)| used.elapsed() < IDLE);
            m.insert(t.clone(), (user, Instant::now()));
        }
        t
    }

    pub fn end(&self, token: &str) {
        if let Ok(mut m) = self.map.lock() {
            m.remove(token);
        }
    }

    fn get(&self, token: &str) -> Option<User> {
        let mut m = self.map.lock().ok()?;
        let (user, used) = m.get_mut(token)?;
        if used.elapsed() >= IDLE {
            m.remove(token);
            return None;
        }
        *used = Instant::now();
        Some(user.clone())
    }

    /// The session token of a request's cookie.
    pub(crate) fn token_of(headers: &HeaderMap) -> Option<String> {
        headers
            .get_all(axum::http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|kv| kv.trim().split_once('='))
            .find(|(k, _)| *k == COOKIE)
            .map(|(_, v)| v.to_string())
    }

    /// The signed-in user, or a redirect to the sign-in page.
    pub(crate) fn user(&self, headers: &HeaderMap) -> Result<User, PageError> {
        Self::token_of(headers)
            .and_then(|t| self.get(&t))
            .ok_or(PageError::SignIn)
    }

    /// The signed-in user of a form post whose CSRF token matches the session's.
    pub(crate) fn poster(&self, headers: &HeaderMap, csrf: &str) -> Result<User, PageError> {
        let user = self.user(headers)?;
        if csrf.is_empty() || csrf != user.csrf {
            return Err(crate::view::error_page(
                axum::http::StatusCode::FORBIDDEN,
                "This form has expired or did not come from Tend. Go back, reload the page and try again.",
            ));
        }
        Ok(user)
    }
}

/// `Set-Cookie` for a session token (`Secure` when served over HTTPS behind a proxy is the
/// proxy's job; the cookie is never readable by script and never sent cross-site).
pub(crate) fn cookie(token: &str) -> String {
    format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=43200")
}

pub(crate) fn clear_cookie() -> String {
    format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> User {
        User {
            practitioner: "Practitioner/p1".into(),
            name: "A Nurse".into(),
            role: "Staff nurse".into(),
            wards: vec![],
            csrf: String::new(),
        }
    }

    #[test]
    fn sessions_need_their_token_and_forms_their_csrf() {
        let s = Sessions::default();
        let t = s.start(user());
        let mut h = HeaderMap::new();
        h.insert("cookie", format!("x=1; {COOKIE}={t}").parse().unwrap());
        let u = s.user(&h).unwrap();
        assert_eq!(u.name, "A Nurse");
        assert!(s.poster(&h, &u.csrf).is_ok());
        assert!(s.poster(&h, "forged").is_err());
        assert!(s.poster(&h, "").is_err());
        let t2 = s.start(user());
        assert_ne!(t, t2, "every sign-in gets a new token");
        s.end(&t);
        assert!(s.user(&h).is_err());
        let mut other = HeaderMap::new();
        other.insert("cookie", format!("{COOKIE}=guessed").parse().unwrap());
        assert!(s.user(&other).is_err());
    }
}
