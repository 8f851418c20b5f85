//! The social-needs measures from the record (`community::report` counts; this module
//! gathers what each patient and referral is, with Tend's own access, since a population
//! measure counts everyone and shows no one), written as MeasureReports by the consumer.
//!
//! Who was seen: patients with an Encounter starting in the month, or screened in it.
//! Screened: an AHC HRSN QuestionnaireResponse authored in the month (withdrawn ones not
//! counted), its domains scored by `social_needs`. Referrals: Tasks for referral
//! management, by the month they were sent, their need, when the organisation took them on
//! and whether the need was met. Months are the hospital's calendar months; the last twelve
//! are reported.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Datelike, Duration, Utc};
use community::report::{self, Line, Seen, Sent};
use serde_json::Value;
use social_needs::Instrument;
use store::{Access, Entry, WriteOp};

use crate::{q, Error, Referrals, FULFIL};

/// Months reported, the current one included.
const MONTHS: i64 = 12;
/// Records read per page.
const PAGE: usize = 1000;

impl Referrals {
    fn every(
        &self,
        rtype: &str,
        params: &[(&str, String)],
    ) -> Result<Vec<(Value, Vec<Value>)>, Error> {
        let mut out = Vec::new();
        let mut offset = 0;
        loop {
            let mut ps: Vec<(&str, String)> = params.to_vec();
            ps.push(("_count", PAGE.to_string()));
            ps.push(("_offset", offset.to_string()));
            let page = self.store.search(&Access::system(), &q(rtype, &ps)?)?;
            let n = page.matches.len();
            let included: Vec<Value> = page
                .included
                .iter()
                .filter_map(|h| serde_json::from_str(&h.body).ok())
                .collect();
            for h in &page.matches {
                if let Ok(v) = serde_json::from_str::<Value>(&h.body) {
                    out.push((v, included.clone()));
                }
            }
            if !page.has_more || n == 0 {
                return Ok(out);
            }
            offset += n;
        }
    }

    fn month(&self, t: &str) -> Option<String> {
        let at = DateTime::parse_from_rfc3339(t)
            .ok()
            .map(|t| t.with_timezone(&self.config.zone))
            .or_else(|| {
                chrono::NaiveDate::parse_from_str(t.get(..10)?, "%Y-%m-%d")
                    .ok()
                    .and_then(|d| d.and_hms_opt(12, 0, 0))
                    .map(|d| d.and_utc().with_timezone(&self.config.zone))
            })?;
        Some(format!("{:04}-{:02}", at.year(), at.month()))
    }

