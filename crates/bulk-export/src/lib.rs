//! FHIR Bulk Data export (<https://hl7.org/fhir/uv/bulkdata/export.html>, v2): the
//! asynchronous `$export` at system, Patient and Group level.
//!
//! - [`request`] reads and checks the kick-off's parameters (pure).
//! - [`Exports`] keeps the jobs (in the store's keyed records, so a status survives a
//!   restart), runs each on its own thread as the caller who kicked it off (the store
//!   decides what that caller reaches, in every query), writes NDJSON files into the job's
//!   directory, and answers status, cancellation and file requests, for the job's owner only.
//! - [`manifest`] shapes the completion manifest and the progress a client is told.
//!
//! A job reflects the record at its kick-off (the newest change-log position then, whose
//! commit time is the manifest's `transactionTime`): a resource changed while it runs is
//! left for the next export with `_since`. The process running a job records its progress
//! every few seconds in the job's record, so any Tend process on the same database answers
//! its status; a job whose process fell silent is reported failed, with the reason, and the
//! client kicks it off again. Files are removed [`Config::keep_hours`] after the job
//! finished, and at once when the client deletes the job.

pub mod job;
pub mod manifest;
pub mod request;
mod run;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex};

use access::{Access, Principal, Via};
use store::{Clock, Store, StoreError};

pub use job::{Job, Output, State};
pub use request::{parse, Level, Request, TypeFilter, Types};

/// The crate's error type.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A kick-off parameter Tend cannot honour.
    #[error("{message}")]
    Parameter { parameter: String, message: String },
    /// No such job for this caller, or no such file in it.
    #[error("{0}")]
    NotFound(String),
    /// The caller may not export this.
    #[error("{0}")]
    Forbidden(String),
    /// Too many exports at once for this caller.
    #[error("{0}")]
    Busy(String),
    /// The job is not complete yet (its files are not ready).
    #[error("the export is not complete yet")]
    NotReady,
    /// The client deleted the job while it ran.
    #[error("the export was cancelled")]
    Cancelled,
    #[error("the export files could not be written or read: {0}")]
    Io(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How exports run.
#[derive(Debug, Clone)]
pub struct Config {
    /// Most resources in one file. A download's audit record names every patient in the
    /// file, so this also bounds the size of one audit record.
    pub file_resources: usize,
    /// Resources read from the store per query.
    pub page: usize,
    /// Exports running at once; more wait in the queue.
    pub exporters: usize,
    /// Unfinished exports one caller may have at once.
    pub per_owner: usize,
    /// Hours a finished job's files are kept.
    pub keep_hours: i64,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            file_resources: 10_000,
            page: 1000,
            exporters: 2,
            per_owner: 2,
            keep_hours: 24,
        }
    }
}

/// How often a running job records its progress (ms), and how long without it before the
/// job is known to have stopped with its process (another process may be running it).
const BEAT_MS: i64 = 2_000;
const SILENT_MS: i64 = 30_000;

/// The reason a job that was running when Tend stopped is given.
pub const RESTARTED: &str =
    "Tend restarted while this export ran; kick the export off again to have it";

/// A file ready to download: where it is, and the patients it holds (for the audit record).
#[derive(Debug, Clone)]
pub struct File {
    pub path: PathBuf,
    pub patients: Vec<String>,
    /// The resource type of its lines (`OperationOutcome` for the file naming ignored
    /// parameters).
    pub rtype: String,
}

/// What a status request finds.
#[derive(Debug, Clone)]
pub struct Status {
    pub job: Job,
    /// Plain words for `X-Progress` while the job runs.
    pub progress: String,
}

/// The export service.
pub struct Exports {
    store: Arc<dyn Store>,
    root: PathBuf,
    config: Config,
    clock: Arc<dyn Clock>,
    live: Mutex<HashMap<String, Arc<run::Live>>>,
    /// Free exporter slots, and the wait for one.
    slots: (Mutex<usize>, Condvar),
}

/// The key a job's owner is known by: services and people never share one.
pub fn owner_of(p: &Principal) -> String {
    match p.via {
        Via::Smart | Via::CdsHooks => format!("client:{}", p.id),
        Via::Session | Via::ApiToken => format!("user:{}", p.id),
    }
}

