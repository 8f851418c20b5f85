//! `tend demo`: a fresh SQLite file with the synthetic hospital, served, with new vital
//! signs streaming in as the hours pass.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use store::{Entry, Mode, Store};

use crate::config::DatabaseArgs;

#[derive(Args, Debug, Clone)]
pub(crate) struct DemoArgs {
    /// Address and port of the HTTP API.
    #[arg(long, env = "TEND_LISTEN", default_value = "127.0.0.1:8080")]
    listen: String,
    /// The demo's own SQLite file; it is recreated at every start.
    #[arg(long, env = "TEND_DEMO_DATABASE", default_value = "tend-demo.db")]
    file: String,
    /// Seed of the synthetic hospital (same seed, same hospital).
    #[arg(long, env = "TEND_DEMO_SEED", default_value_t = 42)]
    seed: u64,
    /// Seconds between checks for newly due vital signs.
    #[arg(long, env = "TEND_DEMO_TICK", default_value_t = 10)]
    tick: u64,
    #[command(flatten)]
    early_warning: crate::config::EarlyWarningArgs,
    #[command(flatten)]
    hl7: crate::config::Hl7Args,
    #[command(flatten)]
    prevention: crate::config::PreventionArgs,
    /// SMART backend-services clients (see `tend serve --smart-clients`).
    #[arg(
        long = "smart-clients",
        env = "TEND_SMART_CLIENTS",
        value_name = "FILE"
    )]
    smart_clients: Option<std::path::PathBuf>,
    #[command(flatten)]
    site: crate::config::SiteArgs,
    #[command(flatten)]
    bulk: crate::config::BulkArgs,
}

