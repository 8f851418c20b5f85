//! Vital signs: a physiological course per inpatient, the nurse who records it, and the live feed.
//!
//! Each inpatient has a chronic baseline, an admission illness that settles with a time constant,
//! and deterioration episodes (scripted ones that the demo opens with, and random ones in the
//! future). The "nurse" measures with small noise, rounds as people do (whole numbers, respiratory
//! rate often counted to an even number, temperature to 0.1 °C), titrates oxygen to the target
//! saturation, and comes back when NEWS2 says the next set is due (RCP 2017 chart 2, see
//! `clinical/early-warning.md` §1.4): 12-hourly at 0, 4–6-hourly at 1–4, hourly at 5–6 or a red
//! score, every 30 minutes at 7 or more. Observations follow the R4 vital signs profile
//! (<https://hl7.org/fhir/R4/observation-vitalsigns.html>): LOINC codes, UCUM units, one
//! `effectiveDateTime` per set, and a vital-signs panel (85353-1) whose `hasMember` lists the set.

use chrono::{DateTime, TimeDelta, Timelike, Utc};
use rand::Rng;
use serde_json::{json, Value};

use crate::fhir::{
    self, concept, instant, one_decimal, quantity, reference, Code, LOINC, OBS_CATEGORY, SNOMED,
};
use crate::random::{chance, normal, rng, uniform};

/// Hospital local time is UTC−5 (US Eastern standard time) for the body clock and nurse shifts.
const LOCAL_OFFSET_H: i64 = -5;

/// A physiological state; `spo2` is the saturation breathing room air.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Physio {
    pub(crate) rr: f64,
    pub(crate) spo2: f64,
    pub(crate) sbp: f64,
    pub(crate) dbp: f64,
    pub(crate) hr: f64,
    pub(crate) temp: f64,
}

impl Physio {
    /// `self + k * other`.
    pub(crate) fn plus(self, other: Physio, k: f64) -> Physio {
        Physio {
            rr: self.rr + k * other.rr,
            spo2: self.spo2 + k * other.spo2,
            sbp: self.sbp + k * other.sbp,
            dbp: self.dbp + k * other.dbp,
            hr: self.hr + k * other.hr,
            temp: self.temp + k * other.temp,
        }
    }
}

/// The change at full severity of a deterioration (sepsis, a new pneumonia, a bleed...).
const DETERIORATION: Physio = Physio {
    rr: 14.0,
    spo2: -12.0,
    sbp: -45.0,
    dbp: -22.0,
    hr: 45.0,
    temp: 0.4,
};
/// Extra fever at full severity when the deterioration is an infection.
const FEVER: f64 = 1.8;

/// A deterioration: severity ramps up from `onset`, holds, then resolves once treated.
#[derive(Clone, Debug)]
pub(crate) struct Episode {
    pub(crate) onset: DateTime<Utc>,
    pub(crate) ramp_h: f64,
    pub(crate) plateau_h: f64,
    pub(crate) recover_h: f64,
    /// Severity at the peak, 0..=1.
    pub(crate) peak: f64,
    pub(crate) infective: bool,
    /// Severity from which the patient is newly confused.
    pub(crate) confusion_at: f64,
}

impl Episode {
    pub(crate) fn random(r: &mut impl Rng, onset: DateTime<Utc>, peak: f64) -> Episode {
        Episode {
            onset,
            ramp_h: uniform(r, 3.0, 7.0),
            plateau_h: uniform(r, 6.0, 14.0),
            recover_h: uniform(r, 18.0, 40.0),
            peak,
            infective: chance(r, 0.7),
            confusion_at: uniform(r, 0.55, 0.85),
        }
    }

    fn severity(&self, t: DateTime<Utc>) -> f64 {
        let h = hours(t - self.onset);
        if h <= 0.0 {
            0.0
        } else if h < self.ramp_h {
            // Slow at first, then faster: the way a ward patient "goes off".
            let x = h / self.ramp_h;
            self.peak * x * x * (3.0 - 2.0 * x)
        } else if h < self.ramp_h + self.plateau_h {
            self.peak
        } else {
            let x = (h - self.ramp_h - self.plateau_h) / self.recover_h;
            self.peak * (1.0 - x).max(0.0)
        }
    }

