//! One observation set: the readings of one patient scored together, and the inputs of
//! NEWS2, qSOFA and SIRS built from them.
//!
//! Readings form one set when they are members of one vital-signs panel (or one HL7 v2
//! message, which arrives as a panel), or, posted one by one, when they fall within a
//! window anchored at the set's first reading (the grouping itself is the evaluator's; see
//! [`SetWindow`]). Within a set the latest reading of each kind counts. Labs for SIRS
//! (white cells, PaCO2, band forms) are the latest within their own, longer window.
//!
//! A child's set is scored with the national PEWS instead ([`assemble_pews`]): the same
//! readings plus capillary refill time, respiratory distress and the oxygen device.

use serde::Serialize;

use crate::news2::Vitals;
use crate::observation::{on_oxygen, Kind, Reading};
use crate::pews;
use crate::sepsis::{QsofaInputs, SirsInputs};

/// How readings posted one by one are grouped, and how far back labs are looked up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetWindow {
    /// Readings within this many ms after a set's first reading join that set (10 min).
    pub readings_ms: i64,
    /// A lab counts for SIRS when taken at most this many ms before the set (24 h).
    pub labs_ms: i64,
}

impl Default for SetWindow {
    fn default() -> SetWindow {
        SetWindow {
            readings_ms: 10 * 60_000,
            labs_ms: 24 * 3_600_000,
        }
    }
}

/// Where the air/oxygen parameter of a set came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OxygenBasis {
    /// An oxygen flow or inspired-fraction reading in the set.
    Recorded,
    /// No reading, and the source is configured to mean "no oxygen reading = air".
    AssumedAir,
    /// No reading: the parameter is missing.
    Missing,
}

impl OxygenBasis {
    pub fn code(self) -> &'static str {
        match self {
            OxygenBasis::Recorded => "recorded",
            OxygenBasis::AssumedAir => "assumed-air",
            OxygenBasis::Missing => "missing",
        }
    }
}

/// The inputs of the three scores for one set.
#[derive(Debug, Clone, PartialEq)]
pub struct SetInputs {
    pub vitals: Vitals,
    pub oxygen_basis: OxygenBasis,
    pub qsofa: QsofaInputs,
    pub sirs: SirsInputs,
}

/// A reading with its time (ms since the epoch).
pub type Timed = (i64, Kind, Reading);

fn latest(readings: &[Timed], kind: Kind) -> Option<Reading> {
    readings
        .iter()
        .filter(|(_, k, _)| *k == kind)
        .max_by_key(|(t, ..)| *t)
        .map(|(_, _, r)| *r)
}

/// Build the score inputs from a set's readings and the patient's recent labs.
/// `air_when_absent`: the source means "no oxygen reading = air".
pub fn assemble(set: &[Timed], labs: &[Timed], air_when_absent: bool) -> SetInputs {
    let num = |k: Kind| latest(set, k).and_then(|r| r.number());
    let lab = |k: Kind| latest(labs, k).and_then(|r| r.number());
    let acvpu = match latest(set, Kind::Consciousness) {
        Some(Reading::Acvpu(a)) => Some(a),
        _ => None,
    };
    // The latest oxygen reading decides (flow and fraction alike).
    let oxygen_reading = set
        .iter()
        .filter(|(_, k, _)| matches!(k, Kind::OxygenFlow | Kind::InspiredOxygen))
        .max_by_key(|(t, ..)| *t)
        .and_then(|(_, k, r)| on_oxygen(*k, r));
    let (oxygen, oxygen_basis) = match (oxygen_reading, air_when_absent) {
        (Some(o), _) => (Some(o), OxygenBasis::Recorded),
        (None, true) => (Some(false), OxygenBasis::AssumedAir),
        (None, false) => (None, OxygenBasis::Missing),
    };
    let vitals = Vitals {
        respiration_rate: num(Kind::RespirationRate),
        spo2: num(Kind::SpO2),
        oxygen,
        systolic_bp: num(Kind::SystolicBp),
        pulse: num(Kind::Pulse),
        consciousness: acvpu,
        temperature: num(Kind::Temperature),
    };
    SetInputs {
        qsofa: QsofaInputs {
            respiration_rate: vitals.respiration_rate,
            systolic_bp: vitals.systolic_bp,
            gcs: num(Kind::Gcs),
            consciousness: acvpu,
        },
        sirs: SirsInputs {
            temperature: vitals.temperature,
            heart_rate: vitals.pulse,
            respiration_rate: vitals.respiration_rate,
            paco2: lab(Kind::PaCO2),
            wbc: lab(Kind::WhiteCells),
            bands: lab(Kind::BandForms),
        },
        vitals,
        oxygen_basis,
    }
}

