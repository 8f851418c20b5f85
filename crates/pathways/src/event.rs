//! What the engine reads about one patient: timestamped [`Event`]s the service builds from FHIR
//! resources (or a navigator enters), and [`Adjustment`]s to clocks. Corrections keep history:
//! an event or adjustment that `supersedes` another replaces it for the computation, and both
//! stay in the record ([`resolve`]).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, FixedOffset};
use serde::Deserialize;

/// The FHIR resource types the pathway files name as evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
pub enum ResourceType {
    ServiceRequest,
    Appointment,
    Encounter,
    DiagnosticReport,
    Observation,
    Specimen,
    Condition,
    Procedure,
    MedicationRequest,
    MedicationAdministration,
    CarePlan,
    Communication,
}

impl ResourceType {
    pub fn parse(s: &str) -> Option<ResourceType> {
        use ResourceType::*;
        Some(match s {
            "ServiceRequest" => ServiceRequest,
            "Appointment" => Appointment,
            "Encounter" => Encounter,
            "DiagnosticReport" => DiagnosticReport,
            "Observation" => Observation,
            "Specimen" => Specimen,
            "Condition" => Condition,
            "Procedure" => Procedure,
            "MedicationRequest" => MedicationRequest,
            "MedicationAdministration" => MedicationAdministration,
            "CarePlan" => CarePlan,
            "Communication" => Communication,
            _ => return None,
        })
    }

    /// The FHIR resource type's name.
    pub fn name(self) -> &'static str {
        use ResourceType::*;
        match self {
            ServiceRequest => "ServiceRequest",
            Appointment => "Appointment",
            Encounter => "Encounter",
            DiagnosticReport => "DiagnosticReport",
            Observation => "Observation",
            Specimen => "Specimen",
            Condition => "Condition",
            Procedure => "Procedure",
            MedicationRequest => "MedicationRequest",
            MedicationAdministration => "MedicationAdministration",
            CarePlan => "CarePlan",
            Communication => "Communication",
        }
    }
}

/// A code in a system.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Coding {
    pub system: String,
    pub code: String,
}

impl Coding {
    pub fn new(system: &str, code: &str) -> Coding {
        Coding {
            system: system.to_string(),
            code: code.to_string(),
        }
    }
}

/// Where an event comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum EventKind {
    /// A FHIR resource in the record.
    Resource(ResourceType),
    /// A navigator's entry marking a milestone done (e.g. "diagnosis communicated by phone"),
    /// with the milestone's id.
    Navigator { milestone: String },
}

/// One timestamped fact about the patient. Times carry the hospital's UTC offset on that date:
/// day-counted clocks count local calendar dates.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Unique among this patient's events (e.g. `Procedure/12/_history/3`, or a navigator
    /// entry's id).
    pub id: String,
    pub kind: EventKind,
    /// The resource's code, category and type codings.
    pub codes: Vec<Coding>,
    /// The resource's `status` (`final`, `completed`, `booked`…).
    pub status: Option<String>,
    /// A Condition's `verificationStatus`.
    pub verification_status: Option<String>,
    /// A numeric value (an Observation's `valueQuantity`, a score).
    pub value: Option<f64>,
    /// Coded values and interpretations.
    pub value_codes: Vec<Coding>,
    /// The codes of what the resource is about (`Observation.focus`: e.g. the cancer Condition
    /// a stage group belongs to).
    pub focus: Vec<Coding>,
    /// When it happened (the clinical time: `effective`, `performed`, `sent`, the appointment's
    /// `start`, or the time a navigator says it happened).
    pub time: DateTime<FixedOffset>,
    /// The resource it was read from (`DiagnosticReport/55`), for the audit trail.
    pub source: Option<String>,
    /// Who recorded it (a `Practitioner/…` reference or a user id).
    pub recorded_by: Option<String>,
    /// Pairs a start with its stop in clocks kept per start (e.g. a decision to treat and the
    /// treatment it decided, by the CarePlan activity or treatment id).
    pub link: Option<String>,
    /// The id of the event this one corrects.
    pub supersedes: Option<String>,
    /// Entered in error: with `supersedes`, withdraws the event it names.
    pub retracted: bool,
}

