//! Vital signs and labs as real feeds send them: FHIR R4 Observations
//! (<https://hl7.org/fhir/R4/observation-vitalsigns.html>) read into typed readings for the
//! scores. HL7 v2 results arrive as the same Observations.
//!
//! | Reading | Codes (LOINC unless noted) | Units accepted |
//! |---|---|---|
//! | Respiration rate | 9279-1 | `/min` |
//! | SpO2 | 59408-5, 2708-6 | `%` |
//! | Supplemental oxygen, flow | 3151-8 (> 0 means oxygen) | `L/min` |
//! | Supplemental oxygen, inspired fraction | 3150-0 (> 21 % means oxygen) | `%` (a value ≤ 1 with unit `1` is a fraction) |
//! | Systolic BP | 8480-6, alone or as a component of any panel (e.g. 85354-9) | `mm[Hg]` |
//! | Pulse | 8867-4 | `/min` |
//! | Temperature | 8310-5 | `Cel`, `[degF]` (converted exactly) |
//! | Consciousness (ACVPU) | 80288-4, 67775-7, coded SNOMED CT 248234008 A, 130987000 C, 300202002 V, 450847001 P, 422768004 U | |
//! | Glasgow coma score total | 9269-2 | `{score}` |
//! | White cells | 6690-2, 26464-8 | `10*3/uL`, `10*9/L`; `/uL` divided by 1000 |
//! | PaCO2 | 2019-8 | `mm[Hg]`; `kPa` × 7.50062 |
//! | Band neutrophils | 764-1, 26508-2 | `%` |
//! | Capillary refill time | 44963-7 | `s` |
//! | Respiratory distress (PEWS) | Tend's `https://tend.example.org/fhir/CodeSystem/early-warning` `respiratory-distress`, coded in the same system `none`, `mild`, `moderate`, `severe` | |
//! | Oxygen device | the `method` of an oxygen reading (3151-8, 3150-0), coded in `https://tend.example.org/fhir/CodeSystem/oxygen-device` | |
//! | Vital-signs panel | 85353-1, its `hasMember` form one observation set | |
//!
//! Respiratory distress has no LOINC answer list that matches the PEWS chart's four
//! categories (table P3 of the national PEWS), so it is Tend's own code with the chart's
//! categories as answers. The oxygen device is an attribute of the oxygen reading
//! ([`Parsed::device`]); a set carries it as a reading of its own ([`Kind::OxygenDevice`]).
//!
//! Only readings with status `final`, `amended`, `corrected` or `preliminary` count.
//! A value in an unknown unit is not guessed: it is reported as a problem and left out.

use serde::Serialize;
use serde_json::Value;

use crate::news2::Acvpu;
use crate::pews::{self, Distress};
use crate::Decimal;

pub const LOINC: &str = "http://loinc.org";
pub const SNOMED: &str = "http://snomed.info/sct";
/// Tend's early-warning code system (scores, components, and the respiratory distress
/// reading and its answers).
pub const EARLY_WARNING: &str = "https://tend.example.org/fhir/CodeSystem/early-warning";
/// The code of a respiratory distress reading in [`EARLY_WARNING`].
pub const RESPIRATORY_DISTRESS: &str = "respiratory-distress";
/// A child's carer question, "How is your child different since I last saw them?" (PEWS
/// table P11), in [`EARLY_WARNING`]: answered `same`, `better`, `asleep`, `unavailable`, or
/// `worse-LEVEL` with the escalation level staff chose (`worse-none` … `worse-emergency`).
pub const CARER_QUESTION: &str = "pews-carer-question";
/// Clinical intuition "Yes" (PEWS table P11), in [`EARLY_WARNING`], answered with the level
/// the nurse or clinician chose (`none`, `low`, `medium`, `high`, `emergency`).
pub const CLINICAL_INTUITION: &str = "pews-clinical-intuition";
/// A new suspicion of sepsis (PEWS table P11), in [`EARLY_WARNING`], answered `sepsis` or
/// `septic-shock`.
pub const SEPSIS_SUSPICION: &str = "pews-sepsis-suspicion";
/// An abnormal pupillary response (PEWS table P11), in [`EARLY_WARNING`], `valueBoolean`.
pub const ABNORMAL_PUPILS: &str = "pews-abnormal-pupils";
/// Tend's oxygen delivery devices (an oxygen reading's `method`).
pub const OXYGEN_DEVICE: &str = "https://tend.example.org/fhir/CodeSystem/oxygen-device";
/// The LOINC vital-signs panel whose members form one observation set.
pub const VITALS_PANEL: &str = "85353-1";

