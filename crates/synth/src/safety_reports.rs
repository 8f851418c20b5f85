//! Two years of safety-event reports on every ward (crate `safety-events`, AHRQ Common
//! Formats): falls (most on the older people's ward), pressure injuries, medication events
//! (the coronary care unit's anticoagulants and insulin among them), surgical and
//! anaesthesia events, blood and device events, VTE, and a few others; incidents, near
//! misses and unsafe conditions; named and anonymous. Each report is reviewed as time allows:
//! those older than six weeks are closed with what was learned (about half shared with
//! staff), the last six weeks' are under investigation or triaged, with actions, some
//! overdue, and the last few days' await triage.
//!
//! Patients are the clinic's (people who were inpatients in those two years); reporters are
//! each ward's nurses; the reviewer is the demo's safety reviewer account.

use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use safety_events::{
    review, Details, Fall, Formats, Medication, PressureInjury, Report, Reporter, Step,
};
use serde_json::Value;

use crate::facility::{Staff, WardKind};
use crate::hospital::{Config, Out};
use crate::random::{chance, int, pick, rng, weighted};
use crate::stays::{on_ward_at, Stay};

/// How much more often, in the demo, a patient who needs an interpreter falls: invented for
/// the demo's equity figures to find, not a clinical figure.
const FALL_RISK_INTERPRETER: f64 = 2.5;

/// The patient-safety lead, the demo's safety reviewer (`tend demo`'s `safety` account).
pub const REVIEWER_ID: &str = "safety-lead";
const REVIEWER: (&str, &str) = ("Practitioner/safety-lead", "Dana Whitfield");

/// (category, kind, description, weight) per ward kind; falls and pressure injuries weigh
/// most on the older people's ward.
fn mix(kind: &WardKind) -> Vec<(&'static str, f64)> {
    let (falls, pressure, medication) = match kind {
        WardKind::OlderPeople => (9.0, 3.0, 4.0),
        WardKind::AcuteMedicine => (6.0, 2.0, 5.0),
        WardKind::Respiratory => (4.0, 1.5, 3.0),
        WardKind::Surgery => (3.0, 1.5, 3.0),
        WardKind::Coronary => (1.5, 0.5, 4.0),
    };
    let surgical = if matches!(kind, WardKind::Surgery) {
        1.5
    } else {
        0.1
    };
    vec![
        ("fall", falls),
        ("pressure-injury", pressure),
        ("medication", medication),
        ("device", 1.0),
        ("blood", 0.3),
        ("surgery", surgical),
        ("anesthesia", surgical * 0.5),
        ("vte", 0.5),
        ("other", 1.0),
    ]
}

const FALLS: &[&str] = &[
    "Patient found on the floor beside the bed during the night round. Call bell out of reach.",
    "Patient slipped walking to the bathroom without the walking frame; staff called by the roommate.",
    "Patient climbed over the bed rails and fell; bed-exit alarm had not sounded.",
    "Patient fainted while standing at the sink and was eased to the floor by the nurse.",
    "Patient rolled off the low bed onto the crash mat.",
];
const PRESSURE: &[(&str, &str)] = &[
    (
        "Sacrum",
        "New pressure injury found on the sacrum at the weekly skin inspection.",
    ),
    (
        "Left heel",
        "Blister on the left heel found when removing stockings; heels had not been offloaded.",
    ),
    (
        "Right ear",
        "Pressure injury under the oxygen tubing on the right ear.",
    ),
    (
        "Buttocks",
        "Skin breakdown after a long wait on a trolley in the emergency department.",
    ),
];
const MEDICATION: &[(&str, &str, &str, bool)] = &[
    ("administering", "omitted", "Apixaban", true),
    ("administering", "wrong-time", "Levodopa", false),
    ("prescribing", "wrong-dose", "Insulin glargine", true),
    ("dispensing", "wrong-drug", "Hydromorphone", true),
    ("prescribing", "allergy", "Amoxicillin", false),
    ("transcribing", "wrong-dose", "Enoxaparin", true),
    ("monitoring", "other", "Vancomycin", false),
];
const MEDICATION_TEXT: &[&str] = &[
    "Dose due at 08:00 was not given; found at the afternoon check.",
    "Order entered at ten times the intended dose; pharmacist queried it.",
    "Look-alike vials stored side by side; the wrong one was picked.",
    "Prescribed despite a recorded allergy; the alert was overridden.",
];
const OTHER: &[(&str, &str)] = &[
    (
        "device",
        "Infusion pump alarmed repeatedly and was found to have a cracked housing.",
    ),
    (
        "device",
        "Oxygen cylinder on the transfer trolley was empty.",
    ),
    (
        "blood",
        "Blood sample labelled away from the bedside; the label did not match the wristband.",
    ),
    (
        "surgery",
        "Swab count discrepancy at closure; resolved by X-ray.",
    ),
    (
        "anesthesia",
        "Difficult airway not flagged in the pre-operative notes.",
    ),
    (
        "vte",
        "Deep vein thrombosis after a missed VTE risk assessment on admission.",
    ),
    (
        "other",
        "Patient given the wrong diet tray (not the thickened fluids prescribed).",
    ),
    (
        "other",
        "Catheter-associated urinary tract infection in a patient with a catheter for five days.",
    ),
];

