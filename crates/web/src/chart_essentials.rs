//! What a doctor or a rapid-response nurse reads beside the observation chart before acting:
//! the resuscitation decision and ceiling of treatment, allergies, active medicines, the
//! oxygen the patient is on and the saturation target, the sepsis screens of the newest set
//! (qSOFA and SIRS criteria met), and the latest laboratory results with their trend. Each
//! is read as the signed-in user: the store decides what they reach.

use serde_json::Value;

use crate::local::Now;
use crate::view::{self, PageError};

/// SNOMED CT "Resuscitation status" (the code resuscitation decisions are recorded under).
pub(crate) const RESUSCITATION_STATUS: &str = "304251008";
/// SNOMED CT "Not for resuscitation".
pub(crate) const NOT_FOR_RESUSCITATION: &str = "304253006";
/// LOINC oxygen saturation by pulse oximetry (the saturation target's measure).
const SPO2: &str = "59408-5";
/// LOINC inhaled oxygen flow rate (its `method` is the device).
const OXYGEN_FLOW: &str = "3151-8";

/// The resuscitation decision in force.
#[derive(Debug, Clone)]
pub(crate) struct Resuscitation {
    /// "Not for resuscitation" or "For resuscitation".
    pub(crate) decision: String,
    pub(crate) not_for_cpr: bool,
    pub(crate) ceiling: String,
    pub(crate) when: String,
}

