//! The care-team web app, server-rendered with askama and live over server-sent events.
//!
//! | Page | What |
//! |---|---|
//! | `GET`/`POST /sign-in` | sign in with user name and password (lockout, rate limit, login CSRF) |
//! | `GET /sign-in/sso`, `/sign-in/sso/callback` | single sign-on with the hospital's OpenID Connect provider, when configured |
//! | `GET /account` | who you are: role, wards, what the role includes |
//! | `POST /patients/{id}/break-glass` | open a record outside one's care relationships, with a reason |
//! | `GET`/`POST /admin/users`, `POST /admin/users/{name}/{action}` | accounts: add, disable, enable, set password, issue and revoke API tokens (administrator) |
//! | `GET /privacy` | the audit trail by user, patient, date, break-the-glass (privacy officer) |
//! | `GET /board?ward=` | every bed of a ward (or all wards), most at risk first; live |
//! | `GET /board/handover?ward=` | the handover sheet: each bed's NEWS2 trend, last set, alert, problems; made to print |
//! | `GET /patients/{id}` | the chart: demographics, encounter and location history, the NEWS2 observation chart, labs, problems, alerts |
//! | `GET`/`POST /patients/{id}/vitals` | record a set of vital signs at the bedside; the score, band, response and next-due time at once |
//! | `GET`/`POST /patients/{id}/social-needs/refer` | refer to a community service: the directory's services for the need, the patient's language and home first; the patient's consent asked before anything is sent |
//! | `GET /social` | the social worker's worklist: needs awaiting a decision, follow-ups due ("was the need met?"), open referrals by status and age |
//! | `GET /social/reports` | social-needs measures per month (screening, positive, connection, loop closure, needs met), stratified, small counts withheld |
//! | `GET /partner` | a community partner's referrals: awaiting an answer, in hand, finished; the patient's contact details only |
//! | `POST /referrals/{task}` | a referral's next step: the partner's (received, accept, decline, start, pause, resume, finished, could not help) or the hospital's (cancel, follow-up) |
//! | `POST /patients/{id}/social-needs/needs/{condition}` | confirm a screened need as a problem (with a Goal) or record that it is not one, with why |
//! | `POST /patients/{id}/social-needs/kiosk` | hand the tablet to the patient: the session ends on this device and the tablet shows only the questionnaire |
//! | `GET`/`POST /kiosk/{key}` | the patient answers the social-needs questions in large type (one-time key, 30 minutes), recorded as the person who handed the tablet over |
//! | `GET`/`POST /patients/{id}/social-needs` | social-needs screening (AHC HRSN core questions) asked by staff, and the latest results, needs first; safety answers only with access to sensitive records |
//! | `GET /alerts` | open alerts of the user's wards; acknowledge, record the response, resolve |
//! | `GET`/`POST /patients/{id}/sepsis` | suspected sepsis's first hour: "could this be infection?" with the likely source; then blood cultures, lactate, antibiotics and fluids (when indicated) each with its deadline, late first, recorded as done; ruling infection out with a reason |
//! | `GET`/`POST /patients/{id}/cancer-pathway` | the consultant's view of a patient's cancer pathway (each standard's days left) and the consultant upgrade onto the 62-day suspected-cancer pathway, or why the rules do not allow it |
//! | `GET /navigation` | the navigator's worklist: patients on care pathways, breached first, days left per standard, barriers, last contact, navigator |
//! | `GET /navigation/patients/{id}`, `POST …/contact`, `…/milestone`, `…/milestone/withdraw`, `…/adjustment`, `…/navigator`, `…/tasks/{task}/done` | a patient's pathway timeline; record a contact, mark a step done (or withdraw one marked by mistake, with why), pause or restart a clock as the rules allow, assign or hand over; support arranged before an appointment |
//! | `GET /navigation/reports` | pathway standards: compliance per standard and month against the standard, the median time, one month by tumour site, race, ethnicity, language, interpreter need, sex and age band (counts under 11 not shown) |
//! | `GET /mdt`, `POST /mdt/meetings` | tumour boards: meetings ahead and past, patients waiting for a meeting, arranging one |
//! | `GET /mdt/meetings/{id}`, `POST /mdt/cases/{id}/schedule`, `…/withdraw`, `…/recommend`, `…/told` | a meeting's list: each patient's case summary from the record, the recommendation recorded as tracked steps, told to the patient |
//! | `POST /mdt/refer/{patient}` | refer a patient to a tumour board (from the pathway timeline) |
//! | `GET`/`POST /safety/report` | any member of staff reports a safety event (AHRQ Common Formats): from any page, or from a chart with the patient filled in; named or anonymous |
//! | `GET /safety/mine` | one's own reports and where their review stands; the learning the safety team shared |
//! | `GET /safety` | the safety team's queue: awaiting triage (most harm first), in review (priority, overdue actions), recently closed |
//! | `GET /safety/events/{id}`, `POST` the same | one report and its review: triage, investigation, notes, actions with owners and due dates, closure with the learning |
//!
//! Pages carry no inline script (a strict Content-Security-Policy); `assets/live.js` keeps
//! the board live and announces deteriorating patients to screen readers. Forms carry the
//! session's CSRF token. Band colours always come with the band's name in text.

