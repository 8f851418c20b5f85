//! The one loop every service that follows the change log runs on (early warning, care gaps,
//! the live event hub, and every service after them).
//!
//! A [`Consumer`] says how to handle what is new; the [`Runner`] owns everything around it:
//! the thread, stopping, waiting for the next commit instead of polling, backing off when a
//! step fails, publishing progress for callers that wait on it, and, for consumers that
//! write, a lease that lets one process per database run them (a second node on the same
//! PostgreSQL database stands by and takes over when the holder stops or dies).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::{Progress, Store};

/// How long a lease lasts unless renewed: a holder that died is replaced after this.
pub const LEASE_TTL: Duration = Duration::from_secs(30);
/// How often the holder renews its lease (well inside [`LEASE_TTL`]).
const RENEW_EVERY: Duration = Duration::from_secs(10);
/// How often a standing-by runner asks for the lease.
const STANDBY_EVERY: Duration = Duration::from_secs(2);
/// The first and the longest wait after a failed step.
const BACKOFF_FIRST: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

/// A service that follows the change log.
pub trait Consumer: Send + Sync + 'static {
    /// Its name: the thread's, its checkpoint's and its lease's.
    fn name(&self) -> &str;
    /// Handle what is new since its position; returns how many change-log entries it read
    /// (0 when there was nothing new).
    fn step(&self) -> Result<usize, Box<dyn std::error::Error + Send + Sync>>;
    /// Its progress: the position handled so far, with a wait for callers that need a
    /// position handled (the HL7 feed waits for scores before it acknowledges).
    fn progress(&self) -> &Progress;
    /// Whether only one process per database may run it (true for consumers that write and
    /// keep a checkpoint; false for ones that only tell this process's listeners).
    fn exclusive(&self) -> bool {
        true
    }
    /// The longest wait for a commit when idle before looking again: commits by other
    /// processes are not signalled.
    fn idle_wait(&self) -> Duration {
        Duration::from_millis(500)
    }
}

/// A running consumer. Stopping it (or dropping the last handle after [`Runner::stop`])
/// ends the thread after its current step and gives the lease up.
pub struct Runner {
    state: Arc<State>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

struct State {
    stop: AtomicBool,
    holding: AtomicBool,
}

impl Runner {
    /// Start `consumer` on its own thread.
    pub fn start(store: Arc<dyn Store>, consumer: Arc<dyn Consumer>) -> Runner {
        let state = Arc::new(State {
            stop: AtomicBool::new(false),
            holding: AtomicBool::new(!consumer.exclusive()),
        });
        let s = state.clone();
        let thread = std::thread::Builder::new()
            .name(format!("tend-{}", consumer.name()))
            .spawn(move || run(&*store, &*consumer, &s))
            .expect("spawn a change-log consumer thread");
        Runner {
            state,
            thread: Mutex::new(Some(thread)),
        }
    }

    /// Ask the thread to stop after its current step; returns at once.
    pub fn stop(&self) {
        self.state.stop.store(true, Ordering::Relaxed);
    }

    /// Stop and wait for the thread to end (the lease is given up by then).
    pub fn join(&self) {
        self.stop();
        let handle = self.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(h) = handle {
            let _ = h.join();
        }
    }

    /// Whether this process runs the consumer now (holds its lease, or needs none).
    pub fn holds(&self) -> bool {
        self.state.holding.load(Ordering::Relaxed)
    }
}

/// Who this runner is, for the lease: the process and a start time, so a restarted process
/// is a new holder.
fn holder_id(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{name}:{}:{nanos:x}", std::process::id())
}

fn run(store: &dyn Store, consumer: &dyn Consumer, state: &State) {
    let name = consumer.name().to_string();
    let holder = holder_id(&name);
    let commits = store.commits();
    let mut renewed: Option<Instant> = None;
    let mut failures = 0u32;
    while !state.stop.load(Ordering::Relaxed) {
        if consumer.exclusive() && renewed.is_none_or(|t| t.elapsed() >= RENEW_EVERY) {
            let ttl = LEASE_TTL.as_millis() as i64;
            match store.lease(&name, &holder, ttl) {
                Ok(true) => {
                    if !state.holding.swap(true, Ordering::Relaxed) {
                        tracing::info!(consumer = %name, "running here (lease taken)");
                    }
                    renewed = Some(Instant::now());
                }
                Ok(false) => {
                    if state.holding.swap(false, Ordering::Relaxed) {
                        tracing::warn!(consumer = %name, "another process took over");
                    }
                    renewed = None;
                    // Another process runs it: follow its saved position, so callers here
                    // waiting on progress see the work done there.
                    if let Ok(at) = store.checkpoint(&name) {
                        consumer.progress().mark(at);
                    }
                    pause(state, STANDBY_EVERY);
                    continue;
                }
                Err(e) => {
                    tracing::warn!(consumer = %name, error = %e, "cannot take the lease");
                    renewed = None;
                    pause(state, backoff(&mut failures));
                    continue;
                }
            }
        }
        match consumer.step() {
            Ok(0) => {
                failures = 0;
                commits.wait_after(consumer.progress().get(), consumer.idle_wait());
            }
            Ok(_) => failures = 0,
            Err(e) => {
                let wait = backoff(&mut failures);
                tracing::warn!(
                    consumer = %name,
                    error = %e,
                    retry_ms = wait.as_millis() as u64,
                    "a step failed; retrying"
                );
                pause(state, wait);
            }
        }
    }
    if consumer.exclusive() && state.holding.swap(false, Ordering::Relaxed) {
        if let Err(e) = store.lease(&name, &holder, 0) {
            tracing::warn!(consumer = %name, error = %e, "cannot give the lease up");
        }
    }
}

/// The wait after one more failure: doubling from [`BACKOFF_FIRST`] up to [`BACKOFF_MAX`].
fn backoff(failures: &mut u32) -> Duration {
    let wait = BACKOFF_FIRST.saturating_mul(1 << (*failures).min(10));
    *failures = failures.saturating_add(1);
    wait.min(BACKOFF_MAX)
}

/// Sleep up to `d`, waking early when asked to stop.
fn pause(state: &State, d: Duration) {
    let until = Instant::now() + d;
    while !state.stop.load(Ordering::Relaxed) {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        std::thread::sleep(left.min(Duration::from_millis(100)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_limit() {
        let mut f = 0;
        let waits: Vec<u64> = (0..9).map(|_| backoff(&mut f).as_millis() as u64).collect();
        assert_eq!(
            waits,
            [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]
        );
    }
}
