//! The alert policy: which band raises an alert, by when it must be answered, who answers
//! it and to whom it escalates when nobody does. Platform policy built on RCP NEWS2 Chart 4
//! (`clinical/early-warning.md` §1.4): the time limits (urgent assessment within 1 h for a
//! medium score, emergency assessment within 30 min for a high one) are common trust
//! protocols, configurable per hospital.
//!
//! Lifecycle: raised → acknowledged (who, when) → response recorded (what was done) →
//! resolved. An alert not acknowledged by its deadline escalates one step up its ladder,
//! and again each further deadline interval, until the ladder's last role.

use serde::Serialize;

use crate::news2::Band;

/// Who must answer an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    RegisteredNurse,
    NurseInCharge,
    MedicalTeam,
    SpecialistRegistrar,
    RapidResponseTeam,
    CriticalCareOutreach,
    Consultant,
}

impl Role {
    pub const ALL: [Role; 7] = [
        Role::RegisteredNurse,
        Role::NurseInCharge,
        Role::MedicalTeam,
        Role::SpecialistRegistrar,
        Role::RapidResponseTeam,
        Role::CriticalCareOutreach,
        Role::Consultant,
    ];

    /// Tend's code for the role (`Task.performerType`).
    pub fn code(self) -> &'static str {
        match self {
            Role::RegisteredNurse => "registered-nurse",
            Role::NurseInCharge => "nurse-in-charge",
            Role::MedicalTeam => "medical-team",
            Role::SpecialistRegistrar => "specialist-registrar",
            Role::RapidResponseTeam => "rapid-response-team",
            Role::CriticalCareOutreach => "critical-care-outreach",
            Role::Consultant => "consultant",
        }
    }

    pub fn display(self) -> &'static str {
        match self {
            Role::RegisteredNurse => "Registered nurse",
            Role::NurseInCharge => "Nurse in charge",
            Role::MedicalTeam => "Medical team",
            Role::SpecialistRegistrar => "Specialist registrar",
            Role::RapidResponseTeam => "Rapid response team",
            Role::CriticalCareOutreach => "Critical care outreach",
            Role::Consultant => "Consultant",
        }
    }

    pub fn parse(code: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.code() == code)
    }
}

/// What was done in response to an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    IncreasedMonitoring,
    MedicalReview,
    RapidResponseCall,
    TransferToHigherCare,
}

impl Action {
    pub const ALL: [Action; 4] = [
        Action::IncreasedMonitoring,
        Action::MedicalReview,
        Action::RapidResponseCall,
        Action::TransferToHigherCare,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Action::IncreasedMonitoring => "increased-monitoring",
            Action::MedicalReview => "medical-review",
            Action::RapidResponseCall => "rapid-response-call",
            Action::TransferToHigherCare => "transfer-to-higher-care",
        }
    }

    pub fn display(self) -> &'static str {
        match self {
            Action::IncreasedMonitoring => "Increased monitoring",
            Action::MedicalReview => "Medical review",
            Action::RapidResponseCall => "Rapid response call",
            Action::TransferToHigherCare => "Transfer to higher level of care",
        }
    }

    pub fn parse(code: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.code() == code)
    }
}

/// How one band is answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BandPolicy {
    /// Minutes from the set's time to the deadline for acknowledgement.
    pub deadline_minutes: u32,
    /// Who answers first, then whom it escalates to, in order.
    pub ladder: Vec<Role>,
}

/// The alert policy of a hospital.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub low_medium: BandPolicy,
    pub medium: BandPolicy,
    pub high: BandPolicy,
    /// Minutes between "next set due" checks for patients on continuous monitoring: a
    /// full set is still expected this often (15).
    pub continuous_minutes: u32,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            low_medium: BandPolicy {
                deadline_minutes: 60,
                ladder: vec![
                    Role::MedicalTeam,
                    Role::SpecialistRegistrar,
                    Role::RapidResponseTeam,
                ],
            },
            medium: BandPolicy {
                deadline_minutes: 60,
                ladder: vec![
                    Role::MedicalTeam,
                    Role::RapidResponseTeam,
                    Role::CriticalCareOutreach,
                ],
            },
            high: BandPolicy {
                deadline_minutes: 30,
                ladder: vec![
                    Role::RapidResponseTeam,
                    Role::CriticalCareOutreach,
                    Role::Consultant,
                ],
            },
            continuous_minutes: 15,
        }
    }
}

impl Policy {
    /// The policy of an alerting band (None for zero and low).
    pub fn band(&self, band: Band) -> Option<&BandPolicy> {
        match band {
            Band::LowMedium => Some(&self.low_medium),
            Band::Medium => Some(&self.medium),
            Band::High => Some(&self.high),
            Band::Zero | Band::Low => None,
        }
    }

    /// Minutes until the next full set is due for a band.
    pub fn next_set_minutes(&self, band: Band) -> u32 {
        match band.monitoring() {
            crate::news2::Monitoring::Every(m) => m,
            crate::news2::Monitoring::Continuous => self.continuous_minutes,
        }
    }

    /// How many escalation steps an alert raised with `deadline_ms` and still not
    /// acknowledged at `now_ms` has taken: 0 before the deadline, 1 at it, one more each
    /// further deadline interval, at most the ladder's last role.
    pub fn escalation_level(&self, band: Band, deadline_ms: i64, now_ms: i64) -> usize {
        let Some(p) = self.band(band) else { return 0 };
        if now_ms < deadline_ms || p.ladder.len() < 2 {
            return 0;
        }
        let step = i64::from(p.deadline_minutes.max(1)) * 60_000;
        let level = 1 + ((now_ms - deadline_ms) / step) as usize;
        level.min(p.ladder.len() - 1)
    }

    /// When the escalation after `level` happens (None at the top of the ladder).
    pub fn next_escalation_ms(&self, band: Band, deadline_ms: i64, level: usize) -> Option<i64> {
        let p = self.band(band)?;
        if level + 1 >= p.ladder.len() {
            return None;
        }
        let step = i64::from(p.deadline_minutes.max(1)) * 60_000;
        Some(deadline_ms + step * level as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escalates_one_step_per_deadline_interval() {
        let p = Policy::default();
        let d = 1_000_000;
        assert_eq!(p.escalation_level(Band::High, d, d - 1), 0);
        assert_eq!(p.escalation_level(Band::High, d, d), 1);
        assert_eq!(p.escalation_level(Band::High, d, d + 30 * 60_000 - 1), 1);
        assert_eq!(p.escalation_level(Band::High, d, d + 30 * 60_000), 2);
        assert_eq!(p.escalation_level(Band::High, d, d + 300 * 60_000), 2);
        assert_eq!(p.next_escalation_ms(Band::High, d, 0), Some(d));
        assert_eq!(
            p.next_escalation_ms(Band::High, d, 1),
            Some(d + 30 * 60_000)
        );
        assert_eq!(p.next_escalation_ms(Band::High, d, 2), None);
        assert_eq!(p.escalation_level(Band::Low, d, d + 1), 0);
    }
}
