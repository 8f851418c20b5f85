//! Suspected sepsis on the demo's wards: the first hour after a raised NEWS2 in patients
//! admitted with an infection, recorded as the ward records it (`sepsis::record`).
//!
//! - **On admission**: a patient admitted with sepsis whose first set scored 5 or more is
//!   suspected of infection by the ward's doctor minutes after that set.
//! - **During the stay**: one in two patients with an infection whose score later rises to 5
//!   or more (after the first day) is suspected then.
//! - **Now**: up to three patients with an infection whose newest set scored 5 or more in the
//!   last 90 minutes are suspected now, so the demo opens with first hours running.
//!
//! After a suspicion the nurse on shift takes blood cultures and a point-of-care lactate and
//! gives the first antibiotic dose, mostly within the hour (one in five doses is late), and a
//! fluid bolus when the lactate is over 4 mmol/L. Nothing is recorded after `now`: the demo's
//! newest first hours are still running, with the rest of their actions due.

use chrono::{DateTime, TimeDelta, Utc};
use rand::Rng;
use sepsis::record::{resource, Context, Record};
use serde_json::Value;

use crate::hospital::Out;
use crate::random::{chance, rng};
use crate::vitals::Sim;

/// A first hour that starts at `suspected`.
struct Plan<'a> {
    sim: &'a Sim,
    suspected: DateTime<Utc>,
    key: String,
}

/// Whose first hour it is and who records it.
struct Subject<'a> {
    /// Unique per first hour, for the ids.
    key: String,
    patient: &'a str,
    encounter: &'a str,
    source: sepsis::Source,
    doctor: &'a str,
    nurse: &'a dyn Fn(DateTime<Utc>) -> String,
}

/// The suspicion at `t0` and what the ward did after it, up to `now`; the resources written.
fn emit(
    seed: u64,
    who: &Subject,
    t0: DateTime<Utc>,
    now: DateTime<Utc>,
    out: &mut Out,
) -> Vec<Value> {
    let mut r = rng(seed, "sepsis", fnv(&who.key) ^ t0.timestamp() as u64);
    let zone = chrono::FixedOffset::east_opt(0).expect("UTC");
    let encounter = format!("Encounter/{}", who.encounter);
    let mut written = Vec::new();
    let mut put = |what: Record, at: DateTime<Utc>, tag: &str, by: &str| {
        if at > now {
            return;
        }
        let id = format!("sepsis-{}-{tag}", who.key);
        let cx = Context {
            by: &format!("Practitioner/{by}"),
            patient: who.patient,
            encounter: Some(&encounter),
            at: at.with_timezone(&zone),
            id: &id,
        };
        if let Ok(mut res) = resource(&what, &cx) {
            res["meta"] = crate::fhir::meta();
            written.push(res.clone());
            out.push(res);
        }
    };
    let minutes = |r: &mut rand_chacha::ChaCha8Rng, lo: i64, hi: i64| {
        TimeDelta::minutes(r.random_range(lo..=hi))
    };
    put(
        Record::Suspected { source: who.source },
        t0,
        "suspected",
        who.doctor,
    );
    let cultures = t0 + minutes(&mut r, 8, 40);
    put(
        Record::Cultures,
        cultures,
        "cultures",
        &(who.nurse)(cultures),
    );
    let lactate_at = t0 + minutes(&mut r, 5, 30);
    let lactate = (r.random_range(14..=62) as f64) / 10.0;
    put(
        Record::Lactate {
            mmol_per_l: lactate,
        },
        lactate_at,
        "lactate",
        &(who.nurse)(lactate_at),
    );
    let antibiotic_at = if chance(&mut r, 0.8) {
        t0 + minutes(&mut r, 15, 55)
    } else {
        t0 + minutes(&mut r, 62, 110)
    };
    let drugs = sepsis::Antibiotic::all();
    let drug = &drugs[r.random_range(0..drugs.len().min(5))];
    put(
        Record::Antibiotic {
            key: drug.key.clone(),
        },
        antibiotic_at,
        "antibiotic",
        &(who.nurse)(antibiotic_at),
    );
    if lactate > 4.0 {
        let fluids_at = lactate_at + minutes(&mut r, 10, 45);
        put(
            Record::Fluids {
                fluid: sepsis::Fluid::Hartmann,
                ml: 500,
            },
            fluids_at,
            "fluids",
            &(who.nurse)(fluids_at),
        );
    }
    written
}

