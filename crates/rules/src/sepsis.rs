//! Sepsis screens: qSOFA (Sepsis-3: Singer et al., JAMA 2016;315:801; Seymour et al., JAMA
//! 2016;315:762) and SIRS (ACCP/SCCM consensus 1992, Bone et al.). Reference transcription:
//! `clinical/early-warning.md` §3.
//!
//! A criterion that cannot be evaluated is [`Criterion::Unknown`], never counted as
//! negative: a screen is positive when at least two criteria are met, negative when fewer
//! than two could be met even if every unknown were, and indeterminate otherwise.
//! A criterion with several alternative inputs (SIRS respiration: RR or PaCO2) is met
//! when any input present meets it, not met when at least one input is present and none
//! meets it, and unknown when none is present.

use serde::Serialize;

use crate::news2::Acvpu;
use crate::Decimal;

/// One criterion's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Criterion {
    Met,
    NotMet,
    Unknown,
}

impl Criterion {
    pub fn code(self) -> &'static str {
        match self {
            Criterion::Met => "met",
            Criterion::NotMet => "not-met",
            Criterion::Unknown => "unknown",
        }
    }

    /// Combine alternative inputs: met if any is met, unknown if none is known.
    fn any(inputs: &[Option<bool>]) -> Criterion {
        if inputs.contains(&Some(true)) {
            Criterion::Met
        } else if inputs.iter().any(Option::is_some) {
            Criterion::NotMet
        } else {
            Criterion::Unknown
        }
    }
}

/// A screen's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Screen {
    Positive,
    Negative,
    Indeterminate,
}

impl Screen {
    /// HL7 v3 ObservationInterpretation code (`POS`, `NEG`, `IND`).
    pub fn interpretation(self) -> (&'static str, &'static str) {
        match self {
            Screen::Positive => ("POS", "Positive"),
            Screen::Negative => ("NEG", "Negative"),
            Screen::Indeterminate => ("IND", "Indeterminate"),
        }
    }

    fn of(criteria: &[Criterion]) -> Screen {
        let met = criteria.iter().filter(|c| **c == Criterion::Met).count();
        let unknown = criteria
            .iter()
            .filter(|c| **c == Criterion::Unknown)
            .count();
        if met >= 2 {
            Screen::Positive
        } else if met + unknown < 2 {
            Screen::Negative
        } else {
            Screen::Indeterminate
        }
    }
}

/// One criterion of a screen, for the explanation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Tend's code for the criterion (a component code of the stored screen).
    pub code: &'static str,
    pub display: &'static str,
    pub state: Criterion,
    /// The inputs used, as text (e.g. `RR 24 /min`).
    pub basis: String,
}

/// The result of a screen with its explanation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Result {
    pub findings: Vec<Finding>,
    /// Criteria met.
    pub met: u32,
    /// Criteria that could not be evaluated.
    pub unknown: u32,
    pub screen: Screen,
}

impl Result {
    fn new(findings: Vec<Finding>) -> Result {
        let states: Vec<Criterion> = findings.iter().map(|f| f.state).collect();
        Result {
            met: states.iter().filter(|s| **s == Criterion::Met).count() as u32,
            unknown: states.iter().filter(|s| **s == Criterion::Unknown).count() as u32,
            screen: Screen::of(&states),
            findings,
        }
    }

    /// Whether every criterion was evaluated.
    pub fn complete(&self) -> bool {
        self.unknown == 0
    }
}

/// Inputs of qSOFA. Mentation is altered when GCS < 15 or ACVPU is other than Alert.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QsofaInputs {
    pub respiration_rate: Option<Decimal>,
    pub systolic_bp: Option<Decimal>,
    pub gcs: Option<Decimal>,
    pub consciousness: Option<Acvpu>,
}

