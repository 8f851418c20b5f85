//! A new report: what staff fill in, checked against the formats and written as a FHIR R4
//! AdverseEvent.
//!
//! The AdverseEvent: `identifier` the reference number; `actuality` from the kind
//! (`actual` for incidents); `event` the kind; `category` the Common Formats category;
//! `subject` the patient, or [`crate::NO_PATIENT`]; `date` when it happened, `detected`
//! when it was found, `recordedDate` when it was reported; `location` the ward; `severity`,
//! `seriousness` and `outcome` from the harm; `recorder` the reporter (left out when
//! anonymous). Tend's extensions hold the description, the harm level, contributing
//! factors, the reporter's role, the event-specific details and the review.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::formats::Formats;
use crate::shape::{self, complex, typed};
use crate::Error;

/// A fall's details (Common Formats fall module; NDNQI injury levels).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Fall {
    /// Assisted (staff eased the patient down) or not; unknown when `None`.
    pub assisted: Option<bool>,
    /// The injury level (`fall_injury` codes).
    pub injury: String,
    /// Whether the patient's fall risk had been assessed before the fall.
    pub risk_assessed: Option<bool>,
    /// The fall happened off the reporting unit (radiology, theatre): NDNQI counts it
    /// against no unit's rate.
    pub off_unit: bool,
}

/// A pressure injury's details (NPIAP stage).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PressureInjury {
    pub stage: String,
    /// Present on admission: not hospital-acquired.
    pub present_on_admission: Option<bool>,
    pub device_related: bool,
    /// Where on the body.
    pub site: String,
}

/// A medication event's details.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Medication {
    /// The stage of the medication process.
    pub stage: String,
    /// What went wrong (`medication_error` codes); may be empty.
    pub error: String,
    /// The medicine involved, as written.
    pub medicine: String,
    /// A high-alert medicine (insulin, anticoagulants, opioids…).
    pub high_alert: bool,
}

/// The event-specific details of a report.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Details {
    #[default]
    None,
    Fall(Fall),
    PressureInjury(PressureInjury),
    Medication(Medication),
}

/// A new report, as staff fill it in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// `incident`, `near-miss`, `unsafe-condition`.
    pub kind: String,
    pub category: String,
    pub occurred: DateTime<Utc>,
    pub discovered: Option<DateTime<Utc>>,
    /// The ward or place (`Location` id).
    pub location: Option<String>,
    pub description: String,
    /// The AHRQ harm level (incidents).
    pub harm: Option<String>,
    pub factors: Vec<String>,
    /// The patient involved (`Patient` id).
    pub patient: Option<String>,
    pub encounter: Option<String>,
    pub details: Details,
    /// Report without the reporter's name.
    pub anonymous: bool,
}

/// Who reports, when not anonymous.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reporter {
    /// `Practitioner/ID`.
    pub reference: String,
    /// Their name, shown to the safety team.
    pub name: String,
    /// Their role as people say it ("Nurse").
    pub role: String,
}

/// How far in the future a report's time may be (clocks differ a little).
const SKEW_SECONDS: i64 = 300;

