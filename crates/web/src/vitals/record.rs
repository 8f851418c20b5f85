//! A checked set as FHIR: one vital-signs panel (LOINC 85353-1) whose members are the
//! readings, each an Observation in the shapes the `rules` crate reads; readings not
//! obtained carry a `dataAbsentReason` and no value (the set is then incomplete), the oxygen
//! reading names its delivery device, and a pain score rides along (not part of NEWS2).

use serde_json::{json, Value};

use super::form::{Checked, Device, DeviceForm};

const DATA_ABSENT: &str = "http://terminology.hl7.org/CodeSystem/data-absent-reason";

/// The LOINC code, display and UCUM unit of each form field that is a reading.
const READINGS: &[(&str, &str, &str, &str, &str)] = &[
    ("rr", "9279-1", "Respiratory rate", "/min", "/min"),
    (
        "spo2",
        "59408-5",
        "Oxygen saturation in Arterial blood by Pulse oximetry",
        "%",
        "%",
    ),
    ("sbp", "8480-6", "Systolic blood pressure", "mmHg", "mm[Hg]"),
    (
        "dbp",
        "8462-4",
        "Diastolic blood pressure",
        "mmHg",
        "mm[Hg]",
    ),
    ("hr", "8867-4", "Heart rate", "/min", "/min"),
    ("temp", "8310-5", "Body temperature", "°C", "Cel"),
    ("crt", "44963-7", "Capillary refill [Time]", "s", "s"),
    (
        "pain",
        "72514-3",
        "Pain severity - 0-10 verbal numeric rating [Score] - Reported",
        "{score}",
        "{score}",
    ),
];

/// A number as typed: whole numbers as integers (16, not 16.0).
fn number(v: f64) -> Value {
    if v.fract() == 0.0 && v.abs() < 1e9 {
        json!(v as i64)
    } else {
        json!(v)
    }
}

