//! The tumour-board pages: `/mdt` (the meetings, the patients referred and waiting for one,
//! arranging a meeting) and a meeting (`/mdt/meetings/{id}`: each patient on its list with
//! the case summary prepared from the record, the recommendation form, the recommendation
//! as tracked steps, and "told to the patient"). Patients are referred from the navigator's
//! timeline (`POST /mdt/refer/{patient}`). Everything is read and written through the
//! store with the signed-in person's own access; a patient appears only to those who reach
//! them (the board's members reach the patients it discusses through its care team).

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use mdt::TumourBoard;
use serde::Deserialize;
use tumour_board::{codes, Case, CaseSummary, Options, Recommendation};

use crate::view::{self, Nav, PageError};
use crate::{blocking, Web};

impl Web {
    pub(crate) fn boards(&self) -> Result<Arc<TumourBoard>, PageError> {
        self.config.tumour_board.clone().ok_or_else(|| {
            view::error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Tumour boards are not running on this server.",
            )
        })
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A patient as a line shows them.
pub(crate) struct Who {
    id: String,
    name: String,
    mrn: String,
    age: String,
}

fn who(web: &Web, access: &store::Access, patient: &str) -> Who {
    let p = view::read(&*web.app.store, access, "Patient", patient);
    let person = p.as_ref().map(navigation::person);
    Who {
        id: patient.to_string(),
        name: person
            .as_ref()
            .map(|p| p.name.clone())
            .unwrap_or_else(|| "Patient".into()),
        mrn: person
            .as_ref()
            .and_then(|p| p.mrn.clone())
            .unwrap_or_default(),
        age: person
            .as_ref()
            .map(|p| {
                format!(
                    "{}{}",
                    crate::navigator::age(p.birth_date, now_ms()),
                    crate::navigator::sex(p.gender.as_deref())
                )
            })
            .unwrap_or_default(),
    }
}

/// A practitioner's name, as Tend reads the directory.
fn person_name(web: &Web, reference: &str) -> String {
    let id = reference.trim_start_matches("Practitioner/");
    view::read(
        &*web.app.store,
        &store::Access::system(),
        "Practitioner",
        id,
    )
    .map(|p| view::name(&p))
    .filter(|n| !n.is_empty())
    .unwrap_or_else(|| "Someone".into())
}

fn error(e: mdt::Error) -> (StatusCode, String) {
    match e {
        mdt::Error::Store(store::StoreError::Forbidden { .. }) => (
            StatusCode::FORBIDDEN,
            "You cannot record this for this patient.".into(),
        ),
        mdt::Error::Store(store::StoreError::VersionConflict { .. }) => (
            StatusCode::CONFLICT,
            "It could not be saved: the record changed meanwhile. Try again.".into(),
        ),
        mdt::Error::Store(e) => {
            tracing::warn!(error = %e, "a tumour-board record was refused");
            (
                StatusCode::CONFLICT,
                "It could not be saved. Try again.".into(),
            )
        }
        mdt::Error::NotFound(what) => (StatusCode::NOT_FOUND, format!("There is no {what}.")),
        mdt::Error::Invalid(m) => (StatusCode::UNPROCESSABLE_ENTITY, m),
    }
}

// ---- the pathway timeline's panel -------------------------------------------------------

/// The tumour-board part of a patient's pathway timeline: their cases, and the boards they
/// can be referred to.
pub(crate) struct Panel {
    pub(crate) on: bool,
    pub(crate) refer: bool,
    pub(crate) boards: Vec<(String, String)>,
    /// (board, where the case stands, the meeting's page).
    pub(crate) cases: Vec<(String, &'static str, Option<String>)>,
}

/// [`Panel`] for `patient`, as `user` sees it. Blocking.
pub(crate) fn panel(web: &Web, user: &crate::User, patient: &str) -> Result<Panel, PageError> {
    let Some(tb) = web.config.tumour_board.clone() else {
        return Ok(Panel {
            on: false,
            refer: false,
            boards: Vec::new(),
            cases: Vec::new(),
        });
    };
    let access = web.access(user)?;
    let boards = tb.boards(&access).map_err(view::store_error)?;
    let cases = tb
        .cases_of(&access, patient)
        .map_err(view::store_error)?
        .into_iter()
        .rev()
        .map(|c| {
            let board = boards
                .iter()
                .find(|b| format!("CareTeam/{}", b.id) == c.board)
                .map(|b| b.name.clone())
                .unwrap_or_else(|| "Tumour board".into());
            let link = c.meeting.as_ref().filter(|_| user.tumour_board()).map(|m| {
                format!(
                    "/mdt/meetings/{}#case-{}",
                    m.trim_start_matches("Appointment/"),
                    c.id
                )
            });
            (board, codes::status_words(&c.stage), link)
        })
        .collect();
    Ok(Panel {
        on: true,
        refer: user.tumour_board(),
        boards: boards.into_iter().map(|b| (b.id, b.name)).collect(),
        cases,
    })
}

// ---- /mdt --------------------------------------------------------------------------------

pub(crate) struct MeetingLine {
    id: String,
    board: String,
    when: String,
    place: String,
    cases: usize,
    past: bool,
}

pub(crate) struct Waiting {
    case: String,
    who: Who,
    board: String,
    question: String,
    referred: String,
    by: String,
    /// (meeting id, words) of the board's meetings ahead.
    meetings: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "mdt.html")]
struct BoardsPage {
    nav: Nav,
    upcoming: Vec<MeetingLine>,
    past: Vec<MeetingLine>,
    waiting: Vec<Waiting>,
    boards: Vec<(String, String)>,
    today: String,
    notice: Option<String>,
    error: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Shown {
    done: Option<String>,
}

fn boards_page(
    web: &Web,
    user: &crate::User,
    notice: Option<String>,
    error: Option<String>,
) -> Result<BoardsPage, PageError> {
    let tb = web.boards()?;
    let access = web.access(user)?;
    let zone = web.config.zone;
    let now = now_ms();
    let boards = tb.boards(&access).map_err(view::store_error)?;
    let board_name = |r: &str| {
        boards
            .iter()
            .find(|b| format!("CareTeam/{}", b.id) == r)
            .map(|b| b.name.clone())
            .unwrap_or_else(|| "Tumour board".into())
    };
    let meetings = tb.meetings(&access).map_err(view::store_error)?;
    let mut upcoming = Vec::new();
    let mut past = Vec::new();
    for m in &meetings {
        let end = view::ms(&m.end).unwrap_or(0);
        let cases = tb
            .meeting(&access, &m.id)
            .map(|mc| mc.cases.len())
            .unwrap_or(0);
        let line = MeetingLine {
            id: m.id.clone(),
            board: board_name(&m.board),
            when: zone.clock(&m.start, now),
            place: m.place.clone(),
            cases,
            past: end < now || m.status != "booked",
        };
        if line.past {
            past.push(line);
        } else {
            upcoming.push(line);
        }
    }
    past.reverse();
    past.truncate(10);
    let waiting = tb
        .waiting(&access)
        .map_err(view::store_error)?
        .into_iter()
        .map(|c| Waiting {
            who: who(web, &access, &c.patient),
            board: board_name(&c.board),
            question: c.question.clone(),
            referred: zone.date(&c.referred, now),
            by: person_name(web, &c.requester),
            meetings: meetings
                .iter()
                .filter(|m| m.board == c.board && m.status == "booked")
                .filter(|m| view::ms(&m.end).unwrap_or(0) >= now)
                .map(|m| (m.id.clone(), zone.clock(&m.start, now)))
                .collect(),
            case: c.id,
        })
        .collect();
    Ok(BoardsPage {
        nav: Nav::new(user, "mdt", zone),
        upcoming,
        past,
        waiting,
        boards: boards.into_iter().map(|b| (b.id, b.name)).collect(),
        today: zone
            .input_value(now)
            .get(..10)
            .unwrap_or_default()
            .to_string(),
        notice,
        error,
    })
}

pub(crate) async fn page(
    State(web): State<Web>,
    auth: crate::session::AuthExt,
    Query(q): Query<Shown>,
) -> Result<Response, PageError> {
    let user = crate::session::user(&auth, access::Permission::TumourBoard)?;
    let notice = web.notice(&user, q.done);
    let w = web.clone();
    let page = blocking(move || boards_page(&w, &user, notice, None)).await?;
    let seen = server::Seen(
        page.waiting
            .iter()
            .map(|c| format!("Patient/{}", c.who.id))
            .collect(),
    );
    Ok(view::with_seen(view::render(&page), seen))
}

// ---- a meeting ---------------------------------------------------------------------------

pub(crate) struct Item {
    name: String,
    value: String,
    when: String,
}

pub(crate) struct Summary {
    diagnoses: Vec<(String, String, String)>,
    stage: Vec<Item>,
    reports: Vec<Item>,
    biomarkers: Vec<Item>,
    performance: Option<Item>,
    treatments: Vec<Item>,
    response: Vec<Item>,
    earlier: Vec<Item>,
    missing: Vec<&'static str>,
}

fn summary(s: CaseSummary, zone: crate::Zone) -> Summary {
    let now = now_ms();
    let item = |f: tumour_board::Finding| Item {
        name: f.name,
        value: f.value,
        when: f.at.map(|a| zone.date(&a, now)).unwrap_or_default(),
    };
    Summary {
        missing: s.missing(),
        diagnoses: s
            .diagnoses
            .into_iter()
            .map(|d| {
                let v = match d.verification.as_str() {
                    "" | "confirmed" => String::new(),
                    other => format!("({other})"),
                };
                (d.words, d.stage.unwrap_or_default(), v)
            })
            .collect(),
        stage: s.stage.into_iter().map(item).collect(),
        reports: s.reports.into_iter().map(item).collect(),
        biomarkers: s.biomarkers.into_iter().map(item).collect(),
        performance: s.performance.map(item),
        treatments: s.treatments.into_iter().map(item).collect(),
        response: s.response.into_iter().map(item).collect(),
        earlier: s.recommendations.into_iter().map(item).collect(),
    }
}

pub(crate) struct Recorded {
    intent: String,
    steps: Vec<(String, String)>,
    reasons: String,
    by: String,
    when: String,
}

pub(crate) struct CaseView {
    id: String,
    who: Who,
    question: String,
    by: String,
    stage: &'static str,
    stage_code: String,
    summary: Summary,
    recorded: Option<Recorded>,
    /// Where a link to the patient goes for this user (chart or pathway timeline).
    link: Option<String>,
}

#[derive(Template)]
#[template(path = "mdt_meeting.html")]
struct MeetingPage {
    nav: Nav,
    id: String,
    board: String,
    when: String,
    place: String,
    members: Vec<(String, String)>,
    cases: Vec<CaseView>,
    /// Whether this user records recommendations (a physician).
    recorder: bool,
    intents: Vec<(String, String)>,
    /// (group, [(code, words)]).
    steps: Vec<(String, Vec<(String, String)>)>,
    notice: Option<String>,
    error: Option<String>,
}

fn steps_by_group(o: &Options) -> Vec<(String, Vec<(String, String)>)> {
    let mut out: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for s in &o.steps {
        match out.iter_mut().find(|(g, _)| *g == s.group) {
            Some((_, v)) => v.push((s.code.clone(), s.words.clone())),
            None => out.push((s.group.clone(), vec![(s.code.clone(), s.words.clone())])),
        }
    }
    out
}

fn case_view(
    web: &Web,
    tb: &TumourBoard,
    access: &store::Access,
    user: &crate::User,
    c: Case,
) -> Result<CaseView, PageError> {
    let zone = web.config.zone;
    let now = now_ms();
    let mut s = tb.summary(access, &c.patient).map_err(view::store_error)?;
    let recorded = tb.recommendation(access, &c).map_err(view::store_error)?;
    // This case's own recommendation is shown as such, not among the earlier ones.
    if let Some(title) = recorded.as_ref().and_then(|r| r.plan["title"].as_str()) {
        s.recommendations.retain(|f| f.value != title);
    }
    let recorded = recorded.map(|r| {
        let intent = r.plan["category"][0]["coding"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|x| x["code"] != codes::RECOMMENDATION)
            .and_then(|x| x["display"].as_str())
            .unwrap_or_default()
            .to_string();
        Recorded {
            intent,
            steps: r
                .steps
                .into_iter()
                .map(|(w, s)| {
                    let s = match s.as_str() {
                        "active" => "To do",
                        "completed" => "Done",
                        "revoked" => "Stopped",
                        _ => "Planned",
                    };
                    (w, s.to_string())
                })
                .collect(),
            reasons: r.plan["description"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            by: r.plan["author"]["reference"]
                .as_str()
                .map(|a| person_name(web, a))
                .unwrap_or_default(),
            when: r.plan["created"]
                .as_str()
                .map(|t| zone.clock(t, now))
                .unwrap_or_default(),
        }
    });
    let link = if user.may(access::Permission::Board) {
        Some(format!("/patients/{}", c.patient))
    } else if user.may(access::Permission::Outreach) {
        Some(format!("/navigation/patients/{}", c.patient))
    } else {
        None
    };
    Ok(CaseView {
        who: who(web, access, &c.patient),
        question: c.question.clone(),
        by: person_name(web, &c.requester),
        stage: codes::status_words(&c.stage),
        stage_code: c.stage.clone(),
        summary: summary(s, zone),
        recorded,
        link,
        id: c.id,
    })
}

fn meeting_page(
    web: &Web,
    user: &crate::User,
    id: &str,
    notice: Option<String>,
    error: Option<String>,
) -> Result<MeetingPage, PageError> {
    let tb = web.boards()?;
    let access = web.access(user)?;
    let zone = web.config.zone;
    let now = now_ms();
    let mc = tb.meeting(&access, id).map_err(|e| match e {
        mdt::Error::NotFound(_) => {
            view::error_page(StatusCode::NOT_FOUND, "There is no such meeting.")
        }
        e => view::store_error(e),
    })?;
    let mut cases = Vec::new();
    for c in mc.cases {
        cases.push(case_view(web, &tb, &access, user, c)?);
    }
    let options = Options::shipped();
    Ok(MeetingPage {
        nav: Nav::new(user, "mdt", zone),
        id: id.to_string(),
        board: mc
            .board
            .as_ref()
            .map(|b| b.name.clone())
            .unwrap_or_else(|| "Tumour board".into()),
        when: zone.clock(&mc.meeting.start, now),
        place: mc.meeting.place.clone(),
        members: mc
            .board
            .map(|b| {
                b.members
                    .iter()
                    .map(|(p, part)| (person_name(web, p), part.clone()))
                    .collect()
            })
            .unwrap_or_default(),
        cases,
        recorder: user.may(access::Permission::RecordWrite),
        intents: options
            .intents
            .iter()
            .map(|i| (i.code.clone(), i.words.clone()))
            .collect(),
        steps: steps_by_group(options),
        notice,
        error,
    })
}

pub(crate) async fn meeting(
    State(web): State<Web>,
    auth: crate::session::AuthExt,
    Path(id): Path<String>,
    Query(q): Query<Shown>,
) -> Result<Response, PageError> {
    let user = crate::session::user(&auth, access::Permission::TumourBoard)?;
    let notice = web.notice(&user, q.done);
    let w = web.clone();
    let page = blocking(move || meeting_page(&w, &user, &id, notice, None)).await?;
    let seen = server::Seen(
        page.cases
            .iter()
            .map(|c| format!("Patient/{}", c.who.id))
            .collect(),
    );
    Ok(view::with_seen(view::render(&page), seen))
}

// ---- forms -------------------------------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
pub(crate) struct MeetingForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    board: String,
    #[serde(default)]
    date: String,
    #[serde(default)]
    time: String,
    #[serde(default)]
    minutes: String,
    #[serde(default)]
    place: String,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct ScheduleForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    meeting: String,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct ReferForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    board: String,
    #[serde(default)]
    question: String,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct NoteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    note: String,
    /// The meeting page the form was on (to return to).
    #[serde(default)]
    meeting: String,
}

/// Where a form returns to, and what it asks.
enum Act {
    Meeting(MeetingForm),
    Schedule(String, ScheduleForm),
    Withdraw(String, NoteForm),
    Recommend(String, Vec<(String, String)>),
    Told(String, NoteForm),
    Refer(String, ReferForm),
}

fn field<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_default()
}

/// Run a form as the signed-in person; redirect with its notice, or show the page it came
/// from with the error.
async fn act(
    web: Web,
    auth: crate::session::AuthExt,
    csrf: String,
    form: Act,
) -> Result<Response, PageError> {
    let need = match &form {
        Act::Recommend(..) => access::Permission::RecordWrite,
        _ => access::Permission::TumourBoard,
    };
    let user = crate::session::poster(&auth, &csrf, need)?;
    if !user.may(access::Permission::TumourBoard) && !user.may(access::Permission::RecordWrite) {
        return Err(view::error_page(
            StatusCode::FORBIDDEN,
            "Your role does not take part in tumour boards.",
        ));
    }
    let tb = web.boards()?;
    let (w, u) = (web.clone(), user.clone());
    let (back, outcome) = blocking(move || {
        let access = w.access(&u)?;
        let by = u.practitioner.clone();
        let zone = w.config.zone;
        let (back, r): (String, Result<String, mdt::Error>) = match form {
            Act::Meeting(f) => {
                let start = zone
                    .from_input(&format!("{}T{}", f.date.trim(), f.time.trim()))
                    .and_then(chrono::DateTime::from_timestamp_millis);
                let minutes: i64 = f.minutes.trim().parse().unwrap_or(0);
                let r = match start {
                    None => Err(mdt::Error::Invalid(
                        "Choose the day and time of the meeting.".into(),
                    )),
                    Some(start) => tb
                        .new_meeting(&access, &by, &f.board, start, minutes, &f.place)
                        .map(|_| "Meeting arranged.".to_string()),
                };
                ("/mdt".to_string(), r)
            }
            Act::Schedule(case, f) => (
                "/mdt".to_string(),
                tb.schedule(&access, &case, &f.meeting)
                    .map(|_| "Added to the meeting's list.".to_string()),
            ),
            Act::Withdraw(case, f) => (
                if f.meeting.is_empty() {
                    "/mdt".to_string()
                } else {
                    format!("/mdt/meetings/{}", f.meeting)
                },
                tb.withdraw(&access, &case)
                    .map(|_| "Taken off the list.".to_string()),
            ),
            Act::Recommend(case, pairs) => {
                let meeting = field(&pairs, "meeting").to_string();
                let r = Recommendation {
                    intent: field(&pairs, "intent").to_string(),
                    steps: pairs
                        .iter()
                        .filter(|(k, _)| k == "step")
                        .map(|(_, v)| v.clone())
                        .collect(),
                    rationale: field(&pairs, "rationale").to_string(),
                };
                (
                    format!("/mdt/meetings/{meeting}"),
                    tb.recommend(&access, &by, &case, &r)
                        .map(|_| "Recommendation recorded: its steps are now tracked.".to_string()),
                )
            }
            Act::Told(case, f) => (
                format!("/mdt/meetings/{}", f.meeting),
                tb.communicated(&access, &by, &case, &f.note)
                    .map(|_| "Recorded as told to the patient.".to_string()),
            ),
            Act::Refer(patient, f) => (
                format!("/navigation/patients/{patient}"),
                tb.refer(&access, &by, &patient, &f.board, &f.question)
                    .map(|_| "Referred to the tumour board.".to_string()),
            ),
        };
        Ok::<_, PageError>((back, r.map_err(error)))
    })
    .await?;
    match outcome {
        Ok(notice) => Ok(web.redirect_with_notice(&user, &back, notice)),
        Err((status, message)) => {
            let w = web.clone();
            let mut resp = if let Some(m) = back.strip_prefix("/mdt/meetings/") {
                let m = m.to_string();
                view::render(
                    &blocking(move || meeting_page(&w, &user, &m, None, Some(message))).await?,
                )
            } else if let Some(p) = back.strip_prefix("/navigation/patients/") {
                let (p, nav) = (p.to_string(), web.nav_service()?);
                view::render(
                    &blocking(move || {
                        crate::navigator::timeline(&w, &nav, &p, &user, None, Some(message))
                    })
                    .await?,
                )
            } else {
                view::render(&blocking(move || boards_page(&w, &user, None, Some(message))).await?)
            };
            *resp.status_mut() = status;
            Ok(resp)
        }
    }
}

pub(crate) async fn new_meeting(
    State(web): State<Web>,
    auth: crate::session::AuthExt,
    Form(f): Form<MeetingForm>,
) -> Result<Response, PageError> {
    let csrf = f.csrf.clone();
    act(web, auth, csrf, Act::Meeting(f)).await
}

pub(crate) async fn schedule(
    State(web): State<Web>,
    auth: crate::session::AuthExt,
    Path(case): Path<String>,
    Form(f): Form<ScheduleForm>,
) -> Result<Response, PageError> {
    let csrf = f.csrf.clone();
    act(web, auth, csrf, Act::Schedule(case, f)).await
}

pub(crate) async fn withdraw(
    State(web): State<Web>,
    auth: crate::session::AuthExt,
    Path(case): Path<String>,
    Form(f): Form<NoteForm>,
) -> Result<Response, PageError> {
    let csrf = f.csrf.clone();
    act(web, auth, csrf, Act::Withdraw(case, f)).await
}

pub(crate) async fn recommend(
    State(web): State<Web>,
    auth: crate::session::AuthExt,
    Path(case): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let csrf = field(&pairs, "csrf").to_string();
    act(web, auth, csrf, Act::Recommend(case, pairs)).await
}

pub(crate) async fn told(
    State(web): State<Web>,
    auth: crate::session::AuthExt,
    Path(case): Path<String>,
    Form(f): Form<NoteForm>,
) -> Result<Response, PageError> {
    let csrf = f.csrf.clone();
    act(web, auth, csrf, Act::Told(case, f)).await
}

pub(crate) async fn refer(
    State(web): State<Web>,
    auth: crate::session::AuthExt,
    Path(patient): Path<String>,
    Form(f): Form<ReferForm>,
) -> Result<Response, PageError> {
    let csrf = f.csrf.clone();
    act(web, auth, csrf, Act::Refer(patient, f)).await
}