/// FNV-1a of a key, to seed a first hour's choices.
fn fnv(key: &str) -> u64 {
    key.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A past stay's first hour, more than the sepsis service's look-back ago: a score of
/// `score` at `set` on the ward, infection suspected minutes later, what the ward did, and
/// the first hour's Tasks as the service judged them then (the pure crate's judgement; the
/// score is not in the record, as the stay's other sets are not, so the Tasks name no
/// reason). `None` when the stay is too recent: the service judges those from the record.
#[allow(clippy::too_many_arguments)]
pub(crate) fn past(
    seed: u64,
    k: usize,
    stay: &crate::stays::Stay,
    set: DateTime<Utc>,
    score: i64,
    doctor: &str,
    nurse: &str,
    now: DateTime<Utc>,
    out: &mut Out,
) {
    let cutoff = now - TimeDelta::days(sepsis::episode::LOOK_BACK_DAYS + 1);
    if set > cutoff {
        return;
    }
    let nurse_at = |_: DateTime<Utc>| nurse.to_string();
    let who = Subject {
        key: format!("past-{k:06}"),
        patient: &stay.patient,
        encounter: &stay.encounter,
        source: if k.is_multiple_of(3) {
            sepsis::Source::Urine
        } else {
            sepsis::Source::Chest
        },
        doctor,
        nurse: &nurse_at,
    };
    let mut r = rng(seed, "sepsis-past", k as u64);
    let t0 = crate::vitals::whole_minute(set + TimeDelta::minutes(r.random_range(5..=20)));
    let written = emit(seed, &who, t0, stay.end.min(now), out);
    let zone = chrono_tz::UTC;
    let mut events: Vec<pathways::Event> = written
        .iter()
        .flat_map(|w| sepsis::episode::events(zone, w))
        .collect();
    let score_ref = format!("Observation/past-score-{k:06}");
    let mut e = pathways::Event::resource(
        &score_ref,
        pathways::ResourceType::Observation,
        set.fixed_offset(),
    );
    e.codes = vec![pathways::Coding::new(
        "http://snomed.info/sct",
        sepsis::episode::NEWS2_TOTAL,
    )];
    e.status = Some("final".into());
    e.value = Some(score as f64);
    events.push(e);
    let pathway = pathways::PathwaySet::builtin()
        .pathway(sepsis::PATHWAY)
        .cloned()
        .expect("shipped");
    for episode in sepsis::episode::episodes(&pathway, &events, now.fixed_offset()) {
        for c in &episode.evaluation.clocks {
            let encounter = format!("Encounter/{}", stay.encounter);
            if let Some(mut t) = sepsis::shape::task(&stay.patient, Some(&encounter), &episode, c) {
                if let Some(o) = t.as_object_mut() {
                    o.remove("reasonReference");
                }
                if let Some(tags) = t["meta"]["tag"].as_array_mut() {
                    tags.extend(
                        crate::fhir::meta()["tag"]
                            .as_array()
                            .cloned()
                            .unwrap_or_default(),
                    );
                }
                out.push(t);
            }
        }
    }
}

/// The demo's sepsis first hours, from the sets the wards took up to `now`.
pub(crate) fn generate(seed: u64, sims: &[Sim], now: DateTime<Utc>, out: &mut Out) -> usize {
    let mut plans: Vec<Plan> = Vec::new();
    let mut now_count = 0;
    for sim in sims.iter().filter(|s| s.infection.is_some()) {
        let mut r = rng(seed, "sepsis-plan", u64::from(sim.number));
        let admitted = sim.course.admitted;
        let mut wanted: Vec<(DateTime<Utc>, &str)> = Vec::new();
        // On admission: the first set, when taken on the ward at admission.
        if let Some(&(at, score)) = sim.scores.first() {
            let first_on_admission = at - admitted <= TimeDelta::hours(2);
            if sim.infection == Some(sepsis::Source::Unknown) && first_on_admission && score >= 5 {
                wanted.push((at + TimeDelta::minutes(r.random_range(5..=15)), "a"));
            }
        }
        // During the stay: a later rise.
        if let Some(&(at, _)) = sim
            .scores
            .iter()
            .find(|(at, score)| *score >= 5 && *at - admitted > TimeDelta::hours(24))
        {
            if chance(&mut r, 0.5) && at < now - TimeDelta::hours(2) {
                wanted.push((at + TimeDelta::minutes(r.random_range(5..=25)), "b"));
            }
        }
        // Now: the newest set is raised.
        if let Some(&(at, score)) = sim.scores.last() {
            if score >= 5 && now - at <= TimeDelta::minutes(90) && now_count < 3 {
                wanted.push((
                    (at + TimeDelta::minutes(r.random_range(3..=10))).min(now),
                    "c",
                ));
            }
        }
        // One suspicion a day at most: a later one within a day is the same suspicion.
        let mut last: Option<DateTime<Utc>> = None;
        for (at, key) in wanted {
            if last.is_some_and(|l| at < l + TimeDelta::hours(24)) {
                continue;
            }
            last = Some(at);
            now_count += usize::from(key == "c");
            plans.push(Plan {
                sim,
                suspected: at,
                key: key.to_string(),
            });
        }
    }
    for p in &plans {
        let Some(source) = p.sim.infection else {
            continue;
        };
        let nurse = |at: DateTime<Utc>| p.sim.nurse_at(at).to_string();
        let who = Subject {
            key: format!("{}-{}", p.sim.number, p.key),
            patient: &p.sim.patient,
            encounter: &p.sim.encounter,
            source,
            doctor: &p.sim.doctor,
            nurse: &nurse,
        };
        emit(
            seed,
            &who,
            crate::vitals::whole_minute(p.suspected),
            now,
            out,
        );
    }
    plans.len()
}