/// What a reading measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    RespirationRate,
    SpO2,
    OxygenFlow,
    InspiredOxygen,
    SystolicBp,
    Pulse,
    Temperature,
    Consciousness,
    Gcs,
    WhiteCells,
    PaCO2,
    BandForms,
    /// Capillary refill time, seconds (PEWS).
    CapillaryRefill,
    /// Respiratory distress (PEWS), Tend's code.
    RespiratoryDistress,
    /// The carer question (PEWS escalation), Tend's code.
    CarerQuestion,
    /// Clinical intuition (PEWS escalation), Tend's code.
    ClinicalIntuition,
    /// A new suspicion of sepsis or septic shock (PEWS escalation), Tend's code.
    SepsisSuspicion,
    /// An abnormal pupillary response (PEWS escalation), Tend's code.
    AbnormalPupils,
    /// The device of an oxygen reading (its `method`).
    OxygenDevice,
}

impl Kind {
    /// Whether the reading belongs to a set of vital signs (the rest are labs and
    /// assessments that the sepsis screens look up over a longer window).
    pub fn is_vital_sign(self) -> bool {
        !matches!(self, Kind::WhiteCells | Kind::PaCO2 | Kind::BandForms)
    }
}

/// A LOINC code → kind table (systolic BP also as a component).
const CODES: &[(&str, Kind)] = &[
    ("9279-1", Kind::RespirationRate),
    ("59408-5", Kind::SpO2),
    ("2708-6", Kind::SpO2),
    ("3151-8", Kind::OxygenFlow),
    ("3150-0", Kind::InspiredOxygen),
    ("8480-6", Kind::SystolicBp),
    ("8867-4", Kind::Pulse),
    ("8310-5", Kind::Temperature),
    ("80288-4", Kind::Consciousness),
    ("67775-7", Kind::Consciousness),
    ("9269-2", Kind::Gcs),
    ("6690-2", Kind::WhiteCells),
    ("26464-8", Kind::WhiteCells),
    ("2019-8", Kind::PaCO2),
    ("764-1", Kind::BandForms),
    ("26508-2", Kind::BandForms),
    ("44963-7", Kind::CapillaryRefill),
];

/// Every LOINC code that can feed a score (for searches).
pub fn codes() -> impl Iterator<Item = &'static str> {
    CODES.iter().map(|(c, _)| *c)
}

/// The kind of a LOINC code.
pub fn kind_of(code: &str) -> Option<Kind> {
    CODES.iter().find(|(c, _)| *c == code).map(|(_, k)| *k)
}

/// An oxygen delivery device as Tend's bedside form records it (system [`OXYGEN_DEVICE`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OxygenDevice {
    Air,
    NasalCannula,
    SimpleMask,
    Venturi,
    NonRebreather,
    HighFlow,
    CpapNiv,
}

impl OxygenDevice {
    pub const ALL: [OxygenDevice; 7] = [
        OxygenDevice::Air,
        OxygenDevice::NasalCannula,
        OxygenDevice::SimpleMask,
        OxygenDevice::Venturi,
        OxygenDevice::NonRebreather,
        OxygenDevice::HighFlow,
        OxygenDevice::CpapNiv,
    ];

