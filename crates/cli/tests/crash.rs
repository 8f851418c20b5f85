//! A crash mid-import leaves the store consistent, and re-running the import neither loses
//! nor duplicates anything: `tend import` is killed with SIGKILL while it writes, the
//! store is reopened and checked, then the import runs to completion.

use std::io::Write;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use search::{Registry, SearchQuery};

fn open(url: &str) -> Arc<dyn store::Store> {
    let options = store::Options {
        clock: Arc::new(store::SystemClock),
        indexer: Arc::new(search::Indexer::new(Registry::r4()).unwrap()),
        readers: 2,
    };
    store::open(url, options).unwrap()
}

fn count(store: &dyn store::Store, rtype: &str, query: &str) -> usize {
    let params: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    store
        .search(
            &store::Access::system(),
            &SearchQuery::parse(Registry::r4(), rtype, &params).unwrap(),
        )
        .unwrap()
        .total
        .unwrap()
}

#[test]
fn killed_import_leaves_a_consistent_store() {
    let dir = std::env::temp_dir().join(format!("tend-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let n = 30_000;
    let file = dir.join("Patient.ndjson");
    let mut w = std::io::BufWriter::new(std::fs::File::create(&file).unwrap());
    for i in 0..n {
        writeln!(w, r#"{{"resourceType":"Patient","id":"k{i}","identifier":[{{"system":"urn:mrn","value":"{i}"}}],"name":[{{"family":"Crash{i}"}}]}}"#).unwrap();
    }
    w.flush().unwrap();
    drop(w);
    let db = dir.join("crash.db");
    let url = format!("sqlite://{}", db.display());

    let mut child = Command::new(env!("CARGO_BIN_EXE_tend"))
        .args(["import", file.to_str().unwrap(), "--database", &url])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once some commits are in.
    let started = Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(50));
        let wal = std::fs::metadata(dir.join("crash.db-wal"))
            .map(|m| m.len())
            .unwrap_or(0);
        if wal > 2_000_000 || started.elapsed() > Duration::from_secs(60) {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();

    let store = open(&url);
    let stored = store
        .counts()
        .unwrap()
        .into_iter()
        .find(|(t, _)| t == "Patient")
        .map(|(_, n)| n)
        .unwrap_or(0);
    assert!(
        stored < n,
        "the import finished before it could be killed ({stored}); make the file larger"
    );
    let changes = store.changes(0, 1_000_000).unwrap();
    assert_eq!(
        changes.len(),
        stored,
        "every stored resource has exactly one version in the change log"
    );
    assert_eq!(count(&*store, "Patient", "_summary=count"), stored);
    assert_eq!(
        count(&*store, "Patient", "identifier=urn:mrn|&_summary=count"),
        stored,
        "index rows match the resources"
    );
    drop(store);

    let status = Command::new(env!("CARGO_BIN_EXE_tend"))
        .args(["import", file.to_str().unwrap(), "--database", &url])
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let store = open(&url);
    assert_eq!(count(&*store, "Patient", "_summary=count"), n);
    assert_eq!(
        count(&*store, "Patient", "identifier=urn:mrn|&_summary=count"),
        n,
        "nothing duplicated"
    );
    assert_eq!(
        count(&*store, "Patient", "family:exact=Crash2999&_summary=count"),
        1
    );
    drop(store);

    // Bulk import and export are accesses to patient data too: each leaves an AuditEvent.
    let out = dir.join("export");
    let status = Command::new(env!("CARGO_BIN_EXE_tend"))
        .args(["export", "--out", out.to_str().unwrap(), "--database", &url])
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let store = open(&url);
    let (hits, _) = store.scan("AuditEvent", 0, 1000).unwrap();
    let bulk: Vec<&str> = hits
        .iter()
        .map(|h| h.body.as_str())
        .filter(|b| b.contains("\"bulk\""))
        .collect();
    assert!(
        bulk.iter().any(|b| b.contains("bulk export of")),
        "{bulk:?}"
    );
    assert!(
        bulk.iter().any(|b| b.contains("bulk import of")),
        "{bulk:?}"
    );
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}
