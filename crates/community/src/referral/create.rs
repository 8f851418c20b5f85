//! A new referral as the SDOH Clinical Care IG's three resources:
//!
//! - **Consent** (SDOHCC Consent): the patient's (or their representative's) permission to
//!   disclose to the partner. `status` active; `scope` patient-privacy; `category` IDSCL
//!   (information disclosure, the IG's required slice); `patient`; `dateTime` when it was
//!   given; `performer` who gave it; `organization` the hospital; `source` the signed form
//!   (a DocumentReference) or, for verbal consent, an attachment saying how and by whom it was
//!   given; `policyRule` HIPAA Authorization (the disclosure goes to an organisation HIPAA may
//!   not cover, as the IG's Consent page explains); `provision` permit, `actor` the partner
//!   Organization as information recipient (IRCP), `action` disclose, `purpose` coordination
//!   of care (COC), `data` the ServiceRequest alone (`meaning` instance: minimum necessary,
//!   the request carries the need; the screening answers it cites are not shared by it).
//! - **ServiceRequest** (SDOHCC ServiceRequest): `status` active, `intent` order, `category`
//!   SNOMED CT 410606002 and the SDOHCC domain, `code` from `data/referral-codes.json`,
//!   `subject`, `requester`, `performer` the partner Organization, `reasonReference` the
//!   Conditions or Observations behind it, `supportingInfo` the Consent, `authoredOn`, `note`
//!   for the partner, `orderDetail` contacting-subject-prohibited when the patient must not be
//!   contacted (e.g. when contact may put them at risk).
//! - **Task** (SDOHCC Task For Referral Management): `status` requested, `intent` order,
//!   `code` fulfill (`http://hl7.org/fhir/CodeSystem/task-code`), `focus` the ServiceRequest,
//!   `for` the patient, `requester`, `owner` the partner Organization, `authoredOn`,
//!   `lastModified`, `businessStatus` in words, `input` the HealthcareService referred to.
//!   The profile allows a PractitionerRole or an Organization as the Task's requester: a
//!   PractitionerRole requester is used as it is, otherwise the hospital Organization requests
//!   the Task (the ServiceRequest keeps the Practitioner).
//!
//! Ids are the caller's; references are checked for their resource type and id.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

use super::{Rules, Status};
use crate::need::{self, ReferralCodes};
use crate::{Error, MAX_TEXT, SDOHCC};

/// The ids of the three resources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ids {
    pub consent: String,
    pub service_request: String,
    pub task: String,
}

/// Who makes the referral.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requester {
    /// `Practitioner/ID` or `PractitionerRole/ID`, with their name.
    Reference { reference: String, name: String },
    /// A name alone.
    Name(String),
}

/// Who gave consent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsentGiver {
    Patient,
    /// Someone entitled to decide for the patient: `RelatedPerson/ID` when recorded, and
    /// their name.
    Representative {
        reference: Option<String>,
        name: String,
    },
}

/// How consent was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentMethod {
    Verbal,
    Written,
}

/// The facts of the consent to share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentFacts {
    pub given_by: ConsentGiver,
    pub at: DateTime<Utc>,
    pub method: ConsentMethod,
    /// `DocumentReference/ID` of the signed form, for written consent.
    pub document: Option<String>,
}

/// What a social worker sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReferral {
    pub ids: Ids,
    /// `Patient/ID`.
    pub patient: String,
    pub requester: Requester,
    /// `Organization/ID` of the hospital.
    pub hospital: String,
    /// The HealthcareService id of the service referred to, and its name.
    pub service: String,
    pub service_name: String,
    /// The Organization id of the partner that offers it, and its name.
    pub recipient: String,
    pub recipient_name: String,
    /// The need (SDOHCC category code).
    pub need: String,
    /// `Condition/ID` or `Observation/ID`s: the screening answers or problems behind it.
    pub reasons: Vec<String>,
    /// For the partner.
    pub note: Option<String>,
    /// The patient asked not to be contacted by the partner.
    pub contact_prohibited: bool,
    pub consent: Option<ConsentFacts>,
    pub now: DateTime<Utc>,
}

/// A referral's resources.
#[derive(Debug, Clone, PartialEq)]
pub struct Referral {
    pub consent: Value,
    pub service_request: Value,
    pub task: Value,
}

/// FHIR's task codes.
pub const TASK_CODE: &str = "http://hl7.org/fhir/CodeSystem/task-code";

