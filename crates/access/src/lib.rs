//! Who may do what in Tend. Pure: no IO, no clock.
//!
//! - [`Role`]s and [`Permission`]s, with the one table that joins them ([`MATRIX`],
//!   printed in `README.md` and checked against it by a test);
//! - [`Principal`]: a signed-in person or an authenticated service, with its role, wards and
//!   (for services and API tokens) SMART [`Scopes`];
//! - care relationships ([`Relationship`]) and break-the-glass reasons ([`BreakGlass`]);
//! - sensitive data ([`sensitive`]): interpersonal-safety screening answers and records
//!   labelled restricted, which only some roles see;
//! - records shared with a community organisation ([`shared_with`]): all a community
//!   partner sees;
//! - password rules ([`password_problems`]).

mod password;
mod reach;
mod role;
mod scope;
mod sensitive;
mod shared;

pub use password::{password_problems, MIN_PASSWORD_LEN};
pub use reach::{Access, Denied, Reach};
use role::Category;
pub use role::{matrix_markdown, Permission, Role, MATRIX};
pub use scope::{ScopeError, Scopes};
pub use sensitive::{sensitive, INTERPERSONAL_SAFETY_LOINC};
pub use shared::{partner_patient, shared_with, PARTNER_PATIENT, SHARED_TYPES};

use serde::{Deserialize, Serialize};

/// Patients a response showed (`Patient/ID`), for its audit record, when its body does not
/// say (web pages and CDS Hooks cards put them in the response's extensions).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Seen(pub Vec<String>);

/// How a principal proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Via {
    /// A web session after signing in with a password (or single sign-on).
    Session,
    /// A person's API token (`tend users token`).
    ApiToken,
    /// A SMART backend-services access token (client credentials with a signed assertion).
    Smart,
    /// A CDS Hooks client's signed JWT (the EHR calling Tend's CDS services).
    CdsHooks,
}

/// Someone or something making a request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Principal {
    /// The account's user name, or the service's client id.
    pub id: String,
    /// Display name.
    pub name: String,
    pub role: Role,
    /// `Practitioner/ID` of a person, when the account is linked to one.
    pub practitioner: Option<String>,
    /// Wards (`Location/ID`) of the person's role; empty means none (not "all").
    pub wards: Vec<String>,
    /// The organisation (`Organization` id) a community partner works for: the one whose
    /// referrals it sees.
    #[serde(default)]
    pub organization: Option<String>,
    /// What a token may do (services and API tokens); sessions have their role's full set.
    pub scopes: Option<Scopes>,
    pub via: Via,
}

impl Principal {
    /// Whether the principal's role grants `p` (and, for tokens, whether a scope allows the
    /// matching kind of access).
    pub fn may(&self, p: Permission) -> bool {
        self.role.grants(p)
    }

    /// Whether this principal may read (`write == false`) or write resources of `rtype`
    /// through the FHIR API: the role's permissions, narrowed by the token's scopes.
    pub fn may_fhir(&self, rtype: &str, write: bool) -> bool {
        let by_role = self.role.fhir(rtype, write);
        match &self.scopes {
            Some(s) => by_role && s.allows(rtype, write),
            None => by_role,
        }
    }

    /// Whether this principal's reach to patients is limited to its care relationships
    /// (people) rather than granted by scope (integration services).
    pub fn needs_relationship(&self) -> bool {
        self.role != Role::IntegrationService
    }

    /// Who this is, for audit records and pages: "Name (role)".
    pub fn label(&self) -> String {
        format!("{} ({})", self.name, self.role.title())
    }
}

/// Why a person may reach a patient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Relationship {
    /// The patient is an inpatient on one of the person's wards.
    Ward { ward: String },
    /// The patient is an inpatient and the person's team covers the whole hospital
    /// (rapid response).
    Hospital,
    /// The person is a member of the patient's active care team.
    CareTeam { team: String },
    /// The patient is on the navigator's outreach worklist (an open care gap).
    Outreach,
    /// A community partner: the patient was referred to the person's organisation.
    Referral { organization: String },
    /// No relationship: reached by breaking the glass with this reason.
    BrokeGlass { reason: String },
}

/// A break-the-glass reason as typed by the person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakGlass(String);

/// The shortest reason accepted: a few words, not "x".
pub const MIN_REASON_LEN: usize = 10;

impl BreakGlass {
    /// A typed reason, trimmed; refused when too short or not words.
    pub fn new(reason: &str) -> Result<BreakGlass, String> {
        let r = reason.split_whitespace().collect::<Vec<_>>().join(" ");
        if r.chars().count() < MIN_REASON_LEN || r.chars().filter(|c| c.is_alphabetic()).count() < 5
        {
            return Err(format!(
                "give the clinical reason in words (at least {MIN_REASON_LEN} characters)"
            ));
        }
        if r.chars().count() > 500 {
            return Err("the reason is limited to 500 characters".into());
        }
        Ok(BreakGlass(r))
    }

    pub fn reason(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn break_glass_needs_a_reason_in_words() {
        assert!(BreakGlass::new("x").is_err());
        assert!(BreakGlass::new("1234567890123").is_err());
        assert!(BreakGlass::new("   ").is_err());
        let b = BreakGlass::new("  covering  night shift on 4 West ").unwrap();
        assert_eq!(b.reason(), "covering night shift on 4 West");
        assert!(BreakGlass::new(&"a".repeat(501)).is_err());
    }

    #[test]
    fn scopes_narrow_a_role() {
        let p = Principal {
            id: "n".into(),
            name: "N".into(),
            role: Role::Nurse,
            practitioner: None,
            wards: vec![],
            organization: None,
            scopes: Some(Scopes::parse("user/Observation.read").unwrap()),
            via: Via::ApiToken,
        };
        assert!(p.may_fhir("Observation", false));
        assert!(!p.may_fhir("Observation", true));
        assert!(!p.may_fhir("Condition", false));
        assert!(p.needs_relationship());
    }
}
