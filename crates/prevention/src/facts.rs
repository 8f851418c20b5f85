//! What the evaluator knows about a patient: birth date, sex assigned at birth, race, and the
//! dated records whose codes belong to some rule's code set, read from FHIR R4 JSON.
//!
//! Only records that match a code set are kept, as compact [`Item`]s, so a population of a
//! million patients fits in memory.

use std::borrow::Cow;

use chrono::NaiveDate;
use serde::Deserialize;

use crate::rule::{Mask, RuleSet, System};
use crate::RuleError;

/// Tend's organ-inventory code system: an Observation with code `cervix` or `breasts` and
/// `valueBoolean` (or SNOMED Present 52101004 / Absent 2667000) records whether the person has
/// the organ. Where recorded it decides over sex assigned at birth.
pub const ORGAN_INVENTORY: &str = "https://tend.example.org/fhir/CodeSystem/organ-inventory";
/// US Core birth sex (`F`, `M`, `UNK`).
pub const BIRTH_SEX: &str = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex";
/// US Core race; its `ombCategory` codes.
pub const RACE: &str = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race";
const OMB_BLACK: &str = "2054-5";
const OMB_ASIAN: &str = "2028-9";

// Bits of the facts every rule may read: the first entries of every compiled mask.
pub(crate) const SMOKING_STATUS: u8 = 0;
pub(crate) const PACK_YEARS: u8 = 1;
pub(crate) const QUIT_DATE: u8 = 2;
pub(crate) const BMI: u8 = 3;
pub(crate) const SYSTOLIC: u8 = 4;
pub(crate) const DIASTOLIC: u8 = 5;
pub(crate) const CERVIX: u8 = 6;
pub(crate) const BREASTS: u8 = 7;
pub(crate) const CURRENT_SMOKER: u8 = 9;
pub(crate) const FORMER_SMOKER: u8 = 10;
pub(crate) const PRESENT: u8 = 11;
pub(crate) const ABSENT: u8 = 12;
/// Set on Encounter items that are hospital stays (not a code set: read from the class).
pub(crate) const STAY: u8 = 13;

/// The code sets behind the facts, in bit order. Smoking status: LOINC 72166-2 with the
/// SNOMED values of the US Core smoking-status value set; pack-years SNOMED 401201003 (as in
/// `clinical/screening.md`, lung); quit date SNOMED 160625004 / LOINC 74010-0; BMI 39156-5;
/// blood pressure 8480-6 / 8462-4 (alone or as components of the 85354-9 panel).
pub(crate) const FACT_SETS: &[(System, &[&str])] = &[
    (System::Loinc, &["72166-2", "11367-0"]),
    (System::Snomed, &["401201003"]),
    (System::Snomed, &["160625004"]),
    (System::Loinc, &["39156-5"]),
    (System::Loinc, &["8480-6"]),
    (System::Loinc, &["8462-4"]),
    (System::Organ, &["cervix"]),
    (System::Organ, &["breasts"]),
    // Never smoked: a known status that makes nobody an ever-smoker.
    (System::Snomed, &["266919005"]),
    (
        System::Snomed,
        &[
            "449868002",
            "428041000124106",
            "77176002",
            "65568007",
            "428061000124105",
            "428071000124103",
            "230059006",
        ],
    ),
    (System::Snomed, &["8517006"]),
    (System::Snomed, &["52101004"]),
    (System::Snomed, &["2667000"]),
];
// Further codes for the same facts in other systems.
const EXTRA_FACT_CODES: &[(System, &str, u8)] = &[
    (System::Loinc, "8664-5", PACK_YEARS),
    (System::Loinc, "74010-0", QUIT_DATE),
];

pub(crate) fn extra_fact_codes() -> impl Iterator<Item = (System, &'static str, u8)> {
    EXTRA_FACT_CODES.iter().copied()
}

/// Sex assigned at birth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Sex {
    Female,
    Male,
}

impl Sex {
    pub fn as_str(self) -> &'static str {
        match self {
            Sex::Female => "female",
            Sex::Male => "male",
        }
    }
}

/// Resource types that can carry evidence or exclusions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
pub enum Kind {
    Observation,
    Procedure,
    DiagnosticReport,
    Condition,
    ImagingStudy,
    /// Hospital stays (inpatient, emergency, observation), read only to tell a ward's
    /// readings from an office's (see [`Item::encounter`]).
    Encounter,
}

