//! The code systems the tumour board writes.

/// Tend's tumour-board codes: CareTeam categories, the meeting's service type, the case
/// Task's code and business status, the recommendation's category and intent.
pub const SYSTEM: &str = "https://tend.example.org/fhir/CodeSystem/tumour-board";
/// CareTeam.category of a board (its standing members; no subject).
pub const BOARD: &str = "board";
/// CareTeam.category of a board's care relationship to one patient it discusses.
pub const BOARD_CASE_TEAM: &str = "board-case-team";
/// Appointment.serviceType of a meeting.
pub const MEETING: &str = "meeting";
/// Task.code of a patient to discuss.
pub const CASE: &str = "case";
/// CarePlan.category of a recorded recommendation.
pub const RECOMMENDATION: &str = "recommendation";
/// Task.businessStatus codes of a case, in order.
pub const REFERRED: &str = "referred";
pub const SCHEDULED: &str = "scheduled";
pub const RECOMMENDED: &str = "recommended";
pub const COMMUNICATED: &str = "communicated";
/// ServiceRequest.code of a recommended step.
pub const STEP: &str = "https://tend.example.org/fhir/CodeSystem/tumour-board-step";
/// The pathway files' event codes (tags the pathways read).
pub const PATHWAY_EVENT: &str = "https://tend.example.org/fhir/CodeSystem/pathway-event";
/// WHO ATC: systemic anticancer drugs are L01 and L02.
pub const ATC: &str = "http://www.whocc.no/atc";
/// Tend's resource tags; resources this service derives carry `tumour-board`.
pub const TAGS: &str = "https://tend.example.org/fhir/CodeSystem/tend-tags";

/// A case's progress in words.
pub fn status_words(code: &str) -> &'static str {
    match code {
        REFERRED => "Waiting for a meeting",
        SCHEDULED => "To discuss",
        RECOMMENDED => "Recommendation recorded",
        COMMUNICATED => "Told to the patient",
        _ => "Withdrawn",
    }
}
