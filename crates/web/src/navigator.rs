//! The navigator's pages: the worklist (`/navigation`) of patients on care pathways, worst
//! first, with each standard's days left and predicted breach, barriers, last contact and
//! navigator; and a patient's pathway timeline (`/navigation/patients/{id}`) with the forms to
//! record a contact, mark a step done and assign or hand over the navigator. Forms post,
//! redirect and show their outcome once; writes go through the store as the signed-in person.

use std::collections::BTreeSet;
use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use navigation::{Navigation, Prediction, Risk};
use serde::Deserialize;

use crate::view::{self, Nav, PageError};
use crate::{blocking, Web};

const PAGE: usize = 50;

impl Web {
    pub(crate) fn nav_service(&self) -> Result<Arc<Navigation>, PageError> {
        self.config.navigation.clone().ok_or_else(|| {
            view::error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Pathway navigation is not running on this server.",
            )
        })
    }
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Filters {
    #[serde(default)]
    pathway: String,
    #[serde(default)]
    site: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    navigator: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    page: usize,
}

/// One standard's clock on a line.
pub(crate) struct Chip {
    pub(crate) label: String,
    pub(crate) left: String,
    pub(crate) risk: &'static str,
    pub(crate) words: &'static str,
    pub(crate) reason: String,
}

pub(crate) fn chip(p: &Prediction) -> Chip {
    let left = match (p.unit, p.left) {
        (pathways::Unit::Minutes, l) => format!("{l} min left"),
        (_, l) if l < 0 => format!("{} day{} over", -l, if l == -1 { "" } else { "s" }),
        (_, 0) => "last day".into(),
        (_, 1) => "1 day left".into(),
        (_, l) => format!("{l} days left"),
    };
    Chip {
        label: p.label.clone(),
        left,
        risk: p.risk.code(),
        words: p.risk.words(),
        reason: p.reason.clone(),
    }
}

pub(crate) struct Line {
    patient: String,
    name: String,
    mrn: String,
    age: String,
    pathways: String,
    site: String,
    next: String,
    due: String,
    overdue: bool,
    clocks: Vec<Chip>,
    /// Why the worst clock is at risk or breached, in words.
    why: String,
    barriers: Vec<String>,
    contact: String,
    navigator: String,
}

#[derive(Template)]
#[template(path = "navigation.html")]
struct WorklistPage {
    nav: Nav,
    lines: Vec<Line>,
    total: usize,
    pathway: String,
    site: String,
    status: String,
    navigator: String,
    q: String,
    pathways: Vec<(String, String, usize)>,
    sites: Vec<(String, usize)>,
    statuses: Vec<(&'static str, &'static str, usize)>,
    navigators: Vec<(String, String, usize)>,
    prev: Option<String>,
    next: Option<String>,
    last_run: String,
}

fn url(f: &Filters, page: usize) -> String {
    view::filtered_url(
        "/navigation",
        &[
            ("pathway", &f.pathway),
            ("site", &f.site),
            ("status", &f.status),
            ("navigator", &f.navigator),
            ("q", &f.q),
        ],
        page,
    )
}

/// "64 y", as the chart says it.
pub(crate) fn age(birth: Option<chrono::NaiveDate>, now_ms: i64) -> String {
    birth
        .and_then(|b| view::age(Some(&b.to_string()), now_ms))
        .map(|y| format!("{y} y"))
        .unwrap_or_default()
}

pub(crate) fn sex(g: Option<&str>) -> &'static str {
    match g {
        Some("female") => " F",
        Some("male") => " M",
        _ => "",
    }
}

