//! What the nurse-sensitive indicators beyond falls are counted from, over the demo's
//! history: a monthly pressure-injury and restraint point-prevalence survey of every
//! patient on every ward, central lines and urinary catheters in some stays (most on the
//! coronary care unit and after surgery), and the few infections that follow them, in the
//! shapes crate `surveillance` gives them.
//!
//! The figures are chosen to look like a hospital's, not taken from one: about 1 to 2 in 100
//! patients surveyed with a stage 2+ hospital-acquired pressure injury and as many in a vest
//! or limb restraint, more on the coronary care unit and the older people's ward; device-associated infections of about one to two per 1,000
//! device days.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc, Weekday};
use surveillance::device::{DeviceKind, DeviceUse};
use surveillance::infection::{Event, Infection};
use surveillance::survey::{Finding, NotAssessed, Restraint, Stage, Survey};

use crate::facility::{Staff, WardKind};
use crate::fhir::with_test_tag;
use crate::hospital::{Config, Out};
use crate::random::{chance, exponential, int, pick, rng, weighted};
use crate::stays::{history_start, Stay};

/// A stay the indicators follow: a past one, or a current admission (open).
struct Here {
    ward: String,
    kind: WardKind,
    patient: String,
    encounter: String,
    start: DateTime<Utc>,
    /// The end, or now for a patient still here.
    end: DateTime<Utc>,
    open: bool,
}

fn here(cfg: &Config, staff: &Staff, past: &[Stay], out: &Out) -> Vec<Here> {
    let kind = |ward: &str| {
        staff
            .wards
            .iter()
            .find(|w| w.id() == ward)
            .map(|w| w.spec.kind)
    };
    let mut all: Vec<Here> = past
        .iter()
        .filter_map(|s| {
            Some(Here {
                ward: s.ward.clone(),
                kind: kind(&s.ward)?,
                patient: s.patient.clone(),
                encounter: s.encounter.clone(),
                start: s.start,
                end: s.end,
                open: false,
            })
        })
        .collect();
    for e in out.of_type("Encounter") {
        if e["status"] != "in-progress" || e["class"]["code"] != "IMP" {
            continue;
        }
        let ward = e["location"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|l| l["physicalType"]["coding"][0]["code"] == "wa")
            .and_then(|l| l["location"]["reference"].as_str())
            .map(|r| r.trim_start_matches("Location/").to_string());
        let start = e["period"]["start"]
            .as_str()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.with_timezone(&Utc));
        let patient = e["subject"]["reference"]
            .as_str()
            .map(|r| r.trim_start_matches("Patient/").to_string());
        if let (Some(ward), Some(start), Some(patient), Some(id)) =
            (ward, start, patient, e["id"].as_str())
        {
            if let Some(k) = kind(&ward) {
                all.push(Here {
                    ward,
                    kind: k,
                    patient,
                    encounter: id.to_string(),
                    start,
                    end: cfg.now,
                    open: true,
                });
            }
        }
    }
    all
}

/// The chance a stay has a central line, and a urinary catheter.
fn device_chances(kind: &WardKind) -> (f64, f64) {
    match kind {
        WardKind::Coronary => (0.35, 0.30),
        WardKind::Surgery => (0.15, 0.35),
        WardKind::Respiratory => (0.12, 0.15),
        WardKind::AcuteMedicine => (0.10, 0.15),
        WardKind::OlderPeople => (0.05, 0.20),
    }
}

/// Infections per eligible device day (from device day 3, while the patient is in): about
/// one to two per 1,000 of all device days.
fn infection_rate(kind: DeviceKind) -> f64 {
    match kind {
        DeviceKind::CentralLine => 4.0 / 1000.0,
        DeviceKind::UrinaryCatheter => 4.0 / 1000.0,
    }
}

/// The demo's infection prevention nurse, who confirms the infections.
const INFECTION_PREVENTION: &str = "prac-infection-prevention";

pub(crate) fn generate(cfg: &Config, staff: &Staff, past: &[Stay], out: &mut Out) {
    if cfg.history_days == 0 {
        return;
    }
    out.push(serde_json::json!({
        "resourceType": "Practitioner",
        "id": INFECTION_PREVENTION,
        "meta": crate::fhir::meta(),
        "active": true,
        "name": [{"given": ["Priya"], "family": "Raman", "suffix": ["RN", "CIC"], "text": "Priya Raman, infection prevention"}],
    }));
    let stays = here(cfg, staff, past, out);
    devices(cfg, &stays, out);
    surveys(cfg, staff, &stays, out);
}

