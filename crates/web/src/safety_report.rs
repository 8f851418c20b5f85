//! Reporting a safety event (`GET`/`POST /safety/report`), for any member of staff from any
//! page: what happened, where and when, the patient (or none), a description and the harm,
//! the details of a fall, pressure injury or medication event, what contributed, and
//! whether to send it anonymously. Sent with the reporter's own access: the store decides
//! that they read back only their own named reports.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use safety_events::{Details, Fall, Formats, Medication, PressureInjury, Report, Reporter};
use serde::Deserialize;

use crate::view::{self, Nav, PageError};
use crate::{blocking, Web};

impl Web {
    pub(crate) fn safety(&self) -> Result<std::sync::Arc<safety::Safety>, PageError> {
        self.config.safety.clone().ok_or_else(|| {
            view::error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Safety-event reporting is not running on this server.",
            )
        })
    }
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Start {
    patient: Option<String>,
}

/// The form as sent (repeated `factor` keys, so read as pairs).
#[derive(Debug, Default, Clone)]
pub(crate) struct ReportForm {
    csrf: String,
    kind: String,
    category: String,
    occurred: String,
    location: String,
    patient: String,
    mrn: String,
    description: String,
    harm: String,
    factors: Vec<String>,
    fall_injury: String,
    fall_assisted: String,
    fall_risk: String,
    fall_off_unit: bool,
    pi_stage: String,
    pi_poa: String,
    pi_device: bool,
    pi_site: String,
    med_stage: String,
    med_error: String,
    med_medicine: String,
    med_high_alert: bool,
    anonymous: bool,
}

impl ReportForm {
    fn from_pairs(pairs: Vec<(String, String)>) -> ReportForm {
        let mut f = ReportForm::default();
        for (k, v) in pairs {
            match k.as_str() {
                "csrf" => f.csrf = v,
                "kind" => f.kind = v,
                "category" => f.category = v,
                "occurred" => f.occurred = v,
                "location" => f.location = v,
                "patient" => f.patient = v,
                "mrn" => f.mrn = v,
                "description" => f.description = v,
                "harm" => f.harm = v,
                "factor" => f.factors.push(v),
                "fall_injury" => f.fall_injury = v,
                "fall_assisted" => f.fall_assisted = v,
                "fall_risk" => f.fall_risk = v,
                "fall_off_unit" => f.fall_off_unit = !v.is_empty(),
                "pi_stage" => f.pi_stage = v,
                "pi_poa" => f.pi_poa = v,
                "pi_device" => f.pi_device = !v.is_empty(),
                "pi_site" => f.pi_site = v,
                "med_stage" => f.med_stage = v,
                "med_error" => f.med_error = v,
                "med_medicine" => f.med_medicine = v,
                "med_high_alert" => f.med_high_alert = !v.is_empty(),
                "anonymous" => f.anonymous = !v.is_empty(),
                _ => {}
            }
        }
        f
    }

    fn checked(&self, field: &str, value: &str) -> bool {
        match field {
            "kind" => self.kind == value,
            "harm" => self.harm == value,
            "factor" => self.factors.iter().any(|x| x == value),
            "fall_injury" => self.fall_injury == value,
            "fall_assisted" => self.fall_assisted == value,
            "fall_risk" => self.fall_risk == value,
            "pi_stage" => self.pi_stage == value,
            "pi_poa" => self.pi_poa == value,
            "med_stage" => self.med_stage == value,
            "med_error" => self.med_error == value,
            "category" => self.category == value,
            "location" => self.location == value,
            _ => false,
        }
    }
}

fn yes_no(v: &str) -> Option<bool> {
    match v {
        "yes" => Some(true),
        "no" => Some(false),
        _ => None,
    }
}

#[derive(Template)]
#[template(path = "safety_report.html")]
struct ReportPage {
    nav: Nav,
    form: ReportForm,
    errors: Vec<String>,
    /// The patient the report starts from (its id and name), when opened from a chart.
    patient_name: String,
    wards: Vec<(String, String)>,
    occurred_max: String,
    f: &'static Formats,
}

impl ReportPage {
    fn checked(&self, field: &str, value: &str) -> bool {
        self.form.checked(field, value)
    }
    /// Whether the details of `kind` are the category's (open them).
    fn details_open(&self, kind: &str) -> bool {
        self.f
            .category(&self.form.category)
            .and_then(|c| c.details.as_deref())
            == Some(kind)
    }
}

fn page(
    web: &Web,
    user: &crate::User,
    form: ReportForm,
    errors: Vec<String>,
) -> Result<ReportPage, PageError> {
    let access = web.access(user)?;
    let s = web.safety()?;
    let now_ms = chrono::Utc::now().timestamp_millis();
    let patient_name = if form.patient.is_empty() {
        String::new()
    } else {
        view::read(&*web.app.store, &access, "Patient", &form.patient)
            .map(|p| view::name(&p))
            .ok_or_else(|| {
                view::error_page(
                    StatusCode::NOT_FOUND,
                    "That patient is not in your care. Report from the safety page and give the MRN, or leave the patient out.",
                )
            })?
    };
    let wards = s.wards(&access).map_err(view::store_error)?;
    Ok(ReportPage {
        nav: Nav::new(user, "safety-report", web.config.zone),
        patient_name,
        wards,
        occurred_max: web.config.zone.input_value(now_ms),
        errors,
        form,
        f: s.formats(),
    })
}

