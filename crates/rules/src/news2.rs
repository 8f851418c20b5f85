//! NEWS2, the National Early Warning Score 2 (Royal College of Physicians, *National Early
//! Warning Score (NEWS) 2*, London: RCP 2017): Chart 1 (the scoring table, including SpO2
//! Scale 2 and "new confusion" in ACVPU), Chart 2/4 (thresholds, clinical response and
//! minimum monitoring frequency). Reference transcription: `clinical/early-warning.md` §1.
//!
//! Every parameter is normalised with [`crate::Decimal`]'s round-half-up rule before it is
//! looked up (respiration rate, SpO2, systolic BP and pulse to whole numbers, temperature
//! to 0.1 °C), so a value between two chart rows never falls into a gap.
//!
//! An incomplete set (a parameter missing) has no total: it has a partial total and the
//! minimum band that partial total implies (missing parameters can only add points),
//! which is the band to escalate on (platform policy, `early-warning.md` §1.5).

use serde::Serialize;

use crate::Decimal;

/// The seven NEWS2 parameters, in chart order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Param {
    RespirationRate,
    SpO2,
    AirOrOxygen,
    SystolicBp,
    Pulse,
    Consciousness,
    Temperature,
}

impl Param {
    pub const ALL: [Param; 7] = [
        Param::RespirationRate,
        Param::SpO2,
        Param::AirOrOxygen,
        Param::SystolicBp,
        Param::Pulse,
        Param::Consciousness,
        Param::Temperature,
    ];

    /// Tend's code for the parameter (component codes of the stored score).
    pub fn code(self) -> &'static str {
        match self {
            Param::RespirationRate => "respiration-rate",
            Param::SpO2 => "spo2",
            Param::AirOrOxygen => "air-or-oxygen",
            Param::SystolicBp => "systolic-bp",
            Param::Pulse => "pulse",
            Param::Consciousness => "consciousness",
            Param::Temperature => "temperature",
        }
    }

    pub fn display(self) -> &'static str {
        match self {
            Param::RespirationRate => "Respiration rate",
            Param::SpO2 => "SpO2",
            Param::AirOrOxygen => "Air or oxygen",
            Param::SystolicBp => "Systolic blood pressure",
            Param::Pulse => "Pulse",
            Param::Consciousness => "Consciousness",
            Param::Temperature => "Temperature",
        }
    }

    pub fn parse(code: &str) -> Option<Param> {
        Param::ALL.into_iter().find(|p| p.code() == code)
    }

    /// Most points the parameter can score.
    fn max_points(self) -> u32 {
        match self {
            Param::AirOrOxygen | Param::Temperature => 2,
            _ => 3,
        }
    }
}

/// ACVPU: Alert, new Confusion, Voice, Pain, Unresponsive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Acvpu {
    Alert,
    NewConfusion,
    Voice,
    Pain,
    Unresponsive,
}

impl Acvpu {
    /// The SNOMED CT concept for the level.
    pub fn snomed(self) -> &'static str {
        match self {
            Acvpu::Alert => "248234008",
            Acvpu::NewConfusion => "130987000",
            Acvpu::Voice => "300202002",
            Acvpu::Pain => "450847001",
            Acvpu::Unresponsive => "422768004",
        }
    }

    pub fn from_snomed(code: &str) -> Option<Acvpu> {
        [
            Acvpu::Alert,
            Acvpu::NewConfusion,
            Acvpu::Voice,
            Acvpu::Pain,
            Acvpu::Unresponsive,
        ]
        .into_iter()
        .find(|a| a.snomed() == code)
    }

    pub fn letter(self) -> &'static str {
        match self {
            Acvpu::Alert => "A",
            Acvpu::NewConfusion => "C",
            Acvpu::Voice => "V",
            Acvpu::Pain => "P",
            Acvpu::Unresponsive => "U",
        }
    }

    /// Parses a letter (`A`, `C`, `V`, `P`, `U`) or a word (`alert`, `new-confusion`...).
    pub fn parse(s: &str) -> Option<Acvpu> {
        match s.to_ascii_lowercase().as_str() {
            "a" | "alert" => Some(Acvpu::Alert),
            "c" | "new-confusion" | "confusion" => Some(Acvpu::NewConfusion),
            "v" | "voice" => Some(Acvpu::Voice),
            "p" | "pain" => Some(Acvpu::Pain),
            "u" | "unresponsive" => Some(Acvpu::Unresponsive),
            _ => None,
        }
    }
}

