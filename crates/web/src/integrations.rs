//! The integrations page (`/admin/integrations`, for those who run the hospital's
//! interfaces): the systems registered as SMART backend services and what each may do, and
//! the Bulk Data exports: who asked for what, how far each got, when its files go, and a
//! way to stop one. No record's content is on it.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use bulk_export::{Level, State as JobState};
use serde::Deserialize;

use crate::view::{self, Nav, PageError};
use crate::{blocking, Web};

/// One export on the page.
pub(crate) struct ExportLine {
    id: String,
    client: String,
    started: String,
    what: String,
    since: Option<String>,
    state: String,
    /// `running`, `complete` or `failed`: how the state is marked.
    tone: &'static str,
    kept_until: Option<String>,
    running: bool,
}

/// One registered backend service.
pub(crate) struct ClientLine {
    name: String,
    id: String,
    may: Vec<String>,
}

#[derive(Template)]
#[template(path = "integrations.html")]
struct IntegrationsPage {
    nav: Nav,
    exports: Vec<ExportLine>,
    clients: Vec<ClientLine>,
    configured: bool,
    notice: Option<String>,
}

/// `?done=KEY`: the outcome of the post that redirected here, shown once.
#[derive(Debug, Deserialize)]
pub(crate) struct Shown {
    done: Option<String>,
}

/// Who asked, by name: a registered service's name, or a person's.
fn client_name(web: &Web, owner: &str) -> String {
    if let Some(id) = owner.strip_prefix("client:") {
        return web
            .app
            .gate
            .smart
            .clients()
            .find(|c| c.client_id == id)
            .map(|c| c.name.clone())
            .unwrap_or_else(|| format!("{id} (no longer registered)"));
    }
    owner.trim_start_matches("user:").to_string()
}

fn what(web: &Web, job: &bulk_export::Job) -> String {
    let named = job.request.patients.len();
    let level = match &job.request.level {
        Level::System => "Whole record".to_string(),
        Level::Patient if named == 1 => "Records of 1 named patient".to_string(),
        Level::Patient if named > 1 => format!("Records of {named} named patients"),
        Level::Patient => "Every patient's record".to_string(),
        Level::Group(g) => {
            let name = view::read(&*web.app.store, &store::Access::system(), "Group", g)
                .and_then(|g| g["name"].as_str().map(str::to_string))
                .unwrap_or_else(|| g.clone());
            format!("Patients of the group {name}")
        }
    };
    let types = match &job.request.types {
        Some(t) => t.join(", "),
        None => "every type it may read".into(),
    };
    let filters = match job.request.filters.len() {
        0 => String::new(),
        1 => ", one search filter".into(),
        n => format!(", {n} search filters"),
    };
    format!("{level}: {types}{filters}")
}

fn line(web: &Web, exports: &bulk_export::Exports, s: bulk_export::Status) -> ExportLine {
    let zone = web.config.zone;
    let now = chrono::Utc::now().timestamp_millis();
    let job = &s.job;
    let n = view::count(job.exported());
    let (state, tone) = match &job.state {
        JobState::Queued => ("Waiting for a free exporter".to_string(), "running"),
        JobState::Running => (
            match &job.current {
                Some(t) => format!("Running: {n} resources so far, now {t}"),
                None => format!("Running: {n} resources so far"),
            },
            "running",
        ),
        JobState::Complete if job.outputs.is_empty() => {
            ("Complete: nothing to export".to_string(), "complete")
        }
        JobState::Complete => (
            format!(
                "Complete: {n} resources in {} file{}",
                job.outputs.len(),
                if job.outputs.len() == 1 { "" } else { "s" }
            ),
            "complete",
        ),
        JobState::Failed(reason) => (format!("Failed: {reason}"), "failed"),
    };
    ExportLine {
        id: job.id.clone(),
        client: client_name(web, &job.owner),
        started: zone.clock_ms(job.created, now),
        what: what(web, job),
        since: job
            .request
            .since
            .map(|t| zone.clock_ms(t.timestamp_millis(), now)),
        state,
        tone,
        kept_until: exports
            .expires(job)
            .filter(|_| job.state == JobState::Complete)
            .map(|t| zone.clock_ms(t, now)),
        running: !job.finished(),
    }
}

fn render(web: &Web, user: &crate::User, notice: Option<String>) -> Result<Response, PageError> {
    let (exports, configured) = match &web.app.exports {
        Some(ex) => (
            ex.list()
                .map_err(|e| view::error_page(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()))?
                .into_iter()
                .map(|s| line(web, ex, s))
                .collect(),
            true,
        ),
        None => (Vec::new(), false),
    };
    let mut clients: Vec<ClientLine> = web
        .app
        .gate
        .smart
        .clients()
        .map(|c| ClientLine {
            name: c.name.clone(),
            id: c.client_id.clone(),
            may: c.scopes.describe(),
        })
        .collect();
    clients.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(view::render(&IntegrationsPage {
        nav: Nav::new(user, "integrations", web.config.zone),
        exports,
        clients,
        configured,
        notice,
    }))
}

/// `GET /admin/integrations`.
pub(crate) async fn page(
    State(web): State<Web>,
    auth: crate::session::AuthExt,
    Query(q): Query<Shown>,
) -> Result<Response, PageError> {
    let user = crate::session::user(&auth, access::Permission::Interfaces)?;
    let notice = q
        .done
        .and_then(|k| web.flash.take(&user.principal.id, &k))
        .map(|m| m.notice);
    blocking(move || render(&web, &user, notice)).await
}

#[derive(Debug, Deserialize)]
pub(crate) struct StopForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /admin/integrations/exports/{id}/stop`: stop an export (or remove a finished one's
/// files) whoever's it is.
pub(crate) async fn stop(
    State(web): State<Web>,
    auth: crate::session::AuthExt,
    Path(id): Path<String>,
    Form(f): Form<StopForm>,
) -> Result<Response, PageError> {
    let user = crate::session::poster(&auth, &f.csrf, access::Permission::Interfaces)?;
    blocking(move || {
        let Some(exports) = web.app.exports.clone() else {
            return Err(view::error_page(
                StatusCode::NOT_FOUND,
                "Bulk Data export is not configured on this server.",
            ));
        };
        let job = match exports.remove(&id) {
            Ok(job) => job,
            Err(bulk_export::Error::NotFound(_)) => {
                return Err(view::error_page(
                    StatusCode::NOT_FOUND,
                    "That export is no longer there: it finished and its files were removed, or someone stopped it.",
                ))
            }
            Err(e) => {
                return Err(view::error_page(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &e.to_string(),
                ))
            }
        };
        let client = client_name(&web, &job.owner);
        let notice = if job.finished() {
            format!("Removed the files of {client}'s export.")
        } else {
            format!("Stopped {client}'s export and removed what it had written.")
        };
        let key = web.flash.put(
            &user.principal.id,
            crate::flash::Message {
                notice,
                secret: None,
            },
        );
        Ok(Redirect::to(&format!("/admin/integrations?done={key}")).into_response())
    })
    .await
}
