//! The patient chart: demographics, the current encounter with its ward and bed history,
//! the NEWS2 observation chart (each parameter over time, cells coloured by the points it
//! scored, the total with its band and a line of totals), problems and the alerts with who
//! acknowledged and responded; beside them the essentials (`chart_essentials`): resuscitation
//! decision, allergies, medicines, oxygen and target, sepsis screens and labs with trends.

use crate::local::{Now, Zone};
use crate::view::PageError;
use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use early_warning::EarlyWarning;
use serde_json::Value;

use crate::view::{self, band_label, Nav};
use crate::{blocking, Web};

/// Sets shown on the chart.
const COLUMNS: usize = 12;

#[derive(Debug, Clone)]
pub(crate) struct Demographics {
    pub(crate) name: String,
    pub(crate) born: String,
    pub(crate) age: String,
    pub(crate) sex: String,
    pub(crate) mrn: String,
    pub(crate) language: String,
    pub(crate) interpreter: bool,
    pub(crate) race: Option<String>,
    pub(crate) ethnicity: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct Stay {
    pub(crate) class: String,
    pub(crate) status: String,
    pub(crate) since: String,
    pub(crate) places: Vec<Place>,
}

#[derive(Debug, Clone)]
pub(crate) struct Place {
    pub(crate) name: String,
    pub(crate) kind: &'static str,
    pub(crate) current: bool,
    pub(crate) from: String,
    pub(crate) to: String,
}

/// One cell of the observation chart.
#[derive(Debug, Clone)]
pub(crate) struct Cell {
    pub(crate) text: String,
    /// `p0` … `p3`, or `none`.
    pub(crate) class: String,
    pub(crate) points: String,
}

#[derive(Debug, Clone)]
pub(crate) struct ChartRow {
    pub(crate) label: &'static str,
    pub(crate) cells: Vec<Cell>,
}

#[derive(Debug, Clone)]
pub(crate) struct Column {
    pub(crate) time: String,
    pub(crate) total: String,
    pub(crate) band: String,
    pub(crate) band_label: &'static str,
    pub(crate) scale: u32,
    /// `NEWS2`, or `PEWS` for a child's set.
    pub(crate) score_name: &'static str,
}

/// The line of totals: an SVG polyline over the columns.
#[derive(Debug, Clone)]
pub(crate) struct Line {
    pub(crate) width: usize,
    pub(crate) points: String,
    pub(crate) dots: Vec<(usize, usize, String, String)>,
}

#[derive(Debug, Clone)]
pub(crate) struct AlertLine {
    pub(crate) band: String,
    pub(crate) band_label: &'static str,
    pub(crate) raised: String,
    pub(crate) state: String,
    pub(crate) response: String,
    pub(crate) acknowledged: String,
    pub(crate) responses: Vec<String>,
    pub(crate) resolved: String,
}

#[derive(Template)]
#[template(path = "chart.html")]
struct ChartPage {
    nav: Nav,
    id: String,
    who: Demographics,
    stay: Option<Stay>,
    columns: Vec<Column>,
    rows: Vec<ChartRow>,
    line: Line,
    essentials: crate::chart_essentials::Essentials,
    problems: Vec<String>,
    alerts: Vec<AlertLine>,
    /// Every care-gap rule's verdict, when care gaps run.
    gaps: Option<Vec<crate::care_gaps::ChartGap>>,
    /// Which page of sets (0: the newest), and whether earlier ones exist.
    page: usize,
    earlier: bool,
    /// Lines and catheters, those in first; and what a nurse can record.
    devices: Vec<crate::chart_devices::DeviceLine>,
    device_kinds: Vec<(&'static str, &'static str)>,
    /// Now, for the time-placed field.
    now_input: String,
    may_record: bool,
    /// Suspected sepsis's first hour, when begun in the last day.
    sepsis: Option<crate::sepsis::Cell>,
    /// The consultant's cancer-pathway page is offered (a consultant, navigation running).
    cancer_pathway: bool,
}

fn text_of(concept: &Value) -> String {
    concept["text"]
        .as_str()
        .or_else(|| concept["coding"][0]["display"].as_str())
        .or_else(|| concept["coding"][0]["code"].as_str())
        .unwrap_or("")
        .to_string()
}

fn demographics(p: &Value, now: Now) -> Demographics {
    let (language, interpreter) = view::language(p);
    Demographics {
        name: view::name(p),
        born: p["birthDate"]
            .as_str()
            .map(|d| now.date(d))
            .unwrap_or_else(|| "unknown".into()),
        age: view::age(p["birthDate"].as_str(), now.ms)
            .map(|a| a.to_string())
            .unwrap_or_else(|| "?".into()),
        sex: p["gender"].as_str().unwrap_or("unknown").to_string(),
        mrn: view::mrn(p),
        language: language.unwrap_or_else(|| "not recorded".into()),
        interpreter,
        race: view::us_core_text(p, "race"),
        ethnicity: view::us_core_text(p, "ethnicity"),
    }
}

fn stay(enc: &Value, now: Now) -> Stay {
    let places = enc["location"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|l| {
            let bed = l["physicalType"]["coding"]
                .as_array()
                .is_some_and(|c| c.iter().any(|x| x["code"] == "bd" || x["code"] == "ro"));
            Place {
                name: l["location"]["display"]
                    .as_str()
                    .unwrap_or_else(|| l["location"]["reference"].as_str().unwrap_or(""))
                    .to_string(),
                kind: if bed { "Bed" } else { "Ward" },
                current: l["status"].as_str().is_none_or(|s| s == "active"),
                from: l["period"]["start"]
                    .as_str()
                    .map(|t| now.clock(t))
                    .unwrap_or_default(),
                to: l["period"]["end"]
                    .as_str()
                    .map(|t| now.clock(t))
                    .unwrap_or_default(),
            }
        })
        .collect();
    Stay {
        class: match enc["class"]["code"].as_str() {
            Some("IMP") => "Inpatient".into(),
            Some("EMER") => "Emergency".into(),
            Some("AMB") => "Outpatient".into(),
            Some(other) => other.into(),
            None => "Encounter".into(),
        },
        status: enc["status"].as_str().unwrap_or("").to_string(),
        since: enc["period"]["start"]
            .as_str()
            .map(|t| now.clock(t))
            .unwrap_or_default(),
        places,
    }
}

fn observation_chart(scores: &[Value], now: Now) -> (Vec<Column>, Vec<ChartRow>, Line) {
    let columns: Vec<Column> = scores
        .iter()
        .map(|s| {
            let sum = early_warning::summary(s);
            let (band, band_label) = match &sum {
                Some(x) => view::score_band(x),
                None => ("none".to_string(), band_label("none")),
            };
            Column {
                time: s["effectiveDateTime"]
                    .as_str()
                    .map(|t| now.clock(t))
                    .unwrap_or_default(),
                total: sum
                    .as_ref()
                    .map(|x| match x.total {
                        Some(t) => t.to_string(),
                        None => format!("≥{}", x.partial_total),
                    })
                    .unwrap_or_default(),
                band_label,
                band,
                score_name: sum.as_ref().map_or("NEWS2", |x| x.score_name()),
                scale: sum.map_or(1, |x| x.scale),
            }
        })
        .collect();
    // The rows are the items of the newest set's score: NEWS2's parameters, or a child's
    // PEWS items (respiratory distress and capillary refill among them).
    let child = columns.last().is_some_and(|c| c.score_name == "PEWS");
    let items: Vec<(&'static str, &'static str)> = if child {
        rules::pews::Param::ALL
            .into_iter()
            .map(|p| (p.code(), p.display()))
            .collect()
    } else {
        rules::Param::ALL
            .into_iter()
            .map(|p| (p.code(), p.display()))
            .collect()
    };
    let rows = items
        .into_iter()
        .map(|(code, label)| ChartRow {
            label,
            cells: scores
                .iter()
                .map(|s| {
                    let (value, points) = early_warning::score::item(s, code, label);
                    Cell {
                        text: value.unwrap_or_else(|| "–".into()),
                        class: points.map_or("none".to_string(), |p| format!("p{}", p.min(3))),
                        points: points.map(|p| p.to_string()).unwrap_or_default(),
                    }
                })
                .collect(),
        })
        .collect();
    // Totals 0–20 over a 100-unit-high plot, 40 units per column.
    let step = 40;
    let mut points = Vec::new();
    let mut dots = Vec::new();
    for (i, c) in columns.iter().enumerate() {
        let total: usize = c.total.trim_start_matches('≥').parse().unwrap_or(0).min(20);
        let (x, y) = (20 + i * step, 100 - total * 5);
        points.push(format!("{x},{y}"));
        dots.push((x, y, c.band.clone(), c.total.clone()));
    }
    let line = Line {
        width: 40 + columns.len().max(1) * step,
        points: points.join(" "),
        dots,
    };
    (columns, rows, line)
}

fn alerts(ew: &EarlyWarning, subject: &str, now: Now) -> Result<Vec<AlertLine>, PageError> {
    let store = ew.store();
    let who = |r: &Option<String>| -> String {
        r.as_deref()
            .and_then(|r| r.strip_prefix("Practitioner/"))
            .and_then(|id| view::read(&**store, &store::Access::system(), "Practitioner", id))
            .map(|p| view::name(&p))
            .unwrap_or_default()
    };
    Ok(ew
        .alerts(None, Some(subject), true)
        .map_err(view::store_error)?
        .into_iter()
        .map(|a| AlertLine {
            band_label: band_label(&a.band),
            band: view::alert_band_class(&a.band),
            raised: now.clock(&a.raised),
            state: format!("{:?}", a.lifecycle),
            response: a.required_response.clone(),
            acknowledged: match (&a.acknowledged_at, who(&a.acknowledged_by)) {
                (Some(at), by) if !by.is_empty() => format!("{} by {by}", now.clock(at)),
                (Some(at), _) => now.clock(at),
                _ => String::new(),
            },
            responses: view::responses(&a),
            resolved: a
                .resolved_at
                .as_deref()
                .map(|t| now.clock(t))
                .unwrap_or_default(),
        })
        .collect())
}

type Loaded = (
    Demographics,
    Option<Stay>,
    ((Vec<Column>, Vec<ChartRow>, Line), bool),
    crate::chart_essentials::Essentials,
    Vec<String>,
    Vec<AlertLine>,
);

/// The chart's record, read as the signed-in user (`access`): the store decides.
fn load(
    ew: &EarlyWarning,
    access: &store::Access,
    id: &str,
    zone: Zone,
    page: usize,
) -> Result<Loaded, PageError> {
    let store = ew.store();
    let now = Now::new(ew.now_ms(), zone);
    let patient = view::patient(&**store, access, id)?;
    let subject = format!("Patient/{id}");
    let stay = view::search(
        &**store,
        access,
        "Encounter",
        &[
            ("subject", subject.clone()),
            ("_sort", "-date".into()),
            ("_count", "1".into()),
        ],
    )?
    .first()
    .map(|e| stay(e, now));
    // One more than a page: whether earlier sets exist.
    let mut scores =
        view::early_warning_scores(&**store, access, &subject, COLUMNS + 1, page * COLUMNS)?;
    let earlier = scores.len() > COLUMNS;
    scores.truncate(COLUMNS);
    scores.reverse();
    let problems = view::search(
        &**store,
        access,
        "Condition",
        &[
            ("subject", subject.clone()),
            ("clinical-status", "active".into()),
            ("_count", "50".into()),
        ],
    )?
    .iter()
    .map(|c| text_of(&c["code"]))
    .collect();
    Ok((
        demographics(&patient, now),
        stay,
        (observation_chart(&scores, now), earlier),
        crate::chart_essentials::load(&**store, access, &subject, now)?,
        problems,
        alerts(ew, &subject, now)?,
    ))
}

pub(crate) async fn page(
    State(web): State<Web>,
    auth: crate::session::AuthExt,
    Path(id): Path<String>,
    axum::extract::Query(q): axum::extract::Query<ChartQuery>,
) -> Result<Response, PageError> {
    let user = crate::session::user(&auth, access::Permission::ChartRead)?;
    let page = q.earlier.unwrap_or(0).min(1000);
    reach(&web, &user, &id).await?;
    let ew = web.ew()?;
    let pid = id.clone();
    let gaps = web.app.care_gaps.clone();
    let (w, reader) = (web.clone(), user.clone());
    let (
        (who, stay, ((columns, rows, line), earlier), essentials, problems, alerts),
        gaps,
        (devices, sepsis),
    ) = blocking(move || {
        let access = w.access(&reader)?;
        let loaded = load(&ew, &access, &pid, w.config.zone, page)?;
        let gaps = gaps
            .map(|g| crate::care_gaps::chart_gaps(&g, &pid))
            .transpose()?;
        let now = crate::local::Now::new(ew.now_ms(), w.config.zone);
        let devices = crate::chart_devices::load(&**ew.store(), &access, &pid, now, w.config.zone)?;
        let sepsis = match &w.config.sepsis {
            Some(svc) => crate::sepsis::cells(svc, &access, Some(&pid), now)?
                .remove(&format!("Patient/{pid}")),
            None => None,
        };
        Ok((loaded, gaps, (devices, sepsis)))
    })
    .await?;
    Ok(view::render(&ChartPage {
        nav: Nav::new(&user, "chart", web.config.zone),
        id,
        who,
        stay,
        columns,
        rows,
        line,
        essentials,
        problems,
        alerts,
        gaps,
        page,
        earlier,
        devices,
        device_kinds: crate::chart_devices::kinds(),
        now_input: web.config.zone.input_value(web.ew()?.now_ms()),
        may_record: user.may(access::Permission::RecordWrite),
        sepsis,
        cancer_pathway: user.may(access::Permission::CancerUpgrade)
            && web.config.navigation.is_some(),
    }))
}

/// `?earlier=N`: the chart's Nth page of earlier sets (0: the newest).
#[derive(Debug, serde::Deserialize)]
pub(crate) struct ChartQuery {
    earlier: Option<usize>,
}

#[derive(Template)]
#[template(path = "break_glass.html")]
struct BreakGlassPage {
    nav: Nav,
    id: String,
    error: Option<String>,
    may: bool,
}

/// Whether the user may open this patient's record: a care relationship (ward, care team,
/// outreach list) or an earlier break-the-glass; otherwise the break-the-glass page (or,
/// for roles that may not break the glass, a refusal).
pub(crate) async fn reach(web: &Web, user: &crate::User, id: &str) -> Result<(), PageError> {
    let gate = web.app.gate.clone();
    let (app, p, pid) = (web.app.clone(), user.principal.clone(), id.to_string());
    let related = blocking(move || {
        let related = gate.relationship(&app, &p, &pid).is_some();
        // Break the glass only into a record that exists.
        let exists =
            related || view::read(&*app.store, &store::Access::system(), "Patient", &pid).is_some();
        Ok((related, exists))
    })
    .await?;
    match related {
        (true, _) => Ok(()),
        (false, false) => Err(view::error_page(
            axum::http::StatusCode::NOT_FOUND,
            "There is no patient with this record. Check the link, or find the patient from your board.",
        )),
        (false, true) => Err(glass_page(web, user, id, None)),
    }
}

fn glass_page(web: &Web, user: &crate::User, id: &str, error: Option<String>) -> PageError {
    let may = user.may(access::Permission::BreakGlass);
    let page = BreakGlassPage {
        nav: Nav::new(user, "chart", web.config.zone),
        id: id.to_string(),
        error,
        may,
    };
    match askama::Template::render(&page) {
        Ok(html) => PageError::Page(axum::http::StatusCode::FORBIDDEN, html),
        Err(_) => view::error_page(
            axum::http::StatusCode::FORBIDDEN,
            "This patient is not in your care.",
        ),
    }
}

#[derive(Debug, serde::Deserialize)]
pub(crate) struct GlassForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
}