impl Exports {
    /// The service over `store`, writing files under `root` (created, readable by Tend's
    /// user alone). Jobs left running by a previous process are reported failed; expired
    /// ones are removed.
    pub fn open(
        store: Arc<dyn Store>,
        root: &Path,
        config: Config,
        clock: Arc<dyn Clock>,
    ) -> Result<Arc<Exports>, Error> {
        std::fs::create_dir_all(root).map_err(|e| Error::Io(e.to_string()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| Error::Io(e.to_string()))?;
        }
        let exports = Arc::new(Exports {
            store,
            root: root.to_path_buf(),
            slots: (Mutex::new(config.exporters.max(1)), Condvar::new()),
            config,
            clock,
            live: Mutex::new(HashMap::new()),
        });
        let now = exports.clock.now_ms();
        for mut job in exports.jobs()? {
            // Another process on the same database may be running it: only a silent job
            // stopped with its process.
            if !job.finished() && now - job.heartbeat > SILENT_MS {
                job.state = State::Failed(RESTARTED.into());
                job.finished = Some(now);
                let _ = std::fs::remove_dir_all(run::job_dir(&exports.root, &job.id));
                job.outputs.clear();
                exports.save(&job)?;
            }
        }
        exports.sweep()?;
        Ok(exports)
    }

    fn jobs(&self) -> Result<Vec<Job>, Error> {
        Ok(self
            .store
            .keyed_list(job::SPACE)?
            .into_iter()
            .filter_map(|(_, v)| serde_json::from_str(&v).ok())
            .collect())
    }

    fn save(&self, job: &Job) -> Result<(), Error> {
        let value = serde_json::to_string(job).map_err(|e| Error::Io(e.to_string()))?;
        self.store.keyed_put(
            vec![(job::SPACE.into(), job.id.clone(), Some(value))],
            vec![],
        )?;
        Ok(())
    }

    fn forget(&self, id: &str) -> Result<(), Error> {
        self.store
            .keyed_put(vec![(job::SPACE.into(), id.to_string(), None)], vec![])?;
        let _ = std::fs::remove_dir_all(run::job_dir(&self.root, id));
        Ok(())
    }

    /// Remove finished jobs older than the keeping time, with their files.
    pub fn sweep(&self) -> Result<(), Error> {
        let cutoff = self.clock.now_ms() - self.config.keep_hours * 3_600_000;
        for job in self.jobs()? {
            if job.finished.is_some_and(|f| f < cutoff) {
                self.forget(&job.id)?;
            }
        }
        Ok(())
    }

    /// When a finished job's files go (ms).
    pub fn expires(&self, job: &Job) -> Option<i64> {
        job.finished.map(|f| f + self.config.keep_hours * 3_600_000)
    }

    /// Accept an export for `owner`, to run as `access`. Checks what can be checked before
    /// accepting: the types the caller may read, the group (it must exist and be in reach),
    /// and how many exports the caller already has.
    pub fn kick_off(
        self: &Arc<Self>,
        owner: &Principal,
        access: Arc<Access>,
        request: Request,
        request_url: String,
    ) -> Result<Job, Error> {
        self.sweep()?;
        if let Some(types) = &request.types {
            if let Some(t) = types.iter().find(|t| !access.may_type(t, false)) {
                return Err(Error::Forbidden(format!(
                    "{} may not read {t} resources, so cannot export them",
                    owner.name
                )));
            }
        }
        if let Level::Group(g) = &request.level {
            run::members(&*self.store, &access, g)?;
        }
        let key = owner_of(owner);
        let now = self.clock.now_ms();
        let open = self
            .jobs()?
            .into_iter()
            .filter(|j| j.owner == key && !j.finished() && now - j.heartbeat <= SILENT_MS)
            .count();
        if open >= self.config.per_owner {
            return Err(Error::Busy(format!(
                "{open} exports of yours are still running; wait for them or delete one"
            )));
        }
        let (snapshot, transaction_time) = self.store.export_snapshot()?.unwrap_or((0, now));
        let job = Job {
            id: uuid::Uuid::new_v4().to_string(),
            owner: key,
            request,
            request_url,
            snapshot,
            transaction_time,
            created: now,
            state: State::Queued,
            outputs: Vec::new(),
            finished: None,
            exported: 0,
            current: None,
            heartbeat: now,
        };
        self.save(&job)?;
        let live = Arc::new(run::Live::default());
        self.lock_live().insert(job.id.clone(), live.clone());
        let me = self.clone();
        let started = job.clone();
        std::thread::Builder::new()
            .name(format!("export-{}", &job.id[..8]))
            .spawn(move || me.work(started, access, live))
            .map_err(|e| Error::Io(e.to_string()))?;
        Ok(job)
    }