impl Kind {
    pub fn of(rtype: &str) -> Option<Kind> {
        Some(match rtype {
            "Observation" => Kind::Observation,
            "Procedure" => Kind::Procedure,
            "DiagnosticReport" => Kind::DiagnosticReport,
            "Condition" => Kind::Condition,
            "ImagingStudy" => Kind::ImagingStudy,
            "Encounter" => Kind::Encounter,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Observation => "Observation",
            Kind::Procedure => "Procedure",
            Kind::DiagnosticReport => "DiagnosticReport",
            Kind::Condition => "Condition",
            Kind::ImagingStudy => "ImagingStudy",
            Kind::Encounter => "Encounter",
        }
    }

    /// Every kind, for reading a patient's record.
    pub const ALL: [Kind; 6] = [
        Kind::Observation,
        Kind::Procedure,
        Kind::DiagnosticReport,
        Kind::Condition,
        Kind::ImagingStudy,
        Kind::Encounter,
    ];
}

/// Risk factors a rule's population or low-risk interval may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Factor {
    /// Any recorded current or former smoking (US Core smoking status), or pack-years above 0.
    EverSmoker,
    /// The latest smoking status is a current-smoker code.
    CurrentSmoker,
    /// US Core race includes OMB Black or African American (2054-5).
    Black,
    /// US Core race includes OMB Asian (2028-9).
    Asian,
    /// Latest BMI 25 or more.
    Overweight,
    /// Latest office reading systolic 130 or more or diastolic 85 or more (USPSTF hypertension:
    /// high-normal blood pressure is an increased-risk group).
    ElevatedBloodPressure,
}

impl Factor {
    pub fn describe(self) -> &'static str {
        match self {
            Factor::EverSmoker => "have ever smoked",
            Factor::CurrentSmoker => "smoke now",
            Factor::Black => "are Black or African American",
            Factor::Asian => "are Asian",
            Factor::Overweight => "have a BMI of 25 or more",
            Factor::ElevatedBloodPressure => "have a blood pressure of 130/85 or more",
        }
    }
}

/// One dated record that matched some code set.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub(crate) mask: Mask,
    /// Code sets of the value (`valueCodeableConcept`): smoking status, present/absent.
    pub(crate) values: Mask,
    pub kind: Kind,
    /// Resource id (the reference is `kind/id`).
    pub id: Box<str>,
    /// Effective, performed, onset or recorded date; partial dates read as their first day.
    pub date: Option<NaiveDate>,
    pub number: Option<f64>,
    pub value_date: Option<NaiveDate>,
    pub flag: Option<bool>,
    /// A Condition whose clinical status is active, recurrence or relapse (or not given).
    pub active: bool,
    /// Recorded as reported by the patient (or a related person) rather than performed here.
    pub patient_reported: bool,
    /// The Encounter (id) the record was made in, when it names one.
    pub encounter: Option<Box<str>>,
}

impl Item {
    pub fn reference(&self) -> String {
        format!("{}/{}", self.kind.as_str(), self.id)
    }

    pub(crate) fn has(&self, bit: u8) -> bool {
        self.mask & (1 << bit) != 0
    }

    pub(crate) fn value_is(&self, bit: u8) -> bool {
        self.values & (1 << bit) != 0
    }

    /// A hospital stay (an Encounter of class inpatient, acute, non-acute, emergency or
    /// observation): readings made in it are a ward's, not an office's.
    pub(crate) fn is_stay(&self) -> bool {
        self.kind == Kind::Encounter && self.has(STAY)
    }
}

/// Encounter classes (HL7 v3 ActCode) that are hospital stays.
const STAY_CLASSES: [&str; 5] = ["IMP", "ACUTE", "NONAC", "EMER", "OBSENC"];

/// A patient's facts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    pub patient: String,
    pub birth_date: Option<NaiveDate>,
    pub deceased: bool,
    pub sex_at_birth: Option<Sex>,
    /// `true` when sex at birth was recorded (US Core birth sex), `false` when it was taken
    /// from administrative gender for want of it.
    pub sex_at_birth_recorded: bool,
    pub black: bool,
    pub asian: bool,
    pub items: Vec<Item>,
}

/// Reads a FHIR date, dateTime or instant: the calendar date as written; a year or
/// year-month reads as its first day.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    match b.len() {
        4 => NaiveDate::from_ymd_opt(s.parse().ok()?, 1, 1),
        7 => NaiveDate::from_ymd_opt(s[..4].parse().ok()?, s[5..7].parse().ok()?, 1),
        n if n >= 10 => NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d").ok(),
        _ => None,
    }
}

