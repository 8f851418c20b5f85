//! The lists people work from, read with their own access: the partner's referrals
//! received, the social worker's open referrals and follow-ups due, a patient's referrals.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use community::directory::fhir::fhir_id;
use community::{ReferralState, Status};
use serde_json::Value;
use store::Access;

use crate::{q, Error, Referrals, FULFIL};

/// One referral as a list shows it.
#[derive(Debug, Clone)]
pub struct Line {
    pub state: ReferralState,
    /// The Task's version, for the next move.
    pub version: i64,
    /// The patient's id, name, phone and language as the caller receives them.
    pub patient: String,
    pub patient_name: String,
    pub phone: Option<String>,
    pub language: Option<String>,
    /// The need (SDOHCC code) and in words.
    pub need: String,
    pub need_words: String,
    pub service_name: String,
    pub organization_name: String,
    /// What the hospital told the partner.
    pub note: Option<String>,
    /// The patient asked not to be contacted by the partner directly.
    pub no_contact: bool,
    /// When "was the need met?" is (or was) due; `None` once known.
    pub follow_up_due: Option<DateTime<Utc>>,
}

/// The social worker's referrals: open ones (oldest first) and follow-ups due, with how
/// many are open at each status (ended referrals are counted by the reports).
#[derive(Debug, Clone, Default)]
pub struct Worklist {
    pub open: Vec<Line>,
    pub due: Vec<Line>,
    pub by_status: Vec<(Status, usize)>,
}

/// Lines shown per list (the counts say how many there are in all).
pub const SHOWN: usize = 100;

const OPEN: [Status; 5] = [
    Status::Requested,
    Status::Received,
    Status::Accepted,
    Status::InProgress,
    Status::OnHold,
];

fn codes(statuses: &[Status]) -> String {
    statuses
        .iter()
        .map(|s| s.code())
        .collect::<Vec<_>>()
        .join(",")
}

