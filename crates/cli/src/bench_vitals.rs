//! `tend bench --vitals`: the early-warning loop under load, printed, never asserted.
//!
//! 1. Throughput: 32 concurrent writers post complete vital-sign sets (7 readings and a
//!    panel, one atomic write each) for the given seconds; the figure is complete sets per
//!    second until every set's NEWS2, qSOFA and SIRS and any alert are durable.
//! 2. Latency: sets paced at a fixed rate (500/s) for 16 writers, each set for a patient
//!    without an open alert, in the throughput run's mix (10 % high, 20 % medium, 70 %
//!    normal); the figures are the time from the write's acknowledgement to its NEWS2 score
//!    event and, for the 30 % that alert, to its alert event, on the live-event hub that
//!    feeds `/api/events`. A second run makes every set high (the worst case).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use store::{Entry, Mode, Store};

use crate::bench::percentile;
use crate::demo::put_entry;

const WARDS: usize = 5;
const PT: &str = "http://terminology.hl7.org/CodeSystem/location-physical-type";

fn seed(store: &dyn Store, patients: usize) -> anyhow::Result<()> {
    let mut resources = Vec::new();
    for w in 0..WARDS {
        resources.push(json!({"resourceType": "Location", "id": format!("bw{w}"), "name": format!("Bench ward {w}"),
            "status": "active", "physicalType": {"coding": [{"system": PT, "code": "wa"}]}}));
    }
    for i in 0..patients {
        resources.push(json!({"resourceType": "Patient", "id": format!("vp{i}")}));
        resources.push(json!({"resourceType": "Encounter", "id": format!("ve{i}"), "status": "in-progress",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
            "subject": {"reference": format!("Patient/vp{i}")},
            "location": [{"location": {"reference": format!("Location/bw{}", i % WARDS)}, "status": "active",
                "physicalType": {"coding": [{"system": PT, "code": "wa"}]}}]}));
    }
    let mut it = resources.into_iter().peekable();
    while it.peek().is_some() {
        let chunk: Vec<Entry> = it.by_ref().take(1000).filter_map(put_entry).collect();
        store.write(&store::Access::system(), chunk, Mode::Independent)?;
    }
    Ok(())
}

/// The readings of a set of each kind: 0 normal, 1 medium band, 2 high band.
pub(crate) struct Readings {
    pub(crate) rr: u32,
    pub(crate) spo2: u32,
    /// Oxygen flow, L/min.
    pub(crate) o2: u32,
    pub(crate) sbp: u32,
    pub(crate) hr: u32,
    /// Level of responsiveness, SNOMED CT: alert or new confusion.
    pub(crate) avpu: &'static str,
    pub(crate) temp: f64,
}

pub(crate) fn readings(kind: u8) -> Readings {
    let (rr, spo2, o2, sbp, hr, avpu, temp) = match kind {
        2 => (26, 90, 4, 88, 125, "130987000", 38.6),
        1 => (22, 95, 2, 118, 96, "248234008", 37.4),
        _ => (16, 97, 0, 124, 72, "248234008", 36.8),
    };
    Readings {
        rr,
        spo2,
        o2,
        sbp,
        hr,
        avpu,
        temp,
    }
}

/// The kind of the `i`th set of a run: 10 % high, 20 % medium, 70 % normal.
pub(crate) fn mix(i: usize) -> u8 {
    match i % 10 {
        0 => 2,
        1 | 2 => 1,
        _ => 0,
    }
}

/// The early-warning service with its default settings, and its live-event hub, started.
pub(crate) fn start_early_warning(
    store: &Arc<dyn Store>,
) -> (Arc<early_warning::EarlyWarning>, Arc<early_warning::Hub>) {
    let ew = early_warning::EarlyWarning::new(
        store.clone(),
        early_warning::Config::default(),
        Arc::new(store::SystemClock),
    );
    ew.start();
    let hub = early_warning::Hub::start(ew.clone());
    (ew, hub)
}

