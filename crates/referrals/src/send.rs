//! Sending a referral: the patient's consent, the request and the Task, in one write.

use chrono::{DateTime, Utc};
use community::directory::fhir::fhir_id;
use community::{ConsentFacts, Ids, Requester};
use store::{Access, Entry, Mode, WriteOp};

use crate::{Error, Referrals};

/// What the social worker (or navigator) sends.
#[derive(Debug, Clone)]
pub struct NewReferral {
    /// The patient's id.
    pub patient: String,
    /// The service referred to (its directory id, as `community::Service::id`).
    pub service: String,
    /// The need (SDOHCC category code).
    pub need: String,
    /// `Condition/ID` or `Observation/ID`: the confirmed need or the answers behind it.
    pub reasons: Vec<String>,
    /// For the partner.
    pub note: Option<String>,
    /// The patient asked not to be contacted by the partner directly.
    pub contact_prohibited: bool,
    /// The consent to share; a referral is not sent without it.
    pub consent: Option<ConsentFacts>,
}

impl Referrals {
    /// Send a referral as `by` with the caller's access; returns the Task's id.
    pub fn send(
        &self,
        access: &Access,
        by: &access::Principal,
        r: NewReferral,
        now: DateTime<Utc>,
    ) -> Result<String, Error> {
        let directory = self.directory()?;
        let service = directory
            .service(&r.service)
            .ok_or_else(|| Error::Invalid("That service is no longer in the directory.".into()))?;
        let key = uuid::Uuid::new_v4().simple().to_string();
        let ids = Ids {
            consent: format!("sdoh-consent-{key}"),
            service_request: format!("sdoh-sr-{key}"),
            task: format!("sdoh-task-{key}"),
        };
        let requester = match &by.practitioner {
            Some(p) => Requester::Reference {
                reference: p.clone(),
                name: by.name.clone(),
            },
            None => Requester::Name(by.name.clone()),
        };
        let made = community::referral(&community::NewReferral {
            ids: ids.clone(),
            patient: format!("Patient/{}", r.patient),
            requester,
            hospital: format!("Organization/{}", self.config.hospital),
            service: fhir_id(&service.id),
            service_name: service.name.clone(),
            recipient: fhir_id(&service.organization.id),
            recipient_name: service.organization.name.clone(),
            need: r.need,
            reasons: r.reasons,
            note: r.note,
            contact_prohibited: r.contact_prohibited,
            consent: r.consent,
            now,
        })?;
        let entries = [made.consent, made.service_request, made.task]
            .into_iter()
            .map(|res| Entry {
                full_url: None,
                op: WriteOp::Create {
                    id: res["id"].as_str().unwrap_or_default().to_string(),
                    resource: res,
                    if_none_exist: None,
                },
            })
            .collect();
        for w in self.store.write(access, entries, Mode::Atomic)? {
            w?;
        }
        Ok(ids.task)
    }
}
