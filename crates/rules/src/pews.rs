//! The national Paediatric Early Warning System (PEWS) for England, from NHS England's
//! System-wide Paediatric Observations Tracking (SPOT) programme, 2023:
//! - P-S1: NHS England, *National Paediatric Early Warning System Observation and Escalation
//!   Chart*, 0 to 11 months, 1-4 years, 5-12 years and ≥13 years (CS56015, September 2023);
//! - P-S2: NHS England, *Configuration Document for SPOT NPEWS* (2025), the exact bounds and
//!   the escalation guidance;
//! - P-S3: NHS England, *SPOT / NPEWS Specification*, rules C1.2, C1.4, C2.2, C9.2, C10.2,
//!   C11.6 and C17.11.
//!
//! Reference transcription: `clinical/early-warning-children-pregnancy.md` Part 2. The tables
//! are data, compiled in: `data/pews-bands.tsv` (numeric bands by age), `data/pews-codes.tsv`
//! (respiratory distress, devices, blood pressure derogation codes, specific concerns) and
//! `data/pews-levels.tsv` (levels, responses, review and observation timings).
//!
//! Seven items score 0, 1, 2 or 4 (White, Yellow, Orange, Pink): respiratory rate,
//! respiratory distress, SpO2, oxygen delivery, heart rate, systolic blood pressure and
//! capillary refill time. Temperature, AVPU, blood glucose, pain and diastolic pressure are
//! recorded but not scored (table P9); AVPU acts as a specific-concern trigger.
//!
//! Values are scored as given, exactly (no rounding): P-S2's "20 – 29.99" is 20 ≤ x < 30, and
//! a value in a gap between two bands (SpO2 between 91 and 91.01 %, capillary refill between
//! 2 and 3 s) takes the higher of the two scores (P-S3 C1.4).
//!
//! An incomplete set has no total: it has a partial total, the items missing, and the least
//! level its partial total implies (missing items can only add points), the level to
//! escalate on, as for NEWS2. The level is the highest of the PEWS level and every trigger
//! (specific concern, carer question, clinical intuition); the result lists which criteria
//! set it (reason codes P, SC, CQ, CI; none is "0").

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::Serialize;

use crate::news2::Acvpu;
use crate::Decimal;

const BANDS: &str = include_str!("../data/pews-bands.tsv");
const CODES: &str = include_str!("../data/pews-codes.tsv");
const LEVELS: &str = include_str!("../data/pews-levels.tsv");

/// The chart's age bands (P-S1; P-S2 labels the last "13 – 18 years").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum AgeBand {
    #[serde(rename = "0-11m")]
    Months0To11,
    #[serde(rename = "1-4y")]
    Years1To4,
    #[serde(rename = "5-12y")]
    Years5To12,
    #[serde(rename = "13y+")]
    Years13Plus,
}

impl AgeBand {
    pub const ALL: [AgeBand; 4] = [
        AgeBand::Months0To11,
        AgeBand::Years1To4,
        AgeBand::Years5To12,
        AgeBand::Years13Plus,
    ];

    /// Tend's code for the band (the data files' band column).
    pub fn code(self) -> &'static str {
        match self {
            AgeBand::Months0To11 => "0-11m",
            AgeBand::Years1To4 => "1-4y",
            AgeBand::Years5To12 => "5-12y",
            AgeBand::Years13Plus => "13y+",
        }
    }

    pub fn parse(code: &str) -> Option<AgeBand> {
        AgeBand::ALL.into_iter().find(|b| b.code() == code)
    }

    /// The chart's title.
    pub fn display(self) -> &'static str {
        match self {
            AgeBand::Months0To11 => "0 to 11 months",
            AgeBand::Years1To4 => "1-4 years",
            AgeBand::Years5To12 => "5-12 years",
            AgeBand::Years13Plus => "≥13 years",
        }
    }

    /// The band of an age in completed months: 0–11 months, 1–4 years (12–59 months), 5–12
    /// years (60–155 months), 13 years and over.
    pub fn of_months(completed_months: u32) -> AgeBand {
        match completed_months {
            0..=11 => AgeBand::Months0To11,
            12..=59 => AgeBand::Years1To4,
            60..=155 => AgeBand::Years5To12,
            _ => AgeBand::Years13Plus,
        }
    }

    /// Whether a clinician may score a child of this band on `chosen`: the same band or the
    /// one either side, "but not one further away" (P-S3 C2.2). The choice is the caller's.
    pub fn may_use(self, chosen: AgeBand) -> bool {
        (self as i32 - chosen as i32).abs() <= 1
    }
}

