//! [`Access`]: what one caller may reach, carried by every store call. The store decides
//! with it, where the data is: a resource type is readable or writable by the caller's role
//! (narrowed by token scopes); a resource in patient compartments is reachable only when
//! every one of its patients is within the caller's [`Reach`]; a restricted (sensitive)
//! record needs [`Permission::SensitiveRead`].
//!
//! [`Access::system`] is Tend's own access (the early-warning and care-gap consumers, the
//! HL7 v2 feed, bulk import): everything. The server builds an [`Access`] for each request
//! from the signed-in principal ([`Access::caller`]) and never from anything the request
//! says about itself.

use std::collections::BTreeSet;

use crate::role::category_of;
use crate::{Category, Permission, Principal};

/// The patients a caller may reach now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    /// Every patient: Tend itself, integration services, a clinician who broke the glass.
    All,
    /// These patients (ids, without `Patient/`): care relationships and web break-the-glass
    /// grants, found when the request arrived.
    Patients(BTreeSet<String>),
}

impl Reach {
    /// No patient at all (roles that never see patient data).
    pub fn none() -> Reach {
        Reach::Patients(BTreeSet::new())
    }

    pub fn contains(&self, patient: &str) -> bool {
        match self {
            Reach::All => true,
            Reach::Patients(s) => s.contains(patient.trim_start_matches("Patient/")),
        }
    }
}

/// Why the store refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denied {
    /// The role (or the token's scopes) does not include this type, for reading or writing.
    Type { rtype: String, write: bool },
    /// The record is about a patient outside the caller's reach (`Patient/ID`).
    Patient(String),
    /// The record is restricted and the role does not see restricted records.
    Restricted,
    /// A community partner's request for a record not shared with its organisation.
    NotShared { rtype: String },
    /// A safety-event report someone else filed (or filed anonymously), or a change to a
    /// filed report by anyone but the safety team.
    SafetyReport { write: bool },
}

#[derive(Debug, Clone, PartialEq)]
enum Who {
    System,
    Caller(Principal),
}

/// Who is asking, and what they may reach. See the module documentation.
#[derive(Debug, Clone, PartialEq)]
pub struct Access {
    who: Who,
    reach: Reach,
    /// The break-the-glass reason this access relies on, when the glass was broken.
    break_glass: Option<String>,
    /// Case review ([`Access::measure_cases`]): the reached patients' Patient resources.
    cases: bool,
}

impl Access {
    /// Tend's own access: every type, every patient, restricted records included.
    pub fn system() -> Access {
        Access {
            who: Who::System,
            reach: Reach::All,
            break_glass: None,
            cases: false,
        }
    }

    /// A signed-in person or an authenticated service. Integration services reach every
    /// patient their scopes allow; people reach `reach`, or everyone when they broke the
    /// glass (`break_glass`, a reason) and their role may.
    pub fn caller(p: Principal, reach: Reach, break_glass: Option<String>) -> Access {
        let all = Access::reaches_everyone(&p, break_glass.as_deref());
        let glass = break_glass.filter(|_| p.may(Permission::BreakGlass));
        let reach = if all {
            Reach::All
        } else if p.may(Permission::ChartRead)
            || p.may(Permission::SafetyEvents)
            || p.may(Permission::ReferralsReceived)
        {
            reach
        } else {
            Reach::none()
        };
        Access {
            who: Who::Caller(p),
            reach,
            break_glass: glass,
            cases: false,
        }
    }

    /// The patients behind a measure's number, for a person whose role reviews them
    /// ([`Permission::MeasureCases`]): those patients' Patient resources, read only, on top
    /// of what the role reads anyway; no other record of theirs. `None` for anyone else.
    /// Built by the quality pages from the measures' own result, never from the request.
    pub fn measure_cases(p: Principal, patients: BTreeSet<String>) -> Option<Access> {
        if !p.may(Permission::MeasureCases) || !p.needs_relationship() {
            return None;
        }
        Some(Access {
            who: Who::Caller(p),
            reach: Reach::Patients(patients),
            break_glass: None,
            cases: true,
        })
    }

