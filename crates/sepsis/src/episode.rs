//! Which of a patient's records make a sepsis episode, and what the first hour looks like now.
//! Pure: the resources, the zone and `now` are arguments.
//!
//! The pathway (`sepsis-adult`, NICE NG51) starts its clocks at the later of a raised
//! early-warning score and suspected infection. A ward patient's record holds scores from
//! every day of a long stay, so the service decides which of them belong to one suspicion of
//! infection:
//!
//! - **An episode** begins with a Condition recording suspected infection (the pathway's
//!   `suspected-infection` evidence: not refuted, not entered in error) and lasts
//!   [`EPISODE_HOURS`]. A second suspicion recorded while an episode runs belongs to it.
//! - **Readings** (early-warning scores, lactate, systolic blood pressure) count when they
//!   were the latest of their kind at the moment infection was suspected (taken at most
//!   [`EPISODE_HOURS`] before), or came after it within the episode: the patient's state when
//!   the clinician suspected infection, and what followed. A score of 7 from a week ago that
//!   has since settled starts nothing.
//! - **Actions** (cultures, antibiotics, fluids) count from the suspicion on; the engine
//!   counts a clock's stop only at or after its start.
//!
//! A score's time is when its set was taken (`effectiveDateTime`), not when it was scored
//! (`issued`): a set scored late, or history scored when the record is loaded, starts its
//! clock when the patient was that ill. A laboratory result counts when it was reported.
//!
//! Lactate reported in mg/dL is converted to mmol/L by lactate's molar mass, 90.08 g/mol
//! (1 mmol/L = 9.008 mg/dL). A blood-pressure panel (LOINC 85354-9) gives its systolic
//! component (8480-6) as a reading of its own.

use chrono::{DateTime, Duration, FixedOffset};
use chrono_tz::Tz;
use pathways::{Coding, Evaluation, Event, Pathway, ResourceType};
use serde_json::Value;

/// How far back the service judges suspicions again, in days: older first hours are history,
/// kept as they were judged.
pub const LOOK_BACK_DAYS: i64 = 30;

/// How long an episode lasts after infection was first suspected, in hours: the first-hour
/// actions are long due by then. A later suspicion starts a new episode.
pub const EPISODE_HOURS: i64 = 24;

const SNOMED: &str = "http://snomed.info/sct";
const LOINC: &str = "http://loinc.org";
/// NEWS2 total score (UK SNOMED CT), as early warning writes it.
pub const NEWS2_TOTAL: &str = "1104051000000101";
/// PEWS total score (UK SNOMED CT), as early warning writes it.
pub const PEWS_TOTAL: &str = "1363261000000104";
/// Lactate, serum or plasma and blood (LOINC).
pub const LACTATE: [&str; 2] = ["2524-7", "32693-4"];
/// Systolic blood pressure (LOINC).
pub const SYSTOLIC: &str = "8480-6";
/// mg/dL of lactate in one mmol/L (molar mass 90.08 g/mol).
const LACTATE_MG_DL_PER_MMOL_L: f64 = 9.008;

/// The kind of reading whose latest value at the suspicion counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reading {
    Score,
    Lactate,
    Systolic,
}

/// Whether an event is a reading the episodes look at (a score of any value, a lactate, a
/// systolic blood pressure).
pub fn is_reading(e: &Event) -> bool {
    reading(e).is_some()
}

fn reading(e: &Event) -> Option<Reading> {
    if e.kind != pathways::EventKind::Resource(ResourceType::Observation) {
        return None;
    }
    let has =
        |system: &str, code: &str| e.codes.iter().any(|c| c.system == system && c.code == code);
    if has(SNOMED, NEWS2_TOTAL) || has(SNOMED, PEWS_TOTAL) {
        Some(Reading::Score)
    } else if LACTATE.iter().any(|c| has(LOINC, c)) {
        Some(Reading::Lactate)
    } else if has(LOINC, SYSTOLIC) {
        Some(Reading::Systolic)
    } else {
        None
    }
}

