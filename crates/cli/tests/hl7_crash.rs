//! The HL7 v2 feed neither loses nor duplicates a message when the server crashes: while
//! four MLLP clients stream thousands of ORU^R01 vital-signs messages to `tend serve`, the
//! server is killed with SIGKILL at random moments (three times, 0.5–3 s after each
//! restart) and restarted on the same port and database. A client counts a message as
//! acknowledged only once it has read its `AA`; after any connection error it reconnects and
//! resends the same bytes. Every message is finally acknowledged, and the store, reopened
//! after a last SIGKILL, holds each message exactly once:
//!
//! - one `MessageHeader` per message, at the id derived from MSH-3/4/10, tagged accepted,
//!   and no other;
//! - its focus is the message's 7 readings and its vital-signs panel, and each of them, like
//!   the record itself, has exactly one version in the change log (a resend of a message
//!   committed before the crash wrote nothing);
//! - every other Observation is an early-warning score;
//! - one Patient per MRN (conditional create), and the readings point at it.
//!
//! The kills are checked to have happened while messages were still unacknowledged and to
//! have cost some in-flight messages, so the test cannot pass without crashing the feed.
//! SIGKILL ends the process, not the machine: the page cache survives, so this tests process
//! crashes, not power loss. The kill timings come from a seed printed at the start (set
//! `TEND_CRASH_SEED` to reuse one); what the kills interrupt depends on timing all the same.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use search::{Registry, SearchQuery};
use serde_json::Value;

/// Messages streamed in all.
const MESSAGES: usize = 3000;
/// Concurrent MLLP connections.
const CLIENTS: usize = 4;
/// Patients the messages are spread over (message `i` is for patient `i % PATIENTS`).
const PATIENTS: usize = 50;
/// SIGKILLs during the stream.
const KILLS: usize = 3;
/// Observations each message writes: its 7 OBX readings and the vital-signs panel (see
/// `crates/hl7v2/test_data/messages/oru-vitals-monitor.json`).
const OBSERVATIONS_PER_MESSAGE: usize = 8;
/// Long enough that only a crash, never a slow answer, makes a client resend.
const ACK_TIMEOUT: Duration = Duration::from_secs(60);
/// Every message must be acknowledged within this time.
const STREAM_LIMIT: Duration = Duration::from_secs(300);
/// MSH-3 and MSH-4 of the template: the first two parts of each message's key.
const SENDER_KEY: &str = "PHILIPS_IX|WARD3E";
const MRN_SYSTEM: &str = "urn:oid:2.16.840.1.113883.3.9999";
const EARLY_WARNING_TAG: &str = "https://tend.example.org/fhir/CodeSystem/tend-tags";
const TEMPLATE: &str = include_str!("../../hl7v2/test_data/messages/oru-vitals-monitor.hl7");

fn open(url: &str) -> Arc<dyn store::Store> {
    let options = store::Options {
        clock: Arc::new(store::SystemClock),
        indexer: Arc::new(search::Indexer::new(Registry::r4()).unwrap()),
        readers: 2,
    };
    store::open(url, options).unwrap()
}

fn search(store: &dyn store::Store, rtype: &str, query: &str) -> store::SearchPage {
    let params: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    store
        .search(
            &store::Access::system(),
            &SearchQuery::parse(Registry::r4(), rtype, &params).unwrap(),
        )
        .unwrap()
}