    fn end(&self) -> DateTime<Utc> {
        self.onset + minutes_f((self.ramp_h + self.plateau_h + self.recover_h) * 60.0)
    }
}

/// Level of consciousness (ACVPU), coded for LOINC 67775-7.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Acvpu {
    Alert,
    NewConfusion,
    Voice,
}

impl Acvpu {
    fn code(self) -> Code {
        match self {
            Acvpu::Alert => (SNOMED, "248234008", "Mentally alert"),
            Acvpu::NewConfusion => (SNOMED, "130987000", "Acute confusion"),
            Acvpu::Voice => (SNOMED, "300202002", "Responds to voice"),
        }
    }
}

/// One inpatient's illness over time.
#[derive(Clone, Debug)]
pub(crate) struct Course {
    pub(crate) admitted: DateTime<Utc>,
    /// The patient's own normal (chronic disease included).
    pub(crate) base: Physio,
    /// Change at admission from the admitting illness; decays with `tau_h`.
    pub(crate) acute: Physio,
    pub(crate) tau_h: f64,
    /// Delirium on admission, resolving at this time.
    pub(crate) delirium_until: Option<DateTime<Utc>>,
    pub(crate) episodes: Vec<Episode>,
    /// Random deteriorations start only after this time (the generation time), so the history is
    /// exactly the scripted one and the live feed keeps producing new ones.
    pub(crate) random_after: DateTime<Utc>,
    /// Hypercapnic respiratory failure with a prescribed target of 88–92 % (NEWS2 SpO2 scale 2).
    pub(crate) scale2: bool,
    pub(crate) irregular_pulse: bool,
    /// On a monitor (coronary care): blood pressure is sent as separate systolic and diastolic.
    pub(crate) monitored: bool,
    pub(crate) max_interval_h: i64,
}

/// Random deteriorations: blocks of this many days, each holding one with probability `EPISODE_P`.
const EPISODE_BLOCK_DAYS: i64 = 8;
const EPISODE_P: f64 = 0.12;

impl Course {
    fn random_episode(&self, seed: u64, number: u32, block: i64) -> Option<Episode> {
        // Onsets fall inside their block; none may come before `random_after`.
        if (block + 1) * EPISODE_BLOCK_DAYS * 86_400 <= self.random_after.timestamp() {
            return None;
        }
        let mut r = rng(
            seed,
            "episode",
            (u64::from(number) << 32) | (block as u64 & 0xffff_ffff),
        );
        if !chance(&mut r, EPISODE_P) {
            return None;
        }
        let start = DateTime::<Utc>::from_timestamp(block * EPISODE_BLOCK_DAYS * 86_400, 0)?;
        let onset = start + minutes_f(uniform(&mut r, 0.0, (EPISODE_BLOCK_DAYS * 24 * 60) as f64));
        let onset = onset.with_second(0)?;
        if onset <= self.random_after {
            return None;
        }
        let peak = uniform(&mut r, 0.5, 0.95);
        Some(Episode::random(&mut r, onset, peak))
    }

    /// Deterioration at `t`: severity (0..=1), extra fever, and whether newly confused.
    fn deterioration(&self, seed: u64, number: u32, t: DateTime<Utc>) -> (f64, f64, bool) {
        let block = t.timestamp().div_euclid(EPISODE_BLOCK_DAYS * 86_400);
        let random: Vec<Episode> = (block - 1..=block)
            .filter_map(|b| self.random_episode(seed, number, b))
            .filter(|e| e.end() > t)
            .collect();
        let mut severity = 0.0;
        let mut fever = 0.0;
        let mut confused = false;
        for e in self.episodes.iter().chain(random.iter()) {
            let s = e.severity(t);
            severity += s;
            if e.infective {
                fever += s * FEVER;
            }
            confused |= s >= e.confusion_at;
        }
        (severity.min(1.0), fever.min(FEVER * 1.1), confused)
    }

