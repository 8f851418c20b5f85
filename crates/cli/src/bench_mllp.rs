//! `tend bench --mllp`: the HL7 v2 feed under load, end to end over sockets, printed, never
//! asserted.
//!
//! In one process, as `serve` runs them: a fresh store, the early-warning service, and the
//! MLLP listener on 127.0.0.1 handing each message to `interface::Feed`. Senders are
//! `mllp::Sender` connections; each sends a message and waits for its acknowledgement before
//! the next, so one connection is bounded by the latency of a message, and concurrent
//! connections share grouped commits. Messages are in original mode, so `AA` is sent only
//! once the readings are durable *and* their scores and alerts are (ACK latency includes
//! scoring). Every acknowledgement is checked: anything but `AA` is counted and printed.
//!
//! The message is `hl7v2/test_data/messages/oru-vitals-monitor.hl7` (ORU^R01, 7 OBX readings
//! and the OBR vital-signs panel) without MSH-15/16 (they ask for enhanced mode), with a
//! unique MSH-10 (also OBR-3), for 2,000 patients in turn (PID-3 `BENCHnnnn`), the
//! observation time (MSH-7, OBR-7, OBX-14) one minute later at each round so each message
//! is the patient's newest set, and values in the vitals bench's mix (10 % high, 20 %
//! medium, 70 % normal).
//!
//! 0. Warm-up: an ADT^A01 per patient admits them to one of five wards (Patient from PID,
//!    Encounter, ward and bed Locations), as a PAS does before the monitors send; the ORU's
//!    conditional create of the Patient then finds it instead of creating it.
//! 1. Throughput: a closed loop with 1, 8 and 32 connections for the given seconds each:
//!    messages/s and ACK latency p50/p99/max.
//! 2. Paced: 32 connections sharing a fixed rate (500/s): the achieved rate and ACK latency.
//!
//! After each run: resource versions written per message (change-log positions, scores and
//! alerts included) and new resources per message by type (store counts before and after).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use store::Store;

use crate::bench::{ms, percentile};
use crate::bench_vitals::{mix, readings, start_early_warning};

/// Patients the messages go to, in turn.
const PATIENTS: usize = 2_000;
const WARDS: usize = 5;
/// Connections of the warm-up and of the paced run.
const CONNECTIONS: usize = 32;
/// PID-3 assigning authority (namespace, OID, type), as in the monitor test message.
const AUTHORITY: &str = "RIVERBEND&2.16.840.1.113883.3.9999&ISO";
const TEMPLATE: &str = include_str!("../../hl7v2/test_data/messages/oru-vitals-monitor.hl7");

/// A DTM with seconds and zone, as monitors send.
fn hl7_time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|d| d.format("%Y%m%d%H%M%S+0000").to_string())
        .unwrap_or_default()
}

/// Field `n` of a segment split at `|` (for MSH, index `n` is MSH-`n + 1`).
fn set_field(fields: &mut Vec<String>, n: usize, value: impl Into<String>) {
    if fields.len() <= n {
        fields.resize(n + 1, String::new());
    }
    fields[n] = value.into();
}

fn pid3(patient: usize) -> String {
    format!("BENCH{patient:04}^^^{AUTHORITY}^MR")
}

/// The bench's messages: the monitor's ORU^R01 with its fields varied, and the admissions.
struct Messages {
    /// The template's segments, split into fields.
    oru: Vec<Vec<String>>,
    /// Observation time of the first round.
    start_ms: i64,
    /// Messages generated so far (numbers them across runs).
    next: AtomicUsize,
}

impl Messages {
    fn new(start_ms: i64) -> Messages {
        let oru = TEMPLATE
            .split(['\r', '\n'])
            .filter(|s| !s.trim().is_empty())
            .map(|s| s.split('|').map(str::to_string).collect())
            .collect();
        Messages {
            oru,
            start_ms,
            next: AtomicUsize::new(0),
        }
    }

