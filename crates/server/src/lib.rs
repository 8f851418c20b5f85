//! Tend's FHIR R4 RESTful API over HTTP (<https://hl7.org/fhir/R4/http.html>), JSON only,
//! mounted at `/fhir`. Handlers are thin: they parse the request, call the store on a
//! blocking thread, and shape the response; every error goes through [`ApiError`]'s one
//! table to an HTTP status and an OperationOutcome.

mod api;
mod audit;
mod caller;
mod error;
pub mod gate;
mod interaction;
mod operations;
mod reach;
mod response;
mod smart;

use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;
use search::Registry;
use store::Store;

pub use audit::audited;
pub use error::ApiError;
pub use gate::{guarded, Auth, Gate, Seen};
pub use operations::install_metrics;

/// The media type of every response body.
pub const FHIR_JSON: &str = "application/fhir+json; charset=utf-8";

/// Where server-assigned ids come from (random UUIDs in production; tests may count).
pub trait IdSource: Send + Sync {
    fn next_id(&self) -> String;
}

/// Random (v4) UUIDs.
#[derive(Debug, Default)]
pub struct UuidIds;

impl IdSource for UuidIds {
    fn next_id(&self) -> String {
        uuid::Uuid::new_v4().to_string()
    }
}

/// Everything a handler needs.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub registry: &'static Registry,
    pub ids: Arc<dyn IdSource>,
    /// Public base URL of the FHIR API (e.g. `http://127.0.0.1:8080/fhir`); when None,
    /// it is taken from each request's Host header.
    pub base_url: Option<String>,
    /// The early-warning service, when running (the `/api` alerts and wards).
    pub early_warning: Option<Arc<early_warning::EarlyWarning>>,
    /// Live events, when running (`/api/events`).
    pub hub: Option<Arc<early_warning::Hub>>,
    /// The HL7 v2 feed, when listening (`/api/hl7/messages`: the log and replay).
    pub feed: Option<Arc<interface::Feed>>,
    /// Counters rendered at `/metrics`, when recorded.
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    /// The care-gap service, when running (the worklist page, CDS Hooks).
    pub care_gaps: Option<Arc<care_gaps::CareGaps>>,
    /// Bulk Data export jobs, when configured (`$export`).
    pub exports: Option<Arc<bulk_export::Exports>>,
    /// Accounts, services and care relationships: who every request is, and what they reach.
    /// There is no state without it, so no request is ever served as nobody.
    pub gate: Arc<gate::Gate>,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, gate: Arc<gate::Gate>) -> AppState {
        AppState {
            store,
            registry: Registry::r4(),
            ids: Arc::new(UuidIds),
            base_url: None,
            early_warning: None,
            hub: None,
            feed: None,
            metrics: None,
            care_gaps: None,
            exports: None,
            gate,
        }
    }

    /// With the early-warning service and its live events.
    pub fn with_early_warning(
        mut self,
        ew: Arc<early_warning::EarlyWarning>,
        hub: Arc<early_warning::Hub>,
    ) -> AppState {
        self.early_warning = Some(ew);
        self.hub = Some(hub);
        self
    }

    /// With the HL7 v2 feed whose message log `/api/hl7/messages` shows.
    pub fn with_feed(mut self, feed: Arc<interface::Feed>) -> AppState {
        self.feed = Some(feed);
        self
    }

    /// With the care-gap service (population runs, worklist).
    pub fn with_care_gaps(mut self, gaps: Arc<care_gaps::CareGaps>) -> AppState {
        self.care_gaps = Some(gaps);
        self
    }

    /// With Bulk Data export (`$export`).
    pub fn with_exports(mut self, exports: Arc<bulk_export::Exports>) -> AppState {
        self.exports = Some(exports);
        self
    }

    /// With the process's counters at `/metrics` (see [`install_metrics`]).
    pub fn with_metrics(
        mut self,
        handle: metrics_exporter_prometheus::PrometheusHandle,
    ) -> AppState {
        self.metrics = Some(handle);
        self
    }
}

/// The whole HTTP application: the FHIR API and the early-warning JSON API, with
/// request limits.
pub fn app(state: AppState) -> Router {
    router(state.clone())
        .merge(api::router(state.clone()))
        .merge(smart::router(state.clone()))
        .merge(operations::router(state))
        .layer(axum::middleware::map_response(too_large))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(MAX_BODY))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
}

/// A body over [`MAX_BODY`] is refused with 413 and an OperationOutcome saying so (the
/// limit layers answer in plain text).
async fn too_large(resp: axum::response::Response) -> axum::response::Response {
    use axum::response::IntoResponse;
    if resp.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::TooLarge(format!(
            "the request body is larger than {} MiB, the most Tend accepts",
            MAX_BODY / (1024 * 1024)
        ))
        .into_response();
    }
    resp
}

/// Serve an application (e.g. [`app`] merged with the web pages) on a bound listener until
/// `shutdown` completes; requests in flight are finished first.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = app.layer(axum::middleware::from_fn(log_request));
    // The peer address reaches handlers (and the audit records) as `ConnectInfo`.
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// The layers every served application has, in their one order, for `tend serve`, `tend
/// demo` and the tests alike: outermost the hardening (security headers, time limit), then
/// the audit record (it sees the gate's decision), then the gate (who is asking).
pub fn compose(app: Router, state: &AppState, hsts: bool) -> Router {
    let app = gate::guarded(app, state.clone());
    harden(audit::audited(app, state.store.clone()), hsts)
}

