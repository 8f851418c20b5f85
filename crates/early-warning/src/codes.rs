//! The codes Tend writes on scores and alerts. Systems under `https://tend.example.org/fhir/`
//! are Tend's own (documented in ARCHITECTURE.md, "Early warning").

/// Tend's early-warning code system: score codes (`pews`, `qsofa`, `sirs`), component codes
/// (`partial-total`, `scale`, `oxygen-basis`, `required-response`, `monitoring`,
/// `next-observations-due`, `trend`, `set-start`, `max-possible-total`, the parameter codes
/// of [`rules::Param::code`] and the criterion codes of the screens), alert codes
/// (`news2-alert`, `news2-response`, `pews-alert`, `pews-response`), criterion states (`met`,
/// `not-met`, `unknown`), trend values (`rising`, `steady`), oxygen bases, response codes and
/// actions; and the PEWS respiratory distress reading `respiratory-distress` with its answers
/// `none`, `mild`, `moderate`, `severe` (the chart's categories, table P3: no LOINC answer
/// list matches them).
pub const EW: &str = rules::observation::EARLY_WARNING;
/// NEWS2 bands, exactly `zero`, `low`, `low-medium`, `medium`, `high` (the `interpretation`).
pub const BAND: &str = "https://tend.example.org/fhir/CodeSystem/news2-band";
/// PEWS escalation levels, exactly `none`, `low`, `medium`, `high`, `emergency` (the
/// `interpretation` of a PEWS score and the `reasonCode` of a PEWS alert).
pub const PEWS_LEVEL: &str = "https://tend.example.org/fhir/CodeSystem/pews-level";
/// Alert roles (`Task.performerType`), see [`rules::Role`].
pub const ROLE: &str = "https://tend.example.org/fhir/CodeSystem/alert-role";
/// Alert lifecycle (`Task.businessStatus`): raised, acknowledged, escalated, responded,
/// resolved, superseded.
pub const ALERT_STATUS: &str = "https://tend.example.org/fhir/CodeSystem/alert-status";
/// The observation-set identifier system of a stored score.
pub const SET_ID: &str = "https://tend.example.org/fhir/sid/observation-set";
/// The tag on every resource the early-warning service writes.
pub const TAG: &str = "https://tend.example.org/fhir/CodeSystem/tend-tags";
pub const TAG_CODE: &str = "early-warning";

pub const SNOMED: &str = "http://snomed.info/sct";
/// NEWS2 total score (UK SNOMED CT).
pub const NEWS2_TOTAL: &str = "1104051000000101";
/// National Paediatric Early Warning Score total score (UK SNOMED CT, as NHS England's
/// clinical observations FHIR guidance codes it). A second coding: Tend finds PEWS scores by
/// its own code `pews`.
pub const PEWS_TOTAL: &str = "1363261000000104";
pub const INTERPRETATION: &str =
    "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation";
pub const OBS_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/observation-category";
pub const DATA_ABSENT: &str = "http://terminology.hl7.org/CodeSystem/data-absent-reason";
pub const FLAG_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/flag-category";

/// UK SNOMED CT concepts of NEWS2 parameter scores, where known; the others carry Tend's
/// parameter code only.
pub fn param_snomed(p: rules::Param) -> Option<(&'static str, &'static str)> {
    use rules::Param::*;
    match p {
        RespirationRate => Some(("1104301000000104", "NEWS2 respiration rate score")),
        SpO2 => Some(("1104311000000102", "NEWS2 SpO2 scale 1 score")),
        AirOrOxygen => Some(("1104331000000105", "NEWS2 air or oxygen score")),
        Pulse => Some(("1104351000000103", "NEWS2 pulse score")),
        Temperature => Some(("1104371000000107", "NEWS2 temperature score")),
        SystolicBp | Consciousness => None,
    }
}

/// What a stored score is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScoreKind {
    News2,
    Qsofa,
    Sirs,
    /// The national PEWS, for children (under 16).
    Pews,
}

impl ScoreKind {
    pub const ALL: [ScoreKind; 4] = [
        ScoreKind::News2,
        ScoreKind::Qsofa,
        ScoreKind::Sirs,
        ScoreKind::Pews,
    ];

    /// The id prefix of stored scores of this kind.
    pub fn prefix(self) -> &'static str {
        match self {
            ScoreKind::News2 => "news2",
            ScoreKind::Qsofa => "qsofa",
            ScoreKind::Sirs => "sirs",
            ScoreKind::Pews => "pews",
        }
    }

    /// The score's name as people read it.
    pub fn name(self) -> &'static str {
        match self {
            ScoreKind::News2 => "NEWS2",
            ScoreKind::Qsofa => "qSOFA",
            ScoreKind::Sirs => "SIRS",
            ScoreKind::Pews => "PEWS",
        }
    }

    /// The kind of a stored score by its id (the service gives every score the id
    /// `PREFIX-…`).
    pub fn of_id(id: &str) -> Option<ScoreKind> {
        let (prefix, _) = id.split_once('-')?;
        ScoreKind::ALL.into_iter().find(|k| k.prefix() == prefix)
    }

    /// `system|code` for searches.
    pub fn token(self) -> String {
        match self {
            ScoreKind::News2 => format!("{SNOMED}|{NEWS2_TOTAL}"),
            ScoreKind::Qsofa => format!("{EW}|qsofa"),
            ScoreKind::Sirs => format!("{EW}|sirs"),
            ScoreKind::Pews => format!("{EW}|pews"),
        }
    }

    /// The early-warning score of a set, whichever it is (NEWS2 or PEWS), for searches.
    pub fn set_score_tokens() -> String {
        format!("{},{}", ScoreKind::News2.token(), ScoreKind::Pews.token())
    }

    /// The kind of a stored score Observation.
    pub fn of(obs: &serde_json::Value) -> Option<ScoreKind> {
        let codings = obs["code"]["coding"].as_array()?;
        codings
            .iter()
            .find_map(|c| match (c["system"].as_str()?, c["code"].as_str()?) {
                (SNOMED, NEWS2_TOTAL) => Some(ScoreKind::News2),
                (EW, "qsofa") => Some(ScoreKind::Qsofa),
                (EW, "sirs") => Some(ScoreKind::Sirs),
                (EW, "pews") => Some(ScoreKind::Pews),
                _ => None,
            })
    }
}

/// Codes (system [`EW`]) of alert Tasks: NEWS2 and PEWS alerts.
pub const ALERT_TASK_CODES: [&str; 2] = ["news2-response", "pews-response"];

/// Alert Tasks of either score, for searches.
pub fn alert_task_tokens() -> String {
    ALERT_TASK_CODES
        .iter()
        .map(|c| format!("{EW}|{c}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Whether a resource was written by the early-warning service.
pub fn is_derived(resource: &serde_json::Value) -> bool {
    resource["meta"]["tag"].as_array().is_some_and(|t| {
        t.iter()
            .any(|c| c["system"] == TAG && c["code"] == TAG_CODE)
    })
}

/// Encounter classes (HL7 v3 ActCode) whose patients early warning watches: inpatient
/// (`IMP`, `ACUTE`, `NONAC`), emergency (`EMER`) and observation (`OBSENC`).
pub const WATCHED_CLASSES: [&str; 5] = ["IMP", "ACUTE", "NONAC", "EMER", "OBSENC"];

/// Whether an Encounter is one early warning watches: in progress, of a watched class.
pub fn is_watched_encounter(encounter: &serde_json::Value) -> bool {
    encounter["status"] == "in-progress"
        && encounter["class"]["code"]
            .as_str()
            .is_some_and(|c| WATCHED_CLASSES.contains(&c))
}
