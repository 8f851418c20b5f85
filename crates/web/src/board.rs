//! The ward board: every occupied bed of a ward (or of all wards), most at risk first, then
//! the empty beds. `live.js` refetches the rows (`/board/rows`) when a score or alert event
//! for the ward arrives and announces patients whose band rose.

use crate::view::PageError;
use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use early_warning::{EarlyWarning, PatientStatus};
use serde::Deserialize;

use crate::settings::{Settings, View};
use crate::view::{self, band_label, Nav};
use crate::{blocking, Web};

/// One bed's line on the board.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub(crate) patient: String,
    pub(crate) name: String,
    /// How the wall display names the patient: initials (no names on a screen visitors can
    /// read), or the name where the site has chosen so.
    pub(crate) wall_name: String,
    pub(crate) age: String,
    pub(crate) sex: String,
    pub(crate) bed: String,
    pub(crate) ward: String,
    pub(crate) band: String,
    pub(crate) band_label: &'static str,
    /// `NEWS2`, or `PEWS` for a child.
    pub(crate) score_name: &'static str,
    /// "7", or "≥ 4" for an incomplete set, or "–".
    pub(crate) score: String,
    pub(crate) complete: bool,
    pub(crate) rising: bool,
    pub(crate) last_set: String,
    pub(crate) due: String,
    pub(crate) overdue: bool,
    pub(crate) alert: Option<AlertCell>,
    pub(crate) language: String,
    pub(crate) interpreter: bool,
    pub(crate) qsofa: bool,
    pub(crate) sirs: bool,
    /// A decision not to attempt resuscitation is in force.
    pub(crate) dnacpr: bool,
    /// Suspected sepsis's first hour, when begun in the last day.
    pub(crate) sepsis: Option<crate::sepsis::Cell>,
    /// The board's order (`early_warning::ranking`): band, score, trend, overdue.
    risk: early_warning::ranking::Risk,
}

#[derive(Debug, Clone)]
pub(crate) struct AlertCell {
    pub(crate) band: String,
    pub(crate) band_label: &'static str,
    pub(crate) state: String,
    pub(crate) left: String,
    pub(crate) overdue: bool,
    pub(crate) escalated: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct WardTab {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) patients: usize,
    pub(crate) alerts: usize,
    pub(crate) current: bool,
}

#[derive(Template)]
#[template(path = "board.html")]
struct BoardPage {
    nav: Nav,
    wards: Vec<WardTab>,
    ward: String,
    title: String,
    rows: Vec<Row>,
    empty_beds: Vec<String>,
    all: bool,
    /// The view, order and filter shown, and the counts behind the filter links.
    view: &'static str,
    by_bed: bool,
    show: &'static str,
    counts: Counts,
    /// A sound for each new high alert (the user's setting).
    sound: bool,
}

impl BoardPage {
    /// This board's address with one choice changed.
    fn with(&self, key: &str, value: &str) -> String {
        let mut q = [
            ("ward", self.ward.as_str()),
            ("view", self.view),
            ("sort", if self.by_bed { "bed" } else { "risk" }),
            ("show", self.show),
            ("sound", if self.sound { "on" } else { "off" }),
        ];
        for p in q.iter_mut() {
            if p.0 == key {
                p.1 = value;
            }
        }
        let q: Vec<String> = q.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!("/board?{}", q.join("&"))
    }
}

#[derive(Template)]
#[template(path = "board_rows.html")]
struct BoardRows {
    rows: Vec<Row>,
    all: bool,
    view: &'static str,
}

/// How many rows each filter would show.
#[derive(Debug, Clone, Default)]
pub(crate) struct Counts {
    all: usize,
    urgent: usize,
    alerts: usize,
    overdue: usize,
}

#[derive(Debug, Deserialize)]
pub(crate) struct BoardQuery {
    ward: Option<String>,
    /// `standard`, `compact` or `wall`; kept as the user's choice.
    view: Option<String>,
    /// `risk` or `bed`; kept as the user's choice.
    sort: Option<String>,
    /// `all`, `urgent` (medium or high), `alerts` (an open alert) or `overdue`.
    show: Option<String>,
    /// `on` or `off`: a sound for each new high alert; kept as the user's choice.
    sound: Option<String>,
}