struct Made {
    report: Report,
    reporter: Reporter,
}

#[allow(clippy::too_many_arguments)]
fn report(
    r: &mut impl Rng,
    category: &str,
    occurred: DateTime<Utc>,
    ward: String,
    patient: String,
    reporter: (String, String),
) -> Made {
    let f = Formats::shipped();
    let kinds = &f.category(category).expect("a shipped category").kinds;
    let kind = if kinds.len() == 1 {
        kinds[0].clone()
    } else {
        weighted(
            r,
            &[
                ("incident".to_string(), 6.0),
                (
                    "near-miss".to_string(),
                    if kinds.iter().any(|k| k == "near-miss") {
                        3.0
                    } else {
                        0.0
                    },
                ),
                (
                    "unsafe-condition".to_string(),
                    if kinds.iter().any(|k| k == "unsafe-condition") {
                        1.0
                    } else {
                        0.0
                    },
                ),
            ],
        )
        .clone()
    };
    let mut harm = weighted(
        r,
        &[
            ("none", 45.0),
            ("mild", 35.0),
            ("moderate", 14.0),
            ("severe", 4.0),
            ("death", 0.4),
            ("unknown", 2.0),
        ],
    )
    .to_string();
    let factors: Vec<String> = f
        .factors()
        .iter()
        .filter(|_| chance(r, 0.25))
        .map(|c| c.code.clone())
        .collect();
    let (description, details) = match category {
        "fall" => {
            // Most falls do not injure; the harm follows the injury.
            let injury = *weighted(
                r,
                &[
                    ("none", 68.0),
                    ("minor", 24.0),
                    ("moderate", 5.0),
                    ("major", 2.5),
                    ("death", 0.5),
                ],
            );
            harm = match injury {
                "none" => "none",
                "minor" => "mild",
                "moderate" => "moderate",
                "major" => "severe",
                _ => "death",
            }
            .to_string();
            (
                pick(r, FALLS).to_string(),
                Details::Fall(Fall {
                    injury: injury.into(),
                    assisted: Some(chance(r, 0.15)),
                    risk_assessed: Some(chance(r, 0.8)),
                    off_unit: chance(r, 0.04),
                }),
            )
        }
        "pressure-injury" => {
            let (site, text) = pick(r, PRESSURE);
            (
                text.to_string(),
                Details::PressureInjury(PressureInjury {
                    stage: weighted(
                        r,
                        &[
                            ("1", 2.0),
                            ("2", 5.0),
                            ("3", 1.5),
                            ("4", 0.3),
                            ("unstageable", 0.4),
                            ("dtpi", 0.8),
                        ],
                    )
                    .to_string(),
                    present_on_admission: Some(chance(r, 0.2)),
                    device_related: site.contains("ear"),
                    site: site.to_string(),
                }),
            )
        }
        "medication" => {
            let (stage, error, medicine, high) = pick(r, MEDICATION);
            (
                pick(r, MEDICATION_TEXT).to_string(),
                Details::Medication(Medication {
                    stage: stage.to_string(),
                    error: error.to_string(),
                    medicine: medicine.to_string(),
                    high_alert: *high,
                }),
            )
        }
        c => {
            let texts: Vec<&str> = OTHER
                .iter()
                .filter(|(k, _)| *k == c)
                .map(|(_, t)| *t)
                .collect();
            (pick(r, &texts).to_string(), Details::None)
        }
    };
    let incident = kind == "incident";
    Made {
        report: Report {
            kind,
            category: category.into(),
            occurred,
            discovered: None,
            location: Some(ward),
            description,
            harm: incident.then_some(harm),
            factors,
            patient: (incident || chance(r, 0.5)).then_some(patient),
            encounter: None,
            details,
            anonymous: chance(r, 0.08),
        },
        reporter: Reporter {
            reference: format!("Practitioner/{}", reporter.0),
            name: reporter.1,
            role: "Nurse".into(),
        },
    }
}