/// `POST /patients/{id}/break-glass`: open a record outside one's care relationships, with
/// a typed reason that is recorded and shown to the privacy officer.
pub(crate) async fn break_glass(
    State(web): State<Web>,
    auth: crate::session::AuthExt,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<GlassForm>,
) -> Result<Response, PageError> {
    let user = crate::session::poster(&auth, &form.csrf, access::Permission::BreakGlass)?;
    let reason = match access::BreakGlass::new(&form.reason) {
        Ok(r) => r,
        Err(why) => return Err(glass_page(&web, &user, &id, Some(why))),
    };
    let gate = web.app.gate.clone();
    let store = web.app.store.clone();
    let (p, pid) = (user.principal.clone(), id.clone());
    blocking(move || {
        let exists = view::read(&*store, &store::Access::system(), "Patient", &pid).is_some();
        if !exists {
            return Err(view::error_page(
                axum::http::StatusCode::NOT_FOUND,
                "There is no such patient.",
            ));
        }
        let event = gate.break_glass(&p, &pid, &reason);
        store.audit(vec![event]).map_err(view::store_error)?;
        Ok(())
    })
    .await?;
    tracing::warn!(patient_ref = "see audit trail", "break the glass");
    Ok(axum::response::IntoResponse::into_response(
        axum::response::Redirect::to(&format!("/patients/{id}")),
    ))
}
