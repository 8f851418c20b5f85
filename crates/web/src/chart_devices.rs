//! Lines and catheters on the patient chart: the central lines and urinary catheters in the
//! patient now (with their device day, day 1 being the day it was placed, hospital time)
//! and those removed during the stay; a nurse records one placed (`POST
//! /patients/{id}/devices`) and one removed (`POST /patients/{id}/devices/{use}/removed`).
//! Central-line and catheter days, and so the CLABSI and CAUTI rates, are counted from
//! these records.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use serde_json::Value;
use store::{Entry, Mode};
use surveillance::device::{DeviceKind, DeviceUse};

use crate::local::Now;
use crate::view::{self, PageError};
use crate::{blocking, Web};

/// One line or catheter on the chart.
#[derive(Debug, Clone)]
pub(crate) struct DeviceLine {
    pub(crate) id: String,
    pub(crate) kind: String,
    pub(crate) site: String,
    pub(crate) placed: String,
    /// "Day 4", while in.
    pub(crate) day: String,
    /// When removed; empty while in.
    pub(crate) removed: String,
}

/// The device kinds a nurse can record: (code, words).
pub(crate) fn kinds() -> Vec<(&'static str, &'static str)> {
    DeviceKind::ALL
        .iter()
        .map(|k| (k.code(), k.display()))
        .collect()
}

/// The patient's lines and catheters, those in first, newest first.
pub(crate) fn load(
    store: &dyn store::Store,
    access: &store::Access,
    patient: &str,
    now: Now,
    zone: crate::Zone,
) -> Result<Vec<DeviceLine>, PageError> {
    let uses = view::search(
        store,
        access,
        "DeviceUseStatement",
        &[
            ("subject", format!("Patient/{patient}")),
            ("_count", "50".into()),
        ],
    )?;
    let mut out: Vec<(bool, String, DeviceLine)> = Vec::new();
    for u in uses {
        if matches!(u["status"].as_str(), Some("entered-in-error" | "intended")) {
            continue;
        }
        let Some(placed) = u["timingPeriod"]["start"].as_str() else {
            continue;
        };
        let removed = u["timingPeriod"]["end"].as_str().unwrap_or("");
        let day = if removed.is_empty() {
            day_number(placed, now.ms, zone).map_or(String::new(), |d| format!("Day {d}"))
        } else {
            String::new()
        };
        out.push((
            removed.is_empty(),
            placed.to_string(),
            DeviceLine {
                id: u["id"].as_str().unwrap_or_default().to_string(),
                kind: u["device"]["display"]
                    .as_str()
                    .unwrap_or("Device")
                    .to_string(),
                site: u["bodySite"]["text"].as_str().unwrap_or("").to_string(),
                placed: now.clock(placed),
                day,
                removed: if removed.is_empty() {
                    String::new()
                } else {
                    now.clock(removed)
                },
            },
        ));
    }
    out.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)));
    Ok(out.into_iter().map(|(_, _, d)| d).collect())
}

/// The device day of an instant's placement seen at `now_ms`: 1 on the (hospital) day it
/// was placed.
fn day_number(placed: &str, now_ms: i64, zone: crate::Zone) -> Option<i64> {
    let placed = chrono::DateTime::parse_from_rfc3339(placed).ok()?;
    let now = chrono::DateTime::from_timestamp_millis(now_ms)?;
    let (a, b) = (
        placed.with_timezone(&zone.tz()).date_naive(),
        now.with_timezone(&zone.tz()).date_naive(),
    );
    Some((b - a).num_days() + 1)
}

#[derive(Debug, Deserialize)]
pub(crate) struct PlacedForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    site: String,
    /// Local wall-clock time (`datetime-local`); empty: now.
    #[serde(default)]
    placed: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RemovedForm {
    #[serde(default)]
    csrf: String,
}

fn refuse(message: &str) -> PageError {
    view::error_page(axum::http::StatusCode::UNPROCESSABLE_ENTITY, message)
}

