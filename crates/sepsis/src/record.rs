//! What the ward records in the first hour, as the record's own resources, written as the
//! signed-in person with their access:
//!
//! | Record | Resource |
//! |---|---|
//! | infection suspected (with the likely source) | Condition: SNOMED CT 40733004 *Infectious disease* and Tend's `suspected-infection`, provisional, recorded by the person |
//! | blood cultures taken | Procedure: SNOMED CT 30088009 *Blood culture* and Tend's `blood-culture`, completed |
//! | lactate | Observation: LOINC 32693-4 *Lactate in Blood*, mmol/L |
//! | antibiotics given | MedicationAdministration: the drug's WHO ATC code (`data/antibiotics.tsv`), completed |
//! | intravenous fluid bolus | MedicationAdministration: ATC B05BB01 *Electrolytes*, the fluid named, the volume as the dose |
//! | infection ruled out | the suspicion's Condition, refuted, with the reason as a note |
//!
//! Pure: ids and times are arguments; the service writes them.

use std::sync::OnceLock;

use chrono::{DateTime, FixedOffset};
use serde_json::{json, Value};

use crate::{Error, PE};

const SNOMED: &str = "http://snomed.info/sct";
const LOINC: &str = "http://loinc.org";
const ATC: &str = "http://www.whocc.no/atc";
const UCUM: &str = "http://unitsofmeasure.org";
const VERIFICATION: &str = "http://terminology.hl7.org/CodeSystem/condition-ver-status";
const CLINICAL: &str = "http://terminology.hl7.org/CodeSystem/condition-clinical";
const CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/condition-category";
/// Lactate above this (mmol/L) is not a reading a meter gives: refused as a typing error.
pub const LACTATE_MAX: f64 = 30.0;
/// The bolus volumes offered (mL); NICE NG51 advises 500 mL of crystalloid over under 15
/// minutes.
pub const BOLUS_ML: [u32; 3] = [250, 500, 1000];

/// The likely source of infection, as the suspicion records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Chest,
    Urine,
    Abdomen,
    SkinOrSoftTissue,
    LineOrDevice,
    BrainOrMeninges,
    Unknown,
}

impl Source {
    pub const ALL: [Source; 7] = [
        Source::Chest,
        Source::Urine,
        Source::Abdomen,
        Source::SkinOrSoftTissue,
        Source::LineOrDevice,
        Source::BrainOrMeninges,
        Source::Unknown,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Source::Chest => "chest",
            Source::Urine => "urine",
            Source::Abdomen => "abdomen",
            Source::SkinOrSoftTissue => "skin",
            Source::LineOrDevice => "line",
            Source::BrainOrMeninges => "brain",
            Source::Unknown => "unknown",
        }
    }

    pub fn display(self) -> &'static str {
        match self {
            Source::Chest => "Chest",
            Source::Urine => "Urine",
            Source::Abdomen => "Abdomen",
            Source::SkinOrSoftTissue => "Skin or soft tissue",
            Source::LineOrDevice => "A line or device",
            Source::BrainOrMeninges => "Brain or meninges",
            Source::Unknown => "Not known yet",
        }
    }

    pub fn parse(code: &str) -> Option<Source> {
        Source::ALL.into_iter().find(|s| s.code() == code)
    }
}

/// One antibiotic of the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Antibiotic {
    pub key: String,
    pub atc: String,
    pub name: String,
}

impl Antibiotic {
    /// The list offered, from `data/antibiotics.tsv`.
    pub fn all() -> &'static [Antibiotic] {
        static LIST: OnceLock<Vec<Antibiotic>> = OnceLock::new();
        LIST.get_or_init(|| {
            include_str!("../data/antibiotics.tsv")
                .lines()
                .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
                .filter_map(|l| {
                    let mut c = l.split('\t');
                    Some(Antibiotic {
                        key: c.next()?.to_string(),
                        atc: c.next()?.to_string(),
                        name: c.next()?.to_string(),
                    })
                })
                .collect()
        })
    }

    pub fn find(key: &str) -> Option<&'static Antibiotic> {
        Antibiotic::all().iter().find(|a| a.key == key)
    }
}

/// The crystalloids offered for a bolus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fluid {
    SodiumChloride,
    Hartmann,
    PlasmaLyte,
}

impl Fluid {
    pub const ALL: [Fluid; 3] = [Fluid::SodiumChloride, Fluid::Hartmann, Fluid::PlasmaLyte];

    pub fn code(self) -> &'static str {
        match self {
            Fluid::SodiumChloride => "sodium-chloride",
            Fluid::Hartmann => "hartmann",
            Fluid::PlasmaLyte => "plasma-lyte",
        }
    }

    pub fn display(self) -> &'static str {
        match self {
            Fluid::SodiumChloride => "Sodium chloride 0.9%",
            Fluid::Hartmann => "Compound sodium lactate (Hartmann's)",
            Fluid::PlasmaLyte => "Plasma-Lyte 148",
        }
    }

    pub fn parse(code: &str) -> Option<Fluid> {
        Fluid::ALL.into_iter().find(|f| f.code() == code)
    }
}

/// What the ward records.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// Infection is suspected.
    Suspected { source: Source },
    /// Blood cultures were taken.
    Cultures,
    /// A lactate, mmol/L.
    Lactate { mmol_per_l: f64 },
    /// The first antibiotic dose was given.
    Antibiotic { key: String },
    /// A crystalloid bolus was given.
    Fluids { fluid: Fluid, ml: u32 },
    /// Infection is no longer suspected (the suspicion `Condition/ID`), with why.
    RuledOut { condition: String, reason: String },
}

