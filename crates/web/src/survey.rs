//! The pressure-injury and restraint point-prevalence survey (`/board/survey?ward=`): on the
//! survey day a nurse walks the ward and records, for each patient on it now, the highest
//! stage of any pressure injury not present on admission and any physical restraint in
//! use, or why it was not assessed. What the NDNQI prevalence indicators on the quality
//! pages count. One survey per patient per day: saving again the same day corrects it.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use serde::Deserialize;
use store::{Entry, Mode};
use surveillance::survey::{Finding, NotAssessed, Restraint, Stage, Survey};

use crate::local::Now;
use crate::view::{self, Nav, PageError};
use crate::{blocking, Web};

/// A choice in one of the two lists.
#[derive(Debug, Clone)]
pub(crate) struct Choice {
    value: String,
    words: &'static str,
    chosen: bool,
}

/// One patient on the ward.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    patient: String,
    bed: String,
    name: String,
    age_sex: String,
    pressure_injury: Vec<Choice>,
    restraint: Vec<Choice>,
    /// "Recorded 10:32 today", when surveyed today.
    recorded: String,
    error: bool,
}

#[derive(Template)]
#[template(path = "survey.html")]
struct SurveyPage {
    nav: Nav,
    ward: String,
    title: String,
    today: String,
    rows: Vec<Row>,
    /// Patients with today's survey recorded.
    surveyed: usize,
    notice: Option<String>,
    errors: Vec<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct SurveyQuery {
    ward: Option<String>,
    done: Option<String>,
}

const NOT_ASSESSED: &str = "na:";

fn choices<T: Copy>(
    all: &[T],
    code: impl Fn(T) -> &'static str,
    words: impl Fn(T) -> &'static str,
    chosen: &str,
) -> Vec<Choice> {
    let mut out = vec![Choice {
        value: String::new(),
        words: "Not surveyed yet",
        chosen: chosen.is_empty(),
    }];
    for v in all {
        out.push(Choice {
            value: code(*v).to_string(),
            words: words(*v),
            chosen: chosen == code(*v),
        });
    }
    for r in NotAssessed::ALL {
        let value = format!("{NOT_ASSESSED}{}", r.code());
        out.push(Choice {
            chosen: chosen == value,
            value,
            words: match r {
                NotAssessed::Refused => "Not assessed: the patient declined",
                NotAssessed::Unavailable => "Not assessed: off the ward or too unwell",
            },
        });
    }
    out
}

fn stage_words(s: Stage) -> &'static str {
    match s {
        Stage::None => "None acquired here",
        other => other.display(),
    }
}

fn restraint_words(r: Restraint) -> &'static str {
    r.display()
}

fn code_of<T: Copy>(f: Finding<T>, code: impl Fn(T) -> &'static str) -> String {
    match f {
        Finding::Found(v) => code(v).to_string(),
        Finding::NotAssessed(r) => format!("{NOT_ASSESSED}{}", r.code()),
    }
}

fn finding<T>(
    value: &str,
    parse: impl Fn(&str) -> Result<T, surveillance::Error>,
) -> Option<Finding<T>> {
    if let Some(r) = value.strip_prefix(NOT_ASSESSED) {
        return NotAssessed::parse(r).ok().map(Finding::NotAssessed);
    }
    parse(value).ok().map(Finding::Found)
}

/// The survey's id for a patient on a (hospital) day: one a day, saved again to correct.
fn survey_id(patient: &str, day: &str) -> String {
    format!("pps-{patient}-{day}")
}

/// One patient on the ward now: their status on the board, their Patient resource, and
/// today's survey with when it was recorded, if any.
type OnWard = (
    early_warning::PatientStatus,
    serde_json::Value,
    Option<(Survey, String)>,
);

/// Who is on the ward now, with today's survey of each where there is one.
struct Ward {
    title: String,
    today: String,
    patients: Vec<OnWard>,
}

impl Ward {
    /// Patients with today's survey recorded.
    fn surveyed(&self) -> usize {
        self.patients.iter().filter(|p| p.2.is_some()).count()
    }
}