fn devices(cfg: &Config, stays: &[Here], out: &mut Out) {
    let mut r = rng(cfg.seed, "devices", 0);
    let mut n = 0u32;
    for s in stays {
        let (line, catheter) = device_chances(&s.kind);
        for (kind, p, mean_days) in [
            (DeviceKind::CentralLine, line, 4.0),
            (DeviceKind::UrinaryCatheter, catheter, 4.0),
        ] {
            if !chance(&mut r, p) {
                continue;
            }
            let stay_hours = (s.end - s.start).num_hours();
            if stay_hours < 6 {
                continue;
            }
            let placed = s.start + Duration::hours(int(&mut r, 1, (stay_hours / 3).clamp(2, 24)));
            let days = exponential(&mut r, mean_days) + 0.5;
            let planned = placed + Duration::minutes((days * 24.0 * 60.0) as i64);
            // Out before the patient leaves; a patient still here may still have it in.
            let removed = if planned < s.end - Duration::hours(1) {
                Some(planned)
            } else if s.open {
                None
            } else {
                Some(s.end - Duration::hours(1))
            };
            if removed.is_some_and(|t| t <= placed) {
                continue;
            }
            n += 1;
            let u = DeviceUse {
                patient: s.patient.clone(),
                encounter: Some(s.encounter.clone()),
                kind,
                placed,
                removed,
                site: Some(
                    match kind {
                        DeviceKind::CentralLine => *pick(
                            &mut r,
                            &[
                                "Right internal jugular vein",
                                "Left subclavian vein",
                                "PICC, right basilic vein",
                            ],
                        ),
                        DeviceKind::UrinaryCatheter => "Urethral",
                    }
                    .to_string(),
                ),
            };
            let Ok((device, statement)) =
                u.resources(&format!("dev-{n:06}"), &format!("dus-{n:06}"), placed)
            else {
                continue;
            };
            out.push(with_test_tag(device));
            out.push(with_test_tag(statement));
            // An infection on device day 3 or later, while the patient is still in.
            let until = removed.unwrap_or(cfg.now).min(s.end - Duration::hours(30));
            let in_days = (until - placed).num_hours() as f64 / 24.0;
            if in_days < 2.5 || !chance(&mut r, infection_rate(kind) * in_days) {
                continue;
            }
            let onset = placed + Duration::hours(int(&mut r, 60, (in_days * 24.0) as i64));
            let recorded = (onset + Duration::days(int(&mut r, 1, 4))).min(cfg.now);
            let inf = Infection {
                patient: s.patient.clone(),
                encounter: Some(s.encounter.clone()),
                event: match kind {
                    DeviceKind::CentralLine => Event::Clabsi,
                    DeviceKind::UrinaryCatheter => Event::Cauti,
                },
                date_of_event: onset.date_naive(),
                recorder: Some(INFECTION_PREVENTION.into()),
            };
            out.push(with_test_tag(
                inf.condition(&format!("hai-{n:06}"), recorded),
            ));
        }
    }
}

/// The survey day: the third Wednesday of each month, at 10:00 in New York (15:00 UTC).
fn survey_days(from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let mut out = Vec::new();
    let mut month = NaiveDate::from_ymd_opt(from.year(), from.month(), 1);
    while let Some(first) = month {
        let offset = (7 + Weekday::Wed.num_days_from_monday() as i64
            - first.weekday().num_days_from_monday() as i64)
            % 7;
        let day = first + Duration::days(offset + 14);
        let Some(at) = day.and_hms_opt(15, 0, 0).map(|t| t.and_utc()) else {
            break;
        };
        if at > to {
            break;
        }
        if at >= from {
            out.push(at);
        }
        month = first.checked_add_months(chrono::Months::new(1));
    }
    out
}

/// Higher risk of pressure injury and restraint on some wards.
fn risk(kind: &WardKind) -> f64 {
    match kind {
        WardKind::Coronary => 1.8,
        WardKind::OlderPeople => 1.6,
        WardKind::Surgery => 0.8,
        _ => 1.0,
    }
}

fn surveys(cfg: &Config, staff: &Staff, stays: &[Here], out: &mut Out) {
    let mut r = rng(cfg.seed, "prevalence-surveys", 0);
    let mut n = 0u32;
    let mut by_ward: std::collections::BTreeMap<&str, Vec<&Here>> = Default::default();
    for s in stays {
        by_ward.entry(s.ward.as_str()).or_default().push(s);
    }
    for day in survey_days(history_start(cfg), cfg.now) {
        for ward in &staff.wards {
            let id = ward.id();
            let k = risk(&ward.spec.kind);
            for s in by_ward.get(id.as_str()).into_iter().flatten() {
                if !(s.start <= day && day < s.end) {
                    continue;
                }
                let at = day + Duration::minutes(int(&mut r, 0, 180));
                let pressure_injury = if chance(&mut r, 0.03) {
                    Finding::NotAssessed(NotAssessed::Refused)
                } else {
                    Finding::Found(*weighted(
                        &mut r,
                        &[
                            (Stage::None, 1.0 - 0.034 * k),
                            (Stage::Stage1, 0.022 * k),
                            (Stage::Stage2, 0.007 * k),
                            (Stage::Stage3, 0.002 * k),
                            (Stage::Stage4, 0.0005 * k),
                            (Stage::Unstageable, 0.0015 * k),
                            (Stage::DeepTissue, 0.001 * k),
                        ],
                    ))
                };
                let restraint = if chance(&mut r, 0.01) {
                    Finding::NotAssessed(NotAssessed::Unavailable)
                } else {
                    Finding::Found(*weighted(
                        &mut r,
                        &[
                            (Restraint::None, 1.0 - 0.026 * k),
                            (Restraint::Limb, 0.010 * k),
                            (Restraint::Vest, 0.002 * k),
                            (Restraint::VestAndLimb, 0.002 * k),
                            (Restraint::Other, 0.012 * k),
                        ],
                    ))
                };
                n += 1;
                let survey = Survey {
                    patient: s.patient.clone(),
                    encounter: Some(s.encounter.clone()),
                    surveyed: at,
                    surveyor: Some(pick(&mut r, &ward.nurses).clone()),
                    pressure_injury,
                    restraint,
                };
                out.push(with_test_tag(survey.observation(
                    &format!("survey-{n:06}"),
                    at + Duration::minutes(5),
                )));
            }
        }
    }
}