#[derive(Deserialize)]
struct RawPatient<'a> {
    #[serde(rename = "resourceType", borrow)]
    resource_type: Cow<'a, str>,
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(rename = "birthDate", borrow)]
    birth_date: Option<Cow<'a, str>>,
    #[serde(borrow)]
    gender: Option<Cow<'a, str>>,
    #[serde(rename = "deceasedBoolean")]
    deceased_boolean: Option<bool>,
    #[serde(rename = "deceasedDateTime", borrow)]
    deceased_date_time: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    extension: Vec<RawExtension<'a>>,
}

#[derive(Deserialize)]
struct RawExtension<'a> {
    #[serde(borrow)]
    url: Cow<'a, str>,
    #[serde(rename = "valueCode", borrow)]
    value_code: Option<Cow<'a, str>>,
    #[serde(rename = "valueCoding", borrow)]
    value_coding: Option<RawCoding<'a>>,
    #[serde(default, borrow)]
    extension: Vec<RawExtension<'a>>,
}

#[derive(Deserialize)]
struct RawCoding<'a> {
    #[serde(borrow)]
    system: Option<Cow<'a, str>>,
    #[serde(borrow)]
    code: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default)]
struct RawConcept<'a> {
    #[serde(default, borrow)]
    coding: Vec<RawCoding<'a>>,
}

#[derive(Deserialize)]
struct RawReference<'a> {
    #[serde(borrow)]
    reference: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct RawPeriod<'a> {
    #[serde(borrow)]
    start: Option<Cow<'a, str>>,
    #[serde(borrow)]
    end: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct RawQuantity {
    value: Option<f64>,
}

#[derive(Deserialize)]
struct RawComponent<'a> {
    #[serde(borrow)]
    code: Option<RawConcept<'a>>,
    #[serde(rename = "valueQuantity")]
    value_quantity: Option<RawQuantity>,
}

#[derive(Deserialize)]
struct RawClass<'a> {
    #[serde(borrow)]
    code: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct RawResource<'a> {
    #[serde(rename = "resourceType", borrow)]
    resource_type: Cow<'a, str>,
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    status: Option<Cow<'a, str>>,
    #[serde(borrow)]
    code: Option<RawConcept<'a>>,
    #[serde(borrow)]
    subject: Option<RawReference<'a>>,
    #[serde(borrow)]
    patient: Option<RawReference<'a>>,
    #[serde(borrow)]
    encounter: Option<RawReference<'a>>,
    /// Encounter.class (a Coding in R4).
    #[serde(borrow)]
    class: Option<RawClass<'a>>,
    #[serde(rename = "valueCodeableConcept", borrow)]
    value_concept: Option<RawConcept<'a>>,
    #[serde(rename = "valueQuantity")]
    value_quantity: Option<RawQuantity>,
    #[serde(rename = "valueDateTime", borrow)]
    value_date_time: Option<Cow<'a, str>>,
    #[serde(rename = "valueBoolean")]
    value_boolean: Option<bool>,
    #[serde(rename = "dataAbsentReason")]
    data_absent_reason: Option<serde::de::IgnoredAny>,
    #[serde(default, borrow)]
    component: Vec<RawComponent<'a>>,
    #[serde(rename = "effectiveDateTime", borrow)]
    effective_date_time: Option<Cow<'a, str>>,
    #[serde(rename = "effectiveInstant", borrow)]
    effective_instant: Option<Cow<'a, str>>,
    #[serde(rename = "effectivePeriod", borrow)]
    effective_period: Option<RawPeriod<'a>>,
    #[serde(borrow)]
    issued: Option<Cow<'a, str>>,
    #[serde(rename = "performedDateTime", borrow)]
    performed_date_time: Option<Cow<'a, str>>,
    #[serde(rename = "performedPeriod", borrow)]
    performed_period: Option<RawPeriod<'a>>,
    #[serde(rename = "onsetDateTime", borrow)]
    onset_date_time: Option<Cow<'a, str>>,
    #[serde(rename = "onsetPeriod", borrow)]
    onset_period: Option<RawPeriod<'a>>,
    #[serde(rename = "recordedDate", borrow)]
    recorded_date: Option<Cow<'a, str>>,
    #[serde(borrow)]
    started: Option<Cow<'a, str>>,
    #[serde(rename = "clinicalStatus", borrow)]
    clinical_status: Option<RawConcept<'a>>,
    #[serde(rename = "verificationStatus", borrow)]
    verification_status: Option<RawConcept<'a>>,
    #[serde(default, borrow)]
    performer: Vec<RawPerformer<'a>>,
    #[serde(borrow)]
    asserter: Option<RawReference<'a>>,
    #[serde(borrow)]
    recorder: Option<RawReference<'a>>,
}