/// Which SpO2 row of Chart 1 applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub enum Scale {
    /// Target 94–98 %: everyone, unless a clinician prescribed Scale 2.
    #[default]
    #[serde(rename = "1")]
    One,
    /// Target 88–92 % (hypercapnic respiratory failure), prescribed by a clinician.
    #[serde(rename = "2")]
    Two,
}

impl Scale {
    pub fn number(self) -> u32 {
        match self {
            Scale::One => 1,
            Scale::Two => 2,
        }
    }
}

/// One observation set's readings as given (not yet normalised). `oxygen` is whether the
/// patient is on supplemental oxygen (None: not recorded).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Vitals {
    pub respiration_rate: Option<Decimal>,
    pub spo2: Option<Decimal>,
    pub oxygen: Option<bool>,
    pub systolic_bp: Option<Decimal>,
    pub pulse: Option<Decimal>,
    pub consciousness: Option<Acvpu>,
    /// Degrees Celsius.
    pub temperature: Option<Decimal>,
}

/// The score band, in increasing order of risk (Chart 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Band {
    /// Total 0.
    Zero,
    /// Total 1–4 without a single 3.
    Low,
    /// A single parameter scoring 3, total ≤ 4 (a "red score").
    LowMedium,
    /// Total 5–6.
    Medium,
    /// Total 7 or more.
    High,
}

/// How often observations must be taken at least (Chart 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "minutes")]
pub enum Monitoring {
    /// At least every so many minutes.
    Every(u32),
    /// Continuous monitoring of vital signs.
    Continuous,
}

impl Band {
    pub const ALL: [Band; 5] = [
        Band::Zero,
        Band::Low,
        Band::LowMedium,
        Band::Medium,
        Band::High,
    ];

    /// Tend's band code (the `interpretation` of a stored score).
    pub fn code(self) -> &'static str {
        match self {
            Band::Zero => "zero",
            Band::Low => "low",
            Band::LowMedium => "low-medium",
            Band::Medium => "medium",
            Band::High => "high",
        }
    }

    pub fn parse(code: &str) -> Option<Band> {
        Band::ALL.into_iter().find(|b| b.code() == code)
    }

    pub fn display(self) -> &'static str {
        match self {
            Band::Zero => "Zero (0)",
            Band::Low => "Low (1–4)",
            Band::LowMedium => "Low–medium (3 in one parameter)",
            Band::Medium => "Medium (5–6)",
            Band::High => "High (7+)",
        }
    }

    /// The clinical response Chart 4 requires, abridged.
    pub fn response(self) -> &'static str {
        match self {
            Band::Zero => "Continue routine NEWS monitoring.",
            Band::Low => "Inform the registered nurse, who must assess the patient and decide whether increased monitoring frequency and/or escalation of care is required.",
            Band::LowMedium => "Registered nurse to inform the medical team caring for the patient, who will review and decide whether escalation of care is necessary (urgent ward-based response).",
            Band::Medium => "Registered nurse to inform the medical team immediately and request urgent assessment by a clinician or team with core competencies in acute illness; provide clinical care in an environment with monitoring facilities.",
            Band::High => "Registered nurse to inform the medical team immediately (at least specialist registrar level); emergency assessment by a team with critical-care competencies including advanced airway skills; consider transfer to level 2/3 care (HDU/ICU).",
        }
    }

    /// Tend's code for the required response.
    pub fn response_code(self) -> &'static str {
        match self {
            Band::Zero => "routine-monitoring",
            Band::Low => "nurse-assessment",
            Band::LowMedium => "urgent-ward-review",
            Band::Medium => "urgent-response",
            Band::High => "emergency-response",
        }
    }

    /// Minimum monitoring frequency (Chart 4). "Minimum 4–6-hourly" for the low band is
    /// taken at its stricter end, 4-hourly.
    pub fn monitoring(self) -> Monitoring {
        match self {
            Band::Zero => Monitoring::Every(12 * 60),
            Band::Low => Monitoring::Every(4 * 60),
            Band::LowMedium | Band::Medium => Monitoring::Every(60),
            Band::High => Monitoring::Continuous,
        }
    }

    /// Whether the band raises an alert (low-medium and above).
    pub fn alerts(self) -> bool {
        self >= Band::LowMedium
    }

    /// Band of a total: ≥ 7 high, 5–6 medium, any single 3 low-medium, 1–4 low, 0 zero.
    pub fn of(total: u32, red: bool) -> Band {
        if total >= 7 {
            Band::High
        } else if total >= 5 {
            Band::Medium
        } else if red {
            Band::LowMedium
        } else if total >= 1 {
            Band::Low
        } else {
            Band::Zero
        }
    }
}