pub(crate) async fn run(args: DemoArgs) -> anyhow::Result<()> {
    for suffix in ["", "-wal", "-shm"] {
        let p = format!("{}{suffix}", args.file);
        if std::path::Path::new(&p).exists() {
            std::fs::remove_file(&p).with_context(|| format!("removing the old demo file {p}"))?;
        }
    }
    let db = DatabaseArgs {
        database: format!("sqlite://{}", args.file),
    };
    // The old demo's export files went with its database.
    let exports_dir = args.bulk.dir(&db.database);
    if exports_dir.exists() {
        std::fs::remove_dir_all(&exports_dir)
            .with_context(|| format!("removing the old demo exports {}", exports_dir.display()))?;
    }
    let store = crate::open_store(&db)?;
    let now = chrono::Utc::now();
    let cfg = synth::Config {
        seed: args.seed,
        now,
        ..Default::default()
    };
    let started = std::time::Instant::now();
    println!("Building the synthetic hospital (seed {})…", args.seed);
    let hospital = synth::generate(&cfg);
    println!(
        "  {} resources generated in {:.1} s; loading them…",
        hospital.resources.len(),
        started.elapsed().as_secs_f64()
    );
    let total = hospital.resources.len();
    let s2 = store.clone();
    let resources = hospital.resources.clone();
    let failed = tokio::task::spawn_blocking(move || load(&*s2, resources)).await??;
    println!(
        "Demo hospital: {total} resources loaded in {:.1} s ({failed} rejected)",
        started.elapsed().as_secs_f64()
    );
    for (t, n) in synth::summary(&hospital) {
        println!("  {t:<22} {n}");
    }
    // Scoring the history runs on while the app starts serving: the board fills in as the
    // sets are scored, and the summary is printed when it is done.
    println!("Scoring every vital-sign set (in the background; the app opens meanwhile)…");
    let gate = Arc::new(crate::gate(&store, args.smart_clients.as_deref())?);
    let state = crate::with_early_warning(store.clone(), gate, &args.early_warning)?;
    if let Some(ew) = state.early_warning.clone() {
        let started = std::time::Instant::now();
        let target = store.commits().latest();
        tokio::task::spawn_blocking(move || {
            ew.wait_processed(target, Duration::from_secs(600));
            match ew.alerts(None, None, false) {
                Ok(open) => println!(
                    "Early warning: every set scored in {:.1} s; {} open alerts ({} high, {} medium, {} low-medium)",
                    started.elapsed().as_secs_f64(),
                    open.len(),
                    open.iter().filter(|a| a.band == "high").count(),
                    open.iter().filter(|a| a.band == "medium").count(),
                    open.iter().filter(|a| a.band == "low-medium").count(),
                ),
                Err(e) => tracing::warn!(error = %e, "the demo's alerts could not be counted"),
            }
        });
    }
    println!("Finding preventive-care gaps…");
    let gaps = crate::care_gaps_service(&state, &args.prevention)?;
    let g = gaps.clone();
    let run = tokio::task::spawn_blocking(move || g.run_population()).await??;
    println!(
        "Care gaps: {} patients × {} USPSTF rules in {:.1} s; {} open gaps",
        run.patients,
        run.by_rule.len(),
        run.millis as f64 / 1000.0,
        run.open
    );
    for (rule, c) in &run.by_rule {
        println!(
            "  {rule:<27} {:>5} eligible, {:>5} screened, {:>5} due, {:>4} excluded",
            c.initial,
            c.numerator,
            c.denominator - c.numerator,
            c.excluded
        );
    }
    gaps.start();
    let state = state.with_care_gaps(gaps);
    let state = crate::with_exports(state, &args.bulk, &db.database)?;
    let gate = state.gate.clone();
    let resources = hospital.resources.clone();
    let (password, token, nurse_token) =
        tokio::task::spawn_blocking(move || demo_accounts(&gate.accounts, &resources)).await??;
    let stream = hospital.vitals_stream();
    tokio::spawn(stream_vitals(store.clone(), stream, args.tick));
    let (_stop, stopped) = tokio::sync::watch::channel(false);
    let (state, _listener) = crate::hl7::start(state, &args.hl7, stopped).await?;
    println!(
        "Open http://{0}/ in a browser and sign in with one of the accounts above (password: {password}).\nThe administrator's API token: {token}\nThe Ward 3 East charge nurse's API token: {nurse_token}\nTry: curl -H 'Authorization: Bearer {token}' 'http://{0}/fhir/Location?_count=5'\n     curl -H 'Authorization: Bearer {nurse_token}' 'http://{0}/fhir/Observation?category=vital-signs&_count=5'\n     curl -H 'Authorization: Bearer {nurse_token}' 'http://{0}/api/alerts'\n     curl 'http://{0}/cds-services'\n     curl -X POST 'http://{0}/cds-services/tend-patient-view' -H 'Content-Type: application/json' -d '{{\"hook\":\"patient-view\",\"hookInstance\":\"d1577c69-dfbe-44ad-ba6d-3e05e953b2ea\",\"context\":{{\"userId\":\"Practitioner/demo\",\"patientId\":\"pat-000200\"}}}}'",
        args.listen
    );
    let mut web = args.site.web(false);
    let nav = crate::navigation_service(&state, web.zone);
    web.navigation = Some(nav.clone());
    web.tumour_board = Some(crate::tumour_board_service(&state));
    web.screening = Some(crate::screening_service(&state));
    web.sepsis = Some(crate::sepsis_service(&state, web.zone));
    let mut referral_config = args.site.referrals(web.zone);
    if args.site.hospital == "hospital" {
        // The demo hospital's own Organization sends its referrals.
        referral_config.hospital = synth::HOSPITAL_ORGANIZATION.to_string();
    }
    web.referrals = Some(crate::referrals_service(&state, referral_config));
    web.safety = Some(crate::safety_service(&state));
    let quality = crate::measure_reports_service(&state, web.zone, args.site.measure_settings()?)?;
    web.measure_reports = Some(quality.clone());
    tokio::task::spawn_blocking(move || {
        let started = std::time::Instant::now();
        // The first run follows the demo's load: wait for it, up to ten minutes.
        while quality.last_run().is_none() && started.elapsed() < Duration::from_secs(600) {
            std::thread::sleep(Duration::from_millis(250));
        }
        if let Some(r) = quality.last_run() {
            println!(
                "Quality measures: {} reports from {} resources in {:.1} s",
                r.reports, r.resources, r.seconds
            );
        }
    });
    tokio::task::spawn_blocking(move || {
        let started = std::time::Instant::now();
        nav.wait_processed(target_seq(&nav), Duration::from_secs(600));
        if let Some(r) = nav.last_run() {
            println!(
                "Pathways: {} patients on care pathways ({} active) evaluated in {:.1} s",
                r.patients,
                r.active,
                started.elapsed().as_secs_f64()
            );
        }
    });
    crate::serve_app(state, &args.listen, web, args.prevention.cds(true)?).await
}

/// The change-log position the pathways must reach before the demo's are all evaluated.
fn target_seq(nav: &navigation::Navigation) -> i64 {
    nav.store().commits().latest()
}