    /// The true state at `t`, and whether the patient is confused.
    fn truth(&self, seed: u64, number: u32, t: DateTime<Utc>) -> (Physio, Acvpu) {
        let since = hours(t - self.admitted).max(0.0);
        let mut state = self.base.plus(self.acute, (-since / self.tau_h).exp());
        // Body clock: lowest around 04:00, highest around 18:00 local time.
        let local_h =
            (t.hour() as f64 + t.minute() as f64 / 60.0 + LOCAL_OFFSET_H as f64).rem_euclid(24.0);
        state.temp += 0.25 * (std::f64::consts::TAU * (local_h - 18.0) / 24.0).cos();
        let (severity, fever, confused) = self.deterioration(seed, number, t);
        state = state.plus(DETERIORATION, severity);
        state.temp += fever;
        let acvpu = if severity > 0.97 {
            Acvpu::Voice
        } else if confused || self.delirium_until.is_some_and(|d| t < d) {
            Acvpu::NewConfusion
        } else {
            Acvpu::Alert
        };
        (state, acvpu)
    }
}

/// One recorded set, as charted.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Reading {
    pub(crate) rr: i64,
    pub(crate) spo2: i64,
    /// Supplemental oxygen flow in L/min; `None` on room air.
    pub(crate) o2_flow: Option<i64>,
    pub(crate) sbp: i64,
    pub(crate) dbp: i64,
    pub(crate) hr: i64,
    pub(crate) temp: f64,
    pub(crate) acvpu: Acvpu,
}

const FLOWS: [i64; 10] = [1, 2, 3, 4, 5, 6, 8, 10, 12, 15];

/// Rise in saturation from oxygen at `flow` L/min (saturating: masks add less and less).
fn oxygen_gain(flow: i64) -> f64 {
    12.0 * (1.0 - (-(flow as f64) / 4.0).exp())
}

/// Oxygen is started when saturation on air falls below about 92 % (86 % on scale 2), at the
/// lowest flow that brings it into the target range (94–98 %, or 88–92 % on scale 2).
fn titrate(spo2_air: f64, scale2: bool) -> Option<i64> {
    let (start, low) = if scale2 { (86.5, 88.0) } else { (92.5, 94.0) };
    if spo2_air >= start {
        return None;
    }
    Some(
        FLOWS
            .into_iter()
            .find(|&f| spo2_air + oxygen_gain(f) >= low + 0.5)
            .unwrap_or(15),
    )
}

fn measure(course: &Course, truth: Physio, acvpu: Acvpu, r: &mut impl Rng) -> Reading {
    let o2_flow = titrate(truth.spo2, course.scale2);
    let spo2 = truth.spo2 + o2_flow.map_or(0.0, oxygen_gain) + normal(r, 0.0, 0.8);
    let rr = truth.rr + normal(r, 0.0, 1.2);
    // Counted over 30 seconds and doubled, more often than not.
    let rr = if chance(r, 0.6) {
        (rr / 2.0).round() * 2.0
    } else {
        rr.round()
    };
    let sbp = (truth.sbp + normal(r, 0.0, 6.0)).round();
    let dbp = (truth.dbp + normal(r, 0.0, 4.0)).round().min(sbp - 20.0);
    let hr_sd = if course.irregular_pulse { 9.0 } else { 4.0 };
    Reading {
        rr: (rr as i64).clamp(6, 50),
        spo2: (spo2.round() as i64).clamp(70, 100),
        o2_flow,
        sbp: (sbp as i64).clamp(60, 230),
        dbp: (dbp as i64).clamp(30, 130),
        hr: ((truth.hr + normal(r, 0.0, hr_sd)).round() as i64).clamp(30, 180),
        temp: ((truth.temp + normal(r, 0.0, 0.12)).clamp(34.0, 41.5) * 10.0).round() / 10.0,
        acvpu,
    }
}