/// One parameter's contribution, for the explanation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Item {
    pub param: Param,
    /// The value as given (e.g. `35.05`), with its unit.
    pub raw: String,
    /// The value as scored after normalisation (e.g. `35.1`).
    pub normalised: String,
    pub points: u32,
}

/// A parameter that could not be scored, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Missing {
    pub param: Param,
    pub reason: &'static str,
}

/// A NEWS2 score with its explanation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Score {
    pub scale: Scale,
    pub items: Vec<Item>,
    pub missing: Vec<Missing>,
    /// Sum of the scored items.
    pub partial_total: u32,
    /// The total: only when every parameter was scored.
    pub total: Option<u32>,
    /// The band (for an incomplete set, the least band its items imply).
    pub band: Band,
    /// Whether any single parameter scored 3.
    pub red: bool,
    /// Highest total the set could reach once complete.
    pub max_possible: u32,
}

impl Score {
    pub fn complete(&self) -> bool {
        self.total.is_some()
    }

    pub fn points(&self, p: Param) -> Option<u32> {
        self.items.iter().find(|i| i.param == p).map(|i| i.points)
    }
}

/// Respiration rate (/min): ≤8 → 3, 9–11 → 1, 12–20 → 0, 21–24 → 2, ≥25 → 3.
pub fn respiration_rate_points(rr: i64) -> u32 {
    match rr {
        ..=8 => 3,
        9..=11 => 1,
        12..=20 => 0,
        21..=24 => 2,
        _ => 3,
    }
}

/// SpO2 (%) on Scale 1: ≤91 → 3, 92–93 → 2, 94–95 → 1, ≥96 → 0.
pub fn spo2_scale1_points(spo2: i64) -> u32 {
    match spo2 {
        ..=91 => 3,
        92..=93 => 2,
        94..=95 => 1,
        _ => 0,
    }
}

/// SpO2 (%) on Scale 2: ≤83 → 3, 84–85 → 2, 86–87 → 1, 88–92 → 0, ≥93 on air → 0;
/// on oxygen 93–94 → 1, 95–96 → 2, ≥97 → 3. None when SpO2 ≥ 93 and whether the
/// patient is on oxygen is not known.
pub fn spo2_scale2_points(spo2: i64, oxygen: Option<bool>) -> Option<u32> {
    Some(match spo2 {
        ..=83 => 3,
        84..=85 => 2,
        86..=87 => 1,
        88..=92 => 0,
        _ => match oxygen? {
            false => 0,
            true => match spo2 {
                93..=94 => 1,
                95..=96 => 2,
                _ => 3,
            },
        },
    })
}

/// Air → 0, supplemental oxygen → 2 (both scales).
pub fn air_or_oxygen_points(oxygen: bool) -> u32 {
    if oxygen {
        2
    } else {
        0
    }
}

/// Systolic BP (mmHg): ≤90 → 3, 91–100 → 2, 101–110 → 1, 111–219 → 0, ≥220 → 3.
pub fn systolic_bp_points(sbp: i64) -> u32 {
    match sbp {
        ..=90 => 3,
        91..=100 => 2,
        101..=110 => 1,
        111..=219 => 0,
        _ => 3,
    }
}