    /// The measures now, from the record.
    pub fn measures(&self, now: DateTime<Utc>) -> Result<Vec<Line>, Error> {
        let from = now - Duration::days(31 * MONTHS);
        let since = from.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let first = self.month(&since).unwrap_or_default();
        let i = Instrument::ahc_hrsn();
        // Screenings: (patient, month) → positive domains.
        let mut screened: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
        for (qr, _) in self.every(
            "QuestionnaireResponse",
            &[
                ("questionnaire", social_needs::QUESTIONNAIRE_URL.to_string()),
                ("authored", format!("ge{}", &since[..10])),
            ],
        )? {
            if qr["status"] == "entered-in-error" {
                continue;
            }
            let (Some(patient), Some(month)) = (
                qr["subject"]["reference"]
                    .as_str()
                    .and_then(|r| r.strip_prefix("Patient/")),
                qr["authored"].as_str().and_then(|a| self.month(a)),
            ) else {
                continue;
            };
            let positive = i
                .answers(&qr)
                .map(|a| {
                    i.score(&a)
                        .positive()
                        .map(|d| d.domain.clone())
                        .collect::<BTreeSet<_>>()
                })
                .unwrap_or_default();
            screened
                .entry((patient.to_string(), month))
                .or_default()
                .extend(positive);
        }
        // Who was seen: encounters starting in the months reported.
        let mut seen: BTreeSet<(String, String)> = screened.keys().cloned().collect();
        for (e, _) in self.every("Encounter", &[("date", format!("ge{}", &since[..10]))])? {
            let (Some(patient), Some(month)) = (
                e["subject"]["reference"]
                    .as_str()
                    .and_then(|r| r.strip_prefix("Patient/")),
                e["period"]["start"].as_str().and_then(|a| self.month(a)),
            ) else {
                continue;
            };
            seen.insert((patient.to_string(), month));
        }
        // Referrals sent in the months reported, with their requests (for the need).
        let mut sent = Vec::new();
        for (t, included) in self.every(
            "Task",
            &[
                ("code", FULFIL.to_string()),
                ("authored-on", format!("ge{}", &since[..10])),
                ("_include", "Task:focus".into()),
            ],
        )? {
            let Ok(s) = community::read(&t) else { continue };
            let need = included
                .iter()
                .find(|r| r["id"] == s.service_request.as_str())
                .and_then(crate::need_of)
                .unwrap_or("sdoh-category-unspecified")
                .to_string();
            sent.push((s, need));
        }
        // The patients' strata, read once each.
        let mut ids: BTreeSet<String> = seen.iter().map(|(p, _)| p.clone()).collect();
        ids.extend(
            sent.iter()
                .map(|(s, _)| s.patient.trim_start_matches("Patient/").to_string()),
        );
        let ids: Vec<String> = ids.into_iter().collect();
        let mut patients: HashMap<String, Value> = HashMap::new();
        for chunk in ids.chunks(100) {
            for (p, _) in self.every("Patient", &[("_id", chunk.join(","))])? {
                if let Some(id) = p["id"].as_str() {
                    patients.insert(id.to_string(), p.clone());
                }
            }
        }
        let today = now.with_timezone(&self.config.zone).date_naive();
        let strata_of = |patient: &str| {
            patients
                .get(patient)
                .map(|p| strata::of_patient(p, today))
                .unwrap_or_default()
                .into_iter()
                .filter(|(k, _)| k != "interpreter")
                .collect::<Vec<_>>()
        };
        let seen: Vec<Seen> = seen
            .into_iter()
            .filter(|(_, m)| *m >= first)
            .map(|(p, month)| {
                let positive = screened.get(&(p.clone(), month.clone()));
                Seen {
                    screened: positive.is_some(),
                    positive: positive
                        .map(|s| s.iter().cloned().collect())
                        .unwrap_or_default(),
                    strata: strata_of(&p),
                    month,
                }
            })
            .collect();
        let sent: Vec<Sent> = sent
            .into_iter()
            .filter_map(|(s, need)| {
                let month = self.month(&s.authored_on.to_rfc3339())?;
                Some(Sent {
                    days_to_connection: s.connected.map(|c| (c - s.authored_on).num_days().max(0)),
                    need_met: s
                        .outcome
                        .as_ref()
                        .map(|o| *o == community::Outcome::NeedMet),
                    strata: strata_of(s.patient.trim_start_matches("Patient/")),
                    need,
                    month,
                })
            })
            .filter(|s| s.month >= first)
            .collect();
        Ok(report::lines(&seen, &sent))
    }

    /// Write the measures' MeasureReports (those whose content changed), as Tend.
    pub(crate) fn report_entries(&self, now: DateTime<Utc>) -> Result<Vec<Entry>, Error> {
        let mut entries = Vec::new();
        let current = self
            .month(&now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_default();
        for line in self.measures(now)? {
            // Years are reported while they run (earlier ones fall partly outside the
            // twelve months read).
            if line.month.len() == 4 && !current.starts_with(&line.month) {
                continue;
            }
            let r = report::measure_report(&line, &current);
            let id = report::report_id(&line);
            let same = self
                .store
                .read(&Access::system(), "MeasureReport", &id)?
                .and_then(|v| v.body)
                .and_then(|b| serde_json::from_str::<Value>(&b).ok())
                .is_some_and(|old| old["group"] == r["group"] && old["status"] == r["status"]);
            if same {
                continue;
            }
            entries.push(Entry {
                full_url: None,
                op: WriteOp::Update {
                    rtype: "MeasureReport".into(),
                    id,
                    resource: r,
                    if_match: None,
                },
            });
        }
        Ok(entries)
    }
}
