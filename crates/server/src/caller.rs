//! [`Caller`]: the access a request acts with, as the gate decided it from who is signed in
//! (never from anything the request says about itself). Every FHIR handler takes it and
//! hands it to the store, which decides there, where the data is.

use std::sync::Arc;

use access::Access;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::Response;

use crate::{ApiError, AppState};

/// The caller's [`Access`] (a request extension the gate set).
pub(crate) struct Caller(pub(crate) Arc<Access>);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(a) = parts.extensions.get::<Arc<Access>>() {
            return Ok(Caller(a.clone()));
        }
        let _ = state;
        Err(ApiError::Unauthorized(
            "sign in, or send Authorization: Bearer with an API token or a SMART access token"
                .into(),
        ))
    }
}

/// Name patients (ids or `Patient/ID`) the response showed or changed, for its audit record:
/// the store's compartment facts, not anything read back from the body.
pub(crate) fn seen<'a>(resp: &mut Response, patients: impl IntoIterator<Item = &'a String>) {
    let mut add: Vec<String> = patients
        .into_iter()
        .map(|p| format!("Patient/{}", p.trim_start_matches("Patient/")))
        .collect();
    if add.is_empty() {
        return;
    }
    let ext = resp.extensions_mut();
    if let Some(s) = ext.get_mut::<access::Seen>() {
        s.0.append(&mut add);
    } else {
        ext.insert(access::Seen(add));
    }
}
