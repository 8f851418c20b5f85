//! The tumour-board service over the store.
//!
//! It follows the change log (on `store::Runner`, checkpoint `tumour-board`): when a case
//! Task or a board's CareTeam changes, it writes the board's care relationship to each
//! patient concerned (`shape::case_team`: the board's members, active while a case is open),
//! so the members reach the patients they discuss through the same care relationships as
//! anyone (no page grants access). Everything else is read and written with the caller's own
//! access: boards, meetings and their cases, the case summary (the patient's compartment as
//! far as the caller reaches), referrals, scheduling, the recommendation and the outcome
//! told to the patient.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use search::{Registry, SearchQuery};
use serde_json::Value;
use store::{Access, Entry, Mode, Progress, Store, WriteOp};

use tumour_board::codes;
use tumour_board::recommendation::{self, Options, Recommendation};
use tumour_board::shape::{self, Board, Case, Meeting};
use tumour_board::summary::{self, CaseSummary};

use crate::Error;

/// The consumer's name (checkpoint, lease, thread).
pub const CONSUMER: &str = "tumour-board";
/// Change-log entries read per step.
const BATCH: usize = 500;

/// A meeting with its cases (those the caller reaches).
#[derive(Debug, Clone)]
pub struct MeetingCases {
    pub meeting: Meeting,
    pub board: Option<Board>,
    pub cases: Vec<Case>,
}

/// A recorded recommendation: its CarePlan, and each step's words and status.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub plan: Value,
    pub steps: Vec<(String, String)>,
}

/// The service.
pub struct TumourBoard {
    store: Arc<dyn Store>,
    clock: Arc<dyn store::Clock>,
    processed: Progress,
    stepping: Mutex<()>,
    runner: OnceLock<store::Runner>,
}

fn q(rtype: &str, params: &[(&str, String)]) -> Result<SearchQuery, Error> {
    let params: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    SearchQuery::parse(Registry::r4(), rtype, &params).map_err(|e| Error::Invalid(e.to_string()))
}

fn body(h: &store::Hit) -> Value {
    serde_json::from_str(&h.body).unwrap_or_default()
}

