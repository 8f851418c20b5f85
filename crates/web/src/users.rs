//! The administrator's accounts page (`/admin/users`): every account with its role, wards
//! and state; add an account, disable or enable one, set a new password, issue and revoke
//! API tokens (a new token is shown once). Every change is an AuditEvent naming the
//! administrator (written by `accounts`).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use crate::view::{self, Nav, PageError};
use crate::{blocking, Web};

pub(crate) struct Line {
    username: String,
    name: String,
    role: String,
    wards: String,
    state: &'static str,
    disabled: bool,
    tokens: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    nav: Nav,
    lines: Vec<Line>,
    roles: Vec<(&'static str, &'static str)>,
    /// Organisations a community partner may work for: (id, name).
    organizations: Vec<(String, String)>,
    notice: Option<String>,
    error: Option<String>,
    /// A token just issued, shown once.
    token: Option<String>,
}

fn accounts(web: &Web) -> Result<std::sync::Arc<server::Gate>, PageError> {
    Ok(web.app.gate.clone())
}

fn render(
    web: &Web,
    user: &crate::User,
    status: StatusCode,
    notice: Option<String>,
    error: Option<String>,
    token: Option<String>,
) -> Result<Response, PageError> {
    let gate = accounts(web)?;
    let list = gate
        .accounts
        .list()
        .map_err(|e| view::error_page(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()))?;
    let tokens = gate.accounts.tokens(None).unwrap_or_default();
    let lines = list
        .into_iter()
        .map(|a| Line {
            tokens: tokens
                .iter()
                .filter(|t| t.username == a.username)
                .map(|t| (t.id.clone(), t.label.clone()))
                .collect(),
            state: if a.disabled {
                "disabled"
            } else if gate.accounts.backed_off(&a.username) {
                "backed off"
            } else {
                "active"
            },
            disabled: a.disabled,
            // Wards by name, as the board shows them (the id when the ward is gone); a
            // community partner's organisation.
            wards: a
                .wards
                .iter()
                .map(|w| {
                    let id = w.trim_start_matches("Location/");
                    view::read(&*web.app.store, &store::Access::system(), "Location", id)
                        .and_then(|l| l["name"].as_str().map(str::to_string))
                        .unwrap_or_else(|| id.to_string())
                })
                .chain(a.organization.iter().map(|o| {
                    view::read(&*web.app.store, &store::Access::system(), "Organization", o)
                        .and_then(|l| l["name"].as_str().map(str::to_string))
                        .unwrap_or_else(|| o.clone())
                }))
                .collect::<Vec<_>>()
                .join(", "),
            role: a.role.title().to_string(),
            name: a.name,
            username: a.username,
        })
        .collect();
    let mut resp = view::render(&UsersPage {
        nav: Nav::new(user, "users", web.config.zone),
        lines,
        roles: access::Role::ALL
            .into_iter()
            .filter(|r| *r != access::Role::IntegrationService)
            .map(|r| (r.code(), r.title()))
            .collect(),
        organizations: organizations(web),
        notice,
        error,
        token,
    });
    *resp.status_mut() = status;
    Ok(resp)
}

pub(crate) async fn page(
    State(web): State<Web>,
    auth: crate::session::AuthExt,
    Query(q): Query<Shown>,
) -> Result<Response, PageError> {
    let user = crate::session::user(&auth, access::Permission::ManageUsers)?;
    let message = q.done.and_then(|k| web.flash.take(&user.principal.id, &k));
    let (notice, token) = match message {
        Some(m) => (Some(m.notice), m.secret),
        None => (None, None),
    };
    blocking(move || render(&web, &user, StatusCode::OK, notice, None, token)).await
}

/// `?done=KEY`: the outcome of the post that redirected here, shown once.
#[derive(Debug, Deserialize)]
pub(crate) struct Shown {
    done: Option<String>,
}

/// After a change: back to the page with its outcome, so a reload changes nothing.
fn redirect_done(
    web: &Web,
    user: &crate::User,
    notice: String,
    secret: Option<String>,
) -> Response {
    let key = web
        .flash
        .put(&user.principal.id, crate::flash::Message { notice, secret });
    Redirect::to(&format!("/admin/users?done={key}")).into_response()
}

/// Organisations in the directory, by name (community partners work for one).
fn organizations(web: &Web) -> Vec<(String, String)> {
    let params = [("_count", "500".to_string()), ("_sort", "name".to_string())];
    let mut out: Vec<(String, String)> = view::search(
        &*web.app.store,
        &store::Access::system(),
        "Organization",
        &params,
    )
    .unwrap_or_default()
    .into_iter()
    .filter_map(|o| {
        Some((
            o["id"].as_str()?.to_string(),
            o["name"].as_str()?.to_string(),
        ))
    })
    .collect();
    out.sort_by(|a, b| a.1.cmp(&b.1));
    out
}

