//! The demo hospital's tumour boards (crate `tumour-board`): the upper GI, colorectal and
//! breast multidisciplinary teams with their standing members (the specialist, the medical
//! oncologist, the MDT coordinator and the cancer navigator), each board's meeting last week
//! and next week, and the patients on their lists: the newest cancer diagnoses of each site
//! (waiting for next week's meeting; one discussed last week, its recommendation told), and
//! the oesophageal adenocarcinoma patient whose disease progressed after chemoradiotherapy,
//! referred two days ago for second-line treatment or a trial now his biomarkers are back.

use chrono::{Datelike, TimeDelta, Utc};
use serde_json::json;
use tumour_board::recommendation::{self, Context, Options, Recommendation};
use tumour_board::{codes, shape, Board};

use crate::facility::Staff;
use crate::fhir::{instant, with_test_tag};
use crate::hospital::{Config, Out};

/// A board: id, name, (staff role key, part) of its members, the ICD-10 prefixes of the
/// cancers it discusses, the weekday it meets (0 = Monday), what it recommended last week.
type BoardDef = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
    &'static [&'static str],
    u32,
    &'static [&'static str],
);

const BOARDS: &[BoardDef] = &[
    (
        "board-upper-gi",
        "Upper GI MDT",
        &[
            ("gastroenterologist", "Gastroenterologist"),
            ("oncologist", "Medical oncologist"),
            ("mdt-coordinator", "MDT coordinator"),
            ("navigator-2", "Cancer navigator"),
        ],
        &["C15", "C16"],
        3,
        &["neoadjuvant-systemic", "surgery", "dietitian"],
    ),
    (
        "board-colorectal",
        "Colorectal MDT",
        &[
            ("colorectal-surgeon", "Colorectal surgeon"),
            ("oncologist", "Medical oncologist"),
            ("mdt-coordinator", "MDT coordinator"),
            ("navigator-2", "Cancer navigator"),
        ],
        &["C18", "C19", "C20"],
        1,
        &["surgery"],
    ),
    (
        "board-breast",
        "Breast MDT",
        &[
            ("breast-surgeon", "Breast surgeon"),
            ("oncologist", "Medical oncologist"),
            ("mdt-coordinator", "MDT coordinator"),
            ("navigator-2", "Cancer navigator"),
        ],
        &["C50"],
        2,
        &["surgery"],
    ),
];

/// Confirmed cancers of a board's sites diagnosed in the last 120 days (on the referral
/// pathways, not a history on a problem list): (recorded, patient, Condition id), newest
/// first.
fn diagnoses(
    out: &Out,
    prefixes: &[&str],
    except: Option<&str>,
    since: &str,
) -> Vec<(String, String, String)> {
    let mut found: Vec<(String, String, String)> = out
        .of_type("Condition")
        .iter()
        .filter(|c| c["verificationStatus"]["coding"][0]["code"] == "confirmed")
        .filter(|c| {
            c["code"]["coding"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|x| {
                    x["code"]
                        .as_str()
                        .is_some_and(|code| prefixes.iter().any(|p| code.starts_with(p)))
                })
        })
        .filter_map(|c| {
            let patient = c["subject"]["reference"]
                .as_str()?
                .trim_start_matches("Patient/");
            Some((
                c["recordedDate"].as_str()?.to_string(),
                patient.to_string(),
                c["id"].as_str()?.to_string(),
            ))
        })
        .filter(|(recorded, p, _)| Some(p.as_str()) != except && recorded.as_str() >= since)
        .collect();
    found.sort_by(|a, b| b.0.cmp(&a.0));
    found.dedup_by(|a, b| a.1 == b.1);
    found
}

