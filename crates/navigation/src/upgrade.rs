//! Consultant upgrade (NHS England, National Cancer Waiting Times Monitoring Dataset Guidance
//! v12.1): the consultant responsible for a patient who was not referred urgently for
//! suspected cancer (or an authorised member of their team) upgrades them onto the 62-day
//! pathway, at any point up to the decision to treat. The 62-day clock starts on the day of the
//! upgrade; the 28-day Faster Diagnosis Standard does not apply.
//!
//! The upgrade is a ServiceRequest coded `pathway-event#consultant-upgrade`, written as the
//! signed-in consultant with their own access; the pathway engine reads it as the
//! `consultant-upgrade` milestone of `nhs-suspected-cancer` (which also refuses an upgrade
//! dated after the decision to treat, `before` in the pathway file).

use chrono::{DateTime, FixedOffset};
use pathways::{ClockStatus, MilestoneStatus};
use serde_json::json;
use store::Access;

use crate::codes;
use crate::record;
use crate::service::Navigation;
use crate::shape::time;
use crate::Error;

/// The pathway and milestone an upgrade completes.
const PATHWAY: &str = "nhs-suspected-cancer";
const MILESTONE: &str = "consultant-upgrade";
/// The clock an upgrade starts.
const CLOCK: &str = "rtt-62";
/// The milestone an upgrade must precede.
const DECISION: &str = "decision-to-treat";

/// A consultant upgrade to record.
#[derive(Debug, Clone)]
pub struct NewUpgrade {
    pub patient: String,
    /// The suspected cancer: a tumour site's label from the site policy.
    pub site: String,
    /// The day the consultant upgraded the patient.
    pub at: DateTime<FixedOffset>,
    /// The clinical reason, in the consultant's words.
    pub reason: String,
}

impl Navigation {
    /// The tumour sites an upgrade can name (the site policy's labels), in its order.
    pub fn upgrade_sites(&self) -> Vec<String> {
        self.site()
            .tumour_sites
            .iter()
            .filter(|s| s.codes.iter().any(|c| !c.code.ends_with('*')))
            .map(|s| s.label.clone())
            .collect()
    }

    /// Why this patient cannot be upgraded now (`None`: they can), judged from the record as
    /// it stands: the site does not run the pathway, the 62-day clock already started (an
    /// urgent, screening or breast-symptomatic referral, or an earlier upgrade), or the
    /// decision to treat was already made.
    pub fn upgrade_refusal(&self, patient: &str) -> Result<Option<String>, Error> {
        let runs = self
            .config
            .site
            .pathways
            .iter()
            .any(|e| e.pathway == PATHWAY && e.entry_milestones.iter().any(|m| m == MILESTONE));
        if !runs || self.pathways().pathway(PATHWAY).is_none() {
            return Ok(Some(
                "This hospital does not run the suspected-cancer pathway.".into(),
            ));
        }
        let (case, _) = self.rebuild(patient)?;
        let ev = match case
            .as_ref()
            .and_then(|c| c.episodes.iter().find(|e| e.pathway == PATHWAY && e.active))
        {
            Some(ep) => ep.evaluation.clone(),
            // Not on the pathway: the decision to treat may still be in the record.
            None => self.decision_only(patient)?,
        };
        let now = self.now();
        let day = |t: DateTime<FixedOffset>| crate::timeline::day(t, now);
        if let Some(c) = ev.clocks.iter().find(|c| {
            c.clock == CLOCK
                && !matches!(
                    c.status,
                    ClockStatus::NotStarted | ClockStatus::NotApplicable
                )
        }) {
            let from = ev
                .milestones
                .iter()
                .find(|m| {
                    m.done
                        .iter()
                        .any(|d| Some(&d.event) == c.start_event.as_ref())
                })
                .map(|m| m.name.to_lowercase())
                .unwrap_or_else(|| "a referral".into());
            return Ok(Some(format!(
                "Already on the 62-day pathway: the clock started on {} ({from}).",
                c.start.map(day).unwrap_or_default()
            )));
        }
        if let Some(d) = ev
            .milestones
            .iter()
            .find(|m| m.id == DECISION && m.status == MilestoneStatus::Done)
            .and_then(|m| m.done.first())
        {
            return Ok(Some(format!(
                "The decision to treat was made on {}; an upgrade must come before it.",
                day(d.at)
            )));
        }
        Ok(None)
    }