    /// The next ORU message (and its control id).
    fn next_oru(&self) -> (String, String) {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        let (patient, round) = (i % PATIENTS, i / PATIENTS);
        let control_id = format!("BENCH-{i:09}");
        let at = self.start_ms + round as i64 * 60_000;
        let message = self.oru(&control_id, patient, mix(patient + round), at);
        (control_id, message)
    }

    /// ORU^R01 for `patient` with readings of `kind` (see [`readings`]) taken at `at_ms`.
    fn oru(&self, control_id: &str, patient: usize, kind: u8, at_ms: i64) -> String {
        let r = readings(kind);
        let display = if r.avpu == "130987000" {
            "New confusion"
        } else {
            "Alert"
        };
        let avpu = format!("{}^{display}^SCT", r.avpu);
        let at = hl7_time(at_ms);
        let mut out = String::with_capacity(TEMPLATE.len() + 64);
        for segment in &self.oru {
            let mut f = segment.clone();
            match f[0].as_str() {
                "MSH" => {
                    set_field(&mut f, 6, &*at);
                    set_field(&mut f, 9, control_id);
                    // Original mode: no MSH-15/16.
                    f.truncate(12);
                }
                "PID" => {
                    set_field(&mut f, 3, pid3(patient));
                    set_field(&mut f, 5, format!("Bench^Patient{patient}"));
                }
                "OBR" => {
                    set_field(&mut f, 3, control_id);
                    set_field(&mut f, 7, &*at);
                }
                "OBX" => {
                    let code = f.get(3).and_then(|c| c.split('^').next()).unwrap_or("");
                    let value = match code {
                        "9279-1" => r.rr.to_string(),
                        "59408-5" => r.spo2.to_string(),
                        "3151-8" => r.o2.to_string(),
                        "8480-6" => r.sbp.to_string(),
                        "8867-4" => r.hr.to_string(),
                        "67775-7" => avpu.clone(),
                        "8310-5" => r.temp.to_string(),
                        _ => f.get(5).cloned().unwrap_or_default(),
                    };
                    set_field(&mut f, 5, value);
                    set_field(&mut f, 14, &*at);
                }
                _ => {}
            }
            out.push_str(&f.join("|"));
            out.push('\r');
        }
        out
    }

    /// ADT^A01: `patient` admitted to a bed of one of the wards.
    fn admission(&self, patient: usize) -> String {
        let at = hl7_time(self.start_ms - 3_600_000);
        let mut pv1 = vec![String::new(); 45];
        pv1[0] = "PV1".into();
        pv1[1] = "1".into();
        pv1[2] = "I".into();
        // Four beds a room.
        let (room, bed) = (
            patient / WARDS / 4,
            ["A", "B", "C", "D"][patient / WARDS % 4],
        );
        pv1[3] = format!("BENCH{}^{room:03}^{bed}^RIVERBEND", patient % WARDS);
        pv1[19] = format!("BV{patient:04}^^^RIVERBEND");
        pv1[44] = at.clone();
        format!(
            "MSH|^~\\&|PAS|RIVERBEND|TEND|RIVERBEND|{at}||ADT^A01^ADT_A01|BENCH-ADM-{patient:04}|P|2.5.1\rEVN|A01|{at}\rPID|1||{}||Bench^Patient{patient}||19500101|{}\r{}\r",
            pid3(patient),
            ["F", "M"][patient % 2],
            pv1.join("|")
        )
    }
}

/// What the connections of one run saw.
#[derive(Default)]
struct Run {
    /// ACK latencies, ms, sorted.
    latencies: Vec<f64>,
    /// Acknowledgements by MSA-1.
    codes: BTreeMap<String, usize>,
    /// Sends that got no acknowledgement (timeout, connection closed).
    errors: usize,
    elapsed: Duration,
}

impl Run {
    fn merge(&mut self, other: Run) {
        self.latencies.extend(other.latencies);
        for (k, v) in other.codes {
            *self.codes.entry(k).or_default() += v;
        }
        self.errors += other.errors;
    }

    fn acknowledged(&self) -> usize {
        self.codes.values().sum()
    }