pub(crate) async fn form(
    State(web): State<Web>,
    auth: crate::session::AuthExt,
    Query(q): Query<Start>,
) -> Result<Response, PageError> {
    let user = crate::session::user(&auth, access::Permission::ReportSafetyEvents)?;
    let now_ms = chrono::Utc::now().timestamp_millis();
    let form = ReportForm {
        occurred: web.config.zone.input_value(now_ms),
        location: user
            .wards
            .first()
            .map(|w| w.trim_start_matches("Location/").to_string())
            .unwrap_or_default(),
        patient: q.patient.unwrap_or_default(),
        ..ReportForm::default()
    };
    let w = web.clone();
    let (p, seen) = blocking(move || {
        let seen = if form.patient.is_empty() {
            vec![]
        } else {
            vec![format!("Patient/{}", form.patient)]
        };
        Ok((page(&w, &user, form, vec![])?, seen))
    })
    .await?;
    Ok(view::with_seen(view::render(&p), server::Seen(seen)))
}

pub(crate) async fn submit(
    State(web): State<Web>,
    auth: crate::session::AuthExt,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let form = ReportForm::from_pairs(pairs);
    let user = crate::session::poster(&auth, &form.csrf, access::Permission::ReportSafetyEvents)?;
    let s = web.safety()?;
    let (w, u) = (web.clone(), user.clone());
    let done = blocking(move || {
        let access = w.access(&u)?;
        let mut errors = Vec::new();
        let zone = w.config.zone;
        let occurred = match zone.from_input(form.occurred.trim()) {
            Some(ms) => chrono::DateTime::from_timestamp_millis(ms),
            None => {
                errors.push("Say when it happened (a time on the hospital's clock).".into());
                None
            }
        };
        // The patient: from the chart, or by MRN among the patients the reporter reaches.
        let mut patient = Some(form.patient.trim().to_string()).filter(|p| !p.is_empty());
        let mrn = form.mrn.trim();
        if patient.is_none() && !mrn.is_empty() {
            let found = view::search(
                &*w.app.store,
                &access,
                "Patient",
                &[("identifier", mrn.to_string())],
            )?;
            match found.as_slice() {
                [one] => patient = one["id"].as_str().map(str::to_string),
                [] => errors.push(format!(
                    "No patient in your care has the MRN {mrn}. Check it, or leave the patient out and name them in the description."
                )),
                _ => errors.push(format!("More than one patient has the MRN {mrn}.")),
            }
        }
        let f = s.formats();
        let details = match f.category(&form.category).and_then(|c| c.details.as_deref()) {
            Some("fall") => Details::Fall(Fall {
                injury: form.fall_injury.clone(),
                assisted: yes_no(&form.fall_assisted),
                risk_assessed: yes_no(&form.fall_risk),
                off_unit: form.fall_off_unit,
            }),
            Some("pressure-injury") => Details::PressureInjury(PressureInjury {
                stage: form.pi_stage.clone(),
                present_on_admission: yes_no(&form.pi_poa),
                device_related: form.pi_device,
                site: form.pi_site.clone(),
            }),
            Some("medication") => Details::Medication(Medication {
                stage: form.med_stage.clone(),
                error: form.med_error.clone(),
                medicine: form.med_medicine.clone(),
                high_alert: form.med_high_alert,
            }),
            _ => Details::None,
        };
        let report = Report {
            kind: form.kind.clone(),
            category: form.category.clone(),
            occurred: occurred.unwrap_or_else(chrono::Utc::now),
            discovered: None,
            location: Some(form.location.clone()).filter(|l| !l.is_empty()),
            description: form.description.clone(),
            harm: Some(form.harm.clone()).filter(|h| !h.is_empty()),
            factors: form.factors.clone(),
            patient: patient.clone(),
            encounter: None,
            details,
            anonymous: form.anonymous,
        };
        errors.extend(report.problems(f, chrono::Utc::now()));
        // Asked for the patient by MRN and not found: one message is enough.
        if !mrn.is_empty() && patient.is_none() {
            errors.retain(|e| !e.starts_with("An incident reached a patient"));
        }
        if !errors.is_empty() {
            return Ok(Err(page(&w, &u, form, errors)?));
        }
        let reporter = Reporter {
            reference: u.practitioner.clone(),
            name: u.name.clone(),
            role: u.role.clone(),
        };
        match s.file(&access, &reporter, &report) {
            Ok(filed) => Ok(Ok((filed, form.anonymous, patient))),
            Err(safety::Error::Store(store::StoreError::Forbidden { .. })) => Err(view::error_page(
                StatusCode::FORBIDDEN,
                "This report could not be sent: the patient is not in your care. Leave the patient out and describe them instead.",
            )),
            Err(e) => Ok(Err(page(&w, &u, form, vec![e.to_string()])?)),
        }
    })
    .await?;
    match done {
        Err(p) => {
            let mut r = view::render(&p);
            *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(r)
        }
        Ok((filed, anonymous, patient)) => {
            let notice = if anonymous {
                format!(
                    "Thank you. Your report {} was sent anonymously: note its number if you want to ask about it.",
                    filed.reference
                )
            } else {
                format!(
                    "Thank you. Your report {} was sent to the safety team. You can follow it here.",
                    filed.reference
                )
            };
            let resp = web.redirect_with_notice(&user, "/safety/mine", notice);
            Ok(view::with_seen(
                resp,
                server::Seen(
                    patient
                        .map(|p| vec![format!("Patient/{p}")])
                        .unwrap_or_default(),
                ),
            ))
        }
    }
}
