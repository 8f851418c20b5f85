//! A screening's positive domains as health concerns awaiting a clinician, in the shape of
//! the HL7 SDOH Clinical Care IG's SDOHCC Condition: category `health-concern` and the SDOH
//! domain, the need in words, evidence the answer Observations, verification status
//! `unconfirmed`. A screen is not a diagnosis: the IG has a clinician (here a social worker,
//! nurse or physician) confirm a need before it becomes a problem; confirming adds the
//! `problem-list-item` category and sets the status `confirmed` ([`confirmed`]); a need the
//! clinician finds is not one is `refuted` ([`refuted`]). The interpersonal-safety concern
//! is labelled restricted, as its answers are.

use serde_json::{json, Value};

use crate::instrument::{Answer, Instrument};
use crate::observations::Context;
use crate::SDOHCC;

/// US Core's condition categories.
pub const CONDITION_CATEGORY: &str = "http://hl7.org/fhir/us/core/CodeSystem/condition-category";
const HL7_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/condition-category";
const VERIFICATION: &str = "http://terminology.hl7.org/CodeSystem/condition-ver-status";
const CLINICAL: &str = "http://terminology.hl7.org/CodeSystem/condition-clinical";

/// The id of the concern a screening (ids `{prefix}-…`) raises for `domain`.
pub fn concern_id(prefix: &str, domain: &str) -> String {
    format!("{prefix}-need-{domain}")
}