fn worklist(
    nav: &Navigation,
    f: &Filters,
    user: &crate::User,
    reach: Option<Arc<BTreeSet<String>>>,
    zone: crate::Zone,
) -> WorklistPage {
    let now_ms = nav.now().timestamp_millis();
    let q = navigation::Query {
        pathway: Some(f.pathway.clone()).filter(|s| !s.is_empty()),
        site: Some(f.site.clone()).filter(|s| !s.is_empty()),
        status: Risk::parse(&f.status),
        navigator: Some(f.navigator.clone()).filter(|s| !s.is_empty()),
        search: Some(f.q.clone()).filter(|s| !s.trim().is_empty()),
        reach,
        count: PAGE,
        offset: f.page * PAGE,
    };
    let page = nav.worklist(&q);
    let lines = page
        .rows
        .iter()
        .map(|r| Line {
            patient: r.patient.clone(),
            name: r.name.clone(),
            mrn: r.mrn.clone().unwrap_or_default(),
            age: format!("{}{}", age(r.birth_date, now_ms), sex(r.gender.as_deref())),
            pathways: r
                .pathways
                .iter()
                .map(|p| p.1.as_str())
                .collect::<Vec<_>>()
                .join(" · "),
            site: r.site.clone().unwrap_or_default(),
            next: r
                .next
                .as_ref()
                .map(|n| n.1.clone())
                .unwrap_or_else(|| "No step due".into()),
            due: r
                .next
                .as_ref()
                .and_then(|n| n.2)
                .map(|d| format!("due {}", zone.date(&d.to_rfc3339(), now_ms)))
                .unwrap_or_default(),
            overdue: r.next.as_ref().is_some_and(|n| n.3),
            clocks: r.clocks.iter().map(chip).collect(),
            why: r
                .clocks
                .iter()
                .filter(|c| matches!(c.risk, Risk::Breached | Risk::AtRisk))
                .min_by_key(|c| (c.risk, c.left))
                .map(|c| format!("{}: {}", c.label, c.reason))
                .unwrap_or_default(),
            barriers: r.barriers.clone(),
            contact: r
                .last_contact
                .as_ref()
                .map(|c| {
                    format!(
                        "{} · {} · {}",
                        zone.clock(&c.at.to_rfc3339(), now_ms),
                        navigation::channel_words(&c.channel),
                        navigation::outcome_words(&c.outcome)
                    )
                })
                .unwrap_or_default(),
            navigator: r
                .navigator
                .as_ref()
                .map(|n| n.1.clone())
                .unwrap_or_default(),
        })
        .collect();
    let last_run = nav
        .last_run()
        .map(|r| format!("Clocks as of {}", zone.date(&r.on.to_string(), now_ms)))
        .unwrap_or_else(|| "The first evaluation is running.".into());
    WorklistPage {
        nav: Nav::new(user, "navigation", zone),
        lines,
        total: page.total,
        pathway: f.pathway.clone(),
        site: f.site.clone(),
        status: f.status.clone(),
        navigator: f.navigator.clone(),
        q: f.q.clone(),
        pathways: page
            .pathways
            .iter()
            .map(|(id, (t, n))| (id.clone(), t.clone(), *n))
            .collect(),
        sites: page.sites.iter().map(|(s, n)| (s.clone(), *n)).collect(),
        statuses: page
            .statuses
            .iter()
            .map(|(r, n)| (r.code(), r.words(), *n))
            .collect(),
        navigators: page
            .navigators
            .iter()
            .map(|(id, (name, n))| {
                let name = if *id == user.practitioner {
                    format!("{name} (you)")
                } else {
                    name.clone()
                };
                (id.clone(), name, *n)
            })
            .collect(),
        prev: (f.page > 0).then(|| url(f, f.page - 1)),
        next: ((f.page + 1) * PAGE < page.total).then(|| url(f, f.page + 1)),
        last_run,
    }
}

/// The patients the user reaches (`None`: everyone).
pub(crate) fn reach_of(
    web: &Web,
    user: &crate::User,
) -> Result<Option<Arc<BTreeSet<String>>>, PageError> {
    let access = web.access(user)?;
    Ok(match access.reach() {
        access::Reach::All => None,
        access::Reach::Patients(p) => Some(Arc::new(p.clone())),
    })
}

pub(crate) async fn page(
    State(web): State<Web>,
    auth: crate::session::AuthExt,
    Query(f): Query<Filters>,
) -> Result<Response, PageError> {
    let user = crate::session::user(&auth, access::Permission::Outreach)?;
    let nav = web.nav_service()?;
    let zone = web.config.zone;
    let w = web.clone();
    let page = blocking(move || {
        let reach = reach_of(&w, &user)?;
        Ok(worklist(&nav, &f, &user, reach, zone))
    })
    .await?;
    let seen = server::Seen(
        page.lines
            .iter()
            .map(|l| format!("Patient/{}", l.patient))
            .collect(),
    );
    Ok(view::with_seen(view::render(&page), seen))
}