fn ward(web: &Web, user: &crate::User, ward: &str) -> Result<(Ward, Now), PageError> {
    let ew = web.ew()?;
    // The patients' records are read as the signed-in user: the store decides.
    let access = web.access(user)?;
    let store = ew.store();
    let now = Now::new(ew.now_ms(), web.config.zone);
    let title = crate::handover::ward_name(&**store, &access, ward)?;
    let day = web.config.zone.day_key(now.ms);
    let mut statuses = ew
        .ward_status(&format!("Location/{ward}"))
        .map_err(view::store_error)?;
    statuses.sort_by(|a, b| {
        early_warning::ranking::bed_order(a.bed_display.as_deref(), b.bed_display.as_deref())
    });
    let mut patients = Vec::new();
    for s in statuses {
        let pid = s.patient.trim_start_matches("Patient/").to_string();
        let patient = view::read(&**store, &access, "Patient", &pid).unwrap_or_default();
        let today =
            view::read(&**store, &access, "Observation", &survey_id(&pid, &day)).and_then(|o| {
                let at = o["issued"]
                    .as_str()
                    .map(|t| now.clock(t))
                    .unwrap_or_default();
                Survey::from_observation(&o).ok().map(|s| (s, at))
            });
        patients.push((s, patient, today));
    }
    Ok((
        Ward {
            title,
            today: web
                .config
                .zone
                .date(&search::format_instant(now.ms), now.ms),
            patients,
        },
        now,
    ))
}

fn rows(w: &Ward, now: Now, typed: &HashMap<String, String>, wrong: &[String]) -> Vec<Row> {
    w.patients
        .iter()
        .map(|(s, patient, today)| {
            let pid = s.patient.trim_start_matches("Patient/").to_string();
            let was = |key: &str, saved: Option<String>| {
                typed
                    .get(&format!("{key}.{pid}"))
                    .cloned()
                    .or(saved)
                    .unwrap_or_default()
            };
            let pi = was(
                "pi",
                today
                    .as_ref()
                    .map(|(s, _)| code_of(s.pressure_injury, Stage::code)),
            );
            let re = was(
                "re",
                today
                    .as_ref()
                    .map(|(s, _)| code_of(s.restraint, Restraint::code)),
            );
            Row {
                bed: s.bed_display.clone().unwrap_or_else(|| "no bed".into()),
                name: view::name(patient),
                age_sex: format!(
                    "{} {}",
                    view::age(patient["birthDate"].as_str(), now.ms)
                        .map(|a| a.to_string())
                        .unwrap_or_default(),
                    view::sex_letter(patient)
                ),
                pressure_injury: choices(Stage::ALL, Stage::code, stage_words, &pi),
                restraint: choices(Restraint::ALL, Restraint::code, restraint_words, &re),
                recorded: today
                    .as_ref()
                    .map(|(_, at)| format!("Recorded {at}"))
                    .unwrap_or_default(),
                error: wrong.contains(&pid),
                patient: pid,
            }
        })
        .collect()
}

fn seen(w: &Ward) -> server::Seen {
    server::Seen(w.patients.iter().map(|(s, ..)| s.patient.clone()).collect())
}

pub(crate) async fn page(
    State(web): State<Web>,
    auth: crate::session::AuthExt,
    Query(q): Query<SurveyQuery>,
) -> Result<Response, PageError> {
    let user = crate::session::user(&auth, access::Permission::Board)?;
    let ward_id = crate::handover::one_ward(&user, q.ward, "the prevalence survey")?;
    let notice = web.notice(&user, q.done);
    let (w2, u2, id) = (web.clone(), user.clone(), ward_id.clone());
    let (w, now) = blocking(move || ward(&w2, &u2, &id)).await?;
    let seen = seen(&w);
    Ok(view::with_seen(
        view::render(&SurveyPage {
            nav: Nav::new(&user, "board", web.config.zone),
            ward: ward_id,
            title: w.title.clone(),
            today: w.today.clone(),
            rows: rows(&w, now, &HashMap::new(), &[]),
            surveyed: w.surveyed(),
            notice,
            errors: Vec::new(),
        }),
        seen,
    ))
}

