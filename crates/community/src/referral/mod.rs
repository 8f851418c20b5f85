//! Closed-loop referrals to community partners, in the shapes of the HL7 SDOH Clinical Care
//! IG (<https://hl7.org/fhir/us/sdoh-clinicalcare/>, STU 2.x, and the STU 3 ballot where it
//! adds capacity): "Closed-Loop Referral Workflow", SDOHCC Consent, SDOHCC ServiceRequest and
//! SDOHCC Task For Referral Management.
//!
//! - [`referral()`] ([`create`]): a new referral as its three resources, refused without the
//!   patient's consent to share;
//! - [`apply`] ([`task`]): the hospital ([`Party::Sender`]) or the partner
//!   ([`Party::Recipient`]) moves the Task under the transition table `data/transitions.json`
//!   (the IG's "Status Management" table and the FHIR Task state machine; Tend's choices are
//!   written in the file), with reasons and outcomes from `data/reasons.json`;
//! - [`read`]: a Task as what the pages and reports need;
//! - [`follow_up_due`]: when to ask "was the need met?".

pub mod create;
pub mod task;

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;

pub use create::{
    referral, ConsentFacts, ConsentGiver, ConsentMethod, Ids, NewReferral, Referral, Requester,
};
pub use task::{
    apply, follow_up, follow_up_due, read, Change, Note, Outcome, Reason, ReferralState,
    StatusReason, DEFAULT_FOLLOW_UP_DAYS,
};

/// A referral Task's status: the FHIR R4 Task.status codes the IG's referral workflow uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    Requested,
    Received,
    Accepted,
    Rejected,
    InProgress,
    OnHold,
    Completed,
    Cancelled,
    Failed,
}

impl Status {
    pub const ALL: [Status; 9] = [
        Status::Requested,
        Status::Received,
        Status::Accepted,
        Status::Rejected,
        Status::InProgress,
        Status::OnHold,
        Status::Completed,
        Status::Cancelled,
        Status::Failed,
    ];

    /// The FHIR code.
    pub fn code(self) -> &'static str {
        match self {
            Status::Requested => "requested",
            Status::Received => "received",
            Status::Accepted => "accepted",
            Status::Rejected => "rejected",
            Status::InProgress => "in-progress",
            Status::OnHold => "on-hold",
            Status::Completed => "completed",
            Status::Cancelled => "cancelled",
            Status::Failed => "failed",
        }
    }

    pub fn from_code(code: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.code() == code)
    }

    /// What the pages say ("Declined by the partner").
    pub fn words(self) -> &'static str {
        &Rules::shipped().info(self).words
    }

    /// Whether the referral has ended.
    pub fn is_terminal(self) -> bool {
        Rules::shipped().info(self).terminal
    }
}

/// "in progress", for sentences.
impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&Rules::shipped().info(*self).display.to_lowercase())
    }
}

/// Who changes a referral.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Party {
    /// The hospital's staff, who sent it (the IG's referral source, "requester").
    Sender,
    /// The community partner it was sent to (the IG's performer, "responder").
    Recipient,
}

impl Party {
    pub fn code(self) -> &'static str {
        match self {
            Party::Sender => "sender",
            Party::Recipient => "recipient",
        }
    }
}

impl fmt::Display for Party {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Party::Sender => "the hospital",
            Party::Recipient => "the community partner",
        })
    }
}

#[derive(Debug, Clone, Deserialize)]
struct StatusInfo {
    code: String,
    words: String,
    display: String,
    #[serde(default)]
    terminal: bool,
    #[serde(default)]
    reason_required: bool,
}

