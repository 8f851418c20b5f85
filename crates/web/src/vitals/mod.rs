//! Recording a set of vital signs at the bedside: one form (the time the set was taken, the
//! readings with "unable to obtain" or "refused" for each, the oxygen device, a pain score)
//! beside the patient's previous set; checked with plain messages ([`form`]), written as
//! one vital-signs panel with its readings in one transaction ([`record`]). The post then
//! waits for early warning and redirects to the form showing the NEWS2 score, band,
//! required response and when the next set is due, so a reload never records the set twice.

mod form;
mod record;

use crate::view::PageError;
use std::time::Duration;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use early_warning::codes::ScoreKind;
use serde::Deserialize;
use serde_json::Value;
use store::{Entry, Mode, WriteOp};

use crate::local::Now;
use crate::view::{self, band_label, Nav};
use crate::{blocking, Web};
use form::{check, Device, DeviceForm, FieldError, VitalsForm};
use record::observations;

#[derive(Template)]
#[template(path = "vitals.html")]
struct VitalsPage {
    nav: Nav,
    id: String,
    name: String,
    bed: String,
    scale: u32,
    /// A child: the PEWS items are asked too.
    child: bool,
    form: VitalsForm,
    errors: Vec<FieldError>,
    result: Option<ScoreResult>,
    previous: Option<Previous>,
    devices: Vec<(&'static str, &'static str)>,
    /// The time-taken field's value and bounds (hospital time, `datetime-local`).
    taken: String,
    taken_min: String,
    taken_max: String,
}

