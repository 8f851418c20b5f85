//! `tend bench`: figures for the store, printed, never asserted. For each adapter (SQLite,
//! and PostgreSQL on a throwaway cluster with `--postgres`): bulk ingest with every search
//! index, small durable transactions (1 Patient + 1 Observation) at 1/8/32 concurrent
//! clients, reads by id, and three searches over the ingested resources.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use search::{Registry, SearchQuery};
use serde_json::{json, Value};
use store::{Entry, Mode, Store, WriteOp};

use crate::demo::put_entry;

#[derive(Args, Debug, Clone)]
pub(crate) struct BenchArgs {
    /// Resources to ingest before the read and search runs (10 % patients, 90 % vital signs).
    #[arg(long, default_value_t = 1_000_000)]
    resources: usize,
    /// Seconds per concurrency level / read run.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Also run against PostgreSQL on a throwaway cluster (needs Debian's postgresql).
    #[arg(long)]
    postgres: bool,
    /// Skip SQLite (with --postgres: PostgreSQL only).
    #[arg(long)]
    no_sqlite: bool,
    /// Measure the early-warning loop (complete vitals sets/s with 32 writers, and write →
    /// alert event latency at 500 sets/s) instead of the store.
    #[arg(long)]
    vitals: bool,
    /// Measure the HL7 v2 feed over MLLP (ORU vitals messages/s and ACK latency at 1, 8 and
    /// 32 connections, and ACK latency at a fixed rate) instead of the store.
    #[arg(long, conflicts_with = "vitals")]
    mllp: bool,
    /// Measure care gaps (every USPSTF screening rule for a synthetic adult clinic
    /// population: population runs, incremental re-evaluation, peak memory) instead of the
    /// store; the population is loaded once into `target/bench/` and reused.
    #[arg(long, conflicts_with_all = ["vitals", "mllp"])]
    care_gaps: bool,
    /// Patients of the care-gaps population (with --care-gaps).
    #[arg(long, default_value_t = 100_000)]
    patients: usize,
    /// Sets (with --vitals) or messages (with --mllp) per second of the paced latency runs.
    #[arg(long, default_value_t = 500)]
    rate: usize,
}

/// A tiny deterministic generator (xorshift), so runs are comparable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

const FAMILIES: [&str; 12] = [
    "Smith", "Garcia", "Nguyen", "Johnson", "Okafor", "Kowalski", "Chen", "Haddad", "Brown",
    "Silva", "Ivanova", "Murphy",
];
const GIVEN: [&str; 10] = [
    "Ana", "John", "Mei", "Omar", "Grace", "Luis", "Fatima", "Peter", "Aroha", "Sven",
];
/// (LOINC, display, unit, low, high)
const VITALS: [(&str, &str, &str, f64, f64); 6] = [
    ("9279-1", "Respiratory rate", "/min", 10.0, 30.0),
    (
        "59408-5",
        "Oxygen saturation in Arterial blood by Pulse oximetry",
        "%",
        85.0,
        100.0,
    ),
    ("8480-6", "Systolic blood pressure", "mm[Hg]", 85.0, 190.0),
    ("8867-4", "Heart rate", "/min", 45.0, 140.0),
    ("8310-5", "Body temperature", "Cel", 35.0, 40.0),
    ("3151-8", "Inhaled oxygen flow rate", "L/min", 0.0, 6.0),
];

fn patient(i: usize, rng: &mut Rng) -> Value {
    json!({
        "resourceType": "Patient",
        "id": format!("bp{i}"),
        "identifier": [{"system": "https://tend.example.org/mrn", "value": format!("MRN{i:08}")}],
        "name": [{"family": FAMILIES[rng.below(12) as usize], "given": [GIVEN[rng.below(10) as usize]]}],
        "gender": if rng.below(2) == 0 { "female" } else { "male" },
        "birthDate": format!("{}-{:02}-{:02}", 1930 + rng.below(75), 1 + rng.below(12), 1 + rng.below(28)),
    })
}

fn observation(i: usize, patient: usize, rng: &mut Rng) -> Value {
    let (code, display, unit, lo, hi) = VITALS[rng.below(VITALS.len() as u64) as usize];
    let value = ((lo + (hi - lo) * (rng.below(1000) as f64 / 1000.0)) * 10.0).round() / 10.0;
    let minutes = rng.below(60 * 24 * 30);
    let t = chrono::DateTime::from_timestamp(1_790_000_000 + (minutes as i64) * 60, 0)
        .unwrap_or_default();
    json!({
        "resourceType": "Observation",
        "id": format!("bo{i}"),
        "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": code, "display": display}]},
        "subject": {"reference": format!("Patient/bp{patient}")},
        "effectiveDateTime": t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit},
    })
}

