//! From a measure's number to the patients behind it (`/quality/measures/{id}/patients`):
//! those who count against a unit's (or the hospital's) month, the most counted first, for
//! case review. Only for roles with permission MeasureCases (the quality officer). The
//! patients come from the measure service's last run; they are read through the store with
//! [`store::Access::measure_cases`], which reaches exactly those patients' Patient resources
//! and nothing else of the record, and the page's audit record names them.

use std::collections::{BTreeSet, HashMap};

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value;

use crate::quality_chart::month_words;
use crate::view::{self, Nav, PageError};
use crate::{blocking, Web};

/// At most this many patients on one page (one search of their ids).
const SHOWN: usize = 100;

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Which {
    #[serde(default)]
    month: String,
    #[serde(default)]
    unit: String,
}

pub(crate) struct PatientRow {
    name: String,
    mrn: String,
    age: String,
    sex: String,
    unit: String,
    numerator: i64,
    denominator: i64,
}

#[derive(Template)]
#[template(path = "quality_patients.html")]
struct PatientsPage {
    nav: Nav,
    id: String,
    title: String,
    month: String,
    place: String,
    unit: String,
    /// How a patient counts against the measure, in words.
    against: String,
    numerator: String,
    denominator: String,
    rows: Vec<PatientRow>,
    /// Patients past the first [`SHOWN`].
    more: usize,
    /// The measures have not run since the server started.
    not_yet: bool,
}

fn capital(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

pub(crate) async fn page(
    State(web): State<Web>,
    auth: crate::session::AuthExt,
    Path(id): Path<String>,
    Query(which): Query<Which>,
) -> Result<Response, PageError> {
    let user = crate::session::user(&auth, access::Permission::MeasureCases)?;
    let quality = web.quality()?;
    if chrono::NaiveDate::parse_from_str(&format!("{}-01", which.month), "%Y-%m-%d").is_err() {
        return Err(view::error_page(
            StatusCode::BAD_REQUEST,
            "Choose a month from the measure's table.",
        ));
    }
    let w = web.clone();
    let u = user.clone();
    let (page, seen) = blocking(move || {
        let i = w.indicator(&u, &id)?;
        let unit = (!which.unit.is_empty()).then_some(which.unit.as_str());
        let names: HashMap<&str, &str> = i
            .units
            .iter()
            .map(|(u, _)| (u.id.as_str(), u.name.as_str()))
            .collect();
        let place = match unit {
            None => "the whole hospital".to_string(),
            Some(u) => names.get(u).map(|n| n.to_string()).ok_or_else(|| {
                view::error_page(
                    StatusCode::NOT_FOUND,
                    "This measure has no figures for that unit.",
                )
            })?,
        };
        let cases = quality.cases(&i.measure.id, &which.month, unit);
        let not_yet = cases.is_none();
        let cases = cases.unwrap_or_default();
        let shown = &cases[..cases.len().min(SHOWN)];
        let ids: BTreeSet<String> = shown.iter().map(|c| c.patient.clone()).collect();
        // The patients behind the number, and no others: the store decides with this reach.
        let access =
            store::Access::measure_cases(u.principal.clone(), ids.clone()).ok_or_else(|| {
                view::error_page(
                    StatusCode::FORBIDDEN,
                    "Case review is not open to your role.",
                )
            })?;
        let found = if ids.is_empty() {
            Vec::new()
        } else {
            view::search(
                &*w.app.store,
                &access,
                "Patient",
                &[("_id", ids.iter().cloned().collect::<Vec<_>>().join(","))],
            )?
        };
        let by_id: HashMap<&str, &Value> = found
            .iter()
            .filter_map(|p| Some((p["id"].as_str()?, p)))
            .collect();
        let now = chrono::Utc::now().timestamp_millis();
        let rows: Vec<PatientRow> = shown
            .iter()
            .filter_map(|c| {
                let p = by_id.get(c.patient.as_str())?;
                Some(PatientRow {
                    name: view::name(p),
                    mrn: view::mrn(p),
                    age: view::age(p["birthDate"].as_str(), now)
                        .map(|a| a.to_string())
                        .unwrap_or_else(|| "?".into()),
                    sex: p["gender"].as_str().unwrap_or("unknown").to_string(),
                    unit: names
                        .get(c.unit.as_str())
                        .map_or(c.unit.clone(), |n| n.to_string()),
                    numerator: c.numerator,
                    denominator: c.denominator,
                })
            })
            .collect();
        let seen: Vec<String> = by_id.keys().map(|p| format!("Patient/{p}")).collect();
        let against = if i.measure.better == "higher" {
            "the patients for whom it fell short".to_string()
        } else {
            format!("the patients with {}", i.measure.numerator)
        };
        let page = PatientsPage {
            nav: Nav::new(&u, "quality", w.config.zone),
            title: i.measure.title.clone(),
            numerator: capital(&i.measure.numerator),
            denominator: capital(&i.measure.denominator),
            id: i.measure.id.clone(),
            month: month_words(&which.month),
            place,
            unit: which.unit.clone(),
            against,
            more: cases.len().saturating_sub(SHOWN),
            rows,
            not_yet,
        };
        Ok::<_, PageError>((page, seen))
    })
    .await?;
    Ok(view::with_seen(view::render(&page), server::Seen(seen)))
}
