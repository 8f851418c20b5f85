//! Moving a referral from a page (`POST /referrals/{task}`): the community partner's steps
//! (received, accept, decline with a reason, start, pause and resume, finish with whether
//! the need was met, could not help with why) and the hospital's (cancel with a reason, the
//! follow-up "was the need met?"). The referrals service decides who may do what; the store
//! decides what the person reaches.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use community::{Change, Outcome, Reason, Status};
use serde::Deserialize;

use crate::view::{self, PageError};
use crate::{blocking, Web};

#[derive(Debug, Deserialize)]
pub(crate) struct ActForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    version: i64,
    #[serde(default)]
    action: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    back: String,
}

fn text(s: &str) -> Option<String> {
    Some(s.trim().to_string()).filter(|t| !t.is_empty())
}

/// The outcome a form says: "need-met", or a reason the need was not met.
fn outcome(code: &str, words: &str) -> Option<Outcome> {
    match code {
        "" => None,
        "need-met" => Some(Outcome::NeedMet),
        reason => {
            let known = community::Rules::shipped()
                .outcome_reasons()
                .iter()
                .any(|r| r.code == reason);
            Some(if known {
                Outcome::NotMet {
                    reason: reason.to_string(),
                    text: text(words),
                }
            } else {
                Outcome::NotMet {
                    reason: "other".into(),
                    text: text(words).or_else(|| Some(reason.replace('-', " "))),
                }
            })
        }
    }
}

fn partner(to: Status, f: &ActForm) -> referrals::Move {
    let reason = text(&f.reason).map(|code| Reason {
        code,
        text: text(&f.text),
    });
    let outcome = match to {
        Status::Completed => outcome(&f.outcome, &f.text),
        Status::Failed | Status::Rejected => reason
            .as_ref()
            .and_then(|r| outcome(&r.code, r.text.as_deref().unwrap_or_default())),
        _ => None,
    };
    referrals::Move::Partner(Change {
        to,
        reason: if to == Status::Completed {
            None
        } else {
            reason
        },
        outcome,
        note: text(&f.note),
    })
}

pub(crate) async fn act(
    State(web): State<Web>,
    auth: crate::session::AuthExt,
    Path(task): Path<String>,
    Form(f): Form<ActForm>,
) -> Result<Response, PageError> {
    let user = crate::session::anyone(&auth)?;
    let user = crate::session::poster(
        &auth,
        &f.csrf,
        if user.partner() {
            access::Permission::ReferralsReceived
        } else {
            access::Permission::Outreach
        },
    )?;
    let m = match f.action.as_str() {
        "received" => partner(Status::Received, &f),
        "accept" => partner(Status::Accepted, &f),
        "decline" => partner(Status::Rejected, &f),
        "start" => partner(Status::InProgress, &f),
        "hold" => partner(Status::OnHold, &f),
        "resume" => partner(Status::InProgress, &f),
        "complete" => partner(Status::Completed, &f),
        "fail" => partner(Status::Failed, &f),
        "cancel" => referrals::Move::Cancel(Reason {
            code: f.reason.clone(),
            text: text(&f.text),
        }),
        "follow-up" => match outcome(&f.outcome, &f.text) {
            Some(o) => referrals::Move::FollowUp(o),
            None => {
                return Err(view::error_page(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "Say whether the need was met.",
                ))
            }
        },
        _ => return Err(view::error_page(StatusCode::BAD_REQUEST, "No such action.")),
    };
    let back = if f.back.starts_with('/') && !f.back.starts_with("//") {
        f.back.clone()
    } else if user.partner() {
        "/partner".to_string()
    } else {
        "/social".to_string()
    };
    let r = web.referrals()?;
    let (w, u) = (web.clone(), user.clone());
    let version = f.version;
    let done = blocking(move || {
        let access = w.access(&u)?;
        Ok(r.act(
            &access,
            &u.principal.label(),
            &task,
            version,
            &m,
            chrono::Utc::now(),
        ))
    })
    .await?;
    let notice = match done {
        Ok(s) => match (&s.outcome, s.status) {
            (Some(Outcome::NeedMet), _) => "Recorded: the need was met.".to_string(),
            (Some(Outcome::NotMet { .. }), st) if st.is_terminal() => {
                format!(
                    "Recorded: {}, the need was not met.",
                    st.words().to_lowercase()
                )
            }
            (_, st) => format!("Referral now {}.", st.words().to_lowercase()),
        },
        Err(referrals::Error::Store(store::StoreError::Forbidden { .. })) => {
            return Err(view::error_page(
                StatusCode::FORBIDDEN,
                "You cannot change this referral.",
            ))
        }
        Err(e) => format!("Not recorded: {e}"),
    };
    Ok(web.redirect_with_notice(&user, &back, notice))
}
