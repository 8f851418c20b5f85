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

use crate::hospital::Out;
use crate::random::{chance, rng};
use crate::vitals::Sim;

/// A first hour that starts at `suspected`.
struct Plan<'a> {
    sim: &'a Sim,
    suspected: DateTime<Utc>,
    key: String,
}

fn emit(seed: u64, plan: &Plan, now: DateTime<Utc>, out: &mut Out) {
    let sim = plan.sim;
    let Some(source) = sim.infection else {
        return;
    };
    let mut r = rng(
        seed,
        "sepsis",
        u64::from(sim.number) ^ plan.suspected.timestamp() as u64,
    );
    let zone = chrono::FixedOffset::east_opt(0).expect("UTC");
    let encounter = format!("Encounter/{}", sim.encounter);
    let mut put = |what: Record, at: DateTime<Utc>, tag: &str, by: &str| {
        if at > now {
            return;
        }
        let id = format!("sepsis-{}-{}-{tag}", sim.number, plan.key);
        let cx = Context {
            by: &format!("Practitioner/{by}"),
            patient: &sim.patient,
            encounter: Some(&encounter),
            at: at.with_timezone(&zone),
            id: &id,
        };
        if let Ok(mut res) = resource(&what, &cx) {
            res["meta"] = crate::fhir::meta();
            out.push(res);
        }
    };
    let minutes = |r: &mut rand_chacha::ChaCha8Rng, lo: i64, hi: i64| {
        TimeDelta::minutes(r.random_range(lo..=hi))
    };
    let t0 = crate::vitals::whole_minute(plan.suspected);
    put(Record::Suspected { source }, t0, "suspected", &sim.doctor);
    let nurse = |at: DateTime<Utc>| sim.nurse_at(at).to_string();
    let cultures = t0 + minutes(&mut r, 8, 40);
    put(Record::Cultures, cultures, "cultures", &nurse(cultures));
    let lactate_at = t0 + minutes(&mut r, 5, 30);
    let lactate = (r.random_range(14..=62) as f64) / 10.0;
    put(
        Record::Lactate {
            mmol_per_l: lactate,
        },
        lactate_at,
        "lactate",
        &nurse(lactate_at),
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
        &nurse(antibiotic_at),
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
            &nurse(fluids_at),
        );
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
        emit(seed, p, now, out);
    }
    plans.len()
}
