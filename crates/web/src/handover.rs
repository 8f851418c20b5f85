//! The handover sheet (`/board/handover?ward=`): every occupied bed of a ward in bed order,
//! with what the next shift needs in one line each: the NEWS2 trend over the last sets, the
//! last set and when the next is due, the open alert and who acknowledged it, active
//! problems, language and interpreter need, sepsis screens. Made to print.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;

use crate::local::Now;
use crate::view::{self, band_label, Nav, PageError};
use crate::{blocking, Web};

/// One bed on the sheet.
#[derive(Debug, Clone)]
pub(crate) struct Line {
    patient: String,
    bed: String,
    name: String,
    age_sex: String,
    band: String,
    band_label: &'static str,
    score: String,
    /// Earlier totals, oldest first, then the latest: "2 → 3 → 5".
    trend: String,
    rising: bool,
    last_set: String,
    due: String,
    overdue: bool,
    alert: String,
    problems: Vec<String>,
    language: String,
    interpreter: bool,
    screens: String,
}

#[derive(Template)]
#[template(path = "handover.html")]
struct HandoverPage {
    nav: Nav,
    ward: String,
    title: String,
    printed: String,
    lines: Vec<Line>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct HandoverQuery {
    ward: Option<String>,
}

pub(crate) async fn page(
    State(web): State<Web>,
    auth: crate::session::AuthExt,
    Query(q): Query<HandoverQuery>,
) -> Result<Response, PageError> {
    let user = crate::session::user(&auth, access::Permission::Board)?;
    let ew = web.ew()?;
    let ward = one_ward(&user, q.ward, "the handover sheet")?;
    let (w, reader, zone) = (web.clone(), user.clone(), web.config.zone);
    let ward_id = ward.clone();
    let (title, lines, now) = blocking(move || {
        // The patients' records are read as the signed-in user: the store decides.
        let access = w.access(&reader)?;
        let store = ew.store();
        let now = Now::new(ew.now_ms(), zone);
        let reference = format!("Location/{ward_id}");
        let title = ward_name(&**store, &access, &ward_id)?;
        let mut statuses = ew.ward_status(&reference).map_err(view::store_error)?;
        statuses.sort_by(|a, b| {
            early_warning::ranking::bed_order(a.bed_display.as_deref(), b.bed_display.as_deref())
        });
        let mut lines = Vec::new();
        for s in &statuses {
            lines.push(line(&**store, &access, s, now)?);
        }
        Ok((title, lines, now))
    })
    .await?;
    let seen = server::Seen(
        lines
            .iter()
            .map(|l| format!("Patient/{}", l.patient))
            .collect(),
    );
    Ok(view::with_seen(
        view::render(&HandoverPage {
            nav: Nav::new(&user, "board", zone),
            ward,
            title,
            printed: now.clock(&search::format_instant(now.ms)),
            lines,
        }),
        seen,
    ))
}

/// A ward's name; a ward that does not exist is a clear "not found", not an empty ward.
pub(crate) fn ward_name(
    store: &dyn store::Store,
    access: &store::Access,
    ward: &str,
) -> Result<String, PageError> {
    let l = view::read(store, access, "Location", ward).ok_or_else(|| {
        view::error_page(
            axum::http::StatusCode::NOT_FOUND,
            "There is no ward with this link. Choose a ward from the board.",
        )
    })?;
    Ok(l["name"].as_str().unwrap_or("Ward").to_string())
}

/// The ward a ward page is for: the one asked for, else the user's first; refused when it
/// is not one of theirs. `what` names the page in the message when no ward is chosen.
pub(crate) fn one_ward(
    user: &crate::User,
    asked: Option<String>,
    what: &str,
) -> Result<String, PageError> {
    let ward = asked
        .filter(|w| !w.is_empty() && w != "all")
        .or_else(|| {
            user.wards
                .first()
                .map(|w| w.trim_start_matches("Location/").to_string())
        })
        .ok_or_else(|| {
            view::error_page(
                axum::http::StatusCode::BAD_REQUEST,
                &format!("Choose a ward for {what} from the board."),
            )
        })?;
    if !user.hospital_wide() && !user.wards.contains(&format!("Location/{ward}")) {
        return Err(view::error_page(
            axum::http::StatusCode::FORBIDDEN,
            "This ward is not one of yours. Your role covers the wards listed on your board.",
        ));
    }
    Ok(ward)
}

fn line(
    store: &dyn store::Store,
    access: &store::Access,
    s: &early_warning::PatientStatus,
    now: Now,
) -> Result<Line, PageError> {
    let pid = s.patient.trim_start_matches("Patient/").to_string();
    let patient = view::read(store, access, "Patient", &pid).unwrap_or_default();
    let (language, interpreter) = view::language(&patient);
    let mut totals: Vec<String> = view::early_warning_scores(store, access, &s.patient, 4, 0)?
        .iter()
        .filter_map(early_warning::score::summary)
        .map(|n| match n.total {
            Some(t) => t.to_string(),
            None => format!("≥{}", n.partial_total),
        })
        .collect();
    totals.reverse();
    let problems = view::search(
        store,
        access,
        "Condition",
        &[
            ("subject", s.patient.clone()),
            ("clinical-status", "active".into()),
            ("_count", "6".into()),
        ],
    )?
    .iter()
    .map(|c| {
        c["code"]["text"]
            .as_str()
            .or_else(|| c["code"]["coding"][0]["display"].as_str())
            .unwrap_or("")
            .to_string()
    })
    .filter(|t| !t.is_empty())
    .collect();
    // NEWS2, or PEWS for a child, named as such.
    let (band, label) = match &s.news2 {
        Some(n) => view::score_band(n),
        None => ("none".into(), band_label("none")),
    };
    let (score, rising, last_set) = match &s.news2 {
        Some(n) => (
            format!(
                "{}{}",
                if n.score_name() == "PEWS" {
                    "PEWS "
                } else {
                    ""
                },
                n.total
                    .map(|t| t.to_string())
                    .unwrap_or_else(|| format!("≥ {}", n.partial_total))
            ),
            n.rising,
            now.clock(&n.effective),
        ),
        None => ("–".into(), false, "no set yet".into()),
    };
    let alert = s
        .alert
        .as_ref()
        .map(|a| {
            let state = match (&a.acknowledged_at, a.lifecycle) {
                (_, early_warning::Lifecycle::Responded) => "responded".to_string(),
                (Some(at), _) => format!("acknowledged {}", now.clock(at)),
                (None, _) if a.overdue => "not acknowledged, past its deadline".into(),
                (None, _) => "not acknowledged".into(),
            };
            format!("{} alert, {state}", alert_label(&a.band))
        })
        .unwrap_or_default();
    let screens = [
        (s.qsofa.as_deref() == Some("POS")).then_some("qSOFA+"),
        (s.sirs.as_deref() == Some("POS")).then_some("SIRS+"),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" ");
    Ok(Line {
        patient: pid,
        bed: s.bed_display.clone().unwrap_or_else(|| "no bed".into()),
        name: view::name(&patient),
        age_sex: format!(
            "{} {}",
            view::age(patient["birthDate"].as_str(), now.ms)
                .map(|a| a.to_string())
                .unwrap_or_default(),
            view::sex_letter(&patient)
        ),
        band_label: label,
        band,
        score,
        trend: totals.join(" → "),
        rising,
        last_set,
        due: view::next_due(s.minutes_to_due),
        overdue: s.overdue,
        alert,
        problems,
        language: language.unwrap_or_default(),
        interpreter,
        screens,
    })
}

/// An alert's NEWS2 band or PEWS level, in words (the levels medium and high read as the
/// bands do; emergency is PEWS's own).
fn alert_label(band: &str) -> &'static str {
    match band {
        "emergency" => rules::pews::Level::parse(band).map_or("Emergency", |l| l.display()),
        other => band_label(other),
    }
}