/// Security headers on every response that does not set its own: no MIME sniffing, no
/// framing, no referrer, nothing stored by caches (responses carry patient data), a CSP that
/// allows nothing for API responses (pages set their own); and HSTS when Tend is reached over
/// HTTPS (`hsts`: its public URL is `https://`, TLS ending at a reverse proxy).
pub fn harden(app: Router, hsts: bool) -> Router {
    app.layer(axum::middleware::from_fn(limit_time))
        .layer(axum::middleware::from_fn(
            move |req: axum::extract::Request, next: axum::middleware::Next| async move {
                use axum::http::{header, HeaderValue};
                let mut resp = next.run(req).await;
                let h = resp.headers_mut();
                let defaults = [
                    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                    (header::X_FRAME_OPTIONS, "DENY"),
                    (header::REFERRER_POLICY, "no-referrer"),
                    (header::CACHE_CONTROL, "no-store"),
                    (
                        header::CONTENT_SECURITY_POLICY,
                        "default-src 'none'; frame-ancestors 'none'",
                    ),
                ];
                for (name, value) in defaults {
                    if !h.contains_key(&name) {
                        h.insert(name, HeaderValue::from_static(value));
                    }
                }
                if hsts {
                    h.insert(
                        header::STRICT_TRANSPORT_SECURITY,
                        HeaderValue::from_static("max-age=31536000; includeSubDomains"),
                    );
                }
                resp
            },
        ))
}

/// Longest a request may take (live event streams excepted).
pub const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// Answer 503 when a request takes longer than [`REQUEST_TIMEOUT`] (a write already handed
/// to the store still completes, as with any client that gives up).
async fn limit_time(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if req.uri().path() == "/api/events" {
        return next.run(req).await;
    }
    match tokio::time::timeout(REQUEST_TIMEOUT, next.run(req)).await {
        Ok(r) => r,
        Err(_) => ApiError::Unavailable.into_response(),
    }
}

/// One debug line per request: method, path, status and time. Never the query string (a
/// search names patients, identifiers, dates), never headers or bodies: ids and outcomes only.
async fn log_request(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let started = std::time::Instant::now();
    let resp = next.run(req).await;
    tracing::debug!(%method, %path, status = resp.status().as_u16(), ms = started.elapsed().as_millis() as u64, "request");
    resp
}

/// Largest request body accepted (a large transaction Bundle).
pub const MAX_BODY: usize = 64 * 1024 * 1024;

/// The `/fhir` routes.
pub fn router(state: AppState) -> Router {
    use interaction::*;
    let fhir = Router::new()
        .route(
            "/",
            get(system_search::search).post(batch::batch_or_transaction),
        )
        .route("/metadata", get(capabilities::metadata))
        .route("/$export", get(bulk::system).post(bulk::system_post))
        .route(
            "/Patient/$export",
            get(bulk::patients).post(bulk::patients_post),
        )
        .route(
            "/Group/{id}/$export",
            get(bulk::group).post(bulk::group_post),
        )
        .route(
            "/$export-status/{job}",
            get(bulk::status).delete(bulk::cancel),
        )
        .route("/$export-file/{job}/{file}", get(bulk::file))
        .route("/_history", get(history::system))
        .route(
            "/{rtype}",
            get(search::search_get)
                .post(write::create)
                .put(write::conditional_update)
                .delete(write::conditional_delete),
        )
        .route("/{rtype}/_search", post(search::search_post))
        .route("/{rtype}/_history", get(history::of_type))
        .route(
            "/{rtype}/{id}",
            get(read::read)
                .put(write::update)
                .delete(write::delete)
                .patch(write::patch),
        )
        .route("/{rtype}/{id}/{operation}", get(instance_operation))
        .route("/{rtype}/{id}/_history/{vid}", get(read::vread))
        .fallback(fallback)
        .with_state(state);
    Router::new().nest("/fhir", fhir)
}

/// `[type]/[id]/_history`, `Patient/[id]/$everything` and compartment search
/// (`Patient/[id]/[type]`) share one route shape.
async fn instance_operation(
    state: axum::extract::State<AppState>,
    caller::Caller(access): caller::Caller,
    path: axum::extract::Path<(String, String, String)>,
    headers: axum::http::HeaderMap,
    query: axum::extract::RawQuery,
) -> Result<axum::response::Response, ApiError> {
    match path.0 .2.as_str() {
        "_history" => interaction::history::instance(state, access, path, headers, query).await,
        "$everything" if path.0 .0 == "Patient" => {
            interaction::everything::everything(state, access, path, headers, query).await
        }
        t if !t.starts_with(['$', '_']) => {
            interaction::search::compartment(state, access, path, headers, query).await
        }
        other => Err(ApiError::NotFound(format!(
            "no operation '{other}' on {}",
            path.0 .0
        ))),
    }
}

async fn fallback() -> ApiError {
    ApiError::NotFound("no FHIR interaction at this URL".into())
}
