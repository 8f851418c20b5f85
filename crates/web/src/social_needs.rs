//! A patient's social-needs screening (`/patients/{id}/social-needs`): the AHC HRSN core
//! questions asked by staff, and the latest results in plain words, positive needs first.
//! Recorded through the screening service as the signed-in person; read back as far as they
//! reach (interpersonal-safety answers and the follow-up they ask for only with access to
//! sensitive records).

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use serde::Deserialize;
use social_needs::{Instrument, Status};

use crate::view::{self, Nav, PageError};
use crate::{blocking, Web};

impl Web {
    pub(crate) fn screenings(&self) -> Result<Arc<screening::Screenings>, PageError> {
        self.config.screening.clone().ok_or_else(|| {
            view::error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Social-needs screening is not running on this server.",
            )
        })
    }
}

pub(crate) struct Q {
    pub(crate) link: String,
    pub(crate) text: String,
    pub(crate) multiple: bool,
    /// (value, words, chosen).
    pub(crate) options: Vec<(String, String, bool)>,
    pub(crate) sensitive: bool,
}

pub(crate) struct Result_ {
    words: String,
    status: &'static str,
    class: &'static str,
    because: String,
}

/// A need on the record, for the page.
pub(crate) struct NeedLine {
    id: String,
    domain: String,
    version: i64,
    words: String,
    /// "Awaiting a clinician", "Confirmed need", "Not a need".
    state: &'static str,
    class: &'static str,
    awaiting: bool,
    when: String,
    because: String,
}