    pub fn code(self) -> &'static str {
        match self {
            OxygenDevice::Air => "air",
            OxygenDevice::NasalCannula => "nasal-cannula",
            OxygenDevice::SimpleMask => "simple-mask",
            OxygenDevice::Venturi => "venturi",
            OxygenDevice::NonRebreather => "non-rebreather",
            OxygenDevice::HighFlow => "high-flow",
            OxygenDevice::CpapNiv => "cpap-niv",
        }
    }

    pub fn parse(code: &str) -> Option<OxygenDevice> {
        OxygenDevice::ALL.into_iter().find(|d| d.code() == code)
    }

    /// The PEWS chart's device (table P5a): high flow and CPAP/NIV are the scoring devices
    /// HF and CP (BiPAP scores the same as CPAP); the cannula and the masks score by their
    /// oxygen level (a Venturi mask is a face mask). Air is no device.
    pub fn pews_device(self) -> Option<pews::Device> {
        match self {
            OxygenDevice::Air => None,
            OxygenDevice::NasalCannula => Some(pews::Device::NasalProngs),
            OxygenDevice::SimpleMask | OxygenDevice::Venturi => Some(pews::Device::FaceMask),
            OxygenDevice::NonRebreather => Some(pews::Device::NonRebreather),
            OxygenDevice::HighFlow => Some(pews::Device::HighFlow),
            OxygenDevice::CpapNiv => Some(pews::Device::Cpap),
        }
    }
}

/// A reading's value, normalised to the unit the rules use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Reading {
    Number(#[serde(serialize_with = "ser_decimal")] Decimal),
    Acvpu(Acvpu),
    Distress(Distress),
    Device(OxygenDevice),
    /// The carer question's answer.
    Carer(crate::pews::Carer),
    /// An escalation level chosen by staff (clinical intuition).
    Level(crate::pews::Level),
    /// A new suspicion: of septic shock (true) or of sepsis (false).
    Sepsis {
        shock: bool,
    },
    /// A yes/no finding (abnormal pupils).
    Finding(bool),
}

fn ser_decimal<S: serde::Serializer>(d: &Decimal, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&d.to_string())
}

impl Reading {
    pub fn number(&self) -> Option<Decimal> {
        match self {
            Reading::Number(d) => Some(*d),
            _ => None,
        }
    }
}

/// What one Observation contributes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Parsed {
    pub readings: Vec<(Kind, Reading)>,
    /// For a vital-signs panel: the references of its members.
    pub members: Vec<String>,
    pub is_panel: bool,
    /// Whether the status lets the readings count.
    pub counts: bool,
    /// `subject.reference`.
    pub subject: Option<String>,
    pub encounter: Option<String>,
    /// `effectiveDateTime`, `effectiveInstant` or `effectivePeriod.start`, as written.
    pub effective: Option<String>,
    /// The device of an oxygen reading (its `method`), if coded.
    pub device: Option<OxygenDevice>,
    /// Readings left out, and why (no patient values in these texts).
    pub problems: Vec<String>,
}

fn codings(concept: &Value) -> impl Iterator<Item = (&str, &str)> {
    concept["coding"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| Some((c["system"].as_str()?, c["code"].as_str()?)))
}

fn loinc_kind(concept: &Value) -> Option<Kind> {
    codings(concept)
        .filter(|(s, _)| *s == LOINC)
        .find_map(|(_, c)| kind_of(c))
}

fn is_panel(concept: &Value) -> bool {
    codings(concept).any(|(s, c)| s == LOINC && c == VITALS_PANEL)
}