mod alerts;
mod board;
mod cancer_upgrade;
mod care_gaps;
mod chart;
mod chart_devices;
mod chart_essentials;
mod flash;
mod handover;
mod integrations;
mod kiosk;
mod local;
mod mdt;
mod measure_reports;
mod navigator;
mod partner;
mod privacy;
mod quality;
mod quality_chart;
mod quality_events;
mod quality_export;
mod quality_patients;
mod refer;
mod referral_actions;
mod safety_mine;
mod safety_report;
mod safety_review;
mod safety_rows;
mod safety_steps;
mod sepsis;
mod sepsis_record;
mod session;
mod settings;
mod signin;
mod social_concerns;
mod social_needs;
mod social_worklist;
mod survey;
mod users;
mod view;
mod vitals;

use crate::view::PageError;
use std::sync::Arc;

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use server::AppState;

pub use local::Zone;
pub use session::User;

/// How the web app serves its pages.
#[derive(Debug, Clone, Default)]
pub struct WebConfig {
    /// Mark cookies `Secure` (Tend is reached over HTTPS).
    pub secure_cookies: bool,
    /// The hospital's time zone: every page shows local times in it.
    pub zone: Zone,
    /// The wall display shows patients' names, not initials (a ward whose wall screen
    /// visitors cannot read).
    pub wall_names: bool,
    /// Care pathways and the navigator's worklist, when running.
    pub navigation: Option<Arc<::navigation::Navigation>>,
    /// Tumour boards, when running.
    pub tumour_board: Option<Arc<::mdt::TumourBoard>>,
    /// Social-needs screening, when running.
    pub screening: Option<Arc<::screening::Screenings>>,
    /// Suspected sepsis's first hour, when running.
    pub sepsis: Option<Arc<::sepsis_watch::Sepsis>>,
    /// Referrals to community services, when running.
    pub referrals: Option<Arc<::referrals::Referrals>>,
    /// Safety-event reporting and review, when running.
    pub safety: Option<Arc<::safety::Safety>>,
    /// The quality measures' reports, when running.
    pub measure_reports: Option<Arc<::measure_reports::MeasureReports>>,
}

/// What the pages share.
#[derive(Clone)]
pub(crate) struct Web {
    pub(crate) app: AppState,
    pub(crate) config: WebConfig,
    /// What a form post has to tell the page it redirects to, shown once (post, redirect,
    /// get: a reload repeats nothing).
    pub(crate) flash: Arc<flash::Flash>,
    /// Tablets handed to patients to answer the social-needs questions.
    pub(crate) kiosks: Arc<kiosk::Kiosks>,
}

