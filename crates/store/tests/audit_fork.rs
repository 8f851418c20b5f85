//! One audit chain per database, however many processes write to it: two stores opened on
//! the same database (a running server and `tend users token` beside it) append their
//! AuditEvents alternately, and the chain still verifies from its first event to its last.

use std::sync::Arc;

use serde_json::json;
use store::Store;

fn options() -> store::Options {
    store::Options {
        clock: Arc::new(store::SystemClock),
        indexer: Arc::new(search::Indexer::new(search::Registry::r4()).unwrap()),
        readers: 1,
    }
}

fn event(id: String) -> serde_json::Value {
    json!({"resourceType": "AuditEvent", "id": id,
        "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-event-type", "code": "rest"},
        "action": "R", "recorded": "2026-12-06T00:00:00Z", "outcome": "0",
        "agent": [{"who": {"display": "tester"}, "requestor": true}],
        "source": {"observer": {"display": "Tend"}}})
}

fn forks(url: &str) {
    let a = store::open(url, options()).unwrap();
    let b = store::open(url, options()).unwrap();
    for i in 0..40 {
        let (s, name): (&Arc<dyn Store>, &str) = if i % 3 == 0 { (&b, "b") } else { (&a, "a") };
        s.audit_durable(vec![event(format!("{name}{i}"))]).unwrap();
    }
    // Both at once, too.
    std::thread::scope(|scope| {
        for (s, name) in [(&a, "a"), (&b, "b")] {
            scope.spawn(move || {
                for i in 0..30 {
                    s.audit_durable(vec![event(format!("{name}-c{i}"))])
                        .unwrap();
                }
            });
        }
    });
    let (hits, _) = a.scan("AuditEvent", 0, 1_000).unwrap();
    let report = store::audit::verify(hits.iter().map(|h| h.body.as_str()));
    assert_eq!(report.broken, None);
    assert_eq!(report.linked, 100);
    assert_eq!(report.head.unwrap().sequence, 100);
}

#[test]
fn two_stores_on_one_sqlite_database_keep_one_chain() {
    let dir = tempfile::tempdir().unwrap();
    forks(&format!(
        "sqlite://{}",
        dir.path().join("fork.db").display()
    ));
}

#[test]
fn two_stores_on_one_postgres_database_keep_one_chain() {
    let pg = store::TempPostgres::start().expect("PostgreSQL (initdb, pg_ctl) is installed");
    forks(&pg.url());
}