/// Read an Observation (any JSON; never panics).
pub fn read(obs: &Value) -> Parsed {
    let status = obs["status"].as_str().unwrap_or_default();
    let mut p = Parsed {
        counts: matches!(status, "final" | "amended" | "corrected" | "preliminary"),
        subject: obs["subject"]["reference"].as_str().map(str::to_string),
        encounter: obs["encounter"]["reference"].as_str().map(str::to_string),
        effective: obs["effectiveDateTime"]
            .as_str()
            .or_else(|| obs["effectiveInstant"].as_str())
            .or_else(|| obs["effectivePeriod"]["start"].as_str())
            .map(str::to_string),
        ..Parsed::default()
    };
    if is_panel(&obs["code"]) {
        p.is_panel = true;
        p.members = obs["hasMember"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m["reference"].as_str().map(str::to_string))
            .collect();
    }
    if let Some(kind) = loinc_kind(&obs["code"]) {
        read_value(kind, obs, &mut p);
        if matches!(kind, Kind::OxygenFlow | Kind::InspiredOxygen) {
            read_device(obs, &mut p);
        }
    } else if let Some(trigger) = codings(&obs["code"])
        .filter(|(s, _)| *s == EARLY_WARNING)
        .find_map(|(_, c)| pews_trigger(c, obs))
    {
        match trigger {
            Ok(reading) => p.readings.push(reading),
            Err(problem) => p.problems.push(problem.into()),
        }
    } else if codings(&obs["code"]).any(|(s, c)| s == EARLY_WARNING && c == RESPIRATORY_DISTRESS) {
        let answer = codings(&obs["valueCodeableConcept"])
            .filter(|(s, _)| *s == EARLY_WARNING)
            .find_map(|(_, c)| Distress::parse(c));
        match answer {
            Some(d) => p
                .readings
                .push((Kind::RespiratoryDistress, Reading::Distress(d))),
            None => p
                .problems
                .push("respiratory distress not coded none, mild, moderate or severe".into()),
        }
    }
    for c in obs["component"].as_array().into_iter().flatten() {
        if let Some(kind @ Kind::SystolicBp) = loinc_kind(&c["code"]) {
            read_value(kind, c, &mut p);
        }
    }
    p
}

/// A PEWS escalation criterion recorded with a set (table P11), when `code` is one; an
/// answer Tend does not know is a problem, never a guess.
fn pews_trigger(code: &str, obs: &Value) -> Option<Result<(Kind, Reading), &'static str>> {
    use crate::pews::{Carer, Level};
    let answer = || {
        codings(&obs["valueCodeableConcept"])
            .filter(|(s, _)| *s == EARLY_WARNING)
            .map(|(_, c)| c)
            .next()
    };
    Some(match code {
        CARER_QUESTION => {
            let carer = answer().and_then(|a| match a {
                "same" => Some(Carer::Same),
                "better" => Some(Carer::Better),
                "asleep" => Some(Carer::Asleep),
                "unavailable" => Some(Carer::Unavailable),
                w => w
                    .strip_prefix("worse-")
                    .and_then(Level::parse)
                    .map(Carer::Worse),
            });
            carer
                .map(|c| (Kind::CarerQuestion, Reading::Carer(c)))
                .ok_or("carer question answer not known")
        }
        CLINICAL_INTUITION => answer()
            .and_then(Level::parse)
            .map(|l| (Kind::ClinicalIntuition, Reading::Level(l)))
            .ok_or("clinical intuition level not known"),
        SEPSIS_SUSPICION => match answer() {
            Some("sepsis") => Ok((Kind::SepsisSuspicion, Reading::Sepsis { shock: false })),
            Some("septic-shock") => Ok((Kind::SepsisSuspicion, Reading::Sepsis { shock: true })),
            _ => Err("sepsis suspicion not coded sepsis or septic-shock"),
        },
        ABNORMAL_PUPILS => obs["valueBoolean"]
            .as_bool()
            .map(|b| (Kind::AbnormalPupils, Reading::Finding(b)))
            .ok_or("abnormal pupils not recorded as true or false"),
        _ => return None,
    })
}

/// The device of an oxygen reading, from its `method`; an unknown device is reported.
fn read_device(obs: &Value, p: &mut Parsed) {
    let mut coded = codings(&obs["method"])
        .filter(|(s, _)| *s == OXYGEN_DEVICE)
        .peekable();
    if coded.peek().is_none() {
        return;
    }
    match coded.find_map(|(_, c)| OxygenDevice::parse(c)) {
        Some(d) => p.device = Some(d),
        None => p.problems.push("oxygen device code not known".into()),
    }
}