/// Every current resource of a type.
fn scan_all(store: &dyn store::Store, rtype: &str) -> Vec<Value> {
    let (mut all, mut cursor) = (Vec::new(), 0);
    loop {
        let (hits, next) = store.scan(rtype, cursor, 1000).unwrap();
        if hits.is_empty() {
            return all;
        }
        all.extend(hits.iter().map(|h| serde_json::from_str(&h.body).unwrap()));
        cursor = next;
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// xorshift64*: kill timings without a dependency.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

fn control_id(i: usize) -> String {
    format!("CRASH-{i:06}")
}

fn mrn(patient: usize) -> String {
    format!("CRASH{patient:03}")
}

/// Message `i`: the monitor template in original acknowledgement mode, with its own control
/// id (MSH-10, also the filler order number OBR-3), patient (PID-3) and observation time
/// (OBR-7, OBX-14: one minute apart, so no two messages form one set).
fn message(i: usize) -> Vec<u8> {
    let base = chrono::NaiveDate::from_ymd_opt(2026, 11, 24)
        .unwrap()
        .and_hms_opt(8, 29, 0)
        .unwrap();
    let when = (base + chrono::Duration::minutes(i as i64))
        .format("%Y%m%d%H%M%S")
        .to_string();
    let id = control_id(i);
    let mut text = String::new();
    for segment in TEMPLATE.split(['\r', '\n']).filter(|s| !s.is_empty()) {
        let mut f: Vec<String> = segment.split('|').map(str::to_string).collect();
        // The template's values, checked so that a changed template fails here, not later.
        let mut set = |n: usize, old: &str, new: &str| {
            assert!(f[n].starts_with(old), "template {}-{n}: {}", f[0], f[n]);
            f[n] = new.to_string();
        };
        match segment.get(..3) {
            // MSH-1 is the separator itself: MSH-n is field n - 1 of the split.
            Some("MSH") => {
                set(9, "MON-000123", &id);
                // Original acknowledgement mode (MSH-15 and MSH-16 empty): `AA` once the
                // message is durable and scored, the longest window for a crash.
                set(14, "AL", "");
                set(15, "NE", "");
                f.truncate(12);
            }
            Some("PID") => set(
                3,
                "MRN001234^",
                &format!(
                    "{}^^^RIVERBEND&2.16.840.1.113883.3.9999&ISO^MR",
                    mrn(i % PATIENTS)
                ),
            ),
            Some("OBR") => {
                set(3, "MON-000123", &id);
                set(7, "20261124082900", &when);
            }
            Some("OBX") => set(14, "20261124082900", &when),
            _ => {}
        }
        text.push_str(&f.join("|"));
        text.push('\r');
    }
    text.into_bytes()
}

/// MSA-1 and MSA-2 of an acknowledgement.
fn msa(ack: &[u8]) -> Option<(String, String)> {
    let text = String::from_utf8_lossy(ack);
    let msa = text.split(['\r', '\n']).find(|s| s.starts_with("MSA|"))?;
    let f: Vec<&str> = msa.split('|').collect();
    Some((f.get(1)?.to_string(), f.get(2)?.to_string()))
}

/// A port for the MLLP listener outside the kernel's ephemeral range: while the server is
/// down, a client connecting to a port in that range can be given that same port as its own
/// and connect to itself (TCP simultaneous open), reading its message back as the "ACK" and
/// keeping the server from binding the port again.
fn free_port() -> u16 {
    let ephemeral_start = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u16>().ok());
    if let Some(start) = ephemeral_start.filter(|s| *s > 20_000) {
        let offset = (std::process::id() as u16) % (start - 20_000);
        for k in 0..(start - 20_000) {
            let port = 20_000 + (offset + k) % (start - 20_000);
            if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
                return port;
            }
        }
    }
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A running `tend serve`; killed (SIGKILL) when dropped.
struct Server {
    child: Child,
}

impl Server {
    /// Start the server and wait until its MLLP listener is up.
    fn start(url: &str, port: u16, log: &Path) -> Server {
        for attempt in 1..=5 {
            let stderr = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
                .unwrap();
            let mut child = Command::new(env!("CARGO_BIN_EXE_tend"))
                .args(["serve", "--database", url, "--listen", "127.0.0.1:0"])
                .args(["--mllp-listen", &format!("127.0.0.1:{port}")])
                .env("TEND_LOG", "warn")
                .env_remove("TEND_CONFIG")
                .stdout(Stdio::piped())
                .stderr(stderr)
                .spawn()
                .unwrap();
            let stdout = child.stdout.take().unwrap();
            let (ready, is_ready) = mpsc::channel();
            std::thread::spawn(move || {
                // Read to the end, so the server never blocks on a full pipe.
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if line.starts_with("Tend HL7 v2 (MLLP):") {
                        let _ = ready.send(());
                    }
                }
            });
            // An error is a timeout, or the server exited (its stdout closed).
            match is_ready.recv_timeout(Duration::from_secs(120)) {
                Ok(()) => return Server { child },
                Err(e) => {
                    let _ = child.kill();
                    let status = child.wait();
                    eprintln!("server start {attempt} failed ({e}; {status:?}); retrying");
                    std::thread::sleep(Duration::from_millis(500));
                }
            }
        }
        let log = std::fs::read_to_string(log).unwrap_or_default();
        panic!("the server did not start; its log:\n{log}");
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The temporary directory, removed when the test ends (kept when `TEND_CRASH_KEEP` is
/// set, to inspect the database).
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::env::var_os("TEND_CRASH_KEEP").is_some() {
            eprintln!("kept {}", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// What a client saw of one message.
struct Delivery {
    index: usize,
    /// Sends tried (more than one: the connection failed before the ACK was read).
    attempts: u32,
    /// When the send that was acknowledged started (ms since the epoch).
    acked_send_started: i64,
}

/// One MLLP connection taking messages from the shared queue until it is empty; each
/// message is resent until its `AA` is read.
async fn client(
    addr: String,
    messages: Arc<Vec<Vec<u8>>>,
    next: Arc<AtomicUsize>,
    acked: Arc<AtomicUsize>,
    deadline: Instant,
) -> Vec<Delivery> {
    let mut sender: Option<mllp::Sender> = None;
    let mut delivered = Vec::new();
    loop {
        let index = next.fetch_add(1, Ordering::SeqCst);
        if index >= messages.len() {
            return delivered;
        }
        let mut attempts = 0;
        loop {
            assert!(
                Instant::now() < deadline,
                "message {index} not acknowledged within {STREAM_LIMIT:?} ({attempts} sends)"
            );
            let s = match sender.as_mut() {
                Some(s) => s,
                None => match mllp::Sender::connect(&addr, ACK_TIMEOUT).await {
                    Ok(s) => sender.insert(s),
                    Err(_) => {
                        // The server is down: try again shortly.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            attempts += 1;
            let started = now_ms();
            match s.send(&messages[index]).await {
                Ok(ack) => {
                    let expected = control_id(index);
                    match msa(&ack) {
                        Some((code, id)) if code == "AA" && id == expected => {}
                        _ => panic!(
                            "message {expected}: expected MSA|AA|{expected}, got {:?}",
                            String::from_utf8_lossy(&ack)
                        ),
                    }
                    acked.fetch_add(1, Ordering::SeqCst);
                    delivered.push(Delivery {
                        index,
                        attempts,
                        acked_send_started: started,
                    });
                    break;
                }
                Err(_) => {
                    // Not acknowledged: reconnect and resend the same bytes.
                    sender = None;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }
}

#[test]
fn killed_server_loses_and_duplicates_no_hl7_message() {
    let started = Instant::now();
    let dir = TempDir(std::env::temp_dir().join(format!("tend-hl7-crash-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&dir.0);
    std::fs::create_dir_all(&dir.0).unwrap();
    let url = format!("sqlite://{}", dir.0.join("hl7.db").display());
    let log = dir.0.join("server.log");
    let seed = std::env::var("TEND_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| (now_ms() as u64) ^ (u64::from(std::process::id()) << 32))
        | 1;
    eprintln!("kill timings seed: {seed} (TEND_CRASH_SEED={seed} to reuse)");
    let mut rng = Rng(seed);

    let messages: Arc<Vec<Vec<u8>>> = Arc::new((0..MESSAGES).map(message).collect());
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut server = Server::start(&url, port, &log);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let next = Arc::new(AtomicUsize::new(0));
    let acked = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + STREAM_LIMIT;
    let stream_started = Instant::now();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            runtime.spawn(client(
                addr.clone(),
                messages.clone(),
                next.clone(),
                acked.clone(),
                deadline,
            ))
        })
        .collect();

    // The killer: SIGKILL at a random moment after each (re)start, then restart.
    let mut acked_at_kills = Vec::new();
    for _ in 0..KILLS {
        std::thread::sleep(Duration::from_millis(500 + rng.below(2_500)));
        let before = acked.load(Ordering::SeqCst);
        if before >= MESSAGES {
            break;
        }
        server.kill();
        acked_at_kills.push(before);
        let down = Instant::now();
        server = Server::start(&url, port, &log);
        eprintln!(
            "killed with {before} of {MESSAGES} acknowledged; restarted in {:.1} s",
            down.elapsed().as_secs_f64()
        );
    }

    let mut deliveries = Vec::new();
    for c in clients {
        match runtime.block_on(c) {
            Ok(d) => deliveries.extend(d),
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }
    let stream_time = stream_started.elapsed();
    // A last crash, with everything acknowledged: the store must open after it too.
    server.kill();
    drop(runtime);

    assert_eq!(
        acked_at_kills.len(),
        KILLS,
        "the stream ended before every kill ({acked_at_kills:?}); send more messages"
    );
    assert_eq!(deliveries.len(), MESSAGES, "every message acknowledged");
    let resent = deliveries.iter().filter(|d| d.attempts > 1).count();
    assert!(
        resent > 0,
        "no kill interrupted a message in flight: the crashes tested nothing"
    );

    let store = open(&url);

    // Versions per resource, from the change log.
    let changes = store.changes(0, usize::MAX >> 1).unwrap();
    let mut versions: HashMap<(String, String), usize> = HashMap::new();
    for c in &changes {
        *versions.entry((c.rtype.clone(), c.id.clone())).or_default() += 1;
    }
    let written_once = |rtype: &str, id: &str| versions.get(&(rtype.into(), id.into())) == Some(&1);

    // One Patient per MRN, written once.
    let mut patient_of_mrn = HashMap::new();
    for p in 0..PATIENTS {
        let page = search(
            &*store,
            "Patient",
            &format!("identifier={MRN_SYSTEM}|{}&_total=accurate", mrn(p)),
        );
        assert_eq!(page.total, Some(1), "one Patient for MRN {}", mrn(p));
        let id = page.matches[0].id.clone();
        assert!(written_once("Patient", &id), "Patient {id} written once");
        patient_of_mrn.insert(p, format!("Patient/{id}"));
    }
    assert_eq!(
        scan_all(&*store, "Patient").len(),
        PATIENTS,
        "no other Patient"
    );

    // One accepted record per message, at its stable id, written once; its focus is the
    // message's readings and panel, each written once, for the message's patient.
    let observations: HashMap<String, Value> = scan_all(&*store, "Observation")
        .into_iter()
        .map(|o| (o["id"].as_str().unwrap().to_string(), o))
        .collect();
    let mut from_messages = HashSet::new();
    let mut answered_from_record = 0;
    // Every acknowledged message has its audit record: the acknowledgement waited for it.
    let audited: HashSet<String> = scan_all(&*store, "AuditEvent")
        .iter()
        .flat_map(|e| e["entity"].as_array().cloned().unwrap_or_default())
        .filter_map(|x| x["description"].as_str().map(str::to_string))
        .collect();
    for d in &deliveries {
        let described = format!("HL7 v2 ORU^R01 {}", control_id(d.index));
        assert!(
            audited.contains(&described),
            "acknowledged message {} has no audit record",
            control_id(d.index)
        );
    }
    for d in &deliveries {
        let key = format!("{SENDER_KEY}|{}", control_id(d.index));
        let id = fhir::stable_id("msg", &key);
        let version = store
            .read(&store::Access::system(), "MessageHeader", &id)
            .unwrap()
            .unwrap_or_else(|| panic!("acknowledged message {key} has no record"));
        assert!(
            written_once("MessageHeader", &id),
            "record {key} written once"
        );
        let record: Value = serde_json::from_str(version.body.as_deref().unwrap()).unwrap();
        assert_eq!(
            record["meta"]["tag"][0]["code"], "accepted",
            "record {key} accepted"
        );
        if d.attempts > 1 && version.last_updated < d.acked_send_started {
            // Committed by a send the crash kept from being acknowledged.
            answered_from_record += 1;
        }
        let focus: Vec<&str> = record["focus"]
            .as_array()
            .unwrap_or_else(|| panic!("record {key} has no focus"))
            .iter()
            .map(|f| f["reference"].as_str().unwrap())
            .collect();
        assert_eq!(focus.len(), OBSERVATIONS_PER_MESSAGE, "focus of {key}");
        for f in focus {
            let oid = f
                .strip_prefix("Observation/")
                .unwrap_or_else(|| panic!("{key}: focus {f} is not an Observation"));
            assert!(written_once("Observation", oid), "{f} ({key}) written once");
            let o = observations
                .get(oid)
                .unwrap_or_else(|| panic!("{f} ({key}) is missing"));
            assert_eq!(
                o["subject"]["reference"].as_str(),
                Some(patient_of_mrn[&(d.index % PATIENTS)].as_str()),
                "{f} ({key}) is about its message's patient"
            );
            assert!(from_messages.insert(oid.to_string()), "{f} in two records");
        }
    }
    assert_eq!(
        scan_all(&*store, "MessageHeader").len(),
        MESSAGES,
        "one record per message, no other"
    );
    assert_eq!(
        from_messages.len(),
        MESSAGES * OBSERVATIONS_PER_MESSAGE,
        "each message's readings and panel"
    );
    // Nothing else came from the feed: every other Observation is an early-warning score.
    let scores = observations
        .iter()
        .filter(|(id, _)| !from_messages.contains(*id))
        .inspect(|(id, o)| {
            let tagged = o["meta"]["tag"].as_array().is_some_and(|t| {
                t.iter()
                    .any(|c| c["system"] == EARLY_WARNING_TAG && c["code"] == "early-warning")
            });
            assert!(
                tagged,
                "Observation/{id} is neither a message's nor a score"
            );
        })
        .count();
    let from_feed = search(
        &*store,
        "Observation",
        "_source=urn:tend:hl7v2:PHILIPS-IX:WARD3E&_summary=count",
    )
    .total;
    assert_eq!(
        from_feed,
        Some(MESSAGES * OBSERVATIONS_PER_MESSAGE),
        "Observations by the feed's source"
    );
    drop(store);

    eprintln!(
        "{MESSAGES} messages over {CLIENTS} connections in {:.1} s, {KILLS} kills at {acked_at_kills:?} \
         acknowledged; {resent} resent, {answered_from_record} of them committed before the \
         crash and answered from the record; {} readings, {scores} score Observations; \
         {:.1} s in all",
        stream_time.as_secs_f64(),
        from_messages.len(),
        started.elapsed().as_secs_f64()
    );
}