    /// `3 AE, 1 none, 2 without acknowledgement`, or empty when every message got `AA`.
    fn problems(&self) -> String {
        let mut p: Vec<String> = self
            .codes
            .iter()
            .filter(|(k, _)| k.as_str() != "AA")
            .map(|(k, v)| format!("{v} {k}"))
            .collect();
        if self.errors > 0 {
            p.push(format!("{} without acknowledgement", self.errors));
        }
        p.join(", ")
    }
}

/// When a run's connections stop taking messages.
#[derive(Clone, Copy)]
enum Until {
    /// As fast as they go, `total` messages in all.
    Count(usize),
    /// Closed loop: each connection sends its next message as soon as the last is
    /// acknowledged, until this instant.
    Deadline(Instant),
    /// Paced: message `k` of `total` is due at `start + k / rate` (on whichever connection
    /// is free); none is sent after `end`, should the feed fall behind.
    Paced {
        start: Instant,
        end: Instant,
        rate: usize,
        total: usize,
    },
}

/// Send from `connections` connections; `make(k)` builds the `k`th message of the run.
async fn load(
    addr: &str,
    connections: usize,
    until: Until,
    make: Arc<dyn Fn(usize) -> String + Send + Sync>,
) -> anyhow::Result<Run> {
    let started = Instant::now();
    let taken = Arc::new(AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..connections {
        let mut sender = mllp::Sender::connect(addr, Duration::from_secs(60)).await?;
        let (addr, taken, make) = (addr.to_string(), taken.clone(), make.clone());
        tasks.spawn(async move {
            let mut run = Run::default();
            loop {
                let k = taken.fetch_add(1, Ordering::Relaxed);
                match until {
                    Until::Deadline(end) if Instant::now() >= end => break,
                    Until::Count(total) | Until::Paced { total, .. } if k >= total => break,
                    Until::Paced { end, .. } if Instant::now() >= end => break,
                    Until::Paced { start, rate, .. } => {
                        let due = start + Duration::from_secs_f64(k as f64 / rate as f64);
                        tokio::time::sleep_until(due.into()).await;
                    }
                    Until::Deadline(_) | Until::Count(_) => {}
                }
                let message = make(k);
                let t = Instant::now();
                match sender.send(message.as_bytes()).await {
                    Ok(ack) => {
                        run.latencies.push(ms(t.elapsed()));
                        *run.codes.entry(crate::hl7::ack_code(&ack)).or_default() += 1;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "bench: no acknowledgement; reconnecting");
                        run.errors += 1;
                        match mllp::Sender::connect(&addr, Duration::from_secs(60)).await {
                            Ok(s) => sender = s,
                            Err(_) => break,
                        }
                    }
                }
            }
            run
        });
    }
    let mut all = Run::default();
    while let Some(run) = tasks.join_next().await {
        all.merge(run?);
    }
    all.elapsed = started.elapsed();
    all.latencies.sort_by(|a, b| a.total_cmp(b));
    Ok(all)
}

/// The store's size, to tell what a run wrote.
struct Written {
    seq: i64,
    counts: BTreeMap<String, usize>,
}

impl Written {
    fn now(store: &dyn Store) -> anyhow::Result<Written> {
        Ok(Written {
            seq: store.commits().latest(),
            counts: store.counts()?.into_iter().collect(),
        })
    }

    /// `13.1 versions/msg; new per msg: 11.0 Observation, 1.0 MessageHeader, ...`.
    fn per_message(&self, store: &dyn Store, messages: usize) -> anyhow::Result<String> {
        let after = Written::now(store)?;
        let n = messages.max(1) as f64;
        let mut new: Vec<(usize, String)> = after
            .counts
            .iter()
            .filter_map(|(t, c)| {
                let d = c.saturating_sub(self.counts.get(t).copied().unwrap_or(0));
                (d > 0).then(|| (d, t.clone()))
            })
            .collect();
        new.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        let new: Vec<String> = new
            .iter()
            .map(|(d, t)| format!("{:.2} {t}", *d as f64 / n))
            .collect();
        Ok(format!(
            "{:.1} versions/msg; new resources/msg: {}",
            (after.seq - self.seq) as f64 / n,
            new.join(", ")
        ))
    }
}