/// Who, about whom and when.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    /// `Practitioner/ID`.
    pub by: &'a str,
    pub patient: &'a str,
    /// `Encounter/ID` of the stay, when known.
    pub encounter: Option<&'a str>,
    pub at: DateTime<FixedOffset>,
    /// The new resource's id.
    pub id: &'a str,
}

/// The resource a new record is (not [`Record::RuledOut`], which changes one).
pub fn resource(what: &Record, cx: &Context) -> Result<Value, Error> {
    let at = cx
        .at
        .to_utc()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let subject = json!({"reference": format!("Patient/{}", cx.patient)});
    let mut r = match what {
        Record::Suspected { source } => json!({
            "resourceType": "Condition",
            "clinicalStatus": {"coding": [{"system": CLINICAL, "code": "active"}]},
            "verificationStatus": {"coding": [{"system": VERIFICATION, "code": "provisional"}]},
            "category": [{"coding": [{"system": CATEGORY, "code": "encounter-diagnosis"}]}],
            "code": {"coding": [
                {"system": SNOMED, "code": "40733004", "display": "Infectious disease"},
                {"system": PE, "code": "suspected-infection", "display": "Infection suspected"}
            ], "text": format!("Infection suspected: {}", source.display().to_lowercase())},
            "subject": subject,
            "onsetDateTime": at,
            "recordedDate": at,
            "recorder": {"reference": cx.by},
            "note": [{"text": format!("Likely source: {}", source.display())}],
        }),
        Record::Cultures => json!({
            "resourceType": "Procedure",
            "status": "completed",
            "code": {"coding": [
                {"system": SNOMED, "code": "30088009", "display": "Blood culture"},
                {"system": PE, "code": "blood-culture", "display": "Blood cultures taken"}
            ], "text": "Blood cultures taken"},
            "subject": subject,
            "performedDateTime": at,
            "performer": [{"actor": {"reference": cx.by}}],
        }),
        Record::Lactate { mmol_per_l } => {
            if !(mmol_per_l.is_finite() && *mmol_per_l > 0.0 && *mmol_per_l <= LACTATE_MAX) {
                return Err(Error::Invalid(format!(
                    "Lactate must be more than 0 and at most {LACTATE_MAX} mmol/L"
                )));
            }
            json!({
                "resourceType": "Observation",
                "status": "final",
                "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]}],
                "code": {"coding": [{"system": LOINC, "code": "32693-4", "display": "Lactate [Moles/volume] in Blood"}], "text": "Lactate"},
                "subject": subject,
                "effectiveDateTime": at,
                "issued": at,
                "performer": [{"reference": cx.by}],
                "valueQuantity": {"value": mmol_per_l, "unit": "mmol/L", "system": UCUM, "code": "mmol/L"},
            })
        }
        Record::Antibiotic { key } => {
            let a = Antibiotic::find(key)
                .ok_or_else(|| Error::Invalid("Choose the antibiotic given".into()))?;
            json!({
                "resourceType": "MedicationAdministration",
                "status": "completed",
                "medicationCodeableConcept": {"coding": [{"system": ATC, "code": a.atc, "display": a.name}], "text": a.name},
                "subject": subject,
                "effectiveDateTime": at,
                "performer": [{"actor": {"reference": cx.by}}],
                "note": [{"text": "First dose for suspected sepsis"}],
            })
        }
        Record::Fluids { fluid, ml } => {
            if !BOLUS_ML.contains(ml) {
                return Err(Error::Invalid("Choose the volume given".into()));
            }
            json!({
                "resourceType": "MedicationAdministration",
                "status": "completed",
                "medicationCodeableConcept": {"coding": [{"system": ATC, "code": "B05BB01", "display": "Electrolytes"}], "text": fluid.display()},
                "subject": subject,
                "effectiveDateTime": at,
                "performer": [{"actor": {"reference": cx.by}}],
                "dosage": {"text": format!("{ml} mL bolus"), "route": {"text": "Intravenous"}, "dose": {"value": ml, "unit": "mL", "system": UCUM, "code": "mL"}},
            })
        }
        Record::RuledOut { .. } => {
            return Err(Error::Invalid("ruling out changes a suspicion".into()))
        }
    };
    r["id"] = json!(cx.id);
    if let Some(enc) = cx.encounter {
        let key = if r["resourceType"] == "MedicationAdministration" {
            "context"
        } else {
            "encounter"
        };
        r[key] = json!({"reference": enc});
    }
    Ok(r)
}

/// The suspicion `condition`, ruled out by `by` at `at` for `reason`.
pub fn ruled_out(condition: &Value, reason: &str, by: &str, at: DateTime<FixedOffset>) -> Value {
    let mut c = condition.clone();
    if let Some(m) = c["meta"].as_object_mut() {
        m.remove("versionId");
        m.remove("lastUpdated");
    }
    c["verificationStatus"] = json!({"coding": [{"system": VERIFICATION, "code": "refuted"}]});
    c["clinicalStatus"] = json!({"coding": [{"system": CLINICAL, "code": "inactive"}]});
    let mut notes = c["note"].as_array().cloned().unwrap_or_default();
    let time = at
        .to_utc()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    notes.push(json!({"authorReference": {"reference": by}, "time": time, "text": format!("Infection ruled out: {reason}")}));
    c["note"] = json!(notes);
    c
}