/// A calendar date (no time zone: the caller takes it in the hospital's zone).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CivilDate {
    year: i32,
    month: u32,
    day: u32,
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

impl CivilDate {
    /// A valid date, or None.
    pub fn new(year: i32, month: u32, day: u32) -> Option<CivilDate> {
        ((1..=12).contains(&month) && day >= 1 && day <= days_in_month(year, month))
            .then_some(CivilDate { year, month, day })
    }

    /// Parses `YYYY-MM-DD`.
    pub fn parse(s: &str) -> Option<CivilDate> {
        let mut parts = s.trim().splitn(3, '-');
        let year = parts.next()?.parse().ok()?;
        let month = parts.next()?.parse().ok()?;
        let day = parts.next()?.parse().ok()?;
        CivilDate::new(year, month, day)
    }

    pub fn year(self) -> i32 {
        self.year
    }

    pub fn month(self) -> u32 {
        self.month
    }

    pub fn day(self) -> u32 {
        self.day
    }
}

/// Age in completed months on `on`, for a child born on `birth`; None when `on` is before
/// the birth. A month is completed on the day of the month of birth or, in a shorter month,
/// on its last day (born 31 January: one month on 28 or 29 February).
pub fn completed_months(birth: CivilDate, on: CivilDate) -> Option<u32> {
    if on < birth {
        return None;
    }
    let mut months = (on.year - birth.year) * 12 + on.month as i32 - birth.month as i32;
    if on.day < birth.day.min(days_in_month(on.year, on.month)) {
        months -= 1;
    }
    u32::try_from(months).ok()
}

/// The chart for a child born on `birth` whose set is taken on `on` (both local dates).
pub fn age_band(birth: CivilDate, on: CivilDate) -> Option<AgeBand> {
    completed_months(birth, on).map(AgeBand::of_months)
}

/// The seven scored items, in chart order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Param {
    RespiratoryRate,
    RespiratoryDistress,
    SpO2,
    OxygenDelivery,
    HeartRate,
    SystolicBp,
    CapillaryRefill,
}

impl Param {
    pub const ALL: [Param; 7] = [
        Param::RespiratoryRate,
        Param::RespiratoryDistress,
        Param::SpO2,
        Param::OxygenDelivery,
        Param::HeartRate,
        Param::SystolicBp,
        Param::CapillaryRefill,
    ];

    /// Tend's code for the item.
    pub fn code(self) -> &'static str {
        match self {
            Param::RespiratoryRate => "respiratory-rate",
            Param::RespiratoryDistress => "respiratory-distress",
            Param::SpO2 => "spo2",
            Param::OxygenDelivery => "oxygen-delivery",
            Param::HeartRate => "heart-rate",
            Param::SystolicBp => "systolic-bp",
            Param::CapillaryRefill => "capillary-refill",
        }
    }

    pub fn display(self) -> &'static str {
        match self {
            Param::RespiratoryRate => "Respiratory rate",
            Param::RespiratoryDistress => "Respiratory distress",
            Param::SpO2 => "SpO2",
            Param::OxygenDelivery => "Oxygen delivery",
            Param::HeartRate => "Heart rate",
            Param::SystolicBp => "Systolic blood pressure",
            Param::CapillaryRefill => "Capillary refill time",
        }
    }

    pub fn parse(code: &str) -> Option<Param> {
        Param::ALL.into_iter().find(|p| p.code() == code)
    }

    /// Most points the item can score: 4, capillary refill 2 (so a total of at most 26).
    pub fn max_points(self) -> u32 {
        match self {
            Param::CapillaryRefill => 2,
            _ => 4,
        }
    }
}

/// Respiratory distress (table P3); the signs for each category differ by age group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Distress {
    None,
    Mild,
    Moderate,
    Severe,
}

impl Distress {
    pub const ALL: [Distress; 4] = [
        Distress::None,
        Distress::Mild,
        Distress::Moderate,
        Distress::Severe,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Distress::None => "none",
            Distress::Mild => "mild",
            Distress::Moderate => "moderate",
            Distress::Severe => "severe",
        }
    }

    pub fn parse(code: &str) -> Option<Distress> {
        Distress::ALL.into_iter().find(|d| d.code() == code)
    }
}

/// Respiratory support device (table P5a).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Device {
    #[serde(rename = "HF")]
    HighFlow,
    #[serde(rename = "BiP")]
    Bipap,
    #[serde(rename = "CP")]
    Cpap,
    #[serde(rename = "NP")]
    NasalProngs,
    #[serde(rename = "FM")]
    FaceMask,
    #[serde(rename = "HB")]
    HeadBox,
    #[serde(rename = "NRB")]
    NonRebreather,
}

