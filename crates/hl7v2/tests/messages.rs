//! Every message in `test_data/messages/*.hl7` against the expected outcome beside it
//! (`*.json`: the acknowledgement code, the problems with their positions, and the FHIR
//! resources). `UPDATE_EXPECT=1 cargo test -p hl7v2` rewrites the expectations; review the
//! diff. The shared sample messages are parsed and mapped too: never a panic, and every
//! ORU either maps or names its problems.

use std::path::Path;

use fhir::stable_id;
use hl7v2::{apply_adt, map_adt, map_oru, Inbound, MappingConfig};
use serde_json::{json, Value};

fn config() -> MappingConfig {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data/local-codes.tsv"),
    )
    .unwrap();
    MappingConfig {
        local_codes: MappingConfig::parse_local_codes(&text).unwrap(),
        ..MappingConfig::default()
    }
}

fn outcome(bytes: &[u8], cfg: &MappingConfig) -> Value {
    let m = match Inbound::parse(bytes) {
        Ok(m) => m,
        Err(r) => return json!({"ack": "AR", "problems": [r.diagnostic.to_string()]}),
    };
    if m.header.message_code == "ADT" {
        return match map_adt(&m, cfg) {
            Ok(adt) => {
                let patient_ref = format!("Patient/{}", stable_id("pat", &adt.patient_condition));
                json!({
                    "ack": "AA",
                    "key": m.key(),
                    "event": m.header.trigger,
                    "patient": adt.patient,
                    "patientCondition": adt.patient_condition,
                    "mergeFrom": adt.merge_from,
                    "locations": adt.place.as_ref().map(|p| std::iter::once(p.ward.clone()).chain(p.bed.clone()).collect::<Vec<_>>()),
                    "encounter": apply_adt(None, &adt, &patient_ref),
                })
            }
            Err(errors) => {
                json!({"ack": "AE", "problems": errors.iter().map(|e| e.to_string()).collect::<Vec<_>>()})
            }
        };
    }
    if m.header.message_code != "ORU" {
        return json!({"ack": "AR", "problems": ["not an ORU or ADT message"]});
    }
    match map_oru(&m, cfg) {
        Ok(mapped) => json!({
            "ack": "AA",
            "key": m.key(),
            "problems": mapped.warnings.iter().map(|w| format!("warning {w}")).collect::<Vec<_>>(),
            "resources": mapped.writes.iter().map(|w| json!({"fullUrl": w.full_url, "ifNoneExist": w.if_none_exist, "resource": w.resource})).collect::<Vec<_>>(),
        }),
        Err(errors) => {
            json!({"ack": "AE", "problems": errors.iter().map(|e| e.to_string()).collect::<Vec<_>>()})
        }
    }
}

#[test]
fn messages_map_as_expected() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data/messages");
    let update = std::env::var("UPDATE_EXPECT").is_ok();
    let cfg = config();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "hl7"))
        .collect();
    files.sort();
    assert!(files.len() >= 7);
    let mut failures = Vec::new();
    for f in &files {
        let got = outcome(&std::fs::read(f).unwrap(), &cfg);
        let expect_path = f.with_extension("json");
        if update {
            std::fs::write(
                &expect_path,
                serde_json::to_string_pretty(&got).unwrap() + "\n",
            )
            .unwrap();
            continue;
        }
        let want: Value = std::fs::read_to_string(&expect_path)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_else(|| {
                panic!(
                    "{}: no expectation (run with UPDATE_EXPECT=1)",
                    expect_path.display()
                )
            });
        if got != want {
            failures.push(format!("{}:\n got {}\nwant {}", f.display(), got, want));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn shared_samples_never_panic() {
    let dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/hl7v2-samples/samples");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        panic!("the shared HL7 v2 samples are missing at {}", dir.display());
    };
    let cfg = MappingConfig::default();
    let (mut parsed, mut oru) = (0, 0);
    for e in entries {
        let path = e.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        if let Ok(m) = Inbound::parse(&bytes) {
            parsed += 1;
            if m.header.message_code == "ORU" {
                oru += 1;
                let _ = map_oru(&m, &cfg);
            }
        }
        // Truncations and byte flips of real messages: never a panic.
        for cut in [1, bytes.len() / 3, bytes.len() / 2] {
            let _ = Inbound::parse(&bytes[..cut.min(bytes.len())]).map(|m| map_oru(&m, &cfg));
        }
        let mut flipped = bytes.clone();
        for i in (0..flipped.len()).step_by(7) {
            flipped[i] = b"|^~\\&\r\nX"[i % 8];
        }
        let _ = Inbound::parse(&flipped).map(|m| map_oru(&m, &cfg));
    }
    println!("{parsed} shared samples parsed, {oru} ORU mapped or explained");
    assert!(parsed >= 130, "{parsed}");
}

/// An ORU^R01 with `obx` laboratory results (generated: one OBX a result).
fn oru_with_results(obx: usize) -> Vec<u8> {
    let mut m = String::from(
        "MSH|^~\\&|LIS|RIVERBEND LAB|TEND|RIVERBEND|20261124101500||ORU^R01|LAB-BIG|P|2.5.1\r\
         PID|1||MRN001234^^^RIVERBEND^MR||Okafor^Grace||19480312|F\r\
         OBR|1|ORD890|LAB890|58410-2^CBC panel^LN|||20261124093000\r",
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

/// A message with more OBX than [`hl7v2::MAX_OBX`] is refused before anything is mapped,
/// its acknowledgement naming the first OBX past the limit; one at the limit maps.
#[test]
fn results_per_message_are_bounded() {
    let cfg = config();
    let at = Inbound::parse(&oru_with_results(hl7v2::MAX_OBX)).unwrap();
    let mapped = map_oru(&at, &cfg).unwrap();
    assert_eq!(mapped.labs, hl7v2::MAX_OBX);

    let past = Inbound::parse(&oru_with_results(hl7v2::MAX_OBX + 1)).unwrap();
    let errors = map_oru(&past, &cfg).unwrap_err();
    assert_eq!(errors.len(), 1);
    let e = &errors[0];
    assert_eq!(
        (e.segment.as_str(), e.sequence),
        ("OBX", hl7v2::MAX_OBX + 1)
    );
    assert!(e.message.contains("at most 500 OBX"), "{}", e.message);
    let ack = hl7v2::ack::build(&past.header, hl7v2::AckCode::Ae, &errors, "20261124101600");
    assert!(
        ack.contains("\rERR||OBX^501^^^|100^Segment sequence error^HL70357|E|"),
        "{ack}"
    );

    // 20,000 results (700 KB) are refused at once, not mapped.
    let huge = oru_with_results(20_000);
    assert!(huge.len() > 700_000);
    let started = std::time::Instant::now();
    let huge = Inbound::parse(&huge).unwrap();
    assert_eq!(map_oru(&huge, &cfg).unwrap_err()[0].sequence, 501);
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
}
