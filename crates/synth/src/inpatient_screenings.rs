//! Social-needs screening on admission, for the stays of the last six months: the hospital
//! began asking every adult inpatient the Accountable Health Communities questions at the
//! admission assessment six months ago, and the share of stays screened has grown since,
//! from under half to about four in five. The nurse who admits the patient
//! asks; most ask all ten questions, some leave out the interpersonal-safety ones (a
//! visitor at the bedside), which is not a screening for all five needs. Patients who need
//! an interpreter are screened less often: the disparity the quality pages' groups show.
//!
//! A third of those screened have a need (the same mix as the clinic's); the ward's social
//! worker saw each before discharge and confirmed the need (with a goal) or found it was not
//! one, so none waits on the social worker's worklist. Each response comes with the answer
//! Observations Tend's screening service derives from it.

use chrono::Duration;
use serde_json::Value;
use social_needs::concerns::{confirmed, goal, refuted};
use social_needs::Instrument;

use crate::facility::Staff;
use crate::fhir::{self, instant};
use crate::hospital::{Config, Out};
use crate::random::{chance, int, pick, rng, weighted};
use crate::social_screenings::{answers, derived, response, Planned, NEEDS, WITH_NEEDS};
use crate::stays::Stay;
use crate::vitals::whole_minute;

/// How far back screening on admission goes.
const PROGRAMME_DAYS: i64 = 183;
/// The share of stays screened when the programme began, and now.
const SHARE: (f64, f64) = (0.45, 0.82);
/// How much less often a patient who needs an interpreter is screened.
const INTERPRETER_FACTOR: f64 = 0.6;
/// The share of screenings that ask all ten questions.
const ALL_TEN: f64 = 0.88;

/// The id of the response recording the screening on admission of stay `encounter`.
pub(crate) fn response_id(encounter: &str) -> String {
    format!("adm-{encounter}")
}

pub(crate) fn generate(cfg: &Config, staff: &Staff, past: &[Stay], out: &mut Out) {
    let began = cfg.now - Duration::days(PROGRAMME_DAYS);
    let instrument = Instrument::ahc_hrsn();
    let social_worker = staff.role("social-worker-1").to_string();
    let mut responses = Vec::new();
    let mut observations = Vec::new();
    let mut decided = Vec::new();
    for (k, stay) in past.iter().enumerate() {
        if stay.start < began || stay.end > cfg.now {
            continue;
        }
        let mut r = rng(cfg.seed, "hrsn-admission", k as u64);
        let progress = (stay.start - began).num_minutes() as f64
            / Duration::days(PROGRAMME_DAYS).num_minutes() as f64;
        let mut share = SHARE.0 + (SHARE.1 - SHARE.0) * progress;
        if stay.interpreter {
            share *= INTERPRETER_FACTOR;
        }
        if !chance(&mut r, share) {
            continue;
        }
        let Some(ward) = staff.wards.iter().find(|w| w.id() == stay.ward) else {
            continue;
        };
        let nurse = pick(&mut r, &ward.nurses).clone();
        let at = stay.start + Duration::minutes(int(&mut r, 60, 20 * 60));
        let at = whole_minute(at.min(stay.end - Duration::minutes(30)));
        let full = chance(&mut r, ALL_TEN);
        let mut needs: Vec<&str> = Vec::new();
        if int(&mut r, 1, WITH_NEEDS.1 as i64) <= WITH_NEEDS.0 as i64 {
            for (domain, p) in NEEDS {
                if chance(&mut r, p) {
                    needs.push(domain);
                }
            }
            if needs.is_empty() {
                needs.push(*weighted(&mut r, &NEEDS));
            }
        }
        let answers = answers(&mut r, &needs, full);
        let id = response_id(&stay.encounter);
        let planned = Planned {
            patient: stay.patient.clone(),
            number: 0,
            at,
            author: nurse,
            full,
        };
        responses.push(response(instrument, &id, &planned, &answers));
        let (answered, concerns) = derived(instrument, &id, &planned, &answers);
        observations.extend(answered);
        // The social worker's decision on each need, before discharge.
        let seen = at + (stay.end - at) / 2;
        let by = format!("Practitioner/{social_worker}");
        for concern in concerns {
            let when = instant(seen);
            if chance(&mut r, 0.75) {
                let c = confirmed(&concern, &by, &when);
                let g = goal(
                    &c,
                    &format!("{}-goal", c["id"].as_str().unwrap_or_default()),
                    "Need met by discharge or handed to a community service",
                    &when,
                );
                decided.push(with_meta(c));
                decided.push(with_meta(g));
            } else {
                decided.push(with_meta(refuted(
                    &concern,
                    &by,
                    &when,
                    "Talked it through with the patient: already arranged with family.",
                )));
            }
        }
    }
    out.extend(responses);
    out.extend(observations);
    for d in decided {
        out.push_last(d);
    }
}

fn with_meta(mut v: Value) -> Value {
    v["meta"] = fhir::meta();
    v
}