/// Pulse (/min): ≤40 → 3, 41–50 → 1, 51–90 → 0, 91–110 → 1, 111–130 → 2, ≥131 → 3.
pub fn pulse_points(pulse: i64) -> u32 {
    match pulse {
        ..=40 => 3,
        41..=50 => 1,
        51..=90 => 0,
        91..=110 => 1,
        111..=130 => 2,
        _ => 3,
    }
}

/// Consciousness: Alert → 0; new Confusion, Voice, Pain or Unresponsive → 3.
pub fn consciousness_points(a: Acvpu) -> u32 {
    if a == Acvpu::Alert {
        0
    } else {
        3
    }
}

/// Temperature in tenths of °C: ≤35.0 → 3, 35.1–36.0 → 1, 36.1–38.0 → 0,
/// 38.1–39.0 → 1, ≥39.1 → 2.
pub fn temperature_points(tenths: i64) -> u32 {
    match tenths {
        ..=350 => 3,
        351..=360 => 1,
        361..=380 => 0,
        381..=390 => 1,
        _ => 2,
    }
}

/// Score one observation set on the given scale.
pub fn score(v: &Vitals, scale: Scale) -> Score {
    let mut items = Vec::new();
    let mut missing = Vec::new();
    let mut whole =
        |param: Param, value: Option<Decimal>, unit: &str, f: fn(i64) -> u32| match value
            .and_then(|d| d.to_whole().map(|n| (d, n)))
        {
            Some((d, n)) => items.push(Item {
                param,
                raw: format!("{d} {unit}").trim_end().to_string(),
                normalised: format!("{n} {unit}").trim_end().to_string(),
                points: f(n),
            }),
            None => missing.push(Missing {
                param,
                reason: "not recorded",
            }),
        };
    whole(
        Param::RespirationRate,
        v.respiration_rate,
        "/min",
        respiration_rate_points,
    );
    // SpO2 depends on the scale and, on Scale 2, on air/oxygen.
    let mut spo2_item = None;
    let mut spo2_missing = None;
    match v.spo2.and_then(|d| d.to_whole().map(|n| (d, n))) {
        Some((d, n)) => {
            let points = match scale {
                Scale::One => Some(spo2_scale1_points(n)),
                Scale::Two => spo2_scale2_points(n, v.oxygen),
            };
            match points {
                Some(points) => {
                    spo2_item = Some(Item {
                        param: Param::SpO2,
                        raw: format!("{d} %"),
                        normalised: format!("{n} % (scale {})", scale.number()),
                        points,
                    })
                }
                None => {
                    spo2_missing = Some(Missing {
                        param: Param::SpO2,
                        reason: "scale 2 SpO2 of 93 % or more needs air or oxygen recorded",
                    })
                }
            }
        }
        None => {
            spo2_missing = Some(Missing {
                param: Param::SpO2,
                reason: "not recorded",
            })
        }
    }
    items.extend(spo2_item);
    missing.extend(spo2_missing);
    match v.oxygen {
        Some(o) => items.push(Item {
            param: Param::AirOrOxygen,
            raw: if o { "oxygen" } else { "air" }.into(),
            normalised: if o { "oxygen" } else { "air" }.into(),
            points: air_or_oxygen_points(o),
        }),
        None => missing.push(Missing {
            param: Param::AirOrOxygen,
            reason: "not recorded",
        }),
    }
    let mut whole =
        |param: Param, value: Option<Decimal>, unit: &str, f: fn(i64) -> u32| match value
            .and_then(|d| d.to_whole().map(|n| (d, n)))
        {
            Some((d, n)) => items.push(Item {
                param,
                raw: format!("{d} {unit}"),
                normalised: format!("{n} {unit}"),
                points: f(n),
            }),
            None => missing.push(Missing {
                param,
                reason: "not recorded",
            }),
        };
    whole(Param::SystolicBp, v.systolic_bp, "mmHg", systolic_bp_points);
    whole(Param::Pulse, v.pulse, "/min", pulse_points);
    match v.consciousness {
        Some(a) => items.push(Item {
            param: Param::Consciousness,
            raw: a.letter().into(),
            normalised: a.letter().into(),
            points: consciousness_points(a),
        }),
        None => missing.push(Missing {
            param: Param::Consciousness,
            reason: "not recorded",
        }),
    }
    match v.temperature.and_then(|d| d.to_tenths().map(|n| (d, n))) {
        Some((d, n)) => items.push(Item {
            param: Param::Temperature,
            raw: format!("{d} °C"),
            normalised: format!("{} °C", crate::decimal::tenths(n)),
            points: temperature_points(n),
        }),
        None => missing.push(Missing {
            param: Param::Temperature,
            reason: "not recorded",
        }),
    }
    items.sort_by_key(|i| i.param);
    missing.sort_by_key(|m| m.param);
    let partial_total: u32 = items.iter().map(|i| i.points).sum();
    let red = items.iter().any(|i| i.points == 3);
    let total = missing.is_empty().then_some(partial_total);
    let max_possible = partial_total + missing.iter().map(|m| m.param.max_points()).sum::<u32>();
    Score {
        scale,
        items,
        missing,
        partial_total,
        total,
        band: Band::of(partial_total, red),
        red,
        max_possible,
    }
}

