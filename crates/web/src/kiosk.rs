//! The patient answers the social-needs questions on a tablet (`/kiosk/{key}`).
//!
//! A member of staff who may screen the patient hands the tablet over from the screening
//! page (`POST /patients/{id}/social-needs/kiosk`): their session on this device ends (the
//! person holding the tablet is not signed in as them and can open nothing else), and the
//! tablet shows only the questionnaire, in large type, under a one-time key that lasts
//! [`HANDOUT`]. The answers are recorded with the access of the person who handed the tablet
//! over, as they would be from the screening page, with the patient as the response's
//! source; the audit record names both. Afterwards the tablet says to hand it back, and
//! staff sign in again.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use askama::Template;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use social_needs::Instrument;

use crate::social_needs::Q;
use crate::view::{self, PageError};
use crate::{blocking, Web};

/// How long a handed-over tablet waits for the answers.
pub(crate) const HANDOUT: Duration = Duration::from_secs(30 * 60);
/// Handouts kept at once (older ones are dropped first).
const KEPT: usize = 1_000;

/// A tablet handed to a patient.
#[derive(Clone)]
struct Handout {
    by: access::Principal,
    patient: String,
    at: Instant,
}

/// Tablets handed over and not yet answered, by key.
#[derive(Default)]
pub(crate) struct Kiosks {
    waiting: Mutex<HashMap<String, Handout>>,
}

impl Kiosks {
    fn put(&self, h: Handout) -> String {
        let key = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        if let Ok(mut m) = self.waiting.lock() {
            m.retain(|_, h| h.at.elapsed() < HANDOUT);
            if m.len() >= KEPT {
                if let Some(oldest) = m.iter().min_by_key(|(_, h)| h.at).map(|(k, _)| k.clone()) {
                    m.remove(&oldest);
                }
            }
            m.insert(key.clone(), h);
        }
        key
    }

    fn get(&self, key: &str) -> Option<Handout> {
        let m = self.waiting.lock().ok()?;
        m.get(key).filter(|h| h.at.elapsed() < HANDOUT).cloned()
    }

    fn take(&self, key: &str) -> Option<Handout> {
        let mut m = self.waiting.lock().ok()?;
        m.remove(key).filter(|h| h.at.elapsed() < HANDOUT)
    }
}

#[derive(Template)]
#[template(path = "kiosk.html")]
struct KioskPage {
    key: String,
    /// The patient's first name, to greet them (nothing else of the record is shown).
    greeting: String,
    questions: Vec<Q>,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "kiosk_done.html")]
struct DonePage {
    message: String,
}

fn done(status: StatusCode, message: &str) -> Response {
    let mut r = view::render(&DonePage {
        message: message.to_string(),
    });
    *r.status_mut() = status;
    r
}

#[derive(serde::Deserialize)]
pub(crate) struct Start {
    #[serde(default)]
    csrf: String,
}

/// `POST /patients/{id}/social-needs/kiosk`: hand the tablet to the patient.
pub(crate) async fn start(
    State(web): State<Web>,
    auth: crate::session::AuthExt,
    connect: Option<axum::Extension<ConnectInfo<std::net::SocketAddr>>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<Start>,
) -> Result<Response, PageError> {
    let user = crate::session::poster(&auth, &f.csrf, access::Permission::ChartRead)?;
    crate::social_needs::may_screen(&user)?;
    crate::chart::reach(&web, &user, &id).await?;
    web.screenings()?;
    let key = web.kiosks.put(Handout {
        by: user.principal.clone(),
        patient: id,
        at: Instant::now(),
    });
    // The session ends on this device: whoever holds the tablet is not signed in as staff.
    if let Some(t) = server::gate::cookie_value(&headers, crate::session::COOKIE) {
        let gate = web.app.gate.clone();
        let from = crate::signin::peer(&connect);
        let _ = tokio::task::spawn_blocking(move || gate.accounts.end_session(&t, &from)).await;
    }
    Ok((
        [(header::SET_COOKIE, crate::session::clear_cookie())],
        Redirect::to(&format!("/kiosk/{key}")),
    )
        .into_response())
}

fn greeting(web: &Web, h: &Handout) -> Result<String, PageError> {
    let access = web
        .app
        .gate
        .access(&web.app, &h.by, None)
        .map_err(view::store_error)?;
    let patient = view::patient(&*web.app.store, &access, &h.patient)?;
    Ok(patient["name"][0]["given"][0]
        .as_str()
        .map(|g| format!("Hello, {g}."))
        .unwrap_or_else(|| "Hello.".to_string()))
}

/// `GET /kiosk/{key}`: the questions, and nothing else.
pub(crate) async fn page(State(web): State<Web>, Path(key): Path<String>) -> Response {
    let Some(h) = web.kiosks.get(&key) else {
        return done(
            StatusCode::NOT_FOUND,
            "This questionnaire has been answered or has expired. Please hand the tablet back to a member of staff.",
        );
    };
    let seen = server::Seen(vec![format!("Patient/{}", h.patient)]);
    let by = h.by.clone();
    let page = blocking(move || {
        Ok(KioskPage {
            greeting: greeting(&web, &h)?,
            key,
            questions: crate::social_needs::questions(Instrument::ahc_hrsn()),
            error: None,
        })
    })
    .await;
    match page {
        Ok(p) => acting(view::with_seen(view::render(&p), seen), by),
        Err(e) => e.into_response(),
    }
}

/// The response as done by the person who handed the tablet over, for the audit record.
fn acting(mut r: Response, by: access::Principal) -> Response {
    r.extensions_mut().insert(by);
    r
}

/// `POST /kiosk/{key}`: the patient's answers.
pub(crate) async fn submit(
    State(web): State<Web>,
    Path(key): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let answers = crate::social_needs::answers(&pairs);
    if answers.values().all(|a| a.is_empty()) {
        let Some(h) = web.kiosks.get(&key) else {
            return done(
                StatusCode::NOT_FOUND,
                "This questionnaire has expired. Please hand the tablet back to a member of staff.",
            );
        };
        let by = h.by.clone();
        let w = web.clone();
        let page = blocking(move || {
            Ok(KioskPage {
                greeting: greeting(&w, &h)?,
                key,
                questions: crate::social_needs::questions(Instrument::ahc_hrsn()),
                error: Some("Please answer at least one question, then press Finish.".into()),
            })
        })
        .await;
        return match page {
            Ok(p) => {
                let mut r = view::render(&p);
                *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
                acting(r, by)
            }
            Err(e) => e.into_response(),
        };
    }
    let Some(h) = web.kiosks.take(&key) else {
        return done(
            StatusCode::NOT_FOUND,
            "This questionnaire has been answered or has expired. Please hand the tablet back to a member of staff.",
        );
    };
    let seen = server::Seen(vec![format!("Patient/{}", h.patient)]);
    let by = h.by.clone();
    let outcome = blocking(move || {
        let s = web.screenings()?;
        let access = web
            .app
            .gate
            .access(&web.app, &h.by, None)
            .map_err(view::store_error)?;
        let practitioner = h.by.practitioner.clone().unwrap_or_default();
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        s.record(&access, &practitioner, &h.patient, &answers, &now, true)
            .map_err(view::store_error)
    })
    .await;
    let r = match outcome {
        Ok(_) => done(
            StatusCode::OK,
            "Thank you. Your answers have been saved. Please hand the tablet back to a member of staff.",
        ),
        Err(_) => done(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Your answers could not be saved. Please hand the tablet back to a member of staff, who can ask the questions with you.",
        ),
    };
    acting(view::with_seen(r, seen), by)
}