pub(crate) struct TItem {
    when: String,
    kind: &'static str,
    pathway: String,
    title: String,
    detail: String,
    who: String,
    ahead: bool,
    late: bool,
}

#[derive(Template)]
#[template(path = "navigation_patient.html")]
pub(crate) struct TimelinePage {
    nav: Nav,
    id: String,
    name: String,
    mrn: String,
    age: String,
    site: String,
    pathways: String,
    navigator: String,
    barriers: Vec<String>,
    clocks: Vec<Chip>,
    items: Vec<TItem>,
    steps: Vec<(String, String)>,
    /// Steps marked done by hand, which can be withdrawn: (`pathway|milestone`, words).
    marked: Vec<(String, String)>,
    adjustments: Vec<(String, String)>,
    channels: Vec<(&'static str, &'static str)>,
    outcomes: Vec<(&'static str, &'static str)>,
    team: Vec<(String, String, bool)>,
    now_input: String,
    today_input: String,
    mdt: crate::mdt::Panel,
    /// Open tasks a social need raised before an appointment: (id, version, what, due).
    before: Vec<(String, String, String, String)>,
    notice: Option<String>,
    error: Option<String>,
}

/// Open tasks a food or transport need raised before the patient's appointments, as the
/// user reaches them: (id, version, what, due in words).
fn before_appointments(
    web: &Web,
    user: &crate::User,
    id: &str,
    now_ms: i64,
) -> Result<Vec<(String, String, String, String)>, PageError> {
    let access = web.access(user)?;
    let tasks = view::search(
        &*web.app.store,
        &access,
        "Task",
        &[
            ("patient", format!("Patient/{id}")),
            (
                "code",
                format!(
                    "{}|{}",
                    referrals::NAVIGATION_CODES,
                    referrals::BEFORE_APPOINTMENT
                ),
            ),
            ("status", "requested,accepted,in-progress".into()),
            ("_count", "20".into()),
        ],
    )?;
    Ok(tasks
        .iter()
        .filter_map(|t| {
            Some((
                t["id"].as_str()?.to_string(),
                t["meta"]["versionId"].as_str().unwrap_or("1").to_string(),
                t["description"].as_str().unwrap_or_default().to_string(),
                t["restriction"]["period"]["end"]
                    .as_str()
                    .map(|d| web.config.zone.clock(d, now_ms))
                    .unwrap_or_default(),
            ))
        })
        .collect())
}

#[derive(Debug, Deserialize)]
pub(crate) struct DoneForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    version: String,
}

/// `POST /navigation/patients/{id}/tasks/{task}/done`: the navigator arranged the support.
pub(crate) async fn task_done(
    State(web): State<Web>,
    auth: crate::session::AuthExt,
    Path((id, task)): Path<(String, String)>,
    Form(f): Form<DoneForm>,
) -> Result<Response, PageError> {
    let user = crate::session::poster(&auth, &f.csrf, access::Permission::Outreach)?;
    let (w, u) = (web.clone(), user.clone());
    let notice = blocking(move || {
        let access = w.access(&u)?;
        let Some(mut t) = view::read(&*w.app.store, &access, "Task", &task) else {
            return Ok("That task is not on the record.".to_string());
        };
        if t["code"]["coding"][0]["code"] != referrals::BEFORE_APPOINTMENT {
            return Ok("That is not a task before an appointment.".to_string());
        }
        t["status"] = serde_json::json!("completed");
        t["lastModified"] = serde_json::json!(
            chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        );
        if !u.practitioner.is_empty() {
            t["owner"] = serde_json::json!({"reference": u.practitioner});
        }
        let entry = store::Entry {
            full_url: None,
            op: store::WriteOp::Update {
                rtype: "Task".into(),
                id: task.clone(),
                resource: t,
                if_match: Some(f.version.clone()),
            },
        };
        Ok(
            match w.app.store.write(&access, vec![entry], store::Mode::Atomic) {
                Ok(rs) if rs.iter().all(|r| r.is_ok()) => "Marked done.".to_string(),
                Ok(_) | Err(store::StoreError::VersionConflict { .. }) => {
                    "Someone changed this task since you opened the page; it is shown as it is now."
                        .to_string()
                }
                Err(store::StoreError::Forbidden { .. }) => {
                    "You cannot change this task.".to_string()
                }
                Err(e) => {
                    tracing::error!(error = %e, "a task could not be marked done");
                    "The task could not be saved. Try again in a moment.".to_string()
                }
            },
        )
    })
    .await?;
    Ok(web.redirect_with_notice(&user, &format!("/navigation/patients/{id}"), notice))
}