/// One complete set (7 readings + panel) for patient `p`, as PUTs with client ids.
/// `kind`: 0 normal, 1 medium, 2 high.
fn set(p: usize, n: usize, kind: u8, at_ms: i64) -> Vec<Entry> {
    let id = format!("vs{p}-{n}");
    let at = search::format_instant(at_ms);
    let Readings {
        rr,
        spo2,
        o2,
        sbp,
        hr,
        avpu,
        temp,
    } = readings(kind);
    let reading = |tag: &str, code: &str, value: Value, unit: &str| {
        let mut o = json!({"resourceType": "Observation", "id": format!("{id}-{tag}"), "status": "final",
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}]}],
            "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
            "subject": {"reference": format!("Patient/vp{p}")}, "encounter": {"reference": format!("Encounter/ve{p}")},
            "effectiveDateTime": at});
        if unit.is_empty() {
            o["valueCodeableConcept"] =
                json!({"coding": [{"system": "http://snomed.info/sct", "code": value}]});
        } else {
            o["valueQuantity"] =
                json!({"value": value, "system": "http://unitsofmeasure.org", "code": unit});
        }
        o
    };
    let mut obs = vec![
        reading("rr", "9279-1", json!(rr), "/min"),
        reading("spo2", "59408-5", json!(spo2), "%"),
        reading("o2", "3151-8", json!(o2), "L/min"),
        reading("sbp", "8480-6", json!(sbp), "mm[Hg]"),
        reading("hr", "8867-4", json!(hr), "/min"),
        reading("avpu", "67775-7", json!(avpu), ""),
        reading("temp", "8310-5", json!(temp), "Cel"),
    ];
    let members: Vec<Value> = obs
        .iter()
        .map(|o| json!({"reference": format!("Observation/{}", o["id"].as_str().unwrap_or_default())}))
        .collect();
    let mut panel = reading("vs", "85353-1", Value::Null, "/");
    panel["id"] = json!(id);
    panel.as_object_mut().map(|o| o.remove("valueQuantity"));
    panel["hasMember"] = json!(members);
    obs.push(panel);
    obs.into_iter().filter_map(put_entry).collect()
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

pub(crate) fn run(
    name: &str,
    store: Arc<dyn Store>,
    seconds: u64,
    rate: usize,
) -> anyhow::Result<()> {
    println!("\n== {name}: early warning ==");
    let rate = rate.max(1);
    let throughput_patients = 2_000;
    let latency_patients = 2 * rate * seconds as usize + 100;
    let started = Instant::now();
    seed(&*store, throughput_patients + latency_patients)?;
    println!(
        "seed: {} patients with encounters in {:.1} s",
        throughput_patients + latency_patients,
        started.elapsed().as_secs_f64()
    );
    let (ew, hub) = start_early_warning(&store);
    // Let the evaluator pass the seed.
    ew.wait_processed(store.commits().latest(), Duration::from_secs(600));

    // 1. Throughput, 32 writers.
    let stop = AtomicBool::new(false);
    let sets = AtomicUsize::new(0);
    let failed = AtomicUsize::new(0);
    let begin_seq = store.commits().latest();
    let t0 = Instant::now();
    std::thread::scope(|s| {
        for w in 0..32usize {
            let (store, stop, sets, failed) = (&store, &stop, &sets, &failed);
            s.spawn(move || {
                let mut n = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    let p = (w * 7919 + n * 31) % throughput_patients;
                    let entries = set(p, w * 1_000_000 + n, mix(w + n), now_ms());
                    match store.write(&store::Access::system(), entries, Mode::Atomic) {
                        Ok(_) => sets.fetch_add(1, Ordering::Relaxed),
                        Err(_) => failed.fetch_add(1, Ordering::Relaxed),
                    };
                    n += 1;
                }
            });
        }
        std::thread::sleep(Duration::from_secs(seconds));
        stop.store(true, Ordering::Relaxed);
    });
    let written = t0.elapsed();
    let end_seq = store.commits().latest();
    ew.wait_processed(end_seq, Duration::from_secs(600));
    let done = t0.elapsed();
    let n = sets.load(Ordering::Relaxed);
    let derived = store.commits().latest() - end_seq;
    println!(
        "throughput (32 writers, {seconds} s): {n} sets acknowledged in {:.1} s ({:.0} sets/s written), all scored and alerted after {:.1} s: {:.0} complete sets/s; {} resource versions ({:.0}/s incl. {} scores and alerts); {} failed",
        written.as_secs_f64(),
        n as f64 / written.as_secs_f64(),
        done.as_secs_f64(),
        n as f64 / done.as_secs_f64(),
        store.commits().latest() - begin_seq,
        (store.commits().latest() - begin_seq) as f64 / done.as_secs_f64(),
        derived.max(0),
        failed.load(Ordering::Relaxed),
    );

    // 2. Latency at a fixed rate: acknowledged write → score and alert events on the hub.
    let mut first = throughput_patients;
    for (label, all_high) in [("mixed sets", false), ("every set high", true)] {
        std::thread::sleep(Duration::from_secs(2));
        let (score, alert) = latency(&store, &hub, rate, seconds, first, all_high);
        first += rate * seconds as usize;
        println!(
            "latency at {rate} sets/s for {seconds} s, {label}: write acknowledged → score event p50 {:.1} ms, p99 {:.1} ms ({} events); → alert event p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} alerts)",
            percentile(&score, 0.5),
            percentile(&score, 0.99),
            score.len(),
            percentile(&alert, 0.5),
            percentile(&alert, 0.99),
            alert.last().copied().unwrap_or(0.0),
            alert.len(),
        );
    }
    hub.stop();
    ew.stop();
    Ok(())
}