impl Report {
    /// Everything wrong with the report, in words for the person filling it in; empty
    /// when it can be filed.
    pub fn problems(&self, f: &Formats, now: DateTime<Utc>) -> Vec<String> {
        let mut out = Vec::new();
        let kind = f.kind(&self.kind);
        if kind.is_none() {
            out.push(
                "Say what is being reported: an incident, a near miss or an unsafe condition."
                    .into(),
            );
        }
        match f.category(&self.category) {
            None => out.push("Choose the kind of event (its category).".into()),
            Some(c) if kind.is_some() && !c.kinds.contains(&self.kind) => {
                let words: Vec<String> = c
                    .kinds
                    .iter()
                    .filter_map(|k| f.kind(k))
                    .map(|k| k.words.to_lowercase())
                    .collect();
                out.push(format!(
                    "A {} report can only be {}.",
                    c.words.to_lowercase(),
                    or_list(&words)
                ));
            }
            Some(_) => {}
        }
        let description = self.description.trim();
        if description.is_empty() {
            out.push("Describe what happened.".into());
        } else if description.chars().count() > crate::MAX_TEXT {
            out.push(format!(
                "The description is longer than {} characters.",
                crate::MAX_TEXT
            ));
        }
        if self.occurred > now + chrono::Duration::seconds(SKEW_SECONDS) {
            out.push("When it happened cannot be in the future.".into());
        }
        if let Some(d) = self.discovered {
            if d < self.occurred {
                out.push("It cannot have been found before it happened.".into());
            }
            if d > now + chrono::Duration::seconds(SKEW_SECONDS) {
                out.push("When it was found cannot be in the future.".into());
            }
        }
        if self.kind == "incident" {
            if self.patient.is_none() {
                out.push("An incident reached a patient: name the patient.".into());
            }
            match self.harm.as_deref() {
                None | Some("") => out.push("Say how much harm the patient came to.".into()),
                Some(h) if f.harm(h).is_none() => out.push(format!("Unknown harm level {h:?}.")),
                _ => {}
            }
        }
        if let Some(x) = self
            .factors
            .iter()
            .find(|x| !f.factors().iter().any(|c| &c.code == *x))
        {
            out.push(format!("Unknown contributing factor {x:?}."));
        }
        let known = |list: &[crate::Code], code: &str| list.iter().any(|c| c.code == code);
        match (self.detail_kind(f), &self.details) {
            (Some("fall"), Details::Fall(fall)) if known(f.fall_injuries(), &fall.injury) => {}
            (Some("pressure-injury"), Details::PressureInjury(p)) => {
                if !known(f.pressure_stages(), &p.stage) {
                    out.push("Give the pressure injury's stage.".into());
                }
                if p.site.chars().count() > 200 {
                    out.push("The body site is longer than 200 characters.".into());
                }
            }
            (Some("medication"), Details::Medication(m)) => {
                if !known(f.medication_stages(), &m.stage) {
                    out.push("Say at which stage of the medication process it happened.".into());
                }
                if !m.error.is_empty() && !known(f.medication_errors(), &m.error) {
                    out.push(format!("Unknown medication error {:?}.", m.error));
                }
                if m.medicine.chars().count() > 200 {
                    out.push("The medicine's name is longer than 200 characters.".into());
                }
            }
            (Some("fall"), _) => {
                out.push("Say whether the fall caused an injury, and how bad.".into())
            }
            (Some("pressure-injury"), _) => out.push("Give the pressure injury's stage.".into()),
            (Some("medication"), _) => {
                out.push("Say at which stage of the medication process it happened.".into())
            }
            _ => {}
        }
        out
    }

