//! Social-needs screening over the store.
//!
//! [`Screenings`] records a screening as the person who asked it (a QuestionnaireResponse to
//! Tend's AHC HRSN Questionnaire, labelled restricted when it holds interpersonal-safety
//! answers), and follows the change log (on `store::Runner`, checkpoint `social-needs`) to
//! turn every such response, whether from the web app or the FHIR API, into the scored
//! answer Observations of `social_needs` (ids derived from the response; replaced when it is
//! amended, deleted when it is withdrawn). A patient's latest results are read back as far as
//! the caller reaches: interpersonal-safety answers only with access to sensitive records.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use search::{Registry, SearchQuery};
use serde_json::{json, Value};
mod concerns;
pub use concerns::{Concern, Decision};

use social_needs::{Answer, Context, Instrument, QUESTIONNAIRE_URL};
use store::{Access, Entry, Mode, Op, Progress, Store, WriteOp};

/// The consumer's name.
pub const CONSUMER: &str = "social-needs";
const BATCH: usize = 500;

/// The crate's error type.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error(transparent)]
    Screening(#[from] social_needs::Error),
    #[error("{0}")]
    Invalid(String),
}

/// A patient's latest screening, as the caller sees it.
#[derive(Debug, Clone)]
pub struct Latest {
    /// When it was answered (FHIR dateTime).
    pub when: String,
    /// The answers the caller may see.
    pub answers: Answer,
    pub score: social_needs::Screening,
}

/// The service.
pub struct Screenings {
    store: Arc<dyn Store>,
    processed: Progress,
    stepping: Mutex<()>,
    runner: OnceLock<store::Runner>,
}

impl std::fmt::Debug for Screenings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Screenings")
            .field("processed", &self.processed.get())
            .finish_non_exhaustive()
    }
}

fn q(rtype: &str, params: &[(&str, String)]) -> Result<SearchQuery, Error> {
    let params: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    SearchQuery::parse(Registry::r4(), rtype, &params).map_err(|e| Error::Invalid(e.to_string()))
}

/// The prefix of the Observations derived from response `id`.
pub fn prefix(id: &str) -> String {
    format!("hrsn-{id}")
}

impl Screenings {
    pub fn new(store: Arc<dyn Store>) -> Arc<Screenings> {
        Arc::new(Screenings {
            store,
            processed: Progress::default(),
            stepping: Mutex::new(()),
            runner: OnceLock::new(),
        })
    }

    pub fn start(self: &Arc<Self>) {
        let _ = self
            .runner
            .set(store::Runner::start(self.store.clone(), self.clone()));
    }

    pub fn catch_up(&self) -> Result<(), Error> {
        while self.step()? > 0 {}
        Ok(())
    }

