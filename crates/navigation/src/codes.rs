//! The code systems, identifier systems and extensions the navigation service writes.

/// Tend's resource tags; derived navigation resources carry `navigation`.
pub const TAGS: &str = "https://tend.example.org/fhir/CodeSystem/tend-tags";
pub const TAG: &str = "navigation";
/// Tend's navigation codes: Task and Communication kinds, Task output types.
pub const NAVIGATION: &str = "https://tend.example.org/fhir/CodeSystem/navigation";
/// Task.code of a milestone Task.
pub const MILESTONE: &str = "milestone";
/// Task.code of a navigator assignment or hand-over.
pub const ASSIGN: &str = "assign-navigator";
/// Task.code of a clock adjustment (a pause or restart the pathway file allows).
pub const ADJUST: &str = "clock-adjustment";
/// Communication.category of a navigator's contact with the patient.
pub const CONTACT: &str = "contact";
/// CareTeam.category of the navigation care team.
pub(crate) const TEAM: &str = "navigation-team";
/// Milestone Task outputs.
pub(crate) const ENTRY: &str = "navigator-entry";
pub(crate) const ENTRY_BY: &str = "navigator-entry-by";
pub(crate) const COMPLETED_AT: &str = "completed-at";
pub(crate) const COMPLETED_BY: &str = "completed-by";
/// Extension on a milestone Task's note: a navigator's entry withdrawn (valueDateTime: the
/// day the withdrawn entry said the step was done; the note's text is the reason).
pub const WITHDRAWN_EXT: &str =
    "https://tend.example.org/fhir/StructureDefinition/navigator-entry-withdrawn";
/// The pathway files' event codes (tags on resources a pathway reads).
pub const PATHWAY_EVENT: &str = "https://tend.example.org/fhir/CodeSystem/pathway-event";
/// EpisodeOfCare.type: the pathway file's id.
pub const PATHWAY: &str = "https://tend.example.org/fhir/CodeSystem/pathway";
/// Task.businessStatus of a milestone: `done`, `pending`, `overdue`.
pub(crate) const MILESTONE_STATUS: &str =
    "https://tend.example.org/fhir/CodeSystem/milestone-status";
/// Identifier of a milestone Task: `{pathway}#{milestone}`.
pub const MILESTONE_ID: &str = "https://tend.example.org/fhir/sid/pathway-milestone";
/// Identifier of an EpisodeOfCare: `{patient}#{pathway}`.
pub const EPISODE_ID: &str = "https://tend.example.org/fhir/sid/pathway-episode";
/// EpisodeOfCare extension: one per clock (complex: clock, name, link, status, start, stop,
/// deadline, target, risk, reason).
pub const CLOCK_EXT: &str = "https://tend.example.org/fhir/StructureDefinition/pathway-clock";
/// EpisodeOfCare extension: the tumour site (valueString).
pub const SITE_EXT: &str = "https://tend.example.org/fhir/StructureDefinition/tumour-site";
/// Communication extension: the contact's outcome (valueCodeableConcept of [`OUTCOME`]).
pub const OUTCOME_EXT: &str = "https://tend.example.org/fhir/StructureDefinition/contact-outcome";
pub const OUTCOME: &str = "https://tend.example.org/fhir/CodeSystem/contact-outcome";
/// HL7 v3 ParticipationMode: Communication.medium.
pub(crate) const MODE: &str = "http://terminology.hl7.org/CodeSystem/v3-ParticipationMode";

/// Contact channels: (Tend's code, v3 ParticipationMode code, words).
pub const CHANNELS: &[(&str, &str, &str)] = &[
    ("phone", "PHONE", "Phone"),
    ("in-person", "FACE", "In person"),
    ("video", "VIDEOCONF", "Video call"),
    ("letter", "MAILWRIT", "Letter"),
    ("email", "EMAILWRIT", "Email"),
    ("text", "SMSWRIT", "Text message"),
];

/// Contact outcomes: (code, words).
pub const OUTCOMES: &[(&str, &str)] = &[
    ("reached", "Spoke with the patient"),
    ("carer", "Spoke with family or carer"),
    ("left-message", "Left a message"),
    ("no-answer", "No answer"),
    ("rebooked", "Appointment rebooked"),
    (
        "barrier-addressed",
        "Barrier addressed (transport, interpreter, costs)",
    ),
    ("declined", "Patient declined"),
];

pub(crate) fn channel_of_mode(mode: &str) -> Option<&'static str> {
    CHANNELS.iter().find(|c| c.1 == mode).map(|c| c.0)
}

/// A channel's words.
pub fn channel_words(code: &str) -> &'static str {
    CHANNELS
        .iter()
        .find(|c| c.0 == code)
        .map_or("Other", |c| c.2)
}

/// An outcome's words.
pub fn outcome_words(code: &str) -> &'static str {
    OUTCOMES
        .iter()
        .find(|c| c.0 == code)
        .map_or("Other", |c| c.1)
}