/// NEWS2 total and whether any single parameter scored 3 (RCP 2017 chart 1). The demo's nurses
/// use it only to decide when to come back; Tend's own scoring lives in the rules engine.
pub(crate) fn news2(r: &Reading, scale2: bool) -> (u32, bool) {
    let on_oxygen = r.o2_flow.is_some();
    let rr = match r.rr {
        ..=8 => 3,
        9..=11 => 1,
        12..=20 => 0,
        21..=24 => 2,
        _ => 3,
    };
    let spo2 = if scale2 {
        match (r.spo2, on_oxygen) {
            (..=83, _) => 3,
            (84..=85, _) => 2,
            (86..=87, _) => 1,
            (88..=92, _) | (_, false) => 0,
            (93..=94, true) => 1,
            (95..=96, true) => 2,
            (_, true) => 3,
        }
    } else {
        match r.spo2 {
            ..=91 => 3,
            92..=93 => 2,
            94..=95 => 1,
            _ => 0,
        }
    };
    let air = if on_oxygen { 2 } else { 0 };
    let sbp = match r.sbp {
        ..=90 => 3,
        91..=100 => 2,
        101..=110 => 1,
        111..=219 => 0,
        _ => 3,
    };
    let pulse = match r.hr {
        ..=40 => 3,
        41..=50 => 1,
        51..=90 => 0,
        91..=110 => 1,
        111..=130 => 2,
        _ => 3,
    };
    let consciousness = if r.acvpu == Acvpu::Alert { 0 } else { 3 };
    let temp = match (r.temp * 10.0).round() as i64 {
        ..=350 => 3,
        351..=360 => 1,
        361..=380 => 0,
        381..=390 => 1,
        _ => 2,
    };
    let parts = [rr, spo2, air, sbp, pulse, consciousness, temp];
    (parts.iter().sum(), parts.contains(&3))
}

/// Minutes until the next set is due, from the score of this one.
fn interval_minutes(score: u32, red: bool, hours_since_admission: f64, max_h: i64) -> i64 {
    let minutes = match score {
        7.. => 30,
        5..=6 => 60,
        _ if red => 60,
        1..=4 => 240,
        0 => 720,
    };
    let minutes = if hours_since_admission < 24.0 {
        minutes.min(240)
    } else {
        minutes
    };
    minutes.min(max_h * 60)
}

/// When the nurse takes the set, against when it falls due (minutes; negative is early): on
/// hourly observations within five minutes either side; otherwise mostly a little before the
/// round's due time, sometimes up to an hour after, and now and then an hour or two late on
/// a busy shift.
fn lateness_minutes(r: &mut impl Rng, interval: i64) -> i64 {
    if interval <= 60 {
        return r.random_range(-5..=5);
    }
    let x: f64 = r.random();
    if x < 0.85 {
        r.random_range(-20..=0)
    } else if x < 0.97 {
        r.random_range(5..=60)
    } else {
        r.random_range(90..=150)
    }
}

fn hours(d: TimeDelta) -> f64 {
    d.num_seconds() as f64 / 3600.0
}

fn minutes_f(m: f64) -> TimeDelta {
    TimeDelta::seconds((m * 60.0).round() as i64)
}

pub(crate) fn whole_minute(t: DateTime<Utc>) -> DateTime<Utc> {
    t.with_second(0)
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(t)
}

/// One inpatient under observation: their course and when the next set will be taken.
#[derive(Clone, Debug)]
pub(crate) struct Sim {
    seed: u64,
    pub(crate) number: u32,
    pub(crate) patient: String,
    pub(crate) encounter: String,
    nurses: Vec<String>,
    pub(crate) course: Course,
    /// Number of the next set (from 1).
    set: u32,
    /// When the next set will be taken.
    at: DateTime<Utc>,
    /// The NEWS2 of each set taken (the nurses' own count), for the demo's sepsis episodes.
    pub(crate) scores: Vec<(DateTime<Utc>, u32)>,
    /// The likely source when the admitting illness is an infection.
    pub(crate) infection: Option<sepsis::Source>,
    /// The ward's attending, who suspects infection.
    pub(crate) doctor: String,
}