/// The AuditEvent of one API read, shaped as the HTTP layer records it.
fn read_event(id: &str) -> Value {
    serde_json::json!({
        "resourceType": "AuditEvent",
        "id": store::audit::event_id(),
        "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-event-type", "code": "rest"},
        "subtype": [{"system": "http://hl7.org/fhir/restful-interaction", "code": "read"}],
        "action": "R",
        "recorded": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "outcome": "0",
        "outcomeDesc": "200",
        "agent": [{"requestor": true, "who": {"identifier": {"system": "https://tend.example.org/fhir/NamingSystem/user", "value": "bench"}, "display": "Bench"},
            "altId": "bench", "role": [{"coding": [{"system": "https://tend.example.org/fhir/CodeSystem/role", "code": "nurse"}]}],
            "network": {"address": "127.0.0.1", "type": "2"}}],
        "source": {"observer": {"display": "Tend"}},
        "entity": [{"what": {"reference": format!("Patient/{id}")}, "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "1"}},
            {"type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "2"}, "description": format!("GET /fhir/Patient/{id}")}],
    })
}

/// Builds the query string of one search run.
type QueryMaker = Box<dyn Fn(&mut Rng) -> String>;

/// The `p` quantile (0 to 1) of sorted values, nearest rank; 0 when empty.
pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub(crate) fn run(args: BenchArgs) -> anyhow::Result<()> {
    if args.care_gaps {
        return crate::bench_care_gaps::run(args.patients);
    }
    let indexer =
        Arc::new(search::Indexer::new(Registry::r4()).context("compiling the search parameters")?);
    let options = store::Options {
        clock: Arc::new(store::SystemClock),
        indexer,
        readers: 8,
    };
    let tmp = std::env::temp_dir().join(format!("tend-bench-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    println!(
        "tend bench: {} resources, {} s per run, {} cores",
        args.resources,
        args.seconds,
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    if !args.no_sqlite {
        let url = format!("sqlite://{}", tmp.join("bench.db").display());
        let store = store::open(&url, options.clone())?;
        if args.vitals {
            crate::bench_vitals::run("sqlite", store, args.seconds, args.rate)?;
        } else if args.mllp {
            crate::bench_mllp::run("sqlite", store, args.seconds, args.rate)?;
        } else {
            bench_store("sqlite", &*store, &args)?;
            bench_export(store, &tmp.join("sqlite-exports"))?;
        }
    }
    if args.postgres {
        let pg = store::TempPostgres::start()?;
        let url = pg.create_database("tend_bench")?;
        let store = store::open(&url, options.clone())?;
        if args.vitals {
            crate::bench_vitals::run("postgres", store.clone(), args.seconds, args.rate)?;
        } else if args.mllp {
            crate::bench_mllp::run("postgres", store.clone(), args.seconds, args.rate)?;
        } else {
            bench_store("postgres", &*store, &args)?;
            bench_export(store.clone(), &tmp.join("postgres-exports"))?;
        }
        drop(store);
        drop(pg);
    }
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(())
}

fn bench_store(name: &str, store: &dyn Store, args: &BenchArgs) -> anyhow::Result<()> {
    println!("\n== {name} ==");
    let patients = (args.resources / 10).max(1);
    // 1. Bulk ingest: chunks of 1,000 from two feeding threads, so preparing one chunk
    //    overlaps with committing another.
    let started = Instant::now();
    let chunk = 1000;
    let total = args.resources;
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failed = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for t in 0..2u64 {
            let (next, failed) = (&next, &failed);
            s.spawn(move || {
                let mut rng = Rng(0x9E37_79B9 + t);
                loop {
                    let start = next.fetch_add(chunk, Ordering::Relaxed);
                    if start >= total {
                        break;
                    }
                    let entries: Vec<Entry> = (start..(start + chunk).min(total))
                        .filter_map(|i| {
                            if i < patients {
                                put_entry(patient(i, &mut rng))
                            } else {
                                put_entry(observation(i, i % patients, &mut rng))
                            }
                        })
                        .collect();
                    match store.write(&store::Access::system(), entries, Mode::Independent) {
                        Ok(rs) => {
                            failed.fetch_add(
                                rs.iter().filter(|r| r.is_err()).count(),
                                Ordering::Relaxed,
                            );
                        }
                        Err(_) => {
                            failed.fetch_add(chunk, Ordering::Relaxed);
                        }
                    }
                }
            });
        }
    });
    let secs = started.elapsed().as_secs_f64();
    println!(
        "bulk ingest        {total} resources in {secs:.1} s = {:.0} resources/s (all search indexes; {} failed)",
        total as f64 / secs,
        failed.load(Ordering::Relaxed)
    );

    // 2. Small durable transactions.
    for clients in [1usize, 8, 32] {
        let stop = AtomicBool::new(false);
        let lat = std::sync::Mutex::new(Vec::new());
        let started = Instant::now();
        std::thread::scope(|s| {
            for c in 0..clients {
                let (stop, lat) = (&stop, &lat);
                s.spawn(move || {
                    let mut mine = Vec::new();
                    let mut n = 0usize;
                    while !stop.load(Ordering::Relaxed) {
                        let pid = format!("tx-{name}-{clients}-{c}-{n}");
                        n += 1;
                        let p = json!({"resourceType": "Patient", "name": [{"family": "Doe"}]});
                        let o = json!({
                            "resourceType": "Observation", "status": "final",
                            "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
                            "subject": {"reference": format!("urn:uuid:{pid}")},
                            "valueQuantity": {"value": 80, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"}
                        });
                        let entries = vec![
                            Entry { full_url: Some(format!("urn:uuid:{pid}")), op: WriteOp::Create { resource: p, id: pid.clone(), if_none_exist: None } },
                            Entry { full_url: None, op: WriteOp::Create { resource: o, id: format!("{pid}-o"), if_none_exist: None } },
                        ];
                        let t = Instant::now();
                        if store.write(&store::Access::system(), entries, Mode::Atomic).is_ok() {
                            mine.push(ms(t.elapsed()));
                        }
                    }
                    if let Ok(mut l) = lat.lock() {
                        l.extend(mine);
                    }
                });
            }
            std::thread::sleep(Duration::from_secs(args.seconds));
            stop.store(true, Ordering::Relaxed);
        });
        let secs = started.elapsed().as_secs_f64();
        let mut l = lat.into_inner().unwrap_or_default();
        l.sort_by(|a, b| a.total_cmp(b));
        println!(
            "transactions x{clients:<3}  {:.0} tx/s  p50 {:.2} ms  p99 {:.2} ms  (1 Patient + 1 Observation, durable)",
            l.len() as f64 / secs,
            percentile(&l, 0.5),
            percentile(&l, 0.99)
        );
    }

    // 3. Reads by id, without and with auditing: with it, each read also records one
    // AuditEvent as the HTTP layer does (who, what, the patient) and, like the HTTP layer,
    // waits until it is durable: the writer links it into the hash chain inside its next
    // group commit.
    // As Tend itself, and as a nurse whose reach is a ward of 40 patients (every read is
    // then decided from the version's compartments).
    let ward = patients.min(40);
    let nurse = store::Access::caller(
        access::Principal {
            id: "bench-nurse".into(),
            name: "Bench Nurse".into(),
            role: access::Role::Nurse,
            practitioner: None,
            wards: vec![],
            organization: None,
            scopes: None,
            via: access::Via::ApiToken,
        },
        store::Reach::Patients((0..ward).map(|i| format!("bp{i}")).collect()),
        None,
    );
    let system = store::Access::system();
    for (as_nurse, audited, threads) in [
        (false, false, 4u64),
        (true, false, 4),
        (false, true, 4),
        (false, true, 32),
        (true, true, 32),
    ] {
        let (who, among) = if as_nurse {
            (&nurse, ward)
        } else {
            (&system, patients)
        };
        let stop = AtomicBool::new(false);
        let lat = std::sync::Mutex::new(Vec::new());
        let started = Instant::now();
        std::thread::scope(|s| {
            for t in 0..threads {
                let (stop, lat) = (&stop, &lat);
                s.spawn(move || {
                    let mut rng = Rng(77 + t);
                    let mut mine = Vec::new();
                    while !stop.load(Ordering::Relaxed) {
                        let id = format!("bp{}", rng.below(among as u64));
                        let t0 = Instant::now();
                        if let Ok(Some(_)) = store.read(who, "Patient", &id) {
                            if audited {
                                let _ = store.audit_durable(vec![read_event(&id)]);
                            }
                            mine.push(ms(t0.elapsed()));
                        }
                    }
                    if let Ok(mut l) = lat.lock() {
                        l.extend(mine);
                    }
                });
            }
            std::thread::sleep(Duration::from_secs(args.seconds));
            stop.store(true, Ordering::Relaxed);
        });
        let secs = started.elapsed().as_secs_f64();
        let mut l = lat.into_inner().unwrap_or_default();
        l.sort_by(|a, b| a.total_cmp(b));
        println!(
            "reads by id{}{}  {:.0} reads/s  p50 {:.3} ms  p99 {:.3} ms  ({threads} threads)",
            if audited { ", audited" } else { "         " },
            if as_nurse {
                ", as a nurse"
            } else {
                "             "
            },
            l.len() as f64 / secs,
            percentile(&l, 0.5),
            percentile(&l, 0.99)
        );
    }
    if let Ok(c) = store.counts() {
        let n = c
            .iter()
            .find(|(t, _)| t == "AuditEvent")
            .map_or(0, |(_, n)| *n);
        println!("audit events       {n} recorded in the chain during the audited run");
    }

    // 4. Searches.
    let searches: [(&str, &str, QueryMaker); 3] = [
        (
            "latest pulse of a patient",
            "Observation",
            Box::new(move |r: &mut Rng| {
                format!(
                    "subject=Patient/bp{}&code=8867-4&_sort=-date&_count=10",
                    r.below(patients as u64)
                )
            }),
        ),
        (
            "patients by name prefix",
            "Patient",
            Box::new(|r: &mut Rng| {
                format!("name={}&_count=20", &FAMILIES[r.below(12) as usize][..3])
            }),
        ),
        (
            "high temperatures of a patient (quantity)",
            "Observation",
            Box::new(move |r: &mut Rng| {
                format!(
                    "subject=Patient/bp{}&code=8310-5&value-quantity=gt38&_count=50",
                    r.below(patients as u64)
                )
            }),
        ),
    ];
    // Each as Tend, then as the nurse over her ward's patients (the patient-scoped searches
    // then carry the compartment condition).
    let ward_searches: [(&str, &str, QueryMaker); 1] = [(
        "latest pulse of a patient, as a nurse",
        "Observation",
        Box::new(move |r: &mut Rng| {
            format!(
                "subject=Patient/bp{}&code=8867-4&_sort=-date&_count=10",
                r.below(ward as u64)
            )
        }),
    )];
    let runs_of = searches
        .iter()
        .map(|s| (s, &system))
        .chain(ward_searches.iter().map(|s| (s, &nurse)));
    for ((label, rtype, make), who) in runs_of {
        let mut rng = Rng(4242);
        let mut l = Vec::new();
        let mut returned = 0usize;
        let runs = 300;
        let t_all = Instant::now();
        for _ in 0..runs {
            let qs = make(&mut rng);
            let params: Vec<(String, String)> =
                form_urlencoded::parse(qs.as_bytes()).into_owned().collect();
            let q = SearchQuery::parse(Registry::r4(), rtype, &params)?;
            let t0 = Instant::now();
            let page = store.search(who, &q)?;
            l.push(ms(t0.elapsed()));
            returned += page.matches.len();
        }
        let secs = t_all.elapsed().as_secs_f64();
        l.sort_by(|a, b| a.total_cmp(b));
        println!(
            "search: {label:<42} p50 {:.2} ms  p99 {:.2} ms  {:.0} resources/s returned ({:.1} per search)",
            percentile(&l, 0.5),
            percentile(&l, 0.99),
            returned as f64 / secs,
            returned as f64 / runs as f64
        );
    }
    Ok(())
}

/// Bulk Data export of everything ingested above, as an integration service (every
/// resource) and at Patient level, through the export service as `$export` runs it: pages
/// read as the caller, NDJSON files written and synced.
fn bench_export(store: Arc<dyn Store>, dir: &std::path::Path) -> anyhow::Result<()> {
    let exports = bulk_export::Exports::open(
        store,
        dir,
        bulk_export::Config::default(),
        Arc::new(store::SystemClock),
    )?;
    let who = access::Principal {
        id: "bench-warehouse".into(),
        name: "Bench warehouse".into(),
        role: access::Role::IntegrationService,
        practitioner: None,
        wards: vec![],
        organization: None,
        scopes: None,
        via: access::Via::Smart,
    };
    for (label, level) in [
        ("$export (system level)", bulk_export::Level::System),
        ("Patient/$export", bulk_export::Level::Patient),
    ] {
        let access = Arc::new(store::Access::caller(who.clone(), store::Reach::All, None));
        let request = bulk_export::Request::new(level);
        let started = Instant::now();
        let job = exports.kick_off(&who, access, request, String::new())?;
        let job = exports.wait(&job.id, &who)?;
        let secs = started.elapsed().as_secs_f64();
        let bytes: u64 = job
            .outputs
            .iter()
            .filter_map(|o| std::fs::metadata(dir.join(&job.id).join(&o.file)).ok())
            .map(|m| m.len())
            .sum();
        println!(
            "export: {label:<24} {} resources in {secs:.2} s = {:.0} resources/s ({} files, {:.0} MB)",
            job.exported(),
            job.exported() as f64 / secs,
            job.outputs.len(),
            bytes as f64 / 1e6
        );
        exports.cancel(&job.id, &who)?;
    }
    Ok(())
}