pub(crate) fn timeline(
    web: &Web,
    nav: &Navigation,
    id: &str,
    user: &crate::User,
    notice: Option<String>,
    error: Option<String>,
) -> Result<TimelinePage, PageError> {
    let zone = web.config.zone;
    let case = nav.case(id).ok_or_else(|| {
        view::error_page(
            StatusCode::NOT_FOUND,
            "This patient is not on a care pathway.",
        )
    })?;
    let now = nav.now();
    let now_ms = now.timestamp_millis();
    let row = nav.row(&case);
    let several = case.episodes.len() > 1;
    let items = nav
        .timeline(&case)
        .into_iter()
        .rev()
        .map(|i| TItem {
            // Due times and deadlines fall at midnight: the day says it.
            when: if i.at.format("%H:%M").to_string() == "00:00" {
                zone.date(&i.at.to_rfc3339(), now_ms)
            } else {
                zone.clock(&i.at.to_rfc3339(), now_ms)
            },
            kind: i.kind.code(),
            pathway: if several { i.pathway } else { String::new() },
            title: i.title,
            detail: i.detail,
            who: i.who.unwrap_or_default(),
            ahead: i.ahead,
            late: i.late,
        })
        .collect();
    let mut steps = Vec::new();
    let mut marked = Vec::new();
    // A step marked by mistake may have ended its pathway: every episode's entries count.
    for ep in &case.episodes {
        for m in &ep.evaluation.milestones {
            if let Some(d) = m.done.iter().find(|d| d.manual) {
                marked.push((
                    format!("{}|{}", ep.pathway, m.id),
                    format!(
                        "{} (marked done for {})",
                        m.name,
                        navigation::day(d.at, now)
                    ),
                ));
            }
        }
    }
    for ep in case.episodes.iter().filter(|e| e.active) {
        let Some(pw) = nav.pathways().pathway(&ep.pathway) else {
            continue;
        };
        for m in &ep.evaluation.milestones {
            let manual = pw.milestone(&m.id).is_some_and(|d| d.manual);
            if manual
                && matches!(
                    m.status,
                    pathways::MilestoneStatus::Pending | pathways::MilestoneStatus::Overdue
                )
            {
                steps.push((format!("{}|{}", ep.pathway, m.id), m.name.clone()));
            }
        }
    }
    let adjustments = case
        .episodes
        .iter()
        .filter(|e| e.active)
        .filter_map(|e| nav.pathways().pathway(&e.pathway))
        .flat_map(|p| {
            p.adjustments
                .iter()
                .map(move |a| (format!("{}|{}", p.id, a.id), a.name.clone()))
        })
        .collect();
    let current = case.navigator.clone().unwrap_or_default();
    Ok(TimelinePage {
        nav: Nav::new(user, "navigation", zone),
        id: id.to_string(),
        name: case.person.name.clone(),
        mrn: case.person.mrn.clone().unwrap_or_default(),
        age: format!(
            "{}{}",
            age(case.person.birth_date, now_ms),
            sex(case.person.gender.as_deref())
        ),
        site: case.site.clone().unwrap_or_default(),
        pathways: case
            .episodes
            .iter()
            .map(|e| e.title.clone())
            .collect::<Vec<_>>()
            .join("; "),
        navigator: case
            .navigator
            .as_deref()
            .map(|n| nav.name_of(n))
            .unwrap_or_else(|| "None".into()),
        barriers: case.barriers.clone(),
        clocks: row
            .map(|r| r.clocks.iter().map(chip).collect())
            .unwrap_or_default(),
        items,
        steps,
        marked,
        adjustments,
        channels: navigation::CHANNELS.iter().map(|c| (c.0, c.2)).collect(),
        outcomes: navigation::OUTCOMES.to_vec(),
        team: nav
            .team()
            .into_iter()
            .map(|(p, n)| {
                let s = p == current;
                (p, n, s)
            })
            .collect(),
        now_input: zone.input_value(now_ms),
        today_input: now.format("%Y-%m-%d").to_string(),
        mdt: crate::mdt::panel(web, user, id)?,
        before: before_appointments(web, user, id, now_ms)?,
        notice,
        error,
    })
}

