//! Social-needs screenings (crate `social-needs`: the Accountable Health Communities HRSN core
//! questions, as Tend's screening page records them) of clinic and pathway patients over the
//! last year ([`WINDOW_DAYS`]), so the current calendar year is covered from January. The
//! hospital screens at visits: the clinic screened a little over half the patients seen in
//! that time, at their latest visit, and half the patients on suspected-cancer pathways were
//! screened at their first appointment. That makes several hundred screened, a few dozen in
//! every month, enough for Tend's social-needs reports to show each month's screening
//! figures (they suppress counts of 1 to 10). About a third of those screened have at least
//! one need, as the Accountable Health Communities evaluation found of the beneficiaries it
//! screened; the answers vary across the needs (food, housing, housing quality, transport,
//! utilities).
//!
//! The clinical social worker asks all ten questions, the interpersonal-safety ones included,
//! so their responses are labelled restricted as Tend's screening service labels them; a few
//! (three) are positive for safety (a sum above 10). Navigators (the clinic's outreach
//! navigator, a pathway patient's cancer navigator) ask the first six at check-in. Each
//! response comes with the answer Observations the screening service derives from it (same
//! ids, same content), and every patient screened is on an active care team with the social
//! worker, which is how Tend lets the social worker reach them.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, TimeDelta, Timelike, Utc, Weekday};
use rand::seq::SliceRandom;
use rand::Rng;
use serde_json::{json, Value};
use social_needs::{Answer, Context, Instrument, LOINC, QUESTIONNAIRE_URL};

use crate::facility::{Staff, ORGANIZATION};
use crate::fhir::{self, concept, instant, reference, SNOMED};
use crate::hospital::{Config, Out};
use crate::random::{chance, int, pick, rng, weighted};
use crate::referrals::navigator_of;
use crate::vitals::whole_minute;

/// How far back the demo's screenings go: a year, so the current calendar year is covered.
const WINDOW_DAYS: i64 = 365;
/// The share of clinic patients seen in the window who were screened.
const CLINIC_SHARE: f64 = 0.55;
/// The share of screened patients with at least one need (one in three).
pub(crate) const WITH_NEEDS: (usize, usize) = (1, 3);
/// How many screenings are positive for interpersonal safety.
const SAFETY_POSITIVE: usize = 3;
/// The domains a need is drawn from, with the chance that a patient with needs has each.
pub(crate) const NEEDS: [(&str, f64); 5] = [
    ("food-insecurity", 0.6),
    ("housing-instability", 0.35),
    ("transportation-insecurity", 0.4),
    ("utility-insecurity", 0.3),
    ("inadequate-housing", 0.2),
];
const SAFETY: &str = "intimate-partner-violence";
const RESTRICTED: &str = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality";

/// The id of the response that records the screening of `patient` (`pat-000123`).
pub(crate) fn response_id(patient: &str) -> String {
    format!("hrsn-demo-{patient}")
}

/// The id prefix of what Tend's screening service derives from response `id`.
pub(crate) fn prefix(id: &str) -> String {
    format!("hrsn-{id}")
}

/// Someone to screen.
pub(crate) struct Planned {
    pub(crate) patient: String,
    pub(crate) number: u32,
    pub(crate) at: DateTime<Utc>,
    /// Practitioner id of who asked.
    pub(crate) author: String,
    /// Asked the interpersonal-safety questions too.
    pub(crate) full: bool,
}