    /// Whether `p` reaches every patient whatever its relationships: an integration
    /// service, or a clinician who broke the glass (then no relationship need be looked up).
    pub fn reaches_everyone(p: &Principal, break_glass: Option<&str>) -> bool {
        !p.needs_relationship() || (break_glass.is_some() && p.may(Permission::BreakGlass))
    }

    /// The caller, unless this is Tend itself.
    pub fn principal(&self) -> Option<&Principal> {
        match &self.who {
            Who::System => None,
            Who::Caller(p) => Some(p),
        }
    }

    pub fn is_system(&self) -> bool {
        self.who == Who::System
    }

    pub fn reach(&self) -> &Reach {
        &self.reach
    }

    pub fn break_glass(&self) -> Option<&str> {
        self.break_glass.as_deref()
    }

    /// Whether resources of `rtype` may be read (or written) at all.
    pub fn may_type(&self, rtype: &str, write: bool) -> bool {
        match &self.who {
            Who::System => true,
            Who::Caller(p) => {
                p.may_fhir(rtype, write) || (self.cases && !write && rtype == "Patient")
            }
        }
    }

    /// The organisation whose shared records are all a community partner reaches of
    /// [`crate::SHARED_TYPES`]; `None` for everyone else. A partner without an
    /// organisation is given one that matches nothing.
    pub fn partner_of(&self) -> Option<&str> {
        match &self.who {
            Who::Caller(p) if p.may(Permission::ReferralsReceived) => {
                Some(p.organization.as_deref().unwrap_or(""))
            }
            _ => None,
        }
    }

