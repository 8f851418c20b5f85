//! A patient's cancer pathway as the consultant sees it (`/patients/{id}/cancer-pathway`):
//! where the patient stands on any cancer pathway (each standard's days left), and the
//! consultant upgrade onto the 62-day suspected-cancer pathway for a patient who was not
//! referred urgently, with the suspected cancer, the day and the clinical reason. When the
//! rules do not allow an upgrade (already on the 62-day pathway, or the decision to treat was
//! made) the page says why instead of offering the form. The upgrade is written as the
//! signed-in consultant (`navigation::Navigation::record_upgrade`).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use serde::Deserialize;

use crate::navigator::{chip, Chip, Shown};
use crate::view::{self, Nav, PageError};
use crate::{blocking, Web};

#[derive(Template)]
#[template(path = "cancer_upgrade.html")]
struct UpgradePage {
    nav: Nav,
    id: String,
    name: String,
    /// Active pathways' titles (empty: none).
    pathways: Vec<String>,
    navigator: String,
    clocks: Vec<Chip>,
    /// Why no upgrade is offered (`None`: the form is).
    refusal: Option<String>,
    sites: Vec<String>,
    form: UpgradeForm,
    today_input: String,
    notice: Option<String>,
    error: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct UpgradeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    site: String,
    /// `YYYY-MM-DD`, the hospital's calendar.
    #[serde(default)]
    date: String,
    #[serde(default)]
    reason: String,
}

fn page(
    web: &Web,
    nav: &navigation::Navigation,
    user: &crate::User,
    id: &str,
    form: UpgradeForm,
    notice: Option<String>,
    error: Option<String>,
) -> Result<UpgradePage, PageError> {
    let access = web.access(user)?;
    let name = view::read(&*web.app.store, &access, "Patient", id)
        .map(|p| navigation::person(&p).name)
        .ok_or_else(|| view::error_page(StatusCode::NOT_FOUND, "No such patient."))?;
    let refusal = nav
        .upgrade_refusal(id)
        .map_err(|e| view::error_page(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()))?;
    let case = nav.case(id).filter(|c| c.active());
    let row = case.as_ref().and_then(|c| nav.row(c));
    let today = nav.today().format("%Y-%m-%d").to_string();
    Ok(UpgradePage {
        nav: Nav::new(user, "", web.config.zone),
        id: id.to_string(),
        name,
        pathways: case
            .as_ref()
            .map(|c| {
                c.episodes
                    .iter()
                    .filter(|e| e.active)
                    .map(|e| e.title.clone())
                    .collect()
            })
            .unwrap_or_default(),
        navigator: case
            .as_ref()
            .and_then(|c| c.navigator.as_deref())
            .map(|n| nav.name_of(n))
            .unwrap_or_else(|| "None yet".into()),
        clocks: row
            .map(|r| r.clocks.iter().map(chip).collect())
            .unwrap_or_default(),
        refusal,
        sites: nav.upgrade_sites(),
        form: UpgradeForm {
            date: if form.date.is_empty() {
                today.clone()
            } else {
                form.date
            },
            ..form
        },
        today_input: today,
        notice,
        error,
    })
}

pub(crate) async fn show(
    State(web): State<Web>,
    auth: crate::session::AuthExt,
    Path(id): Path<String>,
    Query(q): Query<Shown>,
) -> Result<Response, PageError> {
    let user = crate::session::user(&auth, access::Permission::CancerUpgrade)?;
    let nav = web.nav_service()?;
    crate::chart::reach(&web, &user, &id).await?;
    let notice = web.notice(&user, q.done);
    let (w, pid) = (web.clone(), id.clone());
    let p =
        blocking(move || page(&w, &nav, &user, &pid, UpgradeForm::default(), notice, None)).await?;
    Ok(view::with_seen(
        view::render(&p),
        server::Seen(vec![format!("Patient/{id}")]),
    ))
}

pub(crate) async fn submit(
    State(web): State<Web>,
    auth: crate::session::AuthExt,
    Path(id): Path<String>,
    Form(f): Form<UpgradeForm>,
) -> Result<Response, PageError> {
    let user = crate::session::poster(&auth, &f.csrf, access::Permission::CancerUpgrade)?;
    let nav = web.nav_service()?;
    crate::chart::reach(&web, &user, &id).await?;
    let (w, u, pid, n) = (web.clone(), user.clone(), id.clone(), nav.clone());
    let form = f.clone();
    let outcome = blocking(move || {
        let zone = w.config.zone;
        let today = n.today().format("%Y-%m-%d").to_string();
        // The day of the upgrade: now when it is today, otherwise midday on that day.
        let at = if f.date.trim() == today {
            Some(n.now())
        } else {
            zone.from_input(&format!("{}T12:00", f.date.trim()))
                .and_then(chrono::DateTime::from_timestamp_millis)
                .map(|t| t.with_timezone(&zone.tz()).fixed_offset())
        };
        let Some(at) = at else {
            return Ok(Err((
                StatusCode::UNPROCESSABLE_ENTITY,
                "Choose the day of the upgrade.".to_string(),
            )));
        };
        let access = w.access(&u)?;
        let r = n.record_upgrade(
            &access,
            &u.practitioner,
            &navigation::NewUpgrade {
                patient: pid.clone(),
                site: f.site.clone(),
                at,
                reason: f.reason.clone(),
            },
        );
        Ok(r.map(|()| {
            format!(
                "Upgraded: the 62-day clock runs from {}.",
                navigation::day(at, n.now())
            )
        })
        .map_err(crate::navigator::refusal))
    })
    .await?;
    let here = format!("/patients/{id}/cancer-pathway");
    match outcome {
        Ok(notice) => Ok(web.redirect_with_notice(&user, &here, notice)),
        Err((status, message)) => {
            let w = web.clone();
            let p = blocking(move || page(&w, &nav, &user, &id, form, None, Some(message))).await?;
            let mut resp = view::render(&p);
            *resp.status_mut() = status;
            Ok(resp)
        }
    }
}
