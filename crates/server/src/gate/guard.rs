//! The gate as middleware: finds the caller (bearer token or session cookie) and any
//! break-the-glass reason, lets public pages through, and hands `/api` and `/fhir` requests
//! to their checks ([`super::api`], [`super::fhir`]). The caller rides on the request for
//! the handlers and on the response for the audit record.

use access::BreakGlass;
use axum::extract::Request;
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{Auth, BREAK_GLASS_HEADER, SESSION_COOKIE};
use crate::{ApiError, AppState};

/// A cookie's value from a request's headers.
pub fn cookie_value(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

fn is_public(path: &str) -> bool {
    matches!(
        path,
        "/" | "/sign-in" | "/sign-out" | "/fhir/metadata" | "/auth/token"
    ) || path.starts_with("/assets/")
        || path.starts_with("/fhir/.well-known/")
        || path == "/cds-services"
        || path.starts_with("/cds-services/")
}

/// The gate as a layer over the whole application.
pub fn guarded(app: axum::Router, state: AppState) -> axum::Router {
    app.layer(axum::middleware::from_fn(
        move |req: Request, next: Next| {
            let state = state.clone();
            async move { guard(state, req, next).await }
        },
    ))
}

pub(super) fn with_auth(mut resp: Response, auth: Auth) -> Response {
    resp.extensions_mut().insert(auth);
    resp
}

async fn guard(state: AppState, mut req: Request, next: Next) -> Response {
    let gate = state.gate.clone();
    let path = req.uri().path().to_string();
    let mut auth = Auth::default();
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(|t| t.trim().to_string());
    if let Some(token) = bearer {
        // CDS Hooks clients send their own signed JWTs, checked by the CDS service.
        if !path.starts_with("/cds-services") {
            let g = gate.clone();
            match tokio::task::spawn_blocking(move || g.bearer(&token)).await {
                Ok(Ok(Some(p))) => auth.principal = Some(p),
                Ok(Ok(None)) => {
                    return with_auth(
                        ApiError::Unauthorized(
                            "the bearer token is not valid: it is unknown, expired or revoked"
                                .into(),
                        )
                        .into_response(),
                        auth,
                    )
                }
                Ok(Err(e)) => return e.into_response(),
                Err(_) => return ApiError::Unavailable.into_response(),
            }
        }
    } else if let Some(token) = cookie_value(req.headers(), SESSION_COOKIE) {
        let g = gate.clone();
        if let Ok(Ok(Some(s))) =
            tokio::task::spawn_blocking(move || g.accounts.session(&token)).await
        {
            auth.principal = Some(s.principal);
            auth.csrf = Some(s.csrf);
        }
    }
    if let Some(reason) = req
        .headers()
        .get(BREAK_GLASS_HEADER)
        .and_then(|v| v.to_str().ok())
    {
        match BreakGlass::new(reason) {
            Ok(b) => auth.break_glass = Some(b.reason().to_string()),
            Err(why) => {
                return with_auth(
                    ApiError::BadRequest(format!("{BREAK_GLASS_HEADER}: {why}")).into_response(),
                    auth,
                )
            }
        }
    }
    let api = path.starts_with("/api/") || path == "/metrics";
    let fhir = path.starts_with("/fhir/") || path == "/fhir";
    if is_public(&path) || (!api && !fhir) {
        req.extensions_mut().insert(auth.clone());
        let resp = next.run(req).await;
        return with_auth(resp, auth);
    }
    let Some(p) = auth.principal.clone() else {
        return with_auth(
            ApiError::Unauthorized(
                "sign in, or send Authorization: Bearer with an API token or a SMART access token"
                    .into(),
            )
            .into_response(),
            auth,
        );
    };
    if api {
        if let Err(e) = super::api::check_api(&req, &p, &auth) {
            return with_auth(e.into_response(), auth);
        }
        req.extensions_mut().insert(auth.clone());
        let resp = next.run(req).await;
        return with_auth(resp, auth);
    }
    super::fhir::fhir_guard(state, gate, p, auth, req, next).await
}