impl Device {
    pub const ALL: [Device; 7] = [
        Device::HighFlow,
        Device::Bipap,
        Device::Cpap,
        Device::NasalProngs,
        Device::FaceMask,
        Device::HeadBox,
        Device::NonRebreather,
    ];

    /// The chart's code (HF, BiP, CP, NP, FM, HB, NRB).
    pub fn code(self) -> &'static str {
        match self {
            Device::HighFlow => "HF",
            Device::Bipap => "BiP",
            Device::Cpap => "CP",
            Device::NasalProngs => "NP",
            Device::FaceMask => "FM",
            Device::HeadBox => "HB",
            Device::NonRebreather => "NRB",
        }
    }

    pub fn parse(code: &str) -> Option<Device> {
        Device::ALL.into_iter().find(|d| d.code() == code)
    }

    /// Points of the device itself: Some(4) for HF, BiP and CP, which override the oxygen
    /// level; None for devices scored by their oxygen level.
    pub fn points(self) -> Option<u32> {
        match &tables().codes[&("device", self.code().to_string())] {
            CodeValue::Points(p) => Some(*p),
            _ => None,
        }
    }
}

/// The oxygen support level: either a percentage or a flow, in any one set (P-S3 C9.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Oxygen {
    /// Air, no support.
    Air,
    /// Percent oxygen (table P5b).
    Percent(Decimal),
    /// Litres per minute (table P5c).
    LitresPerMinute(Decimal),
}

/// Systolic blood pressure not obtained: the derogation codes (table P7a).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BpNotObtained {
    /// NCO: not attempted (no concern).
    Nco,
    /// U0: unsuccessful attempt (no concern).
    U0,
    /// U4: unsuccessful attempt (concern).
    U4,
    /// Other (free text), which the user chose to score 0.
    OtherScored0,
    /// Other (free text), which the user chose to score 4.
    OtherScored4,
}

impl BpNotObtained {
    pub const ALL: [BpNotObtained; 5] = [
        BpNotObtained::Nco,
        BpNotObtained::U0,
        BpNotObtained::U4,
        BpNotObtained::OtherScored0,
        BpNotObtained::OtherScored4,
    ];

    pub fn code(self) -> &'static str {
        match self {
            BpNotObtained::Nco => "NCO",
            BpNotObtained::U0 => "U0",
            BpNotObtained::U4 => "U4",
            BpNotObtained::OtherScored0 => "other-0",
            BpNotObtained::OtherScored4 => "other-4",
        }
    }

    pub fn parse(code: &str) -> Option<BpNotObtained> {
        BpNotObtained::ALL.into_iter().find(|b| b.code() == code)
    }
}

/// AVPU (not scored; a change to V, P or U is a specific concern).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Avpu {
    Alert,
    Voice,
    Pain,
    Unresponsive,
}

impl Avpu {
    /// From a NEWS2 ACVPU reading; new confusion has no place on the PEWS chart (None).
    pub fn from_acvpu(a: Acvpu) -> Option<Avpu> {
        match a {
            Acvpu::Alert => Some(Avpu::Alert),
            Acvpu::NewConfusion => None,
            Acvpu::Voice => Some(Avpu::Voice),
            Acvpu::Pain => Some(Avpu::Pain),
            Acvpu::Unresponsive => Some(Avpu::Unresponsive),
        }
    }

    pub fn letter(self) -> &'static str {
        match self {
            Avpu::Alert => "A",
            Avpu::Voice => "V",
            Avpu::Pain => "P",
            Avpu::Unresponsive => "U",
        }
    }

    /// Parses a letter (`A`, `V`, `P`, `U`) or a word (`alert`, `voice`...).
    pub fn parse(s: &str) -> Option<Avpu> {
        match s.to_ascii_lowercase().as_str() {
            "a" | "alert" => Some(Avpu::Alert),
            "v" | "voice" => Some(Avpu::Voice),
            "p" | "pain" => Some(Avpu::Pain),
            "u" | "unresponsive" => Some(Avpu::Unresponsive),
            _ => None,
        }
    }
}

/// The escalation levels, in increasing order (table P10). `None`: the reason code "0".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Level {
    None,
    Low,
    Medium,
    High,
    Emergency,
}

/// How the minimal observations are timed (table P10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "minutes")]
pub enum Observe {
    /// "Must reassess within" so many minutes.
    Within(u32),
    /// Every so many minutes, with continuous monitoring.
    Every(u32),
}

impl Observe {
    pub fn minutes(self) -> u32 {
        match self {
            Observe::Within(m) | Observe::Every(m) => m,
        }
    }
}