/// A FHIR instant.
pub(crate) fn instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn id(field: &'static str, value: &str) -> Result<(), Error> {
    if fhir::id::is_id(value) {
        Ok(())
    } else {
        Err(Error::Id {
            field,
            value: value.to_string(),
        })
    }
}

/// `value` is `Type/id` for one of `types`.
fn reference(
    field: &'static str,
    value: &str,
    types: &[&str],
    expected: &'static str,
) -> Result<(), Error> {
    let ok = value
        .split_once('/')
        .is_some_and(|(t, id)| types.contains(&t) && fhir::id::is_id(id));
    if ok {
        Ok(())
    } else {
        Err(Error::Reference {
            field,
            value: value.to_string(),
            expected,
        })
    }
}

fn bounded(field: &'static str, text: &str) -> Result<(), Error> {
    if text.chars().count() > MAX_TEXT {
        Err(Error::TooLong(field))
    } else {
        Ok(())
    }
}

fn check(r: &NewReferral) -> Result<&ConsentFacts, Error> {
    id("the consent id", &r.ids.consent)?;
    id("the service request id", &r.ids.service_request)?;
    id("the task id", &r.ids.task)?;
    id("the service", &r.service)?;
    id("the partner", &r.recipient)?;
    reference("the patient", &r.patient, &["Patient"], "Patient/ID")?;
    reference(
        "the hospital",
        &r.hospital,
        &["Organization"],
        "Organization/ID",
    )?;
    if let Requester::Reference { reference: who, .. } = &r.requester {
        reference(
            "the requester",
            who,
            &["Practitioner", "PractitionerRole"],
            "Practitioner/ID or PractitionerRole/ID",
        )?;
    }
    for reason in &r.reasons {
        reference(
            "a reason",
            reason,
            &["Condition", "Observation"],
            "Condition/ID or Observation/ID",
        )?;
    }
    if !need::is_need(&r.need) {
        return Err(Error::UnknownNeed(r.need.clone()));
    }
    if let Some(n) = &r.note {
        bounded("the note", n)?;
    }
    let consent = r.consent.as_ref().ok_or(Error::NoConsent)?;
    if consent.at > r.now {
        return Err(Error::ConsentAfterReferral);
    }
    if let ConsentGiver::Representative {
        reference: Some(who),
        ..
    } = &consent.given_by
    {
        reference(
            "the representative",
            who,
            &["RelatedPerson"],
            "RelatedPerson/ID",
        )?;
    }
    if let Some(d) = &consent.document {
        reference(
            "the consent form",
            d,
            &["DocumentReference"],
            "DocumentReference/ID",
        )?;
    }
    Ok(consent)
}

fn requester_name(r: &Requester) -> &str {
    match r {
        Requester::Reference { name, .. } | Requester::Name(name) => name,
    }
}

fn consent(r: &NewReferral, facts: &ConsentFacts) -> Value {
    let recipient = format!("Organization/{}", r.recipient);
    let (performer, who) = match &facts.given_by {
        ConsentGiver::Patient => (json!({"reference": r.patient}), "the patient".to_string()),
        ConsentGiver::Representative {
            reference: Some(rp),
            name,
        } => (
            json!({"reference": rp, "display": name}),
            format!("{name} for the patient"),
        ),
        ConsentGiver::Representative {
            reference: None,
            name,
        } => (json!({"display": name}), format!("{name} for the patient")),
    };
    let mut c = json!({
        "resourceType": "Consent",
        "id": r.ids.consent,
        "status": "active",
        "scope": {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/consentscope",
            "code": "patient-privacy",
            "display": "Privacy Consent",
        }]},
        "category": [{"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
            "code": "IDSCL",
            "display": "information disclosure",
        }]}],
        "patient": {"reference": r.patient},
        "dateTime": instant(facts.at),
        "performer": [performer],
        "organization": [{"reference": r.hospital}],
    });
    let how = match facts.method {
        ConsentMethod::Verbal => "Verbal",
        ConsentMethod::Written => "Written",
    };
    match &facts.document {
        Some(d) => c["sourceReference"] = json!({"reference": d}),
        None => {
            c["sourceAttachment"] = json!({
                "title": format!(
                    "{how} consent to share this referral with {}, given by {who}, recorded by {}",
                    r.recipient_name,
                    requester_name(&r.requester),
                ),
                "creation": instant(facts.at),
            })
        }
    }
    c["policyRule"] = json!({"coding": [{
        "system": "http://terminology.hl7.org/CodeSystem/consentpolicycodes",
        "code": "hipaa-auth",
        "display": "HIPAA Authorization",
    }]});
    c["provision"] = json!({
        "type": "permit",
        "actor": [{
            "role": {"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                "code": "IRCP",
                "display": "information recipient",
            }]},
            "reference": {"reference": recipient, "display": r.recipient_name},
        }],
        "action": [{"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/consentaction",
            "code": "disclose",
            "display": "Disclose",
        }]}],
        "purpose": [{
            "system": "http://terminology.hl7.org/CodeSystem/v3-ActReason",
            "code": "COC",
            "display": "coordination of care",
        }],
        "data": [{
            "meaning": "instance",
            "reference": {"reference": format!("ServiceRequest/{}", r.ids.service_request)},
        }],
    });
    c
}