    /// The Observations a response should have (its id, its body or `None` when deleted).
    /// `first`: the response's first version, so nothing was derived from it before and
    /// nothing needs looking up to be withdrawn.
    fn derived(
        &self,
        id: &str,
        response: Option<&Value>,
        first: bool,
    ) -> Result<Vec<Entry>, Error> {
        let i = Instrument::ahc_hrsn();
        let system = Access::system();
        let prefix = prefix(id);
        let (want, concerns): (Vec<Value>, Vec<Value>) = match response {
            Some(r) if r["status"] != "entered-in-error" => {
                let patient = r["subject"]["reference"]
                    .as_str()
                    .and_then(|s| s.strip_prefix("Patient/"))
                    .unwrap_or_default();
                match i.answers(r) {
                    Ok(answers) if !patient.is_empty() => {
                        let ctx = Context {
                            patient,
                            response: &format!("QuestionnaireResponse/{id}"),
                            when: r["authored"].as_str().unwrap_or_default(),
                            performer: r["author"]["reference"].as_str(),
                            prefix: &prefix,
                        };
                        (i.observations(&answers, &ctx), i.concerns(&answers, &ctx))
                    }
                    Ok(_) => Default::default(),
                    Err(e) => {
                        tracing::warn!(error = %e, "a social-needs screening could not be read");
                        Default::default()
                    }
                }
            }
            _ => Default::default(),
        };
        let mut entries: Vec<Entry> = Vec::new();
        let wanted: Vec<String> = want
            .iter()
            .filter_map(|o| o["id"].as_str().map(String::from))
            .collect();
        for o in want {
            entries.push(Entry {
                full_url: None,
                op: WriteOp::Update {
                    rtype: "Observation".into(),
                    id: o["id"].as_str().unwrap_or_default().to_string(),
                    resource: o,
                    if_match: None,
                },
            });
        }
        // What an earlier version derived and this one does not: withdrawn.
        let links = [
            "q1",
            "q2",
            "q3",
            "q4",
            "q5",
            "q6",
            "q7",
            "q8",
            "q9",
            "q10",
            "safety-total",
        ];
        for l in links.iter().filter(|_| !first) {
            let oid = format!("{prefix}-{l}");
            if wanted.contains(&oid) {
                continue;
            }
            if let Some(v) = self.store.read(&system, "Observation", &oid)? {
                if v.op != Op::Delete {
                    entries.push(Entry {
                        full_url: None,
                        op: WriteOp::Delete {
                            rtype: "Observation".into(),
                            id: oid,
                        },
                    });
                }
            }
        }
        entries.extend(concerns::derived(&*self.store, &prefix, concerns, first)?);
        Ok(entries)
    }

    /// Turn what is new among the responses into Observations.
    pub fn step(&self) -> Result<usize, Error> {
        let _one = self
            .stepping
            .lock()
            .map_err(|_| Error::Invalid("poisoned".into()))?;
        let from = self.store.checkpoint(CONSUMER)?;
        let log = self.store.changes(from, BATCH)?;
        let Some(last) = log.last().map(|c| c.seq) else {
            self.processed.mark(from);
            return Ok(0);
        };
        let system = Access::system();
        let mut entries = Vec::new();
        for c in log.iter().filter(|c| c.rtype == "QuestionnaireResponse") {
            let body = if c.op == Op::Delete {
                None
            } else {
                self.store
                    .vread(&system, &c.rtype, &c.id, c.version)?
                    .and_then(|v| v.body)
                    .and_then(|b| serde_json::from_str::<Value>(&b).ok())
            };
            let ours = match &body {
                Some(b) => b["questionnaire"].as_str() == Some(QUESTIONNAIRE_URL),
                // A deletion: whether it was ours is known by what it derived.
                None => true,
            };
            if ours {
                let first = c.version == 1 && c.op != Op::Delete;
                entries.extend(self.derived(&c.id, body.as_ref(), first)?);
            }
        }
        for r in self
            .store
            .write_consumed(entries, Mode::Independent, CONSUMER, last)?
        {
            if let Err(e) = r {
                tracing::warn!(error = %e, "a screening's observation was refused");
            }
        }
        self.processed.mark(last);
        Ok(log.len())
    }