impl Level {
    pub const ALL: [Level; 5] = [
        Level::None,
        Level::Low,
        Level::Medium,
        Level::High,
        Level::Emergency,
    ];

    /// Tend's code for the level.
    pub fn code(self) -> &'static str {
        match self {
            Level::None => "none",
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
            Level::Emergency => "emergency",
        }
    }

    pub fn parse(code: &str) -> Option<Level> {
        Level::ALL.into_iter().find(|l| l.code() == code)
    }

    pub fn display(self) -> &'static str {
        match self {
            Level::None => "None",
            Level::Low => "Low",
            Level::Medium => "Medium",
            Level::High => "High",
            Level::Emergency => "Emergency",
        }
    }

    fn row(self) -> &'static LevelRow {
        &tables().levels[self as usize]
    }

    /// The lowest PEWS total of the level (0, 1, 5, 9, 13).
    pub fn from_total(self) -> u32 {
        self.row().from_total
    }

    /// The level a PEWS total alone sets: 0 none, 1–4 low, 5–8 medium, 9–12 high, ≥13
    /// emergency.
    pub fn of_total(total: u32) -> Level {
        Level::ALL
            .into_iter()
            .rev()
            .find(|l| total >= l.from_total())
            .unwrap_or(Level::None)
    }

    /// Communication and response (chart text); None for the level none.
    pub fn response(self) -> Option<&'static str> {
        self.row().response.as_deref()
    }

    /// Medical review timing (chart text).
    pub fn medical_review(self) -> Option<&'static str> {
        self.row().review.as_deref()
    }

    /// Medical review within so many minutes (0: immediate); None where the chart gives no
    /// time ("As agreed with medical team").
    pub fn medical_review_minutes(self) -> Option<u32> {
        self.row().review_minutes
    }

    /// Minimal observations (chart text).
    pub fn observations(self) -> Option<&'static str> {
        self.row().observations.as_deref()
    }

    /// Minimal observation timing: reassess within 60 (low) or 30 (medium) minutes, every 30
    /// (high) or 15 (emergency) minutes.
    pub fn observe(self) -> Option<Observe> {
        self.row().observe
    }
}

/// The escalation criteria kinds (the escalation-reason codes of P-S1 and P-S2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Reason {
    /// P: the PEWS total.
    #[serde(rename = "P")]
    Pews,
    /// SC: a specific concern (sepsis, septic shock, AVPU change, pupils).
    #[serde(rename = "SC")]
    SpecificConcern,
    /// CQ: the carer question.
    #[serde(rename = "CQ")]
    CarerQuestion,
    /// CI: clinical intuition.
    #[serde(rename = "CI")]
    ClinicalIntuition,
}

impl Reason {
    pub fn code(self) -> &'static str {
        match self {
            Reason::Pews => "P",
            Reason::SpecificConcern => "SC",
            Reason::CarerQuestion => "CQ",
            Reason::ClinicalIntuition => "CI",
        }
    }

    pub fn parse(code: &str) -> Option<Reason> {
        [
            Reason::Pews,
            Reason::SpecificConcern,
            Reason::CarerQuestion,
            Reason::ClinicalIntuition,
        ]
        .into_iter()
        .find(|r| r.code() == code)
    }
}

/// The carer question, "How is your child different since I last saw them?", as staff read
/// the answer (table P11).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case", tag = "answer", content = "level")]
pub enum Carer {
    /// W: worse, with the level staff chose (any, none included).
    Worse(Level),
    /// S.
    Same,
    /// B.
    Better,
    /// A: parent or carer asleep.
    Asleep,
    /// U: unavailable.
    Unavailable,
}

/// The criteria that escalate regardless of the score (table P11), as recorded for the set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Triggers {
    /// AVPU of this set.
    pub avpu: Option<Avpu>,
    /// AVPU of the previous set. A change to V, P or U escalates; when the previous AVPU is
    /// not known, V, P or U counts as a change.
    pub previous_avpu: Option<Avpu>,
    pub abnormal_pupils: bool,
    pub new_sepsis_suspicion: bool,
    pub new_septic_shock_suspicion: bool,
    pub carer: Option<Carer>,
    /// Clinical intuition "Yes", with the level the nurse or clinician chose.
    pub clinical_intuition: Option<Level>,
}

/// One set's readings as given. A systolic reading wins over a derogation code.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Inputs {
    /// Breaths/min.
    pub respiratory_rate: Option<Decimal>,
    pub respiratory_distress: Option<Distress>,
    /// Percent.
    pub spo2: Option<Decimal>,
    pub device: Option<Device>,
    pub oxygen: Option<Oxygen>,
    /// Beats/min.
    pub heart_rate: Option<Decimal>,
    /// mmHg.
    pub systolic_bp: Option<Decimal>,
    pub bp_not_obtained: Option<BpNotObtained>,
    /// Seconds.
    pub capillary_refill: Option<Decimal>,
    pub triggers: Triggers,
}