impl TumourBoard {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn store::Clock>) -> Arc<TumourBoard> {
        Arc::new(TumourBoard {
            store,
            clock,
            processed: Progress::default(),
            stepping: Mutex::new(()),
            runner: OnceLock::new(),
        })
    }

    /// Follow the record on the store's consumer runner.
    pub fn start(self: &Arc<Self>) {
        let runner = store::Runner::start(self.store.clone(), self.clone());
        let _ = self.runner.set(runner);
    }

    /// Stop following the record.
    pub fn stop(&self) {
        if let Some(r) = self.runner.get() {
            r.stop();
        }
    }

    fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.clock.now_ms()).unwrap_or_default()
    }

    fn instant(t: DateTime<Utc>) -> String {
        t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    }

    /// Follow the change log once to its end (tests, start-up).
    pub fn catch_up(&self) -> Result<(), Error> {
        while self.step()? > 0 {}
        Ok(())
    }

    /// Wait until the position `seq` is handled (or `timeout` passes).
    pub fn wait_processed(&self, seq: i64, timeout: Duration) {
        self.processed.wait(seq, timeout);
    }

    /// Handle what is new in the change log: the boards' care relationships of every patient
    /// whose cases changed, or of every patient of a board whose members changed.
    pub fn step(&self) -> Result<usize, Error> {
        let _one = self
            .stepping
            .lock()
            .map_err(|_| Error::Invalid("poisoned".into()))?;
        let from = self.store.checkpoint(CONSUMER)?;
        // Positions only; the bodies of the few Tasks and CareTeams among them are read.
        let log = self.store.changes(from, BATCH)?;
        let Some(last) = log.last().map(|c| c.seq) else {
            self.processed.mark(from);
            return Ok(0);
        };
        let mut patients = std::collections::BTreeSet::new();
        let mut boards = std::collections::BTreeSet::new();
        let system = Access::system();
        for c in log
            .iter()
            .filter(|c| matches!(c.rtype.as_str(), "Task" | "CareTeam"))
        {
            // A deletion has no body: the version before it says whose it was.
            let version = if c.op == store::Op::Delete {
                c.version - 1
            } else {
                c.version
            };
            let Some(v) = self.store.vread(&system, &c.rtype, &c.id, version)? else {
                continue;
            };
            let Some(r) = v
                .body
                .as_deref()
                .and_then(|b| serde_json::from_str::<Value>(b).ok())
            else {
                continue;
            };
            match c.rtype.as_str() {
                "Task" => {
                    if let Some(case) = shape::case(&r, v.version) {
                        patients.insert(case.patient);
                    }
                }
                _ if shape::board(&r).is_some() => {
                    boards.insert(format!("CareTeam/{}", c.id));
                }
                _ => {}
            }
        }
        for b in &boards {
            for c in self.cases(&system, &[("owner", b.clone())])? {
                patients.insert(c.patient);
            }
        }
        let mut entries = Vec::new();
        for p in &patients {
            entries.extend(self.teams_of(p)?);
        }
        self.store
            .write_consumed(entries, Mode::Atomic, CONSUMER, last)?
            .into_iter()
            .collect::<Result<Vec<_>, _>>()?;
        self.processed.mark(last);
        Ok(log.len())
    }

    /// The board care teams `patient` should have, where they differ from what is stored.
    fn teams_of(&self, patient: &str) -> Result<Vec<Entry>, Error> {
        let system = Access::system();
        let cases = self.cases(&system, &[("patient", format!("Patient/{patient}"))])?;
        let mut by_board: std::collections::BTreeMap<String, bool> = Default::default();
        for c in &cases {
            *by_board.entry(c.board.clone()).or_default() |= c.open();
        }
        let mut out = Vec::new();
        for (board_ref, open) in by_board {
            let id = board_ref.trim_start_matches("CareTeam/");
            let Some(board) = self
                .store
                .read(&system, "CareTeam", id)?
                .and_then(|v| v.body)
                .and_then(|b| serde_json::from_str::<Value>(&b).ok())
                .and_then(|b| shape::board(&b))
            else {
                continue;
            };
            let want = shape::case_team(&board, patient, open);
            let team_id = shape::case_team_id(&board.id, patient);
            let have = self
                .store
                .read(&system, "CareTeam", &team_id)?
                .and_then(|v| v.body)
                .and_then(|b| serde_json::from_str::<Value>(&b).ok());
            let same = have.as_ref().is_some_and(|h| {
                h["status"] == want["status"] && h["participant"] == want["participant"]
            });
            if !same {
                out.push(Entry {
                    full_url: None,
                    op: WriteOp::Update {
                        rtype: "CareTeam".into(),
                        id: team_id,
                        resource: want,
                        if_match: None,
                    },
                });
            }
        }
        Ok(out)
    }

    // ---- reading, with the caller's access --------------------------------------------

    /// Every board.
    pub fn boards(&self, access: &Access) -> Result<Vec<Board>, Error> {
        let query = q(
            "CareTeam",
            &[("category", format!("{}|{}", codes::SYSTEM, codes::BOARD))],
        )?;
        let mut out: Vec<Board> = store::search_all(&*self.store, access, query)?
            .iter()
            .filter_map(|h| shape::board(&body(h)))
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// One board.
    pub fn board(&self, access: &Access, id: &str) -> Result<Board, Error> {
        self.store
            .read(access, "CareTeam", id.trim_start_matches("CareTeam/"))?
            .and_then(|v| v.body)
            .and_then(|b| serde_json::from_str::<Value>(&b).ok())
            .and_then(|b| shape::board(&b))
            .ok_or_else(|| Error::NotFound("that tumour board".into()))
    }

    /// Every meeting, soonest first.
    pub fn meetings(&self, access: &Access) -> Result<Vec<Meeting>, Error> {
        let query = q(
            "Appointment",
            &[
                (
                    "service-type",
                    format!("{}|{}", codes::SYSTEM, codes::MEETING),
                ),
                ("_sort", "date".into()),
            ],
        )?;
        Ok(store::search_all(&*self.store, access, query)?
            .iter()
            .filter_map(|h| shape::meeting(&body(h)))
            .collect())
    }

    /// Cases matching `params`, as far as `access` reaches.
    fn cases(&self, access: &Access, params: &[(&str, String)]) -> Result<Vec<Case>, Error> {
        let mut ps = vec![("code", format!("{}|{}", codes::SYSTEM, codes::CASE))];
        ps.extend(params.iter().cloned());
        let query = q("Task", &ps)?;
        let mut out: Vec<Case> = store::search_all(&*self.store, access, query)?
            .iter()
            .filter_map(|h| {
                let b = body(h);
                let version = b["meta"]["versionId"]
                    .as_str()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(1);
                shape::case(&b, version)
            })
            .collect();
        out.sort_by(|a, b| a.referred.cmp(&b.referred).then(a.id.cmp(&b.id)));
        Ok(out)
    }

    /// A meeting with the cases on its list that the caller reaches.
    pub fn meeting(&self, access: &Access, id: &str) -> Result<MeetingCases, Error> {
        let meeting = self
            .store
            .read(access, "Appointment", id)?
            .and_then(|v| v.body)
            .and_then(|b| serde_json::from_str::<Value>(&b).ok())
            .and_then(|b| shape::meeting(&b))
            .ok_or_else(|| Error::NotFound("that meeting".into()))?;
        let board = self.board(access, &meeting.board).ok();
        let cases = self.cases(access, &[("based-on", format!("Appointment/{id}"))])?;
        Ok(MeetingCases {
            meeting,
            board,
            cases,
        })
    }

    /// Cases referred and not yet on a meeting's list, as far as the caller reaches.
    pub fn waiting(&self, access: &Access) -> Result<Vec<Case>, Error> {
        Ok(self
            .cases(access, &[("status", "requested".into())])?
            .into_iter()
            .filter(|c| c.meeting.is_none())
            .collect())
    }

    /// A patient's cases, as far as the caller reaches.
    pub fn cases_of(&self, access: &Access, patient: &str) -> Result<Vec<Case>, Error> {
        self.cases(access, &[("patient", format!("Patient/{patient}"))])
    }

    /// One case.
    pub fn case(&self, access: &Access, id: &str) -> Result<Case, Error> {
        let v = self
            .store
            .read(access, "Task", id)?
            .ok_or_else(|| Error::NotFound("that case".into()))?;
        v.body
            .as_deref()
            .and_then(|b| serde_json::from_str::<Value>(b).ok())
            .and_then(|b| shape::case(&b, v.version))
            .ok_or_else(|| Error::NotFound("that case".into()))
    }

    /// The case summary of `patient`, from their record as far as `access` reaches.
    pub fn summary(&self, access: &Access, patient: &str) -> Result<CaseSummary, Error> {
        Ok(summary::summarise(&self.record(access, patient)?))
    }

    fn record(&self, access: &Access, patient: &str) -> Result<Vec<Value>, Error> {
        Ok(self
            .store
            .compartment(access, patient)?
            .iter()
            .map(body)
            .collect())
    }

    /// The recommendation of a case (its CarePlan and its steps) as far as `access` reaches.
    pub fn recommendation(&self, access: &Access, case: &Case) -> Result<Option<Recorded>, Error> {
        let Some(plan) = &case.recommendation else {
            return Ok(None);
        };
        let id = plan.trim_start_matches("CarePlan/");
        let Some(p) = self
            .store
            .read(access, "CarePlan", id)?
            .and_then(|v| v.body)
            .and_then(|b| serde_json::from_str::<Value>(&b).ok())
        else {
            return Ok(None);
        };
        let query = q("ServiceRequest", &[("based-on", plan.clone())])?;
        let steps = store::search_all(&*self.store, access, query)?
            .iter()
            .map(|h| {
                let b = body(h);
                (
                    summary::words(&b["code"]),
                    b["status"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        Ok(Some(Recorded { plan: p, steps }))
    }

    // ---- writing, as the signed-in person ----------------------------------------------

    fn write_as(&self, access: &Access, entries: Vec<Entry>) -> Result<(), Error> {
        for r in self.store.write(access, entries, Mode::Atomic)? {
            r?;
        }
        // The board's care relationships follow within the consumer's next step.
        if self.runner.get().is_some_and(|r| r.holds()) {
            let latest = self.store.commits().latest();
            self.wait_processed(latest, Duration::from_secs(3));
        }
        Ok(())
    }

    fn create(resource: Value) -> Entry {
        let id = resource["id"].as_str().unwrap_or_default().to_string();
        Entry {
            full_url: None,
            op: WriteOp::Create {
                resource,
                id,
                if_none_exist: None,
            },
        }
    }

    fn update(resource: Value, version: Option<i64>) -> Entry {
        Entry {
            full_url: None,
            op: WriteOp::Update {
                rtype: resource["resourceType"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                id: resource["id"].as_str().unwrap_or_default().to_string(),
                if_match: version.map(|v| v.to_string()),
                resource,
            },
        }
    }

    /// Arrange a meeting of `board` at `start` for `minutes`, `place` in words.
    pub fn new_meeting(
        &self,
        access: &Access,
        by: &str,
        board: &str,
        start: DateTime<Utc>,
        minutes: i64,
        place: &str,
    ) -> Result<String, Error> {
        if !(15..=480).contains(&minutes) {
            return Err(Error::Invalid(
                "A meeting lasts between 15 minutes and 8 hours.".into(),
            ));
        }
        if start < self.now() - chrono::TimeDelta::days(1) {
            return Err(Error::Invalid("The meeting cannot be in the past.".into()));
        }
        let board = self.board(access, board)?;
        let id = format!("mdt-meeting-{}", uuid::Uuid::new_v4());
        let end = start + chrono::TimeDelta::minutes(minutes);
        let place = place.trim();
        let place = if place.is_empty() {
            "Place not given"
        } else {
            place
        };
        let m = shape::new_meeting(
            &id,
            &board,
            &Self::instant(start),
            &Self::instant(end),
            place,
            by,
        );
        self.write_as(access, vec![Self::create(m)])?;
        Ok(id)
    }

    /// Refer `patient` to `board` with `question`, as `by`.
    pub fn refer(
        &self,
        access: &Access,
        by: &str,
        patient: &str,
        board: &str,
        question: &str,
    ) -> Result<String, Error> {
        let question = question.trim();
        if question.is_empty() {
            return Err(Error::Invalid(
                "Write the question for the board to answer.".into(),
            ));
        }
        if question.chars().count() > 2000 {
            return Err(Error::Invalid(
                "The question is longer than 2,000 characters.".into(),
            ));
        }
        let board = self.board(access, board)?;
        if self.cases_of(access, patient)?.iter().any(|c| {
            c.open() && c.board == format!("CareTeam/{}", board.id) && c.stage != codes::RECOMMENDED
        }) {
            return Err(Error::Invalid(format!(
                "The patient is already waiting for the {}.",
                board.name
            )));
        }
        let id = format!("mdt-case-{}", uuid::Uuid::new_v4());
        let now = Self::instant(self.now());
        let t = shape::new_case(&id, patient, &board, by, question, &now);
        self.write_as(access, vec![Self::create(t)])?;
        Ok(id)
    }

    fn task(&self, access: &Access, id: &str) -> Result<(Value, i64), Error> {
        let v = self
            .store
            .read(access, "Task", id)?
            .ok_or_else(|| Error::NotFound("that case".into()))?;
        let b = v
            .body
            .as_deref()
            .and_then(|b| serde_json::from_str::<Value>(b).ok())
            .ok_or_else(|| Error::NotFound("that case".into()))?;
        Ok((b, v.version))
    }

    /// Put a referred case on a meeting's list.
    pub fn schedule(&self, access: &Access, case: &str, meeting: &str) -> Result<(), Error> {
        let (task, version) = self.task(access, case)?;
        let c = shape::case(&task, version).ok_or_else(|| Error::NotFound("that case".into()))?;
        let m = self.meeting(access, meeting)?.meeting;
        if m.board != c.board {
            return Err(Error::Invalid("That meeting is another board's.".into()));
        }
        if !matches!(c.stage.as_str(), codes::REFERRED | codes::SCHEDULED) {
            return Err(Error::Invalid(
                "The board has already made its recommendation.".into(),
            ));
        }
        let now = Self::instant(self.now());
        let t = shape::scheduled(task, &format!("Appointment/{}", m.id), &now);
        self.write_as(access, vec![Self::update(t, Some(version))])
    }

    /// Take a case off the board's list (the patient no longer needs discussing).
    pub fn withdraw(&self, access: &Access, case: &str) -> Result<(), Error> {
        let (task, version) = self.task(access, case)?;
        let c = shape::case(&task, version).ok_or_else(|| Error::NotFound("that case".into()))?;
        if !matches!(c.stage.as_str(), codes::REFERRED | codes::SCHEDULED) {
            return Err(Error::Invalid(
                "A case with a recommendation is closed by telling the patient.".into(),
            ));
        }
        let now = Self::instant(self.now());
        self.write_as(
            access,
            vec![Self::update(shape::withdrawn(task, &now), Some(version))],
        )
    }

    /// Record the board's recommendation for a case, as `by` (a physician), in one
    /// transaction: the CarePlan, a ServiceRequest per step, and the case moved on.
    pub fn recommend(
        &self,
        access: &Access,
        by: &str,
        case: &str,
        r: &Recommendation,
    ) -> Result<String, Error> {
        let (task, version) = self.task(access, case)?;
        let c = shape::case(&task, version).ok_or_else(|| Error::NotFound("that case".into()))?;
        if !matches!(c.stage.as_str(), codes::REFERRED | codes::SCHEDULED) {
            return Err(Error::Invalid(
                "This case already has a recommendation.".into(),
            ));
        }
        let board = self.board(access, &c.board)?;
        let conditions: Vec<String> = self
            .record(access, &c.patient)?
            .iter()
            .filter(|r| r["resourceType"] == "Condition")
            .filter(|r| {
                r["code"]["coding"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|x| x["code"].as_str().is_some_and(|code| code.starts_with('C')))
            })
            .filter_map(|r| r["id"].as_str().map(|id| format!("Condition/{id}")))
            .collect();
        let now = Self::instant(self.now());
        let ctx = recommendation::Context {
            case: &c.id,
            patient: &c.patient,
            author: by,
            board_name: &board.name,
            meeting: c.meeting.as_deref(),
            conditions: &conditions,
            now: &now,
        };
        let resources = recommendation::resources(Options::shipped(), r, &ctx)?;
        let plan = format!("CarePlan/{}", recommendation::plan_id(&c.id));
        let mut entries: Vec<Entry> = resources.into_iter().map(Self::create).collect();
        entries.push(Self::update(
            shape::recommended(task, &plan, &now),
            Some(version),
        ));
        self.write_as(access, entries)?;
        Ok(plan)
    }

    /// Record that the recommendation was told to the patient, closing the case.
    pub fn communicated(
        &self,
        access: &Access,
        by: &str,
        case: &str,
        note: &str,
    ) -> Result<(), Error> {
        let (task, version) = self.task(access, case)?;
        let c = shape::case(&task, version).ok_or_else(|| Error::NotFound("that case".into()))?;
        let Some(plan) = c
            .recommendation
            .clone()
            .filter(|_| c.stage == codes::RECOMMENDED)
        else {
            return Err(Error::Invalid(
                "There is no recommendation to tell the patient yet.".into(),
            ));
        };
        if note.chars().count() > 2000 {
            return Err(Error::Invalid(
                "The note is longer than 2,000 characters.".into(),
            ));
        }
        let now = Self::instant(self.now());
        let told = shape::told(&format!("{}-told", c.id), &c, &plan, by, note, &now);
        self.write_as(
            access,
            vec![
                Self::create(told),
                Self::update(shape::communicated(task, &now), Some(version)),
            ],
        )
    }
}

impl std::fmt::Debug for TumourBoard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TumourBoard")
            .field("processed", &self.processed.get())
            .finish_non_exhaustive()
    }
}

impl store::Consumer for TumourBoard {
    fn name(&self) -> &str {
        CONSUMER
    }
    fn step(&self) -> Result<usize, Box<dyn std::error::Error + Send + Sync>> {
        Ok(TumourBoard::step(self)?)
    }
    fn progress(&self) -> &Progress {
        &self.processed
    }
}
