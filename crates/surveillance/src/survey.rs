//! A point-prevalence survey's findings for one patient (NDNQI pressure injury and
//! restraint survey): one Observation, code `nursing-survey#prevalence-survey`, category
//! `survey`, with a component for each finding. A finding not made (the patient refused,
//! was off the unit, or could not be turned) has a `dataAbsentReason` and is left out of
//! that indicator's count.
//!
//! Pressure injuries are staged as the NPIAP staging system (2016) names them; the survey
//! records the highest stage among the patient's pressure injuries that were not present on
//! admission. Restraints are as the NDNQI survey asks: vest, limb, both, or another device
//! (mitts, an enclosure bed), which the restraint indicator does not count.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::{instant, reference, Error, SURVEY_SYSTEM};

const DATA_ABSENT: &str = "http://terminology.hl7.org/CodeSystem/data-absent-reason";
const CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/observation-category";

macro_rules! coded {
    ($(#[$m:meta])* $name:ident, $what:literal, { $($v:ident => ($code:literal, $display:literal, $counts:literal)),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name { $($v),* }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$v),*];

            /// The code in Tend's `nursing-survey` code system.
            pub fn code(self) -> &'static str {
                match self { $($name::$v => $code),* }
            }

            /// How it is said to staff.
            pub fn display(self) -> &'static str {
                match self { $($name::$v => $display),* }
            }

            /// Whether the indicator counts it.
            pub fn counts(self) -> bool {
                match self { $($name::$v => $counts),* }
            }

            pub fn parse(code: &str) -> Result<$name, Error> {
                match code {
                    $($code => Ok($name::$v),)*
                    _ => Err(Error::Code { what: $what, code: code.to_string() }),
                }
            }
        }
    };
}

coded!(
    /// The highest stage of hospital-acquired pressure injury found (NPIAP). Stage 2 and
    /// above, unstageable and deep tissue pressure injuries count toward the NDNQI
    /// "stage 2 and above" indicator.
    Stage, "pressure injury stage", {
    None => ("none", "No hospital-acquired pressure injury", false),
    Stage1 => ("stage-1", "Stage 1", false),
    Stage2 => ("stage-2", "Stage 2", true),
    Stage3 => ("stage-3", "Stage 3", true),
    Stage4 => ("stage-4", "Stage 4", true),
    Unstageable => ("unstageable", "Unstageable", true),
    DeepTissue => ("deep-tissue", "Deep tissue pressure injury", true),
});

coded!(
    /// A physical restraint in use at the time of the survey. Vest and limb restraints
    /// count toward the NDNQI restraint prevalence indicator.
    Restraint, "restraint", {
    None => ("none", "No restraint", false),
    Limb => ("limb", "Limb restraint", true),
    Vest => ("vest", "Vest restraint", true),
    VestAndLimb => ("vest-and-limb", "Vest and limb restraints", true),
    Other => ("other", "Another device (mitts, enclosure bed)", false),
});

coded!(
    /// Why a finding was not made.
    NotAssessed, "reason not assessed", {
    Refused => ("asked-declined", "The patient declined", false),
    Unavailable => ("not-performed", "Not done (off the unit, too unwell to turn)", false),
});

/// One finding: made, or not assessed and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finding<T> {
    Found(T),
    NotAssessed(NotAssessed),
}

/// One patient's survey.
#[derive(Debug, Clone, PartialEq)]
pub struct Survey {
    /// `Patient` id.
    pub patient: String,
    /// `Encounter` id, when known.
    pub encounter: Option<String>,
    /// When the patient was surveyed.
    pub surveyed: DateTime<Utc>,
    /// `Practitioner` id of the surveyor.
    pub surveyor: Option<String>,
    pub pressure_injury: Finding<Stage>,
    pub restraint: Finding<Restraint>,
}