/// Wards and the practitioner of a new account must exist: a typo would leave a nurse with
/// no patients (or someone else's name on every alert answered).
fn check_links(web: &Web, new: &accounts::NewAccount) -> Result<(), String> {
    let store = &*web.app.store;
    for w in &new.wards {
        let id = w.trim_start_matches("Location/");
        let ward = view::read(store, &store::Access::system(), "Location", id);
        let is_ward = ward.as_ref().is_some_and(|l| {
            l["physicalType"]["coding"]
                .as_array()
                .is_some_and(|c| c.iter().any(|x| x["code"] == "wa"))
        });
        if !is_ward {
            return Err(format!(
                "'{id}' is not a ward Tend knows: use a ward's id, as the board shows it."
            ));
        }
    }
    if let Some(o) = &new.organization {
        if view::read(store, &store::Access::system(), "Organization", o).is_none() {
            return Err(format!("There is no organisation '{o}' in the directory."));
        }
    }
    if let Some(p) = &new.practitioner {
        let id = p.trim_start_matches("Practitioner/");
        if view::read(store, &store::Access::system(), "Practitioner", id).is_none() {
            return Err(format!("There is no practitioner '{id}' in the record."));
        }
    }
    Ok(())
}

#[derive(Debug, Deserialize)]
pub(crate) struct AddForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    practitioner: String,
    #[serde(default)]
    wards: String,
    #[serde(default)]
    organization: String,
    #[serde(default)]
    password: String,
}

pub(crate) async fn add(
    State(web): State<Web>,
    auth: crate::session::AuthExt,
    Form(f): Form<AddForm>,
) -> Result<Response, PageError> {
    let user = crate::session::poster(&auth, &f.csrf, access::Permission::ManageUsers)?;
    blocking(move || {
        let gate = accounts(&web)?;
        let Some(role) = access::Role::parse(&f.role) else {
            return render(
                &web,
                &user,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                Some("Choose a role.".into()),
                None,
            );
        };
        let new = accounts::NewAccount {
            username: f.username.trim().to_string(),
            name: f.name.clone(),
            role,
            practitioner: Some(f.practitioner.trim().to_string()).filter(|p| !p.is_empty()),
            wards: f
                .wards
                .split(',')
                .map(str::trim)
                .filter(|w| !w.is_empty())
                .map(|w| {
                    if w.contains('/') {
                        w.to_string()
                    } else {
                        format!("Location/{w}")
                    }
                })
                .collect(),
            organization: Some(
                f.organization
                    .trim()
                    .trim_start_matches("Organization/")
                    .to_string(),
            )
            .filter(|o| !o.is_empty()),
            password: f.password.clone(),
        };
        if let Err(why) = check_links(&web, &new) {
            return render(
                &web,
                &user,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                Some(why),
                None,
            );
        }
        match gate.accounts.add(new, &user.principal.id) {
            Ok(a) => Ok(redirect_done(
                &web,
                &user,
                format!("Added {} ({}).", a.username, a.role.title()),
                None,
            )),
            Err(e) => render(
                &web,
                &user,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                Some(e.to_string()),
                None,
            ),
        }
    })
    .await
}

#[derive(Debug, Deserialize)]
pub(crate) struct ActForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    label: String,
    #[serde(default)]
    token: String,
}

/// `POST /admin/users/{username}/{action}`: disable, enable, password, token, revoke.
pub(crate) async fn act(
    State(web): State<Web>,
    auth: crate::session::AuthExt,
    Path((username, action)): Path<(String, String)>,
    Form(f): Form<ActForm>,
) -> Result<Response, PageError> {
    let user = crate::session::poster(&auth, &f.csrf, access::Permission::ManageUsers)?;
    blocking(move || {
        let gate = accounts(&web)?;
        let by = user.principal.id.clone();
        let a = &gate.accounts;
        let done: Result<(String, Option<String>), accounts::AccountError> = match action.as_str() {
            "disable" if username == by => Err(accounts::AccountError::Invalid("you cannot disable your own account".into())),
            "disable" => a.disable(&username, &by).map(|_| (format!("Disabled {username}: their sessions ended and their API tokens were revoked."), None)),
            "enable" => a.enable(&username, &by).map(|_| (format!("Enabled {username}."), None)),
            "password" => a.reset_password(&username, &f.password, &by).map(|_| (format!("New password set for {username}; their sessions ended."), None)),
            "token" => {
                let label = if f.label.trim().is_empty() { "script" } else { f.label.trim() };
                a.issue_token(&username, label, None, &by).map(|t| (format!("API token issued for {username}. Copy it now: it is not shown again."), Some(t)))
            }
            "revoke" => a.revoke_token(&f.token, &by).map(|_| (format!("Revoked token {}.", f.token), None)),
            _ => return Err(view::error_page(StatusCode::NOT_FOUND, "No such action.")),
        };
        match done {
            Ok((notice, token)) => Ok(redirect_done(&web, &user, notice, token)),
            Err(e) => render(&web, &user, StatusCode::UNPROCESSABLE_ENTITY, None, Some(e.to_string()), None),
        }
    })
    .await
}