    fn lock_live(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<run::Live>>> {
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// One job's thread: wait for a slot, run, record the outcome.
    fn work(self: Arc<Self>, mut job: Job, access: Arc<Access>, live: Arc<run::Live>) {
        {
            let (free, wait) = &self.slots;
            let mut n = free.lock().unwrap_or_else(|e| e.into_inner());
            while *n == 0 && !live.cancel.load(Ordering::Relaxed) {
                n = wait
                    .wait_timeout(n, std::time::Duration::from_millis(200))
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
                if self.clock.now_ms() - job.heartbeat >= BEAT_MS {
                    drop(n);
                    self.beat(&mut job, &live);
                    n = free.lock().unwrap_or_else(|e| e.into_inner());
                }
            }
            if live.cancel.load(Ordering::Relaxed) {
                self.lock_live().remove(&job.id);
                return;
            }
            *n -= 1;
        }
        job.state = State::Running;
        job.heartbeat = self.clock.now_ms();
        let outcome = self.save(&job).and_then(|_| {
            let dir = run::job_dir(&self.root, &job.id);
            let mut running = job.clone();
            let mut beat = || {
                if self.clock.now_ms() - running.heartbeat >= BEAT_MS {
                    self.beat(&mut running, &live);
                }
            };
            let outputs = run::run(
                &*self.store,
                &access,
                &job,
                &dir,
                &self.config,
                &live,
                &mut beat,
            )?;
            if !job.request.ignored.is_empty() {
                let line = manifest::ignored_outcome(&job).to_string() + "\n";
                std::fs::write(dir.join(manifest::IGNORED_FILE), line)
                    .map_err(|e| Error::Io(e.to_string()))?;
            }
            Ok(outputs)
        });
        {
            let (free, wait) = &self.slots;
            *free.lock().unwrap_or_else(|e| e.into_inner()) += 1;
            wait.notify_one();
        }
        let cancelled = live.cancel.load(Ordering::Relaxed);
        if cancelled || matches!(outcome, Err(Error::Cancelled)) {
            let _ = self.forget(&job.id);
            self.lock_live().remove(&job.id);
            return;
        }
        job.finished = Some(self.clock.now_ms());
        match outcome {
            Ok(outputs) => {
                job.outputs = outputs;
                job.state = State::Complete;
                tracing::info!(job = %job.id, resources = job.exported(), "export complete");
            }
            Err(e) => {
                tracing::warn!(job = %job.id, error = %e, "export failed");
                let _ = std::fs::remove_dir_all(run::job_dir(&self.root, &job.id));
                job.state = State::Failed(match e {
                    Error::Store(StoreError::Forbidden { .. }) | Error::Forbidden(_) => {
                        "the export reached records its client may not read".into()
                    }
                    other => other.to_string(),
                });
            }
        }
        if let Err(e) = self.save(&job) {
            tracing::error!(job = %job.id, error = %e, "the export's outcome could not be saved");
        }
        // Saved before it leaves the live jobs, so a status request never finds it neither.
        self.lock_live().remove(&job.id);
    }

    /// Record a running or waiting job's progress; a job whose record is gone (deleted
    /// through another process) is cancelled.
    fn beat(&self, job: &mut Job, live: &run::Live) {
        match self.store.keyed_get(job::SPACE, &job.id) {
            Ok(None) => {
                live.cancel.store(true, Ordering::Relaxed);
                return;
            }
            Ok(Some(_)) => {}
            Err(e) => {
                tracing::warn!(job = %job.id, error = %e, "export progress not recorded");
                return;
            }
        }
        job.heartbeat = self.clock.now_ms();
        job.exported = live.exported.load(Ordering::Relaxed);
        job.current = live
            .current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Err(e) = self.save(job) {
            tracing::warn!(job = %job.id, error = %e, "export progress not recorded");
        }
    }

    /// The caller's job: `NotFound` when there is none (or it is someone else's).
    fn owned(&self, id: &str, owner: &Principal) -> Result<Job, Error> {
        let key = owner_of(owner);
        self.store
            .keyed_get(job::SPACE, id)?
            .and_then(|v| serde_json::from_str::<Job>(&v).ok())
            .filter(|j| j.owner == key)
            .ok_or_else(|| Error::NotFound(format!("no export '{id}' of yours")))
    }

    /// Where the caller's job stands.
    pub fn status(&self, id: &str, owner: &Principal) -> Result<Status, Error> {
        let job = self.owned(id, owner)?;
        Ok(self.standing(job))
    }

    /// A job as it stands now: this process's live count when it runs here, the running
    /// process's last word otherwise, failed when that process fell silent.
    fn standing(&self, mut job: Job) -> Status {
        let live = self.lock_live().get(&job.id).cloned();
        let (exported, current) = match &live {
            Some(l) => (
                l.exported.load(Ordering::Relaxed),
                l.current.lock().unwrap_or_else(|e| e.into_inner()).clone(),
            ),
            // Another process runs it (its last word), or it is finished.
            None => (job.exported(), job.current.clone()),
        };
        if live.is_none() && !job.finished() && self.clock.now_ms() - job.heartbeat > SILENT_MS {
            // No process has said anything of it for a while: it stopped with its process.
            // Say so rather than leave the client polling for ever.
            job.state = State::Failed(RESTARTED.into());
        }
        job.exported = exported;
        job.current = current;
        let progress = manifest::progress(&job);
        Status { job, progress }
    }

    /// Every job, newest first, as it stands (the administrators' view: who asked for what
    /// and how far it got; no record's content).
    pub fn list(&self) -> Result<Vec<Status>, Error> {
        self.sweep()?;
        let mut jobs = self.jobs()?;
        jobs.sort_by(|a, b| b.created.cmp(&a.created).then(a.id.cmp(&b.id)));
        Ok(jobs.into_iter().map(|j| self.standing(j)).collect())
    }

    /// Stop a job and remove its files, whoever's it is (an administrator's decision; the
    /// client's next status request finds nothing). Returns the job as it was.
    pub fn remove(&self, id: &str) -> Result<Job, Error> {
        let job = self
            .store
            .keyed_get(job::SPACE, id)?
            .and_then(|v| serde_json::from_str::<Job>(&v).ok())
            .ok_or_else(|| Error::NotFound(format!("no export '{id}'")))?;
        if let Some(l) = self.lock_live().get(id) {
            l.cancel.store(true, Ordering::Relaxed);
        }
        self.forget(id)?;
        Ok(job)
    }

    /// Cancel the caller's job (running or finished): it stops, and its files go.
    pub fn cancel(&self, id: &str, owner: &Principal) -> Result<(), Error> {
        self.owned(id, owner)?;
        if let Some(l) = self.lock_live().get(id) {
            l.cancel.store(true, Ordering::Relaxed);
        }
        self.forget(id)
    }

    /// One file of the caller's complete job.
    pub fn file(&self, id: &str, owner: &Principal, name: &str) -> Result<File, Error> {
        let job = self.owned(id, owner)?;
        if job.state != State::Complete {
            return Err(Error::NotReady);
        }
        let dir = run::job_dir(&self.root, id);
        if name == manifest::IGNORED_FILE && !job.request.ignored.is_empty() {
            return Ok(File {
                path: dir.join(name),
                patients: Vec::new(),
                rtype: "OperationOutcome".into(),
            });
        }
        let out = job
            .outputs
            .iter()
            .find(|o| o.file == name)
            .ok_or_else(|| Error::NotFound(format!("the export has no file '{name}'")))?;
        let patients = std::fs::read_to_string(dir.join(run::patients_file(name)))
            .map_err(|e| Error::Io(e.to_string()))?
            .lines()
            .map(str::to_string)
            .collect();
        Ok(File {
            path: dir.join(&out.file),
            patients,
            rtype: out.rtype.clone(),
        })
    }

    /// Wait until a job is finished (tests, `tend bench`).
    pub fn wait(&self, id: &str, owner: &Principal) -> Result<Job, Error> {
        loop {
            let s = self.status(id, owner)?;
            if s.job.finished() {
                return Ok(s.job);
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}
