//! Sign-in. Until accounts exist, the development sign-in lets a person pick who they are
//! from the hospital's staff (`PractitionerRole`: practitioner, role, ward), without a
//! password; it is on only where the server was started with it.

use crate::view::PageError;
use askama::Template;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use crate::session::{clear_cookie, cookie, Sessions};
use crate::view::{self, Nav};
use crate::{blocking, User, Web};

/// One person one can sign in as.
#[derive(Debug, Clone)]
pub(crate) struct StaffOption {
    pub(crate) role_id: String,
    pub(crate) label: String,
}

#[derive(Template)]
#[template(path = "signin.html")]
struct SignInPage {
    nav: Nav,
    enabled: bool,
    staff: Vec<StaffOption>,
    error: Option<String>,
}

fn ward_name(store: &dyn store::Store, reference: &str) -> Option<String> {
    let id = reference.strip_prefix("Location/")?;
    view::read(store, "Location", id).and_then(|l| l["name"].as_str().map(str::to_string))
}

/// The user a PractitionerRole signs in as.
fn user_of(store: &dyn store::Store, role: &serde_json::Value) -> Option<User> {
    let practitioner = role["practitioner"]["reference"].as_str()?.to_string();
    let person = view::read(
        store,
        "Practitioner",
        practitioner.strip_prefix("Practitioner/")?,
    )?;
    let wards: Vec<String> = role["location"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| l["reference"].as_str().map(str::to_string))
        .filter(|r| r.starts_with("Location/ward-") || ward_name(store, r).is_some())
        .collect();
    let title = role["code"][0]["text"]
        .as_str()
        .or_else(|| role["code"][0]["coding"][0]["display"].as_str())
        .unwrap_or("Staff")
        .to_string();
    let place: Vec<String> = wards.iter().filter_map(|w| ward_name(store, w)).collect();
    Some(User {
        practitioner,
        name: view::name(&person),
        role: if place.is_empty() {
            title
        } else {
            format!("{title}, {}", place.join(", "))
        },
        wards,
        csrf: String::new(),
    })
}

fn staff(store: &dyn store::Store) -> Result<Vec<StaffOption>, PageError> {
    let roles = view::search(
        store,
        "PractitionerRole",
        &[("active", "true".into()), ("_count", "500".into())],
    )?;
    let mut out: Vec<StaffOption> = roles
        .iter()
        .filter_map(|r| {
            let u = user_of(store, r)?;
            Some(StaffOption {
                role_id: r["id"].as_str()?.to_string(),
                label: format!("{} ({})", u.name, u.role),
            })
        })
        .collect();
    out.sort_by(|a, b| a.label.cmp(&b.label));
    Ok(out)
}

pub(crate) async fn page(State(web): State<Web>) -> Response {
    let enabled = web.config.dev_sign_in;
    let store = web.app.store.clone();
    let staff = if enabled {
        match blocking(move || staff(&*store)).await {
            Ok(s) => s,
            Err(r) => return r.into_response(),
        }
    } else {
        Vec::new()
    };
    view::render(&SignInPage {
        nav: Nav {
            user: None,
            current: "sign-in",
        },
        enabled,
        staff,
        error: None,
    })
}

#[derive(Debug, Deserialize)]
pub(crate) struct SignInForm {
    #[serde(default)]
    role: String,
}

pub(crate) async fn submit(State(web): State<Web>, Form(form): Form<SignInForm>) -> Response {
    if !web.config.dev_sign_in {
        return view::error_page(
            StatusCode::FORBIDDEN,
            "Sign-in is not enabled on this server.",
        )
        .into_response();
    }
    let store = web.app.store.clone();
    let role_id = form.role.clone();
    let found = blocking(move || {
        Ok(view::read(&*store, "PractitionerRole", &role_id).and_then(|r| user_of(&*store, &r)))
    })
    .await;
    let user = match found {
        Ok(Some(u)) => u,
        Ok(None) => {
            let store = web.app.store.clone();
            let staff = blocking(move || staff(&*store)).await.unwrap_or_default();
            let mut resp = view::render(&SignInPage {
                nav: Nav {
                    user: None,
                    current: "sign-in",
                },
                enabled: true,
                staff,
                error: Some("Choose who you are from the list.".into()),
            });
            *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            return resp;
        }
        Err(r) => return r.into_response(),
    };
    tracing::info!("signed in (development sign-in)");
    let token = web.sessions.start(user);
    (
        [(header::SET_COOKIE, cookie(&token))],
        Redirect::to("/board"),
    )
        .into_response()
}

pub(crate) async fn sign_out(State(web): State<Web>, headers: HeaderMap) -> Response {
    if let Some(t) = Sessions::token_of(&headers) {
        web.sessions.end(&t);
    }
    (
        [(header::SET_COOKIE, clear_cookie())],
        Redirect::to("/sign-in"),
    )
        .into_response()
}
