//! Two years of finished inpatient stays on every ward, so the nurse-sensitive indicators
//! have eight quarters of patient days: each bed is occupied stay after stay, with a few
//! hours to a day and a half between patients, up to its current patient's admission (or
//! nearly now for a bed that is free). Lengths of stay follow the ward: longest on older
//! people's care, shortest on the coronary care unit.
//!
//! Patients are the clinic's, older people admitted more often; a stay is an Encounter
//! (class IMP, finished) with the ward in its location history.

use chrono::{DateTime, Datelike, Duration, Utc};
use serde_json::json;

use crate::facility::{Staff, WardKind, ORGANIZATION};
use crate::fhir::{self, concept, instant, reference, SNOMED};
use crate::hospital::{Config, Out};
use crate::random::{exponential, int, rng, weighted};

const PHYSICAL_TYPE: &str = "http://terminology.hl7.org/CodeSystem/location-physical-type";

/// A past stay: who was on which ward, when.
#[derive(Debug, Clone)]
pub(crate) struct Stay {
    pub(crate) ward: String,
    pub(crate) patient: String,
    /// The stay's `Encounter` id.
    pub(crate) encounter: String,
    pub(crate) start: DateTime<Utc>,
    pub(crate) end: DateTime<Utc>,
    pub(crate) interpreter: bool,
}

/// When the demo's history begins: the first of the month `history_days` before now (so
/// every month shown is whole), or two years back when there are no past stays.
pub(crate) fn history_start(cfg: &Config) -> DateTime<Utc> {
    if cfg.history_days == 0 {
        return cfg.now - Duration::days(730);
    }
    let back = (cfg.now - Duration::days(i64::from(cfg.history_days))).date_naive();
    let first = back.with_day(1).unwrap_or(back);
    first
        .and_hms_opt(0, 0, 0)
        .map_or(cfg.now - Duration::days(i64::from(cfg.history_days)), |t| {
            t.and_utc()
        })
}

/// Mean length of stay in days.
fn mean_days(kind: &WardKind) -> f64 {
    match kind {
        WardKind::OlderPeople => 8.0,
        WardKind::Respiratory => 5.5,
        WardKind::AcuteMedicine => 4.5,
        WardKind::Surgery => 4.0,
        WardKind::Coronary => 3.0,
    }
}

/// Who may be admitted: (patient id, weight by age, needs an interpreter).
fn candidates(
    out: &Out,
    patients: &std::ops::Range<u32>,
    today: chrono::NaiveDate,
) -> Vec<(String, f64, bool)> {
    out.of_type("Patient")
        .iter()
        .filter_map(|p| {
            let id = p["id"].as_str()?;
            let n: u32 = id.strip_prefix("pat-")?.parse().ok()?;
            if !patients.contains(&n) {
                return None;
            }
            let birth = p["birthDate"]
                .as_str()
                .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())?;
            let age = crate::demographics::age_on(birth, today);
            let weight = match age {
                ..=39 => 0.4,
                40..=59 => 1.0,
                60..=74 => 2.0,
                _ => 3.0,
            };
            let interpreter = p["extension"].as_array().into_iter().flatten().any(|e| {
                e["url"] == "http://hl7.org/fhir/StructureDefinition/patient-interpreterRequired"
                    && e["valueBoolean"] == true
            });
            Some((id.to_string(), weight, interpreter))
        })
        .collect()
}

/// The stays, pushed as Encounters; returned by ward, in time order.
pub(crate) fn generate(
    cfg: &Config,
    staff: &Staff,
    patients: std::ops::Range<u32>,
    out: &mut Out,
) -> Vec<Stay> {
    if cfg.history_days == 0 {
        return Vec::new();
    }
    let pool = candidates(out, &patients, cfg.now.date_naive());
    if pool.is_empty() {
        return Vec::new();
    }
    let weights: Vec<(usize, f64)> = pool.iter().enumerate().map(|(i, p)| (i, p.1)).collect();
    // Each occupied bed's current admission.
    let mut occupied: std::collections::HashMap<String, DateTime<Utc>> = Default::default();
    for e in out.of_type("Encounter") {
        if e["status"] != "in-progress" || e["class"]["code"] != "IMP" {
            continue;
        }
        let bed = e["location"][0]["location"]["reference"]
            .as_str()
            .unwrap_or("");
        if let Some(start) = e["period"]["start"]
            .as_str()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        {
            occupied.insert(
                bed.trim_start_matches("Location/").to_string(),
                start.with_timezone(&Utc),
            );
        }
    }
    let mut stays = Vec::new();
    let mut encounters = Vec::new();
    for (w, ward) in staff.wards.iter().enumerate() {
        let mut r = rng(cfg.seed, "past-stays", w as u64);
        let mean = mean_days(&ward.spec.kind);
        for bed in 1..=ward.beds {
            let bed_id = ward.bed_id(bed);
            let until = occupied
                .get(&bed_id)
                .copied()
                .unwrap_or(cfg.now - Duration::hours(int(&mut r, 2, 30)));
            // Already occupied when the history begins.
            let mut t = history_start(cfg) - Duration::hours(int(&mut r, 0, (mean * 24.0) as i64));
            let mut n = 0;
            loop {
                let hours = (exponential(&mut r, (mean - 1.0) * 24.0) + 20.0) as i64;
                let end = t + Duration::hours(hours);
                if end + Duration::hours(2) > until {
                    break;
                }
                let who = &pool[*weighted(&mut r, &weights)];
                n += 1;
                let id = format!("stay-{}-{bed:02}-{n:04}", ward.spec.key);
                encounters.push(json!({
                    "resourceType": "Encounter",
                    "id": id,
                    "meta": fhir::meta(),
                    "status": "finished",
                    "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP", "display": "inpatient encounter"},
                    "type": [concept(&[(SNOMED, "32485007", "Hospital admission")])],
                    "subject": reference("Patient", &who.0),
                    "period": {"start": instant(t), "end": instant(end)},
                    "location": [
                        {"location": {"reference": format!("Location/{}", ward.id()), "display": ward.spec.name}, "status": "completed", "physicalType": concept(&[(PHYSICAL_TYPE, "wa", "Ward")]), "period": {"start": instant(t), "end": instant(end)}},
                    ],
                    "serviceProvider": reference("Organization", ORGANIZATION),
                }));
                stays.push(Stay {
                    ward: ward.id(),
                    patient: who.0.clone(),
                    encounter: id.clone(),
                    start: t,
                    end,
                    interpreter: who.2,
                });
                t = end + Duration::minutes(int(&mut r, 90, 36 * 60));
            }
        }
    }
    out.extend(encounters);
    alerts(cfg, staff, &stays, out);
    stays.sort_by(|a, b| a.ward.cmp(&b.ward).then(a.start.cmp(&b.start)));
    stays
}