fn read_value(kind: Kind, holder: &Value, p: &mut Parsed) {
    if kind == Kind::Consciousness {
        let level = codings(&holder["valueCodeableConcept"])
            .filter(|(s, _)| *s == SNOMED)
            .find_map(|(_, c)| Acvpu::from_snomed(c));
        match level {
            Some(a) => p.readings.push((kind, Reading::Acvpu(a))),
            None => p
                .problems
                .push("consciousness not coded with a SNOMED CT ACVPU concept".into()),
        }
        return;
    }
    let q = &holder["valueQuantity"];
    let Some(value) = Decimal::from_json(&q["value"]) else {
        if !q.is_null() {
            p.problems
                .push(format!("{kind:?}: quantity without a value"));
        }
        return;
    };
    let unit = q["code"]
        .as_str()
        .or_else(|| q["unit"].as_str())
        .unwrap_or_default();
    match normalise_unit(kind, value, unit) {
        Some(v) => p.readings.push((kind, Reading::Number(v))),
        None => p
            .problems
            .push(format!("{kind:?}: unit '{unit}' is not accepted")),
    }
}

/// The value in the unit the rules use, or None for a unit not accepted.
fn normalise_unit(kind: Kind, v: Decimal, unit: &str) -> Option<Decimal> {
    let scaled = |num: i128, den: i128, places: u32| -> Option<Decimal> {
        let n = v.convert(Decimal::from_int(0), num, den, places)?;
        Decimal::parse(&format!("{}e-{places}", n))
    };
    match (kind, unit) {
        (Kind::RespirationRate | Kind::Pulse, "/min" | "{breaths}/min" | "{beats}/min" | "") => {
            Some(v)
        }
        (Kind::SpO2 | Kind::BandForms, "%" | "") => Some(v),
        (Kind::OxygenFlow, "L/min" | "l/min") => Some(v),
        (Kind::InspiredOxygen, "%") => Some(v),
        (Kind::InspiredOxygen, "1" | "") if v.as_f64() <= 1.0 => scaled(100, 1, 4),
        (Kind::InspiredOxygen, "") => Some(v),
        (Kind::SystolicBp, "mm[Hg]" | "mmHg") => Some(v),
        (Kind::PaCO2, "mm[Hg]" | "mmHg") => Some(v),
        (Kind::PaCO2, "kPa") => scaled(750_062, 100_000, 3),
        (Kind::Temperature, "Cel" | "°C") => Some(v),
        (Kind::Temperature, "[degF]" | "°F") => {
            let c = v.convert(Decimal::from_int(-32), 5, 9, 4)?;
            Decimal::parse(&format!("{c}e-4"))
        }
        (Kind::Gcs, "{score}" | "1" | "") => Some(v),
        (Kind::CapillaryRefill, "s" | "sec") => Some(v),
        (Kind::WhiteCells, "10*3/uL" | "10*9/L" | "10^9/L" | "10*3/mm3" | "K/uL") => Some(v),
        (Kind::WhiteCells, "/uL" | "/mm3") => scaled(1, 1000, 3),
        _ => None,
    }
}

