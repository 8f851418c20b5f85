//! Sign-in with a user name and password (accounts with Argon2id hashes, a backoff per user
//! name and address and a rate limit per address: `accounts`), and sign-out. The page says
//! the same whether or not the user name exists.
//!
//! Login CSRF: the form carries a random token that must match a short-lived cookie set with
//! the page, so another site cannot sign a browser in as someone else. Session fixation: a
//! successful sign-in always issues a new session token and ends any session the browser
//! presented.

use std::net::SocketAddr;

use askama::Template;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use crate::session::{clear_cookie, cookie};
use crate::view::{self, Nav};
use crate::Web;
use server::gate::cookie_value;

/// The sign-in form's CSRF cookie.
const FORM_COOKIE: &str = "tend_signin";

#[derive(Template)]
#[template(path = "signin.html")]
struct SignInPage {
    nav: Nav,
    csrf: String,
    username: String,
    error: Option<String>,
    /// The single sign-on provider's name, when configured.
    sso: Option<String>,
}

fn form_token() -> String {
    format!("{}", uuid::Uuid::new_v4().simple())
}

fn page_with(web: &Web, status: StatusCode, username: &str, error: Option<String>) -> Response {
    let secure = web.config.secure_cookies;
    let csrf = form_token();
    let mut resp = view::render(&SignInPage {
        nav: Nav {
            user: None,
            current: "sign-in",
            zone: None,
        },
        csrf: csrf.clone(),
        username: username.to_string(),
        error,
        sso: web.app.gate.oidc.as_ref().map(|o| o.config.label.clone()),
    });
    *resp.status_mut() = status;
    if let Ok(v) = format!(
        "{FORM_COOKIE}={csrf}; Path=/sign-in; HttpOnly; SameSite=Strict; Max-Age=3600{}",
        if secure { "; Secure" } else { "" }
    )
    .parse()
    {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

pub(crate) async fn page(State(web): State<Web>) -> Response {
    page_with(&web, StatusCode::OK, "", None)
}

/// `GET /sign-in/sso`: off to the hospital's single sign-on.
pub(crate) async fn sso(State(web): State<Web>) -> Response {
    match web.app.gate.oidc.clone() {
        Some(p) => Redirect::to(&p.begin()).into_response(),
        None => page_with(
            &web,
            StatusCode::NOT_FOUND,
            "",
            Some("Single sign-on is not set up on this server.".into()),
        ),
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct Callback {
    #[serde(default)]
    code: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    error: String,
}

/// `GET /sign-in/sso/callback`: the provider vouches for someone; their account signs in.
pub(crate) async fn sso_callback(
    State(web): State<Web>,
    connect: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    axum::extract::Query(cb): axum::extract::Query<Callback>,
) -> Response {
    let gate = web.app.gate.clone();
    let Some(provider) = gate.oidc.clone() else {
        return page_with(
            &web,
            StatusCode::NOT_FOUND,
            "",
            Some("Single sign-on is not set up on this server.".into()),
        );
    };
    if !cb.error.is_empty() || cb.code.is_empty() {
        return page_with(
            &web,
            StatusCode::UNAUTHORIZED,
            "",
            Some(
                "Single sign-on did not sign you in. Try again, or use your Tend password.".into(),
            ),
        );
    }
    let username = match provider.finish(&cb.code, &cb.state).await {
        Ok(u) => u,
        Err(why) => {
            tracing::warn!(%why, "single sign-on refused");
            return page_with(
                &web,
                StatusCode::UNAUTHORIZED,
                "",
                Some(
                    "Single sign-on did not sign you in. Try again, or use your Tend password."
                        .into(),
                ),
            );
        }
    };
    let from = peer(&connect);
    let outcome =
        tokio::task::spawn_blocking(move || gate.accounts.sign_in_vouched(&username, &from)).await;
    match outcome {
        Ok(Ok(Ok((token, _)))) => (
            [(header::SET_COOKIE, cookie(&token, web.config.secure_cookies))],
            Redirect::to("/"),
        )
            .into_response(),
        Ok(Ok(Err(_))) => page_with(&web, StatusCode::FORBIDDEN, "", Some("Single sign-on knows you, but there is no enabled Tend account with your user name. Ask an administrator.".into())),
        _ => page_with(&web, StatusCode::SERVICE_UNAVAILABLE, "", Some("Signing in is not possible right now.".into())),
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct SignInForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

pub(crate) fn peer(connect: &Option<axum::Extension<ConnectInfo<SocketAddr>>>) -> String {
    connect
        .as_ref()
        .map(|c| c.0 .0.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

pub(crate) async fn submit(
    State(web): State<Web>,
    connect: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Response {
    let secure = web.config.secure_cookies;
    let expected = cookie_value(&headers, FORM_COOKIE).unwrap_or_default();
    if form.csrf.is_empty() || form.csrf != expected {
        return page_with(
            &web,
            StatusCode::FORBIDDEN,
            &form.username,
            Some("This sign-in form has expired or did not come from Tend. Try again.".into()),
        );
    }
    let gate = web.app.gate.clone();
    let from = peer(&connect);
    // A session the browser already presented ends: the new one gets a new token.
    let presented = cookie_value(&headers, crate::session::COOKIE);
    let (g, user, password, f) = (
        gate.clone(),
        form.username.trim().to_string(),
        form.password.clone(),
        from.clone(),
    );
    let outcome = tokio::task::spawn_blocking(move || {
        if let Some(old) = presented {
            let _ = g.accounts.end_session(&old, &f);
        }
        g.accounts.sign_in(&user, &password, &f)
    })
    .await;
    let message = match outcome {
        Ok(Ok(Ok((token, _)))) => {
            tracing::info!("signed in");
            return (
                [(header::SET_COOKIE, cookie(&token, secure))],
                Redirect::to("/"),
            )
                .into_response();
        }
        Ok(Ok(Err(accounts::SignInFailure::Invalid))) => {
            "The user name or password is not right.".to_string()
        }
        Ok(Ok(Err(accounts::SignInFailure::Disabled))) => {
            "This account is disabled. Ask an administrator.".to_string()
        }
        Ok(Ok(Err(accounts::SignInFailure::BackedOff { wait_ms }))) => {
            let minutes = (wait_ms + 59_999) / 60_000;
            format!(
                "Too many failed sign-ins with this user name from this device. Try again in {minutes} minute{}, or ask an administrator.",
                if minutes == 1 { "" } else { "s" }
            )
        }
        Ok(Ok(Err(accounts::SignInFailure::RateLimited))) => {
            "Too many sign-in attempts from this device. Wait a minute and try again.".to_string()
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "sign-in failed");
            "Signing in is not possible right now.".to_string()
        }
        Err(_) => "Signing in is not possible right now.".to_string(),
    };
    page_with(
        &web,
        StatusCode::UNAUTHORIZED,
        &form.username,
        Some(message),
    )
}

pub(crate) async fn sign_out(
    State(web): State<Web>,
    connect: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
) -> Response {
    if let Some(t) = cookie_value(&headers, crate::session::COOKIE) {
        let gate = web.app.gate.clone();
        let from = peer(&connect);
        let _ = tokio::task::spawn_blocking(move || gate.accounts.end_session(&t, &from)).await;
    }
    (
        [(header::SET_COOKIE, clear_cookie())],
        Redirect::to("/sign-in"),
    )
        .into_response()
}