#[derive(Debug, Deserialize)]
pub(crate) struct Shown {
    pub(crate) done: Option<String>,
}

pub(crate) async fn patient(
    State(web): State<Web>,
    auth: crate::session::AuthExt,
    Path(id): Path<String>,
    Query(q): Query<Shown>,
) -> Result<Response, PageError> {
    let user = crate::session::user(&auth, access::Permission::Outreach)?;
    let nav = web.nav_service()?;
    crate::chart::reach(&web, &user, &id).await?;
    let notice = web.notice(&user, q.done);
    let (w, pid) = (web.clone(), id.clone());
    let page = blocking(move || timeline(&w, &nav, &pid, &user, notice, None)).await?;
    Ok(view::with_seen(
        view::render(&page),
        server::Seen(vec![format!("Patient/{id}")]),
    ))
}

#[derive(Debug, Deserialize)]
pub(crate) struct ContactForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    channel: String,
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    at: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct StepForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    step: String,
    #[serde(default)]
    date: String,
    #[serde(default)]
    note: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct WithdrawForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    step: String,
    #[serde(default)]
    reason: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct AdjustmentForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    rule: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    until: String,
    #[serde(default)]
    reason: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct NavigatorForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    navigator: String,
    #[serde(default)]
    note: String,
}

/// What a form asks of the service.
enum Act {
    Contact(ContactForm),
    Step(StepForm),
    Withdraw(WithdrawForm),
    Adjust(AdjustmentForm),
    Assign(NavigatorForm),
}

async fn act(
    web: Web,
    auth: crate::session::AuthExt,
    id: String,
    csrf: String,
    form: Act,
) -> Result<Response, PageError> {
    let user = crate::session::poster(&auth, &csrf, access::Permission::Outreach)?;
    let nav = web.nav_service()?;
    crate::chart::reach(&web, &user, &id).await?;
    let zone = web.config.zone;
    let (w, u, pid, nav2) = (web.clone(), user.clone(), id.clone(), nav.clone());
    let outcome = blocking(move || {
        let nav = nav2;
        let access = w.access(&u)?;
        let by = u.practitioner.clone();
        let tz = zone.tz();
        let to_time = |ms: i64| {
            chrono::DateTime::from_timestamp_millis(ms).map(|t| t.with_timezone(&tz).fixed_offset())
        };
        let r = match form {
            Act::Contact(f) => {
                let at = if f.at.trim().is_empty() {
                    Some(nav.now())
                } else {
                    zone.from_input(&f.at).and_then(to_time)
                };
                match at {
                    None => Err(navigation_error("The time could not be read.")),
                    Some(at) if at > nav.now() + chrono::Duration::minutes(5) => {
                        Err(navigation_error("The contact cannot be in the future."))
                    }
                    Some(at) => nav
                        .record_contact(
                            &access,
                            &by,
                            &navigation::NewContact {
                                patient: pid.clone(),
                                channel: f.channel,
                                outcome: f.outcome,
                                note: f.note.chars().take(1000).collect(),
                                at,
                            },
                        )
                        .map(|_| "Contact recorded.".to_string()),
                }
            }
            Act::Step(f) => {
                let (pathway, milestone) = f.step.split_once('|').unwrap_or(("", ""));
                let at = zone
                    .from_input(&format!("{}T12:00", f.date.trim()))
                    .and_then(to_time);
                match at {
                    None => Err(navigation_error("Choose the date it happened.")),
                    Some(at) => {
                        let at = at.min(nav.now());
                        nav.complete_milestone(
                            &access,
                            &by,
                            &pid,
                            pathway,
                            milestone,
                            at,
                            &f.note.chars().take(1000).collect::<String>(),
                        )
                        .map(|_| "Step marked done.".to_string())
                    }
                }
            }
            Act::Withdraw(f) => {
                let (pathway, milestone) = f.step.split_once('|').unwrap_or(("", ""));
                nav.withdraw_milestone(&access, &by, &pid, pathway, milestone, &f.reason)
                    .map(|_| "Step withdrawn; the record decides it again.".to_string())
            }
            Act::Adjust(f) => {
                let (pathway, rule) = f.rule.split_once('|').unwrap_or(("", ""));
                let day = |d: &str| {
                    zone.from_input(&format!("{}T00:00", d.trim()))
                        .and_then(to_time)
                };
                let until = if f.until.trim().is_empty() {
                    Ok(None)
                } else {
                    day(&f.until).map(Some).ok_or(())
                };
                match (day(&f.from), until) {
                    (Some(from), Ok(until)) => nav
                        .record_adjustment(
                            &access,
                            &by,
                            &pid,
                            pathway,
                            rule,
                            from,
                            until,
                            &f.reason.chars().take(500).collect::<String>(),
                        )
                        .map(|_| "Clock adjustment recorded.".to_string()),
                    _ => Err(navigation_error("Choose the dates.")),
                }
            }
            Act::Assign(f) => nav
                .assign(
                    &access,
                    &by,
                    &pid,
                    &f.navigator,
                    &f.note.chars().take(500).collect::<String>(),
                )
                .map(|_| format!("{} is now the navigator.", nav.name_of(&f.navigator))),
        };
        Ok(r.map_err(refusal))
    })
    .await?;
    match outcome {
        Ok(notice) => {
            Ok(web.redirect_with_notice(&user, &format!("/navigation/patients/{id}"), notice))
        }
        Err((status, message)) => {
            let w = web.clone();
            let page =
                blocking(move || timeline(&w, &nav, &id, &user, None, Some(message))).await?;
            let mut resp = view::render(&page);
            *resp.status_mut() = status;
            Ok(resp)
        }
    }
}