/// One item's contribution, for the explanation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Item {
    pub param: Param,
    /// The value as given, with its unit or code.
    pub value: String,
    pub points: u32,
    /// How the points were reached when it is not a plain band (a device override, a gap).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<&'static str>,
}

/// An item that could not be scored, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Missing {
    pub param: Param,
    pub reason: &'static str,
}

/// One criterion met, and the level it asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Criterion {
    pub reason: Reason,
    pub level: Level,
    pub detail: String,
}

/// The escalation: the highest level any criterion asks for, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Escalation {
    pub level: Level,
    /// Every criterion met, in the order P, SC, CQ, CI.
    pub criteria: Vec<Criterion>,
}

impl Escalation {
    /// The kinds of criteria that set the level (those asking for the level itself); empty
    /// for the level none.
    pub fn reasons(&self) -> Vec<Reason> {
        let mut r: Vec<Reason> = self
            .criteria
            .iter()
            .filter(|c| c.level == self.level && c.level > Level::None)
            .map(|c| c.reason)
            .collect();
        r.dedup();
        r
    }

    /// The escalation-reason codes (P, SC, CQ, CI), or "0" for none.
    pub fn reason_codes(&self) -> Vec<&'static str> {
        let r = self.reasons();
        if r.is_empty() {
            vec!["0"]
        } else {
            r.into_iter().map(Reason::code).collect()
        }
    }
}

/// A PEWS with its explanation and escalation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Score {
    pub age_band: AgeBand,
    pub items: Vec<Item>,
    pub missing: Vec<Missing>,
    /// Sum of the scored items.
    pub partial_total: u32,
    /// The total: only when all seven items were scored.
    pub total: Option<u32>,
    /// Highest total the set could reach once complete.
    pub max_possible: u32,
    pub escalation: Escalation,
}

impl Score {
    pub fn complete(&self) -> bool {
        self.total.is_some()
    }

    pub fn points(&self, p: Param) -> Option<u32> {
        self.items.iter().find(|i| i.param == p).map(|i| i.points)
    }

    pub fn level(&self) -> Level {
        self.escalation.level
    }

    /// The next set is due within this many minutes (the level's minimal observations).
    pub fn next_observation_minutes(&self) -> Option<u32> {
        self.escalation.level.observe().map(Observe::minutes)
    }
}

// ---- the tables ----

#[derive(Debug)]
struct Row {
    from: Option<Decimal>,
    to: Option<Decimal>,
    points: u32,
}

#[derive(Debug)]
enum CodeValue {
    Points(u32),
    ByOxygen,
    Level(Level),
}

#[derive(Debug)]
struct LevelRow {
    from_total: u32,
    review_minutes: Option<u32>,
    review: Option<String>,
    observe: Option<Observe>,
    observations: Option<String>,
    response: Option<String>,
}

#[derive(Debug)]
struct Tables {
    /// (parameter, band code or "all") → rows in increasing order.
    bands: HashMap<(String, String), Vec<Row>>,
    /// (item, code) → value.
    codes: HashMap<(&'static str, String), CodeValue>,
    /// In [`Level`] order.
    levels: Vec<LevelRow>,
}

fn data_rows(text: &'static str) -> impl Iterator<Item = Vec<&'static str>> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| l.split('\t').collect())
}

fn opt(s: &str) -> Option<&str> {
    (s != "-").then_some(s)
}

