//! The change-log consumer runner: one process per database runs a consumer (the lease),
//! a standing-by process takes over when the holder stops, nothing is handled twice, and a
//! failing step is retried.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use store::{Consumer, Entry, Mode, Progress, Runner, Store, WriteOp};

fn options() -> store::Options {
    store::Options {
        clock: Arc::new(store::SystemClock),
        indexer: Arc::new(search::Indexer::new(search::Registry::r4()).unwrap()),
        readers: 1,
    }
}

/// Counts the change-log entries it handles, saving its position like a real consumer.
struct Counter {
    store: Arc<dyn Store>,
    handled: AtomicUsize,
    fail_first: AtomicUsize,
    progress: Progress,
}

impl Counter {
    fn new(store: &Arc<dyn Store>, fail_first: usize) -> Arc<Counter> {
        Arc::new(Counter {
            store: store.clone(),
            handled: AtomicUsize::new(0),
            fail_first: AtomicUsize::new(fail_first),
            progress: Progress::default(),
        })
    }
}

impl Consumer for Counter {
    fn name(&self) -> &str {
        "counter"
    }
    fn step(&self) -> Result<usize, Box<dyn std::error::Error + Send + Sync>> {
        if self.fail_first.load(Ordering::SeqCst) > 0 {
            self.fail_first.fetch_sub(1, Ordering::SeqCst);
            return Err("the test says no".into());
        }
        let from = self.store.checkpoint("counter")?;
        let log = self.store.log(from, 7)?;
        let Some(last) = log.last().map(|v| v.seq) else {
            self.progress.mark(from);
            return Ok(0);
        };
        self.handled.fetch_add(log.len(), Ordering::SeqCst);
        self.store.save_checkpoint("counter", last)?;
        self.progress.mark(last);
        Ok(log.len())
    }
    fn progress(&self) -> &Progress {
        &self.progress
    }
    fn idle_wait(&self) -> Duration {
        Duration::from_millis(50)
    }
}

fn write_patients(s: &Arc<dyn Store>, from: usize, n: usize) -> i64 {
    let entries = (from..from + n)
        .map(|i| Entry {
            op: WriteOp::Update {
                rtype: "Patient".into(),
                id: format!("p{i}"),
                resource: json!({"resourceType": "Patient", "id": format!("p{i}")}),
                if_match: None,
            },
            full_url: None,
        })
        .collect();
    s.write(&store::Access::system(), entries, Mode::Independent)
        .unwrap();
    s.commits().latest()
}

fn until(what: &str, f: impl Fn() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < Duration::from_secs(20), "timed out: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn one_holder_per_database_and_a_takeover_that_handles_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("lease.db").display());
    let a = store::open(&url, options()).unwrap();
    let b = store::open(&url, options()).unwrap();

    // The lease itself.
    assert!(a.lease("x", "one", 60_000).unwrap());
    assert!(!b.lease("x", "two", 60_000).unwrap());
    assert!(a.lease("x", "one", 60_000).unwrap(), "the holder renews");
    assert!(a.lease("x", "one", 0).unwrap(), "the holder gives it up");
    assert!(b.lease("x", "two", 60_000).unwrap(), "free once given up");

    let ca = Counter::new(&a, 0);
    let ra = Runner::start(a.clone(), ca.clone());
    until("a takes the lease", || ra.holds());
    let cb = Counter::new(&b, 0);
    let rb = Runner::start(b.clone(), cb.clone());

    let upto = write_patients(&a, 0, 50);
    until("a handles the writes", || ca.progress.get() >= upto);
    until("b follows a's position", || {
        cb.progress.wait(upto, Duration::from_millis(100))
    });
    assert!(!rb.holds(), "b stands by while a runs");
    assert_eq!(cb.handled.load(Ordering::SeqCst), 0);

    ra.join();
    until("b takes over", || rb.holds());
    let upto = write_patients(&b, 50, 10);
    until("b handles the new writes", || cb.progress.get() >= upto);
    assert_eq!(
        ca.handled.load(Ordering::SeqCst) + cb.handled.load(Ordering::SeqCst),
        60,
        "every entry handled exactly once"
    );
    rb.join();
}

#[test]
fn a_failing_step_is_retried() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("retry.db").display());
    let s = store::open(&url, options()).unwrap();
    let upto = write_patients(&s, 0, 5);
    let c = Counter::new(&s, 2);
    let r = Runner::start(s.clone(), c.clone());
    until("handled after two failures", || c.progress.get() >= upto);
    assert_eq!(c.handled.load(Ordering::SeqCst), 5);
    r.join();
}
