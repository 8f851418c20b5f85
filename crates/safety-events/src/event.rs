//! A stored AdverseEvent read back as a report, for pages and measures.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::report::{Details, Fall, Medication, PressureInjury};
use crate::review::Review;
use crate::shape::{self, code_in, part, text};
use crate::Error;

/// A report as pages and measures use it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SafetyEvent {
    pub id: String,
    pub version: Option<String>,
    /// `SE-7F3A2C1B`.
    pub reference: String,
    pub kind: String,
    pub category: String,
    pub occurred: Option<DateTime<Utc>>,
    pub discovered: Option<DateTime<Utc>>,
    pub recorded: Option<DateTime<Utc>>,
    /// The ward (`Location` id).
    pub location: Option<String>,
    pub description: String,
    pub harm: Option<String>,
    pub factors: Vec<String>,
    /// The patient involved (`Patient` id).
    pub patient: Option<String>,
    /// The reporter (`Practitioner/ID`), absent when anonymous.
    pub reporter: Option<String>,
    /// The reporter's name as they signed in.
    pub reporter_name: Option<String>,
    pub reporter_role: Option<String>,
    pub details: Details,
    pub review: Review,
}

fn time(v: &Value) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(v.as_str()?)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn id_of<'a>(reference: &'a Value, rtype: &str) -> Option<&'a str> {
    reference["reference"]
        .as_str()?
        .strip_prefix(rtype)?
        .strip_prefix('/')
}

/// Read a stored AdverseEvent written by [`crate::Report::adverse_event`] (and reviewed).
pub fn read(ae: &Value) -> Result<SafetyEvent, Error> {
    if ae["resourceType"] != "AdverseEvent" {
        return Err(Error::Unreadable("not an AdverseEvent".into()));
    }
    let id = ae["id"]
        .as_str()
        .ok_or_else(|| Error::Unreadable("no id".into()))?
        .to_string();
    let kind = code_in(&ae["event"], shape::KIND_SYSTEM)
        .ok_or_else(|| Error::Unreadable("no kind of event".into()))?
        .to_string();
    let category = ae["category"]
        .as_array()
        .into_iter()
        .flatten()
        .find_map(|c| code_in(c, shape::CATEGORY_SYSTEM))
        .ok_or_else(|| Error::Unreadable("no category".into()))?
        .to_string();
    let b = |x: &Value, k: &str| part(x, k).and_then(|p| p["valueBoolean"].as_bool());
    let c = |x: &Value, k: &str| text(part(x, k), "valueCode").unwrap_or_default();
    let s = |x: &Value, k: &str| text(part(x, k), "valueString").unwrap_or_default();
    let details = if let Some(x) = shape::extension(ae, "fall") {
        Details::Fall(Fall {
            injury: c(x, "injury"),
            assisted: b(x, "assisted"),
            risk_assessed: b(x, "risk-assessed"),
            off_unit: b(x, "off-unit").unwrap_or(false),
        })
    } else if let Some(x) = shape::extension(ae, "pressure-injury") {
        Details::PressureInjury(PressureInjury {
            stage: c(x, "stage"),
            present_on_admission: b(x, "present-on-admission"),
            device_related: b(x, "device-related").unwrap_or(false),
            site: s(x, "site"),
        })
    } else if let Some(x) = shape::extension(ae, "medication") {
        Details::Medication(Medication {
            stage: c(x, "stage"),
            error: c(x, "error"),
            medicine: s(x, "medicine"),
            high_alert: b(x, "high-alert").unwrap_or(false),
        })
    } else {
        Details::None
    };
    Ok(SafetyEvent {
        reference: ae["identifier"]["value"]
            .as_str()
            .map_or_else(|| crate::reference_number(&id), str::to_string),
        version: ae["meta"]["versionId"].as_str().map(str::to_string),
        id,
        kind,
        category,
        occurred: time(&ae["date"]),
        discovered: time(&ae["detected"]),
        recorded: time(&ae["recordedDate"]),
        location: id_of(&ae["location"], "Location").map(str::to_string),
        description: shape::extension(ae, "description")
            .and_then(|d| d["valueString"].as_str())
            .unwrap_or_default()
            .to_string(),
        harm: shape::extension(ae, "harm")
            .and_then(|e| code_in(&e["valueCodeableConcept"], shape::HARM_SYSTEM))
            .map(str::to_string),
        factors: shape::extensions(ae, "factor")
            .filter_map(|e| code_in(&e["valueCodeableConcept"], shape::FACTOR_SYSTEM))
            .map(str::to_string)
            .collect(),
        patient: id_of(&ae["subject"], "Patient").map(str::to_string),
        reporter: ae["recorder"]["reference"].as_str().map(str::to_string),
        reporter_name: ae["recorder"]["display"].as_str().map(str::to_string),
        reporter_role: shape::extension(ae, "reporter-role")
            .and_then(|r| r["valueString"].as_str())
            .map(str::to_string),
        details,
        review: Review::of(ae),
    })
}

impl SafetyEvent {
    /// A fall with injury as NDNQI counts it: injury level minor or worse.
    pub fn fall_with_injury(&self) -> bool {
        matches!(&self.details, Details::Fall(f) if matches!(f.injury.as_str(), "minor" | "moderate" | "major" | "death"))
    }
}
