//! The feed end to end over a real socket: an ORU vitals message over MLLP becomes
//! Observations, a NEWS2 score and an alert before its `AA`; a resend is answered from
//! the record and writes nothing; a reused key with other content gets `AE`; bad content
//! gets `AE` naming segment and field, and so does a message with too many results (nothing
//! of it written); an unsupported version gets `AR`.

use std::sync::Arc;
use std::time::Duration;

use early_warning::EarlyWarning;
use interface::{Config, Feed, MessageQuery};
use search::{Indexer, Registry, SearchQuery};

fn message(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/../hl7v2/test_data/messages/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn count(store: &dyn store::Store, rtype: &str, q: &str) -> usize {
    let mut params: Vec<(String, String)> =
        form_urlencoded::parse(q.as_bytes()).into_owned().collect();
    params.push(("_summary".into(), "count".into()));
    store
        .search(
            &store::Access::system(),
            &SearchQuery::parse(Registry::r4(), rtype, &params).unwrap(),
        )
        .unwrap()
        .total
        .unwrap()
}

/// MSA-1 of an acknowledgement, and its whole text.
fn msa(ack: &[u8]) -> (String, String) {
    let text = String::from_utf8_lossy(ack).to_string();
    let code = text
        .split('\r')
        .find_map(|l| l.strip_prefix("MSA|"))
        .and_then(|rest| rest.split('|').next())
        .unwrap_or_default()
        .to_string();
    (code, text)
}

fn open_store(dir: &tempfile::TempDir) -> Arc<dyn store::Store> {
    let url = format!("sqlite://{}", dir.path().join("feed.db").display());
    let options = store::Options {
        clock: Arc::new(store::SystemClock),
        indexer: Arc::new(Indexer::new(Registry::r4()).unwrap()),
        readers: 2,
    };
    store::open(&url, options).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oru_over_mllp_is_scored_before_it_is_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir);
    // Early warning's now: minutes after the monitor's set (only recent sets alert).
    struct MinutesAfter;
    impl store::Clock for MinutesAfter {
        fn now_ms(&self) -> i64 {
            1_795_509_300_000 // 2026-11-24T08:35:00Z
        }
    }
    let ew = EarlyWarning::new(
        store.clone(),
        early_warning::Config::default(),
        Arc::new(MinutesAfter),
    );
    ew.start();
    let feed = Arc::new(Feed::new(
        store.clone(),
        Some(ew.clone()),
        Arc::new(store::SystemClock),
        Config::default(),
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let server = tokio::spawn(mllp::serve(
        listener,
        mllp::ListenerConfig::default(),
        feed,
        stopped,
    ));
    let mut client = mllp::Sender::connect(&addr, Duration::from_secs(30))
        .await
        .unwrap();

    // The patient was admitted (visit V0001 in progress on 3 East): early warning watches.
    let admit =
        "MSH|^~\\&|ADT|RIVERBEND|TEND|RIVERBEND|20261124080000||ADT^A01^ADT_A01|ADM-000001|P|2.6\r\
        PID|1||MRN001234^^^RIVERBEND&2.16.840.1.113883.3.9999&ISO^MR||Okafor^Grace^A||19480312|F\r\
        PV1|1|I|3EAST^07^A|||||||||||||||V0001|||||||||||||||||||||||||202611240800\r";
    let (code, ack) = msa(&client.send(admit.as_bytes()).await.unwrap());
    assert_eq!(code, "AA", "{ack}");
    let oru = message("oru-vitals-monitor.hl7");
    let (code, ack) = msa(&client.send(&oru).await.unwrap());
    assert_eq!(code, "CA", "MSH-15 AL asks for enhanced mode: {ack}");
    // Original mode: the same message without MSH-15/16.
    let original = String::from_utf8(oru.clone())
        .unwrap()
        .replace("|2.6|||AL|NE\r", "|2.6\r")
        .replace("MON-000123", "MON-000124");
    let (code, ack) = msa(&client.send(original.as_bytes()).await.unwrap());
    assert_eq!(code, "AA", "{ack}");
    assert!(ack.contains("MSA|AA|MON-000124"));
    // Scored before the AA: the score is already there.
    assert_eq!(
        count(
            &*store,
            "Observation",
            "code=http://snomed.info/sct|1104051000000101"
        ),
        2
    );
    assert_eq!(
        count(&*store, "Patient", ""),
        1,
        "the patient was created once from PID"
    );
    assert_eq!(
        count(&*store, "Observation", "code=http://loinc.org|85353-1"),
        2
    );
    let alerts = ew.alerts(None, None, false).unwrap();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].band, "high");
    let versions_before = store.commits().latest();

    // A resend: the same answer, nothing written.
    let (code2, ack2) = msa(&client.send(original.as_bytes()).await.unwrap());
    assert_eq!((code2.as_str(), ack2.as_str()), ("AA", ack.as_str()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        store.commits().latest(),
        versions_before,
        "a resend writes nothing"
    );

    // The same key with different content.
    let changed = original.replace("||24|", "||25|");
    let (code, ack) = msa(&client.send(changed.as_bytes()).await.unwrap());
    assert_eq!(code, "AE", "{ack}");
    assert!(ack.contains("205^Duplicate key identifier"));

    // Content errors name segment, sequence, field and component.
    let (code, ack) = msa(&client.send(&message("oru-bad-values.hl7")).await.unwrap());
    assert_eq!(code, "AE");
    assert!(
        ack.contains("ERR||OBX^1^5^1^1|102^Data type error^HL70357|E|"),
        "{ack}"
    );
    assert!(ack.contains("|OBX^3^3^1^1|101^"), "{ack}");

    // Unsupported version and type: AR.
    let (code, _) = msa(&client
        .send(&message("unsupported-version.hl7"))
        .await
        .unwrap());
    assert_eq!(code, "AR");
    let adt = b"MSH|^~\\&|PAS|RIVERBEND|TEND|RIVERBEND|20261124||SIU^S12|PAS-1|P|2.5\rPID|1||X1^^^RIVERBEND\r";
    let (code, ack) = msa(&client.send(adt).await.unwrap());
    assert_eq!(code, "AR", "{ack}");
    assert!(ack.contains("200^Unsupported message type"));

    // Every message is on record, searchable by outcome (the admission and two ORUs).
    assert_eq!(
        count(
            &*store,
            "MessageHeader",
            "_tag=https://tend.example.org/fhir/CodeSystem/hl7v2-outcome|accepted"
        ),
        3
    );
    assert_eq!(
        count(
            &*store,
            "MessageHeader",
            "_tag=https://tend.example.org/fhir/CodeSystem/hl7v2-outcome|error"
        ),
        1
    );

    // Labs: WBC feeds SIRS.
    let (code, ack) = msa(&client.send(&message("oru-lab-cbc.hl7")).await.unwrap());
    assert_eq!(code, "AA", "{ack}");
    assert_eq!(count(&*store, "DiagnosticReport", ""), 1);

    // Every message over MLLP left one AuditEvent: sender, address, patients, outcome.
    store.save_checkpoint("feed-test", 1).unwrap();
    let (hits, _) = store.scan("AuditEvent", 0, 1000).unwrap();
    let events: Vec<serde_json::Value> = hits
        .iter()
        .map(|h| serde_json::from_str(&h.body).unwrap())
        .collect();
    assert_eq!(events.len(), 9, "one per message sent");
    let patient = format!(
        "Patient/{}",
        store
            .search(
                &store::Access::system(),
                &SearchQuery::parse(Registry::r4(), "Patient", &[]).unwrap()
            )
            .unwrap()
            .matches[0]
            .id
    );
    let accepted = events
        .iter()
        .find(|e| {
            e["entity"].as_array().unwrap().iter().any(|x| {
                x["description"]
                    .as_str()
                    .is_some_and(|d| d.ends_with("MON-000124"))
            }) && e["outcomeDesc"] == "AA"
        })
        .expect("the accepted ORU");
    assert_eq!(accepted["outcome"], "0");
    assert_eq!(accepted["agent"][0]["network"]["address"], "127.0.0.1");
    assert!(accepted["agent"][0]["altId"]
        .as_str()
        .unwrap()
        .contains('^'));
    assert_eq!(accepted["entity"][0]["what"]["reference"], patient.as_str());
    assert!(events.iter().any(|e| e["outcomeDesc"]
        .as_str()
        .unwrap()
        .contains("resend answered from the record")));
    assert_eq!(events.iter().filter(|e| e["outcome"] == "4").count(), 4);

    stop.send(true).unwrap();
    drop(client);
    server.await.unwrap().unwrap();
    ew.stop();
}

fn adt(trigger: &str, id: &str, pid3: &str, pv1: &str, extra: &str) -> Vec<u8> {
    format!(
        "MSH|^~\\&|PAS|RIVERBEND|TEND|RIVERBEND|202611240900||ADT^{trigger}^ADT_A01|{id}|P|2.5.1\rEVN|{trigger}|202611240900\rPID|1||{pid3}^^^RIVERBEND^MR||Kowalski^Anna||19600101|F\r{pv1}{extra}"
    )
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adt_moves_patients_between_wards_and_merges_them() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir);
    let feed = Feed::new(
        store.clone(),
        None,
        Arc::new(store::SystemClock),
        Config::default(),
    );
    let read = |rtype: &str, id: &str| -> serde_json::Value {
        serde_json::from_str(
            &store
                .read(&store::Access::system(), rtype, id)
                .unwrap()
                .unwrap()
                .body
                .unwrap(),
        )
        .unwrap()
    };
    let pv1 = |bed: &str| {
        format!("PV1|1|I|3EAST^07^{bed}^RIVERBEND||||D123^Haddad^Omar||||||||||||V9001^^^RIVERBEND|||||||||||||||||||||||||202611240800\r")
    };
    // An update before the admission: the patient is created, no visit state is lost.
    let h = feed.handle(&adt("A08", "A-1", "MRN-77", "", ""));
    assert_eq!(h.code, "AA", "{}", h.ack);
    assert_eq!(count(&*store, "Patient", "identifier=MRN-77"), 1);
    let h = feed.handle(&adt("A01", "A-2", "MRN-77", &pv1("A"), ""));
    assert_eq!(h.code, "AA", "{}", h.ack);
    let enc = feed_encounter(&*store);
    assert_eq!(enc["status"], "in-progress");
    assert_eq!(enc["class"]["code"], "IMP");
    assert_eq!(enc["period"]["start"], "2026-11-24T08:00:00+00:00");
    assert_eq!(
        enc["participant"][0]["individual"]["display"],
        "Omar Haddad"
    );
    let active: Vec<&str> = enc["location"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["status"] == "active")
        .map(|l| l["location"]["display"].as_str().unwrap())
        .collect();
    assert_eq!(active, vec!["3EAST", "3EAST 07 A"]);
    // Transfer to another bed: history kept.
    let h = feed.handle(&adt("A02", "A-3", "MRN-77", &pv1("C"), ""));
    assert_eq!(h.code, "AA", "{}", h.ack);
    let enc = feed_encounter(&*store);
    let locs = enc["location"].as_array().unwrap();
    assert_eq!(locs.len(), 4);
    assert_eq!(
        locs.iter().filter(|l| l["status"] == "completed").count(),
        2
    );
    assert_eq!(locs[3]["location"]["display"], "3EAST 07 C");
    assert_eq!(locs[3]["period"]["start"], "2026-11-24T09:00:00+00:00");
    // The bed is part of the ward.
    let bed_id = locs[3]["location"]["reference"]
        .as_str()
        .unwrap()
        .trim_start_matches("Location/")
        .to_string();
    assert_eq!(
        read("Location", &bed_id)["partOf"]["reference"],
        locs[2]["location"]["reference"]
    );
    // Discharge, then cancel it.
    let h = feed.handle(&adt("A03", "A-4", "MRN-77", &pv1("C"), ""));
    assert_eq!(h.code, "AA", "{}", h.ack);
    assert_eq!(feed_encounter(&*store)["status"], "finished");
    let h = feed.handle(&adt("A13", "A-5", "MRN-77", &pv1("C"), ""));
    assert_eq!(h.code, "AA", "{}", h.ack);
    let enc = feed_encounter(&*store);
    assert_eq!(enc["status"], "in-progress");
    assert!(enc["period"].get("end").is_none());
    // A duplicate record of the patient with a result, merged into the first.
    let oru = b"MSH|^~\\&|LIS|LAB|TEND|RIVERBEND|202611241000||ORU^R01|L-1|P|2.5.1\rPID|1||MRN-DUP^^^RIVERBEND^MR||Kowalski^Ana\rOBX|1|NM|8867-4^HR^LN||80|/min|||||F|||202611241000\r";
    assert_eq!(feed.handle(oru).code, "AA");
    assert_eq!(count(&*store, "Patient", ""), 2);
    let h = feed.handle(&adt(
        "A40",
        "A-6",
        "MRN-77",
        "",
        "MRG|MRN-DUP^^^RIVERBEND^MR\r",
    ));
    assert_eq!(h.code, "AA", "{}", h.ack);
    let survivor = store
        .search(
            &store::Access::system(),
            &SearchQuery::parse(
                Registry::r4(),
                "Patient",
                &[("identifier".into(), "MRN-77".into())],
            )
            .unwrap(),
        )
        .unwrap()
        .matches[0]
        .id
        .clone();
    assert_eq!(
        count(
            &*store,
            "Observation",
            &format!("subject=Patient/{survivor}")
        ),
        2,
        "the result and its panel moved to the surviving patient"
    );
    assert_eq!(count(&*store, "Patient", "active=false"), 1);
    // An unsupported event.
    let h = feed.handle(&adt("A99", "A-7", "MRN-77", "", ""));
    assert_eq!(h.code, "AR", "{}", h.ack);
    assert!(h.ack.contains("201^Unsupported event code"), "{}", h.ack);
}