/// Whether supplemental oxygen is in use according to one reading.
pub fn on_oxygen(kind: Kind, r: &Reading) -> Option<bool> {
    let v = r.number()?;
    match kind {
        Kind::OxygenFlow => Some(v.round_half_up(2)? > 0),
        Kind::InspiredOxygen => Some(v.round_half_up(2)? > 2100),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_a_bp_panel_component_and_converts_fahrenheit() {
        let bp = json!({"resourceType": "Observation", "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "85354-9"}]},
        "component": [
            {"code": {"coding": [{"system": LOINC, "code": "8480-6"}]}, "valueQuantity": {"value": 104, "code": "mm[Hg]"}},
            {"code": {"coding": [{"system": LOINC, "code": "8462-4"}]}, "valueQuantity": {"value": 60, "code": "mm[Hg]"}}
        ]});
        let p = read(&bp);
        assert_eq!(
            p.readings,
            vec![(Kind::SystolicBp, Reading::Number(Decimal::from_int(104)))]
        );
        let t = json!({"status": "final", "code": {"coding": [{"system": LOINC, "code": "8310-5"}]},
            "valueQuantity": {"value": 95.09, "code": "[degF]"}});
        let p = read(&t);
        let Reading::Number(c) = p.readings[0].1 else {
            panic!()
        };
        assert_eq!(c.to_tenths(), Some(351));
    }

    #[test]
    fn unknown_units_and_statuses_are_reported() {
        let t = json!({"status": "entered-in-error", "code": {"coding": [{"system": LOINC, "code": "8310-5"}]},
            "valueQuantity": {"value": 310, "code": "K"}});
        let p = read(&t);
        assert!(!p.counts);
        assert!(p.readings.is_empty());
        assert_eq!(p.problems.len(), 1);
    }

    #[test]
    fn oxygen_from_flow_or_fraction() {
        let n = |s: &str| Reading::Number(Decimal::parse(s).unwrap());
        assert_eq!(on_oxygen(Kind::OxygenFlow, &n("0")), Some(false));
        assert_eq!(on_oxygen(Kind::OxygenFlow, &n("0.5")), Some(true));
        assert_eq!(on_oxygen(Kind::InspiredOxygen, &n("21")), Some(false));
        assert_eq!(on_oxygen(Kind::InspiredOxygen, &n("28")), Some(true));
        let f = json!({"status": "final", "code": {"coding": [{"system": LOINC, "code": "3150-0"}]},
            "valueQuantity": {"value": 0.4, "code": "1"}});
        let p = read(&f);
        assert_eq!(on_oxygen(p.readings[0].0, &p.readings[0].1), Some(true));
    }

    #[test]
    fn white_cells_per_microlitre_are_scaled() {
        let w = json!({"status": "final", "code": {"coding": [{"system": LOINC, "code": "6690-2"}]},
            "valueQuantity": {"value": 12500, "code": "/uL"}});
        let p = read(&w);
        assert_eq!(p.readings[0].1.number().unwrap().to_tenths(), Some(125));
    }

    #[test]
    fn reads_the_pews_readings() {
        let crt = json!({"status": "final", "code": {"coding": [{"system": LOINC, "code": "44963-7"}]},
            "valueQuantity": {"value": 3, "code": "s"}});
        assert_eq!(
            read(&crt).readings,
            vec![(Kind::CapillaryRefill, Reading::Number(Decimal::from_int(3)))]
        );
        let distress = json!({"status": "final",
            "code": {"coding": [{"system": EARLY_WARNING, "code": RESPIRATORY_DISTRESS}]},
            "valueCodeableConcept": {"coding": [{"system": EARLY_WARNING, "code": "moderate"}]}});
        assert_eq!(
            read(&distress).readings,
            vec![(
                Kind::RespiratoryDistress,
                Reading::Distress(Distress::Moderate)
            )]
        );
        let unknown = json!({"status": "final",
            "code": {"coding": [{"system": EARLY_WARNING, "code": RESPIRATORY_DISTRESS}]},
            "valueCodeableConcept": {"coding": [{"system": EARLY_WARNING, "code": "a-bit"}]}});
        let p = read(&unknown);
        assert!(p.readings.is_empty());
        assert_eq!(p.problems.len(), 1);
        let o2 = json!({"status": "final", "code": {"coding": [{"system": LOINC, "code": "3151-8"}]},
            "valueQuantity": {"value": 30, "code": "L/min"},
            "method": {"coding": [{"system": OXYGEN_DEVICE, "code": "high-flow"}]}});
        let p = read(&o2);
        assert_eq!(p.readings.len(), 1);
        assert_eq!(p.device, Some(OxygenDevice::HighFlow));
        assert_eq!(
            OxygenDevice::CpapNiv.pews_device(),
            Some(pews::Device::Cpap)
        );
        assert_eq!(OxygenDevice::Air.pews_device(), None);
    }

    #[test]
    fn never_panics_on_odd_json() {
        for v in [
            json!(null),
            json!([]),
            json!({"code": 5}),
            json!({"component": "x"}),
        ] {
            let _ = read(&v);
        }
    }
}
