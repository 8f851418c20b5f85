//! Needs a screening found, awaiting a clinician: the unconfirmed health concerns the
//! consumer derives from each response (`social_needs::concerns`), and the clinician's
//! decision on each, confirmed (a problem, with a Goal) or refuted (not a need, with why),
//! written with the clinician's own access.
//!
//! A concern is derived only while nobody has decided on it: an amended response does not
//! undo a decision, a withdrawn one removes only undecided concerns, and a need the patient
//! already has as a confirmed problem is not raised again.

use serde_json::Value;
use social_needs::concerns::{self as rules, concern_domain, concern_id, verification};
use store::{Access, Entry, Mode, Op, Store, WriteOp};

use crate::{q, Error, Screenings};

/// A social need on a patient's record, as the caller sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Concern {
    /// The Condition's id.
    pub id: String,
    pub version: i64,
    /// The patient's id.
    pub patient: String,
    /// SDOHCC domain code.
    pub domain: String,
    /// The need in words.
    pub words: String,
    /// `unconfirmed`, `confirmed` or `refuted`.
    pub status: String,
    /// When it was screened (FHIR dateTime).
    pub recorded: String,
    /// Why the screening found it.
    pub because: String,
}

impl Concern {
    fn from(c: &Value, version: i64) -> Option<Concern> {
        Some(Concern {
            id: c["id"].as_str()?.to_string(),
            version,
            patient: c["subject"]["reference"]
                .as_str()?
                .strip_prefix("Patient/")?
                .to_string(),
            domain: concern_domain(c)?.to_string(),
            words: c["code"]["text"].as_str().unwrap_or_default().to_string(),
            status: verification(c).unwrap_or_default().to_string(),
            recorded: c["recordedDate"].as_str().unwrap_or_default().to_string(),
            because: c["note"][0]["text"]
                .as_str()
                .unwrap_or_default()
                .trim_start_matches("From a social-needs screening: ")
                .trim_end_matches('.')
                .to_string(),
        })
    }
}

/// A clinician's decision on a concern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// A need: the concern becomes a problem, with a Goal in the patient's words when given.
    Confirm { goal: Option<String> },
    /// Not a need, and why.
    Refute { why: String },
}

/// The SDOH domains a screening can raise.
fn domains() -> Vec<String> {
    social_needs::Instrument::ahc_hrsn()
        .domains
        .iter()
        .map(|d| d.code.clone())
        .collect()
}

/// The writes that bring a response's concerns up to date (`wanted`: what it raises now;
/// `first`: the response's first version, so it raised nothing before).
pub(crate) fn derived(
    store: &dyn Store,
    prefix: &str,
    wanted: Vec<Value>,
    first: bool,
) -> Result<Vec<Entry>, Error> {
    let system = Access::system();
    let mut entries = Vec::new();
    for domain in domains() {
        let id = concern_id(prefix, &domain);
        if first && !wanted.iter().any(|c| c["id"] == id.as_str()) {
            continue;
        }
        // A concern may exist even for a first response: one written with it (an import of
        // decided needs); a decision is never undone.
        let existing = store
            .read(&system, "Condition", &id)?
            .filter(|v| v.op != Op::Delete)
            .and_then(|v| v.body)
            .and_then(|b| serde_json::from_str::<Value>(&b).ok());
        let decided = existing
            .as_ref()
            .is_some_and(|c| verification(c) != Some("unconfirmed"));
        if decided {
            continue;
        }
        match wanted.iter().find(|c| c["id"] == id.as_str()) {
            Some(c) => {
                let patient = c["subject"]["reference"].as_str().unwrap_or_default();
                if existing.is_none() && already_a_problem(store, patient, c)? {
                    continue;
                }
                entries.push(Entry {
                    full_url: None,
                    op: WriteOp::Update {
                        rtype: "Condition".into(),
                        id,
                        resource: c.clone(),
                        if_match: None,
                    },
                });
            }
            None if existing.is_some() => entries.push(Entry {
                full_url: None,
                op: WriteOp::Delete {
                    rtype: "Condition".into(),
                    id,
                },
            }),
            None => {}
        }
    }
    Ok(entries)
}