impl Sim {
    /// Starts observations at admission, or at `from` for patients admitted earlier.
    pub(crate) fn new(
        seed: u64,
        number: u32,
        patient: String,
        encounter: String,
        nurses: Vec<String>,
        course: Course,
        from: DateTime<Utc>,
    ) -> Sim {
        let mut r = rng(seed, "first-set", u64::from(number));
        let at = if course.admitted >= from {
            course.admitted + TimeDelta::minutes(r.random_range(15..=45))
        } else {
            // Somewhere in the interval the patient's state at `from` calls for.
            let (truth, acvpu) = course.truth(seed, number, from);
            let reading = measure(&course, truth, acvpu, &mut r);
            let (score, red) = news2(&reading, course.scale2);
            let interval = interval_minutes(
                score,
                red,
                hours(from - course.admitted),
                course.max_interval_h,
            );
            from + TimeDelta::minutes(r.random_range(0..interval))
        };
        let at = whole_minute(at);
        Sim {
            seed,
            number,
            patient,
            encounter,
            nurses,
            course,
            set: 1,
            at,
            scores: Vec::new(),
            infection: None,
            doctor: String::new(),
        }
    }

    pub(crate) fn due(&self) -> DateTime<Utc> {
        self.at
    }

    /// Takes the set that is due and schedules the next; returns its Observations.
    pub(crate) fn take(&mut self) -> Vec<Value> {
        let (at, set) = (self.at, self.set);
        let key = (u64::from(self.number) << 24) | u64::from(set);
        let mut r = rng(self.seed, "vitals", key);
        let (truth, acvpu) = self.course.truth(self.seed, self.number, at);
        let reading = measure(&self.course, truth, acvpu, &mut r);
        let (score, red) = news2(&reading, self.course.scale2);
        let interval = interval_minutes(
            score,
            red,
            hours(at - self.course.admitted),
            self.course.max_interval_h,
        );
        let late = lateness_minutes(&mut r, interval);
        let next = at + TimeDelta::minutes(interval + late);
        self.at = self.concern(at, next, &mut r).unwrap_or(next);
        self.set += 1;
        self.scores.push((at, score));
        self.observations(set, at, &reading)
    }

    /// Clinical concern: a patient who visibly worsens before the next set is due (breathless,
    /// clammy, not themselves) gets an extra set soon after, as any ward nurse would do.
    fn concern(
        &self,
        at: DateTime<Utc>,
        next: DateTime<Utc>,
        r: &mut impl Rng,
    ) -> Option<DateTime<Utc>> {
        let (before, ..) = self.course.deterioration(self.seed, self.number, at);
        let mut t = at + TimeDelta::minutes(30);
        while t < next {
            let (now, ..) = self.course.deterioration(self.seed, self.number, t);
            if now - before >= 0.3 {
                return Some(t + TimeDelta::minutes(r.random_range(5..=30)));
            }
            t += TimeDelta::minutes(30);
        }
        None
    }

    /// The nurse on shift (07:00–19:00 and 19:00–07:00 local) looking after this patient.
    pub(crate) fn nurse_at(&self, at: DateTime<Utc>) -> &str {
        let shift = (at.timestamp() - (7 - LOCAL_OFFSET_H) * 3600).div_euclid(12 * 3600);
        let i = (shift + i64::from(self.number)).rem_euclid(self.nurses.len() as i64) as usize;
        &self.nurses[i]
    }

