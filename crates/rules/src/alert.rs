//! The alert policy: which band raises an alert, by when it must be answered, who answers
//! it and to whom it escalates when nobody does. Platform policy built on RCP NEWS2 Chart 4
//! (`clinical/early-warning.md` §1.4): the time limits (urgent assessment within 1 h for a
//! medium score, emergency assessment within 30 min for a high one) are common trust
//! protocols, configurable per hospital.
//!
//! Children are scored with the national PEWS (`pews`): a PEWS escalation level of medium,
//! high or emergency raises an alert through the same lifecycle, due by the chart's medical
//! review timing (table P10: within 30 min, within 15 min, immediate).
//!
//! Lifecycle: raised → acknowledged (who, when) → response recorded (what was done) →
//! resolved. An alert not acknowledged by its deadline escalates one step up its ladder,
//! and again each further deadline interval, until the ladder's last role.

use serde::Serialize;

use crate::news2::Band;
use crate::pews;

/// What raised an alert: a NEWS2 band or a PEWS escalation level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Trigger {
    News2(Band),
    Pews(pews::Level),
}

impl Trigger {
    /// The score's code (`news2`, `pews`).
    pub fn score_code(self) -> &'static str {
        match self {
            Trigger::News2(_) => "news2",
            Trigger::Pews(_) => "pews",
        }
    }

    /// The score's name as people read it.
    pub fn score_name(self) -> &'static str {
        match self {
            Trigger::News2(_) => "NEWS2",
            Trigger::Pews(_) => "PEWS",
        }
    }

    /// The band's or level's code (`low-medium`, `medium`, `high`; `emergency`).
    pub fn level_code(self) -> &'static str {
        match self {
            Trigger::News2(b) => b.code(),
            Trigger::Pews(l) => l.code(),
        }
    }

    pub fn level_display(self) -> &'static str {
        match self {
            Trigger::News2(b) => b.display(),
            Trigger::Pews(l) => l.display(),
        }
    }

    /// From a score code and a band or level code.
    pub fn parse(score: &str, level: &str) -> Option<Trigger> {
        match score {
            "news2" => Band::parse(level).map(Trigger::News2),
            "pews" => pews::Level::parse(level).map(Trigger::Pews),
            _ => None,
        }
    }

    /// How urgent the alert is, comparable across the two scores by the time they allow:
    /// NEWS2 low-medium 1; NEWS2 medium and PEWS medium 2; NEWS2 high and PEWS high 3
    /// (emergency assessment, rapid review); PEWS emergency 4 (an immediate emergency call).
    /// 0 for what raises no alert.
    pub fn urgency(self) -> u8 {
        match self {
            Trigger::News2(Band::LowMedium) => 1,
            Trigger::News2(Band::Medium) | Trigger::Pews(pews::Level::Medium) => 2,
            Trigger::News2(Band::High) | Trigger::Pews(pews::Level::High) => 3,
            Trigger::Pews(pews::Level::Emergency) => 4,
            _ => 0,
        }
    }
}

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
    /// PEWS medium, high and emergency (children).
    pub pews_medium: BandPolicy,
    pub pews_high: BandPolicy,
    pub pews_emergency: BandPolicy,
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
            // PEWS: the chart's medical review timing (table P10) is the deadline; the
            // ladders follow the chart's responses (medium: medical review by ST3+ or
            // equivalent; high: a rapid review with airway skills and the outreach nurse;
            // emergency: the 2222 "Paediatric Medical Emergency" call, consultant informed).
            pews_medium: BandPolicy {
                deadline_minutes: pews_review_minutes(pews::Level::Medium),
                ladder: vec![
                    Role::SpecialistRegistrar,
                    Role::RapidResponseTeam,
                    Role::Consultant,
                ],
            },
            pews_high: BandPolicy {
                deadline_minutes: pews_review_minutes(pews::Level::High),
                ladder: vec![
                    Role::RapidResponseTeam,
                    Role::CriticalCareOutreach,
                    Role::Consultant,
                ],
            },
            pews_emergency: BandPolicy {
                deadline_minutes: pews_review_minutes(pews::Level::Emergency),
                ladder: vec![Role::RapidResponseTeam, Role::Consultant],
            },
            continuous_minutes: 15,
        }
    }
}

/// The acknowledgement deadline of a PEWS level: the chart's medical review timing (30 min
/// medium, 15 min high). "Immediate" (emergency) becomes 5 minutes: a deadline of zero would
/// be past as it is raised and climb the ladder at the first check, before anyone could
/// acknowledge; the emergency call itself is still made at once, as the chart's response
/// (the alert's required response) says.
fn pews_review_minutes(level: pews::Level) -> u32 {
    const IMMEDIATE: u32 = 5;
    match level.medical_review_minutes() {
        Some(0) | None => IMMEDIATE,
        Some(m) => m,
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

    /// The policy of an alert trigger (None for what raises no alert: NEWS2 zero and low,
    /// PEWS none and low).
    pub fn trigger(&self, t: Trigger) -> Option<&BandPolicy> {
        match t {
            Trigger::News2(b) => self.band(b),
            Trigger::Pews(pews::Level::Medium) => Some(&self.pews_medium),
            Trigger::Pews(pews::Level::High) => Some(&self.pews_high),
            Trigger::Pews(pews::Level::Emergency) => Some(&self.pews_emergency),
            Trigger::Pews(_) => None,
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
        self.escalation_level_of(Trigger::News2(band), deadline_ms, now_ms)
    }

    /// [`Policy::escalation_level`] for any trigger.
    pub fn escalation_level_of(&self, t: Trigger, deadline_ms: i64, now_ms: i64) -> usize {
        let Some(p) = self.trigger(t) else { return 0 };
        if now_ms < deadline_ms || p.ladder.len() < 2 {
            return 0;
        }
        let step = i64::from(p.deadline_minutes.max(1)) * 60_000;
        let level = 1 + ((now_ms - deadline_ms) / step) as usize;
        level.min(p.ladder.len() - 1)
    }

    /// When the escalation after `level` happens (None at the top of the ladder).
    pub fn next_escalation_ms(&self, band: Band, deadline_ms: i64, level: usize) -> Option<i64> {
        self.next_escalation_ms_of(Trigger::News2(band), deadline_ms, level)
    }

    /// [`Policy::next_escalation_ms`] for any trigger.
    pub fn next_escalation_ms_of(&self, t: Trigger, deadline_ms: i64, level: usize) -> Option<i64> {
        let p = self.trigger(t)?;
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

    #[test]
    fn pews_deadlines_are_the_charts_review_timings() {
        let p = Policy::default();
        let minutes = |l| p.trigger(Trigger::Pews(l)).map(|b| b.deadline_minutes);
        assert_eq!(minutes(pews::Level::Low), None);
        assert_eq!(minutes(pews::Level::Medium), Some(30));
        assert_eq!(minutes(pews::Level::High), Some(15));
        assert_eq!(minutes(pews::Level::Emergency), Some(5));
        assert_eq!(
            Trigger::parse("pews", "emergency"),
            Some(Trigger::Pews(pews::Level::Emergency))
        );
        assert!(
            Trigger::Pews(pews::Level::Emergency).urgency() > Trigger::News2(Band::High).urgency()
        );
    }
}
