//! Referring a patient to a community service (`GET`/`POST
//! /patients/{id}/social-needs/refer?need=CODE`): the directory's services for the need,
//! those speaking the patient's language and nearest their home first, with what to watch
//! for (waiting list, no one speaking the language); the patient's consent to share (who
//! agreed and how) asked before anything is sent; sent through the referrals service with
//! the signed-in person's access.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use community::{CapacityStatus, ConsentFacts, ConsentGiver, ConsentMethod, Query as Find};
use serde::Deserialize;
use serde_json::Value;

use crate::view::{self, Nav, PageError};
use crate::{blocking, Web};

/// Services offered per search.
const SHOWN: usize = 12;

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Need {
    #[serde(default)]
    need: String,
}

pub(crate) struct Choice {
    id: String,
    name: String,
    organization: String,
    capacity: &'static str,
    full: bool,
    reasons: String,
    cautions: String,
    phone: String,
    address: String,
    eligibility: String,
}

#[derive(Template)]
#[template(path = "refer.html")]
struct ReferPage {
    nav: Nav,
    id: String,
    name: String,
    need: String,
    need_words: String,
    language: String,
    choices: Vec<Choice>,
    needs: Vec<(String, String)>,
    error: Option<String>,
}

/// The patient's preferred language (BCP 47 tag and words) and home position, if known.
fn patient_facts(p: &Value) -> (Option<String>, String, Option<(f64, f64)>) {
    let (tag, words) = community::directory::language::of_patient(p).unwrap_or_default();
    let home = p["address"].as_array().into_iter().flatten().find_map(|a| {
        let geo = a["extension"]
            .as_array()?
            .iter()
            .find(|e| e["url"] == "http://hl7.org/fhir/StructureDefinition/geolocation")?;
        let part = |k: &str| {
            geo["extension"]
                .as_array()?
                .iter()
                .find(|e| e["url"] == k)?["valueDecimal"]
                .as_f64()
        };
        Some((part("latitude")?, part("longitude")?))
    });
    (tag, words, home)
}