#[derive(Debug, Clone, Deserialize)]
struct Transition {
    party: Party,
    from: String,
    to: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct Transitions {
    statuses: Vec<StatusInfo>,
    transitions: Vec<Transition>,
}

/// A coded reason: why a referral was declined, cancelled, failed or paused, or why a need
/// was not met.
#[derive(Debug, Clone, Deserialize)]
pub struct ReasonCode {
    pub code: String,
    pub words: String,
    /// The statuses it explains (status reasons only).
    #[serde(default)]
    statuses: Vec<String>,
    /// "Other": the words are required.
    #[serde(default)]
    pub text_required: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Coded {
    pub(crate) code: String,
    pub(crate) words: String,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Parameters {
    pub(crate) outcome: Coded,
    pub(crate) reason: Coded,
    pub(crate) service: Coded,
}

#[derive(Debug, Clone, Deserialize)]
struct Reasons {
    status_reason_system: String,
    outcome_system: String,
    parameter_system: String,
    status_reasons: Vec<ReasonCode>,
    outcomes: Vec<Coded>,
    outcome_reasons: Vec<ReasonCode>,
    parameters: Parameters,
    outcome_statuses: BTreeMap<String, Vec<String>>,
}

/// The referral rules Tend ships: `data/transitions.json` and `data/reasons.json`.
#[derive(Debug, Clone)]
pub struct Rules {
    statuses: Vec<StatusInfo>,
    allowed: Vec<(Party, Status, Status)>,
    reasons: Reasons,
}

impl Rules {
    pub fn shipped() -> &'static Rules {
        static R: std::sync::OnceLock<Rules> = std::sync::OnceLock::new();
        R.get_or_init(|| {
            let t: Transitions = serde_json::from_str(include_str!("../../data/transitions.json"))
                .expect("data/transitions.json holds the transition table");
            let reasons: Reasons = serde_json::from_str(include_str!("../../data/reasons.json"))
                .expect("data/reasons.json holds the referral reasons");
            let status = |code: &str| {
                Status::from_code(code)
                    .unwrap_or_else(|| panic!("data/transitions.json: {code} is not a status"))
            };
            let statuses = Status::ALL
                .iter()
                .map(|s| {
                    t.statuses
                        .iter()
                        .find(|i| i.code == s.code())
                        .unwrap_or_else(|| panic!("data/transitions.json lacks {}", s.code()))
                        .clone()
                })
                .collect();
            let mut allowed = Vec::new();
            for tr in &t.transitions {
                for to in &tr.to {
                    allowed.push((tr.party, status(&tr.from), status(to)));
                }
            }
            for r in &reasons.status_reasons {
                for s in &r.statuses {
                    status(s);
                }
            }
            for (s, outcomes) in &reasons.outcome_statuses {
                status(s);
                for o in outcomes {
                    assert!(
                        reasons.outcomes.iter().any(|x| &x.code == o),
                        "data/reasons.json: {o} is not an outcome"
                    );
                }
            }
            Rules {
                statuses,
                allowed,
                reasons,
            }
        })
    }

    fn info(&self, s: Status) -> &StatusInfo {
        &self.statuses[Status::ALL.iter().position(|x| *x == s).unwrap_or(0)]
    }

    /// Whether `party` may move a referral from `from` to `to`.
    pub fn allows(&self, party: Party, from: Status, to: Status) -> bool {
        self.allowed.contains(&(party, from, to))
    }

    /// Where `party` may move a referral that is `from` (for the buttons on a page).
    pub fn next(&self, party: Party, from: Status) -> Vec<Status> {
        self.allowed
            .iter()
            .filter(|(p, f, _)| *p == party && *f == from)
            .map(|(_, _, t)| *t)
            .collect()
    }

    /// Whether moving to `status` needs a reason.
    pub fn reason_required(&self, status: Status) -> bool {
        self.info(status).reason_required
    }

    /// The reasons that explain `status`.
    pub fn status_reasons(&self, status: Status) -> Vec<&ReasonCode> {
        self.reasons
            .status_reasons
            .iter()
            .filter(|r| r.statuses.iter().any(|s| s == status.code()))
            .collect()
    }

    /// Why a need may not have been met.
    pub fn outcome_reasons(&self) -> &[ReasonCode] {
        &self.reasons.outcome_reasons
    }

    pub(crate) fn status_reason(&self, code: &str) -> Option<&ReasonCode> {
        self.reasons.status_reasons.iter().find(|r| r.code == code)
    }

    pub(crate) fn outcome_reason(&self, code: &str) -> Option<&ReasonCode> {
        self.reasons.outcome_reasons.iter().find(|r| r.code == code)
    }

    pub(crate) fn outcome_words<'a>(&'a self, code: &'a str) -> &'a str {
        self.reasons
            .outcomes
            .iter()
            .find(|o| o.code == code)
            .map(|o| o.words.as_str())
            .unwrap_or(code)
    }

    /// Whether outcome `code` goes with a referral that ended `status`.
    pub(crate) fn outcome_fits(&self, code: &str, status: Status) -> bool {
        self.reasons
            .outcome_statuses
            .get(status.code())
            .is_some_and(|o| o.iter().any(|x| x == code))
    }

    pub(crate) fn status_reason_system(&self) -> &str {
        &self.reasons.status_reason_system
    }

    pub(crate) fn outcome_system(&self) -> &str {
        &self.reasons.outcome_system
    }

    pub(crate) fn parameter_system(&self) -> &str {
        &self.reasons.parameter_system
    }

    pub(crate) fn parameters(&self) -> &Parameters {
        &self.reasons.parameters
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rules_load_and_every_terminal_status_is_a_dead_end() {
        let r = Rules::shipped();
        for s in Status::ALL {
            assert_eq!(Status::from_code(s.code()), Some(s));
            for p in [Party::Sender, Party::Recipient] {
                assert_eq!(
                    s.is_terminal(),
                    r.next(p, s).is_empty(),
                    "{p} from {s}: terminal statuses lead nowhere, others somewhere"
                );
            }
            if r.reason_required(s) {
                assert!(
                    !r.status_reasons(s).is_empty(),
                    "{s} needs reasons to choose from"
                );
            }
        }
        assert_eq!(Status::InProgress.to_string(), "in progress");
        assert_eq!(Status::Rejected.words(), "Declined by the partner");
    }
}
