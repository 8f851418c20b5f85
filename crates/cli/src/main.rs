//! `tend`: the one binary. Reads flags, environment and config once, builds typed
//! configuration, and starts the parts: `serve`, `demo`, `import`, `export`, `bench`.

mod audit;
mod bench;
mod bench_care_gaps;
mod bench_mllp;
mod bench_vitals;
mod config;
mod demo;
mod hl7;
mod ndjson;
mod users;

use std::sync::Arc;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use anyhow::Context;
use clap::{Parser, Subcommand};

use config::{DatabaseArgs, ServeArgs};

#[derive(Parser)]
#[command(
    name = "tend",
    version,
    about = "Tend: the patient-care platform (FHIR R4 record, early warning, pathways, quality)"
)]
struct Cli {
    /// A file of `TEND_NAME=value` settings (flags and environment take precedence).
    #[arg(long, global = true, env = "TEND_CONFIG")]
    config: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the FHIR API (and, once configured, the other listeners).
    Serve(ServeArgs),
    /// Create the synthetic demo hospital on a fresh SQLite file, serve it, and keep
    /// streaming new vital signs.
    Demo(demo::DemoArgs),
    /// Load resources from NDJSON files or Bundles (a file or a directory).
    Import(ndjson::ImportArgs),
    /// Write the current resources as NDJSON, one file per resource type.
    Export(ndjson::ExportArgs),
    /// Measure the store: bulk ingest, small transactions, reads and searches.
    Bench(bench::BenchArgs),
    /// HL7 v2 tools.
    #[command(subcommand)]
    Hl7(hl7::Hl7Command),
    /// The audit trail.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Accounts and API tokens.
    #[command(subcommand)]
    Users(users::UsersCommand),
}