/// The panel and its readings as FHIR Observations (panel last), taken at `at`.
pub(crate) fn observations(
    c: &Checked,
    panel_id: &str,
    subject: &str,
    encounter: Option<&str>,
    performer: &str,
    at: &str,
) -> Vec<Value> {
    let cat = json!([{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs", "display": "Vital Signs"}]}]);
    let base = |id: String, code: &str, display: &str| {
        let mut o = json!({"resourceType": "Observation", "id": id, "status": "final", "category": cat,
            "code": {"coding": [{"system": "http://loinc.org", "code": code, "display": display}], "text": display},
            "subject": {"reference": subject}, "effectiveDateTime": at,
            "performer": [{"reference": performer}]});
        if let Some(e) = encounter {
            o["encounter"] = json!({"reference": e});
        }
        o
    };
    let reading = |field: &str| READINGS.iter().find(|r| r.0 == field).copied();
    let mut out = Vec::new();
    let values = [
        ("rr", c.rr),
        ("spo2", c.spo2),
        ("sbp", c.sbp),
        ("dbp", c.dbp),
        ("hr", c.pulse),
        ("temp", c.temp),
        ("pain", c.pain),
        ("crt", c.crt),
    ];
    for (tag, value) in values {
        let (Some(v), Some((_, code, display, unit, ucum))) = (value, reading(tag)) else {
            continue;
        };
        let mut o = base(format!("{panel_id}-{tag}"), code, display);
        o["valueQuantity"] = json!({"value": number(v), "unit": unit, "system": "http://unitsofmeasure.org", "code": ucum});
        out.push(o);
    }
    for (field, why) in &c.absent {
        let tag = if *field == "pulse" { "hr" } else { field };
        let Some((_, code, display, _, _)) = reading(tag) else {
            continue;
        };
        let (reason, reason_display) = why.reason();
        let mut o = base(format!("{panel_id}-{tag}"), code, display);
        o["dataAbsentReason"] = json!({"coding": [{"system": DATA_ABSENT, "code": reason, "display": reason_display}], "text": why.words()});
        out.push(o);
    }
    if let Some(d) = c.distress {
        let ew = rules::observation::EARLY_WARNING;
        let mut o = base(
            format!("{panel_id}-distress"),
            "respiratory-distress",
            "Respiratory distress",
        );
        o["code"] = json!({"coding": [{"system": ew, "code": rules::observation::RESPIRATORY_DISTRESS, "display": "Respiratory distress"}], "text": "Respiratory distress"});
        o["valueCodeableConcept"] =
            json!({"coding": [{"system": ew, "code": d.code()}], "text": d.code()});
        out.push(o);
    }
    for (code, answer) in &c.escalation {
        let ew = rules::observation::EARLY_WARNING;
        let mut o = base(format!("{panel_id}-{code}"), code, code);
        o["code"] =
            json!({"coding": [{"system": ew, "code": code}], "text": escalation_name(code)});
        o["valueCodeableConcept"] =
            json!({"coding": [{"system": ew, "code": answer}], "text": answer});
        out.push(o);
    }
    if let Some(abnormal) = c.abnormal_pupils {
        let ew = rules::observation::EARLY_WARNING;
        let code = rules::observation::ABNORMAL_PUPILS;
        let mut o = base(format!("{panel_id}-{code}"), code, code);
        o["code"] = json!({"coding": [{"system": ew, "code": code}], "text": "Abnormal pupillary response"});
        o["valueBoolean"] = json!(abnormal);
        out.push(o);
    }
    if let Some(device) = c.device {
        out.push(oxygen(&base, panel_id, device, c));
    }
    if let Some(a) = c.acvpu {
        let mut o = base(
            format!("{panel_id}-acvpu"),
            "67775-7",
            "Level of responsiveness",
        );
        o["valueCodeableConcept"] = json!({"coding": [{"system": "http://snomed.info/sct", "code": a.snomed()}], "text": a.letter()});
        out.push(o);
    }
    let mut panel = base(
        panel_id.to_string(),
        "85353-1",
        "Vital signs, weight, height, head circumference, oxygen saturation and BMI panel",
    );
    panel["hasMember"] = json!(out
        .iter()
        .map(|o| json!({"reference": format!("Observation/{}", o["id"].as_str().unwrap_or_default())}))
        .collect::<Vec<_>>());
    out.push(panel);
    out
}

/// The plain name of a child's escalation question, for the record's text.
fn escalation_name(code: &str) -> &'static str {
    match code {
        rules::observation::CARER_QUESTION => {
            "Carer question: how is your child different since I last saw them?"
        }
        rules::observation::CLINICAL_INTUITION => "Clinical intuition: concern despite the score",
        _ => "New suspicion of sepsis",
    }
}

/// The oxygen reading: a flow (room air is a flow of 0) or an inspired percentage, with the
/// device as its method.
fn oxygen(
    base: &dyn Fn(String, &str, &str) -> Value,
    panel_id: &str,
    device: Device,
    c: &Checked,
) -> Value {
    let mut o = match (c.fio2, device) {
        (Some(f), _) => {
            let mut o = base(
                format!("{panel_id}-o2"),
                "3150-0",
                "Inhaled oxygen concentration",
            );
            o["valueQuantity"] = json!({"value": number(f), "unit": "%", "system": "http://unitsofmeasure.org", "code": "%"});
            o
        }
        (None, _) => {
            let mut o = base(
                format!("{panel_id}-o2"),
                "3151-8",
                "Inhaled oxygen flow rate",
            );
            let flow = if device == Device::Air {
                0.0
            } else {
                c.flow.unwrap_or(0.0)
            };
            o["valueQuantity"] = json!({"value": number(flow), "unit": "L/min", "system": "http://unitsofmeasure.org", "code": "L/min"});
            o
        }
    };
    o["method"] = json!({"coding": [{"system": rules::observation::OXYGEN_DEVICE, "code": device.code(), "display": device.display()}], "text": device.display()});
    o
}

#[cfg(test)]
mod tests {
    use super::super::form::{check, VitalsForm};
    use super::*;

    fn checked(f: VitalsForm) -> Checked {
        check(&f, 1_796_569_200_000, crate::Zone::parse("UTC").unwrap()).unwrap()
    }

    fn valid(obs: &[Value]) {
        for o in obs {
            let errors: Vec<_> = fhir::validation::validate(o)
                .into_iter()
                .filter(|i| i.severity == fhir::validation::Severity::Error)
                .collect();
            assert!(errors.is_empty(), "{o}: {errors:?}");
        }
    }

    #[test]
    fn a_full_set_is_one_panel_with_its_readings() {
        let c = checked(VitalsForm {
            rr: "24".into(),
            spo2: "91".into(),
            device: "nasal-cannula".into(),
            flow: "2".into(),
            sbp: "98".into(),
            pulse: "118".into(),
            acvpu: "C".into(),
            temp: "38.6".into(),
            pain: "4".into(),
            ..Default::default()
        });
        let obs = observations(
            &c,
            "vs-1",
            "Patient/p1",
            Some("Encounter/e1"),
            "Practitioner/n1",
            "2026-11-24T10:00:00Z",
        );
        assert_eq!(obs.len(), 9);
        let panel = obs.last().unwrap();
        assert_eq!(panel["code"]["coding"][0]["code"], "85353-1");
        assert_eq!(panel["hasMember"].as_array().unwrap().len(), 8);
        // Every NEWS2 reading is read by the rules as the parameter it is; pain is not one.
        for o in &obs[..8] {
            let parsed = rules::observation::read(o);
            if o["code"]["coding"][0]["code"] == "72514-3" {
                assert!(parsed.readings.is_empty());
                continue;
            }
            assert_eq!(parsed.readings.len(), 1, "{o}: {:?}", parsed.problems);
        }
        let o2 = obs.iter().find(|o| o["id"] == "vs-1-o2").unwrap();
        assert_eq!(o2["method"]["text"], "Nasal cannula");
        valid(&obs);
    }

    #[test]
    fn a_venturi_mask_is_an_inspired_percentage_and_gaps_have_reasons() {
        let c = checked(VitalsForm {
            rr: "20".into(),
            device: "venturi".into(),
            fio2: "28".into(),
            temp_absent: "refused".into(),
            spo2_absent: "unable".into(),
            ..Default::default()
        });
        let obs = observations(
            &c,
            "vs-2",
            "Patient/p1",
            None,
            "Practitioner/n1",
            "2026-11-24T10:00:00Z",
        );
        let o2 = obs.iter().find(|o| o["id"] == "vs-2-o2").unwrap();
        assert_eq!(o2["code"]["coding"][0]["code"], "3150-0");
        assert_eq!(o2["valueQuantity"]["value"], 28);
        let parsed = rules::observation::read(o2);
        assert_eq!(parsed.readings.len(), 1, "{:?}", parsed.problems);
        let temp = obs.iter().find(|o| o["id"] == "vs-2-temp").unwrap();
        assert_eq!(
            temp["dataAbsentReason"]["coding"][0]["code"],
            "asked-declined"
        );
        assert!(temp.get("valueQuantity").is_none());
        assert!(
            rules::observation::read(temp).readings.is_empty(),
            "a gap is no reading"
        );
        let spo2 = obs.iter().find(|o| o["id"] == "vs-2-spo2").unwrap();
        assert_eq!(
            spo2["dataAbsentReason"]["coding"][0]["code"],
            "not-performed"
        );
        valid(&obs);
    }
}
