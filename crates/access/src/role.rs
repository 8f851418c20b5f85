//! Roles and permissions: one table ([`MATRIX`]), the only place either is decided.

use serde::{Deserialize, Serialize};

/// A person's (or service's) role in the hospital.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Nurse,
    Physician,
    RapidResponse,
    Navigator,
    MdtCoordinator,
    SocialWorker,
    QualityOfficer,
    SafetyReviewer,
    PrivacyOfficer,
    Administrator,
    IntegrationService,
    CommunityPartner,
}

impl Role {
    pub const ALL: [Role; 12] = [
        Role::Nurse,
        Role::Physician,
        Role::RapidResponse,
        Role::Navigator,
        Role::MdtCoordinator,
        Role::SocialWorker,
        Role::QualityOfficer,
        Role::SafetyReviewer,
        Role::PrivacyOfficer,
        Role::Administrator,
        Role::IntegrationService,
        Role::CommunityPartner,
    ];

    /// The code used in commands, files and tokens (`rapid-response`).
    pub fn code(self) -> &'static str {
        match self {
            Role::Nurse => "nurse",
            Role::Physician => "physician",
            Role::RapidResponse => "rapid-response",
            Role::Navigator => "navigator",
            Role::MdtCoordinator => "mdt-coordinator",
            Role::SocialWorker => "social-worker",
            Role::QualityOfficer => "quality-officer",
            Role::SafetyReviewer => "safety-reviewer",
            Role::PrivacyOfficer => "privacy-officer",
            Role::Administrator => "administrator",
            Role::IntegrationService => "integration-service",
            Role::CommunityPartner => "community-partner",
        }
    }

    /// The role as people say it.
    pub fn title(self) -> &'static str {
        match self {
            Role::Nurse => "Nurse",
            Role::Physician => "Physician",
            Role::RapidResponse => "Rapid-response team",
            Role::Navigator => "Patient navigator",
            Role::MdtCoordinator => "MDT coordinator",
            Role::SocialWorker => "Social worker",
            Role::QualityOfficer => "Quality officer",
            Role::SafetyReviewer => "Safety reviewer",
            Role::PrivacyOfficer => "Privacy officer",
            Role::Administrator => "Administrator",
            Role::IntegrationService => "Integration service",
            Role::CommunityPartner => "Community partner",
        }
    }

    pub fn parse(code: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.code() == code)
    }

    /// Whether the role grants a permission (the row of [`MATRIX`]).
    pub fn grants(self, p: Permission) -> bool {
        MATRIX
            .iter()
            .any(|(perm, roles)| *perm == p && roles.contains(&self))
    }

    /// Whether the role reaches patients through care relationships (and may break the glass).
    pub fn clinical(self) -> bool {
        self.grants(Permission::BreakGlass)
    }

    /// Whether the role may read (or write) FHIR resources of `rtype`. Patient data also
    /// needs a care relationship (or break-the-glass) for people; that is checked per patient.
    pub fn fhir(self, rtype: &str, write: bool) -> bool {
        use Permission::*;
        if self.grants(ReferralsReceived) {
            // A community partner: the referrals shared with its organisation (decided per
            // record, `Access::check`), the patient's contact details they need, and the
            // directory; nothing else of the record.
            return match rtype {
                "Task" => true,
                "ServiceRequest" | "Consent" | "Patient" => !write,
                _ => category_of(rtype) == Category::Directory && !write,
            };
        }
        match category_of(rtype) {
            Category::Directory => !write || self.grants(Directory),
            Category::Audit => {
                if write {
                    self == Role::IntegrationService
                } else {
                    self.grants(AuditRead)
                }
            }
            Category::Measure => {
                if write {
                    self == Role::IntegrationService
                } else {
                    self.grants(Measures) || self.grants(ChartRead)
                }
            }
            // Staff report safety events and read back their own (decided per record,
            // `Access::check`); the safety team reads and reviews them all.
            Category::SafetyEvent => self.grants(SafetyEvents) || self.grants(ReportSafetyEvents),
            Category::Coordination => {
                self.grants(if write { RecordWrite } else { ChartRead })
                    || ((self.grants(Outreach) || self.grants(TumourBoard))
                        && self.grants(ChartRead))
            }
            Category::Interface => {
                if write {
                    self == Role::IntegrationService
                } else {
                    self.grants(Interfaces)
                }
            }
            Category::Clinical => {
                self.grants(if write { RecordWrite } else { ChartRead })
                    || (write && SOCIAL_CARE_RECORDS.contains(&rtype) && self.grants(SocialCare))
            }
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// What a role may do. Where patient data is involved, people also need a care relationship.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Permission {
    /// Ward boards, ward patient lists, the alert list and live events.
    Board,
    /// Read a patient's record (chart, FHIR reads and searches of patient data).
    ChartRead,
    /// Write clinical records (vital signs, conditions, procedures, care plans...).
    RecordWrite,
    /// Acknowledge, respond to and resolve early-warning alerts.
    AlertRespond,
    /// The care-gap outreach worklist; record outreach; write Tasks, ServiceRequests and
    /// Communications.
    Outreach,
    /// See sensitive records (interpersonal-safety screening, records labelled restricted).
    SensitiveRead,
    /// Reach a patient outside one's care relationships, with a reason.
    BreakGlass,
    /// Population measures (MeasureReports), stratified; no patient-level data.
    Measures,
    /// The patients behind a measure's number, for case review: who they are, the unit and
    /// what they counted; not their charts.
    MeasureCases,
    /// Safety-event reports (AdverseEvent) hospital-wide: the safety team's review.
    SafetyEvents,
    /// File safety-event reports (in one's own name or anonymously) and read back one's
    /// own.
    ReportSafetyEvents,
    /// Tumour boards: meetings, their case lists and referrals to them.
    TumourBoard,
    /// Consultant upgrade: put a patient not referred urgently onto the 62-day suspected
    /// cancer pathway (NHS England Cancer Waiting Times), as the consultant responsible.
    CancerUpgrade,
    /// Search the audit trail (the privacy page, AuditEvent reads).
    AuditRead,
    /// Accounts: add, disable, reset passwords, tokens.
    ManageUsers,
    /// Write directory resources (wards, staff, organizations).
    Directory,
    /// Confirm social needs as health concerns (Condition) and Goals: a social worker is
    /// the clinician who confirms a screened need before it becomes a problem.
    SocialCare,
    /// A community partner's: the referrals sent to one's own organisation (accept,
    /// decline, record the outcome) and no other record.
    ReferralsReceived,
    /// Interface operations: the HL7 v2 message log and replay, metrics.
    Interfaces,
    /// FHIR Bulk Data export (`$export`): the whole of what one reaches, as files. What is
    /// in them is still decided per record by the store, as for any read.
    BulkExport,
}

impl Permission {
    /// What the permission allows, as the roles table says it.
    pub fn describe(self) -> &'static str {
        match self {
            Permission::Board => "Ward boards, ward patient lists, the alert list, live events",
            Permission::ChartRead => {
                "Read patients' records (care relationship or break-the-glass for people)"
            }
            Permission::RecordWrite => {
                "Write clinical records (vital signs, conditions, procedures, ...)"
            }
            Permission::AlertRespond => "Acknowledge, respond to and resolve alerts",
            Permission::Outreach => "Care-gap worklist, record outreach, write Tasks and referrals",
            Permission::SensitiveRead => {
                "See sensitive records (interpersonal-safety answers, restricted)"
            }
            Permission::BreakGlass => {
                "Break the glass: reach a patient outside one's care, with a reason"
            }
            Permission::Measures => "Population measures (MeasureReports), no patient-level data",
            Permission::MeasureCases => {
                "The patients behind a measure's number (case review), not their charts"
            }
            Permission::SafetyEvents => "Review safety-event reports (AdverseEvent) hospital-wide",
            Permission::ReportSafetyEvents => {
                "Report safety events (named or anonymous) and read back one's own"
            }
            Permission::TumourBoard => {
                "Tumour boards: prepare meetings, list and refer patients to discuss"
            }
            Permission::CancerUpgrade => {
                "Upgrade a patient onto the 62-day suspected-cancer pathway (consultant upgrade)"
            }
            Permission::AuditRead => "Search the audit trail (privacy page, AuditEvent)",
            Permission::ManageUsers => "Accounts and API tokens",
            Permission::Directory => "Write wards, staff and organizations",
            Permission::Interfaces => "HL7 v2 message log and replay, metrics",
            Permission::BulkExport => {
                "Bulk Data export ($export) of what one may read, as NDJSON files"
            }
            Permission::SocialCare => "Confirm screened social needs as health concerns and goals",
            Permission::ReferralsReceived => {
                "Referrals sent to one's own organisation only: accept, decline, record outcomes"
            }
        }
    }

    pub const ALL: [Permission; 20] = [
        Permission::Board,
        Permission::ChartRead,
        Permission::RecordWrite,
        Permission::AlertRespond,
        Permission::Outreach,
        Permission::SensitiveRead,
        Permission::BreakGlass,
        Permission::Measures,
        Permission::MeasureCases,
        Permission::SafetyEvents,
        Permission::ReportSafetyEvents,
        Permission::TumourBoard,
        Permission::CancerUpgrade,
        Permission::AuditRead,
        Permission::ManageUsers,
        Permission::Directory,
        Permission::Interfaces,
        Permission::SocialCare,
        Permission::ReferralsReceived,
        Permission::BulkExport,
    ];
}