/// What the review agreed and learned, by category: (action, owner, learning).
fn lesson(category: &str) -> &'static [(&'static str, &'static str, &'static str)] {
    match category {
        "fall" => &[
            ("Bed-exit alarms checked on every bed each shift", "Ward manager",
             "Alarms that can be silenced without a reason get silenced: the bed-exit alarm now needs a reason to be switched off."),
            ("Falls plan handed over with every transfer", "Ward manager",
             "Patients moved between wards lost their falls plan: it now travels with the handover."),
            ("Call bells within reach checked on the night round", "Practice educator",
             "Patients got up alone when the call bell was out of reach: the night round now checks it."),
        ],
        "pressure-injury" => &[
            ("Heel offloading added to the skin bundle", "Tissue viability nurse",
             "Heel checks were being skipped at night: the skin bundle is now part of the night round."),
            ("Padding under oxygen tubing for every patient on oxygen", "Respiratory nurse specialist",
             "Tubing pressed on the ears of patients on long-term oxygen: padding is now applied when oxygen starts."),
        ],
        "medication" => &[
            ("Look-alike vials moved apart in the medicines room", "Ward pharmacist",
             "Two look-alike products on one shelf led to the wrong pick: storage now separates them."),
            ("Independent double check before drawing up anticoagulants and insulin", "Practice educator",
             "The double check happened after the dose was drawn up: it now happens before."),
            ("Time-critical medicines flagged on the drug round list", "Ward pharmacist",
             "Time-critical doses were given late on busy rounds: they are now listed first."),
        ],
        "device" => &[
            ("Faulty pumps tagged and withdrawn the same shift", "Medical engineering",
             "Equipment faults were reported verbally and lost: every fault now gets a report and a tag."),
        ],
        "blood" => &[
            ("Labels printed at the bedside only", "Transfusion practitioner",
             "Samples labelled away from the patient were mislabelled: labels are now printed at the bedside."),
        ],
        "surgery" | "anesthesia" => &[
            ("Difficult airway recorded on the theatre list", "Theatre lead",
             "Information known before surgery did not reach the team: the safety briefing now reads it out."),
        ],
        "vte" => &[
            ("VTE risk assessment prompted at admission", "Thrombosis nurse",
             "Risk assessments were missed at busy admissions: the admission checklist now asks for it."),
        ],
        _ => &[
            ("Diet orders checked against the tray at the bedside", "Catering supervisor",
             "Trays were matched by bed, not by patient: they are now checked against the wristband."),
        ],
    }
}