/// A resource as the events the pathway reads: itself, and for a blood-pressure panel its
/// systolic component; lactate in mmol/L.
pub fn events(zone: Tz, r: &Value) -> Vec<Event> {
    let Some(mut e) = pathways::fhir::event(zone, r) else {
        return Vec::new();
    };
    // A score counts from when its set was taken, not when it was scored.
    if reading(&e) == Some(Reading::Score) {
        if let Some(t) = r["effectiveDateTime"]
            .as_str()
            .and_then(|t| pathways::fhir::at(zone, t))
        {
            e.time = t;
        }
    }
    if LACTATE
        .iter()
        .any(|c| e.codes.iter().any(|x| x.system == LOINC && x.code == *c))
    {
        let unit = r["valueQuantity"]["code"]
            .as_str()
            .or_else(|| r["valueQuantity"]["unit"].as_str())
            .unwrap_or("mmol/L");
        if unit.eq_ignore_ascii_case("mg/dL") {
            e.value = e.value.map(|v| v / LACTATE_MG_DL_PER_MMOL_L);
        }
    }
    let mut out = Vec::new();
    if r["resourceType"] == "Observation" {
        for c in r["component"].as_array().into_iter().flatten() {
            let systolic = c["code"]["coding"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|k| k["system"] == LOINC && k["code"] == SYSTOLIC);
            if let (true, Some(v)) = (systolic, c["valueQuantity"]["value"].as_f64()) {
                out.push(Event {
                    id: format!("{}#systolic", e.id),
                    codes: vec![Coding::new(LOINC, SYSTOLIC)],
                    value: Some(v),
                    value_codes: Vec::new(),
                    ..e.clone()
                });
            }
        }
    }
    out.insert(0, e);
    out
}

/// One suspicion of infection and the first hour around it.
#[derive(Debug, Clone)]
pub struct Episode {
    /// The Condition that began it (`Condition/ID`).
    pub anchor: String,
    /// When infection was suspected.
    pub suspected: DateTime<FixedOffset>,
    /// The engine's judgement at `now`.
    pub evaluation: Evaluation,
}

impl Episode {
    /// Whether the episode still runs at `now`.
    pub fn current(&self, now: DateTime<FixedOffset>) -> bool {
        now < self.suspected + Duration::hours(EPISODE_HOURS)
    }
}

/// The patient's episodes from `events` (the patient's resources read by [`events`]),
/// oldest first, each judged at `now`.
pub fn episodes(pathway: &Pathway, events: &[Event], now: DateTime<FixedOffset>) -> Vec<Episode> {
    let Some(suspicion) = pathway.milestone("suspected-infection") else {
        return Vec::new();
    };
    let mut anchors: Vec<&Event> = events
        .iter()
        .filter(|e| suspicion.completed_by(e) && e.time <= now)
        .collect();
    anchors.sort_by(|a, b| a.time.cmp(&b.time).then_with(|| a.id.cmp(&b.id)));
    let span = Duration::hours(EPISODE_HOURS);
    let mut kept: Vec<&Event> = Vec::new();
    for a in anchors {
        if kept.last().is_none_or(|k| a.time >= k.time + span) {
            kept.push(a);
        }
    }
    kept.into_iter()
        .map(|anchor| {
            let from = anchor.time;
            let until = from + span;
            let mut chosen: Vec<Event> = Vec::new();
            // The latest reading of each kind at the suspicion.
            for kind in [Reading::Score, Reading::Lactate, Reading::Systolic] {
                if let Some(latest) = events
                    .iter()
                    .filter(|e| reading(e) == Some(kind))
                    .filter(|e| e.time <= from && e.time >= from - span)
                    .max_by(|a, b| a.time.cmp(&b.time).then_with(|| a.id.cmp(&b.id)))
                {
                    chosen.push(latest.clone());
                }
            }
            for e in events {
                let counts = if reading(e).is_some() {
                    e.time > from && e.time <= until
                } else {
                    e.time >= from && e.time <= until
                };
                if (counts || e.id == anchor.id) && !chosen.iter().any(|c| c.id == e.id) {
                    chosen.push(e.clone());
                }
            }
            // Other suspicions within the episode are the same suspicion.
            chosen.retain(|e| e.id == anchor.id || !suspicion.completed_by(e));
            Episode {
                anchor: anchor.id.clone(),
                suspected: from,
                evaluation: pathways::evaluate(pathway, &chosen, &[], now),
            }
        })
        .collect()
}