/// One paced run: sets for fresh patients `first..`, at `rate` per second for `seconds`.
/// Returns the sorted latencies (ms) to the NEWS2 score event and to the alert event.
fn latency(
    store: &Arc<dyn Store>,
    hub: &early_warning::Hub,
    rate: usize,
    seconds: u64,
    first: usize,
    all_high: bool,
) -> (Vec<f64>, Vec<f64>) {
    let (mut rx, _) = hub.subscribe();
    let sent: Arc<Mutex<HashMap<String, Instant>>> = Arc::new(Mutex::new(HashMap::new()));
    let expected = rate * seconds as usize;
    let kind = move |i: usize| -> u8 {
        if all_high {
            2
        } else {
            mix(i)
        }
    };
    let alerts_expected = (0..expected).filter(|i| kind(*i) > 0).count();
    let t1 = Instant::now();
    let listener = {
        let sent = sent.clone();
        std::thread::spawn(move || {
            let (mut score, mut alert) = (Vec::new(), Vec::new());
            let deadline = Instant::now() + Duration::from_secs(seconds + 60);
            while (score.len() < expected || alert.len() < alerts_expected)
                && Instant::now() < deadline
            {
                let e = match rx.blocking_recv() {
                    Ok(e) => e,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(_) => break,
                };
                let at = Instant::now();
                let Some(t) = sent.lock().ok().and_then(|m| m.get(&e.patient).copied()) else {
                    continue;
                };
                let ms = (at - t).as_secs_f64() * 1000.0;
                if e.kind == "alert" && e.data["lifecycle"] == "raised" {
                    alert.push(ms);
                } else if e.kind == "score" && e.data["score"] == "news2" {
                    score.push(ms);
                }
            }
            (score, alert)
        })
    };
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..16 {
            let (next, sent) = (&next, &sent);
            s.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= expected {
                    break;
                }
                let due = t1 + Duration::from_secs_f64(i as f64 / rate as f64);
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
                let p = first + i;
                if store
                    .write(
                        &store::Access::system(),
                        set(p, 0, kind(i), now_ms()),
                        Mode::Atomic,
                    )
                    .is_ok()
                {
                    if let Ok(mut m) = sent.lock() {
                        m.insert(format!("Patient/vp{p}"), Instant::now());
                    }
                }
            });
        }
    });
    let (mut score, mut alert) = listener.join().unwrap_or_default();
    score.sort_by(|a, b| a.total_cmp(b));
    alert.sort_by(|a, b| a.total_cmp(b));
    (score, alert)
}
