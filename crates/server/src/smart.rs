//! SMART on FHIR backend services: discovery at `/fhir/.well-known/smart-configuration`
//! and the token endpoint at `/auth/token`
//! (<https://hl7.org/fhir/smart-app-launch/backend-services.html>).

use accounts::smart::TokenRequest;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde_json::json;

use crate::AppState;

pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route("/fhir/.well-known/smart-configuration", get(configuration))
        .route("/auth/token", post(token))
        .with_state(state)
}

/// Where the token endpoint is, as clients must name it in their assertions' `aud`.
fn token_url(state: &AppState, headers: &HeaderMap) -> String {
    let fhir = crate::response::base_url(state, headers);
    format!("{}/auth/token", fhir.trim_end_matches("/fhir"))
}

async fn configuration(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let body = json!({
        "token_endpoint": token_url(&state, &headers),
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384"],
        "grant_types_supported": ["client_credentials"],
        "scopes_supported": ["system/*.read", "system/*.write", "system/*.rs", "system/*.cruds"],
        "capabilities": ["client-confidential-asymmetric", "permission-v1", "permission-v2"],
    });
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(req): Form<TokenRequest>,
) -> Response {
    let gate = state.gate.clone();
    let url = token_url(&state, &headers);
    let now = chrono::Utc::now().timestamp();
    match gate.smart.token(&req, &url, now) {
        Ok(t) => ([(axum::http::header::CACHE_CONTROL, "no-store")], Json(t)).into_response(),
        Err(e) => {
            tracing::info!(code = e.code, "SMART token request refused");
            oauth_error(e.code, &e.description)
        }
    }
}

fn oauth_error(code: &str, description: &str) -> Response {
    let status = if code == "invalid_client" {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::BAD_REQUEST
    };
    (
        status,
        [(axum::http::header::CACHE_CONTROL, "no-store")],
        Json(json!({"error": code, "error_description": description})),
    )
        .into_response()
}