fn feed_encounter(store: &dyn store::Store) -> serde_json::Value {
    let q = SearchQuery::parse(
        Registry::r4(),
        "Encounter",
        &[("identifier".into(), "V9001".into())],
    )
    .unwrap();
    let page = store.search(&store::Access::system(), &q).unwrap();
    assert_eq!(page.matches.len(), 1);
    serde_json::from_str(&page.matches[0].body).unwrap()
}

#[test]
fn the_message_log_is_searchable_and_refused_messages_can_be_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir);
    let feed = Feed::new(
        store.clone(),
        None,
        Arc::new(store::SystemClock),
        Config::default(),
    );
    let oru = message("oru-vitals-monitor.hl7");
    assert_eq!(feed.handle(&oru).code, "CA");
    let bad = message("oru-bad-values.hl7");
    assert_eq!(feed.handle(&bad).code, "AE");
    let h = feed.handle(&adt("A08", "A-1", "MRN-9", "", ""));
    assert_eq!(h.code, "AA");
    assert_eq!(
        feed.handle(b"MSH|^~\\&|X|Y|TEND|Z|2026||SIU^S12|S-1|P|2.5\r")
            .code,
        "AR"
    );

    let all = feed
        .messages(&MessageQuery {
            count: 50,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(all.total, 4);
    let q = |f: fn(&mut MessageQuery)| {
        let mut q = MessageQuery {
            count: 50,
            ..Default::default()
        };
        f(&mut q);
        feed.messages(&q).unwrap()
    };
    let errors = q(|q| q.outcome = Some("error".into()));
    assert_eq!(errors.total, 1);
    let e = &errors.messages[0];
    assert_eq!(
        (e.message_type.as_str(), e.ack_code.as_str()),
        ("ORU^R01", "AE")
    );
    assert!(
        e.problems.iter().any(|p| p.contains("OBX")),
        "{:?}",
        e.problems
    );
    assert!(e.message.is_none(), "the list does not carry message text");
    assert_eq!(q(|q| q.message_type = Some("ORU^R01".into())).total, 2);
    assert_eq!(q(|q| q.message_type = Some("ADT^A08".into())).total, 1);
    assert_eq!(q(|q| q.message_type = Some("ADT^R01".into())).total, 0);
    assert_eq!(q(|q| q.message_type = Some("A08".into())).total, 1);
    assert_eq!(q(|q| q.sender = Some("PAS".into())).total, 1);
    assert_eq!(q(|q| q.outcome = Some("rejected".into())).total, 1);
    assert_eq!(q(|q| q.since = Some("2000-01-01".into())).total, 4);
    assert_eq!(q(|q| q.until = Some("2000-01-01".into())).total, 0);
    assert!(feed
        .messages(&MessageQuery {
            outcome: Some("lost".into()),
            ..Default::default()
        })
        .is_err());
    let by_key = q(|q| q.key = Some("PAS|RIVERBEND|A-1".into()));
    assert_eq!(by_key.total, 1);
    let adt_view = feed.message(&by_key.messages[0].id).unwrap();
    assert!(adt_view.message.as_deref().unwrap().starts_with("MSH|"));
    assert!(adt_view.ack.as_deref().unwrap().contains("MSA|AA|A-1"));
    assert!(adt_view.resources.iter().any(|r| r.starts_with("Patient/")));
    let page = q(|q| {
        q.count = 2;
        q.offset = 2;
    });
    assert_eq!((page.total, page.messages.len()), (4, 2));

    // Replay of an accepted message: answered from its record, nothing written.
    let accepted = q(|q| q.message_type = Some("ORU^R01".into()))
        .messages
        .into_iter()
        .find(|m| m.outcome == "accepted")
        .unwrap();
    let before = store.commits().latest();
    let r = feed.replay(&accepted.id).unwrap();
    assert_eq!((r.code, r.duplicate), ("CA", true));
    assert_eq!(store.commits().latest(), before);
    // Replay of a refused one: processed again (still wrong), the record keeps both.
    let r = feed.replay(&e.id).unwrap();
    assert_eq!((r.code, r.duplicate), ("AE", false));
    assert_eq!(feed.message(&e.id).unwrap().versions, 2);
    assert_eq!(
        feed.replay("no-such-record"),
        Err(interface::ReplayError::NotFound)
    );
}

#[test]
fn results_sent_before_the_admission_belong_to_its_encounter() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir);
    let feed = Feed::new(
        store.clone(),
        None,
        Arc::new(store::SystemClock),
        Config::default(),
    );
    let h = feed.handle(&message("oru-local-codes-and-visit.hl7"));
    assert_eq!(h.code, "AA", "{}", h.ack);
    assert!(
        h.ack.contains("103^Table value not found"),
        "unmapped local code warned: {}",
        h.ack
    );
    let pv1 = "PV1|1|I|ICU2^03^1^RIVERBEND||||C77^Moreau^Claire||||||||||||VN20261124-17^^^RIVERBEND^VN|||||||||||||||||||||||||202611240900\r";
    let admit = format!(
        "MSH|^~\\&|PAS|RIVERBEND|TEND|RIVERBEND|202611241030||ADT^A01^ADT_A01|PAS-9|P|2.5.1\rEVN|A01|202611241030\rPID|1||MRN004411^^^RIVERBEND^MR||Nguyen^Thi||19571102|F\r{pv1}"
    );
    let h = feed.handle(admit.as_bytes());
    assert_eq!(h.code, "AA", "{}", h.ack);
    let q = SearchQuery::parse(
        Registry::r4(),
        "Encounter",
        &[("identifier".into(), "VN20261124-17".into())],
    )
    .unwrap();
    let page = store.search(&store::Access::system(), &q).unwrap();
    assert_eq!(page.matches.len(), 1);
    let encounter = format!("Encounter/{}", page.matches[0].id);
    assert_eq!(
        count(&*store, "Observation", &format!("encounter={encounter}")),
        7,
        "six results and the panel link to the admission's encounter"
    );
    assert_eq!(
        count(&*store, "Patient", ""),
        1,
        "one patient, found by MRN"
    );
}