impl VitalsPage {
    /// The message for a field, if it has one.
    fn error(&self, field: &str) -> String {
        self.errors
            .iter()
            .filter(|e| e.field == field)
            .map(|e| e.message.clone())
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn checked(&self, field: &str, value: &str) -> bool {
        match field {
            "acvpu" => self.form.acvpu == value,
            "device" => self.form.device == value,
            "rr_absent" => self.form.rr_absent == value,
            "spo2_absent" => self.form.spo2_absent == value,
            "sbp_absent" => self.form.sbp_absent == value,
            "pulse_absent" => self.form.pulse_absent == value,
            "temp_absent" => self.form.temp_absent == value,
            "distress" => self.form.distress == value,
            "carer" => self.form.carer == value,
            "intuition" => self.form.intuition == value,
            "sepsis" => self.form.sepsis == value,
            "pupils" => self.form.pupils == value,
            _ => false,
        }
    }
}

/// What early warning made of the set.
#[derive(Debug, Clone)]
pub(crate) struct ScoreResult {
    /// `NEWS2`, or `PEWS` for a child.
    pub(crate) name: &'static str,
    pub(crate) total: String,
    pub(crate) band: String,
    pub(crate) band_label: &'static str,
    pub(crate) complete: bool,
    pub(crate) response: String,
    pub(crate) monitoring: String,
    pub(crate) next_due: String,
    pub(crate) alert: bool,
}

/// The patient's previous set, beside the form.
#[derive(Debug, Clone)]
pub(crate) struct Previous {
    pub(crate) when: String,
    pub(crate) total: String,
    pub(crate) band: String,
    pub(crate) band_label: &'static str,
    /// (parameter, value as charted, points).
    pub(crate) rows: Vec<(&'static str, String, String)>,
}

/// What the form shows around the fields.
struct Context {
    name: String,
    bed: String,
    scale: u32,
    encounter: Option<String>,
    latest: Option<Value>,
    /// Under 16: scored with PEWS, whose chart also takes capillary refill and respiratory
    /// distress.
    child: bool,
}

/// Name, bed, encounter, SpO2 scale and latest score of a patient.
fn context(ew: &early_warning::EarlyWarning, id: &str) -> Result<Context, PageError> {
    let store = ew.store();
    let patient = view::patient(&**store, &store::Access::system(), id)?;
    let subject = format!("Patient/{id}");
    let enc = view::search(
        &**store,
        &store::Access::system(),
        "Encounter",
        &[
            ("subject", subject.clone()),
            ("status", "in-progress".into()),
            ("_count", "1".into()),
        ],
    )?;
    let latest = view::early_warning_scores(&**store, &store::Access::system(), &subject, 1, 0)?
        .into_iter()
        .next();
    Ok(Context {
        name: view::name(&patient),
        bed: enc
            .first()
            .and_then(|e| early_warning::bed_of(e).1)
            .unwrap_or_default(),
        scale: latest
            .as_ref()
            .and_then(early_warning::news2_summary)
            .map_or(1, |s| s.scale),
        encounter: enc
            .first()
            .and_then(|e| e["id"].as_str())
            .map(|i| format!("Encounter/{i}")),
        latest,
        child: view::age(patient["birthDate"].as_str(), ew.now_ms()).is_some_and(|a| a < 16),
    })
}

fn previous(score: &Value, now: Now) -> Option<Previous> {
    let s = early_warning::news2_summary(score)?;
    let ago = view::ms(&s.effective)
        .map(|t| format!(", {} ago", view::duration(now.ms - t)))
        .unwrap_or_default();
    Some(Previous {
        when: format!("{}{ago}", now.clock(&s.effective)),
        total: s
            .total
            .map(|t| t.to_string())
            .unwrap_or_else(|| format!("≥ {}", s.partial_total)),
        band_label: band_label(&s.band),
        band: s.band,
        rows: early_warning::news2_cells(score)
            .into_iter()
            .map(|c| {
                (
                    c.param.display(),
                    c.value.unwrap_or_else(|| "–".into()),
                    c.points.map(|p| format!("+{p}")).unwrap_or_default(),
                )
            })
            .collect(),
    })
}

/// The score early warning stored for a panel, as the result card shows it.
fn result(ew: &early_warning::EarlyWarning, panel: &str, now: Now) -> Option<ScoreResult> {
    // NEWS2, or PEWS for a child: whichever early warning stored for this panel.
    let score = [ScoreKind::News2, ScoreKind::Pews]
        .into_iter()
        .find_map(|kind| {
            let id = fhir::stable_id(kind.prefix(), &format!("panel:Observation/{panel}"));
            view::read(&**ew.store(), &store::Access::system(), "Observation", &id)
        })?;
    let s = early_warning::score::summary(&score)?;
    let (band, label) = view::score_band(&s);
    let monitoring = early_warning::score::component(&score, "monitoring")
        .and_then(|c| c["valueCodeableConcept"]["text"].as_str())
        .unwrap_or_default()
        .to_string();
    Some(ScoreResult {
        name: s.score_name(),
        total: s
            .total
            .map(|t| t.to_string())
            .unwrap_or_else(|| format!("at least {} (incomplete set)", s.partial_total)),
        band_label: label,
        alert: matches!(
            s.band.as_str(),
            "low-medium" | "medium" | "high" | "emergency"
        ),
        band,
        complete: s.complete,
        response: s.response.unwrap_or_default(),
        monitoring,
        next_due: s
            .next_due
            .as_deref()
            .map(|t| now.clock(t))
            .unwrap_or_default(),
    })
}

/// What the form holds: blank (after a saved set, with its result) or as typed, with errors.
struct Filled {
    form: VitalsForm,
    errors: Vec<FieldError>,
    result: Option<ScoreResult>,
}

fn page(
    web: &Web,
    user: &crate::User,
    id: String,
    ctx: Context,
    now: Now,
    f: Filled,
) -> VitalsPage {
    let zone = web.config.zone;
    let Filled {
        form,
        errors,
        result,
    } = f;
    VitalsPage {
        nav: Nav::new(user, "vitals", zone),
        id,
        name: ctx.name,
        bed: ctx.bed,
        scale: ctx.scale,
        child: ctx.child,
        previous: ctx.latest.as_ref().and_then(|s| previous(s, now)),
        devices: Device::ALL
            .iter()
            .map(|d| (d.code(), d.display()))
            .collect(),
        taken: if form.taken.is_empty() {
            zone.input_value(now.ms)
        } else {
            form.taken.clone()
        },
        taken_min: zone.input_value(now.ms - form::BACKDATE_MS),
        taken_max: zone.input_value(now.ms),
        form,
        errors,
        result,
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct Saved {
    /// The panel just recorded, whose score the page shows.
    saved: Option<String>,
}

pub(crate) async fn form(
    State(web): State<Web>,
    auth: crate::session::AuthExt,
    Path(id): Path<String>,
    Query(q): Query<Saved>,
) -> Result<Response, PageError> {
    let user = crate::session::user(&auth, access::Permission::RecordWrite)?;
    crate::chart::reach(&web, &user, &id).await?;
    let ew = web.ew()?;
    let pid = id.clone();
    let zone = web.config.zone;
    let (ctx, now, result) = blocking(move || {
        let now = Now::new(ew.now_ms(), zone);
        let ctx = context(&ew, &pid)?;
        let result = q
            .saved
            .filter(|p| p.starts_with("vs-"))
            .and_then(|p| result(&ew, &p, now));
        Ok((ctx, now, result))
    })
    .await?;
    let blank = Filled {
        form: VitalsForm::default(),
        errors: Vec::new(),
        result,
    };
    Ok(view::render(&page(&web, &user, id, ctx, now, blank)))
}

pub(crate) async fn submit(
    State(web): State<Web>,
    auth: crate::session::AuthExt,
    Path(id): Path<String>,
    Form(form): Form<VitalsForm>,
) -> Result<Response, PageError> {
    let user = crate::session::poster(&auth, &form.csrf, access::Permission::RecordWrite)?;
    crate::chart::reach(&web, &user, &id).await?;
    let ew = web.ew()?;
    let (pid, f, by) = (id.clone(), form.clone(), user.practitioner.clone());
    let (web2, writer) = (web.clone(), user.clone());
    let zone = web.config.zone;
    let done = blocking(move || {
        // Written as the nurse: the store decides, as for any other writer.
        let access = web2.access(&writer)?;
        let now = Now::new(ew.now_ms(), zone);
        let ctx = context(&ew, &pid)?;
        let checked = match check(&f, now.ms, zone) {
            Ok(c) => c,
            Err(errors) => return Ok(Err((ctx, now, errors))),
        };
        let panel = format!("vs-{}", uuid::Uuid::new_v4().simple());
        let obs = observations(
            &checked,
            &panel,
            &format!("Patient/{pid}"),
            ctx.encounter.as_deref(),
            &by,
            &search::format_instant(checked.taken_ms),
        );
        let entries: Vec<Entry> = obs
            .into_iter()
            .map(|o| Entry {
                full_url: None,
                op: WriteOp::Update {
                    rtype: "Observation".into(),
                    id: o["id"].as_str().unwrap_or_default().to_string(),
                    resource: o,
                    if_match: None,
                },
            })
            .collect();
        let outcomes = ew
            .store()
            .write(&access, entries, Mode::Atomic)
            .map_err(view::store_error)?;
        let seq = outcomes
            .iter()
            .flatten()
            .filter_map(|o| o.version().map(|v| v.seq))
            .max()
            .unwrap_or(0);
        tracing::info!("vital signs recorded from the bedside form");
        if !ew.wait_processed(seq, Duration::from_secs(10)) {
            tracing::warn!("early warning did not score the bedside set within 10 s");
        }
        Ok(Ok(panel))
    })
    .await?;
    match done {
        // Post, then redirect: a reload shows the result again and records nothing twice.
        Ok(panel) => Ok(
            Redirect::to(&format!("/patients/{id}/vitals?saved={panel}#result")).into_response(),
        ),
        Err((ctx, now, errors)) => {
            let typed = Filled {
                form,
                errors,
                result: None,
            };
            let mut resp = view::render(&page(&web, &user, id, ctx, now, typed));
            *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(resp)
        }
    }
}