fn main() -> anyhow::Result<()> {
    config::load_config_file()?;
    let cli = Cli::parse();
    init_logging();
    match cli.command {
        Command::Serve(args) => runtime()?.block_on(serve(args)),
        Command::Demo(args) => runtime()?.block_on(demo::run(args)),
        Command::Import(args) => ndjson::import(args),
        Command::Export(args) => ndjson::export(args),
        Command::Bench(args) => bench::run(args),
        Command::Hl7(cmd) => hl7::run(cmd),
        Command::Audit(cmd) => audit::run(cmd),
        Command::Users(cmd) => users::run(cmd),
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Logs carry no patient data: request paths and ids only at debug level, never bodies.
fn init_logging() {
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("TEND_LOG").unwrap_or_else(|_| "info".into());
    let json = std::env::var("TEND_LOG_FORMAT").is_ok_and(|v| v == "json");
    // Colours only on a terminal: log files and collectors get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Open the store named by the database arguments.
pub(crate) fn open_store(db: &DatabaseArgs) -> anyhow::Result<Arc<dyn store::Store>> {
    let indexer = Arc::new(
        search::Indexer::new(search::Registry::r4()).context("compiling the search parameters")?,
    );
    let options = store::Options {
        clock: Arc::new(store::SystemClock),
        indexer,
        readers: 8,
    };
    store::open(&db.database, options)
        .with_context(|| format!("opening the database {}", redact(&db.database)))
}

/// A database URL without its password, for messages.
pub(crate) fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &url[..s + 3], user, &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let store = open_store(&args.db)?;
    let mut gate = gate(&store, args.smart_clients.as_deref())?;
    if let Some(issuer) = &args.oidc.issuer {
        let base = args
            .prevention
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", args.listen));
        let config = accounts::oidc::OidcConfig {
            issuer: issuer.clone(),
            client_id: args.oidc.client_id.clone(),
            client_secret: args.oidc.client_secret.clone().unwrap_or_default(),
            redirect_uri: format!("{}/sign-in/sso/callback", base.trim_end_matches('/')),
            username_claim: args.oidc.username_claim.clone(),
            label: args.oidc.label.clone(),
        };
        let provider = accounts::oidc::Provider::discover(config)
            .await
            .map_err(|e| anyhow::anyhow!(e))?;
        println!("Single sign-on: {issuer}");
        gate = gate.with_oidc(Arc::new(provider));
    }
    let state = with_early_warning(store.clone(), Arc::new(gate), &args.early_warning)?;
    let state = with_care_gaps(state, &args.prevention)?;
    let state = with_exports(state, &args.bulk, &args.db.database)?;
    if state.gate.accounts.is_empty().unwrap_or(false) {
        println!(
            "No accounts yet: add the first administrator with\n  tend users add NAME --role administrator --name \"Full Name\" --database {}",
            redact(&args.db.database)
        );
    }
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let (state, mllp) = hl7::start(state, &args.hl7, stopped).await?;
    let cds = args.prevention.cds(false)?;
    let secure_cookies = cds
        .public_url
        .as_deref()
        .is_some_and(|u| u.starts_with("https://"));
    let mut web = args.site.web(secure_cookies);
    web.navigation = Some(navigation_service(&state, web.zone));
    web.tumour_board = Some(tumour_board_service(&state));
    web.screening = Some(screening_service(&state));
    web.sepsis = Some(sepsis_service(&state, web.zone));
    web.referrals = Some(referrals_service(&state, args.site.referrals(web.zone)));
    web.safety = Some(safety_service(&state));
    web.measure_reports = Some(measure_reports_service(
        &state,
        web.zone,
        args.site.measure_settings()?,
    )?);
    serve_app(state, &args.listen, web, cds).await?;
    let _ = stop.send(true);
    if let Some(task) = mllp {
        let _ = task.await;
    }
    Ok(())
}

/// The gate: accounts in the store and SMART backend-services clients (from the
/// `TEND_SMART_CLIENTS` file when given).
pub(crate) fn gate(
    store: &Arc<dyn store::Store>,
    smart_clients: Option<&std::path::Path>,
) -> anyhow::Result<server::Gate> {
    let smart = match smart_clients {
        Some(path) => accounts::smart::Smart::load(path).map_err(|e| anyhow::anyhow!(e))?,
        None => accounts::smart::Smart::none(),
    };
    let accounts = accounts::Accounts::new(store.clone(), Arc::new(store::SystemClock));
    Ok(server::Gate::new(Arc::new(accounts), Arc::new(smart)))
}

/// The application state with the early-warning service and its live events started.
pub(crate) fn with_early_warning(
    store: Arc<dyn store::Store>,
    gate: Arc<server::Gate>,
    args: &config::EarlyWarningArgs,
) -> anyhow::Result<server::AppState> {
    let ew = early_warning::EarlyWarning::new(
        store.clone(),
        args.config()?,
        Arc::new(store::SystemClock),
    );
    ew.start();
    let hub = early_warning::Hub::start(ew.clone());
    let mut state = server::AppState::new(store, gate).with_early_warning(ew, hub);
    if let Some(handle) = server::install_metrics() {
        state = state.with_metrics(handle);
    }
    Ok(state)
}

/// The application state with Bulk Data export, its files under the configured directory.
pub(crate) fn with_exports(
    state: server::AppState,
    args: &config::BulkArgs,
    database: &str,
) -> anyhow::Result<server::AppState> {
    let dir = args.dir(database);
    let exports = bulk_export::Exports::open(
        state.store.clone(),
        &dir,
        bulk_export::Config {
            keep_hours: args.keep_hours,
            ..Default::default()
        },
        Arc::new(store::SystemClock),
    )
    .with_context(|| format!("opening the export directory {}", dir.display()))?;
    Ok(state.with_exports(exports))
}

/// The application state with the care-gap service started (a population run, then
/// incremental re-evaluation from the change log).
pub(crate) fn with_care_gaps(
    state: server::AppState,
    args: &config::PreventionArgs,
) -> anyhow::Result<server::AppState> {
    let gaps = care_gaps_service(&state, args)?;
    gaps.start();
    Ok(state.with_care_gaps(gaps))
}

/// The care-gap service over the state's store, not yet started.
pub(crate) fn care_gaps_service(
    state: &server::AppState,
    args: &config::PreventionArgs,
) -> anyhow::Result<Arc<care_gaps::CareGaps>> {
    Ok(care_gaps::CareGaps::new(
        state.store.clone(),
        Arc::new(args.rules()?),
        Arc::new(store::SystemClock),
    ))
}

/// Care pathways and the navigator's worklist, following the record (started).
pub(crate) fn navigation_service(
    state: &server::AppState,
    zone: web::Zone,
) -> Arc<navigation::Navigation> {
    let nav = navigation::Navigation::new(
        state.store.clone(),
        navigation::Config {
            zone: zone.tz(),
            ..Default::default()
        },
        Arc::new(store::SystemClock),
    );
    nav.start();
    nav
}

/// Suspected sepsis's first hour, following the record (started).
pub(crate) fn sepsis_service(
    state: &server::AppState,
    zone: web::Zone,
) -> Arc<sepsis_watch::Sepsis> {
    let s = sepsis_watch::Sepsis::new(state.store.clone(), zone.tz(), Arc::new(store::SystemClock));
    s.start();
    s
}

/// Tumour boards, following the record (started).
pub(crate) fn tumour_board_service(state: &server::AppState) -> Arc<mdt::TumourBoard> {
    let tb = mdt::TumourBoard::new(state.store.clone(), Arc::new(store::SystemClock));
    tb.start();
    tb
}

/// Social-needs screening, following the record (started).
pub(crate) fn screening_service(state: &server::AppState) -> Arc<screening::Screenings> {
    let s = screening::Screenings::new(state.store.clone());
    s.start();
    s
}

/// Referrals to community services, following the record (started).
pub(crate) fn referrals_service(
    state: &server::AppState,
    config: referrals::Config,
) -> Arc<referrals::Referrals> {
    let r = referrals::Referrals::new(state.store.clone(), config, Arc::new(store::SystemClock));
    r.start();
    r
}

/// Safety-event reporting, with its consumer sharing the learning of closed reviews
/// (started).
pub(crate) fn safety_service(state: &server::AppState) -> Arc<safety::Safety> {
    let s = safety::Safety::new(state.store.clone(), Arc::new(store::SystemClock));
    s.start();
    s
}

/// The quality measures, kept up to date from the record (started).
pub(crate) fn measure_reports_service(
    state: &server::AppState,
    zone: web::Zone,
    settings: measures::Settings,
) -> anyhow::Result<Arc<measure_reports::MeasureReports>> {
    let m = measure_reports::MeasureReports::new(
        state.store.clone(),
        Arc::new(store::SystemClock),
        measure_reports::Config {
            zone: zone.name().to_string(),
            settings,
            ..Default::default()
        },
    )?;
    m.start();
    Ok(m)
}

/// Bind, print the URLs, and serve the API, CDS Hooks and the web app until Ctrl-C / SIGTERM.
pub(crate) async fn serve_app(
    state: server::AppState,
    listen: &str,
    web: web::WebConfig,
    cds: cds_hooks::Config,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "Tend is serving");
    println!("Tend FHIR API: http://{addr}/fhir (metadata: http://{addr}/fhir/metadata)");
    println!("Tend web app: http://{addr}/");
    let hsts = cds
        .public_url
        .as_deref()
        .is_some_and(|u| u.starts_with("https://"));
    let mut app = server::app(state.clone()).merge(web::router(state.clone(), web));
    if let Some(gaps) = state.care_gaps.clone() {
        println!("Tend CDS Hooks: http://{addr}/cds-services");
        app = app.merge(cds_hooks::router(cds_hooks::Cds::new(
            gaps,
            state.store.clone(),
            cds,
        )));
    }
    let app = server::compose(app, &state, hsts);
    server::serve(listener, app, shutdown_signal()).await?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down: finishing requests in flight");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact("postgres://tend:secret@db:5432/tend"),
            "postgres://tend:***@db:5432/tend"
        );
        assert_eq!(redact("sqlite://tend.db"), "sqlite://tend.db");
    }
}