/// Past NEWS2 alerts: about one stay in ten had one, answered and resolved; most were
/// acknowledged by the deadline of their band under Tend's alert policy, some late. The
/// Tasks have the early-warning service's shape (code `news2-response`, the band, the
/// deadline, who acknowledged and when).
fn alerts(cfg: &Config, staff: &Staff, stays: &[Stay], out: &mut Out) {
    const EW: &str = "https://tend.example.org/fhir/CodeSystem/early-warning";
    const BAND: &str = "https://tend.example.org/fhir/CodeSystem/news2-band";
    const STATUS: &str = "https://tend.example.org/fhir/CodeSystem/alert-status";
    let policy = rules::Policy::default();
    let mut r = rng(cfg.seed, "past-alerts", 0);
    for (k, s) in stays.iter().enumerate() {
        if !crate::random::chance(&mut r, 0.10) {
            continue;
        }
        let hours = (s.end - s.start).num_hours().max(2);
        let set = s.start + Duration::hours(int(&mut r, 1, hours - 1));
        let (band, words, minutes) = match *weighted(
            &mut r,
            &[("low-medium", 0.5), ("medium", 0.35), ("high", 0.15)],
        ) {
            "high" => ("high", "High", policy.high.deadline_minutes),
            "medium" => ("medium", "Medium", policy.medium.deadline_minutes),
            _ => (
                "low-medium",
                "Low-medium",
                policy.low_medium.deadline_minutes,
            ),
        };
        let minutes = i64::from(minutes);
        let deadline = set + Duration::minutes(minutes);
        let acknowledged = if crate::random::chance(&mut r, 0.88) {
            set + Duration::minutes(int(&mut r, 2, minutes))
        } else {
            deadline + Duration::minutes(int(&mut r, 5, 90))
        };
        let resolved = acknowledged + Duration::minutes(int(&mut r, 60, 360));
        let attending = staff
            .wards
            .iter()
            .find(|w| w.id() == s.ward)
            .map(|w| w.attending.clone())
            .unwrap_or_default();
        out.push(json!({
            "resourceType": "Task",
            "id": format!("alert-past-{k:06}"),
            "meta": {"tag": [
                {"system": "https://tend.example.org/fhir/CodeSystem/tend-tags", "code": "early-warning"},
                {"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "HTEST", "display": "test health data"}
            ]},
            "status": "completed",
            "businessStatus": {"coding": [{"system": STATUS, "code": "resolved"}], "text": "Resolved"},
            "intent": "order",
            "priority": if band == "high" { "stat" } else { "urgent" },
            "code": {"coding": [{"system": EW, "code": "news2-response", "display": "NEWS2 clinical response"}]},
            "for": reference("Patient", &s.patient),
            "location": reference("Location", &s.ward),
            "authoredOn": instant(set),
            "lastModified": instant(resolved),
            "restriction": {"period": {"end": instant(deadline)}},
            "reasonCode": {"coding": [{"system": BAND, "code": band, "display": words}], "text": words},
            "owner": reference("Practitioner", &attending),
            "executionPeriod": {"start": instant(acknowledged), "end": instant(resolved)},
        }));
        // A raised score with infection suspected: the sepsis first hour, one in three.
        if band != "low-medium" && crate::random::chance(&mut r, 0.35) {
            let nurse = staff
                .wards
                .iter()
                .find(|w| w.id() == s.ward)
                .and_then(|w| w.nurses.first().cloned())
                .unwrap_or_default();
            let score = if band == "high" { 7 } else { 5 };
            crate::sepsis_episodes::past(
                cfg.seed, k, s, set, score, &attending, &nurse, cfg.now, out,
            );
        }
    }
}

/// The stays on `ward` at `at`.
pub(crate) fn on_ward_at<'a>(stays: &'a [Stay], ward: &str, at: DateTime<Utc>) -> Vec<&'a Stay> {
    let from = stays.partition_point(|s| s.ward.as_str() < ward);
    let to = stays.partition_point(|s| s.ward.as_str() <= ward);
    stays[from..to]
        .iter()
        .filter(|s| s.start <= at && at < s.end)
        .collect()
}