fn component<T: Copy>(
    code: &str,
    display: &str,
    f: Finding<T>,
    of: impl Fn(T) -> (&'static str, &'static str),
) -> Value {
    let mut c = json!({"code": {"coding": [{"system": SURVEY_SYSTEM, "code": code, "display": display}], "text": display}});
    match f {
        Finding::Found(v) => {
            let (code, display) = of(v);
            c["valueCodeableConcept"] = json!({"coding": [{"system": SURVEY_SYSTEM, "code": code, "display": display}], "text": display});
        }
        Finding::NotAssessed(r) => {
            c["dataAbsentReason"] =
                json!({"coding": [{"system": DATA_ABSENT, "code": r.code()}], "text": r.display()});
        }
    }
    c
}

impl Survey {
    /// The Observation, with id `id`, recorded at `recorded`.
    pub fn observation(&self, id: &str, recorded: DateTime<Utc>) -> Value {
        let mut o = json!({
            "resourceType": "Observation",
            "id": id,
            "status": "final",
            "category": [{"coding": [{"system": CATEGORY, "code": "survey", "display": "Survey"}]}],
            "code": {"coding": [{"system": SURVEY_SYSTEM, "code": "prevalence-survey", "display": "Pressure injury and restraint point-prevalence survey"}],
                     "text": "Pressure injury and restraint survey"},
            "subject": reference("Patient", &self.patient),
            "effectiveDateTime": instant(self.surveyed),
            "issued": instant(recorded),
        });
        if let Some(e) = &self.encounter {
            o["encounter"] = reference("Encounter", e);
        }
        if let Some(p) = &self.surveyor {
            o["performer"] = json!([reference("Practitioner", p)]);
        }
        o["component"] = json!([
            component(
                "hapi-highest-stage",
                "Hospital-acquired pressure injury, highest stage",
                self.pressure_injury,
                |s: Stage| (s.code(), s.display())
            ),
            component(
                "physical-restraint",
                "Physical restraint in use",
                self.restraint,
                |r: Restraint| (r.code(), r.display())
            ),
        ]);
        o
    }

    /// A survey read back from its Observation.
    pub fn from_observation(o: &Value) -> Result<Survey, Error> {
        let missing = |what: &'static str| Error::Code {
            what,
            code: String::new(),
        };
        let patient = o["subject"]["reference"]
            .as_str()
            .and_then(|r| r.strip_prefix("Patient/"))
            .ok_or_else(|| missing("patient"))?
            .to_string();
        let surveyed = o["effectiveDateTime"]
            .as_str()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .ok_or_else(|| missing("survey time"))?
            .with_timezone(&Utc);
        let finding = |code: &str| -> Result<Finding<&str>, Error> {
            let c = o["component"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|c| c["code"]["coding"][0]["code"] == code)
                .ok_or_else(|| missing("finding"))?;
            if let Some(v) = c["valueCodeableConcept"]["coding"][0]["code"].as_str() {
                return Ok(Finding::Found(v));
            }
            let r = c["dataAbsentReason"]["coding"][0]["code"]
                .as_str()
                .unwrap_or("not-performed");
            Ok(Finding::NotAssessed(NotAssessed::parse(r)?))
        };
        let pressure_injury = match finding("hapi-highest-stage")? {
            Finding::Found(v) => Finding::Found(Stage::parse(v)?),
            Finding::NotAssessed(r) => Finding::NotAssessed(r),
        };
        let restraint = match finding("physical-restraint")? {
            Finding::Found(v) => Finding::Found(Restraint::parse(v)?),
            Finding::NotAssessed(r) => Finding::NotAssessed(r),
        };
        Ok(Survey {
            patient,
            encounter: o["encounter"]["reference"]
                .as_str()
                .and_then(|r| r.strip_prefix("Encounter/"))
                .map(str::to_string),
            surveyed,
            surveyor: o["performer"][0]["reference"]
                .as_str()
                .and_then(|r| r.strip_prefix("Practitioner/"))
                .map(str::to_string),
            pressure_injury,
            restraint,
        })
    }
}