pub(crate) async fn submit(
    State(web): State<Web>,
    auth: crate::session::AuthExt,
    Query(q): Query<SurveyQuery>,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let typed: HashMap<String, String> = form.into_iter().collect();
    let csrf = typed.get("csrf").cloned().unwrap_or_default();
    let user = crate::session::poster(&auth, &csrf, access::Permission::RecordWrite)?;
    let ward_id = crate::handover::one_ward(&user, q.ward, "the prevalence survey")?;
    let (w2, u2, id) = (web.clone(), user.clone(), ward_id.clone());
    let by = user.practitioner.clone();
    let typed2 = typed.clone();
    let outcome = blocking(move || {
        let (w, now) = ward(&w2, &u2, &id)?;
        let day = w2.config.zone.day_key(now.ms);
        let mut surveys = Vec::new();
        let mut wrong = Vec::new();
        let mut errors = Vec::new();
        // Only the patients on the ward now: a form naming anyone else records nothing for them.
        for (s, patient, _) in &w.patients {
            let pid = s.patient.trim_start_matches("Patient/").to_string();
            let get = |k: &str| typed2.get(&format!("{k}.{pid}")).cloned().unwrap_or_default();
            let (pi, re) = (get("pi"), get("re"));
            if pi.is_empty() && re.is_empty() {
                continue;
            }
            let (Some(pressure_injury), Some(restraint)) =
                (finding(&pi, Stage::parse), finding(&re, Restraint::parse))
            else {
                wrong.push(pid.clone());
                errors.push(format!(
                    "{} ({}): choose both the pressure injury finding and the restraint finding, or neither.",
                    view::name(patient),
                    s.bed_display.clone().unwrap_or_else(|| "no bed".into())
                ));
                continue;
            };
            surveys.push(Survey {
                patient: pid,
                encounter: Some(s.encounter.trim_start_matches("Encounter/").to_string()),
                surveyed: chrono::DateTime::from_timestamp_millis(now.ms).unwrap_or_default(),
                surveyor: (!by.is_empty())
                    .then(|| by.trim_start_matches("Practitioner/").to_string()),
                pressure_injury,
                restraint,
            });
        }
        if !errors.is_empty() || surveys.is_empty() {
            if surveys.is_empty() && errors.is_empty() {
                errors.push("Nothing to record: choose the findings for at least one patient.".into());
            }
            return Ok(Err((w, now, wrong, errors)));
        }
        let access = w2.access(&u2)?;
        let recorded = chrono::DateTime::from_timestamp_millis(now.ms).unwrap_or_default();
        let entries: Vec<Entry> = surveys
            .iter()
            .filter_map(|s| Entry::put(s.observation(&survey_id(&s.patient, &day), recorded)))
            .collect();
        // Written as the nurse, all or none: the store decides.
        w2.ew()?
            .store()
            .write(&access, entries, Mode::Atomic)
            .map_err(view::store_error)?;
        tracing::info!(patients = surveys.len(), "prevalence survey recorded");
        Ok(Ok((surveys.len(), seen(&w))))
    })
    .await?;
    match outcome {
        Ok((n, seen)) => Ok(view::with_seen(
            web.redirect_with_notice(
                &user,
                &format!("/board/survey?ward={ward_id}"),
                format!(
                    "Recorded the survey of {n} {}.",
                    if n == 1 { "patient" } else { "patients" }
                ),
            ),
            seen,
        )),
        Err((w, now, wrong, errors)) => {
            let seen = seen(&w);
            let mut resp = view::render(&SurveyPage {
                nav: Nav::new(&user, "board", web.config.zone),
                ward: ward_id,
                title: w.title.clone(),
                today: w.today.clone(),
                rows: rows(&w, now, &typed, &wrong),
                surveyed: w.surveyed(),
                notice: None,
                errors,
            });
            *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(view::with_seen(resp, seen))
        }
    }
}
