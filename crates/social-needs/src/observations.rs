//! A screening's answers as Observations in the shapes of the HL7 SDOH Clinical Care IG
//! (SDOHCC Observation Screening Response: one per question answered, categories
//! social-history, survey and the SDOH domain, the LOINC question as code, the LOINC answer
//! as value, derived from the QuestionnaireResponse), plus the interpersonal-safety total.

use serde_json::{json, Value};

use crate::instrument::{Answer, Instrument};
use crate::{LOINC, SDOHCC};

/// Where a screening's Observations belong.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    pub patient: &'a str,
    /// The QuestionnaireResponse they come from (`QuestionnaireResponse/ID`).
    pub response: &'a str,
    /// When it was answered (FHIR dateTime).
    pub when: &'a str,
    /// Who asked (`Practitioner/ID`), or the patient on a kiosk.
    pub performer: Option<&'a str>,
    /// Ids are `{prefix}-{linkId}`.
    pub prefix: &'a str,
}

fn categories(sdoh: &str) -> Value {
    json!([
        {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "social-history"}]},
        {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "survey"}]},
        {"coding": [{"system": SDOHCC, "code": sdoh}]},
    ])
}

impl Instrument {
    /// The Observations of a screening's answers.
    pub fn observations(&self, answers: &Answer, ctx: &Context<'_>) -> Vec<Value> {
        let mut out = Vec::new();
        let base = |id: String, sdoh: &str, code: &str| {
            let mut o = json!({
                "resourceType": "Observation",
                "id": id,
                "status": "final",
                "category": categories(sdoh),
                "code": {"coding": [{"system": LOINC, "code": code}]},
                "subject": {"reference": format!("Patient/{}", ctx.patient)},
                "effectiveDateTime": ctx.when,
                "derivedFrom": [{"reference": ctx.response}],
            });
            if let Some(p) = ctx.performer {
                o["performer"] = json!([{"reference": p}]);
            }
            o
        };
        for q in &self.questions {
            let Some(keys) = answers.get(&q.link).filter(|k| !k.is_empty()) else {
                continue;
            };
            let sdoh = self
                .domain(&q.domain)
                .map(|d| d.category.as_str())
                .unwrap_or("sdoh-category-unspecified");
            let mut o = base(format!("{}-{}", ctx.prefix, q.link), sdoh, &q.loinc);
            o["code"]["text"] = json!(q.text);
            let chosen: Vec<_> = keys.iter().filter_map(|k| q.answer(k)).collect();
            match (chosen.as_slice(), chosen.iter().all(|a| a.code.is_some())) {
                ([a], true) => {
                    o["valueCodeableConcept"] = json!({"coding": [{"system": LOINC, "code": a.code, "display": a.label()}], "text": a.label()});
                }
                (list, _) => {
                    o["valueCodeableConcept"] = json!({"text": list.iter().map(|a| a.label()).collect::<Vec<_>>().join("; ")});
                }
            }
            out.push(o);
        }
        if let Some(total) = self.score(answers).safety_total {
            let mut o = base(
                format!("{}-safety-total", ctx.prefix),
                "intimate-partner-violence",
                &self.safety_total_code,
            );
            o["valueQuantity"] = json!({"value": total, "system": "http://unitsofmeasure.org", "code": "{score}", "unit": "{score}"});
            o["hasMember"] = json!(["q7", "q8", "q9", "q10"]
                .iter()
                .map(|l| json!({"reference": format!("Observation/{}-{l}", ctx.prefix)}))
                .collect::<Vec<_>>());
            out.push(o);
        }
        out
    }
}