/// Clinic patients numbered in `clinic` and the patients on urgent suspected-cancer pathways,
/// screened as the module documentation says.
pub(crate) fn generate(cfg: &Config, staff: &Staff, clinic: std::ops::Range<u32>, out: &mut Out) {
    let since = cfg.now - TimeDelta::days(WINDOW_DAYS);
    let social_worker = staff.role("social-worker-1").to_string();
    let navigator = staff.role("navigator-1").to_string();
    let mut planned = Vec::new();

    // Clinic patients, at their latest visit in the window.
    let mut latest: BTreeMap<u32, DateTime<Utc>> = BTreeMap::new();
    for e in out.of_type("Encounter") {
        let Some(number) = patient_number(&e["subject"]) else {
            continue;
        };
        if !clinic.contains(&number) || e["class"]["code"] != "AMB" {
            continue;
        }
        let Some(start) = e["period"]["start"]
            .as_str()
            .and_then(|s| s.parse::<DateTime<Utc>>().ok())
        else {
            continue;
        };
        if start >= since && start <= cfg.now {
            let l = latest.entry(number).or_insert(start);
            *l = (*l).max(start);
        }
    }
    for (&number, &visit) in &latest {
        let mut r = rng(cfg.seed, "hrsn-clinic", u64::from(number));
        if !chance(&mut r, CLINIC_SHARE) {
            continue;
        }
        let full = chance(&mut r, 0.4);
        planned.push(Planned {
            patient: format!("pat-{number:06}"),
            number,
            at: whole_minute((visit + TimeDelta::minutes(int(&mut r, 5, 25))).min(cfg.now)),
            author: if full {
                social_worker.clone()
            } else {
                navigator.clone()
            },
            full,
        });
    }

    // Every other referred patient, at the first appointment a few days after the referral,
    // by the social worker or their navigator.
    let referred: Vec<(u32, DateTime<Utc>)> = out
        .of_type("ServiceRequest")
        .iter()
        .filter(|s| s["priority"] == "urgent")
        .filter_map(|s| {
            Some((
                patient_number(&s["subject"])?,
                s["authoredOn"].as_str()?.parse().ok()?,
            ))
        })
        .collect();
    for (k, &(number, authored)) in referred.iter().enumerate() {
        let mut r = rng(cfg.seed, "hrsn-pathway", u64::from(number));
        let mut first_appointment = authored + TimeDelta::days(int(&mut r, 3, 9));
        while matches!(first_appointment.weekday(), Weekday::Sat | Weekday::Sun) {
            first_appointment += TimeDelta::days(1);
        }
        let at = clinic_time(&mut r, first_appointment);
        let at = whole_minute(at.min(cfg.now - TimeDelta::hours(2)));
        if k % 2 != 0 || authored < since || at <= authored {
            continue;
        }
        let full = chance(&mut r, 0.5);
        planned.push(Planned {
            patient: format!("pat-{number:06}"),
            number,
            at,
            author: if full {
                social_worker.clone()
            } else {
                staff.role(navigator_of(number)).to_string()
            },
            full,
        });
    }
    planned.sort_by_key(|a| (a.at, a.number));

    // Who has needs: a third, drawn; three of those the social worker asked about safety
    // screen positive for it.
    let mut order: Vec<usize> = (0..planned.len()).collect();
    let mut r = rng(cfg.seed, "hrsn-needs", 0);
    order.shuffle(&mut r);
    let quota = (planned.len() * WITH_NEEDS.0 + WITH_NEEDS.1 / 2) / WITH_NEEDS.1;
    let with_needs = &order[..quota];
    let unsafe_at_home: Vec<usize> = with_needs
        .iter()
        .copied()
        .filter(|&i| planned[i].full)
        .take(SAFETY_POSITIVE)
        .collect();

    let instrument = Instrument::ahc_hrsn();
    let reached = reached(out, &social_worker);
    let mut responses = Vec::new();
    let mut observations = Vec::new();
    let mut teams = Vec::new();
    for (i, p) in planned.iter().enumerate() {
        let mut r = rng(cfg.seed, "hrsn-answers", u64::from(p.number));
        let mut needs: Vec<&str> = Vec::new();
        if with_needs.contains(&i) {
            for (domain, share) in NEEDS {
                if chance(&mut r, share) {
                    needs.push(domain);
                }
            }
            if unsafe_at_home.contains(&i) {
                needs.push(SAFETY);
            }
            if needs.is_empty() {
                needs.push(*weighted(&mut r, &NEEDS));
            }
        }
        let answers = answers(&mut r, &needs, p.full);
        let id = response_id(&p.patient);
        responses.push(response(instrument, &id, p, &answers));
        observations.extend(derived(instrument, &id, p, &answers).0);
        if !reached.contains(&format!("Patient/{}", p.patient)) {
            teams.push(social_work_team(p, &social_worker));
        }
    }
    out.extend(responses);
    out.extend(teams);
    out.extend(observations);
}