pub(crate) fn generate(cfg: &Config, staff: &Staff, out: &mut Out) {
    // The oesophageal adenocarcinoma patient: the one whose disease progressed.
    let oac = out
        .of_type("Observation")
        .iter()
        .find(|o| {
            o["meta"]["tag"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|t| t["code"] == "disease-progression")
        })
        .and_then(|o| o["subject"]["reference"].as_str())
        .map(|r| r.trim_start_matches("Patient/").to_string());
    let today = cfg.now.date_naive();
    let mut made = Vec::new();
    let mut late = Vec::new();
    for (id, name, members, prefixes, weekday, recommended) in BOARDS {
        let board = Board {
            id: id.to_string(),
            name: name.to_string(),
            members: members
                .iter()
                .map(|(key, part)| {
                    (
                        format!("Practitioner/{}", staff.role(key)),
                        part.to_string(),
                    )
                })
                .collect(),
        };
        made.push(with_test_tag(json!({
            "resourceType": "CareTeam", "id": id, "status": "active", "name": name,
            "category": [{"coding": [{"system": codes::SYSTEM, "code": codes::BOARD, "display": "Tumour board"}]}],
            "participant": board.members.iter().map(|(who, part)| json!({"member": {"reference": who}, "role": [{"text": part}]})).collect::<Vec<_>>(),
        })));
        // Next week's meeting on the board's weekday, at 13:00 UTC (morning in the Americas,
        // afternoon in Europe); last week's a week before.
        let ahead = (7 + weekday - today.weekday().num_days_from_monday()) % 7;
        let ahead = if ahead == 0 { 7 } else { ahead };
        let next = (today + TimeDelta::days(i64::from(ahead)))
            .and_hms_opt(13, 0, 0)
            .map(|t| t.and_utc())
            .unwrap_or(cfg.now);
        let last = next - TimeDelta::days(7);
        let coordinator = format!("Practitioner/{}", staff.role("mdt-coordinator"));
        let specialist = board.members[0].0.clone();
        let meeting = |when: chrono::DateTime<Utc>, tag: &str| {
            let mut m = shape::new_meeting(
                &format!("{id}-{tag}"),
                &board,
                &instant(when),
                &instant(when + TimeDelta::minutes(90)),
                "Cancer centre seminar room 2, and video link",
                &coordinator,
            );
            if when < cfg.now {
                m["status"] = json!("fulfilled");
            }
            with_test_tag(m)
        };
        let next_id = format!("Appointment/{id}-next");
        let last_id = format!("Appointment/{id}-last");
        made.push(meeting(next, "next"));
        made.push(meeting(last, "last"));
        let since = instant(cfg.now - TimeDelta::days(120));
        let found = diagnoses(out, prefixes, oac.as_deref(), &since);
        // The two newest diagnoses wait for next week's meeting.
        for (k, (recorded, patient, _)) in found.iter().take(2).enumerate() {
            let case_id = format!("mdt-case-{id}-{patient}");
            let task = shape::new_case(
                &case_id,
                patient,
                &board,
                &specialist,
                "New diagnosis with staging complete: which treatment, and in what order?",
                recorded,
            );
            let when = instant(cfg.now - TimeDelta::hours(20 + k as i64));
            made.push(with_test_tag(shape::scheduled(task, &next_id, &when)));
        }
        // The third was discussed last week: its recommendation recorded and told.
        if let Some((recorded, patient, condition)) = found.get(2) {
            let case_id = format!("mdt-case-{id}-{patient}");
            let task = shape::new_case(
                &case_id,
                patient,
                &board,
                &specialist,
                "New diagnosis: treatment options?",
                recorded,
            );
            let discussed = instant(last + TimeDelta::minutes(30));
            let conditions = vec![format!("Condition/{condition}")];
            let oncologist = format!("Practitioner/{}", staff.role("oncologist"));
            let ctx = Context {
                case: &case_id,
                patient,
                author: &oncologist,
                board_name: name,
                meeting: Some(&last_id),
                conditions: &conditions,
                now: &discussed,
            };
            let rec = Recommendation {
                intent: "curative".into(),
                steps: recommended.iter().map(|s| s.to_string()).collect(),
                rationale: "Operable disease on staging; fit for surgery (ECOG 0 to 1).".into(),
            };
            let resources = recommendation::resources(Options::shipped(), &rec, &ctx)
                .expect("the demo's recommendations are valid");
            let plan = format!("CarePlan/{}", recommendation::plan_id(&case_id));
            let mut resources = resources.into_iter().map(with_test_tag);
            made.extend(resources.next());
            // The steps, based on the plan: after every CarePlan.
            late.extend(resources);
            let scheduled = shape::scheduled(task, &last_id, &instant(last - TimeDelta::days(2)));
            let recommended = shape::recommended(scheduled, &plan, &discussed);
            let told_at = instant(last + TimeDelta::days(2));
            if let Some(case) = shape::case(&recommended, 1) {
                made.push(with_test_tag(shape::told(
                    &format!("{case_id}-told"),
                    &case,
                    &plan,
                    &format!("Practitioner/{}", staff.role("navigator-2")),
                    "Explained in clinic with her daughter; she agreed to the plan.",
                    &told_at,
                )));
            }
            made.push(with_test_tag(shape::communicated(recommended, &told_at)));
        }
        // The fourth was referred yesterday and waits for the coordinator to list it.
        if let Some((_, patient, _)) = found.get(3) {
            made.push(with_test_tag(shape::new_case(
                &format!("mdt-case-{id}-{patient}"),
                patient,
                &board,
                &specialist,
                "Diagnosis confirmed on biopsy; staging CT reported. Treatment options?",
                &instant(cfg.now - TimeDelta::hours(26)),
            )));
        }
        // The oesophageal adenocarcinoma patient, referred two days ago by his navigator.
        if let (Some(patient), "board-upper-gi") = (&oac, *id) {
            let case_id = format!("mdt-case-{id}-{patient}");
            let task = shape::new_case(
                &case_id,
                patient,
                &board,
                &format!("Practitioner/{}", staff.role("oncologist")),
                "Progression (new liver metastases) after definitive chemoradiotherapy. HER2 negative, PD-L1 CPS 7, MMR proficient, CLDN18.2 positive: second-line options, or a clinical trial?",
                &instant(cfg.now - TimeDelta::days(2)),
            );
            made.push(with_test_tag(shape::scheduled(
                task,
                &next_id,
                &instant(cfg.now - TimeDelta::days(1)),
            )));
        }
    }
    out.extend(made);
    for r in late {
        out.push_last(r);
    }
}