impl Referrals {
    /// Referral Tasks matching `params` (plus the referral code), with their patients and
    /// requests, as the caller reaches them.
    fn lines(
        &self,
        access: &Access,
        params: &[(&str, String)],
    ) -> Result<(Vec<Line>, Option<usize>), Error> {
        let mut ps: Vec<(&str, String)> = vec![
            ("code", FULFIL.to_string()),
            ("_include", "Task:patient".into()),
            ("_include", "Task:focus".into()),
        ];
        ps.extend(params.iter().cloned());
        let page = self.store.search(access, &q("Task", &ps)?)?;
        let mut patients: HashMap<String, Value> = HashMap::new();
        let mut requests: HashMap<String, Value> = HashMap::new();
        for h in &page.included {
            let Ok(v) = serde_json::from_str::<Value>(&h.body) else {
                continue;
            };
            match h.rtype.as_str() {
                "Patient" => {
                    patients.insert(h.id.clone(), v);
                }
                "ServiceRequest" => {
                    requests.insert(h.id.clone(), v);
                }
                _ => {}
            }
        }
        let directory = self.directory()?;
        let services: HashMap<String, &community::Service> = directory
            .services
            .iter()
            .map(|s| (fhir_id(&s.id), s))
            .collect();
        let mut out = Vec::new();
        for h in &page.matches {
            let Ok(task) = serde_json::from_str::<Value>(&h.body) else {
                continue;
            };
            let Ok(state) = community::read(&task) else {
                continue;
            };
            let version = task["meta"]["versionId"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .unwrap_or(1);
            let pid = state.patient.trim_start_matches("Patient/").to_string();
            let patient = patients.get(&pid);
            let request = requests.get(&state.service_request);
            let need = request
                .and_then(|r| crate::need_of(r))
                .unwrap_or_default()
                .to_string();
            let service = state.service.as_ref().and_then(|s| services.get(s));
            let due = community::follow_up_due(
                state.authored_on,
                state.last_modified,
                state.status,
                state.outcome.is_some(),
                self.config.follow_up_days,
            );
            out.push(Line {
                version,
                patient_name: patient.map(name).unwrap_or_else(|| "Patient".into()),
                phone: patient.and_then(phone),
                language: patient
                    .and_then(community::directory::language::of_patient)
                    .map(|(_, words)| words),
                need_words: community::need::words(&need),
                need,
                service_name: service
                    .map(|s| s.name.clone())
                    .or_else(|| {
                        task["input"][0]["valueReference"]["display"]
                            .as_str()
                            .map(str::to_string)
                    })
                    .unwrap_or_else(|| "Community service".into()),
                organization_name: service
                    .map(|s| s.organization.name.clone())
                    .or_else(|| task["owner"]["display"].as_str().map(str::to_string))
                    .unwrap_or_default(),
                note: request.and_then(|r| r["note"][0]["text"].as_str().map(str::to_string)),
                no_contact: request.is_some_and(|r| {
                    r["orderDetail"].as_array().into_iter().flatten().any(|d| {
                        d["coding"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .any(|c| c["code"] == "contacting-subject-prohibited")
                    })
                }),
                follow_up_due: due,
                patient: pid,
                state,
            });
        }
        Ok((out, page.total))
    }

    /// The referrals sent to the caller's organisation (a community partner's list): those
    /// awaiting an answer first, then those in hand, then the finished ones, newest first.
    pub fn received(&self, access: &Access) -> Result<Vec<Line>, Error> {
        let (mut lines, _) = self.lines(
            access,
            &[("_sort", "-modified".into()), ("_count", "500".into())],
        )?;
        lines.sort_by_key(|l| match l.state.status {
            Status::Requested | Status::Received => 0,
            Status::Accepted | Status::InProgress | Status::OnHold => 1,
            _ => 2,
        });
        Ok(lines)
    }

    /// A patient's referrals, newest first.
    pub fn of_patient(&self, access: &Access, patient: &str) -> Result<Vec<Line>, Error> {
        Ok(self
            .lines(
                access,
                &[
                    ("patient", format!("Patient/{patient}")),
                    ("_sort", "-modified".into()),
                    ("_count", "100".into()),
                ],
            )?
            .0)
    }

    /// The social worker's referrals: open ones, oldest change first, those whose
    /// follow-up is due, and how many open referrals are at each status.
    pub fn worklist(&self, access: &Access, now: DateTime<Utc>) -> Result<Worklist, Error> {
        let (open, _) = self.lines(
            access,
            &[
                ("status", codes(&OPEN)),
                ("_sort", "modified".into()),
                ("_count", SHOWN.to_string()),
            ],
        )?;
        // Follow-ups: referrals that have not said how they ended, quiet for the interval.
        let quiet = now - Duration::days(i64::from(self.config.follow_up_days));
        let (mut due, _) = self.lines(
            access,
            &[
                (
                    "status",
                    codes(&[
                        Status::Requested,
                        Status::Received,
                        Status::Accepted,
                        Status::InProgress,
                        Status::OnHold,
                        Status::Completed,
                        Status::Failed,
                        Status::Rejected,
                    ]),
                ),
                (
                    "modified",
                    format!(
                        "le{}",
                        quiet.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                    ),
                ),
                ("_sort", "modified".into()),
                ("_count", (SHOWN * 3).to_string()),
            ],
        )?;
        due.retain(|l| l.follow_up_due.is_some_and(|d| d <= now));
        due.truncate(SHOWN);
        let mut by_status = Vec::new();
        for s in OPEN {
            let page = self.store.search(
                access,
                &q(
                    "Task",
                    &[
                        ("code", FULFIL.to_string()),
                        ("status", s.code().to_string()),
                        ("_summary", "count".into()),
                    ],
                )?,
            )?;
            by_status.push((s, page.total.unwrap_or(0)));
        }
        Ok(Worklist {
            open,
            due,
            by_status,
        })
    }
}

fn name(p: &Value) -> String {
    let n = &p["name"][0];
    let given: Vec<&str> = n["given"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let family = n["family"].as_str().unwrap_or_default();
    let full = format!("{} {family}", given.join(" "));
    let full = full.trim();
    if full.is_empty() {
        n["text"].as_str().unwrap_or("Patient").to_string()
    } else {
        full.to_string()
    }
}

fn phone(p: &Value) -> Option<String> {
    p["telecom"]
        .as_array()?
        .iter()
        .find(|t| t["system"] == "phone")
        .and_then(|t| t["value"].as_str())
        .map(str::to_string)
}