    /// The details the report's category asks for (`fall`, `pressure-injury`, `medication`).
    fn detail_kind<'a>(&self, f: &'a Formats) -> Option<&'a str> {
        f.category(&self.category)?.details.as_deref()
    }

    /// The report as a FHIR R4 AdverseEvent with id `id`, reported at `now` by `reporter`
    /// (left out when the report is anonymous). Refused with the report's problems.
    pub fn adverse_event(
        &self,
        f: &Formats,
        id: &str,
        now: DateTime<Utc>,
        reporter: Option<&Reporter>,
    ) -> Result<Value, Error> {
        let problems = self.problems(f, now);
        if !problems.is_empty() {
            return Err(Error::Invalid(problems.join(" ")));
        }
        let kind = f.kind(&self.kind).expect("checked");
        let category = f.category(&self.category).expect("checked");
        let harm = if self.kind == "incident" {
            self.harm.as_deref().and_then(|h| f.harm(h))
        } else {
            None
        };
        let mut ae = json!({
            "resourceType": "AdverseEvent",
            "id": id,
            "identifier": {"system": crate::REFERENCE_SYSTEM, "value": crate::reference_number(id)},
            "actuality": kind.actuality,
            "category": [shape::coding(shape::CATEGORY_SYSTEM, &category.code, &category.words)],
            "event": shape::coding(shape::KIND_SYSTEM, &kind.code, &kind.words),
            "subject": {"reference": self.patient.as_ref().map_or(crate::NO_PATIENT.to_string(), |p| format!("Patient/{p}"))},
            "date": instant(self.occurred),
            "recordedDate": instant(now),
        });
        let o = ae.as_object_mut().expect("object");
        if let Some(e) = &self.encounter {
            o.insert(
                "encounter".into(),
                json!({"reference": format!("Encounter/{e}")}),
            );
        }
        if let Some(d) = self.discovered {
            o.insert("detected".into(), Value::String(instant(d)));
        }
        if let Some(l) = &self.location {
            o.insert(
                "location".into(),
                json!({"reference": format!("Location/{l}")}),
            );
        }
        if let (Some(r), false) = (reporter, self.anonymous) {
            o.insert(
                "recorder".into(),
                json!({"reference": r.reference, "display": r.name}),
            );
        }
        let mut ext = vec![typed(
            &shape::url("description"),
            "valueString",
            Value::String(self.description.trim().to_string()),
        )];
        for x in &self.factors {
            ext.push(typed(
                &shape::url("factor"),
                "valueCodeableConcept",
                shape::coding(shape::FACTOR_SYSTEM, x, Formats::words(f.factors(), x)),
            ));
        }
        if let (Some(r), false) = (reporter, self.anonymous) {
            ext.push(typed(
                &shape::url("reporter-role"),
                "valueString",
                Value::String(r.role.clone()),
            ));
        }
        if let Some(d) = self.details_extension(f) {
            ext.push(d);
        }
        ext.push(crate::review::Review::default().extension());
        o.insert("extension".into(), Value::Array(ext));
        if let Some(h) = harm {
            set_harm(&mut ae, h);
        }
        Ok(ae)
    }

    fn details_extension(&self, f: &Formats) -> Option<Value> {
        let b = |k: &str, v: Option<bool>| v.map(|v| typed(k, "valueBoolean", Value::Bool(v)));
        let c = |k: &str, v: &str| {
            (!v.is_empty()).then(|| typed(k, "valueCode", Value::String(v.to_string())))
        };
        let s = |k: &str, v: &str| {
            (!v.trim().is_empty()).then(|| typed(k, "valueString", Value::String(v.trim().into())))
        };
        match (self.detail_kind(f)?, &self.details) {
            ("fall", Details::Fall(x)) => Some(complex(
                "fall",
                vec![
                    c("injury", &x.injury),
                    b("assisted", x.assisted),
                    b("risk-assessed", x.risk_assessed),
                    b("off-unit", Some(x.off_unit)),
                ],
            )),
            ("pressure-injury", Details::PressureInjury(x)) => Some(complex(
                "pressure-injury",
                vec![
                    c("stage", &x.stage),
                    b("present-on-admission", x.present_on_admission),
                    b("device-related", Some(x.device_related)),
                    s("site", &x.site),
                ],
            )),
            ("medication", Details::Medication(x)) => Some(complex(
                "medication",
                vec![
                    c("stage", &x.stage),
                    c("error", &x.error),
                    s("medicine", &x.medicine),
                    b("high-alert", Some(x.high_alert)),
                ],
            )),
            _ => None,
        }
    }
}

/// Set the harm level on an AdverseEvent: Tend's harm extension, and R4's `seriousness`,
/// `severity` and `outcome` (fatal) where the level maps to them.
pub(crate) fn set_harm(ae: &mut Value, h: &crate::Harm) {
    shape::replace(
        ae,
        "harm",
        vec![typed(
            &shape::url("harm"),
            "valueCodeableConcept",
            shape::coding(shape::HARM_SYSTEM, &h.code, &h.words),
        )],
    );
    let Some(o) = ae.as_object_mut() else { return };
    o.insert(
        "seriousness".into(),
        shape::coding(
            "http://terminology.hl7.org/CodeSystem/adverse-event-seriousness",
            if h.serious { "serious" } else { "non-serious" },
            if h.serious { "Serious" } else { "Non-serious" },
        ),
    );
    match &h.severity {
        Some(s) => {
            o.insert(
                "severity".into(),
                shape::coding(
                    "http://terminology.hl7.org/CodeSystem/adverse-event-severity",
                    s,
                    &capitalised(s),
                ),
            );
        }
        None => {
            o.remove("severity");
        }
    }
    if h.code == "death" {
        o.insert(
            "outcome".into(),
            shape::coding(
                "http://terminology.hl7.org/CodeSystem/adverse-event-outcome",
                "fatal",
                "Fatal",
            ),
        );
    } else {
        o.remove("outcome");
    }
}

/// `a`, `a or b`, `a, b or c`.
fn or_list(words: &[String]) -> String {
    match words {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

/// An instant as FHIR writes it (UTC, seconds).
pub(crate) fn instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