fn service_request(r: &NewReferral) -> Value {
    let codes = ReferralCodes::shipped();
    let (concept, text) = codes
        .for_need(&r.need)
        .expect("checked: a need, and every need has a referral code (need.rs tests)");
    let requester = match &r.requester {
        Requester::Reference { reference, name } => {
            json!({"reference": reference, "display": name})
        }
        Requester::Name(name) => json!({"display": name}),
    };
    let mut sr = json!({
        "resourceType": "ServiceRequest",
        "id": r.ids.service_request,
        "status": "active",
        "intent": "order",
        "category": [
            {"coding": [{"system": codes.system, "code": codes.category.code, "display": codes.category.display}]},
            {"coding": [{"system": SDOHCC, "code": r.need}], "text": need::words(&r.need)},
        ],
        "code": {
            "coding": [{"system": codes.system, "code": concept.code, "display": concept.display}],
            "text": text,
        },
    });
    if r.contact_prohibited {
        sr["orderDetail"] = json!([{
            "coding": [{"system": SDOHCC, "code": "contacting-subject-prohibited", "display": "Contacting Subject Prohibited"}],
            "text": "Do not contact the patient",
        }]);
    }
    sr["subject"] = json!({"reference": r.patient});
    sr["authoredOn"] = json!(instant(r.now));
    sr["requester"] = requester;
    sr["performer"] = json!([{
        "reference": format!("Organization/{}", r.recipient),
        "display": r.recipient_name,
    }]);
    if !r.reasons.is_empty() {
        sr["reasonReference"] = json!(r
            .reasons
            .iter()
            .map(|x| json!({"reference": x}))
            .collect::<Vec<_>>());
    }
    sr["supportingInfo"] = json!([{"reference": format!("Consent/{}", r.ids.consent)}]);
    if let Some(n) = r.note.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
        let mut note = json!({"time": instant(r.now), "text": n});
        match &r.requester {
            Requester::Reference { reference, name } => {
                note["authorReference"] = json!({"reference": reference, "display": name})
            }
            Requester::Name(name) => note["authorString"] = json!(name),
        }
        sr["note"] = json!([note]);
    }
    sr
}

fn task(r: &NewReferral) -> Value {
    let rules = Rules::shipped();
    let requester = match &r.requester {
        Requester::Reference { reference, name } if reference.starts_with("PractitionerRole/") => {
            json!({"reference": reference, "display": name})
        }
        _ => json!({"reference": r.hospital}),
    };
    let p = rules.parameters();
    json!({
        "resourceType": "Task",
        "id": r.ids.task,
        "status": Status::Requested.code(),
        "businessStatus": {"text": Status::Requested.words()},
        "intent": "order",
        "code": {"coding": [{"system": TASK_CODE, "code": "fulfill", "display": "Fulfill the focal request"}]},
        "focus": {"reference": format!("ServiceRequest/{}", r.ids.service_request)},
        "for": {"reference": r.patient},
        "authoredOn": instant(r.now),
        "lastModified": instant(r.now),
        "requester": requester,
        "owner": {"reference": format!("Organization/{}", r.recipient), "display": r.recipient_name},
        "input": [{
            "type": {"coding": [{"system": rules.parameter_system(), "code": p.service.code, "display": p.service.words}]},
            "valueReference": {"reference": format!("HealthcareService/{}", r.service), "display": r.service_name},
        }],
    })
}

/// A new referral's Consent, ServiceRequest and Task; refused without consent facts, with an
/// unknown need, ids or references of the wrong shape, or consent dated after `now`.
pub fn referral(r: &NewReferral) -> Result<Referral, Error> {
    let facts = check(r)?;
    Ok(Referral {
        consent: consent(r, facts),
        service_request: service_request(r),
        task: task(r),
    })
}