/// Build a child's PEWS inputs from a set's readings. `air_when_absent`: the source means
/// "no oxygen reading = air". The previous set's AVPU (for the "change to" triggers) is the
/// caller's to fill in.
///
/// Oxygen: the latest flow or inspired-oxygen reading. A flow of 0 L/min, or an inspired
/// fraction of 21 % or less (room air), is air; otherwise the level scores by table P5b (%)
/// or P5c (L/min). The device is the latest oxygen reading's `method`; the device "air" with
/// no level reading is air.
pub fn assemble_pews(set: &[Timed], air_when_absent: bool) -> (pews::Inputs, OxygenBasis) {
    let num = |k: Kind| latest(set, k).and_then(|r| r.number());
    let device = match latest(set, Kind::OxygenDevice) {
        Some(Reading::Device(d)) => Some(d),
        _ => None,
    };
    let level = set
        .iter()
        .filter(|(_, k, _)| matches!(k, Kind::OxygenFlow | Kind::InspiredOxygen))
        .max_by_key(|(t, ..)| *t)
        .and_then(|(_, k, r)| {
            let v = r.number()?;
            let air = !on_oxygen(*k, r)?;
            Some(match (k, air) {
                (_, true) => pews::Oxygen::Air,
                (Kind::OxygenFlow, false) => pews::Oxygen::LitresPerMinute(v),
                _ => pews::Oxygen::Percent(v),
            })
        });
    let (oxygen, basis) = match (level, device, air_when_absent) {
        (Some(o), ..) => (Some(o), OxygenBasis::Recorded),
        (None, Some(crate::observation::OxygenDevice::Air), _) => {
            (Some(pews::Oxygen::Air), OxygenBasis::Recorded)
        }
        (None, _, true) => (Some(pews::Oxygen::Air), OxygenBasis::AssumedAir),
        (None, _, false) => (None, OxygenBasis::Missing),
    };
    let avpu = match latest(set, Kind::Consciousness) {
        Some(Reading::Acvpu(a)) => pews::Avpu::from_acvpu(a),
        _ => None,
    };
    let distress = match latest(set, Kind::RespiratoryDistress) {
        Some(Reading::Distress(d)) => Some(d),
        _ => None,
    };
    let inputs = pews::Inputs {
        respiratory_rate: num(Kind::RespirationRate),
        respiratory_distress: distress,
        spo2: num(Kind::SpO2),
        device: device.and_then(|d| d.pews_device()),
        oxygen,
        heart_rate: num(Kind::Pulse),
        systolic_bp: num(Kind::SystolicBp),
        bp_not_obtained: None,
        capillary_refill: num(Kind::CapillaryRefill),
        triggers: pews::Triggers {
            avpu,
            abnormal_pupils: matches!(
                latest(set, Kind::AbnormalPupils),
                Some(Reading::Finding(true))
            ),
            new_sepsis_suspicion: matches!(
                latest(set, Kind::SepsisSuspicion),
                Some(Reading::Sepsis { shock: false })
            ),
            new_septic_shock_suspicion: matches!(
                latest(set, Kind::SepsisSuspicion),
                Some(Reading::Sepsis { shock: true })
            ),
            carer: match latest(set, Kind::CarerQuestion) {
                Some(Reading::Carer(c)) => Some(c),
                _ => None,
            },
            clinical_intuition: match latest(set, Kind::ClinicalIntuition) {
                Some(Reading::Level(l)) => Some(l),
                _ => None,
            },
            ..pews::Triggers::default()
        },
    };
    (inputs, basis)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observation::OxygenDevice;
    use crate::Decimal;

    fn n(s: &str) -> Reading {
        Reading::Number(Decimal::parse(s).unwrap())
    }

    /// The escalation criteria recorded with a child's set (PEWS table P11) reach the
    /// score's escalation, read from the Observations Tend's bedside form writes.
    #[test]
    fn pews_triggers_from_the_record() {
        use crate::observation::{self, EARLY_WARNING};
        use serde_json::json;
        let coded = |code: &str, answer: &str| {
            json!({"status": "final", "code": {"coding": [{"system": EARLY_WARNING, "code": code}]},
                "valueCodeableConcept": {"coding": [{"system": EARLY_WARNING, "code": answer}]}})
        };
        let readings = |obs: &[serde_json::Value]| -> Vec<Timed> {
            obs.iter()
                .flat_map(|o| observation::read(o).readings)
                .map(|(k, r)| (1, k, r))
                .collect()
        };
        let set = readings(&[
            coded(observation::CARER_QUESTION, "worse-medium"),
            coded(observation::CLINICAL_INTUITION, "high"),
            coded(observation::SEPSIS_SUSPICION, "sepsis"),
            json!({"status": "final", "code": {"coding": [{"system": EARLY_WARNING, "code": observation::ABNORMAL_PUPILS}]},
                "valueBoolean": false}),
        ]);
        let t = assemble_pews(&set, true).0.triggers;
        assert_eq!(t.carer, Some(pews::Carer::Worse(pews::Level::Medium)));
        assert_eq!(t.clinical_intuition, Some(pews::Level::High));
        assert!(t.new_sepsis_suspicion && !t.new_septic_shock_suspicion);
        assert!(!t.abnormal_pupils);
        // Septic shock and abnormal pupils, each on its own.
        let shock = readings(&[coded(observation::SEPSIS_SUSPICION, "septic-shock")]);
        assert!(
            assemble_pews(&shock, true)
                .0
                .triggers
                .new_septic_shock_suspicion
        );
        let pupils = readings(&[json!({"status": "final",
            "code": {"coding": [{"system": EARLY_WARNING, "code": observation::ABNORMAL_PUPILS}]},
            "valueBoolean": true})]);
        let (inputs, _) = assemble_pews(&pupils, true);
        assert!(inputs.triggers.abnormal_pupils);
        assert_eq!(
            pews::escalate(0, false, &inputs.triggers).level,
            pews::Level::Emergency,
            "abnormal pupils escalate to emergency whatever the score"
        );
        // An answer Tend does not know is a problem, never a guess.
        let p = observation::read(&coded(observation::CARER_QUESTION, "worse-ish"));
        assert!(p.readings.is_empty() && !p.problems.is_empty());
    }

    #[test]
    fn pews_oxygen_from_level_device_or_assumption() {
        let flow0 = [(1, Kind::OxygenFlow, n("0"))];
        assert_eq!(
            assemble_pews(&flow0, false).0.oxygen,
            Some(pews::Oxygen::Air)
        );
        let hf = [
            (1, Kind::OxygenFlow, n("20")),
            (
                1,
                Kind::OxygenDevice,
                Reading::Device(OxygenDevice::HighFlow),
            ),
        ];
        let (i, basis) = assemble_pews(&hf, false);
        assert_eq!(i.device, Some(pews::Device::HighFlow));
        assert_eq!(
            i.oxygen,
            Some(pews::Oxygen::LitresPerMinute(Decimal::from_int(20)))
        );
        assert_eq!(basis, OxygenBasis::Recorded);
        let venturi = [(1, Kind::InspiredOxygen, n("28"))];
        assert_eq!(
            assemble_pews(&venturi, false).0.oxygen,
            Some(pews::Oxygen::Percent(Decimal::from_int(28)))
        );
        assert_eq!(assemble_pews(&[], false).1, OxygenBasis::Missing);
        assert_eq!(assemble_pews(&[], true).1, OxygenBasis::AssumedAir);
    }
}