/// What Tend's screening service derives from response `id` of screening `p`, as it writes
/// it: the answer Observations, and the concerns of the positive domains (unconfirmed).
pub(crate) fn derived(
    instrument: &Instrument,
    id: &str,
    p: &Planned,
    answers: &Answer,
) -> (Vec<Value>, Vec<Value>) {
    let when = instant(p.at);
    let author = format!("Practitioner/{}", p.author);
    let ctx = Context {
        patient: &p.patient,
        response: &format!("QuestionnaireResponse/{id}"),
        when: &when,
        performer: Some(&author),
        prefix: &prefix(id),
    };
    let observations = instrument
        .observations(answers, &ctx)
        .into_iter()
        .map(|mut o| {
            o["meta"] = fhir::meta();
            o
        })
        .collect();
    (observations, instrument.concerns(answers, &ctx))
}

/// `pat-000123` of a `{"reference": "Patient/pat-000123"}` as 123.
fn patient_number(subject: &Value) -> Option<u32> {
    subject["reference"]
        .as_str()?
        .strip_prefix("Patient/pat-")?
        .parse()
        .ok()
}

/// `day`'s date at a clinic hour.
fn clinic_time(r: &mut impl Rng, day: DateTime<Utc>) -> DateTime<Utc> {
    let t = day
        .with_hour(int(r, 13, 21) as u32)
        .and_then(|t| t.with_minute(int(r, 0, 59) as u32))
        .and_then(|t| t.with_second(0));
    t.unwrap_or(day)
}

/// LOINC answer codes of the safety frequency answers, by their points (1 to 5).
const FREQUENCY: [&str; 5] = [
    "LA6270-8",
    "LA10066-1",
    "LA10082-8",
    "LA16644-9",
    "LA6482-9",
];

/// Answers that screen positive for exactly `needs`.
pub(crate) fn answers(r: &mut impl Rng, needs: &[&str], full: bool) -> Answer {
    let has = |d: &str| needs.contains(&d);
    let mut a = Answer::new();
    let mut put = |link: &str, keys: Vec<&str>| {
        a.insert(
            link.to_string(),
            keys.into_iter().map(str::to_string).collect(),
        );
    };
    put(
        "q1",
        vec![if !has("housing-instability") {
            "LA31993-1"
        } else if chance(r, 0.75) {
            "LA31994-9"
        } else {
            "LA31995-6"
        }],
    );
    put(
        "q2",
        if has("inadequate-housing") {
            let mut problems = vec![
                "Pests such as bugs, ants, or mice",
                "Mold",
                "Lead paint or pipes",
                "Lack of heat",
                "Oven or stove not working",
                "Smoke detectors missing or not working",
                "Water leaks",
            ];
            problems.shuffle(r);
            problems.truncate(int(r, 1, 2) as usize);
            problems
        } else {
            vec!["None of the above"]
        },
    );
    let (q3, q4) = if has("food-insecurity") {
        (
            *pick(r, &["LA28397-0", "LA6729-3", "LA6729-3"]),
            *pick(r, &["LA28397-0", "LA6729-3", "LA28398-8"]),
        )
    } else {
        ("LA28398-8", "LA28398-8")
    };
    put("q3", vec![q3]);
    put("q4", vec![q4]);
    put(
        "q5",
        vec![if has("transportation-insecurity") {
            "LA33-6"
        } else {
            "LA32-8"
        }],
    );
    put(
        "q6",
        vec![if !has("utility-insecurity") {
            "LA32-8"
        } else if chance(r, 0.8) {
            "LA33-6"
        } else {
            "LA32002-0"
        }],
    );
    if full {
        // Points for: physically hurt, insulted, threatened, screamed at.
        let points: [usize; 4] = if has(SAFETY) {
            *pick(r, &[[3, 4, 2, 4], [2, 4, 3, 3], [4, 5, 3, 4]])
        } else {
            let mut mild = || *pick(r, &[1, 1, 1, 1, 2, 2, 3]);
            [1, mild(), 1, mild()]
        };
        for (link, p) in ["q7", "q8", "q9", "q10"].iter().zip(points) {
            put(link, vec![FREQUENCY[p - 1]]);
        }
    }
    a
}

