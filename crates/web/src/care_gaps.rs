//! The care-gap outreach worklist (`/care-gaps`): open USPSTF screening gaps, longest open
//! first, filtered by screening, preferred language and whether anyone has reached out yet;
//! each row with how to reach the patient and a form to record the outreach.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use care_gaps::{CareGaps, GapView, OUTCOMES};
use serde::Deserialize;

use crate::view::{self, Nav, PageError};
use crate::{blocking, Web};

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Filters {
    #[serde(default)]
    rule: String,
    #[serde(default)]
    language: String,
    /// `no` (not yet contacted), `yes`, or empty.
    #[serde(default)]
    contacted: String,
    #[serde(default)]
    page: usize,
}

pub(crate) struct Line {
    gap: String,
    patient: String,
    name: String,
    mrn: String,
    age: String,
    title: String,
    action: String,
    since: String,
    overdue: String,
    phone: String,
    email: String,
    language: String,
    interpreter: bool,
    outreach: String,
}

#[derive(Template)]
#[template(path = "care_gaps.html")]
struct WorklistPage {
    nav: Nav,
    lines: Vec<Line>,
    total: usize,
    open: usize,
    rules: Vec<(String, String, usize)>,
    languages: Vec<(String, String, usize)>,
    rule: String,
    language: String,
    contacted: String,
    outcomes: Vec<(&'static str, &'static str)>,
    back: String,
    prev: Option<String>,
    next: Option<String>,
    last_run: String,
    notice: Option<String>,
}

const PAGE: usize = 50;

impl Web {
    pub(crate) fn gaps(&self) -> Result<std::sync::Arc<CareGaps>, PageError> {
        self.app.care_gaps.clone().ok_or_else(|| {
            view::error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Care gaps are not running on this server.",
            )
        })
    }
}

fn url(f: &Filters, page: usize) -> String {
    view::filtered_url(
        "/care-gaps",
        &[
            ("rule", &f.rule),
            ("language", &f.language),
            ("contacted", &f.contacted),
        ],
        page,
    )
}

fn worklist(
    gaps: &CareGaps,
    f: &Filters,
    user: &crate::session::User,
    notice: Option<String>,
    zone: crate::Zone,
) -> WorklistPage {
    let today = gaps.today();
    let q = care_gaps::Query {
        rule: Some(f.rule.clone()).filter(|s| !s.is_empty()),
        language: Some(f.language.clone()).filter(|s| !s.is_empty()),
        contacted: match f.contacted.as_str() {
            "no" => Some(false),
            "yes" => Some(true),
            _ => None,
        },
        since_before: None,
        count: PAGE,
        offset: f.page * PAGE,
    };
    let page = gaps.worklist(&q);
    let titles: std::collections::HashMap<&str, &str> = gaps
        .rules()
        .rules()
        .iter()
        .map(|r| (r.id.as_str(), r.title.as_str()))
        .collect();
    let lines = page
        .rows
        .iter()
        .map(|r| {
            let p = &r.person;
            Line {
                gap: r.id(),
                patient: r.gap.patient.clone(),
                name: p.name.clone(),
                mrn: p.mrn.clone().unwrap_or_default(),
                age: r.age.map(|a| a.to_string()).unwrap_or_default(),
                title: r.rule_title.clone(),
                action: r.action.clone(),
                since: r.gap.since.map(day).unwrap_or_else(|| "—".into()),
                overdue: r
                    .gap
                    .since
                    .map(|d| {
                        let days = (today - d).num_days();
                        match days {
                            d if d < 1 => "due today".to_string(),
                            d if d < 60 => format!("{d} days"),
                            d if d < 730 => format!("{} months", d / 30),
                            d => format!("{} years", d / 365),
                        }
                    })
                    .unwrap_or_default(),
                phone: p.phone.clone().unwrap_or_default(),
                email: p.email.clone().unwrap_or_default(),
                language: p
                    .language
                    .as_ref()
                    .map(|(_, d)| d.clone())
                    .unwrap_or_else(|| "English".into()),
                interpreter: p.interpreter,
                outreach: r
                    .outreach
                    .as_ref()
                    .map(|o| {
                        format!(
                            "{} · {} · {}",
                            o.outcome_display,
                            o.at.get(..10).unwrap_or(&o.at),
                            o.by
                        )
                    })
                    .unwrap_or_default(),
            }
        })
        .collect();
    let total_open: usize = page.by_rule.iter().map(|(_, n)| n).sum();
    let last_run = gaps
        .last_run()
        .map(|r| {
            format!(
                "Evaluated {} patients on {} in {:.1} s",
                r.patients,
                r.on,
                r.millis as f64 / 1000.0
            )
        })
        .unwrap_or_else(|| "The first evaluation is running.".into());
    WorklistPage {
        nav: Nav::new(user, "care-gaps", zone),
        lines,
        total: page.total,
        open: total_open,
        rules: page
            .by_rule
            .iter()
            .map(|(id, n)| {
                (
                    id.clone(),
                    titles.get(id.as_str()).copied().unwrap_or(id).to_string(),
                    *n,
                )
            })
            .collect(),
        languages: page.by_language.clone(),
        rule: f.rule.clone(),
        language: f.language.clone(),
        contacted: f.contacted.clone(),
        outcomes: OUTCOMES.to_vec(),
        back: url(f, f.page),
        prev: (f.page > 0).then(|| url(f, f.page - 1)),
        next: ((f.page + 1) * PAGE < page.total).then(|| url(f, f.page + 1)),
        last_run,
        notice,
    }
}