#[derive(Debug, Clone)]
pub(crate) struct AllergyLine {
    pub(crate) what: String,
    pub(crate) reaction: String,
    pub(crate) high_risk: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Medicine {
    pub(crate) name: String,
    pub(crate) dose: String,
}

/// One laboratory test: the newest result and the ones before it.
#[derive(Debug, Clone)]
pub(crate) struct LabTrend {
    pub(crate) name: String,
    pub(crate) value: String,
    pub(crate) flag: String,
    pub(crate) when: String,
    /// `rising`, `falling` or `steady` against the result before.
    pub(crate) direction: &'static str,
    /// Earlier values, newest first.
    pub(crate) earlier: Vec<String>,
    pub(crate) range: String,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Essentials {
    pub(crate) resuscitation: Option<Resuscitation>,
    /// `None`: no allergy record at all (not the same as "no known allergy").
    pub(crate) allergies: Option<Vec<AllergyLine>>,
    pub(crate) medicines: Vec<Medicine>,
    pub(crate) labs: Vec<LabTrend>,
    /// The newest set's sepsis screens, e.g. "qSOFA 2 of 3: respiratory rate ≥ 22/min, ...".
    pub(crate) sepsis: Vec<String>,
    pub(crate) oxygen: String,
    pub(crate) target: String,
}

fn text_of(concept: &Value) -> String {
    concept["text"]
        .as_str()
        .or(concept["coding"][0]["display"].as_str())
        .or(concept["coding"][0]["code"].as_str())
        .unwrap_or("")
        .to_string()
}

/// The ceiling of treatment recorded with a resuscitation decision (empty when none).
fn ceiling_of(decision: &Value) -> String {
    decision["component"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| text_of(&c["code"]).eq_ignore_ascii_case("Ceiling of treatment"))
        .and_then(|c| c["valueString"].as_str())
        .unwrap_or("")
        .to_string()
}

fn has_code(concept: &Value, code: &str) -> bool {
    concept["coding"]
        .as_array()
        .is_some_and(|cs| cs.iter().any(|c| c["code"] == code))
}

/// Reads the essentials of `subject` (`Patient/ID`).
pub(crate) fn load(
    store: &dyn store::Store,
    access: &store::Access,
    subject: &str,
    now: Now,
) -> Result<Essentials, PageError> {
    let id = subject.trim_start_matches("Patient/");
    let resuscitation = view::search(
        store,
        access,
        "Observation",
        &[
            ("subject", subject.to_string()),
            (
                "code",
                format!("http://snomed.info/sct|{RESUSCITATION_STATUS}"),
            ),
            ("_sort", "-date".into()),
            ("_count", "1".into()),
        ],
    )?
    .first()
    .map(|o| Resuscitation {
        decision: text_of(&o["valueCodeableConcept"]),
        not_for_cpr: has_code(&o["valueCodeableConcept"], NOT_FOR_RESUSCITATION),
        ceiling: ceiling_of(o),
        when: o["effectiveDateTime"]
            .as_str()
            .map(|t| now.clock(t))
            .unwrap_or_default(),
    });
    let allergy_records = view::search(
        store,
        access,
        "AllergyIntolerance",
        &[("patient", id.to_string()), ("_count", "50".into())],
    )?;
    let allergies = (!allergy_records.is_empty()).then(|| {
        allergy_records
            .iter()
            .filter(|a| a["clinicalStatus"]["coding"][0]["code"] != "inactive")
            .filter(|a| a["clinicalStatus"]["coding"][0]["code"] != "resolved")
            .map(|a| AllergyLine {
                what: text_of(&a["code"]),
                reaction: a["reaction"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .flat_map(|r| r["manifestation"].as_array().into_iter().flatten())
                    .map(text_of)
                    .collect::<Vec<_>>()
                    .join(", "),
                high_risk: a["criticality"] == "high",
            })
            .collect()
    });
    let medicines = view::search(
        store,
        access,
        "MedicationRequest",
        &[
            ("subject", subject.to_string()),
            ("status", "active".into()),
            ("_count", "100".into()),
        ],
    )?
    .iter()
    .map(|m| Medicine {
        name: text_of(&m["medicationCodeableConcept"]),
        dose: m["dosageInstruction"][0]["text"]
            .as_str()
            .unwrap_or("")
            .to_string(),
    })
    .collect();
    let labs = labs(store, access, subject, now)?;
    let sepsis = sepsis_screens(store, access, subject)?;
    let oxygen = view::search(
        store,
        access,
        "Observation",
        &[
            ("subject", subject.to_string()),
            ("code", format!("http://loinc.org|{OXYGEN_FLOW}")),
            ("_sort", "-date".into()),
            ("_count", "1".into()),
        ],
    )?
    .first()
    .map(|o| {
        let device = text_of(&o["method"]);
        let flow = o["valueQuantity"]["value"]
            .as_f64()
            .map(|v| format!(", {v} L/min"))
            .unwrap_or_default();
        let device = if device.is_empty() {
            "Supplemental oxygen".to_string()
        } else {
            device
        };
        format!("{device}{flow}")
    })
    .unwrap_or_else(|| "Room air".into());
    let target = view::search(
        store,
        access,
        "Goal",
        &[
            ("subject", subject.to_string()),
            ("lifecycle-status", "active".into()),
            ("_count", "20".into()),
        ],
    )?
    .iter()
    .flat_map(|g| g["target"].as_array().cloned().unwrap_or_default())
    .find(|t| has_code(&t["measure"], SPO2))
    .map(|t| {
        let low = &t["detailRange"]["low"]["value"];
        let high = &t["detailRange"]["high"]["value"];
        format!("{low}–{high} % (prescribed)")
    })
    .unwrap_or_else(|| "None prescribed".into());
    Ok(Essentials {
        resuscitation,
        allergies,
        medicines,
        labs,
        sepsis,
        oxygen,
        target,
    })
}

/// The latest result of each test with the results before it, abnormal tests first.
fn labs(
    store: &dyn store::Store,
    access: &store::Access,
    subject: &str,
    now: Now,
) -> Result<Vec<LabTrend>, PageError> {
    let results = view::search(
        store,
        access,
        "Observation",
        &[
            ("subject", subject.to_string()),
            ("category", "laboratory".into()),
            ("_sort", "-date".into()),
            ("_count", "300".into()),
        ],
    )?;
    let mut order: Vec<String> = Vec::new();
    let mut by_test: std::collections::HashMap<String, Vec<&Value>> = Default::default();
    for o in &results {
        let key = o["code"]["coding"][0]["code"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| text_of(&o["code"]));
        if !by_test.contains_key(&key) {
            order.push(key.clone());
        }
        by_test.entry(key).or_default().push(o);
    }
    let value = |o: &Value| -> (Option<f64>, String) {
        let q = &o["valueQuantity"];
        match q["value"].as_f64() {
            Some(v) => (
                Some(v),
                format!(
                    "{} {}",
                    q["value"],
                    q["unit"].as_str().or(q["code"].as_str()).unwrap_or("")
                )
                .trim()
                .to_string(),
            ),
            None => (
                None,
                o["valueString"]
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| text_of(&o["valueCodeableConcept"])),
            ),
        }
    };
    let mut out: Vec<LabTrend> = order
        .iter()
        .filter_map(|k| by_test.get(k))
        .filter_map(|rs| {
            let newest = rs.first()?;
            let (v, shown) = value(newest);
            let before = rs.get(1).and_then(|o| value(o).0);
            let direction = match (v, before) {
                (Some(a), Some(b)) if a > b * 1.05 => "rising",
                (Some(a), Some(b)) if a < b * 0.95 => "falling",
                _ => "steady",
            };
            let range = &newest["referenceRange"][0];
            let range = match (
                range["low"]["value"].as_f64(),
                range["high"]["value"].as_f64(),
            ) {
                (Some(l), Some(h)) => format!("{l}–{h}"),
                (None, Some(h)) => format!("under {h}"),
                (Some(l), None) => format!("over {l}"),
                _ => String::new(),
            };
            Some(LabTrend {
                name: text_of(&newest["code"]),
                value: shown,
                flag: text_of(&newest["interpretation"][0]),
                when: newest["effectiveDateTime"]
                    .as_str()
                    .map(|t| now.clock(t))
                    .unwrap_or_default(),
                direction,
                earlier: rs.iter().skip(1).take(4).map(|o| value(o).1).collect(),
                range,
            })
        })
        .collect();
    // Abnormal results first; otherwise as the laboratory reported them.
    out.sort_by_key(|l| l.flag.is_empty());
    Ok(out)
}

/// The newest qSOFA and SIRS screens, with the criteria they found met.
fn sepsis_screens(
    store: &dyn store::Store,
    access: &store::Access,
    subject: &str,
) -> Result<Vec<String>, PageError> {
    let ew = early_warning::codes::EW;
    let mut out = Vec::new();
    for (code, name, of) in [("qsofa", "qSOFA", 3), ("sirs", "SIRS", 4)] {
        let Some(o) = view::search(
            store,
            access,
            "Observation",
            &[
                ("subject", subject.to_string()),
                ("code", format!("{ew}|{code}")),
                ("_sort", "-date".into()),
                ("_count", "1".into()),
            ],
        )?
        .into_iter()
        .next() else {
            continue;
        };
        let met: Vec<String> = o["component"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|c| c["valueCodeableConcept"]["coding"][0]["code"] == "met")
            .map(|c| text_of(&c["code"]))
            .collect();
        let count = early_warning::score::component(&o, "criteria-met")
            .and_then(|c| c["valueInteger"].as_u64())
            .unwrap_or(met.len() as u64);
        out.push(if met.is_empty() {
            format!("{name}: none of {of} criteria met")
        } else {
            format!("{name}: {count} of {of} met ({})", met.join("; "))
        });
    }
    Ok(out)
}

/// Which of `patients` (`Patient/ID`) have a decision not to attempt resuscitation in force
/// (their newest resuscitation status says so), with its ceiling of treatment (empty when
/// none is recorded). One search for the whole ward.
pub(crate) fn not_for_resuscitation(
    store: &dyn store::Store,
    access: &store::Access,
    patients: &[String],
) -> Result<std::collections::HashMap<String, String>, PageError> {
    let mut newest: std::collections::HashMap<String, Option<String>> = Default::default();
    for chunk in patients.chunks(100) {
        let found = view::search(
            store,
            access,
            "Observation",
            &[
                ("subject", chunk.join(",")),
                (
                    "code",
                    format!("http://snomed.info/sct|{}", RESUSCITATION_STATUS),
                ),
                ("_sort", "-date".into()),
                ("_count", "1000".into()),
            ],
        )?;
        for o in found {
            let Some(who) = o["subject"]["reference"].as_str() else {
                continue;
            };
            let dnacpr = o["valueCodeableConcept"]["coding"]
                .as_array()
                .is_some_and(|cs| cs.iter().any(|c| c["code"] == NOT_FOR_RESUSCITATION));
            newest
                .entry(who.to_string())
                .or_insert_with(|| dnacpr.then(|| ceiling_of(&o)));
        }
    }
    Ok(newest
        .into_iter()
        .filter_map(|(p, ceiling)| ceiling.map(|c| (p, c)))
        .collect())
}
