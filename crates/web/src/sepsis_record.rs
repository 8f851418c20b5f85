//! Recording suspected sepsis's first hour from the patient's sepsis page
//! (`POST /patients/{id}/sepsis`): the form read into a [`sepsis::Record`] with plain
//! messages, written as the signed-in person (the store decides), then the page again with
//! what changed.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use chrono::TimeZone;
use sepsis::{Fluid, Record, Source};

use crate::local::{Now, TypedTime};
use crate::sepsis::{load, page, service, SepsisForm, Shown};
use crate::view::{self, PageError};
use crate::{blocking, Web};

/// The form as a record and its time, or what is wrong with it.
pub(crate) fn check(f: &SepsisForm, now: Now) -> Result<(Record, i64, &'static str), Vec<String>> {
    let mut errors = Vec::new();
    let at = match now.zone.typed_time(&f.at, now.ms) {
        Ok(at) => at,
        Err(TypedTime::NotATime) => {
            errors.push(format!(
                "'{}' is not a time on the hospital's clock",
                f.at.trim()
            ));
            now.ms
        }
        Err(TypedTime::Future) => {
            errors.push("The time cannot be in the future".into());
            now.ms
        }
        Err(TypedTime::TooOld) => {
            errors.push("The time is more than 24 hours ago: record it in a note".into());
            now.ms
        }
    };
    let (record, done) = match f.what.as_str() {
        "suspect" => match Source::parse(&f.source) {
            Some(source) => (Some(Record::Suspected { source }), "Infection suspected"),
            None => {
                errors.push("Choose the likely source (or \"Not known yet\")".into());
                (None, "")
            }
        },
        "cultures" => (Some(Record::Cultures), "Blood cultures taken"),
        "lactate" => match f.lactate.trim().replace(',', ".").parse::<f64>() {
            Ok(v) if v > 0.0 && v <= sepsis::record::LACTATE_MAX => {
                (Some(Record::Lactate { mmol_per_l: v }), "Lactate recorded")
            }
            _ => {
                errors.push(format!(
                    "Lactate must be a number of mmol/L, more than 0 and at most {}",
                    sepsis::record::LACTATE_MAX
                ));
                (None, "")
            }
        },
        "antibiotics" => match sepsis::Antibiotic::find(&f.antibiotic) {
            Some(a) => (
                Some(Record::Antibiotic { key: a.key.clone() }),
                "Antibiotics given",
            ),
            None => {
                errors.push("Choose the antibiotic given".into());
                (None, "")
            }
        },
        "fluids" => {
            let fluid = Fluid::parse(&f.fluid);
            let ml =
                f.ml.parse::<u32>()
                    .ok()
                    .filter(|m| sepsis::record::BOLUS_ML.contains(m));
            match (fluid, ml) {
                (Some(fluid), Some(ml)) => {
                    (Some(Record::Fluids { fluid, ml }), "Fluid bolus given")
                }
                _ => {
                    errors.push("Choose the fluid and the volume given".into());
                    (None, "")
                }
            }
        }
        "rule-out" => {
            if f.reason.trim().is_empty() {
                errors.push("Say why infection is no longer suspected".into());
                (None, "")
            } else {
                (
                    Some(Record::RuledOut {
                        condition: f.condition.clone(),
                        reason: f.reason.trim().chars().take(500).collect(),
                    }),
                    "Infection ruled out",
                )
            }
        }
        _ => {
            errors.push("Nothing to record: choose what was done".into());
            (None, "")
        }
    };
    match record {
        Some(r) if errors.is_empty() => Ok((r, at, done)),
        _ => Err(errors),
    }
}

pub(crate) async fn submit(
    State(web): State<Web>,
    auth: crate::session::AuthExt,
    Path(id): Path<String>,
    Form(form): Form<SepsisForm>,
) -> Result<Response, PageError> {
    let user = crate::session::poster(&auth, &form.csrf, access::Permission::RecordWrite)?;
    crate::chart::reach(&web, &user, &id).await?;
    let sepsis = service(&web)?;
    let (w, u, pid, f) = (web.clone(), user.clone(), id.clone(), form.clone());
    let outcome = blocking(move || {
        let access = w.access(&u)?;
        let now = Now::new(sepsis.now().timestamp_millis(), w.config.zone);
        let (record, at, done) = match check(&f, now) {
            Ok(x) => x,
            Err(errors) => return Ok(Err((load(&sepsis, &access, &pid, now)?, now, errors))),
        };
        let loaded = load(&sepsis, &access, &pid, now)?;
        let when = sepsis
            .zone()
            .timestamp_millis_opt(at)
            .single()
            .map(|t| t.fixed_offset())
            .unwrap_or_else(|| sepsis.now());
        // Written as the signed-in person: the store decides.
        match sepsis.record(
            &access,
            &u.practitioner,
            &pid,
            loaded.encounter.as_deref(),
            &record,
            when,
        ) {
            Ok(_) => {
                tracing::info!(what = f.what.as_str(), "sepsis first-hour record");
                Ok(Ok(format!("{done} at {}.", now.zone.clock_ms(at, now.ms))))
            }
            Err(
                sepsis_watch::Error::Invalid(m)
                | sepsis_watch::Error::Record(sepsis::Error::Invalid(m)),
            ) => Ok(Err((loaded, now, vec![m]))),
            Err(sepsis_watch::Error::NotFound) => Ok(Err((
                loaded,
                now,
                vec!["That suspicion is not on this patient's record".into()],
            ))),
            Err(e) => Err(view::store_error(e)),
        }
    })
    .await?;
    let seen = server::Seen(vec![format!("Patient/{id}")]);
    match outcome {
        Ok(notice) => Ok(view::with_seen(
            web.redirect_with_notice(&user, &format!("/patients/{id}/sepsis"), notice),
            seen,
        )),
        Err((loaded, now, errors)) => {
            let mut resp = view::render(&page(
                &web,
                &user,
                &id,
                loaded,
                now,
                Shown {
                    notice: None,
                    errors,
                    form,
                },
            ));
            *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(view::with_seen(resp, seen))
        }
    }
}