pub(crate) async fn page(
    State(web): State<Web>,
    auth: crate::session::AuthExt,
    Query(f): Query<Filters>,
) -> Result<Response, PageError> {
    let user = crate::session::user(&auth, access::Permission::Outreach)?;
    let gaps = web.gaps()?;
    let zone = web.config.zone;
    let page = blocking(move || Ok(worklist(&gaps, &f, &user, None, zone))).await?;
    let seen = server::Seen(
        page.lines
            .iter()
            .map(|l| format!("Patient/{}", l.patient))
            .collect(),
    );
    Ok(view::with_seen(view::render(&page), seen))
}

#[derive(Debug, Deserialize)]
pub(crate) struct OutreachForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    back: String,
}

pub(crate) async fn outreach(
    State(web): State<Web>,
    auth: crate::session::AuthExt,
    Path(gap): Path<String>,
    Form(form): Form<OutreachForm>,
) -> Result<Response, PageError> {
    let user = crate::session::poster(&auth, &form.csrf, access::Permission::Outreach)?;
    let gaps = web.gaps()?;
    if form.outcome.is_empty() {
        let (f, zone) = (Filters::default(), web.config.zone);
        let msg = "Choose what happened before recording the outreach.".to_string();
        let mut resp =
            view::render(&blocking(move || Ok(worklist(&gaps, &f, &user, Some(msg), zone))).await?);
        *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
        return Ok(resp);
    }
    let by = user.name.clone();
    let note = form.note.chars().take(500).collect::<String>();
    let outcome = form.outcome.clone();
    let g = gaps.clone();
    let done = blocking(move || Ok(g.record_outreach(&gap, &outcome, Some(&note), &by))).await?;
    let back = if form.back.starts_with("/care-gaps") {
        form.back
    } else {
        "/care-gaps".into()
    };
    match done {
        Ok(_) => Ok(Redirect::to(&back).into_response()),
        Err(e) => {
            let f = Filters::default();
            let msg = e.to_string();
            let zone = web.config.zone;
            let mut resp = view::render(
                &blocking(move || Ok(worklist(&gaps, &f, &user, Some(msg), zone))).await?,
            );
            *resp.status_mut() = StatusCode::CONFLICT;
            Ok(resp)
        }
    }
}

/// One rule's line on the chart.
pub(crate) struct ChartGap {
    pub(crate) title: String,
    pub(crate) status: &'static str,
    pub(crate) label: &'static str,
    pub(crate) detail: String,
    pub(crate) source: String,
    pub(crate) url: String,
}

/// The chart's preventive-care section: every rule, due first.
pub(crate) fn chart_gaps(gaps: &CareGaps, patient: &str) -> Result<Vec<ChartGap>, PageError> {
    let mine = gaps.patient(patient).map_err(|e| {
        view::error_page(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("Care gaps could not be evaluated: {e}"),
        )
    })?;
    let mut out: Vec<ChartGap> = mine.gaps.iter().map(line).collect();
    let order = |s: &str| match s {
        "due" => 0,
        "satisfied" => 1,
        "excluded" => 2,
        _ => 3,
    };
    out.sort_by_key(|g| order(g.status));
    Ok(out)
}

fn line(g: &GapView) -> ChartGap {
    let evidence = |prefix: &str| {
        g.evidence
            .as_ref()
            .map(|e| {
                let when = e
                    .date
                    .map(|d| format!(" on {}", day(d)))
                    .unwrap_or_default();
                let reported = if e.patient_reported {
                    ", patient-reported"
                } else {
                    ""
                };
                format!("{prefix}{}{when}{reported}", e.name)
            })
            .unwrap_or_default()
    };
    let (label, detail) = match g.status {
        "due" => (
            "Due",
            format!(
                "Due{}. {}{}",
                g.since
                    .map(|d| format!(" since {}", day(d)))
                    .unwrap_or_default(),
                g.action,
                evidence(" Last: ")
            ),
        ),
        "satisfied" => (
            "Up to date",
            format!(
                "{}{}",
                evidence(""),
                if g.once {
                    ". Once only: done".to_string()
                } else {
                    g.expires
                        .map(|d| format!(". Next due {d}"))
                        .unwrap_or_default()
                }
            ),
        ),
        "excluded" => (
            "Excluded",
            format!("{}{}", g.reason.clone().unwrap_or_default(), evidence(": ")),
        ),
        _ => ("Not applicable", g.reason.clone().unwrap_or_default()),
    };
    ChartGap {
        title: g.title.clone(),
        status: g.status,
        label,
        detail,
        source: g.source.clone(),
        url: g.url.clone(),
    }
}

/// A calendar day as people read it, with its year (care-gap dates span decades).
fn day(d: chrono::NaiveDate) -> String {
    d.format("%-d %b %Y").to_string()
}