impl Web {
    /// The access the signed-in user acts with in the store: their care relationships, as
    /// the FHIR API would give them. Blocking.
    pub(crate) fn access(&self, user: &session::User) -> Result<store::Access, PageError> {
        self.app
            .gate
            .access(&self.app, &user.principal, None)
            .map_err(|_| {
                view::error_page(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Your care relationships could not be read. Try again in a moment.",
                )
            })
    }

    pub(crate) fn ew(&self) -> Result<Arc<early_warning::EarlyWarning>, PageError> {
        self.app.early_warning.clone().ok_or_else(|| {
            view::error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Early warning is not running on this server.",
            )
        })
    }
}

/// The pages, to merge with the API router.
pub fn router(app: AppState, config: WebConfig) -> Router {
    let web = Web {
        app,
        config,
        flash: Arc::new(flash::Flash::default()),
        kiosks: Arc::new(kiosk::Kiosks::default()),
    };
    Router::new()
        .route("/", get(home))
        .route("/account", get(account))
        .route("/privacy", get(privacy::page))
        .route("/admin/users", get(users::page).post(users::add))
        .route("/admin/users/{username}/{action}", post(users::act))
        .route("/admin/integrations", get(integrations::page))
        .route(
            "/admin/integrations/exports/{id}/stop",
            post(integrations::stop),
        )
        .route("/patients/{id}/break-glass", post(chart::break_glass))
        .route("/patients/{id}/devices", post(chart_devices::placed))
        .route(
            "/patients/{id}/devices/{use_id}/removed",
            post(chart_devices::removed),
        )
        .route("/sign-in", get(signin::page).post(signin::submit))
        .route("/sign-out", post(signin::sign_out))
        .route("/sign-in/sso", get(signin::sso))
        .route("/sign-in/sso/callback", get(signin::sso_callback))
        .route("/board", get(board::page))
        .route("/board/rows", get(board::rows))
        .route("/board/handover", get(handover::page))
        .route("/board/survey", get(survey::page).post(survey::submit))
        .route("/patients/{id}", get(chart::page))
        .route(
            "/patients/{id}/sepsis",
            get(sepsis::show).post(sepsis_record::submit),
        )
        .route(
            "/patients/{id}/cancer-pathway",
            get(cancer_upgrade::show).post(cancer_upgrade::submit),
        )
        .route(
            "/patients/{id}/vitals",
            get(vitals::form).post(vitals::submit),
        )
        .route(
            "/patients/{id}/social-needs",
            get(social_needs::page).post(social_needs::submit),
        )
        .route("/patients/{id}/social-needs/kiosk", post(kiosk::start))
        .route(
            "/patients/{id}/social-needs/refer",
            get(refer::page).post(refer::send),
        )
        .route(
            "/patients/{id}/social-needs/needs/{condition}",
            post(social_concerns::decide),
        )
        .route("/kiosk/{key}", get(kiosk::page).post(kiosk::submit))
        .route("/social", get(social_worklist::page))
        .route("/social/reports", get(measure_reports::social))
        .route("/partner", get(partner::page))
        .route("/referrals/{task}", post(referral_actions::act))
        .route("/alerts", get(alerts::page))
        .route("/care-gaps", get(care_gaps::page))
        .route("/care-gaps/{gap}/outreach", post(care_gaps::outreach))
        .route("/navigation", get(navigator::page))
        .route("/navigation/reports", get(measure_reports::page))
        .route("/navigation/patients/{id}", get(navigator::patient))
        .route(
            "/navigation/patients/{id}/contact",
            post(navigator::contact),
        )
        .route("/navigation/patients/{id}/milestone", post(navigator::step))
        .route(
            "/navigation/patients/{id}/milestone/withdraw",
            post(navigator::withdraw),
        )
        .route(
            "/navigation/patients/{id}/tasks/{task}/done",
            post(navigator::task_done),
        )
        .route(
            "/navigation/patients/{id}/adjustment",
            post(navigator::adjust),
        )
        .route(
            "/navigation/patients/{id}/navigator",
            post(navigator::assign),
        )
        .route("/mdt", get(mdt::page))
        .route("/mdt/meetings", post(mdt::new_meeting))
        .route("/mdt/meetings/{id}", get(mdt::meeting))
        .route("/mdt/cases/{id}/schedule", post(mdt::schedule))
        .route("/mdt/cases/{id}/withdraw", post(mdt::withdraw))
        .route("/mdt/cases/{id}/recommend", post(mdt::recommend))
        .route("/mdt/cases/{id}/told", post(mdt::told))
        .route("/mdt/refer/{patient}", post(mdt::refer))
        .route("/alerts/{id}/{action}", post(alerts::act))
        .route(
            "/safety/report",
            get(safety_report::form).post(safety_report::submit),
        )
        .route("/safety/mine", get(safety_mine::page))
        .route("/safety", get(safety_review::queue))
        .route(
            "/safety/events/{id}",
            get(safety_review::event).post(safety_steps::take),
        )
        .route("/quality", get(quality::overview))
        .route("/quality/measures/{id}", get(quality::measure))
        .route("/quality/measures/{id}/csv", get(quality_export::csv))
        .route("/quality/measures/{id}/fhir", get(quality_export::fhir))
        .route("/quality/measures/{id}/events", get(quality_events::page))
        .route(
            "/quality/measures/{id}/patients",
            get(quality_patients::page),
        )
        .route("/assets/{file}", get(asset))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            web.clone(),
            frame_errors,
        ))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(web)
}