/// The filter asked for (all when unknown).
fn show(q: &BoardQuery) -> &'static str {
    match q.show.as_deref() {
        Some("urgent") => "urgent",
        Some("alerts") => "alerts",
        Some("overdue") => "overdue",
        _ => "all",
    }
}

fn keep(show: &str, r: &Row) -> bool {
    match show {
        "urgent" => matches!(r.band.as_str(), "medium" | "high"),
        "alerts" => r.alert.is_some(),
        "overdue" => r.overdue,
        _ => true,
    }
}

/// "Marilou Rowena Mercado" → "M. R. M."
fn initials(name: &str) -> String {
    name.split_whitespace()
        .filter_map(|w| w.chars().next())
        .map(|c| format!("{c}."))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A bed's row, when the signed-in user reaches its patient (the store decides).
fn row(
    ew: &EarlyWarning,
    access: &store::Access,
    s: &PatientStatus,
    ward: &str,
    now: i64,
    dnacpr: bool,
    wall_names: bool,
) -> Option<Row> {
    let store = ew.store();
    let patient = view::read(
        &**store,
        access,
        "Patient",
        s.patient.strip_prefix("Patient/").unwrap_or(&s.patient),
    )?;
    let (language, interpreter) = view::language(&patient);
    let (band_class, label) = match &s.news2 {
        Some(n) => view::score_band(n),
        None => ("none".into(), band_label("none")),
    };
    let score_name = s.news2.as_ref().map_or("NEWS2", |n| n.score_name());
    let (band, score, complete, rising, last_set) = match &s.news2 {
        Some(n) => (
            band_class,
            match n.total {
                Some(t) => t.to_string(),
                None => format!("≥ {}", n.partial_total),
            },
            n.complete,
            n.rising,
            view::ms(&n.effective)
                .map(|t| format!("{} ago", view::duration(now - t)))
                .unwrap_or_default(),
        ),
        None => ("none".into(), "–".into(), false, false, "no set yet".into()),
    };
    let due = view::next_due(s.minutes_to_due);
    let alert = s.alert.as_ref().map(|a| AlertCell {
        band: view::alert_band_class(&a.band),
        band_label: band_label(&a.band),
        state: format!("{:?}", a.lifecycle).to_lowercase(),
        left: if a.ms_to_deadline < 0 {
            format!("{} past deadline", view::duration(-a.ms_to_deadline))
        } else {
            format!("{} left", view::duration(a.ms_to_deadline))
        },
        overdue: a.overdue,
        escalated: a.escalation_level > 0,
    });
    Some(Row {
        patient: s
            .patient
            .strip_prefix("Patient/")
            .unwrap_or(&s.patient)
            .to_string(),
        name: view::name(&patient),
        wall_name: if wall_names {
            view::name(&patient)
        } else {
            initials(&view::name(&patient))
        },
        age: view::age(patient["birthDate"].as_str(), now)
            .map(|a| a.to_string())
            .unwrap_or_else(|| "?".into()),
        sex: view::sex_letter(&patient).into(),
        bed: s.bed_display.clone().unwrap_or_else(|| "no bed".into()),
        ward: ward.to_string(),
        band_label: label,
        band,
        score_name,
        score,
        complete,
        rising,
        last_set,
        due,
        overdue: s.overdue,
        alert,
        language: language.unwrap_or_default(),
        interpreter,
        qsofa: s.qsofa.as_deref() == Some("POS"),
        sirs: s.sirs.as_deref() == Some("POS"),
        dnacpr,
        sepsis: None,
        risk: early_warning::ranking::Risk::of(s),
    })
}

/// Tabs, rows and empty beds of the board for `ward` (`all` or a Location id).
type Board = (Vec<WardTab>, String, Vec<Row>, Vec<String>);

fn board(
    ew: &EarlyWarning,
    sepsis: Option<&sepsis_watch::Sepsis>,
    access: &store::Access,
    ward: &str,
    allowed: Option<&[String]>,
    by_bed: bool,
    config: &crate::WebConfig,
) -> Result<Board, PageError> {
    let wall_names = config.wall_names;
    let now = ew.now_ms();
    let mut wards = ew.wards().map_err(view::store_error)?;
    if let Some(mine) = allowed {
        wards.retain(|w| {
            let r = format!("Location/{}", w.id.trim_start_matches("Location/"));
            mine.contains(&r)
        });
    }
    let tabs: Vec<WardTab> = wards
        .iter()
        .map(|w| WardTab {
            id: w.id.trim_start_matches("Location/").to_string(),
            name: w.name.clone(),
            patients: w.patients,
            alerts: w.open_alerts,
            current: w.id.trim_start_matches("Location/") == ward,
        })
        .collect();
    let chosen: Vec<_> = wards
        .iter()
        .filter(|w| ward == "all" || w.id.trim_start_matches("Location/") == ward)
        .collect();
    let mut rows = Vec::new();
    let mut empty = Vec::new();
    for w in &chosen {
        let reference = format!("Location/{}", w.id.trim_start_matches("Location/"));
        let statuses = ew.ward_status(&reference).map_err(view::store_error)?;
        let occupied: Vec<String> = statuses.iter().filter_map(|s| s.bed.clone()).collect();
        let patients: Vec<String> = statuses.iter().map(|s| s.patient.clone()).collect();
        let dnacpr =
            crate::chart_essentials::not_for_resuscitation(&**ew.store(), access, &patients)?;
        rows.extend(statuses.iter().filter_map(|s| {
            row(
                ew,
                access,
                s,
                &w.name,
                now,
                dnacpr.contains_key(&s.patient),
                wall_names,
            )
        }));
        if ward != "all" {
            let beds = view::search(
                &**ew.store(),
                &store::Access::system(),
                "Location",
                &[("partof", reference.clone()), ("_count", "500".into())],
            )?;
            for b in beds {
                let r = format!("Location/{}", b["id"].as_str().unwrap_or_default());
                if !occupied.contains(&r) {
                    empty.push(b["name"].as_str().unwrap_or_default().to_string());
                }
            }
        }
    }
    if let Some(svc) = sepsis {
        let cells =
            crate::sepsis::cells(svc, access, None, crate::local::Now::new(now, config.zone))?;
        for r in &mut rows {
            r.sepsis = cells.get(&format!("Patient/{}", r.patient)).cloned();
        }
    }
    // Most at risk first, across wards too; ties in bed order. Or walking the ward: by bed.
    let beds = |a: &Row, b: &Row| {
        early_warning::ranking::bed_order(Some(a.bed.as_str()), Some(b.bed.as_str()))
    };
    if by_bed {
        rows.sort_by(|a, b| a.ward.cmp(&b.ward).then_with(|| beds(a, b)));
    } else {
        rows.sort_by(|a, b| b.risk.cmp(&a.risk).then_with(|| beds(a, b)));
    }
    empty.sort();
    let title = if ward == "all" {
        "All wards".to_string()
    } else {
        chosen
            .first()
            .map(|w| w.name.clone())
            .unwrap_or_else(|| "Unknown ward".into())
    };
    Ok((tabs, title, rows, empty))
}

fn chosen_ward(q: &BoardQuery, user: &crate::User, kept: &Settings) -> String {
    q.ward
        .clone()
        .filter(|w| !w.is_empty())
        .or_else(|| kept.ward.clone())
        .or_else(|| {
            user.wards
                .first()
                .map(|w| w.trim_start_matches("Location/").to_string())
        })
        .unwrap_or_else(|| "all".into())
}

/// What a board request shows: the user, the ward, their settings (the query's choices,
/// kept for next time), and the board.
struct Loaded {
    user: crate::User,
    ward: String,
    settings: Settings,
    board: Board,
}

/// The signed-in user, the ward shown and its board.
async fn load(
    web: &Web,
    auth: &crate::session::AuthExt,
    q: &BoardQuery,
) -> Result<Loaded, PageError> {
    let user = crate::session::user(auth, access::Permission::Board)?;
    let ew = web.ew()?;
    let store = web.app.store.clone();
    let username = user.principal.id.clone();
    let kept = blocking(move || Ok(Settings::load(&*store, &username))).await?;
    let ward = chosen_ward(q, &user, &kept);
    let allowed = (!user.hospital_wide()).then(|| user.wards.clone());
    if let Some(mine) = &allowed {
        if ward != "all" && !mine.contains(&format!("Location/{ward}")) {
            return Err(view::error_page(
                axum::http::StatusCode::FORBIDDEN,
                "This ward is not one of yours. Your role covers the wards listed on your board.",
            ));
        }
    }
    // The query's choices become the user's settings.
    let mut settings = kept.clone();
    settings.ward = Some(ward.clone());
    if let Some(v) = q.view.as_deref().and_then(View::parse) {
        settings.view = Some(v.code().into());
    }
    if let Some(s) = q.sort.as_deref().filter(|s| *s == "bed" || *s == "risk") {
        settings.sort = Some(s.into());
    }
    match q.sound.as_deref() {
        Some("on") => settings.sound = true,
        Some("off") => settings.sound = false,
        _ => {}
    }
    if settings != kept {
        let (store, username, s) = (
            web.app.store.clone(),
            user.principal.id.clone(),
            settings.clone(),
        );
        blocking(move || {
            s.save(&*store, &username);
            Ok(())
        })
        .await?;
    }
    let (w, by_bed) = (ward.clone(), settings.by_bed());
    let (reader, wc) = (user.clone(), web.clone());
    let board = blocking(move || {
        let access = wc.access(&reader)?;
        board(
            &ew,
            wc.config.sepsis.as_deref(),
            &access,
            &w,
            allowed.as_deref(),
            by_bed,
            &wc.config,
        )
    })
    .await?;
    Ok(Loaded {
        user,
        ward,
        settings,
        board,
    })
}

pub(crate) async fn page(
    State(web): State<Web>,
    auth: crate::session::AuthExt,
    Query(q): Query<BoardQuery>,
) -> Result<Response, PageError> {
    let Loaded {
        user,
        ward,
        settings,
        board: (wards, title, rows, empty_beds),
    } = load(&web, &auth, &q).await?;
    let show = show(&q);
    let counts = Counts {
        all: rows.len(),
        urgent: rows.iter().filter(|r| keep("urgent", r)).count(),
        alerts: rows.iter().filter(|r| keep("alerts", r)).count(),
        overdue: rows.iter().filter(|r| keep("overdue", r)).count(),
    };
    let rows: Vec<Row> = rows.into_iter().filter(|r| keep(show, r)).collect();
    let seen = server::Seen(
        rows.iter()
            .map(|r| format!("Patient/{}", r.patient))
            .collect(),
    );
    Ok(view::with_seen(
        view::render(&BoardPage {
            nav: Nav::new(&user, "board", web.config.zone),
            all: ward == "all",
            wards,
            ward,
            title,
            rows,
            empty_beds,
            view: settings.view().code(),
            by_bed: settings.by_bed(),
            show,
            counts,
            sound: settings.sound,
        }),
        seen,
    ))
}

/// The rows alone, for live updates.
pub(crate) async fn rows(
    State(web): State<Web>,
    auth: crate::session::AuthExt,
    Query(q): Query<BoardQuery>,
) -> Result<Response, PageError> {
    let Loaded {
        ward,
        settings,
        board: (_, _, rows, _),
        ..
    } = load(&web, &auth, &q).await?;
    let show = show(&q);
    // The ward tab's counts move with the rows (read by the board's script).
    let counts = format!(
        "{} pts, {} alerts",
        rows.len(),
        rows.iter().filter(|r| r.alert.is_some()).count()
    );
    let rows: Vec<Row> = rows.into_iter().filter(|r| keep(show, r)).collect();
    let seen = server::Seen(
        rows.iter()
            .map(|r| format!("Patient/{}", r.patient))
            .collect(),
    );
    let mut resp = view::with_seen(
        view::render(&BoardRows {
            rows,
            all: ward == "all",
            view: settings.view().code(),
        }),
        seen,
    );
    if let Ok(v) = axum::http::HeaderValue::from_str(&counts) {
        resp.headers_mut().insert("x-tend-counts", v);
    }
    Ok(resp)
}