#[derive(Template)]
#[template(path = "social_needs.html")]
struct ScreeningPage {
    nav: Nav,
    id: String,
    name: String,
    needs: Vec<NeedLine>,
    /// Whether the user may confirm needs (social workers, nurses, physicians).
    decides: bool,
    /// When the next screening is due, and whether that is past.
    next_due: Option<(String, bool)>,
    /// Whether the user refers to community services (navigators, social workers).
    refers: bool,
    referrals: Vec<crate::social_worklist::Row>,
    /// Reasons the hospital cancels a referral: (code, words).
    cancel: Vec<(String, String)>,
    /// Reasons a need was not met, for the follow-up: (code, words).
    not_met: Vec<(String, String)>,
    when: String,
    results: Vec<Result_>,
    follow_up: bool,
    sees_safety: bool,
    questions: Vec<Q>,
    back: String,
    notice: Option<String>,
    error: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Shown {
    done: Option<String>,
}

fn screening_page(
    web: &Web,
    user: &crate::User,
    id: &str,
    notice: Option<String>,
    error: Option<String>,
) -> Result<ScreeningPage, PageError> {
    let s = web.screenings()?;
    let access = web.access(user)?;
    let patient = view::patient(&*web.app.store, &access, id)?;
    let latest = s.latest(&access, id).map_err(view::store_error)?;
    let sees_safety = user.may(access::Permission::SensitiveRead);
    let i = Instrument::ahc_hrsn();
    let mut results: Vec<Result_> = latest
        .as_ref()
        .map(|l| {
            l.score
                .domains
                .iter()
                .filter(|d| sees_safety || d.domain != "intimate-partner-violence")
                .map(|d| Result_ {
                    class: match d.status {
                        Status::Positive => "need",
                        Status::Negative => "no-need",
                        Status::NotAnswered => "not-answered",
                    },
                    words: d.words.clone(),
                    status: match d.status {
                        Status::Positive => "Need",
                        Status::Negative => "No need",
                        Status::NotAnswered => "Not answered",
                    },
                    because: d.because.clone(),
                })
                .collect()
        })
        .unwrap_or_default();
    results.sort_by_key(|r| match r.status {
        "Need" => 0,
        "Not answered" => 2,
        _ => 1,
    });
    let questions = questions(i);
    let now = chrono::Utc::now().timestamp_millis();
    let needs = s
        .concerns(&access, id)
        .map_err(view::store_error)?
        .into_iter()
        .map(|c| NeedLine {
            state: match c.status.as_str() {
                "unconfirmed" => "Awaiting a clinician",
                "confirmed" => "Confirmed need",
                _ => "Not a need",
            },
            class: match c.status.as_str() {
                "unconfirmed" => "awaiting",
                "confirmed" => "need",
                _ => "no-need",
            },
            awaiting: c.status == "unconfirmed",
            domain: c.domain.clone(),
            when: web.config.zone.clock(&c.recorded, now),
            because: c.because,
            words: c.words,
            version: c.version,
            id: c.id,
        })
        .collect();
    let back = if user.may(access::Permission::Outreach) {
        format!("/navigation/patients/{id}")
    } else {
        format!("/patients/{id}")
    };
    Ok(ScreeningPage {
        nav: Nav::new(user, "social", web.config.zone),
        id: id.to_string(),
        name: view::name(&patient),
        needs,
        decides: may_decide(user),
        next_due: match (&web.config.referrals, &latest) {
            (Some(r), Some(l)) => chrono::DateTime::parse_from_rfc3339(&l.when)
                .ok()
                .map(|t| r.rescreen_due(t.with_timezone(&chrono::Utc)))
                .map(|due| {
                    (
                        web.config.zone.date(&due.to_rfc3339(), now),
                        due.timestamp_millis() <= now,
                    )
                }),
            _ => None,
        },
        refers: user.may(access::Permission::Outreach) && web.config.referrals.is_some(),
        referrals: match &web.config.referrals {
            Some(r) if user.may(access::Permission::Outreach) => r
                .of_patient(&access, id)
                .map_err(view::store_error)?
                .iter()
                .map(|l| crate::social_worklist::row(web, l, now))
                .collect(),
            _ => Vec::new(),
        },
        cancel: community::Rules::shipped()
            .status_reasons(community::Status::Cancelled)
            .into_iter()
            .map(|r| (r.code.clone(), r.words.clone()))
            .collect(),
        not_met: crate::social_worklist::outcome_reasons(),
        when: latest
            .as_ref()
            .map(|l| {
                web.config
                    .zone
                    .clock(&l.when, chrono::Utc::now().timestamp_millis())
            })
            .unwrap_or_default(),
        follow_up: sees_safety && latest.as_ref().is_some_and(|l| l.score.follow_up),
        results,
        sees_safety,
        questions,
        back,
        notice,
        error,
    })
}

/// The instrument's questions as the forms ask them.
pub(crate) fn questions(i: &Instrument) -> Vec<Q> {
    i.questions
        .iter()
        .map(|q| Q {
            link: q.link.clone(),
            text: q.text.clone(),
            multiple: q.repeats,
            options: q
                .answers
                .iter()
                .map(|a| (a.key().to_string(), a.label().to_string(), false))
                .collect(),
            sensitive: i.domain(&q.domain).is_some_and(|d| d.sensitive),
        })
        .collect()
}

/// The answers in a posted form (`qN` fields).
pub(crate) fn answers(pairs: &[(String, String)]) -> social_needs::Answer {
    let mut answers = social_needs::Answer::new();
    for (k, v) in pairs.iter().filter(|(k, _)| k.starts_with('q')) {
        answers.entry(k.clone()).or_default().push(v.clone());
    }
    answers
}

/// Whether the user may confirm a screened need as a problem (writes Conditions).
pub(crate) fn may_decide(user: &crate::User) -> bool {
    user.principal.may_fhir("Condition", true)
}

pub(crate) fn may_screen(user: &crate::User) -> Result<(), PageError> {
    if user.may(access::Permission::Outreach) || user.may(access::Permission::RecordWrite) {
        return Ok(());
    }
    Err(view::error_page(
        StatusCode::FORBIDDEN,
        "Your role does not screen for social needs.",
    ))
}

pub(crate) async fn page(
    State(web): State<Web>,
    auth: crate::session::AuthExt,
    Path(id): Path<String>,
    Query(q): Query<Shown>,
) -> Result<Response, PageError> {
    let user = crate::session::user(&auth, access::Permission::ChartRead)?;
    may_screen(&user)?;
    crate::chart::reach(&web, &user, &id).await?;
    let notice = web.notice(&user, q.done);
    let (w, pid) = (web.clone(), id.clone());
    let page = blocking(move || screening_page(&w, &user, &pid, notice, None)).await?;
    Ok(view::with_seen(
        view::render(&page),
        server::Seen(vec![format!("Patient/{id}")]),
    ))
}

pub(crate) async fn submit(
    State(web): State<Web>,
    auth: crate::session::AuthExt,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let csrf = pairs
        .iter()
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let user = crate::session::poster(&auth, &csrf, access::Permission::ChartRead)?;
    may_screen(&user)?;
    crate::chart::reach(&web, &user, &id).await?;
    let s = web.screenings()?;
    let (w, u, pid) = (web.clone(), user.clone(), id.clone());
    let outcome = blocking(move || {
        let access = w.access(&u)?;
        let answers = answers(&pairs);
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        Ok(
            match s.record(&access, &u.practitioner, &pid, &answers, &now, false) {
                Ok(_) => {
                    let i = Instrument::ahc_hrsn();
                    let score = i.score(&answers);
                    let needs: Vec<String> = score
                        .positive()
                        .filter(|d| d.domain != "intimate-partner-violence")
                        .map(|d| d.words.to_lowercase())
                        .collect();
                    Ok(if needs.is_empty() {
                        "Screening saved.".to_string()
                    } else {
                        format!("Screening saved. Needs found: {}.", needs.join(", "))
                    })
                }
                Err(screening::Error::Store(store::StoreError::Forbidden { .. })) => Err((
                    StatusCode::FORBIDDEN,
                    "You cannot record this for this patient.".to_string(),
                )),
                Err(e) => Err((StatusCode::UNPROCESSABLE_ENTITY, e.to_string())),
            },
        )
    })
    .await?;
    match outcome {
        Ok(notice) => {
            Ok(web.redirect_with_notice(&user, &format!("/patients/{id}/social-needs"), notice))
        }
        Err((status, message)) => {
            let w = web.clone();
            let mut resp = view::render(
                &blocking(move || screening_page(&w, &user, &id, None, Some(message))).await?,
            );
            *resp.status_mut() = status;
            Ok(resp)
        }
    }
}