impl Instrument {
    /// The health concerns a screening raises, one per positive domain, unconfirmed.
    pub fn concerns(&self, answers: &Answer, ctx: &Context<'_>) -> Vec<Value> {
        let score = self.score(answers);
        score
            .positive()
            .filter_map(|d| {
                let domain = self.domain(&d.domain)?;
                let evidence: Vec<Value> = self
                    .questions
                    .iter()
                    .filter(|q| q.domain == d.domain)
                    .filter(|q| answers.get(&q.link).is_some_and(|a| !a.is_empty()))
                    .map(|q| json!({"reference": format!("Observation/{}-{}", ctx.prefix, q.link)}))
                    .collect();
                let mut c = json!({
                    "resourceType": "Condition",
                    "id": concern_id(ctx.prefix, &d.domain),
                    "clinicalStatus": {"coding": [{"system": CLINICAL, "code": "active"}]},
                    "verificationStatus": {"coding": [{"system": VERIFICATION, "code": "unconfirmed"}]},
                    "category": [
                        {"coding": [{"system": CONDITION_CATEGORY, "code": "health-concern", "display": "Health Concern"}]},
                        // The domain itself: utility insecurity is in the IG's SDOH
                        // category value set since STU 2.1 (its answer Observations keep
                        // the unspecified category Gravity advised before).
                        {"coding": [{"system": SDOHCC, "code": domain.code}]},
                    ],
                    "code": {"text": d.words},
                    "subject": {"reference": format!("Patient/{}", ctx.patient)},
                    "recordedDate": ctx.when,
                    "note": [{"text": format!("From a social-needs screening: {}.", d.because)}],
                    "evidence": [{"detail": evidence}],
                });
                if domain.sensitive {
                    c["meta"] = json!({"security": [{"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "R", "display": "restricted"}]});
                }
                Some(c)
            })
            .collect()
    }
}

/// The SDOH domain of a concern (its SDOHCC category code), if it is one.
pub fn concern_domain(condition: &Value) -> Option<&str> {
    condition["category"]
        .as_array()?
        .iter()
        .flat_map(|c| c["coding"].as_array().into_iter().flatten())
        .find(|c| c["system"] == SDOHCC)
        .and_then(|c| c["code"].as_str())
}

/// Whether a concern awaits a clinician.
pub fn is_unconfirmed(condition: &Value) -> bool {
    verification(condition) == Some("unconfirmed")
}

/// A condition's verification status code.
pub fn verification(condition: &Value) -> Option<&str> {
    condition["verificationStatus"]["coding"][0]["code"].as_str()
}

/// The concern confirmed by `by` (`Practitioner/ID`) at `when`: a problem now.
pub fn confirmed(condition: &Value, by: &str, when: &str) -> Value {
    let mut c = condition.clone();
    c["verificationStatus"] = json!({"coding": [{"system": VERIFICATION, "code": "confirmed"}]});
    let has_problem = c["category"].as_array().is_some_and(|cs| {
        cs.iter()
            .any(|x| x["coding"][0]["code"] == "problem-list-item")
    });
    if !has_problem {
        if let Some(cs) = c["category"].as_array_mut() {
            cs.push(json!({"coding": [{"system": HL7_CATEGORY, "code": "problem-list-item", "display": "Problem List Item"}]}));
        }
    }
    if !by.is_empty() {
        c["asserter"] = json!({"reference": by});
    }
    c["onsetDateTime"] = c["recordedDate"].clone();
    note(&mut c, when, by, "Confirmed as a need.");
    c
}

/// The concern found not to be a need by `by`, with the reason given.
pub fn refuted(condition: &Value, by: &str, when: &str, why: &str) -> Value {
    let mut c = condition.clone();
    c["verificationStatus"] = json!({"coding": [{"system": VERIFICATION, "code": "refuted"}]});
    c["clinicalStatus"] = json!({"coding": [{"system": CLINICAL, "code": "inactive"}]});
    note(&mut c, when, by, &format!("Not a need: {why}"));
    c
}

fn note(c: &mut Value, when: &str, by: &str, text: &str) {
    let mut n = json!({"time": when, "text": text});
    if !by.is_empty() {
        n["authorReference"] = json!({"reference": by});
    }
    match c["note"].as_array_mut() {
        Some(ns) => ns.push(n),
        None => c["note"] = json!([n]),
    }
}

/// A Goal for a confirmed need, in the shape of the IG's SDOHCC Goal: the need's domain as
/// category, the outcome in words, the concern it addresses, expressed by the patient.
pub fn goal(condition: &Value, id: &str, words: &str, when: &str) -> Value {
    let domain = concern_domain(condition).unwrap_or("sdoh-category-unspecified");
    let mut g = json!({
        "resourceType": "Goal",
        "id": id,
        "lifecycleStatus": "active",
        "achievementStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/goal-achievement", "code": "in-progress"}]},
        "category": [{"coding": [{"system": SDOHCC, "code": domain}]}],
        "description": {"text": words},
        "subject": condition["subject"].clone(),
        "startDate": when.get(..10).unwrap_or(when),
        "expressedBy": condition["subject"].clone(),
        "addresses": [{"reference": format!("Condition/{}", condition["id"].as_str().unwrap_or_default())}],
    });
    if condition["meta"]["security"].is_array() {
        g["meta"] = json!({"security": condition["meta"]["security"].clone()});
    }
    g
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answers(pairs: &[(&str, &str)]) -> Answer {
        let mut a = Answer::new();
        for (k, v) in pairs {
            a.entry(k.to_string()).or_default().push(v.to_string());
        }
        a
    }

    #[test]
    fn positive_domains_become_unconfirmed_concerns_that_a_clinician_decides() {
        let i = Instrument::ahc_hrsn();
        let ctx = Context {
            patient: "p1",
            response: "QuestionnaireResponse/r1",
            when: "2026-12-06T10:00:00Z",
            performer: None,
            prefix: "hrsn-r1",
        };
        let a = answers(&[
            ("q3", "LA6729-3"),
            ("q4", "LA28398-8"),
            ("q5", "LA32-8"),
            ("q7", "LA6482-9"),
            ("q8", "LA6482-9"),
            ("q9", "LA6482-9"),
            ("q10", "LA6270-8"),
        ]);
        let cs = i.concerns(&a, &ctx);
        let domains: Vec<&str> = cs.iter().filter_map(concern_domain).collect();
        assert_eq!(
            domains,
            ["food-insecurity", "intimate-partner-violence"],
            "{cs:?}"
        );
        let food = &cs[0];
        assert_eq!(food["id"], "hrsn-r1-need-food-insecurity");
        assert!(is_unconfirmed(food));
        assert_eq!(food["evidence"][0]["detail"].as_array().unwrap().len(), 2);
        assert!(food.get("meta").is_none());
        assert_eq!(cs[1]["meta"]["security"][0]["code"], "R");

        let c = confirmed(food, "Practitioner/sw1", "2026-12-07T09:00:00Z");
        assert_eq!(verification(&c), Some("confirmed"));
        assert!(c["category"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["coding"][0]["code"] == "problem-list-item"));
        assert_eq!(c["asserter"]["reference"], "Practitioner/sw1");
        let twice = confirmed(&c, "Practitioner/sw1", "2026-12-07T09:00:00Z");
        assert_eq!(twice["category"].as_array().unwrap().len(), 3);
        let r = refuted(
            food,
            "Practitioner/sw1",
            "2026-12-07T09:00:00Z",
            "food bank already used weekly",
        );
        assert_eq!(verification(&r), Some("refuted"));
        assert!(r["note"][1]["text"].as_str().unwrap().contains("food bank"));
        let g = goal(
            &c,
            "goal-1",
            "Enough food for the household every week",
            "2026-12-07T09:00:00Z",
        );
        assert_eq!(
            g["addresses"][0]["reference"],
            "Condition/hrsn-r1-need-food-insecurity"
        );
        assert_eq!(g["startDate"], "2026-12-07");
        assert_eq!(g["category"][0]["coding"][0]["code"], "food-insecurity");
        let safety_goal = goal(
            &cs[1],
            "goal-2",
            "Feel safe at home",
            "2026-12-07T09:00:00Z",
        );
        assert_eq!(safety_goal["meta"]["security"][0]["code"], "R");
    }
}
