//! From a measure's number to the reports behind it (`/quality/measures/{id}/events`): the
//! falls a month counted, on a unit or the whole hospital, each linking to its review. Only
//! for the safety team (permission SafetyEvents); the reports are read with the person's own
//! access, and the page's audit record names the patients involved.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use chrono::TimeZone;
use safety_events::Details;
use serde::Deserialize;

use crate::quality_chart::month_words;
use crate::safety_rows::{row, EventRow};
use crate::view::{self, Nav, PageError};
use crate::{blocking, Web};

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Which {
    #[serde(default)]
    month: String,
    #[serde(default)]
    unit: String,
}

#[derive(Template)]
#[template(path = "quality_events.html")]
struct EventsPage {
    nav: Nav,
    id: String,
    title: String,
    month: String,
    place: String,
    unit: String,
    rows: Vec<EventRow>,
}

/// Whether a report is one the falls measures count: an incident fall on its unit, and for
/// falls with injury an injury of minor or worse (the measure files' SQL says the same).
fn counted(measure: &str, e: &safety_events::SafetyEvent) -> bool {
    if e.category != "fall" || e.kind != "incident" {
        return false;
    }
    let Details::Fall(f) = &e.details else {
        return false;
    };
    !f.off_unit
        && (!measure.contains("injury")
            || matches!(f.injury.as_str(), "minor" | "moderate" | "major" | "death"))
}

pub(crate) async fn page(
    State(web): State<Web>,
    auth: crate::session::AuthExt,
    Path(id): Path<String>,
    Query(which): Query<Which>,
) -> Result<Response, PageError> {
    let user = crate::session::user(&auth, access::Permission::SafetyEvents)?;
    let quality = web.quality()?;
    let safety = web.safety()?;
    let bad = |m: &str| view::error_page(axum::http::StatusCode::BAD_REQUEST, m);
    let m = quality
        .suite()
        .measure(&id)
        .filter(|m| m.views.iter().any(|v| v == "safety_event"))
        .cloned()
        .ok_or_else(|| {
            view::error_page(
                axum::http::StatusCode::NOT_FOUND,
                "This measure does not count safety reports.",
            )
        })?;
    let first = chrono::NaiveDate::parse_from_str(&format!("{}-01", which.month), "%Y-%m-%d")
        .map_err(|_| bad("Choose a month from the measure's table."))?;
    let next = first
        .checked_add_months(chrono::Months::new(1))
        .ok_or_else(|| bad("Choose a month from the measure's table."))?;
    let tz = web.config.zone.tz();
    let local = |d: chrono::NaiveDate| {
        tz.from_local_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default())
            .earliest()
            .map(|t| t.with_timezone(&chrono::Utc))
    };
    let (Some(from), Some(to)) = (local(first), local(next)) else {
        return Err(bad("Choose a month from the measure's table."));
    };
    let w = web.clone();
    let u = user.clone();
    let unit = which.unit.clone();
    let (rows, place, patients) = blocking(move || {
        let access = w.access(&u)?;
        let wards = safety.wards(&access).map_err(view::store_error)?;
        let events = safety
            .between(
                &access,
                (!unit.is_empty()).then_some(unit.as_str()),
                from,
                to,
            )
            .map_err(view::store_error)?;
        let now = chrono::Utc::now().timestamp_millis();
        let kept: Vec<&safety_events::SafetyEvent> =
            events.iter().filter(|e| counted(&m.id, e)).collect();
        let patients: Vec<String> = kept
            .iter()
            .filter_map(|e| e.patient.clone())
            .map(|p| {
                if p.starts_with("Patient/") {
                    p
                } else {
                    format!("Patient/{p}")
                }
            })
            .collect();
        let place = if unit.is_empty() {
            "the whole hospital".to_string()
        } else {
            wards
                .iter()
                .find(|(id, _)| *id == unit)
                .map_or(unit.clone(), |(_, n)| n.clone())
        };
        let rows = kept
            .iter()
            .map(|e| row(e, &wards, w.config.zone, now))
            .collect();
        Ok::<_, PageError>((rows, place, patients))
    })
    .await?;
    let page = EventsPage {
        nav: Nav::new(&user, "quality", web.config.zone),
        title: quality
            .suite()
            .measure(&id)
            .map(|m| m.title.clone())
            .unwrap_or_default(),
        id,
        month: month_words(&which.month),
        place,
        unit: which.unit,
        rows,
    };
    Ok(view::with_seen(view::render(&page), server::Seen(patients)))
}