/// The clinical records that social-care staff write besides care coordination: a
/// confirmed social need becomes a health concern (Condition) with a Goal.
const SOCIAL_CARE_RECORDS: [&str; 2] = ["Condition", "Goal"];

use Role::*;

/// The permissions table: which roles hold each permission.
pub const MATRIX: &[(Permission, &[Role])] = &[
    (Permission::Board, &[Nurse, Physician, RapidResponse]),
    (
        Permission::ChartRead,
        &[
            Nurse,
            Physician,
            RapidResponse,
            Navigator,
            MdtCoordinator,
            SocialWorker,
            IntegrationService,
        ],
    ),
    (
        Permission::RecordWrite,
        &[Nurse, Physician, RapidResponse, IntegrationService],
    ),
    (Permission::AlertRespond, &[Nurse, Physician, RapidResponse]),
    (Permission::Outreach, &[Navigator, SocialWorker]),
    (
        Permission::SensitiveRead,
        &[Physician, SocialWorker, IntegrationService],
    ),
    (
        Permission::BreakGlass,
        &[Nurse, Physician, RapidResponse, Navigator, SocialWorker],
    ),
    (
        Permission::Measures,
        &[QualityOfficer, SafetyReviewer, Administrator],
    ),
    (Permission::MeasureCases, &[QualityOfficer]),
    (Permission::SafetyEvents, &[SafetyReviewer]),
    (
        Permission::ReportSafetyEvents,
        &[
            Nurse,
            Physician,
            RapidResponse,
            Navigator,
            MdtCoordinator,
            SocialWorker,
            QualityOfficer,
            SafetyReviewer,
            PrivacyOfficer,
            Administrator,
            IntegrationService,
        ],
    ),
    (
        Permission::TumourBoard,
        &[Physician, Navigator, MdtCoordinator],
    ),
    (Permission::CancerUpgrade, &[Physician]),
    (Permission::AuditRead, &[PrivacyOfficer]),
    (Permission::ManageUsers, &[Administrator]),
    (Permission::Directory, &[Administrator, IntegrationService]),
    (Permission::Interfaces, &[Administrator, IntegrationService]),
    (Permission::BulkExport, &[IntegrationService]),
    (Permission::SocialCare, &[SocialWorker]),
    (Permission::ReferralsReceived, &[CommunityPartner]),
];