    /// Record a screening of `patient` asked by `by` (`Practitioner/ID`), answered at `when`,
    /// with the caller's own access; returns the response's id once its Observations exist.
    /// `by_patient`: the patient answered on their own (a tablet handed over by `by`), said
    /// in the response's `source`.
    pub fn record(
        &self,
        access: &Access,
        by: &str,
        patient: &str,
        answers: &Answer,
        when: &str,
        by_patient: bool,
    ) -> Result<String, Error> {
        if answers.values().all(|a| a.is_empty()) {
            return Err(Error::Invalid("Answer at least one question.".into()));
        }
        let i = Instrument::ahc_hrsn();
        let mut items = Vec::new();
        for qn in &i.questions {
            let Some(keys) = answers.get(&qn.link).filter(|k| !k.is_empty()) else {
                continue;
            };
            let mut given = Vec::new();
            for k in keys {
                let a = qn.answer(k).ok_or_else(|| {
                    social_needs::Error::UnknownAnswer(qn.link.clone(), k.clone())
                })?;
                given.push(match &a.code {
                    Some(code) => json!({"valueCoding": {"system": social_needs::LOINC, "code": code, "display": a.label()}}),
                    None => json!({"valueString": a.label()}),
                });
            }
            items.push(json!({"linkId": qn.link, "text": qn.text, "answer": given}));
        }
        let id = uuid::Uuid::new_v4().to_string();
        let mut r = json!({
            "resourceType": "QuestionnaireResponse",
            "id": id,
            "language": "en",
            "questionnaire": QUESTIONNAIRE_URL,
            "status": "completed",
            "subject": {"reference": format!("Patient/{patient}")},
            "authored": when,
            "author": {"reference": by},
            "item": items,
        });
        if by_patient {
            r["source"] = json!({"reference": format!("Patient/{patient}")});
        }
        let safety = ["q7", "q8", "q9", "q10"]
            .iter()
            .any(|l| answers.get(*l).is_some_and(|k| !k.is_empty()));
        if safety {
            // It holds interpersonal-safety answers: restricted, as their Observations are.
            r["meta"] = json!({"security": [{"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "R", "display": "restricted"}]});
        }
        for w in self.store.write(
            access,
            vec![Entry {
                full_url: None,
                op: WriteOp::Create {
                    resource: r,
                    id: id.clone(),
                    if_none_exist: None,
                },
            }],
            Mode::Atomic,
        )? {
            w?;
        }
        if self.runner.get().is_some_and(|r| r.holds()) {
            self.processed
                .wait(self.store.commits().latest(), Duration::from_secs(3));
        } else {
            self.catch_up()?;
        }
        Ok(id)
    }

    /// A patient's latest screening as `access` sees it: the answer Observations of the
    /// newest response, those the caller may read.
    pub fn latest(&self, access: &Access, patient: &str) -> Result<Option<Latest>, Error> {
        let i = Instrument::ahc_hrsn();
        let query = q(
            "Observation",
            &[
                ("subject", format!("Patient/{patient}")),
                (
                    "category",
                    "http://terminology.hl7.org/CodeSystem/observation-category|survey".into(),
                ),
                ("_sort", "-date".into()),
                ("_count", "200".into()),
            ],
        )?;
        let found = self.store.search(access, &query)?;
        let obs: Vec<Value> = found
            .matches
            .iter()
            .filter_map(|h| serde_json::from_str::<Value>(&h.body).ok())
            .filter(|o| {
                o["id"].as_str().is_some_and(|id| id.starts_with("hrsn-"))
                    && o["derivedFrom"][0]["reference"].as_str().is_some()
            })
            .collect();
        let Some(newest) = obs.first() else {
            return Ok(None);
        };
        let response = newest["derivedFrom"][0]["reference"].clone();
        let mut answers = Answer::new();
        for o in obs
            .iter()
            .filter(|o| o["derivedFrom"][0]["reference"] == response)
        {
            let code = o["code"]["coding"][0]["code"].as_str().unwrap_or_default();
            let Some(qn) = i.question(code) else { continue };
            let keys: Vec<String> = match o["valueCodeableConcept"]["coding"][0]["code"].as_str() {
                Some(c) => vec![c.to_string()],
                None => o["valueCodeableConcept"]["text"]
                    .as_str()
                    .unwrap_or_default()
                    .split("; ")
                    .filter(|t| qn.answer(t).is_some())
                    .map(String::from)
                    .collect(),
            };
            answers.insert(qn.link.clone(), keys);
        }
        Ok(Some(Latest {
            when: newest["effectiveDateTime"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            score: i.score(&answers),
            answers,
        }))
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }
}

impl store::Consumer for Screenings {
    fn name(&self) -> &str {
        CONSUMER
    }
    fn step(&self) -> Result<usize, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Screenings::step(self)?)
    }
    fn progress(&self) -> &Progress {
        &self.processed
    }
}