/// `POST /patients/{id}/devices`: a line or catheter placed.
pub(crate) async fn placed(
    State(web): State<Web>,
    auth: crate::session::AuthExt,
    Path(id): Path<String>,
    Form(form): Form<PlacedForm>,
) -> Result<Response, PageError> {
    let user = crate::session::poster(&auth, &form.csrf, access::Permission::RecordWrite)?;
    crate::chart::reach(&web, &user, &id).await?;
    let kind = DeviceKind::parse(&form.kind)
        .map_err(|_| refuse("Choose whether it is a central line or a urinary catheter."))?;
    let ew = web.ew()?;
    let now_ms = ew.now_ms();
    let placed_ms = if form.placed.trim().is_empty() {
        now_ms
    } else {
        web.config
            .zone
            .from_input(form.placed.trim())
            .ok_or_else(|| refuse("The time placed is not a time: use the date and time picker."))?
    };
    if placed_ms > now_ms + 60_000 {
        return Err(refuse("The time placed is in the future."));
    }
    let site = form.site.trim().chars().take(200).collect::<String>();
    let (w, writer, pid) = (web.clone(), user.clone(), id.clone());
    blocking(move || {
        let access = w.access(&writer)?;
        let store = ew.store();
        // The current stay, when there is one.
        let encounter = view::search(
            &**store,
            &access,
            "Encounter",
            &[
                ("subject", format!("Patient/{pid}")),
                ("status", "in-progress".into()),
                ("_count", "1".into()),
            ],
        )?
        .first()
        .and_then(|e| e["id"].as_str().map(str::to_string));
        let at = chrono::DateTime::from_timestamp_millis(placed_ms).unwrap_or_default();
        let recorded = chrono::DateTime::from_timestamp_millis(now_ms).unwrap_or_default();
        let u = DeviceUse {
            patient: pid,
            encounter,
            kind,
            placed: at,
            removed: None,
            site: (!site.is_empty()).then_some(site),
        };
        let key = uuid::Uuid::new_v4().simple().to_string();
        let (device, statement) = u
            .resources(&format!("dev-{key}"), &format!("dus-{key}"), recorded)
            .map_err(|e| refuse(&e.to_string()))?;
        let entries = [device, statement]
            .into_iter()
            .filter_map(Entry::put)
            .collect();
        // Written as the nurse, both or neither: the store decides.
        store
            .write(&access, entries, Mode::Atomic)
            .map_err(view::store_error)?;
        Ok(())
    })
    .await?;
    Ok(Redirect::to(&format!("/patients/{id}#devices")).into_response())
}

/// `POST /patients/{id}/devices/{use}/removed`: a line or catheter out, now.
pub(crate) async fn removed(
    State(web): State<Web>,
    auth: crate::session::AuthExt,
    Path((id, use_id)): Path<(String, String)>,
    Form(form): Form<RemovedForm>,
) -> Result<Response, PageError> {
    let user = crate::session::poster(&auth, &form.csrf, access::Permission::RecordWrite)?;
    crate::chart::reach(&web, &user, &id).await?;
    let ew = web.ew()?;
    let (w, writer, pid) = (web.clone(), user.clone(), id.clone());
    blocking(move || {
        let access = w.access(&writer)?;
        let store = ew.store();
        let mut u: Value = view::read(&**store, &access, "DeviceUseStatement", &use_id)
            .filter(|u| u["subject"]["reference"] == format!("Patient/{pid}"))
            .ok_or_else(|| {
                view::error_page(
                    axum::http::StatusCode::NOT_FOUND,
                    "There is no such line or catheter on this patient's record.",
                )
            })?;
        let mut device = u["device"]["reference"]
            .as_str()
            .and_then(|r| r.strip_prefix("Device/"))
            .and_then(|did| view::read(&**store, &access, "Device", did));
        let now = chrono::DateTime::from_timestamp_millis(ew.now_ms()).unwrap_or_default();
        if !surveillance::device::removed(&mut u, device.as_mut(), now) {
            // Already out: nothing to do (a second click records nothing twice).
            return Ok(());
        }
        let entries = [Some(u), device]
            .into_iter()
            .flatten()
            .filter_map(Entry::put)
            .collect();
        store
            .write(&access, entries, Mode::Atomic)
            .map_err(view::store_error)?;
        Ok(())
    })
    .await?;
    Ok(Redirect::to(&format!("/patients/{id}#devices")).into_response())
}