impl Event {
    /// An event from a resource, with everything optional left empty.
    pub fn resource(id: &str, kind: ResourceType, time: DateTime<FixedOffset>) -> Event {
        Event {
            id: id.to_string(),
            kind: EventKind::Resource(kind),
            codes: Vec::new(),
            status: None,
            verification_status: None,
            value: None,
            value_codes: Vec::new(),
            focus: Vec::new(),
            time,
            source: None,
            recorded_by: None,
            link: None,
            supersedes: None,
            retracted: false,
        }
    }

    /// A navigator's entry completing `milestone`.
    pub fn navigator(id: &str, milestone: &str, time: DateTime<FixedOffset>, by: &str) -> Event {
        Event {
            kind: EventKind::Navigator {
                milestone: milestone.to_string(),
            },
            recorded_by: Some(by.to_string()),
            ..Event::resource(id, ResourceType::Communication, time)
        }
    }
}

/// A change to a clock that a source allows (a [`crate::AdjustmentRule`]), with who, when and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Adjustment {
    pub id: String,
    /// The rule's id in the pathway file (e.g. `dna-first-appointment`).
    pub rule: String,
    /// The clock it is for; `None`: every clock of the pathway that allows the rule.
    pub clock: Option<String>,
    /// For clocks kept per start: the instance's link.
    pub link: Option<String>,
    /// Restart: the new start. Pause: the first moment not counted.
    pub from: DateTime<FixedOffset>,
    /// Pause: the first moment counted again; `None` while the pause is open.
    pub until: Option<DateTime<FixedOffset>>,
    /// Why, in words (required).
    pub reason: String,
    /// Who recorded it (required).
    pub recorded_by: String,
    /// When it was recorded.
    pub recorded_at: DateTime<FixedOffset>,
    pub supersedes: Option<String>,
    pub retracted: bool,
}

/// Something the engine could not use, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// The event or adjustment id.
    pub id: String,
    pub message: String,
}

/// Anything that can be corrected by a later record.
pub(crate) trait Correctable {
    fn id(&self) -> &str;
    fn supersedes(&self) -> Option<&str>;
    fn retracted(&self) -> bool;
}

impl Correctable for Event {
    fn id(&self) -> &str {
        &self.id
    }
    fn supersedes(&self) -> Option<&str> {
        self.supersedes.as_deref()
    }
    fn retracted(&self) -> bool {
        self.retracted
    }
}

impl Correctable for Adjustment {
    fn id(&self) -> &str {
        &self.id
    }
    fn supersedes(&self) -> Option<&str> {
        self.supersedes.as_deref()
    }
    fn retracted(&self) -> bool {
        self.retracted
    }
}

/// The records in force, each with the ids it replaced (newest first), in input order.
/// A record that is superseded, or is a retraction, is not in force; a chain A ← B ← C
/// leaves C in force with history [B, A].
pub(crate) fn resolve<T: Correctable>(items: &[T]) -> Vec<(&T, Vec<String>)> {
    let superseded: HashSet<&str> = items.iter().filter_map(|i| i.supersedes()).collect();
    let by_id: HashMap<&str, &T> = items.iter().map(|i| (i.id(), i)).collect();
    items
        .iter()
        .filter(|i| !superseded.contains(i.id()) && !i.retracted())
        .map(|i| {
            let mut history = Vec::new();
            let mut seen = HashSet::new();
            let mut next = i.supersedes();
            while let Some(id) = next {
                if !seen.insert(id) {
                    break;
                }
                history.push(id.to_string());
                next = by_id.get(id).and_then(|p| p.supersedes());
            }
            (i, history)
        })
        .collect()
}
