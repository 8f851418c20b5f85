//! A clinician decides on a need a screening found (`POST
//! /patients/{id}/social-needs/needs/{condition}`): confirmed as a problem, with a Goal in
//! the patient's words when given, or not a need, with why. Written through the screening
//! service with the signed-in person's own access (social workers, nurses and physicians may
//! write Conditions; the store refuses anyone else).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use serde::Deserialize;

use crate::view::{self, PageError};
use crate::{blocking, Web};

#[derive(Debug, Deserialize)]
pub(crate) struct DecideForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    version: i64,
    #[serde(default)]
    decision: String,
    #[serde(default)]
    goal: String,
    #[serde(default)]
    why: String,
}

pub(crate) async fn decide(
    State(web): State<Web>,
    auth: crate::session::AuthExt,
    Path((id, condition)): Path<(String, String)>,
    Form(f): Form<DecideForm>,
) -> Result<Response, PageError> {
    let user = crate::session::poster(&auth, &f.csrf, access::Permission::ChartRead)?;
    if !crate::social_needs::may_decide(&user) {
        return Err(view::error_page(
            StatusCode::FORBIDDEN,
            "Your role does not confirm social needs: a social worker, nurse or physician does.",
        ));
    }
    crate::chart::reach(&web, &user, &id).await?;
    let decision = match f.decision.as_str() {
        "confirm" => screening::Decision::Confirm {
            goal: Some(f.goal.clone()),
        },
        "refute" => screening::Decision::Refute { why: f.why.clone() },
        _ => {
            return Err(view::error_page(
                StatusCode::BAD_REQUEST,
                "Choose confirm or not a need.",
            ))
        }
    };
    let s = web.screenings()?;
    let (w, u) = (web.clone(), user.clone());
    let outcome = blocking(move || {
        let access = w.access(&u)?;
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        Ok(s.decide(
            &access,
            &u.practitioner,
            &condition,
            f.version,
            &decision,
            &now,
        ))
    })
    .await?;
    let notice = match outcome {
        Ok(c) if c.status == "confirmed" => format!("{} confirmed as a need.", c.words),
        Ok(c) => format!("{}: recorded as not a need.", c.words),
        Err(screening::Error::Store(store::StoreError::Forbidden { .. })) => {
            return Err(view::error_page(
                StatusCode::FORBIDDEN,
                "You cannot record this for this patient.",
            ))
        }
        Err(e) => e.to_string(),
    };
    Ok(web.redirect_with_notice(&user, &format!("/patients/{id}/social-needs"), notice))
}