    /// The pathway judged from the record's evidence of a decision to treat alone (for a
    /// patient the pathway does not follow yet).
    fn decision_only(&self, patient: &str) -> Result<pathways::Evaluation, Error> {
        let pw = self
            .pathways()
            .pathway(PATHWAY)
            .ok_or_else(|| Error::NotFound(format!("pathway {PATHWAY}")))?;
        let mut types: Vec<&str> = pw
            .milestone(DECISION)
            .map(|m| m.evidence.iter().map(|e| e.resource.name()).collect())
            .unwrap_or_default();
        types.sort_unstable();
        types.dedup();
        let mut events = Vec::new();
        for rtype in types {
            events.extend(
                self.search_patient(rtype, patient)?
                    .iter()
                    .filter_map(|r| record::event(self.zone(), r)),
            );
        }
        Ok(pathways::evaluate(pw, &events, &[], self.now()))
    }

    /// Record a consultant upgrade as `by` (`Practitioner/ID`, the signed-in consultant) with
    /// `access`: refused when [`Navigation::upgrade_refusal`] says so, when the day is in the
    /// future, or without a reason.
    pub fn record_upgrade(&self, access: &Access, by: &str, u: &NewUpgrade) -> Result<(), Error> {
        if !by.starts_with("Practitioner/") {
            return Err(Error::Invalid(
                "Only a clinician with a staff record can upgrade a patient.".into(),
            ));
        }
        let site = self.site();
        let label = site
            .tumour_sites
            .iter()
            .find(|s| s.label == u.site)
            .and_then(|s| {
                s.codes
                    .iter()
                    .find(|c| !c.code.ends_with('*'))
                    .map(|c| (s, c))
            })
            .ok_or_else(|| Error::Invalid("Choose the suspected cancer.".into()))?;
        let reason = u.reason.trim();
        if reason.is_empty() {
            return Err(Error::Invalid(
                "Say why cancer is suspected (the clinical reason).".into(),
            ));
        }
        if u.at.date_naive() > self.today() {
            return Err(Error::Invalid(
                "The upgrade cannot be in the future.".into(),
            ));
        }
        if let Some(why) = self.upgrade_refusal(&u.patient)? {
            return Err(Error::Invalid(why));
        }
        let ((tumour, code), now) = (label, self.now());
        let id = uuid::Uuid::new_v4().to_string();
        let r = json!({
            "resourceType": "ServiceRequest",
            "id": id,
            "status": "active",
            "intent": "order",
            "priority": "urgent",
            "category": [{"coding": [
                {"system": "http://snomed.info/sct", "code": "3457005", "display": "Patient referral"},
                {"system": codes::PATHWAY_EVENT, "code": MILESTONE, "display": "Consultant upgrade"},
            ]}],
            "code": {
                "coding": [{"system": code.system, "code": code.code, "display": tumour.label}],
                "text": format!("Suspected cancer ({}): consultant upgrade", tumour.label),
            },
            "subject": {"reference": format!("Patient/{}", u.patient)},
            "authoredOn": time(u.at),
            "requester": {"reference": by},
            "reasonCode": [{"text": reason.chars().take(1000).collect::<String>()}],
            "note": [{"authorReference": {"reference": by}, "time": time(now), "text": "Consultant upgrade onto the 62-day suspected-cancer pathway."}],
        });
        self.create_as(access, id, r)
    }
}