    fn observations(&self, set: u32, at: DateTime<Utc>, reading: &Reading) -> Vec<Value> {
        let prefix = format!("obs-{:06}-{set:04}", self.number);
        let when = instant(at);
        let nurse = self.nurse_at(at).to_string();
        let base = |tag: &str, code: Code| -> Value {
            json!({
                "resourceType": "Observation",
                "id": format!("{prefix}-{tag}"),
                "meta": fhir::meta(),
                "status": "final",
                "category": fhir::category(OBS_CATEGORY, "vital-signs", "Vital Signs"),
                "code": concept(&[code]),
                "subject": reference("Patient", &self.patient),
                "encounter": reference("Encounter", &self.encounter),
                "effectiveDateTime": when,
                "performer": [reference("Practitioner", &nurse)],
            })
        };
        let with_value = |tag: &str, code: Code, value: Value, unit: &str, ucum: &str| {
            let mut o = base(tag, code);
            o["valueQuantity"] = quantity(value, unit, ucum);
            o
        };
        let mut set_obs = vec![
            with_value(
                "rr",
                (LOINC, "9279-1", "Respiratory rate"),
                json!(reading.rr),
                "breaths/minute",
                "/min",
            ),
            with_value(
                "spo2",
                (
                    LOINC,
                    "59408-5",
                    "Oxygen saturation in Arterial blood by Pulse oximetry",
                ),
                json!(reading.spo2),
                "%",
                "%",
            ),
        ];
        // Air is recorded as such (flow 0 L/min), as the NEWS2 chart's "air or oxygen?" row
        // is charted at every set.
        set_obs.push(with_value(
            "o2",
            (LOINC, "3151-8", "Inhaled oxygen flow rate"),
            json!(reading.o2_flow.unwrap_or(0)),
            "L/min",
            "L/min",
        ));
        const SYSTOLIC: Code = (LOINC, "8480-6", "Systolic blood pressure");
        const DIASTOLIC: Code = (LOINC, "8462-4", "Diastolic blood pressure");
        if self.course.monitored {
            set_obs.push(with_value(
                "sbp",
                SYSTOLIC,
                json!(reading.sbp),
                "mmHg",
                "mm[Hg]",
            ));
            set_obs.push(with_value(
                "dbp",
                DIASTOLIC,
                json!(reading.dbp),
                "mmHg",
                "mm[Hg]",
            ));
        } else {
            let mut bp = base(
                "bp",
                (
                    LOINC,
                    "85354-9",
                    "Blood pressure panel with all children optional",
                ),
            );
            bp["component"] = json!([
                {"code": concept(&[SYSTOLIC]), "valueQuantity": quantity(json!(reading.sbp), "mmHg", "mm[Hg]")},
                {"code": concept(&[DIASTOLIC]), "valueQuantity": quantity(json!(reading.dbp), "mmHg", "mm[Hg]")},
            ]);
            set_obs.push(bp);
        }
        set_obs.push(with_value(
            "hr",
            (LOINC, "8867-4", "Heart rate"),
            json!(reading.hr),
            "beats/minute",
            "/min",
        ));
        set_obs.push(with_value(
            "temp",
            (LOINC, "8310-5", "Body temperature"),
            one_decimal(reading.temp),
            "Cel",
            "Cel",
        ));
        let mut avpu = base("avpu", (LOINC, "67775-7", "Level of responsiveness"));
        avpu["valueCodeableConcept"] = concept(&[reading.acvpu.code()]);
        set_obs.push(avpu);

        let members: Vec<Value> = set_obs
            .iter()
            .map(|o| reference("Observation", o["id"].as_str().unwrap_or_default()))
            .collect();
        let mut panel = base(
            "vs",
            (
                LOINC,
                "85353-1",
                "Vital signs, weight, height, head circumference, oxygen saturation and BMI panel",
            ),
        );
        panel["hasMember"] = json!(members);
        set_obs.push(panel);
        set_obs
    }
}

/// The live feed of new vital signs after generation (see [`crate::Hospital::vitals_stream`]).
///
/// Every call to [`VitalsStream::advance`] moves the simulated clock forward to `now` and returns
/// the Observations of every set taken since the previous call, in time order (then patient
/// order), each set's members followed by its panel. Calls with a time at or before the current
/// clock return nothing. The output depends only on the seed and the times at which the sets are
/// taken, not on how often `advance` is called.
#[derive(Clone, Debug)]
pub struct VitalsStream {
    sims: Vec<Sim>,
    clock: DateTime<Utc>,
}

impl VitalsStream {
    pub(crate) fn new(sims: Vec<Sim>, clock: DateTime<Utc>) -> VitalsStream {
        VitalsStream { sims, clock }
    }

    /// Advances the simulation to `now` and returns the new vital-sign Observations.
    pub fn advance(&mut self, now: DateTime<Utc>) -> Vec<Value> {
        if now <= self.clock {
            return Vec::new();
        }
        self.clock = now;
        let mut sets = Vec::new();
        for (i, sim) in self.sims.iter_mut().enumerate() {
            while sim.due() <= now {
                let at = sim.due();
                sets.push((at, i, sim.take()));
            }
        }
        sets.sort_by_key(|(at, i, _)| (*at, *i));
        sets.into_iter().flat_map(|(_, _, obs)| obs).collect()
    }