/// An address with no page.
async fn not_found() -> PageError {
    view::error_page(
        StatusCode::NOT_FOUND,
        "There is no page at this address. It may have been mistyped, or the link is out of date.",
    )
}

/// Every failure as a page in the app's frame, with the signed-in user's navigation: the
/// pages' own refusals, and the framework's rejections (an address whose query cannot be
/// read, a method a page does not take), which would otherwise show raw parser messages.
async fn frame_errors(
    axum::extract::State(web): axum::extract::State<Web>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let auth: session::AuthExt = req
        .extensions()
        .get::<server::Auth>()
        .cloned()
        .map(axum::Extension);
    let resp = next.run(req).await;
    let status = resp.status();
    let message = match resp.extensions().get::<view::Failure>() {
        Some(f) => f.0.clone(),
        None if status.is_client_error() && plain_text(&resp) => match status {
            StatusCode::NOT_FOUND => "There is no page at this address.".into(),
            StatusCode::METHOD_NOT_ALLOWED => {
                "This address cannot be used that way. Go back and use the page's buttons.".into()
            }
            StatusCode::PAYLOAD_TOO_LARGE => "What was sent is too large.".into(),
            _ => "Part of this address or form could not be read. Go back and try again from the page.".into(),
        },
        None => return resp,
    };
    view::failure_page(
        status,
        &message,
        session::anyone(&auth).ok(),
        web.config.zone,
    )
}

/// Whether a response is the framework's plain-text rejection (pages answer in HTML).
fn plain_text(resp: &Response) -> bool {
    resp.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.starts_with("text/plain"))
}

/// The first page of the signed-in user's role.
async fn home(auth: session::AuthExt) -> Response {
    let Ok(u) = session::anyone(&auth) else {
        return Redirect::to("/sign-in").into_response();
    };
    let to = if u.board() {
        "/board"
    } else if u.may(access::Permission::ReferralsReceived) {
        "/partner"
    } else if u.principal.role == access::Role::SocialWorker {
        "/social"
    } else if u.principal.role == access::Role::Navigator {
        "/navigation"
    } else if u.tumour_board() {
        "/mdt"
    } else if u.outreach() {
        "/care-gaps"
    } else if u.may(access::Permission::SafetyEvents) {
        "/safety"
    } else if u.audit() {
        "/privacy"
    } else if u.admin() {
        "/admin/users"
    } else if u.may(access::Permission::Interfaces) {
        "/admin/integrations"
    } else if u.measures() {
        // The quality office: its measures, the riskiest first.
        "/quality"
    } else {
        "/account"
    };
    Redirect::to(to).into_response()
}