/// Whether the patient already has this need as a confirmed, active problem.
fn already_a_problem(store: &dyn Store, patient: &str, concern: &Value) -> Result<bool, Error> {
    let Some(domain) = concern_domain(concern) else {
        return Ok(false);
    };
    let query = q(
        "Condition",
        &[
            ("subject", patient.to_string()),
            ("category", format!("{}|{domain}", social_needs::SDOHCC)),
            ("verification-status", "confirmed".into()),
            ("clinical-status", "active".into()),
            ("_summary", "count".into()),
        ],
    )?;
    Ok(store
        .search(&Access::system(), &query)?
        .total
        .is_some_and(|n| n > 0))
}

impl Screenings {
    /// A patient's social needs (screened, confirmed or refuted) the caller sees, newest
    /// first.
    pub fn concerns(&self, access: &Access, patient: &str) -> Result<Vec<Concern>, Error> {
        let query = q(
            "Condition",
            &[
                ("subject", format!("Patient/{patient}")),
                ("category", "health-concern".into()),
                ("_sort", "-recorded-date".into()),
                ("_count", "200".into()),
            ],
        )?;
        self.concerns_matching(access, &query)
    }

    /// Every need awaiting a clinician among the patients the caller reaches, oldest first.
    pub fn awaiting(&self, access: &Access, limit: usize) -> Result<Vec<Concern>, Error> {
        let query = q(
            "Condition",
            &[
                ("category", "health-concern".into()),
                ("verification-status", "unconfirmed".into()),
                ("_sort", "recorded-date".into()),
                ("_count", limit.to_string()),
            ],
        )?;
        self.concerns_matching(access, &query)
    }

    fn concerns_matching(
        &self,
        access: &Access,
        query: &search::SearchQuery,
    ) -> Result<Vec<Concern>, Error> {
        let page = self.store.search(access, query)?;
        Ok(page
            .matches
            .iter()
            .filter_map(|h| {
                let v: Value = serde_json::from_str(&h.body).ok()?;
                let version = v["meta"]["versionId"]
                    .as_str()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(1);
                Concern::from(&v, version)
            })
            .collect())
    }

    /// A clinician (`by`, `Practitioner/ID`) decides on a concern that awaits one, with
    /// their own access; `version` is the one they saw (a concern decided meanwhile is
    /// refused, naming who did). Returns the concern as decided.
    pub fn decide(
        &self,
        access: &Access,
        by: &str,
        id: &str,
        version: i64,
        decision: &Decision,
        when: &str,
    ) -> Result<Concern, Error> {
        let v = self
            .store
            .read(access, "Condition", id)?
            .filter(|v| v.op != Op::Delete)
            .ok_or_else(|| Error::Invalid("That need is no longer on the record.".into()))?;
        let c: Value = serde_json::from_str(v.body.as_deref().unwrap_or_default())
            .map_err(|e| Error::Invalid(e.to_string()))?;
        if concern_domain(&c).is_none() {
            return Err(Error::Invalid("That is not a social need.".into()));
        }
        if verification(&c) != Some("unconfirmed") || v.version != version {
            return Err(Error::Invalid(
                "Someone has decided on this need since you opened the page; it is shown as it is now."
                    .into(),
            ));
        }
        let mut writes = Vec::new();
        let decided = match decision {
            Decision::Confirm { goal } => {
                let c2 = rules::confirmed(&c, by, when);
                if let Some(words) = goal.as_deref().map(str::trim).filter(|w| !w.is_empty()) {
                    if words.chars().count() > 500 {
                        return Err(Error::Invalid("Keep the goal under 500 characters.".into()));
                    }
                    let gid = fhir::id::stable_id("goal", id);
                    writes.push(rules::goal(&c2, &gid, words, when));
                }
                c2
            }
            Decision::Refute { why } => {
                let why = why.trim();
                if why.chars().count() < 3 {
                    return Err(Error::Invalid(
                        "Say why this is not a need (a few words).".into(),
                    ));
                }
                rules::refuted(&c, by, when, why)
            }
        };
        let mut entries = vec![Entry {
            full_url: None,
            op: WriteOp::Update {
                rtype: "Condition".into(),
                id: id.to_string(),
                resource: decided.clone(),
                if_match: Some(v.version.to_string()),
            },
        }];
        for g in writes {
            entries.push(Entry {
                full_url: None,
                op: WriteOp::Update {
                    rtype: "Goal".into(),
                    id: g["id"].as_str().unwrap_or_default().to_string(),
                    resource: g,
                    if_match: None,
                },
            });
        }
        for r in self.store.write(access, entries, Mode::Atomic)? {
            r?;
        }
        Concern::from(&decided, v.version + 1)
            .ok_or_else(|| Error::Invalid("the need could not be read back".into()))
    }
}
