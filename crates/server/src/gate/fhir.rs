//! The FHIR API's gate: it decides nothing about data. It refuses cross-site shapes of writes
//! (form bodies; a browser session's write without its CSRF token) and builds the caller's
//! [`access::Access`] for the handlers, which hand it to the store.

use std::sync::Arc;

use axum::extract::Request;
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::guard::with_auth;
use super::{Auth, Gate, CSRF_HEADER};
use crate::{ApiError, AppState};

/// Whether a FHIR request writes (anything but GET, HEAD and POST `_search`).
fn writes(method: &Method, path: &str) -> bool {
    !(*method == Method::GET
        || *method == Method::HEAD
        || (*method == Method::POST && path.ends_with("/_search")))
}

pub(super) async fn fhir_guard(
    state: AppState,
    gate: Arc<Gate>,
    p: access::Principal,
    auth: Auth,
    mut req: Request,
    next: Next,
) -> Response {
    let deny = |auth: &Auth, e: ApiError| with_auth(e.into_response(), auth.clone());
    if writes(req.method(), req.uri().path()) {
        // A browser sends forms and plain text across sites without asking; FHIR writes
        // are JSON, and from a browser session they carry the session's CSRF token.
        let ct = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        if [
            "application/x-www-form-urlencoded",
            "multipart/form-data",
            "text/plain",
        ]
        .iter()
        .any(|f| ct.starts_with(f))
        {
            return deny(
                &auth,
                ApiError::UnsupportedMediaType(format!(
                    "FHIR writes take application/fhir+json (or JSON Patch), not '{ct}'"
                )),
            );
        }
        if !super::csrf_ok(&req, &auth) {
            return deny(
                &auth,
                ApiError::Forbidden(format!(
                    "a write from a browser session must carry the session's {CSRF_HEADER}"
                )),
            );
        }
    }
    let (g, s, pp, glass) = (
        gate.clone(),
        state.clone(),
        p.clone(),
        auth.break_glass.clone(),
    );
    let access = match tokio::task::spawn_blocking(move || g.access(&s, &pp, glass)).await {
        Ok(Ok(a)) => a,
        Ok(Err(e)) => return deny(&auth, e),
        Err(_) => return deny(&auth, ApiError::Unavailable),
    };
    // The glass opens records only for roles that may break it (`Access::caller`); the
    // reason stays on the audit record either way, so refused attempts are reviewed too.
    req.extensions_mut().insert(Arc::new(access));
    req.extensions_mut().insert(auth.clone());
    let resp = next.run(req).await;
    with_auth(resp, auth)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_writes() {
        assert!(!writes(&Method::GET, "/fhir/Patient/1"));
        assert!(!writes(&Method::POST, "/fhir/Observation/_search"));
        assert!(writes(&Method::POST, "/fhir/Observation"));
        assert!(writes(&Method::POST, "/fhir"));
        assert!(writes(&Method::PATCH, "/fhir/Observation/1"));
        assert!(writes(&Method::DELETE, "/fhir/Observation?_id=1"));
    }
}