fn parse_tables() -> Tables {
    // The data is compiled in and checked by the tests: a malformed row is a build defect.
    fn bad(what: &str, row: &[&str]) -> ! {
        panic!("PEWS data: bad {what} in {row:?}")
    }
    let mut bands: HashMap<(String, String), Vec<Row>> = HashMap::new();
    for r in data_rows(BANDS) {
        let [param, band, from, to, points] = r[..] else {
            bad("row", &r)
        };
        let num = |s: &str| opt(s).map(|v| Decimal::parse(v).unwrap_or_else(|| bad("number", &r)));
        let row = Row {
            from: num(from),
            to: num(to),
            points: points.parse().unwrap_or_else(|_| bad("points", &r)),
        };
        let rows = bands
            .entry((param.to_string(), band.to_string()))
            .or_default();
        if let (Some(prev), Some(from)) = (rows.last().and_then(|p: &Row| p.from), row.from) {
            if from.cmp_value(&prev).is_le() {
                bad("order", &r)
            }
        }
        rows.push(row);
    }
    let mut codes = HashMap::new();
    for r in data_rows(CODES) {
        let [item, code, value, _meaning] = r[..] else {
            bad("row", &r)
        };
        let item: &'static str = match item {
            "respiratory-distress" => "respiratory-distress",
            "device" => "device",
            "bp-not-obtained" => "bp-not-obtained",
            "specific-concern" => "specific-concern",
            _ => bad("item", &r),
        };
        let value = match (value.parse::<u32>(), Level::parse(value)) {
            (Ok(p), _) => CodeValue::Points(p),
            (_, Some(l)) => CodeValue::Level(l),
            _ if value == "oxygen" => CodeValue::ByOxygen,
            _ => bad("value", &r),
        };
        codes.insert((item, code.to_string()), value);
    }
    let mut levels = Vec::new();
    for (i, r) in data_rows(LEVELS).enumerate() {
        let [level, from_total, review_minutes, review, observe, observe_minutes, observations, response] =
            r[..]
        else {
            bad("row", &r)
        };
        if Level::parse(level) != Level::ALL.get(i).copied() {
            bad("level order", &r)
        }
        let minutes =
            |s: &str| opt(s).map(|v| v.parse::<u32>().unwrap_or_else(|_| bad("minutes", &r)));
        let observe = match (observe, minutes(observe_minutes)) {
            ("within", Some(m)) => Some(Observe::Within(m)),
            ("every", Some(m)) => Some(Observe::Every(m)),
            ("-", None) => None,
            _ => bad("observations", &r),
        };
        levels.push(LevelRow {
            from_total: from_total.parse().unwrap_or_else(|_| bad("total", &r)),
            review_minutes: minutes(review_minutes),
            review: opt(review).map(str::to_string),
            observe,
            observations: opt(observations).map(str::to_string),
            response: opt(response).map(str::to_string),
        });
    }
    if levels.len() != Level::ALL.len() {
        panic!("PEWS data: {} levels", levels.len());
    }
    Tables {
        bands,
        codes,
        levels,
    }
}

fn tables() -> &'static Tables {
    static TABLES: OnceLock<Tables> = OnceLock::new();
    TABLES.get_or_init(parse_tables)
}

/// Points of a value on a band table, and whether it fell in a gap; None when no row holds
/// it (below the lowest bound of a table that has one).
fn lookup(rows: &[Row], v: Decimal) -> Option<(u32, bool)> {
    for (i, r) in rows.iter().enumerate() {
        if r.from.is_some_and(|f| v.cmp_value(&f).is_lt()) {
            // Above the previous row (or it would have matched), below this one: a gap.
            return i
                .checked_sub(1)
                .map(|p| (rows[p].points.max(r.points), true));
        }
        let within = match r.to {
            Some(to) => v.cmp_value(&to).is_le(),
            None => rows
                .get(i + 1)
                .and_then(|n| n.from)
                .is_none_or(|n| v.cmp_value(&n).is_lt()),
        };
        if within {
            return Some((r.points, false));
        }
    }
    None
}

fn band_points(param: &str, band: AgeBand, v: Decimal) -> Option<(u32, bool)> {
    let t = &tables().bands;
    let rows = t
        .get(&(param.to_string(), band.code().to_string()))
        .or_else(|| t.get(&(param.to_string(), "all".to_string())))?;
    lookup(rows, v)
}

fn code_points(item: &'static str, code: &str) -> Option<u32> {
    match tables().codes.get(&(item, code.to_string()))? {
        CodeValue::Points(p) => Some(*p),
        _ => None,
    }
}

fn concern_level(code: &str) -> Level {
    match tables().codes.get(&("specific-concern", code.to_string())) {
        Some(CodeValue::Level(l)) => *l,
        _ => panic!("PEWS data: no specific concern {code}"),
    }
}

const GAP: &str = "between two bands: the higher score (SPOT C1.4)";
const NEGATIVE: &str = "a negative value is not a reading";

/// Points of a numeric reading for one table: respiratory rate, SpO2, heart rate, systolic
/// blood pressure (`respiratory-rate`, `spo2`, `heart-rate`, `systolic-bp`), capillary
/// refill (`capillary-refill`), oxygen (`oxygen-percent`, `oxygen-flow`). None for a
/// negative value or an unknown table.
pub fn points(table: &str, band: AgeBand, value: Decimal) -> Option<u32> {
    if value.cmp_value(&Decimal::from_int(0)).is_lt() {
        return None;
    }
    band_points(table, band, value).map(|(p, _)| p)
}

