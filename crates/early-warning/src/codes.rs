//! The codes Tend writes on scores and alerts. Systems under `https://tend.example.org/fhir/`
//! are Tend's own (documented in ARCHITECTURE.md, "Early warning").

/// Tend's early-warning code system: score codes (`qsofa`, `sirs`), component codes
/// (`partial-total`, `scale`, `oxygen-basis`, `required-response`, `monitoring`,
/// `next-observations-due`, `trend`, `set-start`, `max-possible-total`, the parameter codes
/// of [`rules::Param::code`] and the criterion codes of the screens), alert codes
/// (`news2-alert`, `news2-response`), criterion states (`met`, `not-met`, `unknown`),
/// trend values (`rising`, `steady`), oxygen bases, response codes and actions.
pub const EW: &str = "https://tend.example.org/fhir/CodeSystem/early-warning";
/// NEWS2 bands, exactly `zero`, `low`, `low-medium`, `medium`, `high` (the `interpretation`).
pub const BAND: &str = "https://tend.example.org/fhir/CodeSystem/news2-band";
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
}

impl ScoreKind {
    pub const ALL: [ScoreKind; 3] = [ScoreKind::News2, ScoreKind::Qsofa, ScoreKind::Sirs];

    /// The id prefix of stored scores of this kind.
    pub fn prefix(self) -> &'static str {
        match self {
            ScoreKind::News2 => "news2",
            ScoreKind::Qsofa => "qsofa",
            ScoreKind::Sirs => "sirs",
        }
    }

    /// `system|code` for searches.
    pub fn token(self) -> String {
        match self {
            ScoreKind::News2 => format!("{SNOMED}|{NEWS2_TOTAL}"),
            ScoreKind::Qsofa => format!("{EW}|qsofa"),
            ScoreKind::Sirs => format!("{EW}|sirs"),
        }
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
                _ => None,
            })
    }
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