/// Copies of one message handled at once (a sender that timed out and resent on another
/// connection): one is processed, the others are answered from its record; nothing is
/// written twice.
#[test]
fn copies_in_flight_at_once_are_written_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir);
    let feed = Arc::new(Feed::new(
        store.clone(),
        None,
        Arc::new(store::SystemClock),
        Config::default(),
    ));
    let oru = message("oru-vitals-monitor.hl7");
    let handled: Vec<interface::Handled> = std::thread::scope(|s| {
        let threads: Vec<_> = (0..6)
            .map(|_| {
                let (feed, oru) = (feed.clone(), oru.clone());
                s.spawn(move || feed.handle(&oru))
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    });
    assert!(handled.iter().all(|h| h.code == "CA"));
    assert_eq!(handled.iter().filter(|h| !h.duplicate).count(), 1);
    let (versions, _) = store
        .history(
            &store::Access::system(),
            &store::HistoryQuery {
                scope: store::HistoryScope::System,
                since: None,
                count: 1000,
                offset: 0,
            },
        )
        .unwrap();
    let mut seen = std::collections::HashSet::new();
    for v in &versions {
        assert!(
            seen.insert(format!("{}/{}", v.rtype, v.id)),
            "{}/{} written twice",
            v.rtype,
            v.id
        );
    }
}

/// An ORU^R01 (control id `id`) with `obx` laboratory results, one OBX each.
fn oru_with_results(id: &str, obx: usize) -> Vec<u8> {
    let mut m = format!(
        "MSH|^~\\&|LIS|RIVERBEND LAB|TEND|RIVERBEND|20261124101500||ORU^R01|{id}|P|2.5.1\r\
         PID|1||MRN001234^^^RIVERBEND^MR||Okafor^Grace||19480312|F\r\
         OBR|1|ORD890|LAB890|58410-2^CBC panel^LN|||20261124093000\r"
    );
    for i in 1..=obx {
        m.push_str(&format!(
            "OBX|{i}|NM|718-7^Hemoglobin^LN||{}.{}|g/dL|12.0-16.0|N|||F\r",
            10 + i % 5,
            i % 10
        ));
    }
    m.into_bytes()
}

/// A message with more OBX than `hl7v2::MAX_OBX` is answered `AE` naming the first OBX past
/// the limit, recorded as an error, and writes nothing else; one at the limit is accepted.
#[test]
fn a_message_with_too_many_results_is_refused_whole() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir);
    let feed = Feed::new(
        store.clone(),
        None,
        Arc::new(store::SystemClock),
        Config::default(),
    );
    let h = feed.handle(&oru_with_results("LAB-PAST", hl7v2::MAX_OBX + 1));
    assert_eq!(h.code, "AE", "{}", h.ack);
    assert!(
        h.ack.contains("\rERR||OBX^501^^^|100^"),
        "the ERR names the first OBX past the limit: {}",
        h.ack
    );
    for rtype in ["Observation", "DiagnosticReport", "Patient"] {
        assert_eq!(count(&*store, rtype, ""), 0, "{rtype}");
    }
    let errors = feed
        .messages(&MessageQuery {
            outcome: Some("error".into()),
            count: 10,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(errors.total, 1);
    assert!(
        errors.messages[0]
            .problems
            .iter()
            .any(|p| p.contains("at most 500 OBX")),
        "{:?}",
        errors.messages[0].problems
    );

    let h = feed.handle(&oru_with_results("LAB-AT", hl7v2::MAX_OBX));
    assert_eq!(h.code, "AA", "{}", h.ack);
    assert_eq!(count(&*store, "Observation", ""), hl7v2::MAX_OBX);
    assert_eq!(count(&*store, "DiagnosticReport", ""), 1);
}