fn numeric(
    param: Param,
    table: &str,
    band: AgeBand,
    value: Option<Decimal>,
    unit: &str,
) -> Result<Item, Missing> {
    let Some(v) = value else {
        return Err(Missing {
            param,
            reason: "not recorded",
        });
    };
    if v.cmp_value(&Decimal::from_int(0)).is_lt() {
        return Err(Missing {
            param,
            reason: NEGATIVE,
        });
    }
    match band_points(table, band, v) {
        Some((points, gap)) => Ok(Item {
            param,
            value: format!("{v} {unit}"),
            points,
            note: gap.then_some(GAP),
        }),
        None => Err(Missing {
            param,
            reason: "outside the chart",
        }),
    }
}

fn oxygen_item(v: &Inputs, band: AgeBand) -> Result<Item, Missing> {
    let param = Param::OxygenDelivery;
    let device = v.device.map(|d| d.code()).unwrap_or("no device");
    if let Some(points) = v.device.and_then(Device::points) {
        return Ok(Item {
            param,
            value: device.to_string(),
            points,
            note: Some("HF, BiPAP and CPAP score 4, over any oxygen level"),
        });
    }
    let (level, table, unit, value) = match v.oxygen {
        None => {
            return Err(Missing {
                param,
                reason: "oxygen level not recorded",
            })
        }
        Some(Oxygen::Air) => {
            return Ok(Item {
                param,
                value: format!("{device}, air"),
                points: 0,
                note: None,
            })
        }
        Some(Oxygen::Percent(p)) => (p, "oxygen-percent", "%", p),
        Some(Oxygen::LitresPerMinute(l)) => (l, "oxygen-flow", "L/min", l),
    };
    let mut item = numeric(param, table, band, Some(level), unit)?;
    item.value = format!("{device}, {value} {unit}");
    Ok(item)
}

/// The escalation of a set whose PEWS (or, incomplete, partial PEWS) is `pews_total`.
pub fn escalate(pews_total: u32, complete: bool, t: &Triggers) -> Escalation {
    let mut criteria = Vec::new();
    let pews = Level::of_total(pews_total);
    if pews > Level::None {
        criteria.push(Criterion {
            reason: Reason::Pews,
            level: pews,
            detail: if complete {
                format!("PEWS {pews_total}")
            } else {
                format!("partial PEWS {pews_total} (incomplete set)")
            },
        });
    }
    let mut concern = |code: &str, detail: &str| {
        criteria.push(Criterion {
            reason: Reason::SpecificConcern,
            level: concern_level(code),
            detail: detail.to_string(),
        })
    };
    if t.new_sepsis_suspicion {
        concern("new-sepsis", "new suspicion of sepsis");
    }
    if t.new_septic_shock_suspicion {
        concern("new-septic-shock", "new suspicion of septic shock");
    }
    if let Some(a) = t.avpu.filter(|a| Some(*a) != t.previous_avpu) {
        let from = t.previous_avpu.map_or("unknown", Avpu::letter);
        match a {
            Avpu::Alert => {}
            Avpu::Voice => concern("avpu-voice", &format!("AVPU changed to V (from {from})")),
            Avpu::Pain => concern("avpu-pain", &format!("AVPU changed to P (from {from})")),
            Avpu::Unresponsive => concern(
                "avpu-unresponsive",
                &format!("AVPU changed to U (from {from})"),
            ),
        }
    }
    if t.abnormal_pupils {
        concern("abnormal-pupils", "abnormal pupillary response");
    }
    if let Some(Carer::Worse(level)) = t.carer {
        if level > Level::None {
            criteria.push(Criterion {
                reason: Reason::CarerQuestion,
                level,
                detail: format!("carer: worse; staff chose {}", level.code()),
            });
        }
    }
    if let Some(level) = t.clinical_intuition.filter(|l| *l > Level::None) {
        criteria.push(Criterion {
            reason: Reason::ClinicalIntuition,
            level,
            detail: format!("clinical intuition; chose {}", level.code()),
        });
    }
    let level = criteria
        .iter()
        .map(|c| c.level)
        .max()
        .unwrap_or(Level::None);
    Escalation { level, criteria }
}