/// One account per role (people linked to the demo hospital's staff where it has them), all
/// with one generated password, and API tokens for the administrator and the charge nurse.
/// Printed.
fn demo_accounts(
    accounts: &accounts::Accounts,
    resources: &[serde_json::Value],
) -> anyhow::Result<(String, String, String)> {
    use access::Role;
    let password = crate::users::generated_password();
    // The practitioner of the first PractitionerRole titled `title` (at `ward`, if given).
    let staff = |title: &str, ward: Option<&str>| -> Option<String> {
        resources
            .iter()
            .filter(|r| r["resourceType"] == "PractitionerRole")
            .find(|r| {
                r["code"][0]["text"]
                    .as_str()
                    .is_some_and(|t| t.starts_with(title))
                    && ward.is_none_or(|w| {
                        r["location"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .any(|l| l["reference"] == w)
                    })
            })
            .and_then(|r| r["practitioner"]["reference"].as_str().map(str::to_string))
    };
    let ward = "Location/ward-3east";
    // (user name, full name, role, Practitioner, wards)
    type Person<'a> = (&'a str, &'a str, Role, Option<String>, Vec<String>);
    let people: Vec<Person> = vec![
        (
            "admin",
            "Demo Administrator",
            Role::Administrator,
            None,
            vec![],
        ),
        (
            "nurse",
            "Charge nurse, Ward 3 East",
            Role::Nurse,
            staff("Charge nurse", Some(ward)),
            vec![ward.into()],
        ),
        (
            "physician",
            "Attending physician, Ward 3 East",
            Role::Physician,
            staff("Attending", Some(ward)),
            vec![ward.into()],
        ),
        (
            "rapid",
            "Rapid response nurse",
            Role::RapidResponse,
            staff("Rapid response", None),
            vec![],
        ),
        (
            "navigator",
            "Patient navigator",
            Role::Navigator,
            staff("Patient navigator", None),
            vec![],
        ),
        (
            "navigator2",
            "Patient navigator (cancer pathways)",
            Role::Navigator,
            staff("Patient navigator (cancer", None),
            vec![],
        ),
        (
            "oncologist",
            "Medical oncologist (tumour boards)",
            Role::Physician,
            staff("Medical oncologist", None),
            vec![],
        ),
        (
            "coordinator",
            "MDT coordinator (cancer services)",
            Role::MdtCoordinator,
            staff("MDT coordinator", None),
            vec![],
        ),
        (
            "social",
            "Clinical social worker",
            Role::SocialWorker,
            staff("Clinical social worker", None),
            vec![],
        ),
        (
            "quality",
            "Quality officer",
            Role::QualityOfficer,
            None,
            vec![],
        ),
        (
            "safety",
            "Dana Whitfield",
            Role::SafetyReviewer,
            Some(format!("Practitioner/{}", synth::SAFETY_REVIEWER)),
            vec![],
        ),
        (
            "privacy",
            "Privacy officer",
            Role::PrivacyOfficer,
            None,
            vec![],
        ),
    ];
    println!("Accounts (one per role):");
    for (username, name, role, practitioner, wards) in people {
        accounts.add(
            accounts::NewAccount {
                username: username.into(),
                name: name.into(),
                role,
                practitioner,
                wards,
                organization: None,
                password: password.clone(),
            },
            "tend demo",
        )?;
        println!("  {username:<10} {}", role.title());
    }
    // Two community partners, each seeing only the referrals sent to their organisation.
    for (username, name, organization) in synth::PARTNERS {
        accounts.add(
            accounts::NewAccount {
                username: username.into(),
                name: name.into(),
                role: Role::CommunityPartner,
                practitioner: None,
                wards: vec![],
                organization: Some(organization.into()),
                password: password.clone(),
            },
            "tend demo",
        )?;
        println!(
            "  {username:<10} {} ({name})",
            Role::CommunityPartner.title()
        );
    }
    let token = accounts.issue_token("admin", "demo", None, "tend demo")?;
    let nurse = accounts.issue_token("nurse", "demo", None, "tend demo")?;
    Ok((password, token, nurse))
}

/// PUT every resource at its own id, in batches of independent entries.
pub(crate) fn load(store: &dyn Store, resources: Vec<serde_json::Value>) -> anyhow::Result<usize> {
    let mut failed = 0;
    let mut it = resources.into_iter().peekable();
    while it.peek().is_some() {
        let chunk: Vec<Entry> = it.by_ref().take(500).filter_map(put_entry).collect();
        for r in store.write(&store::Access::system(), chunk, Mode::Independent)? {
            if let Err(e) = r {
                failed += 1;
                tracing::warn!(error = %e, "demo resource rejected");
            }
        }
    }
    Ok(failed)
}

/// An update-at-id entry for a resource that carries its id.
pub(crate) fn put_entry(resource: serde_json::Value) -> Option<Entry> {
    Entry::put(resource)
}

async fn stream_vitals(store: Arc<dyn Store>, mut stream: synth::VitalsStream, tick: u64) {
    let mut interval = tokio::time::interval(Duration::from_secs(tick.max(1)));
    loop {
        interval.tick().await;
        let fresh = stream.advance(chrono::Utc::now());
        if fresh.is_empty() {
            continue;
        }
        let n = fresh.len();
        let s = store.clone();
        match tokio::task::spawn_blocking(move || load(&*s, fresh)).await {
            Ok(Ok(_)) => tracing::info!(observations = n, "new vital signs recorded"),
            Ok(Err(e)) => tracing::warn!(error = %e, "streaming vital signs failed"),
            Err(e) => tracing::warn!(error = %e, "streaming task failed"),
        }
    }
}