/// Observation.performer and DiagnosticReport.performer are References; Procedure.performer
/// holds an `actor`.
#[derive(Deserialize)]
struct RawPerformer<'a> {
    #[serde(borrow)]
    reference: Option<Cow<'a, str>>,
    #[serde(borrow)]
    actor: Option<RawReference<'a>>,
}

/// The id of a `Patient/ID` reference (relative or absolute).
pub fn patient_id(reference: &str) -> Option<&str> {
    let mut parts = reference.rsplit('/');
    let id = parts.next()?;
    (parts.next()? == "Patient" && !id.is_empty()).then_some(id)
}

fn by_patient(r: &Option<RawReference<'_>>) -> bool {
    r.as_ref()
        .and_then(|r| r.reference.as_deref())
        .is_some_and(|s| s.starts_with("Patient/") || s.starts_with("RelatedPerson/"))
}

fn has_code(c: &Option<RawConcept<'_>>, codes: &[&str]) -> bool {
    c.as_ref().is_some_and(|c| {
        c.coding
            .iter()
            .any(|k| k.code.as_deref().is_some_and(|x| codes.contains(&x)))
    })
}

/// A resource read for the evaluator: whose it is and the items it yields.
#[derive(Debug, Clone, PartialEq)]
pub struct Extracted {
    pub patient: String,
    pub items: Vec<Item>,
}

impl RuleSet {
    /// A patient's demographic facts from their Patient resource (JSON text); items come
    /// from [`RuleSet::extract`].
    pub fn patient_facts(&self, patient_json: &str) -> Result<Facts, RuleError> {
        let p: RawPatient<'_> =
            serde_json::from_str(patient_json).map_err(|e| RuleError::Resource(e.to_string()))?;
        if p.resource_type != "Patient" {
            return Err(RuleError::Resource(format!(
                "expected a Patient, got {}",
                p.resource_type
            )));
        }
        let mut f = Facts {
            patient: p.id.map(|s| s.into_owned()).unwrap_or_default(),
            birth_date: p.birth_date.as_deref().and_then(parse_date),
            deceased: p.deceased_boolean == Some(true) || p.deceased_date_time.is_some(),
            ..Facts::default()
        };
        for e in &p.extension {
            if e.url == BIRTH_SEX {
                f.sex_at_birth = match e.value_code.as_deref() {
                    Some("F") => Some(Sex::Female),
                    Some("M") => Some(Sex::Male),
                    _ => None,
                };
                f.sex_at_birth_recorded = true;
            } else if e.url == RACE {
                for part in &e.extension {
                    if part.url == "ombCategory" {
                        match part.value_coding.as_ref().and_then(|c| c.code.as_deref()) {
                            Some(OMB_BLACK) => f.black = true,
                            Some(OMB_ASIAN) => f.asian = true,
                            _ => {}
                        }
                    }
                }
            }
        }
        if !f.sex_at_birth_recorded {
            f.sex_at_birth = match p.gender.as_deref() {
                Some("female") => Some(Sex::Female),
                Some("male") => Some(Sex::Male),
                _ => None,
            };
        }
        Ok(f)
    }

