//! Vital signs of one message: LOINC vital-sign observations and the
//! [vital-signs panel](https://hl7.org/fhir/R4/observation-vitalsigns.html) (LOINC 85353-1)
//! that gathers them, the one observation set early warning scores.

use serde_json::{json, Value};

use super::{coding::LOINC, Context, Write, OBS_CATEGORY};

/// LOINC codes of vital signs (grouped into the message's panel).
const VITALS: &[&str] = &[
    "9279-1", "59408-5", "2708-6", "3151-8", "3150-0", "8480-6", "8462-4", "85354-9", "8867-4",
    "8310-5", "80288-4", "67775-7", "9269-2", "29463-7", "8302-2", "39156-5",
];

/// Whether an observation with this LOINC code is a vital sign.
pub(super) fn is_vital(loinc: Option<&str>) -> bool {
    loinc.is_some_and(|c| VITALS.contains(&c))
}

/// The vital-signs panel being gathered: its members and the latest of their times.
#[derive(Default)]
pub(super) struct Panel {
    members: Vec<String>,
    time: Option<String>,
}

impl Panel {
    /// Add the vital sign at `reference`, taken at `effective`.
    pub(super) fn add(&mut self, reference: String, effective: &str) {
        self.members.push(reference);
        if self.time.as_deref().is_none_or(|t| effective > t) {
            self.time = Some(effective.to_string());
        }
    }

    /// The number of vital signs.
    pub(super) fn len(&self) -> usize {
        self.members.len()
    }

    /// The panel Observation, unless the message had no vital signs.
    pub(super) fn write(self, ctx: &Context<'_>) -> Option<Write> {
        if self.members.is_empty() {
            return None;
        }
        let members: Vec<Value> = self
            .members
            .iter()
            .map(|r| json!({"reference": r}))
            .collect();
        Some(Write {
            resource: json!({
                "resourceType": "Observation",
                "id": format!("{}-vs", ctx.base),
                "meta": {"source": ctx.source},
                "status": "final",
                "category": [{"coding": [{"system": OBS_CATEGORY, "code": "vital-signs", "display": "Vital Signs"}]}],
                "code": {"coding": [{"system": LOINC, "code": "85353-1", "display": "Vital signs, weight, height, head circumference, oxygen saturation and BMI panel"}]},
                "subject": {"reference": ctx.patient_url},
                "effectiveDateTime": self.time,
                "hasMember": members,
            }),
            full_url: None,
            if_none_exist: None,
        })
    }
}