#[derive(askama::Template)]
#[template(path = "account.html")]
struct AccountPage {
    nav: view::Nav,
    user: User,
    username: String,
    wards: Vec<String>,
    permissions: Vec<String>,
}

/// Who is signed in, and what their role includes.
async fn account(
    axum::extract::State(web): axum::extract::State<Web>,
    auth: session::AuthExt,
) -> Result<Response, PageError> {
    let u = session::anyone(&auth)?;
    let permissions = access::Permission::ALL
        .into_iter()
        .filter(|p| u.may(*p))
        .map(|p| p.describe().to_string())
        .collect();
    Ok(view::render(&AccountPage {
        nav: view::Nav::new(&u, "account", web.config.zone),
        username: u.principal.id.clone(),
        wards: u
            .wards
            .iter()
            .map(|w| w.trim_start_matches("Location/").to_string())
            .collect(),
        permissions,
        user: u,
    }))
}

/// Headers every page carries: no inline script or style, no framing, no sniffing.
async fn security_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    resp
}

const CSS: &str = include_str!("../assets/app.css");
const JS: &str = include_str!("../assets/live.js");

async fn asset(Path(file): Path<String>) -> Response {
    let (body, kind) = match file.as_str() {
        "app.css" => (CSS, "text/css; charset=utf-8"),
        "live.js" => (JS, "text/javascript; charset=utf-8"),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        body,
    )
        .into_response()
}

/// Run blocking store work off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, PageError> + Send + 'static,
) -> Result<T, PageError> {
    tokio::task::spawn_blocking(f).await.map_err(|_| {
        view::error_page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The page could not be made.",
        )
    })?
}

#[cfg(test)]
mod tests {
    /// WCAG 2.1 relative luminance of `#rrggbb`.
    fn luminance(hex: &str) -> f64 {
        let h = hex.trim_start_matches('#');
        let channel = |i: usize| {
            let c = f64::from(u8::from_str_radix(&h[i..i + 2], 16).unwrap()) / 255.0;
            if c <= 0.03928 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * channel(0) + 0.7152 * channel(2) + 0.0722 * channel(4)
    }

    fn contrast(a: &str, b: &str) -> f64 {
        let (x, y) = (luminance(a), luminance(b));
        (x.max(y) + 0.05) / (x.min(y) + 0.05)
    }

    /// The stylesheet's colour variables.
    fn var(name: &str) -> String {
        let decl = format!("--{name}:");
        let at = super::CSS
            .find(&decl)
            .unwrap_or_else(|| panic!("--{name} missing"));
        super::CSS[at + decl.len()..]
            .trim_start()
            .chars()
            .take(7)
            .collect()
    }

    #[test]
    fn text_colours_meet_wcag_aa_contrast() {
        let pairs = [
            ("high", "high-ink"),
            ("medium", "medium-ink"),
            ("lowmed", "lowmed-ink"),
            ("low", "low-ink"),
            ("zero", "zero-ink"),
            ("p1", "ink"),
            ("p2", "ink"),
            ("p3", "ink"),
            ("bg", "ink"),
            ("bg", "muted"),
            ("card", "muted"),
            ("card", "accent"),
            ("card", "high"),
            ("accent", "accent-ink"),
        ];
        for (bg, fg) in pairs {
            let c = contrast(&var(bg), &var(fg));
            assert!(c >= 4.5, "--{fg} on --{bg}: contrast {c:.2} is below 4.5:1");
        }
    }
}
