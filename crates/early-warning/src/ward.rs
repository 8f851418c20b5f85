//! Ward status: every inpatient of a ward with the latest scores, when the next set is due
//! (overdue flagged) and the open alert; the data behind the ward board.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::Value;

use crate::alert::AlertView;
use crate::codes::ScoreKind;
use crate::score::{self, News2Summary};
use crate::{EarlyWarning, Error};

/// One inpatient on a ward.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PatientStatus {
    pub patient: String,
    pub encounter: String,
    /// Bed or room (`Location/ID`) and its display.
    pub bed: Option<String>,
    pub bed_display: Option<String>,
    /// The latest early-warning score: NEWS2, or PEWS for a child
    /// ([`News2Summary::score_name`]).
    pub news2: Option<News2Summary>,
    /// qSOFA and SIRS screens: `POS`, `NEG` or `IND`.
    pub qsofa: Option<String>,
    pub sirs: Option<String>,
    /// The next set is due before now.
    pub overdue: bool,
    /// Minutes to the next set (negative when overdue).
    pub minutes_to_due: Option<i64>,
    pub alert: Option<AlertView>,
}

/// A ward.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WardSummary {
    pub id: String,
    pub name: String,
    pub patients: usize,
    pub overdue: usize,
    pub open_alerts: usize,
}

/// The active bed (or room) of an Encounter: its reference and display.
pub fn bed_of(enc: &Value) -> (Option<String>, Option<String>) {
    let locs = enc["location"].as_array().cloned().unwrap_or_default();
    let bed = locs.iter().find(|l| {
        l["status"].as_str().is_none_or(|s| s == "active")
            && l["physicalType"]["coding"]
                .as_array()
                .is_some_and(|c| c.iter().any(|x| x["code"] == "bd" || x["code"] == "ro"))
    });
    match bed {
        Some(b) => (
            b["location"]["reference"].as_str().map(str::to_string),
            b["location"]["display"].as_str().map(str::to_string),
        ),
        None => (None, None),
    }
}

impl EarlyWarning {
    /// In-progress encounters whose ward is `ward` (`Location/ID`).
    fn ward_encounters(&self, ward: &str) -> Result<Vec<Value>, Error> {
        let mut out: Vec<Value> = Vec::new();
        for param in ["location", "location.partof"] {
            let found = self.search(
                "Encounter",
                &[("status", "in-progress".into()), (param, ward.to_string())],
            )?;
            for e in found {
                if !out.iter().any(|o| o["id"] == e["id"]) {
                    out.push(e);
                }
            }
        }
        Ok(out)
    }

    fn latest_score(&self, kind: ScoreKind, subject: &str) -> Result<Option<Value>, Error> {
        self.latest_of(kind.token(), subject)
    }

    fn latest_of(&self, tokens: String, subject: &str) -> Result<Option<Value>, Error> {
        Ok(self
            .search(
                "Observation",
                &[
                    ("code", tokens),
                    ("subject", subject.to_string()),
                    ("_sort", "-date".into()),
                    ("_count", "1".into()),
                ],
            )?
            .into_iter()
            .next())
    }

    /// Every inpatient of a ward, most at risk first (band, then score, then overdue).
    pub fn ward_status(&self, ward: &str) -> Result<Vec<PatientStatus>, Error> {
        let now = self.now_ms();
        let mut alerts: HashMap<String, AlertView> = HashMap::new();
        for a in self.alerts(Some(ward), None, false)? {
            alerts.entry(a.patient.clone()).or_insert(a);
        }
        let mut out = Vec::new();
        for enc in self.ward_encounters(ward)? {
            let Some(patient) = enc["subject"]["reference"].as_str() else {
                continue;
            };
            let news2 = self
                .latest_of(ScoreKind::set_score_tokens(), patient)?
                .as_ref()
                .and_then(score::summary);
            let screen = |k| -> Result<Option<String>, Error> {
                Ok(self.latest_score(k, patient)?.and_then(|o| {
                    o["interpretation"][0]["coding"][0]["code"]
                        .as_str()
                        .map(str::to_string)
                }))
            };
            let due = news2
                .as_ref()
                .and_then(|n| n.next_due.as_deref())
                .and_then(search::date_range)
                .map(|(s, _)| s);
            let (bed, bed_display) = bed_of(&enc);
            out.push(PatientStatus {
                patient: patient.to_string(),
                encounter: format!("Encounter/{}", enc["id"].as_str().unwrap_or_default()),
                bed,
                bed_display,
                qsofa: screen(ScoreKind::Qsofa)?,
                sirs: screen(ScoreKind::Sirs)?,
                overdue: due.is_some_and(|d| d < now),
                minutes_to_due: due.map(|d| (d - now).div_euclid(60_000)),
                news2,
                alert: alerts.remove(patient),
            });
        }
        out.sort_by(crate::ranking::most_at_risk_first);
        Ok(out)
    }

    /// Every ward (Locations of physical type ward) with its counts.
    pub fn wards(&self) -> Result<Vec<WardSummary>, Error> {
        // R4 has no search parameter for Location.physicalType: filter here.
        let wards = self.search("Location", &[])?;
        let mut out = Vec::new();
        for w in wards.into_iter().filter(|l| {
            l["physicalType"]["coding"]
                .as_array()
                .is_some_and(|c| c.iter().any(|x| x["code"] == "wa"))
        }) {
            let id = format!("Location/{}", w["id"].as_str().unwrap_or_default());
            let status = self.ward_status(&id)?;
            out.push(WardSummary {
                name: w["name"].as_str().unwrap_or_default().to_string(),
                patients: status.len(),
                overdue: status.iter().filter(|p| p.overdue).count(),
                open_alerts: status.iter().filter(|p| p.alert.is_some()).count(),
                id,
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }
}
