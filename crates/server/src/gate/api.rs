//! The JSON API's checks: the ward board and alerts need `Board` and one's own ward (the
//! rapid-response team: every ward); alert actions need `AlertRespond` and, from a browser
//! session, its CSRF token; the HL7 message log and `/metrics` need `Interfaces`.

use access::{Permission, Principal, Role};
use axum::extract::Request;
use axum::http::Method;

use super::{Auth, CSRF_HEADER};
use crate::ApiError;

fn query_param(req: &Request, name: &str) -> Option<String> {
    form_urlencoded::parse(req.uri().query().unwrap_or_default().as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty())
}

pub(super) fn check_api(req: &Request, p: &Principal, auth: &Auth) -> Result<(), ApiError> {
    let path = req.uri().path();
    let need = |perm: Permission| {
        if p.may(perm) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "the {} role does not include {perm:?}",
                p.role.title()
            )))
        }
    };
    if path == "/metrics" || path.starts_with("/api/hl7/") {
        return need(Permission::Interfaces);
    }
    if req.method() != Method::GET {
        need(Permission::AlertRespond)?;
        if !super::csrf_ok(req, auth) {
            return Err(ApiError::Forbidden(format!(
                "a request from a browser session must carry the session's {CSRF_HEADER}"
            )));
        }
        return Ok(());
    }
    need(Permission::Board)?;
    let ward = path
        .strip_prefix("/api/wards/")
        .and_then(|rest| rest.strip_suffix("/patients"))
        .map(str::to_string)
        .or_else(|| query_param(req, "ward"));
    if let Some(w) = ward {
        let w = if w.contains('/') {
            w
        } else {
            format!("Location/{w}")
        };
        if p.role != Role::RapidResponse && !p.wards.contains(&w) {
            return Err(ApiError::Forbidden(format!("{w} is not one of your wards")));
        }
    }
    Ok(())
}