/// The QuestionnaireResponse as Tend's screening page records it.
pub(crate) fn response(instrument: &Instrument, id: &str, p: &Planned, answers: &Answer) -> Value {
    let items: Vec<Value> = instrument
        .questions
        .iter()
        .filter_map(|q| {
            let keys = answers.get(&q.link)?;
            let given: Vec<Value> = keys
                .iter()
                .filter_map(|k| q.answer(k))
                .map(|a| match &a.code {
                    Some(code) => json!({"valueCoding": {"system": LOINC, "code": code, "display": a.label()}}),
                    None => json!({"valueString": a.label()}),
                })
                .collect();
            Some(json!({"linkId": q.link, "text": q.text, "answer": given}))
        })
        .collect();
    let mut meta = fhir::meta();
    if p.full {
        // It holds interpersonal-safety answers: restricted, as the screening service labels it.
        meta["security"] = json!([{"system": RESTRICTED, "code": "R", "display": "restricted"}]);
    }
    json!({
        "resourceType": "QuestionnaireResponse",
        "id": id,
        "meta": meta,
        "language": "en",
        "questionnaire": QUESTIONNAIRE_URL,
        "status": "completed",
        "subject": reference("Patient", &p.patient),
        "authored": instant(p.at),
        "author": reference("Practitioner", &p.author),
        "item": items,
    })
}

/// The patients (`Patient/pat-000123`) `practitioner` is on an active care team of already.
fn reached(out: &Out, practitioner: &str) -> BTreeSet<String> {
    let member = format!("Practitioner/{practitioner}");
    out.of_type("CareTeam")
        .iter()
        .filter(|t| {
            t["status"] == "active"
                && t["participant"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|p| p["member"]["reference"] == member.as_str())
        })
        .filter_map(|t| t["subject"]["reference"].as_str())
        .map(str::to_string)
        .collect()
}

/// The patient's social-work care team: the social worker, and the navigator who screened
/// them.
fn social_work_team(p: &Planned, social_worker: &str) -> Value {
    let mut participants = vec![json!({
        "role": [concept(&[(SNOMED, "106328005", "Social worker")])],
        "member": reference("Practitioner", social_worker),
        "period": {"start": instant(p.at)},
    })];
    if p.author != social_worker {
        participants.push(json!({
            "role": [{"text": "Patient navigator"}],
            "member": reference("Practitioner", &p.author),
            "period": {"start": instant(p.at)},
        }));
    }
    json!({
        "resourceType": "CareTeam",
        "id": format!("careteam-{:06}-social-work", p.number),
        "meta": fhir::meta(),
        "status": "active",
        "name": "Social work",
        "subject": reference("Patient", &p.patient),
        "period": {"start": instant(p.at)},
        "participant": participants,
        "managingOrganization": [reference("Organization", ORGANIZATION)],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_screen_positive_for_exactly_the_needs_drawn() {
        let i = Instrument::ahc_hrsn();
        let mut r = rng(1, "answers", 0);
        let cases: [&[&str]; 5] = [
            &[],
            &["food-insecurity"],
            &[
                "housing-instability",
                "inadequate-housing",
                "utility-insecurity",
            ],
            &["transportation-insecurity", SAFETY],
            &[
                "food-insecurity",
                "transportation-insecurity",
                "housing-instability",
            ],
        ];
        for needs in cases {
            for _ in 0..50 {
                let a = answers(&mut r, needs, true);
                let positive: Vec<String> =
                    i.score(&a).positive().map(|d| d.domain.clone()).collect();
                let mut want: Vec<&str> = needs.to_vec();
                want.sort_by_key(|d| i.domains.iter().position(|x| x.code == *d));
                assert_eq!(positive, want, "{a:?}");
            }
        }
        let core = answers(&mut r, &[], false);
        assert!(!core.contains_key("q7"));
        assert_eq!(core.len(), 6);
    }
}
