//! The community partner's page (`/partner`): the referrals sent to their organisation,
//! those awaiting an answer first, each with what the partner needs and no more (the
//! patient's name, phone and language, the need, the hospital's note), and the steps the
//! partner takes on it. Read with the partner's access: the store gives them only what was
//! shared with their organisation.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use community::Status;
use serde::Deserialize;

use crate::social_worklist::{row, Row};
use crate::view::{self, Nav, PageError};
use crate::{blocking, Web};

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Shown {
    done: Option<String>,
}

#[derive(Template)]
#[template(path = "partner.html")]
struct PartnerPage {
    nav: Nav,
    organization: String,
    notice: Option<String>,
    waiting: Vec<Row>,
    in_hand: Vec<Row>,
    finished: Vec<Row>,
    decline: Vec<(String, String)>,
    hold: Vec<(String, String)>,
    fail: Vec<(String, String)>,
    not_met: Vec<(String, String)>,
}

fn reasons(s: Status) -> Vec<(String, String)> {
    community::Rules::shipped()
        .status_reasons(s)
        .into_iter()
        .map(|r| (r.code.clone(), r.words.clone()))
        .collect()
}

pub(crate) async fn page(
    State(web): State<Web>,
    auth: crate::session::AuthExt,
    Query(q): Query<Shown>,
) -> Result<Response, PageError> {
    let user = crate::session::user(&auth, access::Permission::ReferralsReceived)?;
    let notice = web.notice(&user, q.done);
    let r = web.referrals()?;
    let w = web.clone();
    let (page, seen) = blocking(move || {
        let access = w.access(&user)?;
        let now_ms = chrono::Utc::now().timestamp_millis();
        let lines = r.received(&access).map_err(view::store_error)?;
        let organization = user
            .principal
            .organization
            .as_deref()
            .and_then(|o| view::read(&*w.app.store, &access, "Organization", o))
            .and_then(|o| o["name"].as_str().map(str::to_string))
            .unwrap_or_default();
        let mut seen: Vec<String> = lines
            .iter()
            .map(|l| format!("Patient/{}", l.patient))
            .collect();
        seen.sort();
        seen.dedup();
        let (mut waiting, mut in_hand, mut finished) = (vec![], vec![], vec![]);
        for l in &lines {
            let mut r = row(&w, l, now_ms);
            if l.state.status == Status::Requested {
                // Sent by the hospital: new to the partner.
                r.status = "New";
            }
            match l.state.status {
                Status::Requested | Status::Received => waiting.push(r),
                Status::Accepted | Status::InProgress | Status::OnHold => in_hand.push(r),
                _ => finished.push(r),
            }
        }
        Ok((
            PartnerPage {
                nav: Nav::new(&user, "partner", w.config.zone),
                organization,
                notice,
                waiting,
                in_hand,
                finished,
                decline: reasons(Status::Rejected),
                hold: reasons(Status::OnHold),
                fail: reasons(Status::Failed),
                not_met: crate::social_worklist::outcome_reasons(),
            },
            seen,
        ))
    })
    .await?;
    Ok(view::with_seen(view::render(&page), server::Seen(seen)))
}