fn page_for(
    web: &Web,
    user: &crate::User,
    id: &str,
    need: &str,
    error: Option<String>,
) -> Result<ReferPage, PageError> {
    let r = web.referrals()?;
    let access = web.access(user)?;
    let patient = view::patient(&*web.app.store, &access, id)?;
    let (tag, language, home) = patient_facts(&patient);
    let directory = r.directory().map_err(view::store_error)?;
    let found = directory.search(&Find {
        need: Some(need.to_string()).filter(|n| !n.is_empty()),
        language: tag,
        near: home,
        within_miles: None,
        text: None,
        open_at: None,
    });
    let choices = found
        .into_iter()
        .take(SHOWN)
        .map(|m| {
            let s = m.service;
            Choice {
                id: s.id.clone(),
                name: s.name.clone(),
                organization: s.organization.name.clone(),
                capacity: match s.capacity.status {
                    CapacityStatus::Open => "Taking referrals",
                    CapacityStatus::Waitlist => "Waiting list",
                    CapacityStatus::Full => "Full",
                },
                full: s.capacity.status == CapacityStatus::Full,
                reasons: m.reasons.join(" · "),
                cautions: m.cautions.join(" · "),
                phone: s
                    .organization
                    .phone
                    .clone()
                    .or_else(|| s.contacts.first().map(|c| c.value.clone()))
                    .unwrap_or_default(),
                address: s
                    .locations
                    .iter()
                    .find_map(|l| l.address.as_ref())
                    .map(|a| {
                        a.lines
                            .iter()
                            .cloned()
                            .chain(a.city.clone())
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_else(|| "By phone".into()),
                eligibility: s.eligibility.clone().unwrap_or_default(),
            }
        })
        .collect();
    Ok(ReferPage {
        nav: Nav::new(user, "social", web.config.zone),
        id: id.to_string(),
        name: view::name(&patient),
        need_words: community::need::words(need),
        need: need.to_string(),
        language,
        choices,
        needs: community::need::codes()
            .map(|c| (c.to_string(), community::need::title(c)))
            .collect(),
        error,
    })
}

pub(crate) async fn page(
    State(web): State<Web>,
    auth: crate::session::AuthExt,
    Path(id): Path<String>,
    Query(n): Query<Need>,
) -> Result<Response, PageError> {
    let user = crate::session::user(&auth, access::Permission::Outreach)?;
    crate::chart::reach(&web, &user, &id).await?;
    let w = web.clone();
    let pid = id.clone();
    let page = blocking(move || page_for(&w, &user, &pid, &n.need, None)).await?;
    Ok(view::with_seen(
        view::render(&page),
        server::Seen(vec![format!("Patient/{id}")]),
    ))
}

#[derive(Debug, Deserialize)]
pub(crate) struct SendForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    need: String,
    #[serde(default)]
    service: String,
    #[serde(default)]
    consent: String,
    #[serde(default)]
    given_by: String,
    #[serde(default)]
    representative: String,
    #[serde(default)]
    method: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    no_contact: String,
}

pub(crate) async fn send(
    State(web): State<Web>,
    auth: crate::session::AuthExt,
    Path(id): Path<String>,
    Form(f): Form<SendForm>,
) -> Result<Response, PageError> {
    let user = crate::session::poster(&auth, &f.csrf, access::Permission::Outreach)?;
    crate::chart::reach(&web, &user, &id).await?;
    let r = web.referrals()?;
    let (w, u, pid) = (web.clone(), user.clone(), id.clone());
    let need = f.need.clone();
    let outcome = blocking(move || {
        let now = chrono::Utc::now();
        let problem = if f.service.is_empty() {
            Some("Choose a service.")
        } else if f.consent != "yes" {
            Some("Nothing is sent without the patient's consent: ask them, then tick the consent box.")
        } else if f.given_by == "representative" && f.representative.trim().is_empty() {
            Some("Give the name of the person who agreed for the patient.")
        } else {
            None
        };
        if let Some(p) = problem {
            return Ok(Err(p.to_string()));
        }
        let access = w.access(&u)?;
        // The need's awaiting or confirmed concern is the referral's reason.
        let s = w.screenings()?;
        let reasons = s
            .concerns(&access, &pid)
            .map_err(view::store_error)?
            .into_iter()
            .filter(|c| c.domain == f.need && c.status != "refuted")
            .map(|c| format!("Condition/{}", c.id))
            .take(1)
            .collect();
        let sent = r.send(
            &access,
            &u.principal,
            referrals::NewReferral {
                patient: pid.clone(),
                service: f.service.clone(),
                need: f.need.clone(),
                reasons,
                note: Some(f.note.trim().to_string()).filter(|n| !n.is_empty()),
                contact_prohibited: f.no_contact == "yes",
                consent: Some(ConsentFacts {
                    given_by: if f.given_by == "representative" {
                        ConsentGiver::Representative {
                            reference: None,
                            name: f.representative.trim().to_string(),
                        }
                    } else {
                        ConsentGiver::Patient
                    },
                    at: now,
                    method: if f.method == "written" {
                        ConsentMethod::Written
                    } else {
                        ConsentMethod::Verbal
                    },
                    document: None,
                }),
            },
            now,
        );
        Ok(match sent {
            Ok(_) => {
                let d = r.directory().map_err(view::store_error)?;
                let to = d
                    .service(&f.service)
                    .map(|s| format!("{} ({})", s.name, s.organization.name))
                    .unwrap_or_else(|| "the service".into());
                Ok(format!("Referral sent to {to}, with the patient's consent."))
            }
            Err(referrals::Error::Store(store::StoreError::Forbidden { .. })) => {
                Err("You cannot refer this patient.".to_string())
            }
            Err(e) => Err(e.to_string()),
        })
    })
    .await?;
    match outcome {
        Ok(notice) => {
            Ok(web.redirect_with_notice(&user, &format!("/patients/{id}/social-needs"), notice))
        }
        Err(message) => {
            let w = web.clone();
            let pid = id.clone();
            let mut resp = view::render(
                &blocking(move || page_for(&w, &user, &pid, &need, Some(message))).await?,
            );
            *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(view::with_seen(
                resp,
                server::Seen(vec![format!("Patient/{id}")]),
            ))
        }
    }
}