/// A rising score: the newest total exceeds the lowest of the last `sets` totals (oldest
/// first, the newest last) by at least `rise` points. Tend's default is +2 over three sets.
pub fn rising(totals: &[u32], sets: usize, rise: u32) -> bool {
    let n = totals.len();
    if n < 2 || sets < 2 {
        return false;
    }
    let window = &totals[n.saturating_sub(sets)..];
    let newest = window[window.len() - 1];
    let lowest = window[..window.len() - 1]
        .iter()
        .copied()
        .min()
        .unwrap_or(newest);
    newest >= lowest + rise
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full(rr: i64, spo2: i64, o2: bool, sbp: i64, hr: i64, a: Acvpu, temp: &str) -> Vitals {
        Vitals {
            respiration_rate: Some(Decimal::from_int(rr)),
            spo2: Some(Decimal::from_int(spo2)),
            oxygen: Some(o2),
            systolic_bp: Some(Decimal::from_int(sbp)),
            pulse: Some(Decimal::from_int(hr)),
            consciousness: Some(a),
            temperature: Decimal::parse(temp),
        }
    }

    #[test]
    fn a_normal_set_scores_zero() {
        let s = score(
            &full(16, 97, false, 120, 70, Acvpu::Alert, "37.0"),
            Scale::One,
        );
        assert_eq!(s.total, Some(0));
        assert_eq!(s.band, Band::Zero);
        assert_eq!(s.items.len(), 7);
    }

    #[test]
    fn incomplete_sets_have_a_partial_total_and_a_minimum_band() {
        let v = Vitals {
            systolic_bp: Some(Decimal::from_int(85)),
            ..Vitals::default()
        };
        let s = score(&v, Scale::One);
        assert_eq!(s.total, None);
        assert_eq!(s.partial_total, 3);
        assert_eq!(s.band, Band::LowMedium);
        assert_eq!(s.missing.len(), 6);
        assert_eq!(s.max_possible, 3 + 3 + 3 + 2 + 3 + 3 + 2);
    }

    #[test]
    fn scale_two_needs_oxygen_status_above_92() {
        let mut v = full(16, 95, true, 120, 70, Acvpu::Alert, "37.0");
        v.oxygen = None;
        let s = score(&v, Scale::Two);
        assert!(s.missing.iter().any(|m| m.param == Param::SpO2));
        v.spo2 = Some(Decimal::from_int(90));
        let s = score(&v, Scale::Two);
        assert_eq!(s.points(Param::SpO2), Some(0));
    }

    #[test]
    fn trend_rises_by_two_over_three_sets() {
        assert!(rising(&[1, 2, 3], 3, 2));
        assert!(!rising(&[1, 2, 2], 3, 2));
        assert!(rising(&[5, 0, 1, 2], 3, 2));
        assert!(!rising(&[3], 3, 2));
        assert!(!rising(&[4, 3, 2], 3, 2));
    }
}