    /// The simulated time the stream has reached.
    pub fn clock(&self) -> DateTime<Utc> {
        self.clock
    }

    /// When the next set of vital signs will be taken, if anyone is under observation.
    pub fn next_due(&self) -> Option<DateTime<Utc>> {
        self.sims.iter().map(Sim::due).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn reading(
        rr: i64,
        spo2: i64,
        o2: Option<i64>,
        sbp: i64,
        hr: i64,
        temp: f64,
        acvpu: Acvpu,
    ) -> Reading {
        Reading {
            rr,
            spo2,
            o2_flow: o2,
            sbp,
            dbp: 70,
            hr,
            temp,
            acvpu,
        }
    }

    #[test]
    fn news2_boundaries() {
        let a = Acvpu::Alert;
        assert_eq!(
            news2(&reading(16, 97, None, 120, 70, 37.0, a), false),
            (0, false)
        );
        assert_eq!(
            news2(&reading(21, 95, None, 110, 91, 38.1, a), false),
            (6, false)
        );
        assert_eq!(
            news2(
                &reading(25, 91, Some(2), 90, 131, 39.1, Acvpu::NewConfusion),
                false
            ),
            (3 + 3 + 2 + 3 + 3 + 3 + 2, true)
        );
        // Scale 2: 90 % on oxygen scores 0 for saturation, 97 % on oxygen scores 3.
        assert_eq!(
            news2(&reading(18, 90, Some(2), 130, 80, 37.0, a), true),
            (2, false)
        );
        assert_eq!(
            news2(&reading(18, 97, Some(2), 130, 80, 37.0, a), true),
            (5, true)
        );
        assert_eq!(
            news2(&reading(18, 97, None, 130, 80, 35.0, a), true),
            (3, true)
        );
    }

    #[test]
    fn oxygen_is_titrated_to_target() {
        assert_eq!(titrate(96.0, false), None);
        assert_eq!(titrate(93.0, false), None);
        let f = titrate(90.0, false).unwrap();
        assert!(90.0 + oxygen_gain(f) >= 94.0);
        let f = titrate(85.0, true).unwrap();
        assert!(85.0 + oxygen_gain(f) >= 88.0 && 85.0 + oxygen_gain(f) < 93.0);
        assert_eq!(titrate(70.0, false), Some(15));
    }

    #[test]
    fn monitoring_frequency_follows_the_score() {
        assert_eq!(interval_minutes(0, false, 48.0, 12), 720);
        assert_eq!(interval_minutes(0, false, 10.0, 12), 240);
        assert_eq!(interval_minutes(2, false, 48.0, 12), 240);
        assert_eq!(interval_minutes(3, true, 48.0, 12), 60);
        assert_eq!(interval_minutes(6, false, 48.0, 12), 60);
        assert_eq!(interval_minutes(9, true, 48.0, 12), 30);
        assert_eq!(interval_minutes(0, false, 48.0, 4), 240);
    }

    #[test]
    fn episodes_ramp_hold_and_resolve() {
        let onset = Utc.with_ymd_and_hms(2026, 11, 24, 0, 0, 0).unwrap();
        let e = Episode {
            onset,
            ramp_h: 4.0,
            plateau_h: 6.0,
            recover_h: 10.0,
            peak: 0.8,
            infective: true,
            confusion_at: 0.6,
        };
        assert_eq!(e.severity(onset - TimeDelta::hours(1)), 0.0);
        assert!((e.severity(onset + TimeDelta::hours(2)) - 0.4).abs() < 1e-9);
        assert_eq!(e.severity(onset + TimeDelta::hours(5)), 0.8);
        assert!((e.severity(onset + TimeDelta::hours(15)) - 0.4).abs() < 1e-9);
        assert_eq!(e.severity(onset + TimeDelta::hours(30)), 0.0);
    }
}