/// `1234567.8` → `1,234,568`.
fn thousands(x: f64) -> String {
    let digits = format!("{:.0}", x.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn row(name: &str, label: &str, run: &Run, rate: f64, written: &str) {
    let problems = run.problems();
    println!(
        "mllp {name:<8} {label:<14} {:>6} msg/s  ACK p50 {:>6.1} ms  p99 {:>6.1} ms  max {:>7.1} ms  ({} AA{}; {written})",
        thousands(rate),
        percentile(&run.latencies, 0.5),
        percentile(&run.latencies, 0.99),
        run.latencies.last().copied().unwrap_or(0.0),
        thousands(run.codes.get("AA").copied().unwrap_or(0) as f64),
        if problems.is_empty() {
            String::new()
        } else {
            format!("; not AA: {problems}")
        },
    );
}

pub(crate) fn run(
    name: &str,
    store: Arc<dyn Store>,
    seconds: u64,
    rate: usize,
) -> anyhow::Result<()> {
    println!("\n== {name}: HL7 v2 over MLLP ==");
    let rate = rate.max(1);
    let rt = crate::runtime()?;
    let (ew, hub) = start_early_warning(&store);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let (addr, server) = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?.to_string();
        let server =
            crate::hl7::serve_feed(listener, "", store.clone(), Some(ew.clone()), stopped)?;
        anyhow::Ok((addr, server))
    })?;
    let messages = Arc::new(Messages::new(chrono::Utc::now().timestamp_millis()));

    // 0. Warm-up: admissions.
    let before = Written::now(&*store)?;
    let m = messages.clone();
    let admit = Arc::new(move |k| m.admission(k));
    let warm = rt.block_on(load(&addr, CONNECTIONS, Until::Count(PATIENTS), admit))?;
    let problems = warm.problems();
    println!(
        "warm-up: {} ADT^A01 admissions over {CONNECTIONS} connections in {:.1} s ({} msg/s{}); {}",
        thousands(warm.acknowledged() as f64),
        warm.elapsed.as_secs_f64(),
        thousands(warm.acknowledged() as f64 / warm.elapsed.as_secs_f64()),
        if problems.is_empty() {
            ", all AA".to_string()
        } else {
            format!("; not AA: {problems}")
        },
        before.per_message(&*store, warm.acknowledged())?,
    );

    // 1. Throughput, closed loop.
    let oru = {
        let m = messages.clone();
        Arc::new(move |_: usize| m.next_oru().1) as Arc<dyn Fn(usize) -> String + Send + Sync>
    };
    for connections in [1usize, 8, 32] {
        std::thread::sleep(Duration::from_secs(1));
        let before = Written::now(&*store)?;
        let until = Until::Deadline(Instant::now() + Duration::from_secs(seconds));
        let run = rt.block_on(load(&addr, connections, until, oru.clone()))?;
        let written = before.per_message(&*store, run.acknowledged())?;
        row(
            name,
            &format!("conn={connections}"),
            &run,
            run.acknowledged() as f64 / run.elapsed.as_secs_f64(),
            &written,
        );
    }

    // 2. Paced: a fixed rate over 32 connections.
    std::thread::sleep(Duration::from_secs(1));
    let before = Written::now(&*store)?;
    let start = Instant::now();
    let until = Until::Paced {
        start,
        end: start + Duration::from_secs(seconds),
        rate,
        total: rate * seconds as usize,
    };
    let run = rt.block_on(load(&addr, CONNECTIONS, until, oru))?;
    let written = before.per_message(&*store, run.acknowledged())?;
    let achieved = run.acknowledged() as f64 / run.elapsed.as_secs_f64();
    row(
        name,
        &format!("conn={CONNECTIONS} @{rate}/s"),
        &run,
        achieved,
        &written,
    );
    if achieved < 0.95 * rate as f64 {
        println!(
            "mllp {name:<8} the feed did not keep up with {rate} msg/s: the paced latencies are at saturation"
        );
    }

    let _ = stop.send(true);
    rt.block_on(server)??;
    hub.stop();
    ew.stop();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field<'a>(message: &'a str, segment: &str, n: usize) -> Vec<&'a str> {
        message
            .split('\r')
            .filter(|s| s.starts_with(segment))
            .map(|s| s.split('|').nth(n).unwrap_or(""))
            .collect()
    }

    #[test]
    fn oru_messages_vary_control_id_patient_time_and_values() {
        let m = Messages::new(1_790_000_000_000);
        let (id, first) = m.next_oru();
        assert_eq!(id, "BENCH-000000000");
        assert_eq!(field(&first, "MSH", 9), ["BENCH-000000000"]);
        assert_eq!(field(&first, "MSH", 6), ["20260921141320+0000"]);
        assert_eq!(field(&first, "MSH", 14), [""], "original mode: no MSH-15");
        assert_eq!(field(&first, "OBR", 3), ["BENCH-000000000"]);
        assert_eq!(field(&first, "OBR", 7), ["20260921141320+0000"]);
        assert_eq!(
            field(&first, "PID", 3),
            ["BENCH0000^^^RIVERBEND&2.16.840.1.113883.3.9999&ISO^MR"]
        );
        // Patient 0, round 0: high.
        assert_eq!(
            field(&first, "OBX", 5),
            [
                "26",
                "90",
                "4",
                "88",
                "125",
                "130987000^New confusion^SCT",
                "38.6"
            ]
        );
        assert_eq!(field(&first, "OBX", 14), ["20260921141320+0000"; 7]);
        // The next patient; the same patient a round later, one minute later.
        assert_eq!(
            field(&m.next_oru().1, "PID", 3)[0],
            "BENCH0001^^^RIVERBEND&2.16.840.1.113883.3.9999&ISO^MR"
        );
        m.next.store(PATIENTS, Ordering::Relaxed);
        let (_, later) = m.next_oru();
        assert_eq!(field(&later, "PID", 3), field(&first, "PID", 3));
        assert_eq!(field(&later, "OBR", 7), ["20260921141420+0000"]);
        assert_eq!(field(&later, "OBX", 5)[5], "248234008^Alert^SCT");
    }

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(0.4), "0");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(1234.4), "1,234");
        assert_eq!(thousands(1_234_567.0), "1,234,567");
    }

    /// The generated admission and ORU go through the real feed: `AA`, the patient admitted
    /// once and found by the ORU, the readings and panel stored.
    #[test]
    fn generated_messages_are_accepted_by_the_feed() {
        let dir = std::env::temp_dir().join(format!("tend-bench-mllp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let options = store::Options {
            clock: Arc::new(store::SystemClock),
            indexer: Arc::new(search::Indexer::new(search::Registry::r4()).unwrap()),
            readers: 2,
        };
        let url = format!("sqlite://{}", dir.join("feed.db").display());
        let store = store::open(&url, options).unwrap();
        let feed = interface::Feed::new(
            store.clone(),
            None,
            Arc::new(store::SystemClock),
            interface::Config::default(),
        );
        let m = Messages::new(1_790_000_000_000);
        let h = feed.handle(m.admission(0).as_bytes());
        assert_eq!(h.code, "AA", "{}", h.ack);
        let (id, oru) = m.next_oru();
        let h = feed.handle(oru.as_bytes());
        assert_eq!(h.code, "AA", "{}", h.ack);
        assert!(h.ack.contains(&format!("\rMSA|AA|{id}")), "{}", h.ack);
        let counts: BTreeMap<String, usize> = store.counts().unwrap().into_iter().collect();
        assert_eq!(counts.get("Patient"), Some(&1));
        assert_eq!(counts.get("Encounter"), Some(&1));
        assert_eq!(
            counts.get("Observation"),
            Some(&8),
            "7 readings and the panel"
        );
        assert_eq!(counts.get("MessageHeader"), Some(&2));
        drop(feed);
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