    /// A stored Patient as this caller receives it: whole, or cut to the contact details
    /// for a community partner ([`crate::partner_patient`]).
    pub fn shape_patient<'a>(
        &self,
        patient: &'a serde_json::Value,
    ) -> std::borrow::Cow<'a, serde_json::Value> {
        if self.partner_of().is_some() {
            std::borrow::Cow::Owned(crate::partner_patient(patient))
        } else {
            std::borrow::Cow::Borrowed(patient)
        }
    }

    /// The reporter (`Practitioner/ID`) whose own safety-event reports are all this caller
    /// reads of them: every person but the safety team; `None` for the safety team, for
    /// integration services (which carry other systems' reports, in their reporters' names,
    /// as they carry every other record) and for Tend.
    pub fn reporter(&self) -> Option<String> {
        match &self.who {
            Who::Caller(p) if !p.may(Permission::SafetyEvents) && p.needs_relationship() => Some(
                p.practitioner
                    .clone()
                    .unwrap_or_else(|| format!("Practitioner/{}", p.id)),
            ),
            _ => None,
        }
    }

    /// Whether this caller may change a stored record of `rtype` (beyond creating one):
    /// a filed safety-event report is changed only by the safety team (and Tend).
    pub fn may_revise(&self, rtype: &str) -> Result<(), Denied> {
        if category_of(rtype) == Category::SafetyEvent && self.reporter().is_some() {
            return Err(Denied::SafetyReport { write: true });
        }
        Ok(())
    }

    /// Whether restricted (sensitive) records are visible.
    pub fn sees_restricted(&self) -> bool {
        match &self.who {
            Who::System => true,
            Who::Caller(p) => p.may(Permission::SensitiveRead),
        }
    }

    /// Whether resources of `rtype` are reached by permission hospital-wide rather than
    /// through the patients they are about: the audit trail for those who may read it,
    /// safety-event reports (all of them for the safety team; a reporter's own for
    /// everyone else, [`Access::reporter`], whoever the patient).
    pub fn compartment_free(&self, rtype: &str) -> bool {
        match &self.who {
            Who::System => true,
            Who::Caller(p) => match category_of(rtype) {
                Category::Audit => p.may(Permission::AuditRead),
                Category::SafetyEvent => p.may_fhir(rtype, false),
                _ => false,
            },
        }
    }

    /// Whether every patient may be reached for `rtype` (no compartment filter needed).
    pub fn reaches_all(&self, rtype: &str) -> bool {
        self.reach == Reach::All || self.compartment_free(rtype)
    }

    /// Decide one stored or new version: its type, its patients (`Patient/ID` or ids),
    /// whether it is restricted and the organisation it is shared with ([`crate::shared_with`]).
    pub fn check<S: AsRef<str>>(
        &self,
        rtype: &str,
        write: bool,
        patients: &[S],
        restricted: bool,
        shared: Option<&str>,
    ) -> Result<(), Denied> {
        if !self.may_type(rtype, write) {
            return Err(Denied::Type {
                rtype: rtype.to_string(),
                write,
            });
        }
        if restricted && !self.sees_restricted() {
            return Err(Denied::Restricted);
        }
        if let Some(org) = self.partner_of() {
            if crate::SHARED_TYPES.contains(&rtype) && (org.is_empty() || shared != Some(org)) {
                return Err(Denied::NotShared {
                    rtype: rtype.to_string(),
                });
            }
        }
        if let (Category::SafetyEvent, Some(me)) = (category_of(rtype), self.reporter()) {
            // Anyone reports (in their own name, or anonymously) about the patients they
            // reach; they read back only what they reported, whoever it is about.
            let mine = shared == Some(me.as_str());
            if !write {
                return if mine {
                    Ok(())
                } else {
                    Err(Denied::SafetyReport { write: false })
                };
            }
            if shared.is_some() && !mine {
                return Err(Denied::SafetyReport { write: true });
            }
            return match patients.iter().find(|p| !self.reach.contains(p.as_ref())) {
                Some(p) => Err(Denied::Patient(format!(
                    "Patient/{}",
                    p.as_ref().trim_start_matches("Patient/")
                ))),
                None => Ok(()),
            };
        }
        if !self.reaches_all(rtype) {
            if let Some(p) = patients.iter().find(|p| !self.reach.contains(p.as_ref())) {
                let id = p.as_ref().trim_start_matches("Patient/");
                return Err(Denied::Patient(format!("Patient/{id}")));
            }
        }
        Ok(())
    }

    /// The words of a refusal, for the OperationOutcome.
    pub fn explain(&self, d: &Denied) -> String {
        let (role, scoped) = match &self.who {
            Who::System => ("Tend".to_string(), false),
            Who::Caller(p) => (p.role.title().to_string(), p.scopes.is_some()),
        };
        match d {
            Denied::Type { rtype, write } => format!(
                "the {role} role{} may not {} {rtype}",
                if scoped {
                    " with this token's scopes"
                } else {
                    ""
                },
                if *write { "write" } else { "read" }
            ),
            Denied::Restricted => {
                "this record is restricted (sensitive): your role does not include it".into()
            }
            Denied::SafetyReport { write: false } => "safety-event reports are seen by the safety team and by the person who filed them (in their own name)".into(),
            Denied::SafetyReport { write: true } => "a safety-event report is filed in your own name or anonymously, and once filed only the safety team changes it".into(),
            Denied::NotShared { rtype } => format!(
                "this {rtype} was not shared with your organisation: community partners see only the referrals sent to them"
            ),
            Denied::Patient(patient) => {
                let clinical = self
                    .principal()
                    .is_some_and(|p| p.may(Permission::BreakGlass));
                if clinical {
                    format!(
                        "{patient} is not in your care (ward, care team or outreach list); to proceed in an emergency, break the glass giving the reason (on the chart's page, or through the API in an x-break-glass header); it is recorded and reviewed"
                    )
                } else {
                    format!("the {role} role does not reach patient records ({patient})")
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Role, Via};

    fn person(role: Role) -> Principal {
        Principal {
            id: "u".into(),
            name: "U".into(),
            role,
            practitioner: None,
            wards: vec![],
            organization: None,
            scopes: None,
            via: Via::Session,
        }
    }

    fn reach(ids: &[&str]) -> Reach {
        Reach::Patients(ids.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn a_nurse_reaches_her_patients_only() {
        let a = Access::caller(person(Role::Nurse), reach(&["a"]), None);
        assert_eq!(
            a.check("Observation", false, &["Patient/a"], false, None),
            Ok(())
        );
        assert_eq!(
            a.check(
                "Observation",
                true,
                &["Patient/a", "Patient/x"],
                false,
                None
            ),
            Err(Denied::Patient("Patient/x".into()))
        );
        assert_eq!(a.check::<&str>("Location", false, &[], false, None), Ok(()));
        assert!(matches!(
            a.check::<&str>("Location", true, &[], false, None),
            Err(Denied::Type { .. })
        ));
        assert_eq!(
            a.check("Observation", false, &["a"], true, None),
            Err(Denied::Restricted)
        );
        assert!(matches!(
            a.check("AuditEvent", false, &["a"], false, None),
            Err(Denied::Type { .. })
        ));
    }

    #[test]
    fn the_glass_opens_every_patient_but_not_restricted_records() {
        let a = Access::caller(
            person(Role::Nurse),
            reach(&[]),
            Some("cardiac arrest on the corridor".into()),
        );
        assert_eq!(a.check("Observation", false, &["x"], false, None), Ok(()));
        assert_eq!(
            a.check("Observation", false, &["x"], true, None),
            Err(Denied::Restricted)
        );
        // Roles that may not break the glass gain nothing from saying so.
        let q = Access::caller(
            person(Role::QualityOfficer),
            Reach::All,
            Some("I would like to see".into()),
        );
        assert_eq!(q.reach(), &Reach::none());
        assert!(q.break_glass().is_none());
    }

    #[test]
    fn case_review_reads_the_patients_behind_a_number_and_nothing_else() {
        let ids = |xs: &[&str]| xs.iter().map(|x| x.to_string()).collect();
        let q = Access::measure_cases(person(Role::QualityOfficer), ids(&["a"])).unwrap();
        assert_eq!(q.check("Patient", false, &["a"], false, None), Ok(()));
        assert_eq!(
            q.check("Patient", false, &["b"], false, None),
            Err(Denied::Patient("Patient/b".into()))
        );
        assert!(matches!(
            q.check("Patient", true, &["a"], false, None),
            Err(Denied::Type { .. })
        ));
        assert!(matches!(
            q.check("Observation", false, &["a"], false, None),
            Err(Denied::Type { .. })
        ));
        // The role alone reads no Patient; other roles get no case review.
        let plain = Access::caller(person(Role::QualityOfficer), reach(&["a"]), None);
        assert!(plain.check("Patient", false, &["a"], false, None).is_err());
        for r in [Role::SafetyReviewer, Role::Nurse, Role::Administrator] {
            assert!(
                Access::measure_cases(person(r), ids(&["a"])).is_none(),
                "{r}"
            );
        }
    }

    #[test]
    fn audit_and_safety_events_are_reached_by_permission() {
        let p = Access::caller(person(Role::PrivacyOfficer), reach(&[]), None);
        assert_eq!(p.check("AuditEvent", false, &["x"], false, None), Ok(()));
        assert!(p.check("Observation", false, &["x"], false, None).is_err());
        let s = Access::caller(person(Role::SafetyReviewer), reach(&[]), None);
        assert_eq!(s.check("AdverseEvent", false, &["x"], false, None), Ok(()));
        assert_eq!(s.reporter(), None);
        assert_eq!(s.may_revise("AdverseEvent"), Ok(()));
        let n = Access::caller(person(Role::Nurse), reach(&["x"]), None);
        assert!(n.check("AdverseEvent", false, &["x"], false, None).is_err());
    }

    #[test]
    fn staff_file_safety_reports_and_read_back_only_their_own() {
        // `person` has id "u": its practitioner is Practitioner/u.
        let n = Access::caller(person(Role::Nurse), reach(&["x"]), None);
        let me = Some("Practitioner/u");
        let other = Some("Practitioner/someone-else");
        assert_eq!(n.reporter().as_deref(), me);
        // Filing: in one's own name or anonymously, about patients one reaches.
        assert_eq!(n.check("AdverseEvent", true, &["x"], false, me), Ok(()));
        assert_eq!(n.check("AdverseEvent", true, &["x"], false, None), Ok(()));
        assert_eq!(
            n.check("AdverseEvent", true, &["x"], false, other),
            Err(Denied::SafetyReport { write: true })
        );
        assert_eq!(
            n.check("AdverseEvent", true, &["y"], false, me),
            Err(Denied::Patient("Patient/y".into()))
        );
        // Reading: one's own, whoever the patient; never another's or an anonymous one.
        assert_eq!(n.check("AdverseEvent", false, &["y"], false, me), Ok(()));
        assert_eq!(
            n.check("AdverseEvent", false, &["x"], false, other),
            Err(Denied::SafetyReport { write: false })
        );
        assert!(n.check("AdverseEvent", false, &["x"], false, None).is_err());
        assert_eq!(
            n.may_revise("AdverseEvent"),
            Err(Denied::SafetyReport { write: true })
        );
        assert_eq!(n.may_revise("Observation"), Ok(()));
        // A quality officer, who reaches no patient, files reports with no patient.
        let q = Access::caller(person(Role::QualityOfficer), reach(&["x"]), None);
        assert_eq!(
            q.check("AdverseEvent", true, &[] as &[&str], false, me),
            Ok(())
        );
        assert!(q.check("AdverseEvent", true, &["x"], false, me).is_err());
    }

    #[test]
    fn a_partner_reaches_what_was_shared_with_its_organisation_only() {
        let mut p = person(Role::CommunityPartner);
        p.organization = Some("food-bank".into());
        let a = Access::caller(p, reach(&["a"]), None);
        assert_eq!(
            a.check("Task", false, &["a"], false, Some("food-bank")),
            Ok(())
        );
        assert_eq!(
            a.check("Task", true, &["a"], false, Some("food-bank")),
            Ok(())
        );
        assert!(matches!(
            a.check("Task", false, &["a"], false, Some("shelter")),
            Err(Denied::NotShared { .. })
        ));
        assert!(matches!(
            a.check("Task", true, &["a"], false, None),
            Err(Denied::NotShared { .. })
        ));
        assert!(a
            .check("ServiceRequest", true, &["a"], false, Some("food-bank"))
            .is_err());
        assert_eq!(a.check("Patient", false, &["a"], false, None), Ok(()));
        assert!(a.check("Patient", false, &["b"], false, None).is_err());
        assert!(a
            .check("Task", false, &["a"], true, Some("food-bank"))
            .is_err());
        assert!(a.check("Observation", false, &["a"], false, None).is_err());
        let patient =
            serde_json::json!({"resourceType": "Patient", "identifier": [{"value": "1"}]});
        let cut = a.shape_patient(&patient);
        assert!(cut.get("identifier").is_none());
        // Without an organisation, nothing is shared with it.
        let lost = Access::caller(person(Role::CommunityPartner), reach(&["a"]), None);
        assert!(lost.check("Task", false, &["a"], false, Some("")).is_err());
        // Everyone else is not narrowed by sharing.
        let n = Access::caller(person(Role::Navigator), reach(&["a"]), None);
        assert_eq!(n.check("Task", false, &["a"], false, None), Ok(()));
    }

    #[test]
    fn system_reaches_everything() {
        let s = Access::system();
        assert!(s.is_system());
        assert_eq!(s.check("AuditEvent", true, &["x"], true, None), Ok(()));
    }
}