/// Score one set on the chart of `band`: the child's own ([`age_band`]) or, at the border,
/// the adjacent one a clinician chose ([`AgeBand::may_use`]).
pub fn score(v: &Inputs, band: AgeBand) -> Score {
    let mut results = vec![
        numeric(
            Param::RespiratoryRate,
            "respiratory-rate",
            band,
            v.respiratory_rate,
            "/min",
        ),
        match v.respiratory_distress {
            Some(d) => Ok(Item {
                param: Param::RespiratoryDistress,
                value: d.code().to_string(),
                points: code_points("respiratory-distress", d.code())
                    .expect("every distress category is in the data"),
                note: None,
            }),
            None => Err(Missing {
                param: Param::RespiratoryDistress,
                reason: "not recorded",
            }),
        },
        numeric(Param::SpO2, "spo2", band, v.spo2, "%"),
        oxygen_item(v, band),
        numeric(Param::HeartRate, "heart-rate", band, v.heart_rate, "/min"),
    ];
    results.push(match (v.systolic_bp, v.bp_not_obtained) {
        (None, Some(code)) => Ok(Item {
            param: Param::SystolicBp,
            value: format!("not obtained: {}", code.code()),
            points: code_points("bp-not-obtained", code.code())
                .expect("every derogation code is in the data"),
            note: None,
        }),
        (sbp, _) => numeric(Param::SystolicBp, "systolic-bp", band, sbp, "mmHg"),
    });
    results.push(numeric(
        Param::CapillaryRefill,
        "capillary-refill",
        band,
        v.capillary_refill,
        "s",
    ));
    let (mut items, mut missing) = (Vec::new(), Vec::new());
    for r in results {
        match r {
            Ok(i) => items.push(i),
            Err(m) => missing.push(m),
        }
    }
    let partial_total: u32 = items.iter().map(|i| i.points).sum();
    let total = missing.is_empty().then_some(partial_total);
    let max_possible = partial_total + missing.iter().map(|m| m.param.max_points()).sum::<u32>();
    Score {
        age_band: band,
        escalation: escalate(partial_total, total.is_some(), &v.triggers),
        items,
        missing,
        partial_total,
        total,
        max_possible,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::parse(s).unwrap()
    }

    fn date(s: &str) -> CivilDate {
        CivilDate::parse(s).unwrap()
    }

    #[test]
    fn the_data_parses_with_every_band_and_code() {
        let t = tables();
        for p in [
            "respiratory-rate",
            "heart-rate",
            "systolic-bp",
            "spo2",
            "capillary-refill",
        ] {
            for b in AgeBand::ALL {
                assert!(band_points(p, b, d("1")).is_some(), "{p} {b:?}");
            }
        }
        for x in Distress::ALL {
            assert!(code_points("respiratory-distress", x.code()).is_some());
        }
        for x in BpNotObtained::ALL {
            assert!(code_points("bp-not-obtained", x.code()).is_some());
        }
        for x in Device::ALL {
            assert!(t.codes.contains_key(&("device", x.code().to_string())));
        }
        assert_eq!(t.levels.len(), 5);
    }

    #[test]
    fn completed_months_count_month_ends() {
        assert_eq!(
            completed_months(date("2024-01-31"), date("2024-02-29")),
            Some(1)
        );
        assert_eq!(
            completed_months(date("2024-01-31"), date("2024-02-28")),
            Some(0)
        );
        assert_eq!(
            completed_months(date("2020-02-29"), date("2021-02-28")),
            Some(12)
        );
        assert_eq!(
            completed_months(date("2024-03-15"), date("2024-03-14")),
            None
        );
        assert_eq!(CivilDate::parse("2023-02-29"), None);
    }

    #[test]
    fn adjacent_bands_only() {
        assert!(AgeBand::Years1To4.may_use(AgeBand::Months0To11));
        assert!(AgeBand::Years1To4.may_use(AgeBand::Years5To12));
        assert!(!AgeBand::Years1To4.may_use(AgeBand::Years13Plus));
        assert!(!AgeBand::Months0To11.may_use(AgeBand::Years5To12));
    }

    #[test]
    fn a_scoring_device_overrides_the_oxygen_level() {
        let v = Inputs {
            device: Some(Device::HighFlow),
            oxygen: Some(Oxygen::Percent(d("21"))),
            ..Inputs::default()
        };
        let s = score(&v, AgeBand::Years1To4);
        assert_eq!(s.points(Param::OxygenDelivery), Some(4));
        let v = Inputs {
            device: Some(Device::FaceMask),
            ..Inputs::default()
        };
        let s = score(&v, AgeBand::Years1To4);
        assert!(s.missing.iter().any(|m| m.param == Param::OxygenDelivery));
    }

    #[test]
    fn incomplete_sets_escalate_on_their_partial_total() {
        let v = Inputs {
            heart_rate: Some(d("185")),
            systolic_bp: Some(d("115")),
            ..Inputs::default()
        };
        let s = score(&v, AgeBand::Months0To11);
        assert_eq!(s.total, None);
        assert_eq!(s.partial_total, 8);
        assert_eq!(s.level(), Level::Medium);
        assert_eq!(s.max_possible, 8 + 4 * 4 + 2);
        assert_eq!(s.next_observation_minutes(), Some(30));
    }
}
