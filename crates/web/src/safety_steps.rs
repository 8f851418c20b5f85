//! A review step from the report's page (`POST /safety/events/{id}`): triage, start the
//! investigation, a note, an action (with owner and due date) and marking it done, close
//! with what was learned (shared with staff or not), reopen. Written by the safety service
//! with the reviewer's access and If-Match on the version they saw.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use safety_events::Step;
use serde::Deserialize;

use crate::view::{self, PageError};
use crate::{blocking, Web};

#[derive(Debug, Deserialize)]
pub(crate) struct StepForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    version: i64,
    #[serde(default)]
    step: String,
    #[serde(default)]
    priority: String,
    #[serde(default)]
    harm: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    owner: String,
    #[serde(default)]
    due: String,
    #[serde(default)]
    index: usize,
    #[serde(default)]
    share: String,
}

pub(crate) async fn take(
    State(web): State<Web>,
    auth: crate::session::AuthExt,
    Path(id): Path<String>,
    Form(f): Form<StepForm>,
) -> Result<Response, PageError> {
    let user = crate::session::poster(&auth, &f.csrf, access::Permission::SafetyEvents)?;
    let step = match f.step.as_str() {
        "triage" => Step::Triage {
            priority: f.priority.clone(),
            reviewer: (user.practitioner.clone(), user.name.clone()),
            harm: Some(f.harm.clone()).filter(|h| !h.is_empty()),
        },
        "investigate" => Step::Investigate {
            note: Some(f.text.clone()),
        },
        "note" => Step::Note {
            text: f.text.clone(),
        },
        "action" => Step::Action {
            text: f.text.clone(),
            owner: f.owner.clone(),
            due: chrono::NaiveDate::parse_from_str(f.due.trim(), "%Y-%m-%d").ok(),
        },
        "action-done" => Step::ActionDone { index: f.index },
        "close" => Step::Close {
            learning: f.text.clone(),
            share: !f.share.is_empty(),
        },
        "reopen" => Step::Reopen {
            why: f.text.clone(),
        },
        _ => return Err(view::error_page(StatusCode::BAD_REQUEST, "No such step.")),
    };
    let s = web.safety()?;
    let (w, u, report) = (web.clone(), user.clone(), id.clone());
    let version = f.version;
    let done = blocking(move || {
        let access = w.access(&u)?;
        Ok(s.review(&access, &u.name, &report, version, &step))
    })
    .await?;
    let notice = match done {
        Ok(e) => format!("Report {} is now {}.", e.reference, e.review.status.words().to_lowercase()),
        Err(safety::Error::Store(store::StoreError::Forbidden { .. })) => {
            return Err(view::error_page(
                StatusCode::FORBIDDEN,
                "You cannot change this report.",
            ))
        }
        Err(safety::Error::Store(store::StoreError::VersionConflict { .. })) => {
            "Not recorded: someone else changed this report meanwhile. Here it is as it is now; try again.".to_string()
        }
        Err(e) => format!("Not recorded: {e}"),
    };
    Ok(web.redirect_with_notice(&user, &format!("/safety/events/{id}"), notice))
}