    /// The items a resource (JSON text) yields for the evaluator, with its patient; `None`
    /// when it is not about a patient, is not final, or matches no code set.
    pub fn extract(&self, json: &str) -> Result<Option<Extracted>, RuleError> {
        let r: RawResource<'_> =
            serde_json::from_str(json).map_err(|e| RuleError::Resource(e.to_string()))?;
        let Some(kind) = Kind::of(&r.resource_type) else {
            return Ok(None);
        };
        let Some(patient) = r
            .subject
            .as_ref()
            .or(r.patient.as_ref())
            .and_then(|s| s.reference.as_deref())
            .and_then(patient_id)
        else {
            return Ok(None);
        };
        let status = r.status.as_deref().unwrap_or("");
        let counts = match kind {
            Kind::Observation => matches!(status, "final" | "amended" | "corrected"),
            Kind::DiagnosticReport => {
                matches!(status, "final" | "amended" | "corrected" | "appended")
            }
            Kind::Procedure => status == "completed",
            Kind::ImagingStudy => status == "available",
            Kind::Condition => !has_code(&r.verification_status, &["refuted", "entered-in-error"]),
            Kind::Encounter => status != "entered-in-error" && status != "cancelled",
        };
        if !counts || r.data_absent_reason.is_some() {
            return Ok(None);
        }
        let mut mask: Mask = 0;
        if kind == Kind::Encounter
            && r.class
                .as_ref()
                .and_then(|c| c.code.as_deref())
                .is_some_and(|c| STAY_CLASSES.contains(&c))
        {
            mask |= 1 << STAY;
        }
        for c in r.code.iter().flat_map(|c| &c.coding) {
            if let (Some(s), Some(k)) = (c.system.as_deref(), c.code.as_deref()) {
                mask |= self.fact_mask(s, k);
            }
        }
        let mut values: Mask = 0;
        for c in r.value_concept.iter().flat_map(|c| &c.coding) {
            if let (Some(s), Some(k)) = (c.system.as_deref(), c.code.as_deref()) {
                values |= self.fact_mask(s, k);
            }
        }
        let id: Box<str> = r.id.as_deref().unwrap_or("").into();
        let date = [
            r.effective_date_time.as_deref(),
            r.effective_instant.as_deref(),
            r.effective_period
                .as_ref()
                .and_then(|p| p.start.as_deref().or(p.end.as_deref())),
            r.performed_date_time.as_deref(),
            r.performed_period
                .as_ref()
                .and_then(|p| p.start.as_deref().or(p.end.as_deref())),
            r.onset_date_time.as_deref(),
            r.onset_period.as_ref().and_then(|p| p.start.as_deref()),
            r.started.as_deref(),
            r.recorded_date.as_deref(),
            r.issued.as_deref(),
        ]
        .into_iter()
        .flatten()
        .find_map(parse_date);
        let patient_reported = by_patient(&r.asserter)
            || by_patient(&r.recorder)
            || r.performer.iter().any(|p| {
                let reference = p
                    .reference
                    .as_deref()
                    .or(p.actor.as_ref().and_then(|a| a.reference.as_deref()));
                reference
                    .is_some_and(|s| s.starts_with("Patient/") || s.starts_with("RelatedPerson/"))
            });
        let active = kind != Kind::Condition
            || r.clinical_status.is_none()
            || has_code(&r.clinical_status, &["active", "recurrence", "relapse"]);
        let base = Item {
            mask,
            values,
            kind,
            id,
            date,
            number: r.value_quantity.as_ref().and_then(|q| q.value),
            value_date: r.value_date_time.as_deref().and_then(parse_date),
            flag: r.value_boolean,
            active,
            patient_reported,
            encounter: r
                .encounter
                .as_ref()
                .and_then(|e| e.reference.as_deref())
                .and_then(|e| e.rsplit_once("Encounter/").map(|(_, id)| id.into())),
        };
        let mut items = Vec::new();
        for comp in &r.component {
            let mut m: Mask = 0;
            for c in comp.code.iter().flat_map(|c| &c.coding) {
                if let (Some(s), Some(k)) = (c.system.as_deref(), c.code.as_deref()) {
                    m |= self.fact_mask(s, k);
                }
            }
            if m != 0 {
                items.push(Item {
                    mask: m,
                    values: 0,
                    number: comp.value_quantity.as_ref().and_then(|q| q.value),
                    ..base.clone()
                });
            }
        }
        if base.mask != 0 {
            items.push(base);
        }
        if items.is_empty() {
            return Ok(None);
        }
        Ok(Some(Extracted {
            patient: patient.to_string(),
            items,
        }))
    }

    fn fact_mask(&self, system: &str, code: &str) -> Mask {
        let mut m = self.mask(system, code);
        if let Some(sys) = System::of(system) {
            for (s, c, bit) in extra_fact_codes() {
                if s == sys && c == code {
                    m |= 1 << bit;
                }
            }
        }
        m
    }

    /// A patient's facts from their Patient resource and their other resources.
    pub fn facts<'a>(
        &self,
        patient_json: &str,
        resources: impl IntoIterator<Item = &'a str>,
    ) -> Result<Facts, RuleError> {
        let mut f = self.patient_facts(patient_json)?;
        for json in resources {
            if let Some(x) = self.extract(json)? {
                if x.patient == f.patient {
                    f.items.extend(x.items);
                }
            }
        }
        Ok(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_read_as_written_and_partial_dates_as_their_first_day() {
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d);
        assert_eq!(parse_date("2019"), d(2019, 1, 1));
        assert_eq!(parse_date("2019-06"), d(2019, 6, 1));
        assert_eq!(parse_date("2019-06-30"), d(2019, 6, 30));
        assert_eq!(parse_date("2019-06-30T23:30:00-05:00"), d(2019, 6, 30));
        assert_eq!(parse_date("June 2019"), None);
    }

    #[test]
    fn references_name_their_patient() {
        assert_eq!(patient_id("Patient/p1"), Some("p1"));
        assert_eq!(patient_id("https://h.example/fhir/Patient/p1"), Some("p1"));
        assert_eq!(patient_id("Group/g1"), None);
        assert_eq!(patient_id("p1"), None);
    }
}
