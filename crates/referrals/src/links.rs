//! A need that would keep a patient from care, linked to the care: a patient on a care
//! pathway (an active EpisodeOfCare) with a food or transport need (a screened or confirmed
//! health concern, not refuted) and an appointment booked in the next
//! [`LOOKAHEAD_DAYS`] gets a navigator's Task, due before the appointment, to arrange
//! support (a ride, a food parcel). One Task per appointment and need (its id derived from
//! both), written once; the navigator marks it done.

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use store::{Access, Entry, Op, WriteOp};

use crate::{q, Error, Referrals};

/// How far ahead appointments are looked at.
pub const LOOKAHEAD_DAYS: i64 = 30;
/// The Task code of such a task.
pub const CODE_SYSTEM: &str = "https://tend.example.org/fhir/CodeSystem/navigation";
pub const CODE: &str = "social-need-before-appointment";

/// The needs that keep patients from appointments, and what to arrange.
const NEEDS: [(&str, &str); 2] = [
    ("transportation-insecurity", "Arrange a ride"),
    ("food-insecurity", "Arrange food support"),
];

fn search_all(r: &Referrals, rtype: &str, params: &[(&str, String)]) -> Result<Vec<Value>, Error> {
    let page = r.store.search(&Access::system(), &q(rtype, params)?)?;
    Ok(page
        .matches
        .iter()
        .filter_map(|h| serde_json::from_str(&h.body).ok())
        .collect())
}

/// A service's name inside a sentence: "Endoscopy" → "endoscopy", "CT scan" kept.
fn in_a_sentence(s: &str) -> String {
    let first = s.split_whitespace().next().unwrap_or_default();
    if first
        .chars()
        .filter(|c| c.is_alphabetic())
        .all(char::is_uppercase)
        && first.len() > 1
    {
        return s.to_string();
    }
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_lowercase().chain(c).collect())
        .unwrap_or_default()
}

impl Referrals {
    /// The Tasks `patient` should have now that it does not.
    pub(crate) fn link_entries(
        &self,
        patient: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<Entry>, Error> {
        let on_pathway = self
            .store
            .search(
                &Access::system(),
                &q(
                    "EpisodeOfCare",
                    &[
                        ("patient", format!("Patient/{patient}")),
                        ("status", "active".into()),
                        ("_summary", "count".into()),
                    ],
                )?,
            )?
            .total
            .is_some_and(|n| n > 0);
        if !on_pathway {
            return Ok(Vec::new());
        }
        let concerns: Vec<Value> = search_all(
            self,
            "Condition",
            &[
                ("subject", format!("Patient/{patient}")),
                ("category", "health-concern".into()),
                ("clinical-status", "active".into()),
                ("_count", "100".into()),
            ],
        )?
        .into_iter()
        .filter(|c| social_needs::concerns::verification(c) != Some("refuted"))
        .collect();
        let needs: Vec<(&str, &str, String)> = NEEDS
            .iter()
            .filter_map(|(need, what)| {
                let c = concerns
                    .iter()
                    .find(|c| social_needs::concerns::concern_domain(c) == Some(*need))?;
                Some((*need, *what, c["id"].as_str()?.to_string()))
            })
            .collect();
        if needs.is_empty() {
            return Ok(Vec::new());
        }
        let until = now + Duration::days(LOOKAHEAD_DAYS);
        let fmt = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let appointments = search_all(
            self,
            "Appointment",
            &[
                ("patient", format!("Patient/{patient}")),
                ("status", "booked".into()),
                ("date", format!("ge{}", fmt(now))),
                ("date", format!("le{}", fmt(until))),
                ("_count", "50".into()),
            ],
        )?;
        let mut entries = Vec::new();
        for a in &appointments {
            let (Some(aid), Some(start)) = (a["id"].as_str(), a["start"].as_str()) else {
                continue;
            };
            let what_for = a["serviceType"][0]["text"]
                .as_str()
                .or_else(|| a["serviceType"][0]["coding"][0]["display"].as_str())
                .or_else(|| a["description"].as_str())
                .unwrap_or("appointment");
            for (need, what, condition) in &needs {
                let id = fhir::id::stable_id("sdoh-before", &format!("{aid}|{need}"));
                let exists = self
                    .store
                    .read(&Access::system(), "Task", &id)?
                    .is_some_and(|v| v.op != Op::Delete);
                if exists {
                    continue;
                }
                let task = json!({
                    "resourceType": "Task",
                    "id": id,
                    "status": "requested",
                    "intent": "order",
                    "priority": "urgent",
                    "code": {"coding": [{"system": CODE_SYSTEM, "code": CODE, "display": "Support a social need before an appointment"}]},
                    "description": format!("{what} before the {} ({}).", in_a_sentence(what_for), community::need::words(need)),
                    "for": {"reference": format!("Patient/{patient}")},
                    "focus": {"reference": format!("Appointment/{aid}")},
                    "reasonReference": {"reference": format!("Condition/{condition}")},
                    "authoredOn": fmt(now),
                    "restriction": {"period": {"end": start}},
                });
                entries.push(Entry {
                    full_url: None,
                    op: WriteOp::Update {
                        rtype: "Task".into(),
                        id,
                        resource: task,
                        if_match: None,
                    },
                });
            }
        }
        Ok(entries)
    }
}
