//! Who is signed in. The server's gate finds the session from its cookie (a random token
//! whose SHA-256 digest the store keeps with the account and the session's CSRF token, so
//! sessions survive restarts) and hands the page an [`server::Auth`]; pages ask here for the
//! signed-in [`User`] holding the permission they need.

use crate::view::PageError;
use access::{Permission, Principal};
use axum::http::StatusCode;

/// The signed-in user, whatever their permissions (the account page).
pub(crate) fn anyone(auth: &AuthExt) -> Result<User, PageError> {
    from_auth(auth).ok_or(PageError::SignIn)
}
use server::Auth;

/// The session cookie (set by the sign-in page, read by the gate).
pub(crate) const COOKIE: &str = server::gate::SESSION_COOKIE;
/// The request extension the gate sets.
pub(crate) type AuthExt = Option<axum::Extension<Auth>>;

/// Who is signed in, as the pages show and use them.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    /// `Practitioner/ID`: who acknowledges, responds and records.
    pub practitioner: String,
    pub name: String,
    /// The role as shown (e.g. "Nurse").
    pub role: String,
    /// Wards of the user's role (`Location/ID`).
    pub wards: Vec<String>,
    pub csrf: String,
    pub principal: Principal,
}

impl User {
    pub(crate) fn may(&self, p: Permission) -> bool {
        self.principal.may(p)
    }

    /// Nav links: which pages the role has.
    pub(crate) fn board(&self) -> bool {
        self.may(Permission::Board)
    }
    pub(crate) fn outreach(&self) -> bool {
        self.may(Permission::Outreach)
    }
    /// A community partner (the referrals sent to their organisation).
    pub(crate) fn partner(&self) -> bool {
        self.may(Permission::ReferralsReceived)
    }
    pub(crate) fn measures(&self) -> bool {
        self.may(Permission::Measures)
    }
    pub(crate) fn tumour_board(&self) -> bool {
        self.may(Permission::TumourBoard)
    }
    /// Files safety-event reports (every member of staff).
    pub(crate) fn reports_safety(&self) -> bool {
        self.may(Permission::ReportSafetyEvents)
    }
    /// Reviews every safety-event report.
    pub(crate) fn safety_team(&self) -> bool {
        self.may(Permission::SafetyEvents)
    }
    pub(crate) fn audit(&self) -> bool {
        self.may(Permission::AuditRead)
    }
    pub(crate) fn admin(&self) -> bool {
        self.may(Permission::ManageUsers)
    }
    /// Runs the hospital's interfaces (the integrations page).
    pub(crate) fn may_interfaces(&self) -> bool {
        self.may(Permission::Interfaces)
    }

    /// Whether the user sees every ward (the hospital-wide rapid-response team).
    pub(crate) fn hospital_wide(&self) -> bool {
        self.principal.role == access::Role::RapidResponse
    }
}

fn from_auth(auth: &AuthExt) -> Option<User> {
    let a = &auth.as_ref()?.0;
    let p = a.principal.clone()?;
    if p.via != access::Via::Session {
        return None;
    }
    Some(User {
        practitioner: p
            .practitioner
            .clone()
            .unwrap_or_else(|| format!("Practitioner/{}", p.id)),
        name: p.name.clone(),
        role: p.role.title().to_string(),
        wards: p.wards.clone(),
        csrf: a.csrf.clone().unwrap_or_default(),
        principal: p,
    })
}

/// The signed-in user holding `need`: a redirect to sign in, or a 403 page naming what is
/// missing.
pub(crate) fn user(auth: &AuthExt, need: Permission) -> Result<User, PageError> {
    let u = from_auth(auth).ok_or(PageError::SignIn)?;
    if !u.may(need) {
        return Err(crate::view::error_page(
            StatusCode::FORBIDDEN,
            &format!(
                "This page is not part of the {} role. If you need it for your work, ask an administrator.",
                u.role
            ),
        ));
    }
    Ok(u)
}

/// The signed-in user of a form post holding `need`, whose CSRF token matches the session's.
pub(crate) fn poster(auth: &AuthExt, csrf: &str, need: Permission) -> Result<User, PageError> {
    let u = user(auth, need)?;
    if csrf.is_empty() || csrf != u.csrf {
        return Err(crate::view::error_page(
            StatusCode::FORBIDDEN,
            "This form has expired or did not come from Tend. Go back, reload the page and try again.",
        ));
    }
    Ok(u)
}

/// `Set-Cookie` for a session token: never readable by script, never sent cross-site, and
/// `Secure` when Tend is reached over HTTPS.
pub(crate) fn cookie(token: &str, secure: bool) -> String {
    format!(
        "{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=43200{}",
        if secure { "; Secure" } else { "" }
    )
}

pub(crate) fn clear_cookie() -> String {
    format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}