/// Review the report up to `now`, by its age.
fn reviewed(
    r: &mut impl Rng,
    ae: Value,
    category: &str,
    recorded: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Value {
    let f = Formats::shipped();
    let age = (now - recorded).num_days();
    if age < 3 {
        return ae;
    }
    let mut at = recorded + Duration::hours(int(r, 4, 60));
    let take = |ae: Value, step: Step, at: DateTime<Utc>| {
        review::apply(f, &ae, &step, REVIEWER.1, at).unwrap_or(ae)
    };
    let harm = ae["extension"]
        .as_array()
        .and_then(|x| {
            x.iter()
                .find(|e| e["url"].as_str().is_some_and(|u| u.ends_with("harm")))
        })
        .is_some_and(|e| {
            matches!(
                e["valueCodeableConcept"]["coding"][0]["code"].as_str(),
                Some("severe") | Some("death")
            )
        });
    let priority = if harm {
        "high"
    } else {
        *pick(r, &["low", "medium", "medium"])
    };
    let mut ae = take(
        ae,
        Step::Triage {
            priority: priority.into(),
            reviewer: (REVIEWER.0.into(), REVIEWER.1.into()),
            harm: None,
        },
        at,
    );
    if age < 10 {
        return ae;
    }
    at += Duration::hours(int(r, 12, 72));
    ae = take(
        ae,
        Step::Investigate {
            note: Some("Spoke to the staff on shift and reviewed the record.".into()),
        },
        at,
    );
    let (text, owner, learning) = pick(r, lesson(category));
    let due = (at + Duration::days(int(r, 10, 40))).date_naive();
    ae = take(
        ae,
        Step::Action {
            text: text.to_string(),
            owner: owner.to_string(),
            due: Some(due),
        },
        at,
    );
    if age < 45 {
        return ae;
    }
    at = (at + Duration::days(int(r, 5, 30))).min(now);
    ae = take(ae, Step::ActionDone { index: 0 }, at);
    take(
        ae,
        Step::Close {
            learning: learning.to_string(),
            share: chance(r, 0.5),
        },
        at,
    )
}

/// The reports, with the "no patient" Group they may name.
pub(crate) fn generate(
    cfg: &Config,
    staff: &Staff,
    patients: std::ops::Range<u32>,
    stays: &[Stay],
    out: &mut Out,
) {
    let f = Formats::shipped();
    out.push(serde_json::json!({
        "resourceType": "Practitioner",
        "id": REVIEWER_ID,
        "meta": crate::fhir::meta(),
        "active": true,
        "name": [{"given": ["Dana"], "family": "Whitfield", "suffix": ["RN"], "text": "Dana Whitfield, patient safety lead"}],
    }));
    out.push(crate::fhir::with_test_tag(safety_events::no_patient_group()));
    let names: std::collections::HashMap<String, String> = out
        .of_type("Practitioner")
        .iter()
        .filter_map(|p| {
            let n = &p["name"][0];
            let given = n["given"][0].as_str()?;
            let family = n["family"].as_str()?;
            Some((p["id"].as_str()?.to_string(), format!("{given} {family}")))
        })
        .collect();
    let mut reports = Vec::new();
    for (w, ward) in staff.wards.iter().enumerate() {
        let mix = mix(&ward.spec.kind);
        // About ten reports a month on a 40-bed ward.
        let per_day = ward.beds as f64 * 10.0 / 40.0 / 30.0;
        let mut r = rng(cfg.seed, "safety-reports", w as u64);
        let start = crate::stays::history_start(cfg);
        for day in 0..(cfg.now - start).num_days() {
            let n = (0..3).filter(|_| chance(&mut r, per_day / 3.0)).count();
            for _ in 0..n {
                let occurred =
                    (start + Duration::days(day) + Duration::minutes(int(&mut r, 0, 1439)))
                        .min(cfg.now - Duration::minutes(30));
                let category = weighted(&mut r, &mix).to_string();
                let random = format!(
                    "pat-{:06}",
                    int(&mut r, patients.start as i64, patients.end as i64 - 1)
                );
                // Someone on the ward then; a patient who needs an interpreter is more
                // likely to fall (the gap the demo's equity figures show).
                let here = on_ward_at(stays, &ward.id(), occurred);
                let patient = if here.is_empty() {
                    random
                } else {
                    let weights: Vec<(usize, f64)> = here
                        .iter()
                        .enumerate()
                        .map(|(i, s)| {
                            let w = if category == "fall" && s.interpreter {
                                FALL_RISK_INTERPRETER
                            } else {
                                1.0
                            };
                            (i, w)
                        })
                        .collect();
                    here[*weighted(&mut r, &weights)].patient.clone()
                };
                let nurse = pick(&mut r, &ward.nurses).clone();
                let name = names
                    .get(&nurse)
                    .cloned()
                    .unwrap_or_else(|| "Ward nurse".into());
                let made = report(
                    &mut r,
                    &category,
                    occurred,
                    ward.id(),
                    patient,
                    (nurse, name),
                );
                let recorded = (occurred + Duration::minutes(int(&mut r, 10, 1800))).min(cfg.now);
                let id = format!("se-{:016x}", r.random::<u64>());
                let Ok(ae) = made
                    .report
                    .adverse_event(f, &id, recorded, Some(&made.reporter))
                else {
                    continue;
                };
                let ae = reviewed(&mut r, ae, &category, recorded, cfg.now);
                reports.push(crate::fhir::with_test_tag(ae));
            }
        }
    }
    out.extend(reports);
}