/// The permissions table as Markdown (README.md holds this table; a test keeps it true).
pub fn matrix_markdown() -> String {
    let mut out = String::from("| Permission |");
    for r in Role::ALL {
        out.push_str(&format!(" {} |", r.title()));
    }
    out.push_str("\n|---|");
    for _ in Role::ALL {
        out.push_str(":-:|");
    }
    out.push('\n');
    for p in Permission::ALL {
        out.push_str(&format!("| {} |", p.describe()));
        for r in Role::ALL {
            out.push_str(if r.grants(p) { " ✓ |" } else { " |" });
        }
        out.push('\n');
    }
    out
}

/// How access to a resource type is decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Category {
    /// Not about a patient: wards, staff, definitions.
    Directory,
    /// The audit trail.
    Audit,
    /// Population measures.
    Measure,
    /// Safety-event reports.
    SafetyEvent,
    /// Care coordination a navigator, social worker or MDT coordinator writes (tasks,
    /// referrals, messages, appointments, screening questionnaires).
    Coordination,
    /// The HL7 v2 message log (MessageHeader records hold whole messages, every patient
    /// of a feed): interface engineers and integrations only.
    Interface,
    /// Everything else: the patient record.
    Clinical,
}

pub(crate) fn category_of(rtype: &str) -> Category {
    match rtype {
        "Location"
        | "Organization"
        | "Practitioner"
        | "PractitionerRole"
        | "HealthcareService"
        | "Endpoint"
        | "ValueSet"
        | "CodeSystem"
        | "ConceptMap"
        | "StructureDefinition"
        | "SearchParameter"
        | "OperationDefinition"
        | "CapabilityStatement"
        | "Questionnaire"
        | "PlanDefinition"
        | "ActivityDefinition"
        | "Library"
        | "NamingSystem"
        | "Subscription" => Category::Directory,
        "AuditEvent" => Category::Audit,
        "Measure" | "MeasureReport" => Category::Measure,
        "AdverseEvent" => Category::SafetyEvent,
        "MessageHeader" => Category::Interface,
        "Task"
        | "ServiceRequest"
        | "Communication"
        | "CommunicationRequest"
        | "Appointment"
        | "QuestionnaireResponse"
        | "Consent" => Category::Coordination,
        _ => Category::Clinical,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.code()), Some(r));
            assert_eq!(
                serde_json::to_value(r).unwrap(),
                serde_json::json!(r.code())
            );
        }
        assert_eq!(Role::parse("superuser"), None);
    }

    #[test]
    fn the_readme_holds_the_roles_table() {
        let readme = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"),
        )
        .unwrap();
        let start =
            readme.find("<!-- roles-table -->").expect("marker") + "<!-- roles-table -->\n".len();
        let end = readme.find("<!-- /roles-table -->").expect("end marker");
        assert_eq!(
            &readme[start..end],
            matrix_markdown(),
            "README.md's roles table differs from access::MATRIX; run `cargo run -q -p access --example roles_table` and paste its output"
        );
    }

    #[test]
    fn every_permission_has_a_row() {
        for p in Permission::ALL {
            assert!(MATRIX.iter().any(|(q, _)| *q == p), "{p:?}");
        }
    }

    #[test]
    fn fhir_access_by_category() {
        assert!(Nurse.fhir("Observation", true));
        assert!(!Navigator.fhir("Observation", true));
        assert!(Navigator.fhir("Task", true));
        assert!(!QualityOfficer.fhir("Observation", false));
        assert!(QualityOfficer.fhir("MeasureReport", false));
        assert!(QualityOfficer.fhir("Location", false));
        assert!(!QualityOfficer.fhir("Location", true));
        assert!(PrivacyOfficer.fhir("AuditEvent", false));
        assert!(!Administrator.fhir("AuditEvent", false));
        assert!(!Physician.fhir("AuditEvent", true));
        assert!(SafetyReviewer.fhir("AdverseEvent", true));
        assert!(MdtCoordinator.fhir("Appointment", true));
        assert!(SocialWorker.fhir("QuestionnaireResponse", true));
        assert!(MdtCoordinator.fhir("Task", true));
        assert!(!MdtCoordinator.fhir("CarePlan", true));
        assert!(!MdtCoordinator.fhir("CareTeam", true));
        assert!(!SafetyReviewer.fhir("Patient", false));
        assert!(SocialWorker.fhir("Condition", true));
        assert!(SocialWorker.fhir("Goal", true));
        assert!(!SocialWorker.fhir("Observation", true));
        assert!(SocialWorker.fhir("Consent", true));
        assert!(!Navigator.fhir("Condition", true));
        assert!(Navigator.fhir("Consent", true));
        assert!(CommunityPartner.fhir("Task", true));
        assert!(CommunityPartner.fhir("ServiceRequest", false));
        assert!(!CommunityPartner.fhir("ServiceRequest", true));
        assert!(CommunityPartner.fhir("Patient", false));
        assert!(!CommunityPartner.fhir("Patient", true));
        assert!(CommunityPartner.fhir("HealthcareService", false));
        assert!(!CommunityPartner.fhir("Observation", false));
        assert!(!CommunityPartner.fhir("Condition", false));
        assert!(!CommunityPartner.fhir("QuestionnaireResponse", false));
        assert!(!CommunityPartner.fhir("AuditEvent", false));
    }
}