/// qSOFA: respiratory rate ≥ 22/min, altered mentation, systolic BP ≤ 100 mmHg; one point
/// each, positive at ≥ 2. Values are normalised to whole numbers (round half up) first.
pub fn qsofa(i: &QsofaInputs) -> Result {
    let rr = i.respiration_rate.and_then(|d| d.to_whole());
    let sbp = i.systolic_bp.and_then(|d| d.to_whole());
    let gcs = i.gcs.and_then(|d| d.to_whole());
    let mut basis = Vec::new();
    if let Some(g) = gcs {
        basis.push(format!("GCS {g}"));
    }
    if let Some(a) = i.consciousness {
        basis.push(format!("ACVPU {}", a.letter()));
    }
    Result::new(vec![
        Finding {
            code: "respiration-rate",
            display: "Respiratory rate ≥ 22/min",
            state: Criterion::any(&[rr.map(|r| r >= 22)]),
            basis: rr.map(|r| format!("RR {r} /min")).unwrap_or_default(),
        },
        Finding {
            code: "altered-mentation",
            display: "Altered mentation (GCS < 15 or ACVPU other than Alert)",
            state: Criterion::any(&[
                gcs.map(|g| g < 15),
                i.consciousness.map(|a| a != Acvpu::Alert),
            ]),
            basis: basis.join(", "),
        },
        Finding {
            code: "systolic-bp",
            display: "Systolic BP ≤ 100 mmHg",
            state: Criterion::any(&[sbp.map(|s| s <= 100)]),
            basis: sbp.map(|s| format!("SBP {s} mmHg")).unwrap_or_default(),
        },
    ])
}

/// Inputs of SIRS.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SirsInputs {
    /// °C.
    pub temperature: Option<Decimal>,
    pub heart_rate: Option<Decimal>,
    pub respiration_rate: Option<Decimal>,
    /// mmHg.
    pub paco2: Option<Decimal>,
    /// White cells, 10⁹/L (= 10³/µL).
    pub wbc: Option<Decimal>,
    /// Immature (band) neutrophils, % of white cells.
    pub bands: Option<Decimal>,
}

/// SIRS, strict inequalities: temperature > 38 °C or < 36 °C; heart rate > 90/min;
/// respiratory rate > 20/min or PaCO2 < 32 mmHg; WBC > 12 or < 4 ×10⁹/L or > 10 % bands.
/// Temperature is normalised to 0.1 °C, rates and PaCO2 to whole numbers, WBC to 0.1 and
/// bands to whole percent (round half up), then compared.
pub fn sirs(i: &SirsInputs) -> Result {
    let temp = i.temperature.and_then(|d| d.to_tenths());
    let hr = i.heart_rate.and_then(|d| d.to_whole());
    let rr = i.respiration_rate.and_then(|d| d.to_whole());
    let paco2 = i.paco2.and_then(|d| d.to_whole());
    let wbc = i.wbc.and_then(|d| d.to_tenths());
    let bands = i.bands.and_then(|d| d.to_whole());
    let join =
        |parts: Vec<Option<String>>| parts.into_iter().flatten().collect::<Vec<_>>().join(", ");
    Result::new(vec![
        Finding {
            code: "temperature",
            display: "Temperature > 38 °C or < 36 °C",
            state: Criterion::any(&[temp.map(|t| !(360..=380).contains(&t))]),
            basis: temp
                .map(|t| format!("Temp {} °C", crate::decimal::tenths(t)))
                .unwrap_or_default(),
        },
        Finding {
            code: "heart-rate",
            display: "Heart rate > 90/min",
            state: Criterion::any(&[hr.map(|h| h > 90)]),
            basis: hr.map(|h| format!("HR {h} /min")).unwrap_or_default(),
        },
        Finding {
            code: "respiration",
            display: "Respiratory rate > 20/min or PaCO2 < 32 mmHg",
            state: Criterion::any(&[rr.map(|r| r > 20), paco2.map(|p| p < 32)]),
            basis: join(vec![
                rr.map(|r| format!("RR {r} /min")),
                paco2.map(|p| format!("PaCO2 {p} mmHg")),
            ]),
        },
        Finding {
            code: "white-cells",
            display: "WBC > 12 or < 4 ×10⁹/L, or > 10 % bands",
            state: Criterion::any(&[wbc.map(|w| !(40..=120).contains(&w)), bands.map(|b| b > 10)]),
            basis: join(vec![
                wbc.map(|w| format!("WBC {} ×10⁹/L", crate::decimal::tenths(w))),
                bands.map(|b| format!("bands {b} %")),
            ]),
        },
    ])
}
