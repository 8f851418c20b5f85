//! A device-associated infection the infection prevention team confirmed against the NHSN
//! surveillance definitions: a Condition coded with the NHSN event type, its onset the
//! NHSN date of event (a date, the hospital's). Which unit it is attributed to is decided
//! by the measure from where the patient was (the transfer rule), not recorded here.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{json, Value};

use crate::{instant, reference, Error, HAI_SYSTEM};

/// The NHSN device-associated event types the nurse-sensitive indicators count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// Central line-associated bloodstream infection.
    Clabsi,
    /// Catheter-associated urinary tract infection.
    Cauti,
}

impl Event {
    pub const ALL: &'static [Event] = &[Event::Clabsi, Event::Cauti];

    pub fn code(self) -> &'static str {
        match self {
            Event::Clabsi => "clabsi",
            Event::Cauti => "cauti",
        }
    }

    pub fn display(self) -> &'static str {
        match self {
            Event::Clabsi => "Central line-associated bloodstream infection (CLABSI)",
            Event::Cauti => "Catheter-associated urinary tract infection (CAUTI)",
        }
    }

    pub fn parse(code: &str) -> Result<Event, Error> {
        Event::ALL
            .iter()
            .copied()
            .find(|e| e.code() == code)
            .ok_or_else(|| Error::Code {
                what: "infection event",
                code: code.to_string(),
            })
    }
}

/// A confirmed infection.
#[derive(Debug, Clone, PartialEq)]
pub struct Infection {
    /// `Patient` id.
    pub patient: String,
    pub encounter: Option<String>,
    pub event: Event,
    /// The NHSN date of event.
    pub date_of_event: NaiveDate,
    /// `Practitioner` id of the infection preventionist.
    pub recorder: Option<String>,
}

impl Infection {
    /// The Condition, id `id`, recorded at `recorded`.
    pub fn condition(&self, id: &str, recorded: DateTime<Utc>) -> Value {
        let mut c = json!({
            "resourceType": "Condition",
            "id": id,
            "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]},
            "verificationStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "confirmed"}]},
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-category", "code": "encounter-diagnosis", "display": "Encounter Diagnosis"}]}],
            "code": {"coding": [{"system": HAI_SYSTEM, "code": self.event.code(), "display": self.event.display()}],
                     "text": self.event.display()},
            "subject": reference("Patient", &self.patient),
            "onsetDateTime": self.date_of_event.format("%Y-%m-%d").to_string(),
            "recordedDate": instant(recorded),
        });
        if let Some(e) = &self.encounter {
            c["encounter"] = reference("Encounter", e);
        }
        if let Some(r) = &self.recorder {
            c["recorder"] = reference("Practitioner", r);
        }
        c
    }
}