/// What a refused navigation record tells the person: the status and plain words.
pub(crate) fn refusal(e: navigation::Error) -> (StatusCode, String) {
    match e {
        navigation::Error::Store(store::StoreError::Forbidden { .. }) => (
            StatusCode::FORBIDDEN,
            "You cannot record this for this patient.".to_string(),
        ),
        navigation::Error::Store(e) => {
            tracing::warn!(error = %e, "a navigation record was refused");
            (
                StatusCode::CONFLICT,
                "It could not be saved: the record changed meanwhile. Try again.".to_string(),
            )
        }
        e => (
            StatusCode::UNPROCESSABLE_ENTITY,
            e.to_string().trim_start_matches("not found: ").to_string(),
        ),
    }
}

fn navigation_error(m: &str) -> navigation::Error {
    navigation::Error::Invalid(m.to_string())
}

pub(crate) async fn contact(
    State(web): State<Web>,
    auth: crate::session::AuthExt,
    Path(id): Path<String>,
    Form(f): Form<ContactForm>,
) -> Result<Response, PageError> {
    let csrf = f.csrf.clone();
    act(web, auth, id, csrf, Act::Contact(f)).await
}

pub(crate) async fn step(
    State(web): State<Web>,
    auth: crate::session::AuthExt,
    Path(id): Path<String>,
    Form(f): Form<StepForm>,
) -> Result<Response, PageError> {
    let csrf = f.csrf.clone();
    act(web, auth, id, csrf, Act::Step(f)).await
}

pub(crate) async fn withdraw(
    State(web): State<Web>,
    auth: crate::session::AuthExt,
    Path(id): Path<String>,
    Form(f): Form<WithdrawForm>,
) -> Result<Response, PageError> {
    let csrf = f.csrf.clone();
    act(web, auth, id, csrf, Act::Withdraw(f)).await
}

pub(crate) async fn adjust(
    State(web): State<Web>,
    auth: crate::session::AuthExt,
    Path(id): Path<String>,
    Form(f): Form<AdjustmentForm>,
) -> Result<Response, PageError> {
    let csrf = f.csrf.clone();
    act(web, auth, id, csrf, Act::Adjust(f)).await
}

pub(crate) async fn assign(
    State(web): State<Web>,
    auth: crate::session::AuthExt,
    Path(id): Path<String>,
    Form(f): Form<NavigatorForm>,
) -> Result<Response, PageError> {
    let csrf = f.csrf.clone();
    act(web, auth, id, csrf, Act::Assign(f)).await
}
